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

/// [`ROOM`] with one topic, `news`, per room: subscribing takes
/// `room.write` and the room's membership check.
static NEWS_API: wsauth_core::ApiDescriptor = wsauth_core::ApiDescriptor {
    endpoints: &[wsauth_core::__private::descriptor::EndpointDescriptor {
        topics: &[
            wsauth_core::__private::descriptor::EndpointTopicDescriptor {
                name: "news",
                deliver: wsauth_core::spec::Deliver::Publication,
            },
        ],
        ..ROOM
    }],
    topics: &[wsauth_core::__private::descriptor::TopicDescriptor {
        name: "news",
        params: &[wsauth_core::__private::descriptor::TopicParamDescriptor {
            name: "room_id",
            ty: wsauth_core::spec::ParamType::Integer,
        }],
        subscribe: Some("room.write"),
        checks: &["room_member"],
        publish: None,
        messages: &[],
        presence: false,
        history: None,
        open: None,
    }],
    ..API
};

#[tokio::test]
async fn topic_subscriptions_are_audited_without_the_token() {
    use futures_util::SinkExt;
    use serde_json::json;
    let (captured, _guard) = capture_logs();
    let (addr, _server) = start_on(&NEWS_API, room, |b| b.allow_any_origin()).await;
    let secret_marker = "SECRETMARKER";
    let first = format!("alice:user,{secret_marker}:{}", now() + 600);
    let mut client = connect(addr, "/ws/alice/1", Some(&first)).await;
    assert_eq!(next_json(&mut client).await["type"], "hello");
    let mut send = async |frame: serde_json::Value| {
        let text = tokio_tungstenite::tungstenite::Message::text(frame.to_string());
        client.send(text).await.unwrap_or_else(|e| panic!("{e}"));
        next_json(&mut client).await
    };
    let subscribe = |room: u64| json!({"type": "wsauth.subscribe", "topic": "news", "params": {"room_id": room}});
    assert_eq!(send(subscribe(1)).await["type"], "wsauth.subscribed");
    assert_eq!(send(subscribe(2)).await["error"], "forbidden");
    let unsubscribe =
        json!({"type": "wsauth.unsubscribe", "topic": "news", "params": {"room_id": 1}});
    assert_eq!(send(unsubscribe).await["reason"], "client");
    assert_eq!(send(subscribe(1)).await["type"], "wsauth.subscribed");
    // The new token lacks `room.write`: the subscription is dropped.
    let fewer = format!("alice:reader,{secret_marker}:{}", now() + 600);
    let refresh = json!({"type": "wsauth.refresh", "token": fewer});
    assert_eq!(send(refresh).await["type"], "wsauth.refreshed");
    assert_eq!(next_json(&mut client).await["reason"], "forbidden");
    tokio::time::sleep(Duration::from_millis(200)).await;
    let log = captured.text();
    assert!(
        !log.contains(secret_marker),
        "a token reached the log:\n{log}"
    );
    let events: Vec<serde_json::Value> = log
        .lines()
        .filter_map(|l| serde_json::from_str(l).ok())
        .filter(|e: &serde_json::Value| e["target"] == "wsauth::audit")
        .map(|e| e["fields"].clone())
        .filter(|f| f["event"].as_str().is_some_and(|e| e.starts_with("topic_")))
        .map(|f| {
            json!([
                f["event"],
                f["topic"],
                f["error"],
                f["reason"],
                f["subject"]
            ])
        })
        .collect();
    assert_eq!(
        events,
        [
            json!(["topic_subscribed", "news", null, null, "alice"]),
            json!(["topic_refused", "news", "forbidden", null, "alice"]),
            json!(["topic_unsubscribed", "news", null, "client", "alice"]),
            json!(["topic_subscribed", "news", null, null, "alice"]),
            json!(["topic_dropped", "news", null, "forbidden", "alice"]),
        ],
        "{log}"
    );
}

/// Joins its connection to `news` of rooms 1 and 2 (2 is refused), then
/// leaves room 1 when told (`say`).
async fn joiner(mut session: wsauth_core::Session) -> wsauth_core::HandlerResult {
    use serde_json::json;
    session.send("hello", &json!({}))?;
    for room in [1, 2] {
        let _ = session.join("news", &json!({ "room_id": room })).await;
    }
    while session.recv().await.is_some() {
        let _ = session.leave("news", &json!({ "room_id": 1 }));
    }
    Ok(())
}

#[tokio::test]
async fn a_handlers_topic_requests_are_audited_with_the_peer_address() {
    use futures_util::SinkExt;
    use serde_json::json;
    let (captured, _guard) = capture_logs();
    let (addr, _server) = start_on(&NEWS_API, joiner, |b| b.allow_any_origin()).await;
    let mut client = connect(addr, "/ws/alice/1", Some(&token("alice", "user", 600))).await;
    let peer = match client.get_ref() {
        tokio_tungstenite::MaybeTlsStream::Plain(tcp) => tcp.local_addr().ok(),
        _ => None,
    };
    let peer = peer.map(|p| p.to_string()).unwrap_or_default();
    assert_eq!(next_json(&mut client).await["type"], "hello");
    assert_eq!(next_json(&mut client).await["type"], "wsauth.subscribed");
    let say = json!({"type": "say", "text": "leave"}).to_string();
    let say = tokio_tungstenite::tungstenite::Message::text(say);
    client.send(say).await.unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(next_json(&mut client).await["reason"], "server");
    tokio::time::sleep(Duration::from_millis(200)).await;
    let log = captured.text();
    let events: Vec<serde_json::Value> = log
        .lines()
        .filter_map(|l| serde_json::from_str(l).ok())
        .filter(|e: &serde_json::Value| e["target"] == "wsauth::audit")
        .map(|e| e["fields"].clone())
        .filter(|f| f["event"].as_str().is_some_and(|e| e.starts_with("topic_")))
        .map(|f| json!([f["event"], f["peer"], f["subject"]]))
        .collect();
    assert_eq!(
        events,
        [
            json!(["topic_subscribed", peer, "alice"]),
            json!(["topic_refused", peer, "alice"]),
            json!(["topic_unsubscribed", peer, "alice"]),
        ],
        "{log}"
    );
}

