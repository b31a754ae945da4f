// mcp-status.md, "Manual Test with Browser Console", step 2 (lines 282-286), as the document shows it.
// The seed test (tests/e2e/seed.rs) replaces host and port, provides the page's localStorage and callbacks, and runs it in Node.
const token = localStorage.getItem('jwt_token');
const ws = new WebSocket(`ws://localhost:8000/ws/mcp-status?token=${token}`);
ws.onopen = () => console.log('Connected!');
ws.onmessage = (e) => console.log('Message:', JSON.parse(e.data));
ws.onclose = (e) => console.log('Closed:', e.code, e.reason);
