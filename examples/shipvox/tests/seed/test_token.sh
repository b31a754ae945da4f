# shipvox.md, "Using the Test Token" (lines 229-239), as the document shows it.
# websocat is in neither Debian's archive nor a quick cargo install (an old tokio stack, several minutes on CI's 2 cores): the seed test (tests/e2e/seed.rs) makes the request each websocat line makes, with tokio-tungstenite.
# Get the test token
curl "http://localhost:8000/test-token"

# Response
{
  "test_token": "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiJ1c2VyIn0.dNsYhOKsYlKZzUmOJl8Zpf9SbJ4DJxhd3AU6pO-PWko",
  "note": "This token is for testing only. It is valid for the 'user' account and does not expire."
}

# Use the test token directly
echo '{"type":"test","payload":{"message":"Hello"}}' | websocat "ws://localhost:8000/ws?token=eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiJ1c2VyIn0.dNsYhOKsYlKZzUmOJl8Zpf9SbJ4DJxhd3AU6pO-PWko"
