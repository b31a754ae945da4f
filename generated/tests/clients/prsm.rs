//! The generated Rust client of prsm against the running prsm example:
//! every message type, every close code the spec declares (with the action
//! the client takes), in-band refresh past the first `exp`, and
//! reconnection after `refresh_token` and `backoff` closes.

use std::fmt::Debug;
use std::sync::atomic::Ordering;
use std::time::Duration;

use wsauth_core::client::{
    Client, ClientError, CloseAction, Codec, Event, ServerClose, Token, TopicEvents,
};
use wsauth_core::spec::{ClientAction, FailureKind};
use wsauth_generated::prsm::endpoints::{conversation, notifications, web3};
use wsauth_generated::prsm::schemas::{Problem, ProblemCode};
use wsauth_generated::prsm::{CloseCode, messages};

use crate::support::events::{
    close, failure, message, next, opened, provider, reconnecting, refreshed_once_then_stopped,
    stopped_at_once,
};
use crate::support::examples::{Serving, start_prsm};
use crate::support::tokens::{PRSM, now};

/// Fast reconnection for tests.
const BASE: Duration = Duration::from_millis(50);
const CAP: Duration = Duration::from_millis(200);
/// A valid wallet address.
const WALLET: &str = "0x52908400098527886E0F7030069857D2E4169EE7";

/// prsm with its seeded store.
async fn start() -> Serving {
    start_prsm(|c| c, axum::Router::new()).await
}

/// prsm with `store`.
async fn start_with(store: prsm::Store) -> Serving {
    let configure = |mut config: prsm::Config| {
        config.store = store;
        config
    };
    start_prsm(configure, axum::Router::new()).await
}

/// An HS256 token for `sub` with `roles`, issued now, expiring in `ttl` s.
fn token_for(sub: &str, roles: &[&str], ttl: i64) -> String {
    PRSM.token(sub, roles, ttl)
}

fn alice() -> String {
    token_for("alice", &["user"], 600)
}

/// `Open` then the `connected` welcome for `user` on `endpoint`.
async fn admitted<C: Codec, T: TopicEvents>(
    client: &mut Client<C, T>,
    attempt: u32,
    user: &str,
    endpoint: &str,
) where
    C::Receive: Debug + Welcome,
{
    opened(client, attempt).await;
    let welcome = message(client)
        .await
        .welcome()
        .unwrap_or_else(|| panic!("the first message is not the welcome"));
    assert_eq!(
        (welcome.user_id.as_str(), welcome.endpoint.as_str()),
        (user, endpoint)
    );
    assert!(!welcome.server_time.is_empty());
}

/// Every prsm endpoint's `ServerMessage` may be the `connected` welcome.
trait Welcome {
    fn welcome(self) -> Option<messages::Connected>;
}

macro_rules! welcome_of {
    ($($endpoint:ident),*) => {$(
        impl Welcome for $endpoint::ServerMessage {
            fn welcome(self) -> Option<messages::Connected> {
                match self {
                    $endpoint::ServerMessage::Connected(c) => Some(c),
                    _ => None,
                }
            }
        }
    )*};
}
welcome_of!(conversation, notifications, web3);

/// Checks that `user`'s conversation is still open and served: a typing
/// notice is relayed back.
async fn still_serving(client: &mut conversation::Client, user: &str) {
    let typing = messages::Typing {
        user_id: user.to_owned(),
        active: true,
    };
    client.send(typing).await.unwrap_or_else(|e| panic!("{e}"));
    assert!(matches!(
        message(client).await,
        conversation::ServerMessage::Typing(_)
    ));
}

fn conv(user: &str, id: i64) -> conversation::Params {
    conversation::Params {
        user_id: user.to_owned(),
        conversation_id: id,
    }
}

