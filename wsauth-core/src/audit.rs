//! One structured event per security decision, through `tracing` or,
//! when the server was given one, an [`AuditLog`].
//!
//! Every event has target `wsauth::audit` and an `event` field
//! (`accepted`, `rejected`, `permission_denied`, `limit_hit`, `expired`,
//! `refreshed`, `closed`, `invalid_message`, `refused` for refusals
//! before authentication, sampled with a `count`, and `topic_subscribed`,
//! `topic_refused`, `topic_unsubscribed`, `topic_dropped` for topic
//! subscriptions, with the topic's name; `revocation` for a revocation or
//! disconnect this node applied, from its own API or from another node),
//! plus the endpoint, peer
//! address, user agent and subject when known. Tokens, secrets and passwords are never fields: the
//! pipeline only ever passes the failure kind and a detail written without
//! them. Route a subscriber on the target to keep an audit trail apart from
//! the application's logs.
//!
//! With an [`AuditLog`] configured the events go to it alone, as JSON lines
//! with the same fields, and not to `tracing`: one audit trail, paid for
//! once, whatever subscriber the application installs. Without one they
//! are `tracing` events, as they always were. Revocations, node-wide events
//! with no connection behind them, follow the same rule.

mod line;
mod log;

pub use self::log::AuditLog;

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

use wsauth_spec::wire::TopicRefusal;
use wsauth_spec::{FailureKind, Keyword};

use crate::cluster::Revocation;

use self::line::{Level, Line};

/// Who and where an event is about.
///
/// A connection keeps its context for its whole life, so the strings are
/// compact: the user agent is boxed to its length and the subject is the
/// one the connection's principal and connection-limit slot share.
#[derive(Clone, Debug, Default)]
pub(crate) struct AuditContext {
    /// Endpoint name.
    pub endpoint: &'static str,
    /// Peer address, when the server was started with connect info.
    pub peer: Option<SocketAddr>,
    /// `User-Agent`, truncated.
    pub user_agent: Option<Box<str>>,
    /// Token subject, once known.
    pub subject: Option<Arc<str>>,
    /// Where the events go instead of `tracing`, when configured.
    pub log: Option<AuditLog>,
}

impl AuditContext {
    fn peer(&self) -> String {
        self.peer.map(|p| p.to_string()).unwrap_or_default()
    }

    /// Writes one line to the log, if there is one (`fields`, then who and
    /// where); `false` if not.
    fn line(&self, level: Level, event: &'static str, fields: impl FnOnce(&mut Line<'_>)) -> bool {
        let Some(log) = &self.log else {
            return false;
        };
        log.event(level, event, |line| {
            fields(line);
            line.str("endpoint", self.endpoint)
                .peer("peer", self.peer)
                .str("subject", self.subject());
        });
        true
    }

    fn subject(&self) -> &str {
        self.subject.as_deref().unwrap_or("")
    }

    fn user_agent(&self) -> &str {
        self.user_agent.as_deref().unwrap_or("")
    }
}

/// The connection was admitted.
pub(crate) fn accepted(cx: &AuditContext) {
    if cx.line(Level::Info, "accepted", |line| {
        line.str("user_agent", cx.user_agent());
    }) {
        return;
    }
    tracing::info!(
        target: "wsauth::audit",
        event = "accepted",
        endpoint = cx.endpoint,
        peer = %cx.peer(),
        user_agent = cx.user_agent(),
        subject = cx.subject(),
    );
}

/// The connection was refused, or ended by the server, for `kind`.
pub(crate) fn rejected(cx: &AuditContext, kind: FailureKind, detail: &str) {
    if cx.line(Level::Warn, "rejected", |line| {
        line.str("kind", kind.word())
            .str("detail", detail)
            .str("user_agent", cx.user_agent());
    }) {
        return;
    }
    tracing::warn!(
        target: "wsauth::audit",
        event = "rejected",
        kind = kind.word(),
        detail,
        endpoint = cx.endpoint,
        peer = %cx.peer(),
        user_agent = cx.user_agent(),
        subject = cx.subject(),
    );
}

/// A message was refused for lack of a permission.
pub(crate) fn permission_denied(cx: &AuditContext, message: &str, perm: &str) {
    if cx.line(Level::Warn, "permission_denied", |line| {
        line.str("message_type", message).str("permission", perm);
    }) {
        return;
    }
    tracing::warn!(
        target: "wsauth::audit",
        event = "permission_denied",
        message_type = message,
        permission = perm,
        endpoint = cx.endpoint,
        peer = %cx.peer(),
        subject = cx.subject(),
    );
}

