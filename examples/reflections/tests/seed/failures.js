// reflections.md, "Testing Authentication Failures" (lines 327-337), as the document shows it.
// The seed test (tests/e2e/seed.rs) replaces host and port, provides validToken, and runs it in Node.
// Test 1: Missing token
const ws1 = new WebSocket('ws://localhost:8000/ws/reflections/1');
// Expected: Close code 4001

// Test 2: Invalid token
const ws2 = new WebSocket('ws://localhost:8000/ws/reflections/1?token=invalid');
// Expected: Close code 4001

// Test 3: Valid token, unauthorized entry (entry you don't own)
const ws3 = new WebSocket(`ws://localhost:8000/ws/reflections/999?token=${validToken}`);
// Expected: Close code 4003 or 4004
