//! The metrics of the prsm app (served on a listener of their own, as
//! `--metrics` does): topic requests by their `wsauth.` type,
//! publications with the deliveries they fanned out to, refusals before
//! the upgrade.

use serde_json::json;
use wsauth_example_support::metrics::serve_metrics;

use crate::common::*;

/// Whether a frame of type `kind` comes within 20 frames.
async fn next_of(client: &mut Client, kind: &str) -> bool {
    for _ in 0..20 {
        if next_json(client).await["type"] == kind {
            return true;
        }
    }
    false
}

#[tokio::test]
async fn topic_publications_and_deliveries_are_counted() {
    let app = start().await;
    let metrics = serve_metrics(([127, 0, 0, 1], 0).into(), &app.server)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    // user123 takes part in conversation 1 and subscribes from the
    // notifications endpoint.
    let mut participant = connect_as(app.addr, "/ws/user123", &token("user123", &["user"])).await;
    expect_welcome(&mut participant, "user123", "notifications").await;
    send_json(
        &mut participant,
        json!({
            "type": "wsauth.subscribe", "id": 1, "topic": "conversation",
            "params": { "conversation_id": 1 },
        }),
    )
    .await;
    // Subscribed before anything is published (its pending notifications
    // may come first).
    assert!(next_of(&mut participant, "wsauth.subscribed").await);
    // alice, on conversation 1's socket, says she is typing: one
    // publication, delivered to the participant (alice's own socket gets
    // her `typing` straight from the handler).
    let mut alice = connect_as(
        app.addr,
        "/ws/conversation/alice/1",
        &token("alice", &["user"]),
    )
    .await;
    expect_welcome(&mut alice, "alice", "conversation").await;
    send_json(
        &mut alice,
        json!({"type": "typing", "user_id": "alice", "active": true}),
    )
    .await;
    assert_eq!(next_json(&mut alice).await["type"], "typing");
    assert!(next_of(&mut participant, "wsauth.publication").await);

    // Another site's page: refused before the upgrade.
    let foreign = origin(ws(app.addr, "/ws/alice"), "https://evil.example");
    assert_eq!(refused_status(foreign).await, 403);

    let text = scrape(metrics).await;
    for (series, value) in [
        (r#"wsauth_refusals_total{reason="origin"}"#, 1),
        (r#"wsauth_refusals_total{reason="address_full"}"#, 0),
        (
            r#"wsauth_handshakes_total{endpoint="notifications",outcome="refused",kind="origin_rejected"}"#,
            1,
        ),
        (
            r#"wsauth_topic_publications_total{topic="conversation"}"#,
            1,
        ),
        (r#"wsauth_topic_deliveries_total{topic="conversation"}"#, 1),
        (
            r#"wsauth_messages_received_total{endpoint="notifications",type="wsauth.subscribe"}"#,
            1,
        ),
        (
            r#"wsauth_messages_received_total{endpoint="conversation",type="typing"}"#,
            1,
        ),
        (
            r#"wsauth_messages_received_total{endpoint="conversation",type="wsauth.subscribe"}"#,
            0,
        ),
        (r#"wsauth_connections_open{endpoint="notifications"}"#, 1),
        (r#"wsauth_connections_open{endpoint="conversation"}"#, 1),
        (r#"wsauth_connections_open{endpoint="web3"}"#, 0),
    ] {
        assert_eq!(
            sample(&text, series),
            Some(f64::from(value)),
            "{series} in\n{text}"
        );
    }
}

/// The binary with `--metrics`: the metrics on their own address, nothing
/// of them on the public one.
#[cfg(unix)]
#[tokio::test]
async fn the_binary_serves_metrics_only_on_the_metrics_address() {
    let mut spawned = spawn_listening(
        binary(env!("CARGO_BIN_EXE_prsm"))
            .args([
                "--addr",
                "127.0.0.1:0",
                "--metrics",
                "127.0.0.1:0",
                "--log-json",
            ])
            .env(
                "WSAUTH_JWT_SECRET",
                std::str::from_utf8(SECRET).unwrap_or_default(),
            ),
        "metrics listening",
    )
    .await;
    let metrics = spawned.addr;
    let public = loop {
        let line = tokio::time::timeout(std::time::Duration::from_secs(10), spawned.lines.recv())
            .await
            .unwrap_or_else(|e| panic!("{e}"))
            .unwrap_or_else(|| panic!("the binary exited"));
        let event: serde_json::Value = serde_json::from_str(&line).unwrap_or_default();
        if event["fields"]["message"] == "prsm listening" {
            break event["fields"]["addr"]
                .as_str()
                .unwrap_or_default()
                .parse::<std::net::SocketAddr>()
                .unwrap_or_else(|e| panic!("{e}: {line}"));
        }
    };
    let mut client = connect_as(public, "/ws/alice", &token("alice", &["user"])).await;
    expect_welcome(&mut client, "alice", "notifications").await;
    let text = scrape(metrics).await;
    assert_eq!(
        sample(
            &text,
            r#"wsauth_connections_open{endpoint="notifications"}"#
        ),
        Some(1.0),
        "{text}"
    );
    assert_eq!(http_get(public, "/metrics", None).await.status, 404);
    spawned.sigterm();
    let _ = until_close(&mut client).await;
    spawned.exits_cleanly().await;
}

/// Two servers of one cluster: a publication is counted where it was
/// published, its deliveries where they were queued.
#[tokio::test]
async fn in_a_cluster_deliveries_are_counted_by_the_node_that_queued_them() {
    let Some(redis) = wsauth_example_support::redis_server::RedisServer::start() else {
        return;
    };
    let cluster = |mut config: prsm::Config| {
        config.cluster = Some(wsauth_core::ClusterConfig {
            prefix: Some("prsm-metrics".into()),
            ..wsauth_core::ClusterConfig::new(redis.url())
        });
        config
    };
    let (a, b) = (start_with(cluster).await, start_with(cluster).await);
    for app in [&a, &b] {
        for _ in 0..250 {
            if app.server.cluster_ready() {
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        }
        assert!(app.server.cluster_ready());
    }
    let (mut on_b, subscribed) = crate::topics::subscriber(b.addr, "user123", 1, None).await;
    assert_eq!(subscribed["type"], "wsauth.subscribed", "{subscribed}");
    crate::topics::alice_types(a.addr, true).await;
    assert!(next_of(&mut on_b, "wsauth.publication").await);

    let publications = r#"wsauth_topic_publications_total{topic="conversation"}"#;
    let deliveries = r#"wsauth_topic_deliveries_total{topic="conversation"}"#;
    let on_a = a.server.metrics().render();
    let on_b = b.server.metrics().render();
    assert_eq!(sample(&on_a, publications), Some(1.0), "{on_a}");
    assert_eq!(sample(&on_a, deliveries), Some(0.0), "{on_a}");
    assert_eq!(sample(&on_b, publications), Some(0.0), "{on_b}");
    assert_eq!(sample(&on_b, deliveries), Some(1.0), "{on_b}");
}
