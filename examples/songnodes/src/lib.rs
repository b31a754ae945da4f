//! The songnodes example: the SongNodes live music graph as a wsauth server.
//!
//! SongNodes pushes graph updates to browsers over WebSockets. Signed-in
//! users follow `/ws/{user_id}`, with the token in the query (as the
//! original web client sent it), a subprotocol or the `Authorization`
//! header, and the path's user must be the token's subject (1008
//! otherwise). Anyone may watch the public graph on `/ws/anonymous`
//! without a token: the spec makes that an explicit endpoint with the
//! `guest` role's (fewer) permissions, not a fallback for a missing or bad
//! token. Both endpoints welcome the client with what the server decided:
//! whether it authenticated, as whom, and which permissions it holds.
//!
//! The spec (`specs/songnodes.yaml`) is compiled in: `include_spec!`
//! generates the descriptor [`API`], the message types ([`messages`],
//! [`schemas`]), one module per endpoint ([`endpoints`]) and [`Handlers`];
//! [`handlers`] implements the two endpoints over the [`store`], which
//! reaches them through [`Builder::state`](wsauth_core::Builder::state).
//!
//! [`app`] builds the router and the [`WsAuth`] server from a [`Config`];
//! [`serve`] runs them until a shutdown signal, then closes every open socket
//! with 1001. The binary (`src/main.rs`) only reads its arguments and the
//! environment; tests start the same app in-process.
//!
//! ```no_run
//! # async fn run() -> Result<(), Box<dyn std::error::Error>> {
//! let config = songnodes::Config::new(std::env::var("WSAUTH_JWT_SECRET")?.into_bytes());
//! let (router, server) = songnodes::app(config)?;
//! let listener = tokio::net::TcpListener::bind("127.0.0.1:8000").await?;
//! songnodes::serve(listener, router, server, async { let _ = tokio::signal::ctrl_c().await; }).await?;
//! # Ok(()) }
//! ```

use wsauth_core::WsAuth;
use wsauth_core::jwt::{KeySet, Verifier};
pub use wsauth_example_support::{AppError, SHUTDOWN_GRACE, serve};

pub mod handlers;
pub mod store;

pub use store::Store;

wsauth_core::include_spec!("../../specs/songnodes.yaml");

/// The key slot of a spec whose `jwt` lists bare `algorithms`.
const KEY_SLOT: &str = "default";

/// Origins allowed by default: the example server's own address.
pub const DEFAULT_ORIGINS: [&str; 2] = ["http://127.0.0.1:8000", "http://localhost:8000"];

/// Run-time configuration: what the spec leaves to the operator.
#[derive(Clone)]
pub struct Config {
    /// The HS256 secret (at least 32 bytes).
    pub secret: Vec<u8>,
    /// Exact origins (`scheme://host[:port]`) browsers may connect from;
    /// clients that send no `Origin` (not browsers) are not affected.
    pub allowed_origins: Vec<String>,
    /// Users, the graph and playlists.
    pub store: Store,
    /// The cluster to join (`--redis`); `None`: this server alone.
    pub cluster: Option<wsauth_core::ClusterConfig>,
}

/// Everything but the secret, of which only its length.
impl std::fmt::Debug for Config {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Config")
            .field("secret", &wsauth_example_support::Redacted(&self.secret))
            .field("allowed_origins", &self.allowed_origins)
            .field("store", &self.store)
            .field("cluster", &self.cluster)
            .finish()
    }
}

impl Config {
    /// The defaults for `secret`: [`DEFAULT_ORIGINS`] and the seeded
    /// [`Store`].
    pub fn new(secret: impl Into<Vec<u8>>) -> Self {
        Config {
            secret: secret.into(),
            allowed_origins: DEFAULT_ORIGINS.iter().map(|o| (*o).to_owned()).collect(),
            store: Store::seeded(),
            cluster: None,
        }
    }
}

/// Builds the app: the router (both endpoints) and the server handle (for
/// [`WsAuth::stats`] and [`WsAuth::shutdown`]).
pub fn app(config: Config) -> Result<(axum::Router, WsAuth), AppError> {
    let keys = KeySet::new().hmac(KEY_SLOT, &config.secret)?;
    let verifier = Verifier::for_api(&API, keys)?;
    let store = store::Shared::new(config.store);
    let server = Handlers {
        user: handlers::user,
        anonymous: handlers::anonymous,
    }
    .with_state(store.clone())
    .authenticator(verifier)
    .users(store)
    .allow_origins(&config.allowed_origins);
    let server = wsauth_example_support::cluster::clustered(server, config.cluster).build()?;
    let router = server.router();
    Ok((router, server))
}

#[cfg(test)]
mod tests {
    use wsauth_core::BuildError;
    use wsauth_core::jwt::ConfigError;

    use super::*;

    #[test]
    fn short_secrets_and_bad_origins_stop_the_app() {
        let short = app(Config::new("too short"));
        assert!(matches!(
            short,
            Err(AppError::Jwt(ConfigError::ShortSecret { len: 9, .. }))
        ));
        let mut config = Config::new([7u8; 32]);
        config.allowed_origins.push("https://app.example/".into());
        assert!(matches!(
            app(config),
            Err(AppError::Build(BuildError::BadOrigin(o))) if o == "https://app.example/"
        ));
        assert!(app(Config::new([7u8; 32])).is_ok());
    }

    #[test]
    fn debug_never_shows_the_secret() {
        let secret = b"config-secret-0123456789abcdefghij";
        let config = Config::new(&secret[..]);
        let as_bytes = format!("{:?}", &secret[..]);
        for shown in [format!("{config:?}"), format!("{config:#?}")] {
            assert!(shown.contains("<redacted 34 bytes>"), "{shown}");
            assert!(!shown.contains("config-secret"), "{shown}");
            assert!(!shown.contains(&as_bytes[1..20]), "{shown}");
        }
    }
}
