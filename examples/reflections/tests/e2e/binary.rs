//! The binary as an operator starts it: its secret, its address, SIGTERM.

use std::process::Command;

use crate::common::*;

fn binary() -> Command {
    wsauth_example_support::testing::binary(env!("CARGO_BIN_EXE_reflections"))
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

/// Starts the binary on `--addr 127.0.0.1:0`, streams a reflection from it,
/// then sends SIGTERM: the process exits cleanly.
#[cfg(unix)]
#[tokio::test]
async fn the_binary_listens_on_its_addr_streams_and_stops_on_sigterm() {
    let spawned = spawn_listening(
        binary()
            .args([
                "--addr",
                "127.0.0.1:0",
                "--log-json",
                "--token-interval-ms",
                "1",
            ])
            .env(
                "WSAUTH_JWT_SECRET",
                std::str::from_utf8(SECRET).unwrap_or_default(),
            ),
        "reflections listening",
    )
    .await;
    let addr = spawned.addr;
    let mut client = connect_to(addr, "1", "alice").await;
    let (seen, closed) = texts_until_close(&mut client).await;
    assert_eq!(closed, Some(close(DONE)));
    assert_eq!(seen, seeded_tokens(1));
    let path = entry_path("1", Some(&token("bob", &["user"])));
    assert_eq!(rejected(ws(addr, &path)).await, close(FORBIDDEN));

    spawned.sigterm();
    let log = spawned.exits_cleanly().await;
    assert!(
        log.iter().any(|l| l.contains("wsauth::audit")),
        "audit events are logged: {log:?}"
    );
}
