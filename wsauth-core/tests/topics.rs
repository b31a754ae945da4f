//! Topics over real sockets: subscribing is checked like a handshake (the
//! topic's permission, then its resource checks with the instance's
//! params), publications reach exactly the connections still authorized,
//! a refresh decides every subscription again, and the broker's history,
//! presence and bounded queues behave as the spec's wire says.

mod common;

use std::collections::HashSet;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::task::{Context, Poll};
use std::time::Duration;

use axum::serve::ListenerExt as _;

use common::{Client, LIMITS, ROOM, connect, next_json, now};
use futures_util::{SinkExt, StreamExt};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use tokio_tungstenite::tungstenite::Message;
use wsauth_core::__private::descriptor::*;
use wsauth_core::spec::{Deliver, FailureKind, ParamType};
use wsauth_core::{
    BoxFuture, CheckContext, CheckOutcome, Checks, Endpoint, HandlerResult, Incoming, Joins,
    MessageKind, Published, Session, StoreError, TopicKey, TypedSession, UserStatus, UserStore,
    WsAuth,
};

static POSTED: SchemaDescriptor = SchemaDescriptor::Object {
    fields: &[FieldDescriptor {
        name: "text",
        required: true,
        schema: SchemaDescriptor::String(StringDescriptor {
            values: &[],
            min_length: None,
            max_length: Some(100_000),
            format: None,
            pattern: None,
        }),
    }],
};

const CHAT: TopicDescriptor = TopicDescriptor {
    name: "chat",
    params: &[TopicParamDescriptor {
        name: "conversation_id",
        ty: ParamType::Integer,
    }],
    subscribe: Some("chat.read"),
    checks: &["member"],
    publish: Some("chat.write"),
    messages: &[
        ReceiveDescriptor {
            name: "posted",
            perm: None,
            payload: Some(&POSTED),
        },
        ReceiveDescriptor {
            name: "typing",
            perm: None,
            payload: None,
        },
    ],
    presence: true,
    history: Some(HistoryDescriptor { size: 3, ttl_s: 60 }),
    open: None,
};

/// No params, no permission, no checks, no history: one instance anyone
/// on the endpoint may join.
const PLAIN: TopicDescriptor = TopicDescriptor {
    name: "plain",
    params: &[],
    subscribe: None,
    checks: &[],
    publish: None,
    messages: &[ReceiveDescriptor {
        name: "tick",
        perm: None,
        payload: None,
    }],
    presence: false,
    history: None,
    open: None,
};

/// Keeps all it may: 10000 publications.
const LOG: TopicDescriptor = TopicDescriptor {
    name: "log",
    messages: CHAT.messages,
    history: Some(HistoryDescriptor {
        size: 10_000,
        ttl_s: 60,
    }),
    ..PLAIN
};

/// In the spec, but not on the endpoint.
const ELSEWHERE: TopicDescriptor = TopicDescriptor {
    name: "elsewhere",
    ..PLAIN
};

const DESK: EndpointDescriptor = EndpointDescriptor {
    name: "room",
    topics: &[
        EndpointTopicDescriptor {
            name: "chat",
            deliver: Deliver::Publication,
        },
        EndpointTopicDescriptor {
            name: "plain",
            deliver: Deliver::Publication,
        },
        EndpointTopicDescriptor {
            name: "log",
            deliver: Deliver::Publication,
        },
    ],
    limits: Limits {
        max_subscriptions: 2,
        ..LIMITS
    },
    ..ROOM
};

static TOPICS_API: ApiDescriptor = ApiDescriptor {
    roles: &[
        RoleDescriptor {
            name: "user",
            all: false,
            permissions: &["room.read", "room.write", "chat.read", "chat.write"],
        },
        RoleDescriptor {
            name: "reader",
            all: false,
            permissions: &["room.read", "room.write", "chat.read"],
        },
        RoleDescriptor {
            name: "outsider",
            all: false,
            permissions: &["room.read", "room.write"],
        },
    ],
    endpoints: &[DESK],
    topics: &[CHAT, PLAIN, LOG, ELSEWHERE],
    ..common::API
};

// A topic key as generated code writes it, by hand.

#[derive(Serialize, Deserialize)]
struct ChatKey {
    conversation_id: i64,
}

#[derive(Serialize)]
struct Posted {
    text: String,
}

#[derive(Serialize)]
#[serde(tag = "type")]
enum ChatMessage {
    #[serde(rename = "posted")]
    Posted(Posted),
}

impl MessageKind for ChatMessage {
    fn kind(&self) -> &str {
        match self {
            ChatMessage::Posted(_) => "posted",
        }
    }
}

impl From<Posted> for ChatMessage {
    fn from(message: Posted) -> Self {
        ChatMessage::Posted(message)
    }
}

impl TopicKey for ChatKey {
    const TOPIC: &'static str = "chat";
    type Message = ChatMessage;
}

fn chat(conversation_id: i64) -> ChatKey {
    ChatKey { conversation_id }
}

fn posted(text: &str) -> Posted {
    Posted { text: text.into() }
}

/// Who belongs to which conversation, changed while connections are open.
/// Conversation 404 does not exist; everyone belongs to [`SLOW`], which
/// takes half a second to check.
const SLOW: i64 = 900;

#[derive(Clone, Default)]
struct Members(Arc<Mutex<HashSet<(String, String)>>>);

impl Members {
    fn with(self, user: &str, conversation: &str) -> Self {
        self.set().insert((user.into(), conversation.into()));
        self
    }

