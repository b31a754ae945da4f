//! Fan-out: one publisher, many subscribers on one node, wsauth beside a
//! Socket.IO server doing the same work in the same run.
//!
//! Each server runs as its own process pinned to the server core: wsauth
//! serves `bench/fanout.yaml` (`wsauth.rs`: authenticated subscribers of
//! the `feed` topic, publications through `Topics::publish` from a task on
//! the server's runtime); Socket.IO is `bench/socketio/server.cjs` (one
//! room, `io.to(room).emit` from a timer in the server process). Both
//! publishers put `--publish-rate` ticks per second, each
//! `{"sent_us": <wall clock µs>, "data": "x..."}` with `--payload-bytes` of
//! data, on a 1 ms timer. The subscribers (`subscribers.rs`) are WebSocket
//! clients on the load core; each delivery's latency is its receive time
//! minus the `sent_us` it carries (both processes read the same clock).
//!
//! After `--warmup-s`, a `--fanout-duration-s` window counts deliveries,
//! collects latencies and reads the server's CPU time from `/proc`. The
//! figure the issue sets a target on is deliveries per second of server
//! CPU (deliveries in the window / server CPU seconds in the window).
//!
//! Two comparisons, because a server's cost per delivery depends on its
//! load: both at the same offered rate (`--publish-rate`), and each at its
//! saturation (`saturate`): the rate is raised step by step, each step a
//! fresh server and window, until a step is not sustained (a subscriber
//! lost, fewer than 97 % of the offered deliveries, or a p99 latency over
//! `--saturation-p99-ms`); the last sustained step is the server's. Under
//! load a server may write several queued publications at once; that is
//! what a real server does, and the latency it costs is in the table.

mod nodes;
mod subscribers;
pub(crate) mod wsauth;

pub(crate) use self::nodes::across_nodes;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::Command;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use futures_util::StreamExt;

use crate::procfs;

/// Microseconds of the wall clock: the publication's stamp and the
/// receiver's reading.
pub(crate) fn now_us() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_micros()).unwrap_or(i64::MAX))
}

/// Which server a fan-out run measures.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Side {
    Wsauth,
    SocketIo,
}

impl Side {
    fn label(self) -> &'static str {
        match self {
            Side::Wsauth => "wsauth",
            Side::SocketIo => "Socket.IO",
        }
    }
}

/// The wsauth processes serving the topic: one alone, or several nodes
/// of a cluster on a Redis.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Nodes<'a> {
    pub(crate) count: usize,
    /// The Redis they share, and its process (for its CPU time).
    pub(crate) redis: Option<(&'a str, u32)>,
}

impl Nodes<'_> {
    /// One process, no Redis.
    pub(crate) const ALONE: Nodes<'static> = Nodes {
        count: 1,
        redis: None,
    };
}

/// What a fan-out run needs to know.
pub(crate) struct Setup<'a> {
    pub(crate) subscribers: usize,
    pub(crate) rate: f64,
    pub(crate) payload_bytes: usize,
    pub(crate) warmup: Duration,
    pub(crate) window: Duration,
    pub(crate) server_core: Option<usize>,
    /// Where a second cluster node runs: a core of its own when the
    /// machine has a third, else beside the load generator.
    pub(crate) second_core: Option<usize>,
    pub(crate) tokens: &'a [(String, String)],
    /// The Node.js program, and where `socket.io` is installed.
    pub(crate) node: &'a str,
    pub(crate) node_modules: PathBuf,
    /// Also look for each server's saturation.
    pub(crate) saturation: Option<Saturation>,
}

/// How the saturation search steps.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Saturation {
    /// The first rate tried, publications per second.
    pub(crate) start: f64,
    /// Each step's rate is the previous one's times this.
    pub(crate) factor: f64,
    /// No rate above this is tried.
    pub(crate) max_rate: f64,
    /// Each step's window (after `--warmup-s`).
    pub(crate) window: Duration,
    /// A step whose p99 latency is above this is not sustained.
    pub(crate) max_p99: Duration,
}

