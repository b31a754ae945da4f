//! The reflections app end to end: the real app on 127.0.0.1, real HS256
//! JWTs, a real WebSocket client (tokio-tungstenite).
//!
//! One test binary, one module per concern:
//! - `stream`: admitted clients get every token, then 1000; a generation
//!   that fails part-way ends with 1011 after the tokens already sent;
//! - `handshake`: every refusal and its close code, with nothing sent first;
//! - `binary`: the binary as an operator starts it;
//! - `seed`: the client lines of the reflections document, run in Node.

mod binary;
mod common;
mod handshake;
mod seed;
mod stream;
