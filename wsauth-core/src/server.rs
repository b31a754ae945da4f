//! Mounting a spec on axum: the builder, the router, the handshake.
//!
//! # Motivation
//!
//! Every WebSocket handshake runs the same stages in the same order (origin,
//! token, verification, path binding, user, permission, resource checks,
//! connection limit), each ending, when it fails, in one failure kind and so
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

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use axum::Router;
use axum::extract::ws::{WebSocket, WebSocketUpgrade};
use axum::extract::{ConnectInfo, FromRequestParts, Request};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use http::HeaderValue;
use http::header::{ORIGIN, USER_AGENT};
use tokio::sync::watch;
use wsauth_spec::{Access, FailureKind, Keyword, ParamType, TokenSource};

use crate::audit::{self, AuditContext};
use crate::audit::{Refusal, Sampled};
use crate::connection::{Connection, ConnectionContext, HandlerResult};
use crate::descriptor::{ApiDescriptor, EndpointDescriptor};
use crate::identity;
use crate::jwt::{Claims, Verifier};
use crate::limits::{ConnectionLimiter, Leases, Place};
use crate::link::Link;
use crate::listener::{self, Gate, ServerLimits};
use crate::principal::Principal;
use crate::reject::Rejection;
use crate::session::Session;
use crate::state::AppState;
use crate::store::{BoxFuture, CheckContext, CheckOutcome, Checks, UserStore};
use crate::token::{self, TokenError};

/// Verifies a token and says who it belongs to.
pub trait Authenticator: Send + Sync + 'static {
    /// The token's claims, or why it was refused.
    fn authenticate<'a>(&'a self, token: &'a str) -> BoxFuture<'a, Result<Claims, AuthError>>;

    /// What a cheap, local look at `token` finds, for an authenticator
    /// whose [`authenticate`](Authenticator::authenticate) is costly (a call
    /// to a remote service) and that can also verify locally (an
    /// [`Introspector`](crate::introspection::Introspector) with a fallback
    /// verifier). The handshake checks path binding and the endpoint's
    /// permission on these claims before it authenticates, so a token that
    /// could never pass costs no remote call; a token that passes is then
    /// authenticated, and checked again on the claims that returns.
    ///
    /// `None` (the default): there is no such look.
    fn precheck<'a>(&'a self, token: &'a str) -> BoxFuture<'a, Option<Claims>> {
        let _ = token;
        Box::pin(std::future::ready(None))
    }
}

/// A token was refused, or could not be checked.
#[derive(Debug, thiserror::Error)]
#[error("{detail}")]
pub struct AuthError {
    server_error: bool,
    detail: String,
}

impl AuthError {
    /// The token is not acceptable (closes with `auth_failed`).
    pub fn invalid(detail: impl Into<String>) -> Self {
        AuthError {
            server_error: false,
            detail: detail.into(),
        }
    }

    /// The token could not be checked (closes with `server_error`).
    pub fn unavailable(detail: impl Into<String>) -> Self {
        AuthError {
            server_error: true,
            detail: detail.into(),
        }
    }

    /// Whether the failure was the server's, not the token's.
    pub fn is_server_error(&self) -> bool {
        self.server_error
    }
}

impl Authenticator for Verifier {
    fn authenticate<'a>(&'a self, token: &'a str) -> BoxFuture<'a, Result<Claims, AuthError>> {
        Box::pin(async move {
            self.verify(token).await.map_err(|e| AuthError {
                server_error: e.is_server_error(),
                detail: e.to_string(),
            })
        })
    }
}

type Handler = Arc<dyn Fn(Session) -> BoxFuture<'static, HandlerResult> + Send + Sync>;

/// The origin policy as configured: [`Builder::build`] checks it and turns
/// it into [`Origins`].
#[derive(Clone, Debug)]
enum OriginPolicy {
    Unset,
    Any,
    /// Kept as given, so that `build` can name a bad one.
    Exact(Vec<String>),
}

/// Which origins may open connections, once checked.
#[derive(Clone, Debug)]
enum Origins {
    Any,
    Exact(Vec<HeaderValue>),
}

