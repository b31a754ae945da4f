//! Where a client's tokens come from, and when to ask for the next one.
//!
//! # Motivation
//!
//! A token is good for minutes; a connection may live for hours. The client
//! therefore holds a [`TokenProvider`] rather than a string: it asks for a
//! token before every connection attempt (one that was fine before a long
//! backoff may have expired since, and a `refresh_token` close is the server
//! saying so) and, where the spec's `on_expiry` is `refresh`, shortly before
//! `exp` to refresh in-band. A plain string is a provider that always
//! answers the same.
//!
//! The client reads `exp` from the token's payload without verifying it: it
//! only schedules; the server decides.

use std::error::Error as StdError;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;

use crate::store::BoxFuture;

/// The token provider could not give a token.
#[derive(Debug, thiserror::Error)]
#[error("the token provider failed")]
pub struct TokenError(#[source] pub Box<dyn StdError + Send + Sync>);

impl TokenError {
    /// Wraps any error.
    pub fn new(error: impl Into<Box<dyn StdError + Send + Sync>>) -> Self {
        TokenError(error.into())
    }
}

/// Gives the client a token whenever it needs one.
pub trait TokenProvider: Send + Sync + 'static {
    /// A token, fresh if the provider can make one.
    fn token(&self) -> BoxFuture<'_, Result<String, TokenError>>;
}

impl TokenProvider for String {
    fn token(&self) -> BoxFuture<'_, Result<String, TokenError>> {
        Box::pin(async move { Ok(self.clone()) })
    }
}

/// A provider made from an async function (see [`Token::from_fn`]).
pub struct FnProvider<F>(F);

impl<F, Fut, E> TokenProvider for FnProvider<F>
where
    F: Fn() -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Result<String, E>> + Send + 'static,
    E: Into<Box<dyn StdError + Send + Sync>>,
{
    fn token(&self) -> BoxFuture<'_, Result<String, TokenError>> {
        let future = (self.0)();
        Box::pin(async move { future.await.map_err(TokenError::new) })
    }
}

/// What a client authenticates with: nothing, a fixed token or a provider.
#[derive(Clone, Default)]
pub struct Token {
    provider: Option<Arc<dyn TokenProvider>>,
    /// A fixed string: asking again gives the same token, so in-band
    /// refresh is pointless.
    fixed: bool,
}

impl std::fmt::Debug for Token {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never print a token.
        let what = if self.provider.is_some() {
            "Token(provider)"
        } else {
            "Token(none)"
        };
        f.write_str(what)
    }
}

impl Token {
    /// No token (anonymous, or to see the server refuse).
    pub fn none() -> Self {
        Token {
            provider: None,
            fixed: false,
        }
    }

    /// Tokens from `provider`.
    pub fn provider(provider: impl TokenProvider) -> Self {
        Token {
            provider: Some(Arc::new(provider)),
            fixed: false,
        }
    }

    /// A fixed token (what `From<String>` gives): sent on every connection,
    /// never refreshed in-band.
    pub fn fixed(token: impl Into<String>) -> Self {
        Token {
            provider: Some(Arc::new(token.into())),
            fixed: true,
        }
    }

    /// Tokens from an async function:
    /// `Token::from_fn(|| async { Ok::<_, std::io::Error>(fetch().await) })`.
    pub fn from_fn<F, Fut, E>(f: F) -> Self
    where
        F: Fn() -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<String, E>> + Send + 'static,
        E: Into<Box<dyn StdError + Send + Sync>>,
    {
        Token::provider(FnProvider(f))
    }

    /// Whether there is any token source.
    pub fn is_some(&self) -> bool {
        self.provider.is_some()
    }

    /// Whether asking again may give a fresher token (a provider, not a
    /// fixed string).
    pub fn can_refresh(&self) -> bool {
        self.provider.is_some() && !self.fixed
    }

