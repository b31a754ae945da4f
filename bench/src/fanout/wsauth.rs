//! The wsauth side of the fan-out benchmark: `bench/fanout.yaml` served as
//! written (JWT HS256 on the handshake, the `feed` topic's permission on
//! subscribe), and a publisher task on the server's runtime that publishes
//! through the typed API, as an application's background task would.

use std::time::Duration;

use axum::Router;
use wsauth_core::jwt::{KeySet, Verifier};
use wsauth_core::{HandlerResult, Session, Topics, WsAuth};

wsauth_core::include_spec!("fanout.yaml");

/// How often the publishers (this one and the Socket.IO server's) wake to
/// publish what is due: the same pacing on both sides.
pub(crate) const PUBLISH_TICK: Duration = Duration::from_millis(1);

/// The router and the server of `bench/fanout.yaml`, with `secret` as the
/// HS256 key and every subject active; a node of the cluster on `redis`
/// when there is one.
pub(crate) fn app(secret: &str, redis: Option<&str>) -> Result<(Router, WsAuth), String> {
    let keys = KeySet::new()
        .hmac(echo::KEY_SLOT, secret.as_bytes())
        .map_err(|e| e.to_string())?;
    let verifier = Verifier::for_api(&API, keys).map_err(|e| e.to_string())?;
    let mut builder = WsAuth::builder(&API)
        .authenticator(verifier)
        .users(echo::Users::any())
        .allow_any_origin()
        .handler("feed", subscriber);
    if let Some(url) = redis {
        builder = builder.redis(wsauth_core::ClusterConfig::new(url.to_owned()));
    }
    let server = builder.build().map_err(|e| e.to_string())?;
    Ok((server.router(), server))
}

/// A subscriber's connection: the client subscribes itself and only reads.
async fn subscriber(mut session: Session) -> HandlerResult {
    while session.recv().await.is_some() {}
    Ok(())
}

/// Publishes `rate` ticks per second, each carrying `bytes` of data and its
/// send time, until the process ends. Every [`PUBLISH_TICK`] it publishes
/// the ticks due since the start, so the rate holds whatever the timer's
/// jitter.
pub(crate) async fn publish(topics: Topics, rate: f64, bytes: usize) {
    let data = "x".repeat(bytes);
    let key = topics::feed::Key {};
    let start = tokio::time::Instant::now();
    let mut sent: u64 = 0;
    let mut tick = tokio::time::interval(PUBLISH_TICK);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
    loop {
        tick.tick().await;
        let due = (start.elapsed().as_secs_f64() * rate) as u64;
        while sent < due {
            let tick = messages::Tick {
                sent_us: crate::fanout::now_us(),
                data: data.clone(),
            };
            if let Err(e) = topics.publish(&key, tick).await {
                eprintln!("wsauth-bench: publish: {e}");
                return;
            }
            sent += 1;
        }
    }
}
