//! The generated Rust client of prsm against the running prsm example:
//! every message type, every close code the spec declares (with the action
//! the client takes), in-band refresh past the first `exp`, and
//! reconnection after `refresh_token` and `backoff` closes.

mod support;

use std::fmt::Debug;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use jsonwebtoken::{Algorithm, EncodingKey, Header, encode};
use serde_json::json;
use wsauth_core::client::{
    Client, ClientError, CloseAction, Closed, Codec, Event, ServerClose, Token,
};
use wsauth_core::spec::{ClientAction, FailureKind};
use wsauth_generated::prsm::endpoints::{conversation, notifications, web3};
use wsauth_generated::prsm::schemas::{Problem, ProblemCode};
use wsauth_generated::prsm::{CloseCode, messages};

/// Fast reconnection for tests.
const BASE: Duration = Duration::from_millis(50);
const CAP: Duration = Duration::from_millis(200);
/// A valid wallet address.
const WALLET: &str = "0x52908400098527886E0F7030069857D2E4169EE7";

fn now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
}

/// An HS256 token for `sub` with `roles`, issued now, expiring in `ttl` s.
fn token_for(sub: &str, roles: &[&str], ttl: i64) -> String {
    let iat = if ttl < 0 { now() + ttl - 60 } else { now() };
    let claims = json!({
        "sub": sub, "iat": iat, "exp": now() + ttl, "iss": "prsm", "aud": "prsm-ws", "roles": roles,
    });
    encode(
        &Header::new(Algorithm::HS256),
        &claims,
        &EncodingKey::from_secret(support::SECRET.as_bytes()),
    )
    .unwrap_or_else(|e| panic!("{e}"))
}

fn alice() -> String {
    token_for("alice", &["user"], 600)
}

/// The next event (at most 10 s).
async fn next<C: Codec>(client: &mut Client<C>) -> Event<C::Receive> {
    tokio::time::timeout(Duration::from_secs(10), client.recv())
        .await
        .unwrap_or_else(|_| panic!("no event within 10 s"))
        .unwrap_or_else(|| panic!("the client ended"))
}

/// The next event, which must be a message.
async fn message<C: Codec>(client: &mut Client<C>) -> C::Receive
where
    C::Receive: Debug,
{
    match next(client).await {
        Event::Message(m) => m,
        other => panic!("expected a message, got {other:?}"),
    }
}

