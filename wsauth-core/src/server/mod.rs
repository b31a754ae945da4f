//! Mounting a spec on axum: the builder, the router, the handshake.
//!
//! # Motivation
//!
//! Every WebSocket handshake runs the same stages in the same order (origin,
//! token, verification and revocation, path binding, user, permission,
//! connection limit, resource checks), each ending, when it fails, in one failure kind and so
//! in the spec's close code. Doing them here, once, is the point of wsauth:
//! handlers only ever see connections that passed all of them.
//!
//! A refused handshake is still upgraded, then closed at once with the
//! spec's code and generic reason: browsers cannot read the status of a
//! failed upgrade, only a close code, and clients act on the code. The one
//! exception is an `Origin` outside the allow-list, refused with HTTP 403
//! before the upgrade: another site's page gets no socket at all.
//!
//! The limits that come before any of this (header timeout, connections per
//! client address and in all) are the accept loop's, in [`WsAuth::serve`].
//!
//! Configuration mistakes (an endpoint without a handler, a cookie token
//! source without an origin allow-list, an allowed origin no browser could
//! ever send, a spec that needs tokens and a server with no way to verify
//! them) stop [`Builder::build`], not the first connection.
//!
//! Where things are: `builder.rs` ([`Builder`] and [`BuildError`]),
//! `origin.rs` (the origin allow-list and the shape of an `Origin`),
//! `admission.rs` (the handshake's checks, in order), `socket.rs` (the
//! upgrade, and the socket a connection runs on), `stats.rs` (the
//! statistics endpoint and its OpenAPI document; the Prometheus metrics
//! live in `crate::metrics`), `revocation.rs`
//! (disconnecting users and revoking tokens); the router, the
//! handshake and the running connection are here.

mod admission;
mod builder;
mod closing;
mod origin;
mod revocation;
mod socket;
mod stats;

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use axum::Router;
use axum::extract::{ConnectInfo, Request};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use http::header::{ORIGIN, USER_AGENT};
use wsauth_spec::FailureKind;

use crate::audit::{self, AuditContext, AuditLog, Refusal};
use crate::cluster::{Cluster, Revocations};
use crate::connection::{Connection, ConnectionContext, HandlerResult};
use crate::descriptor::{ApiDescriptor, EndpointDescriptor};
use crate::identity::Authenticator;
use crate::limits::{ConnectionLimiter, Leases};
use crate::listener::{self, Gate, ServerLimits};
use crate::metrics::{Meter, Metrics, Registry};
use crate::payload::Decode;
use crate::reject::Rejection;
use crate::session::Session;
use crate::state::AppState;
use crate::store::{BoxFuture, Checks, UserStore};
use crate::token;
use crate::topics::Topics;

pub(crate) use self::admission::canonical;
use self::admission::{Admitted, admit};
use self::builder::{Handler, Run};
use self::closing::Closing;
use self::origin::Origins;
use self::socket::Upgrade;

pub use self::builder::{BuildError, Builder, typed_handler};
pub(crate) use self::socket::Socket;
pub use self::stats::{EndpointStats, Stats, stats_openapi};

struct Shared {
    api: &'static ApiDescriptor,
    state: Arc<AppState>,
    authenticator: Option<Arc<dyn Authenticator>>,
    users: Option<Arc<dyn UserStore>>,
    checks: Option<Arc<dyn Checks>>,
    origins: Origins,
    limiter: Arc<ConnectionLimiter>,
    /// Anonymous connections, all endpoints together.
    anonymous: Arc<Leases<()>>,
    limits: ServerLimits,
    /// Where the audit events go instead of `tracing`, when configured.
    audit: Option<AuditLog>,
    /// Every counter: open connections per endpoint, and the refusals
    /// before authentication (audited by sampling) among them.
    metrics: Arc<Registry>,
    /// Every open connection, told when the server shuts down.
    closing: Closing,
    /// The broker every connection's subscriptions and every publication
    /// go through.
    topics: Topics,
    /// The node's side of the cluster (revocations, and with Redis the
    /// cluster-wide connection slots).
    cluster: Cluster,
}

struct EndpointState {
    shared: Arc<Shared>,
    descriptor: &'static EndpointDescriptor,
    index: usize,
    handler: Handler,
}

/// A configured server: mount [`WsAuth::router`] in an axum app.
#[derive(Clone)]
pub struct WsAuth {
    shared: Arc<Shared>,
    endpoints: Vec<Arc<EndpointState>>,
}

impl WsAuth {
    /// Starts configuring a server for `api`.
    pub fn builder(api: &'static ApiDescriptor) -> Builder {
        Builder::new(api)
    }