/// Share of the offered deliveries a sustained step must deliver.
const SUSTAINED_SHARE: f64 = 0.97;

/// A side's saturation: its last sustained step, and why the next one was
/// not.
struct Saturated {
    best: Option<(f64, Outcome)>,
    stopped: String,
}

/// One side's window.
#[derive(Debug, Default)]
pub(crate) struct Outcome {
    deliveries: u64,
    /// Sorted.
    latencies_us: Vec<u32>,
    elapsed: Duration,
    /// Every server process's, summed.
    server_cpu: Duration,
    /// The cluster's Redis's, when there is one.
    redis_cpu: Duration,
    load_cpu: Duration,
    machine_cpu: Duration,
    frame_bytes: usize,
    /// Subscribers whose connection ended during the run.
    lost: usize,
    first_error: Option<String>,
}

impl Outcome {
    fn rate(&self) -> f64 {
        self.deliveries as f64 / self.elapsed.as_secs_f64().max(1e-9)
    }

    /// Latency at quantile `q` (0..=1), milliseconds.
    fn latency_ms(&self, q: f64) -> f64 {
        let n = self.latencies_us.len();
        if n == 0 {
            return 0.0;
        }
        let index = ((n as f64 * q).ceil() as usize).clamp(1, n) - 1;
        f64::from(self.latencies_us[index]) / 1000.0
    }

    fn cpu_s_per_million(&self) -> f64 {
        self.server_cpu.as_secs_f64() * 1e6 / (self.deliveries.max(1) as f64)
    }

    /// Deliveries per second of server CPU.
    fn per_cpu_second(&self) -> f64 {
        self.deliveries as f64 / self.server_cpu.as_secs_f64().max(1e-9)
    }

    fn busy(&self, cpu: Duration) -> f64 {
        100.0 * cpu.as_secs_f64() / self.elapsed.as_secs_f64().max(1e-9)
    }

    fn other_busy(&self) -> f64 {
        self.busy(
            self.machine_cpu
                .saturating_sub(self.server_cpu + self.redis_cpu + self.load_cpu),
        )
    }

    /// Why a step offering `offered` deliveries per second was not
    /// sustained; `None` when it was.
    fn shortfall(&self, offered: f64, max_p99: Duration) -> Option<String> {
        let why = if self.lost > 0 {
            format!("{} subscribers lost", self.lost)
        } else if self.rate() < SUSTAINED_SHARE * offered {
            format!(
                "{:.0} % of the offered deliveries",
                100.0 * self.rate() / offered
            )
        } else if self.latency_ms(0.99) > max_p99.as_secs_f64() * 1000.0 {
            format!("p99 latency {:.0} ms", self.latency_ms(0.99))
        } else {
            return None;
        };
        Some(format!(
            "{why}; CPU % server {:.0}, load {:.0}, other {:.0}",
            self.busy(self.server_cpu),
            self.busy(self.load_cpu),
            self.other_busy()
        ))
    }
}

