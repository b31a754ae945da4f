// prsm.md, "After (Secured)" (lines 332-333), as the document shows it.
// The seed test (tests/e2e/seed.rs) replaces host and port, provides `getJWTToken`, and runs it.
const token = getJWTToken(); // Get token from your auth system
const ws = new WebSocket(`ws://localhost:8000/ws/user123?token=${token}`);
