//! The songnodes app end to end: the real app on 127.0.0.1, real HS256
//! JWTs, a real WebSocket client.
//!
//! One test binary, one module per concern:
//! - `sources`: the token by query, subprotocol and header, and the welcome
//!   each gets;
//! - `handshake`: every refusal of `/ws/{user_id}` and its close code;
//! - `anonymous`: `/ws/anonymous`, its welcome and what guests may not do;
//! - `messages`: every message the spec declares, and live updates;
//! - `lifecycle`: expiry, shutdown, and the binary itself;
//! - `seed`: the client lines of SongNodes' document, run in Node.

mod anonymous;
mod common;
mod handshake;
mod lifecycle;
mod messages;
mod seed;
mod sources;
