//! One structured event per security decision, through `tracing`.
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

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

use wsauth_spec::wire::TopicRefusal;
use wsauth_spec::{FailureKind, Keyword};

use crate::cluster::Revocation;

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
}

impl AuditContext {
    fn peer(&self) -> String {
        self.peer.map(|p| p.to_string()).unwrap_or_default()
    }
}

/// The connection was admitted.
pub(crate) fn accepted(cx: &AuditContext) {
    tracing::info!(
        target: "wsauth::audit",
        event = "accepted",
        endpoint = cx.endpoint,
        peer = %cx.peer(),
        user_agent = cx.user_agent.as_deref().unwrap_or(""),
        subject = cx.subject.as_deref().unwrap_or(""),
    );
}

/// The connection was refused, or ended by the server, for `kind`.
pub(crate) fn rejected(cx: &AuditContext, kind: FailureKind, detail: &str) {
    tracing::warn!(
        target: "wsauth::audit",
        event = "rejected",
        kind = kind.word(),
        detail,
        endpoint = cx.endpoint,
        peer = %cx.peer(),
        user_agent = cx.user_agent.as_deref().unwrap_or(""),
        subject = cx.subject.as_deref().unwrap_or(""),
    );
}

/// A message was refused for lack of a permission.
pub(crate) fn permission_denied(cx: &AuditContext, message: &str, perm: &str) {
    tracing::warn!(
        target: "wsauth::audit",
        event = "permission_denied",
        message_type = message,
        permission = perm,
        endpoint = cx.endpoint,
        peer = %cx.peer(),
        subject = cx.subject.as_deref().unwrap_or(""),
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
    tracing::warn!(
        target: "wsauth::audit",
        event = "invalid_message",
        message_type = message,
        field = %violation.pointer(),
        rule = violation.rule.keyword(),
        endpoint = cx.endpoint,
        peer = %cx.peer(),
        subject = cx.subject.as_deref().unwrap_or(""),
    );
}

/// A limit was hit (connections, rate, size, send queue).
pub(crate) fn limit_hit(cx: &AuditContext, kind: FailureKind) {
    tracing::warn!(
        target: "wsauth::audit",
        event = "limit_hit",
        kind = kind.word(),
        endpoint = cx.endpoint,
        peer = %cx.peer(),
        subject = cx.subject.as_deref().unwrap_or(""),
    );
}

/// A revocation or disconnect took effect on this node (`origin`: `api`
/// for a call here, `cluster` for one announced by another node), closing
/// `closed` live connections.
pub(crate) fn revocation(revocation: &Revocation, origin: &'static str, closed: usize) {
    let (kind, name) = match revocation {
        Revocation::Jti { jti, .. } => ("jti", jti),
        Revocation::Subject { subject, .. } => ("subject", subject),
        Revocation::Disconnect { subject } => ("disconnect", subject),
    };
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
    tracing::info!(
        target: "wsauth::audit",
        event = "expired",
        endpoint = cx.endpoint,
        peer = %cx.peer(),
        subject = cx.subject.as_deref().unwrap_or(""),
    );
}

/// The client refreshed its token in-band; `exp` is the new expiry.
pub(crate) fn refreshed(cx: &AuditContext, exp: u64) {
    tracing::info!(
        target: "wsauth::audit",
        event = "refreshed",
        exp,
        endpoint = cx.endpoint,
        peer = %cx.peer(),
        subject = cx.subject.as_deref().unwrap_or(""),
    );
}

/// The connection ended with `kind`.
pub(crate) fn closed(cx: &AuditContext, kind: FailureKind) {
    tracing::info!(
        target: "wsauth::audit",
        event = "closed",
        kind = kind.word(),
        endpoint = cx.endpoint,
        peer = %cx.peer(),
        subject = cx.subject.as_deref().unwrap_or(""),
    );
}

/// The client closed the connection (or it dropped).
pub(crate) fn client_closed(cx: &AuditContext) {
    tracing::info!(
        target: "wsauth::audit",
        event = "closed",
        kind = "client",
        endpoint = cx.endpoint,
        peer = %cx.peer(),
        subject = cx.subject.as_deref().unwrap_or(""),
    );
}

/// A subscription to an instance of `topic` was granted.
pub(crate) fn topic_subscribed(cx: &AuditContext, topic: &str) {
    tracing::info!(
        target: "wsauth::audit",
        event = "topic_subscribed",
        topic,
        endpoint = cx.endpoint,
        peer = %cx.peer(),
        subject = cx.subject.as_deref().unwrap_or(""),
    );
}

/// A topic request (`request`, a `wsauth.` type) was refused. `topic` is
/// the client's word, which may name no topic at all.
pub(crate) fn topic_refused(cx: &AuditContext, request: &str, topic: &str, error: TopicRefusal) {
    tracing::warn!(
        target: "wsauth::audit",
        event = "topic_refused",
        request,
        topic,
        error = error.word(),
        endpoint = cx.endpoint,
        peer = %cx.peer(),
        subject = cx.subject.as_deref().unwrap_or(""),
    );
}

/// A subscription ended at the client's request (`client`) or the
/// server's (`server`).
pub(crate) fn topic_unsubscribed(cx: &AuditContext, topic: &str, reason: &str) {
    tracing::info!(
        target: "wsauth::audit",
        event = "topic_unsubscribed",
        topic,
        reason,
        endpoint = cx.endpoint,
        peer = %cx.peer(),
        subject = cx.subject.as_deref().unwrap_or(""),
    );
}

/// A subscription failed its checks again after an in-band refresh and
/// was ended.
pub(crate) fn topic_dropped(cx: &AuditContext, topic: &str, reason: TopicRefusal) {
    tracing::warn!(
        target: "wsauth::audit",
        event = "topic_dropped",
        topic,
        reason = reason.word(),
        endpoint = cx.endpoint,
        peer = %cx.peer(),
        subject = cx.subject.as_deref().unwrap_or(""),
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
