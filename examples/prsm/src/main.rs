//! `prsm`: the prsm example server.
//!
//! ```text
//! WSAUTH_JWT_SECRET=$(openssl rand -hex 32) cargo run -p prsm -- --addr 127.0.0.1:8000
//! ```

use std::io::IsTerminal;
use std::net::SocketAddr;
use std::process::ExitCode;

use clap::Parser;
use tracing_subscriber::EnvFilter;

/// The environment variable holding the HS256 secret.
const SECRET_VAR: &str = "WSAUTH_JWT_SECRET";

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
}

fn main() -> ExitCode {
    let args = Args::parse();
    init_logging(args.log_json);
    match run(args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("prsm: error: {message}");
            ExitCode::FAILURE
        }
    }
}

/// Logs to stderr, `info` and up unless `RUST_LOG` says otherwise (colours
/// only on a terminal); audit events have target `wsauth::audit`.
fn init_logging(json: bool) {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(std::io::stderr().is_terminal())
        .with_writer(std::io::stderr);
    if json {
        builder.json().init();
    } else {
        builder.init();
    }
}

fn run(args: Args) -> Result<(), String> {
    let secret = match std::env::var(SECRET_VAR) {
        Ok(secret) => secret,
        Err(std::env::VarError::NotPresent) => {
            return Err(format!(
                "{SECRET_VAR} is not set; set it to an HS256 secret of at least 32 bytes"
            ));
        }
        Err(std::env::VarError::NotUnicode(_)) => {
            return Err(format!("{SECRET_VAR} is not valid UTF-8"));
        }
    };
    let mut config = prsm::Config::new(secret.into_bytes());
    if !args.allow_origin.is_empty() {
        config.allowed_origins = args.allow_origin;
    }
    let origins = config.allowed_origins.join(", ");
    let (router, server) = prsm::app(config).map_err(|e| match e {
        prsm::AppError::Jwt(e) => format!("{SECRET_VAR} refused: {e}"),
        e => e.to_string(),
    })?;
    let runtime = tokio::runtime::Runtime::new().map_err(|e| format!("tokio runtime: {e}"))?;
    runtime.block_on(async move {
        let listener = tokio::net::TcpListener::bind(args.addr)
            .await
            .map_err(|e| format!("cannot listen on {}: {e}", args.addr))?;
        let addr = listener.local_addr().unwrap_or(args.addr);
        tracing::info!(%addr, allowed_origins = %origins, "prsm listening");
        prsm::serve(listener, router, server, shutdown_signal())
            .await
            .map_err(|e| format!("server: {e}"))
    })
}

/// Ctrl-C, or SIGTERM on Unix.
async fn shutdown_signal() {
    let ctrl_c = async {
        if let Err(e) = tokio::signal::ctrl_c().await {
            tracing::error!("cannot listen for Ctrl-C: {e}");
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(e) => {
                tracing::error!("cannot listen for SIGTERM: {e}");
                std::future::pending::<()>().await;
            }
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {}
        () = terminate => {}
    }
}
