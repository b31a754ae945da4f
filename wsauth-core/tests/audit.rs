//! Audit events, captured and searched. In a test binary of its own:
//! `tracing`'s per-callsite interest caching makes capture through a
//! thread-local subscriber unreliable while other tests run in parallel.

mod common;

use std::time::Duration;

use common::*;

#[tokio::test]
async fn audit_events_never_contain_the_token() {
    let (captured, _guard) = capture_logs();
    let (addr, _server) = default_server().await;
    let secret_marker = "SECRETMARKER";
    let good = format!("alice:user,{secret_marker}:{}", now() + 600);
    let mut client = connect(addr, "/ws/alice/1", Some(&good)).await;
    assert_eq!(next_json(&mut client).await["type"], "hello");
    drop(client);
    let bad = format!("{secret_marker}-not-a-token");
    let _ = rejected_with(addr, &format!("/ws/alice/1?token={bad}"), None).await;
    tokio::time::sleep(Duration::from_millis(200)).await;
    let log = captured.text();
    assert!(
        log.contains("\"event\":\"accepted\""),
        "audit events were captured: {log}"
    );
    assert!(log.contains("\"event\":\"rejected\""), "{log}");
    assert!(
        !log.contains(secret_marker),
        "a token reached the log:\n{log}"
    );
    assert!(
        log.contains("token=<redacted>"),
        "handshakes run in a span with the query redacted:\n{log}"
    );
}
