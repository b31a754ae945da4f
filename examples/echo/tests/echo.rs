//! The echo example over real sockets: the app runs on 127.0.0.1 and a
//! tokio-tungstenite client connects with HS256 tokens minted here.

use std::net::SocketAddr;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use futures_util::{SinkExt, StreamExt};
use jsonwebtoken::{EncodingKey, Header};
use serde_json::{Value, json};
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

type Client = WebSocketStream<MaybeTlsStream<TcpStream>>;

const SECRET: &[u8] = b"0123456789abcdef0123456789abcdef-test-only";
const TIMEOUT: Duration = Duration::from_secs(10);

fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// An HS256 token for `sub` with `role`, expiring at `exp`, signed with `secret`.
fn token_with(secret: &[u8], sub: &str, role: &str, exp: u64) -> String {
    let claims = json!({ "sub": sub, "role": role, "exp": exp, "iat": now() });
    jsonwebtoken::encode(
        &Header::new(jsonwebtoken::Algorithm::HS256),
        &claims,
        &EncodingKey::from_secret(secret),
    )
    .unwrap_or_else(|e| panic!("{e}"))
}

fn token(sub: &str) -> String {
    token_with(SECRET, sub, "user", now() + 600)
}

async fn start(users: echo::Users) -> SocketAddr {
    let (router, _server) = echo::app(SECRET, users).unwrap_or_else(|e| panic!("{e}"));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let addr = listener.local_addr().unwrap_or_else(|e| panic!("{e}"));
    tokio::spawn(async move {
        let _ = axum::serve(
            listener,
            router.into_make_service_with_connect_info::<SocketAddr>(),
        )
        .await;
    });
    addr
}

async fn connect(addr: SocketAddr, path: &str) -> Client {
    let (client, _) = tokio_tungstenite::connect_async(format!("ws://{addr}{path}"))
        .await
        .unwrap_or_else(|e| panic!("{path}: {e}"));
    client
}

/// The next data frame, skipping pings and pongs.
async fn next_frame(client: &mut Client) -> Message {
    loop {
        let frame = tokio::time::timeout(TIMEOUT, client.next()).await;
        match frame {
            Ok(Some(Ok(Message::Ping(_) | Message::Pong(_)))) => {}
            Ok(Some(Ok(message))) => return message,
            other => panic!("expected a frame, got {other:?}"),
        }
    }
}

async fn next_json(client: &mut Client) -> Value {
    match next_frame(client).await {
        Message::Text(text) => {
            serde_json::from_str(text.as_str()).unwrap_or_else(|e| panic!("{e}: {text}"))
        }
        other => panic!("expected a text frame, got {other:?}"),
    }
}

/// Connects, expects no data, and returns the close code and reason.
async fn rejected(addr: SocketAddr, path: &str) -> (u16, String) {
    let mut client = connect(addr, path).await;
    match next_frame(&mut client).await {
        Message::Close(Some(frame)) => (u16::from(frame.code), frame.reason.to_string()),
        other => panic!("{path}: expected a close frame, got {other:?}"),
    }
}

/// Connects to `path` as alice, expects the welcome, then every one of
/// `messages` sent back unchanged.
async fn welcomes_then_echoes(path: &str, messages: impl IntoIterator<Item = serde_json::Value>) {
    let addr = start(echo::Users::any()).await;
    let mut client = connect(addr, &format!("{path}?token={}", token("alice"))).await;
    assert_eq!(
        next_json(&mut client).await,
        json!({ "type": "connected", "user_id": "alice", "authenticated": true })
    );
    for message in messages {
        client
            .send(Message::text(message.to_string()))
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(next_json(&mut client).await, message);
    }
    client.close(None).await.unwrap_or_else(|e| panic!("{e}"));
}

#[tokio::test]
async fn welcome_then_echo_round_trip() {
    welcomes_then_echoes(
        "/ws/echo/alice",
        [
            json!({ "type": "echo", "payload": "hello" }),
            json!({ "type": "echo", "payload": { "nested": [1, 2.5, null, true], "text": "é ✓" } }),
            json!({ "type": "echo", "payload": null }),
        ],
    )
    .await;
}

#[tokio::test]
async fn the_typed_endpoint_welcomes_then_echoes_say() {
    welcomes_then_echoes(
        "/ws/typed/alice",
        ["hello", "", "é ✓ \"quoted\"\n"]
            .map(|payload| json!({ "type": "say", "payload": payload })),
    )
    .await;
}

#[tokio::test]
async fn the_typed_endpoint_checks_its_token_like_echo() {
    let addr = start(echo::Users::any()).await;
    let bob = format!("/ws/typed/alice?token={}", token("bob"));
    assert_eq!(rejected(addr, &bob).await.0, 4003);
    assert_eq!(rejected(addr, "/ws/typed/alice").await.0, 4001);
}

/// What the typed endpoint answers `message` with, after the welcome.
async fn typed_reply_to(message: &str) -> Message {
    let addr = start(echo::Users::any()).await;
    let mut client = connect(addr, &format!("/ws/typed/alice?token={}", token("alice"))).await;
    assert_eq!(next_json(&mut client).await["type"], "connected");
    client
        .send(Message::text(message))
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    next_frame(&mut client).await
}