/// A message broke its payload's schema: which field (a JSON Pointer of
/// declared names and indices, empty for the message itself) and which
/// rule (the JSON Schema keyword). Never the value.
pub(crate) fn invalid_message(
    cx: &AuditContext,
    message: &str,
    violation: &crate::payload::Violation,
) {
    if cx.line(Level::Warn, "invalid_message", |line| {
        line.str("message_type", message)
            .str("field", &violation.pointer())
            .str("rule", violation.rule.keyword());
    }) {
        return;
    }
    tracing::warn!(
        target: "wsauth::audit",
        event = "invalid_message",
        message_type = message,
        field = %violation.pointer(),
        rule = violation.rule.keyword(),
        endpoint = cx.endpoint,
        peer = %cx.peer(),
        subject = cx.subject(),
    );
}

/// A limit was hit (connections, rate, size, send queue).
pub(crate) fn limit_hit(cx: &AuditContext, kind: FailureKind) {
    if cx.line(Level::Warn, "limit_hit", |line| {
        line.str("kind", kind.word());
    }) {
        return;
    }
    tracing::warn!(
        target: "wsauth::audit",
        event = "limit_hit",
        kind = kind.word(),
        endpoint = cx.endpoint,
        peer = %cx.peer(),
        subject = cx.subject(),
    );
}

/// A revocation or disconnect took effect on this node (`origin`: `api`
/// for a call here, `cluster` for one announced by another node), closing
/// `closed` live connections; to `log` when the server has one.
pub(crate) fn revocation(
    log: Option<&AuditLog>,
    revocation: &Revocation,
    origin: &'static str,
    closed: usize,
) {
    let (kind, name) = match revocation {
        Revocation::Jti { jti, .. } => ("jti", jti),
        Revocation::Subject { subject, .. } => ("subject", subject),
        Revocation::Disconnect { subject } => ("disconnect", subject),
    };
    if let Some(log) = log {
        log.event(Level::Info, "revocation", |line| {
            line.str("kind", kind)
                .str("name", name)
                .str("origin", origin)
                .u64("closed", closed as u64);
        });
        return;
    }
    tracing::info!(
        target: "wsauth::audit",
        event = "revocation",
        kind,
        name = &**name,
        origin,
        closed,
    );
}

/// The token expired on a live connection.
pub(crate) fn expired(cx: &AuditContext) {
    if cx.line(Level::Info, "expired", |_| {}) {
        return;
    }
    tracing::info!(
        target: "wsauth::audit",
        event = "expired",
        endpoint = cx.endpoint,
        peer = %cx.peer(),
        subject = cx.subject(),
    );
}

/// The client refreshed its token in-band; `exp` is the new expiry.
pub(crate) fn refreshed(cx: &AuditContext, exp: u64) {
    if cx.line(Level::Info, "refreshed", |line| {
        line.u64("exp", exp);
    }) {
        return;
    }
    tracing::info!(
        target: "wsauth::audit",
        event = "refreshed",
        exp,
        endpoint = cx.endpoint,
        peer = %cx.peer(),
        subject = cx.subject(),
    );
}

/// The connection ended with `kind`.
pub(crate) fn closed(cx: &AuditContext, kind: FailureKind) {
    if cx.line(Level::Info, "closed", |line| {
        line.str("kind", kind.word());
    }) {
        return;
    }
    tracing::info!(
        target: "wsauth::audit",
        event = "closed",
        kind = kind.word(),
        endpoint = cx.endpoint,
        peer = %cx.peer(),
        subject = cx.subject(),
    );
}

/// The client closed the connection (or it dropped).
pub(crate) fn client_closed(cx: &AuditContext) {
    if cx.line(Level::Info, "closed", |line| {
        line.str("kind", "client");
    }) {
        return;
    }
    tracing::info!(
        target: "wsauth::audit",
        event = "closed",
        kind = "client",
        endpoint = cx.endpoint,
        peer = %cx.peer(),
        subject = cx.subject(),
    );
}

/// A subscription to an instance of `topic` was granted.
pub(crate) fn topic_subscribed(cx: &AuditContext, topic: &str) {
    if cx.line(Level::Info, "topic_subscribed", |line| {
        line.str("topic", topic);
    }) {
        return;
    }
    tracing::info!(
        target: "wsauth::audit",
        event = "topic_subscribed",
        topic,
        endpoint = cx.endpoint,
        peer = %cx.peer(),
        subject = cx.subject(),
    );
}

/// A topic request (`request`, a `wsauth.` type) was refused. `topic` is
/// the client's word, which may name no topic at all.
pub(crate) fn topic_refused(cx: &AuditContext, request: &str, topic: &str, error: TopicRefusal) {
    if cx.line(Level::Warn, "topic_refused", |line| {
        line.str("request", request)
            .str("topic", topic)
            .str("error", error.word());
    }) {
        return;
    }
    tracing::warn!(
        target: "wsauth::audit",
        event = "topic_refused",
        request,
        topic,
        error = error.word(),
        endpoint = cx.endpoint,
        peer = %cx.peer(),
        subject = cx.subject(),
    );
}

