//! [`Builder`]: what a server is made of, and the configuration mistakes
//! [`Builder::build`] refuses before the first connection.

use std::collections::HashMap;
use std::sync::Arc;

use wsauth_spec::wire::MAX_CLOSE_REASON_BYTES;
use wsauth_spec::{Access, FailureKind, Keyword, TokenSource};

use crate::audit::AuditLog;
use crate::cluster::Cluster;
use crate::connection::HandlerResult;
use crate::descriptor::ApiDescriptor;
use crate::identity::Authenticator;
use crate::limits::ConnectionLimiter;
use crate::listener::ServerLimits;
use crate::metrics::Registry;
use crate::payload::{Decode, decode_as};
use crate::session::Session;
use crate::state::AppState;
use crate::store::{BoxFuture, Checks, UserStore};
use crate::topics::{Broker, Topics};
use crate::typed::{Endpoint, TypedSession};

use super::closing::Closing;
use super::origin::{OriginPolicy, Origins, checked_origins};
use super::{EndpointState, Shared, WsAuth};

/// The function that runs an endpoint's handler on a session.
pub(super) type Run = Arc<dyn Fn(Session) -> BoxFuture<'static, HandlerResult> + Send + Sync>;

/// An endpoint's handler, and how its messages are decoded.
pub(super) struct Handler {
    pub(super) run: Run,
    /// A typed handler's decoder: the loop checks each of its messages and
    /// decodes it into the endpoint's type in one pass. `None` for an
    /// untyped handler, which parses what it receives itself.
    pub(super) decode: Option<Decode>,
}

/// Gives endpoint `E` a typed handler, `run` on its sessions, whose
/// messages the connection's loop decodes into `E`'s types while it checks
/// them. What the spec's generated `Handlers` registers each handler with.
pub fn typed_handler<E, F, Fut>(builder: Builder, run: F) -> Builder
where
    E: Endpoint,
    F: Fn(TypedSession<E>) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = HandlerResult> + Send + 'static,
{
    let run: Run = Arc::new(move |session| Box::pin(run(TypedSession::__new(session))));
    builder.register(
        E::NAME,
        Handler {
            run,
            decode: Some(decode_as::<E>),
        },
    )
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
    /// The cluster's configuration cannot work (a Redis URL that does not
    /// parse, leases that lapse before they are renewed).
    #[cfg(feature = "redis")]
    #[error("cluster: {0}")]
    Cluster(String),
}

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
    audit: Option<AuditLog>,
    #[cfg(feature = "redis")]
    cluster: Option<crate::cluster::ClusterConfig>,
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
            audit: None,
            #[cfg(feature = "redis")]
            cluster: None,
        }
    }

    /// Writes the audit events to `log`, as JSON lines, instead of emitting
    /// them as `tracing` events (target `wsauth::audit`). Without this they
    /// stay `tracing` events. See [`AuditLog`] for the lines' fields.
    pub fn audit(mut self, log: AuditLog) -> Self {
        self.audit = Some(log);
        self
    }

    /// The limits before and during the handshake (header and handshake
    /// time, connections in all, per client address and anonymous); see
    /// [`ServerLimits`] for what each is and its default.
    pub fn limits(mut self, limits: ServerLimits) -> Self {
        self.limits = limits;
        self
    }

    /// Makes this server one node of a cluster sharing the Redis of
    /// `config`: per-user connection limits count every node's
    /// connections, and [`WsAuth::revoke_jti`] and its siblings reach every
    /// node. Nodes need nothing else in common (no sticky sessions). See
    /// [`ClusterConfig`](crate::ClusterConfig) for the bounds that hold and
    /// [`FailurePolicy`](crate::FailurePolicy) for what happens while Redis
    /// is unreachable.
    ///
    /// The node's tasks (health, lease renewal, the control channel) run on
    /// the tokio runtime [`build`](Builder::build) is called in, or on one
    /// thread of their own when it is called outside any. `build` does not
    /// wait for Redis: a node may start while Redis is down (its policy
    /// applies until it is back).
    #[cfg(feature = "redis")]
    pub fn redis(mut self, config: crate::cluster::ClusterConfig) -> Self {
        self.cluster = Some(config);
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

    /// How tokens are verified (usually a [`Verifier`](crate::jwt::Verifier)).
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

    /// The low-level, untyped way to give `endpoint` a handler: an async
    /// function of the untyped [`Session`] (JSON values in and out), whose
    /// endpoint name is checked only by [`build`](Builder::build) and whose
    /// messages are checked only at run time. The spec's generated
    /// `Handlers` (from [`include_spec!`](crate::include_spec), filled with
    /// [`#[ws_endpoint]`](crate::ws_endpoint) functions) is the checked way,
    /// and calls this for each endpoint: there, a missing handler, an
    /// unknown endpoint or a message the endpoint may not send does not
    /// compile.
    ///
    /// One per endpoint: a second for the same endpoint makes `build` fail
    /// ([`BuildError::HandlerTwice`]) rather than replace the first.
    pub fn handler<F, Fut>(self, endpoint: &str, handler: F) -> Self
    where
        F: Fn(Session) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = HandlerResult> + Send + 'static,
    {
        let run: Run = Arc::new(move |session| Box::pin(handler(session)));
        self.register(endpoint, Handler { run, decode: None })
    }

    fn register(mut self, endpoint: &str, handler: Handler) -> Self {
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
        let (api, audit) = (self.api, self.audit.clone());
        let alone = || {
            let metrics = Arc::new(Registry::new(api).audited(audit.clone()));
            let broker = Arc::new(Broker::new().counted(Arc::clone(&metrics)));
            (broker, Cluster::local(audit.clone()), metrics)
        };
        #[cfg(feature = "redis")]
        let (broker, cluster, metrics) = match self.cluster.take() {
            Some(config) => {
                let redis = Arc::default();
                let metrics =
                    Arc::new(Registry::clustered(api, Arc::clone(&redis)).audited(audit.clone()));
                let broker = Arc::new(Broker::clustered().counted(Arc::clone(&metrics)));
                let cluster = Cluster::with_redis(
                    config,
                    api.name,
                    redis,
                    Arc::clone(&broker),
                    audit.clone(),
                )?;
                (broker, cluster, metrics)
            }
            None => alone(),
        };
        #[cfg(not(feature = "redis"))]
        let (broker, cluster, metrics) = alone();
        let shared = Arc::new(Shared {
            api: self.api,
            state: Arc::new(self.state),
            authenticator: self.authenticator,
            users: self.users,
            topics: Topics::new(
                self.api,
                broker,
                #[cfg(feature = "redis")]
                cluster.fanout(),
                self.checks.clone(),
                self.limits.handshake_timeout,
                Arc::clone(&metrics),
            ),
            checks: self.checks,
            origins,
            limiter: Arc::new(ConnectionLimiter::default()),
            anonymous: Arc::default(),
            limits: self.limits,
            audit: self.audit,
            metrics,
            closing: Closing::default(),
            cluster,
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
