//! What the example servers share, so each example is only its own app.
//!
//! Every example binary reads its HS256 secret from `WSAUTH_JWT_SECRET`,
//! logs to stderr (audit events have target `wsauth::audit`), and on Ctrl-C
//! or SIGTERM stops accepting, closes every open socket with 1001 and waits
//! for the close handshakes; and every example seeds the same users
//! ([`SeededUsers`]). None of this is the framework's business (an
//! application has its own configuration, logging and users), which is why
//! it lives here and not in `wsauth-core`.

pub mod cluster;
pub mod metrics;
#[cfg(feature = "testing")]
pub mod redis_server;
#[cfg(feature = "testing")]
pub mod seed_snippets;
#[cfg(feature = "testing")]
pub mod testing;
pub mod time;
pub mod users;

pub use cluster::ClusterArgs;
pub use metrics::MetricsArgs;
pub use users::SeededUsers;

use std::io::IsTerminal;
use std::net::SocketAddr;
use std::time::Duration;

use tokio::net::TcpListener;
use tracing_subscriber::EnvFilter;
use wsauth_core::WsAuth;

/// The environment variable holding the HS256 secret.
pub const SECRET_ENV: &str = "WSAUTH_JWT_SECRET";

/// Why an example's app could not be built; the server must not start.
/// (Examples that can fail in more ways have an error of their own.)
#[derive(Debug, thiserror::Error)]
pub enum AppError {
    /// The secret or the JWT settings were refused (a secret shorter than 32
    /// bytes, say).
    #[error("JWT configuration: {0}")]
    Jwt(#[from] wsauth_core::jwt::ConfigError),
    /// The server configuration does not match the spec, or an allowed
    /// origin is not `scheme://host[:port]` as browsers send it
    /// ([`BuildError::BadOrigin`](wsauth_core::BuildError::BadOrigin)).
    #[error("server configuration: {0}")]
    Build(#[from] wsauth_core::BuildError),
}

impl AppError {
    /// What the binary tells its operator: a refused secret names
    /// [`SECRET_ENV`], where it came from.
    pub fn for_operator(&self) -> String {
        match self {
            AppError::Jwt(e) => format!("{SECRET_ENV} refused: {e}"),
            e => e.to_string(),
        }
    }
}

/// The shortest HS256 secret the verifier accepts.
pub const MIN_SECRET_BYTES: usize = 32;

/// How long [`serve`] waits for open sockets to finish their close handshake.
pub const SHUTDOWN_GRACE: Duration = Duration::from_secs(5);

/// The HS256 secret from [`SECRET_ENV`], or a message saying what is wrong
/// (never the secret).
pub fn secret_from_env() -> Result<Vec<u8>, String> {
    let secret = match std::env::var(SECRET_ENV) {
        Ok(secret) => secret,
        Err(std::env::VarError::NotPresent) => {
            return Err(format!(
                "{SECRET_ENV} is not set; set it to an HS256 secret of at least {MIN_SECRET_BYTES} bytes"
            ));
        }
        Err(std::env::VarError::NotUnicode(_)) => {
            return Err(format!("{SECRET_ENV} is not valid UTF-8"));
        }
    };
    if secret.len() < MIN_SECRET_BYTES {
        return Err(format!(
            "{SECRET_ENV} is {} bytes; HS256 secrets must have at least {MIN_SECRET_BYTES}",
            secret.len()
        ));
    }
    Ok(secret.into_bytes())
}

/// Logs to stderr, `info` and up unless `RUST_LOG` says otherwise (colours
/// only on a terminal), as text or as JSON lines. The WebSocket library
/// stays at `info` whatever `RUST_LOG` says: below that it logs message
/// bodies, tokens included ([`QUIET_DEPENDENCIES`](wsauth_core::trace::QUIET_DEPENDENCIES)).
pub fn init_logging(json: bool) {
    let builder = tracing_subscriber::fmt()
        .with_env_filter(log_filter())
        .with_ansi(std::io::stderr().is_terminal())
        // A closed stderr (piped into `head`, say) must not take requests
        // down with it: tracing-subscriber would report the failed write
        // itself, through the same broken pipe.
        .log_internal_errors(false)
        .with_writer(std::io::stderr);
    if json {
        builder.json().init();
    } else {
        builder.init();
    }
}

/// `RUST_LOG`'s filter (`info` without it), with the WebSocket library held
/// at `info`.
pub fn log_filter() -> EnvFilter {
    let mut filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    for directive in wsauth_core::trace::QUIET_DEPENDENCIES {
        if let Ok(directive) = directive.parse() {
            filter = filter.add_directive(directive);
        }
    }
    filter
}

/// Serves `router` on `listener` with [`WsAuth::serve`] (header timeout,
/// connection caps in all and per client address) until `signal` completes,
/// then stops accepting, closes every open socket with 1001 and waits for
/// them (at most [`SHUTDOWN_GRACE`]). Audit events carry the peer address.
pub async fn serve(
    listener: TcpListener,
    router: axum::Router,
    server: WsAuth,
    signal: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    server.serve(listener, router, signal, SHUTDOWN_GRACE).await
}

/// Shows a secret in `Debug` output as its length only:
/// `.field("secret", &Redacted(&self.secret))` prints `<redacted 32 bytes>`.
pub struct Redacted<'a>(pub &'a [u8]);

impl std::fmt::Debug for Redacted<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "<redacted {} bytes>", self.0.len())
    }
}

/// What an example binary's `main` does once its app is built: on a new
/// Tokio runtime, listens on `addr`, serves the metrics on `metrics` when
/// given ([`metrics::serve_metrics`]), calls `listening` with the bound
/// address (to log it), and [`serve`]s until [`shutdown_signal`]. Errors
/// are messages for the user (`cannot listen on ...`, `server: ...`).
pub fn run_until_shutdown(
    addr: SocketAddr,
    metrics: Option<SocketAddr>,
    router: axum::Router,
    server: WsAuth,
    listening: impl FnOnce(SocketAddr),
) -> Result<(), String> {
    let runtime = tokio::runtime::Runtime::new().map_err(|e| format!("tokio runtime: {e}"))?;
    runtime.block_on(async move {
        let listener = TcpListener::bind(addr)
            .await
            .map_err(|e| format!("cannot listen on {addr}: {e}"))?;
        if let Some(metrics) = metrics {
            metrics::serve_metrics(metrics, &server).await?;
        }
        listening(listener.local_addr().unwrap_or(addr));
        serve(listener, router, server, shutdown_signal())
            .await
            .map_err(|e| format!("server: {e}"))
    })
}

/// The exit code for `result`, printing `<name>: error: <message>` on
/// failure.
pub fn exit_code(name: &str, result: Result<(), String>) -> std::process::ExitCode {
    match result {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("{name}: error: {message}");
            std::process::ExitCode::FAILURE
        }
    }
}

/// Ctrl-C, or SIGTERM on Unix.
pub async fn shutdown_signal() {
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
