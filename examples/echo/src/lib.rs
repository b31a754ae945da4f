//! The echo example: the smallest authenticated wsauth API, from
//! `specs/echo.yaml`, used by the benchmarks (`wsauth-bench`) and by the
//! Autobahn conformance run (`.ci/autobahn.sh`).
//!
//! Three endpoints:
//!
//! - `/ws/echo/{user_id}?token=JWT`: an HS256 JWT whose `sub` equals
//!   `user_id` and whose `role` claim (one string) grants `echo.use`
//!   (`user` or `admin`). The server first sends
//!   `{"type":"connected","user_id":...,"authenticated":true}`, then answers
//!   every `{"type":"echo","payload":...}` with the same message. The
//!   payload may be any JSON, so the handler works on the untyped
//!   [`Session`] and its [`serde_json::Value`]s.
//! - `/ws/typed/{user_id}?token=JWT`: the same authentication and welcome,
//!   then every `{"type":"say","payload":"..."}` (a string) is answered
//!   with the same message. Its handler is written the normal way, on the
//!   endpoint's generated types ([`messages::Say`]), and is what the
//!   benchmark's typed echo measures.
//! - `/ws/raw`: anonymous; every text or binary frame is sent back verbatim.
//!
//! Users live in memory ([`Users`]). By default **every subject is active**:
//! whoever holds a token signed with the server's secret may connect, which is
//! what a benchmark that mints many subjects wants. [`Users::only`] restricts
//! the store to a fixed list, and the binary's `--users` flag exposes it.
//!
//! ```no_run
//! # async fn run() -> Result<(), Box<dyn std::error::Error>> {
//! let secret = std::env::var(echo::SECRET_ENV)?;
//! let (router, server) = echo::app(secret.as_bytes(), echo::Users::any())?;
//! let listener = tokio::net::TcpListener::bind("127.0.0.1:8000").await?;
//! let ctrl_c = async { let _ = tokio::signal::ctrl_c().await; };
//! server.serve(listener, router, ctrl_c, std::time::Duration::from_secs(5)).await?;
//! # Ok(()) }
//! ```

use std::collections::HashSet;
use std::fmt;
use std::sync::Arc;

use axum::Router;
use axum::extract::ws::Message;
use wsauth_core::jwt::{ConfigError, KeySet, Verifier};
use wsauth_core::{BoxFuture, StoreError, UserStatus, UserStore};
use wsauth_core::{BuildError, HandlerResult, Incoming, WsAuth, ws_endpoint};

wsauth_core::include_spec!("../../specs/echo.yaml");

/// The environment variable holding the HS256 secret.
pub const SECRET_ENV: &str = "WSAUTH_JWT_SECRET";

/// The key slot the spec's `jwt.algorithms` shorthand defines.
pub const KEY_SLOT: &str = "default";

/// Shortest secret accepted, in bytes.
pub const MIN_SECRET_BYTES: usize = wsauth_core::jwt::MIN_HMAC_SECRET_BYTES;

/// An in-memory user store.
///
/// [`Users::any`] treats every subject as active (the token's signature is
/// the only gate); [`Users::only`] knows a fixed set of active subjects and
/// reports every other one as unknown (close code 4002).
#[derive(Clone, Debug, Default)]
pub struct Users {
    known: Option<Arc<HashSet<String>>>,
}

impl Users {
    /// Every subject is active.
    pub fn any() -> Self {
        Users { known: None }
    }

    /// Exactly these subjects are active; others are unknown.
    pub fn only<I, S>(subjects: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        Users {
            known: Some(Arc::new(subjects.into_iter().map(Into::into).collect())),
        }
    }

    fn status_of(&self, subject: &str) -> UserStatus {
        match &self.known {
            None => UserStatus::Active,
            Some(known) if known.contains(subject) => UserStatus::Active,
            Some(_) => UserStatus::Unknown,
        }
    }
}

impl UserStore for Users {
    fn status<'a>(&'a self, subject: &'a str) -> BoxFuture<'a, Result<UserStatus, StoreError>> {
        let status = self.status_of(subject);
        Box::pin(async move { Ok(status) })
    }
}

/// Why the app could not be set up; the server must not start.
#[derive(Debug)]
pub enum AppError {
    /// The secret or the spec's key configuration was refused (or the spec
    /// lost its JWT settings: [`ConfigError::NoJwtSettings`]).
    Keys(ConfigError),
    /// The server configuration does not match the spec.
    Build(BuildError),
}

impl fmt::Display for AppError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            AppError::Keys(e) => write!(f, "invalid JWT key configuration: {e}"),
            AppError::Build(e) => write!(f, "invalid server configuration: {e}"),
        }
    }
}

