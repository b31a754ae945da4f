//! `/ws/anonymous`: admitted without a token by the spec's choice, with the
//! `guest` role's permissions, and refused what guests may not do.

use std::time::Duration;

use serde_json::json;
use songnodes::messages::{ErrorCode, GraphUpdate};

use crate::common::*;

#[tokio::test]
async fn anonymous_clients_are_welcomed_as_guests() {
    let app = start().await;
    let mut client = connect_anonymous(app.addr).await;
    expect_anonymous_welcome(&mut client).await;
    send_json(
        &mut client,
        json!({"type": "subscribe", "channel": "graph"}),
    )
    .await;
    let graph: GraphUpdate = next_typed(&mut client, "graph_update").await;
    assert_eq!((graph.nodes.len(), graph.edges.len()), (10, 12));
    wait_for_active(&app.server, 1).await;
}

#[tokio::test]
async fn tokens_are_not_read_on_the_anonymous_endpoint() {
    let app = start().await;
    let alice = token("alice", &["user"]);
    let expired = tok("alice", &["user"]).expires_in(-60).mint();
    let mallory = token("mallory", &["admin"]);
    for token in [&alice, &expired, &mallory, &"garbage".to_owned()] {
        for via in VIAS {
            let mut client = connect(request(app.addr, "/ws/anonymous", token, via)).await;
            // Still a guest: a token does not lift an anonymous connection.
            expect_anonymous_welcome(&mut client).await;
            send_json(&mut client, json!({"type": "search", "query": "daft"})).await;
            let refusal = next_json(&mut client).await;
            assert_eq!(refusal["code"], "forbidden", "{via:?}: {refusal}");
        }
    }
}

#[tokio::test]
async fn a_guest_search_gets_the_forbidden_error_and_the_connection_stays() {
    let app = start().await;
    let mut client = connect_anonymous(app.addr).await;
    expect_anonymous_welcome(&mut client).await;
    for search in [
        json!({"type": "search", "query": "daft"}),
        json!({"type": "search", "query": "daft", "limit": 5}),
    ] {
        send_json(&mut client, search).await;
        let refusal: songnodes::messages::Error = next_typed(&mut client, "error").await;
        assert_eq!(refusal.code, ErrorCode::Forbidden);
        assert_eq!(refusal.message, "forbidden");
    }
    // Still open, still serving what guests may do.
    send_json(
        &mut client,
        json!({"type": "subscribe", "channel": "artists"}),
    )
    .await;
    let artists: GraphUpdate = next_typed(&mut client, "graph_update").await;
    assert_eq!(artists.nodes.len(), 3);
    assert!(quiet_for(&mut client, Duration::from_millis(200)).await);
}

#[tokio::test]
async fn messages_the_endpoint_does_not_receive_are_invalid() {
    let app = start().await;
    let mut client = connect_anonymous(app.addr).await;
    expect_anonymous_welcome(&mut client).await;
    // `add_to_playlist` is not among the endpoint's `receives`: an unknown
    // message here, whatever permission it needs.
    send_json(
        &mut client,
        json!({
            "type": "add_to_playlist",
            "playlist_id": songnodes::store::ALICE_PLAYLIST,
            "track_id": "track:windowlicker",
        }),
    )
    .await;
    let refusal = next_json(&mut client).await;
    assert_eq!(
        refusal,
        json!({"type": "error", "code": "invalid_message", "message": "invalid message"})
    );
    send_json(
        &mut client,
        json!({"type": "subscribe", "channel": "albums"}),
    )
    .await;
    assert_eq!(next_json(&mut client).await["code"], "invalid_message");
    send_json(
        &mut client,
        json!({"type": "subscribe", "channel": "tracks"}),
    )
    .await;
    let tracks: GraphUpdate = next_typed(&mut client, "graph_update").await;
    assert_eq!(tracks.nodes.len(), 5);
}

#[tokio::test]
async fn the_anonymous_path_is_not_a_user_channel() {
    let app = start().await;
    // A user called `anonymous` cannot reach a `user` channel: the path is
    // the anonymous endpoint, and the token is not read there.
    let token = token("anonymous", &["user"]);
    let mut client = connect(request(app.addr, "/ws/anonymous", &token, Via::Header)).await;
    expect_anonymous_welcome(&mut client).await;
}
