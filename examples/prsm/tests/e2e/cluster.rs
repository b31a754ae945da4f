//! Two prsm processes sharing a real `redis-server` (`--redis URL`): the
//! per-user limit (10, 4008) holds across them under racing handshakes,
//! a SIGKILLed process's slots come back within the lease lifetime, and a
//! conversation's subscriber recovers what it missed on the other process.

use std::process::Command;
use std::time::{Duration, Instant};

use futures_util::StreamExt;
use serde_json::{Value, json};
use tokio_tungstenite::tungstenite::Message;
use wsauth_example_support::redis_server::RedisServer;

use crate::common::*;
use crate::topics::{alice_types, next_of, subscriber};

const LIMIT: usize = 10;
const TOO_MANY: u16 = 4008;
const UNAVAILABLE: u16 = 1013;
/// The lease lifetime the processes are started with.
const LEASE_TTL: Duration = Duration::from_secs(2);

/// A prsm process, killed (SIGKILL) when dropped, a failing test included.
pub(crate) struct Node(Spawned);

impl Node {
    pub(crate) fn addr(&self) -> std::net::SocketAddr {
        self.0.addr
    }

    pub(crate) fn kill(&mut self) {
        let _ = self.0.child.kill();
        let _ = self.0.child.wait();
    }
}

impl Drop for Node {
    fn drop(&mut self) {
        self.kill();
    }
}

async fn node(redis: &RedisServer) -> Node {
    node_with(redis, &[]).await
}