#[tokio::test]
async fn conversation_streams_answers_and_relays_typing() {
    let prsm = start().await;
    // conversation's sources include the `prsm` subprotocol: the token
    // travels there.
    let mut client = conversation::connect(&prsm.ws_url(), conv("alice", 1), alice())
        .start()
        .unwrap_or_else(|e| panic!("{e}"));
    admitted(&mut client, 0, "alice", "conversation").await;

    client
        .send(messages::SubscribeConversation {
            conversation_id: None,
            since: Some(0),
        })
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    client
        .send(messages::SendMessage {
            text: "hello there".to_owned(),
        })
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let mut tokens = Vec::new();
    let done = loop {
        match message(&mut client).await {
            conversation::ServerMessage::AiToken(t) => {
                assert_eq!(t.index, i64::try_from(tokens.len()).unwrap_or(-1));
                tokens.push(t.token);
            }
            conversation::ServerMessage::AiDone(d) => break d,
            other => panic!("expected ai_token or ai_done, got {other:?}"),
        }
    };
    assert_eq!(tokens.concat(), "You said: hello there");
    assert_eq!(done.tokens, 4);

    client
        .send(messages::Typing {
            user_id: "someone else".to_owned(),
            active: true,
        })
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(
        message(&mut client).await,
        conversation::ServerMessage::Typing(messages::Typing {
            user_id: "alice".to_owned(),
            active: true
        }),
        "relayed as the authenticated user"
    );
    close(client).await;
}

#[tokio::test]
async fn refused_messages_get_typed_error_replies() {
    let prsm = start_with(prsm::Store::seeded().conversation(1, ["alice", "mod"])).await;
    // A moderator may read but not post: `forbidden`, and the connection stays.
    let moderator = token_for("mod", &["moderator"], 600);
    let mut client = conversation::connect(&prsm.ws_url(), conv("mod", 1), moderator)
        .start()
        .unwrap_or_else(|e| panic!("{e}"));
    admitted(&mut client, 0, "mod", "conversation").await;
    let post = messages::SendMessage {
        text: "hello".to_owned(),
    };
    client.send(post).await.unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(
        message(&mut client).await,
        conversation::ServerMessage::Error(Problem {
            code: ProblemCode::Forbidden,
            message: "forbidden".to_owned()
        })
    );
    // A message the types allow but the handler refuses: `invalid_message`.
    let mut alice_client = conversation::connect(&prsm.ws_url(), conv("alice", 1), alice())
        .start()
        .unwrap_or_else(|e| panic!("{e}"));
    admitted(&mut alice_client, 0, "alice", "conversation").await;
    let empty = messages::SendMessage {
        text: String::new(),
    };
    alice_client
        .send(empty)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    match message(&mut alice_client).await {
        conversation::ServerMessage::Error(p) => assert_eq!(p.code, ProblemCode::InvalidMessage),
        other => panic!("expected an error, got {other:?}"),
    }
    // Both are still open.
    still_serving(&mut client, "mod").await;
    close(client).await;
    close(alice_client).await;
}

