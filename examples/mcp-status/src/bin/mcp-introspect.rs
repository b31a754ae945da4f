//! `mcp-introspect`: the example's RFC 7662 token-introspection service
//! (see `mcp_status::introspect`).
//!
//! ```text
//! WSAUTH_JWT_SECRET=... mcp-introspect --addr 127.0.0.1:8001 --inactive-user bob
//! curl -s -d token=$TOKEN http://127.0.0.1:8001/introspect
//! curl -s -d token=$TOKEN http://127.0.0.1:8001/revoke
//! ```
//!
//! Without `--client-id` both routes are open to any caller (a warning at
//! start says so); with it, both require the client credentials.
//!
//! Prints `listening on http://ADDR` once bound. Configuration errors exit
//! with status 2.

use std::net::SocketAddr;
use std::process::ExitCode;

use clap::Parser;
use mcp_status::IntrospectionService;
use wsauth_example_support as support;

/// Answers `POST /introspect` (RFC 7662) for tokens signed with the HS256
/// secret in WSAUTH_JWT_SECRET, and `POST /revoke` (RFC 7009).
#[derive(Debug, Parser)]
#[command(name = "mcp-introspect", version, about)]
struct Args {
    /// Address to listen on (`127.0.0.1:0` picks a free port).
    #[arg(long, default_value = "127.0.0.1:8001")]
    addr: SocketAddr,
    /// A user whose tokens are inactive (repeatable).
    #[arg(long = "inactive-user", value_name = "SUBJECT")]
    inactive_users: Vec<String>,
    /// Require callers to authenticate as this client (HTTP Basic); the
    /// secret is read from WSAUTH_INTROSPECTION_CLIENT_SECRET.
    #[arg(long, value_name = "ID")]
    client_id: Option<String>,
    /// Log as JSON lines instead of text.
    #[arg(long)]
    log_json: bool,
}

fn main() -> ExitCode {
    let args = Args::parse();
    let service = match service(&args) {
        Ok(service) => service,
        Err(message) => {
            eprintln!("mcp-introspect: error: {message}");
            return ExitCode::from(2);
        }
    };
    support::init_logging(args.log_json);
    if !service.requires_client() {
        tracing::warn!(
            "no --client-id: any caller may introspect tokens, and revoke the valid tokens it holds"
        );
    }
    for user in &args.inactive_users {
        service.deactivate_user(user);
    }
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(runtime) => runtime,
        Err(e) => {
            eprintln!("mcp-introspect: error: cannot start the runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let result = runtime.block_on(async move {
        let listener = tokio::net::TcpListener::bind(args.addr)
            .await
            .map_err(|e| format!("cannot listen on {}: {e}", args.addr))?;
        let addr = listener.local_addr().unwrap_or(args.addr);
        println!("listening on http://{addr}");
        tracing::info!(%addr, "mcp-introspect listening");
        axum::serve(listener, service.router())
            .with_graceful_shutdown(support::shutdown_signal())
            .await
            .map_err(|e| format!("server: {e}"))
    });
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("mcp-introspect: error: {message}");
            ExitCode::FAILURE
        }
    }
}

fn service(args: &Args) -> Result<IntrospectionService, String> {
    let secret = support::secret_from_env()?;
    let service = match &args.client_id {
        None => IntrospectionService::new(&secret),
        Some(id) => {
            let client_secret = std::env::var(mcp_status::CLIENT_SECRET_ENV).map_err(|_| {
                format!(
                    "--client-id needs {} to be set",
                    mcp_status::CLIENT_SECRET_ENV
                )
            })?;
            IntrospectionService::require_client(&secret, id.clone(), client_secret)
        }
    };
    service.map_err(|e| e.to_string())
}
