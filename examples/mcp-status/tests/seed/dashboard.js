// mcp-status.md, "For Frontend Developers" (lines 138-193), as the document shows it.
// The seed test (tests/e2e/seed.rs) replaces host and port, provides the page's localStorage and callbacks, and runs it in Node.
// Get token from localStorage (set during login)
const token = localStorage.getItem('jwt_token');

if (!token) {
    console.error('No JWT token - user must login first');
    return;
}

// Connect with token as query parameter
const ws = new WebSocket(`ws://localhost:8000/ws/mcp-status?token=${token}`);

ws.onopen = () => {
    console.log('âœ… WebSocket connected');
};

ws.onmessage = (event) => {
    const data = JSON.parse(event.data);
    console.log('Received:', data);
    
    // Handle different message types
    switch(data.type) {
        case 'initial_status':
            // Initial MCP status on connect
            updateMCPList(data.mcps);
            break;
        case 'mcp_status_change':
            // Real-time status update
            updateMCPStatus(data.mcp_id, data.new_status);
            break;
        case 'health_event':
            // Health event notification
            showHealthAlert(data);
            break;
    }
};

ws.onerror = (error) => {
    console.error('âŒ WebSocket error:', error);
};

ws.onclose = (event) => {
    console.log('WebSocket closed:', event.code, event.reason);
    
    if (event.code === 1008) {
        // Authentication failed
        console.error('Authentication failed - redirecting to login');
        window.location.href = '/login';
    }
};

// Send ping to keep connection alive
setInterval(() => {
    if (ws.readyState === WebSocket.OPEN) {
        ws.send('ping');
    }
}, 30000); // Every 30 seconds
