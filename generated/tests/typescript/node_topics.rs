//! The generated TypeScript client's topics under Node, end to end:
//! `js/tests/node_topics.ts` (compiled by tsc into `js/out/`, run with
//! `node --experimental-websocket`) subscribes, publishes and unsubscribes
//! through `generated/prsm/prsm.ts` against the prsm example's broker, drops
//! a socket to see the resubscribe recover what was missed, and restarts
//! the server (as [`super::node_prsm`] does) to see "history lost". See that
//! file for the scenarios.

use axum::Router;
use axum::routing::get;
use tokio::sync::mpsc;

use super::node_prsm::serve_again;
use crate::support::SECRET;
use crate::support::examples::start_prsm;
use crate::support::tools::{compile_typescript, node, run_blocking};

/// Conversation 1 shared by two users and a moderator (who may read, not post).
fn configure(mut config: prsm::Config) -> prsm::Config {
    config.store = prsm::Store::seeded().conversation(1, ["alice", "bob", "mod"]);
    config
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn generated_client_topics_under_node_against_prsm() {
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
    node.args(["--experimental-websocket", "out/js/tests/node_topics.js"])
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
        output.contains("ok - history lost"),
        "every scenario ran:\n{output}"
    );
}
