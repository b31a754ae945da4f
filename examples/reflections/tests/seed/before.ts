// reflections.md, "Before" (line 401), as the document shows it.
// The seed test (tests/e2e/seed.rs) replaces host and port, provides entryId, and runs it in Node.
const ws = new WebSocket(`ws://localhost:8000/ws/reflections/${entryId}`);