/// `Open` then the `connected` welcome for `user` on `endpoint`.
async fn admitted<C: Codec>(client: &mut Client<C>, attempt: u32, user: &str, endpoint: &str)
where
    C::Receive: Debug + Welcome,
{
    match next(client).await {
        Event::Open { attempt: a } => assert_eq!(a, attempt),
        other => panic!("expected the socket to open, got {other:?}"),
    }
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

/// Closes the client and expects the normal end.
async fn close<C: Codec>(mut client: Client<C>)
where
    C::Receive: Debug,
{
    client.close();
    loop {
        match next(&mut client).await {
            Event::Closed(Closed::ByClient) => break,
            Event::Message(_) => {}
            other => panic!("expected the client's close, got {other:?}"),
        }
    }
    assert!(
        client.recv().await.is_none(),
        "nothing after the last event"
    );
}

/// Skips to the client's last event, which must be a failure.
async fn failure<C: Codec>(client: &mut Client<C>) -> (ClientError, Vec<Event<C::Receive>>) {
    let mut seen = Vec::new();
    loop {
        match next(client).await {
            Event::Failed(e) => return (e, seen),
            other => seen.push(other),
        }
    }
}

fn expect_close(error: &ClientError) -> &ServerClose {
    match error {
        ClientError::Closed(close) => close,
        other => panic!("expected a close, got {other:?}"),
    }
}

fn conv(user: &str, id: i64) -> conversation::Params {
    conversation::Params {
        user_id: user.to_owned(),
        conversation_id: id,
    }
}

#[tokio::test]
async fn conversation_streams_answers_and_relays_typing() {
    let prsm = support::start_prsm(|c| c, axum::Router::new()).await;
    // conversation's sources include the `prsm` subprotocol: the token
    // travels there.
    let mut client = conversation::connect(&prsm.ws_url(), conv("alice", 1), alice())
        .start()
        .unwrap_or_else(|e| panic!("{e}"));
    admitted(&mut client, 0, "alice", "conversation").await;

    client
        .send(messages::SubscribeConversation { since: Some(0) })
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
    let prsm = support::start_prsm(
        |mut c| {
            c.store = prsm::Store::seeded().conversation(1, ["alice", "mod"]);
            c
        },
        axum::Router::new(),
    )
    .await;
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
    let typing = messages::Typing {
        user_id: "mod".to_owned(),
        active: false,
    };
    client.send(typing).await.unwrap_or_else(|e| panic!("{e}"));
    assert!(matches!(
        message(&mut client).await,
        conversation::ServerMessage::Typing(_)
    ));
    close(client).await;
    close(alice_client).await;
}

#[tokio::test]
async fn wallet_subscriptions_and_notifications() {
    let prsm = support::start_prsm(|c| c, axum::Router::new()).await;
    // web3 takes header or query; the client uses the query.
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
async fn stops_with(prsm: &support::Prsm, user: &str, id: i64, token: Token) -> ServerClose {
    let mut client = conversation::connect(&prsm.ws_url(), conv(user, id), token)
        .backoff(BASE, CAP)
        .start()
        .unwrap_or_else(|e| panic!("{e}"));
    let (error, seen) = failure(&mut client).await;
    assert!(
        matches!(seen.as_slice(), [Event::Open { attempt: 0 }]),
        "{seen:?}"
    );
    assert!(client.recv().await.is_none());
    expect_close(&error).clone()
}

#[tokio::test]
async fn forbidden_closes_4003_stop() {
    let prsm = support::start_prsm(|c| c, axum::Router::new()).await;
    let kinds = vec![
        FailureKind::UserInactive,
        FailureKind::SubjectMismatch,
        FailureKind::Forbidden,
        FailureKind::NotFound,
        FailureKind::OriginRejected,
    ];
    let cases = [
        (
            "inactive user",
            "mallory",
            1,
            token_for("mallory", &["user"], 600),
        ),
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
                "user_inactive",
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
    let prsm = support::start_prsm(|c| c, axum::Router::new()).await;
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
            FailureKind::TokenExpired
        ]
    );
    // A fixed bad token: one refresh (the same token again), then stop:
    // a second refresh_token close in a row does not loop.
    for (case, token) in [
        ("invalid", "not-a-jwt".to_owned()),
        ("expired", token_for("alice", &["user"], -60)),
    ] {
        let mut client = conversation::connect(&prsm.ws_url(), conv("alice", 1), token)
            .start()
            .unwrap_or_else(|e| panic!("{e}"));
        let (error, seen) = failure(&mut client).await;
        let close = expect_close(&error);
        assert_eq!(
            (close.code, close.reason.as_str(), close.action),
            (4001, "invalid or expired token", CloseAction::RefreshToken),
            "{case}"
        );
        match seen.as_slice() {
            [
                Event::Open { attempt: 0 },
                Event::Reconnecting { close, delay },
                Event::Open { attempt: 1 },
            ] => {
                assert_eq!((close.code, *delay), (4001, Duration::ZERO), "{case}");
            }
            other => panic!("{case}: {other:?}"),
        }
    }
    assert_eq!(
        CloseCode::from_code(4001).map(CloseCode::action),
        Some(ClientAction::RefreshToken)
    );
}

/// A provider that hands out `tokens` in order (the last one forever) and
/// counts its calls.
fn provider(tokens: Vec<String>) -> (Token, Arc<AtomicUsize>) {
    let calls = Arc::new(AtomicUsize::new(0));
    let counter = calls.clone();
    let tokens = Arc::new(tokens);
    let token = Token::from_fn(move || {
        let n = counter.fetch_add(1, Ordering::SeqCst);
        let tokens = tokens.clone();
        async move {
            tokens
                .get(n.min(tokens.len().saturating_sub(1)))
                .cloned()
                .ok_or_else(|| std::io::Error::other("no tokens"))
        }
    });
    (token, calls)
}

#[tokio::test]
async fn a_refresh_token_close_asks_the_provider_and_reconnects() {
    let prsm = support::start_prsm(|c| c, axum::Router::new()).await;
    let expired = token_for("alice", &["user"], -60);
    let (token, calls) = provider(vec![expired, alice()]);
    let mut client = conversation::connect(&prsm.ws_url(), conv("alice", 1), token)
        .start()
        .unwrap_or_else(|e| panic!("{e}"));
    assert!(matches!(
        next(&mut client).await,
        Event::Open { attempt: 0 }
    ));
    match next(&mut client).await {
        Event::Reconnecting { close, delay } => {
            assert_eq!(
                (close.code, close.action, delay),
                (4001, CloseAction::RefreshToken, Duration::ZERO)
            );
            assert!(close.kinds.contains(&FailureKind::AuthFailed));
        }
        other => panic!("expected a reconnection, got {other:?}"),
    }
    admitted(&mut client, 1, "alice", "conversation").await;
    assert_eq!(calls.load(Ordering::SeqCst), 2, "one token per connection");
    close(client).await;
}

#[tokio::test]
async fn in_band_refresh_keeps_the_connection_past_exp() {
    let prsm = support::start_prsm(|c| c, axum::Router::new()).await;
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
    let typing = messages::Typing {
        user_id: "alice".to_owned(),
        active: true,
    };
    client.send(typing).await.unwrap_or_else(|e| panic!("{e}"));
    assert!(matches!(
        message(&mut client).await,
        conversation::ServerMessage::Typing(_)
    ));
    assert_eq!(prsm.server.stats().active_connections, 1);
    close(client).await;
}

#[tokio::test]
async fn too_many_connections_backs_off_and_reconnects() {
    let prsm = support::start_prsm(|c| c, axum::Router::new()).await;
    let bob = token_for("bob", &["user"], 600);
    let params = || notifications::Params {
        user_id: "bob".to_owned(),
    };
    let mut open = Vec::new();
    for _ in 0..5 {
        let mut c = notifications::connect(&prsm.ws_url(), params(), bob.clone())
            .start()
            .unwrap_or_else(|e| panic!("{e}"));
        admitted(&mut c, 0, "bob", "notifications").await;
        open.push(c);
    }
    // The sixth is refused with 4008 and backs off (with a 1 s base, so
    // there is time to free a slot), then gets in.
    let mut sixth = notifications::connect(&prsm.ws_url(), params(), bob.clone())
        .backoff(Duration::from_secs(1), Duration::from_secs(1))
        .start()
        .unwrap_or_else(|e| panic!("{e}"));
    assert!(matches!(next(&mut sixth).await, Event::Open { attempt: 0 }));
    match next(&mut sixth).await {
        Event::Reconnecting { close, delay } => {
            assert_eq!(
                (close.code, close.reason.as_str(), close.action),
                (4008, "too many connections", CloseAction::Backoff)
            );
            assert_eq!(close.kinds, [FailureKind::TooManyConnections]);
            assert!(delay <= Duration::from_secs(1), "{delay:?}");
        }
        other => panic!("expected a backoff, got {other:?}"),
    }
    if let Some(first) = open.pop() {
        close(first).await;
    }
    // Until the slot is free the client may be refused again; it keeps
    // backing off until it is admitted.
    loop {
        match next(&mut sixth).await {
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
    close(sixth).await;
    for c in open {
        close(c).await;
    }
}

#[tokio::test]
async fn a_server_error_backs_off_until_the_client_gives_up() {
    let prsm = support::start_prsm(
        |mut c| {
            c.store = prsm::Store::seeded().unavailable_conversation(13);
            c
        },
        axum::Router::new(),
    )
    .await;
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
    let mut prsm = support::start_prsm(|c| c, axum::Router::new()).await;
    let mut client = conversation::connect(&prsm.ws_url(), conv("alice", 1), alice())
        .backoff(BASE, CAP)
        .max_reconnects(3)
        .start()
        .unwrap_or_else(|e| panic!("{e}"));
    admitted(&mut client, 0, "alice", "conversation").await;
    prsm.stop().await;
    match next(&mut client).await {
        Event::Reconnecting { close, delay } => {
            assert_eq!(
                (close.code, close.reason.as_str(), close.action),
                (1001, "server shutting down", CloseAction::Backoff)
            );
            assert!(close.kinds.contains(&FailureKind::GoingAway));
            assert!(delay <= BASE);
        }
        other => panic!("expected a backoff, got {other:?}"),
    }
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
