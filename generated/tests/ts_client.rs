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

mod support;

use std::net::SocketAddr;
use std::time::Duration;

use axum::Router;
use axum::routing::get;
use tokio::sync::mpsc;

/// The store the script expects.
fn store() -> prsm::Store {
    prsm::Store::seeded()
        .conversation(1, ["alice", "mod"])
        .unavailable_conversation(13)
}

fn configure(mut config: prsm::Config) -> prsm::Config {
    config.store = store();
    config
}

/// prsm again on `addr` (the port the first one freed), until the test ends.
async fn serve_again(addr: SocketAddr) {
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
    let mut config = configure(prsm::Config::new(support::SECRET));
    config.allowed_origins = vec![format!("http://{addr}")];
    let (router, server) = prsm::app(config).unwrap_or_else(|e| panic!("prsm: {e}"));
    let result = prsm::serve(listener, router, server, std::future::pending()).await;
    if let Err(e) = result {
        panic!("prsm (restarted): {e}");
    }
}

/// Compiles the TypeScript (generated clients and tests) into `js/out/`.
fn compile() {
    let mut tsc = support::node();
    tsc.args(["node_modules/typescript/bin/tsc", "-p", "tsconfig.json"]);
    support::run(tsc);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn generated_client_under_node_against_prsm() {
    compile();
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
    let mut prsm = support::start_prsm(configure, extra).await;
    let addr = prsm.addr;
    let mut node = support::node();
    node.args(["--experimental-websocket", "out/js/tests/node_e2e.js"])
        .env("WSAUTH_WS_URL", prsm.ws_url())
        .env("WSAUTH_SECRET", support::SECRET)
        .env(
            "WSAUTH_RESTART_URL",
            format!("{}/__test/restart", prsm.http_url()),
        );
    let restarter = tokio::spawn(async move {
        if restarts.recv().await.is_some() {
            prsm.stop().await;
            serve_again(addr).await;
        }
    });
    let output = tokio::task::spawn_blocking(move || support::run(node))
        .await
        .unwrap_or_else(|e| panic!("node: {e}"));
    restarter.abort();
    println!("{output}");
    assert!(
        output.contains("ok - server restart"),
        "every scenario ran:\n{output}"
    );
}