/// Why a server could not be built.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum BuildError {
    /// An endpoint of the spec has no handler.
    #[error("endpoint `{0}` has no handler")]
    MissingHandler(&'static str),
    /// A handler was given for an endpoint the spec does not have.
    #[error("the spec has no endpoint `{0}`")]
    UnknownEndpoint(String),
    /// Two handlers were given for one endpoint: the second would silently
    /// replace the first (for instance a `#[ws_endpoint]` handler, checked
    /// against the spec at compile time, by an unchecked closure).
    #[error("endpoint `{0}` was given a handler twice")]
    HandlerTwice(String),
    /// The spec requires tokens and no authenticator was configured.
    #[error("the spec requires tokens but no authenticator is configured")]
    NoAuthenticator,
    /// Tokens are required and no user store was configured.
    #[error("the spec requires tokens but no user store is configured")]
    NoUserStore,
    /// An endpoint names resource checks and none were configured.
    #[error("endpoint `{0}` runs resource checks but no checks are configured")]
    NoChecks(&'static str),
    /// No origin policy was chosen.
    #[error(
        "no origin policy: call `allow_origins([...])` (or `allow_any_origin()` when no cookie carries tokens)"
    )]
    NoOriginPolicy,
    /// Cookies may carry tokens and any origin is allowed.
    #[error("endpoint `{0}` accepts cookie tokens, which requires an origin allow-list")]
    CookieWithoutOrigins(&'static str),
    /// An allowed origin is not what a browser sends in `Origin`, so it
    /// could never match: a trailing slash, a path, a query, userinfo,
    /// upper case, a default port, an IP address in a form browsers
    /// rewrite.
    #[error(
        "allowed origin `{0}` is not `scheme://host[:port]` as browsers send it (lower case, nothing after the host or port, no default port, IP addresses in canonical form)"
    )]
    BadOrigin(String),
    /// A close reason does not fit a close frame: a control frame carries
    /// at most 125 bytes, two of them the code, so a reason may have 123.
    /// (Generated descriptors are checked when the spec is validated; this
    /// catches hand-built ones.)
    #[error(
        "the close reason for `{}` is {bytes} bytes long; a close frame holds at most {MAX_CLOSE_REASON_BYTES}",
        .kind.word()
    )]
    CloseReasonTooLong {
        /// The failure kind whose reason is too long.
        kind: FailureKind,
        /// Its length in bytes.
        bytes: usize,
    },
    /// A close code a server may not send in a close frame (RFC 6455
    /// §7.4: 1004-1006, 1015, 1016-2999 and anything outside 1000-4999).
    /// Descriptors from a spec never have one; hand-built ones can.
    #[error("the close code for `{}` is {code}, which a close frame may not carry", .kind.word())]
    BadCloseCode {
        /// The failure kind whose code it is.
        kind: FailureKind,
        /// The code.
        code: u16,
    },
}

pub use wsauth_spec::wire::MAX_CLOSE_REASON_BYTES;

/// Configures a server for one spec.
pub struct Builder {
    api: &'static ApiDescriptor,
    authenticator: Option<Arc<dyn Authenticator>>,
    users: Option<Arc<dyn UserStore>>,
    checks: Option<Arc<dyn Checks>>,
    origins: OriginPolicy,
    handlers: HashMap<String, Handler>,
    /// The first endpoint given a second handler, refused by `build`.
    twice: Option<String>,
    state: AppState,
    limits: ServerLimits,
}

impl Builder {
    /// A server for `api`.
    pub fn new(api: &'static ApiDescriptor) -> Self {
        Builder {
            api,
            authenticator: None,
            users: None,
            checks: None,
            origins: OriginPolicy::Unset,
            handlers: HashMap::new(),
            twice: None,
            state: AppState::default(),
            limits: ServerLimits::default(),
        }
    }

    /// The limits before and during the handshake (header and handshake
    /// time, connections in all, per client address and anonymous); see
    /// [`ServerLimits`] for what each is and its default.
    pub fn limits(mut self, limits: ServerLimits) -> Self {
        self.limits = limits;
        self
    }

