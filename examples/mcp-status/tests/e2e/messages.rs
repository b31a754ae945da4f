//! What an admitted client receives: `initial_status`, then
//! `mcp_status_change` and `health_event` as they happen; and the text
//! keepalive.

use std::time::Duration;

use mcp_status::messages::HealthEventLevel;
use mcp_status::schemas::State;
use serde_json::{Value, json};
use wsauth_core::spec::FailureKind;

use crate::common::*;

/// Whether `at` looks like the RFC 3339 UTC timestamps the app sends.
fn is_timestamp(at: &Value) -> bool {
    at.as_str()
        .is_some_and(|s| s.len() == 20 && s.ends_with('Z') && s.as_bytes().get(10) == Some(&b'T'))
}

#[tokio::test]
async fn initial_status_lists_every_server() {
    let app = start().await;
    let mut client = connect_as(app.addr, &token("admin", "admin")).await;
    let welcome = expect_initial_status(&mut client).await;
    let servers = welcome["mcps"].as_array().cloned().unwrap_or_default();
    let summary: Vec<(String, String)> = servers
        .iter()
        .map(|s| {
            (
                s["name"].as_str().unwrap_or_default().to_owned(),
                s["state"].as_str().unwrap_or_default().to_owned(),
            )
        })
        .collect();
    let expected = [
        ("filesystem", "healthy"),
        ("github", "healthy"),
        ("postgres", "degraded"),
        ("slack", "starting"),
    ]
    .map(|(n, s)| (n.to_owned(), s.to_owned()));
    assert_eq!(summary, expected);
    for server in &servers {
        assert!(is_timestamp(&server["last_checked"]), "{server}");
        let fields: Vec<&String> = server
            .as_object()
            .map(|o| o.keys().collect())
            .unwrap_or_default();
        for field in fields {
            assert!(
                ["name", "state", "latency_ms", "last_checked"].contains(&field.as_str()),
                "unexpected field {field} in {server}"
            );
        }
    }
    assert_eq!(servers[0]["latency_ms"], json!(12.0));
    assert!(
        servers[3].get("latency_ms").is_none(),
        "no latency while starting"
    );
    // The table reflects changes made before connecting.
    app.board
        .set_state("slack", State::Healthy, Some(30.0))
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let mut later = connect_as(app.addr, &token("dba", "dba")).await;
    let welcome = expect_initial_status(&mut later).await;
    assert_eq!(welcome["mcps"][3]["state"], "healthy");
}

#[tokio::test]
async fn changes_and_health_events_reach_every_watcher() {
    let app = start().await;
    let mut admin = admitted(app.addr, &token("admin", "admin")).await;
    let mut dev = admitted(app.addr, &token("dev", "developer")).await;

    app.board
        .set_state("github", State::Down, None)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    app.board
        .health("github", HealthEventLevel::Critical, "connection refused")
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    // Same state again: a check, not a change; nothing is sent.
    app.board
        .set_state("github", State::Down, None)
        .await
        .unwrap_or_else(|e| panic!("{e}"));

    for client in [&mut admin, &mut dev] {
        let change = next_json(client).await;
        assert_eq!(change["type"], "mcp_status_change");
        assert_eq!(change["mcp_id"], "github");
        assert_eq!(change["old_status"], "healthy");
        assert_eq!(change["new_status"], "down");
        assert!(is_timestamp(&change["at"]), "{change}");
        assert_eq!(change.as_object().map(|o| o.len()), Some(5), "{change}");

        let event = next_json(client).await;
        assert_eq!(event["type"], "health_event");
        assert_eq!(event["mcp_id"], "github");
        assert_eq!(event["level"], "critical");
        assert_eq!(event["message"], "connection refused");
        assert!(is_timestamp(&event["at"]), "{event}");
        assert_eq!(event.as_object().map(|o| o.len()), Some(5), "{event}");

        assert!(quiet_for(client, Duration::from_millis(200)).await);
    }
}

#[tokio::test]
async fn the_simulation_produces_both_kinds_of_update() {
    let app = start().await;
    let mut client = admitted(app.addr, &token("admin", "admin")).await;
    let simulation = app.board.simulate(Duration::from_millis(50));
    // Step 0 moves `filesystem` (healthy) to degraded, with a warning.
    let change = next_json(&mut client).await;
    assert_eq!(
        (
            &change["type"],
            &change["mcp_id"],
            &change["old_status"],
            &change["new_status"]
        ),
        (
            &json!("mcp_status_change"),
            &json!("filesystem"),
            &json!("healthy"),
            &json!("degraded")
        )
    );
    let event = next_json(&mut client).await;
    assert_eq!(
        (&event["type"], &event["mcp_id"], &event["level"]),
        (
            &json!("health_event"),
            &json!("filesystem"),
            &json!("warning")
        )
    );
    simulation.abort();
}

