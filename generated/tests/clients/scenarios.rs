//! The shared topic scenarios (`generated/tests/scenarios/topics.json`)
//! through the generated Rust client of prsm: each scenario on a fresh
//! server, each actor a notifications client connected through its own
//! [`Relay`], so a `cut` is a network failure the server outlives.
//!
//! The TypeScript client runs the same file (`node_scenarios.ts`); what only
//! the Rust client's API can express (requests on instances not subscribed
//! to) is tested in `topics.rs`.

use std::collections::BTreeMap;
use std::time::Duration;

use serde_json::{Value, json};
use wsauth_core::client::{Ended, Event, TopicError, TopicEvent as Topic};
use wsauth_core::spec::Keyword;
use wsauth_generated::prsm::endpoints::notifications::{self, ServerMessage, TopicEvent};
use wsauth_generated::prsm::topics::conversation::{Key, Message};

use crate::support::events::{WAIT, next};
use crate::support::examples::start_prsm;
use crate::support::relay::Relay;
use crate::support::scenarios::{self, Scenario, Step};
use crate::support::tokens::PRSM;

const BASE: Duration = Duration::from_millis(50);
const CAP: Duration = Duration::from_millis(200);

/// A connected user: its client and the relay it goes through.
struct Actor {
    client: notifications::Client,
    relay: Relay,
}

#[tokio::test]
async fn the_shared_topic_scenarios_pass() {
    let file = scenarios::load();
    assert_eq!(
        file.topic, "conversation",
        "the steps name conversation instances"
    );
    for scenario in &file.scenarios {
        let prsm = start_prsm(|c| file.configure(c), axum::Router::new()).await;
        run(scenario, prsm.addr).await;
        println!("ok - {}", scenario.name);
    }
}

async fn run(scenario: &Scenario, server: std::net::SocketAddr) {
    let mut actors: BTreeMap<&str, Actor> = BTreeMap::new();
    for (index, step) in scenario.steps.iter().enumerate() {
        let at = format!("{}, step {}: {step:?}", scenario.name, index + 1);
        match step {
            Step::Connect { connect, roles } => {
                let relay = Relay::to(server).await;
                let roles: Vec<&str> = roles.iter().map(String::as_str).collect();
                let params = notifications::Params {
                    user_id: connect.clone(),
                };
                let mut client = notifications::connect(
                    &relay.ws_url(),
                    params,
                    PRSM.token(connect, &roles, 600),
                )
                .backoff(BASE, CAP)
                .start()
                .unwrap_or_else(|e| panic!("{at}: {e}"));
                welcomed(&mut client, &at).await;
                actors.insert(connect, Actor { client, relay });
            }
            Step::Subscribe {
                subscribe,
                actor,
                expect,
            } => {
                let answer = match actor_of(&mut actors, actor, &at)
                    .client
                    .subscribe(&key(subscribe, &at))
                    .await
                {
                    Ok(s) => json!({ "offset": s.offset, "present": s.present }),
                    Err(e) => refusal(e, &at),
                };
                assert_eq!(&answer, expect, "{at}");
            }
            Step::Unsubscribe {
                unsubscribe,
                actor,
                expect,
            } => {
                let answer = match actor_of(&mut actors, actor, &at)
                    .client
                    .unsubscribe(&key(unsubscribe, &at))
                    .await
                {
                    Ok(()) => json!("ok"),
                    Err(e) => refusal(e, &at),
                };
                assert_eq!(&answer, expect, "{at}");
            }
            Step::Presence {
                presence,
                actor,
                expect,
            } => {
                let answer = match actor_of(&mut actors, actor, &at)
                    .client
                    .presence(&key(presence, &at))
                    .await
                {
                    Ok(present) => json!({ "present": present }),
                    Err(e) => refusal(e, &at),
                };
                assert_eq!(&answer, expect, "{at}");
            }
            Step::Publish {
                publish,
                message,
                actor,
                expect,
            } => {
                let message: Message = serde_json::from_value(message.clone())
                    .unwrap_or_else(|e| panic!("{at}: not a conversation message: {e}"));
                let answer = match actor_of(&mut actors, actor, &at)
                    .client
                    .publish(&key(publish, &at), message)
                    .await
                {
                    Ok(offset) => json!({ "offset": offset }),
                    Err(e) => refusal(e, &at),
                };
                assert_eq!(&answer, expect, "{at}");
            }
            Step::Receive { receive, actor } => {
                let client = &mut actor_of(&mut actors, actor, &at).client;
                let event = tokio::time::timeout(WAIT, topic_event(client, &at))
                    .await
                    .unwrap_or_else(|_| panic!("{at}: no topic event within {WAIT:?}"));
                assert_eq!(&event, receive, "{at}");
            }
            Step::Quiet { quiet, actor } => {
                let client = &mut actor_of(&mut actors, actor, &at).client;
                let wait = Duration::from_millis(*quiet);
                if let Ok(event) = tokio::time::timeout(wait, topic_event(client, &at)).await {
                    panic!("{at}: expected no topic event, got {event}");
                }
            }
            Step::Cut { cut } => {
                let actor = actor_of(&mut actors, cut, &at);
                actor.relay.cut();
                match next(&mut actor.client).await {
                    Event::Reconnecting { .. } => {}
                    other => panic!("{at}: expected the socket to drop, got {other:?}"),
                }
            }
            Step::Restore { restore } => {
                let actor = actor_of(&mut actors, restore, &at);
                actor.relay.restore();
                loop {
                    match next(&mut actor.client).await {
                        Event::Reconnecting { .. } => {}
                        Event::Open { .. } => break,
                        other => panic!("{at}: expected a reconnection, got {other:?}"),
                    }
                }
                greeted(&mut actor.client, &at).await;
            }
        }
    }
    for (_, actor) in actors {
        crate::support::events::close(actor.client).await;
    }
}

