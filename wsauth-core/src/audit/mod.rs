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
//! are `tracing` events, as they always were. (Revocations are the
//! exception for now: a node-wide event with no connection behind it, it
//! stays a `tracing` event either way.)

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
mod tests {
    use std::io::{self, Write};
    use std::sync::{Arc, Mutex, PoisonError};

    use serde_json::{Value, json};
    use wsauth_spec::FailureKind;
    use wsauth_spec::wire::TopicRefusal;

    use super::*;
    use crate::payload::{Rule, Violation};

    /// A writer into memory the test reads back.
    #[derive(Clone, Default)]
    struct Shared(Arc<Mutex<Vec<u8>>>);

    impl Write for Shared {
        fn write(&mut self, bytes: &[u8]) -> io::Result<usize> {
            self.0
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .extend_from_slice(bytes);
            Ok(bytes.len())
        }

        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }

    impl Shared {
        /// Every line written, parsed, without the timestamp (checked apart).
        fn lines(&self) -> Vec<Value> {
            let bytes = self.0.lock().unwrap_or_else(PoisonError::into_inner);
            let text = std::str::from_utf8(&bytes).unwrap_or_else(|e| panic!("{e}"));
            text.lines()
                .map(|line| {
                    let mut value: Value = serde_json::from_str(line)
                        .unwrap_or_else(|e| panic!("not JSON ({e}): {line}"));
                    let stamp = value
                        .as_object_mut()
                        .and_then(|o| o.remove("timestamp"))
                        .unwrap_or_else(|| panic!("no timestamp: {line}"));
                    let stamp = stamp.as_str().unwrap_or_default();
                    assert!(
                        stamp.len() == 24 && stamp.ends_with('Z'),
                        "RFC 3339 UTC with milliseconds: {stamp}"
                    );
                    value
                })
                .collect()
        }
    }

    fn logged() -> (AuditLog, Shared) {
        let out = Shared::default();
        let log = AuditLog::json_lines(out.clone()).unwrap_or_else(|e| panic!("{e}"));
        (log, out)
    }

    fn context(log: &AuditLog) -> AuditContext {
        AuditContext {
            endpoint: "room",
            peer: Some(SocketAddr::from(([192, 0, 2, 7], 5151))),
            user_agent: Some("agent \"quoted\"".into()),
            subject: Some("alice".into()),
            log: Some(log.clone()),
        }
    }

    /// What every line of a connection's event carries.
    fn about(level: &str, event: &str, fields: Value) -> Value {
        let mut line = json!({
            "level": level,
            "target": "wsauth::audit",
            "event": event,
            "endpoint": "room",
            "peer": "192.0.2.7:5151",
            "subject": "alice",
        });
        if let (Some(line), Value::Object(fields)) = (line.as_object_mut(), fields) {
            line.extend(fields);
        }
        line
    }

