//! Topics through the generated Rust client of prsm, against the running
//! example, beyond the scenarios every client shares (`scenarios.rs`):
//! requests on instances not subscribed to, which only this client's API
//! can send, and resubscribing many instances after a reconnection within
//! the rate limit.
//!
//! A refresh that takes a subscription away runs against a small spec of
//! these tests (`specs/newsroom.yaml`), whose roles allow it.
//!
//! prsm's store: conversation 1 has alice and user123, conversation 2 has
//! bob. Reconnections are forced by a [`Relay`] the test cuts, so the server
//! (and its topics) stays up.

use std::time::Duration;

use wsauth_core::client::{Event, Publication, TopicError, TopicEvent as Topic};
use wsauth_core::spec::wire::TopicRefusal;
use wsauth_generated::prsm::endpoints::notifications::{self, ServerMessage, TopicEvent};
use wsauth_generated::prsm::messages::Typing;
use wsauth_generated::prsm::topics::conversation::Key;

use crate::support::events::{close, message, next, opened, reconnecting};
use crate::support::examples::start_prsm;
use crate::support::relay::Relay;
use crate::support::tokens::PRSM;

const BASE: Duration = Duration::from_millis(50);
const CAP: Duration = Duration::from_millis(200);

const ONE: Key = Key { conversation_id: 1 };

/// A started notifications client of `user` (roles `roles`) through `url`,
/// past its welcome.
async fn connected(url: &str, user: &str, roles: &[&str]) -> notifications::Client {
    let params = notifications::Params {
        user_id: user.to_owned(),
    };
    let mut client = notifications::connect(url, params, PRSM.token(user, roles, 600))
        .backoff(BASE, CAP)
        .start()
        .unwrap_or_else(|e| panic!("{e}"));
    welcomed(&mut client, 0).await;
    client
}

/// `Open` on `attempt`, then the `connected` welcome and the
/// notifications a user finds on connecting.
async fn welcomed(client: &mut notifications::Client, attempt: u32) {
    opened(client, attempt).await;
    greeted(client).await;
}

/// The `connected` welcome, then the initial notifications.
async fn greeted(client: &mut notifications::Client) {
    match message(client).await {
        ServerMessage::Connected(_) => {}
        other => panic!("expected the welcome, got {other:?}"),
    }
    for _ in prsm::handlers::initial_notifications("") {
        match message(client).await {
            ServerMessage::Notification(_) => {}
            other => panic!("expected a notification, got {other:?}"),
        }
    }
}

/// The next event, which must be on the `conversation` topic.
async fn topic_event(client: &mut notifications::Client) -> Topic<Key> {
    match next(client).await {
        Event::Topic(TopicEvent::Conversation(event)) => event,
        other => panic!("expected a conversation event, got {other:?}"),
    }
}

/// The next publication, past presence events (who joins and leaves).
async fn publication(client: &mut notifications::Client) -> Publication<Key> {
    loop {
        match topic_event(client).await {
            Topic::Publication(p) => return p,
            Topic::Joined { .. } | Topic::Left { .. } => {}
            other => panic!("expected a publication, got {other:?}"),
        }
    }
}

fn typing(user: &str) -> Typing {
    Typing {
        user_id: user.to_owned(),
        active: true,
    }
}

#[tokio::test]
async fn requests_on_instances_not_subscribed_to_are_refused() {
    let prsm = start_prsm(|c| c, axum::Router::new()).await;
    let alice = connected(&prsm.ws_url(), "alice", &["user"]).await;
    // Conversation 1 is alice's, but she holds no subscription to it: a
    // permission to publish is not a licence to write into every instance.
    match alice.publish(&ONE, typing("alice")).await {
        Err(TopicError::Refused(TopicRefusal::NotSubscribed)) => {}
        other => panic!("expected not_subscribed, got {other:?}"),
    }
    match alice.unsubscribe(&ONE).await {
        Err(TopicError::Refused(TopicRefusal::NotSubscribed)) => {}
        other => panic!("expected not_subscribed, got {other:?}"),
    }
    match alice.presence(&ONE).await {
        Err(TopicError::Refused(TopicRefusal::NotSubscribed)) => {}
        other => panic!("expected not_subscribed, got {other:?}"),
    }
    // Without `conversation.write` the permission refuses first.
    let moderator = connected(&prsm.ws_url(), "bob", &["moderator"]).await;
    match moderator.publish(&ONE, typing("bob")).await {
        Err(TopicError::Refused(TopicRefusal::Forbidden)) => {}
        got => panic!("expected forbidden, got {got:?}"),
    }
    // The connections stay open: a subscription still works.
    alice
        .subscribe(&ONE)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    close(alice).await;
    close(moderator).await;
}

