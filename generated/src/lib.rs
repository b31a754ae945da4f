//! The Rust clients `wsauth-gen build` generated from the example specs,
//! compiled as they are checked in: warnings are errors, so a generator change
//! that emits an unused import, a missing doc or a lint fails the build.
//!
//! The folders beside `src/` hold every generated file (run
//! `cargo run -p wsauth-gen -- build specs/*.yaml -o generated` to regenerate
//! them; CI fails when they are stale). The tests in `tests/` drive the
//! generated clients, Rust and TypeScript, against the running example
//! servers, and load the documentation pages and AsyncAPI documents into the
//! tools their readers use.

#![deny(warnings)]

// The modules are prettyplease's output, checked in as generated; rustfmt
// would reformat them and `wsauth-gen build --check` would then see drift.

#[rustfmt::skip]
#[path = "../echo/client.rs"]
pub mod echo;
#[rustfmt::skip]
#[path = "../mcp-status/client.rs"]
pub mod mcp_status;
#[rustfmt::skip]
#[path = "../prsm/client.rs"]
pub mod prsm;
#[rustfmt::skip]
#[path = "../reflections/client.rs"]
pub mod reflections;
#[rustfmt::skip]
#[path = "../shipvox/client.rs"]
pub mod shipvox;
#[rustfmt::skip]
#[path = "../songnodes/client.rs"]
pub mod songnodes;
