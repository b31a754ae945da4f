//! Topics delivered as an endpoint's own messages, over real sockets.
//!
//! `feed` is listed by two endpoints: `room` with `deliver: message` (its
//! handler joins every connection; publications arrive as bare message
//! frames, and its clients know no topic) and `watch` as an ordinary topic
//! (clients subscribe and get `wsauth.publication` envelopes). One
//! publication reaches both, each in its own form.

mod common;

use std::net::SocketAddr;
use std::time::Duration;

use common::{Client, ROOM, connect, next_json, now};
use futures_util::{SinkExt, StreamExt};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use tokio_tungstenite::tungstenite::Message;
use wsauth_core::__private::descriptor::*;
use wsauth_core::spec::{Deliver, FailureKind};
use wsauth_core::{
    BoxFuture, CheckContext, CheckOutcome, Checks, HandlerResult, Incoming, MessageKind,
    OpenMessage, PublishError, Session, StoreError, TopicKey, UserStatus, UserStore, WsAuth,
};

/// Every type the API declares: never an open message.
const DECLARED: &[&str] = &["hello", "said", "error", "say", "flood"];

const FEED: TopicDescriptor = TopicDescriptor {
    name: "feed",
    params: &[],
    subscribe: Some("room.read"),
    checks: &[],
    publish: None,
    messages: &[ReceiveDescriptor {
        name: "said",
        perm: None,
        payload: None,
    }],
    presence: true,
    history: None,
    open: Some(OpenTopicDescriptor { declared: DECLARED }),
};

const BY_MESSAGE: EndpointDescriptor = EndpointDescriptor {
    topics: &[EndpointTopicDescriptor {
        name: "feed",
        deliver: Deliver::Message,
    }],
    ..ROOM
};

const BY_PUBLICATION: EndpointDescriptor = EndpointDescriptor {
    name: "watch",
    path: "/watch/{user_id}/{room_id}",
    topics: &[EndpointTopicDescriptor {
        name: "feed",
        deliver: Deliver::Publication,
    }],
    ..ROOM
};

static DELIVERY_API: ApiDescriptor = ApiDescriptor {
    endpoints: &[BY_MESSAGE, BY_PUBLICATION],
    topics: &[FEED],
    ..common::API
};

// The topic's key and message enum, as generated code writes them.

#[derive(Serialize, Deserialize)]
struct FeedKey {}

#[derive(Serialize)]
struct Said {
    text: String,
}

#[derive(Serialize)]
#[serde(tag = "type")]
enum FeedMessage {
    #[serde(rename = "said")]
    Said(Said),
    #[serde(untagged)]
    Open(OpenMessage),
}

impl MessageKind for FeedMessage {
    fn kind(&self) -> &str {
        match self {
            FeedMessage::Said(_) => "said",
            FeedMessage::Open(open) => &open.kind,
        }
    }
}

impl From<Said> for FeedMessage {
    fn from(message: Said) -> Self {
        FeedMessage::Said(message)
    }
}

impl From<OpenMessage> for FeedMessage {
    fn from(message: OpenMessage) -> Self {
        FeedMessage::Open(message)
    }
}

impl TopicKey for FeedKey {
    const TOPIC: &'static str = "feed";
    type Message = FeedMessage;
}

fn said(text: &str) -> Said {
    Said { text: text.into() }
}

/// Every subject is an active user, and a member of every room.
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

/// `room`: the welcome, then the join (said "joined" once it holds), then
/// a leave when the client says "leave".
async fn room(mut session: Session) -> HandlerResult {
    session.send("hello", &json!({}))?;
    session
        .join("feed", &json!({}))
        .await
        .map_err(|e| format!("{e:?}"))?;
    session.send("said", &json!({ "text": "joined" }))?;
    while let Some(message) = session.recv().await {
        if let Incoming::Message { value, .. } = message
            && value["text"] == "leave"
        {
            session
                .leave("feed", &json!({}))
                .map_err(|e| format!("{e:?}"))?;
            session.send("said", &json!({ "text": "left" }))?;
        }
    }
    Ok(())
}

