//! The mcp-status example: live MCP server status for operators, as a
//! wsauth server, with tokens checked by a remote introspection service.
//!
//! One WebSocket endpoint from `specs/mcp-status.yaml`, `/ws/mcp-status`:
//! only the roles `admin`, `developer` and `dba` may watch (the token's
//! single `role` claim), and every refusal closes with 1008 and a generic
//! reason the spec names (`Authentication required: No token provided`,
//! `Authentication failed: Invalid or expired token`, `Insufficient
//! permissions: role not authorized`, `user inactive`, ...), as the
//! service's document states. An admitted client gets `initial_status`
//! (every server, in `mcps`), then `mcp_status_change` and `health_event` as
//! they happen ([`status`], published on the spec's `status` topic, which
//! the endpoint gets as its own messages); the dashboard's text `ping` is answered with
//! `"pong"`, a JSON string, because the dashboard parses every frame as
//! JSON.
//!
//! Tokens are checked one of two ways, chosen by [`Config::introspection`]:
//!
//! - not set: locally, as HS256 JWTs ([`Verifier`]);
//! - set: by the RFC 7662 introspection service at that URL
//!   ([`Introspector`]). The spec says `fallback: jwt`, so the token is
//!   verified locally first (a bad one never reaches the service), and when
//!   the service cannot be reached the local verdict stands (an audit event
//!   says so). When it answers "inactive" the connection is refused, however
//!   good the token's signature; when it answers something unusable (`401`
//!   because the client credentials are wrong, say) the connection is
//!   refused with a server error and an error is logged, never falling
//!   back.
//!
//! The example ships that service too ([`introspect`], binary
//! `mcp-introspect`): it verifies the example's tokens itself and keeps
//! lists of deactivated users and revoked tokens.
//!
//! ```no_run
//! # async fn run() -> Result<(), Box<dyn std::error::Error>> {
//! let mut config = mcp_status::Config::new(std::env::var("WSAUTH_JWT_SECRET")?.into_bytes());
//! config.introspection = Some(mcp_status::IntrospectionConfig::new("http://127.0.0.1:8001/introspect"));
//! let (router, server) = mcp_status::app(config)?;
//! let listener = tokio::net::TcpListener::bind("127.0.0.1:8000").await?;
//! mcp_status::serve(listener, router, server, async { let _ = tokio::signal::ctrl_c().await; }).await?;
//! # Ok(()) }
//! ```

use std::time::Duration;

use wsauth_core::introspection::{self, IntrospectionEndpoint, Introspector};
use wsauth_core::jwt::{self, KeySet, Verifier};
use wsauth_core::spec::Fallback;
use wsauth_core::{BuildError, WsAuth};
pub use wsauth_example_support::{SHUTDOWN_GRACE, serve};

pub mod handlers;
pub mod introspect;
pub mod status;
pub mod store;
pub use wsauth_example_support::time;

pub use introspect::IntrospectionService;
pub use status::StatusBoard;
pub use store::Users;

wsauth_core::include_spec!("../../specs/mcp-status.yaml");

/// The key slot of a spec whose `jwt` lists bare `algorithms`.
pub(crate) const KEY_SLOT: &str = "default";

/// The environment variable holding the introspection client secret (used
/// by both binaries, with `--client-id` / `--introspection-client-id`).
pub const CLIENT_SECRET_ENV: &str = "WSAUTH_INTROSPECTION_CLIENT_SECRET";

/// Where the introspection service is, and how to call it. Its `Debug`
/// shows the client id, never the client secret.
#[derive(Clone)]
pub struct IntrospectionConfig {
    /// The RFC 7662 endpoint: `https`, or `http` to a loopback address.
    pub url: String,
    /// HTTP Basic client credentials `(id, secret)`, when the service
    /// requires them.
    pub client: Option<(String, String)>,
    /// Time limit for one request; beyond it the service counts as
    /// unreachable.
    pub timeout: Duration,
    /// How long an "active" answer is remembered: the longest a revocation
    /// takes to reach a new handshake (zero: ask every time).
    pub cache_active_for: Duration,
}

/// What `Debug` shows instead of a secret.
const REDACTED: &str = "<redacted>";

impl std::fmt::Debug for IntrospectionConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("IntrospectionConfig")
            .field("url", &self.url)
            .field("client_id", &self.client.as_ref().map(|(id, _)| id))
            .field("client_secret", &self.client.as_ref().map(|_| REDACTED))
            .field("timeout", &self.timeout)
            .field("cache_active_for", &self.cache_active_for)
            .finish()
    }
}

impl IntrospectionConfig {
    /// The service at `url`, without client credentials, with wsauth's
    /// default time limit.
    pub fn new(url: impl Into<String>) -> Self {
        IntrospectionConfig {
            url: url.into(),
            client: None,
            timeout: introspection::DEFAULT_TIMEOUT,
            cache_active_for: introspection::DEFAULT_CACHE_ACTIVE_FOR,
        }
    }
}

/// Run-time configuration: what the spec leaves to the operator. Its
/// `Debug` never shows the secrets.
#[derive(Clone)]
pub struct Config {
    /// The HS256 secret (at least 32 bytes).
    pub secret: Vec<u8>,
    /// The introspection service; `None`: tokens are verified locally only.
    pub introspection: Option<IntrospectionConfig>,
    /// Exact origins (`scheme://host[:port]`) browsers may connect from;
    /// empty: any. Tokens travel only in a header or the query, never in a
    /// cookie, so a foreign page cannot borrow a visitor's credentials.
    pub allowed_origins: Vec<String>,
    /// Who may use the API at all.
    pub users: Users,
    /// The MCP servers' status (clones share it: keep one to drive it).
    pub board: StatusBoard,
    /// The cluster to join (`--redis`); `None`: this server alone.
    pub cluster: Option<wsauth_core::ClusterConfig>,
}

