//! `wsauth-bench`: wsauth's authenticated echo against a tuned bare axum
//! echo, in one run, on this machine. See `bench/README.md` for how to read
//! the output.
//!
//! ```text
//! cargo run --release -p wsauth-bench                      # everything, ~30 s
//! cargo run --release -p wsauth-bench -- --help            # knobs
//! cargo run --release -p wsauth-bench -- --rounds 5        # medians, noisy machines
//! cargo run --release -p wsauth-bench -- --diagnostics     # + /ws/raw, JWT cost
//! cargo run --release -p wsauth-bench --features count-allocs -- --only memory --diagnostics
//! ```
//!
//! Each server runs as its own process (this binary re-executed as
//! `wsauth-bench serve --kind bare|wsauth`, see `servers.rs`), pinned to
//! one core; the load generator (tokio-tungstenite clients on a
//! single-threaded runtime, `load.rs`) is pinned to another. Both talk over
//! 127.0.0.1. Measured, for each server:
//!
//! - **handshakes/s**: `--concurrency` clients in a loop connect, upgrade,
//!   receive the welcome (wsauth: `/ws/echo/{user}?token=JWT`, so JWT HS256
//!   verification, user look-up, permission, connection limit, welcome) or
//!   one echo (bare), then close and wait for the server to end the stream;
//! - **echo round trips/s**: `--echo-connections` established connections,
//!   one message of `--payload-bytes` in flight on each (the same JSON
//!   `{"type":"echo","payload":"..."}` text for both servers), and the
//!   same on wsauth's typed endpoint (`/ws/typed/{user}`,
//!   `{"type":"say","payload":"..."}`, decoded into the spec's types);
//! - **idle memory**: a fresh server process, `VmRSS` before and after
//!   `--idle-connections` connections are opened and made ready (welcome
//!   received / first echo answered), divided by their number. This includes
//!   everything the server keeps per connection: socket wrappers, buffers,
//!   the task, and for wsauth the principal, audit context, link, timer,
//!   limiter and revocation entries (one user per connection) and handler
//!   state. Then the cost of a topic subscription (`subscriptions.rs`):
//!   idle connections of the fan-out spec, each subscribed to one instance.
//!
//! For throughput, each process's CPU time over the window is read from
//! `/proc`, so the table shows both the rate and the server CPU per
//! operation, and how busy each side was: a rate only compares servers when
//! the server, not the load generator, is the saturated side. Server CPU
//! per operation is meaningful either way.
//!
//! With `--only cluster`, wsauth's handshakes with the per-user connection
//! limit kept per node and kept cluster-wide on a real `redis-server`
//! (`cluster.rs`), server and Redis CPU per handshake side by side.
//!
//! With `--only fanout`, the fan-out measurement (`fanout/`): one
//! publisher, `--subscribers` subscribers, wsauth's topics beside a
//! Socket.IO room (Node.js, `socket.io` from `js/node_modules`), reporting
//! deliveries/s, latency, and deliveries per second of server CPU.
//!
//! Tokens are minted here with a random throwaway secret, one user per
//! connection (`u0`, `u1`, ...). The numbers are printed, never asserted:
//! this is a tool, not a test.

mod callgrind;
mod cluster;
mod fanout;
mod load;
mod procfs;
mod servers;
mod subscriptions;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::SocketAddr;
use std::process::{Child, ChildStdin, ChildStdout, Command, ExitCode, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use clap::{Parser, Subcommand, ValueEnum};

use crate::load::{Endpoint, Summary, Throughput};
use crate::servers::{AuditMode, Kind, ServeArgs, Target};

#[cfg(feature = "count-allocs")]
#[global_allocator]
static GLOBAL: &stats_alloc::StatsAlloc<std::alloc::System> = &stats_alloc::INSTRUMENTED_SYSTEM;

/// Live heap bytes and allocations so far, when counted.
#[cfg(feature = "count-allocs")]
pub(crate) fn heap_stats() -> Option<(i64, u64)> {
    let s = GLOBAL.stats();
    // `bytes_allocated`/`bytes_deallocated` already include reallocations.
    let live = s.bytes_allocated as i64 - s.bytes_deallocated as i64;
    Some((live, s.allocations as u64))
}

/// Live heap bytes and allocations so far, when counted.
#[cfg(not(feature = "count-allocs"))]
pub(crate) fn heap_stats() -> Option<(i64, u64)> {
    None
}

/// Benchmarks wsauth's authenticated echo against a tuned bare axum echo.
#[derive(Debug, Parser)]
#[command(name = "wsauth-bench", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Option<Cmd>,
    #[command(flatten)]
    bench: BenchArgs,
}

#[derive(Debug, Subcommand)]
enum Cmd {
    /// Run one server under test (used by the benchmark itself).
    Serve(ServeArgs),
}

/// What to measure.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
enum Phase {
    Handshake,
    Echo,
    Memory,
    /// One publisher to many subscribers, wsauth beside Socket.IO (needs
    /// Node.js and `npm ci --prefix js`); only when asked for.
    Fanout,
    /// wsauth's handshakes with the per-user limit per node and cluster-wide
    /// on a real `redis-server` (needs one on the PATH); only when asked for.
    Cluster,
    /// Instructions per handshake and per round trip under valgrind's
    /// callgrind (needs `valgrind` on the PATH; minutes); only when asked for.
    Callgrind,
}