/// Runs both sides, wsauth first, `rounds` times, printing each round's
/// table, then the per-round ratios of deliveries per second of server CPU
/// and their median over the rounds no other process disturbed (all
/// rounds if none was undisturbed).
pub(crate) async fn run(setup: &Setup<'_>, secret: &str, rounds: usize) -> Result<(), String> {
    let mut ratios = Vec::new();
    for round in 1..=rounds.max(1) {
        if rounds > 1 {
            eprintln!("round {round} of {rounds}");
        }
        let alone = Nodes::ALONE;
        let wsauth = measure(setup, Side::Wsauth, alone, secret, setup.rate, setup.window).await?;
        let socket_io = measure(
            setup,
            Side::SocketIo,
            alone,
            secret,
            setup.rate,
            setup.window,
        )
        .await?;
        report(setup, &wsauth, &socket_io);
        let clean = wsauth.other_busy().max(socket_io.other_busy()) < crate::CLEAN_OTHER_PERCENT;
        ratios.push((per_cpu_ratio(&wsauth, &socket_io), clean));
    }
    if ratios.len() > 1 {
        let all: Vec<String> = ratios
            .iter()
            .map(|(r, clean)| format!("{r:.2}{}", if *clean { "" } else { " (disturbed)" }))
            .collect();
        let mut kept: Vec<f64> = ratios.iter().filter(|(_, c)| *c).map(|(r, _)| *r).collect();
        if kept.is_empty() {
            kept = ratios.iter().map(|(r, _)| *r).collect();
        }
        println!(
            "deliveries per second of server CPU, wsauth / Socket.IO, per round: {}; median {:.2}",
            all.join(", "),
            crate::load::median(kept)
        );
    }
    if let Some(saturation) = setup.saturation {
        let wsauth = saturate(setup, Side::Wsauth, Nodes::ALONE, secret, saturation).await?;
        let socket_io = saturate(setup, Side::SocketIo, Nodes::ALONE, secret, saturation).await?;
        report_saturation(setup, saturation, &wsauth, &socket_io);
    }
    Ok(())
}

/// Raises the publication rate from `saturation.start` until a step is not
/// sustained.
async fn saturate(
    setup: &Setup<'_>,
    side: Side,
    nodes: Nodes<'_>,
    secret: &str,
    saturation: Saturation,
) -> Result<Saturated, String> {
    let mut rate = saturation.start;
    let mut best = None;
    loop {
        let outcome = measure(setup, side, nodes, secret, rate, saturation.window).await?;
        let offered = rate * setup.subscribers as f64;
        if let Some(why) = outcome.shortfall(offered, saturation.max_p99) {
            let stopped = format!("{rate:.0}/s not sustained: {why}");
            return Ok(Saturated { best, stopped });
        }
        best = Some((rate, outcome));
        if rate >= saturation.max_rate {
            let stopped = format!("{rate:.0}/s is --saturation-max-rate");
            return Ok(Saturated { best, stopped });
        }
        rate = (rate * saturation.factor).min(saturation.max_rate);
    }
}

fn per_cpu_ratio(wsauth: &Outcome, socket_io: &Outcome) -> f64 {
    wsauth.per_cpu_second() / socket_io.per_cpu_second().max(1e-9)
}

/// Node `node` of `side` (its first and only one, unless a cluster).
fn spawn(
    setup: &Setup<'_>,
    side: Side,
    (node, redis): (usize, Option<&str>),
    secret: &str,
    rate: f64,
) -> Result<crate::Server, String> {
    match side {
        Side::Wsauth => {
            let mut command = crate::server_command()?;
            command
                .args(["serve", "--kind", "fanout", "--workers", "1"])
                .args(["--publish-rate", &rate.to_string()])
                .args(["--payload-bytes", &setup.payload_bytes.to_string()])
                .env(echo::SECRET_ENV, secret);
            let core = if node % 2 == 0 {
                setup.server_core
            } else {
                setup.second_core
            };
            if let Some(core) = core {
                command.args(["--core", &core.to_string()]);
            }
            if let Some(url) = redis {
                command.args(["--redis", url]);
            }
            crate::Server::start(command, side.label(), None)
        }
        Side::SocketIo => {
            let script = concat!(env!("CARGO_MANIFEST_DIR"), "/socketio/server.cjs");
            if !setup.node_modules.join("socket.io").is_dir() {
                return Err(format!(
                    "socket.io is not installed in {} (run `npm ci --prefix js`, or pass --node-modules)",
                    setup.node_modules.display()
                ));
            }
            let mut command = Command::new(setup.node);
            command
                .arg(script)
                .arg(rate.to_string())
                .arg(setup.payload_bytes.to_string())
                .env("NODE_PATH", &setup.node_modules);
            crate::Server::start(command, side.label(), setup.server_core)
        }
    }
}

