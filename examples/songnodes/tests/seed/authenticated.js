// songnodes.md, "Authenticated Connection" (line 47), as the document shows it.
// The seed test (tests/e2e/seed.rs) replaces host, port and token, and runs it in Node.
const ws = new WebSocket('ws://localhost:8083/ws/123?token=eyJ0eXAi...');
