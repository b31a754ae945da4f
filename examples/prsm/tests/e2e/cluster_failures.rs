//! Three prsm processes on one real `redis-server`: the admin disconnect
//! reaches every process within the 2 s bound, and while Redis is down each
//! process meets its failure policy (`refuse`: new users closed with 1013;
//! `degrade`: admitted) without dropping anyone, then recovers by itself
//! when Redis is back.

use std::time::{Duration, Instant};

use futures_util::{SinkExt, StreamExt};
use tokio_tungstenite::tungstenite::Message;
use wsauth_example_support::redis_server::RedisServer;

use crate::cluster::{Node, attempt, attempt_with, node_with};
use crate::common::*;

const REVOKED: u16 = 4006;
const UNAVAILABLE: u16 = 1013;

/// Whether `client` still answers a ping within 2 s.
async fn answers(client: &mut Client) -> bool {
    if client
        .send(Message::Ping(b"up?".to_vec().into()))
        .await
        .is_err()
    {
        return false;
    }
    let deadline = Instant::now() + Duration::from_secs(2);
    while let Ok(Some(Ok(message))) = tokio::time::timeout_at(deadline.into(), client.next()).await
    {
        match message {
            Message::Pong(_) => return true,
            Message::Close(_) => return false,
            _ => {}
        }
    }
    false
}

async fn post_disconnect(node: &Node, user: &str, admin: &str) -> HttpResponse {
    let head = format!(
        "POST /ws/admin/users/{user}/disconnect HTTP/1.1\r\nAuthorization: Bearer {admin}\r\n"
    );
    http_request(node.addr(), &head, "").await
}

#[tokio::test]
async fn an_admin_disconnect_reaches_all_three_processes_within_two_seconds() {
    let Some(redis) = RedisServer::start() else {
        return;
    };
    let nodes = [
        node_with(&redis, &[]).await,
        node_with(&redis, &[]).await,
        node_with(&redis, &[]).await,
    ];
    // Minted before the disconnect: a token minted after it may carry a
    // later second, and be good.
    let alice_token = token("alice", &["user"]);
    let mut alice = Vec::new();
    for node in &nodes {
        let admitted = attempt_with(node.addr(), "alice", &alice_token).await;
        alice.push(admitted.expect("admitted"));
    }
    let mut bob = attempt(nodes[2].addr(), "bob").await.expect("admitted");

    let posted = Instant::now();
    let response = post_disconnect(&nodes[0], "alice", &token("admin", &["admin"])).await;
    assert_eq!(response.status, 200, "{response:?}");
    for client in &mut alice {
        let (_, close) = until_close_within(client, Duration::from_secs(2)).await;
        assert_eq!(close.map(|(code, _)| code), Some(REVOKED));
    }
    assert!(
        posted.elapsed() < Duration::from_secs(2),
        "{:?}",
        posted.elapsed()
    );
    // Her tokens issued until then are refused everywhere; bob is untouched.
    for node in &nodes {
        let refused = attempt_with(node.addr(), "alice", &alice_token).await;
        assert_eq!(refused.err(), Some(REVOKED));
    }
    assert!(answers(&mut bob).await);
}

/// Waits until `node` closes a new `user` with `code` (at most 5 s).
async fn refuses(node: &Node, user: &str, code: u16) {
    let started = Instant::now();
    loop {
        match attempt(node.addr(), user).await {
            Err(got) if got == code => return,
            other => assert!(
                started.elapsed() < Duration::from_secs(5),
                "{user} not refused with {code}: {:?}",
                other.map(drop)
            ),
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test]
async fn each_policy_holds_while_redis_is_down_and_both_recover_by_themselves() {
    let Some(mut redis) = RedisServer::start() else {
        return;
    };
    let refusing = node_with(&redis, &[]).await;
    let degrading = node_with(&redis, &["--redis-policy", "degrade"]).await;
    let mut alice = attempt(refusing.addr(), "alice").await.expect("admitted");
    let mut bob = attempt(degrading.addr(), "bob").await.expect("admitted");

    redis.kill();
    refuses(&refusing, "mod", UNAVAILABLE).await;
    let mut moderator = attempt(degrading.addr(), "mod")
        .await
        .expect("admitted under the process's own limit");
    for (who, client) in [
        ("alice", &mut alice),
        ("bob", &mut bob),
        ("mod", &mut moderator),
    ] {
        assert!(answers(client).await, "{who} was dropped");
    }

    // Neither process is restarted: both find Redis again.
    redis.restart();
    let back = Instant::now();
    while attempt(refusing.addr(), "mod").await.is_err() {
        assert!(back.elapsed() < Duration::from_secs(10), "never back");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    // Back as a cluster: a disconnect on one reaches the other's users.
    // The degrading process may still be resubscribing (its backoff is its
    // own); it applies the stored revocation once it has, so the bound
    // here is that backoff (at most 2 s) on top of the 2 s.
    let response = post_disconnect(&refusing, "mod", &token("admin", &["admin"])).await;
    assert_eq!(response.status, 200, "{response:?}");
    let (_, close) = until_close_within(&mut moderator, Duration::from_secs(4)).await;
    assert_eq!(close.map(|(code, _)| code), Some(REVOKED));
    for (who, client) in [("alice", &mut alice), ("bob", &mut bob)] {
        assert!(answers(client).await, "{who} was dropped");
    }
}
