//! The typed path end to end: prsm's generated types, handlers bound with
//! `#[ws_endpoint]`, `Handlers` turned into a server, a real client.

use std::net::SocketAddr;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use futures_util::{SinkExt, StreamExt};
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use wsauth_core::jwt::{Claims, KeySet, Verifier};
use wsauth_core::{
    BoxFuture, CheckContext, CheckOutcome, Checks, StoreError, UserStatus, UserStore,
};
use wsauth_core::{HandlerResult, ws_endpoint};

mod prsm {
    wsauth_core::include_spec!("../specs/prsm.yaml");
}

use prsm::endpoints as ep;
use prsm::messages;

fn connected(session_user: Option<&str>, endpoint: &str) -> messages::Connected {
    messages::Connected {
        user_id: session_user.unwrap_or_default().to_owned(),
        endpoint: endpoint.to_owned(),
        server_time: "2026-11-22T10:00:00Z".to_owned(),
    }
}

#[ws_endpoint(
    spec = "../specs/prsm.yaml",
    endpoint = "notifications",
    perm = "notifications.read"
)]
async fn notifications(mut session: ep::notifications::Session) -> HandlerResult {
    let user = session.principal().subject().map(str::to_owned);
    session.send(connected(user.as_deref(), "notifications"))?;
    while session.recv().await.is_some() {}
    Ok(())
}

#[ws_endpoint(
    spec = "../specs/prsm.yaml",
    endpoint = "conversation",
    perm = "conversation.read"
)]
async fn conversation(mut session: ep::conversation::Session) -> HandlerResult {
    let user = session.principal().subject().map(str::to_owned);
    session.send(connected(user.as_deref(), "conversation"))?;
    while let Some(message) = session.recv().await {
        if let ep::conversation::Incoming::SendMessage(m) = message {
            let words: Vec<&str> = m.text.split(' ').collect();
            for (index, token) in words.iter().enumerate() {
                session.send(messages::AiToken {
                    message_id: 1,
                    index: index as i64,
                    token: (*token).to_owned(),
                })?;
            }
            session.send(messages::AiDone {
                message_id: 1,
                tokens: words.len() as i64,
            })?;
        }
    }
    Ok(())
}

#[ws_endpoint(spec = "../specs/prsm.yaml", endpoint = "web3", perm = "wallet.read")]
async fn web3(mut session: ep::web3::Session) -> HandlerResult {
    let user = session.principal().subject().map(str::to_owned);
    session.send(connected(user.as_deref(), "web3"))?;
    while session.recv().await.is_some() {}
    Ok(())
}

struct Everyone;

impl UserStore for Everyone {
    fn status<'a>(&'a self, _: &'a str) -> BoxFuture<'a, Result<UserStatus, StoreError>> {
        Box::pin(async { Ok(UserStatus::Active) })
    }
}

impl Checks for Everyone {
    fn check<'a>(
        &'a self,
        _: &'static str,
        _: &'a CheckContext<'a>,
    ) -> BoxFuture<'a, Result<CheckOutcome, StoreError>> {
        Box::pin(async { Ok(CheckOutcome::Allow) })
    }
}

const SECRET: &[u8] = b"a test secret that is long enough for HS256";

fn token(sub: &str, roles: &[&str]) -> String {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let claims = serde_json::json!({
        "sub": sub, "roles": roles, "iss": "prsm", "aud": "prsm-ws", "iat": now, "exp": now + 600,
    });
    jsonwebtoken::encode(
        &jsonwebtoken::Header::new(jsonwebtoken::Algorithm::HS256),
        &claims,
        &jsonwebtoken::EncodingKey::from_secret(SECRET),
    )
    .unwrap_or_else(|e| panic!("{e}"))
}

async fn start() -> SocketAddr {
    let auth = prsm::API.auth.and_then(|a| a.jwt.as_ref().copied());
    let jwt: &'static _ = Box::leak(Box::new(auth.unwrap_or_else(|| panic!("prsm has jwt"))));
    let keys = KeySet::new()
        .hmac("default", SECRET)
        .unwrap_or_else(|e| panic!("{e}"));
    let verifier = Verifier::new(jwt, keys).unwrap_or_else(|e| panic!("{e}"));
    let server = prsm::Handlers {
        notifications,
        conversation,
        web3,
    }
    .into_builder()
    .authenticator(verifier)
    .users(Everyone)
    .checks(Everyone)
    .allow_origins(["http://localhost"])
    .build()
    .unwrap_or_else(|e| panic!("{e}"));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let addr = listener.local_addr().unwrap_or_else(|e| panic!("{e}"));
    let app = server.router::<()>();
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    addr
}

async fn next_json(
    client: &mut (impl StreamExt<Item = Result<Message, tokio_tungstenite::tungstenite::Error>> + Unpin),
) -> serde_json::Value {
    loop {
        match tokio::time::timeout(Duration::from_secs(5), client.next()).await {
            Ok(Some(Ok(Message::Text(t)))) => {
                return serde_json::from_str(t.as_str()).unwrap_or_default();
            }
            Ok(Some(Ok(Message::Ping(_)))) => {}
            other => panic!("expected a message, got {other:?}"),
        }
    }
}

#[tokio::test]
async fn typed_handlers_serve_the_spec() {
    let addr = start().await;
    let mut request = format!("ws://{addr}/ws/conversation/alice/1")
        .into_client_request()
        .unwrap_or_else(|e| panic!("{e}"));
    let bearer = format!("Bearer {}", token("alice", &["user"]));
    request.headers_mut().insert(
        "authorization",
        bearer.parse().unwrap_or_else(|e| panic!("{e}")),
    );
    let (mut client, _) = tokio_tungstenite::connect_async(request)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let welcome = next_json(&mut client).await;
    assert_eq!(welcome["type"], "connected");
    assert_eq!(welcome["user_id"], "alice");
    client
        .send(Message::text(
            r#"{"type":"send_message","text":"hello typed world"}"#,
        ))
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    for (i, word) in ["hello", "typed", "world"].iter().enumerate() {
        let token = next_json(&mut client).await;
        assert_eq!(
            token,
            serde_json::json!({"type": "ai_token", "message_id": 1, "index": i, "token": word})
        );
    }
    assert_eq!(next_json(&mut client).await["type"], "ai_done");
    // A known type whose fields break the schema is refused with a typed error.
    client
        .send(Message::text(r#"{"type":"send_message","txt":"typo"}"#))
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let refused = next_json(&mut client).await;
    assert_eq!(
        (refused["type"].as_str(), refused["code"].as_str()),
        (Some("error"), Some("invalid_message"))
    );
}

#[test]
fn generated_types_round_trip_their_wire_form() {
    let incoming: ep::conversation::Incoming =
        serde_json::from_str(r#"{"type":"typing","user_id":"bob","active":true}"#)
            .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(
        incoming,
        ep::conversation::Incoming::Typing(messages::Typing {
            user_id: "bob".into(),
            active: true
        })
    );
    let out: ep::conversation::Outgoing = messages::Error {
        code: prsm::schemas::ProblemCode::Forbidden,
        message: "no".into(),
    }
    .into();
    let wire = serde_json::to_value(&out).unwrap_or_default();
    assert_eq!(
        wire,
        serde_json::json!({"type": "error", "code": "forbidden", "message": "no"})
    );
    let _unused: Option<Claims> = None;
}
