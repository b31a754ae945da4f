//! Rust output: the runtime descriptor of a spec, its server-side types and
//! its client, as tokens.
//!
//! The proc-macros (`include_spec!`, `#[ws_endpoint]`, `include_client!`)
//! and `wsauth-gen rust` emit Rust from the IR with `quote!`. Paths are absolute and rooted at a crate path the caller
//! chooses (`::wsauth_core` by default; a `crate = "..."` override for
//! re-exports), so generated code never depends on what the user imported.

pub mod client;
mod descriptor;
mod payload;
mod server;
mod topics;

pub use descriptor::descriptor_tokens;
pub use server::server_tokens;
