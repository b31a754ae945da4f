//! The load generator: tokio-tungstenite clients on one pinned core.
//!
//! Throughput runs measure a steady state: the clients run through a warm-up,
//! then the counters and both processes' CPU times are read at the start
//! and at the end of a fixed window, then the clients stop.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use futures_util::{SinkExt, StreamExt};
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

use crate::procfs;
use crate::servers::Target;

/// A client connection.
pub(crate) type Client = WebSocketStream<MaybeTlsStream<TcpStream>>;

/// How long one client operation may take before it counts as an error.
const OP_TIMEOUT: Duration = Duration::from_secs(10);

/// Where to connect, and as whom.
pub(crate) struct Endpoint {
    pub(crate) target: Target,
    /// One URL per user (`/ws/echo/{user}?token=...`, `/ws/typed/...`),
    /// used round-robin.
    pub(crate) urls: Arc<Vec<String>>,
    /// The text message echoed (the bare server also gets it as its probe).
    pub(crate) message: Arc<str>,
}

/// The processes a measurement watches: the server under test, and one it
/// depends on (the cluster's Redis), whose CPU is counted apart.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Watched {
    pub(crate) server: u32,
    pub(crate) beside: Option<u32>,
}

impl Watched {
    /// The server alone.
    pub(crate) fn server(pid: u32) -> Self {
        Watched {
            server: pid,
            beside: None,
        }
    }
}

/// The outcome of one throughput window.
#[derive(Clone, Debug, Default)]
pub(crate) struct Throughput {
    /// Operations completed in the window.
    pub(crate) ops: u64,
    /// Operations that failed in the window.
    pub(crate) errors: u64,
    /// The window's length.
    pub(crate) elapsed: Duration,
    /// CPU time the server process used in the window.
    pub(crate) server_cpu: Duration,
    /// CPU time the process beside it (Redis) used in the window.
    pub(crate) beside_cpu: Duration,
    /// CPU time the load generator used in the window.
    pub(crate) load_cpu: Duration,
    /// CPU time (user and system) every process on the machine used in the
    /// window, these two included.
    pub(crate) machine_cpu: Duration,
    /// The first error seen, for the report.
    pub(crate) first_error: Option<String>,
}

impl Throughput {
    /// Operations per second.
    pub(crate) fn rate(&self) -> f64 {
        self.ops as f64 / self.elapsed.as_secs_f64().max(1e-9)
    }

    /// Server CPU microseconds per operation.
    pub(crate) fn server_us_per_op(&self) -> f64 {
        self.server_cpu.as_secs_f64() * 1e6 / (self.ops.max(1) as f64)
    }

    /// Share of one core the server used, in percent.
    pub(crate) fn server_busy(&self) -> f64 {
        100.0 * self.server_cpu.as_secs_f64() / self.elapsed.as_secs_f64().max(1e-9)
    }

    /// Share of one core the load generator used, in percent.
    pub(crate) fn load_busy(&self) -> f64 {
        100.0 * self.load_cpu.as_secs_f64() / self.elapsed.as_secs_f64().max(1e-9)
    }

    /// Share of one core used by everything else on the machine (other
    /// processes, kernel threads), in percent: noise when it is large.
    pub(crate) fn other_busy(&self) -> f64 {
        let other = self
            .machine_cpu
            .saturating_sub(self.server_cpu + self.beside_cpu + self.load_cpu);
        100.0 * other.as_secs_f64() / self.elapsed.as_secs_f64().max(1e-9)
    }
}

/// Several rounds of one throughput measurement, summarised by medians.
#[derive(Clone, Debug, Default)]
pub(crate) struct Summary {
    pub(crate) rounds: Vec<Throughput>,
}

/// The median (0 when empty).
pub(crate) fn median(mut values: Vec<f64>) -> f64 {
    values.sort_by(f64::total_cmp);
    match values.len() {
        0 => 0.0,
        n if n % 2 == 1 => values[n / 2],
        n => (values[n / 2 - 1] + values[n / 2]) / 2.0,
    }
}

impl Summary {
    fn median_of(&self, f: impl Fn(&Throughput) -> f64) -> f64 {
        median(self.rounds.iter().map(f).collect())
    }

    /// Median operations per second.
    pub(crate) fn rate(&self) -> f64 {
        self.median_of(Throughput::rate)
    }

    /// Lowest and highest operations per second.
    pub(crate) fn rate_range(&self) -> (f64, f64) {
        let rates = self.rounds.iter().map(Throughput::rate);
        let min = rates.clone().fold(f64::INFINITY, f64::min);
        (min, rates.fold(0.0, f64::max))
    }

