//! The handshake pipeline and the connection loop, over real sockets.
//!
//! A server built from a hand-written descriptor runs on 127.0.0.1; a real
//! WebSocket client (tokio-tungstenite) connects and checks the close code
//! of every failure, the message loop's limits, expiry, refresh and shutdown.
//! Tokens here are verified by a test authenticator (`subject:roles:exp`),
//! so these tests are about the pipeline, not about JWTs; the JWT verifier
//! has its own tests, and the prsm example runs both together.

mod common;

use std::time::Duration;

use common::*;
use futures_util::{SinkExt, StreamExt};
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use wsauth_core::BoxFuture;
use wsauth_core::spec::FailureKind;
use wsauth_core::{CloseWith, HandlerResult, Session, WsAuth};

#[tokio::test]
async fn every_handshake_failure_gets_its_close_code() {
    let (addr, _server) = default_server().await;
    let alice = token("alice", "user", 600);
    let cases: Vec<(&str, Option<String>, u16, &str)> = vec![
        ("/ws/alice/1", None, 4001, "authentication required"),
        (
            "/ws/alice/1",
            Some("garbage".into()),
            4001,
            "invalid or expired token",
        ),
        (
            "/ws/alice/1",
            Some(format!("alice:user:{}", now() - 1)),
            4001,
            "invalid or expired token",
        ),
        ("/ws/bob/1", Some(alice.clone()), 4013, "user mismatch"),
        ("/ws/%61lice/1", Some(alice.clone()), 4013, "user mismatch"),
        ("/ws/alice/01", Some(alice.clone()), 4004, "no such room"),
        (
            "/ws/mallory/1",
            Some(token("mallory", "user", 600)),
            4002,
            "user inactive",
        ),
        (
            "/ws/carol/1",
            Some(token("carol", "user", 600)),
            4002,
            "user inactive",
        ),
        (
            "/ws/broken/1",
            Some(token("broken", "user", 600)),
            1011,
            "server error",
        ),
        (
            "/ws/alice/1",
            Some(token("alice", "guest", 600)),
            4003,
            "forbidden",
        ),
        ("/ws/alice/2", Some(alice.clone()), 4003, "forbidden"),
        ("/ws/alice/3", Some(alice.clone()), 4004, "no such room"),
    ];
    for (path, bearer, code, reason) in cases {
        let got = rejected_with(addr, path, bearer.as_deref()).await;
        assert_eq!(got, (code, reason.to_owned()), "{path} with {bearer:?}");
    }
}

