//! [`ClusterConfig`]: where the cluster's Redis is, and what a node does
//! while it cannot reach it.

use std::time::Duration;

/// A node's view of its cluster, for [`Builder::redis`](crate::Builder::redis).
///
/// ```no_run
/// # use wsauth_core::{ClusterConfig, FailurePolicy};
/// let config = ClusterConfig {
///     policy: FailurePolicy::Degrade,
///     ..ClusterConfig::new("redis://127.0.0.1:6379")
/// };
/// ```
///
/// Bounds: exactly `max_connections_per_user` connections of a user are
/// admitted across all nodes, however many handshakes race. A node that
/// dies (killed, cut off) holds its users' slots until their leases lapse,
/// at most `lease_ttl` (30 s by default) after its last renewal. A
/// connection that closes normally frees its slot at once. A revocation
/// reaches every connected node within one Redis round trip.
///
/// Redis must be 6.2 or newer (or Valkey), a single primary, with
/// `maxmemory-policy noeviction`; give every application its own `prefix`.
#[derive(Clone)]
pub struct ClusterConfig {
    /// The Redis URL (`redis://host:port/db`, with `user:password@` if
    /// needed).
    pub url: String,
    /// Put before every key and channel; `None` means `wsauth:<api name>`.
    pub prefix: Option<String>,
    /// What the node does while Redis is unreachable.
    pub policy: FailurePolicy,
    /// How long a connection's slot outlives its node's last renewal
    /// (30 s): the time a dead node's slots stay taken. At least twice
    /// `renew_every`.
    pub lease_ttl: Duration,
    /// How often a node renews its connections' slots (10 s).
    pub renew_every: Duration,
    /// How long "every token of this subject issued before now" is
    /// remembered (one day): at least the longest token lifetime, or an
    /// older token would become valid again.
    pub revocation_retention: Duration,
}

impl ClusterConfig {
    /// The defaults, for the Redis at `url`.
    pub fn new(url: impl Into<String>) -> Self {
        ClusterConfig {
            url: url.into(),
            prefix: None,
            policy: FailurePolicy::default(),
            lease_ttl: Duration::from_secs(30),
            renew_every: Duration::from_secs(10),
            revocation_retention: Duration::from_secs(24 * 3600),
        }
    }
}

/// Everything, the URL without its password.
impl std::fmt::Debug for ClusterConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ClusterConfig")
            .field("url", &redacted(&self.url))
            .field("prefix", &self.prefix)
            .field("policy", &self.policy)
            .field("lease_ttl", &self.lease_ttl)
            .field("renew_every", &self.renew_every)
            .field("revocation_retention", &self.revocation_retention)
            .finish()
    }
}

/// `url` with its userinfo (`user:password@`) and its `pass=` query
/// parameter (how `redis+unix://` URLs carry a password) replaced.
fn redacted(url: &str) -> String {
    let url = match (url.find("://"), url.rfind('@')) {
        (Some(scheme), Some(at)) if at > scheme => {
            format!("{}://<redacted>@{}", &url[..scheme], &url[at + 1..])
        }
        _ => url.to_owned(),
    };
    match url.split_once('?') {
        Some((base, query)) => {
            let query: Vec<&str> = query
                .split('&')
                .map(|pair| match pair.split_once('=') {
                    Some(("pass", _)) => "pass=<redacted>",
                    _ => pair,
                })
                .collect();
            format!("{base}?{}", query.join("&"))
        }
        None => url,
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_password_stays_out_of_debug_output() {
        let config = super::ClusterConfig::new("redis://app:s3cret@redis.internal:6379/2");
        let shown = format!("{config:?}");
        assert!(!shown.contains("s3cret"), "{shown}");
        assert!(shown.contains("redis://<redacted>@redis.internal:6379/2"));
    }

    #[test]
    fn a_unix_socket_urls_pass_parameter_is_redacted_too() {
        let shown = super::redacted("redis+unix:///run/redis.sock?db=2&pass=s3cret&user=app");
        assert_eq!(
            shown,
            "redis+unix:///run/redis.sock?db=2&pass=<redacted>&user=app"
        );
    }
}

/// What a node does with a new authenticated connection, and with topics,
/// while Redis is unreachable. Either way, open connections and their
/// subscriptions stay, anonymous connections are admitted (they hold no
/// cluster slot), revocations already known are enforced, and the node
/// reconnects by itself.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum FailurePolicy {
    /// Close it with the spec's `unavailable` code (1013 by default;
    /// clients back off and retry). A topic subscribe, client publish or
    /// presence question is refused `server_error`, and a server
    /// publication fails with
    /// [`PublishError::Unavailable`](crate::PublishError::Unavailable).
    #[default]
    Refuse,
    /// Admit it under the node-local per-user limit; its slot is leased
    /// cluster-wide once Redis is back (a user may then hold more than the
    /// limit until connections close: new ones are refused meanwhile).
    /// Topics work on this node alone: publications reach its own
    /// subscribers, numbered in an epoch of the node's (so a client's
    /// offsets from then are never taken for the cluster's), and presence
    /// is the node's; once Redis is back the instances take the cluster's
    /// numbering again (their subscribers miss what other nodes published
    /// meanwhile).
    Degrade,
}
