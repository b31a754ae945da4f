//! The generated TypeScript clients, one test binary (each binary links
//! everything again): the goldens pass `tsc --strict` ([`checks`]), and the
//! compiled clients run against the examples started here in-process, under
//! Node ([`node_prsm`], [`node_scenarios`], [`node_examples`], [`node_payloads`]) and in headless Chromium
//! ([`browser`]), and against a fake WebSocket ([`node_runtime`]). The
//! tests that run compiled JavaScript share one `tsc` run into `js/out/`.

#[path = "../support/mod.rs"]
mod support;

mod browser;
mod checks;
mod node_examples;
mod node_payloads;
mod node_prsm;
mod node_runtime;
mod node_scenarios;
