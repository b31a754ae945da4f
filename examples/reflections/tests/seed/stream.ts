// reflections.md, "Basic WebSocket Connection" (lines 36-138), as the document shows it.
// The seed test (tests/e2e/seed.rs) replaces host and port, strips the types with TypeScript's transpileModule, provides the page (window, localStorage, displayReflectionToken, showError) and runs it in Node.
/**
 * Connect to WebSocket endpoint with authentication
 */
function connectToReflectionStream(entryId: number, token: string): WebSocket {
  // Construct WebSocket URL with token in query parameter
  const wsUrl = `${getWebSocketBaseUrl()}/ws/reflections/${entryId}?token=${encodeURIComponent(token)}`;

  const ws = new WebSocket(wsUrl);

  ws.onopen = () => {
    console.log('WebSocket connected successfully');
  };

  ws.onmessage = (event) => {
    console.log('Received:', event.data);
    // Handle streaming tokens here
    displayReflectionToken(event.data);
  };

  ws.onerror = (error) => {
    console.error('WebSocket error:', error);
  };

  ws.onclose = (event) => {
    handleWebSocketClose(event);
  };

  return ws;
}

/**
 * Handle WebSocket close events with error handling
 */
function handleWebSocketClose(event: CloseEvent) {
  switch (event.code) {
    case 4001:
      console.error('Authentication failed:', event.reason);
      // Redirect to login or refresh token
      handleAuthenticationFailure();
      break;

    case 4002:
      console.error('User not found or inactive:', event.reason);
      // User account issue - show error message
      showError('Your account is not accessible. Please contact support.');
      break;

    case 4003:
      console.error('Unauthorized access:', event.reason);
      // User tried to access someone else's entry
      showError('You do not have permission to access this entry.');
      break;

    case 4004:
      console.error('Entry not found:', event.reason);
      // Entry doesn't exist
      showError('The requested entry could not be found.');
      break;

    case 1011:
      console.error('Server error:', event.reason);
      // Internal server error
      showError('An unexpected error occurred. Please try again.');
      break;

    case 1000:
      console.log('WebSocket closed normally');
      // Normal closure - streaming completed
      break;

    default:
      console.warn('WebSocket closed with code:', event.code, event.reason);
  }
}

/**
 * Get WebSocket base URL based on environment
 */
function getWebSocketBaseUrl(): string {
  // In production
  if (window.location.protocol === 'https:') {
    return `wss://${window.location.host}`;
  }
  // In development
  return 'ws://localhost:8000';
}

/**
 * Get JWT token from localStorage
 */
function getAuthToken(): string | null {
  return localStorage.getItem('access_token');
}

/**
 * Handle authentication failure (e.g., expired token)
 */
function handleAuthenticationFailure() {
  // Clear invalid token
  localStorage.removeItem('access_token');
  // Redirect to login
  window.location.href = '/login';
}