#[derive(Clone, Debug, clap::Args)]
struct BenchArgs {
    /// Only these measurements (repeatable; default all).
    #[arg(long, value_enum)]
    only: Vec<Phase>,
    /// Measurement window of each throughput run, seconds.
    #[arg(long, default_value_t = 5.0)]
    duration_s: f64,
    /// Warm-up before each throughput window, seconds.
    #[arg(long, default_value_t = 1.0)]
    warmup_s: f64,
    /// Clients doing handshakes at once.
    #[arg(long, default_value_t = 32)]
    concurrency: usize,
    /// Connections doing echo round trips.
    #[arg(long, default_value_t = 64)]
    echo_connections: usize,
    /// Payload of each echo message, and data of each fan-out
    /// publication, bytes.
    #[arg(long, default_value_t = 64)]
    payload_bytes: usize,
    /// Fan-out: subscribers of the one topic (or room).
    #[arg(long, default_value_t = 1000)]
    subscribers: usize,
    /// Fan-out: publications per second.
    #[arg(long, default_value_t = 100.0)]
    publish_rate: f64,
    /// Fan-out: measurement window of each server, seconds.
    #[arg(long, default_value_t = 10.0)]
    fanout_duration_s: f64,
    /// Fan-out: skip the search for each server's saturation.
    #[arg(long)]
    no_saturation: bool,
    /// Fan-out saturation search: first rate tried, publications per second.
    #[arg(long, default_value_t = 50.0)]
    saturation_start_rate: f64,
    /// Fan-out saturation search: each step's rate is the previous one's
    /// times this.
    #[arg(long, default_value_t = 1.5)]
    saturation_factor: f64,
    /// Fan-out saturation search: highest rate tried, publications per second.
    #[arg(long, default_value_t = 5000.0)]
    saturation_max_rate: f64,
    /// Fan-out saturation search: window of each step, seconds.
    #[arg(long, default_value_t = 3.0)]
    saturation_window_s: f64,
    /// Fan-out saturation search: a step with a higher p99 latency is not
    /// sustained, milliseconds.
    #[arg(long, default_value_t = 200.0)]
    saturation_p99_ms: f64,
    /// Fan-out: the Node.js program running the Socket.IO server.
    #[arg(long, default_value = "node")]
    node: String,
    /// Fan-out: the `node_modules` directory holding `socket.io` (default
    /// the repository's `js/node_modules`).
    #[arg(long)]
    node_modules: Option<std::path::PathBuf>,
    /// Idle connections opened for the memory measurement.
    #[arg(long, default_value_t = 5000)]
    idle_connections: usize,
    /// Core for the servers (an id from the allowed set; default the first).
    #[arg(long)]
    server_core: Option<usize>,
    /// Core for the load generator (default the second allowed one).
    #[arg(long)]
    load_core: Option<usize>,
    /// Repeat the throughput runs this many times (alternating servers) and
    /// report medians over the rounds no other process disturbed: for
    /// shared or noisy machines. The fan-out is repeated too.
    #[arg(long, default_value_t = 1)]
    rounds: usize,
    /// Tokio worker threads of each server.
    #[arg(long, default_value_t = 1)]
    server_workers: usize,
    /// Where the wsauth server's audit events go (`json-lines`: through an
    /// `AuditLog` into a sink, as deployed; `tracing`: through
    /// tracing-subscriber's JSON formatter into a sink; `off`). A second
    /// wsauth server with the audit log off is always measured beside it.
    #[arg(long, value_enum, default_value_t)]
    audit_log: AuditMode,
    /// Also measure wsauth's anonymous `/ws/raw` endpoint (the framework
    /// without token, user look-up or welcome), time JWT verification alone,
    /// and, when built with `--features count-allocs`, count allocations.
    #[arg(long)]
    diagnostics: bool,
    /// Callgrind: keep each run's out file in this directory (for
    /// `callgrind_annotate --inclusive=yes`) instead of a temporary one.
    #[arg(long)]
    callgrind_keep: Option<std::path::PathBuf>,
}

/// Pins the calling thread (and the threads it creates later) to core `id`.
pub(crate) fn pin_to(id: usize) -> Result<(), String> {
    if core_affinity::set_for_current(core_affinity::CoreId { id }) {
        Ok(())
    } else {
        Err(format!("cannot pin to core {id}"))
    }
}

/// Raises the soft open-files limit to the hard one; returns the soft limit.
pub(crate) fn raise_fd_limit() -> u64 {
    rlimit::increase_nofile_limit(u64::MAX).unwrap_or(1024)
}

/// A random throwaway secret (hex of 32 bytes from the OS).
fn throwaway_secret() -> Result<String, String> {
    let mut bytes = [0_u8; 32];
    std::fs::File::open("/dev/urandom")
        .and_then(|mut f| f.read_exact(&mut bytes))
        .map_err(|e| format!("/dev/urandom: {e}"))?;
    Ok(bytes.iter().map(|b| format!("{b:02x}")).collect())
}

fn mint_tokens(secret: &str, users: usize) -> Result<Vec<(String, String)>, String> {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let key = jsonwebtoken::EncodingKey::from_secret(secret.as_bytes());
    let header = jsonwebtoken::Header::new(jsonwebtoken::Algorithm::HS256);
    (0..users)
        .map(|i| {
            let user = format!("u{i}");
            let claims =
                serde_json::json!({ "sub": user, "role": "user", "iat": now, "exp": now + 3600 });
            let token =
                jsonwebtoken::encode(&header, &claims, &key).map_err(|e| format!("token: {e}"))?;
            Ok((user, token))
        })
        .collect()
}

/// A server process; killed and reaped when dropped.
pub(crate) struct Server {
    child: Child,
    stdin: Option<ChildStdin>,
    stdout: BufReader<ChildStdout>,
    pub(crate) addr: SocketAddr,
}