impl std::fmt::Debug for Config {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Config")
            .field("secret", &REDACTED)
            .field("introspection", &self.introspection)
            .field("allowed_origins", &self.allowed_origins)
            .field("users", &self.users)
            .field("board", &self.board)
            .field("cluster", &self.cluster)
            .finish()
    }
}

impl Config {
    /// The defaults for `secret`: local verification, any origin, the
    /// seeded [`Users`] and [`StatusBoard`].
    pub fn new(secret: impl Into<Vec<u8>>) -> Self {
        Config {
            secret: secret.into(),
            introspection: None,
            allowed_origins: Vec::new(),
            users: Users::seeded(),
            board: StatusBoard::seeded(),
            cluster: None,
        }
    }
}

/// Why the app could not be built; the server must not start.
#[derive(Debug, thiserror::Error)]
pub enum AppError {
    /// The secret or the JWT settings were refused (a secret shorter than 32
    /// bytes, say).
    #[error("JWT configuration: {0}")]
    Jwt(#[from] jwt::ConfigError),
    /// The introspection settings were refused (a plain-http URL to another
    /// host, say).
    #[error("introspection: {0}")]
    Introspection(#[from] introspection::ConfigError),
    /// The server configuration does not match the spec, or an allowed
    /// origin is not `scheme://host[:port]` as browsers send it
    /// ([`BuildError::BadOrigin`]).
    #[error("server configuration: {0}")]
    Build(#[from] BuildError),
    /// The board in the configuration already serves another server.
    #[error(transparent)]
    Board(#[from] status::AlreadyServed),
}

/// Builds the app: the router (`/ws/mcp-status`) and the server handle.
pub fn app(config: Config) -> Result<(axum::Router, WsAuth), AppError> {
    let verifier = Verifier::for_api(&API, KeySet::new().hmac(KEY_SLOT, &config.secret)?)?;
    let builder = Handlers {
        status: handlers::status,
    }
    .with_state(config.board.clone())
    .users(config.users);
    let builder = match config.introspection {
        None => builder.authenticator(verifier),
        Some(settings) => {
            let mut endpoint = IntrospectionEndpoint::new(&settings.url)?
                .timeout(settings.timeout)
                .cache_active_for(settings.cache_active_for);
            if let Some((id, secret)) = settings.client {
                endpoint = endpoint.client_credentials(id, secret);
            }
            let introspector = Introspector::new(&API, endpoint)?;
            // The spec, not this code, decides whether a local fallback exists.
            let introspector = match API.auth.and_then(|a| a.introspection) {
                Some(Fallback::Jwt) => introspector.with_fallback(verifier)?,
                _ => introspector,
            };
            builder.authenticator(introspector)
        }
    };
    let builder = if config.allowed_origins.is_empty() {
        builder.allow_any_origin()
    } else {
        builder.allow_origins(&config.allowed_origins)
    };
    let server = wsauth_example_support::cluster::clustered(builder, config.cluster).build()?;
    config.board.serve_on(server.topics())?;
    Ok((server.router(), server))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bad_configuration_stops_the_app() {
        assert!(matches!(
            app(Config::new("too short")),
            Err(AppError::Jwt(jwt::ConfigError::ShortSecret { len: 9, .. }))
        ));
        let mut config = Config::new([7u8; 32]);
        config.allowed_origins.push("https://ops.example/".into());
        assert!(matches!(
            app(config),
            Err(AppError::Build(BuildError::BadOrigin(o))) if o == "https://ops.example/"
        ));
        let mut config = Config::new([7u8; 32]);
        config.introspection = Some(IntrospectionConfig::new("http://auth.example/introspect"));
        assert!(matches!(
            app(config),
            Err(AppError::Introspection(introspection::ConfigError::BadUrl(
                _
            )))
        ));
        assert!(app(Config::new([7u8; 32])).is_ok());
    }

    #[test]
    fn debug_output_hides_the_secrets() {
        let secret = "hmac-secret-0123456789-abcdefghijkl";
        let mut config = Config::new(secret);
        let mut introspection = IntrospectionConfig::new("http://127.0.0.1:8001/introspect");
        introspection.client = Some(("mcp-status".into(), "client-s3cret".into()));
        config.introspection = Some(introspection);
        for shown in [format!("{config:?}"), format!("{config:#?}")] {
            assert!(!shown.contains(secret), "{shown}");
            // `Vec<u8>`'s own `Debug` would list the bytes.
            assert!(!shown.contains(&format!("{:?}", secret.as_bytes())[1..20]));
            assert!(!shown.contains("client-s3cret"), "{shown}");
            assert!(shown.contains("mcp-status"), "{shown}");
            assert!(shown.contains("127.0.0.1:8001"), "{shown}");
            assert!(shown.contains(REDACTED), "{shown}");
        }
    }

    #[test]
    fn the_spec_allows_the_jwt_fallback() {
        let fallback = API.auth.and_then(|a| a.introspection);
        assert_eq!(fallback, Some(Fallback::Jwt));
    }
}
