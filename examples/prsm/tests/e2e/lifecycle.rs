//! Shutdown, and the binary as an operator starts it.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
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
    let mut command = Command::new(env!("CARGO_BIN_EXE_prsm"));
    command
        .env_remove("WSAUTH_JWT_SECRET")
        .env("RUST_LOG", "info");
    command
}

#[test]
fn the_binary_refuses_to_start_without_a_usable_secret() {
    let unset = binary()
        .args(["--addr", "127.0.0.1:0"])
        .output()
        .unwrap_or_else(|e| panic!("{e}"));
    let stderr = String::from_utf8_lossy(&unset.stderr);
    assert!(!unset.status.success());
    assert!(stderr.contains("WSAUTH_JWT_SECRET is not set"), "{stderr}");

    let short = binary()
        .args(["--addr", "127.0.0.1:0"])
        .env("WSAUTH_JWT_SECRET", "s3cr3t-XYZ")
        .output()
        .unwrap_or_else(|e| panic!("{e}"));
    let stderr = String::from_utf8_lossy(&short.stderr);
    assert!(!short.status.success());
    assert!(stderr.contains("WSAUTH_JWT_SECRET is 10 bytes"), "{stderr}");
    assert!(stderr.contains("at least 32"), "{stderr}");
    assert!(
        !stderr.contains("s3cr3t-XYZ"),
        "the secret is not echoed: {stderr}"
    );

    let origin = binary()
        .args([
            "--addr",
            "127.0.0.1:0",
            "--allow-origin",
            "https://app.example/",
        ])
        .env(
            "WSAUTH_JWT_SECRET",
            std::str::from_utf8(SECRET).unwrap_or_default(),
        )
        .output()
        .unwrap_or_else(|e| panic!("{e}"));
    let stderr = String::from_utf8_lossy(&origin.stderr);
    assert!(!origin.status.success());
    assert!(stderr.contains("https://app.example/"), "{stderr}");
}

/// Starts the binary, connects, sends SIGTERM: the socket gets 1001 and the
/// process exits cleanly.
#[cfg(unix)]
#[tokio::test]
async fn the_binary_serves_and_stops_on_sigterm() {
    let mut child = binary()
        .args(["--addr", "127.0.0.1:0", "--log-json"])
        .env(
            "WSAUTH_JWT_SECRET",
            std::str::from_utf8(SECRET).unwrap_or_default(),
        )
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("{e}"));
    let stderr = child.stderr.take().unwrap_or_else(|| panic!("no stderr"));
    let (lines_tx, mut lines) = tokio::sync::mpsc::unbounded_channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            let _ = lines_tx.send(line);
        }
    });
    let addr = loop {
        let line = tokio::time::timeout(Duration::from_secs(10), lines.recv())
            .await
            .unwrap_or_else(|e| panic!("no start-up line: {e}"))
            .unwrap_or_else(|| panic!("the binary exited"));
        let event: serde_json::Value = serde_json::from_str(&line).unwrap_or_default();
        if event["fields"]["message"] == "prsm listening" {
            let addr = event["fields"]["addr"].as_str().unwrap_or_default();
            break addr
                .parse::<std::net::SocketAddr>()
                .unwrap_or_else(|e| panic!("{e}: {line}"));
        }
    };
    let mut client = connect_as(addr, "/ws/alice", &token("alice", &["user"])).await;
    expect_welcome(&mut client, "alice", "notifications").await;
    let status = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap_or_else(|e| panic!("{e}"));
    assert!(status.success());
    let (_, close) = until_close(&mut client).await;
    assert_eq!(close, Some((1001, "server shutting down".to_owned())));
    let mut exited = None;
    for _ in 0..100 {
        if let Some(status) = child.try_wait().unwrap_or_else(|e| panic!("{e}")) {
            exited = Some(status);
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let Some(status) = exited else {
        let _ = child.kill();
        panic!("the binary did not exit after SIGTERM");
    };
    assert!(status.success(), "{status}");
    let mut log = Vec::new();
    while let Ok(line) = lines.try_recv() {
        log.push(line);
    }
    assert!(
        log.iter().any(|l| l.contains("wsauth::audit")),
        "audit events are logged: {log:?}"
    );
}