/// This program, to be run as a server (`serve ...` follows). A profiling
/// aid: `WSAUTH_BENCH_SERVER_WRAPPER="heaptrack -o /tmp/h"` runs each server
/// under that command (CPU and RSS figures are then the wrapper's, not the
/// server's).
pub(crate) fn server_command() -> Result<Command, String> {
    let exe = std::env::current_exe().map_err(|e| format!("current_exe: {e}"))?;
    let wrapper = std::env::var("WSAUTH_BENCH_SERVER_WRAPPER").unwrap_or_default();
    let mut words = wrapper.split_whitespace();
    Ok(match words.next() {
        Some(program) => {
            let mut command = Command::new(program);
            command.args(words).arg(exe);
            command
        }
        None => Command::new(exe),
    })
}

impl Server {
    fn spawn(
        kind: Kind,
        args: &BenchArgs,
        core: Option<usize>,
        secret: &str,
        redis: Option<&str>,
    ) -> Result<Server, String> {
        Server::spawn_for(kind, args.audit_log, args, core, secret, redis)
    }

    /// [`Server::spawn`] with the audit events going where `audit` says.
    fn spawn_for(
        kind: Kind,
        audit: AuditMode,
        args: &BenchArgs,
        core: Option<usize>,
        secret: &str,
        redis: Option<&str>,
    ) -> Result<Server, String> {
        let mut command = server_command()?;
        command
            .args(["serve", "--kind"])
            .arg(match kind {
                Kind::Bare => "bare",
                Kind::Wsauth => "wsauth",
                Kind::Fanout => "fanout",
            })
            .args(["--workers", &args.server_workers.to_string()])
            .env(echo::SECRET_ENV, secret);
        if let Some(core) = core {
            command.args(["--core", &core.to_string()]);
        }
        command.args(["--audit-log", audit.word()]);
        if let Some(url) = redis {
            command.args(["--redis", url]);
        }
        Server::start(command, &format!("{kind:?}"), None)
    }

    /// Starts `command` as a server that prints `listening ADDR` and exits
    /// when its standard input closes. With `core`, it starts pinned there
    /// (for programs that do not pin themselves, like Node.js).
    pub(crate) fn start(
        mut command: Command,
        label: &str,
        core: Option<usize>,
    ) -> Result<Server, String> {
        command
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit());
        let spawned = match core {
            // A child inherits the CPU affinity of the thread that forks it.
            Some(core) => std::thread::scope(|scope| {
                scope
                    .spawn(|| {
                        pin_to(core)?;
                        command.spawn().map_err(|e| e.to_string())
                    })
                    .join()
                    .unwrap_or_else(|_| Err("the spawning thread panicked".to_owned()))
            }),
            None => command.spawn().map_err(|e| e.to_string()),
        };
        let mut child = spawned.map_err(|e| format!("spawn the {label} server: {e}"))?;
        let (Some(stdin), Some(stdout)) = (child.stdin.take(), child.stdout.take()) else {
            let _ = child.kill();
            let _ = child.wait();
            return Err("server pipes".to_owned());
        };
        let mut server = Server {
            child,
            stdin: Some(stdin),
            stdout: BufReader::new(stdout),
            addr: SocketAddr::from(([127, 0, 0, 1], 0)),
        };
        // A wrapper may print lines of its own first.
        let mut line = server.read_line();
        for _ in 0..20 {
            if line.starts_with("listening ") || line.is_empty() {
                break;
            }
            line = server.read_line();
        }
        match line.strip_prefix("listening ").and_then(|a| a.parse().ok()) {
            Some(addr) => {
                server.addr = addr;
                Ok(server)
            }
            None => Err(format!("the {label} server did not start (said {line:?})")),
        }
    }

    fn read_line(&mut self) -> String {
        let mut line = String::new();
        let _ = self.stdout.read_line(&mut line);
        line.trim().to_owned()
    }

    pub(crate) fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Sends a command line (`stats`, `publish`) to the server.
    pub(crate) fn command(&mut self, line: &str) -> Result<(), String> {
        let stdin = self.stdin.as_mut().ok_or("the server's input is closed")?;
        writeln!(stdin, "{line}")
            .and_then(|()| stdin.flush())
            .map_err(|e| format!("write to the server: {e}"))
    }

    /// Live heap bytes and allocation count, when the build counts them.
    fn heap(&mut self) -> Option<(i64, u64)> {
        self.command("stats").ok()?;
        let line = self.read_line();
        let mut fields = line.strip_prefix("stats ")?.split(' ');
        Some((fields.next()?.parse().ok()?, fields.next()?.parse().ok()?))
    }
}

impl Server {
    /// Closes the server's standard input, which makes it exit (and a
    /// profiling wrapper write its data), and waits at most `patience` for
    /// it; `false` if it had to be killed.
    pub(crate) fn exit_within(mut self, patience: Duration) -> bool {
        self.stop(patience)
    }

