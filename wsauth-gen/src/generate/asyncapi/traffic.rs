//! Which messages travel on an endpoint, and which way: the spec's own, and
//! the ones wsauth adds (in-band refresh, raw frames, open messages, topic
//! control messages). The channels, operations and messages of the document
//! are all laid out from this one account.

use wsauth_spec::wire::{REFRESH, REFRESHED, RESERVED_PREFIX};

use super::topics::Control;
use crate::ir::{Access, Api, Endpoint, ExpiryPolicy, Frames};

/// Any frame of a `frames: raw` endpoint.
pub(super) const RAW: &str = "wsauth.raw";
/// Any open message (a JSON object of an undeclared `type`), on endpoints
/// whose spec allows them. Not a wire `type`: the document's name for them.
pub(super) const OPEN: &str = "wsauth.open";

/// Every message of one endpoint with the direction it travels there.
pub(super) struct Traffic<'a> {
    /// Messages the client sends (the server receives), in spec order.
    pub(super) receives: Vec<&'a str>,
    /// Messages the server sends, the welcome first.
    pub(super) sends: Vec<&'a str>,
    /// Whether in-band refresh applies.
    pub(super) refresh: bool,
}

impl<'a> Traffic<'a> {
    pub(super) fn of(api: &Api, endpoint: &'a Endpoint) -> Self {
        let refresh = endpoint.frames == Frames::Json
            && endpoint.access != Access::Anonymous
            && api
                .auth
                .as_ref()
                .is_some_and(|a| a.on_expiry == ExpiryPolicy::Refresh);
        let mut receives: Vec<&str> = endpoint.receives.iter().map(String::as_str).collect();
        let mut sends: Vec<&str> = endpoint.sends.iter().map(String::as_str).collect();
        if endpoint.frames == Frames::Raw {
            receives.push(RAW);
            sends.push(RAW);
        }
        if let Some(open) = &endpoint.open {
            if open.receives {
                receives.push(OPEN);
            }
            if open.sends {
                sends.push(OPEN);
            }
        }
        if refresh {
            receives.push(REFRESH);
            sends.push(REFRESHED);
        }
        let control = Control::of(api, &endpoint.topics);
        receives.extend(control.receives());
        sends.extend(control.sends());
        Traffic {
            receives,
            sends,
            refresh,
        }
    }

    /// Every message once: what the client sends, then what the server
    /// sends, the spec's messages before wsauth's own.
    pub(super) fn all(&self) -> Vec<&'a str> {
        let mut all: Vec<&str> = Vec::new();
        for name in self.receives.iter().chain(&self.sends) {
            if !all.contains(name) {
                all.push(name);
            }
        }
        all.sort_by_key(|name| name.starts_with(RESERVED_PREFIX));
        all
    }
}
