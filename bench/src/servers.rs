//! The servers under test, each run as its own process (`wsauth-bench serve`)
//! so that CPU pinning, CPU time and resident memory are per server.
//!
//! - `bare`: a tuned axum echo without authentication. The upgrade uses
//!   wsauth's handshake's read settings (4 KiB read buffer, the echo spec's
//!   16 MiB message and frame limits) and writes each reply at once (no
//!   write buffer; wsauth buffers what its send queue holds and flushes once
//!   it is empty, the same single write for one reply in flight); the
//!   handler echoes text and binary frames and nothing else. It answers on
//!   the same path as wsauth (`/ws/echo/{user_id}`) and ignores the token, so
//!   both servers get byte-identical requests.
//! - `wsauth`: the echo example's app (`echo::app`), unchanged: JWT HS256
//!   verification, user look-up (every subject active), permission, the
//!   per-user connection limit, the welcome, the connection loop. Its
//!   `echo` endpoint (untyped handler) and `typed` endpoint (a
//!   `#[ws_endpoint]` over the spec's types) are both measured.
//! - `fanout`: `bench/fanout.yaml` (see `fanout/wsauth.rs`), whose
//!   publisher starts when a `publish` line arrives on standard input.
//!
//! Both listen on `127.0.0.1:0` with `TCP_NODELAY` and are served by
//! `axum::serve` with connect info. wsauth's audit events go where
//! `--audit-log` says ([`AuditMode`]): by default as JSON lines through an
//! `AuditLog` into `std::io::sink()`, as a production deployment writes
//! them (paying for everything but the write itself).
//! The process prints `listening ADDR` and runs until its standard input
//! closes (the benchmark holds the other end). A `stats` line on standard
//! input is answered with `stats LIVE_HEAP_BYTES ALLOCATIONS` when the
//! benchmark was built with the `count-allocs` feature, `stats -` otherwise;
//! a `publish` line starts the `fanout` server's publisher.

use std::io::BufRead;
use std::net::SocketAddr;

use axum::Router;
use axum::extract::ws::{Message, WebSocket, WebSocketUpgrade};
use axum::response::Response;
use axum::routing::get;
use axum::serve::ListenerExt;
use wsauth_core::Topics;

/// The echo spec's `max_message_bytes`, which wsauth also uses as the frame limit.
pub(crate) const MAX_MESSAGE_BYTES: usize = 16 * 1024 * 1024;

/// Which server a process runs.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub(crate) enum Kind {
    /// Tuned bare axum echo, no authentication.
    Bare,
    /// The wsauth echo example.
    Wsauth,
    /// The fan-out spec's server and its publisher.
    Fanout,
}

/// Where a wsauth server's audit events go.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, clap::ValueEnum)]
pub(crate) enum AuditMode {
    /// JSON lines through `Builder::audit(AuditLog::json_lines(sink))`:
    /// the production configuration, and the headline figure.
    #[default]
    JsonLines,
    /// JSON through `tracing-subscriber`'s formatter into a sink: how the
    /// examples logged them before `AuditLog`, for comparison.
    Tracing,
    /// Nowhere: `tracing` events with no subscriber, built and dropped.
    Off,
}

impl AuditMode {
    /// The `--audit-log` word.
    pub(crate) fn word(self) -> &'static str {
        match self {
            AuditMode::JsonLines => "json-lines",
            AuditMode::Tracing => "tracing",
            AuditMode::Off => "off",
        }
    }
}

/// What the load generator talks to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Target {
    /// The bare echo; ready after one echo.
    Bare,
    /// wsauth's authenticated `/ws/echo/{user}?token=`; ready after the
    /// welcome. Its audit events go where the benchmark's `--audit-log` says.
    Wsauth,
    /// [`Target::Wsauth`] with the audit log off.
    WsauthQuiet,
    /// wsauth's `/ws/typed/{user}?token=`: the same server, the endpoint
    /// whose handler decodes into the spec's types; measured for round
    /// trips only (its handshake is [`Target::Wsauth`]'s).
    WsauthTyped,
    /// wsauth's anonymous `/ws/raw` (no token, no welcome); ready after one
    /// echo. A diagnostic: the framework without authentication.
    WsauthRaw,
}

impl Target {
    pub(crate) fn label(self) -> &'static str {
        match self {
            Target::Bare => "bare axum",
            Target::Wsauth => "wsauth",
            Target::WsauthQuiet => "wsauth, audit log off",
            Target::WsauthTyped => "wsauth typed echo",
            Target::WsauthRaw => "wsauth /ws/raw",
        }
    }

    pub(crate) fn kind(self) -> Kind {
        match self {
            Target::Bare => Kind::Bare,
            Target::Wsauth | Target::WsauthQuiet | Target::WsauthTyped | Target::WsauthRaw => {
                Kind::Wsauth
            }
        }
    }

    /// Whether the handshake phase measures it (the typed echo's
    /// handshake is the untyped one's, so only its round trips are).
    pub(crate) fn handshakes(self) -> bool {
        self != Target::WsauthTyped
    }

    /// Where its server's audit events go, `configured` being the
    /// benchmark's `--audit-log`.
    pub(crate) fn audit(self, configured: AuditMode) -> AuditMode {
        match self {
            Target::WsauthQuiet => AuditMode::Off,
            _ => configured,
        }
    }
}

