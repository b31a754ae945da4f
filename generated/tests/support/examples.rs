//! Each example in-process on 127.0.0.1:0 with [`SECRET`], configured as
//! the clients' scenarios (Rust and TypeScript alike) expect, served by the
//! example's own `serve` until the returned [`Serving`] is dropped (which
//! also aborts the serving task, so no server outlives its test).

use std::net::SocketAddr;
use std::time::Duration;

use mcp_status::StatusBoard;
pub use wsauth_example_support::testing::Serving;
use wsauth_example_support::testing::{loopback, serve_listener, serve_on_loopback};

use super::SECRET;

/// prsm's router and server for `addr`: [`SECRET`], the origin
/// `http://<addr>` allowed, and the seeded configuration changed by
/// `configure`.
pub fn prsm_app(
    addr: SocketAddr,
    configure: impl FnOnce(prsm::Config) -> prsm::Config,
) -> (axum::Router, wsauth_core::WsAuth) {
    let mut config = prsm::Config::new(SECRET);
    config.allowed_origins = vec![format!("http://{addr}")];
    prsm::app(configure(config)).unwrap_or_else(|e| panic!("prsm: {e}"))
}

/// prsm ([`prsm_app`]) with `extra` routes (a test page, say) merged into
/// its router.
pub async fn start_prsm(
    configure: impl FnOnce(prsm::Config) -> prsm::Config,
    extra: axum::Router,
) -> Serving {
    let (listener, addr) = loopback().await;
    let (router, server) = prsm_app(addr, configure);
    serve_listener(listener, router.merge(extra), server).abort_on_drop()
}

/// Active songnodes users whose ids hold the characters an email address
/// or a URN brings into a path segment (`@`, `:`, `+`).
pub const EMAIL_LIKE_USERS: [&str; 3] = [
    "alice+ws@example.com",
    "urn:user:1",
    "o'brien!(ops)@example.com",
];

/// songnodes with its seeded store and [`EMAIL_LIKE_USERS`].
pub async fn start_songnodes() -> Serving {
    let mut config = songnodes::Config::new(SECRET);
    for user in EMAIL_LIKE_USERS {
        config.store = config.store.user(user, true);
    }
    let (router, server) = songnodes::app(config).unwrap_or_else(|e| panic!("songnodes: {e}"));
    serve_on_loopback(router, server).await.abort_on_drop()
}

/// shipvox with its seeded accounts (password `password`).
pub async fn start_shipvox() -> Serving {
    // Hashing the seeded passwords takes a while: off the runtime.
    let app = tokio::task::spawn_blocking(|| shipvox::app(shipvox::Config::new(SECRET)))
        .await
        .unwrap_or_else(|e| panic!("{e}"))
        .unwrap_or_else(|e| panic!("shipvox: {e}"));
    serve_on_loopback(app.router, app.server)
        .await
        .abort_on_drop()
}

/// A reflections entry whose look-up fails (the store's fault hook).
pub const UNAVAILABLE_ENTRY: i64 = 13;

/// reflections streaming without delay between tokens, with
/// [`UNAVAILABLE_ENTRY`] failing.
pub async fn start_reflections() -> Serving {
    let mut config = reflections::Config::new(SECRET);
    config.store = reflections::Store::seeded().unavailable_entry(UNAVAILABLE_ENTRY);
    config.token_interval = Duration::ZERO;
    let (router, server) = reflections::app(config).unwrap_or_else(|e| panic!("reflections: {e}"));
    serve_on_loopback(router, server).await.abort_on_drop()
}

/// The seeded text of reflections' `entry`, token by token.
pub fn seeded_tokens(entry: i64) -> Vec<String> {
    reflections::Store::seeded()
        .generate(entry)
        .unwrap_or_else(|e| panic!("{e}"))
        .map_while(Result::ok)
        .collect()
}

/// mcp-status with its seeded board, changed by `configure`, and the routes
/// `extra` makes for its board merged into its router; the board, to
/// drive.
pub async fn start_mcp_status(
    configure: impl FnOnce(mcp_status::Config) -> mcp_status::Config,
    extra: impl FnOnce(&StatusBoard) -> axum::Router,
) -> (Serving, StatusBoard) {
    let config = configure(mcp_status::Config::new(SECRET));
    let board = config.board.clone();
    let (router, server) = mcp_status::app(config).unwrap_or_else(|e| panic!("mcp-status: {e}"));
    let serving = serve_on_loopback(router.merge(extra(&board)), server)
        .await
        .abort_on_drop();
    (serving, board)
}

/// What the mcp-status scenarios watch: postgres goes down (from degraded),
/// then a critical `replica lag` health event.
pub async fn postgres_down(board: &StatusBoard) {
    board
        .set_state("postgres", mcp_status::schemas::State::Down, None)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    board
        .health(
            "postgres",
            mcp_status::messages::HealthEventLevel::Critical,
            "replica lag",
        )
        .await
        .unwrap_or_else(|e| panic!("{e}"));
}
