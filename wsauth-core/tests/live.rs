//! The rules an admitted connection lives under, each over a real socket:
//! the idle timeout, the server's protocol pings, the welcome-first rule,
//! and the per-user connection limit counted across every endpoint. Also
//! the build refusing cookie-borne tokens without an origin allow-list.
//! (The message-rate close is in `audit.rs`, whose binary captures the
//! audit event it raises.)
//!
//! Timings in the spec are whole seconds; the endpoints here use the
//! smallest the validator accepts (`ping_interval_s: 1`,
//! `idle_timeout_s: 2`, the idle timeout longer than the ping interval),
//! so that each test takes a few seconds.

mod common;

use std::time::Duration;

use common::*;
use futures_util::{SinkExt, StreamExt};
use serde_json::json;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use wsauth_core::__private::descriptor::*;
use wsauth_core::spec::{ClientAction, FailureKind, TokenSource};
use wsauth_core::{BuildError, HandlerResult, Session, WsAuth};

/// [`ROOM`] pinging every second and closing after two silent seconds.
const QUICK: EndpointDescriptor = EndpointDescriptor {
    limits: Limits {
        ping_interval_s: 1,
        idle_timeout_s: 2,
        ..LIMITS
    },
    ..ROOM
};

/// [`QUICK`], with a code of the spec's own for `idle_timeout`.
static QUICK_API: ApiDescriptor = ApiDescriptor {
    close_codes: &[CloseDescriptor {
        kind: FailureKind::IdleTimeout,
        code: 4408,
        reason: "idle too long",
        client: ClientAction::Backoff,
    }],
    endpoints: &[QUICK],
    ..API
};

#[tokio::test]
async fn a_client_that_sends_nothing_is_closed_with_the_idle_code() {
    let (addr, _server) = start_on(&QUICK_API, room, |b| b.allow_any_origin()).await;
    let mut client = connect(addr, "/ws/alice/1", Some(&token("alice", "user", 600))).await;
    // Not reading either: the server's pings go unanswered, so no frame at
    // all comes from the client.
    tokio::time::sleep(Duration::from_millis(2500)).await;
    let (seen, close) = until_close_within(&mut client, Duration::from_secs(3)).await;
    assert_eq!(seen, vec![json!({"type": "hello", "user": "alice"})]);
    assert_eq!(close, Some((4408, "idle too long".to_owned())));
}