impl std::error::Error for AppError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            AppError::Keys(e) => Some(e),
            AppError::Build(e) => Some(e),
        }
    }
}

/// The configured wsauth server for the echo spec, with `secret` as the
/// HS256 key (at least [`MIN_SECRET_BYTES`]) and `users` as the store.
pub fn server(secret: &[u8], users: Users) -> Result<WsAuth, AppError> {
    server_in(secret, users, None)
}

/// [`server`], one node of `cluster` when there is one (`--redis`).
pub fn server_in(
    secret: &[u8],
    users: Users,
    cluster: Option<wsauth_core::ClusterConfig>,
) -> Result<WsAuth, AppError> {
    server_with(secret, users, |builder| {
        wsauth_example_support::cluster::clustered(builder, cluster)
    })
}

/// [`server`], with `configure` adding to the builder (a cluster, an audit
/// log) before it is built.
pub fn server_with(
    secret: &[u8],
    users: Users,
    configure: impl FnOnce(wsauth_core::Builder) -> wsauth_core::Builder,
) -> Result<WsAuth, AppError> {
    let keys = KeySet::new()
        .hmac(KEY_SLOT, secret)
        .map_err(AppError::Keys)?;
    let verifier = Verifier::for_api(&API, keys).map_err(AppError::Keys)?;
    let builder = Handlers { echo, typed, raw }
        .into_builder()
        .authenticator(verifier)
        .users(users)
        .allow_any_origin();
    configure(builder).build().map_err(AppError::Build)
}

/// The axum router serving both endpoints, and the server (for
/// [`WsAuth::serve`], [`WsAuth::shutdown`] and [`WsAuth::stats`]). Serve
/// it with [`WsAuth::serve`] (limits before authentication, audit events
/// with the peer address).
pub fn app(secret: &[u8], users: Users) -> Result<(Router, WsAuth), AppError> {
    app_in(secret, users, None)
}

/// [`app`], one node of `cluster` when there is one (`--redis`).
pub fn app_in(
    secret: &[u8],
    users: Users,
    cluster: Option<wsauth_core::ClusterConfig>,
) -> Result<(Router, WsAuth), AppError> {
    let server = server_in(secret, users, cluster)?;
    Ok((server.router(), server))
}

/// The `connected` welcome every authenticated endpoint sends first.
fn welcome(user_id: &str) -> messages::Connected {
    messages::Connected {
        user_id: user_id.to_owned(),
        authenticated: true,
    }
}

/// `echo`: the welcome, then every `echo` message sent back unchanged,
/// whatever JSON its payload holds.
#[ws_endpoint(perm = "echo.use")]
async fn echo(mut session: endpoints::echo::Session) -> HandlerResult {
    let user_id = session.param("user_id").unwrap_or_default().to_owned();
    session.send(welcome(&user_id))?;
    let session = session.untyped();
    while let Some(message) = session.recv().await {
        if let Incoming::Message {
            kind: "echo",
            value,
        } = message
        {
            session.send("echo", &value)?;
        }
    }
    Ok(())
}

/// `typed`: the welcome, then every `say` sent back unchanged.
#[ws_endpoint(perm = "echo.use")]
async fn typed(mut session: endpoints::typed::Session) -> HandlerResult {
    let user_id = session.param("user_id").unwrap_or_default().to_owned();
    session.send(welcome(&user_id))?;
    while let Some(message) = session.recv().await {
        match message {
            endpoints::typed::Incoming::Say(say) => session.send(say)?,
        }
    }
    Ok(())
}

/// `raw`: every text or binary frame sent back verbatim.
#[ws_endpoint]
async fn raw(mut session: endpoints::raw::Session) -> HandlerResult {
    let session = session.untyped();
    while let Some(message) = session.recv().await {
        let frame = match message {
            Incoming::Text(text) => Message::Text(text.into()),
            Incoming::Binary(bytes) => Message::Binary(bytes),
            // A raw endpoint receives no typed or open messages.
            Incoming::Message { .. } | Incoming::Open(_) => continue,
        };
        session.send_raw(frame)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_secrets_are_refused() {
        let err = server(b"too short", Users::any()).err();
        assert!(
            matches!(err, Some(AppError::Keys(ConfigError::ShortSecret { .. }))),
            "{err:?}"
        );
        assert!(server(&[7; MIN_SECRET_BYTES], Users::any()).is_ok());
    }

    #[test]
    fn user_store_modes() {
        assert_eq!(Users::any().status_of("anyone"), UserStatus::Active);
        let only = Users::only(["alice"]);
        assert_eq!(only.status_of("alice"), UserStatus::Active);
        assert_eq!(only.status_of("bob"), UserStatus::Unknown);
    }
}
