//! Expiry on open connections, shutdown, and the binary as an operator
//! starts it.

use std::process::Command;
use std::time::Duration;

use serde_json::json;
use wsauth_core::spec::FailureKind;

use crate::common::*;

#[tokio::test]
async fn an_open_connection_closes_when_its_token_expires() {
    let app = start().await;
    let short = tok("alice", &["user"]).expires_in(2).mint();
    let mut client = connect(request(app.addr, "/ws/alice", &short, Via::Subprotocol)).await;
    expect_welcome(&mut client, "alice", &USER_PERMISSIONS).await;
    let mut guest = connect_anonymous(app.addr).await;
    expect_anonymous_welcome(&mut guest).await;
    let (seen, close) = until_close_within(&mut client, Duration::from_secs(10)).await;
    assert!(seen.is_empty(), "{seen:?}");
    assert_eq!(close, Some(spec_close(FailureKind::TokenExpired)));
    assert_eq!(close.map(|c| c.0), Some(4001));
    // Guests have no token to expire.
    send_json(
        &mut guest,
        json!({"type": "subscribe", "channel": "artists"}),
    )
    .await;
    assert_eq!(next_json(&mut guest).await["type"], "graph_update");
}

#[tokio::test]
async fn shutdown_closes_open_sockets_with_1001() {
    let mut app = start().await;
    let mut alice = connect_as(app.addr, "/ws/alice", &token("alice", &["user"])).await;
    expect_welcome(&mut alice, "alice", &USER_PERMISSIONS).await;
    let mut guest = connect_anonymous(app.addr).await;
    expect_anonymous_welcome(&mut guest).await;
    send_json(&mut guest, json!({"type": "subscribe", "channel": "graph"})).await;
    assert_eq!(next_json(&mut guest).await["type"], "graph_update");
    let stopping = tokio::spawn(async move {
        let result = app.stop().await;
        (result, app)
    });
    for client in [&mut alice, &mut guest] {
        let (_, close) = until_close(client).await;
        assert_eq!(close, Some((1001, "server shutting down".to_owned())));
    }
    let (result, app) = tokio::time::timeout(Duration::from_secs(10), stopping)
        .await
        .unwrap_or_else(|e| panic!("serve did not return: {e}"))
        .unwrap_or_else(|e| panic!("{e}"));
    assert!(result.is_ok(), "{result:?}");
    assert_eq!(app.server.stats().active_connections, 0);
}

fn binary() -> Command {
    wsauth_example_support::testing::binary(env!("CARGO_BIN_EXE_songnodes"))
}

#[test]
fn the_binary_refuses_to_start_without_a_usable_secret() {
    assert_refuses_unusable_secrets(binary);

    let (code, stderr) = output(binary().args(["--addr", "not-an-address"]).env(
        "WSAUTH_JWT_SECRET",
        std::str::from_utf8(SECRET).unwrap_or_default(),
    ));
    assert_ne!(code, Some(0), "{stderr}");
    assert!(stderr.contains("--addr"), "{stderr}");
}

/// Starts the binary on `--addr 127.0.0.1:0`, connects as alice and as a
/// guest, sends SIGTERM: both sockets get 1001 and the process exits.
#[cfg(unix)]
#[tokio::test]
async fn the_binary_serves_and_stops_on_sigterm() {
    let spawned = spawn_listening(
        binary().args(["--addr", "127.0.0.1:0", "--log-json"]).env(
            "WSAUTH_JWT_SECRET",
            std::str::from_utf8(SECRET).unwrap_or_default(),
        ),
        "songnodes listening",
    )
    .await;
    let addr = spawned.addr;
    let alice = token("alice", &["user"]);
    let mut client = connect(request(addr, "/ws/alice", &alice, Via::Query)).await;
    expect_welcome(&mut client, "alice", &USER_PERMISSIONS).await;
    let mut guest = connect_anonymous(addr).await;
    expect_anonymous_welcome(&mut guest).await;
    spawned.sigterm();
    for client in [&mut client, &mut guest] {
        let (_, close) = until_close(client).await;
        assert_eq!(close, Some((1001, "server shutting down".to_owned())));
    }
    let log = spawned.exits_cleanly().await;
    assert!(
        !log.iter().any(|l| l.contains(&alice)),
        "the query token is not logged"
    );
}