    fn stop(&mut self, patience: Duration) -> bool {
        drop(self.stdin.take());
        let deadline = Instant::now() + patience;
        while Instant::now() < deadline {
            if !matches!(self.child.try_wait(), Ok(None)) {
                return true;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
        false
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let patience = if std::env::var_os("WSAUTH_BENCH_SERVER_WRAPPER").is_some() {
            Duration::from_secs(120)
        } else {
            Duration::from_secs(2)
        };
        self.stop(patience);
    }
}

/// One target's idle-memory measurement.
#[derive(Clone, Debug, Default)]
struct Memory {
    connections: usize,
    rss_before: u64,
    rss_after: u64,
    heap: Option<(i64, i64)>,
}

impl Memory {
    fn per_connection(&self) -> f64 {
        (self.rss_after.saturating_sub(self.rss_before)) as f64 / (self.connections.max(1) as f64)
    }

    fn heap_per_connection(&self) -> Option<f64> {
        self.heap
            .map(|(before, after)| (after - before) as f64 / (self.connections.max(1) as f64))
    }
}

/// Allocation counts from short sequential runs (`count-allocs` builds).
#[derive(Clone, Debug, Default)]
struct Allocations {
    per_handshake: f64,
    per_round_trip: f64,
    live_after_handshakes: i64,
}

#[derive(Clone, Debug, Default)]
struct Measured {
    handshake: Option<Summary>,
    echo: Option<Summary>,
    memory: Option<Memory>,
    allocations: Option<Allocations>,
}

fn endpoint(
    target: Target,
    addr: SocketAddr,
    tokens: &[(String, String)],
    message: &Arc<str>,
) -> Arc<Endpoint> {
    let urls = match target {
        Target::WsauthRaw => vec![format!("ws://{addr}/ws/raw")],
        Target::Bare | Target::Wsauth | Target::WsauthQuiet => tokens
            .iter()
            .map(|(user, token)| format!("ws://{addr}/ws/echo/{user}?token={token}"))
            .collect(),
        Target::WsauthTyped => tokens
            .iter()
            .map(|(user, token)| format!("ws://{addr}/ws/typed/{user}?token={token}"))
            .collect(),
    };
    Arc::new(Endpoint {
        target,
        urls: Arc::new(urls),
        message: Arc::clone(message),
    })
}

/// Everything one run needs.
struct Plan<'a> {
    args: &'a BenchArgs,
    phases: &'a [Phase],
    server_core: Option<usize>,
    secret: &'a str,
    tokens: &'a [(String, String)],
    /// The untyped echo's message (the bare server's too).
    message: Arc<str>,
    /// The typed echo's: the same payload in a `say`.
    typed_message: Arc<str>,
}

impl Plan<'_> {
    fn wants(&self, phase: Phase) -> bool {
        self.phases.contains(&phase)
    }

    /// The message `target` echoes.
    fn message_for(&self, target: Target) -> &Arc<str> {
        match target {
            Target::WsauthTyped => &self.typed_message,
            _ => &self.message,
        }
    }

    /// One round of the throughput runs on a fresh server: handshakes and
    /// round trips, as asked.
    async fn throughput(
        &self,
        target: Target,
    ) -> Result<(Option<Throughput>, Option<Throughput>), String> {
        let warmup = Duration::from_secs_f64(self.args.warmup_s);
        let window = Duration::from_secs_f64(self.args.duration_s);
        let server = Server::spawn_for(
            target.kind(),
            target.audit(self.args.audit_log),
            self.args,
            self.server_core,
            self.secret,
            None,
        )?;
        let endpoint = endpoint(target, server.addr, self.tokens, self.message_for(target));
        let (mut handshake, mut echo) = (None, None);
        if self.wants(Phase::Handshake) && target.handshakes() {
            eprintln!("handshakes: {} ...", target.label());
            let run = load::handshakes(
                &endpoint,
                load::Watched::server(server.pid()),
                self.args.concurrency,
                warmup,
                window,
            )
            .await;
            handshake = Some(run);
        }
        if self.wants(Phase::Echo) {
            eprintln!("echo round trips: {} ...", target.label());
            let connections = self.args.echo_connections;
            let run = load::round_trips(
                &endpoint,
                load::Watched::server(server.pid()),
                connections,
                warmup,
                window,
            )
            .await?;
            echo = Some(run);
        }
        Ok((handshake, echo))
    }

    async fn memory(&self, target: Target, measured: &mut Measured) -> Result<(), String> {
        let count = self.args.idle_connections;
        eprintln!("idle memory: {} ({count} connections) ...", target.label());
        let mut server = Server::spawn_for(
            target.kind(),
            target.audit(self.args.audit_log),
            self.args,
            self.server_core,
            self.secret,
            None,
        )?;
        let endpoint = endpoint(target, server.addr, self.tokens, self.message_for(target));
        // A few sequential connections first, so lazily initialised state
        // (runtime, verifier, allocator arenas) is not counted.
        for i in 0..20 {
            let client = load::open(&endpoint, self.tokens.len() - 1 - i).await?;
            load::close(client).await;
        }
        tokio::time::sleep(Duration::from_millis(300)).await;
        let rss = |pid| procfs::rss_bytes(pid).ok_or("cannot read the server's VmRSS");
        let rss_before = rss(server.pid())?;
        let heap_before = server.heap();
        let clients = load::open_many(&endpoint, count, 64).await?;
        tokio::time::sleep(Duration::from_secs(1)).await;
        let rss_after = rss(server.pid())?;
        let heap_after = server.heap();
        measured.memory = Some(Memory {
            connections: clients.len(),
            rss_before,
            rss_after,
            heap: heap_before.zip(heap_after).map(|(b, a)| (b.0, a.0)),
        });
        drop(clients);
        Ok(())
    }