/// `watch`: the welcome; its clients subscribe themselves.
async fn watch(mut session: Session) -> HandlerResult {
    session.send("hello", &json!({}))?;
    while session.recv().await.is_some() {}
    Ok(())
}

async fn start() -> (SocketAddr, WsAuth) {
    let server = WsAuth::builder(&DELIVERY_API)
        .authenticator(common::TestTokens)
        .users(Everyone)
        .checks(Everyone)
        .handler("room", room)
        .handler("watch", watch)
        .allow_origins(["https://app.example"])
        .build()
        .unwrap_or_else(|e| panic!("{e}"));
    let addr = common::serve_with(&server, server.router()).await;
    (addr, server)
}

fn token(sub: &str) -> String {
    format!("{sub}:user:{}", now() + 600)
}

/// A `room` connection as `sub`, past the welcome and the join.
async fn joined(addr: SocketAddr, sub: &str) -> Client {
    let mut client = connect(addr, &format!("/ws/{sub}/1"), Some(&token(sub))).await;
    assert_eq!(next_json(&mut client).await["type"], "hello");
    assert_eq!(
        next_json(&mut client).await,
        json!({"type": "said", "text": "joined"})
    );
    client
}

/// A `watch` connection as `sub`, subscribed to `feed`.
async fn watching(addr: SocketAddr, sub: &str) -> Client {
    let mut client = connect(addr, &format!("/watch/{sub}/1"), Some(&token(sub))).await;
    assert_eq!(next_json(&mut client).await["type"], "hello");
    send(
        &mut client,
        json!({"type": "wsauth.subscribe", "id": 1, "topic": "feed", "params": {}}),
    )
    .await;
    assert_eq!(next_json(&mut client).await["type"], "wsauth.subscribed");
    client
}

async fn send(client: &mut Client, frame: Value) {
    client
        .send(Message::text(frame.to_string()))
        .await
        .unwrap_or_else(|e| panic!("{e}"));
}

/// Asserts that no text frame arrives for a while.
async fn silent(client: &mut Client) {
    let wait = tokio::time::timeout(Duration::from_millis(300), async {
        loop {
            match client.next().await {
                Some(Ok(Message::Text(t))) => return Some(t),
                Some(Ok(_)) => {}
                _ => return None,
            }
        }
    });
    if let Ok(Some(text)) = wait.await {
        panic!("expected nothing, got {text}");
    }
}

fn open(kind: &str, fields: Value) -> OpenMessage {
    let Value::Object(fields) = fields else {
        panic!("an object")
    };
    OpenMessage::new(kind, fields)
}

#[tokio::test]
async fn a_joined_connection_gets_each_publication_as_the_bare_message() {
    let (addr, server) = start().await;
    let mut alice = joined(addr, "alice").await;
    let mut watcher = watching(addr, "walt").await;
    let topics = server.topics();
    assert_eq!(topics.subscribers(&FeedKey {}), 2);

    let published = topics.publish(&FeedKey {}, said("typed")).await;
    assert_eq!(published.map(|p| (p.offset, p.delivered)), Ok((1, Some(2))));
    assert_eq!(
        next_json(&mut alice).await,
        json!({"type": "said", "text": "typed"})
    );
    let envelope = next_json(&mut watcher).await;
    assert_eq!(envelope["type"], "wsauth.publication", "{envelope}");
    assert_eq!(
        envelope["message"],
        json!({"type": "said", "text": "typed"})
    );

    let untyped = topics
        .publish_json("feed", &json!({}), &json!({"type": "said", "text": "json"}))
        .await;
    assert_eq!(untyped.map(|p| p.delivered), Ok(Some(2)));
    assert_eq!(
        next_json(&mut alice).await,
        json!({"type": "said", "text": "json"})
    );
    assert_eq!(next_json(&mut watcher).await["offset"], 2);

    // Bob's join is a presence event for the watcher, nothing for Alice.
    let _bob = joined(addr, "bob").await;
    assert_eq!(next_json(&mut watcher).await["joined"], "bob");
    // Leaving stops the messages, and says nothing of a topic.
    send(&mut alice, json!({"type": "say", "text": "leave"})).await;
    assert_eq!(
        next_json(&mut alice).await,
        json!({"type": "said", "text": "left"})
    );
    assert_eq!(next_json(&mut watcher).await["left"], "alice");
    let after = topics.publish(&FeedKey {}, said("after")).await;
    assert_eq!(after.map(|p| p.delivered), Ok(Some(2)));
    assert_eq!(next_json(&mut watcher).await["message"]["text"], "after");
    silent(&mut alice).await;
}