    /// Asks the provider; `Ok(None)` without one.
    pub(crate) async fn get(&self) -> Result<Option<String>, TokenError> {
        match &self.provider {
            Some(p) => p.token().await.map(Some),
            None => Ok(None),
        }
    }
}

impl From<String> for Token {
    fn from(token: String) -> Self {
        Token::fixed(token)
    }
}

impl From<&str> for Token {
    fn from(token: &str) -> Self {
        Token::fixed(token)
    }
}

impl From<Arc<dyn TokenProvider>> for Token {
    fn from(provider: Arc<dyn TokenProvider>) -> Self {
        Token {
            provider: Some(provider),
            fixed: false,
        }
    }
}

/// The `exp` claim of a JWT, read without verification; `None` when the
/// token is not a JWT or has no numeric `exp`.
pub fn unverified_exp(token: &str) -> Option<u64> {
    let payload = token.split('.').nth(1)?;
    let bytes = URL_SAFE_NO_PAD.decode(payload.trim_end_matches('=')).ok()?;
    let claims: serde_json::Value = serde_json::from_slice(&bytes).ok()?;
    let exp = claims.get("exp")?;
    exp.as_u64()
        .or_else(|| exp.as_f64().filter(|e| *e >= 0.0).map(|e| e as u64))
}

/// Now, in milliseconds since the epoch.
pub(crate) fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}

/// How long to wait before refreshing a token that expires at `exp` (unix
/// seconds), `now_ms` being now: see [`wsauth_spec::wire::client`]. `None`
/// when it is too late to refresh: the server closes at `exp`, and that
/// close asks for a new token.
pub fn refresh_delay(exp: u64, now_ms: u64) -> Option<Duration> {
    wsauth_spec::wire::client::refresh_delay_ms(exp, now_ms).map(Duration::from_millis)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn jwt(payload: &str) -> String {
        format!("e30.{}.sig", URL_SAFE_NO_PAD.encode(payload))
    }

    #[test]
    fn exp_is_read_from_the_payload() {
        assert_eq!(
            unverified_exp(&jwt(r#"{"sub":"a","exp":1700000000}"#)),
            Some(1_700_000_000)
        );
        assert_eq!(
            unverified_exp(&jwt(r#"{"exp":1.5e9}"#)),
            Some(1_500_000_000)
        );
        assert_eq!(unverified_exp(&jwt(r#"{"sub":"a"}"#)), None);
        assert_eq!(unverified_exp(&jwt(r#"{"exp":"soon"}"#)), None);
        assert_eq!(unverified_exp("not a jwt"), None);
        assert_eq!(unverified_exp("a.%%%.c"), None);
    }

    #[test]
    fn refresh_comes_30_s_early_or_at_80_percent() {
        let now = 1_000_000_000;
        // An hour left: 30 s before exp.
        assert_eq!(
            refresh_delay(now / 1000 + 3600, now),
            Some(Duration::from_secs(3570))
        );
        // 10 s left: at 8 s.
        assert_eq!(
            refresh_delay(now / 1000 + 10, now),
            Some(Duration::from_secs(8))
        );
        // Already expired: never.
        assert_eq!(refresh_delay(now / 1000 - 5, now), None);
    }

    #[tokio::test]
    async fn tokens_come_from_strings_and_functions() {
        assert_eq!(
            Token::from("t").get().await.ok().flatten().as_deref(),
            Some("t")
        );
        assert_eq!(Token::none().get().await.ok().flatten(), None);
        let f = Token::from_fn(|| async { Ok::<_, std::io::Error>("f".to_owned()) });
        assert_eq!(f.get().await.ok().flatten().as_deref(), Some("f"));
        let failing = Token::from_fn(|| async { Err::<String, _>(std::io::Error::other("down")) });
        assert!(failing.get().await.is_err());
        assert_eq!(format!("{:?}", Token::from("secret")), "Token(provider)");
        assert_eq!(format!("{:#?}", Token::from("secret")), "Token(provider)");
    }
}