    /// Sequential handshakes and round trips against an otherwise idle
    /// server, counting the server's allocations (`count-allocs` builds).
    async fn allocations(&self, target: Target, measured: &mut Measured) -> Result<(), String> {
        const HANDSHAKES: usize = 500;
        const ROUND_TRIPS: usize = 2000;
        let mut server = Server::spawn_for(
            target.kind(),
            target.audit(self.args.audit_log),
            self.args,
            self.server_core,
            self.secret,
            None,
        )?;
        if server.heap().is_none() {
            return Ok(());
        }
        let endpoint = endpoint(target, server.addr, self.tokens, self.message_for(target));
        for i in 0..20 {
            load::close(load::open(&endpoint, i).await?).await;
        }
        let settle = Duration::from_millis(200);
        tokio::time::sleep(settle).await;
        let (live0, allocs0) = server.heap().ok_or("stats")?;
        for i in 0..HANDSHAKES {
            load::close(load::open(&endpoint, i).await?).await;
        }
        tokio::time::sleep(settle).await;
        let (live1, allocs1) = server.heap().ok_or("stats")?;
        let mut client = load::open(&endpoint, 0).await?;
        tokio::time::sleep(settle).await;
        let (_, allocs2) = server.heap().ok_or("stats")?;
        for _ in 0..ROUND_TRIPS {
            load::round_trip(&mut client, self.message_for(target)).await?;
        }
        let (_, allocs3) = server.heap().ok_or("stats")?;
        load::close(client).await;
        measured.allocations = Some(Allocations {
            per_handshake: (allocs1 - allocs0) as f64 / HANDSHAKES as f64,
            per_round_trip: (allocs3 - allocs2) as f64 / ROUND_TRIPS as f64,
            live_after_handshakes: live1 - live0,
        });
        Ok(())
    }
}

/// Times JWT verification alone, as the wsauth server does it (µs per token).
async fn verify_cost(secret: &str, tokens: &[(String, String)]) -> Result<f64, String> {
    use wsauth_core::jwt::{KeySet, Verifier};
    let jwt = echo::API
        .auth
        .as_ref()
        .and_then(|a| a.jwt.as_ref())
        .ok_or("the echo spec has no jwt section")?;
    let keys = KeySet::new()
        .hmac(echo::KEY_SLOT, secret.as_bytes())
        .map_err(|e| e.to_string())?;
    let verifier = Verifier::new(jwt, keys).map_err(|e| e.to_string())?;
    const N: usize = 20_000;
    let start = Instant::now();
    for i in 0..N {
        verifier
            .verify(&tokens[i % tokens.len()].1)
            .await
            .map_err(|e| e.to_string())?;
    }
    Ok(start.elapsed().as_secs_f64() * 1e6 / N as f64)
}

fn ratio(bare: f64, wsauth: f64) -> String {
    if bare > 0.0 {
        format!("{:.2}", wsauth / bare)
    } else {
        "-".to_owned()
    }
}

fn row(metric: &str, bare: String, wsauth: String, ratio: String) {
    println!("{metric:<38} {bare:>15} {wsauth:>15} {ratio:>7}");
}

/// Issue 14's target for the memory of an idle authenticated connection
/// (7 KiB), with topics and the cluster's per-connection state in.
const IDLE_TARGET_BYTES: f64 = 7168.0;

/// A round counts as clean when other processes used less than this share
/// of a core (percent) during both servers' windows.
pub(crate) const CLEAN_OTHER_PERCENT: f64 = 10.0;

/// The rounds of two servers, paired by round, kept to the clean ones (all
/// of them when none is clean), and the median of the per-round rate ratios.
struct Paired {
    bare: Summary,
    wsauth: Summary,
    clean: usize,
    total: usize,
    rate_ratio: f64,
}

fn paired(bare: &Summary, wsauth: &Summary) -> Paired {
    let total = bare.rounds.len().min(wsauth.rounds.len());
    let is_clean = |i: &usize| {
        bare.rounds[*i].other_busy() < CLEAN_OTHER_PERCENT
            && wsauth.rounds[*i].other_busy() < CLEAN_OTHER_PERCENT
    };
    let mut keep: Vec<usize> = (0..total).filter(is_clean).collect();
    let clean = keep.len();
    if keep.is_empty() {
        keep = (0..total).collect();
    }
    let pick = |s: &Summary| Summary {
        rounds: keep.iter().map(|i| s.rounds[*i].clone()).collect(),
    };
    let mut per_round: Vec<f64> = keep
        .iter()
        .map(|i| wsauth.rounds[*i].rate() / bare.rounds[*i].rate().max(1e-9))
        .collect();
    per_round.sort_by(f64::total_cmp);
    let rate_ratio = match per_round.len() {
        0 => 0.0,
        n if n % 2 == 1 => per_round[n / 2],
        n => (per_round[n / 2 - 1] + per_round[n / 2]) / 2.0,
    };
    Paired {
        bare: pick(bare),
        wsauth: pick(wsauth),
        clean,
        total,
        rate_ratio,
    }
}

