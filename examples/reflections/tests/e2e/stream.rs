//! Admitted connections: the whole reflection then 1000, or the tokens
//! produced before generation failed then 1011.

use std::time::{Duration, Instant};

use futures_util::StreamExt;
use reflections::store::{FAILING_AFTER, FAILING_ENTRY};

use crate::common::*;

#[tokio::test]
async fn the_owner_receives_every_token_then_1000() {
    let app = start().await;
    for (entry, owner) in [(1, "alice"), (2, "bob")] {
        let mut client = connect_to(app.addr, &entry.to_string(), owner).await;
        let (seen, closed) = texts_until_close(&mut client).await;
        assert_eq!(closed, Some(close(DONE)), "entry {entry}");
        let expected = seeded_tokens(entry);
        assert!(expected.len() > 10, "a real stream: {expected:?}");
        assert_eq!(seen, expected, "entry {entry}");
    }
    let mut client = connect_to(app.addr, "1", "alice").await;
    let (seen, _) = texts_until_close(&mut client).await;
    assert!(
        seen.concat()
            .starts_with("You wrote about walking by the river after a hard week."),
        "{seen:?}"
    );
    wait_for_active(&app.server, 0).await;
}

#[tokio::test]
async fn a_token_in_the_header_works_too() {
    let app = start().await;
    let request = bearer(
        ws(app.addr, "/ws/reflections/1"),
        &token("alice", &["user"]),
    );
    let mut client = connect(request).await;
    let (seen, closed) = texts_until_close(&mut client).await;
    assert_eq!(closed, Some(close(DONE)));
    assert_eq!(seen, seeded_tokens(1));
}

#[tokio::test]
async fn a_failing_generation_closes_with_1011_after_the_tokens_sent() {
    let app = start().await;
    let mut client = connect_to(app.addr, &FAILING_ENTRY.to_string(), "alice").await;
    let (seen, closed) = texts_until_close(&mut client).await;
    assert_eq!(closed, Some(close(SERVER_ERROR)));
    let sent = seen;
    assert_eq!(sent.len(), FAILING_AFTER, "admitted: the first tokens came");
    assert_eq!(sent, seeded_tokens(FAILING_ENTRY)[..FAILING_AFTER]);
    wait_for_active(&app.server, 0).await;
}

#[tokio::test]
async fn a_reflection_longer_than_the_send_queue_arrives_whole() {
    // Ten times the default send queue, produced with no pause: the handler
    // waits for room instead of overflowing the queue (which would close
    // the connection as a slow reader).
    let words: Vec<String> = (0..640).map(|i| format!("w{i}")).collect();
    let long = words.join(" ");
    let app = start_with(|mut c| {
        c.store = c.store.entry(7, "alice", &long);
        c
    })
    .await;
    let mut client = connect_to(app.addr, "7", "alice").await;
    let (seen, closed) = texts_until_close(&mut client).await;
    assert_eq!(closed, Some(close(DONE)));
    assert_eq!(seen.len(), words.len());
    assert_eq!(seen.concat(), reflections::store::tokens(&long).concat());
}

#[tokio::test]
async fn tokens_are_paced_by_the_configured_interval() {
    let interval = Duration::from_millis(30);
    let app = start_with(|mut c| {
        c.token_interval = interval;
        c
    })
    .await;
    let started = Instant::now();
    let mut client = connect_to(app.addr, "2", "bob").await;
    let (seen, closed) = texts_until_close(&mut client).await;
    assert_eq!(closed, Some(close(DONE)));
    let count = seen.len();
    let pauses = u32::try_from(count - 1).unwrap_or(u32::MAX);
    assert!(
        started.elapsed() >= interval * pauses,
        "{count} tokens in {:?}",
        started.elapsed()
    );
}

#[tokio::test]
async fn streams_are_independent_and_a_client_may_leave_mid_stream() {
    let app = start_with(|mut c| {
        c.token_interval = Duration::from_millis(20);
        c
    })
    .await;
    // Alice leaves after the first token; bob's stream (and alice's second
    // connection) carry on to the end.
    let mut leaving = connect_to(app.addr, "1", "alice").await;
    let mut bob = connect_to(app.addr, "2", "bob").await;
    let mut staying = connect_to(app.addr, "1", "alice").await;
    let first = tokio::time::timeout(Duration::from_secs(5), leaving.next())
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert!(matches!(first, Some(Ok(_))), "{first:?}");
    leaving.close(None).await.unwrap_or_else(|e| panic!("{e}"));
    let (bob_seen, bob_closed) = texts_until_close(&mut bob).await;
    let (alice_seen, alice_closed) = texts_until_close(&mut staying).await;
    assert_eq!(bob_closed, Some(close(DONE)));
    assert_eq!(alice_closed, Some(close(DONE)));
    assert_eq!(bob_seen, seeded_tokens(2));
    assert_eq!(alice_seen, seeded_tokens(1));
    wait_for_active(&app.server, 0).await;
}

#[tokio::test]
async fn shutdown_closes_a_stream_with_1001() {
    let mut app = start_with(|mut c| {
        c.token_interval = Duration::from_secs(1);
        c
    })
    .await;
    let mut client = connect_to(app.addr, "1", "alice").await;
    let first = tokio::time::timeout(Duration::from_secs(5), client.next())
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert!(matches!(first, Some(Ok(_))), "{first:?}");
    let (stopping, _) = tokio::join!(app.stop(), async {
        let (seen, closed) = texts_until_close(&mut client).await;
        assert!(seen.is_empty(), "{seen:?}");
        assert_eq!(closed, Some((1001, "server shutting down".to_owned())));
    });
    stopping.unwrap_or_else(|e| panic!("{e}"));
}
