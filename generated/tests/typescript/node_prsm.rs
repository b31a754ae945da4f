//! The generated TypeScript client under Node, end to end: `js/tests/node_e2e.ts`
//! (compiled by tsc into `js/out/`, run with `node --experimental-websocket`)
//! drives `generated/prsm/prsm.ts` against the prsm example through every
//! message type and every close code the example reaches, and checks what the
//! client does about each. See that file for the scenarios.
//!
//! This side starts prsm with a store where `mod` takes part in conversation 1
//! (so a moderator's `send_message` is refused in-band) and conversation 13
//! fails (1011), and serves `GET /__test/restart`: the script calls it, and the
//! server is stopped (open sockets get 1001) and started again on the same
//! port, so the client's backoff reconnect can be seen succeeding.

use std::net::SocketAddr;
use std::time::Duration;

use axum::Router;
use axum::routing::get;
use tokio::sync::mpsc;

use crate::support::SECRET;
use crate::support::examples::{prsm_app, start_prsm};
use crate::support::tools::{compile_typescript, node, run_blocking};

/// The store the script expects.
fn configure(mut config: prsm::Config) -> prsm::Config {
    config.store = prsm::Store::seeded()
        .conversation(1, ["alice", "mod"])
        .unavailable_conversation(13);
    config
}

/// prsm again on `addr` (the port the first one freed), configured by
/// `configure`, until the test ends.
async fn serve_again(addr: SocketAddr, configure: fn(prsm::Config) -> prsm::Config) {
    let mut listener = None;
    for _ in 0..100 {
        match tokio::net::TcpListener::bind(addr).await {
            Ok(l) => {
                listener = Some(l);
                break;
            }
            Err(_) => tokio::time::sleep(Duration::from_millis(50)).await,
        }
    }
    let listener = listener.unwrap_or_else(|| panic!("cannot bind {addr} again"));
    let (router, server) = prsm_app(addr, configure);
    let result = prsm::serve(listener, router, server, std::future::pending()).await;
    if let Err(e) = result {
        panic!("prsm (restarted): {e}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn generated_client_under_node_against_prsm() {
    compile_typescript();
    let (restart, mut restarts) = mpsc::unbounded_channel::<()>();
    let extra = Router::new().route(
        "/__test/restart",
        get(move || {
            let restart = restart.clone();
            async move {
                let _ = restart.send(());
                "restarting"
            }
        }),
    );
    let mut prsm = start_prsm(configure, extra).await;
    let addr = prsm.addr;
    let mut node = node();
    node.args(["--experimental-websocket", "out/js/tests/node_e2e.js"])
        .env("WSAUTH_WS_URL", prsm.ws_url())
        .env("WSAUTH_SECRET", SECRET)
        .env(
            "WSAUTH_RESTART_URL",
            format!("{}/__test/restart", prsm.http_url()),
        );
    let restarter = tokio::spawn(async move {
        if restarts.recv().await.is_some() {
            prsm.stop()
                .await
                .unwrap_or_else(|e| panic!("prsm (stopped): {e}"));
            serve_again(addr, configure).await;
        }
    });
    let output = run_blocking(node).await;
    restarter.abort();
    println!("{output}");
    assert!(
        output.contains("ok - server restart"),
        "every scenario ran:\n{output}"
    );
}
