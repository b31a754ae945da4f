//! The generated Rust clients against the running examples, one module per
//! example, in one test binary (each binary links everything again).
//!
//! Each module drives its example's generated client through every message
//! type its endpoints carry and the close codes a client can meet, checking
//! the action the client takes for each (`stop`, `refresh_token`,
//! `backoff`, a normal close); `in_place` checks `include_client!`;
//! `runtime` checks the client runtime's edges (backpressure, a slow token
//! provider or upgrade, where the token goes, zero-valued options) against a
//! bare server.

#[path = "../support/mod.rs"]
mod support;

mod in_place;
mod mcp_status;
mod prsm;
mod reflections;
mod runtime;
mod scenarios;
mod shipvox;
mod songnodes;
mod tls;
mod topics;
