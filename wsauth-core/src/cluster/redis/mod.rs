//! A node's connection to the cluster's Redis, and the tasks that keep it.
//!
//! # Motivation
//!
//! A node must start while Redis is down, notice within a second or two
//! when it goes away, and come back by itself when it returns, without
//! ever closing a live connection for it. So commands go through redis-rs's
//! `ConnectionManager`, created lazily (it reconnects on its own after an
//! error), a health task PINGs every second, and the node counts as up
//! only while that PING answers *and* the control channel is subscribed
//! with the revocations reloaded since (a node that missed announcements
//! must not admit a revoked token). While it is down, new authenticated
//! connections meet the [`FailurePolicy`].
//!
//! A connection can also die without closing (a partition, a peer that
//! vanished): nothing arrives, no error either. The manager reconnects on a
//! closed connection but not on a timed-out one, so after
//! [`DEAD_AFTER`] unanswered PINGs the health task replaces it; the
//! control subscription is probed with a PING of its own (`control.rs`).
//!
//! Tasks per node, all aborted when the server is dropped: health (PING),
//! renewer (the node's connection leases, `leases.rs`), releaser (frees the
//! leases of closed connections), presence (this node's subjects on topic
//! instances, `presence.rs`), control (the control channel and the
//! revocation reloads, `control.rs`, which also follows the topic
//! instances this node has subscribers on, `fanout.rs`). Two TCP
//! connections to Redis in all: commands and the subscriber.
//!
//! Every time in Redis comes from Redis (`TIME` in the Lua scripts, in
//! `lua/`), never from a node's clock.

mod control;
mod fanout;
mod leases;
mod presence;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, PoisonError, RwLock};
use std::time::Duration;

use tokio::time::Instant;

use ::redis::aio::{ConnectionManager, ConnectionManagerConfig};
use ::redis::{RedisError, RedisResult};
use tokio::sync::Notify;
use tokio::task::AbortHandle;

use super::{ClusterConfig, ClusterError, FailurePolicy, Revocation, Revocations};
use crate::metrics::{RedisMetrics, RedisOp};
use crate::reject::Rejection;
use crate::server::BuildError;
use crate::topics::{Broker, InstanceKey};

pub(crate) use self::fanout::Fanout;
pub(crate) use self::leases::Held;

/// How long one Redis command may take before Redis counts as unreachable.
const COMMAND_TIMEOUT: Duration = Duration::from_secs(1);

/// How often the health task PINGs, and the control subscription is
/// probed.
const HEALTH_EVERY: Duration = Duration::from_secs(1);

/// The least time between a PING asked for by a failed command and the
/// next.
const RECHECK_GAP: Duration = Duration::from_millis(100);

/// Unanswered PINGs in a row after which a connection counts as dead and
/// is replaced.
const DEAD_AFTER: u32 = 2;

/// One node of a cluster: its Redis connection and its tasks.
pub(crate) struct Node {
    shared: Arc<NodeShared>,
    fanout: Arc<Fanout>,
    tasks: Vec<AbortHandle>,
    /// The runtime the tasks run on when the server was built outside one
    /// (one worker thread of its own).
    own_runtime: Option<tokio::runtime::Runtime>,
}

/// What the node's tasks and its handshakes share.
struct NodeShared {
    /// 64 random bits, hex: names this node's leases.
    id: String,
    keys: Keys,
    policy: FailurePolicy,
    lease_ttl: Duration,
    renew_every: Duration,
    retention_s: u64,
    /// The connection for commands; replaced when it is dead.
    commands: RwLock<ConnectionManager>,
    /// What a replacement connection is made from.
    client: ::redis::Client,
    manager: ConnectionManagerConfig,
    /// The last command (a PING at least every second) succeeded.
    commands_ok: AtomicBool,
    /// The control channel is subscribed, and revocations were reloaded
    /// since.
    control_ok: AtomicBool,
    leases: Arc<leases::Table>,
    /// Wakes the renewer when Redis is back.
    back: Notify,
    /// Wakes the health task to PING now: a command failed.
    recheck: Notify,
    /// Round trips, errors, and whether Redis is up, for the node's metrics.
    metrics: Arc<RedisMetrics>,
}

