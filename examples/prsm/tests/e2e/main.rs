//! The prsm app end to end: the real app on 127.0.0.1, real HS256 JWTs,
//! real WebSocket and HTTP clients.
//!
//! One test binary, one module per concern:
//! - `admin`: disconnecting a user everywhere (alone and in a cluster);
//! - `cluster`: two prsm processes sharing a Redis (limit races, a killed process);
//! - `cluster_failures`: three processes: an admin disconnect reaching them
//!   all, and each failure policy while Redis is down and after it restarts;
//! - `handshake`: admission and every close code a refusal can get;
//! - `sources`: header, query and cookie tokens, origins, conflicts;
//! - `messages`: welcomes, streams, relays, per-message permission, limits;
//! - `metrics`: topic publications and deliveries, as scraped;
//! - `refresh`: expiry on live connections and in-band refresh;
//! - `stats`: `/ws/stats`;
//! - `seed`: the client lines of PRSM's document, run in Python and Node;
//! - `lifecycle`: shutdown, and the binary itself;
//! - `topics`: the conversation topic: subscribe, publications, recovery.
//!
//! The audit log test is `tests/audit.rs`, alone in its process.

mod admin;
mod cluster;
mod cluster_failures;
mod common;
mod handshake;
mod lifecycle;
mod messages;
mod metrics;
mod refresh;
mod seed;
mod sources;
mod stats;
mod topics;