#[tokio::test]
async fn wallet_subscriptions_and_notifications() {
    let prsm = start().await;
    // web3 takes header or query; the client uses the header.
    let mut wallet = web3::connect(
        &prsm.ws_url(),
        web3::Params {
            user_id: "alice".to_owned(),
        },
        alice(),
    )
    .start()
    .unwrap_or_else(|e| panic!("{e}"));
    admitted(&mut wallet, 0, "alice", "web3").await;
    let subscribe = messages::SubscribeWallet {
        address: WALLET.to_owned(),
    };
    wallet
        .send(subscribe)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let (balance, transaction) = prsm::handlers::wallet_events(WALLET);
    assert_eq!(
        serde_json::to_value(match message(&mut wallet).await {
            web3::ServerMessage::BalanceUpdate(b) => b,
            other => panic!("expected balance_update, got {other:?}"),
        })
        .ok(),
        serde_json::to_value(balance).ok()
    );
    match message(&mut wallet).await {
        web3::ServerMessage::Transaction(t) => {
            assert_eq!(t.hash, transaction.hash);
            assert_eq!(t.to, WALLET);
            assert_eq!(t.status, messages::TransactionStatus::Confirmed);
        }
        other => panic!("expected transaction, got {other:?}"),
    }
    let bad = messages::SubscribeWallet {
        address: "0x1234".to_owned(),
    };
    wallet.send(bad).await.unwrap_or_else(|e| panic!("{e}"));
    match message(&mut wallet).await {
        web3::ServerMessage::Error(p) => assert_eq!(p.code, ProblemCode::InvalidMessage),
        other => panic!("expected an error, got {other:?}"),
    }
    close(wallet).await;

    let mut inbox = notifications::connect(
        &prsm.ws_url(),
        notifications::Params {
            user_id: "alice".to_owned(),
        },
        alice(),
    )
    .start()
    .unwrap_or_else(|e| panic!("{e}"));
    admitted(&mut inbox, 0, "alice", "notifications").await;
    for expected in prsm::handlers::initial_notifications("alice") {
        match message(&mut inbox).await {
            notifications::ServerMessage::Notification(n) => {
                assert_eq!((n.id, n.title), (expected.id, expected.title));
            }
            other => panic!("expected a notification, got {other:?}"),
        }
    }
    close(inbox).await;
}

/// The close of a client that must stop on its first connection.
async fn stops_with(prsm: &Serving, user: &str, id: i64, token: Token) -> ServerClose {
    let mut client = conversation::connect(&prsm.ws_url(), conv(user, id), token)
        .backoff(BASE, CAP)
        .start()
        .unwrap_or_else(|e| panic!("{e}"));
    stopped_at_once(&mut client).await
}

#[tokio::test]
async fn forbidden_closes_4003_stop() {
    let prsm = start().await;
    let kinds = vec![
        FailureKind::SubjectMismatch,
        FailureKind::Forbidden,
        FailureKind::NotFound,
        FailureKind::OriginRejected,
    ];
    let cases = [
        ("subject mismatch", "bob", 1, alice()),
        ("not a participant", "alice", 2, alice()),
        ("no such conversation", "alice", 9, alice()),
        (
            "role lacks the permission",
            "alice",
            1,
            token_for("alice", &["nobody"], 600),
        ),
    ];
    for (case, user, id, token) in cases {
        let close = stops_with(&prsm, user, id, token.into()).await;
        assert_eq!(close.code, 4003, "{case}");
        assert_eq!(close.reason, "forbidden", "{case}");
        assert_eq!(close.action, CloseAction::Stop, "{case}");
        assert_eq!(close.kinds, kinds, "{case}");
        assert_eq!(
            close.kind_words(),
            [
                "subject_mismatch",
                "forbidden",
                "not_found",
                "origin_rejected"
            ]
        );
    }
    let code = CloseCode::from_code(4003).unwrap_or_else(|| panic!("4003 is in the catalogue"));
    assert_eq!(
        (code.action(), code.kinds()),
        (ClientAction::Stop, &kinds[..])
    );
    assert_eq!(prsm.server.stats().active_connections, 0);
}