    fn set(&self) -> std::sync::MutexGuard<'_, HashSet<(String, String)>> {
        self.0.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl Checks for Members {
    fn check<'a>(
        &'a self,
        name: &'static str,
        cx: &'a CheckContext<'a>,
    ) -> BoxFuture<'a, Result<CheckOutcome, StoreError>> {
        Box::pin(async move {
            match (cx.topic, name) {
                // The endpoint's own check, at the handshake.
                (None, "room_member") => Ok(CheckOutcome::Allow),
                (Some("chat"), "member") => {
                    let conversation = cx.param("conversation_id").unwrap_or_default();
                    let subject = cx.principal.subject().unwrap_or_default();
                    if conversation == SLOW.to_string() {
                        tokio::time::sleep(Duration::from_millis(500)).await;
                        Ok(CheckOutcome::Allow)
                    } else if conversation == "404" {
                        Ok(CheckOutcome::NotFound)
                    } else if self.set().contains(&(subject.into(), conversation.into())) {
                        Ok(CheckOutcome::Allow)
                    } else {
                        Ok(CheckOutcome::Forbidden)
                    }
                }
                _ => Err(StoreError::new("unexpected check")),
            }
        })
    }
}

/// Every subject is an active user.
struct Everyone;

impl UserStore for Everyone {
    fn status<'a>(&'a self, _: &'a str) -> BoxFuture<'a, Result<UserStatus, StoreError>> {
        Box::pin(async { Ok(UserStatus::Active) })
    }
}

/// Welcomes, then joins or leaves `plain` when told to (`say` "join" /
/// "leave"; "join slow" joins `chat` [`SLOW`]): the handler's side of
/// subscribing.
async fn desk(mut session: Session) -> HandlerResult {
    session.send("hello", &json!({}))?;
    while let Some(message) = session.recv().await {
        if let Incoming::Message { value, .. } = message {
            match value["text"].as_str() {
                Some("join") => {
                    if let Err(e) = session.join("plain", &json!({})).await {
                        session.send("said", &json!({ "text": format!("{e:?}") }))?;
                    }
                }
                Some("join slow") => {
                    let slow = json!({ "conversation_id": SLOW });
                    if let Err(e) = session.join("chat", &slow).await {
                        session.send("said", &json!({ "text": format!("{e:?}") }))?;
                    }
                }
                Some("bye") => return Ok(()),
                Some("leave") => {
                    if let Err(e) = session.leave("plain", &json!({})) {
                        session.send("said", &json!({ "text": format!("{e:?}") }))?;
                    }
                }
                _ => {}
            }
        }
    }
    Ok(())
}

/// The room endpoint as generated code describes it, by hand.
struct Room;

#[derive(Serialize)]
struct Said {
    text: String,
}

impl MessageKind for Said {
    fn kind(&self) -> &str {
        "said"
    }
}

impl Endpoint for Room {
    const NAME: &'static str = "room";
    const PERM: Option<&'static str> = Some("room.read");
    type Incoming = Value;
    type Outgoing = Said;
    const __PERM_HELP: &'static str = "";
}

impl Joins<ChatKey> for Room {}

/// The typed side: welcomes, then joins the conversation a `say` names.
async fn typed_desk(session: Session) -> HandlerResult {
    let mut session = TypedSession::<Room>::__new(session);
    session.untyped().send("hello", &json!({}))?;
    while let Some(message) = session.recv().await {
        let Some(id) = message["text"].as_str().and_then(|t| t.parse().ok()) else {
            continue;
        };
        if let Err(refusal) = session.join(&chat(id)).await {
            session.send(Said {
                text: format!("{refusal:?}"),
            })?;
        }
    }
    Ok(())
}

/// A server on [`TOPICS_API`], with `GET /publish/{conversation}/{text}`
/// publishing on `chat` from an ordinary axum route.
async fn start(members: Members) -> (SocketAddr, WsAuth) {
    start_with(members, desk).await
}

async fn start_with<F, Fut>(members: Members, handler: F) -> (SocketAddr, WsAuth)
where
    F: Fn(Session) -> Fut + Send + Sync + 'static,
    Fut: std::future::Future<Output = HandlerResult> + Send + 'static,
{
    let (app, server) = app_with(members, handler);
    (common::serve_with(&server, app).await, server)
}

/// The router (with the publishing route) and the server, not yet served.
fn app_with<F, Fut>(members: Members, handler: F) -> (axum::Router, WsAuth)
where
    F: Fn(Session) -> Fut + Send + Sync + 'static,
    Fut: std::future::Future<Output = HandlerResult> + Send + 'static,
{
    let server = WsAuth::builder(&TOPICS_API)
        .authenticator(common::TestTokens)
        .users(Everyone)
        .checks(members)
        .handler("room", handler)
        .allow_origins(["https://app.example"])
        .build()
        .unwrap_or_else(|e| panic!("{e}"));
    let topics = server.topics();
    let publish = axum::routing::get(
        move |axum::extract::Path((id, text)): axum::extract::Path<(i64, String)>| async move {
            match topics.publish(&chat(id), posted(&text)).await {
                Ok(Published { offset, delivered }) => {
                    format!("{offset} {}", delivered.unwrap_or(0))
                }
                Err(e) => e.to_string(),
            }
        },
    );
    let app = server.router().route("/publish/{id}/{text}", publish);
    (app, server)
}

fn token(sub: &str, roles: &str) -> String {
    format!("{sub}:{roles}:{}", now() + 600)
}

/// Connected as `sub` with `roles`, past the welcome.
async fn join(addr: SocketAddr, sub: &str, roles: &str) -> Client {
    let mut client = connect(addr, &format!("/ws/{sub}/1"), Some(&token(sub, roles))).await;
    assert_eq!(next_json(&mut client).await["type"], "hello");
    client
}

async fn send(client: &mut Client, frame: Value) {
    client
        .send(Message::text(frame.to_string()))
        .await
        .unwrap_or_else(|e| panic!("{e}"));
}

