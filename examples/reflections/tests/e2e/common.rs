//! Shared helpers: the app on 127.0.0.1:0, HS256 tokens minted with
//! `jsonwebtoken`, a WebSocket client that reads until the close.

use std::net::SocketAddr;
use std::time::Duration;

use serde_json::json;

/// The shared harness; what is defined below is this example's own.
pub(crate) use wsauth_example_support::testing::*;

/// The server's HS256 secret in tests.
pub(crate) const SECRET: &[u8] = b"reflections-e2e-secret-0123456789-abcdef";
/// An entry whose look-up fails (the store's fault hook).
pub(crate) const UNAVAILABLE_ENTRY: i64 = 13;

pub(crate) const DONE: (u16, &str) = (1000, "done");
pub(crate) const SERVER_ERROR: (u16, &str) = (1011, "server error");
pub(crate) const AUTH_REQUIRED: (u16, &str) = (4001, "authentication required");
pub(crate) const AUTH_FAILED: (u16, &str) = (4001, "invalid or expired token");
pub(crate) const USER_INACTIVE: (u16, &str) = (4002, "user inactive");
pub(crate) const FORBIDDEN: (u16, &str) = (4003, "forbidden");
pub(crate) const NOT_FOUND: (u16, &str) = (4004, "entry not found");

/// A running app; dropping it stops the server at once.
pub(crate) type App = Serving;

/// The seeded store, with entry [`UNAVAILABLE_ENTRY`]'s backend down, and
/// no pause between tokens.
pub(crate) fn test_config() -> reflections::Config {
    let mut config = reflections::Config::new(SECRET);
    config.store = reflections::Store::seeded().unavailable_entry(UNAVAILABLE_ENTRY);
    config.token_interval = Duration::ZERO;
    config
}

/// The app with the test configuration, served by `reflections::serve`.
pub(crate) async fn start() -> App {
    start_with(|c| c).await
}

/// The app with the test configuration changed by `configure`.
pub(crate) async fn start_with(
    configure: impl FnOnce(reflections::Config) -> reflections::Config,
) -> App {
    let (router, server) =
        reflections::app(configure(test_config())).unwrap_or_else(|e| panic!("{e}"));
    serve_on_loopback(router, server).await.abort_on_drop()
}

/// A valid token for `sub` with `roles`.
pub(crate) fn tok(sub: &str, roles: &[&str]) -> Tok {
    let now = now();
    let claims = json!({
        "sub": sub, "iat": now, "exp": now + 600,
        "iss": "reflections", "aud": "reflections-ws", "roles": roles,
    });
    Tok::new(claims, SECRET)
}

/// A valid token for `sub` with `roles`, minted.
pub(crate) fn token(sub: &str, roles: &[&str]) -> String {
    tok(sub, roles).mint()
}

/// The entry's endpoint path, with `token` in the query when given.
pub(crate) fn entry_path(entry: &str, token: Option<&str>) -> String {
    match token {
        Some(token) => format!("/ws/reflections/{entry}?token={token}"),
        None => format!("/ws/reflections/{entry}"),
    }
}

/// Connects to entry `entry` as `sub` (role `user`), token in the query.
pub(crate) async fn connect_to(addr: SocketAddr, entry: &str, sub: &str) -> Client {
    let path = entry_path(entry, Some(&token(sub, &["user"])));
    connect(ws(addr, &path)).await
}

/// The reflection on `entry` of the seeded store, as tokens.
pub(crate) fn seeded_tokens(entry: i64) -> Vec<String> {
    reflections::Store::seeded()
        .generate(entry)
        .unwrap_or_else(|e| panic!("{e}"))
        .map_while(Result::ok)
        .collect()
}