#[tokio::test]
async fn missing_or_invalid_tokens_close_4001_and_refresh_once() {
    let prsm = start().await;
    // No token at all: nothing to refresh with, so the client stops at once.
    let close = stops_with(&prsm, "alice", 1, Token::none()).await;
    assert_eq!(
        (close.code, close.reason.as_str(), close.action),
        (4001, "authentication required", CloseAction::RefreshToken)
    );
    assert_eq!(
        close.kinds,
        [
            FailureKind::AuthRequired,
            FailureKind::AuthFailed,
            FailureKind::TokenExpired,
            FailureKind::UserInactive
        ]
    );
    // A fixed bad token: one refresh (the same token again), then stop:
    // a second refresh_token close in a row does not loop.
    // An inactive user is a 4001 too (PRSM's "ensure user exists").
    for (case, user, token, reason) in [
        (
            "invalid",
            "alice",
            "not-a-jwt".to_owned(),
            "invalid or expired token",
        ),
        (
            "expired",
            "alice",
            token_for("alice", &["user"], -60),
            "invalid or expired token",
        ),
        (
            "inactive user",
            "mallory",
            token_for("mallory", &["user"], 600),
            "user not found or inactive",
        ),
    ] {
        let mut client = conversation::connect(&prsm.ws_url(), conv(user, 1), token)
            .start()
            .unwrap_or_else(|e| panic!("{e}"));
        let (first, last) = refreshed_once_then_stopped(&mut client).await;
        assert_eq!(first.code, 4001, "{case}");
        assert_eq!(
            (last.code, last.reason.as_str(), last.action),
            (4001, reason, CloseAction::RefreshToken),
            "{case}"
        );
    }
    assert_eq!(
        CloseCode::from_code(4001).map(CloseCode::action),
        Some(ClientAction::RefreshToken)
    );
}

#[tokio::test]
async fn a_refresh_token_close_asks_the_provider_and_reconnects() {
    let prsm = start().await;
    let expired = token_for("alice", &["user"], -60);
    let (token, calls) = provider(vec![expired, alice()]);
    let mut client = conversation::connect(&prsm.ws_url(), conv("alice", 1), token)
        .start()
        .unwrap_or_else(|e| panic!("{e}"));
    opened(&mut client, 0).await;
    let (refused, delay) = reconnecting(&mut client).await;
    assert_eq!(
        (refused.code, refused.action, delay),
        (4001, CloseAction::RefreshToken, Duration::ZERO)
    );
    assert!(refused.kinds.contains(&FailureKind::AuthFailed));
    admitted(&mut client, 1, "alice", "conversation").await;
    assert_eq!(calls.load(Ordering::SeqCst), 2, "one token per connection");
    close(client).await;
}

#[tokio::test]
async fn in_band_refresh_keeps_the_connection_past_exp() {
    let prsm = start().await;
    let short = token_for("alice", &["user"], 3);
    let first_exp = now() + 3;
    let (token, calls) = provider(vec![short, alice()]);
    let mut client = conversation::connect(&prsm.ws_url(), conv("alice", 1), token)
        .start()
        .unwrap_or_else(|e| panic!("{e}"));
    admitted(&mut client, 0, "alice", "conversation").await;
    // At 80 % of the 3 s life the client sends `wsauth.refresh`.
    match next(&mut client).await {
        Event::Refreshed { exp } => {
            assert!(i64::try_from(exp).unwrap_or(0) >= now() + 590, "{exp}");
        }
        other => panic!("expected the refresh, got {other:?}"),
    }
    assert_eq!(calls.load(Ordering::SeqCst), 2);
    // Past the first exp (and the server's leeway), still open and serving.
    let wait = u64::try_from(first_exp + 2 - now()).unwrap_or(0);
    tokio::time::sleep(Duration::from_secs(wait)).await;
    still_serving(&mut client, "alice").await;
    assert_eq!(prsm.server.stats().active_connections, 1);
    close(client).await;
}

