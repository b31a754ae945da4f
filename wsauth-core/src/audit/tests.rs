//! The audit events as the lines an [`AuditLog`] writes, and the log's
//! promises: whole lines, in order, none lost, failed writes counted.

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
                let mut value: Value =
                    serde_json::from_str(line).unwrap_or_else(|e| panic!("not JSON ({e}): {line}"));
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
    let disconnect = Revocation::Disconnect {
        subject: "alice".into(),
    };
    revocation(Some(&log), &disconnect, "cluster", 2);
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
        json!({
            "level": "INFO",
            "target": "wsauth::audit",
            "event": "revocation",
            "kind": "disconnect",
            "name": "alice",
            "origin": "cluster",
            "closed": 2,
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

/// A writer that panics on its first write, then works.
struct PanicsOnce(Shared, bool);

impl Write for PanicsOnce {
    fn write(&mut self, bytes: &[u8]) -> io::Result<usize> {
        if !self.1 {
            self.1 = true;
            panic!("a writer bug");
        }
        self.0.write(bytes)
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

#[test]
fn a_writer_that_panics_loses_its_batch_and_the_log_goes_on() {
    let out = Shared::default();
    let log =
        AuditLog::json_lines(PanicsOnce(out.clone(), false)).unwrap_or_else(|e| panic!("{e}"));
    let cx = context(&log);
    expired(&cx);
    log.flush();
    assert_eq!(log.lost(), 1);
    // More than the pending limit: with the writer thread gone, these
    // would wait forever.
    let line = out.lines().len();
    for _ in 0..20_000 {
        expired(&cx);
    }
    log.flush();
    assert_eq!(log.lost(), 1);
    assert_eq!(out.lines().len(), line + 20_000);
}
