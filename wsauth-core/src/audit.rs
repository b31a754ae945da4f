//! One structured event per security decision, through `tracing`.
//!
//! Every event has target `wsauth::audit` and an `event` field
//! (`accepted`, `rejected`, `permission_denied`, `limit_hit`, `expired`,
//! `refreshed`, `closed`, `invalid_message`), plus the endpoint, peer address, user agent and
//! subject when known. Tokens, secrets and passwords are never fields: the
//! pipeline only ever passes the failure kind and a detail written without
//! them. Route a subscriber on the target to keep an audit trail apart from
//! the application's logs.

use std::net::SocketAddr;
use std::sync::Arc;

use wsauth_spec::{FailureKind, Keyword};

/// Who and where an event is about.
///
/// A connection keeps its context for its whole life, so the strings are
/// compact: the user agent is boxed to its length and the subject is the
/// one the connection's principal and connection-limit slot share.
#[derive(Clone, Debug, Default)]
pub struct AuditContext {
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
pub fn accepted(cx: &AuditContext) {
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
pub fn rejected(cx: &AuditContext, kind: FailureKind, detail: &str) {
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
pub fn permission_denied(cx: &AuditContext, message: &str, perm: &str) {
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
pub fn limit_hit(cx: &AuditContext, kind: FailureKind) {
    tracing::warn!(
        target: "wsauth::audit",
        event = "limit_hit",
        kind = kind.word(),
        endpoint = cx.endpoint,
        peer = %cx.peer(),
        subject = cx.subject.as_deref().unwrap_or(""),
    );
}

/// The token expired on a live connection.
pub fn expired(cx: &AuditContext) {
    tracing::info!(
        target: "wsauth::audit",
        event = "expired",
        endpoint = cx.endpoint,
        peer = %cx.peer(),
        subject = cx.subject.as_deref().unwrap_or(""),
    );
}

/// The client refreshed its token in-band; `exp` is the new expiry.
pub fn refreshed(cx: &AuditContext, exp: u64) {
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
pub fn closed(cx: &AuditContext, kind: FailureKind) {
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
pub fn client_closed(cx: &AuditContext) {
    tracing::info!(
        target: "wsauth::audit",
        event = "closed",
        kind = "client",
        endpoint = cx.endpoint,
        peer = %cx.peer(),
        subject = cx.subject.as_deref().unwrap_or(""),
    );
}