#[tokio::test]
async fn resubscribing_many_keeps_within_the_rate_limit() {
    // More subscriptions than prsm's burst (20 messages) lets through.
    let ids: Vec<i64> = (100..124).collect();
    let store = ids.iter().fold(prsm::Store::seeded(), |store, id| {
        store.conversation(*id, ["alice", "user123"])
    });
    let prsm = start_prsm(
        |mut config| {
            config.store = store;
            config
        },
        axum::Router::new(),
    )
    .await;
    let relay = Relay::to(prsm.addr).await;
    let mut alice = connected(&relay.ws_url(), "alice", &["user"]).await;
    for id in &ids {
        let key = Key {
            conversation_id: *id,
        };
        alice
            .subscribe(&key)
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        // The user's own requests keep to the sustained rate (10/s).
        tokio::time::sleep(Duration::from_millis(120)).await;
    }
    relay.cut();
    reconnecting(&mut alice).await;
    relay.restore();
    reopened(&mut alice).await;
    // Every instance is subscribed again, without a rate-limited close:
    // each died with the cut (it kept nothing), so each answers in a new
    // life, and publications flow on every one.
    let mut lost: Vec<i64> = Vec::new();
    while lost.len() < ids.len() {
        match topic_event(&mut alice).await {
            Topic::HistoryLost { key, .. } => lost.push(key.conversation_id),
            event => panic!("expected a resubscription, got {event:?}"),
        }
    }
    lost.sort_unstable();
    assert_eq!(lost, ids);
    let other = connected(&prsm.ws_url(), "user123", &["user"]).await;
    let mut seen: Vec<i64> = Vec::new();
    for id in &ids {
        let key = Key {
            conversation_id: *id,
        };
        other
            .subscribe(&key)
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        tokio::time::sleep(Duration::from_millis(120)).await;
        other
            .publish(&key, typing("again"))
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        seen.push(publication(&mut alice).await.key.conversation_id);
        tokio::time::sleep(Duration::from_millis(120)).await;
    }
    seen.sort_unstable();
    assert_eq!(seen, ids);
    close(alice).await;
    close(other).await;
}

/// Skips failed attempts until the socket opens again and the welcome
/// comes: the attempt that opened.
async fn reopened(client: &mut notifications::Client) -> u32 {
    loop {
        match next(client).await {
            Event::Reconnecting { .. } => {}
            Event::Open { attempt } => {
                greeted(client).await;
                return attempt;
            }
            other => panic!("expected a reconnection, got {other:?}"),
        }
    }
}

/// A spec with a role that keeps its endpoint but not its topic
/// (`specs/newsroom.yaml`): prsm has none, so a refresh there cannot take
/// a subscription away.
mod newsroom {
    wsauth_core::include_client!("tests/clients/specs/newsroom.yaml");
}

/// Every subject is an active user.
struct Everyone;

impl wsauth_core::UserStore for Everyone {
    fn status<'a>(
        &'a self,
        _: &'a str,
    ) -> wsauth_core::BoxFuture<'a, Result<wsauth_core::UserStatus, wsauth_core::StoreError>> {
        Box::pin(async { Ok(wsauth_core::UserStatus::Active) })
    }
}

/// Welcomes, then waits for the client to leave.
async fn feed(mut session: wsauth_core::Session) -> wsauth_core::HandlerResult {
    session.send("hello", &serde_json::json!({}))?;
    while session.recv().await.is_some() {}
    Ok(())
}

#[tokio::test]
async fn a_refresh_that_removes_the_topics_permission_ends_the_subscription() {
    use wsauth_core::client::Ended;
    use wsauth_core::jwt::{KeySet, Verifier};

    let keys = KeySet::new()
        .hmac("default", crate::support::SECRET.as_bytes())
        .unwrap_or_else(|e| panic!("{e}"));
    let verifier = Verifier::for_api(&newsroom::API, keys).unwrap_or_else(|e| panic!("{e}"));
    let server = wsauth_core::WsAuth::builder(&newsroom::API)
        .authenticator(verifier)
        .users(Everyone)
        .handler("feed", feed)
        .allow_any_origin()
        .build()
        .unwrap_or_else(|e| panic!("{e}"));
    let serving = wsauth_example_support::testing::serve_on_loopback(server.router(), server)
        .await
        .abort_on_drop();
    // A reader for 3 s; the refresh, at 80 % of that, brings a listener's
    // token: the feed stays, the news go.
    let (token, _) = crate::support::events::provider(vec![
        PRSM.token("alice", &["reader"], 3),
        PRSM.token("alice", &["listener"], 600),
    ]);
    let params = newsroom::endpoints::feed::Params {
        user_id: "alice".to_owned(),
    };
    let mut alice = newsroom::endpoints::feed::connect(&serving.ws_url(), params, token)
        .start()
        .unwrap_or_else(|e| panic!("{e}"));
    opened(&mut alice, 0).await;
    message(&mut alice).await;
    let news = newsroom::topics::news::Key {};
    alice
        .subscribe(&news)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    match next(&mut alice).await {
        Event::Refreshed { .. } => {}
        other => panic!("expected the refresh, got {other:?}"),
    }
    match next(&mut alice).await {
        Event::Topic(newsroom::endpoints::feed::TopicEvent::News(Topic::Ended { key, reason })) => {
            assert_eq!(
                (key, reason),
                (news, Ended::Refused(TopicRefusal::Forbidden))
            );
        }
        other => panic!("expected the subscription to end, got {other:?}"),
    }
    // The connection stays; the server holds no subscription any more.
    let headline = serde_json::json!({"type": "headline", "title": "gone"});
    let published = serving
        .server
        .topics()
        .publish_json("news", &serde_json::json!({}), &headline)
        .await;
    assert_eq!(published.map(|p| p.delivered), Ok(Some(0)));
    close(alice).await;
}
