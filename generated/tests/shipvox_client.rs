//! The generated Rust client of shipvox against the running shipvox
//! example: tokens from `POST /token` through a token provider, the
//! broadcast between three clients, and the close codes' actions (`stop`
//! for an inactive user, `refresh_token` answered by signing in again).

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use jsonwebtoken::{EncodingKey, Header, encode};
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use wsauth_core::client::{ClientError, CloseAction, Event, Token};
use wsauth_core::spec::FailureKind;
use wsauth_generated::shipvox::endpoints::broadcast;
use wsauth_generated::shipvox::messages;

const SECRET: &[u8] = b"shipvox-client-secret-0123456789-abcdef";

/// The shipvox app on 127.0.0.1:0; the task ends with the test's runtime.
async fn start_shipvox() -> SocketAddr {
    let config = shipvox::Config::new(SECRET);
    let app = tokio::task::spawn_blocking(move || shipvox::app(config))
        .await
        .unwrap_or_else(|e| panic!("{e}"))
        .unwrap_or_else(|e| panic!("{e}"));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let addr = listener.local_addr().unwrap_or_else(|e| panic!("{e}"));
    tokio::spawn(shipvox::serve(
        listener,
        app.router,
        app.server,
        std::future::pending(),
    ));
    addr
}

/// `POST /token` with the password grant, over a plain TCP connection; the
/// access token.
async fn sign_in(addr: SocketAddr, user: &str) -> std::io::Result<String> {
    let body = format!("grant_type=password&username={user}&password=password");
    let request = format!(
        "POST /token HTTP/1.1\r\nHost: {addr}\r\nContent-Type: application/x-www-form-urlencoded\r\n\
         Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    let mut stream = TcpStream::connect(addr).await?;
    stream.write_all(request.as_bytes()).await?;
    let mut raw = String::new();
    stream.read_to_string(&mut raw).await?;
    let (head, body) = raw.split_once("\r\n\r\n").unwrap_or((&raw, ""));
    if !head.starts_with("HTTP/1.1 200") {
        return Err(std::io::Error::other(format!("sign-in refused: {head}")));
    }
    let value: Value = serde_json::from_str(body).map_err(std::io::Error::other)?;
    value["access_token"]
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

fn now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
}

/// An HS256 token for `sub`, expiring in `ttl` seconds.
fn minted(sub: &str, ttl: i64) -> String {
    let claims = json!({
        "sub": sub, "iat": now() - 120, "exp": now() + ttl, "iss": "shipvox", "aud": "shipvox-ws", "roles": ["user"],
    });
    encode(
        &Header::default(),
        &claims,
        &EncodingKey::from_secret(SECRET),
    )
    .unwrap_or_else(|e| panic!("{e}"))
}

async fn next(client: &mut broadcast::Client) -> broadcast::Event {
    tokio::time::timeout(Duration::from_secs(10), client.recv())
        .await
        .unwrap_or_else(|_| panic!("no event within 10 s"))
        .unwrap_or_else(|| panic!("the client ended"))
}

async fn message(client: &mut broadcast::Client) -> broadcast::ServerMessage {
    match next(client).await {
        Event::Message(m) => m,
        other => panic!("expected a message, got {other:?}"),
    }
}

/// `Open` on `attempt`, then the welcome for `user`; the listener count.
async fn admitted(client: &mut broadcast::Client, attempt: u32, user: &str) -> i64 {
    match next(client).await {
        Event::Open { attempt: a } => assert_eq!(a, attempt),
        other => panic!("expected the socket to open, got {other:?}"),
    }
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
    let addr = start_shipvox().await;
    let url = format!("ws://{addr}");
    let mut clients = Vec::new();
    for (i, user) in ["alice", "bob", "mod"].into_iter().enumerate() {
        let (token, _) = provider(addr, user, None);
        let mut client = broadcast::connect(&url, token)
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
async fn an_inactive_user_stops_with_4002() {
    let addr = start_shipvox().await;
    let mut client = broadcast::connect(&format!("ws://{addr}"), minted("mallory", 600))
        .start()
        .unwrap_or_else(|e| panic!("{e}"));
    assert!(matches!(
        next(&mut client).await,
        Event::Open { attempt: 0 }
    ));
    match next(&mut client).await {
        Event::Failed(ClientError::Closed(close)) => {
            assert_eq!(
                (close.code, close.reason.as_str(), close.action),
                (4002, "user inactive", CloseAction::Stop)
            );
            assert_eq!(close.kinds, [FailureKind::UserInactive]);
        }
        other => panic!("expected the failure, got {other:?}"),
    }
    assert!(client.recv().await.is_none());
}

#[tokio::test]
async fn an_expired_token_is_replaced_by_signing_in_again() {
    let addr = start_shipvox().await;
    let (token, calls) = provider(addr, "bob", Some(minted("bob", -60)));
    let mut client = broadcast::connect(&format!("ws://{addr}"), token)
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
        }
        other => panic!("expected a reconnection, got {other:?}"),
    }
    admitted(&mut client, 1, "bob").await;
    assert_eq!(calls.load(Ordering::SeqCst), 2, "one token per connection");
    client.close();
}
