//! The shipvox example: ShipVox's broadcast channel as a wsauth server.
//!
//! Two doors, one secret:
//!
//! - `POST /token` ([`token`]): the OAuth 2.0 password grant. Users are in
//!   an embedded store ([`accounts`]) with argon2id hashes; unknown users,
//!   wrong passwords and inactive users are refused identically; failures
//!   are throttled per username and client address and per client address
//!   ([`throttle`]); answers are never cached.
//!   Documented in OpenAPI at `/openapi.json`.
//! - `/ws?token=...` (the spec's `broadcast` endpoint, [`handlers`]): every
//!   `say` a client sends is relayed to every connected client as
//!   `relayed`, stamped with the sender, the time and a request id, through
//!   the spec's `everyone` topic: the handler joins each connection to it,
//!   and the spec delivers it to `broadcast` as bare messages, as the
//!   ShipVox document's clients expect.
//!
//! The spec (`specs/shipvox.yaml`) is compiled in by `include_spec!`:
//! [`API`], [`messages`], [`schemas`], [`endpoints`], [`Handlers`].
//!
//! For development, [`Config::dev_token`] mints one token without `exp`,
//! accepted (through [`wsauth_core::jwt::dangerous`]) for as long as the
//! server runs and by no other server, and served at `GET /test-token` as
//! the ShipVox document's test token is: the binary does so only with
//! `--dev-token`, and says so loudly.
//!
//! ```no_run
//! # async fn run() -> Result<(), Box<dyn std::error::Error>> {
//! let config = shipvox::Config::new(std::env::var("WSAUTH_JWT_SECRET")?.into_bytes());
//! let app = shipvox::app(config)?;
//! let listener = tokio::net::TcpListener::bind("127.0.0.1:8000").await?;
//! shipvox::serve(listener, app.router, app.server, async { let _ = tokio::signal::ctrl_c().await; }).await?;
//! # Ok(()) }
//! ```

use std::sync::Arc;
use std::time::Duration;

use jsonwebtoken::{EncodingKey, Header};
use wsauth_core::jwt::{ConfigError, KeySet, Verifier, dangerous};
use wsauth_core::{BuildError, WsAuth};
pub use wsauth_example_support::{SHUTDOWN_GRACE, serve};

pub mod accounts;
pub mod handlers;
pub mod random;
pub mod throttle;
pub use wsauth_example_support::time;
pub mod token;

pub use accounts::{Accounts, HashParams};
pub use throttle::ThrottlePolicy;

wsauth_core::include_spec!("../../specs/shipvox.yaml");

/// The key slot of a spec whose `jwt` lists bare `algorithms`.
const KEY_SLOT: &str = "default";

/// Default lifetime of tokens from `/token`: 30 minutes, the ShipVox
/// document's `ACCESS_TOKEN_EXPIRE_MINUTES`.
pub const DEFAULT_TOKEN_TTL: Duration = Duration::from_secs(30 * 60);

/// Run-time configuration: what the spec leaves to the operator.
#[derive(Clone)]
pub struct Config {
    /// The HS256 secret (at least 32 bytes), for minting and verifying.
    pub secret: Vec<u8>,
    /// Exact origins (`scheme://host[:port]`) browsers may connect from;
    /// `None` lets any origin connect, which is safe here because tokens
    /// travel only in the query string, never in a cookie a browser would
    /// attach on its own.
    pub allowed_origins: Option<Vec<String>>,
    /// Argon2id cost of the password hashes.
    pub hashing: HashParams,
    /// Sign-in failures allowed per username and client address, and per
    /// client address.
    pub throttle: ThrottlePolicy,
    /// Lifetime of tokens from `/token`, at most the spec's `max_ttl_s`.
    pub token_ttl: Duration,
    /// Mint a non-expiring development token for this (active) user, and
    /// accept it. Never in production.
    pub dev_token: Option<String>,
    /// The cluster to join (`--redis`); `None`: this server alone.
    pub cluster: Option<wsauth_core::ClusterConfig>,
}

/// Everything but the secret, of which only its length.
impl std::fmt::Debug for Config {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Config")
            .field("secret", &wsauth_example_support::Redacted(&self.secret))
            .field("allowed_origins", &self.allowed_origins)
            .field("hashing", &self.hashing)
            .field("throttle", &self.throttle)
            .field("token_ttl", &self.token_ttl)
            .field("dev_token", &self.dev_token)
            .field("cluster", &self.cluster)
            .finish()
    }
}