/// `serve` options.
#[derive(Debug, clap::Args)]
pub(crate) struct ServeArgs {
    /// The server to run.
    #[arg(long, value_enum)]
    pub(crate) kind: Kind,
    /// Pin the process to this core (an index into the allowed cores).
    #[arg(long)]
    pub(crate) core: Option<usize>,
    /// Tokio worker threads.
    #[arg(long, default_value_t = 1)]
    pub(crate) workers: usize,
    /// Where wsauth's audit events go.
    #[arg(long, value_enum, default_value_t)]
    pub(crate) audit_log: AuditMode,
    /// `fanout`: publications per second once publishing starts.
    #[arg(long, default_value_t = 100.0)]
    pub(crate) publish_rate: f64,
    /// `fanout`: data bytes in each publication.
    #[arg(long, default_value_t = 64)]
    pub(crate) payload_bytes: usize,
    /// `wsauth`, `fanout`: join the cluster on this Redis
    /// (`redis://host:port`): every handshake takes its per-user slot
    /// there, and publications go through it to every node.
    #[arg(long)]
    pub(crate) redis: Option<String>,
}

/// The bare echo's upgrade handler.
async fn bare_upgrade(upgrade: WebSocketUpgrade) -> Response {
    upgrade
        .read_buffer_size(4096)
        .write_buffer_size(0)
        .max_message_size(MAX_MESSAGE_BYTES)
        .max_frame_size(MAX_MESSAGE_BYTES)
        .on_upgrade(bare_echo)
}

async fn bare_echo(mut socket: WebSocket) {
    while let Some(Ok(message)) = socket.recv().await {
        if matches!(message, Message::Text(_) | Message::Binary(_))
            && socket.send(message).await.is_err()
        {
            break;
        }
    }
}

/// The server's router, and for `fanout` the handle its publisher uses.
/// Called inside the server's runtime (a cluster node's tasks run there).
fn router(
    kind: Kind,
    redis: Option<&str>,
    audit: AuditMode,
) -> Result<(Router, Option<Topics>), String> {
    let secret =
        || std::env::var(echo::SECRET_ENV).map_err(|_| format!("{} is not set", echo::SECRET_ENV));
    match kind {
        Kind::Bare => Ok((
            Router::new().route("/ws/echo/{user_id}", get(bare_upgrade)),
            None,
        )),
        Kind::Wsauth => {
            let cluster = redis.map(|url| wsauth_core::ClusterConfig::new(url.to_owned()));
            let log = match audit {
                AuditMode::JsonLines => Some(
                    wsauth_core::AuditLog::json_lines(std::io::sink())
                        .map_err(|e| format!("audit log: {e}"))?,
                ),
                AuditMode::Tracing | AuditMode::Off => None,
            };
            let server = echo::server_with(secret()?.as_bytes(), echo::Users::any(), |builder| {
                let builder = wsauth_example_support::cluster::clustered(builder, cluster);
                match log {
                    Some(log) => builder.audit(log),
                    None => builder,
                }
            })
            .map_err(|e| e.to_string())?;
            let router = server.router();
            if redis.is_some() {
                ready(&server)?;
            }
            Ok((router, None))
        }
        Kind::Fanout => {
            let (router, server) = crate::fanout::wsauth::app(&secret()?, redis)?;
            if redis.is_some() {
                ready(&server)?;
            }
            Ok((router, Some(server.topics())))
        }
    }
}

/// Waits (at most 10 s) until a cluster node reaches its Redis.
fn ready(server: &wsauth_core::WsAuth) -> Result<(), String> {
    for _ in 0..500 {
        if server.cluster_ready() {
            return Ok(());
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    Err("the cluster node did not reach its redis".to_owned())
}

/// Runs a server until standard input closes.
pub(crate) fn run(args: &ServeArgs) -> Result<(), String> {
    if let Some(core) = args.core {
        crate::pin_to(core)?;
    }
    crate::raise_fd_limit();
    if args.audit_log == AuditMode::Tracing {
        tracing_subscriber::fmt()
            .json()
            .with_writer(std::io::sink)
            .init();
    }
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(args.workers.max(1))
        .enable_all()
        .build()
        .map_err(|e| format!("runtime: {e}"))?;
    let (app, topics) = {
        let _inside = runtime.enter();
        router(args.kind, args.redis.as_deref(), args.audit_log)?
    };
    // Answer `stats` requests, start the publisher on `publish`; exit when
    // the benchmark closes our standard input (or dies).
    let runtime_handle = runtime.handle().clone();
    let (rate, bytes) = (args.publish_rate, args.payload_bytes);
    let mut publisher = topics;
    std::thread::spawn(move || {
        let mut line = String::new();
        let mut stdin = std::io::stdin().lock();
        while stdin.read_line(&mut line).is_ok_and(|n| n > 0) {
            match line.trim() {
                "stats" => match crate::heap_stats() {
                    Some((live, allocations)) => println!("stats {live} {allocations}"),
                    None => println!("stats -"),
                },
                "publish" => {
                    if let Some(topics) = publisher.take() {
                        runtime_handle.spawn(crate::fanout::wsauth::publish(topics, rate, bytes));
                    }
                }
                _ => {}
            }
            line.clear();
        }
        std::process::exit(0);
    });
    runtime.block_on(async move {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .map_err(|e| format!("bind: {e}"))?;
        let addr = listener.local_addr().map_err(|e| format!("bind: {e}"))?;
        println!("listening {addr}");
        let listener = listener.tap_io(|tcp| {
            let _ = tcp.set_nodelay(true);
        });
        axum::serve(
            listener,
            app.into_make_service_with_connect_info::<SocketAddr>(),
        )
        .await
        .map_err(|e| format!("serve: {e}"))
    })
}