#[tokio::test]
async fn open_messages_flow_on_an_open_topic_and_nothing_else_does() {
    let (addr, server) = start().await;
    let mut alice = joined(addr, "alice").await;
    let topics = server.topics();
    let stamped = open(
        "test",
        json!({"payload": {"message": "Hello"}, "user": "alice"}),
    );
    assert_eq!(
        topics
            .publish(&FeedKey {}, stamped)
            .await
            .map(|p| p.delivered),
        Ok(Some(1))
    );
    assert_eq!(
        next_json(&mut alice).await,
        json!({"type": "test", "payload": {"message": "Hello"}, "user": "alice"})
    );
    let untyped = topics
        .publish_json("feed", &json!({}), &json!({"type": "ping", "n": 1}))
        .await;
    assert_eq!(untyped.map(|p| p.delivered), Ok(Some(1)));
    assert_eq!(next_json(&mut alice).await, json!({"type": "ping", "n": 1}));

    // A declared type is never open, nor is the framework's.
    for kind in ["hello", "wsauth.refresh"] {
        assert_eq!(
            topics.publish(&FeedKey {}, open(kind, json!({}))).await,
            Err(PublishError::NotOnTopic {
                topic: "feed",
                kind: kind.into()
            })
        );
        let untyped = topics
            .publish_json("feed", &json!({}), &json!({ "type": kind }))
            .await;
        assert!(untyped.is_err(), "{kind}");
    }
    silent(&mut alice).await;
}

#[tokio::test]
async fn clients_cannot_ask_for_a_topic_delivered_as_messages() {
    let (addr, server) = start().await;
    let mut alice = joined(addr, "alice").await;
    for request in [
        "wsauth.subscribe",
        "wsauth.unsubscribe",
        "wsauth.presence",
        "wsauth.publish",
    ] {
        send(
            &mut alice,
            json!({"type": request, "id": 7, "topic": "feed", "params": {},
            "message": {"type": "said", "text": "x"}}),
        )
        .await;
        assert_eq!(
            next_json(&mut alice).await,
            json!({"type": "wsauth.refused", "id": 7, "topic": "feed", "params": {},
            "request": request, "error": "unknown_topic", "reason": "unknown topic"})
        );
    }
    // Still joined by its handler, and nothing else was said.
    let published = server.topics().publish(&FeedKey {}, said("still")).await;
    assert_eq!(published.map(|p| p.delivered), Ok(Some(1)));
    assert_eq!(
        next_json(&mut alice).await,
        json!({"type": "said", "text": "still"})
    );
    silent(&mut alice).await;
}

#[tokio::test]
async fn a_joined_connection_that_stops_reading_is_closed_as_a_slow_consumer() {
    let (addr, server) = start().await;
    let mut slow = joined(addr, "alice").await;
    let topics = server.topics();
    let big = "x".repeat(32 * 1024);
    let mut overflowed = false;
    for _ in 0..2000 {
        let published = topics.publish(&FeedKey {}, said(&big)).await;
        if published.is_ok_and(|p| p.delivered == Some(0)) {
            overflowed = true;
            break;
        }
    }
    assert!(overflowed, "the queue never overflowed");
    let (_, close) = common::until_close(&mut slow).await;
    let code = DELIVERY_API.close(FailureKind::SlowConsumer).code;
    assert_eq!(close.map(|c| c.0), Some(code));
    assert_eq!(topics.subscribers(&FeedKey {}), 0);
}
