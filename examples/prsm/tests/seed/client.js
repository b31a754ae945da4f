// prsm.md, "JavaScript Client Example" (lines 137-199), as the document shows it.
// The seed test (tests/e2e/seed.rs) replaces host, port and token, and runs it.
class PRSMWebSocketClient {
    constructor(userId, token) {
        this.userId = userId;
        this.token = token;
        this.ws = null;
    }
    
    connect() {
        const wsUrl = `ws://localhost:8000/ws/${this.userId}?token=${this.token}`;
        this.ws = new WebSocket(wsUrl);
        
        this.ws.onopen = (event) => {
            console.log('Secure WebSocket connected');
        };
        
        this.ws.onmessage = (event) => {
            const message = JSON.parse(event.data);
            this.handleMessage(message);
        };
        
        this.ws.onerror = (error) => {
            console.error('WebSocket error:', error);
        };
        
        this.ws.onclose = (event) => {
            if (event.code === 4001) {
                console.error('Authentication failed');
                // Redirect to login
            } else if (event.code === 4003) {
                console.error('Access denied');
            }
        };
    }
    
    subscribeToConversation(conversationId) {
        this.send({
            type: 'subscribe_conversation',
            conversation_id: conversationId
        });
    }
    
    send(message) {
        if (this.ws && this.ws.readyState === WebSocket.OPEN) {
            this.ws.send(JSON.stringify(message));
        }
    }
    
    handleMessage(message) {
        switch (message.type) {
            case 'connected':
                console.log('Connection confirmed:', message);
                break;
            case 'error':
                console.error('Server error:', message.message);
                break;
            // Handle other message types...
        }
    }
}

// Usage
const client = new PRSMWebSocketClient('user123', 'your_jwt_token');
client.connect();
