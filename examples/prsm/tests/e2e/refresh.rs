//! Expiry on live connections (`on_expiry: refresh`).

use std::time::Duration;

use serde_json::json;

use crate::common::*;

#[tokio::test]
async fn refresh_keeps_a_connection_past_exp_and_expiry_closes_without_it() {
    let app = start().await;
    let path = "/ws/conversation/alice/1";
    // A token is good until `exp` plus the spec's 5 s leeway, on a live
    // connection as at the handshake: this one has 2 s left.
    let short = tok("alice", &["user"]).expires_in(2 - 5).mint();
    let mut expiring = connect_as(app.addr, path, &short).await;
    expect_welcome(&mut expiring, "alice", "conversation").await;
    let mut refreshing = connect_as(app.addr, path, &short).await;
    expect_welcome(&mut refreshing, "alice", "conversation").await;

    let fresh = tok("alice", &["user"]).expires_in(600);
    let fresh_exp = fresh.clone().mint();
    send_json(
        &mut refreshing,
        json!({"type": "wsauth.refresh", "token": fresh_exp}),
    )
    .await;
    let refreshed = next_json(&mut refreshing).await;
    assert_eq!(refreshed["type"], "wsauth.refreshed", "{refreshed}");
    assert!(
        refreshed["exp"]
            .as_i64()
            .is_some_and(|exp| exp >= now() + 590),
        "{refreshed}"
    );

    // Without a refresh the connection closes at exp + leeway, with
    // token_expired.
    let (seen, close) = until_close_within(&mut expiring, Duration::from_secs(6)).await;
    assert!(seen.is_empty(), "{seen:?}");
    assert_eq!(close, Some((4001, "token expired".to_owned())));

    // The refreshed one is past the first exp and still serves.
    send_json(
        &mut refreshing,
        json!({"type": "typing", "user_id": "alice", "active": true}),
    )
    .await;
    assert_eq!(next_json(&mut refreshing).await["type"], "typing");
    wait_for_active(&app.server, 1).await;
}

#[tokio::test]
async fn refresh_with_another_subject_or_a_bad_token_closes_4001() {
    let app = start().await;
    let path = "/ws/conversation/alice/1";
    let alice = token("alice", &["user"]);
    let refusals = [
        token("bob", &["user"]),
        tok("alice", &["user"])
            .secret(b"another-secret-of-32-bytes-or-more!!")
            .mint(),
        tok("alice", &["user"])
            .expires_in(-60)
            .set("iat", json!(now() - 120))
            .mint(),
    ];
    for refusal in refusals {
        let mut client = connect_as(app.addr, path, &alice).await;
        expect_welcome(&mut client, "alice", "conversation").await;
        send_json(
            &mut client,
            json!({"type": "wsauth.refresh", "token": refusal}),
        )
        .await;
        let (seen, close) = until_close(&mut client).await;
        assert!(seen.is_empty(), "{seen:?}");
        assert_eq!(close, Some((4001, "invalid or expired token".to_owned())));
    }
}

/// A refreshed token replaces the old one: its roles govern what the
/// connection may do next, so a token re-issued with fewer roles (a revoked
/// `conversation.write`) takes the permission away at once.
#[tokio::test]
async fn refresh_with_fewer_roles_reduces_permissions() {
    let app = start().await;
    let path = "/ws/conversation/alice/1";
    let mut client = connect_as(app.addr, path, &token("alice", &["user"])).await;
    expect_welcome(&mut client, "alice", "conversation").await;
    let reader = token("alice", &["moderator"]);
    send_json(
        &mut client,
        json!({"type": "wsauth.refresh", "token": reader}),
    )
    .await;
    assert_eq!(
        next_json(&mut client).await["type"],
        json!("wsauth.refreshed"),
        "moderator still reads conversation 1, so the refresh is accepted"
    );
    send_json(
        &mut client,
        json!({"type": "send_message", "text": "hello"}),
    )
    .await;
    assert_eq!(
        next_json(&mut client).await,
        json!({"type": "error", "code": "forbidden", "message": "forbidden"}),
        "send_message after the refresh removed conversation.write"
    );
}