    /// Application state every handler can read with
    /// [`Session::state`](crate::Session::state): a store, a broadcast hub,
    /// configuration. One value per type; a second of the same type
    /// replaces the first. The low-level path, for handlers registered with
    /// [`handler`](Builder::handler): a `#[ws_endpoint]` handler takes its
    /// state as a parameter, given by the spec's `Handlers::with_state`.
    pub fn state<T: Send + Sync + 'static>(mut self, value: T) -> Self {
        self.state.insert(value);
        self
    }

    /// How tokens are verified (usually a [`Verifier`]).
    pub fn authenticator(mut self, authenticator: impl Authenticator) -> Self {
        self.authenticator = Some(Arc::new(authenticator));
        self
    }

    /// Where users are looked up.
    pub fn users(mut self, users: impl UserStore) -> Self {
        self.users = Some(Arc::new(users));
        self
    }

    /// The resource checks the spec names.
    pub fn checks(mut self, checks: impl Checks) -> Self {
        self.checks = Some(Arc::new(checks));
        self
    }

    /// Only these exact origins may connect; a request without `Origin`
    /// (not a browser) is allowed.
    ///
    /// Each origin must be exactly what a browser sends:
    /// `scheme://host[:port]`, lower case, without a default port, with
    /// nothing after it, IP addresses in canonical form
    /// (`https://app.example`, `http://127.0.0.1:8000`, `http://[::1]:8000`,
    /// `chrome-extension://<id>`).
    /// Origins are compared byte for byte, so any other shape could never
    /// match: [`build`](Builder::build) refuses it with
    /// [`BuildError::BadOrigin`] rather than refuse every browser later.
    ///
    /// An empty list means that no browser may connect (only clients that
    /// send no `Origin`); use [`allow_any_origin`](Builder::allow_any_origin)
    /// to let every origin in.
    pub fn allow_origins<I, S>(mut self, origins: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        self.origins =
            OriginPolicy::Exact(origins.into_iter().map(|o| o.as_ref().to_owned()).collect());
        self
    }

    /// Any origin may connect. Refused when a cookie may carry tokens.
    pub fn allow_any_origin(mut self) -> Self {
        self.origins = OriginPolicy::Any;
        self
    }

    /// The handler for `endpoint`: an async function of the [`Session`].
    /// One per endpoint: a second for the same endpoint makes `build` fail
    /// ([`BuildError::HandlerTwice`]) rather than replace the first.
    pub fn handler<F, Fut>(mut self, endpoint: &str, handler: F) -> Self
    where
        F: Fn(Session) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = HandlerResult> + Send + 'static,
    {
        let handler: Handler = Arc::new(move |session| Box::pin(handler(session)));
        if self.handlers.insert(endpoint.to_owned(), handler).is_some() {
            self.twice.get_or_insert_with(|| endpoint.to_owned());
        }
        self
    }

    /// Checks the configuration against the spec.
    pub fn build(mut self) -> Result<WsAuth, BuildError> {
        if let Some(close) = self
            .api
            .close_codes
            .iter()
            .find(|c| c.reason.len() > MAX_CLOSE_REASON_BYTES)
        {
            return Err(BuildError::CloseReasonTooLong {
                kind: close.kind,
                bytes: close.reason.len(),
            });
        }
        if let Some(close) = self
            .api
            .close_codes
            .iter()
            .find(|c| !wsauth_spec::wire::may_send_close_code(c.code))
        {
            return Err(BuildError::BadCloseCode {
                kind: close.kind,
                code: close.code,
            });
        }
        if let Some(name) = self
            .handlers
            .keys()
            .find(|n| self.api.endpoint(n).is_none())
        {
            return Err(BuildError::UnknownEndpoint(name.clone()));
        }
        if let Some(name) = self.twice.take() {
            return Err(BuildError::HandlerTwice(name));
        }
        let origins = match &self.origins {
            OriginPolicy::Unset => None,
            OriginPolicy::Any => Some(Origins::Any),
            OriginPolicy::Exact(list) => Some(Origins::Exact(checked_origins(list)?)),
        };
        let mut endpoints = Vec::new();
        for endpoint in self.api.endpoints {
            let Some(handler) = self.handlers.remove(endpoint.name) else {
                return Err(BuildError::MissingHandler(endpoint.name));
            };
            if endpoint.access != Access::Anonymous {
                if self.authenticator.is_none() {
                    return Err(BuildError::NoAuthenticator);
                }
                if self.users.is_none() {
                    return Err(BuildError::NoUserStore);
                }
            }
            if !endpoint.checks.is_empty() && self.checks.is_none() {
                return Err(BuildError::NoChecks(endpoint.name));
            }
            let cookie = endpoint
                .sources
                .iter()
                .any(|s| matches!(s, TokenSource::Cookie(_)));
            match origins {
                None => return Err(BuildError::NoOriginPolicy),
                Some(Origins::Any) if cookie => {
                    return Err(BuildError::CookieWithoutOrigins(endpoint.name));
                }
                Some(_) => {}
            }
            endpoints.push((endpoint, handler));
        }
        // A spec without endpoints needs no policy: nothing can connect.
        let origins = origins.unwrap_or(Origins::Exact(Vec::new()));
        let (shutdown, _) = watch::channel(false);
        let shared = Arc::new(Shared {
            api: self.api,
            state: Arc::new(self.state),
            authenticator: self.authenticator,
            users: self.users,
            checks: self.checks,
            origins,
            limiter: Arc::new(ConnectionLimiter::default()),
            anonymous: Arc::default(),
            refusals: Arc::default(),
            limits: self.limits,
            open: self
                .api
                .endpoints
                .iter()
                .map(|_| AtomicUsize::new(0))
                .collect(),
            shutdown,
        });
        let endpoints = endpoints
            .into_iter()
            .enumerate()
            .map(|(index, (descriptor, handler))| {
                Arc::new(EndpointState {
                    shared: Arc::clone(&shared),
                    descriptor,
                    index,
                    handler,
                })
            })
            .collect();
        Ok(WsAuth { shared, endpoints })
    }
}

/// The allowed origins as header values, or the first one that no browser
/// could send.
fn checked_origins(origins: &[String]) -> Result<Vec<HeaderValue>, BuildError> {
    origins
        .iter()
        .map(|origin| {
            is_origin(origin)
                .then(|| HeaderValue::from_str(origin).ok())
                .flatten()
                .ok_or_else(|| BuildError::BadOrigin(origin.clone()))
        })
        .collect()
}