#[tokio::test]
async fn the_idle_timeout_runs_from_the_last_frame() {
    let (addr, _server) = start_on(&QUICK_API, room, |b| b.allow_any_origin()).await;
    let mut client = connect(addr, "/ws/alice/1", Some(&token("alice", "user", 600))).await;
    // One frame half a second in, then silence (not reading, so no pongs
    // either): the connection is idle from then, and closed 2 s later, at
    // 2.5 s, not when the idle deadline set before the frame passes again.
    tokio::time::sleep(Duration::from_millis(500)).await;
    client
        .send(Message::text(r#"{"type":"say","text":"once"}"#))
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    tokio::time::sleep(Duration::from_millis(2800)).await;
    // Closed by now: what the server sent is waiting, the close last.
    let (seen, close) = until_close_within(&mut client, Duration::from_millis(300)).await;
    assert_eq!(
        seen,
        vec![
            json!({"type": "hello", "user": "alice"}),
            json!({"type": "said", "text": "once"}),
        ]
    );
    assert_eq!(close, Some((4408, "idle too long".to_owned())));
}

#[tokio::test]
async fn the_server_pings_and_a_client_that_answers_outlives_the_idle_timeout() {
    let (addr, _server) = start_on(&QUICK_API, room, |b| b.allow_any_origin()).await;
    let mut client = connect(addr, "/ws/alice/1", Some(&token("alice", "user", 600))).await;
    assert_eq!(next_json(&mut client).await["type"], "hello");
    // Reading answers every ping with a pong (tungstenite does), and the
    // client sends nothing else, for well past the 2 s idle timeout.
    let mut pings = 0;
    let until = tokio::time::Instant::now() + Duration::from_millis(3500);
    while let Ok(frame) = tokio::time::timeout_at(until, client.next()).await {
        match frame {
            Some(Ok(Message::Ping(_))) => pings += 1,
            other => panic!("only pings were expected, got {other:?}"),
        }
    }
    assert!(pings >= 2, "one ping a second, got {pings} in 3.5 s");
    client
        .send(Message::text(r#"{"type":"say","text":"still here"}"#))
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(
        next_json(&mut client).await,
        json!({"type": "said", "text": "still here"}),
        "the connection is still open"
    );
}

/// Sends `said` before the welcome twice (queued, then waiting for room),
/// then the welcome reporting what those two answered, then `said` again.
async fn says_before_the_welcome(mut session: Session) -> HandlerResult {
    let early = session.send("said", &json!({ "text": "early" }));
    let waited = session.deliver("said", &json!({ "text": "early" })).await;
    let answers = format!("{:?} / {:?}", early.err(), waited.err());
    session.send("hello", &json!({ "user": answers }))?;
    session.send("said", &json!({ "text": "after" }))?;
    Ok(())
}

#[tokio::test]
async fn nothing_is_sent_before_the_welcome() {
    let (addr, _server) = start_with(says_before_the_welcome, |b| b.allow_any_origin()).await;
    let mut client = connect(addr, "/ws/alice/1", Some(&token("alice", "user", 600))).await;
    let (seen, close) = until_close(&mut client).await;
    assert_eq!(
        seen,
        vec![
            json!({"type": "hello", "user": "Some(WelcomeFirst(\"hello\")) / Some(WelcomeFirst(\"hello\"))"}),
            json!({"type": "said", "text": "after"}),
        ],
        "the early messages were refused, not sent"
    );
    assert_eq!(close, Some((1000, "done".to_owned())));
}

/// Sends `said` before the welcome and gives up on the error.
async fn fails_on_a_message_before_the_welcome(mut session: Session) -> HandlerResult {
    session.send("said", &json!({ "text": "early" }))?;
    session.send("hello", &json!({ "user": "late" }))?;
    Ok(())
}

#[tokio::test]
async fn a_handler_that_gives_up_on_the_welcome_rule_closes_with_server_error() {
    let (addr, _server) = start_with(fails_on_a_message_before_the_welcome, |b| {
        b.allow_any_origin()
    })
    .await;
    let got = rejected_with(addr, "/ws/alice/1", Some(&token("alice", "user", 600))).await;
    assert_eq!(got, (1011, "server error".to_owned()));
}

/// [`ROOM`] on another path: a second endpoint for the same users.
const LOBBY: EndpointDescriptor = EndpointDescriptor {
    name: "lobby",
    path: "/lobby/{user_id}/{room_id}",
    ..ROOM
};

static TWO_ENDPOINTS: ApiDescriptor = ApiDescriptor {
    endpoints: &[ROOM, LOBBY],
    ..API
};

/// Connects `user` to `path` and waits for the welcome.
async fn welcomed(addr: std::net::SocketAddr, path: &str, user: &str) -> Client {
    let mut client = connect(addr, path, Some(&token(user, "user", 600))).await;
    assert_eq!(next_json(&mut client).await["type"], "hello", "{path}");
    client
}

#[tokio::test]
async fn connections_per_user_are_counted_across_endpoints() {
    let (addr, server) = start_on(&TWO_ENDPOINTS, room, |b| {
        b.handler("lobby", room).allow_any_origin()
    })
    .await;
    assert_eq!(ROOM.limits.max_connections_per_user, 3);
    let mut first = welcomed(addr, "/ws/alice/1", "alice").await;
    let _second = welcomed(addr, "/ws/alice/1", "alice").await;
    let _third = welcomed(addr, "/lobby/alice/1", "alice").await;
    // The lobby holds one of alice's connections and the room two: either
    // endpoint refuses a fourth.
    let alice = token("alice", "user", 600);
    for path in ["/lobby/alice/1", "/ws/alice/1"] {
        assert_eq!(
            rejected_with(addr, path, Some(&alice)).await,
            (4008, "too many connections".to_owned()),
            "{path}"
        );
    }
    let _bob = welcomed(addr, "/lobby/bob/1", "bob").await;

    // A connection closed on one endpoint frees a slot on the other.
    first.close(None).await.unwrap_or_else(|e| panic!("{e}"));
    let _ = until_close(&mut first).await;
    let mut freed = false;
    for _ in 0..200 {
        if server.stats().active_connections == 3 {
            freed = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert!(freed, "{:?}", server.stats());
    let _fourth = welcomed(addr, "/lobby/alice/1", "alice").await;
}

/// [`ROOM`] on another path, for one connection per user.
const SOLO: EndpointDescriptor = EndpointDescriptor {
    name: "solo",
    path: "/solo/{user_id}/{room_id}",
    limits: Limits {
        max_connections_per_user: 1,
        ..LIMITS
    },
    ..ROOM
};

static UNEQUAL_LIMITS: ApiDescriptor = ApiDescriptor {
    endpoints: &[ROOM, SOLO],
    ..API
};

#[tokio::test]
async fn each_endpoint_holds_the_users_connections_everywhere_to_its_own_limit() {
    let (addr, _server) = start_on(&UNEQUAL_LIMITS, room, |b| {
        b.handler("solo", room).allow_any_origin()
    })
    .await;
    // Alice is in the room once: the solo endpoint (limit 1) counts that.
    let _room = welcomed(addr, "/ws/alice/1", "alice").await;
    assert_eq!(
        rejected_with(addr, "/solo/alice/1", Some(&token("alice", "user", 600))).await,
        (4008, "too many connections".to_owned())
    );
    // Bob starts on the solo endpoint; the room (limit 3) still takes two
    // more of his, and no third.
    let _solo = welcomed(addr, "/solo/bob/1", "bob").await;
    let _first = welcomed(addr, "/ws/bob/1", "bob").await;
    let _second = welcomed(addr, "/ws/bob/1", "bob").await;
    assert_eq!(
        rejected_with(addr, "/ws/bob/1", Some(&token("bob", "user", 600))).await,
        (4008, "too many connections".to_owned())
    );
}

/// [`ROOM`] reading its token from a cookie only.
static COOKIE_API: ApiDescriptor = ApiDescriptor {
    endpoints: &[EndpointDescriptor {
        sources: &[TokenSource::Cookie("session")],
        ..ROOM
    }],
    ..API
};

#[tokio::test]
async fn cookie_tokens_require_an_origin_allow_list() {
    let builder = || {
        WsAuth::builder(&COOKIE_API)
            .authenticator(TestTokens)
            .users(Users)
            .checks(Rooms)
            .handler("room", room)
    };
    // Any origin would let every site's page ride the user's cookie.
    assert_eq!(
        builder().allow_any_origin().build().err(),
        Some(BuildError::CookieWithoutOrigins("room"))
    );
    let server = builder()
        .allow_origins(["https://app.example"])
        .build()
        .unwrap_or_else(|e| panic!("{e}"));
    let addr = serve(server.router()).await;
    let mut request = format!("ws://{addr}/ws/alice/1")
        .into_client_request()
        .unwrap_or_else(|e| panic!("{e}"));
    let headers = request.headers_mut();
    let cookie = format!("session={}", token("alice", "user", 600));
    headers.insert("cookie", cookie.parse().unwrap_or_else(|e| panic!("{e}")));
    headers.insert(
        "origin",
        "https://app.example"
            .parse()
            .unwrap_or_else(|e| panic!("{e}")),
    );
    let (mut client, _) = tokio_tungstenite::connect_async(request)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(
        next_json(&mut client).await,
        json!({"type": "hello", "user": "alice"}),
        "with an allow-list, the cookie's token admits from an allowed origin"
    );
}
