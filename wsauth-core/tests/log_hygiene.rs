//! What reaches the logs when everything is logged: no token, at any
//! level, from wsauth or from the WebSocket library under it (whose
//! records reach `tracing` through `tracing-log`, as with
//! `tracing_subscriber::fmt().init()`); and refusals before authentication
//! sampled, not one line each.
//!
//! A binary of its own: it installs the `log` bridge for the process and
//! captures events (see `common::capture_logs`).

mod common;

use std::time::Duration;

use common::*;
use futures_util::SinkExt;
use serde_json::json;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tracing_subscriber::EnvFilter;

/// Captures every event on this thread at `trace`, through `filter`.
fn capture(filter: EnvFilter) -> (Captured, tracing::subscriber::DefaultGuard) {
    let captured = Captured::default();
    let writer = captured.clone();
    let subscriber = tracing_subscriber::fmt()
        .json()
        .with_writer(move || writer.clone())
        .with_env_filter(filter)
        .finish();
    let guard = tracing::subscriber::set_default(subscriber);
    tracing::callsite::rebuild_interest_cache();
    (captured, guard)
}

/// A connection with a token in the query, and an in-band refresh; the
/// two tokens.
async fn connect_and_refresh() -> (String, String) {
    let (addr, _server) = default_server().await;
    let first = format!("alice:user:{}:{}", now() + 60, now());
    let fresh = format!("alice:user:{}:{}", now() + 120, now() + 1);
    let request = format!("ws://{addr}/ws/alice/1?token={first}")
        .into_client_request()
        .unwrap_or_else(|e| panic!("{e}"));
    let (mut client, _) = tokio_tungstenite::connect_async(request)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(next_json(&mut client).await["type"], "hello");
    let refresh = json!({"type": "wsauth.refresh", "token": fresh}).to_string();
    client
        .send(Message::Text(refresh.into()))
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(next_json(&mut client).await["type"], "wsauth.refreshed");
    let _ = client.close(None).await;
    tokio::time::sleep(Duration::from_millis(100)).await;
    (first, fresh)
}

// One runtime thread: the server, the client and the capture all live on
// the test's thread, where the capturing subscriber is the default.
#[tokio::test(flavor = "current_thread")]
async fn no_token_reaches_the_logs_at_trace() {
    let _ = tracing_log::LogTracer::init();

    // Without the filter, the WebSocket library itself logs the frames:
    // this is what the test would catch.
    let (captured, guard) = capture(EnvFilter::new("trace"));
    let (_, fresh) = connect_and_refresh().await;
    drop(guard);
    assert!(
        captured.text().contains(&fresh),
        "tungstenite no longer logs frames at trace; this test no longer tests the filter"
    );

    let mut filter = EnvFilter::new("trace");
    for directive in wsauth_core::trace::QUIET_DEPENDENCIES {
        filter = filter.add_directive(directive.parse().unwrap_or_else(|e| panic!("{e}")));
    }
    let (captured, guard) = capture(filter);
    let (first, fresh) = connect_and_refresh().await;
    drop(guard);
    let logs = captured.text();
    assert!(logs.contains("\"event\":\"refreshed\""), "{logs}");
    assert!(!logs.contains(&first), "the handshake's token was logged");
    assert!(!logs.contains(&fresh), "the refresh token was logged");
    // The token in the query is not in the request span either.
    assert!(logs.contains("token=<redacted>"), "{logs}");
}

#[tokio::test(flavor = "current_thread")]
async fn refusals_before_authentication_are_sampled() {
    let (captured, guard) = capture(EnvFilter::new("wsauth=trace"));
    let (addr, _server) = default_server().await;
    for _ in 0..30 {
        let mut request = format!("ws://{addr}/ws/alice/1")
            .into_client_request()
            .unwrap_or_else(|e| panic!("{e}"));
        request.headers_mut().insert(
            "origin",
            "https://evil.example"
                .parse()
                .unwrap_or_else(|e| panic!("{e}")),
        );
        assert!(tokio_tungstenite::connect_async(request).await.is_err());
    }
    drop(guard);
    let logs = captured.text();
    let lines: Vec<serde_json::Value> = logs
        .lines()
        .filter_map(|line| serde_json::from_str(line).ok())
        .filter(|event: &serde_json::Value| event["fields"]["event"] == "refused")
        .collect();
    assert!(!lines.is_empty(), "refusals are audited: {logs}");
    assert!(
        lines.len() <= 3,
        "30 refusals in a moment make at most a line a second, not {}",
        lines.len()
    );
    assert_eq!(lines[0]["fields"]["reason"], "origin");
    assert_eq!(
        lines[0]["fields"]["count"], 1,
        "the first is logged at once"
    );
}
