//! Every `say` is relayed to every connected client, stamped by the server.

use std::time::{Duration, SystemTime};

use serde_json::{Value, json};

use crate::common::*;

/// Whether `at` is `YYYY-MM-DDTHH:MM:SSZ` within the last minute, not in
/// the future (the comparison is on the text: the format is fixed-width, so
/// text order is time order).
fn is_recent_timestamp(at: &str) -> bool {
    let now = SystemTime::now();
    let latest = shipvox::time::rfc3339(now);
    let earliest = shipvox::time::rfc3339(now - Duration::from_secs(60));
    at.len() == 20
        && at.ends_with('Z')
        && at.as_bytes()[10] == b'T'
        && earliest.as_str() <= at
        && at <= latest.as_str()
}

#[test]
fn the_timestamp_check_has_both_bounds() {
    let at = |offset: i64| {
        let now = SystemTime::now();
        let shift = Duration::from_secs(offset.unsigned_abs());
        shipvox::time::rfc3339(if offset < 0 { now - shift } else { now + shift })
    };
    assert!(is_recent_timestamp(&at(0)));
    assert!(is_recent_timestamp(&at(-30)));
    assert!(!is_recent_timestamp(&at(-120)), "a stale stamp");
    assert!(!is_recent_timestamp(&at(-24 * 3600)), "yesterday's stamp");
    assert!(!is_recent_timestamp(&at(120)), "a stamp from the future");
    assert!(!is_recent_timestamp("2026-01-01 00:00:00Z"));
}

fn is_uuid_v4(id: &str) -> bool {
    let parts: Vec<&str> = id.split('-').collect();
    parts.iter().map(|p| p.len()).collect::<Vec<_>>() == [8, 4, 4, 4, 12]
        && parts[2].starts_with('4')
        && id.bytes().all(|b| b == b'-' || b.is_ascii_hexdigit())
}

fn assert_relayed(message: &Value, from: &str, text: &str) {
    assert_eq!(message["type"], "relayed", "{message}");
    assert_eq!(message["from"], from, "{message}");
    assert_eq!(message["text"], text, "{message}");
    let at = message["at"].as_str().unwrap_or_default();
    assert!(is_recent_timestamp(at), "{message}");
    let id = message["request_id"].as_str().unwrap_or_default();
    assert!(is_uuid_v4(id), "{message}");
    assert_eq!(
        message.as_object().map(|o| o.len()),
        Some(5),
        "type, from, at, request_id, text: {message}"
    );
}

#[tokio::test]
async fn a_say_reaches_every_connected_client_stamped() {
    let app = start().await;
    let mut clients = Vec::new();
    for (i, user) in ["alice", "bob", "mod"].into_iter().enumerate() {
        let token = sign_in(&app, user).await;
        let mut client = connect_with(app.addr, &token).await;
        let welcome = expect_welcome(&mut client, user).await;
        assert_eq!(welcome["listeners"], i + 1, "{welcome}");
        clients.push(client);
    }
    send_json(&mut clients[0], json!({"type": "say", "text": "Ship it."})).await;
    let mut ids = Vec::new();
    for client in &mut clients {
        let message = next_json(client).await;
        assert_relayed(&message, "alice", "Ship it.");
        ids.push(message["request_id"].clone());
    }
    assert!(
        ids.iter().all(|id| *id == ids[0]),
        "one id per message: {ids:?}"
    );

    send_json(&mut clients[1], json!({"type": "say", "text": "On it."})).await;
    for client in &mut clients {
        let message = next_json(client).await;
        assert_relayed(&message, "bob", "On it.");
        assert_ne!(message["request_id"], ids[0], "a new id per message");
    }
    // Nothing else arrives.
    for client in &mut clients {
        assert!(quiet_for(client, Duration::from_millis(200)).await);
    }
}

#[tokio::test]
async fn messages_arrive_in_order_and_leavers_stop_counting() {
    let app = start().await;
    let alice = sign_in(&app, "alice").await;
    let bob = sign_in(&app, "bob").await;
    let mut a = connect_with(app.addr, &alice).await;
    expect_welcome(&mut a, "alice").await;
    let mut b = connect_with(app.addr, &bob).await;
    expect_welcome(&mut b, "bob").await;
    for i in 0..5 {
        send_json(&mut a, json!({"type": "say", "text": format!("m{i}")})).await;
    }
    for client in [&mut a, &mut b] {
        for i in 0..5 {
            assert_relayed(&next_json(client).await, "alice", &format!("m{i}"));
        }
    }
    drop(b);
    wait_for_active(&app.server, 1).await;
    let mut c = connect_with(app.addr, &bob).await;
    let welcome = expect_welcome(&mut c, "bob").await;
    assert_eq!(welcome["listeners"], 2, "{welcome}");
}

#[tokio::test]
async fn the_sender_cannot_choose_its_stamps() {
    let app = start().await;
    let mut listener = connect_with(app.addr, &sign_in(&app, "bob").await).await;
    expect_welcome(&mut listener, "bob").await;
    let mut speaker = connect_with(app.addr, &sign_in(&app, "alice").await).await;
    expect_welcome(&mut speaker, "alice").await;
    // Fields the spec does not give `say` are refused, not relayed.
    send_json(
        &mut speaker,
        json!({"type": "say", "text": "hi", "from": "admin", "request_id": "mine"}),
    )
    .await;
    let (seen, close) = until_close(&mut speaker).await;
    assert!(seen.is_empty(), "{seen:?}");
    assert_eq!(close.map(|c| c.0), Some(1007));
    assert!(quiet_for(&mut listener, Duration::from_millis(300)).await);
}

