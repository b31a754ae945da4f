//! The test harness every example's end-to-end tests share (feature
//! `testing`).
//!
//! Each example replays its scenarios over real sockets: it mints HS256
//! tokens, opens WebSocket handshakes with a header, subprotocols, a query
//! or an origin, reads until the close frame and checks that a refused
//! client received nothing before it. That plumbing is the same for every
//! example, so it lives here once; what differs (how each app starts, its
//! default claims, its welcome) stays in each example's `tests/e2e/common.rs`,
//! built on these helpers. Everything here panics on failure: it is test code.

use std::net::SocketAddr;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use futures_util::{SinkExt, StreamExt};
pub use jsonwebtoken::Algorithm;
use jsonwebtoken::{EncodingKey, Header, encode};
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
pub use tokio_tungstenite::tungstenite::handshake::client::{Request, Response};
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};
use wsauth_core::WsAuth;

/// A test's WebSocket client.
pub type Client = WebSocketStream<MaybeTlsStream<TcpStream>>;

/// What a connection received: its data messages (as JSON; a text frame
/// that is not JSON as a JSON string, a binary frame as `{"binary": len}`),
/// then its close code and reason (`None` when the socket ended without one).
pub type Received = (Vec<Value>, Option<(u16, String)>);

/// Now, in Unix seconds.
pub fn now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
}

/// An app served by [`serve`](crate::serve) on 127.0.0.1 (an ephemeral
/// port) in a task of the test's runtime. Dropping it sends the shutdown
/// signal (and, after [`Serving::abort_on_drop`], aborts the task).
pub struct Serving {
    /// Where it listens.
    pub addr: SocketAddr,
    /// The server handle (stats, shutdown).
    pub server: WsAuth,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    serving: Option<tokio::task::JoinHandle<std::io::Result<()>>>,
    abort_on_drop: bool,
}

/// Serves `router` and `server` on 127.0.0.1 with [`serve`](crate::serve),
/// stopped by [`Serving::stop`].
pub async fn serve_on_loopback(router: axum::Router, server: WsAuth) -> Serving {
    let (listener, _) = loopback().await;
    serve_listener(listener, router, server)
}

/// A listener on 127.0.0.1 (an ephemeral port) and its address, for an app
/// that must know where it listens before it is built (its own origin
/// allowed, say); serve it with [`serve_listener`].
pub async fn loopback() -> (tokio::net::TcpListener, SocketAddr) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let addr = listener.local_addr().unwrap_or_else(|e| panic!("{e}"));
    (listener, addr)
}

/// Serves `router` and `server` on `listener` with [`serve`](crate::serve)
/// in a task of the test's runtime, stopped by [`Serving::stop`].
pub fn serve_listener(
    listener: tokio::net::TcpListener,
    router: axum::Router,
    server: WsAuth,
) -> Serving {
    let addr = listener.local_addr().unwrap_or_else(|e| panic!("{e}"));
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let signal = async move {
        let _ = stopped.await;
    };
    let serving = tokio::spawn(crate::serve(listener, router, server.clone(), signal));
    Serving {
        addr,
        server,
        stop: Some(stop),
        serving: Some(serving),
        abort_on_drop: false,
    }
}

impl Serving {
    /// `ws://127.0.0.1:<port>`.
    pub fn ws_url(&self) -> String {
        format!("ws://{}", self.addr)
    }

    /// `http://127.0.0.1:<port>` (also the app's own origin).
    pub fn http_url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Sends the shutdown signal and waits for [`serve`](crate::serve) to
    /// return.
    pub async fn stop(&mut self) -> std::io::Result<()> {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        match self.serving.take() {
            Some(serving) => serving.await.unwrap_or_else(|e| panic!("{e}")),
            None => Ok(()),
        }
    }

    /// Makes dropping it also abort the serving task, so no server outlives
    /// the test's use of it.
    #[must_use]
    pub fn abort_on_drop(mut self) -> Self {
        self.abort_on_drop = true;
        self
    }
}

impl Drop for Serving {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if self.abort_on_drop
            && let Some(serving) = self.serving.take()
        {
            serving.abort();
        }
    }
}