/// One side at `rate` publications per second: subscribe everyone (spread
/// evenly over the nodes), start the publisher (on the first node), warm
/// up, measure for `window`.
pub(crate) async fn measure(
    setup: &Setup<'_>,
    side: Side,
    nodes: Nodes<'_>,
    secret: &str,
    rate: f64,
    window: Duration,
) -> Result<Outcome, String> {
    eprintln!(
        "fan-out: {}{} ({} subscribers, {rate:.0} publications/s) ...",
        side.label(),
        match (nodes.count, nodes.redis) {
            (_, None) => String::new(),
            (1, Some(_)) => ", one node on redis".to_owned(),
            (n, Some(_)) => format!(", {n} nodes on redis"),
        },
        setup.subscribers,
    );
    let redis = nodes.redis.map(|(url, _)| url);
    let mut servers = (0..nodes.count.max(1))
        .map(|node| spawn(setup, side, (node, redis), secret, rate))
        .collect::<Result<Vec<_>, String>>()?;
    let addrs: Vec<SocketAddr> = servers.iter().map(|s| s.addr).collect();
    let clients: Vec<_> = futures_util::stream::iter(0..setup.subscribers)
        .map(|i| {
            let (addr, token) = (
                addrs[i % addrs.len()],
                &setup.tokens[i % setup.tokens.len()].1,
            );
            subscribers::open(side, addr, token)
        })
        .buffer_unordered(64)
        .collect()
        .await;
    let clients = clients.into_iter().collect::<Result<Vec<_>, String>>()?;
    let recording = Arc::new(AtomicBool::new(false));
    let (stop, stopped) = tokio::sync::watch::channel(false);
    let readers: Vec<_> = clients
        .into_iter()
        .map(|client| {
            tokio::spawn(subscribers::read(
                client,
                side,
                Arc::clone(&recording),
                stopped.clone(),
            ))
        })
        .collect();
    servers[0].command("publish")?;
    tokio::time::sleep(setup.warmup).await;

    let me = std::process::id();
    let pids: Vec<u32> = servers.iter().map(crate::Server::pid).collect();
    let redis_pid = nodes.redis.map(|(_, pid)| pid);
    let servers_cpu = || -> Option<Duration> { pids.iter().map(|p| procfs::cpu_time(*p)).sum() };
    let (server0, redis0, load0, machine0) = (
        servers_cpu(),
        redis_pid.and_then(procfs::cpu_time),
        procfs::cpu_time(me),
        procfs::machine_cpu(),
    );
    let start = Instant::now();
    recording.store(true, Ordering::Relaxed);
    tokio::time::sleep(window).await;
    recording.store(false, Ordering::Relaxed);
    let elapsed = start.elapsed();
    let (server1, redis1, load1, machine1) = (
        servers_cpu(),
        redis_pid.and_then(procfs::cpu_time),
        procfs::cpu_time(me),
        procfs::machine_cpu(),
    );
    // Stop the subscribers before the server, so only connections that
    // ended during the run count as lost.
    let _ = stop.send(true);

    let diff = |a: Option<Duration>, b: Option<Duration>| match (a, b) {
        (Some(a), Some(b)) => b.saturating_sub(a),
        _ => Duration::ZERO,
    };
    let mut outcome = Outcome {
        elapsed,
        server_cpu: diff(server0, server1),
        redis_cpu: diff(redis0, redis1),
        load_cpu: diff(load0, load1),
        machine_cpu: diff(machine0, machine1),
        ..Outcome::default()
    };
    for reader in readers {
        let received = reader.await.map_err(|e| format!("subscriber: {e}"))?;
        outcome.deliveries += received.latencies_us.len() as u64;
        outcome.latencies_us.extend(received.latencies_us);
        outcome.frame_bytes = outcome.frame_bytes.max(received.frame_bytes);
        if let Some(error) = received.error {
            outcome.lost += 1;
            outcome.first_error.get_or_insert(error);
        }
    }
    drop(servers);
    outcome.latencies_us.sort_unstable();
    Ok(outcome)
}