fn throughput_rows(name: &str, unit: &str, bare: Option<&Summary>, wsauth: Option<&Summary>) {
    let (Some(bare), Some(wsauth)) = (bare, wsauth) else {
        return;
    };
    let paired = paired(bare, wsauth);
    let (bare, wsauth) = (&paired.bare, &paired.wsauth);
    row(
        &format!("{name}/s"),
        format!("{:.0}", bare.rate()),
        format!("{:.0}", wsauth.rate()),
        format!("{:.2}", paired.rate_ratio),
    );
    if paired.total > 1 {
        let range = |s: &Summary| {
            let (min, max) = s.rate_range();
            format!("{min:.0}-{max:.0}")
        };
        let used = if paired.clean > 0 {
            format!("{} clean of {} rounds", paired.clean, paired.total)
        } else {
            format!("{} rounds, none clean", paired.total)
        };
        row(
            &format!("  range, {used}"),
            range(bare),
            range(wsauth),
            String::new(),
        );
    }
    row(
        &format!("  server CPU µs per {unit}"),
        format!("{:.1}", bare.server_us_per_op()),
        format!("{:.1}", wsauth.server_us_per_op()),
        ratio(bare.server_us_per_op(), wsauth.server_us_per_op()),
    );
    row(
        "  CPU % server / load / other",
        bare.busy(),
        wsauth.busy(),
        String::new(),
    );
    if bare.errors() + wsauth.errors() > 0 {
        row(
            "  errors",
            bare.errors().to_string(),
            wsauth.errors().to_string(),
            String::new(),
        );
    }
    for (run, label) in [(bare, "bare"), (wsauth, "wsauth")] {
        if let Some(e) = run.first_error() {
            println!("  first {label} error: {e}");
        }
    }
}

/// The issue's handshake-rate target: wsauth with its audit log, against
/// tuned bare axum.
const HANDSHAKE_RATE_TARGET: f64 = 0.95;

/// The issue's typed-echo rate target: round trips on the typed endpoint,
/// against tuned bare axum.
const TYPED_ECHO_RATE_TARGET: f64 = 0.95;

/// The figures [`report`] compares with bare axum's.
struct Compared<'a> {
    wsauth: &'a Measured,
    quiet: &'a Measured,
    typed: &'a Measured,
}

fn report(args: &BenchArgs, bare: &Measured, compared: &Compared<'_>) {
    let Compared {
        wsauth,
        quiet,
        typed,
    } = compared;
    println!();
    row(
        "metric",
        "bare axum".into(),
        "wsauth".into(),
        "ratio".into(),
    );
    println!("{}", "-".repeat(78));
    throughput_rows(
        "handshakes",
        "handshake",
        bare.handshake.as_ref(),
        wsauth.handshake.as_ref(),
    );
    throughput_rows(
        "echo round trips",
        "round trip",
        bare.echo.as_ref(),
        wsauth.echo.as_ref(),
    );
    throughput_rows(
        "typed echo round trips",
        "round trip",
        bare.echo.as_ref(),
        typed.echo.as_ref(),
    );
    throughput_rows(
        "handshakes, audit log off",
        "handshake",
        bare.handshake.as_ref(),
        quiet.handshake.as_ref(),
    );
    throughput_rows(
        "round trips, audit log off",
        "round trip",
        bare.echo.as_ref(),
        quiet.echo.as_ref(),
    );
    if let (Some(b), Some(w)) = (&bare.memory, &wsauth.memory) {
        row(
            "idle connection, server RSS bytes",
            format!("{:.0}", b.per_connection()),
            format!("{:.0}", w.per_connection()),
            ratio(b.per_connection(), w.per_connection()),
        );
        if let (Some(bh), Some(wh)) = (b.heap_per_connection(), w.heap_per_connection()) {
            row(
                "  of which live heap bytes",
                format!("{bh:.0}"),
                format!("{wh:.0}"),
                ratio(bh, wh),
            );
        }
        let mib = |b: u64| format!("{:.1}", b as f64 / (1024.0 * 1024.0));
        row(
            &format!("  server RSS MiB, 0 -> {} idle", w.connections),
            format!("{}->{}", mib(b.rss_before), mib(b.rss_after)),
            format!("{}->{}", mib(w.rss_before), mib(w.rss_after)),
            String::new(),
        );
    }
    if let (Some(b), Some(w)) = (&bare.allocations, &wsauth.allocations) {
        row(
            "allocations per handshake",
            format!("{:.1}", b.per_handshake),
            format!("{:.1}", w.per_handshake),
            ratio(b.per_handshake, w.per_handshake),
        );
        row(
            "allocations per round trip",
            format!("{:.1}", b.per_round_trip),
            format!("{:.1}", w.per_round_trip),
            ratio(b.per_round_trip, w.per_round_trip),
        );
        row(
            "  heap growth after 500 handshakes",
            b.live_after_handshakes.to_string(),
            w.live_after_handshakes.to_string(),
            String::new(),
        );
    }
    println!();
    if std::env::var_os("WSAUTH_BENCH_SERVER_WRAPPER").is_some() {
        println!(
            "WSAUTH_BENCH_SERVER_WRAPPER is set: CPU and RSS figures are the wrapper's, not the servers'."
        );
    }
    if bare.handshake.is_some() || bare.echo.is_some() {
        println!(
            "ratio = wsauth / bare; wsauth's audit events: {} (and off where the row says so). \
             Throughput: {} s window after {} s warm-up{}; {} handshake clients; \
             {} echo connections, {}-byte payload. CPU % is of one core; a rate compares servers only \
             when the server side is the saturated one; 'other' is everything else on the machine \
             (noise when large).",
            match args.audit_log {
                AuditMode::JsonLines => "JSON lines through an AuditLog into a sink",
                AuditMode::Tracing => "JSON through tracing-subscriber into a sink",
                AuditMode::Off => "off",
            },
            args.duration_s,
            args.warmup_s,
            if args.rounds > 1 {
                format!(
                    ", medians over the rounds where other processes used < {CLEAN_OTHER_PERCENT}% \
                     of a core (ratio: median of per-round ratios)"
                )
            } else {
                String::new()
            },
            args.concurrency,
            args.echo_connections,
            args.payload_bytes
        );
    }
    if let (Some(b), Some(w)) = (&bare.handshake, &wsauth.handshake) {
        let r = paired(b, w).rate_ratio;
        let verdict = if r >= HANDSHAKE_RATE_TARGET {
            "met"
        } else {
            "MISSED"
        };
        println!(
            "target: wsauth handshake rate (audit log {}) >= {HANDSHAKE_RATE_TARGET}x bare axum: {verdict} ({r:.2}x)",
            args.audit_log.word()
        );
    }
    if let (Some(b), Some(t)) = (&bare.echo, &typed.echo) {
        let r = paired(b, t).rate_ratio;
        let verdict = if r >= TYPED_ECHO_RATE_TARGET {
            "met"
        } else {
            "MISSED"
        };
        println!(
            "target: wsauth typed echo round trips (audit log {}) >= {TYPED_ECHO_RATE_TARGET}x bare axum: {verdict} ({r:.2}x)",
            args.audit_log.word()
        );
    }
    if let Some(w) = &wsauth.memory {
        let bytes = w.per_connection();
        let verdict = if bytes <= IDLE_TARGET_BYTES {
            "met"
        } else {
            "MISSED"
        };
        println!(
            "target: idle authenticated wsauth connection <= {IDLE_TARGET_BYTES} bytes: {verdict} ({bytes:.0} bytes)"
        );
    }
}