/// Waits (at most 5 s) until the server counts `n` open connections; a
/// connection counts until its close handshake has finished.
pub async fn wait_for_active(server: &WsAuth, n: usize) {
    for _ in 0..250 {
        if server.stats().active_connections == n {
            return;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(server.stats().active_connections, n, "open connections");
}

/// A token to mint: the claims and secret given to [`Tok::new`], HS256,
/// until changed.
#[derive(Clone)]
pub struct Tok {
    claims: serde_json::Map<String, Value>,
    alg: Algorithm,
    secret: Vec<u8>,
}

/// The claims and algorithm; of the secret, only its length.
impl std::fmt::Debug for Tok {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Tok")
            .field("claims", &self.claims)
            .field("alg", &self.alg)
            .field("secret", &crate::Redacted(&self.secret))
            .finish()
    }
}

impl Tok {
    /// A token with `claims` (a JSON object; anything else gives no claims)
    /// signed HS256 with `secret`.
    pub fn new(claims: Value, secret: &[u8]) -> Self {
        Self {
            claims: claims.as_object().cloned().unwrap_or_default(),
            alg: Algorithm::HS256,
            secret: secret.to_vec(),
        }
    }

    /// Sets (or replaces) a claim.
    #[must_use]
    pub fn set(mut self, claim: &str, value: Value) -> Self {
        self.claims.insert(claim.to_owned(), value);
        self
    }

    /// Removes a claim.
    #[must_use]
    pub fn without(mut self, claim: &str) -> Self {
        self.claims.remove(claim);
        self
    }

    /// Expires `secs` seconds from now (negative: in the past).
    #[must_use]
    pub fn expires_in(self, secs: i64) -> Self {
        self.set("exp", json!(now() + secs))
    }

    /// Signs with another secret.
    #[must_use]
    pub fn secret(mut self, secret: &[u8]) -> Self {
        self.secret = secret.to_vec();
        self
    }

    /// Signs with another algorithm (still with the HMAC secret).
    #[must_use]
    pub fn alg(mut self, alg: Algorithm) -> Self {
        self.alg = alg;
        self
    }

    /// The signed JWT.
    pub fn mint(&self) -> String {
        encode(
            &Header::new(self.alg),
            &self.claims,
            &EncodingKey::from_secret(&self.secret),
        )
        .unwrap_or_else(|e| panic!("{e}"))
    }
}

/// `claims` signed HS256 with `secret`.
pub fn sign(claims: &Value, secret: &[u8]) -> String {
    Tok::new(claims.clone(), secret).mint()
}

/// A handshake request for `path` (query included).
pub fn ws(addr: SocketAddr, path: &str) -> Request {
    format!("ws://{addr}{path}")
        .into_client_request()
        .unwrap_or_else(|e| panic!("{e}"))
}

/// `request` with header `name: value` added.
pub fn with(mut request: Request, name: &'static str, value: &str) -> Request {
    let value = value.parse().unwrap_or_else(|e| panic!("{e}"));
    request.headers_mut().append(name, value);
    request
}

/// `request` with `Authorization: Bearer token`.
pub fn bearer(request: Request, token: &str) -> Request {
    with(request, "authorization", &format!("Bearer {token}"))
}

/// `request` offering `protocols` (in order) in `Sec-WebSocket-Protocol`.
pub fn subprotocols(request: Request, protocols: &[&str]) -> Request {
    with(request, "sec-websocket-protocol", &protocols.join(", "))
}

/// `request` with `Origin: origin`.
pub fn origin(request: Request, origin: &str) -> Request {
    with(request, "origin", origin)
}

/// Connects; the client and the handshake response.
pub async fn open(request: Request) -> (Client, Response) {
    tokio_tungstenite::connect_async(request)
        .await
        .unwrap_or_else(|e| panic!("{e}"))
}

/// Connects with `request`.
pub async fn connect(request: Request) -> Client {
    open(request).await.0
}

/// Connects to `path` with `token` in the `Authorization` header.
pub async fn connect_as(addr: SocketAddr, path: &str, token: &str) -> Client {
    connect(bearer(ws(addr, path), token)).await
}

/// Reads until the close frame, then completes the close handshake: the
/// data messages seen before it, and the close code and reason (`None` when
/// the socket ended without one, or nothing came within `wait`).
pub async fn until_close_within(client: &mut Client, wait: Duration) -> Received {
    let (frames, close) = frames_until_close(client, wait).await;
    let seen = frames
        .into_iter()
        .filter_map(|frame| match frame {
            Message::Text(t) => Some(serde_json::from_str(t.as_str()).unwrap_or(json!(t.as_str()))),
            Message::Binary(b) => Some(json!({ "binary": b.len() })),
            _ => None,
        })
        .collect();
    (seen, close)
}

/// Like [`until_close`], for an endpoint that sends bare text: the text
/// frames verbatim (binary frames skipped), then the close.
pub async fn texts_until_close(client: &mut Client) -> (Vec<String>, Option<(u16, String)>) {
    let (frames, close) = frames_until_close(client, Duration::from_secs(10)).await;
    let texts = frames
        .into_iter()
        .filter_map(|frame| match frame {
            Message::Text(t) => Some(t.as_str().to_owned()),
            _ => None,
        })
        .collect();
    (texts, close)
}

/// The data frames read until the close frame (within `wait`), and the
/// close; then completes the close handshake.
async fn frames_until_close(
    client: &mut Client,
    wait: Duration,
) -> (Vec<Message>, Option<(u16, String)>) {
    let mut seen = Vec::new();
    let read = async {
        while let Some(frame) = client.next().await {
            match frame {
                Ok(Message::Close(frame)) => {
                    return frame.map(|f| (u16::from(f.code), f.reason.to_string()));
                }
                Ok(frame @ (Message::Text(_) | Message::Binary(_))) => seen.push(frame),
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

/// [`until_close_within`] 10 seconds.
pub async fn until_close(client: &mut Client) -> Received {
    until_close_within(client, Duration::from_secs(10)).await
}

/// Connects with `request` and expects an immediate close: returns its code
/// and reason, after checking that no data message came first.
pub async fn rejected(request: Request) -> (u16, String) {
    let path = request.uri().to_string();
    let mut client = connect(request).await;
    let (seen, close) = until_close(&mut client).await;
    assert!(
        seen.is_empty(),
        "a rejected client receives nothing ({path}): {seen:?}"
    );
    close.unwrap_or_else(|| panic!("no close frame for {path}"))
}

/// Connects with `request` and expects the upgrade to be refused with an
/// HTTP status (a disallowed `Origin`: 403): returns the status.
pub async fn refused_status(request: Request) -> u16 {
    let path = request.uri().to_string();
    match tokio_tungstenite::connect_async(request).await {
        Err(tokio_tungstenite::tungstenite::Error::Http(response)) => response.status().as_u16(),
        Err(e) => panic!("{path}: {e}"),
        Ok(_) => panic!("{path}: upgraded"),
    }
}

/// `(code, reason)` owned, to compare with what a client saw.
pub fn close(expected: (u16, &str)) -> (u16, String) {
    (expected.0, expected.1.to_owned())
}

/// The next text frame within 5 s (pings skipped); panics on anything else.
pub async fn next_text(client: &mut Client) -> String {
    loop {
        let frame = tokio::time::timeout(Duration::from_secs(5), client.next()).await;
        match frame {
            Ok(Some(Ok(Message::Text(t)))) => return t.as_str().to_owned(),
            Ok(Some(Ok(Message::Ping(_) | Message::Pong(_)))) => {}
            other => panic!("expected a text message, got {other:?}"),
        }
    }
}

/// The next data message, as JSON (pings skipped); panics on anything else.
pub async fn next_json(client: &mut Client) -> Value {
    let text = next_text(client).await;
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{e}: {text}"))
}

/// Whether nothing arrives within `wait` (the connection stays quiet and open).
pub async fn quiet_for(client: &mut Client, wait: Duration) -> bool {
    tokio::time::timeout(wait, client.next()).await.is_err()
}

/// Sends `value` as a text frame.
pub async fn send_json(client: &mut Client, value: Value) {
    send_text(client, value.to_string()).await;
}

/// Sends `text` as a text frame.
pub async fn send_text(client: &mut Client, text: impl Into<String>) {
    client
        .send(Message::text(text.into()))
        .await
        .unwrap_or_else(|e| panic!("{e}"));
}

/// An HTTP response, as read off the socket.
#[derive(Debug)]
pub struct HttpResponse {
    /// The status code.
    pub status: u16,
    /// The status line and header lines, as received.
    pub head: String,
    /// The headers, names as received.
    pub headers: Vec<(String, String)>,
    /// The body (de-chunked).
    pub body: String,
}

impl HttpResponse {
    /// The first header named `name` (any case).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// The body as JSON.
    pub fn json(&self) -> Value {
        serde_json::from_str(&self.body).unwrap_or_else(|e| panic!("{e}: {}", self.body))
    }
}

/// `GET path` over a fresh TCP connection, with an optional bearer token.
pub async fn http_get(addr: SocketAddr, path: &str, token: Option<&str>) -> HttpResponse {
    let auth = token.map_or(String::new(), |t| format!("Authorization: Bearer {t}\r\n"));
    http_request(addr, &format!("GET {path} HTTP/1.1\r\n{auth}"), "").await
}

/// `GET /metrics` at `addr` (a metrics listener, see
/// [`serve_metrics`](crate::metrics::serve_metrics)): checks the status, the
/// exposition format's content type and `no-store`, and returns the text.
pub async fn scrape(addr: SocketAddr) -> String {
    let response = http_get(addr, "/metrics", None).await;
    assert_eq!(response.status, 200, "{response:?}");
    assert_eq!(
        response.header("content-type"),
        Some("text/plain; version=0.0.4; charset=utf-8")
    );
    assert_eq!(response.header("cache-control"), Some("no-store"));
    response.body
}

/// The value of `series` (its name and labels exactly as rendered, e.g.
/// `wsauth_connections_open{endpoint="echo"}`) in scraped `text`.
pub fn sample(text: &str, series: &str) -> Option<f64> {
    text.lines()
        .filter_map(|line| line.rsplit_once(' '))
        .find(|(name, _)| *name == series)
        .and_then(|(_, value)| value.parse().ok())
}

/// Every label value in scraped `text` (as written, escapes and all).
pub fn label_values(text: &str) -> std::collections::BTreeSet<String> {
    let mut values = std::collections::BTreeSet::new();
    for line in text.lines().filter(|l| !l.starts_with('#')) {
        let Some((_, labels)) = line.split_once('{') else {
            continue;
        };
        let mut rest = labels;
        while let Some((_, after)) = rest.split_once("=\"") {
            let mut end = 0;
            let bytes = after.as_bytes();
            while end < bytes.len() && bytes[end] != b'"' {
                end += if bytes[end] == b'\\' { 2 } else { 1 };
            }
            values.insert(after[..end.min(after.len())].to_owned());
            rest = &after[(end + 1).min(after.len())..];
        }
    }
    values
}

/// Sends `head` (the request line and any header lines, each ending in
/// CRLF; `Host`, `Content-Length` when there is a body, and
/// `Connection: close` are added) and `body` over a fresh TCP connection,
/// and reads the whole response (within 5 s).
pub async fn http_request(addr: SocketAddr, head: &str, body: &str) -> HttpResponse {
    let mut stream = TcpStream::connect(addr)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let length = if body.is_empty() {
        String::new()
    } else {
        format!("Content-Length: {}\r\n", body.len())
    };
    let request = format!("{head}Host: {addr}\r\n{length}Connection: close\r\n\r\n{body}");
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
        head: head.to_owned(),
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

/// An example binary with the secret variable removed and `RUST_LOG=info`,
/// ready for arguments (`path` is `env!("CARGO_BIN_EXE_<name>")`).
pub fn binary(path: &str) -> std::process::Command {
    let mut command = std::process::Command::new(path);
    command
        .env_remove(crate::SECRET_ENV)
        .env("RUST_LOG", "info");
    command
}

/// Runs `command` to completion: its exit code (`None` when killed by a
/// signal) and its stderr.
pub fn output(command: &mut std::process::Command) -> (Option<i32>, String) {
    let output = command.output().unwrap_or_else(|e| panic!("{e}"));
    (
        output.status.code(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

/// Checks that `binary()` (with `--addr 127.0.0.1:0`) refuses to start
/// without the secret, and with a 10-byte one, whose value it does not echo.
pub fn assert_refuses_unusable_secrets(binary: impl Fn() -> std::process::Command) {
    let unset = binary()
        .args(["--addr", "127.0.0.1:0"])
        .output()
        .unwrap_or_else(|e| panic!("{e}"));
    let stderr = String::from_utf8_lossy(&unset.stderr);
    assert!(!unset.status.success());
    assert!(stderr.contains("WSAUTH_JWT_SECRET is not set"), "{stderr}");

    let short = binary()
        .args(["--addr", "127.0.0.1:0"])
        .env(crate::SECRET_ENV, "s3cr3t-XYZ")
        .output()
        .unwrap_or_else(|e| panic!("{e}"));
    let stderr = String::from_utf8_lossy(&short.stderr);
    assert!(!short.status.success());
    assert!(stderr.contains("WSAUTH_JWT_SECRET is 10 bytes"), "{stderr}");
    assert!(stderr.contains("at least 32"), "{stderr}");
    assert!(
        !stderr.contains("s3cr3t-XYZ"),
        "the secret is not echoed: {stderr}"
    );
}

/// A started example binary logging JSON lines to stderr.
#[derive(Debug)]
pub struct Spawned {
    /// The process.
    pub child: std::process::Child,
    /// Where it listens (from its start-up log line).
    pub addr: SocketAddr,
    /// Its stderr lines after the start-up line.
    pub lines: tokio::sync::mpsc::UnboundedReceiver<String>,
}

/// Spawns `command` (which must log JSON lines to stderr, `--log-json`) and
/// waits (at most 10 s a line) for the event whose message is `listening`,
/// reading the address from its `addr` field.
pub async fn spawn_listening(command: &mut std::process::Command, listening: &str) -> Spawned {
    use std::io::{BufRead, BufReader};
    let mut child = command
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("{e}"));
    let stderr = child.stderr.take().unwrap_or_else(|| panic!("no stderr"));
    let (lines_tx, mut lines) = tokio::sync::mpsc::unbounded_channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            let _ = lines_tx.send(line);
        }
    });
    let addr = loop {
        let line = tokio::time::timeout(Duration::from_secs(10), lines.recv())
            .await
            .unwrap_or_else(|e| panic!("no start-up line: {e}"))
            .unwrap_or_else(|| panic!("the binary exited"));
        let event: Value = serde_json::from_str(&line).unwrap_or_default();
        if event["fields"]["message"] == listening {
            let addr = event["fields"]["addr"].as_str().unwrap_or_default();
            break addr
                .parse::<SocketAddr>()
                .unwrap_or_else(|e| panic!("{e}: {line}"));
        }
    };
    Spawned { child, addr, lines }
}

impl Spawned {
    /// Sends SIGTERM (with `kill`).
    pub fn sigterm(&self) {
        let status = std::process::Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status()
            .unwrap_or_else(|e| panic!("{e}"));
        assert!(status.success());
    }

    /// Waits (at most 5 s) for the process to exit successfully (killing it
    /// otherwise), and returns the stderr lines it logged since start-up.
    pub async fn exits_cleanly(mut self) -> Vec<String> {
        let mut exited = None;
        for _ in 0..100 {
            if let Some(status) = self.child.try_wait().unwrap_or_else(|e| panic!("{e}")) {
                exited = Some(status);
                break;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        let Some(status) = exited else {
            let _ = self.child.kill();
            panic!("the binary did not exit after SIGTERM");
        };
        assert!(status.success(), "{status}");
        let mut log = Vec::new();
        while let Ok(line) = self.lines.try_recv() {
            log.push(line);
        }
        log
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_never_shows_the_secret() {
        let secret = b"tok-secret-0123456789abcdefghijklm";
        let tok = Tok::new(json!({"sub": "alice"}), secret);
        let as_bytes = format!("{:?}", &secret[..]);
        for shown in [format!("{tok:?}"), format!("{tok:#?}")] {
            assert!(shown.contains("alice"), "{shown}");
            assert!(shown.contains("<redacted 34 bytes>"), "{shown}");
            assert!(!shown.contains("tok-secret"), "{shown}");
            assert!(!shown.contains(&as_bytes[1..20]), "{shown}");
        }
    }
}
