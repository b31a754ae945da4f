//! The generated Rust client of shipvox against the running shipvox
//! example: tokens from `POST /token` through a token provider, the
//! broadcast between three clients (typed `say`s and open messages), and
//! the close codes' actions (`stop` for an inactive user, `refresh_token`
//! answered by signing in again).

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use wsauth_core::OpenMessage;
use wsauth_core::client::{CloseAction, Token};
use wsauth_core::spec::FailureKind;
use wsauth_example_support::testing::http_request;
use wsauth_generated::shipvox::endpoints::broadcast;
use wsauth_generated::shipvox::messages;

use crate::support::events::{message, opened, reconnecting, stopped_at_once};
use crate::support::examples::start_shipvox;
use crate::support::tokens::SHIPVOX;

/// `POST /token` with the password grant; the access token.
async fn sign_in(addr: SocketAddr, user: &str) -> std::io::Result<String> {
    let response = http_request(
        addr,
        "POST /token HTTP/1.1\r\nContent-Type: application/x-www-form-urlencoded\r\n",
        &format!("grant_type=password&username={user}&password=password"),
    )
    .await;
    if response.status != 200 {
        return Err(std::io::Error::other(format!(
            "sign-in refused: {}",
            response.head
        )));
    }
    response.json()["access_token"]
        .as_str()
        .map(str::to_owned)
        .ok_or_else(|| std::io::Error::other("no access_token"))
}

/// A provider that signs `user` in for every connection, after handing out
/// `first` (when given) once; counts its calls.
fn provider(
    addr: SocketAddr,
    user: &'static str,
    first: Option<String>,
) -> (Token, Arc<AtomicUsize>) {
    let calls = Arc::new(AtomicUsize::new(0));
    let counter = calls.clone();
    let token = Token::from_fn(move || {
        let n = counter.fetch_add(1, Ordering::SeqCst);
        let first = first.clone();
        async move {
            match (n, first) {
                (0, Some(token)) => Ok(token),
                _ => sign_in(addr, user).await,
            }
        }
    });
    (token, calls)
}

/// `Open` on `attempt`, then the welcome for `user`; the listener count.
async fn admitted(client: &mut broadcast::Client, attempt: u32, user: &str) -> i64 {
    opened(client, attempt).await;
    match message(client).await {
        broadcast::ServerMessage::Connected(c) => {
            assert_eq!(c.user_id, user);
            c.listeners
        }
        other => panic!("expected the welcome, got {other:?}"),
    }
}

#[tokio::test]
async fn three_generated_clients_share_the_broadcast() {
    let app = start_shipvox().await;
    let mut clients = Vec::new();
    for (i, user) in ["alice", "bob", "mod"].into_iter().enumerate() {
        let (token, _) = provider(app.addr, user, None);
        let mut client = broadcast::connect(&app.ws_url(), token)
            .start()
            .unwrap_or_else(|e| panic!("{e}"));
        let listeners = admitted(&mut client, 0, user).await;
        assert_eq!(listeners, i64::try_from(i + 1).unwrap_or(-1));
        clients.push(client);
    }
    clients[2]
        .send(messages::Say {
            text: "Ship it.".to_owned(),
        })
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let mut ids = Vec::new();
    for client in &mut clients {
        match message(client).await {
            broadcast::ServerMessage::Relayed(r) => {
                assert_eq!((r.from.as_str(), r.text.as_str()), ("mod", "Ship it."));
                assert!(r.at.ends_with('Z'), "{}", r.at);
                ids.push(r.request_id);
            }
            other => panic!("expected relayed, got {other:?}"),
        }
    }
    assert!(
        ids.iter().all(|id| *id == ids[0] && id.len() == 36),
        "{ids:?}"
    );
    for client in &mut clients {
        client.close();
    }
}

#[tokio::test]
async fn an_open_message_is_relayed_to_every_generated_client_stamped() {
    let app = start_shipvox().await;
    let mut clients = Vec::new();
    for user in ["alice", "bob"] {
        let (token, _) = provider(app.addr, user, None);
        let mut client = broadcast::connect(&app.ws_url(), token)
            .start()
            .unwrap_or_else(|e| panic!("{e}"));
        admitted(&mut client, 0, user).await;
        clients.push(client);
    }
    let serde_json::Value::Object(fields) =
        serde_json::json!({"payload": {"message": "Hello"}, "user": "mallory"})
    else {
        panic!("an object")
    };
    clients[0]
        .send(OpenMessage::new("test", fields))
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let mut ids = Vec::new();
    for client in &mut clients {
        match message(client).await {
            broadcast::ServerMessage::Open(m) => {
                assert_eq!(m.kind, "test");
                assert_eq!(m.payload["payload"]["message"], "Hello");
                assert_eq!(m.payload["user"], "alice", "the server's stamp");
                assert!(m.payload["timestamp"].is_f64(), "{m:?}");
                ids.push(m.payload["requestId"].clone());
            }
            other => panic!("expected an open message, got {other:?}"),
        }
    }
    assert_eq!(ids[0], ids[1]);
    assert_eq!(ids[0].as_str().map(str::len), Some(36));
    for client in &mut clients {
        client.close();
    }
}

#[tokio::test]
async fn an_inactive_user_stops_with_4002() {
    let app = start_shipvox().await;
    let token = SHIPVOX.token("mallory", &["user"], 600);
    let mut client = broadcast::connect(&app.ws_url(), token)
        .start()
        .unwrap_or_else(|e| panic!("{e}"));
    let close = stopped_at_once(&mut client).await;
    assert_eq!(
        (close.code, close.reason.as_str(), close.action),
        (4002, "user inactive", CloseAction::Stop)
    );
    assert_eq!(close.kinds, [FailureKind::UserInactive]);
}

#[tokio::test]
async fn an_expired_token_is_replaced_by_signing_in_again() {
    let app = start_shipvox().await;
    let expired = SHIPVOX.token("bob", &["user"], -60);
    let (token, calls) = provider(app.addr, "bob", Some(expired));
    let mut client = broadcast::connect(&app.ws_url(), token)
        .start()
        .unwrap_or_else(|e| panic!("{e}"));
    opened(&mut client, 0).await;
    let (close, delay) = reconnecting(&mut client).await;
    assert_eq!(
        (close.code, close.action, delay),
        (1008, CloseAction::RefreshToken, Duration::ZERO)
    );
    admitted(&mut client, 1, "bob").await;
    assert_eq!(calls.load(Ordering::SeqCst), 2, "one token per connection");
    client.close();
}
