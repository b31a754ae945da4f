//! The `conversation` topic: participants subscribe from any endpoint that
//! lists it, and what is said on a conversation's socket is published to
//! them.

use std::net::SocketAddr;
use std::time::Duration;

use serde_json::{Value, json};

use crate::common::*;

/// The next frame whose `type` is `kind`, skipping others (the
/// notifications endpoint sends its pending notifications first).
pub(crate) async fn next_of(client: &mut Client, kind: &str) -> Value {
    for _ in 0..20 {
        let frame = next_json(client).await;
        if frame["type"] == kind {
            return frame;
        }
    }
    panic!("no `{kind}` within 20 frames");
}

/// `user` on the notifications endpoint at `addr`, subscribed to
/// conversation `id` (optionally since `since`); returns the client and the
/// answer (`wsauth.subscribed` or `wsauth.refused`).
pub(crate) async fn subscriber(
    addr: SocketAddr,
    user: &str,
    id: i64,
    since: Option<Value>,
) -> (Client, Value) {
    let mut client = connect_as(addr, &format!("/ws/{user}"), &token(user, &["user"])).await;
    expect_welcome(&mut client, user, "notifications").await;
    let mut request = json!({
        "type": "wsauth.subscribe", "id": 1, "topic": "conversation",
        "params": { "conversation_id": id },
    });
    if let Some(since) = since {
        request["since"] = since;
    }
    send_json(&mut client, request).await;
    // The pending notifications come first.
    for _ in 0..20 {
        let answer = next_json(&mut client).await;
        if answer["type"]
            .as_str()
            .is_some_and(|t| t.starts_with("wsauth."))
        {
            return (client, answer);
        }
    }
    panic!("no answer to the subscribe within 20 frames");
}

/// `alice` on conversation 1's socket at `addr`, saying she is typing.
pub(crate) async fn alice_types(addr: SocketAddr, active: bool) {
    let mut alice = connect_as(addr, "/ws/conversation/alice/1", &token("alice", &["user"])).await;
    expect_welcome(&mut alice, "alice", "conversation").await;
    send_json(
        &mut alice,
        json!({"type": "typing", "user_id": "alice", "active": active}),
    )
    .await;
    let echo = next_json(&mut alice).await;
    assert_eq!(echo["type"], "typing", "{echo}");
}

#[tokio::test]
async fn what_is_said_reaches_the_subscribed_participants_only() {
    let app = start().await;
    // user123 takes part in conversation 1; bob does not.
    let (mut participant, subscribed) = subscriber(app.addr, "user123", 1, None).await;
    assert_eq!(subscribed["type"], "wsauth.subscribed", "{subscribed}");
    assert_eq!(subscribed["present"], json!(["user123"]), "{subscribed}");
    let (mut outsider, refused) = subscriber(app.addr, "bob", 1, None).await;
    assert_eq!(refused["type"], "wsauth.refused", "{refused}");
    assert_eq!(refused["error"], "forbidden", "{refused}");

    alice_types(app.addr, true).await;
    let publication = next_of(&mut participant, "wsauth.publication").await;
    assert_eq!(publication["topic"], "conversation", "{publication}");
    assert_eq!(
        publication["params"],
        json!({"conversation_id": 1}),
        "{publication}"
    );
    assert_eq!(
        publication["message"],
        json!({"type": "typing", "user_id": "alice", "active": true}),
        "{publication}"
    );
    // The refusal kept bob's connection, and he hears nothing.
    assert!(quiet_for(&mut outsider, Duration::from_millis(300)).await);
}

#[tokio::test]
async fn a_returning_subscriber_recovers_what_it_missed() {
    let app = start().await;
    let (mut first, subscribed) = subscriber(app.addr, "user123", 1, None).await;
    assert_eq!(subscribed["type"], "wsauth.subscribed", "{subscribed}");
    alice_types(app.addr, true).await;
    let seen = next_of(&mut first, "wsauth.publication").await;
    drop(first);

    alice_types(app.addr, false).await;
    alice_types(app.addr, true).await;
    let since = json!({"epoch": subscribed["epoch"], "offset": seen["offset"]});
    let (mut back, resubscribed) = subscriber(app.addr, "user123", 1, Some(since)).await;
    assert_eq!(resubscribed["recovered"], true, "{resubscribed}");
    let offset = seen["offset"].as_u64().unwrap_or_default();
    for (n, active) in [(1, false), (2, true)] {
        let missed = next_of(&mut back, "wsauth.publication").await;
        assert_eq!(missed["offset"], offset + n, "{missed}");
        assert_eq!(missed["message"]["active"], active, "{missed}");
    }

    // An epoch the server never issued: history lost, said so.
    let since = json!({"epoch": "0", "offset": 1});
    let (_, lost) = subscriber(app.addr, "user123", 1, Some(since)).await;
    assert_eq!(lost["type"], "wsauth.subscribed", "{lost}");
    assert_eq!(lost["recovered"], false, "{lost}");
}