async fn subscribe(client: &mut Client, id: u64, topic: &str, params: Value) -> Value {
    send(
        client,
        json!({"type": "wsauth.subscribe", "id": id, "topic": topic, "params": params}),
    )
    .await;
    next_json(client).await
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

async fn publish_via_route(addr: SocketAddr, conversation: i64, text: &str) -> String {
    let url = format!("http://{addr}/publish/{conversation}/{text}");
    let response = reqwest::get(url).await.unwrap_or_else(|e| panic!("{e}"));
    response.text().await.unwrap_or_else(|e| panic!("{e}"))
}

#[tokio::test]
async fn subscribing_takes_the_topics_permission_then_its_checks() {
    let members = Members::default().with("alice", "7").with("dave", "7");
    let (addr, _server) = start(members).await;

    let mut alice = join(addr, "alice", "user").await;
    let ok = subscribe(&mut alice, 1, "chat", json!({"conversation_id": 7})).await;
    assert_eq!(ok["type"], "wsauth.subscribed", "{ok}");
    assert_eq!(ok["id"], 1);
    assert_eq!(ok["params"], json!({"conversation_id": 7}));
    assert_eq!(ok["offset"], 0);
    assert_eq!(ok["present"], json!(["alice"]));
    assert!(ok["epoch"].as_str().is_some_and(|e| e.len() == 32), "{ok}");
    assert!(ok.get("recovered").is_none(), "only a `since` is answered");

    // A member without the topic's permission.
    let mut dave = join(addr, "dave", "outsider").await;
    let refused = subscribe(&mut dave, 2, "chat", json!({"conversation_id": 7})).await;
    assert_eq!(
        refused,
        json!({"type": "wsauth.refused", "id": 2, "request": "wsauth.subscribe", "topic": "chat",
               "params": {"conversation_id": 7}, "error": "forbidden", "reason": "forbidden"})
    );
    // The permission, but not a member: the check refuses.
    let mut eve = join(addr, "eve", "user").await;
    let refused = subscribe(&mut eve, 3, "chat", json!({"conversation_id": 7})).await;
    assert_eq!(refused["error"], "forbidden", "{refused}");
    let refused = subscribe(&mut eve, 4, "chat", json!({"conversation_id": 404})).await;
    assert_eq!(refused["error"], "not_found", "{refused}");
    // Refusals keep the connection.
    let ok = subscribe(&mut eve, 5, "plain", json!({})).await;
    assert_eq!(ok["type"], "wsauth.subscribed", "{ok}");
}

#[tokio::test]
async fn a_publication_from_a_route_reaches_exactly_the_authorized_subscribers() {
    let members = Members::default()
        .with("alice", "7")
        .with("bob", "7")
        .with("bob", "8");
    let (addr, _server) = start(members).await;
    let mut alice = join(addr, "alice", "user").await;
    let mut bob = join(addr, "bob", "user").await;
    let mut eve = join(addr, "eve", "user").await;
    assert_eq!(
        subscribe(&mut alice, 1, "chat", json!({"conversation_id": 7})).await["type"],
        "wsauth.subscribed"
    );
    let bob_in = subscribe(&mut bob, 1, "chat", json!({"conversation_id": 8})).await;
    assert_eq!(bob_in["type"], "wsauth.subscribed");
    assert_eq!(
        subscribe(&mut eve, 1, "chat", json!({"conversation_id": 7})).await["type"],
        "wsauth.refused"
    );

    assert_eq!(publish_via_route(addr, 7, "hi").await, "1 1");
    let publication = next_json(&mut alice).await;
    assert_eq!(
        publication,
        json!({"type": "wsauth.publication", "topic": "chat", "params": {"conversation_id": 7},
               "offset": 1, "message": {"type": "posted", "text": "hi"}})
    );
    // Bob is on another conversation, Eve was refused.
    silent(&mut bob).await;
    silent(&mut eve).await;
    // Offsets are per instance.
    assert_eq!(publish_via_route(addr, 8, "yo").await, "1 1");
    assert_eq!(next_json(&mut bob).await["message"]["text"], "yo");
    assert_eq!(publish_via_route(addr, 7, "again").await, "2 1");
    assert_eq!(next_json(&mut alice).await["offset"], 2);
}

#[tokio::test]
async fn a_refresh_with_fewer_roles_drops_the_subscription() {
    let members = Members::default().with("alice", "7");
    let (addr, server) = start(members).await;
    let mut alice = join(addr, "alice", "user").await;
    assert_eq!(
        subscribe(&mut alice, 1, "chat", json!({"conversation_id": 7})).await["type"],
        "wsauth.subscribed"
    );
    assert_eq!(
        subscribe(&mut alice, 2, "plain", json!({})).await["type"],
        "wsauth.subscribed"
    );

    send(
        &mut alice,
        json!({"type": "wsauth.refresh", "token": token("alice", "outsider")}),
    )
    .await;
    assert_eq!(next_json(&mut alice).await["type"], "wsauth.refreshed");
    assert_eq!(
        next_json(&mut alice).await,
        json!({"type": "wsauth.unsubscribed", "topic": "chat", "params": {"conversation_id": 7}, "reason": "forbidden"})
    );
    let published = server.topics().publish(&chat(7), posted("secret")).await;
    assert_eq!(published.map(|p| p.delivered), Ok(Some(0)));
    silent(&mut alice).await;
    // `plain` needs nothing, and stays.
    let tick = server
        .topics()
        .publish_json("plain", &json!({}), &json!({"type": "tick"}))
        .await;
    assert_eq!(tick.map(|p| p.delivered), Ok(Some(1)));
    assert_eq!(next_json(&mut alice).await["message"]["type"], "tick");
}

#[tokio::test]
async fn presence_lists_subjects_and_tells_of_joins_and_leaves() {
    let members = Members::default().with("alice", "7").with("bob", "7");
    let (addr, server) = start(members).await;
    let mut alice = join(addr, "alice", "user").await;
    subscribe(&mut alice, 1, "chat", json!({"conversation_id": 7})).await;
    let mut bob = join(addr, "bob", "reader").await;
    let bob_in = subscribe(&mut bob, 1, "chat", json!({"conversation_id": 7})).await;
    assert_eq!(bob_in["present"], json!(["alice", "bob"]));
    assert_eq!(
        next_json(&mut alice).await,
        json!({"type": "wsauth.presence", "topic": "chat", "params": {"conversation_id": 7}, "joined": "bob"})
    );
    // Bob's second connection is not a new arrival.
    let mut bob_again = join(addr, "bob", "reader").await;
    subscribe(&mut bob_again, 1, "chat", json!({"conversation_id": 7})).await;
    silent(&mut alice).await;
    assert_eq!(server.topics().presence(&chat(7)).await, ["alice", "bob"]);

    send(&mut alice, json!({"type": "wsauth.presence", "id": 9, "topic": "chat", "params": {"conversation_id": 7}})).await;
    assert_eq!(
        next_json(&mut alice).await,
        json!({"type": "wsauth.presence", "id": 9, "topic": "chat", "params": {"conversation_id": 7}, "present": ["alice", "bob"]})
    );
    // Not subscribed: no answer about who is there.
    send(&mut alice, json!({"type": "wsauth.presence", "id": 10, "topic": "chat", "params": {"conversation_id": 8}})).await;
    assert_eq!(next_json(&mut alice).await["error"], "not_subscribed");

    // Bob leaves once his last connection ends; a closed connection's
    // subscriptions end with it.
    drop(bob);
    silent(&mut alice).await;
    let _ = bob_again.close(None).await;
    assert_eq!(next_json(&mut alice).await["left"], "bob");
    assert_eq!(server.topics().presence(&chat(7)).await, ["alice"]);

    // A connection the server closes leaves at once (then lingers, as
    // any), not once its client has answered the close, which takes 5 s
    // here (Bob never reads it).
    let mut bob = join(addr, "bob", "reader").await;
    subscribe(&mut bob, 1, "chat", json!({"conversation_id": 7})).await;
    assert_eq!(next_json(&mut alice).await["joined"], "bob");
    send(&mut bob, json!({"type": "say", "text": "bye"})).await;
    let left = tokio::time::timeout(Duration::from_secs(3), next_json(&mut alice)).await;
    assert_eq!(left.map(|l| l["left"].clone()), Ok(json!("bob")));
    drop(bob);
}

#[tokio::test]
async fn a_reconnecting_client_recovers_what_it_missed_or_learns_it_cannot() {
    let members = Members::default().with("alice", "7");
    let (addr, server) = start(members).await;
    let topics = server.topics();
    let mut alice = join(addr, "alice", "user").await;
    let first = subscribe(&mut alice, 1, "chat", json!({"conversation_id": 7})).await;
    let epoch = first["epoch"].clone();
    topics.publish(&chat(7), posted("one")).await.ok();
    assert_eq!(next_json(&mut alice).await["offset"], 1);
    drop(alice);

    // Missed while away, kept by the history.
    topics.publish(&chat(7), posted("two")).await.ok();
    topics.publish(&chat(7), posted("three")).await.ok();
    let mut alice = join(addr, "alice", "user").await;
    send(
        &mut alice,
        json!({"type": "wsauth.subscribe", "id": 2, "topic": "chat",
        "params": {"conversation_id": 7}, "since": {"epoch": epoch, "offset": 1}}),
    )
    .await;
    let back = next_json(&mut alice).await;
    assert_eq!(back["type"], "wsauth.subscribed");
    assert_eq!(
        (back["recovered"].clone(), back["offset"].clone()),
        (json!(true), json!(3))
    );
    assert_eq!(back["epoch"], epoch);
    for (offset, text) in [(2, "two"), (3, "three")] {
        let missed = next_json(&mut alice).await;
        assert_eq!(
            (missed["offset"].clone(), missed["message"]["text"].clone()),
            (json!(offset), json!(text))
        );
    }
    drop(alice);

    // More than the history holds (3): offset 2 was pushed out.
    for text in ["four", "five", "six"] {
        topics.publish(&chat(7), posted(text)).await.ok();
    }
    let mut alice = join(addr, "alice", "user").await;
    send(
        &mut alice,
        json!({"type": "wsauth.subscribe", "id": 3, "topic": "chat",
        "params": {"conversation_id": 7}, "since": {"epoch": epoch, "offset": 2}}),
    )
    .await;
    let lost = next_json(&mut alice).await;
    assert_eq!(
        (lost["recovered"].clone(), lost["offset"].clone()),
        (json!(false), json!(6))
    );
    silent(&mut alice).await;
    // Asking again while subscribed replays nothing (the publications
    // arrive live; a replay would repeat them, and cost the server the
    // whole history per request).
    send(
        &mut alice,
        json!({"type": "wsauth.subscribe", "id": 4, "topic": "chat",
        "params": {"conversation_id": 7}, "since": {"epoch": epoch, "offset": 4}}),
    )
    .await;
    assert_eq!(next_json(&mut alice).await["recovered"], false);
    silent(&mut alice).await;
    // Another life's epoch: lost too.
    send(
        &mut alice,
        json!({"type": "wsauth.unsubscribe", "topic": "chat", "params": {"conversation_id": 7}}),
    )
    .await;
    next_json(&mut alice).await;
    send(
        &mut alice,
        json!({"type": "wsauth.subscribe", "topic": "chat",
        "params": {"conversation_id": 7}, "since": {"epoch": "0", "offset": 6}}),
    )
    .await;
    assert_eq!(next_json(&mut alice).await["recovered"], false);
    // A topic without history never recovers.
    send(
        &mut alice,
        json!({"type": "wsauth.subscribe", "topic": "plain", "params": {},
        "since": {"epoch": "0", "offset": 0}}),
    )
    .await;
    assert_eq!(next_json(&mut alice).await["recovered"], false);
}

#[tokio::test]
async fn a_slow_subscriber_is_closed_and_the_others_keep_receiving() {
    let members = Members::default().with("alice", "7").with("bob", "7");
    let (addr, server) = start(members).await;
    let mut slow = join(addr, "alice", "user").await;
    subscribe(&mut slow, 1, "chat", json!({"conversation_id": 7})).await;
    let mut fast = join(addr, "bob", "user").await;
    subscribe(&mut fast, 1, "chat", json!({"conversation_id": 7})).await;
    next_json(&mut slow).await; // bob joined

    // Bob reads everything, and the next publication waits for him (so
    // only Alice, who reads nothing until the end, can fall behind).
    let (read, mut seen) = tokio::sync::mpsc::unbounded_channel();
    tokio::spawn(async move {
        while let Ok(Some(Ok(frame))) =
            tokio::time::timeout(Duration::from_secs(5), fast.next()).await
        {
            if let Message::Text(text) = frame {
                let value: Value = serde_json::from_str(text.as_str()).unwrap_or_default();
                if value["type"] == "wsauth.publication" {
                    let _ = read.send(value["offset"].as_u64().unwrap_or_default());
                }
            }
        }
    });
    let big = "x".repeat(32 * 1024);
    let topics = server.topics();
    let mut offsets = Vec::new();
    let mut overflowed_at = None;
    for n in 1..=2000 {
        // Alice's queue overflows once her socket's buffers are full.
        let text = if overflowed_at.is_some() {
            "after"
        } else {
            big.as_str()
        };
        let published = topics.publish(&chat(7), posted(text)).await;
        if published.map(|p| p.delivered) == Ok(Some(1)) && overflowed_at.is_none() {
            overflowed_at = Some(n);
        }
        let offset = tokio::time::timeout(Duration::from_secs(5), seen.recv()).await;
        offsets.push(offset.ok().flatten().unwrap_or_default());
        if overflowed_at.is_some_and(|at| n >= at + 20) {
            break;
        }
    }
    assert!(overflowed_at.is_some(), "alice's queue never overflowed");
    let expected: Vec<u64> = (1..=offsets.len() as u64).collect();
    assert_eq!(offsets, expected, "bob got every publication, in order");
    let (_, close) = common::until_close(&mut slow).await;
    let code = TOPICS_API.close(FailureKind::SlowConsumer).code;
    assert_eq!(close.map(|c| c.0), Some(code));
}

#[tokio::test]
async fn unsubscribing_stops_publications() {
    let members = Members::default().with("alice", "7");
    let (addr, server) = start(members).await;
    let mut alice = join(addr, "alice", "user").await;
    subscribe(&mut alice, 1, "chat", json!({"conversation_id": 7})).await;
    send(&mut alice, json!({"type": "wsauth.unsubscribe", "id": 2, "topic": "chat", "params": {"conversation_id": 7}})).await;
    assert_eq!(
        next_json(&mut alice).await,
        json!({"type": "wsauth.unsubscribed", "id": 2, "topic": "chat", "params": {"conversation_id": 7}, "reason": "client"})
    );
    let published = server.topics().publish(&chat(7), posted("gone")).await;
    assert_eq!(published.map(|p| p.delivered), Ok(Some(0)));
    silent(&mut alice).await;
    send(&mut alice, json!({"type": "wsauth.unsubscribe", "id": 3, "topic": "chat", "params": {"conversation_id": 7}})).await;
    let again = next_json(&mut alice).await;
    assert_eq!(
        (again["id"].clone(), again["error"].clone()),
        (json!(3), json!("not_subscribed"))
    );
}

#[tokio::test]
async fn a_connection_holds_at_most_max_subscriptions() {
    let members = Members::default().with("alice", "7").with("alice", "8");
    let (addr, _server) = start(members).await;
    let mut alice = join(addr, "alice", "user").await;
    assert_eq!(
        subscribe(&mut alice, 1, "chat", json!({"conversation_id": 7})).await["type"],
        "wsauth.subscribed"
    );
    assert_eq!(
        subscribe(&mut alice, 2, "plain", json!({})).await["type"],
        "wsauth.subscribed"
    );
    // The same instance again is not another subscription.
    assert_eq!(
        subscribe(&mut alice, 3, "plain", json!({})).await["type"],
        "wsauth.subscribed"
    );
    let third = subscribe(&mut alice, 4, "chat", json!({"conversation_id": 8})).await;
    assert_eq!(third["error"], "too_many_subscriptions", "{third}");
    send(
        &mut alice,
        json!({"type": "wsauth.unsubscribe", "topic": "plain"}),
    )
    .await;
    assert_eq!(next_json(&mut alice).await["type"], "wsauth.unsubscribed");
    assert_eq!(
        subscribe(&mut alice, 5, "chat", json!({"conversation_id": 8})).await["type"],
        "wsauth.subscribed"
    );
}

#[tokio::test]
async fn params_must_name_an_instance_of_a_topic_of_the_endpoint() {
    let members = Members::default().with("alice", "7");
    let (addr, _server) = start(members).await;
    let mut alice = join(addr, "alice", "user").await;
    for (topic, params, error) in [
        ("chat", json!({"conversation_id": "7"}), "invalid_params"),
        ("chat", json!({"conversation_id": 7.5}), "invalid_params"),
        ("chat", json!({}), "invalid_params"),
        (
            "chat",
            json!({"conversation_id": 7, "more": 1}),
            "invalid_params",
        ),
        ("nope", json!({}), "unknown_topic"),
        ("elsewhere", json!({}), "unknown_topic"),
    ] {
        let refused = subscribe(&mut alice, 1, topic, params.clone()).await;
        assert_eq!(refused["error"], error, "{topic} {params}: {refused}");
        assert_eq!(refused["params"], params);
    }
}

#[tokio::test]
async fn clients_publish_where_the_topic_allows_it() {
    let members = Members::default().with("alice", "7").with("bob", "7");
    let (addr, _server) = start(members).await;
    let mut alice = join(addr, "alice", "user").await;
    let mut bob = join(addr, "bob", "reader").await;
    subscribe(&mut bob, 1, "chat", json!({"conversation_id": 7})).await;

    // The permission to publish is not enough: the instance's resource
    // checks must have passed, which is what subscribing does. Alice is no
    // member of 8 (so cannot subscribe there), and not yet subscribed to 7.
    for conversation in [8, 7] {
        send(
            &mut alice,
            json!({"type": "wsauth.publish", "id": 4, "topic": "chat",
            "params": {"conversation_id": conversation}, "message": {"type": "posted", "text": "x"}}),
        )
        .await;
        assert_eq!(next_json(&mut alice).await["error"], "not_subscribed");
    }
    subscribe(&mut alice, 2, "chat", json!({"conversation_id": 7})).await;
    send(
        &mut alice,
        json!({"type": "wsauth.publish", "id": 5, "topic": "chat",
        "params": {"conversation_id": 7}, "message": {"type": "posted", "text": "hello"}}),
    )
    .await;
    // The answer, and her own publication (she subscribes too).
    let (first, second) = (next_json(&mut alice).await, next_json(&mut alice).await);
    let (answer, own) = if first["type"] == "wsauth.published" {
        (first, second)
    } else {
        (second, first)
    };
    assert_eq!(
        answer,
        json!({"type": "wsauth.published", "id": 5, "offset": 1})
    );
    assert_eq!(
        own["message"],
        json!({"type": "posted", "text": "hello"}),
        "{own}"
    );
    // Bob sees Alice arrive (the topic has presence), then what she said.
    assert_eq!(next_json(&mut bob).await["joined"], "alice");
    assert_eq!(
        next_json(&mut bob).await["message"],
        json!({"type": "posted", "text": "hello"})
    );

    for (message, error) in [
        (json!({"type": "tick"}), "invalid_message"),
        (json!({"type": "posted", "text": 1}), "invalid_message"),
        (json!({"type": "posted"}), "invalid_message"),
    ] {
        send(
            &mut alice,
            json!({"type": "wsauth.publish", "id": 6, "topic": "chat",
            "params": {"conversation_id": 7}, "message": message}),
        )
        .await;
        assert_eq!(next_json(&mut alice).await["error"], error, "{message}");
    }
    // Bob may read, not publish; `plain` takes no client publications.
    send(
        &mut bob,
        json!({"type": "wsauth.publish", "id": 7, "topic": "chat",
        "params": {"conversation_id": 7}, "message": {"type": "posted", "text": "x"}}),
    )
    .await;
    assert_eq!(next_json(&mut bob).await["error"], "forbidden");
    send(
        &mut alice,
        json!({"type": "wsauth.publish", "topic": "plain", "params": {},
        "message": {"type": "tick"}}),
    )
    .await;
    assert_eq!(next_json(&mut alice).await["error"], "forbidden");
    silent(&mut bob).await;
}

#[tokio::test]
async fn a_handler_joins_and_leaves_its_connection() {
    let (addr, server) = start(Members::default()).await;
    let mut alice = join(addr, "alice", "user").await;
    send(&mut alice, json!({"type": "say", "text": "join"})).await;
    let mut joined = next_json(&mut alice).await;
    assert!(joined["epoch"].is_string(), "{joined}");
    joined.as_object_mut().map(|o| o.remove("epoch"));
    assert_eq!(
        joined,
        json!({"type": "wsauth.subscribed", "topic": "plain", "params": {}, "offset": 0})
    );
    let tick = server
        .topics()
        .publish_json("plain", &json!({}), &json!({"type": "tick"}))
        .await;
    assert_eq!(tick.map(|p| p.offset), Ok(1));
    assert_eq!(
        next_json(&mut alice).await["message"],
        json!({"type": "tick"})
    );
    send(&mut alice, json!({"type": "say", "text": "leave"})).await;
    assert_eq!(
        next_json(&mut alice).await,
        json!({"type": "wsauth.unsubscribed", "topic": "plain", "params": {}, "reason": "server"})
    );
    // Untyped publications are checked against the spec too.
    let wrong = server
        .topics()
        .publish_json("plain", &json!({}), &json!({"type": "posted", "text": "x"}))
        .await;
    assert!(wrong.is_err());
}

#[tokio::test]
async fn a_typed_handler_joins_through_the_same_checks() {
    let members = Members::default().with("alice", "7");
    let (addr, server) = start_with(members, typed_desk).await;
    let mut alice = join(addr, "alice", "user").await;
    send(&mut alice, json!({"type": "say", "text": "8"})).await;
    assert_eq!(
        next_json(&mut alice).await,
        json!({"type": "said", "text": "Forbidden"})
    );
    send(&mut alice, json!({"type": "say", "text": "7"})).await;
    let joined = next_json(&mut alice).await;
    assert_eq!(joined["type"], "wsauth.subscribed", "{joined}");
    assert_eq!(joined["present"], json!(["alice"]));
    let published = server.topics().publish(&chat(7), posted("typed")).await;
    assert_eq!(
        published,
        Ok(Published {
            offset: 1,
            delivered: Some(1)
        })
    );
    assert_eq!(next_json(&mut alice).await["message"]["text"], "typed");
}

/// Publishes `count` ticks on `plain`, one every few milliseconds.
fn tick_flood(server: &WsAuth, count: usize) -> tokio::task::JoinHandle<()> {
    let topics = server.topics();
    tokio::spawn(async move {
        for _ in 0..count {
            let _ = topics
                .publish_json("plain", &json!({}), &json!({"type": "tick"}))
                .await;
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    })
}

#[tokio::test]
async fn a_client_that_reads_is_not_closed_while_its_subscribe_is_checked() {
    let (addr, server) = start(Members::default()).await;
    let mut alice = join(addr, "alice", "user").await;
    let plain = subscribe(&mut alice, 1, "plain", json!({})).await;
    assert_eq!(plain["type"], "wsauth.subscribed");
    // Ticks keep coming (far more than the queue of 4 holds) while the
    // check of conversation SLOW takes half a second; Alice reads them all.
    let flood = tick_flood(&server, 200);
    send(
        &mut alice,
        json!({"type": "wsauth.subscribe", "id": 2, "topic": "chat",
        "params": {"conversation_id": SLOW}}),
    )
    .await;
    let mut ticks = 0;
    let subscribed = loop {
        let frame = next_json(&mut alice).await;
        match frame["type"].as_str() {
            Some("wsauth.publication") => ticks += 1,
            _ => break frame,
        }
    };
    assert_eq!(subscribed["type"], "wsauth.subscribed", "{subscribed}");
    assert_eq!(subscribed["id"], 2);
    flood.abort();
    // Not closed as a slow consumer: the connection goes on.
    let published = server.topics().publish(&chat(SLOW), posted("in")).await;
    assert_eq!(published.map(|p| p.delivered), Ok(Some(1)));
    loop {
        let frame = next_json(&mut alice).await;
        if frame["topic"] == "chat" {
            assert_eq!(frame["message"]["text"], "in", "{frame}");
            break;
        }
    }
    assert!(ticks > 20, "ticks were delivered during the check: {ticks}");
}

#[tokio::test]
async fn toggling_a_subscription_does_not_flood_the_others_with_presence() {
    let members = Members::default().with("alice", "7").with("bob", "7");
    let (addr, server) = start(members).await;
    let mut bob = join(addr, "bob", "reader").await;
    subscribe(&mut bob, 1, "chat", json!({"conversation_id": 7})).await;
    let mut alice = join(addr, "alice", "user").await;
    let chat_7 = json!({"conversation_id": 7});
    for _ in 0..10 {
        let subscribed = subscribe(&mut alice, 1, "chat", chat_7.clone()).await;
        assert_eq!(subscribed["type"], "wsauth.subscribed", "{subscribed}");
        send(
            &mut alice,
            json!({"type": "wsauth.unsubscribe", "topic": "chat", "params": chat_7}),
        )
        .await;
        assert_eq!(next_json(&mut alice).await["type"], "wsauth.unsubscribed");
    }
    // Bob heard Alice arrive once, and leave once, a moment after she did.
    assert_eq!(next_json(&mut bob).await["joined"], "alice");
    assert_eq!(server.topics().presence(&chat(7)).await, ["alice", "bob"]);
    let left = tokio::time::timeout(Duration::from_secs(3), next_json(&mut bob)).await;
    assert_eq!(left.map(|l| l["left"].clone()), Ok(json!("alice")));
    assert_eq!(server.topics().presence(&chat(7)).await, ["bob"]);
    silent(&mut bob).await;
}

#[tokio::test]
async fn a_handlers_join_racing_a_refresh_that_removes_the_permission_is_refused() {
    let (addr, server) = start(Members::default()).await;
    let mut alice = join(addr, "alice", "user").await;
    // The join's check takes half a second; the refresh (to a role without
    // `chat.read`) is decided meanwhile, while nothing is subscribed yet.
    send(&mut alice, json!({"type": "say", "text": "join slow"})).await;
    send(
        &mut alice,
        json!({"type": "wsauth.refresh", "token": token("alice", "outsider")}),
    )
    .await;
    assert_eq!(next_json(&mut alice).await["type"], "wsauth.refreshed");
    // The check passed for the old roles: the join is refused rather than
    // kept past the refresh's re-checks.
    assert_eq!(
        next_json(&mut alice).await,
        json!({"type": "said", "text": "ServerError"})
    );
    let published = server.topics().publish(&chat(SLOW), posted("secret")).await;
    assert_eq!(published.map(|p| p.delivered), Ok(Some(0)));
    assert!(server.topics().presence(&chat(SLOW)).await.is_empty());
    silent(&mut alice).await;
}

#[tokio::test]
async fn a_handler_that_joins_after_its_connection_ended_leaves_nothing() {
    let joined = Arc::new(tokio::sync::Notify::new());
    let outcome = Arc::new(Mutex::new(None));
    let handler = {
        let (joined, outcome) = (Arc::clone(&joined), Arc::clone(&outcome));
        move |mut session: Session| {
            let (joined, outcome) = (Arc::clone(&joined), Arc::clone(&outcome));
            async move {
                session.send("hello", &json!({}))?;
                // The session outlives the handler, in a task that joins
                // once the connection is over.
                tokio::spawn(async move {
                    tokio::time::sleep(Duration::from_millis(300)).await;
                    let result = session.join("plain", &json!({})).await;
                    *outcome.lock().unwrap_or_else(PoisonError::into_inner) = Some(result);
                    joined.notify_one();
                });
                Ok(())
            }
        }
    };
    let (addr, server) = start_with(Members::default(), handler).await;
    let mut alice = join(addr, "alice", "user").await;
    let (_, close) = common::until_close(&mut alice).await;
    assert_eq!(
        close.map(|c| c.0),
        Some(TOPICS_API.close(FailureKind::Completed).code)
    );
    tokio::time::timeout(Duration::from_secs(5), joined.notified())
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let result = outcome
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .take();
    assert!(matches!(result, Some(Err(_))), "{result:?}");
    let tick = server
        .topics()
        .publish_json("plain", &json!({}), &json!({"type": "tick"}))
        .await;
    assert_eq!(
        tick.map(|p| p.delivered),
        Ok(Some(0)),
        "nothing was subscribed"
    );
}

#[tokio::test]
async fn a_client_that_reads_is_not_closed_while_a_long_replay_is_sent() {
    let (addr, server) = start(Members::default()).await;
    let topics = server.topics();
    // 2000 publications of 1 KiB, kept.
    let text = "x".repeat(1024);
    for _ in 0..2000 {
        let message = json!({"type": "posted", "text": text});
        let published = topics.publish_json("log", &json!({}), &message).await;
        assert!(published.is_ok(), "{published:?}");
    }
    let mut alice = join(addr, "alice", "user").await;
    let first = subscribe(&mut alice, 1, "log", json!({})).await;
    send(
        &mut alice,
        json!({"type": "wsauth.unsubscribe", "topic": "log", "params": {}}),
    )
    .await;
    assert_eq!(next_json(&mut alice).await["type"], "wsauth.unsubscribed");
    assert_eq!(
        subscribe(&mut alice, 2, "plain", json!({})).await["type"],
        "wsauth.subscribed"
    );
    // Ticks every millisecond while the replay goes out.
    let ticks = {
        let topics = server.topics();
        tokio::spawn(async move {
            for _ in 0..2000 {
                let _ = topics
                    .publish_json("plain", &json!({}), &json!({"type": "tick"}))
                    .await;
                tokio::time::sleep(Duration::from_millis(1)).await;
            }
        })
    };
    send(
        &mut alice,
        json!({"type": "wsauth.subscribe", "id": 3, "topic": "log", "params": {},
        "since": {"epoch": first["epoch"], "offset": 0}}),
    )
    .await;
    let mut replayed = Vec::new();
    loop {
        let frame = next_json(&mut alice).await;
        match (frame["type"].as_str(), frame["topic"].as_str()) {
            (Some("wsauth.subscribed"), Some("log")) => {
                assert_eq!(frame["recovered"], true, "{frame}");
            }
            (Some("wsauth.publication"), Some("log")) => {
                replayed.push(frame["offset"].as_u64().unwrap_or_default());
                if replayed.len() == 2000 {
                    break;
                }
            }
            _ => {}
        }
    }
    assert_eq!(replayed, (1..=2000).collect::<Vec<u64>>());
    ticks.abort();
    // Not closed as a slow consumer: the connection goes on.
    let message = json!({"type": "posted", "text": "live"});
    let published = topics.publish_json("log", &json!({}), &message).await;
    assert_eq!(published.map(|p| p.delivered), Ok(Some(1)));
    loop {
        let frame = next_json(&mut alice).await;
        if frame["topic"] == "log" {
            assert_eq!(frame["offset"], 2001, "{frame}");
            break;
        }
    }
}

#[tokio::test]
async fn subscribers_disconnecting_at_once_leave_and_the_rest_keep_receiving() {
    let (addr, server) = start(Members::default()).await;
    let topics = server.topics();
    let (none, tick_message) = (json!({}), json!({"type": "tick"}));
    let tick = || topics.publish_json("plain", &none, &tick_message);
    let mut leaving = Vec::new();
    for n in 0..40 {
        let mut client = join(addr, &format!("u{n}"), "user").await;
        subscribe(&mut client, 1, "plain", json!({})).await;
        leaving.push(client);
    }
    let mut bob = join(addr, "bob", "user").await;
    subscribe(&mut bob, 1, "plain", json!({})).await;
    assert_eq!(tick().await.map(|p| p.delivered), Ok(Some(41)));
    for client in &mut leaving {
        assert_eq!(next_json(client).await["offset"], 1);
    }
    assert_eq!(next_json(&mut bob).await["offset"], 1);

    // All gone at once, without a close handshake.
    drop(leaving);
    let mut delivered = None;
    for _ in 0..100 {
        delivered = tick().await.ok().and_then(|p| p.delivered);
        if delivered == Some(1) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(delivered, Some(1), "only bob is left");
    // Bob got every publication, in order, and nothing else.
    let last = tick().await.map(|p| p.offset).unwrap_or_default();
    for offset in 2..=last {
        assert_eq!(next_json(&mut bob).await["offset"], offset);
    }
}

/// Accepts connections whose writes (the server's, to its clients) are
/// counted: one count per write to the socket.
struct CountingListener {
    inner: tokio::net::TcpListener,
    writes: Arc<AtomicUsize>,
}

struct Counted {
    inner: tokio::net::TcpStream,
    writes: Arc<AtomicUsize>,
}

impl axum::serve::Listener for CountingListener {
    type Io = Counted;
    type Addr = SocketAddr;

    async fn accept(&mut self) -> (Counted, SocketAddr) {
        loop {
            if let Ok((inner, peer)) = self.inner.accept().await {
                let _ = inner.set_nodelay(true);
                let writes = Arc::clone(&self.writes);
                return (Counted { inner, writes }, peer);
            }
        }
    }

    fn local_addr(&self) -> std::io::Result<SocketAddr> {
        self.inner.local_addr()
    }
}

impl tokio::io::AsyncRead for Counted {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut tokio::io::ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.inner).poll_read(cx, buf)
    }
}

impl tokio::io::AsyncWrite for Counted {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        let written = Pin::new(&mut self.inner).poll_write(cx, buf);
        if let Poll::Ready(Ok(_)) = written {
            self.writes.fetch_add(1, Ordering::SeqCst);
        }
        written
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[std::io::IoSlice<'_>],
    ) -> Poll<std::io::Result<usize>> {
        let written = Pin::new(&mut self.inner).poll_write_vectored(cx, bufs);
        if let Poll::Ready(Ok(_)) = written {
            self.writes.fetch_add(1, Ordering::SeqCst);
        }
        written
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}

#[tokio::test]
async fn a_backlog_of_publications_goes_out_in_order_in_one_write() {
    let members = Members::default().with("alice", "7");
    let (app, server) = app_with(members, desk);
    let writes = Arc::new(AtomicUsize::new(0));
    let inner = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let addr = inner.local_addr().unwrap_or_else(|e| panic!("{e}"));
    let listener = CountingListener {
        inner,
        writes: Arc::clone(&writes),
    };
    tokio::spawn(async move {
        let app = app.into_make_service_with_connect_info::<SocketAddr>();
        let _ = axum::serve(listener.tap_io(|_| {}), app).await;
    });
    let mut alice = join(addr, "alice", "user").await;
    subscribe(&mut alice, 1, "chat", json!({"conversation_id": 7})).await;

    // Published back to back on the test's thread (the server's too): the
    // whole queue fills before the connection's task runs.
    let queue = LIMITS.send_queue as usize;
    let before = writes.load(Ordering::SeqCst);
    let topics = server.topics();
    for n in 0..queue {
        let published = topics.publish(&chat(7), posted(&n.to_string())).await;
        assert_eq!(published.map(|p| p.delivered), Ok(Some(1)));
    }
    for n in 0..queue {
        let frame = next_json(&mut alice).await;
        assert_eq!(frame["offset"], json!(n + 1), "{frame}");
        assert_eq!(frame["message"]["text"], json!(n.to_string()), "{frame}");
    }
    assert_eq!(
        writes.load(Ordering::SeqCst) - before,
        1,
        "the queued publications went out in one write"
    );
    // A lone publication is written at once.
    let published = topics.publish(&chat(7), posted("alone")).await;
    assert_eq!(published.map(|p| p.delivered), Ok(Some(1)));
    let frame = tokio::time::timeout(Duration::from_millis(500), next_json(&mut alice)).await;
    let frame = frame.unwrap_or_else(|_| panic!("the lone publication did not arrive"));
    assert_eq!(frame["message"]["text"], "alone");
}