impl Config {
    /// The defaults for `secret`: any origin, OWASP's minimum argon2id
    /// cost, 5 failures per username and address and 20 per address per 15
    /// minutes, 30-minute tokens, no dev token.
    pub fn new(secret: impl Into<Vec<u8>>) -> Self {
        Config {
            secret: secret.into(),
            allowed_origins: None,
            hashing: HashParams::default(),
            throttle: ThrottlePolicy::default(),
            token_ttl: DEFAULT_TOKEN_TTL,
            dev_token: None,
            cluster: None,
        }
    }
}

/// Why the app could not be built; the server must not start.
#[derive(Debug, thiserror::Error)]
pub enum AppError {
    /// The secret or the JWT settings were refused.
    #[error("JWT configuration: {0}")]
    Jwt(#[from] ConfigError),
    /// The spec's JWT settings name no issuer or no audience, which tokens
    /// from `/token` must carry (it always does; a guard).
    #[error("the spec's JWT settings name no issuer or no audience")]
    NoIssuerOrAudience,
    /// The server configuration does not match the spec, or an allowed
    /// origin is not `scheme://host[:port]` as browsers send it
    /// ([`BuildError::BadOrigin`]).
    #[error("server configuration: {0}")]
    Build(#[from] BuildError),
    /// The token lifetime is zero or over the spec's `max_ttl_s`.
    #[error("token lifetime {ttl}s must be between 1s and the spec's max_ttl_s ({max}s)")]
    TokenTtl {
        /// The configured lifetime, seconds.
        ttl: u64,
        /// The spec's maximum, seconds.
        max: u64,
    },
    /// The password store could not be built.
    #[error("user store: {0}")]
    Accounts(#[from] accounts::AccountsError),
    /// The dev token was asked for a user who is not active.
    #[error("--dev-token: `{0}` is not an active user")]
    DevTokenUser(String),
    /// The dev token could not be minted.
    #[error("--dev-token: {0}")]
    DevToken(String),
}

/// A built app: serve `router`; `server` is the handle for
/// [`WsAuth::stats`] and [`WsAuth::shutdown`].
pub struct App {
    /// `/ws`, `/token` and `/openapi.json`. Serve it with [`serve`], or
    /// with `into_make_service_with_connect_info::<SocketAddr>()`: `/token`
    /// throttles by the client address and refuses to work without it.
    pub router: axum::Router,
    /// The WebSocket server.
    pub server: WsAuth,
    /// The user store (shared with the router).
    pub accounts: Accounts,
    /// The non-expiring development token, when [`Config::dev_token`] asked
    /// for one.
    pub dev_token: Option<String>,
}

/// A non-expiring token for `user` (active), accepted only by a verifier
/// given its `jti`: returns the token and that `jti`.
fn mint_dev_token(
    config: &Config,
    accounts: &Accounts,
    user: &str,
    issuer: &str,
    audience: &str,
) -> Result<(String, String), AppError> {
    if accounts.status_of(user) != wsauth_core::UserStatus::Active {
        return Err(AppError::DevTokenUser(user.to_owned()));
    }
    let jti = random::hex(&random::bytes::<16>().map_err(|e| AppError::DevToken(e.to_string()))?);
    let claims = serde_json::json!({
        "sub": user,
        "iat": token::unix_now(),
        "iss": issuer,
        "aud": audience,
        "roles": accounts.roles_of(user).unwrap_or_default(),
        dangerous::MARKER_CLAIM: jti,
    });
    let token = jsonwebtoken::encode(
        &Header::default(),
        &claims,
        &EncodingKey::from_secret(&config.secret),
    )
    .map_err(|e| AppError::DevToken(e.to_string()))?;
    Ok((token, jti))
}

/// `GET /test-token`, the ShipVox document's "test token" route: served
/// only with [`Config::dev_token`], and answering with that token.
pub const TEST_TOKEN_PATH: &str = "/test-token";

/// The `/test-token` answer, shaped as the ShipVox document shows it.
fn test_token_body(user: &str, token: &str) -> serde_json::Value {
    serde_json::json!({
        "test_token": token,
        "note": format!(
            "This token is for testing only. It is valid for the '{user}' account \
             and does not expire until this server stops."
        ),
    })
}

/// Builds the app: hashes the seeded passwords (a fraction of a second),
/// checks the configuration against the spec, and wires `/ws`, `/token`
/// and `/openapi.json`.
pub fn app(config: Config) -> Result<App, AppError> {
    let keys = KeySet::new().hmac(KEY_SLOT, &config.secret)?;
    let mut verifier = Verifier::for_api(&API, keys)?;
    // `/token` mints what the verifier checks.
    let jwt = verifier.descriptor();
    let (Some(issuer), Some(&audience)) = (jwt.issuer, jwt.audience.first()) else {
        return Err(AppError::NoIssuerOrAudience);
    };
    let max = jwt.max_ttl_s.unwrap_or(u64::MAX);
    let ttl = config.token_ttl.as_secs();
    if ttl == 0 || ttl > max {
        return Err(AppError::TokenTtl { ttl, max });
    }
    let accounts = Accounts::seeded(config.hashing)?;
    let dev_token = match &config.dev_token {
        None => None,
        Some(user) => {
            let (token, jti) = mint_dev_token(&config, &accounts, user, issuer, audience)?;
            verifier = dangerous::accept_non_expiring(verifier, &jti);
            tracing::warn!(
                user = %user,
                "DEVELOPMENT MODE: a non-expiring token for `{user}` is accepted until this server stops; never run like this in production"
            );
            Some(token)
        }
    };
    let mut builder = Handlers {
        broadcast: handlers::broadcast,
    }
    .into_builder()
    .authenticator(verifier)
    .users(accounts.clone());
    builder = match &config.allowed_origins {
        Some(origins) => builder.allow_origins(origins),
        None => builder.allow_any_origin(),
    };
    let server = wsauth_example_support::cluster::clustered(builder, config.cluster).build()?;
    let service = token::TokenService {
        accounts: accounts.clone(),
        throttle: Arc::new(throttle::Throttle::new(config.throttle)),
        key: EncodingKey::from_secret(&config.secret),
        issuer,
        audience,
        ttl: config.token_ttl,
    };
    let openapi = token::openapi_json(server.openapi());
    let mut router = server.router();
    if let (Some(user), Some(dev)) = (&config.dev_token, &dev_token) {
        let body = test_token_body(user, dev);
        router = router.route(
            TEST_TOKEN_PATH,
            axum::routing::get(move || async move { token::no_store(axum::Json(body)) }),
        );
    }
    let router = router
        .route(
            token::TOKEN_PATH,
            axum::routing::post(token::token).with_state(service),
        )
        .route(
            "/openapi.json",
            axum::routing::get(move || async move { axum::Json(openapi) }),
        );
    Ok(App {
        router,
        server,
        accounts,
        dev_token,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cheap(secret: &[u8]) -> Config {
        let mut config = Config::new(secret);
        config.hashing = HashParams {
            memory_kib: 64,
            iterations: 1,
            parallelism: 1,
            concurrency: 1,
        };
        config
    }

    #[test]
    fn bad_configurations_stop_the_app() {
        assert!(matches!(
            app(cheap(b"too short")),
            Err(AppError::Jwt(ConfigError::ShortSecret { len: 9, .. }))
        ));
        let mut config = cheap(&[7u8; 32]);
        config.allowed_origins = Some(vec!["https://app.example/".into()]);
        assert!(matches!(
            app(config),
            Err(AppError::Build(BuildError::BadOrigin(o))) if o == "https://app.example/"
        ));
        let mut config = cheap(&[7u8; 32]);
        config.token_ttl = Duration::from_secs(3601);
        assert!(matches!(
            app(config),
            Err(AppError::TokenTtl {
                ttl: 3601,
                max: 3600
            })
        ));
        let mut config = cheap(&[7u8; 32]);
        config.dev_token = Some("mallory".into());
        assert!(matches!(app(config), Err(AppError::DevTokenUser(_))));
        let built = app(cheap(&[7u8; 32])).unwrap_or_else(|e| panic!("{e}"));
        assert!(built.dev_token.is_none());
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
