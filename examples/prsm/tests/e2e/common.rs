//! Shared helpers: the app on 127.0.0.1:0, HS256 tokens minted with
//! `jsonwebtoken`, a WebSocket client, a tiny HTTP client.

use std::net::SocketAddr;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use futures_util::StreamExt;
use jsonwebtoken::{Algorithm, EncodingKey, Header, encode};
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::handshake::client::Request;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};
use wsauth_core::WsAuth;

/// The server's HS256 secret in tests.
pub(crate) const SECRET: &[u8] = b"prsm-e2e-secret-0123456789-abcdefghij";
/// A conversation whose look-up fails (the store's fault hook).
pub(crate) const FAULTY_CONVERSATION: i64 = 13;
/// An allowed origin (one of the defaults).
pub(crate) const ORIGIN: &str = "http://127.0.0.1:8000";

pub(crate) type Client = WebSocketStream<MaybeTlsStream<TcpStream>>;

/// A running app.
pub(crate) struct App {
    pub(crate) addr: SocketAddr,
    pub(crate) server: WsAuth,
    stop: Option<oneshot::Sender<()>>,
    serving: Option<JoinHandle<std::io::Result<()>>>,
}

impl App {
    /// Sends the shutdown signal and waits for `prsm::serve` to return.
    pub(crate) async fn stop(&mut self) -> std::io::Result<()> {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        match self.serving.take() {
            Some(serving) => serving.await.unwrap_or_else(|e| panic!("{e}")),
            None => Ok(()),
        }
    }
}

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
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let addr = listener.local_addr().unwrap_or_else(|e| panic!("{e}"));
    let (stop, stopped) = oneshot::channel::<()>();
    let signal = async move {
        let _ = stopped.await;
    };
    let serving = tokio::spawn(prsm::serve(listener, router, server.clone(), signal));
    App {
        addr,
        server,
        stop: Some(stop),
        serving: Some(serving),
    }
}

