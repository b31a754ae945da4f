// reflections.md, "After" (lines 406-407), as the document shows it.
// The seed test (tests/e2e/seed.rs) replaces host and port, provides localStorage and entryId, and runs it in Node.
const token = localStorage.getItem('access_token');
const ws = new WebSocket(`ws://localhost:8000/ws/reflections/${entryId}?token=${token}`);
