//! Open messages over a real socket: a `type` the spec does not declare
//! reaches the handler only where the endpoint allows open messages, only
//! from a client holding their permission, and never for a declared or
//! reserved `type`; the server sends them under the same rules.

use futures_util::SinkExt;
use serde_json::json;
use tokio_tungstenite::tungstenite::Message;
use wsauth_core::__private::descriptor::{ApiDescriptor, EndpointDescriptor, OpenDescriptor};
use wsauth_core::{Incoming, SendError, Session, WsAuth};

mod common;

use common::*;

/// Every message type of the test API.
const DECLARED: &[&str] = &["hello", "said", "error", "say", "flood"];

const OPEN_ROOM: EndpointDescriptor = EndpointDescriptor {
    open: Some(OpenDescriptor {
        receives: true,
        sends: true,
        perm: Some("room.write"),
        declared: DECLARED,
    }),
    ..ROOM
};

static OPEN_API: ApiDescriptor = ApiDescriptor {
    endpoints: &[OPEN_ROOM],
    ..API
};

/// Welcomes, then answers every open message with an open `echo` carrying
/// what arrived, and reports what its own sends were refused with.
async fn echo_open(mut session: Session) -> wsauth_core::HandlerResult {
    let early = session.send("early", &json!({}));
    session.send("hello", &json!({ "early": format!("{early:?}") }))?;
    while let Some(message) = session.recv().await {
        let Incoming::Open(message) = message else {
            continue;
        };
        let refused = |r: Result<(), SendError>| format!("{r:?}");
        let declared = refused(session.send("say", &json!({ "text": "x" })));
        let reserved = refused(session.send("wsauth.refreshed", &json!({ "exp": 1 })));
        let payload = json!({
            "kind": message.kind,
            "fields": message.payload,
            "declared": declared,
            "reserved": reserved,
        });
        session.send("echo", &payload)?;
    }
    Ok(())
}

async fn start_open(api: &'static ApiDescriptor) -> std::net::SocketAddr {
    let server = WsAuth::builder(api)
        .authenticator(TestTokens)
        .users(Users)
        .checks(Rooms)
        .handler("room", echo_open)
        .allow_origins(["https://app.example"])
        .build()
        .unwrap_or_else(|e| panic!("{e}"));
    serve(server.router()).await
}

async fn send(client: &mut Client, value: serde_json::Value) {
    client
        .send(Message::text(value.to_string()))
        .await
        .unwrap_or_else(|e| panic!("{e}"));
}

#[tokio::test]
async fn an_open_message_reaches_the_handler_and_the_server_sends_them_too() {
    let addr = start_open(&OPEN_API).await;
    let mut client = connect(addr, "/ws/alice/1", Some(&token("alice", "user", 600))).await;
    let hello = next_json(&mut client).await;
    assert_eq!(hello["type"], "hello", "{hello}");
    // The welcome-first rule holds for open messages too.
    assert_eq!(hello["early"], r#"Err(WelcomeFirst("hello"))"#, "{hello}");
    send(
        &mut client,
        json!({"type": "test", "payload": {"message": "Hello"}}),
    )
    .await;
    let echo = next_json(&mut client).await;
    assert_eq!(echo["type"], "echo", "{echo}");
    assert_eq!(echo["kind"], "test");
    assert_eq!(echo["fields"], json!({"payload": {"message": "Hello"}}));
    // Open sends never cover a declared type the endpoint does not send,
    // nor the framework's own.
    let not_allowed =
        |kind: &str| format!(r#"Err(NotAllowed {{ endpoint: "room", kind: "{kind}" }})"#);
    assert_eq!(echo["declared"], not_allowed("say"), "{echo}");
    assert_eq!(echo["reserved"], not_allowed("wsauth.refreshed"), "{echo}");
}

#[tokio::test]
async fn an_open_message_needs_its_permission() {
    let addr = start_open(&OPEN_API).await;
    // `reader` holds room.read (to connect) but not room.write.
    let mut client = connect(addr, "/ws/alice/1", Some(&token("alice", "reader", 600))).await;
    assert_eq!(next_json(&mut client).await["type"], "hello");
    send(&mut client, json!({"type": "test", "n": 1})).await;
    let refused = next_json(&mut client).await;
    assert_eq!(refused["type"], "error", "{refused}");
    assert_eq!(refused["code"], "forbidden", "{refused}");
    // The connection stays open: a second one is refused the same way.
    send(&mut client, json!({"type": "other", "n": 2})).await;
    assert_eq!(next_json(&mut client).await["code"], "forbidden");
}

#[tokio::test]
async fn declared_and_reserved_types_are_not_open_messages() {
    let addr = start_open(&OPEN_API).await;
    let mut client = connect(addr, "/ws/alice/1", Some(&token("alice", "user", 600))).await;
    assert_eq!(next_json(&mut client).await["type"], "hello");
    // `said` is declared (the server sends it): not something a client may
    // send, as an open message or otherwise.
    for sent in [
        json!({"type": "said", "text": "forged"}),
        json!({"type": "wsauth.hello"}),
    ] {
        send(&mut client, sent.clone()).await;
        let refused = next_json(&mut client).await;
        assert_eq!(refused["type"], "error", "{sent}: {refused}");
        assert_eq!(refused["code"], "invalid_message", "{sent}: {refused}");
    }
}

#[tokio::test]
async fn without_open_an_undeclared_type_is_invalid() {
    let (addr, _server) = default_server().await;
    let mut client = connect(addr, "/ws/alice/1", Some(&token("alice", "user", 600))).await;
    assert_eq!(next_json(&mut client).await["type"], "hello");
    send(&mut client, json!({"type": "test", "n": 1})).await;
    let refused = next_json(&mut client).await;
    assert_eq!(refused["code"], "invalid_message", "{refused}");
}
