//! Shared helpers: the app on 127.0.0.1:0, tokens from `/token` or minted
//! with `jsonwebtoken`, a WebSocket client with `?token=`, an HTTP client.

use std::net::SocketAddr;
use std::time::Duration;

use futures_util::StreamExt;
use serde_json::{Value, json};
use tokio_tungstenite::tungstenite::Message;
use wsauth_core::WsAuth;

/// The shared harness; what is defined below is this example's own.
pub(crate) use wsauth_example_support::testing::*;

/// The server's HS256 secret in tests.
pub(crate) const SECRET: &[u8] = b"shipvox-e2e-secret-0123456789-abcdefghij";

/// A running app.
pub(crate) struct App {
    pub(crate) addr: SocketAddr,
    pub(crate) server: WsAuth,
    pub(crate) dev_token: Option<String>,
    /// Dropped with the app: stops the server at once.
    _serving: Serving,
}

impl App {
    pub(crate) fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }
}

/// The app with the default configuration (OWASP-minimum argon2id, 5
/// attempts per 15 minutes).
pub(crate) async fn start() -> App {
    start_with(|c| c).await
}

/// The app with its configuration changed by `configure`.
pub(crate) async fn start_with(configure: impl FnOnce(shipvox::Config) -> shipvox::Config) -> App {
    let config = configure(shipvox::Config::new(SECRET));
    let built = tokio::task::spawn_blocking(move || shipvox::app(config))
        .await
        .unwrap_or_else(|e| panic!("{e}"))
        .unwrap_or_else(|e| panic!("{e}"));
    let serving = serve_on_loopback(built.router, built.server)
        .await
        .abort_on_drop();
    App {
        addr: serving.addr,
        server: serving.server.clone(),
        dev_token: built.dev_token,
        _serving: serving,
    }
}

/// The claims of a valid token for `sub` with `roles`: 10 minutes,
/// `iss: shipvox`, `aud: shipvox-ws`.
pub(crate) fn claims(sub: &str, roles: &[&str]) -> Value {
    let now = now();
    json!({
        "sub": sub, "iat": now, "exp": now + 600, "iss": "shipvox", "aud": "shipvox-ws", "roles": roles,
    })
}

/// A valid token for `sub` with `roles`, minted with [`SECRET`].
pub(crate) fn token(sub: &str, roles: &[&str]) -> String {
    sign(&claims(sub, roles), SECRET)
}

/// The JSON payload of a JWT (not verified).
pub(crate) fn payload(token: &str) -> Value {
    use base64::Engine as _;
    let part = token.split('.').nth(1).unwrap_or_default();
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(part)
        .unwrap_or_else(|e| panic!("{e}"));
    serde_json::from_slice(&bytes).unwrap_or_else(|e| panic!("{e}"))
}

/// Connects to `/ws?token=...`.
pub(crate) async fn connect_with(addr: SocketAddr, token: &str) -> Client {
    connect(ws(addr, &format!("/ws?token={token}"))).await
}

/// Whether nothing arrives within `wait`.
pub(crate) async fn quiet_for(client: &mut Client, wait: Duration) -> bool {
    loop {
        match tokio::time::timeout(wait, client.next()).await {
            Err(_) => return true,
            Ok(Some(Ok(Message::Ping(_) | Message::Pong(_)))) => {}
            Ok(_) => return false,
        }
    }
}

/// Expects the `connected` welcome for `user`; returns it.
pub(crate) async fn expect_welcome(client: &mut Client, user: &str) -> Value {
    let welcome = next_json(client).await;
    assert_eq!(welcome["type"], "connected", "{welcome}");
    assert_eq!(welcome["user_id"], user, "{welcome}");
    welcome
}

/// An HTTP answer: status, headers (lower-case names), body.
#[derive(Debug)]
pub(crate) struct Answer {
    pub(crate) status: u16,
    pub(crate) headers: reqwest::header::HeaderMap,
    pub(crate) body: String,
}

impl Answer {
    pub(crate) fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    pub(crate) fn json(&self) -> Value {
        serde_json::from_str(&self.body).unwrap_or_else(|e| panic!("{e}: {}", self.body))
    }
}

/// `POST /token` with `body` as `content_type`.
pub(crate) async fn post_token_raw(app: &App, content_type: &str, body: String) -> Answer {
    let response = reqwest::Client::new()
        .post(app.url("/token"))
        .header("content-type", content_type)
        .body(body)
        .send()
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let status = response.status().as_u16();
    let headers = response.headers().clone();
    let body = response.text().await.unwrap_or_else(|e| panic!("{e}"));
    Answer {
        status,
        headers,
        body,
    }
}

/// `POST /token` with the password grant for `username` and `password`.
pub(crate) async fn post_token(app: &App, username: &str, password: &str) -> Answer {
    let enc = |s: &str| {
        percent_encoding::utf8_percent_encode(s, percent_encoding::NON_ALPHANUMERIC).to_string()
    };
    let body = format!(
        "grant_type=password&username={}&password={}",
        enc(username),
        enc(password)
    );
    post_token_raw(app, "application/x-www-form-urlencoded", body).await
}

/// A token from `/token` for a seeded user.
pub(crate) async fn sign_in(app: &App, username: &str) -> String {
    let answer = post_token(app, username, "password").await;
    assert_eq!(answer.status, 200, "{answer:?}");
    answer.json()["access_token"]
        .as_str()
        .unwrap_or_else(|| panic!("no access_token: {answer:?}"))
        .to_owned()
}

/// `GET path`.
pub(crate) async fn get(app: &App, path: &str) -> Answer {
    let response = reqwest::get(app.url(path))
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let status = response.status().as_u16();
    let headers = response.headers().clone();
    let body = response.text().await.unwrap_or_else(|e| panic!("{e}"));
    Answer {
        status,
        headers,
        body,
    }
}
