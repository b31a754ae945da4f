//! Audit events, captured and searched. In a test binary of its own:
//! `tracing`'s per-callsite interest caching makes capture through a
//! thread-local subscriber unreliable while other tests run in parallel
//! (the tests here all capture, so every callsite stays of interest).

mod common;

use std::time::Duration;

use common::*;

#[tokio::test]
async fn audit_events_never_contain_the_token() {
    let (captured, _guard) = capture_logs();
    let (addr, _server) = default_server().await;
    let secret_marker = "SECRETMARKER";
    let good = format!("alice:user,{secret_marker}:{}", now() + 600);
    let mut client = connect(addr, "/ws/alice/1", Some(&good)).await;
    assert_eq!(next_json(&mut client).await["type"], "hello");
    drop(client);
    let bad = format!("{secret_marker}-not-a-token");
    let _ = rejected_with(addr, &format!("/ws/alice/1?token={bad}"), None).await;
    tokio::time::sleep(Duration::from_millis(200)).await;
    let log = captured.text();
    assert!(
        log.contains("\"event\":\"accepted\""),
        "audit events were captured: {log}"
    );
    assert!(log.contains("\"event\":\"rejected\""), "{log}");
    assert!(
        !log.contains(secret_marker),
        "a token reached the log:\n{log}"
    );
    assert!(
        log.contains("token=<redacted>"),
        "handshakes run in a span with the query redacted:\n{log}"
    );
}

/// [`ROOM`] taking one message a second after a burst of two, closing with
/// a code of the spec's own when a client sends faster.
static SLOW_API: wsauth_core::ApiDescriptor = wsauth_core::ApiDescriptor {
    close_codes: &[wsauth_core::__private::descriptor::CloseDescriptor {
        kind: wsauth_core::spec::FailureKind::RateLimited,
        code: 4429,
        reason: "slow down",
        client: wsauth_core::spec::ClientAction::Backoff,
    }],
    endpoints: &[wsauth_core::__private::descriptor::EndpointDescriptor {
        limits: wsauth_core::__private::descriptor::Limits {
            messages_per_second: 1,
            burst: 2,
            ..LIMITS
        },
        ..ROOM
    }],
    ..API
};

#[tokio::test]
async fn a_client_over_its_message_rate_is_closed_and_audited() {
    use futures_util::SinkExt;
    let (captured, _guard) = capture_logs();
    let (addr, _server) = start_on(&SLOW_API, room, |b| b.allow_any_origin()).await;
    let mut client = connect(addr, "/ws/alice/1", Some(&token("alice", "user", 600))).await;
    assert_eq!(next_json(&mut client).await["type"], "hello");
    // Data frames only: five at once, against a burst of two.
    for i in 0..5 {
        let say = serde_json::json!({"type": "say", "text": i}).to_string();
        if client
            .send(tokio_tungstenite::tungstenite::Message::text(say))
            .await
            .is_err()
        {
            break;
        }
    }
    let (seen, close) = until_close(&mut client).await;
    // The burst is let through and the rest is not. (The third frame can
    // arrive before the second's reply leaves the send queue, and a close
    // by the loop drops what is still queued: one or two replies.)
    let burst = [
        serde_json::json!({"type": "said", "text": 0}),
        serde_json::json!({"type": "said", "text": 1}),
    ];
    assert!(
        !seen.is_empty() && burst.starts_with(&seen),
        "answers to the burst only: {seen:?}"
    );
    assert_eq!(close, Some((4429, "slow down".to_owned())));
    tokio::time::sleep(Duration::from_millis(200)).await;
    let events: Vec<serde_json::Value> = captured
        .text()
        .lines()
        .filter_map(|l| serde_json::from_str(l).ok())
        .filter(|e: &serde_json::Value| e["target"] == "wsauth::audit")
        .collect();
    let fields = |event: &str| {
        events
            .iter()
            .filter(|e| e["fields"]["event"] == event)
            .map(|e| (e["fields"]["kind"].clone(), e["fields"]["subject"].clone()))
            .collect::<Vec<_>>()
    };
    let expected = vec![(
        serde_json::json!("rate_limited"),
        serde_json::json!("alice"),
    )];
    assert_eq!(fields("limit_hit"), expected, "{events:#?}");
    assert_eq!(fields("closed"), expected, "{events:#?}");
}
