//! `--metrics ADDR` for every example binary: Prometheus metrics
//! (`GET /metrics`, see `wsauth_core::Metrics`) on a listener of their own,
//! never on the public port, and not served at all without the flag.
//!
//! ```text
//! prsm --addr 0.0.0.0:8000 --metrics 127.0.0.1:9100
//! curl -s http://127.0.0.1:9100/metrics
//! ```
//!
//! The public port stays what clients may reach; the metrics address is
//! for the scraper (a loopback or private address, or one a firewall
//! keeps to the monitoring network). The text names endpoints, topics and
//! failure kinds, and counts what every client did: not for the world.

use std::net::SocketAddr;

use tokio::net::TcpListener;
use wsauth_core::WsAuth;

/// The metrics option of an example binary (`#[command(flatten)]`).
#[derive(Clone, Debug, clap::Args)]
pub struct MetricsArgs {
    /// Serve Prometheus metrics (`GET /metrics`) on this address, apart
    /// from the public one (`127.0.0.1:9100`, say; port 0 picks one);
    /// without it they are not served.
    #[arg(long = "metrics", env = "WSAUTH_METRICS_ADDR", value_name = "ADDR")]
    pub metrics: Option<SocketAddr>,
}

/// Serves `server`'s metrics on `addr` in a task of the current runtime,
/// logging `metrics listening` with the bound address. Errors are messages
/// for the operator (`cannot listen on ...`).
pub async fn serve_metrics(addr: SocketAddr, server: &WsAuth) -> Result<SocketAddr, String> {
    let listener = TcpListener::bind(addr)
        .await
        .map_err(|e| format!("cannot listen on {addr} for metrics: {e}"))?;
    let bound = listener.local_addr().unwrap_or(addr);
    let router: axum::Router = server.metrics().router();
    tokio::spawn(async move {
        if let Err(e) = axum::serve(listener, router).await {
            tracing::error!("metrics: {e}");
        }
    });
    tracing::info!(addr = %bound, "metrics listening");
    Ok(bound)
}
