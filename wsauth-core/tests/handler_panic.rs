//! A handler that panics ends its connection like one that returned an
//! error: the client gets the spec's `server_error` close (never the panic
//! text), the audit log gets the event, the connection stops counting and
//! frees its user's slot, and shutdown does not wait for it.
//!
//! One test in a binary of its own, because it captures the audit log: see
//! `audit.rs` for why capture needs that.

mod common;

use std::time::{Duration, Instant};

use common::*;
use futures_util::{SinkExt, StreamExt};
use tokio_tungstenite::tungstenite::Message;
use wsauth_core::spec::FailureKind;
use wsauth_core::{HandlerResult, Session, WsAuth};

const PANIC_TEXT: &str = "PANICMARKER in the room handler";

/// Welcomes, then panics on the first message.
async fn panics_on_a_message(mut session: Session) -> HandlerResult {
    session.send("hello", &serde_json::json!({ "user": "alice" }))?;
    session.recv().await;
    panic!("{PANIC_TEXT}: {}", 42);
}

/// Panics when called, before there is a future to poll.
fn panics_when_called(_session: Session) -> std::future::Ready<HandlerResult> {
    panic!("PANICMARKER before the future");
}

/// Reads on after the close frame until the socket ends, which sends the
/// client's half of the close handshake (the server waits for it).
async fn finish(client: &mut Client) {
    let rest = async { while client.next().await.is_some() {} };
    let _ = tokio::time::timeout(Duration::from_secs(5), rest).await;
}

/// Waits (a little) until the server counts no connection.
async fn drained(server: &WsAuth) -> bool {
    for _ in 0..200 {
        let stats = server.stats();
        if stats.active_connections == 0 && stats.unique_users == 0 {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    false
}

#[tokio::test]
async fn a_panicking_handler_closes_with_server_error_and_is_forgotten() {
    let (captured, _guard) = capture_logs();
    let server_error = STATIC_API.close(FailureKind::ServerError);
    let expected = Some((server_error.code, server_error.reason.to_owned()));

    // A panic while the handler's future runs, after the welcome.
    let (addr, server) = start_with(panics_on_a_message, |b| {
        b.allow_origins(["https://app.example"])
    })
    .await;
    let alice = token("alice", "user", 600);
    let mut client = connect(addr, "/ws/alice/1", Some(&alice)).await;
    assert_eq!(next_json(&mut client).await["type"], "hello");
    assert_eq!(server.stats().active_connections, 1);
    client
        .send(Message::text(r#"{"type":"say","text":"hi"}"#))
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let (after, close) = until_close(&mut client).await;
    assert!(after.is_empty(), "{after:?}");
    assert_eq!(close, expected, "a close frame, not a dropped socket");
    finish(&mut client).await;
    assert!(
        drained(&server).await,
        "the connection and its user slot are freed: {:?}",
        server.stats()
    );
    // The user's slots are all free again: as many connections as the
    // limit allows are admitted.
    let mut again = Vec::new();
    for _ in 0..LIMITS.max_connections_per_user {
        let mut client = connect(addr, "/ws/alice/1", Some(&alice)).await;
        assert_eq!(next_json(&mut client).await["type"], "hello");
        again.push(client);
    }
    for client in &mut again {
        client
            .send(Message::text(r#"{"type":"say","text":"hi"}"#))
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(until_close(client).await.1, expected);
        finish(client).await;
    }
    assert!(drained(&server).await, "{:?}", server.stats());

    // Shutdown has nothing left to wait for.
    let started = Instant::now();
    let prompt = tokio::time::timeout(
        Duration::from_secs(5),
        server.shutdown(Duration::from_secs(30)),
    )
    .await;
    assert!(
        prompt.is_ok() && started.elapsed() < Duration::from_secs(2),
        "shutdown waited {:?} for connections that had ended",
        started.elapsed()
    );

    // A handler that panics as it is called ends the same way.
    let (addr, server) = start_with(panics_when_called, |b| {
        b.allow_origins(["https://app.example"])
    })
    .await;
    let mut client = connect(addr, "/ws/alice/1", Some(&alice)).await;
    let (seen, close) = until_close(&mut client).await;
    assert!(seen.is_empty(), "{seen:?}");
    assert_eq!(close, expected);
    finish(&mut client).await;
    assert!(drained(&server).await, "{:?}", server.stats());

    tokio::time::sleep(Duration::from_millis(100)).await;
    let log = captured.text();
    let panics: Vec<&str> = log
        .lines()
        .filter(|l| l.contains("\"event\":\"rejected\"") && l.contains("handler panicked"))
        .collect();
    assert_eq!(
        panics.len(),
        1 + LIMITS.max_connections_per_user as usize + 1,
        "one audit event per panic:\n{log}"
    );
    assert!(
        panics
            .iter()
            .all(|l| l.contains("\"kind\":\"server_error\"")),
        "{panics:?}"
    );
    assert!(
        log.lines()
            .any(|l| l.contains("\"level\":\"ERROR\"") && l.contains(PANIC_TEXT)),
        "the panic is logged at error level:\n{log}"
    );
}
