# reflections.md, "Testing with curl/websocat" (lines 343-352), as the document shows it.
# websocat is in neither Debian's archive nor a quick cargo install (an old tokio stack, several minutes on CI's 2 cores): the seed test (tests/e2e/seed.rs) makes the request each websocat line makes, with tokio-tungstenite.
# Install websocat
brew install websocat  # macOS
# or
cargo install websocat  # If you have Rust installed

# Test with valid token
websocat "ws://localhost:8000/ws/reflections/1?token=YOUR_JWT_TOKEN"

# Test without token (should fail with 4001)
websocat "ws://localhost:8000/ws/reflections/1"
