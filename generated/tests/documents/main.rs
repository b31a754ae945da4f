//! The published documents among the goldens, one test binary (each binary
//! links everything again): the AsyncAPI files pass the official parser
//! ([`asyncapi`]) and their examples validate against their own schemas
//! ([`samples`]); the HTML pages render cleanly in Chromium ([`html`]).

#[path = "../support/mod.rs"]
mod support;

mod asyncapi;
mod html;
mod samples;
