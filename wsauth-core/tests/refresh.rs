//! In-band token refresh replaces the connection's identity everywhere:
//! the loop's per-message checks and the handler's session see the new
//! token's roles, and the endpoint's resource checks decide again, so a
//! user who lost access to the resource since the handshake is closed with
//! the check's code instead of being kept on by a fresh token.
//!
//! Also here: close codes and reasons a close frame cannot carry stop the
//! build (hand-built descriptors only; the spec validator refuses them).

mod common;

use std::collections::HashSet;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, PoisonError};

use common::*;
use futures_util::SinkExt;
use serde_json::json;
use tokio_tungstenite::tungstenite::Message;
use wsauth_core::__private::descriptor::*;
use wsauth_core::spec::{ClientAction, FailureKind};
use wsauth_core::{BoxFuture, CheckContext, CheckOutcome, Checks, StoreError};
use wsauth_core::{BuildError, HandlerResult, Incoming, Session, WsAuth};

/// [`common::ROOM`], plus `whoami` (answered with the session's roles).
const DESK: EndpointDescriptor = EndpointDescriptor {
    name: "desk",
    receives: &[
        ReceiveDescriptor {
            name: "say",
            perm: Some("room.write"),
            payload: None,
        },
        ReceiveDescriptor {
            name: "whoami",
            perm: None,
            payload: None,
        },
    ],
    sends: &["hello", "said", "roles", "error"],
    open: None,
    ..ROOM
};

static DESK_API: ApiDescriptor = ApiDescriptor {
    close_codes: &[
        CloseDescriptor {
            kind: FailureKind::Forbidden,
            code: 4403,
            reason: "no access",
            client: ClientAction::Stop,
        },
        CloseDescriptor {
            kind: FailureKind::NotFound,
            code: 4404,
            reason: "no such room",
            client: ClientAction::Stop,
        },
    ],
    endpoints: &[DESK],
    ..API
};

/// Room membership the test changes while connections are open: a member
/// may use the room, anyone else is forbidden, a room nobody is in does
/// not exist.
#[derive(Clone, Default)]
struct Members(Arc<Mutex<HashSet<(String, String)>>>);

impl Members {
    fn with(self, user: &str, room: &str) -> Self {
        self.set().insert((user.to_owned(), room.to_owned()));
        self
    }

    fn set(&self) -> std::sync::MutexGuard<'_, HashSet<(String, String)>> {
        self.0.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl Checks for Members {
    fn check<'a>(
        &'a self,
        _name: &'static str,
        cx: &'a CheckContext<'a>,
    ) -> BoxFuture<'a, Result<CheckOutcome, StoreError>> {
        Box::pin(async move {
            let (Some(room), Some(user)) = (cx.param("room_id"), cx.principal.subject()) else {
                return Ok(CheckOutcome::NotFound);
            };
            let members = self.set();
            Ok(if members.contains(&(user.to_owned(), room.to_owned())) {
                CheckOutcome::Allow
            } else if members.iter().any(|(_, r)| r == room) {
                CheckOutcome::Forbidden
            } else {
                CheckOutcome::NotFound
            })
        })
    }
}

/// Welcomes, answers `whoami` with the session's current roles and `say`
/// with `said`.
async fn desk(mut session: Session) -> HandlerResult {
    session.send("hello", &json!({ "user": session.principal().subject() }))?;
    while let Some(message) = session.recv().await {
        match message {
            Incoming::Message { kind: "whoami", .. } => {
                let roles = session.principal().roles().to_vec();
                session.send("roles", &json!({ "roles": roles }))?;
            }
            Incoming::Message { kind: "say", value } => {
                session.send("said", &json!({ "text": value["text"] }))?;
            }
            _ => {}
        }
    }
    Ok(())
}

async fn start_desk(members: Members) -> (SocketAddr, WsAuth) {
    let server = WsAuth::builder(&DESK_API)
        .authenticator(TestTokens)
        .users(Users)
        .checks(members)
        .handler("desk", desk)
        .allow_any_origin()
        .build()
        .unwrap_or_else(|e| panic!("{e}"));
    let app = server.router::<()>();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let addr = listener.local_addr().unwrap_or_else(|e| panic!("{e}"));
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    (addr, server)
}

async fn send(client: &mut Client, value: serde_json::Value) {
    client
        .send(Message::text(value.to_string()))
        .await
        .unwrap_or_else(|e| panic!("{e}"));
}

async fn refresh(client: &mut Client, token: String) {
    send(client, json!({"type": "wsauth.refresh", "token": token})).await;
}