fn actor_of<'a>(actors: &'a mut BTreeMap<&str, Actor>, name: &str, at: &str) -> &'a mut Actor {
    actors
        .get_mut(name)
        .unwrap_or_else(|| panic!("{at}: `{name}` has not connected"))
}

/// The instance a step's params name.
fn key(params: &Value, at: &str) -> Key {
    serde_json::from_value(params.clone())
        .unwrap_or_else(|e| panic!("{at}: not conversation params: {e}"))
}

/// A refusal as the file writes it; any other failure fails the step.
fn refusal(error: TopicError, at: &str) -> Value {
    match error {
        TopicError::Refused(refusal) => json!({ "refused": refusal.word() }),
        other => panic!("{at}: {other}"),
    }
}

/// The socket open, then the welcome and the initial notifications.
async fn welcomed(client: &mut notifications::Client, at: &str) {
    match next(client).await {
        Event::Open { .. } => {}
        other => panic!("{at}: expected the socket to open, got {other:?}"),
    }
    greeted(client, at).await;
}

/// The `connected` welcome, then the notifications a user finds on connecting.
async fn greeted(client: &mut notifications::Client, at: &str) {
    match next(client).await {
        Event::Message(ServerMessage::Connected(_)) => {}
        other => panic!("{at}: expected the welcome, got {other:?}"),
    }
    for _ in prsm::handlers::initial_notifications("") {
        match next(client).await {
            Event::Message(ServerMessage::Notification(_)) => {}
            other => panic!("{at}: expected a notification, got {other:?}"),
        }
    }
}

/// The next topic event, as the file writes events.
async fn topic_event(client: &mut notifications::Client, at: &str) -> Value {
    match next(client).await {
        Event::Topic(TopicEvent::Conversation(event)) => match event {
            Topic::Publication(p) => json!({ "publication": {
                "offset": p.offset,
                "message": serde_json::to_value(&p.message)
                    .unwrap_or_else(|e| panic!("{at}: {e}")),
            }}),
            Topic::Joined { subject, .. } => json!({ "joined": subject }),
            Topic::Left { subject, .. } => json!({ "left": subject }),
            Topic::HistoryLost { .. } => json!({ "history_lost": {} }),
            Topic::Ended { reason, .. } => json!({ "ended": match reason {
                Ended::Server => "server",
                Ended::Refused(refusal) => refusal.word(),
            }}),
        },
        other => panic!("{at}: expected a topic event, got {other:?}"),
    }
}