/// Whether `origin` has the one shape browsers serialize an `Origin` in:
/// `scheme://host[:port]` with nothing after it, the scheme and host lower
/// case (a name, an IPv4 address in dotted decimal, or a bracketed IPv6
/// address as browsers write it: compressed, no dotted tail), the port in
/// decimal without leading zeros and left out when it is the scheme's
/// default. Schemes other than `http(s)` are allowed for the apps that
/// have them (`chrome-extension://<id>`, `tauri://localhost`).
fn is_origin(origin: &str) -> bool {
    let Some((scheme, rest)) = origin.split_once("://") else {
        return false;
    };
    let scheme_ok = scheme.starts_with(|c: char| c.is_ascii_lowercase())
        && scheme
            .bytes()
            .all(|b| matches!(b, b'a'..=b'z' | b'0'..=b'9' | b'+' | b'-' | b'.'));
    if !scheme_ok {
        return false;
    }
    let default_port = match scheme {
        "http" | "ws" => Some("80"),
        "https" | "wss" => Some("443"),
        _ => None,
    };
    let (host_ok, port) = if let Some(v6) = rest.strip_prefix('[') {
        let Some((address, after)) = v6.split_once(']') else {
            return false;
        };
        let address_ok = address
            .parse::<std::net::Ipv6Addr>()
            .is_ok_and(|a| ipv6_as_browsers_write_it(a) == address);
        match after.strip_prefix(':') {
            Some(port) => (address_ok, Some(port)),
            None if after.is_empty() => (address_ok, None),
            None => return false,
        }
    } else {
        let (host, port) = match rest.split_once(':') {
            Some((host, port)) => (host, Some(port)),
            None => (rest, None),
        };
        let name_ok = !host.is_empty()
            && host
                .bytes()
                .all(|b| matches!(b, b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_'));
        // Browsers rewrite a host that ends in a number as an IPv4 address
        // (`127.1`, `010.0.0.1`), so only the dotted-decimal form can match.
        let numeric = host
            .trim_end_matches('.')
            .rsplit('.')
            .next()
            .is_some_and(|last| !last.is_empty() && last.bytes().all(|b| b.is_ascii_digit()));
        let host_ok = name_ok
            && (!numeric
                || host
                    .parse::<std::net::Ipv4Addr>()
                    .is_ok_and(|a| a.to_string() == host));
        (host_ok, port)
    };
    let port_ok = port.is_none_or(|port| {
        Some(port) != default_port
            && !port.starts_with('0')
            && port.bytes().all(|b| b.is_ascii_digit())
            && port.parse::<u16>().is_ok()
    });
    host_ok && port_ok
}

/// An IPv6 address as the URL standard serializes it (and browsers send it
/// in `Origin`): lower-case hex pieces, the first longest run of two or
/// more zero pieces compressed to `::`, never a dotted IPv4 tail.
fn ipv6_as_browsers_write_it(address: std::net::Ipv6Addr) -> String {
    use std::fmt::Write;
    let pieces = address.segments();
    let mut zeros: Option<(usize, usize)> = None;
    let mut i = 0;
    while i < pieces.len() {
        let start = i;
        while i < pieces.len() && pieces[i] == 0 {
            i += 1;
        }
        let len = i - start;
        if len >= 2 && zeros.is_none_or(|(_, longest)| len > longest) {
            zeros = Some((start, len));
        }
        i = i.max(start + 1);
    }
    let mut out = String::new();
    let mut i = 0;
    while i < pieces.len() {
        if let Some((start, len)) = zeros
            && i == start
        {
            out.push_str(if i == 0 { "::" } else { ":" });
            i += len;
            continue;
        }
        let _ = write!(out, "{:x}", pieces[i]);
        if i + 1 < pieces.len() {
            out.push(':');
        }
        i += 1;
    }
    out
}

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
    /// Refusals before authentication, audited by sampling.
    refusals: Arc<Sampled>,
    limits: ServerLimits,
    /// Open connections per endpoint, by index in the descriptor.
    open: Vec<AtomicUsize>,
    shutdown: watch::Sender<bool>,
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

/// Connection counts.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, utoipa::ToSchema)]
pub struct Stats {
    /// Open connections.
    pub active_connections: usize,
    /// Users with at least one open connection.
    pub unique_users: usize,
    /// Open connections per endpoint, in spec order.
    pub per_endpoint: Vec<EndpointStats>,
}

/// Open connections on one endpoint.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, utoipa::ToSchema)]
pub struct EndpointStats {
    /// Endpoint name.
    pub endpoint: &'static str,
    /// Open connections.
    pub active: usize,
}

impl WsAuth {
    /// Starts configuring a server for `api`.
    pub fn builder(api: &'static ApiDescriptor) -> Builder {
        Builder::new(api)
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

    /// `GET` on the spec's stats path: a bearer token in `Authorization`,
    /// verified like a connection's, whose holder has the stats permission.
    async fn serve_stats(self, request: Request, perm: &'static str) -> Response {
        use http::StatusCode;
        let deny = |status: StatusCode, body: &'static str| {
            let mut response =
                (status, axum::Json(serde_json::json!({ "error": body }))).into_response();
            response.headers_mut().insert(
                http::header::CACHE_CONTROL,
                HeaderValue::from_static("no-store"),
            );
            response
        };
        let mut audit = AuditContext {
            endpoint: "stats",
            peer: request
                .extensions()
                .get::<ConnectInfo<SocketAddr>>()
                .map(|c| c.0),
            ..AuditContext::default()
        };
        let header = [TokenSource::Header];
        let extracted = match token::extract(request.headers(), request.uri(), &header) {
            Ok(extracted) => extracted,
            Err(e) => {
                audit::rejected(&audit, FailureKind::AuthRequired, &e.to_string());
                return deny(StatusCode::UNAUTHORIZED, "authentication required");
            }
        };
        let refused = |audit: &AuditContext, rejection: Rejection| {
            audit::rejected(audit, rejection.kind, &rejection.detail);
            match rejection.kind {
                FailureKind::ServerError => deny(StatusCode::INTERNAL_SERVER_ERROR, "server error"),
                FailureKind::UserInactive => deny(StatusCode::FORBIDDEN, "forbidden"),
                _ => deny(StatusCode::UNAUTHORIZED, "invalid or expired token"),
            }
        };
        let claims =
            match identity::verify(self.shared.authenticator.as_ref(), extracted.token.as_str())
                .await
            {
                Ok(claims) => claims,
                Err(rejection) => return refused(&audit, rejection),
            };
        audit.subject = Some(Arc::from(claims.subject.as_str()));
        if self.shared.users.is_some()
            && let Err(rejection) =
                identity::check_user(self.shared.users.as_ref(), &claims.subject).await
        {
            return refused(&audit, rejection);
        }
        let principal = Principal::new(Some(&claims.subject), claims.roles, self.shared.api.roles);
        if !principal.has(perm) {
            audit::rejected(
                &audit,
                FailureKind::Forbidden,
                &format!("lacks permission `{perm}`"),
            );
            return deny(StatusCode::FORBIDDEN, "forbidden");
        }
        let mut response = axum::Json(self.stats()).into_response();
        response.headers_mut().insert(
            http::header::CACHE_CONTROL,
            HeaderValue::from_static("no-store"),
        );
        response
    }

    /// The OpenAPI document of the statistics endpoint, when the spec has one.
    pub fn openapi(&self) -> Option<utoipa::openapi::OpenApi> {
        crate::openapi::stats_openapi(self.shared.api)
    }

    /// Current connection counts.
    pub fn stats(&self) -> Stats {
        let per_endpoint: Vec<EndpointStats> = self
            .shared
            .api
            .endpoints
            .iter()
            .zip(&self.shared.open)
            .map(|(e, n)| EndpointStats {
                endpoint: e.name,
                active: n.load(Ordering::Relaxed),
            })
            .collect();
        Stats {
            active_connections: per_endpoint.iter().map(|e| e.active).sum(),
            unique_users: self.shared.limiter.unique_users(),
            per_endpoint,
        }
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
        let gate = Gate::new(shared.limits.clone(), Arc::clone(&shared.refusals));
        listener::serve(listener, router, gate, signal, grace).await?;
        tracing::info!("shutting down");
        self.shutdown(grace).await;
        Ok(())
    }

    /// Closes every open connection with the spec's `going_away` code (1001
    /// by default) and waits, at most `grace`, until they have all ended.
    pub async fn shutdown(&self, grace: Duration) {
        self.shared.shutdown.send_replace(true);
        let drained = async {
            while self.stats().active_connections > 0 {
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
        };
        let _ = tokio::time::timeout(grace, drained).await;
    }
}

/// What passed the handshake.
struct Admitted {
    principal: Principal,
    params: Arc<[(&'static str, String)]>,
    expires_at: Option<u64>,
    issued_at: Option<u64>,
    slot: Place,
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
        state.shared.refusals.refused(Refusal::Origin, peer);
        return (http::StatusCode::FORBIDDEN, "forbidden").into_response();
    }
    let mut upgrade = match WebSocketUpgrade::from_request_parts(&mut parts, &()).await {
        Ok(upgrade) => upgrade,
        Err(rejection) => return rejection.into_response(),
    };
    let endpoint = state.descriptor;
    let limits = endpoint.limits;
    let max = limits.max_message_bytes as usize;
    upgrade = upgrade
        .read_buffer_size(4096)
        .write_buffer_size(0)
        .max_message_size(max)
        .max_frame_size(max);
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
    };
    let admitted = if *state.shared.shutdown.borrow() {
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
                    .refusals
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
    match admitted {
        Err(rejection) => {
            if !rejection.sampled {
                audit::rejected(&audit, rejection.kind, &rejection.detail);
            }
            // A refused socket gets the close frame and nothing else: it may
            // send no more than a close of its own, and it is dropped a
            // second after ours whether or not it answers.
            upgrade
                .max_message_size(REFUSED_FRAME_BYTES)
                .max_frame_size(REFUSED_FRAME_BYTES)
                .on_upgrade(move |mut ws: WebSocket| async move {
                    crate::connection::close_refused(&mut ws, api, rejection.kind).await;
                })
        }
        Ok(admitted) => {
            audit::accepted(&audit);
            upgrade.on_upgrade(move |ws| serve(state, ws, admitted, audit))
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
    ws: WebSocket,
    admitted: Admitted,
    audit: AuditContext,
) -> impl Future<Output = ()> + Send + 'static {
    let open = Open::new(state);
    let state = &open.0;
    let shared = &state.shared;
    let link = Arc::new(Link::new(
        state.descriptor.limits.send_queue as usize,
        admitted.principal.clone(),
    ));
    let session = Session::new(
        shared.api,
        Arc::clone(&admitted.params),
        state.descriptor,
        Arc::clone(&link),
        Arc::clone(&shared.state),
    );
    let handler = start_handler(&state.handler, session);
    let mut connection = Connection {
        cx: ConnectionContext {
            api: shared.api,
            endpoint: state.descriptor,
            principal: admitted.principal,
            params: admitted.params,
            issued_at: admitted.issued_at,
            check_budget: shared.limits.handshake_timeout,
            audit,
            authenticator: shared.authenticator.clone(),
            users: shared.users.clone(),
            checks: shared.checks.clone(),
        },
        ws,
        handler,
        expires_at: admitted.expires_at,
        shutdown: shared.shutdown.subscribe(),
        link,
        slot: admitted.slot,
    };
    async move {
        connection.run().await;
        // The socket and the user's slot first, then the count that
        // `shutdown` waits on.
        drop(connection);
        drop(open);
    }
}

/// One open connection of an endpoint, counted in [`WsAuth::stats`] (and
/// waited for by [`WsAuth::shutdown`]) for exactly as long as it lives:
/// dropping it uncounts the connection however its task ends, by a panic
/// or by being dropped as much as by returning.
struct Open(Arc<EndpointState>);

impl Open {
    fn new(state: Arc<EndpointState>) -> Self {
        state.shared.open[state.index].fetch_add(1, Ordering::Relaxed);
        Open(state)
    }
}

impl Drop for Open {
    fn drop(&mut self) {
        self.0.shared.open[self.0.index].fetch_sub(1, Ordering::Relaxed);
    }
}

/// Calls the handler for `session`. A handler that panics when called
/// (before it is even a future) ends the connection as one that returned
/// an error: the loop closes with `server_error` and audits the panic.
/// A panic while the future runs is caught by the loop.
fn start_handler(handler: &Handler, session: Session) -> BoxFuture<'static, HandlerResult> {
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

/// The handshake's checks, in the spec's order.
async fn admit(
    state: &EndpointState,
    parts: &http::request::Parts,
    audit: &mut AuditContext,
) -> Result<Admitted, Rejection> {
    let shared = &state.shared;
    let api = shared.api;
    let endpoint = state.descriptor;

    let raw = raw_params(endpoint, parts.uri.path())
        .ok_or_else(|| Rejection::new(FailureKind::NotFound, "path does not match the endpoint"))?;

    let (principal, expires_at, issued_at) = match (
        endpoint.access,
        token::extract(&parts.headers, &parts.uri, endpoint.sources),
    ) {
        (Access::Anonymous, _) | (Access::Optional, Err(TokenError::Missing)) => {
            let role = api.auth.and_then(|a| a.anonymous_role);
            (
                Principal::new(
                    None,
                    role.map(str::to_owned).into_iter().collect(),
                    api.roles,
                ),
                None,
                None,
            )
        }
        (_, Err(TokenError::Missing)) => {
            return Err(Rejection::new(
                FailureKind::AuthRequired,
                "no token presented",
            ));
        }
        (_, Err(e)) => return Err(Rejection::new(FailureKind::AuthFailed, e.to_string())),
        (_, Ok(extracted)) => {
            let token = extracted.token.as_str();
            // A token whose local claims could never pass costs no call to
            // a remote authenticator.
            if let Some(authenticator) = &shared.authenticator
                && let Some(local) = authenticator.precheck(token).await
            {
                let local = Principal::new(Some(&local.subject), local.roles, api.roles);
                bound(endpoint, &local, &raw)?;
                permitted(endpoint, &local)?;
            }
            let claims = identity::verify(shared.authenticator.as_ref(), token).await?;
            let subject: Arc<str> = Arc::from(claims.subject.as_str());
            audit.subject = Some(Arc::clone(&subject));
            (
                Principal::shared(Some(subject), claims.roles, api.roles),
                Some(claims.exp),
                claims.iat,
            )
        }
    };

    bound(endpoint, &principal, &raw)?;
    let mut params: Vec<(&'static str, String)> = Vec::with_capacity(raw.len());
    for (param, value) in endpoint.params.iter().zip(raw) {
        if !canonical(param.ty, value) {
            return Err(Rejection::new(
                FailureKind::NotFound,
                "path parameter is not in canonical form",
            ));
        }
        params.push((param.name, value.to_owned()));
    }

    if let Some(subject) = principal.subject() {
        identity::check_user(shared.users.as_ref(), subject).await?;
    }

    permitted(endpoint, &principal)?;

    // The user's slot before the resource checks: a user at their limit
    // costs no check (a lookup, often a database query); a refused check
    // drops the slot again.
    let slot = match principal.shared_subject() {
        Some(subject) => Place::User(
            shared
                .limiter
                .try_acquire_shared(subject, endpoint.limits.max_connections_per_user)
                .ok_or_else(|| {
                    audit::limit_hit(audit, FailureKind::TooManyConnections);
                    Rejection::new(FailureKind::TooManyConnections, "connection limit reached")
                })?,
        ),
        None => Place::Anonymous(
            shared
                .anonymous
                .try_lease((), shared.limits.max_anonymous_connections)
                .ok_or_else(|| {
                    shared.refusals.refused(Refusal::AnonymousFull, audit.peer);
                    Rejection::new(
                        FailureKind::TooManyConnections,
                        "anonymous connection limit reached",
                    )
                    .sampled()
                })?,
        ),
    };

    run_checks(shared.checks.as_ref(), endpoint, &principal, &params).await?;

    Ok(Admitted {
        principal,
        params: params.into(),
        expires_at,
        issued_at,
        slot,
    })
}

/// Whether every `equals: subject` path parameter is `principal`'s subject.
fn bound(
    endpoint: &EndpointDescriptor,
    principal: &Principal,
    raw: &[&str],
) -> Result<(), Rejection> {
    let mismatch = endpoint
        .params
        .iter()
        .zip(raw)
        .any(|(param, value)| param.equals_subject && principal.subject() != Some(*value));
    if mismatch {
        return Err(Rejection::new(
            FailureKind::SubjectMismatch,
            "path parameter differs from the subject",
        ));
    }
    Ok(())
}

/// Whether `principal` holds the endpoint's own permission.
fn permitted(endpoint: &EndpointDescriptor, principal: &Principal) -> Result<(), Rejection> {
    match endpoint.perm {
        Some(perm) if !principal.has(perm) => Err(Rejection::new(
            FailureKind::Forbidden,
            format!("lacks permission `{perm}`"),
        )),
        _ => Ok(()),
    }
}

/// Runs the endpoint's resource checks (the spec's `authorize:`), in order,
/// for `principal` on the path `params`: at the handshake, and again when
/// an in-band refresh replaces the principal. The first that refuses
/// decides the failure kind: `forbidden`, `not_found`, or `server_error`
/// when the check could not answer (fail closed).
pub(crate) async fn run_checks(
    checks: Option<&Arc<dyn Checks>>,
    endpoint: &EndpointDescriptor,
    principal: &Principal,
    params: &[(&'static str, String)],
) -> Result<(), Rejection> {
    if endpoint.checks.is_empty() {
        return Ok(());
    }
    let checks = checks.ok_or_else(|| Rejection::new(FailureKind::ServerError, "no checks"))?;
    let cx = CheckContext { principal, params };
    for &name in endpoint.checks {
        match checks.check(name, &cx).await {
            Ok(CheckOutcome::Allow) => {}
            Ok(CheckOutcome::Forbidden) => {
                return Err(Rejection::new(
                    FailureKind::Forbidden,
                    format!("check `{name}` denied"),
                ));
            }
            Ok(CheckOutcome::NotFound) => {
                return Err(Rejection::new(
                    FailureKind::NotFound,
                    format!("check `{name}` found nothing"),
                ));
            }
            Err(e) => {
                return Err(Rejection::new(
                    FailureKind::ServerError,
                    format!("check `{name}`: {e}"),
                ));
            }
        }
    }
    Ok(())
}

/// The raw (still percent-encoded) path segments under the endpoint's
/// parameters, in order; `None` when the path does not match the template.
fn raw_params<'p>(endpoint: &EndpointDescriptor, path: &'p str) -> Option<Vec<&'p str>> {
    let template = endpoint.path.trim_start_matches('/').split('/');
    let actual: Vec<&str> = path.trim_start_matches('/').split('/').collect();
    let template: Vec<&str> = template.collect();
    if template.len() != actual.len() {
        return None;
    }
    let mut out = Vec::new();
    for (t, a) in template.iter().zip(&actual) {
        if t.starts_with('{') {
            out.push(*a);
        } else if t != a {
            return None;
        }
    }
    Some(out)
}

/// Whether `value` is the one canonical spelling of a `ty` value: no
/// percent-encoding, no sign or leading zeros, lower-case UUIDs.
fn canonical(ty: ParamType, value: &str) -> bool {
    if value.is_empty() || value.contains('%') {
        return false;
    }
    match ty {
        ParamType::String => true,
        ParamType::Integer => {
            let digits = value.strip_prefix('-').unwrap_or(value);
            !digits.is_empty()
                && digits.bytes().all(|b| b.is_ascii_digit())
                && (digits == "0" || !digits.starts_with('0'))
                && value != "-0"
                && value.parse::<i64>().is_ok()
        }
        ParamType::Uuid => {
            value.len() == 36
                && value.char_indices().all(|(i, c)| match i {
                    8 | 13 | 18 | 23 => c == '-',
                    _ => c.is_ascii_digit() || ('a'..='f').contains(&c),
                })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An idle connection costs what its task's future holds; keep it
    /// small (it was 3448 bytes before the connection was assembled in
    /// place with one timer, and idle authenticated connections must cost
    /// at most 8 KiB in all).
    #[test]
    fn connection_future_stays_small() {
        fn output_size<A, B, C, D, Fut, F: Fn(A, B, C, D) -> Fut>(_: &F) -> usize {
            std::mem::size_of::<Fut>()
        }
        let size = output_size(&serve);
        assert!(size <= 2048, "the connection future is {size} bytes");
    }

    #[test]
    fn origins_must_be_what_browsers_send() {
        for good in [
            "http://127.0.0.1:8000",
            "https://app.prsm.example",
            "http://localhost",
            "https://app.example:8443",
            "http://[::1]:8000",
            "http://[::ffff:7f00:1]",
            "http://[fe80::1]",
            "http://[1:0:0:2::3]",
            "http://[1::]",
            "http://[2001:db8:0:1:1:1:1:1]",
            "http://my_host.internal:65535",
            "http://10.0.0.1",
            "https://xn--bcher-kva.example",
            "http://example.com.",
            "chrome-extension://abcdefghijklmnopabcdefghijklmnop",
            "tauri://localhost",
            "capacitor://localhost",
        ] {
            assert!(is_origin(good), "{good}");
        }
        for bad in [
            "",
            "null",
            "*",
            "127.0.0.1:8000",
            "http://",
            "http://:8000",
            "http://host/",
            "https://app.example/",
            "http://host/path",
            "http://host?x",
            "http://host#x",
            "http://user@host",
            "http://user:pass@host",
            "HTTP://host",
            "Tauri://localhost",
            "1http://host",
            "://host",
            "http://App.Example",
            "http://host:",
            "http://host:80",
            "https://host:443",
            "http://host:08000",
            "http://host:65536",
            "http://host:+80",
            "http://host:8000:1",
            "http://[::1",
            "http://[]",
            "http://[::1]x",
            "http://[::1]:",
            "http://[FE80::1]",
            "http://[::ffff:127.0.0.1]",
            "http://[0:0::1]",
            "http://[1:0:0:2:0:0:0:3]",
            "http://[::1%eth0]",
            "http://127.1",
            "http://010.0.0.1",
            "http://0x7f.0.0.1",
            "http://1.2.3.4.5",
            "http://256.0.0.1",
            "http://ho st",
            "http://h\u{e9}te",
            " http://host",
        ] {
            assert!(!is_origin(bad), "{bad}");
        }
    }

    #[test]
    fn bad_origins_are_named_by_build() {
        assert_eq!(
            checked_origins(&["http://a.example".into(), "http://a.example/".into()]),
            Err(BuildError::BadOrigin("http://a.example/".into()))
        );
        let checked = checked_origins(&["http://a.example".into(), "http://[::1]:8000".into()]);
        assert_eq!(
            checked.map(|list| list.len()),
            Ok(2),
            "good origins are all kept"
        );
        assert_eq!(checked_origins(&[]).map(|list| list.len()), Ok(0));
    }

    #[test]
    fn only_canonical_params_pass() {
        assert!(canonical(ParamType::Integer, "42"));
        assert!(canonical(ParamType::Integer, "0"));
        assert!(canonical(ParamType::Integer, "-7"));
        for bad in [
            "042",
            "+42",
            "-0",
            "4 2",
            "%34%32",
            "",
            "99999999999999999999",
        ] {
            assert!(!canonical(ParamType::Integer, bad), "{bad}");
        }
        assert!(canonical(
            ParamType::Uuid,
            "123e4567-e89b-12d3-a456-426614174000"
        ));
        assert!(!canonical(
            ParamType::Uuid,
            "123E4567-E89B-12D3-A456-426614174000"
        ));
        assert!(!canonical(ParamType::String, "%34%32"));
        assert!(canonical(ParamType::String, "alice"));
    }
}
