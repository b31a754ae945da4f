//! Several nodes sharing a real `redis-server`: the cluster-wide per-user
//! limit, revocation across nodes, and what a node does while Redis is
//! down. Each node runs on its own runtime (see `common/cluster.rs`); Redis
//! is started on a free loopback port and killed by PID
//! (`common/redis_server.rs`).
#![cfg(feature = "redis")]

mod common;

use std::time::{Duration, Instant};

use common::cluster::{MAX_PER_USER, Node, answers, closed_within, open, token};
use common::now;
use common::partition::{Cut, Proxy};
use common::redis_server::RedisServer;
use wsauth_core::{ClusterConfig, ClusterError, FailurePolicy};

const REVOKED: u16 = 4006;
const TOO_MANY: u16 = 4008;
const UNAVAILABLE: u16 = 1013;

/// A config for `redis` with a prefix of its own and short leases.
fn config(redis: &RedisServer, prefix: &str) -> ClusterConfig {
    ClusterConfig {
        prefix: Some(format!("test:{prefix}")),
        lease_ttl: Duration::from_secs(2),
        renew_every: Duration::from_millis(500),
        ..ClusterConfig::new(redis.url())
    }
}

async fn node(config: ClusterConfig) -> Node {
    let node = Node::start(move |b| b.redis(config)).await;
    node.ready().await;
    node
}

#[tokio::test]
async fn exactly_the_limit_is_admitted_across_nodes_under_racing_handshakes() {
    let Some(redis) = RedisServer::start() else {
        return;
    };
    let a = node(config(&redis, "race")).await;
    let b = node(config(&redis, "race")).await;
    for trial in 0..30 {
        let subject = format!("user{trial}");
        let token = token(&subject, now(), None);
        // One more than the limit, at once, spread over both nodes (each
        // below the limit on its own).
        let attempts = (0..=MAX_PER_USER).map(|i| {
            let addr = if i % 2 == 0 { a.addr } else { b.addr };
            let (subject, token) = (subject.clone(), token.clone());
            tokio::spawn(async move { open(addr, &subject, &token).await })
        });
        let mut admitted = Vec::new();
        let mut refused = Vec::new();
        for attempt in futures_util::future::join_all(attempts).await {
            match attempt.unwrap_or_else(|e| panic!("{e}")) {
                Ok(client) => admitted.push(client),
                Err(code) => refused.push(code),
            }
        }
        assert_eq!(
            (admitted.len(), refused.as_slice()),
            (MAX_PER_USER as usize, &[TOO_MANY][..]),
            "trial {trial}"
        );
    }
}

#[tokio::test]
async fn a_killed_nodes_slots_are_free_within_the_lease_ttl() {
    let Some(redis) = RedisServer::start() else {
        return;
    };
    let config = config(&redis, "killed");
    let ttl = config.lease_ttl;
    let a = node(config.clone()).await;
    let mut b = node(config).await;
    let alice = token("alice", now(), None);
    let mut held = Vec::new();
    for _ in 0..MAX_PER_USER {
        held.push(open(b.addr, "alice", &alice).await.expect("admitted on b"));
    }
    // Renewed while b lives: still taken well past the lease's lifetime.
    tokio::time::sleep(ttl * 2).await;
    assert_eq!(open(a.addr, "alice", &alice).await.err(), Some(TOO_MANY));

    b.kill();
    let killed = Instant::now();
    assert_eq!(
        open(a.addr, "alice", &alice).await.err(),
        Some(TOO_MANY),
        "a dead node's slots are not freed by its closing sockets"
    );
    let mut admitted = Vec::new();
    while admitted.len() < MAX_PER_USER as usize {
        assert!(
            killed.elapsed() < ttl + Duration::from_secs(1),
            "slots still taken {:?} after the node died",
            killed.elapsed()
        );
        match open(a.addr, "alice", &alice).await {
            Ok(client) => admitted.push(client),
            Err(_) => tokio::time::sleep(Duration::from_millis(100)).await,
        }
    }
}

