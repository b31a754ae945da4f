//! The server under attack: floods before authentication, clients that
//! never finish what they start, frames that try to outrun the deadlines
//! and the limits, tokens that try to go backwards.
//!
//! Every server here is served with `WsAuth::serve` (see `common`), the
//! way the examples serve theirs, so its limits before authentication are
//! the ones under test.

mod common;

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use common::*;
use futures_util::SinkExt;
use serde_json::json;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpSocket, TcpStream};
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::protocol::frame::Frame;
use tokio_tungstenite::tungstenite::protocol::frame::coding::{Data, OpCode};
use wsauth_core::__private::descriptor::*;
use wsauth_core::ServerLimits;
use wsauth_core::spec::Access;
use wsauth_core::{BoxFuture, CheckContext, CheckOutcome, Checks, StoreError};

/// The room with no practical rate limit, so that floods meet the
/// deadlines rather than the limiter.
const UNLIMITED: EndpointDescriptor = EndpointDescriptor {
    limits: Limits {
        messages_per_second: 1_000_000,
        burst: 1_000_000,
        ..LIMITS
    },
    ..ROOM
};

/// An endpoint anyone may open without a token.
const LOBBY: EndpointDescriptor = EndpointDescriptor {
    name: "lobby",
    path: "/ws/lobby",
    params: &[],
    access: Access::Anonymous,
    perm: None,
    checks: &[],
    ..ROOM
};

static UNLIMITED_API: ApiDescriptor = ApiDescriptor {
    endpoints: &[UNLIMITED, LOBBY],
    ..API
};

/// A server of [`UNLIMITED_API`], with `limits`.
async fn unlimited_server(limits: ServerLimits) -> SocketAddr {
    let (addr, _) = start_on(&UNLIMITED_API, room, |b| {
        b.allow_any_origin().limits(limits).handler("lobby", room)
    })
    .await;
    addr
}

fn limits(change: impl FnOnce(&mut ServerLimits)) -> ServerLimits {
    let mut limits = ServerLimits::default();
    change(&mut limits);
    limits
}

/// A WebSocket upgrade request written by hand, so that the client does
/// only what the test says (no automatic close reply, no pong).
fn upgrade_request(path: &str, bearer: &str) -> String {
    format!(
        "GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
         Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\
         Authorization: Bearer {bearer}\r\n\r\n"
    )
}

/// A TCP connection to `addr` on which `request` has been written.
async fn opened_with(addr: SocketAddr, request: &[u8]) -> TcpStream {
    let mut stream = TcpStream::connect(addr)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    stream
        .write_all(request)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    stream
}

/// Reads until the server closes the TCP connection (end of stream or a
/// reset); false if it is still open after `wait`.
async fn closed_by_server(stream: &mut TcpStream, wait: Duration) -> bool {
    let mut buf = [0u8; 1024];
    let read_all = async {
        loop {
            match stream.read(&mut buf).await {
                Ok(0) | Err(_) => return,
                Ok(_) => {}
            }
        }
    };
    tokio::time::timeout(wait, read_all).await.is_ok()
}

