//! `reflections`: the reflections example server.
//!
//! ```text
//! WSAUTH_JWT_SECRET=$(openssl rand -hex 32) cargo run -p reflections -- --addr 127.0.0.1:8000
//! ```

use std::net::SocketAddr;
use std::process::ExitCode;
use std::time::Duration;

use clap::Parser;
use wsauth_example_support as support;

/// A journal's AI reflections, streamed token by token to each entry's
/// owner, as a wsauth server. The HS256 secret is read from
/// WSAUTH_JWT_SECRET (at least 32 bytes).
#[derive(Debug, Parser)]
#[command(version)]
struct Args {
    /// Address to listen on.
    #[arg(long, default_value = "127.0.0.1:8000")]
    addr: SocketAddr,
    /// An origin browsers may connect from, exactly `scheme://host[:port]`
    /// (repeatable). Default: any origin (tokens never travel in cookies).
    #[arg(long = "allow-origin", value_name = "URL")]
    allow_origin: Vec<String>,
    /// Pause between tokens, in milliseconds.
    #[arg(long, value_name = "MS", default_value_t = 40)]
    token_interval_ms: u64,
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
    support::exit_code("reflections", run(args))
}

fn run(args: Args) -> Result<(), String> {
    let mut config = reflections::Config::new(support::secret_from_env()?);
    config.cluster = args.cluster.config();
    config.allowed_origins = args.allow_origin;
    config.token_interval = Duration::from_millis(args.token_interval_ms);
    let origins = if config.allowed_origins.is_empty() {
        "any".to_owned()
    } else {
        config.allowed_origins.join(", ")
    };
    let (router, server) = reflections::app(config).map_err(|e| e.for_operator())?;
    support::run_until_shutdown(args.addr, args.metrics.metrics, router, server, |addr| {
        tracing::info!(%addr, allowed_origins = %origins, "reflections listening");
    })
}