    /// Median server CPU microseconds per operation.
    pub(crate) fn server_us_per_op(&self) -> f64 {
        self.median_of(Throughput::server_us_per_op)
    }

    /// Median server busy percentage.
    pub(crate) fn server_busy(&self) -> f64 {
        self.median_of(Throughput::server_busy)
    }

    /// Median load generator busy percentage.
    pub(crate) fn load_busy(&self) -> f64 {
        self.median_of(Throughput::load_busy)
    }

    /// Median busy percentage of everything else.
    pub(crate) fn other_busy(&self) -> f64 {
        self.median_of(Throughput::other_busy)
    }

    /// Failed operations over all rounds.
    /// `server/load/other` CPU %, for a report's row.
    pub(crate) fn busy(&self) -> String {
        format!(
            "{:.0}/{:.0}/{:.0}",
            self.server_busy(),
            self.load_busy(),
            self.other_busy()
        )
    }

    pub(crate) fn errors(&self) -> u64 {
        self.rounds.iter().map(|r| r.errors).sum()
    }

    /// The first error of any round.
    pub(crate) fn first_error(&self) -> Option<&str> {
        self.rounds.iter().find_map(|r| r.first_error.as_deref())
    }
}

/// Counters shared by the client tasks.
#[derive(Default)]
struct Counters {
    ops: AtomicU64,
    errors: AtomicU64,
    stop: AtomicBool,
    first_error: std::sync::Mutex<Option<String>>,
}

impl Counters {
    fn error(&self, e: String) {
        self.errors.fetch_add(1, Ordering::Relaxed);
        let mut first = self
            .first_error
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        first.get_or_insert(e);
    }
}

pub(crate) fn client_config() -> WebSocketConfig {
    // Lean clients: 5000 of them must fit beside the server.
    WebSocketConfig::default()
        .read_buffer_size(4096)
        .write_buffer_size(0)
}

/// The next text frame, skipping pings and pongs.
pub(crate) async fn next_text(client: &mut Client) -> Result<String, String> {
    loop {
        match tokio::time::timeout(OP_TIMEOUT, client.next()).await {
            Err(_) => return Err("timed out waiting for a message".to_owned()),
            Ok(None) => return Err("connection ended".to_owned()),
            Ok(Some(Err(e))) => return Err(format!("read: {e}")),
            Ok(Some(Ok(Message::Text(text)))) => return Ok(text.as_str().to_owned()),
            Ok(Some(Ok(Message::Ping(_) | Message::Pong(_)))) => {}
            Ok(Some(Ok(Message::Close(frame)))) => {
                return Err(format!("closed by the server: {frame:?}"));
            }
            Ok(Some(Ok(other))) => return Err(format!("unexpected frame {other:?}")),
        }
    }
}

/// One echo round trip.
pub(crate) async fn round_trip(client: &mut Client, message: &str) -> Result<(), String> {
    client
        .send(Message::text(message))
        .await
        .map_err(|e| format!("send: {e}"))?;
    let reply = next_text(client).await?;
    if reply.len() != message.len() {
        return Err(format!(
            "echo differs: sent {} bytes, got {}",
            message.len(),
            reply.len()
        ));
    }
    Ok(())
}

/// Connects and waits until the connection is usable: the welcome for
/// wsauth, the first echo for the bare server.
pub(crate) async fn open(endpoint: &Endpoint, index: usize) -> Result<Client, String> {
    let url = &endpoint.urls[index % endpoint.urls.len()];
    let connect =
        tokio_tungstenite::connect_async_with_config(url.as_str(), Some(client_config()), true);
    let (mut client, _) = tokio::time::timeout(OP_TIMEOUT, connect)
        .await
        .map_err(|_| "timed out connecting".to_owned())?
        .map_err(|e| format!("connect: {e}"))?;
    match endpoint.target {
        Target::Wsauth | Target::WsauthQuiet | Target::WsauthTyped => {
            let welcome = next_text(&mut client).await?;
            if !welcome.contains("\"connected\"") {
                return Err(format!("unexpected welcome {welcome}"));
            }
        }
        Target::Bare | Target::WsauthRaw => round_trip(&mut client, &endpoint.message).await?,
    }
    Ok(client)
}

/// Closes from the client side and reads until the server ends the stream.
pub(crate) async fn close(mut client: Client) {
    let closing = async {
        let _ = client.close(None).await;
        while let Some(Ok(_)) = client.next().await {}
    };
    let _ = tokio::time::timeout(OP_TIMEOUT, closing).await;
}

