//! Two shipvox processes sharing a real `redis-server` (`--redis URL`): a
//! `say` on one reaches the listeners of both, in one order.

use std::time::{Duration, Instant};

use futures_util::StreamExt;
use serde_json::json;
use tokio_tungstenite::tungstenite::Message;
use wsauth_example_support::redis_server::RedisServer;

use crate::common::*;

/// A shipvox process, killed when dropped, a failing test included.
struct Node(Spawned);

impl Drop for Node {
    fn drop(&mut self) {
        let _ = self.0.child.kill();
        let _ = self.0.child.wait();
    }
}

async fn node(redis: &RedisServer) -> Node {
    let mut command = binary(env!("CARGO_BIN_EXE_shipvox"));
    command
        .args([
            "--addr",
            "127.0.0.1:0",
            "--log-json",
            "--redis",
            &redis.url(),
        ])
        .env(
            "WSAUTH_JWT_SECRET",
            std::str::from_utf8(SECRET).unwrap_or_default(),
        );
    let node = Node(spawn_listening(&mut command, "shipvox listening").await);
    // Ready once Redis answered: someone can connect and join.
    listening(&node, 0).await;
    node
}

/// Waits until `node` has `n` listeners joined (a probe's welcome counts
/// them, and itself).
async fn listening(node: &Node, n: i64) {
    let started = Instant::now();
    loop {
        let mut probe = connect_with(node.0.addr, &token("user", &["user"])).await;
        // Refused (1013) until the node has reached Redis.
        let welcome = match tokio::time::timeout(Duration::from_secs(5), probe.next()).await {
            Ok(Some(Ok(Message::Text(text)))) => serde_json::from_str(&text).unwrap_or_default(),
            _ => serde_json::Value::Null,
        };
        if welcome["listeners"] == n + 1 && quiet_for(&mut probe, Duration::from_millis(100)).await
        {
            return;
        }
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "never {n} listeners: {welcome}"
        );
        drop(probe);
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test]
async fn a_say_on_one_node_reaches_the_listeners_of_both_in_one_order() {
    let Some(redis) = RedisServer::start() else {
        return;
    };
    let (a, b) = (node(&redis).await, node(&redis).await);
    let mut alice = connect_with(a.0.addr, &token("alice", &["user"])).await;
    expect_welcome(&mut alice, "alice").await;
    let mut carol = connect_with(a.0.addr, &token("mod", &["moderator"])).await;
    expect_welcome(&mut carol, "mod").await;
    let mut bob = connect_with(b.0.addr, &token("bob", &["user"])).await;
    expect_welcome(&mut bob, "bob").await;
    listening(&a, 2).await;
    listening(&b, 1).await;

    // Both at once: every listener sees them in the same order.
    send_json(&mut alice, json!({"type": "say", "text": "from a"})).await;
    send_json(&mut bob, json!({"type": "say", "text": "from b"})).await;
    let mut orders = Vec::new();
    for client in [&mut alice, &mut carol, &mut bob] {
        let mut order = Vec::new();
        for _ in 0..2 {
            let message = next_json(client).await;
            assert_eq!(message["type"], "relayed", "{message}");
            order.push((message["from"].clone(), message["text"].clone()));
        }
        assert!(quiet_for(client, Duration::from_millis(200)).await);
        orders.push(order);
    }
    assert!(
        orders.iter().all(|o| *o == orders[0]),
        "one order for all: {orders:?}"
    );
    let mut senders: Vec<_> = orders[0].iter().map(|(from, _)| from.clone()).collect();
    senders.sort_by_key(ToString::to_string);
    assert_eq!(senders, [json!("alice"), json!("bob")]);
}
