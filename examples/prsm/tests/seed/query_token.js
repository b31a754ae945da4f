// prsm.md, "Method 1: Query Parameter" (line 78), as the document shows it.
// The seed test (tests/e2e/seed.rs) replaces host, port and token, and runs it.
const ws = new WebSocket('ws://localhost:8000/ws/user123?token=your_jwt_token_here');