#[tokio::test]
async fn ping_is_answered_with_pong() {
    let app = start().await;
    let mut client = admitted(app.addr, &token("dba", "dba")).await;
    for _ in 0..3 {
        send_text(&mut client, "ping").await;
        assert_eq!(next_text(&mut client).await, r#""pong""#);
    }
    // The connection stays open and keeps receiving updates.
    app.board
        .health("postgres", HealthEventLevel::Info, "vacuum finished")
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(next_json(&mut client).await["type"], "health_event");
}

#[tokio::test]
async fn any_other_client_message_closes_with_the_invalid_message_code() {
    let app = start().await;
    let expected = mcp_status::API.close(FailureKind::InvalidMessage);
    for text in [r#"{"type":"subscribe"}"#, "PING", "hello"] {
        let mut client = admitted(app.addr, &token("admin", "admin")).await;
        send_text(&mut client, text).await;
        let (seen, close) = until_close(&mut client).await;
        assert!(seen.is_empty(), "{text}: {seen:?}");
        assert_eq!(
            close,
            Some((expected.code, expected.reason.to_owned())),
            "{text}"
        );
    }
}

/// The next message, or `None` when the server closed the connection as a
/// slow consumer; panics on anything else.
async fn next_or_slow_consumer(client: &mut Client) -> Option<Value> {
    use futures_util::StreamExt;
    use tokio_tungstenite::tungstenite::Message;
    let slow = mcp_status::API.close(FailureKind::SlowConsumer).code;
    loop {
        match tokio::time::timeout(Duration::from_secs(5), client.next()).await {
            Ok(Some(Ok(Message::Text(text)))) => {
                return Some(serde_json::from_str(&text).unwrap_or_else(|e| panic!("{e}: {text}")));
            }
            Ok(Some(Ok(Message::Ping(_) | Message::Pong(_)))) => {}
            Ok(Some(Ok(Message::Close(Some(close))))) if u16::from(close.code) == slow => {
                return None;
            }
            other => panic!("expected a message, got {other:?}"),
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn watchers_joining_during_changes_miss_none_and_see_none_early() {
    let app = start().await;
    let board = app.board.clone();
    // github goes round its four states as fast as the board allows (a
    // watcher that misses any number of changes but a multiple of four
    // sees a change that does not start where the last one ended).
    let cycle = [
        State::Degraded,
        State::Down,
        State::Starting,
        State::Healthy,
    ];
    let flipping = tokio::spawn(async move {
        for state in cycle.into_iter().cycle() {
            board
                .set_state("github", state, None)
                .await
                .unwrap_or_else(|e| panic!("{e}"));
            tokio::task::yield_now().await;
        }
    });
    for watcher in 0..100 {
        let mut client = connect_as(app.addr, &token("admin", "admin")).await;
        // The welcome comes first, whatever is published meanwhile.
        let welcome = expect_initial_status(&mut client).await;
        let mut state = welcome["mcps"][1]["state"].clone();
        // Each change starts from the state before it: the first from the
        // welcome's, so nothing fell between the table and the updates.
        for _ in 0..5 {
            // Changes come faster than a busy machine may read them: a
            // watcher closed as a slow consumer missed nothing unseen.
            let Some(change) = next_or_slow_consumer(&mut client).await else {
                break;
            };
            assert_eq!(change["type"], "mcp_status_change", "{change}");
            assert_eq!(change["old_status"], state, "watcher {watcher}: {change}");
            state = change["new_status"].clone();
        }
    }
    flipping.abort();
}

#[tokio::test]
async fn a_watcher_that_stops_reading_is_closed_as_a_slow_consumer() {
    let app = start().await;
    let mut slow = admitted(app.addr, &token("admin", "admin")).await;
    let topics = app.server.topics();
    let status = mcp_status::topics::status::Key {};
    assert_eq!(topics.subscribers(&status), 1);
    // Large events, never read: the connection's send queue fills up.
    let big = "x".repeat(32 * 1024);
    let mut published = 0;
    while topics.subscribers(&status) == 1 && published < 2000 {
        app.board
            .health("github", HealthEventLevel::Info, &big)
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        published += 1;
    }
    assert_eq!(topics.subscribers(&status), 0, "never dropped");
    let (_, close) = until_close(&mut slow).await;
    let expected = mcp_status::API.close(FailureKind::SlowConsumer);
    assert_eq!(close.map(|c| c.0), Some(expected.code));
    // The next watcher starts from the table as usual.
    let mut next = admitted(app.addr, &token("dba", "dba")).await;
    app.board
        .health("github", HealthEventLevel::Info, "still here")
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(next_json(&mut next).await["message"], "still here");
}
