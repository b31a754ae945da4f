//! The wsauth runtime: authenticated, authorized WebSocket endpoints on axum.
//!
//! A spec, resolved at compile time into a [`descriptor::ApiDescriptor`], is
//! enforced on every connection and every message: token extraction
//! ([`token`]), JWT verification ([`jwt`]), and the rest of the pipeline as
//! it lands. Nothing here reads YAML at run time.

pub mod descriptor;
pub mod jwt;
pub mod token;

pub use wsauth_spec as spec;
