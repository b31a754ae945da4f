//! The generated TypeScript clients of songnodes, shipvox, reflections and
//! mcp-status under Node, each against its example started here in-process
//! on 127.0.0.1:0: `js/tests/examples_e2e.ts` (compiled by tsc into
//! `js/out/`, run with `node --experimental-websocket`) takes the example's
//! name and connects through its generated module, sends every message type
//! the endpoint accepts, and checks the client's answer to the spec's close
//! codes. See that file for the scenarios; the Rust clients' equivalents are
//! the `*_client.rs` tests.
//!
//! Each example gets its own secret (the script mints tokens with it) and
//! what the script cannot do over the wire itself: the reflections' seeded
//! text to compare with, and for mcp-status a `GET /__test/postgres-down`
//! route that changes the status board, so that its broadcasts can be seen.

mod support;

use std::net::SocketAddr;
use std::sync::Once;

use axum::Router;
use axum::routing::get;
use serde_json::json;

/// Compiles the TypeScript (generated clients and tests) into `js/out/`
/// once per test binary.
fn compile() {
    static COMPILED: Once = Once::new();
    COMPILED.call_once(|| {
        let mut tsc = support::node();
        tsc.args(["node_modules/typescript/bin/tsc", "-p", "tsconfig.json"]);
        support::run(tsc);
    });
}

/// A listener on 127.0.0.1:0 and its address.
async fn listen() -> (tokio::net::TcpListener, SocketAddr) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .unwrap_or_else(|e| panic!("bind: {e}"));
    let addr = listener
        .local_addr()
        .unwrap_or_else(|e| panic!("local_addr: {e}"));
    (listener, addr)
}

/// Runs the script for `example` against `addr` with `secret` and `extra`
/// environment variables; its output, after checking that every scenario ran.
async fn run_script(example: &str, addr: SocketAddr, secret: &str, extra: &[(&str, String)]) {
    compile();
    let mut node = support::node();
    node.args([
        "--experimental-websocket",
        "out/js/tests/examples_e2e.js",
        example,
    ])
    .env("WSAUTH_WS_URL", format!("ws://{addr}"))
    .env("WSAUTH_HTTP_URL", format!("http://{addr}"))
    .env("WSAUTH_SECRET", secret);
    for (name, value) in extra {
        node.env(name, value);
    }
    let output = tokio::task::spawn_blocking(move || support::run(node))
        .await
        .unwrap_or_else(|e| panic!("node: {e}"));
    println!("{output}");
    assert!(
        output.contains(&format!("{example}: ")) && output.contains("scenarios passed"),
        "every scenario ran:\n{output}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn generated_ts_client_against_songnodes() {
    const SECRET: &str = "songnodes-ts-test-secret-0123456789";
    let (listener, addr) = listen().await;
    let (router, server) =
        songnodes::app(songnodes::Config::new(SECRET)).unwrap_or_else(|e| panic!("{e}"));
    let serving = tokio::spawn(songnodes::serve(
        listener,
        router,
        server,
        std::future::pending::<()>(),
    ));
    run_script("songnodes", addr, SECRET, &[]).await;
    serving.abort();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn generated_ts_client_against_shipvox() {
    const SECRET: &str = "shipvox-ts-test-secret-0123456789-abcdef";
    let (listener, addr) = listen().await;
    // Hashing the seeded passwords takes a while: off the runtime.
    let app = tokio::task::spawn_blocking(|| shipvox::app(shipvox::Config::new(SECRET)))
        .await
        .unwrap_or_else(|e| panic!("{e}"))
        .unwrap_or_else(|e| panic!("{e}"));
    let serving = tokio::spawn(shipvox::serve(
        listener,
        app.router,
        app.server,
        std::future::pending::<()>(),
    ));
    run_script("shipvox", addr, SECRET, &[]).await;
    serving.abort();
}

/// The seeded text of `entry`, token by token.
fn seeded_tokens(entry: i64) -> Vec<String> {
    reflections::Store::seeded()
        .generate(entry)
        .unwrap_or_else(|e| panic!("{e}"))
        .map_while(Result::ok)
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn generated_ts_client_against_reflections() {
    const SECRET: &str = "reflections-ts-test-secret-0123456789";
    let (listener, addr) = listen().await;
    let mut config = reflections::Config::new(SECRET);
    config.token_interval = std::time::Duration::ZERO;
    let (router, server) = reflections::app(config).unwrap_or_else(|e| panic!("{e}"));
    let serving = tokio::spawn(reflections::serve(
        listener,
        router,
        server,
        std::future::pending::<()>(),
    ));
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
        addr,
        SECRET,
        &[("WSAUTH_EXPECTED", expected.to_string())],
    )
    .await;
    serving.abort();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn generated_ts_client_against_mcp_status() {
    const SECRET: &str = "mcp-status-ts-test-secret-0123456789";
    let (listener, addr) = listen().await;
    let config = mcp_status::Config::new(SECRET);
    let board = config.board.clone();
    let (router, server) = mcp_status::app(config).unwrap_or_else(|e| panic!("{e}"));
    let hook = Router::new().route(
        "/__test/postgres-down",
        get(move || {
            let board = board.clone();
            async move {
                board
                    .set_state("postgres", mcp_status::schemas::State::Down, None)
                    .unwrap_or_else(|e| panic!("{e}"));
                board
                    .health(
                        "postgres",
                        mcp_status::messages::HealthEventLevel::Critical,
                        "replica lag",
                    )
                    .unwrap_or_else(|e| panic!("{e}"));
                "postgres is down"
            }
        }),
    );
    let serving = tokio::spawn(mcp_status::serve(
        listener,
        router.merge(hook),
        server,
        std::future::pending::<()>(),
    ));
    run_script("mcp-status", addr, SECRET, &[]).await;
    serving.abort();
}
