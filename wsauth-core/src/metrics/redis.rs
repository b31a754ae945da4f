//! The cluster's Redis as a node sees it: whether it answers, how long each
//! kind of request takes, and how many fail.
//!
//! Requests are labelled by what they are for (`op`, a fixed set), never by
//! key: keys hold subjects and topic params.

use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use super::Counter;
use super::render::Text;

/// What a request to Redis is for: the `op` label.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum RedisOp {
    /// The health task's `PING`.
    Ping,
    /// Taking a connection slot (`lease.lua`).
    Lease,
    /// Renewing the node's leases (`renew.lua`).
    Renew,
    /// Freeing a closed connection's lease (`ZREM`).
    Release,
    /// Storing and announcing a revocation (`revoke.lua`).
    Revoke,
    /// Loading the stored revocations.
    Reload,
    /// Storing again the revocations the node holds.
    WriteBack,
    /// Connecting the control subscription and subscribing.
    Subscribe,
    /// The `PING` probing the control subscription.
    Probe,
    /// Numbering and passing on a topic publication (`publish.lua`).
    Publish,
    /// Reading a topic instance's numbering and history (`state.lua`).
    State,
    /// Sharing who is present on a topic instance (`presence.lua`).
    Presence,
    /// Following or leaving a topic instance's channel (SUBSCRIBE,
    /// UNSUBSCRIBE).
    Follow,
}

impl RedisOp {
    const ALL: [RedisOp; 13] = [
        RedisOp::Ping,
        RedisOp::Lease,
        RedisOp::Renew,
        RedisOp::Release,
        RedisOp::Revoke,
        RedisOp::Reload,
        RedisOp::WriteBack,
        RedisOp::Subscribe,
        RedisOp::Probe,
        RedisOp::Publish,
        RedisOp::State,
        RedisOp::Presence,
        RedisOp::Follow,
    ];

    fn label(self) -> &'static str {
        match self {
            RedisOp::Ping => "ping",
            RedisOp::Lease => "lease",
            RedisOp::Renew => "renew",
            RedisOp::Release => "release",
            RedisOp::Revoke => "revoke",
            RedisOp::Reload => "reload",
            RedisOp::WriteBack => "write_back",
            RedisOp::Subscribe => "subscribe",
            RedisOp::Probe => "probe",
            RedisOp::Publish => "publish",
            RedisOp::State => "state",
            RedisOp::Presence => "presence",
            RedisOp::Follow => "follow",
        }
    }
}

/// Upper bounds of the latency buckets, in seconds: from a loopback round
/// trip to the command timeout (1 s), past which a request counts as failed.
const BUCKETS: [f64; 11] = [
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0,
];

/// One op's histogram and errors.
#[derive(Debug, Default)]
struct OpCounters {
    /// Requests per bucket (not cumulative: the scrape adds them up); the
    /// last one is past every bound.
    buckets: [Counter; BUCKETS.len() + 1],
    count: Counter,
    sum_ns: Counter,
    errors: Counter,
}

/// A node's Redis series.
#[derive(Debug, Default)]
pub(crate) struct RedisMetrics {
    up: AtomicBool,
    ops: [OpCounters; RedisOp::ALL.len()],
}

impl RedisMetrics {
    /// A request for `op` took `elapsed` and failed or not.
    pub(crate) fn request(&self, op: RedisOp, elapsed: Duration, ok: bool) {
        let Some(counters) = self.ops.get(op as usize) else {
            return;
        };
        let seconds = elapsed.as_secs_f64();
        let bucket = BUCKETS
            .iter()
            .position(|bound| seconds <= *bound)
            .unwrap_or(BUCKETS.len());
        if let Some(counter) = counters.buckets.get(bucket) {
            counter.add(1);
        }
        counters.count.add(1);
        counters
            .sum_ns
            .add(u64::try_from(elapsed.as_nanos()).unwrap_or(u64::MAX));
        if !ok {
            counters.errors.add(1);
        }
    }

    /// Whether the node counts Redis as up (it answers, and the
    /// revocations are current).
    pub(crate) fn set_up(&self, up: bool) {
        self.up.store(up, Ordering::Relaxed);
    }

    pub(super) fn render(&self, out: &mut Text) {
        out.family(
            "wsauth_redis_up",
            "gauge",
            "Whether the cluster's Redis answers and this node's revocations are current (1) or not (0).",
        );
        out.sample(
            "wsauth_redis_up",
            &[],
            u64::from(self.up.load(Ordering::Relaxed)),
        );
        out.family(
            "wsauth_redis_request_duration_seconds",
            "histogram",
            "Round trips to the cluster's Redis, by what they are for.",
        );
        let ops = || RedisOp::ALL.iter().zip(self.ops.iter());
        for (op, counters) in ops() {
            let name = "wsauth_redis_request_duration_seconds";
            let mut below = 0;
            for (bound, counter) in BUCKETS.iter().zip(&counters.buckets) {
                below += counter.get();
                let le = bound.to_string();
                out.sample(
                    "wsauth_redis_request_duration_seconds_bucket",
                    &[("op", op.label()), ("le", &le)],
                    below,
                );
            }
            let count = counters.count.get();
            out.sample(
                "wsauth_redis_request_duration_seconds_bucket",
                &[("op", op.label()), ("le", "+Inf")],
                count,
            );
            let sum = Duration::from_nanos(counters.sum_ns.get()).as_secs_f64();
            out.sample(&format!("{name}_sum"), &[("op", op.label())], sum);
            out.sample(&format!("{name}_count"), &[("op", op.label())], count);
        }
        out.family(
            "wsauth_redis_errors_total",
            "counter",
            "Requests to the cluster's Redis that failed or timed out, by what they were for.",
        );
        for (op, counters) in ops() {
            out.sample(
                "wsauth_redis_errors_total",
                &[("op", op.label())],
                counters.errors.get(),
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::super::render::Text;
    use super::{RedisMetrics, RedisOp};

    #[test]
    fn buckets_are_cumulative_and_the_count_is_the_inf_bucket() {
        let redis = RedisMetrics::default();
        redis.request(RedisOp::Lease, Duration::from_micros(300), true);
        redis.request(RedisOp::Lease, Duration::from_millis(3), true);
        redis.request(RedisOp::Lease, Duration::from_secs(2), false);
        let mut out = Text(String::new());
        redis.render(&mut out);
        let text = out.0;
        for line in [
            "wsauth_redis_request_duration_seconds_bucket{op=\"lease\",le=\"0.0005\"} 1\n",
            "wsauth_redis_request_duration_seconds_bucket{op=\"lease\",le=\"0.0025\"} 1\n",
            "wsauth_redis_request_duration_seconds_bucket{op=\"lease\",le=\"0.005\"} 2\n",
            "wsauth_redis_request_duration_seconds_bucket{op=\"lease\",le=\"1\"} 2\n",
            "wsauth_redis_request_duration_seconds_bucket{op=\"lease\",le=\"+Inf\"} 3\n",
            "wsauth_redis_request_duration_seconds_sum{op=\"lease\"} 2.0033\n",
            "wsauth_redis_request_duration_seconds_count{op=\"lease\"} 3\n",
            "wsauth_redis_errors_total{op=\"lease\"} 1\n",
            "wsauth_redis_errors_total{op=\"ping\"} 0\n",
            "wsauth_redis_up 0\n",
        ] {
            assert!(text.contains(line), "no {line} in\n{text}");
        }
    }
}