fn row(metric: &str, w: String, s: String, ratio: String) {
    println!("{metric:<38} {w:>15} {s:>15} {ratio:>7}");
}

fn report(setup: &Setup<'_>, wsauth: &Outcome, socket_io: &Outcome) {
    println!();
    row(
        "fan-out",
        "wsauth".into(),
        "Socket.IO".into(),
        "ratio".into(),
    );
    println!("{}", "-".repeat(78));
    rows(wsauth, socket_io);
    println!();
    println!(
        "ratio = wsauth / Socket.IO. One publisher in the server process, {} subscribers \
         (WebSocket clients on the load core), {} publications/s of {} data bytes \
         (offered: {:.0} deliveries/s); {} s window after {} s warm-up. Latency is publish \
         to receive, including the load generator's own queueing: when its CPU % nears 100 \
         the latencies are the load side's limit.",
        setup.subscribers,
        setup.rate,
        setup.payload_bytes,
        setup.rate * setup.subscribers as f64,
        setup.window.as_secs_f64(),
        setup.warmup.as_secs_f64(),
    );
    verdict("at the same offered rate", per_cpu_ratio(wsauth, socket_io));
}

/// The target line for one comparison.
fn verdict(comparison: &str, ratio: f64) {
    let met = if ratio >= TARGET_RATIO {
        "met"
    } else {
        "MISSED"
    };
    println!(
        "target: wsauth deliveries per second of server CPU >= {TARGET_RATIO}x Socket.IO's, \
         {comparison}: {met} ({ratio:.2}x)"
    );
}

/// The target on deliveries per second of server CPU.
const TARGET_RATIO: f64 = 5.0;

fn report_saturation(
    setup: &Setup<'_>,
    saturation: Saturation,
    wsauth: &Saturated,
    socket_io: &Saturated,
) {
    println!();
    row(
        "fan-out, each at its saturation",
        "wsauth".into(),
        "Socket.IO".into(),
        "ratio".into(),
    );
    println!("{}", "-".repeat(78));
    let rate = |s: &Saturated| s.best.as_ref().map_or(0.0, |(rate, _)| *rate);
    row(
        "publications/s sustained",
        format!("{:.0}", rate(wsauth)),
        format!("{:.0}", rate(socket_io)),
        if rate(socket_io) > 0.0 {
            format!("{:.2}", rate(wsauth) / rate(socket_io))
        } else {
            "-".to_owned()
        },
    );
    let (Some((_, w)), Some((_, s))) = (&wsauth.best, &socket_io.best) else {
        for (side, saturated) in [("wsauth", wsauth), ("Socket.IO", socket_io)] {
            println!("  {side}: {}", saturated.stopped);
        }
        println!(
            "no saturation comparison: a server sustained no step (from {:.0}/s)",
            saturation.start
        );
        return;
    };
    rows(w, s);
    println!();
    println!(
        "Each server alone, the rate raised from {:.0}/s by x{} per step (a fresh server \
         and {} subscribers, {} s window after {} s warm-up) until a step is not sustained \
         (a subscriber lost, under {:.0} % of the offered deliveries, or p99 latency over \
         {:.0} ms); the table is the last sustained step. Next step:",
        saturation.start,
        saturation.factor,
        setup.subscribers,
        saturation.window.as_secs_f64(),
        setup.warmup.as_secs_f64(),
        SUSTAINED_SHARE * 100.0,
        saturation.max_p99.as_secs_f64() * 1000.0,
    );
    for (side, saturated) in [("wsauth", wsauth), ("Socket.IO", socket_io)] {
        println!("  {side}: {}", saturated.stopped);
    }
    verdict("each at its saturation", per_cpu_ratio(w, s));
}

