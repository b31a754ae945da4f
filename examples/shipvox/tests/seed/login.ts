// shipvox.md, "Frontend Applications", "Authentication Flow" (lines 261-284), as the document shows it.
// Login function
async function login(username: string, password: string) {
  const response = await fetch('http://localhost:8000/token', {
    method: 'POST',
    headers: {
      'Content-Type': 'application/x-www-form-urlencoded',
    },
    body: new URLSearchParams({
      username,
      password,
    }),
  });

  if (response.ok) {
    const data = await response.json();
    return data.access_token;
  } else {
    throw new Error('Authentication failed');
  }
}

// WebSocket connection with token
const token = await login('user', 'password');
const ws = new WebSocket(`ws://localhost:8000/ws?token=${token}`);
