//! Disconnecting users and revoking tokens, on this node or (with
//! [`Builder::redis`](crate::Builder::redis)) on every node of the cluster.
//!
//! Each call takes effect on this node before it returns, whatever happens
//! to Redis; in a cluster it is then stored and announced to every node,
//! which closes the affected connections with the spec's `revoked` code
//! (4006 by default, clients get a fresh token) within one Redis round
//! trip, and refuses the revoked tokens at the handshake and on refresh
//! from then on. A node that was cut off, or starts later, loads the stored
//! revocations before it admits anyone.

use crate::cluster::{ClusterError, Revocation, TokenMark, unix_now};

use super::WsAuth;

impl WsAuth {
    /// Closes every live connection of `subject` (on every node) with the
    /// `revoked` code. Their tokens stay valid: a client that reconnects is
    /// admitted; use
    /// [`revoke_subject_before_now`](WsAuth::revoke_subject_before_now) to
    /// refuse them too.
    ///
    /// # Errors
    ///
    /// [`ClusterError::Unavailable`] when Redis is unreachable: only this
    /// node's connections were closed.
    pub async fn disconnect_subject(&self, subject: &str) -> Result<(), ClusterError> {
        self.shared
            .cluster
            .revoke(Revocation::Disconnect {
                subject: subject.into(),
            })
            .await
            .map(drop)
    }

    /// Revokes the token whose `jti` claim is `jti`: connections holding it
    /// are closed with the `revoked` code, and it is refused from now on.
    /// `exp` is the token's expiry (unix seconds), after which it need not
    /// be remembered; `None` keeps it for the revocation retention
    /// (`ClusterConfig::revocation_retention` in a cluster, a fixed day on
    /// a server without Redis).
    ///
    /// # Errors
    ///
    /// [`ClusterError::Unavailable`] when Redis is unreachable: the token
    /// is revoked on this node only.
    pub async fn revoke_jti(&self, jti: &str, exp: Option<u64>) -> Result<(), ClusterError> {
        let exp = self.shared.cluster.revocations.jti_until(exp);
        self.shared
            .cluster
            .revoke(Revocation::Jti {
                jti: jti.into(),
                exp,
            })
            .await
            .map(drop)
    }

    /// Revokes every token of `subject` issued until now (its `iat` at or
    /// before now, or no `iat` at all): its live connections are closed
    /// with the `revoked` code, and those tokens are refused from now on.
    /// A token issued later (a second later: times are whole seconds) is
    /// accepted. Returns the time it took effect (unix seconds, Redis's
    /// clock in a cluster).
    ///
    /// # Errors
    ///
    /// [`ClusterError::Unavailable`] when Redis is unreachable: the tokens
    /// are revoked on this node only.
    pub async fn revoke_subject_before_now(&self, subject: &str) -> Result<u64, ClusterError> {
        self.shared
            .cluster
            .revoke(Revocation::Subject {
                subject: subject.into(),
                before: unix_now(),
            })
            .await
    }

    /// Whether a token of `subject` with these `jti` and `iat` claims is
    /// revoked, as this node knows it (in memory, without a Redis round
    /// trip): for routes outside the WebSocket endpoints (an admin HTTP
    /// API, say) that authenticate with the same tokens and must refuse the
    /// ones [`revoke_jti`](WsAuth::revoke_jti) or
    /// [`revoke_subject_before_now`](WsAuth::revoke_subject_before_now)
    /// revoked. A token without `iat` is revoked by any subject revocation
    /// (it cannot prove it is newer).
    pub fn is_revoked(&self, subject: &str, jti: Option<&str>, iat: Option<u64>) -> bool {
        let mark = TokenMark {
            jti: jti.map(Box::from),
            iat,
        };
        self.shared.cluster.revocations.is_revoked(subject, &mark)
    }

    /// Whether this node admits authenticated connections normally: always
    /// on a single node; in a cluster, while Redis answers and the node's
    /// revocations are current (for a readiness probe).
    pub fn cluster_ready(&self) -> bool {
        self.shared.cluster.ready()
    }
}
