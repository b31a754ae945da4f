//! The reflections example: a journal's AI reflection stream as a wsauth
//! server.
//!
//! One WebSocket endpoint from `specs/reflections.yaml`,
//! `/ws/reflections/{entry_id}`: the owner of a journal entry connects and
//! receives the AI's reflection on it token by token, each token a bare text
//! frame (the endpoint's frames are raw), then the server closes
//! with 1000 ("done"). Everything that can go wrong is a close code the spec
//! names, reached through the framework's pipeline rather than by code here:
//!
//! | close | when |
//! |-------|------|
//! | 4001 | no token, or one that does not verify (signature, claims, expiry) |
//! | 4002 | the user is inactive or unknown |
//! | 4003 | the entry is someone else's (or the token lacks `reflections.read`) |
//! | 4004 | no such entry, or an `entry_id` that is not a canonical integer |
//! | 1011 | the store fails at the handshake, or generation fails mid-stream |
//! | 1000 | the whole reflection was sent |
//!
//! The spec is compiled in: `include_spec!` generates the descriptor
//! [`API`], the endpoint's session ([`endpoints`]) and [`Handlers`]. [`store`] holds users and
//! entries and implements the spec's `entry_owner` check; [`handlers`]
//! streams.
//!
//! [`app`] builds the router and the [`WsAuth`] server from a [`Config`];
//! [`serve`] runs them until a shutdown signal, then closes every open socket
//! with 1001. The binary (`src/main.rs`) only reads its arguments and the
//! environment, and tests start the same app in-process.
//!
//! ```no_run
//! # async fn run() -> Result<(), Box<dyn std::error::Error>> {
//! let config = reflections::Config::new(std::env::var("WSAUTH_JWT_SECRET")?.into_bytes());
//! let (router, server) = reflections::app(config)?;
//! let listener = tokio::net::TcpListener::bind("127.0.0.1:8000").await?;
//! reflections::serve(listener, router, server, async { let _ = tokio::signal::ctrl_c().await; }).await?;
//! # Ok(()) }
//! ```

use std::time::Duration;

use wsauth_core::WsAuth;
use wsauth_core::jwt::{KeySet, Verifier};
pub use wsauth_example_support::{AppError, SHUTDOWN_GRACE, serve};

pub mod handlers;
pub mod store;

pub use handlers::Generator;
pub use store::Store;

wsauth_core::include_spec!("../../specs/reflections.yaml");

/// The key slot of a spec whose `jwt` lists bare `algorithms`.
const KEY_SLOT: &str = "default";

/// The default pause between tokens: slow enough to watch, fast enough not
/// to bore.
pub const DEFAULT_TOKEN_INTERVAL: Duration = Duration::from_millis(40);

/// Run-time configuration: what the spec leaves to the operator.
#[derive(Clone)]
pub struct Config {
    /// The HS256 secret (at least 32 bytes).
    pub secret: Vec<u8>,
    /// Exact origins (`scheme://host[:port]`) browsers may connect from;
    /// empty allows any origin. Tokens travel in the query or a header,
    /// never in a cookie, so a page from another origin cannot borrow a
    /// user's credentials: an allow-list is an operator's choice, not a
    /// necessity.
    pub allowed_origins: Vec<String>,
    /// Users and entries.
    pub store: Store,
    /// The pause between tokens.
    pub token_interval: Duration,
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
            .field("token_interval", &self.token_interval)
            .field("cluster", &self.cluster)
            .finish()
    }
}

impl Config {
    /// The defaults for `secret`: any origin, the seeded [`Store`],
    /// [`DEFAULT_TOKEN_INTERVAL`].
    pub fn new(secret: impl Into<Vec<u8>>) -> Self {
        Config {
            secret: secret.into(),
            allowed_origins: Vec::new(),
            store: Store::seeded(),
            token_interval: DEFAULT_TOKEN_INTERVAL,
            cluster: None,
        }
    }
}

/// Builds the app: the router (the one endpoint) and the server handle (for
/// [`WsAuth::stats`] and [`WsAuth::shutdown`]).
pub fn app(config: Config) -> Result<(axum::Router, WsAuth), AppError> {
    let keys = KeySet::new().hmac(KEY_SLOT, &config.secret)?;
    let verifier = Verifier::for_api(&API, keys)?;
    let store = store::Shared::new(config.store);
    let builder = Handlers {
        reflection: handlers::reflection,
    }
    .with_state(Generator {
        store: store.clone(),
        token_interval: config.token_interval,
    })
    .authenticator(verifier)
    .users(store.clone())
    .checks(store);
    let builder = if config.allowed_origins.is_empty() {
        builder.allow_any_origin()
    } else {
        builder.allow_origins(&config.allowed_origins)
    };
    let server = wsauth_example_support::cluster::clustered(builder, config.cluster).build()?;
    Ok((server.router(), server))
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