    /// The server's topics: publish to them, and see who is present, from
    /// any task (a cheap `Clone`).
    pub fn topics(&self) -> Topics {
        self.shared.topics.clone()
    }

    /// The node's metrics, as Prometheus text: handshakes, connections,
    /// messages, topics and (on a cluster node) Redis. Serve them with
    /// [`Metrics::router`].
    pub fn metrics(&self) -> Metrics {
        Metrics::new(Arc::clone(&self.shared.metrics))
    }

    /// A router with one route per endpoint, and the statistics endpoint
    /// when the spec declares one.
    pub fn router<S: Clone + Send + Sync + 'static>(&self) -> Router<S> {
        let mut router = Router::new();
        for endpoint in &self.endpoints {
            let state = Arc::clone(endpoint);
            router = router.route(
                endpoint.descriptor.path,
                get(move |request: Request| handshake(state, request)),
            );
        }
        if let Some(stats) = self.shared.api.stats {
            let server = self.clone();
            router = router.route(
                stats.path,
                get(move |request: Request| server.serve_stats(request, stats.perm)),
            );
        }
        router
    }

    /// Serves `router` (usually [`WsAuth::router`], merged into the app's
    /// own routes) on `listener` until `signal` completes, with the limits
    /// that must hold before authentication (see [`ServerLimits`]): a header
    /// read timeout, a cap on connections in all and per client address.
    /// Then it stops accepting, lets plain HTTP requests finish, and
    /// [shuts down](WsAuth::shutdown) every WebSocket with `going_away`,
    /// waiting at most `grace` for each step. Handlers see the client
    /// address (`ConnectInfo<SocketAddr>`) as with
    /// `axum::serve(.., router.into_make_service_with_connect_info::<SocketAddr>())`.
    ///
    /// ```no_run
    /// # async fn run(server: wsauth_core::WsAuth) -> std::io::Result<()> {
    /// let listener = tokio::net::TcpListener::bind("127.0.0.1:8000").await?;
    /// let app = server.router();
    /// let ctrl_c = async { let _ = tokio::signal::ctrl_c().await; };
    /// server.serve(listener, app, ctrl_c, std::time::Duration::from_secs(5)).await
    /// # }
    /// ```
    ///
    /// `axum::serve` works too, without these limits: it has no header
    /// timeout, so a client that never finishes its request holds its
    /// socket for as long as it likes.
    pub async fn serve(
        &self,
        listener: tokio::net::TcpListener,
        router: Router,
        signal: impl Future<Output = ()> + Send,
        grace: Duration,
    ) -> std::io::Result<()> {
        let shared = &self.shared;
        let gate = Gate::new(shared.limits.clone(), Arc::clone(shared.metrics.refusals()));
        listener::serve(listener, router, gate, signal, grace).await?;
        tracing::info!("shutting down");
        self.shutdown(grace).await;
        Ok(())
    }

    /// Closes every open connection with the spec's `going_away` code (1001
    /// by default) and waits, at most `grace`, until they have all ended.
    pub async fn shutdown(&self, grace: Duration) {
        self.shared.closing.close_all();
        let drained = async {
            while self.stats().active_connections > 0 {
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
        };
        let _ = tokio::time::timeout(grace, drained).await;
    }
}

/// The largest frame a refused socket may send before it is dropped: room
/// for a close frame (at most 125 bytes), and nothing a flood could use.
const REFUSED_FRAME_BYTES: usize = 256;

async fn handshake(state: Arc<EndpointState>, request: Request) -> Response {
    use tracing::Instrument as _;
    let span = crate::trace::make_span(&request);
    handshake_in_span(state, request).instrument(span).await
}

