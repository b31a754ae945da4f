//! Several server processes as one API: per-user connection limits and
//! revocation that hold across nodes.
//!
//! # Motivation
//!
//! Behind a load balancer, a user's connections land on any node, so a
//! per-user limit counted per node admits N per node, and a token revoked
//! on one node is still good on the others. With the `redis` cargo feature
//! and [`Builder::redis`](crate::Builder::redis), every node of a
//! deployment shares one Redis (or Valkey): per-user connection slots are
//! leases there (`redis/leases.rs`), and revocations are stored there and
//! announced on a control channel to every node (`redis/control.rs`).
//! Without it (the embedded default) the same API acts on the one node.
//!
//! Revocation checks never wait for Redis: each node keeps what is revoked
//! in memory ([`Revocations`]) and checks tokens there, at the handshake
//! and on every in-band refresh.
//!
//! Topics: Redis numbers every publication, keeps the history and passes
//! publications to the nodes following the instance, over the one
//! subscriber connection each node holds (`redis/fanout.rs`); it counts
//! every node's subjects for presence (`redis/presence.rs`).
//!
//! Where things are: `revocations.rs` (the in-memory set and the live
//! connections it sweeps), `config.rs` ([`ClusterConfig`], the failure
//! policy), `redis/` (the node's Redis connection, its tasks and the Lua
//! scripts they run).

#[cfg(feature = "redis")]
mod config;
#[cfg(feature = "redis")]
mod redis;
mod revocations;

use std::sync::Arc;

use crate::audit::AuditLog;
use crate::reject::Rejection;

#[cfg(feature = "redis")]
pub use self::config::{ClusterConfig, FailurePolicy};
#[cfg(feature = "redis")]
pub(crate) use self::redis::Fanout;
pub(crate) use self::revocations::{Listed, Revocation, Revocations, TokenMark, unix_now};

/// How long a subject's "issued before" time (and a `jti` revoked without
/// its expiry) is kept on a node without Redis (one day): the longest token
/// lifetime it is meant for.
const LOCAL_RETENTION_S: u64 = 24 * 3600;

/// A revocation or disconnect could not reach the other nodes.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ClusterError {
    /// Redis is unreachable: the revocation holds on this node only (and
    /// is not stored for nodes that start later). Retry it.
    #[error("the cluster's redis is unreachable; applied on this node only")]
    Unavailable,
}

/// The node's side of the cluster: what it knows is revoked, and (with
/// Redis) its connection to the other nodes.
pub(crate) struct Cluster {
    pub(crate) revocations: Arc<Revocations>,
    #[cfg(feature = "redis")]
    node: Option<redis::Node>,
}

/// A connection's slot in the cluster-wide per-user limit, given back when
/// dropped (nothing on a node without Redis: the node-local slot is the
/// limit there).
pub(crate) struct ClusterSlot {
    #[cfg(feature = "redis")]
    #[expect(dead_code, reason = "held for its `Drop`, which frees the lease")]
    held: Option<redis::Held>,
}

impl Cluster {
    /// A single node: revocations act here only (audited to `audit`
    /// when the server has a log).
    pub(crate) fn local(audit: Option<AuditLog>) -> Self {
        Cluster {
            revocations: Arc::new(Revocations::new(LOCAL_RETENTION_S).audited(audit)),
            #[cfg(feature = "redis")]
            node: None,
        }
    }

    /// A node of the cluster `config` describes, its requests to Redis
    /// counted in `metrics`, its revocations audited to `audit`; its tasks
    /// run on the current tokio runtime.
    #[cfg(feature = "redis")]
    pub(crate) fn with_redis(
        config: ClusterConfig,
        api: &str,
        metrics: Arc<crate::metrics::RedisMetrics>,
        broker: Arc<crate::topics::Broker>,
        audit: Option<AuditLog>,
    ) -> Result<Self, crate::server::BuildError> {
        let retention = config.revocation_retention.as_secs();
        let revocations = Arc::new(Revocations::new(retention).audited(audit));
        let node = redis::Node::start(config, api, Arc::clone(&revocations), metrics, broker)?;
        Ok(Cluster {
            revocations,
            node: Some(node),
        })
    }

    /// The node's topic fan-out through Redis; `None` without Redis.
    #[cfg(feature = "redis")]
    pub(crate) fn fanout(&self) -> Option<Arc<Fanout>> {
        self.node.as_ref().map(redis::Node::fanout)
    }

    /// Takes one of `subject`'s `max` slots cluster-wide:
    /// `too_many_connections` when they are all held, `unavailable` when
    /// Redis cannot be reached and the policy refuses.
    pub(crate) async fn take_slot(
        &self,
        subject: &Arc<str>,
        max: u32,
    ) -> Result<ClusterSlot, Rejection> {
        #[cfg(feature = "redis")]
        if let Some(node) = &self.node {
            let held = node.take(subject, max).await?;
            return Ok(ClusterSlot { held: Some(held) });
        }
        let _ = (subject, max);
        Ok(ClusterSlot {
            #[cfg(feature = "redis")]
            held: None,
        })
    }

    /// Applies `revocation` on this node, and stores and announces it to
    /// every node. Returns the time it took effect (unix seconds; Redis's
    /// clock in a cluster).
    ///
    /// A subject's "issued before" time is Redis's clock in a cluster
    /// (`revoke.lua` takes it, and every other node applies that), so this
    /// node applies it once Redis answers, and its own clock's (taken by
    /// the caller) only when Redis is unreachable: a token issued in
    /// between is then judged alike on every node, whatever their clocks.
    pub(crate) async fn revoke(&self, revocation: Revocation) -> Result<u64, ClusterError> {
        #[cfg(feature = "redis")]
        if let Some(node) = &self.node {
            if let Revocation::Subject { subject, before } = &revocation {
                let stored = node.revoke(&revocation).await;
                self.apply(&Revocation::Subject {
                    subject: subject.clone(),
                    before: *stored.as_ref().unwrap_or(before),
                });
                return stored;
            }
            self.apply(&revocation);
            return node.revoke(&revocation).await;
        }
        let now = unix_now();
        self.apply(&revocation);
        Ok(now)
    }

    fn apply(&self, revocation: &Revocation) {
        self.revocations.apply_from(revocation, "api");
    }

    /// Whether the node can admit authenticated connections as its policy
    /// wants: always without Redis; with it, once Redis answers and the
    /// revocations are loaded.
    pub(crate) fn ready(&self) -> bool {
        #[cfg(feature = "redis")]
        if let Some(node) = &self.node {
            return node.up();
        }
        true
    }
}
