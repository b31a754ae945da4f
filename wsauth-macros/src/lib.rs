//! Procedural macros that bind wsauth handlers to their spec at compile time.
//!
//! The crate is thin on purpose: the macros will forward to `wsauth-gen`'s
//! spec model (loaded relative to `CARGO_MANIFEST_DIR`, validated, resolved
//! into the same IR every generator reads), so a handler that disagrees with
//! its spec fails to compile with the spec's own diagnostics. No macro is
//! exported yet; `#[ws_endpoint]` arrives with the runtime.
