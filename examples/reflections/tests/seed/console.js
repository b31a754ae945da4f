// reflections.md, "Manual Testing with Browser Console" (lines 309-321), as the document shows it.
// The seed test (tests/e2e/seed.rs) replaces host and port, provides localStorage, and runs it in Node.
// Get your JWT token from localStorage
const token = localStorage.getItem('access_token');

// Replace with actual entry ID you own
const entryId = 1;

// Connect to WebSocket
const ws = new WebSocket(`ws://localhost:8000/ws/reflections/${entryId}?token=${token}`);

ws.onopen = () => console.log('Connected');
ws.onmessage = (event) => console.log('Message:', event.data);
ws.onerror = (error) => console.error('Error:', error);
ws.onclose = (event) => console.log('Closed:', event.code, event.reason);