/// Runs `tasks` client loops for `warmup`, then measures a `window`.
async fn measure<F, Fut>(
    tasks: Vec<F>,
    watched: Watched,
    warmup: Duration,
    window: Duration,
) -> Throughput
where
    F: FnOnce(Arc<Counters>) -> Fut,
    Fut: Future<Output = ()> + Send + 'static,
{
    let counters = Arc::new(Counters::default());
    let handles: Vec<_> = tasks
        .into_iter()
        .map(|task| tokio::spawn(task(Arc::clone(&counters))))
        .collect();
    tokio::time::sleep(warmup).await;
    let me = std::process::id();
    let start = Instant::now();
    let (ops0, err0) = (
        counters.ops.load(Ordering::Relaxed),
        counters.errors.load(Ordering::Relaxed),
    );
    let beside = || watched.beside.and_then(procfs::cpu_time);
    let (server0, beside0, load0, machine0) = (
        procfs::cpu_time(watched.server),
        beside(),
        procfs::cpu_time(me),
        procfs::machine_cpu(),
    );
    tokio::time::sleep(window).await;
    let (ops1, err1) = (
        counters.ops.load(Ordering::Relaxed),
        counters.errors.load(Ordering::Relaxed),
    );
    let (server1, beside1, load1, machine1) = (
        procfs::cpu_time(watched.server),
        beside(),
        procfs::cpu_time(me),
        procfs::machine_cpu(),
    );
    let elapsed = start.elapsed();
    counters.stop.store(true, Ordering::Relaxed);
    for handle in handles {
        let _ = handle.await;
    }
    let diff = |a: Option<Duration>, b: Option<Duration>| match (a, b) {
        (Some(a), Some(b)) => b.saturating_sub(a),
        _ => Duration::ZERO,
    };
    let first_error = counters
        .first_error
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
        .clone();
    Throughput {
        ops: ops1 - ops0,
        errors: err1 - err0,
        elapsed,
        server_cpu: diff(server0, server1),
        beside_cpu: diff(beside0, beside1),
        load_cpu: diff(load0, load1),
        machine_cpu: diff(machine0, machine1),
        first_error,
    }
}

/// Full handshakes (connect, upgrade, welcome or first echo, close) from
/// `concurrency` clients in a loop.
pub(crate) async fn handshakes(
    endpoint: &Arc<Endpoint>,
    watched: Watched,
    concurrency: usize,
    warmup: Duration,
    window: Duration,
) -> Throughput {
    let next = Arc::new(AtomicU64::new(0));
    let tasks = (0..concurrency)
        .map(|_| {
            let endpoint = Arc::clone(endpoint);
            let next = Arc::clone(&next);
            move |counters: Arc<Counters>| async move {
                while !counters.stop.load(Ordering::Relaxed) {
                    let index = next.fetch_add(1, Ordering::Relaxed) as usize;
                    match open(&endpoint, index).await {
                        Ok(client) => {
                            close(client).await;
                            counters.ops.fetch_add(1, Ordering::Relaxed);
                        }
                        Err(e) => {
                            counters.error(e);
                            tokio::time::sleep(Duration::from_millis(10)).await;
                        }
                    }
                }
            }
        })
        .collect();
    measure(tasks, watched, warmup, window).await
}

/// Opens `count` connections, `parallel` at a time, and keeps them.
pub(crate) async fn open_many(
    endpoint: &Endpoint,
    count: usize,
    parallel: usize,
) -> Result<Vec<Client>, String> {
    let opened: Vec<Result<Client, String>> = futures_util::stream::iter(0..count)
        .map(|i| open(endpoint, i))
        .buffer_unordered(parallel.max(1))
        .collect()
        .await;
    opened.into_iter().collect()
}

/// Echo round trips on `connections` established connections, one message
/// in flight on each.
pub(crate) async fn round_trips(
    endpoint: &Arc<Endpoint>,
    watched: Watched,
    connections: usize,
    warmup: Duration,
    window: Duration,
) -> Result<Throughput, String> {
    let clients = open_many(endpoint, connections, 32).await?;
    let tasks: Vec<_> = clients
        .into_iter()
        .map(|mut client| {
            let message = Arc::clone(&endpoint.message);
            move |counters: Arc<Counters>| async move {
                while !counters.stop.load(Ordering::Relaxed) {
                    match round_trip(&mut client, &message).await {
                        Ok(()) => {
                            counters.ops.fetch_add(1, Ordering::Relaxed);
                        }
                        Err(e) => {
                            counters.error(e);
                            return;
                        }
                    }
                }
                close(client).await;
            }
        })
        .collect();
    Ok(measure(tasks, watched, warmup, window).await)
}