/// Opens a handshake as `alice` and waits for the welcome; how long it took.
async fn served_in(addr: SocketAddr) -> Duration {
    let started = Instant::now();
    let mut client = connect(addr, "/ws/alice/1", Some(&token("alice", "user", 60))).await;
    assert_eq!(next_json(&mut client).await["type"], "hello");
    let took = started.elapsed();
    let _ = client.close(None).await;
    took
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_slowloris_of_200_partial_handshakes_neither_blocks_clients_nor_keeps_its_sockets() {
    let (addr, _server) = start(|b| {
        b.allow_any_origin()
            .limits(limits(|l| l.header_read_timeout = Duration::from_secs(1)))
    })
    .await;
    let mut partial = Vec::new();
    for _ in 0..200 {
        // A request head that never ends.
        let head = b"GET /ws/alice/1 HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: ";
        partial.push(opened_with(addr, head).await);
    }
    for _ in 0..3 {
        let took = served_in(addr).await;
        assert!(
            took < Duration::from_secs(1),
            "a normal client waited {took:?}"
        );
    }
    // The server gives up on every one of them after the header timeout.
    let deadline = Instant::now() + Duration::from_secs(5);
    for stream in &mut partial {
        let left = deadline.saturating_duration_since(Instant::now());
        assert!(
            closed_by_server(stream, left).await,
            "a partial handshake still open 5 s after the 1 s header timeout"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_hundred_refused_clients_that_never_answer_the_close_are_gone_within_seconds() {
    let (addr, _server) = default_server().await;
    let mut clients = tokio::task::JoinSet::new();
    for _ in 0..200 {
        clients.spawn(async move {
            let request = upgrade_request("/ws/alice/1", "not-a-token");
            let mut stream = opened_with(addr, request.as_bytes()).await;
            let sent = Instant::now();
            // Reads the 101 and the close frame, answers nothing, and waits
            // for the server to drop the socket.
            let gone = closed_by_server(&mut stream, Duration::from_secs(10)).await;
            (gone, sent.elapsed())
        });
    }
    let mut slowest = Duration::ZERO;
    while let Some(result) = clients.join_next().await {
        let (gone, took) = result.unwrap_or_else(|e| panic!("{e}"));
        assert!(gone, "a refused socket was kept open for 10 s");
        slowest = slowest.max(took);
    }
    assert!(
        slowest < Duration::from_secs(3),
        "the last refused socket was dropped after {slowest:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refused_socket_may_not_send_a_large_frame() {
    let (addr, _server) = default_server().await;
    let request = upgrade_request("/ws/alice/1", "not-a-token");
    let mut stream = opened_with(addr, request.as_bytes()).await;
    // The 101 and the close frame.
    let mut seen = vec![0u8; 4096];
    let n = tokio::time::timeout(Duration::from_secs(3), stream.read(&mut seen))
        .await
        .unwrap_or_else(|_| panic!("no answer"))
        .unwrap_or_else(|e| panic!("{e}"));
    assert!(seen[..n].starts_with(b"HTTP/1.1 101"));
    // The endpoint takes 1024-byte messages; a refused socket not a
    // quarter of that: the frame ends it at once, where a frame it may
    // send would be read and the socket kept for the second a refused
    // client gets to answer the close.
    let sent = Instant::now();
    let mut frame = vec![0x81u8, 0xFE, 0x03, 0x00, 0, 0, 0, 0];
    frame.extend(std::iter::repeat_n(b'x', 768));
    let _ = stream.write_all(&frame).await;
    assert!(closed_by_server(&mut stream, Duration::from_secs(3)).await);
    let took = sent.elapsed();
    assert!(
        took < Duration::from_millis(700),
        "the refused socket read a 768-byte frame and waited {took:?}"
    );
}

/// The close code in what a server sent after its 101: frames are
/// unmasked and, before the close, short (the welcome, pings).
fn close_code(received: &[u8]) -> Option<u16> {
    let head_end = received.windows(4).position(|w| w == b"\r\n\r\n")? + 4;
    let mut frames = &received[head_end..];
    while frames.len() >= 2 {
        let (opcode, len) = (frames[0] & 0x0F, usize::from(frames[1] & 0x7F));
        let (len, start) = match len {
            126 => (
                usize::from(u16::from_be_bytes([*frames.get(2)?, *frames.get(3)?])),
                4,
            ),
            127 => return None,
            n => (n, 2),
        };
        let payload = frames.get(start..start + len)?;
        if opcode == 0x8 {
            return Some(u16::from_be_bytes([*payload.first()?, *payload.get(1)?]));
        }
        frames = &frames[start + len..];
    }
    None
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_pong_flood_past_exp_is_closed_on_time() {
    let addr = unlimited_server(ServerLimits::default()).await;
    let started = Instant::now();
    let exp = now() + 2;
    let request = upgrade_request("/ws/alice/1", &format!("alice:user:{exp}"));
    let (mut read, mut write) = opened_with(addr, request.as_bytes()).await.into_split();
    // Masked empty pongs, thousands per write, for as long as the socket
    // takes them: the server never lacks a frame to read.
    let flood = tokio::spawn(async move {
        let pongs: Vec<u8> = [0x8Au8, 0x80, 0, 0, 0, 0].repeat(10_000);
        while write.write_all(&pongs).await.is_ok() {}
    });
    let mut received = Vec::new();
    let read_until_close = async {
        let mut buf = [0u8; 4096];
        while close_code(&received).is_none() {
            match read.read(&mut buf).await {
                Ok(0) | Err(_) => break,
                Ok(n) => received.extend_from_slice(&buf[..n]),
            }
        }
    };
    let _ = tokio::time::timeout(Duration::from_secs(8), read_until_close).await;
    flood.abort();
    let took = started.elapsed();
    assert_eq!(
        close_code(&received),
        Some(4001),
        "closed with the expiry code, not kept open by the flood"
    );
    assert!(
        took < Duration::from_millis(3_500),
        "closed {took:?} after the start; the token expired within 2 s"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn control_frames_count_against_the_rate_limit() {
    // 50 frames per second with a burst of 50 (common::LIMITS).
    let (addr, _server) = default_server().await;
    let mut client = connect(addr, "/ws/alice/1", Some(&token("alice", "user", 60))).await;
    assert_eq!(next_json(&mut client).await["type"], "hello");
    for _ in 0..200 {
        if client.send(Message::Ping(Vec::new().into())).await.is_err() {
            break;
        }
    }
    let (_, close) = until_close(&mut client).await;
    assert_eq!(close.map(|c| c.0), Some(4029), "pings are rate limited");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refresh_with_another_subjects_or_an_older_token_is_refused() {
    for (why, refresh) in [
        (
            "another subject",
            format!("bob:user:{}:{}", now() + 60, now()),
        ),
        (
            "an older token",
            format!("alice:user:{}:{}", now() + 90, now() - 100),
        ),
        ("a token without iat", format!("alice:user:{}", now() + 90)),
    ] {
        let (addr, _server) = default_server().await;
        let first = format!("alice:user:{}:{}", now() + 60, now() - 10);
        let mut client = connect(addr, "/ws/alice/1", Some(&first)).await;
        assert_eq!(next_json(&mut client).await["type"], "hello");
        let refresh = json!({"type": "wsauth.refresh", "token": refresh}).to_string();
        client
            .send(Message::Text(refresh.into()))
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        let (_, close) = until_close(&mut client).await;
        assert_eq!(
            close.map(|c| c.0),
            Some(4001),
            "a refresh with {why} must be refused"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_newer_token_refreshes() {
    let (addr, _server) = default_server().await;
    let first = format!("alice:user:{}:{}", now() + 60, now() - 10);
    let mut client = connect(addr, "/ws/alice/1", Some(&first)).await;
    assert_eq!(next_json(&mut client).await["type"], "hello");
    let newer = format!("alice:user:{}:{}", now() + 120, now());
    let refresh = json!({"type": "wsauth.refresh", "token": newer}).to_string();
    client
        .send(Message::Text(refresh.into()))
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(next_json(&mut client).await["type"], "wsauth.refreshed");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fragmented_oversize_messages_are_closed_with_1009() {
    let (addr, _server) = default_server().await;
    let mut client = connect(addr, "/ws/alice/1", Some(&token("alice", "user", 60))).await;
    assert_eq!(next_json(&mut client).await["type"], "hello");
    // 10 fragments of 200 bytes: each small, together twice the 1024 limit.
    let piece = vec![b' '; 200];
    let mut frames = vec![Frame::message(
        piece.clone(),
        OpCode::Data(Data::Text),
        false,
    )];
    frames
        .extend((1..9).map(|_| Frame::message(piece.clone(), OpCode::Data(Data::Continue), false)));
    frames.push(Frame::message(piece, OpCode::Data(Data::Continue), true));
    for frame in frames {
        if client.send(Message::Frame(frame)).await.is_err() {
            break;
        }
    }
    let (_, close) = until_close(&mut client).await;
    assert_eq!(close.map(|c| c.0), Some(1009));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deeply_nested_json_is_answered_without_a_crash() {
    let (addr, _server) = default_server().await;
    let depth = 480; // as deep as 1024 bytes allow
    let nested = format!("{}{}", "[".repeat(depth), "]".repeat(depth));
    for message in [
        format!(r#"{{"type":"say","text":{nested}}}"#),
        format!(r#"{{"x":{nested},"type":"say"}}"#),
        format!(r#"{{"type":{nested}}}"#),
    ] {
        let mut client = connect(addr, "/ws/alice/1", Some(&token("alice", "user", 60))).await;
        assert_eq!(next_json(&mut client).await["type"], "hello");
        client
            .send(Message::Text(message.into()))
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        // An answer (the room sends a typed `error`), and the server
        // lives on.
        let answer = next_json(&mut client).await;
        assert!(
            answer["type"] == "error" || answer["type"] == "said",
            "unexpected answer {answer}"
        );
        let _ = client.close(None).await;
    }
    assert!(served_in(addr).await < Duration::from_secs(2));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_foreign_origin_gets_a_403_and_no_websocket() {
    let (addr, _server) = default_server().await;
    for origin in ["https://evil.example", "null"] {
        let request = upgrade_request("/ws/alice/1", &token("alice", "user", 60))
            .replace("\r\n\r\n", &format!("\r\nOrigin: {origin}\r\n\r\n"));
        let mut stream = opened_with(addr, request.as_bytes()).await;
        let mut head = vec![0u8; 64];
        let n = tokio::time::timeout(Duration::from_secs(5), stream.read(&mut head))
            .await
            .unwrap_or_else(|_| panic!("no answer"))
            .unwrap_or_else(|e| panic!("{e}"));
        let head = String::from_utf8_lossy(&head[..n]);
        assert!(head.starts_with("HTTP/1.1 403"), "Origin {origin}: {head}");
    }
    // The allowed origin is upgraded.
    let mut request =
        tokio_tungstenite::tungstenite::client::IntoClientRequest::into_client_request(format!(
            "ws://{addr}/ws/alice/1"
        ))
        .unwrap_or_else(|e| panic!("{e}"));
    let headers = request.headers_mut();
    headers.insert(
        "origin",
        "https://app.example"
            .parse()
            .unwrap_or_else(|e| panic!("{e}")),
    );
    let bearer = format!("Bearer {}", token("alice", "user", 60));
    headers.insert(
        "authorization",
        bearer.parse().unwrap_or_else(|e| panic!("{e}")),
    );
    let (mut client, _) = tokio_tungstenite::connect_async(request)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(next_json(&mut client).await["type"], "hello");
}

/// Opens TCP connections from `from` (any 127.x.y.z address is this
/// machine) and says which the server kept: closed at once means refused.
async fn kept_open(addr: SocketAddr, from: [u8; 4], n: usize) -> (Vec<TcpStream>, usize) {
    let mut streams = Vec::new();
    for _ in 0..n {
        let socket = TcpSocket::new_v4().unwrap_or_else(|e| panic!("{e}"));
        socket
            .bind(SocketAddr::from((from, 0)))
            .unwrap_or_else(|e| panic!("{e}"));
        let mut stream = socket.connect(addr).await.unwrap_or_else(|e| panic!("{e}"));
        let refused = closed_by_server(&mut stream, Duration::from_millis(300)).await;
        if !refused {
            streams.push(stream);
        }
    }
    let kept = streams.len();
    (streams, kept)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connections_are_capped_per_client_address_and_in_all() {
    let (addr, _server) = start(|b| {
        b.allow_any_origin().limits(limits(|l| {
            l.max_connections_per_address = 3;
            l.max_connections = 5;
        }))
    })
    .await;
    let (first, kept) = kept_open(addr, [127, 0, 0, 1], 4).await;
    assert_eq!(kept, 3, "three per address");
    let (second, kept) = kept_open(addr, [127, 0, 0, 2], 4).await;
    assert_eq!(kept, 2, "another address gets what is left of the five");
    // Places come back when sockets close.
    drop(first);
    drop(second);
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert!(served_in(addr).await < Duration::from_secs(1));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn anonymous_connections_are_capped() {
    let addr = unlimited_server(limits(|l| l.max_anonymous_connections = 2)).await;
    let mut open = Vec::new();
    for _ in 0..2 {
        let mut client = connect(addr, "/ws/lobby", None).await;
        assert_eq!(next_json(&mut client).await["type"], "hello");
        open.push(client);
    }
    let (code, _) = rejected_with(addr, "/ws/lobby", None).await;
    assert_eq!(code, 4008, "the third anonymous connection is refused");
    // Users with tokens are not anonymous and not counted there.
    assert!(served_in(addr).await < Duration::from_secs(1));
    drop(open);
}

/// Resource checks that take longer than any handshake should.
struct Stuck;

impl Checks for Stuck {
    fn check<'a>(
        &'a self,
        _name: &'static str,
        _cx: &'a CheckContext<'a>,
    ) -> BoxFuture<'a, Result<CheckOutcome, StoreError>> {
        Box::pin(async {
            tokio::time::sleep(Duration::from_secs(30)).await;
            Ok(CheckOutcome::Allow)
        })
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_handshake_over_its_time_budget_is_refused_with_the_server_error_code() {
    let (addr, _server) = start(|b| {
        b.allow_any_origin()
            .checks(Stuck)
            .limits(limits(|l| l.handshake_timeout = Duration::from_millis(300)))
    })
    .await;
    let started = Instant::now();
    let (code, _) = rejected_with(addr, "/ws/alice/1", Some(&token("alice", "user", 60))).await;
    assert_eq!(code, 1011);
    assert!(started.elapsed() < Duration::from_secs(3));
}

/// Resource checks that allow the handshake, then hang (on the refresh).
struct StuckOnRefresh(std::sync::atomic::AtomicUsize);

impl Checks for StuckOnRefresh {
    fn check<'a>(
        &'a self,
        _name: &'static str,
        _cx: &'a CheckContext<'a>,
    ) -> BoxFuture<'a, Result<CheckOutcome, StoreError>> {
        Box::pin(async {
            if self.0.fetch_add(1, std::sync::atomic::Ordering::SeqCst) > 0 {
                tokio::time::sleep(Duration::from_secs(30)).await;
            }
            Ok(CheckOutcome::Allow)
        })
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refresh_over_the_time_budget_closes_with_the_server_error_code() {
    let (addr, _server) = start(|b| {
        b.allow_any_origin()
            .checks(StuckOnRefresh(Default::default()))
            .limits(limits(|l| l.handshake_timeout = Duration::from_millis(300)))
    })
    .await;
    let first = format!("alice:user:{}:{}", now() + 60, now());
    let mut client = connect(addr, "/ws/alice/1", Some(&first)).await;
    assert_eq!(next_json(&mut client).await["type"], "hello");
    let newer = format!("alice:user:{}:{}", now() + 120, now());
    let refresh = json!({"type": "wsauth.refresh", "token": newer}).to_string();
    let started = Instant::now();
    client
        .send(Message::Text(refresh.into()))
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let (_, close) = until_close(&mut client).await;
    assert_eq!(close.map(|c| c.0), Some(1011));
    assert!(started.elapsed() < Duration::from_secs(3));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_oversized_request_head_is_refused() {
    let (addr, _server) = default_server().await;
    // 64 KiB of headers: more than a request head may hold (16 KiB).
    let filler = format!("X-Filler: {}\r\n", "x".repeat(1000)).repeat(64);
    let request = upgrade_request("/ws/alice/1", &token("alice", "user", 60))
        .replace("\r\n\r\n", &format!("\r\n{filler}\r\n"));
    let mut stream = TcpStream::connect(addr)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    // The server may stop reading (and close) before all of it is written.
    let _ = stream.write_all(request.as_bytes()).await;
    let mut answer = Vec::new();
    let _ = tokio::time::timeout(Duration::from_secs(5), stream.read_to_end(&mut answer)).await;
    let answer = String::from_utf8_lossy(&answer);
    assert!(
        !answer.starts_with("HTTP/1.1 101"),
        "upgraded with a 64 KiB request head: {answer}"
    );
}