#[tokio::test]
async fn the_typed_endpoint_refuses_what_its_spec_does_not_receive_with_1007() {
    for message in [
        // `echo` is a message of the spec, but not one this endpoint receives.
        r#"{"type":"echo","payload":"hello"}"#,
        // `say` with a payload that is not a string, or without one.
        r#"{"type":"say","payload":5}"#,
        r#"{"type":"say"}"#,
        // Not JSON.
        "say hello",
    ] {
        match typed_reply_to(message).await {
            Message::Close(Some(frame)) => assert_eq!(u16::from(frame.code), 1007, "{message}"),
            other => panic!("{message}: expected a close frame, got {other:?}"),
        }
    }
}

#[tokio::test]
async fn the_welcome_names_the_path_user() {
    let addr = start(echo::Users::any()).await;
    let mut client = connect(
        addr,
        &format!("/ws/echo/user-42?token={}", token("user-42")),
    )
    .await;
    let welcome = next_json(&mut client).await;
    assert_eq!(welcome["user_id"], "user-42");
    assert_eq!(welcome["authenticated"], true);
}

#[tokio::test]
async fn raw_endpoint_echoes_text_and_binary_verbatim() {
    let addr = start(echo::Users::any()).await;
    let mut client = connect(addr, "/ws/raw").await;
    let binary: Vec<u8> = (0..=255).collect();
    let frames = [
        Message::text("not json at all {"),
        Message::text(""),
        Message::binary(binary),
        Message::binary(Vec::new()),
        Message::text("x".repeat(100_000)),
    ];
    for frame in frames {
        client
            .send(frame.clone())
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(next_frame(&mut client).await, frame);
    }
    client.close(None).await.unwrap_or_else(|e| panic!("{e}"));
}

#[tokio::test]
async fn bad_tokens_close_with_4001() {
    let addr = start(echo::Users::any()).await;
    let wrong_key = token_with(
        b"another-secret-of-at-least-32-bytes!!",
        "alice",
        "user",
        now() + 600,
    );
    let expired = token_with(SECRET, "alice", "user", now() - 120);
    let cases = [
        ("/ws/echo/alice".to_owned(), "authentication required"),
        (
            "/ws/echo/alice?token=garbage".to_owned(),
            "invalid or expired token",
        ),
        (
            format!("/ws/echo/alice?token={wrong_key}"),
            "invalid or expired token",
        ),
        (
            format!("/ws/echo/alice?token={expired}"),
            "invalid or expired token",
        ),
    ];
    for (path, reason) in cases {
        assert_eq!(
            rejected(addr, &path).await,
            (4001, reason.to_owned()),
            "{path}"
        );
    }
}

#[tokio::test]
async fn subject_mismatch_and_missing_permission_close_with_4003() {
    let addr = start(echo::Users::any()).await;
    let mismatch = format!("/ws/echo/bob?token={}", token("alice"));
    assert_eq!(
        rejected(addr, &mismatch).await,
        (4003, "forbidden".to_owned())
    );
    let guest = token_with(SECRET, "alice", "guest", now() + 600);
    let no_perm = format!("/ws/echo/alice?token={guest}");
    assert_eq!(
        rejected(addr, &no_perm).await,
        (4003, "forbidden".to_owned())
    );
}

#[tokio::test]
async fn a_restricted_store_refuses_unknown_users_with_4002() {
    let addr = start(echo::Users::only(["alice"])).await;
    let mut alice = connect(addr, &format!("/ws/echo/alice?token={}", token("alice"))).await;
    assert_eq!(next_json(&mut alice).await["type"], "connected");
    let carol = format!("/ws/echo/carol?token={}", token("carol"));
    assert_eq!(
        rejected(addr, &carol).await,
        (4002, "user inactive".to_owned())
    );
}

#[tokio::test]
async fn an_unknown_message_type_closes_with_1007() {
    let addr = start(echo::Users::any()).await;
    let mut client = connect(addr, &format!("/ws/echo/alice?token={}", token("alice"))).await;
    assert_eq!(next_json(&mut client).await["type"], "connected");
    client
        .send(Message::text(r#"{"type":"connected"}"#))
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    match next_frame(&mut client).await {
        Message::Close(Some(frame)) => assert_eq!(u16::from(frame.code), 1007),
        other => panic!("expected a close frame, got {other:?}"),
    }
}

#[test]
fn the_binary_refuses_to_start_without_a_proper_secret() {
    let run = |secret: Option<&str>| {
        let mut command = std::process::Command::new(env!("CARGO_BIN_EXE_echo"));
        command
            .args(["--addr", "127.0.0.1:0"])
            .env_remove(echo::SECRET_ENV);
        if let Some(secret) = secret {
            command.env(echo::SECRET_ENV, secret);
        }
        let output = command.output().unwrap_or_else(|e| panic!("{e}"));
        (
            output.status.code(),
            String::from_utf8_lossy(&output.stderr).into_owned(),
        )
    };
    let (code, stderr) = run(None);
    assert_eq!(code, Some(2), "{stderr}");
    assert!(stderr.contains("WSAUTH_JWT_SECRET is not set"), "{stderr}");
    let (code, stderr) = run(Some("short"));
    assert_eq!(code, Some(2), "{stderr}");
    assert!(stderr.contains("must have at least 32"), "{stderr}");
}
