// prsm.md, "Before (Unsecured)" (line 327), as the document shows it.
// The seed test (tests/e2e/seed.rs) replaces host and port, and runs it.
const ws = new WebSocket('ws://localhost:8000/ws/user123');
