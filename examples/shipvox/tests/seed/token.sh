# shipvox.md, "Obtaining a Token" (lines 219-221), as the document shows it.
curl -X POST "http://localhost:8000/token" \
  -H "Content-Type: application/x-www-form-urlencoded" \
  -d "username=user&password=password"