/// Tries `send_raw` and `deliver_raw` on the typed `room` endpoint, then
/// welcomes with what they answered.
async fn tries_raw_frames(mut session: Session) -> HandlerResult {
    let text = session.send_raw(axum::extract::ws::Message::text(r#"{"type":"said"}"#));
    let close = session.send_raw(axum::extract::ws::Message::Close(None));
    let delivered = session
        .deliver_raw(axum::extract::ws::Message::text(r#"{"type":"said"}"#))
        .await;
    let answers = format!(
        "{:?} / {:?} / {:?}",
        text.err(),
        close.err(),
        delivered.err()
    );
    session.send("hello", &serde_json::json!({ "user": answers }))?;
    Ok(())
}

#[tokio::test]
async fn typed_endpoints_refuse_raw_frames() {
    let (addr, _server) = start_with(tries_raw_frames, |b| b.allow_any_origin()).await;
    let mut client = connect(addr, "/ws/alice/1", Some(&token("alice", "user", 600))).await;
    assert_eq!(
        next_json(&mut client).await,
        serde_json::json!({"type": "hello", "user": "Some(NotRaw(\"room\")) / Some(NotRaw(\"room\")) / Some(NotRaw(\"room\"))"}),
        "nothing unchecked reached the client before the welcome"
    );
}

/// [`ROOM`] with raw frames, as the only endpoint.
static RAW_API: wsauth_core::ApiDescriptor = wsauth_core::ApiDescriptor {
    endpoints: &[wsauth_core::__private::descriptor::EndpointDescriptor {
        frames: wsauth_core::spec::Frames::Raw,
        welcome: None,
        receives: &[],
        sends: &[],
        open: None,
        heartbeat: None,
        ..ROOM
    }],
    ..API
};

/// Tries to close with a code of its own, then echoes one text frame.
async fn raw_tries_a_close(mut session: Session) -> HandlerResult {
    use axum::extract::ws::{CloseFrame, Message};
    let close = session.send_raw(Message::Close(Some(CloseFrame {
        code: 4999,
        reason: "internal: db.internal:5432".into(),
    })));
    let ping = session.send_raw(Message::Ping(Default::default()));
    let pong = session.deliver_raw(Message::Pong(Default::default())).await;
    session.send_raw(Message::text(format!(
        "{:?} / {:?} / {:?}",
        close.err(),
        ping.err(),
        pong.err()
    )))?;
    Ok(())
}

#[tokio::test]
async fn raw_endpoints_send_text_and_binary_only() {
    let server = WsAuth::builder(&RAW_API)
        .authenticator(TestTokens)
        .users(Users)
        .checks(Rooms)
        .handler("room", raw_tries_a_close)
        .allow_any_origin()
        .build()
        .unwrap_or_else(|e| panic!("{e}"));
    let addr = serve(server.router()).await;
    let mut client = connect(addr, "/ws/alice/1", Some(&token("alice", "user", 600))).await;
    let first = tokio::time::timeout(Duration::from_secs(5), client.next()).await;
    assert!(
        matches!(
            first,
            Ok(Some(Ok(Message::Text(ref t))))
                if t.as_str() == "Some(ControlFrame) / Some(ControlFrame) / Some(ControlFrame)"
        ),
        "{first:?}"
    );
    let (_, close) = until_close(&mut client).await;
    assert_eq!(
        close,
        Some((1000, "done".to_owned())),
        "the framework's close, not the handler's"
    );
}

#[tokio::test]
async fn admitted_connection_gets_welcome_then_messages() {
    let (addr, _server) = default_server().await;
    let mut client = connect(addr, "/ws/alice/1", Some(&token("alice", "user", 600))).await;
    assert_eq!(
        next_json(&mut client).await,
        serde_json::json!({"type": "hello", "user": "alice"})
    );
    client
        .send(Message::text(r#"{"type":"say","text":"hi"}"#))
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(
        next_json(&mut client).await,
        serde_json::json!({"type": "said", "text": "hi"})
    );
    client
        .send(Message::text("ping"))
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let pong = tokio::time::timeout(Duration::from_secs(5), client.next()).await;
    assert!(
        matches!(pong, Ok(Some(Ok(Message::Text(ref t)))) if t.as_str() == "pong"),
        "{pong:?}"
    );
}

#[tokio::test]
async fn handlers_read_the_application_state_given_to_the_builder() {
    let (addr, _server) = start(|b| {
        b.allow_origins(["https://app.example"])
            .state(Prefix("from state: "))
    })
    .await;
    let mut client = connect(addr, "/ws/alice/1", Some(&token("alice", "user", 600))).await;
    next_json(&mut client).await;
    client
        .send(Message::text(r#"{"type":"say","text":"hi"}"#))
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(
        next_json(&mut client).await,
        serde_json::json!({"type": "said", "text": "from state: hi"})
    );
}

#[tokio::test]
async fn token_in_query_works_and_conflicting_tokens_are_refused() {
    let (addr, _server) = default_server().await;
    let alice = token("alice", "user", 600);
    let mut client = connect(addr, &format!("/ws/alice/1?token={alice}"), None).await;
    assert_eq!(next_json(&mut client).await["type"], "hello");
    let other = token("alice", "reader", 600);
    let got = rejected_with(addr, &format!("/ws/alice/1?token={other}"), Some(&alice)).await;
    assert_eq!(
        got.0, 4001,
        "two different tokens are refused, not resolved by order"
    );
}

#[tokio::test]
async fn per_message_permission_and_bad_messages_get_typed_errors() {
    let (addr, _server) = default_server().await;
    let mut client = connect(addr, "/ws/alice/1", Some(&token("alice", "reader", 600))).await;
    assert_eq!(next_json(&mut client).await["type"], "hello");
    client
        .send(Message::text(r#"{"type":"say","text":"hi"}"#))
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(
        next_json(&mut client).await,
        serde_json::json!({"type": "error", "code": "forbidden", "message": "forbidden"})
    );
    for bad in ["not json", r#"{"no":"type"}"#, r#"{"type":"unknown"}"#] {
        client
            .send(Message::text(bad))
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(
            next_json(&mut client).await["code"],
            "invalid_message",
            "{bad}"
        );
    }
}

#[tokio::test]
async fn oversized_message_closes_with_1009() {
    let (addr, _server) = default_server().await;
    let mut client = connect(addr, "/ws/alice/1", Some(&token("alice", "user", 600))).await;
    assert_eq!(next_json(&mut client).await["type"], "hello");
    let big = format!(r#"{{"type":"say","text":"{}"}}"#, "x".repeat(2000));
    client
        .send(Message::text(big))
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let (_, close) = until_close(&mut client).await;
    assert_eq!(close.map(|c| c.0), Some(1009));
}

/// How [`closing_with`]'s handler fails.
#[derive(Clone, Copy, Debug)]
enum Ending {
    /// `Err(CloseWith(kind).into())`.
    Close(FailureKind),
    /// A `CloseWith` as the source of another error (context added).
    Wrapped(FailureKind),
    /// An error of its own.
    Plain,
}

/// An error that adds context to the `CloseWith` it wraps.
#[derive(Debug)]
struct WithContext(CloseWith);

impl std::fmt::Display for WithContext {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("while loading the room")
    }
}

impl std::error::Error for WithContext {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        Some(&self.0)
    }
}

/// A handler that, on the first message, ends the connection as `ending`
/// says.
fn closing_with(
    ending: Ending,
) -> impl Fn(Session) -> BoxFuture<'static, HandlerResult> + Send + Sync + 'static {
    move |mut session: Session| {
        Box::pin(async move {
            session.send("hello", &serde_json::json!({ "user": "alice" }))?;
            session.recv().await;
            match ending {
                Ending::Close(kind) => Err(CloseWith(kind).into()),
                Ending::Wrapped(kind) => Err(WithContext(CloseWith(kind)).into()),
                Ending::Plain => Err("the room's database is gone: db error 42".into()),
            }
        })
    }
}

#[tokio::test]
async fn a_handler_closes_with_the_specs_code_for_its_kind() {
    for (ending, code, reason) in [
        (Ending::Close(FailureKind::NotFound), 4004, "no such room"),
        (Ending::Close(FailureKind::Forbidden), 4003, "forbidden"),
        (Ending::Close(FailureKind::Completed), 1000, "done"),
        (Ending::Wrapped(FailureKind::NotFound), 4004, "no such room"),
        // Any other error is a server error whose text is never sent.
        (Ending::Plain, 1011, "server error"),
    ] {
        let (addr, _server) = start_with(closing_with(ending), |b| {
            b.allow_origins(["https://app.example"])
        })
        .await;
        let mut client = connect(addr, "/ws/alice/1", Some(&token("alice", "user", 600))).await;
        assert_eq!(next_json(&mut client).await["type"], "hello");
        client
            .send(Message::text(r#"{"type":"say","text":"hi"}"#))
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        let (after, close) = until_close(&mut client).await;
        assert!(
            after.is_empty(),
            "{ending:?}: nothing after the message: {after:?}"
        );
        let (got_code, got_reason) = close.unwrap_or_else(|| panic!("{ending:?}: no close frame"));
        assert_eq!(
            (got_code, got_reason.as_str()),
            (code, reason),
            "{ending:?}"
        );
    }
}

#[tokio::test]
async fn connection_limit_admits_exactly_the_limit_under_a_race() {
    let (addr, server) = default_server().await;
    let bob = token("bob", "user", 600);
    let attempts = (0..LIMITS.max_connections_per_user + 1).map(|_| {
        let bob = bob.clone();
        tokio::spawn(async move {
            let mut client = connect(addr, "/ws/bob/1", Some(&bob)).await;
            let first = tokio::time::timeout(Duration::from_secs(5), client.next()).await;
            let admitted = matches!(first, Ok(Some(Ok(Message::Text(_)))));
            let code = match first {
                Ok(Some(Ok(Message::Close(Some(f))))) => Some(u16::from(f.code)),
                _ => None,
            };
            (admitted, code, client)
        })
    });
    let mut results = Vec::new();
    for attempt in attempts {
        results.push(attempt.await.unwrap_or_else(|e| panic!("{e}")));
    }
    let admitted = results.iter().filter(|r| r.0).count();
    assert_eq!(admitted, LIMITS.max_connections_per_user as usize);
    assert!(
        results.iter().any(|r| r.1 == Some(4008)),
        "the extra one gets 4008"
    );
    assert_eq!(server.stats().active_connections, admitted);
    // Abrupt disconnects free the slots.
    drop(results);
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(server.stats().unique_users, 0);
    let mut again = connect(addr, "/ws/bob/1", Some(&bob)).await;
    assert_eq!(next_json(&mut again).await["type"], "hello");
}

#[tokio::test]
async fn expiry_closes_a_live_connection_and_refresh_extends_it() {
    let (addr, _server) = default_server().await;
    let mut expiring = connect(addr, "/ws/alice/1", Some(&token("alice", "user", 2))).await;
    assert_eq!(next_json(&mut expiring).await["type"], "hello");
    let mut refreshed = connect(addr, "/ws/alice/1", Some(&token("alice", "user", 2))).await;
    assert_eq!(next_json(&mut refreshed).await["type"], "hello");
    let fresh = token("alice", "user", 600);
    refreshed
        .send(Message::text(
            serde_json::json!({"type": "wsauth.refresh", "token": fresh}).to_string(),
        ))
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(next_json(&mut refreshed).await["type"], "wsauth.refreshed");
    let (_, close) = until_close(&mut expiring).await;
    assert_eq!(
        close.map(|c| c.0),
        Some(4001),
        "expired token closes with the spec's code"
    );
    refreshed
        .send(Message::text(r#"{"type":"say","text":"still here"}"#))
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(next_json(&mut refreshed).await["text"], "still here");
    // A refresh for another subject is refused and closes.
    refreshed
        .send(Message::text(
            serde_json::json!({"type": "wsauth.refresh", "token": token("bob", "user", 600)})
                .to_string(),
        ))
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let (_, close) = until_close(&mut refreshed).await;
    assert_eq!(close.map(|c| c.0), Some(4001));
}

#[tokio::test]
async fn slow_reader_is_dropped_not_buffered() {
    let (addr, _server) = default_server().await;
    let mut client = connect(addr, "/ws/alice/1", Some(&token("alice", "user", 600))).await;
    assert_eq!(next_json(&mut client).await["type"], "hello");
    client
        .send(Message::text(r#"{"type":"flood"}"#))
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let (seen, close) = until_close(&mut client).await;
    assert!(
        seen.len() <= LIMITS.send_queue as usize + 1,
        "queue bounded: {}",
        seen.len()
    );
    assert_eq!(close.map(|c| c.0), Some(1013));
}

/// Whether alice, connecting from `origin` (or, with `None`, sending no
/// `Origin`, like a client that is not a browser), gets her welcome; a
/// refused origin gets no WebSocket at all (HTTP 403).
async fn welcomed(addr: std::net::SocketAddr, origin: Option<&str>) -> bool {
    let mut request = format!("ws://{addr}/ws/alice/1")
        .into_client_request()
        .unwrap_or_else(|e| panic!("{e}"));
    let bearer = format!("Bearer {}", token("alice", "user", 600));
    request.headers_mut().insert(
        "authorization",
        bearer.parse().unwrap_or_else(|e| panic!("{e}")),
    );
    if let Some(origin) = origin {
        request
            .headers_mut()
            .insert("origin", origin.parse().unwrap_or_else(|e| panic!("{e}")));
    }
    let mut client = match tokio_tungstenite::connect_async(request).await {
        Ok((client, _)) => client,
        Err(tokio_tungstenite::tungstenite::Error::Http(response)) => {
            assert_eq!(response.status(), 403);
            return false;
        }
        Err(e) => panic!("{e}"),
    };
    let first = tokio::time::timeout(Duration::from_secs(5), client.next()).await;
    matches!(first, Ok(Some(Ok(Message::Text(_)))))
}

#[tokio::test]
async fn origin_allow_list_is_exact() {
    let (addr, _server) = default_server().await;
    for (origin, admitted) in [
        (Some("https://app.example"), true),
        (Some("https://app.example.evil"), false),
        (Some("http://app.example"), false),
        (Some("https://APP.example"), false),
        (None, true),
    ] {
        assert_eq!(welcomed(addr, origin).await, admitted, "{origin:?}");
    }
}

#[tokio::test]
async fn an_empty_allow_list_admits_no_browser() {
    let (addr, _server) = start(|b| b.allow_origins(Vec::<String>::new())).await;
    assert!(!welcomed(addr, Some("https://app.example")).await);
    assert!(!welcomed(addr, Some("null")).await);
    assert!(welcomed(addr, None).await, "clients that send no Origin");
}

#[tokio::test]
async fn shutdown_closes_open_sockets_with_1001() {
    let (addr, server) = default_server().await;
    let mut client = connect(addr, "/ws/alice/1", Some(&token("alice", "user", 600))).await;
    assert_eq!(next_json(&mut client).await["type"], "hello");
    let shutdown = tokio::spawn(async move { server.shutdown(Duration::from_secs(5)).await });
    let (_, close) = until_close(&mut client).await;
    assert_eq!(close, Some((1001, "server shutting down".to_owned())));
    shutdown.await.unwrap_or_else(|e| panic!("{e}"));
}

#[test]
fn configuration_mistakes_stop_the_build() {
    let no_handler = WsAuth::builder(&STATIC_API)
        .authenticator(TestTokens)
        .users(Users)
        .checks(Rooms)
        .allow_any_origin()
        .build();
    assert_eq!(
        no_handler.err(),
        Some(wsauth_core::BuildError::MissingHandler("room"))
    );
    let no_origins = WsAuth::builder(&STATIC_API)
        .authenticator(TestTokens)
        .users(Users)
        .checks(Rooms)
        .handler("room", room)
        .build();
    assert_eq!(
        no_origins.err(),
        Some(wsauth_core::BuildError::NoOriginPolicy)
    );
    // A second handler for an endpoint would silently replace the first
    // (a checked `#[ws_endpoint]` one by an unchecked closure).
    let twice = WsAuth::builder(&STATIC_API)
        .authenticator(TestTokens)
        .users(Users)
        .checks(Rooms)
        .handler("room", room)
        .handler("room", room)
        .allow_any_origin()
        .build();
    assert_eq!(
        twice.err(),
        Some(wsauth_core::BuildError::HandlerTwice("room".to_owned()))
    );
}

#[test]
fn origins_no_browser_sends_stop_the_build() {
    let build = |origins: &[&str]| {
        WsAuth::builder(&STATIC_API)
            .authenticator(TestTokens)
            .users(Users)
            .checks(Rooms)
            .handler("room", room)
            .allow_origins(origins)
            .build()
            .err()
    };
    // Not even a header value (it used to be dropped silently), a trailing
    // slash, a path, userinfo, a default port: the first one is named.
    for bad in [
        "https://app.example\n",
        "https://app.example/",
        "https://app.example/chat",
        "https://me@app.example",
        "https://app.example:443",
    ] {
        assert_eq!(
            build(&["https://ok.example", bad, "also bad/"]),
            Some(wsauth_core::BuildError::BadOrigin(bad.to_owned())),
            "{bad:?}"
        );
    }
    assert_eq!(
        build(&["https://app.example", "http://127.0.0.1:8000"]),
        None
    );
    // An empty list is a policy: no browser may connect.
    assert_eq!(build(&[]), None);
}