#[tokio::test]
async fn too_many_connections_backs_off_and_reconnects() {
    let prsm = start().await;
    let bob = token_for("bob", &["user"], 600);
    let params = || notifications::Params {
        user_id: "bob".to_owned(),
    };
    let mut open = Vec::new();
    for _ in 0..10 {
        let mut c = notifications::connect(&prsm.ws_url(), params(), bob.clone())
            .start()
            .unwrap_or_else(|e| panic!("{e}"));
        admitted(&mut c, 0, "bob", "notifications").await;
        open.push(c);
    }
    // The eleventh is refused with 4008 and backs off (with a 1 s base, so
    // there is time to free a slot), then gets in.
    let mut eleventh = notifications::connect(&prsm.ws_url(), params(), bob.clone())
        .backoff(Duration::from_secs(1), Duration::from_secs(1))
        .start()
        .unwrap_or_else(|e| panic!("{e}"));
    opened(&mut eleventh, 0).await;
    let (refused, delay) = reconnecting(&mut eleventh).await;
    assert_eq!(
        (refused.code, refused.reason.as_str(), refused.action),
        (4008, "too many connections", CloseAction::Backoff)
    );
    assert_eq!(refused.kinds, [FailureKind::TooManyConnections]);
    assert!(delay <= Duration::from_secs(1), "{delay:?}");
    if let Some(first) = open.pop() {
        close(first).await;
    }
    // Until the slot is free the client may be refused again; it keeps
    // backing off until it is admitted.
    loop {
        match next(&mut eleventh).await {
            Event::Open { .. } => {}
            Event::Reconnecting { close, .. } => assert_eq!(close.code, 4008),
            Event::Message(notifications::ServerMessage::Connected(c)) => {
                assert_eq!(c.user_id, "bob");
                break;
            }
            other => panic!("unexpected {other:?}"),
        }
    }
    assert_eq!(
        CloseCode::from_code(4008).map(CloseCode::action),
        Some(ClientAction::Backoff)
    );
    close(eleventh).await;
    for c in open {
        close(c).await;
    }
}

#[tokio::test]
async fn a_server_error_backs_off_until_the_client_gives_up() {
    let prsm = start_with(prsm::Store::seeded().unavailable_conversation(13)).await;
    let mut client = conversation::connect(&prsm.ws_url(), conv("alice", 13), alice())
        .backoff(BASE, CAP)
        .max_reconnects(2)
        .start()
        .unwrap_or_else(|e| panic!("{e}"));
    let (error, seen) = failure(&mut client).await;
    let reconnects: Vec<&ServerClose> = seen
        .iter()
        .filter_map(|e| match e {
            Event::Reconnecting { close, delay } => {
                assert!(*delay <= CAP);
                Some(close)
            }
            _ => None,
        })
        .collect();
    assert_eq!(reconnects.len(), 2, "{seen:?}");
    match error {
        ClientError::GaveUp { attempts, last } => {
            assert_eq!(attempts, 2);
            assert_eq!(
                (last.code, last.reason.as_str(), last.action),
                (1011, "server error", CloseAction::Backoff)
            );
            assert_eq!(last.kinds, [FailureKind::ServerError]);
        }
        other => panic!("expected to give up, got {other:?}"),
    }
    assert_eq!(
        CloseCode::from_code(1011).map(CloseCode::action),
        Some(ClientAction::Backoff)
    );
}

#[tokio::test]
async fn a_server_shutdown_backs_off_and_reconnects() {
    let mut prsm = start().await;
    let mut client = conversation::connect(&prsm.ws_url(), conv("alice", 1), alice())
        .backoff(BASE, CAP)
        .max_reconnects(3)
        .start()
        .unwrap_or_else(|e| panic!("{e}"));
    admitted(&mut client, 0, "alice", "conversation").await;
    prsm.stop().await.unwrap_or_else(|e| panic!("prsm: {e}"));
    let (going, delay) = reconnecting(&mut client).await;
    assert_eq!(
        (going.code, going.reason.as_str(), going.action),
        (1001, "server shutting down", CloseAction::Backoff)
    );
    assert!(going.kinds.contains(&FailureKind::GoingAway));
    assert!(delay <= BASE);
    // The server is gone: each attempt fails at the network (1006) and backs
    // off again, until max_reconnects.
    let (error, seen) = failure(&mut client).await;
    assert!(
        seen.iter()
            .all(|e| matches!(e, Event::Reconnecting { close, .. } if close.code == 1006)),
        "{seen:?}"
    );
    match error {
        ClientError::GaveUp { attempts, last } => {
            assert_eq!(
                (attempts, last.code, last.action),
                (3, 1006, CloseAction::Backoff)
            );
        }
        other => panic!("expected to give up, got {other:?}"),
    }
}
