// prsm.md, "Before (Unsecured)" (lines 327-327), as the document shows it.
// The seed test (tests/e2e/seed.rs) replaces host, port and token, and runs it.
const ws = new WebSocket('ws://localhost:8000/ws/user123');
