//! `echo`: serves `specs/echo.yaml` (see the library docs).
//!
//! ```text
//! WSAUTH_JWT_SECRET=$(head -c 32 /dev/urandom | base64) echo --addr 127.0.0.1:8000
//! ```
//!
//! Prints `listening on ws://ADDR` once bound (with `--addr 127.0.0.1:0`
//! the port the OS chose), after `metrics on http://ADDR/metrics` when
//! `--metrics ADDR` serves the Prometheus metrics on a port of their own;
//! logs audit events as JSON lines on standard output (`RUST_LOG` filters
//! them, default `info`), and on SIGINT or SIGTERM closes open connections
//! with 1001 and exits.

use std::net::SocketAddr;
use std::process::ExitCode;
use std::time::Duration;

use clap::Parser;
use wsauth_example_support as support;

/// Serves the echo API: `/ws/echo/{user_id}?token=JWT` and `/ws/raw`.
#[derive(Debug, Parser)]
#[command(name = "echo", version, about)]
struct Args {
    /// Address to listen on (`127.0.0.1:0` picks a free port).
    #[arg(long, default_value = "127.0.0.1:8000")]
    addr: SocketAddr,
    /// Only these subjects are active (comma-separated); by default every
    /// subject holding a valid token is.
    #[arg(long, value_delimiter = ',')]
    users: Option<Vec<String>>,
    /// Grace period for open connections at shutdown, in seconds.
    #[arg(long, default_value_t = 5)]
    grace_s: u64,
    #[command(flatten)]
    cluster: support::ClusterArgs,
    #[command(flatten)]
    metrics: support::MetricsArgs,
}

fn main() -> ExitCode {
    let args = Args::parse();
    let secret = match support::secret_from_env() {
        Ok(secret) => secret,
        Err(message) => {
            eprintln!("echo: error: {message}");
            return ExitCode::from(2);
        }
    };
    tracing_subscriber::fmt()
        .json()
        .with_env_filter(support::log_filter())
        .init();
    let users = args
        .users
        .clone()
        .map_or_else(echo::Users::any, echo::Users::only);
    let (router, server) = match echo::app_in(&secret, users, args.cluster.config()) {
        Ok(app) => app,
        Err(e) => {
            eprintln!("echo: error: {e}");
            return ExitCode::from(2);
        }
    };
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(e) => {
            eprintln!("echo: error: cannot start the runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let grace = Duration::from_secs(args.grace_s);
    let result = runtime.block_on(async move {
        let listener = tokio::net::TcpListener::bind(args.addr).await?;
        if let Some(metrics) = args.metrics.metrics {
            let bound = support::metrics::serve_metrics(metrics, &server)
                .await
                .map_err(std::io::Error::other)?;
            println!("metrics on http://{bound}/metrics");
        }
        println!("listening on ws://{}", listener.local_addr()?);
        // Header timeout, connection caps, then a graceful shutdown.
        server
            .serve(listener, router, support::shutdown_signal(), grace)
            .await
    });
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("echo: error: {e}");
            ExitCode::FAILURE
        }
    }
}
