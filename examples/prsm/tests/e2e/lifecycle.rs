//! Shutdown, and the binary as an operator starts it.

use std::process::Command;
use std::time::Duration;

use crate::common::*;

#[tokio::test]
async fn shutdown_closes_open_sockets_with_1001_and_stops_serving() {
    let mut app = start().await;
    let mut notifications = connect_as(app.addr, "/ws/alice", &token("alice", &["user"])).await;
    expect_welcome(&mut notifications, "alice", "notifications").await;
    let mut conversation =
        connect_as(app.addr, "/ws/conversation/bob/2", &token("bob", &["user"])).await;
    expect_welcome(&mut conversation, "bob", "conversation").await;

    let stopping = tokio::spawn(async move {
        let result = app.stop().await;
        (result, app)
    });
    for client in [&mut notifications, &mut conversation] {
        let (_, close) = until_close(client).await;
        assert_eq!(close, Some((1001, "server shutting down".to_owned())));
    }
    let (result, app) = tokio::time::timeout(Duration::from_secs(10), stopping)
        .await
        .unwrap_or_else(|e| panic!("serve did not return: {e}"))
        .unwrap_or_else(|e| panic!("{e}"));
    assert!(result.is_ok(), "{result:?}");
    assert_eq!(app.server.stats().active_connections, 0);
    assert!(
        tokio::net::TcpStream::connect(app.addr).await.is_err(),
        "the listener is closed"
    );
}

/// Each connection subscribes to the shutdown signal when it starts, and a
/// `watch` receiver created after the signal does not see it as a change: a
/// connection admitted once shutdown has begun must still be closed (not
/// left open while `shutdown` waits its whole grace for it).
#[tokio::test]
async fn connections_admitted_after_shutdown_began_are_closed_too() {
    let app = start().await;
    let server = app.server.clone();
    // Keep one connection open so that shutdown is still draining.
    let mut first = connect_as(app.addr, "/ws/bob", &token("bob", &["user"])).await;
    expect_welcome(&mut first, "bob", "notifications").await;
    let draining = tokio::spawn(async move { server.shutdown(Duration::from_secs(3)).await });
    let (_, close) = until_close(&mut first).await;
    assert_eq!(close.map(|c| c.0), Some(1001));
    // The WsAuth router is still mounted (as while axum drains): a late
    // handshake must not outlive the shutdown.
    let mut late = connect_as(app.addr, "/ws/alice", &token("alice", &["user"])).await;
    let (_, close) = until_close_within(&mut late, Duration::from_secs(2)).await;
    assert_eq!(
        close.map(|c| c.0),
        Some(1001),
        "a late connection stays open after shutdown"
    );
    draining.await.unwrap_or_else(|e| panic!("{e}"));
}

fn binary() -> Command {
    wsauth_example_support::testing::binary(env!("CARGO_BIN_EXE_prsm"))
}

#[test]
fn the_binary_refuses_to_start_without_a_usable_secret() {
    assert_refuses_unusable_secrets(binary);

    let (code, stderr) = output(
        binary()
            .args([
                "--addr",
                "127.0.0.1:0",
                "--allow-origin",
                "https://app.example/",
            ])
            .env(
                "WSAUTH_JWT_SECRET",
                std::str::from_utf8(SECRET).unwrap_or_default(),
            ),
    );
    assert_ne!(code, Some(0), "{stderr}");
    assert!(stderr.contains("https://app.example/"), "{stderr}");
}

/// Starts the binary, connects, sends SIGTERM: the socket gets 1001 and the
/// process exits cleanly.
#[cfg(unix)]
#[tokio::test]
async fn the_binary_serves_and_stops_on_sigterm() {
    let spawned = spawn_listening(
        binary().args(["--addr", "127.0.0.1:0", "--log-json"]).env(
            "WSAUTH_JWT_SECRET",
            std::str::from_utf8(SECRET).unwrap_or_default(),
        ),
        "prsm listening",
    )
    .await;
    let addr = spawned.addr;
    let mut client = connect_as(addr, "/ws/alice", &token("alice", &["user"])).await;
    expect_welcome(&mut client, "alice", "notifications").await;
    spawned.sigterm();
    let (_, close) = until_close(&mut client).await;
    assert_eq!(close, Some((1001, "server shutting down".to_owned())));
    let log = spawned.exits_cleanly().await;
    assert!(
        log.iter().any(|l| l.contains("wsauth::audit")),
        "audit events are logged: {log:?}"
    );
}
