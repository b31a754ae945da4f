//! A cluster node's metrics: Redis up or down, and the round trips its
//! handshakes cost, against a real `redis-server` (`common/cluster.rs`).
#![cfg(feature = "redis")]

mod common;

use std::time::Duration;

use common::cluster::{Node, open, token};
use common::now;
use common::redis_server::RedisServer;
use wsauth_core::ClusterConfig;

/// The value of `series` (name and labels exactly as rendered) in `text`.
fn sample(text: &str, series: &str) -> Option<f64> {
    text.lines()
        .filter_map(|line| line.rsplit_once(' '))
        .find(|(name, _)| *name == series)
        .and_then(|(_, value)| value.parse().ok())
}

#[tokio::test]
async fn a_node_reports_redis_up_and_the_round_trips_of_its_handshakes() {
    let Some(mut redis) = RedisServer::start() else {
        return;
    };
    let config = ClusterConfig {
        prefix: Some("test:metrics".into()),
        ..ClusterConfig::new(redis.url())
    };
    let node = Node::start(move |b| b.redis(config)).await;
    node.ready().await;
    let _alice = open(node.addr, "alice", &token("alice", now(), None))
        .await
        .unwrap_or_else(|code| panic!("refused with {code}"));

    let text = node.server.metrics().render();
    assert_eq!(sample(&text, "wsauth_redis_up"), Some(1.0), "{text}");
    let lease = r#"wsauth_redis_request_duration_seconds_count{op="lease"}"#;
    assert_eq!(sample(&text, lease), Some(1.0), "{text}");
    let inf = r#"wsauth_redis_request_duration_seconds_bucket{op="lease",le="+Inf"}"#;
    assert_eq!(sample(&text, inf), Some(1.0), "{text}");
    let sum = r#"wsauth_redis_request_duration_seconds_sum{op="lease"}"#;
    assert!(
        sample(&text, sum).is_some_and(|s| s > 0.0 && s < 1.0),
        "{text}"
    );
    assert_eq!(
        sample(&text, r#"wsauth_redis_errors_total{op="lease"}"#),
        Some(0.0)
    );
    let pings = r#"wsauth_redis_request_duration_seconds_count{op="ping"}"#;
    assert!(sample(&text, pings).is_some_and(|n| n >= 1.0), "{text}");

    // Redis goes away: the node says so, and its PINGs fail.
    redis.kill();
    let ping_errors = r#"wsauth_redis_errors_total{op="ping"}"#;
    let mut waited = Duration::ZERO;
    loop {
        let text = node.server.metrics().render();
        if sample(&text, "wsauth_redis_up") == Some(0.0)
            && sample(&text, ping_errors).is_some_and(|n| n >= 1.0)
        {
            break;
        }
        assert!(waited < Duration::from_secs(5), "not noticed:\n{text}");
        tokio::time::sleep(Duration::from_millis(50)).await;
        waited += Duration::from_millis(50);
    }
}

#[tokio::test]
async fn a_node_without_redis_has_no_redis_series() {
    let node = Node::start(|b| b).await;
    let text = node.server.metrics().render();
    assert!(
        text.contains("# TYPE wsauth_handshakes_total counter"),
        "{text}"
    );
    assert!(!text.contains("wsauth_redis"), "{text}");
}