fn report_diagnostics(raw: &Measured, verify_us: Option<f64>) {
    println!();
    println!("diagnostics");
    if let Some(us) = verify_us {
        println!(
            "  JWT HS256 verification alone (Verifier::verify, load core): {us:.1} µs per token"
        );
    }
    let label = Target::WsauthRaw.label();
    let clean = |s: &Summary| {
        let kept: Vec<Throughput> = s
            .rounds
            .iter()
            .filter(|r| r.other_busy() < CLEAN_OTHER_PERCENT)
            .cloned()
            .collect();
        if kept.is_empty() {
            s.clone()
        } else {
            Summary { rounds: kept }
        }
    };
    if let Some(h) = raw.handshake.as_ref().map(clean) {
        println!(
            "  {label} (anonymous, no welcome) handshakes/s: {:.0}, server CPU µs per handshake {:.1} (CPU % {:.0}/{:.0}/{:.0})",
            h.rate(),
            h.server_us_per_op(),
            h.server_busy(),
            h.load_busy(),
            h.other_busy()
        );
    }
    if let Some(e) = raw.echo.as_ref().map(clean) {
        println!(
            "  {label} round trips/s: {:.0}, server CPU µs per round trip {:.1} (CPU % {:.0}/{:.0}/{:.0})",
            e.rate(),
            e.server_us_per_op(),
            e.server_busy(),
            e.load_busy(),
            e.other_busy()
        );
    }
    if let Some(m) = &raw.memory {
        print!(
            "  {label} idle connection: {:.0} RSS bytes",
            m.per_connection()
        );
        if let Some(h) = m.heap_per_connection() {
            print!(", {h:.0} live heap bytes");
        }
        println!();
    }
    if let Some(a) = &raw.allocations {
        println!(
            "  {label} allocations per handshake {:.1}, per round trip {:.1}",
            a.per_handshake, a.per_round_trip
        );
    }
}

/// The cost of a topic subscription, under the memory table.
fn report_subscriptions(s: &subscriptions::SubscriptionMemory) {
    let heap = |h: Option<f64>| h.map_or(String::new(), |h| format!(", {h:.0} live heap bytes"));
    let (rss, live) = s.per_connection();
    println!(
        "topic subscriptions (bench/fanout.yaml, one `feed` instance, {} subscribers):",
        s.connections
    );
    println!(
        "  idle connection on /ws/feed, not subscribed: {rss:.0} RSS bytes{}",
        heap(live)
    );
    let (rss, live) = s.per_subscription();
    println!("  per subscription: {rss:.0} RSS bytes{}", heap(live));
    match s.instance() {
        Some(bytes) => println!(
            "  the instance itself (shared by its subscribers): {bytes:.0} live heap bytes"
        ),
        None => println!("  the instance itself: counted in `--features count-allocs` builds"),
    }
}