/// The rows both tables share.
fn rows(wsauth: &Outcome, socket_io: &Outcome) {
    let ratio = |w: f64, s: f64| {
        if s > 0.0 {
            format!("{:.2}", w / s)
        } else {
            "-".to_owned()
        }
    };
    let both = |f: &dyn Fn(&Outcome) -> f64, precision: usize| {
        (
            format!("{:.*}", precision, f(wsauth)),
            format!("{:.*}", precision, f(socket_io)),
            ratio(f(wsauth), f(socket_io)),
        )
    };
    let (w, s, r) = both(&Outcome::rate, 0);
    row("deliveries/s", w, s, r);
    let (w, s, r) = both(&|o| o.latency_ms(0.5), 2);
    row("  latency p50, ms", w, s, r);
    let (w, s, r) = both(&|o| o.latency_ms(0.99), 2);
    row("  latency p99, ms", w, s, r);
    let (w, s, r) = both(&|o| o.latency_ms(1.0), 2);
    row("  latency max, ms", w, s, r);
    let (w, s, r) = both(&Outcome::cpu_s_per_million, 2);
    row("server CPU s per million deliveries", w, s, r);
    let (w, s, r) = both(&Outcome::per_cpu_second, 0);
    row("deliveries per second of server CPU", w, s, r);
    let busy = |o: &Outcome| {
        format!(
            "{:.0}/{:.0}/{:.0}",
            o.busy(o.server_cpu),
            o.busy(o.load_cpu),
            o.other_busy()
        )
    };
    row(
        "  CPU % server / load / other",
        busy(wsauth),
        busy(socket_io),
        String::new(),
    );
    row(
        "  delivered frame, bytes",
        wsauth.frame_bytes.to_string(),
        socket_io.frame_bytes.to_string(),
        String::new(),
    );
    row(
        "  subscribers lost",
        wsauth.lost.to_string(),
        socket_io.lost.to_string(),
        String::new(),
    );
    for (outcome, side) in [(wsauth, Side::Wsauth), (socket_io, Side::SocketIo)] {
        if let Some(e) = &outcome.first_error {
            println!("  first {} error: {e}", side.label());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn latency_quantiles_are_nearest_rank() {
        let outcome = Outcome {
            latencies_us: (1..=100).map(|us| us * 1000).collect(),
            ..Outcome::default()
        };
        assert_eq!(outcome.latency_ms(0.5), 50.0);
        assert_eq!(outcome.latency_ms(0.99), 99.0);
        assert_eq!(outcome.latency_ms(1.0), 100.0);
        assert_eq!(Outcome::default().latency_ms(0.99), 0.0);
    }

    #[test]
    fn a_step_is_sustained_only_with_everyone_everything_and_a_bounded_p99() {
        let sustained = Outcome {
            deliveries: 9_800,
            latencies_us: vec![1_000; 100],
            elapsed: Duration::from_secs(1),
            ..Outcome::default()
        };
        let p99 = Duration::from_millis(200);
        assert_eq!(sustained.shortfall(10_000.0, p99), None);
        let lagging = Outcome {
            deliveries: 9_000,
            ..sustained
        };
        assert!(
            lagging
                .shortfall(10_000.0, p99)
                .is_some_and(|w| w.starts_with("90 %"))
        );
        let lost = Outcome {
            lost: 3,
            deliveries: 9_800,
            ..lagging
        };
        assert!(
            lost.shortfall(10_000.0, p99)
                .is_some_and(|w| w.starts_with("3 subscribers"))
        );
        let slow = Outcome {
            lost: 0,
            latencies_us: vec![300_000; 100],
            ..lost
        };
        assert!(
            slow.shortfall(10_000.0, p99)
                .is_some_and(|w| w.starts_with("p99 latency 300"))
        );
    }
}