#[tokio::test]
async fn revocations_and_the_connections_they_close_are_audited() {
    let (captured, _guard) = capture_logs();
    let server = cluster::builder().build().unwrap_or_else(|e| panic!("{e}"));
    let addr = serve_with(&server, server.router()).await;
    let mut alice = cluster::open(addr, "alice", &cluster::token("alice", now() - 10, None))
        .await
        .unwrap_or_else(|code| panic!("refused with {code}"));
    let before = server.revoke_subject_before_now("alice").await;
    assert!(before.is_ok());
    let close = cluster::closed_within(&mut alice, Duration::from_secs(2)).await;
    assert_eq!(close, Some(4006));
    tokio::time::sleep(Duration::from_millis(100)).await;
    let log = captured.text();
    assert!(
        log.contains(
            r#""event":"revocation","kind":"subject","name":"alice","origin":"api","closed":1"#
        ),
        "{log}"
    );
    assert!(
        log.contains(r#""event":"closed","kind":"revoked""#),
        "{log}"
    );
}

#[tokio::test]
async fn with_an_audit_log_revocations_go_to_the_log() {
    let written = Captured::default();
    let log = wsauth_core::AuditLog::json_lines(written.clone()).unwrap_or_else(|e| panic!("{e}"));
    let server = cluster::builder()
        .audit(log.clone())
        .build()
        .unwrap_or_else(|e| panic!("{e}"));
    let addr = serve_with(&server, server.router()).await;
    let mut alice = cluster::open(addr, "alice", &cluster::token("alice", now() - 10, None))
        .await
        .unwrap_or_else(|code| panic!("refused with {code}"));
    assert!(server.revoke_subject_before_now("alice").await.is_ok());
    let close = cluster::closed_within(&mut alice, Duration::from_secs(2)).await;
    assert_eq!(close, Some(4006));
    let lines = audit_lines(&log, &written).await;
    let revocation = lines
        .iter()
        .find(|l| l["event"] == "revocation")
        .unwrap_or_else(|| panic!("no revocation line: {}", written.text()));
    assert_eq!(revocation["kind"], "subject");
    assert_eq!(revocation["name"], "alice");
    assert_eq!(revocation["origin"], "api");
    assert_eq!(revocation["closed"], 1);
}

/// Everything `log` has written into `written` so far, one value a line.
async fn audit_lines(log: &wsauth_core::AuditLog, written: &Captured) -> Vec<serde_json::Value> {
    let flushing = log.clone();
    tokio::task::spawn_blocking(move || flushing.flush())
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    written
        .text()
        .lines()
        .map(|line| serde_json::from_str(line).unwrap_or_else(|e| panic!("{e}: {line}")))
        .collect()
}

#[tokio::test]
async fn an_audit_log_gets_every_event_in_order_and_tracing_none() {
    let (traced, _guard) = capture_logs();
    let written = Captured::default();
    let log = wsauth_core::AuditLog::json_lines(written.clone()).unwrap_or_else(|e| panic!("{e}"));
    let (addr, _server) =
        start(|b| b.allow_origins(["https://app.example"]).audit(log.clone())).await;
    let secret_marker = "SECRETMARKER";
    let good = format!("alice:user,{secret_marker}:{}", now() + 600);
    let mut client = connect(addr, "/ws/alice/1", Some(&good)).await;
    assert_eq!(next_json(&mut client).await["type"], "hello");
    client.close(None).await.unwrap_or_else(|e| panic!("{e}"));
    // The close is audited once the server has seen it: wait for its line
    // before the refusal, so the order is the test's.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    while audit_lines(&log, &written).await.len() < 2 {
        assert!(
            tokio::time::Instant::now() < deadline,
            "no close line: {}",
            written.text()
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let bad = format!("{secret_marker}-not-a-token");
    let _ = rejected_with(addr, &format!("/ws/alice/1?token={bad}"), None).await;
    let lines = audit_lines(&log, &written).await;
    let events: Vec<_> = lines
        .iter()
        .map(|l| {
            (
                l["event"].as_str(),
                l["kind"].as_str(),
                l["subject"].as_str(),
            )
        })
        .collect();
    assert_eq!(
        events,
        [
            (Some("accepted"), None, Some("alice")),
            (Some("closed"), Some("client"), Some("alice")),
            (Some("rejected"), Some("auth_failed"), Some("")),
        ],
        "{}",
        written.text()
    );
    for line in &lines {
        assert_eq!(line["target"], "wsauth::audit");
        assert_eq!(line["endpoint"], "room");
        assert!(
            line["peer"]
                .as_str()
                .is_some_and(|p| p.starts_with("127.0.0.1:")),
            "{line}"
        );
    }
    let text = written.text();
    assert!(
        !text.contains(secret_marker),
        "a token reached the audit log:\n{text}"
    );
    // One audit trail: with a log, `tracing` carries no audit event.
    let traced = traced.text();
    assert!(
        !traced.contains("wsauth::audit"),
        "audit events also went to tracing:\n{traced}"
    );
}