fn bench(args: &BenchArgs) -> Result<(), String> {
    let phases: Vec<Phase> = if args.only.is_empty() {
        vec![Phase::Handshake, Phase::Echo, Phase::Memory]
    } else {
        args.only.clone()
    };
    let allowed: Vec<usize> = core_affinity::get_core_ids()
        .unwrap_or_default()
        .into_iter()
        .map(|c| c.id)
        .collect();
    let two = allowed.len() > 1;
    let server_core = args
        .server_core
        .or_else(|| allowed.first().copied().filter(|_| two));
    let load_core = args.load_core.or_else(|| allowed.get(1).copied());
    match (server_core, load_core) {
        (Some(s), Some(l)) => eprintln!("servers pinned to core {s}, load generator to core {l}"),
        _ => eprintln!("warning: fewer than two cores allowed ({allowed:?}); nothing is pinned"),
    }

    let mut args = args.clone();
    let limit = usize::try_from(raise_fd_limit()).unwrap_or(usize::MAX);
    let needed = args
        .idle_connections
        .max(args.echo_connections)
        .max(args.subscribers)
        + 256;
    if limit < needed {
        let fewer = limit.saturating_sub(256);
        eprintln!(
            "warning: the open-files limit is {limit}; using {fewer} connections instead of {}",
            args.idle_connections
        );
        args.idle_connections = fewer;
        args.echo_connections = args.echo_connections.min(fewer);
    }

    let secret = throwaway_secret()?;
    let users = args.idle_connections.max(args.subscribers).max(1000);
    let tokens = mint_tokens(&secret, users + 20)?;
    if let Some(core) = load_core {
        pin_to(core)?;
    }
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| format!("runtime: {e}"))?;
    let message: Arc<str> =
        serde_json::json!({ "type": "echo", "payload": "x".repeat(args.payload_bytes) })
            .to_string()
            .into();
    let say = echo::endpoints::typed::Outgoing::from(echo::messages::Say {
        payload: "x".repeat(args.payload_bytes),
    });
    let typed_message: Arc<str> = serde_json::to_string(&say)
        .map_err(|e| format!("the typed echo's message: {e}"))?
        .into();
    let plan = Plan {
        args: &args,
        phases: &phases,
        server_core,
        secret: &secret,
        tokens: &tokens,
        message,
        typed_message,
    };
    let targets: &[Target] = if args.diagnostics {
        &[
            Target::Bare,
            Target::Wsauth,
            Target::WsauthQuiet,
            Target::WsauthTyped,
            Target::WsauthRaw,
        ]
    } else {
        &[
            Target::Bare,
            Target::Wsauth,
            Target::WsauthQuiet,
            Target::WsauthTyped,
        ]
    };
    let (measured, verify_us, subscribed) = runtime.block_on(async {
        let mut measured = vec![Measured::default(); targets.len()];
        if plan.wants(Phase::Handshake) || plan.wants(Phase::Echo) {
            for round in 0..args.rounds.max(1) {
                if args.rounds > 1 {
                    eprintln!("round {} of {}", round + 1, args.rounds);
                }
                for (target, m) in targets.iter().zip(&mut measured) {
                    if !plan.wants(Phase::Echo) && !target.handshakes() {
                        continue;
                    }
                    let (handshake, echo) = plan.throughput(*target).await?;
                    let runs = [
                        ("handshakes", &mut m.handshake, handshake),
                        ("round trips", &mut m.echo, echo),
                    ];
                    for (what, kept, new) in runs {
                        if let Some(new) = new {
                            if args.rounds > 1 {
                                eprintln!(
                                    "  {} {what}: {:.0}/s, {:.1} µs server CPU per op, CPU % {:.0}/{:.0}/{:.0}",
                                    target.label(),
                                    new.rate(),
                                    new.server_us_per_op(),
                                    new.server_busy(),
                                    new.load_busy(),
                                    new.other_busy()
                                );
                            }
                            kept.get_or_insert_with(Summary::default).rounds.push(new);
                        }
                    }
                }
            }
        }
        // The audit log keeps nothing per connection, and the typed
        // endpoint's connection is the untyped one's: no memory or
        // allocation runs for either.
        let logged = |(target, _): &(&Target, &mut Measured)| {
            !matches!(**target, Target::WsauthQuiet | Target::WsauthTyped)
        };
        let mut subscribed = None;
        if plan.wants(Phase::Memory) {
            for (target, m) in targets.iter().zip(&mut measured).filter(logged) {
                plan.memory(*target, m).await?;
            }
            subscribed =
                Some(subscriptions::measure(&args, server_core, &secret, &tokens).await?);
        }
        let mut verify_us = None;
        if args.diagnostics {
            for (target, m) in targets.iter().zip(&mut measured).filter(logged) {
                plan.allocations(*target, m).await?;
            }
            verify_us = Some(verify_cost(&secret, &tokens).await?);
        }
        Ok::<_, String>((measured, verify_us, subscribed))
    })?;
    let compared = [Phase::Handshake, Phase::Echo, Phase::Memory];
    if compared.iter().any(|p| phases.contains(p)) {
        let compared = Compared {
            wsauth: &measured[1],
            quiet: &measured[2],
            typed: &measured[3],
        };
        report(&args, &measured[0], &compared);
    }
    if let Some(s) = &subscribed {
        report_subscriptions(s);
    }
    if args.diagnostics {
        report_diagnostics(&measured[4], verify_us);
    }
    let fanout_setup = || fanout::Setup {
        subscribers: args.subscribers,
        rate: args.publish_rate,
        payload_bytes: args.payload_bytes,
        warmup: Duration::from_secs_f64(args.warmup_s),
        window: Duration::from_secs_f64(args.fanout_duration_s),
        server_core,
        // A core of its own when there is a third, else the load's.
        second_core: allowed
            .get(2)
            .copied()
            .filter(|_| args.server_core.is_none())
            .or(load_core),
        tokens: &tokens,
        node: &args.node,
        node_modules: args.node_modules.clone().unwrap_or_else(|| {
            std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../js/node_modules")
        }),
        saturation: (!args.no_saturation).then(|| fanout::Saturation {
            start: args.saturation_start_rate,
            factor: args.saturation_factor.max(1.05),
            max_rate: args.saturation_max_rate,
            window: Duration::from_secs_f64(args.saturation_window_s),
            max_p99: Duration::from_secs_f64(args.saturation_p99_ms / 1000.0),
        }),
    };
    if phases.contains(&Phase::Fanout) {
        runtime.block_on(fanout::run(&fanout_setup(), &secret, args.rounds))?;
    }
    if phases.contains(&Phase::Cluster) {
        runtime.block_on(cluster::run(&plan, &fanout_setup()))?;
    }
    if phases.contains(&Phase::Callgrind) {
        runtime.block_on(callgrind::run(&plan))?;
    }
    Ok(())
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match &cli.command {
        Some(Cmd::Serve(serve)) => servers::run(serve),
        None => bench(&cli.bench),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("wsauth-bench: error: {e}");
            ExitCode::FAILURE
        }
    }
}
