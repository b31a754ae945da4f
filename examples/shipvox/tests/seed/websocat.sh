# shipvox.md, "Connecting with a Token using websocat" (lines 247-253), as the document shows it.
# jq and websocat: see test_token.sh; the seed test makes the same requests.
# Store the token in a variable
TOKEN=$(curl -s -X POST "http://localhost:8000/token" \
  -H "Content-Type: application/x-www-form-urlencoded" \
  -d "username=user&password=password" | jq -r '.access_token')

# Connect with the token
echo '{"type":"test","payload":{"message":"Hello"}}' | websocat "ws://localhost:8000/ws?token=$TOKEN"