    #[test]
    fn every_event_kind_is_one_json_line_with_the_tracing_fields() {
        let (log, out) = logged();
        let cx = context(&log);
        accepted(&cx);
        rejected(&cx, FailureKind::AuthFailed, "bad signature");
        permission_denied(&cx, "say", "room.write");
        invalid_message(&cx, "say", &Violation::new(Rule::Required));
        limit_hit(&cx, FailureKind::RateLimited);
        expired(&cx);
        refreshed(&cx, 1_800_000_000);
        closed(&cx, FailureKind::TokenExpired);
        client_closed(&cx);
        topic_subscribed(&cx, "room");
        topic_refused(&cx, "wsauth.publish", "nope", TopicRefusal::UnknownTopic);
        topic_unsubscribed(&cx, "room", "client");
        topic_dropped(&cx, "room", TopicRefusal::Forbidden);
        Sampled::new(Some(log.clone())).refused(Refusal::Origin, cx.peer);
        log.flush();
        let agent = "agent \"quoted\"";
        let expected = vec![
            about("INFO", "accepted", json!({"user_agent": agent})),
            about(
                "WARN",
                "rejected",
                json!({"kind": "auth_failed", "detail": "bad signature", "user_agent": agent}),
            ),
            about(
                "WARN",
                "permission_denied",
                json!({"message_type": "say", "permission": "room.write"}),
            ),
            about(
                "WARN",
                "invalid_message",
                json!({"message_type": "say", "field": "", "rule": "required"}),
            ),
            about("WARN", "limit_hit", json!({"kind": "rate_limited"})),
            about("INFO", "expired", json!({})),
            about("INFO", "refreshed", json!({"exp": 1_800_000_000_u64})),
            about("INFO", "closed", json!({"kind": "token_expired"})),
            about("INFO", "closed", json!({"kind": "client"})),
            about("INFO", "topic_subscribed", json!({"topic": "room"})),
            about(
                "WARN",
                "topic_refused",
                json!({"request": "wsauth.publish", "topic": "nope", "error": "unknown_topic"}),
            ),
            about(
                "INFO",
                "topic_unsubscribed",
                json!({"topic": "room", "reason": "client"}),
            ),
            about(
                "WARN",
                "topic_dropped",
                json!({"topic": "room", "reason": "forbidden"}),
            ),
            json!({
                "level": "WARN",
                "target": "wsauth::audit",
                "event": "refused",
                "reason": "origin",
                "count": 1,
                "peer": "192.0.2.7:5151",
            }),
        ];
        // Compared as sorted maps: field order is not part of the format.
        let sorted = |lines: Vec<Value>| {
            lines
                .into_iter()
                .map(|line| {
                    serde_json::from_value::<std::collections::BTreeMap<String, Value>>(line)
                        .unwrap_or_else(|e| panic!("{e}"))
                })
                .collect::<Vec<_>>()
        };
        assert_eq!(sorted(out.lines()), sorted(expected));
        assert_eq!(log.lost(), 0);
    }

    #[test]
    fn lines_from_many_threads_are_whole_and_all_there() {
        let (log, out) = logged();
        std::thread::scope(|scope| {
            for thread in 0..4 {
                let cx = context(&log);
                scope.spawn(move || {
                    for i in 0..2_000 {
                        refreshed(&cx, thread * 10_000 + i);
                    }
                });
            }
        });
        drop(log);
        // Dropping the last handle wrote everything, in each thread's order.
        let lines = out.lines();
        assert_eq!(lines.len(), 8_000);
        let mut last = [None; 4];
        for line in lines {
            let exp = line["exp"].as_u64().unwrap_or_else(|| panic!("{line}"));
            let thread = usize::try_from(exp / 10_000).unwrap_or(usize::MAX);
            assert!(last[thread] < Some(exp), "out of order: {exp}");
            last[thread] = Some(exp);
        }
    }

    /// A writer that takes its time over each write, and keeps the
    /// largest.
    struct Slow(Shared, Arc<AtomicU64>);

    impl Write for Slow {
        fn write(&mut self, bytes: &[u8]) -> io::Result<usize> {
            std::thread::sleep(std::time::Duration::from_millis(20));
            self.1.fetch_max(bytes.len() as u64, Ordering::Relaxed);
            self.0.write(bytes)
        }

        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn a_writer_behind_holds_events_back_and_loses_none() {
        let out = Shared::default();
        let largest = Arc::new(AtomicU64::new(0));
        let log = AuditLog::json_lines(Slow(out.clone(), Arc::clone(&largest)))
            .unwrap_or_else(|e| panic!("{e}"));
        let cx = context(&log);
        // About 3 MiB of lines: more than the buffer holds, so events wait.
        let detail = "x".repeat(1000);
        for _ in 0..3_000 {
            rejected(&cx, FailureKind::AuthFailed, &detail);
        }
        log.flush();
        assert_eq!(out.lines().len(), 3_000);
        assert_eq!(log.lost(), 0);
        // The buffer never held more than its bound and the line that
        // crossed it.
        let largest = largest.load(Ordering::Relaxed);
        assert!(largest <= (1 << 20) + 2_000, "a batch of {largest} bytes");
    }

    /// A writer that always fails.
    struct Broken;

    impl Write for Broken {
        fn write(&mut self, _: &[u8]) -> io::Result<usize> {
            Err(io::Error::other("disk full"))
        }

        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn lines_lost_to_a_failed_write_are_counted() {
        let log = AuditLog::json_lines(Broken).unwrap_or_else(|e| panic!("{e}"));
        let cx = context(&log);
        for _ in 0..3 {
            expired(&cx);
        }
        log.flush();
        assert_eq!(log.lost(), 3);
    }
}
