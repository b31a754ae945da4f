//! The wsauth runtime: authenticated, authorized WebSocket endpoints on axum.
//!
//! This crate will hold the connection pipeline that enforces a spec
//! (token extraction, JWT verification, subject binding, user lookup,
//! permissions, resource checks, limits, close codes, audit events) and
//! re-export the `#[ws_endpoint]` macro. It is empty today: the spec model it
//! will enforce lives in `wsauth-gen` and is complete; the runtime is the next
//! piece of work. Nothing here claims to secure anything yet.
