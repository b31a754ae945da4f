# prsm.md, "Python Client Example" (lines 204-250), as the document shows it.
# The seed test (tests/e2e/seed.rs) replaces host, port and token, and runs it.
import asyncio
import websockets
import json

class PRSMWebSocketClient:
    def __init__(self, user_id: str, token: str):
        self.user_id = user_id
        self.token = token
        self.websocket = None
    
    async def connect(self):
        uri = f"ws://localhost:8000/ws/{self.user_id}?token={self.token}"
        
        try:
            self.websocket = await websockets.connect(uri)
            print("Secure WebSocket connected")
            
            # Listen for messages
            async for message in self.websocket:
                data = json.loads(message)
                await self.handle_message(data)
                
        except websockets.exceptions.ConnectionClosedError as e:
            if e.code == 4001:
                print("Authentication failed")
            elif e.code == 4003:
                print("Access denied")
    
    async def send_message(self, message: dict):
        if self.websocket:
            await self.websocket.send(json.dumps(message))
    
    async def handle_message(self, message: dict):
        msg_type = message.get('type')
        
        if msg_type == 'connected':
            print(f"Connection confirmed: {message}")
        elif msg_type == 'error':
            print(f"Server error: {message.get('message')}")
        # Handle other message types...

# Usage
async def main():
    client = PRSMWebSocketClient('user123', 'your_jwt_token')
    await client.connect()

asyncio.run(main())
