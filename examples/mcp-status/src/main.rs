//! `mcp-status`: serves `specs/mcp-status.yaml` (see the library docs).
//!
//! ```text
//! export WSAUTH_JWT_SECRET=$(head -c 32 /dev/urandom | base64)
//! mcp-introspect --addr 127.0.0.1:8001 &
//! mcp-status --addr 127.0.0.1:8000 --introspection-url http://127.0.0.1:8001/introspect
//! ```
//!
//! Prints `listening on ws://ADDR` once bound (with `--addr 127.0.0.1:0` the
//! port the OS chose). Configuration errors exit with status 2.

use std::net::SocketAddr;
use std::process::ExitCode;
use std::time::Duration;

use clap::Parser;
use wsauth_example_support as support;

/// Live MCP server status over `/ws/mcp-status` (roles admin, developer and
/// dba). The HS256 secret is read from WSAUTH_JWT_SECRET (at least 32
/// bytes).
#[derive(Debug, Parser)]
#[command(name = "mcp-status", version, about)]
struct Args {
    /// Address to listen on (`127.0.0.1:0` picks a free port).
    #[arg(long, default_value = "127.0.0.1:8000")]
    addr: SocketAddr,
    /// RFC 7662 token-introspection endpoint (https, or http to a loopback
    /// address). Without it tokens are verified locally only; with it, they
    /// are verified locally only while the service cannot be reached.
    #[arg(long, value_name = "URL")]
    introspection_url: Option<String>,
    /// Client id for the introspection service (HTTP Basic); its secret is
    /// read from WSAUTH_INTROSPECTION_CLIENT_SECRET.
    #[arg(long, value_name = "ID", requires = "introspection_url")]
    introspection_client_id: Option<String>,
    /// Time limit for one introspection request, in milliseconds.
    #[arg(long, default_value_t = 3000)]
    introspection_timeout_ms: u64,
    /// How long an "active" introspection answer is remembered, in
    /// milliseconds: the longest a revocation takes to reach a new
    /// handshake (0: ask the service every time).
    #[arg(long, default_value_t = 5000)]
    introspection_cache_ms: u64,
    /// An origin browsers may connect from, exactly `scheme://host[:port]`
    /// (repeatable). Default: any (tokens never travel in cookies).
    #[arg(long = "allow-origin", value_name = "URL")]
    allow_origin: Vec<String>,
    /// Simulate a status change every this many seconds (0: never).
    #[arg(long, default_value_t = 10)]
    simulate_every: u64,
    /// Log as JSON lines instead of text.
    #[arg(long)]
    log_json: bool,
    #[command(flatten)]
    cluster: support::ClusterArgs,
    #[command(flatten)]
    metrics: support::MetricsArgs,
}

fn main() -> ExitCode {
    let args = Args::parse();
    let config = match config(&args) {
        Ok(config) => config,
        Err(message) => {
            eprintln!("mcp-status: error: {message}");
            return ExitCode::from(2);
        }
    };
    support::init_logging(args.log_json);
    let board = config.board.clone();
    let (router, server) = match mcp_status::app(config) {
        Ok(app) => app,
        Err(e) => {
            eprintln!("mcp-status: error: {e}");
            return ExitCode::from(2);
        }
    };
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(runtime) => runtime,
        Err(e) => {
            eprintln!("mcp-status: error: cannot start the runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let result = runtime.block_on(async move {
        let listener = tokio::net::TcpListener::bind(args.addr)
            .await
            .map_err(|e| format!("cannot listen on {}: {e}", args.addr))?;
        let addr = listener.local_addr().unwrap_or(args.addr);
        if let Some(metrics) = args.metrics.metrics {
            support::metrics::serve_metrics(metrics, &server).await?;
        }
        println!("listening on ws://{addr}");
        tracing::info!(%addr, introspection = args.introspection_url.as_deref().unwrap_or("off"), "mcp-status listening");
        let simulation =
            (args.simulate_every > 0).then(|| board.simulate(Duration::from_secs(args.simulate_every)));
        let served = mcp_status::serve(listener, router, server, support::shutdown_signal())
            .await
            .map_err(|e| format!("server: {e}"));
        if let Some(simulation) = simulation {
            simulation.abort();
        }
        served
    });
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("mcp-status: error: {message}");
            ExitCode::FAILURE
        }
    }
}

/// The app's configuration from the arguments and the environment.
fn config(args: &Args) -> Result<mcp_status::Config, String> {
    let mut config = mcp_status::Config::new(support::secret_from_env()?);
    config.cluster = args.cluster.config();
    config.allowed_origins.clone_from(&args.allow_origin);
    if let Some(url) = &args.introspection_url {
        let mut introspection = mcp_status::IntrospectionConfig::new(url);
        introspection.timeout = Duration::from_millis(args.introspection_timeout_ms);
        introspection.cache_active_for = Duration::from_millis(args.introspection_cache_ms);
        if let Some(id) = &args.introspection_client_id {
            let secret = std::env::var(mcp_status::CLIENT_SECRET_ENV).map_err(|_| {
                format!(
                    "--introspection-client-id needs {} to be set",
                    mcp_status::CLIENT_SECRET_ENV
                )
            })?;
            introspection.client = Some((id.clone(), secret));
        }
        config.introspection = Some(introspection);
    }
    Ok(config)
}
