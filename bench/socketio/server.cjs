// The Socket.IO side of wsauth-bench's fan-out measurement: one room that
// every connection joins, and a publisher in the server process that
// broadcasts to it with `io.to(room).emit`, paced exactly like the wsauth
// side's publisher (every millisecond, the ticks due since the start).
//
//   node bench/socketio/server.cjs RATE BYTES
//
// Started by wsauth-bench with NODE_PATH pointing at js/node_modules (where
// `npm ci --prefix js` installs `socket.io`). Prints `listening ADDR`,
// starts publishing when a `publish` line arrives on standard input, and
// exits when standard input closes. WebSocket transport only (no HTTP
// long-polling upgrade dance), no per-message compression, TCP_NODELAY:
// the settings a deployment tuned for fan-out would use.
"use strict";

const http = require("node:http");
const readline = require("node:readline");
const { Server } = require("socket.io");

const ROOM = "feed";
const TICK_MS = 1;

const [rate, bytes] = process.argv.slice(2).map(Number);
if (!(rate > 0) || !(bytes >= 0)) {
  console.error("usage: server.cjs RATE BYTES");
  process.exit(2);
}

const httpServer = http.createServer({ noDelay: true });
const io = new Server(httpServer, {
  transports: ["websocket"],
  serveClient: false,
  perMessageDeflate: false,
});

io.on("connection", (socket) => {
  socket.join(ROOM);
  // The subscriber is ready once it sees this, like wsauth.subscribed.
  socket.emit("joined");
});

// Microseconds of the wall clock, as the wsauth side stamps them
// (SystemTime): timeOrigin is the wall clock at start, now() monotonic since.
function nowUs() {
  return Math.round((performance.timeOrigin + performance.now()) * 1000);
}

function publish() {
  const data = "x".repeat(bytes);
  const start = performance.now();
  let sent = 0;
  setInterval(() => {
    const due = Math.floor(((performance.now() - start) / 1000) * rate);
    while (sent < due) {
      io.to(ROOM).emit("tick", { sent_us: nowUs(), data });
      sent += 1;
    }
  }, TICK_MS);
}

httpServer.listen(0, "127.0.0.1", () => {
  const { address, port } = httpServer.address();
  console.log(`listening ${address}:${port}`);
});

const input = readline.createInterface({ input: process.stdin });
input.on("line", (line) => {
  if (line.trim() === "publish") {
    publish();
  }
});
input.on("close", () => process.exit(0));