/// Every key and channel, under the deployment's prefix.
struct Keys {
    prefix: String,
}

impl Keys {
    /// The ZSET of a subject's connection leases.
    fn lease(&self, subject: &str) -> String {
        format!("{}:lease:{subject}", self.prefix)
    }
    /// The ZSET of revoked `jti`s (score: until when).
    fn revoked_jtis(&self) -> String {
        format!("{}:rev:jti", self.prefix)
    }
    /// The ZSET of subjects' "issued before" times.
    fn revoked_subjects(&self) -> String {
        format!("{}:rev:sub", self.prefix)
    }
    /// The control channel: revocations and disconnects.
    fn control(&self) -> String {
        format!("{}:ctl", self.prefix)
    }
    /// A topic instance's channel; its keys add `:m` (numbering) and `:s`
    /// (history stream). Params are a JSON object, so no channel is a key.
    fn instance(&self, key: &InstanceKey) -> String {
        format!("{}:i:{}:{}", self.prefix, key.topic.name, key.params)
    }
}

impl Node {
    /// Connects (lazily) to the Redis of `config` and starts the node's
    /// tasks on the current tokio runtime, or on a runtime of their own
    /// (one thread) when there is none.
    pub(super) fn start(
        config: ClusterConfig,
        api: &str,
        revocations: Arc<Revocations>,
        metrics: Arc<RedisMetrics>,
        broker: Arc<Broker>,
    ) -> Result<Self, BuildError> {
        if config.renew_every.is_zero() || config.lease_ttl < config.renew_every * 2 {
            return Err(BuildError::Cluster(
                "`lease_ttl` must be at least twice `renew_every`, which must not be zero".into(),
            ));
        }
        let (runtime, own_runtime) = match tokio::runtime::Handle::try_current() {
            Ok(current) => (current, None),
            Err(_) => {
                let own = tokio::runtime::Builder::new_multi_thread()
                    .worker_threads(1)
                    .thread_name("wsauth-cluster")
                    .enable_all()
                    .build()
                    .map_err(|e| BuildError::Cluster(format!("cannot start its runtime: {e}")))?;
                (own.handle().clone(), Some(own))
            }
        };
        let client = ::redis::Client::open(config.url.as_str())
            .map_err(|e| BuildError::Cluster(format!("the redis url is not valid: {e}")))?;
        let manager = ConnectionManagerConfig::new()
            .set_connection_timeout(Some(COMMAND_TIMEOUT))
            .set_response_timeout(Some(COMMAND_TIMEOUT))
            .set_max_delay(Duration::from_secs(2));
        let commands = {
            // The manager finds its runtime where it is created.
            let _entered = runtime.enter();
            ConnectionManager::new_lazy_with_config(client.clone(), manager.clone())
                .map_err(|e| BuildError::Cluster(format!("redis: {e}")))?
        };
        let (leases, released) = leases::Table::new();
        let shared = Arc::new(NodeShared {
            id: node_id(),
            keys: Keys {
                prefix: config.prefix.unwrap_or_else(|| format!("wsauth:{api}")),
            },
            policy: config.policy,
            lease_ttl: config.lease_ttl,
            renew_every: config.renew_every,
            retention_s: config.revocation_retention.as_secs(),
            commands: RwLock::new(commands),
            client: client.clone(),
            manager,
            commands_ok: AtomicBool::new(false),
            control_ok: AtomicBool::new(false),
            leases,
            back: Notify::new(),
            recheck: Notify::new(),
            metrics,
        });
        let presences = Arc::new(presence::Presences::new(
            Arc::clone(&shared),
            Arc::clone(&broker),
        ));
        let (fanout, listener) = Fanout::new(Arc::clone(&shared), broker, Arc::clone(&presences));
        let tasks = vec![
            runtime.spawn(health(Arc::clone(&shared))).abort_handle(),
            runtime
                .spawn(leases::renew(Arc::clone(&shared)))
                .abort_handle(),
            runtime
                .spawn(leases::release(Arc::clone(&shared), released))
                .abort_handle(),
            runtime.spawn(presence::run(presences)).abort_handle(),
            runtime
                .spawn(control::run(Arc::clone(&shared), revocations, listener))
                .abort_handle(),
        ];
        Ok(Node {
            shared,
            fanout,
            tasks,
            own_runtime,
        })
    }

