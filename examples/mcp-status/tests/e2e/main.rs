//! The mcp-status app end to end: the real app on 127.0.0.1, real HS256
//! JWTs with a single `role` claim, real WebSocket and HTTP clients, and the
//! example's own introspection service on its own port.
//!
//! One test binary, one module per concern:
//! - `handshake`: who is admitted, and the 1008 close (with its reason) of
//!   every refusal, with nothing received before it;
//! - `messages`: `initial_status`, `mcp_status_change`, `health_event`,
//!   the `ping`/`pong` keepalive;
//! - `introspection`: tokens checked by the introspection service, its
//!   "inactive" answers, and the local fallback when it is down;
//! - `binaries`: `mcp-status` and `mcp-introspect` as processes;
//! - `seed`: the client lines of the service's document, run in Node.

mod binaries;
mod common;
mod handshake;
mod introspection;
mod messages;
mod seed;
