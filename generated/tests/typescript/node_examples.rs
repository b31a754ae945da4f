//! The generated TypeScript clients of songnodes, shipvox, reflections and
//! mcp-status under Node, each against its example started here in-process
//! on 127.0.0.1:0: `js/tests/examples_e2e.ts` (compiled by tsc into
//! `js/out/`, run with `node --experimental-websocket`) takes the example's
//! name and connects through its generated module, sends every message type
//! the endpoint accepts, and checks the client's answer to the spec's close
//! codes. See that file for the scenarios; the Rust clients' equivalents are
//! the `clients` test binary's modules.
//!
//! The script mints tokens with [`SECRET`], and gets here what it cannot do
//! over the wire itself: the reflections' seeded text to compare with, and
//! for mcp-status a `GET /__test/postgres-down` route that changes the status
//! board, so that its broadcasts can be seen.

use axum::Router;
use axum::routing::get;
use mcp_status::StatusBoard;
use serde_json::json;

use crate::support::SECRET;
use crate::support::examples::{
    Serving, postgres_down, seeded_tokens, start_mcp_status, start_reflections, start_shipvox,
    start_songnodes,
};
use crate::support::tools::{compile_typescript, node, run_blocking};

/// Runs the script for `example` against `app` with `extra` environment
/// variables, and checks that every scenario ran.
async fn run_script(example: &str, app: &Serving, extra: &[(&str, String)]) {
    compile_typescript();
    let mut node = node();
    node.args([
        "--experimental-websocket",
        "out/js/tests/examples_e2e.js",
        example,
    ])
    .env("WSAUTH_WS_URL", app.ws_url())
    .env("WSAUTH_HTTP_URL", app.http_url())
    .env("WSAUTH_SECRET", SECRET);
    for (name, value) in extra {
        node.env(name, value);
    }
    let output = run_blocking(node).await;
    println!("{output}");
    assert!(
        output.contains(&format!("{example}: ")) && output.contains("scenarios passed"),
        "every scenario ran:\n{output}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn generated_ts_client_against_songnodes() {
    let app = start_songnodes().await;
    run_script("songnodes", &app, &[]).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn generated_ts_client_against_shipvox() {
    let app = start_shipvox().await;
    run_script("shipvox", &app, &[]).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn generated_ts_client_against_reflections() {
    let app = start_reflections().await;
    let failing = reflections::store::FAILING_ENTRY;
    let partial: Vec<String> = seeded_tokens(failing)
        .into_iter()
        .take(reflections::store::FAILING_AFTER)
        .collect();
    let expected = json!({
        "entry1": seeded_tokens(1),
        "failingEntry": failing,
        "failingPartial": partial,
    });
    run_script(
        "reflections",
        &app,
        &[("WSAUTH_EXPECTED", expected.to_string())],
    )
    .await;
}

/// `GET /__test/postgres-down`: [`postgres_down`] on `board`.
fn postgres_down_route(board: &StatusBoard) -> Router {
    let board = board.clone();
    Router::new().route(
        "/__test/postgres-down",
        get(move || {
            let board = board.clone();
            async move {
                postgres_down(&board).await;
                "postgres is down"
            }
        }),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn generated_ts_client_against_mcp_status() {
    let (app, _) = start_mcp_status(|c| c, postgres_down_route).await;
    run_script("mcp-status", &app, &[]).await;
}