    /// Whether Redis answers and the revocations are current.
    pub(super) fn up(&self) -> bool {
        self.shared.up()
    }

    /// The node's topic fan-out.
    pub(super) fn fanout(&self) -> Arc<Fanout> {
        Arc::clone(&self.fanout)
    }

    /// Takes one of `subject`'s `max` slots cluster-wide, or applies the
    /// failure policy when Redis cannot be reached.
    pub(super) async fn take(&self, subject: &Arc<str>, max: u32) -> Result<Held, Rejection> {
        leases::take(&self.shared, subject, max).await
    }

    /// Stores `revocation` and announces it to every node (this one
    /// included). Returns Redis's time when it took effect.
    pub(super) async fn revoke(&self, revocation: &Revocation) -> Result<u64, ClusterError> {
        control::revoke(&self.shared, revocation).await
    }
}

impl Drop for Node {
    fn drop(&mut self) {
        for task in &self.tasks {
            task.abort();
        }
        // Without waiting: the server may be dropped inside a runtime.
        if let Some(runtime) = self.own_runtime.take() {
            runtime.shutdown_background();
        }
    }
}

impl NodeShared {
    /// The connection for commands (a cheap handle).
    fn commands(&self) -> ConnectionManager {
        self.commands
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// Replaces the connection for commands with a new one, made when
    /// first used: the old one is dead without having closed.
    fn reconnect(&self) {
        match ConnectionManager::new_lazy_with_config(self.client.clone(), self.manager.clone()) {
            Ok(fresh) => {
                tracing::warn!(target: "wsauth::cluster", node = %self.id, "redis connection unresponsive; reconnecting");
                *self
                    .commands
                    .write()
                    .unwrap_or_else(PoisonError::into_inner) = fresh;
            }
            Err(error) => {
                tracing::warn!(target: "wsauth::cluster", node = %self.id, %error, "redis connection unresponsive; cannot reconnect");
            }
        }
    }

    /// Whether commands reach Redis (the control subscription aside).
    fn reachable(&self) -> bool {
        self.commands_ok.load(Ordering::Acquire)
    }

    fn up(&self) -> bool {
        self.reachable() && self.control_ok.load(Ordering::Acquire)
    }

    /// Records whether a command reached Redis, logging the transitions.
    fn set_commands(&self, ok: bool) {
        self.set(&self.commands_ok, ok);
    }

    /// Records whether the control channel is subscribed and loaded.
    fn set_control(&self, ok: bool) {
        self.set(&self.control_ok, ok);
    }

    fn set(&self, flag: &AtomicBool, ok: bool) {
        let was = self.up();
        flag.store(ok, Ordering::Release);
        self.metrics.set_up(self.up());
        match (was, self.up()) {
            (false, true) => {
                tracing::info!(target: "wsauth::cluster", node = %self.id, "redis reachable");
                self.back.notify_one();
            }
            (true, false) => {
                tracing::warn!(target: "wsauth::cluster", node = %self.id, "redis unreachable");
            }
            _ => {}
        }
    }

    /// Notes a failed command: an error of the connection (not of a
    /// script) means Redis is unreachable until the next PING answers.
    fn failed(&self, error: &RedisError) {
        if is_unreachable(error) {
            self.set_commands(false);
            // A connection that died is often replaced at once (Redis
            // restarted): find out now rather than at the next tick.
            self.recheck.notify_one();
        }
        tracing::warn!(target: "wsauth::cluster", node = %self.id, %error, "redis command failed");
    }
}

#[cfg(test)]
impl NodeShared {
    /// A node's state with its Redis at `url`, not reached yet (no task
    /// runs; everything counts as down until told otherwise).
    fn unstarted(url: &str, policy: FailurePolicy) -> Arc<Self> {
        let client = ::redis::Client::open(url).unwrap_or_else(|e| panic!("{e}"));
        let manager = ConnectionManagerConfig::new()
            .set_connection_timeout(Some(COMMAND_TIMEOUT))
            .set_response_timeout(Some(COMMAND_TIMEOUT))
            .set_number_of_retries(0);
        let commands = ConnectionManager::new_lazy_with_config(client.clone(), manager.clone())
            .unwrap_or_else(|e| panic!("{e}"));
        Arc::new(NodeShared {
            id: node_id(),
            keys: Keys {
                prefix: "test".into(),
            },
            policy,
            lease_ttl: Duration::from_secs(3),
            renew_every: Duration::from_secs(1),
            retention_s: 60,
            commands: RwLock::new(commands),
            client,
            manager,
            commands_ok: AtomicBool::new(false),
            control_ok: AtomicBool::new(false),
            leases: leases::Table::new().0,
            back: Notify::new(),
            recheck: Notify::new(),
            metrics: Arc::new(RedisMetrics::default()),
        })
    }
}

/// Whether `error` says Redis cannot be reached (rather than that it
/// refused: no rights, a script error).
fn is_unreachable(error: &RedisError) -> bool {
    error.is_io_error()
        || error.is_timeout()
        || error.is_connection_dropped()
        || error.is_connection_refusal()
}

/// `future`, a request to Redis for `op`, within [`COMMAND_TIMEOUT`] (a
/// timeout being an I/O error); its time and outcome are counted in the
/// node's metrics.
async fn within<T>(
    shared: &NodeShared,
    op: RedisOp,
    future: impl Future<Output = RedisResult<T>>,
) -> RedisResult<T> {
    let started = Instant::now();
    let result = match tokio::time::timeout(COMMAND_TIMEOUT, future).await {
        Ok(result) => result,
        Err(_) => Err(RedisError::from(std::io::Error::new(
            std::io::ErrorKind::TimedOut,
            "redis did not answer in time",
        ))),
    };
    shared
        .metrics
        .request(op, started.elapsed(), result.is_ok());
    result
}

/// PINGs Redis every second: the node's view of whether it is reachable,
/// what keeps the manager reconnecting after its own retries gave up, and
/// what replaces a connection that stopped answering without closing.
async fn health(shared: Arc<NodeShared>) {
    let mut tick = tokio::time::interval(HEALTH_EVERY);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut unanswered = 0;
    // Only a connection that has answered can go silent: one that never
    // did is still (re)connecting, which the manager does by itself, so
    // an outage replaces the connection once, not every two seconds.
    let mut answered = false;
    loop {
        let rechecking = tokio::select! {
            _ = tick.tick() => false,
            () = shared.recheck.notified() => true,
        };
        let mut commands = shared.commands();
        let ping = within(
            &shared,
            RedisOp::Ping,
            ::redis::cmd("PING").query_async::<String>(&mut commands),
        )
        .await;
        shared.set_commands(ping.is_ok());
        answered |= ping.is_ok();
        unanswered = match ping {
            Err(error) if answered && error.is_timeout() => unanswered + 1,
            _ => 0,
        };
        if unanswered >= DEAD_AFTER {
            shared.reconnect();
            (unanswered, answered) = (0, false);
        }
        if rechecking {
            // Commands failing fast must not make this a busy loop.
            tokio::time::sleep(RECHECK_GAP).await;
        }
    }
}

/// 64 random bits, hex.
fn node_id() -> String {
    let mut bytes = [0u8; 8];
    if getrandom::fill(&mut bytes).is_err() {
        // No randomness: the time and the process still tell nodes apart.
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos());
        bytes = (nanos as u64 ^ u64::from(std::process::id())).to_be_bytes();
    }
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}
