//! Audit events: present, with the peer address, and never with a token.
//!
//! A test binary of its own: the test installs a thread-scoped `tracing`
//! subscriber, and `tracing` caches each call site's interest process-wide,
//! so a call site first reached by another test's thread (with no
//! subscriber) can stay disabled for this one. Alone in its process, the
//! capture is complete.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::json;

#[path = "e2e/common.rs"]
#[allow(dead_code)] // The shared helpers; this binary uses some of them.
mod common;

use common::*;

#[tokio::test]
async fn audit_log_never_contains_a_token() {
    let captured = Captured::default();
    let writer = captured.clone();
    let subscriber = tracing_subscriber::fmt()
        .json()
        .with_writer(move || writer.clone())
        .with_max_level(tracing::Level::TRACE)
        .finish();
    let _guard = tracing::subscriber::set_default(subscriber);
    let app = start().await;

    let accepted = token("alice", &["user"]);
    let wrong_audience = tok("alice", &["user"]).set("aud", json!("other")).mint();
    let mismatched = token("bob", &["user"]);
    let bad_signature = tok("alice", &["user"])
        .secret(b"another-secret-of-32-bytes-or-more!!")
        .mint();

    let mut client = connect(ws(
        app.addr,
        &format!("/ws/conversation/alice/1?token={accepted}"),
    ))
    .await;
    expect_welcome(&mut client, "alice", "conversation").await;
    send_json(
        &mut client,
        json!({"type": "wsauth.refresh", "token": accepted}),
    )
    .await;
    assert_eq!(next_json(&mut client).await["type"], "wsauth.refreshed");
    // A message over its `maxLength`: audited with the field and the rule,
    // never the value.
    let value = format!("secret-value-{}", "x".repeat(4000));
    send_json(&mut client, json!({"type": "send_message", "text": value})).await;
    assert_eq!(next_json(&mut client).await["code"], "invalid_message");
    client.close(None).await.unwrap_or_else(|e| panic!("{e}"));
    let _ = until_close(&mut client).await;

    let _ = rejected(ws(app.addr, &format!("/ws/alice?token={wrong_audience}"))).await;
    let _ = rejected(bearer(ws(app.addr, "/ws/alice"), &mismatched)).await;
    let cookie = format!("access_token={bad_signature}");
    let _ = rejected(with(
        with(ws(app.addr, "/ws/alice"), "cookie", &cookie),
        "origin",
        ORIGIN,
    ))
    .await;
    let _ = http_get(app.addr, "/ws/stats", Some(&wrong_audience)).await;
    tokio::time::sleep(Duration::from_millis(200)).await;

    let log = captured.text();
    let audit: Vec<serde_json::Value> = log
        .lines()
        .filter_map(|l| serde_json::from_str(l).ok())
        .filter(|e: &serde_json::Value| e["target"] == "wsauth::audit")
        .collect();
    let events: Vec<&str> = audit
        .iter()
        .filter_map(|e| e["fields"]["event"].as_str())
        .collect();
    for event in ["accepted", "refreshed", "rejected"] {
        assert!(
            events.contains(&event),
            "no `{event}` event in {events:?}\n{log}"
        );
    }
    let invalid: Vec<(&str, &str, &str)> = audit
        .iter()
        .filter(|e| e["fields"]["event"] == "invalid_message")
        .map(|e| {
            let field = |k: &str| e["fields"][k].as_str().unwrap_or_default();
            (field("message_type"), field("field"), field("rule"))
        })
        .collect();
    assert_eq!(invalid, [("send_message", "/text", "maxLength")], "{log}");
    assert!(
        !log.contains("secret-value-"),
        "a refused value reached the log"
    );
    assert!(
        audit.iter().all(|e| e["fields"]["peer"]
            .as_str()
            .is_some_and(|p| p.starts_with("127.0.0.1:"))),
        "every audit event carries the peer address:\n{log}"
    );
    for (name, token) in [
        ("accepted", &accepted),
        ("wrong audience", &wrong_audience),
        ("mismatched", &mismatched),
        ("bad signature", &bad_signature),
    ] {
        // Neither the token nor its signature, the secret part.
        let signature = token.rsplit('.').next().unwrap_or_default();
        assert!(
            !log.contains(token.as_str()),
            "the {name} token reached the log:\n{log}"
        );
        assert!(
            !log.contains(signature),
            "the {name} token's signature reached the log:\n{log}"
        );
    }
}

/// A `tracing` writer that keeps everything written, to search it.
#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl Captured {
    fn text(&self) -> String {
        let bytes = self
            .0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone();
        String::from_utf8_lossy(&bytes).into_owned()
    }
}

impl std::io::Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}