async fn handshake_in_span(state: Arc<EndpointState>, request: Request) -> Response {
    let (mut parts, _body) = request.into_parts();
    let peer = parts
        .extensions
        .get::<ConnectInfo<SocketAddr>>()
        .map(|c| c.0);
    // A page of another site gets no WebSocket at all: refused before the
    // upgrade, as a plain 403 (a refusal after it would still have opened
    // a socket to the attacker's page, and scanners flag exactly that).
    if let (Origins::Exact(allowed), Some(origin)) =
        (&state.shared.origins, parts.headers.get(ORIGIN))
        && !allowed.iter().any(|a| a == origin)
    {
        state
            .shared
            .metrics
            .refusals()
            .refused(Refusal::Origin, peer);
        state
            .shared
            .metrics
            .handshake(state.index, Some(FailureKind::OriginRejected));
        return (http::StatusCode::FORBIDDEN, "forbidden").into_response();
    }
    let mut upgrade = match Upgrade::from_parts(&mut parts) {
        Ok(upgrade) => upgrade,
        Err(refused) => return refused.into_response(),
    };
    let endpoint = state.descriptor;
    // Always select a protocol when the client offered any (browsers fail
    // the handshake otherwise), and never the one that carries the token.
    if let Some(protocol) = token::select_protocol_header(&parts.headers, endpoint.sources) {
        upgrade.set_selected_protocol(protocol);
    }
    let mut audit = AuditContext {
        endpoint: endpoint.name,
        peer,
        user_agent: parts
            .headers
            .get(USER_AGENT)
            .and_then(|v| v.to_str().ok())
            .map(|s| s.chars().take(200).collect::<String>().into_boxed_str()),
        subject: None,
        log: state.shared.audit.clone(),
    };
    let admitted = if state.shared.closing.is_closing() {
        Err(Rejection::new(
            FailureKind::GoingAway,
            "server shutting down",
        ))
    } else {
        let budget = state.shared.limits.handshake_timeout;
        match tokio::time::timeout(budget, admit(&state, &parts, &mut audit)).await {
            Ok(admitted) => admitted,
            Err(_) => {
                state
                    .shared
                    .metrics
                    .refusals()
                    .refused(Refusal::HandshakeTimeout, peer);
                Err(Rejection::new(
                    FailureKind::ServerError,
                    "the handshake's checks took longer than their time budget",
                )
                .sampled())
            }
        }
    };
    let api = state.shared.api;
    let refused = admitted.as_ref().err().map(|rejection| rejection.kind);
    state.shared.metrics.handshake(state.index, refused);
    match admitted {
        Err(rejection) => {
            if !rejection.sampled {
                audit::rejected(&audit, rejection.kind, &rejection.detail);
            }
            // A refused socket gets the close frame and nothing else: it may
            // send no more than a close of its own, and it is dropped a
            // second after ours whether or not it answers.
            upgrade.on_upgrade(REFUSED_FRAME_BYTES, move |mut ws: Socket| async move {
                crate::connection::close_refused(&mut ws, api, rejection.kind).await;
            })
        }
        Ok(admitted) => {
            audit::accepted(&audit);
            // The upgrade's task keeps what its callback captured for the
            // connection's whole life (a future's captures are never
            // reused), beside the connection built from them: the callback
            // captures one pointer, not the admitted connection (216 bytes).
            let max = endpoint.limits.max_message_bytes as usize;
            let admitted = Box::new((state, admitted, audit));
            upgrade.on_upgrade(max, move |ws| {
                let (state, admitted, audit) = *admitted;
                serve(state, ws, admitted, audit)
            })
        }
    }
}

/// Runs an admitted connection: the loop, the handler, the bookkeeping.
///
/// Not an `async fn`: the connection is assembled here, and the returned
/// future owns it once. (An `async fn` would keep its arguments and the
/// [`Connection`] built from them side by side for the connection's life.)
fn serve(
    state: Arc<EndpointState>,
    ws: Socket,
    admitted: Admitted,
    audit: AuditContext,
) -> impl Future<Output = ()> + Send + 'static {
    let open = Open::new(state);
    let state = &open.0;
    let shared = &state.shared;
    let link = admitted.link;
    let meter = Meter::new(Arc::clone(&shared.metrics), state.index);
    let session = Session::new(
        ServerParts(Arc::clone(shared)),
        Arc::clone(&admitted.params),
        state.descriptor,
        Arc::clone(&link),
        &audit,
    );
    let handler = start_handler(&state.handler.run, session);
    let endpoint = state.descriptor;
    // Listed until the connection's `Drop` forgets it: nothing below
    // returns before the connection is built.
    shared.closing.list(&link);
    let api = shared.api;
    let mut connection = Connection {
        ws,
        handler,
        expires_at: admitted.expires_at,
        link,
        slot: admitted.slot,
        // Last: the socket and the user's slot are dropped before the
        // count that `shutdown` waits on.
        cx: ConnectionContext {
            api,
            endpoint,
            principal: admitted.principal,
            params: admitted.params,
            issued_at: admitted.issued_at,
            audit,
            open,
            meter,
        },
    };
    async move {
        connection.run().await;
    }
}

/// What the server shares, as a handler's [`Session`] reaches it: one
/// pointer in every session rather than one per part (the spec, the
/// application state, the topics, the audit log), which every idle
/// connection's handler future would hold (issue 14).
#[derive(Clone)]
pub(crate) struct ServerParts(Arc<Shared>);