/// Waits (at most 5 s) until the server counts `n` open connections; a
/// connection counts until its close handshake has finished.
pub(crate) async fn wait_for_active(server: &WsAuth, n: usize) {
    for _ in 0..250 {
        if server.stats().active_connections == n {
            return;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(server.stats().active_connections, n, "open connections");
}

pub(crate) fn now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
}

/// A token to mint: valid for 10 minutes, `iss: prsm`, `aud: prsm-ws`,
/// HS256 with [`SECRET`], until changed.
#[derive(Clone)]
pub(crate) struct Tok {
    claims: serde_json::Map<String, Value>,
    alg: Algorithm,
    secret: Vec<u8>,
}

/// A valid token for `sub` with `roles`.
pub(crate) fn tok(sub: &str, roles: &[&str]) -> Tok {
    let now = now();
    let claims = json!({
        "sub": sub, "iat": now, "exp": now + 600, "iss": "prsm", "aud": "prsm-ws", "roles": roles,
    });
    Tok {
        claims: claims.as_object().cloned().unwrap_or_default(),
        alg: Algorithm::HS256,
        secret: SECRET.to_vec(),
    }
}

/// A valid token for `sub` with `roles`, minted.
pub(crate) fn token(sub: &str, roles: &[&str]) -> String {
    tok(sub, roles).mint()
}

impl Tok {
    /// Sets (or replaces) a claim.
    pub(crate) fn set(mut self, claim: &str, value: Value) -> Self {
        self.claims.insert(claim.to_owned(), value);
        self
    }

    /// Removes a claim.
    pub(crate) fn without(mut self, claim: &str) -> Self {
        self.claims.remove(claim);
        self
    }

    /// Expires `secs` seconds from now (negative: in the past).
    pub(crate) fn expires_in(self, secs: i64) -> Self {
        self.set("exp", json!(now() + secs))
    }

    /// Signs with another secret.
    pub(crate) fn secret(mut self, secret: &[u8]) -> Self {
        self.secret = secret.to_vec();
        self
    }

    /// Signs with another algorithm.
    pub(crate) fn alg(mut self, alg: Algorithm) -> Self {
        self.alg = alg;
        self
    }

    pub(crate) fn mint(&self) -> String {
        encode(
            &Header::new(self.alg),
            &self.claims,
            &EncodingKey::from_secret(&self.secret),
        )
        .unwrap_or_else(|e| panic!("{e}"))
    }
}

/// A handshake request for `path`.
pub(crate) fn ws(addr: SocketAddr, path: &str) -> Request {
    format!("ws://{addr}{path}")
        .into_client_request()
        .unwrap_or_else(|e| panic!("{e}"))
}

/// `request` with header `name: value` added.
pub(crate) fn with(mut request: Request, name: &'static str, value: &str) -> Request {
    let value = value.parse().unwrap_or_else(|e| panic!("{e}"));
    request.headers_mut().append(name, value);
    request
}

/// `request` with `Authorization: Bearer token`.
pub(crate) fn bearer(request: Request, token: &str) -> Request {
    with(request, "authorization", &format!("Bearer {token}"))
}

pub(crate) async fn connect(request: Request) -> Client {
    let (client, _) = tokio_tungstenite::connect_async(request)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    client
}

/// Connects to `path` with `token` in the `Authorization` header.
pub(crate) async fn connect_as(addr: SocketAddr, path: &str, token: &str) -> Client {
    connect(bearer(ws(addr, path), token)).await
}

/// Reads until the close frame, then completes the close handshake: the
/// data messages seen before it, and the close code and reason (`None` when
/// the socket ended without one, or nothing came within `wait`).
pub(crate) async fn until_close_within(
    client: &mut Client,
    wait: Duration,
) -> (Vec<Value>, Option<(u16, String)>) {
    let mut seen = Vec::new();
    let read = async {
        while let Some(frame) = client.next().await {
            match frame {
                Ok(Message::Text(t)) => {
                    seen.push(serde_json::from_str(t.as_str()).unwrap_or(Value::Null));
                }
                Ok(Message::Binary(b)) => seen.push(json!({ "binary": b.len() })),
                Ok(Message::Close(frame)) => {
                    return frame.map(|f| (u16::from(f.code), f.reason.to_string()));
                }
                Ok(_) => {}
                Err(_) => return None,
            }
        }
        None
    };
    let close = tokio::time::timeout(wait, read).await.unwrap_or(None);
    // Keep polling so the client's reply to the close frame goes out and the
    // server sees the close handshake complete (as a browser would).
    if close.is_some() {
        let finish = async { while client.next().await.is_some() {} };
        let _ = tokio::time::timeout(Duration::from_secs(1), finish).await;
    }
    (seen, close)
}

pub(crate) async fn until_close(client: &mut Client) -> (Vec<Value>, Option<(u16, String)>) {
    until_close_within(client, Duration::from_secs(10)).await
}

/// The next data message, as JSON (pings skipped); panics on anything else.
pub(crate) async fn next_json(client: &mut Client) -> Value {
    loop {
        let frame = tokio::time::timeout(Duration::from_secs(5), client.next()).await;
        match frame {
            Ok(Some(Ok(Message::Text(t)))) => {
                return serde_json::from_str(t.as_str()).unwrap_or_else(|e| panic!("{e}: {t}"));
            }
            Ok(Some(Ok(Message::Ping(_) | Message::Pong(_)))) => {}
            other => panic!("expected a text message, got {other:?}"),
        }
    }
}

/// Whether nothing arrives within `wait` (the connection stays quiet and open).
pub(crate) async fn quiet_for(client: &mut Client, wait: Duration) -> bool {
    tokio::time::timeout(wait, client.next()).await.is_err()
}

/// Sends `value` as a text frame.
pub(crate) async fn send_json(client: &mut Client, value: Value) {
    send_text(client, value.to_string()).await;
}

pub(crate) async fn send_text(client: &mut Client, text: impl Into<String>) {
    use futures_util::SinkExt;
    client
        .send(Message::text(text.into()))
        .await
        .unwrap_or_else(|e| panic!("{e}"));
}

/// Connects with `request` and expects an immediate close: returns its code
/// and reason, after checking that no data message came first.
pub(crate) async fn rejected(request: Request) -> (u16, String) {
    let path = request.uri().to_string();
    let mut client = connect(request).await;
    let (seen, close) = until_close(&mut client).await;
    assert!(
        seen.is_empty(),
        "a rejected client receives nothing ({path}): {seen:?}"
    );
    close.unwrap_or_else(|| panic!("no close frame for {path}"))
}

/// Expects the `connected` welcome for `user` on `endpoint`.
pub(crate) async fn expect_welcome(client: &mut Client, user: &str, endpoint: &str) -> Value {
    let welcome = next_json(client).await;
    assert_eq!(welcome["type"], "connected", "{welcome}");
    assert_eq!(welcome["user_id"], user, "{welcome}");
    assert_eq!(welcome["endpoint"], endpoint, "{welcome}");
    welcome
}

/// An HTTP response, as read off the socket.
#[derive(Debug)]
pub(crate) struct HttpResponse {
    pub(crate) status: u16,
    pub(crate) headers: Vec<(String, String)>,
    pub(crate) body: String,
}

impl HttpResponse {
    pub(crate) fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    pub(crate) fn json(&self) -> Value {
        serde_json::from_str(&self.body).unwrap_or_else(|e| panic!("{e}: {}", self.body))
    }
}

/// `GET path` over a fresh TCP connection, with an optional bearer token.
pub(crate) async fn http_get(addr: SocketAddr, path: &str, token: Option<&str>) -> HttpResponse {
    let mut stream = TcpStream::connect(addr)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let auth = token.map_or(String::new(), |t| format!("Authorization: Bearer {t}\r\n"));
    let request = format!("GET {path} HTTP/1.1\r\nHost: {addr}\r\n{auth}Connection: close\r\n\r\n");
    stream
        .write_all(request.as_bytes())
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let mut raw = Vec::new();
    tokio::time::timeout(Duration::from_secs(5), stream.read_to_end(&mut raw))
        .await
        .unwrap_or_else(|e| panic!("{e}"))
        .unwrap_or_else(|e| panic!("{e}"));
    let text = String::from_utf8(raw).unwrap_or_else(|e| panic!("{e}"));
    let (head, body) = text
        .split_once("\r\n\r\n")
        .unwrap_or_else(|| panic!("no header end: {text}"));
    let mut lines = head.split("\r\n");
    let status = lines
        .next()
        .and_then(|l| l.split(' ').nth(1))
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("bad status line: {head}"));
    let headers: Vec<(String, String)> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(n, v)| (n.trim().to_owned(), v.trim().to_owned()))
        .collect();
    let chunked = headers
        .iter()
        .any(|(n, v)| n.eq_ignore_ascii_case("transfer-encoding") && v.contains("chunked"));
    let body = if chunked {
        dechunk(body)
    } else {
        body.to_owned()
    };
    HttpResponse {
        status,
        headers,
        body,
    }
}

fn dechunk(mut body: &str) -> String {
    let mut out = String::new();
    while let Some((size, rest)) = body.split_once("\r\n") {
        let size = usize::from_str_radix(size.trim(), 16).unwrap_or(0);
        if size == 0 || rest.len() < size {
            break;
        }
        out.push_str(&rest[..size]);
        body = rest[size..].trim_start_matches("\r\n");
    }
    out
}
