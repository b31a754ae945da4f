//! The mcp-status example: live MCP server status for operators, as a
//! wsauth server, with tokens checked by a remote introspection service.
//!
//! One WebSocket endpoint from `specs/mcp-status.yaml`, `/ws/mcp-status`:
//! only the roles `admin`, `developer` and `dba` may watch (the token's
//! single `role` claim), and every refusal closes with 1008 and a generic
//! reason the spec names (`no token provided`, `invalid or expired token`,
//! `insufficient role`, `user inactive`, ...). An admitted client gets
//! `initial_status` (every server), then `mcp_status_change` and
//! `health_event` as they happen ([`status`]); a text `ping` is answered
//! with `pong`.
//!
//! Tokens are checked one of two ways, chosen by [`Config::introspection`]:
//!
//! - not set: locally, as HS256 JWTs ([`Verifier`]);
//! - set: by the RFC 7662 introspection service at that URL
//!   ([`Introspector`]). The spec says `fallback: jwt`, so when the service
//!   cannot answer the token is verified locally instead (an audit event
//!   says so); when it answers "inactive" the connection is refused, however
//!   good the token's signature.
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

/// Where the introspection service is, and how to call it.
#[derive(Clone, Debug)]
pub struct IntrospectionConfig {
    /// The RFC 7662 endpoint: `https`, or `http` to a loopback address.
    pub url: String,
    /// HTTP Basic client credentials `(id, secret)`, when the service
    /// requires them.
    pub client: Option<(String, String)>,
    /// Time limit for one request; beyond it the service counts as
    /// unreachable.
    pub timeout: Duration,
}

impl IntrospectionConfig {
    /// The service at `url`, without client credentials, with wsauth's
    /// default time limit.
    pub fn new(url: impl Into<String>) -> Self {
        IntrospectionConfig {
            url: url.into(),
            client: None,
            timeout: introspection::DEFAULT_TIMEOUT,
        }
    }
}

/// Run-time configuration: what the spec leaves to the operator.
#[derive(Clone, Debug)]
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
}

/// Builds the app: the router (`/ws/mcp-status`) and the server handle.
pub fn app(config: Config) -> Result<(axum::Router, WsAuth), AppError> {
    let verifier = Verifier::for_api(&API, KeySet::new().hmac(KEY_SLOT, &config.secret)?)?;
    let builder = Handlers {
        status: handlers::status,
    }
    .into_builder()
    .users(config.users)
    .state(config.board);
    let builder = match config.introspection {
        None => builder.authenticator(verifier),
        Some(settings) => {
            let mut endpoint = IntrospectionEndpoint::new(&settings.url)?.timeout(settings.timeout);
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
    let server = builder.build()?;
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
    fn the_spec_allows_the_jwt_fallback() {
        let fallback = API.auth.and_then(|a| a.introspection);
        assert_eq!(fallback, Some(Fallback::Jwt));
    }
}
