// songnodes.md, "Anonymous Connection" (line 52), as the document shows it.
// The seed test (tests/e2e/seed.rs) replaces host and port, and runs it in Node.
const ws = new WebSocket('ws://localhost:8083/ws/anonymous');
