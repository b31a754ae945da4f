//! What the tests of generated code share, so that each test file keeps only
//! its scenarios.
//!
//! The examples' own end-to-end harness (`wsauth_example_support::testing`:
//! token minting, serving on 127.0.0.1:0, a raw HTTP client) is reused here
//! rather than copied; on top of it:
//! - [`tokens`]: each example's token shape (issuer, audience, `roles` array
//!   or single `role` claim), signed with [`SECRET`];
//! - [`examples`]: each example started in-process with [`SECRET`] and the
//!   configuration the clients' scenarios expect;
//! - [`events`]: waiting for a generated Rust client's next event, with a
//!   timeout, and the event sequences every client test checks;
//! - [`relay`]: a TCP relay a test cuts and restores (a network failure);
//! - [`scenarios`]: the topic scenarios every generated client passes;
//! - [`tools`]: the repository's folders and the JavaScript tools (`node`,
//!   the packages `npm ci` installs in `js/`, Debian's Chromium).
//!
//! A missing tool fails the test with the command that installs it; it is
//! never a skip (`bash .ci/test` installs everything).

#![allow(dead_code, unreachable_pub)] // each test binary uses part of it

pub mod events;
pub mod examples;
pub mod relay;
pub mod scenarios;
pub mod tokens;
pub mod tools;

/// The HS256 secret every test server uses (the TypeScript tests mint with
/// it too).
pub const SECRET: &str = "generated-clients-test-secret-0123456789";