/// A subscription ended at the client's request (`client`) or the
/// server's (`server`).
pub(crate) fn topic_unsubscribed(cx: &AuditContext, topic: &str, reason: &str) {
    if cx.line(Level::Info, "topic_unsubscribed", |line| {
        line.str("topic", topic).str("reason", reason);
    }) {
        return;
    }
    tracing::info!(
        target: "wsauth::audit",
        event = "topic_unsubscribed",
        topic,
        reason,
        endpoint = cx.endpoint,
        peer = %cx.peer(),
        subject = cx.subject(),
    );
}

/// A subscription failed its checks again after an in-band refresh and
/// was ended.
pub(crate) fn topic_dropped(cx: &AuditContext, topic: &str, reason: TopicRefusal) {
    if cx.line(Level::Warn, "topic_dropped", |line| {
        line.str("topic", topic).str("reason", reason.word());
    }) {
        return;
    }
    tracing::warn!(
        target: "wsauth::audit",
        event = "topic_dropped",
        topic,
        reason = reason.word(),
        endpoint = cx.endpoint,
        peer = %cx.peer(),
        subject = cx.subject(),
    );
}

/// Why a connection was refused before anyone was authenticated: the
/// refusals a flood makes by the thousand, audited by [`Sampled`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Refusal {
    /// The server holds its maximum of connections.
    ServerFull,
    /// The client's address (an IPv6 /64) holds its maximum.
    AddressFull,
    /// The request headers did not arrive within the header read timeout.
    HeaderTimeout,
    /// The `Origin` is not allowed (HTTP 403 instead of an upgrade).
    Origin,
    /// The handshake's checks took longer than their time budget.
    HandshakeTimeout,
    /// Anonymous connections are at their maximum.
    AnonymousFull,
}

impl Refusal {
    pub(crate) const ALL: [Refusal; 6] = [
        Refusal::ServerFull,
        Refusal::AddressFull,
        Refusal::HeaderTimeout,
        Refusal::Origin,
        Refusal::HandshakeTimeout,
        Refusal::AnonymousFull,
    ];

    pub(crate) fn word(self) -> &'static str {
        match self {
            Refusal::ServerFull => "server_full",
            Refusal::AddressFull => "address_full",
            Refusal::HeaderTimeout => "header_timeout",
            Refusal::Origin => "origin",
            Refusal::HandshakeTimeout => "handshake_timeout",
            Refusal::AnonymousFull => "anonymous_full",
        }
    }
}

/// Audits refusals by sampling: at most one line per reason per second,
/// saying how many refusals of that reason it stands for, and the peer of
/// the one that triggered it. The first refusal of a quiet spell is logged
/// at once; the ones after it in the same second are counted into the next
/// line.
#[derive(Debug, Default)]
pub(crate) struct Sampled {
    reasons: [SampledReason; Refusal::ALL.len()],
    /// Where the lines go instead of `tracing`, when configured.
    log: Option<AuditLog>,
}

#[derive(Debug, Default)]
struct SampledReason {
    /// Unix second of the last line.
    logged_at: AtomicU64,
    /// Refusals since the last line, that one included.
    count: AtomicU64,
    /// Refusals since the start, for the metrics.
    total: AtomicU64,
}

impl Sampled {
    /// Sampled refusals written to `log`, or as `tracing` events without one.
    pub(crate) fn new(log: Option<AuditLog>) -> Self {
        Sampled {
            log,
            ..Sampled::default()
        }
    }

    /// Counts one refusal, and logs if this reason has had no line this second.
    pub(crate) fn refused(&self, refusal: Refusal, peer: Option<SocketAddr>) {
        let Some(index) = Refusal::ALL.iter().position(|r| *r == refusal) else {
            return;
        };
        let reason = &self.reasons[index];
        reason.count.fetch_add(1, Ordering::Relaxed);
        reason.total.fetch_add(1, Ordering::Relaxed);
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_secs());
        let last = reason.logged_at.load(Ordering::Relaxed);
        if now <= last
            || reason
                .logged_at
                .compare_exchange(last, now, Ordering::Relaxed, Ordering::Relaxed)
                .is_err()
        {
            return;
        }
        let count = reason.count.swap(0, Ordering::Relaxed);
        if let Some(log) = &self.log {
            log.event(Level::Warn, "refused", |line| {
                line.str("reason", refusal.word())
                    .u64("count", count)
                    .peer("peer", peer);
            });
            return;
        }
        tracing::warn!(
            target: "wsauth::audit",
            event = "refused",
            reason = refusal.word(),
            count,
            peer = %peer.map(|p| p.to_string()).unwrap_or_default(),
        );
    }

    /// Refusals for `refusal` since the start.
    pub(crate) fn total(&self, refusal: Refusal) -> u64 {
        Refusal::ALL
            .iter()
            .position(|r| *r == refusal)
            .and_then(|index| self.reasons.get(index))
            .map_or(0, |reason| reason.total.load(Ordering::Relaxed))
    }
}

#[cfg(test)]
mod tests;