#[tokio::test]
async fn refresh_after_access_was_revoked_closes_with_the_checks_code() {
    let members = Members::default()
        .with("alice", "1")
        .with("bob", "1")
        .with("alice", "2");
    let (addr, _server) = start_desk(members.clone()).await;
    let mut one = connect(addr, "/ws/alice/1", Some(&token("alice", "user", 600))).await;
    assert_eq!(next_json(&mut one).await["type"], "hello");
    let mut two = connect(addr, "/ws/alice/2", Some(&token("alice", "user", 600))).await;
    assert_eq!(next_json(&mut two).await["type"], "hello");

    // While access holds, a refresh passes.
    refresh(&mut one, token("alice", "user", 900)).await;
    assert_eq!(next_json(&mut one).await["type"], "wsauth.refreshed");

    // Alice leaves room 1 (bob is still in it: forbidden), and room 2 is
    // gone (nobody is in it: not found).
    members.set().remove(&("alice".to_owned(), "1".to_owned()));
    members.set().remove(&("alice".to_owned(), "2".to_owned()));
    refresh(&mut one, token("alice", "user", 1200)).await;
    let (seen, close) = until_close(&mut one).await;
    assert!(seen.is_empty(), "{seen:?}");
    assert_eq!(close, Some((4403, "no access".to_owned())));
    refresh(&mut two, token("alice", "user", 1200)).await;
    let (seen, close) = until_close(&mut two).await;
    assert!(seen.is_empty(), "{seen:?}");
    assert_eq!(close, Some((4404, "no such room".to_owned())));
}

#[tokio::test]
async fn refresh_with_fewer_roles_reaches_the_session_and_the_message_checks() {
    let (addr, _server) = start_desk(Members::default().with("alice", "1")).await;
    let mut client = connect(addr, "/ws/alice/1", Some(&token("alice", "user", 600))).await;
    assert_eq!(next_json(&mut client).await["type"], "hello");
    send(&mut client, json!({"type": "whoami"})).await;
    assert_eq!(
        next_json(&mut client).await,
        json!({"type": "roles", "roles": ["user"]})
    );
    send(&mut client, json!({"type": "say", "text": "before"})).await;
    assert_eq!(next_json(&mut client).await["text"], "before");

    // `reader` keeps `room.read` (the endpoint's) and loses `room.write`.
    refresh(&mut client, token("alice", "reader", 600)).await;
    assert_eq!(next_json(&mut client).await["type"], "wsauth.refreshed");
    send(&mut client, json!({"type": "whoami"})).await;
    assert_eq!(
        next_json(&mut client).await,
        json!({"type": "roles", "roles": ["reader"]}),
        "the handler's session sees the refreshed token's roles"
    );
    send(&mut client, json!({"type": "say", "text": "after"})).await;
    assert_eq!(
        next_json(&mut client).await,
        json!({"type": "error", "code": "forbidden", "message": "no access"}),
        "the loop checks messages against the refreshed roles"
    );

    // Roles that lose the endpoint's own permission close the connection.
    refresh(&mut client, token("alice", "", 600)).await;
    let (seen, close) = until_close(&mut client).await;
    assert!(seen.is_empty(), "{seen:?}");
    assert_eq!(close, Some((4403, "no access".to_owned())));
}

/// `DESK_API` with `code` and `reason` for `rate_limited`.
fn with_close(code: u16, reason: &'static str) -> &'static ApiDescriptor {
    let codes: &'static [CloseDescriptor] = Box::leak(Box::new([CloseDescriptor {
        kind: FailureKind::RateLimited,
        code,
        reason,
        client: ClientAction::Backoff,
    }]));
    Box::leak(Box::new(ApiDescriptor {
        close_codes: codes,
        ..DESK_API
    }))
}

fn build(api: &'static ApiDescriptor) -> Option<BuildError> {
    WsAuth::builder(api)
        .authenticator(TestTokens)
        .users(Users)
        .checks(Members::default())
        .handler("desk", desk)
        .allow_any_origin()
        .build()
        .err()
}

#[test]
fn a_close_code_no_close_frame_may_carry_stops_the_build() {
    for code in [1000, 1003, 1007, 1014, 3000, 4999] {
        assert_eq!(build(with_close(code, "r")), None, "{code}");
    }
    for code in [0, 999, 1004, 1005, 1006, 1015, 1016, 2999, 5000] {
        assert_eq!(
            build(with_close(code, "r")),
            Some(BuildError::BadCloseCode {
                kind: FailureKind::RateLimited,
                code
            }),
            "{code}"
        );
    }
}

#[test]
fn a_close_reason_longer_than_a_close_frame_holds_stops_the_build() {
    let longest: &'static str = Box::leak("r".repeat(123).into_boxed_str());
    assert_eq!(build(with_close(4008, longest)), None, "123 bytes fit");
    let too_long: &'static str = Box::leak("r".repeat(124).into_boxed_str());
    assert_eq!(
        build(with_close(4008, too_long)),
        Some(BuildError::CloseReasonTooLong {
            kind: FailureKind::RateLimited,
            bytes: 124
        })
    );
    // Bytes, not characters: 62 two-byte characters are 124 bytes.
    let wide: &'static str = Box::leak("\u{e9}".repeat(62).into_boxed_str());
    let refused = build(with_close(4008, wide));
    assert_eq!(
        refused,
        Some(BuildError::CloseReasonTooLong {
            kind: FailureKind::RateLimited,
            bytes: 124
        })
    );
    let message = refused.map(|e| e.to_string()).unwrap_or_default();
    assert!(
        message.contains("`rate_limited`") && message.contains("124"),
        "{message}"
    );
}