#[tokio::test]
async fn a_revocation_on_one_node_closes_and_refuses_on_the_others() {
    let Some(redis) = RedisServer::start() else {
        return;
    };
    let a = node(config(&redis, "revoke")).await;
    let b = node(config(&redis, "revoke")).await;
    let old = token("alice", now() - 10, Some("first"));
    let mut alice = open(b.addr, "alice", &old).await.expect("admitted");
    let mut bob = open(b.addr, "bob", &token("bob", now() - 10, None))
        .await
        .expect("admitted");

    let sent = Instant::now();
    let before = a
        .run(|s| async move { s.revoke_subject_before_now("alice").await })
        .await
        .expect("stored and announced");
    assert_eq!(
        closed_within(&mut alice, Duration::from_secs(2)).await,
        Some(REVOKED),
        "closed on the other node"
    );
    assert!(sent.elapsed() < Duration::from_secs(2));
    assert!(answers(&mut bob).await);
    for addr in [a.addr, b.addr] {
        assert_eq!(open(addr, "alice", &old).await.err(), Some(REVOKED));
    }

    // A token revoked by `jti` on a, then offered on b in a refresh.
    let fresh = token("alice", before + 1, Some("second"));
    let mut again = open(b.addr, "alice", &fresh).await.expect("a newer token");
    a.run(|s| async move { s.revoke_jti("third", None).await })
        .await
        .expect("stored and announced");
    tokio::time::sleep(Duration::from_millis(200)).await;
    let refresh = serde_json::json!({
        "type": "wsauth.refresh",
        "token": token("alice", before + 2, Some("third")),
    });
    futures_util::SinkExt::send(
        &mut again,
        tokio_tungstenite::tungstenite::Message::text(refresh.to_string()),
    )
    .await
    .expect("sent");
    assert_eq!(
        closed_within(&mut again, Duration::from_secs(2)).await,
        Some(REVOKED)
    );

    // A node that starts afterwards loads what was revoked.
    let c = node(config(&redis, "revoke")).await;
    assert_eq!(open(c.addr, "alice", &old).await.err(), Some(REVOKED));
    let third = token("alice", before + 2, Some("third"));
    assert_eq!(open(c.addr, "alice", &third).await.err(), Some(REVOKED));
    assert!(open(c.addr, "alice", &fresh).await.is_ok());
}

#[tokio::test]
async fn revocations_survive_a_redis_restart_while_a_node_lives() {
    let Some(mut redis) = RedisServer::start() else {
        return;
    };
    let a = node(config(&redis, "restart")).await;
    let old = token("alice", now() - 10, None);
    a.run(|s| async move { s.revoke_subject_before_now("alice").await })
        .await
        .expect("stored and announced");

    // Without persistence, the restarted Redis has forgotten it; the node
    // that knew it writes it back once it is up again.
    redis.restart();
    recovers(&a, "bob").await;
    let c = node(config(&redis, "restart")).await;
    assert_eq!(open(c.addr, "alice", &old).await.err(), Some(REVOKED));
}

#[tokio::test]
async fn nodes_resubscribe_after_redis_drops_their_subscription() {
    let Some(redis) = RedisServer::start() else {
        return;
    };
    let a = node(config(&redis, "resubscribe")).await;
    let b = node(config(&redis, "resubscribe")).await;
    let reply = redis.command("CLIENT KILL TYPE pubsub");
    assert!(
        reply.starts_with(":2"),
        "both subscriptions killed: {reply}"
    );
    let alice = token("alice", now(), None);
    let mut on_a = open(a.addr, "alice", &alice).await;
    let started = Instant::now();
    while on_a.is_err() && started.elapsed() < Duration::from_secs(5) {
        tokio::time::sleep(Duration::from_millis(50)).await;
        on_a = open(a.addr, "alice", &alice).await;
    }
    let mut on_a = on_a.expect("admitted once resubscribed");
    b.ready().await;
    b.run(|s| async move { s.disconnect_subject("alice").await })
        .await
        .expect("announced");
    assert_eq!(
        closed_within(&mut on_a, Duration::from_secs(2)).await,
        Some(REVOKED)
    );
}

