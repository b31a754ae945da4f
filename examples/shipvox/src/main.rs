//! `shipvox`: the shipvox example server.
//!
//! ```text
//! WSAUTH_JWT_SECRET=$(openssl rand -hex 32) cargo run -p shipvox -- --addr 127.0.0.1:8000
//! ```

use std::net::SocketAddr;
use std::process::ExitCode;

use clap::Parser;
use wsauth_example_support as support;

/// ShipVox's broadcast channel as a wsauth server: `POST /token` (OAuth2
/// password grant) and `/ws?token=` (every message relayed to everyone).
/// The HS256 secret is read from WSAUTH_JWT_SECRET (at least 32 bytes).
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
    /// DEVELOPMENT ONLY: mint a token for USER (default `user`, the ShipVox
    /// document's account) that never expires, accept it until this
    /// process stops, print it and serve it at GET /test-token.
    #[arg(long, value_name = "USER", num_args = 0..=1, default_missing_value = "user")]
    dev_token: Option<String>,
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
    support::exit_code("shipvox", run(args))
}

/// The banner `--dev-token` prints to stderr before anything else.
fn dev_banner(user: &str, token: &str) -> String {
    let rule = "!".repeat(78);
    format!(
        "{rule}\n\
         !! WARNING: DEVELOPMENT MODE (--dev-token)\n\
         !! This server accepts a token for `{user}` that NEVER EXPIRES, until it stops.\n\
         !! Anyone who sees it can connect as `{user}`. Never use --dev-token in production.\n\
         !!\n\
         !! dev token: {token}\n\
         {rule}"
    )
}

fn run(args: Args) -> Result<(), String> {
    let mut config = shipvox::Config::new(support::secret_from_env()?);
    config.cluster = args.cluster.config();
    if !args.allow_origin.is_empty() {
        config.allowed_origins = Some(args.allow_origin);
    }
    config.dev_token = args.dev_token;
    let shipvox::App {
        router,
        server,
        dev_token,
        ..
    } = shipvox::app(config.clone()).map_err(|e| match e {
        shipvox::AppError::Jwt(e) => format!("{} refused: {e}", support::SECRET_ENV),
        e => e.to_string(),
    })?;
    if let (Some(user), Some(token)) = (&config.dev_token, &dev_token) {
        eprintln!("{}", dev_banner(user, token));
    }
    support::run_until_shutdown(args.addr, args.metrics.metrics, router, server, |addr| {
        tracing::info!(%addr, "shipvox listening");
    })
}
