//! `prsm`: the prsm example server.
//!
//! ```text
//! WSAUTH_JWT_SECRET=$(openssl rand -hex 32) cargo run -p prsm -- --addr 127.0.0.1:8000
//! ```

use std::net::SocketAddr;
use std::process::ExitCode;

use clap::Parser;
use wsauth_example_support as support;

/// PRSM's realtime API (notifications, AI conversations, web3 events) as a
/// wsauth server. The HS256 secret is read from WSAUTH_JWT_SECRET (at least
/// 32 bytes).
#[derive(Debug, Parser)]
#[command(version)]
struct Args {
    /// Address to listen on.
    #[arg(long, default_value = "127.0.0.1:8000")]
    addr: SocketAddr,
    /// An origin browsers may connect from, exactly `scheme://host[:port]`
    /// (repeatable). Default: http://127.0.0.1:8000 and http://localhost:8000.
    #[arg(long = "allow-origin", value_name = "URL")]
    allow_origin: Vec<String>,
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
    support::init_logging(args.log_json);
    support::exit_code("prsm", run(args))
}

fn run(args: Args) -> Result<(), String> {
    let mut config = prsm::Config::new(support::secret_from_env()?);
    config.cluster = args.cluster.config();
    if !args.allow_origin.is_empty() {
        config.allowed_origins = args.allow_origin;
    }
    let origins = config.allowed_origins.join(", ");
    let (router, server) = prsm::app(config).map_err(|e| e.for_operator())?;
    support::run_until_shutdown(args.addr, args.metrics.metrics, router, server, |addr| {
        tracing::info!(%addr, allowed_origins = %origins, "prsm listening");
    })
}