/// An open message as the ShipVox document relays it: what the client sent,
/// with `user`, `timestamp` and `requestId` the server's.
fn assert_stamped_open(message: &Value, sent: &Value, from: &str) {
    let Some(fields) = message.as_object() else {
        panic!("not an object: {message}")
    };
    for (key, value) in sent.as_object().into_iter().flatten() {
        if !["user", "timestamp", "requestId"].contains(&key.as_str()) {
            assert_eq!(fields.get(key), Some(value), "{key}: {message}");
        }
    }
    assert_eq!(message["user"], from, "{message}");
    let now = SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0.0, |d| d.as_secs_f64());
    let at = message["timestamp"].as_f64().unwrap_or_default();
    assert!(at <= now && now - at < 60.0, "{message}");
    let id = message["requestId"].as_str().unwrap_or_default();
    assert!(is_uuid_v4(id), "{message}");
    let extra: Vec<&String> = fields
        .keys()
        .filter(|k| sent.get(k.as_str()).is_none())
        .filter(|k| !["user", "timestamp", "requestId"].contains(&k.as_str()))
        .collect();
    assert!(extra.is_empty(), "nothing else added: {message}");
}

#[tokio::test]
async fn the_documents_test_message_reaches_every_client_stamped() {
    let app = start().await;
    let mut clients = Vec::new();
    for user in ["alice", "bob"] {
        let mut client = connect_with(app.addr, &sign_in(&app, user).await).await;
        expect_welcome(&mut client, user).await;
        clients.push(client);
    }
    let sent = json!({"type": "test", "payload": {"message": "Hello"}});
    send_json(&mut clients[1], sent.clone()).await;
    let mut ids = Vec::new();
    for client in &mut clients {
        let message = next_json(client).await;
        assert_stamped_open(&message, &sent, "bob");
        ids.push(message["requestId"].clone());
    }
    assert_eq!(ids[0], ids[1], "one id per message, the same in every copy");

    // Stamps the client wrote itself are replaced; anything else is kept.
    let forged = json!({
        "type": "chat.v2", "user": "admin", "requestId": "mine", "timestamp": 0,
        "nested": {"a": [1, 2, {"b": null}]}, "n": 1.5
    });
    send_json(&mut clients[0], forged.clone()).await;
    for client in &mut clients {
        let message = next_json(client).await;
        assert_stamped_open(&message, &forged, "alice");
        assert_ne!(message["requestId"], "mine");
    }
    for client in &mut clients {
        assert!(quiet_for(client, Duration::from_millis(200)).await);
    }
}

#[tokio::test]
async fn declared_and_reserved_types_are_never_open_messages() {
    let app = start().await;
    let token = sign_in(&app, "alice").await;
    let mut listener = connect_with(app.addr, &sign_in(&app, "bob").await).await;
    expect_welcome(&mut listener, "bob").await;
    for sent in [
        // A declared message the server sends, forged by a client.
        json!({"type": "relayed", "from": "admin", "at": "2026-01-01T00:00:00Z",
               "request_id": "x", "text": "forged"}),
        json!({"type": "connected", "user_id": "admin", "listeners": 1}),
        // A declared message with the wrong fields is invalid, not open.
        json!({"type": "say", "txt": "hi"}),
        // The framework's own prefix.
        json!({"type": "wsauth.hello"}),
        // No string `type` at all.
        json!({"payload": {"message": "Hello"}}),
        json!({"type": 7}),
    ] {
        let mut client = connect_with(app.addr, &token).await;
        expect_welcome(&mut client, "alice").await;
        send_json(&mut client, sent.clone()).await;
        let (seen, close) = until_close(&mut client).await;
        assert!(seen.is_empty(), "{sent}: {seen:?}");
        assert_eq!(close.map(|c| c.0), Some(1007), "{sent}");
    }
    assert!(quiet_for(&mut listener, Duration::from_millis(300)).await);
}

#[tokio::test]
async fn open_messages_count_against_the_rate_limit() {
    let app = start().await;
    let mut client = connect_with(app.addr, &sign_in(&app, "alice").await).await;
    expect_welcome(&mut client, "alice").await;
    // The spec allows bursts of 10 at 5 a second.
    for i in 0..30 {
        send_json(&mut client, json!({"type": "test", "i": i})).await;
    }
    let (_, close) = until_close(&mut client).await;
    assert_eq!(close.map(|c| c.0), Some(4029));
}

#[tokio::test]
async fn an_open_message_over_the_size_limit_closes_1009() {
    let app = start().await;
    let mut client = connect_with(app.addr, &sign_in(&app, "alice").await).await;
    expect_welcome(&mut client, "alice").await;
    // The spec's max_message_bytes is 16384.
    send_json(
        &mut client,
        json!({"type": "test", "blob": "x".repeat(17 * 1024)}),
    )
    .await;
    let (seen, close) = until_close(&mut client).await;
    assert!(seen.is_empty(), "{seen:?}");
    assert_eq!(close.map(|c| c.0), Some(1009));
}
