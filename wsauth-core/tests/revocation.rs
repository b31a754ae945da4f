//! Revocation and disconnect on a single node (no Redis): the same API as
//! a cluster's, acting on this node, over real sockets.

mod common;

use std::time::Duration;

use common::cluster::{Node, answers, closed_within, open, token};
use common::now;
use futures_util::SinkExt;
use tokio_tungstenite::tungstenite::Message;

const REVOKED: u16 = 4006;

#[tokio::test]
async fn revoking_a_subject_closes_its_connections_and_refuses_its_older_tokens() {
    let node = Node::start(|b| b).await;
    let old = token("alice", now() - 10, None);
    let mut alice = open(node.addr, "alice", &old).await.expect("admitted");
    let mut bob = open(node.addr, "bob", &token("bob", now() - 10, None))
        .await
        .expect("admitted");

    let before = node
        .run(|s| async move { s.revoke_subject_before_now("alice").await })
        .await
        .expect("revoked");
    assert_eq!(
        closed_within(&mut alice, Duration::from_secs(2)).await,
        Some(REVOKED)
    );
    assert!(
        answers(&mut bob).await,
        "other subjects keep their connections"
    );
    assert_eq!(open(node.addr, "alice", &old).await.err(), Some(REVOKED));
    let fresh = token("alice", before + 1, None);
    assert!(open(node.addr, "alice", &fresh).await.is_ok());
}

#[tokio::test]
async fn a_revoked_jti_is_refused_at_the_handshake_and_on_refresh() {
    let node = Node::start(|b| b).await;
    let iat = now() - 10;
    let mut kept = open(node.addr, "alice", &token("alice", iat, Some("kept")))
        .await
        .expect("admitted");
    let mut doomed = open(node.addr, "alice", &token("alice", iat, Some("doomed")))
        .await
        .expect("admitted");
    node.run(|s| async move { s.revoke_jti("doomed", None).await })
        .await
        .expect("revoked");
    assert_eq!(
        closed_within(&mut doomed, Duration::from_secs(2)).await,
        Some(REVOKED)
    );
    assert!(answers(&mut kept).await);
    let refused = open(node.addr, "alice", &token("alice", now(), Some("doomed"))).await;
    assert_eq!(refused.err(), Some(REVOKED));

    let refresh = serde_json::json!({
        "type": "wsauth.refresh",
        "token": token("alice", now(), Some("doomed")),
    });
    kept.send(Message::text(refresh.to_string()))
        .await
        .expect("sent");
    assert_eq!(
        closed_within(&mut kept, Duration::from_secs(2)).await,
        Some(REVOKED),
        "a refresh to a revoked token closes the connection"
    );
}

#[tokio::test]
async fn disconnecting_a_subject_closes_its_connections_but_not_its_tokens() {
    let node = Node::start(|b| b).await;
    let alice_token = token("alice", now() - 10, None);
    let mut one = open(node.addr, "alice", &alice_token)
        .await
        .expect("admitted");
    let mut two = open(node.addr, "alice", &alice_token)
        .await
        .expect("admitted");
    node.run(|s| async move { s.disconnect_subject("alice").await })
        .await
        .expect("disconnected");
    for client in [&mut one, &mut two] {
        assert_eq!(
            closed_within(client, Duration::from_secs(2)).await,
            Some(REVOKED)
        );
    }
    assert!(open(node.addr, "alice", &alice_token).await.is_ok());
}
