//! Shared helpers: the app on 127.0.0.1:0, HS256 tokens minted with
//! `jsonwebtoken`, a WebSocket client, a tiny HTTP client.

use serde_json::{Value, json};

/// The shared harness; what is defined below is this example's own.
pub(crate) use wsauth_example_support::testing::*;

/// The server's HS256 secret in tests.
pub(crate) const SECRET: &[u8] = b"prsm-e2e-secret-0123456789-abcdefghij";
/// A conversation whose look-up fails (the store's fault hook).
pub(crate) const FAULTY_CONVERSATION: i64 = 13;
/// An allowed origin (one of the defaults).
pub(crate) const ORIGIN: &str = "http://127.0.0.1:8000";

/// A running app, stopped by `App::stop` (`prsm::serve` returns).
pub(crate) type App = Serving;

fn test_config() -> prsm::Config {
    let mut config = prsm::Config::new(SECRET);
    config.store = prsm::Store::seeded().unavailable_conversation(FAULTY_CONVERSATION);
    config
}

/// The app with the test configuration, served by `prsm::serve`.
pub(crate) async fn start() -> App {
    start_with(|c| c).await
}

/// The app with the test configuration changed by `configure`.
pub(crate) async fn start_with(configure: impl FnOnce(prsm::Config) -> prsm::Config) -> App {
    let (router, server) = prsm::app(configure(test_config())).unwrap_or_else(|e| panic!("{e}"));
    serve_on_loopback(router, server).await
}

/// A valid token for `sub` with `roles`.
pub(crate) fn tok(sub: &str, roles: &[&str]) -> Tok {
    let now = now();
    let claims = json!({
        "sub": sub, "iat": now, "exp": now + 600, "iss": "prsm", "aud": "prsm-ws", "roles": roles,
    });
    Tok::new(claims, SECRET)
}

/// A valid token for `sub` with `roles`, minted.
pub(crate) fn token(sub: &str, roles: &[&str]) -> String {
    tok(sub, roles).mint()
}

/// Expects the `connected` welcome for `user` on `endpoint`.
pub(crate) async fn expect_welcome(client: &mut Client, user: &str, endpoint: &str) -> Value {
    let welcome = next_json(client).await;
    assert_eq!(welcome["type"], "connected", "{welcome}");
    assert_eq!(welcome["user_id"], user, "{welcome}");
    assert_eq!(welcome["endpoint"], endpoint, "{welcome}");
    welcome
}
