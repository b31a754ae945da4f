// prsm.md, "Method 2: Authorization Header" (lines 83-87), as the document shows it.
// Written for Node's `ws` package (a browser cannot set headers). The seed test (tests/e2e/seed.rs) replaces host, port and token, and runs it.
const ws = new WebSocket('ws://localhost:8000/ws/user123', [], {
    headers: {
        'Authorization': 'Bearer your_jwt_token_here'
    }
});