impl ServerParts {
    /// The spec.
    pub(crate) fn api(&self) -> &'static ApiDescriptor {
        self.0.api
    }

    /// The state given to [`Builder::state`].
    pub(crate) fn state(&self) -> &AppState {
        &self.0.state
    }

    /// The server's topics.
    pub(crate) fn topics(&self) -> &Topics {
        &self.0.topics
    }

    /// Where the audit events go instead of `tracing`, when configured.
    pub(crate) fn audit_log(&self) -> Option<&AuditLog> {
        self.0.audit.as_ref()
    }
}

impl std::fmt::Debug for ServerParts {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ServerParts")
            .field("api", &self.0.api.name)
            .finish_non_exhaustive()
    }
}

/// One open connection of an endpoint, counted in [`WsAuth::stats`] (and
/// waited for by [`WsAuth::shutdown`]) for exactly as long as it lives:
/// dropping it uncounts the connection however its task ends, by a panic
/// or by being dropped as much as by returning.
///
/// Through it the connection reaches what the server shares with every
/// connection (one pointer in each connection's task, not one per part).
pub(crate) struct Open(Arc<EndpointState>);

impl Open {
    fn new(state: Arc<EndpointState>) -> Self {
        if let Some(counters) = state.shared.metrics.endpoint(state.index) {
            counters.open.fetch_add(1, Ordering::Relaxed);
        }
        Open(state)
    }

    /// The server's authenticator, which a refresh token goes through.
    pub(crate) fn authenticator(&self) -> Option<&Arc<dyn Authenticator>> {
        self.0.shared.authenticator.as_ref()
    }

    /// The user store a refresh asks again.
    pub(crate) fn users(&self) -> Option<&Arc<dyn UserStore>> {
        self.0.shared.users.as_ref()
    }

    /// The resource checks a refresh runs again.
    pub(crate) fn checks(&self) -> Option<&Arc<dyn Checks>> {
        self.0.shared.checks.as_ref()
    }

    /// How long a refresh's checks may take, as a handshake's: the loop
    /// watches no deadline meanwhile.
    pub(crate) fn check_budget(&self) -> Duration {
        self.0.shared.limits.handshake_timeout
    }

    /// Every open connection's link, told when the server shuts down.
    pub(crate) fn closing(&self) -> &Closing {
        &self.0.shared.closing
    }

    /// The server's topics: the connection's subscriptions are in its
    /// link, and end with it.
    pub(crate) fn topics(&self) -> &Topics {
        &self.0.shared.topics
    }

    /// How the endpoint's typed handler has its messages decoded, if it
    /// has a typed handler.
    pub(crate) fn decoder(&self) -> Option<Decode> {
        self.0.handler.decode
    }

    /// What this node knows is revoked: a refresh token is checked there.
    pub(crate) fn revocations(&self) -> &Arc<Revocations> {
        &self.0.shared.cluster.revocations
    }
}

impl Drop for Open {
    fn drop(&mut self) {
        if let Some(counters) = self.0.shared.metrics.endpoint(self.0.index) {
            counters.open.fetch_sub(1, Ordering::Relaxed);
        }
    }
}

/// Calls the handler for `session`. A handler that panics when called
/// (before it is even a future) ends the connection as one that returned
/// an error: the loop closes with `server_error` and audits the panic.
/// A panic while the future runs is caught by the loop.
fn start_handler(handler: &Run, session: Session) -> BoxFuture<'static, HandlerResult> {
    match std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| handler(session))) {
        Ok(future) => future,
        Err(panic) => {
            let detail = format!(
                "handler panicked: {}",
                crate::connection::panic_message(panic.as_ref())
            );
            Box::pin(std::future::ready(Err(detail.into())))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An idle connection costs what its task's future holds; keep it
    /// small (it was 3448 bytes before the connection was assembled in
    /// place with one timer, 1600 before the server's shared parts were
    /// reached through one pointer, the sends stopped keeping their
    /// message twice and the rare steps' locals left the loop's future;
    /// 1240, 1256 with the `redis` feature, until the shutdown came
    /// through the link rather than a `watch` future: 1112; 1072, 1088
    /// with `redis`, since the connection runs on wsauth's own socket and
    /// the loop holds its replies and pings as 32 bytes rather than a
    /// tungstenite `Message`'s 56; idle authenticated connections must cost
    /// at most 7 KiB in all). Tokio allocates a task in steps of 128 bytes
    /// (its cache-line alignment): in the benchmark's build 1256 was 1536
    /// bytes of task, 1112 was 1408, and about 1130 would be 1536 again.
    #[test]
    fn connection_future_stays_small() {
        fn output_size<A, B, C, D, Fut, F: Fn(A, B, C, D) -> Fut>(_: &F) -> usize {
            std::mem::size_of::<Fut>()
        }
        let size = output_size(&serve);
        assert!(size <= 1088, "the connection future is {size} bytes");
    }
}