#[tokio::test]
async fn disconnect_reaches_every_node() {
    let Some(redis) = RedisServer::start() else {
        return;
    };
    let a = node(config(&redis, "disconnect")).await;
    let b = node(config(&redis, "disconnect")).await;
    let alice = token("alice", now(), None);
    let mut on_a = open(a.addr, "alice", &alice).await.expect("admitted");
    let mut on_b = open(b.addr, "alice", &alice).await.expect("admitted");
    b.run(|s| async move { s.disconnect_subject("alice").await })
        .await
        .expect("announced");
    for client in [&mut on_a, &mut on_b] {
        assert_eq!(
            closed_within(client, Duration::from_secs(2)).await,
            Some(REVOKED)
        );
    }
    assert!(
        open(a.addr, "alice", &alice).await.is_ok(),
        "tokens stay good"
    );
}

/// Waits until `node` admits `subject` again (Redis back), at most 10 s.
async fn recovers(node: &Node, subject: &str) -> Duration {
    let started = Instant::now();
    loop {
        if open(node.addr, subject, &token(subject, now(), None))
            .await
            .is_ok()
        {
            return started.elapsed();
        }
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "the node did not recover"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Waits until `node` reports Redis down, at most 5 s.
async fn notices_down(node: &Node) {
    let started = Instant::now();
    while node.server.cluster_ready() {
        assert!(
            started.elapsed() < Duration::from_secs(5),
            "down not noticed"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test]
async fn refuse_policy_closes_new_connections_while_redis_is_down_and_recovers() {
    let Some(mut redis) = RedisServer::start() else {
        return;
    };
    let a = node(config(&redis, "refuse")).await;
    let mut live = open(a.addr, "alice", &token("alice", now(), None))
        .await
        .expect("admitted");

    redis.kill();
    notices_down(&a).await;
    assert_eq!(
        open(a.addr, "bob", &token("bob", now(), None)).await.err(),
        Some(UNAVAILABLE)
    );
    assert!(answers(&mut live).await, "live connections stay open");
    let revoked = a
        .run(|s| async move { s.revoke_subject_before_now("carol").await })
        .await;
    assert!(matches!(revoked, Err(ClusterError::Unavailable)));

    redis.restart();
    recovers(&a, "bob").await;
    assert!(answers(&mut live).await);
    // The control channel is back too: a revocation reaches the node.
    let mut dave = open(a.addr, "dave", &token("dave", now() - 10, None))
        .await
        .expect("admitted");
    a.run(|s| async move { s.revoke_subject_before_now("dave").await })
        .await
        .expect("stored and announced");
    assert_eq!(
        closed_within(&mut dave, Duration::from_secs(2)).await,
        Some(REVOKED)
    );
}

#[tokio::test]
async fn a_frozen_redis_is_noticed_and_survived_without_closing_anyone() {
    let Some(redis) = RedisServer::start() else {
        return;
    };
    let a = node(config(&redis, "frozen")).await;
    let mut live = open(a.addr, "alice", &token("alice", now(), None))
        .await
        .expect("admitted");

    // Connections stay open but nothing answers: only timeouts tell.
    redis.pause();
    let frozen = Instant::now();
    notices_down(&a).await;
    assert!(
        frozen.elapsed() < Duration::from_secs(3),
        "{:?}",
        frozen.elapsed()
    );
    assert_eq!(
        open(a.addr, "bob", &token("bob", now(), None)).await.err(),
        Some(UNAVAILABLE)
    );
    assert!(answers(&mut live).await, "live connections stay open");

    redis.resume();
    recovers(&a, "bob").await;
    assert!(answers(&mut live).await);
}

#[tokio::test]
async fn degrade_policy_admits_under_the_node_limit_while_redis_is_down() {
    let Some(mut redis) = RedisServer::start() else {
        return;
    };
    let a = node(ClusterConfig {
        policy: FailurePolicy::Degrade,
        ..config(&redis, "degrade")
    })
    .await;
    redis.kill();
    notices_down(&a).await;
    let bob = token("bob", now(), None);
    let mut held = Vec::new();
    for _ in 0..MAX_PER_USER {
        held.push(
            open(a.addr, "bob", &bob)
                .await
                .expect("admitted, node-local"),
        );
    }
    assert_eq!(
        open(a.addr, "bob", &bob).await.err(),
        Some(TOO_MANY),
        "the node-local limit holds"
    );

    redis.restart();
    // Degraded, the node admits all along: wait for it to be back.
    a.ready().await;
    // Bob's degraded connections are leased once Redis is back (within a
    // renewal): a second node sees them.
    let b = node(ClusterConfig {
        policy: FailurePolicy::Degrade,
        ..config(&redis, "degrade")
    })
    .await;
    tokio::time::sleep(Duration::from_millis(600)).await;
    assert_eq!(open(b.addr, "bob", &bob).await.err(), Some(TOO_MANY));
    for client in &mut held {
        assert!(answers(client).await);
    }
}

/// A node whose connections to Redis go through `proxy`.
fn through(proxy: &Proxy, redis: &RedisServer, prefix: &str) -> ClusterConfig {
    ClusterConfig {
        url: format!("redis://{}", proxy.addr),
        ..config(redis, prefix)
    }
}

/// `redis`'s address, for a proxy in front of it.
fn address(redis: &RedisServer) -> std::net::SocketAddr {
    let url = redis.url();
    let hostport = url.trim_start_matches("redis://");
    hostport.parse().expect("host:port")
}

#[tokio::test]
async fn a_subscription_gone_deaf_without_a_close_is_noticed_and_replaced() {
    let Some(redis) = RedisServer::start() else {
        return;
    };
    let proxy = Proxy::start(address(&redis));
    let a = node(through(&proxy, &redis, "deaf")).await;
    let b = node(config(&redis, "deaf")).await;
    let alice = token("alice", now() - 10, None);
    let mut on_a = open(a.addr, "alice", &alice).await.expect("admitted");

    // The control subscription goes silent; commands still answer, so
    // only a probe through the subscription itself can tell.
    assert_eq!(proxy.partition(Cut::Subscribers), 1);
    let cut = Instant::now();
    b.run(|s| async move { s.revoke_subject_before_now("alice").await })
        .await
        .expect("stored and announced");
    // Missed while deaf: applied by the reload after resubscribing, within
    // the probe's bound (two seconds) and a round trip.
    assert_eq!(
        closed_within(&mut on_a, Duration::from_secs(4)).await,
        Some(REVOKED),
        "after {:?}",
        cut.elapsed()
    );
}

#[tokio::test]
async fn a_partition_without_a_close_is_survived_by_reconnecting() {
    let Some(redis) = RedisServer::start() else {
        return;
    };
    let proxy = Proxy::start(address(&redis));
    let a = node(through(&proxy, &redis, "partition")).await;
    let mut live = open(a.addr, "alice", &token("alice", now(), None))
        .await
        .expect("admitted");

    // Every connection the node has to Redis goes dead; new ones work.
    assert!(proxy.partition(Cut::All) >= 2);
    notices_down(&a).await;
    assert!(answers(&mut live).await, "live connections stay open");
    // The node drops the dead connections and opens new ones by itself.
    recovers(&a, "bob").await;
    let b = node(config(&redis, "partition")).await;
    b.run(|s| async move { s.disconnect_subject("alice").await })
        .await
        .expect("announced");
    assert_eq!(
        closed_within(&mut live, Duration::from_secs(2)).await,
        Some(REVOKED)
    );
}

#[tokio::test]
async fn a_slot_freed_while_redis_is_away_is_released_when_it_is_back() {
    let Some(redis) = RedisServer::start() else {
        return;
    };
    // Leases long enough that only a release can free the slot in time.
    let a = node(ClusterConfig {
        lease_ttl: Duration::from_secs(30),
        renew_every: Duration::from_secs(10),
        ..config(&redis, "released")
    })
    .await;
    let alice = open(a.addr, "alice", &token("alice", now(), None))
        .await
        .expect("admitted");
    let leases = "ZCARD test:released:lease:alice";
    assert_eq!(redis.command(leases), ":1\r\n");

    redis.pause();
    notices_down(&a).await;
    drop(alice);
    tokio::time::sleep(Duration::from_millis(300)).await;
    redis.resume();
    let back = Instant::now();
    while redis.command(leases) != ":0\r\n" {
        assert!(
            back.elapsed() < Duration::from_secs(5),
            "the closed connection's lease was never released"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}