/// A prsm process on `redis`, with `extra` arguments.
pub(crate) async fn node_with(redis: &RedisServer, extra: &[&str]) -> Node {
    let mut command = binary(env!("CARGO_BIN_EXE_prsm"));
    command
        .args([
            "--addr",
            "127.0.0.1:0",
            "--log-json",
            "--redis",
            &redis.url(),
        ])
        .args(extra)
        .env(
            "WSAUTH_REDIS_LEASE_TTL_MS",
            LEASE_TTL.as_millis().to_string(),
        )
        .env(
            "WSAUTH_JWT_SECRET",
            std::str::from_utf8(SECRET).unwrap_or_default(),
        );
    let spawned = spawn_listening(&mut command, "prsm listening").await;
    // Ready once Redis answered: authenticated handshakes pass.
    let started = Instant::now();
    while attempt(spawned.addr, "bob").await.is_err() {
        assert!(started.elapsed() < Duration::from_secs(5), "never ready");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    Node(spawned)
}

/// A handshake as `user`: the client once welcomed, or the close code.
pub(crate) async fn attempt(addr: std::net::SocketAddr, user: &str) -> Result<Client, u16> {
    attempt_with(addr, user, &token(user, &["user"])).await
}

/// A handshake as `user` with `token`.
pub(crate) async fn attempt_with(
    addr: std::net::SocketAddr,
    user: &str,
    token: &str,
) -> Result<Client, u16> {
    let request = bearer(ws(addr, &format!("/ws/{user}")), token);
    let (mut client, _) = open(request).await;
    let first = tokio::time::timeout(Duration::from_secs(5), client.next()).await;
    match first {
        Ok(Some(Ok(Message::Text(_)))) => Ok(client),
        Ok(Some(Ok(Message::Close(Some(frame))))) => Err(u16::from(frame.code)),
        other => panic!("unexpected first frame: {other:?}"),
    }
}

/// Waits until Redis holds no slot of `user` (closed connections' slots are
/// removed by their node right after the close).
async fn slots_freed(redis: &RedisServer, user: &str) {
    let started = Instant::now();
    while redis.command(&format!("ZCARD wsauth:prsm:lease:{user}")) != ":0\r\n" {
        assert!(started.elapsed() < Duration::from_secs(5), "slots kept");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test]
async fn the_user_limit_holds_across_two_processes() {
    let Some(redis) = RedisServer::start() else {
        return;
    };
    let a = node(&redis).await;
    let mut b = node(&redis).await;
    for trial in 0..5 {
        let racing = (0..=LIMIT).map(|i| {
            let addr = if i % 2 == 0 { a.addr() } else { b.addr() };
            tokio::spawn(async move { attempt(addr, "alice").await })
        });
        let mut admitted = Vec::new();
        let mut refused = Vec::new();
        for result in futures_util::future::join_all(racing).await {
            match result.unwrap_or_else(|e| panic!("{e}")) {
                Ok(client) => admitted.push(client),
                Err(code) => refused.push(code),
            }
        }
        assert_eq!(
            (admitted.len(), refused.as_slice()),
            (LIMIT, &[TOO_MANY][..]),
            "trial {trial}"
        );
        drop(admitted);
        slots_freed(&redis, "alice").await;
    }

    // b holds all of alice's slots, then dies without a word to Redis.
    let mut held = Vec::new();
    for _ in 0..LIMIT {
        held.push(attempt(b.addr(), "alice").await.expect("admitted on b"));
    }
    assert_eq!(attempt(a.addr(), "alice").await.err(), Some(TOO_MANY));
    b.kill();
    let killed = Instant::now();
    while attempt(a.addr(), "alice").await.is_err() {
        assert!(
            killed.elapsed() < LEASE_TTL + Duration::from_secs(1),
            "a killed process's slots are still taken after {:?}",
            killed.elapsed()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

fn binary(path: &str) -> Command {
    wsauth_example_support::testing::binary(path)
}

#[tokio::test]
async fn a_subscriber_recovers_on_the_other_process_what_it_missed() {
    let Some(redis) = RedisServer::start() else {
        return;
    };
    let (a, b) = (node(&redis).await, node(&redis).await);
    let (mut first, subscribed) = subscriber(a.addr(), "user123", 1, None).await;
    assert_eq!(subscribed["type"], "wsauth.subscribed", "{subscribed}");
    // Said on b, heard on a.
    alice_types(b.addr(), true).await;
    let seen = next_of(&mut first, "wsauth.publication").await;
    assert_eq!(seen["message"]["active"], true, "{seen}");
    drop(first);

    // Missed: one said on b, one on a.
    alice_types(b.addr(), false).await;
    alice_types(a.addr(), true).await;
    let since = json!({"epoch": subscribed["epoch"], "offset": seen["offset"]});
    let (mut back, resubscribed) = subscriber(b.addr(), "user123", 1, Some(since)).await;
    assert_eq!(resubscribed["recovered"], true, "{resubscribed}");
    let offset = seen["offset"].as_u64().unwrap_or_default();
    assert_eq!(resubscribed["offset"], offset + 2, "{resubscribed}");
    for (n, active) in [(1, false), (2, true)] {
        let missed = next_of(&mut back, "wsauth.publication").await;
        assert_eq!(missed["offset"], offset + n, "{missed}");
        assert_eq!(missed["message"]["active"], active, "{missed}");
    }
    // Then live, without a repeat.
    alice_types(a.addr(), false).await;
    let live = next_of(&mut back, "wsauth.publication").await;
    assert_eq!(live["offset"], offset + 3, "{live}");

    // An epoch Redis never issued: history lost, said so.
    let since = json!({"epoch": "0", "offset": 1});
    let (_, lost) = subscriber(a.addr(), "user123", 1, Some(since)).await;
    assert_eq!(lost["type"], "wsauth.subscribed", "{lost}");
    assert_eq!(lost["recovered"], false, "{lost}");
}

/// `alice` on conversation 1's socket at `addr`.
async fn alice_on(addr: std::net::SocketAddr) -> Client {
    let mut alice = connect_as(addr, "/ws/conversation/alice/1", &token("alice", &["user"])).await;
    expect_welcome(&mut alice, "alice", "conversation").await;
    alice
}

/// `alice` says she is typing (published, then echoed to her).
async fn types(alice: &mut Client, active: bool) {
    send_json(
        alice,
        json!({"type": "typing", "user_id": "alice", "active": active}),
    )
    .await;
    let echo = next_json(alice).await;
    assert_eq!(echo["type"], "typing", "{echo}");
}

#[tokio::test]
async fn subscribers_get_what_was_published_while_their_process_was_cut_off() {
    let Some(mut redis) = RedisServer::start() else {
        return;
    };
    let (a, b) = (node(&redis).await, node(&redis).await);
    let (mut user, subscribed) = subscriber(b.addr(), "user123", 1, None).await;
    assert_eq!(subscribed["type"], "wsauth.subscribed", "{subscribed}");
    let mut alice = alice_on(a.addr()).await;
    types(&mut alice, true).await;
    let seen = next_of(&mut user, "wsauth.publication").await;

    // Every subscriber connection dropped; alice's publication lands while
    // b is not subscribed, and b catches up once it is again.
    let killed = redis.command("CLIENT KILL TYPE pubsub");
    assert!(killed.starts_with(":2"), "{killed}");
    types(&mut alice, false).await;
    let caught_up = next_of(&mut user, "wsauth.publication").await;
    assert_eq!(
        caught_up["offset"],
        seen["offset"].as_u64().unwrap_or_default() + 1
    );
    assert_eq!(caught_up["message"]["active"], false, "{caught_up}");

    // Redis restarted empty: the nodes come back by themselves, and what
    // alice says reaches user123 again (numbered anew) once both are.
    redis.restart();
    let started = Instant::now();
    let after = loop {
        // Not relayed while a is cut off; the echo comes either way.
        types(&mut alice, true).await;
        let wait = Duration::from_millis(200);
        if let Ok(after) =
            tokio::time::timeout(wait, next_of(&mut user, "wsauth.publication")).await
        {
            break after;
        }
        assert!(started.elapsed() < Duration::from_secs(10), "never again");
    };
    assert_eq!(after["message"]["active"], true, "{after}");
}

/// The next `wsauth.presence` frame about a change (not an answer).
async fn next_change(client: &mut Client) -> Value {
    loop {
        let frame = next_of(client, "wsauth.presence").await;
        if frame.get("id").is_none() {
            return frame;
        }
    }
}

#[tokio::test]
async fn participants_on_two_processes_see_each_other_and_a_killed_ones_leave() {
    let Some(redis) = RedisServer::start() else {
        return;
    };
    let (a, mut b) = (node(&redis).await, node(&redis).await);
    let (mut alice, subscribed) = subscriber(a.addr(), "alice", 1, None).await;
    assert_eq!(subscribed["present"], json!(["alice"]), "{subscribed}");
    // Asked on b: alice counts as soon as a told Redis.
    let started = Instant::now();
    let (mut user, subscribed) = loop {
        let (user, subscribed) = subscriber(b.addr(), "user123", 1, None).await;
        if subscribed["present"] == json!(["alice", "user123"]) {
            break (user, subscribed);
        }
        assert!(started.elapsed() < Duration::from_secs(2), "{subscribed}");
        drop(user);
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert_eq!(subscribed["type"], "wsauth.subscribed", "{subscribed}");
    let joined = next_change(&mut alice).await;
    assert_eq!(joined["joined"], "user123", "{joined}");
    send_json(
        &mut user,
        json!({"type": "wsauth.presence", "id": 2, "topic": "conversation",
               "params": {"conversation_id": 1}}),
    )
    .await;
    let answer = next_of(&mut user, "wsauth.presence").await;
    assert_eq!(answer["present"], json!(["alice", "user123"]), "{answer}");

    // b dies without a word: user123 leaves once b's presence expires.
    b.kill();
    let killed = Instant::now();
    let left = tokio::time::timeout(LEASE_TTL + Duration::from_secs(2), next_change(&mut alice))
        .await
        .unwrap_or_else(|_| panic!("user123 never left"));
    assert_eq!(left["left"], "user123", "{left}");
    // The bound: lease_ttl + renew_every (a third of it), and a margin.
    assert!(killed.elapsed() <= LEASE_TTL + LEASE_TTL / 3 + Duration::from_secs(1));
}

#[tokio::test]
async fn while_redis_is_down_topics_follow_each_processs_policy() {
    let Some(mut redis) = RedisServer::start() else {
        return;
    };
    let refuse = node(&redis).await;
    let degrade = node_with(&redis, &["--redis-policy", "degrade"]).await;
    let mut idle = connect_as(refuse.addr(), "/ws/user123", &token("user123", &["user"])).await;
    expect_welcome(&mut idle, "user123", "notifications").await;
    let (mut user, _) = subscriber(degrade.addr(), "user123", 1, None).await;
    let mut alice = alice_on(degrade.addr()).await;

    redis.kill();
    let killed = Instant::now();
    while attempt(refuse.addr(), "bob").await.err() != Some(UNAVAILABLE) {
        assert!(killed.elapsed() < Duration::from_secs(5), "never noticed");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    // refuse: a subscribe is refused, the connection stays.
    send_json(
        &mut idle,
        json!({"type": "wsauth.subscribe", "id": 1, "topic": "conversation",
               "params": {"conversation_id": 1}}),
    )
    .await;
    let refused = next_of(&mut idle, "wsauth.refused").await;
    assert_eq!(refused["error"], "server_error", "{refused}");

    // degrade: this process's subscribers still hear what is said on it,
    // and a newcomer joins, in an epoch of the process's own.
    // (Once it knows Redis is gone: a publication sent to Redis before is
    // refused, since it may have been published.)
    let heard = loop {
        types(&mut alice, false).await;
        let wait = Duration::from_millis(500);
        if let Ok(heard) =
            tokio::time::timeout(wait, next_of(&mut user, "wsauth.publication")).await
        {
            break heard;
        }
        assert!(killed.elapsed() < Duration::from_secs(5), "never heard");
    };
    assert_eq!(heard["message"]["active"], false, "{heard}");
    let (_, late) = loop {
        let (client, answer) = subscriber(degrade.addr(), "alice", 1, None).await;
        if answer["type"] == "wsauth.subscribed" {
            break (client, answer);
        }
        assert!(killed.elapsed() < Duration::from_secs(5), "{answer}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    let epoch = late["epoch"].as_str().unwrap_or_default();
    assert!(epoch.starts_with("local-"), "{late}");
    assert_eq!(late["present"], json!(["alice", "user123"]), "{late}");
    assert!(
        answers_ping(&mut idle).await,
        "the refusing process kept it"
    );
}

/// Whether `client` is still open (a ping is answered).
async fn answers_ping(client: &mut Client) -> bool {
    use futures_util::SinkExt;
    if client.send(Message::Ping(vec![1].into())).await.is_err() {
        return false;
    }
    loop {
        match tokio::time::timeout(Duration::from_secs(2), client.next()).await {
            Ok(Some(Ok(Message::Pong(_)))) => return true,
            Ok(Some(Ok(Message::Text(_) | Message::Ping(_)))) => {}
            _ => return false,
        }
    }
}
