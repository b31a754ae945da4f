//! Shared helpers: the app (and the introspection service) on
//! 127.0.0.1:0, HS256 tokens minted with `jsonwebtoken`, a WebSocket
//! client, a tiny HTTP client.

use std::net::SocketAddr;
use std::time::Duration;

use mcp_status::{Config, IntrospectionConfig, IntrospectionService, StatusBoard, Users};
use serde_json::{Value, json};
use tokio::task::JoinHandle;
use tokio_tungstenite::tungstenite::handshake::client::Request;
use wsauth_core::WsAuth;

/// The shared harness; what is defined below is this example's own.
pub(crate) use wsauth_example_support::testing::*;

/// The HS256 secret of the app and the introspection service in tests.
pub(crate) const SECRET: &[u8] = b"mcp-status-e2e-secret-0123456789-abcdef";
/// The endpoint's path.
pub(crate) const PATH: &str = "/ws/mcp-status";

/// A running app.
pub(crate) struct App {
    pub(crate) addr: SocketAddr,
    #[allow(dead_code)]
    pub(crate) server: WsAuth,
    /// The board the app serves (shared with it).
    pub(crate) board: StatusBoard,
    /// Dropped with the app: sends the shutdown signal.
    _serving: Serving,
}

/// The app with the default test configuration (local JWT only).
pub(crate) async fn start() -> App {
    start_with(|c| c).await
}

/// The app with its configuration changed by `configure`.
pub(crate) async fn start_with(configure: impl FnOnce(Config) -> Config) -> App {
    let config = configure(Config::new(SECRET));
    let board = config.board.clone();
    let (router, server) = mcp_status::app(config).unwrap_or_else(|e| panic!("{e}"));
    let serving = serve_on_loopback(router, server).await;
    App {
        addr: serving.addr,
        server: serving.server.clone(),
        board,
        _serving: serving,
    }
}

/// The app asking the introspection service at `url` (the spec's `jwt`
/// fallback included).
pub(crate) async fn start_introspected(url: &str) -> App {
    let url = url.to_owned();
    start_with(move |mut c| {
        let mut introspection = IntrospectionConfig::new(url);
        introspection.timeout = Duration::from_secs(2);
        // The tests revoke tokens and expect the next handshake to see it.
        introspection.cache_active_for = Duration::ZERO;
        c.introspection = Some(introspection);
        c
    })
    .await
}

/// A running introspection service.
pub(crate) struct Service {
    pub(crate) addr: SocketAddr,
    pub(crate) service: IntrospectionService,
    _serving: JoinHandle<()>,
}

impl Service {
    /// Its RFC 7662 endpoint.
    pub(crate) fn url(&self) -> String {
        format!("http://{}/introspect", self.addr)
    }
}

/// `service` on 127.0.0.1:0.
pub(crate) async fn start_service(service: IntrospectionService) -> Service {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let addr = listener.local_addr().unwrap_or_else(|e| panic!("{e}"));
    let router = service.router();
    let serving = tokio::spawn(async move {
        let _ = axum::serve(listener, router).await;
    });
    Service {
        addr,
        service,
        _serving: serving,
    }
}

/// The example's introspection service, open to any caller.
pub(crate) async fn open_service() -> Service {
    start_service(IntrospectionService::new(SECRET).unwrap_or_else(|e| panic!("{e}"))).await
}

/// A loopback URL nothing listens on.
pub(crate) async fn unreachable_url() -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let addr = listener.local_addr().unwrap_or_else(|e| panic!("{e}"));
    drop(listener);
    format!("http://{addr}/introspect")
}

/// Users as seeded.
#[allow(dead_code)]
pub(crate) fn users() -> Users {
    Users::seeded()
}

/// A valid token for `sub` with the single `role`.
pub(crate) fn tok(sub: &str, role: &str) -> Tok {
    let now = now();
    let claims = json!({
        "sub": sub, "iat": now, "exp": now + 600,
        "iss": "mcp-status", "aud": "mcp-status-ws", "role": role,
    });
    Tok::new(claims, SECRET)
}

/// A valid token for `sub` with `role`, minted.
pub(crate) fn token(sub: &str, role: &str) -> String {
    tok(sub, role).mint()
}

/// A handshake request for the endpoint with `Authorization: Bearer token`.
pub(crate) fn bearer(addr: SocketAddr, token: &str) -> Request {
    let mut request = ws(addr, PATH);
    let value = format!("Bearer {token}")
        .parse()
        .unwrap_or_else(|e| panic!("{e}"));
    request.headers_mut().append("authorization", value);
    request
}

/// Connects to the endpoint with `token` in the `Authorization` header.
pub(crate) async fn connect_as(addr: SocketAddr, token: &str) -> Client {
    connect(bearer(addr, token)).await
}

/// Expects `initial_status` and returns it.
pub(crate) async fn expect_initial_status(client: &mut Client) -> Value {
    let welcome = next_json(client).await;
    assert_eq!(welcome["type"], "initial_status", "{welcome}");
    assert!(welcome["mcps"].is_array(), "{welcome}");
    welcome
}

/// Connects as `token` and expects to be admitted (`initial_status` first).
pub(crate) async fn admitted(addr: SocketAddr, token: &str) -> Client {
    let mut client = connect_as(addr, token).await;
    expect_initial_status(&mut client).await;
    client
}

/// `POST path` with a form body over a fresh TCP connection, with extra
/// header lines (each ending in CRLF).
pub(crate) async fn http_post(
    addr: SocketAddr,
    path: &str,
    form: &str,
    headers: &str,
) -> HttpResponse {
    let head = format!(
        "POST {path} HTTP/1.1\r\nContent-Type: application/x-www-form-urlencoded\r\n{headers}"
    );
    http_request(addr, &head, form).await
}
