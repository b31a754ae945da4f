//! `mcp-introspect`: the example's own token-introspection service
//! (RFC 7662), so that the remote-validation path can be run and tested
//! without an identity provider.
//!
//! # Motivation
//!
//! The original mcp-status service did not trust tokens on their signature
//! alone: it asked the auth service, which knew about logouts and disabled
//! accounts. This is a small stand-in for that auth service. It knows the
//! tokens the example issues because it verifies them itself (same HS256
//! secret, same `auth.jwt` rules from the spec), and it keeps two lists that
//! a signature cannot express: users whose tokens are no longer active, and
//! single tokens that were revoked.
//!
//! # Routes
//!
//! - `POST /introspect` (RFC 7662): form `token=...`; answers
//!   `{"active": true, "token_type": "Bearer", "sub", "role", "exp", "iat",
//!   "iss", "aud", ...}` for a valid, unrevoked token of an active user,
//!   `{"active": false}` for anything else.
//! - `POST /revoke` (RFC 7009): form `token=...`; the token is inactive
//!   from then on. `200` whether or not the token was valid, as the RFC
//!   says; `503` when the list of revoked tokens is full.
//!
//! Both require HTTP Basic client credentials whenever the service was
//! given some ([`IntrospectionService::require_client`]): `401` with
//! `{"error": "invalid_client"}` otherwise. A service without them
//! ([`IntrospectionService::new`]) is open to any caller, like an RFC 7009
//! endpoint for public clients: whoever holds a valid token may revoke it
//! (and could use it anyway), and nothing else gets on the list, because
//! only tokens the service verifies itself are recorded. The binary warns
//! when it starts that way.
//!
//! A body without `token`, or with one longer than wsauth's
//! [`MAX_TOKEN_BYTES`] (wsauth never sends one), gets `400`
//! `{"error": "invalid_request"}`. Answers are `no-store`. Tokens are never
//! logged.
//!
//! # The list of revoked tokens
//!
//! It is bounded: at most [`MAX_REVOKED`] entries, each a fixed size, kept
//! only while the token could still verify (until its `exp` plus the spec's
//! leeway). An entry is the token's HS256 signature, decoded: an
//! HMAC-SHA-256 of the token under the service's secret, which the verifier
//! has just checked. That is a keyed SHA-256 digest of the token, 32 bytes
//! whatever the token's length, and needs no hashing dependency. When the
//! list is full of unexpired entries, `/revoke` answers `503` rather than
//! forget an older revocation: evicting would let whoever can fill the list
//! bring a revoked token back to life. Everything is in memory only.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, PoisonError, RwLock};
use std::time::{SystemTime, UNIX_EPOCH};

use axum::extract::rejection::FormRejection;
use axum::extract::{DefaultBodyLimit, Form, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use serde::Deserialize;
use serde_json::{Map, Value, json};
use wsauth_core::jwt::{ConfigError, KeySet, MAX_TOKEN_BYTES, Verifier};

use crate::{API, KEY_SLOT};

/// The claims of a token an active answer passes on.
const ANSWERED_CLAIMS: [&str; 8] = ["sub", "role", "exp", "iat", "nbf", "iss", "aud", "jti"];

/// The most revoked tokens remembered at once (unexpired ones; expired
/// tokens are inactive anyway and make room).
pub const MAX_REVOKED: usize = 10_000;

/// The largest request body read: a token of [`MAX_TOKEN_BYTES`], even
/// percent-encoded, and the form around it.
const MAX_BODY_BYTES: usize = 3 * MAX_TOKEN_BYTES + 1024;

/// A revoked token's key: its signature's bytes.
type Digest = Vec<u8>;

struct Inner {
    verifier: Verifier,
    client: Option<(String, String)>,
    inactive_users: RwLock<HashSet<String>>,
    /// Revoked tokens, by [`Digest`], with the time (unix seconds) after
    /// which they no longer verify.
    revoked: RwLock<HashMap<Digest, u64>>,
}

/// The introspection service's state; clones share it, so a test (or the
/// binary) can deactivate users of a running service.
#[derive(Clone)]
pub struct IntrospectionService {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for IntrospectionService {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("IntrospectionService")
            .field("client_id", &self.inner.client.as_ref().map(|(id, _)| id))
            .finish_non_exhaustive()
    }
}

/// Why the service could not be set up.
#[derive(Debug, thiserror::Error)]
pub enum ServiceError {
    /// The secret or the spec's JWT settings were refused.
    #[error("JWT configuration: {0}")]
    Jwt(#[from] ConfigError),
}

/// Why a token could not be revoked.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum RevokeError {
    /// [`MAX_REVOKED`] unexpired tokens are revoked already.
    #[error("the list of revoked tokens is full ({MAX_REVOKED} unexpired tokens)")]
    Full,
}

/// An introspection or revocation request.
#[derive(Deserialize)]
struct TokenForm {
    token: String,
}

/// Never the token.
impl std::fmt::Debug for TokenForm {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TokenForm")
            .field(
                "token",
                &format_args!("<redacted {} bytes>", self.token.len()),
            )
            .finish()
    }
}

impl IntrospectionService {
    /// A service that knows the tokens signed with `secret` (HS256, the
    /// spec's issuer, audience and lifetime rules), open to any caller.
    pub fn new(secret: &[u8]) -> Result<Self, ServiceError> {
        Self::build(secret, None)
    }

    /// Like [`IntrospectionService::new`], answering only callers that
    /// authenticate with HTTP Basic as `id`/`secret`, on both routes.
    pub fn require_client(
        secret: &[u8],
        id: impl Into<String>,
        client_secret: impl Into<String>,
    ) -> Result<Self, ServiceError> {
        Self::build(secret, Some((id.into(), client_secret.into())))
    }

    fn build(secret: &[u8], client: Option<(String, String)>) -> Result<Self, ServiceError> {
        let verifier = Verifier::for_api(&API, KeySet::new().hmac(KEY_SLOT, secret)?)?;
        Ok(IntrospectionService {
            inner: Arc::new(Inner {
                verifier,
                client,
                inactive_users: RwLock::new(HashSet::new()),
                revoked: RwLock::new(HashMap::new()),
            }),
        })
    }

    /// Whether callers must authenticate (HTTP Basic).
    pub fn requires_client(&self) -> bool {
        self.inner.client.is_some()
    }

    /// Every token of `subject` is inactive from now on.
    pub fn deactivate_user(&self, subject: &str) {
        self.inner
            .inactive_users
            .write()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(subject.to_owned());
    }

    /// `subject`'s tokens are active again (while valid).
    pub fn reactivate_user(&self, subject: &str) {
        self.inner
            .inactive_users
            .write()
            .unwrap_or_else(PoisonError::into_inner)
            .remove(subject);
    }

    /// `token` is inactive from now on. A token the service does not
    /// verify is inactive already: nothing is recorded, and that is not an
    /// error (RFC 7009 §2.2).
    pub async fn revoke_token(&self, token: &str) -> Result<(), RevokeError> {
        let Ok(claims) = self.inner.verifier.verify(token).await else {
            return Ok(());
        };
        let Some(digest) = digest(token) else {
            return Ok(());
        };
        let until = claims
            .exp
            .saturating_add(self.inner.verifier.descriptor().leeway_s);
        let mut revoked = self
            .inner
            .revoked
            .write()
            .unwrap_or_else(PoisonError::into_inner);
        remember(&mut revoked, digest, until, unix_now(), MAX_REVOKED)
    }

    /// How many revoked tokens are remembered (expired ones included until
    /// they make room).
    pub fn revoked_len(&self) -> usize {
        self.inner
            .revoked
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .len()
    }

    /// The RFC 7662 answer for `token`.
    pub async fn answer(&self, token: &str) -> Value {
        let inactive = json!({ "active": false });
        let claims = match self.inner.verifier.verify(token).await {
            Ok(claims) => claims,
            Err(e) => {
                tracing::info!(active = false, reason = %e, "introspection");
                return inactive;
            }
        };
        // A verified token's signature decodes; if it did not, refuse
        // rather than miss a revocation.
        let revoked = digest(token).is_none_or(|digest| {
            self.inner
                .revoked
                .read()
                .unwrap_or_else(PoisonError::into_inner)
                .contains_key(&digest)
        });
        if revoked {
            tracing::info!(active = false, reason = "revoked", "introspection");
            return inactive;
        }
        if self
            .inner
            .inactive_users
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .contains(&claims.subject)
        {
            tracing::info!(active = false, reason = "user inactive", subject = %claims.subject, "introspection");
            return inactive;
        }
        tracing::info!(active = true, subject = %claims.subject, "introspection");
        let mut answer = Map::new();
        answer.insert("active".into(), true.into());
        answer.insert("token_type".into(), "Bearer".into());
        for name in ANSWERED_CLAIMS {
            if let Some(value) = claims.claims.get(name) {
                answer.insert(name.into(), value.clone());
            }
        }
        Value::Object(answer)
    }

    /// Whether the request carries the configured client credentials
    /// (always true when none are configured).
    fn client_ok(&self, headers: &HeaderMap) -> bool {
        let Some((id, secret)) = &self.inner.client else {
            return true;
        };
        let presented = headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Basic "))
            .and_then(|b| STANDARD.decode(b.trim()).ok())
            .and_then(|b| String::from_utf8(b).ok());
        let Some(presented) = presented else {
            return false;
        };
        let expected = format!("{id}:{secret}");
        constant_time_eq(presented.as_bytes(), expected.as_bytes())
    }

    /// `POST /introspect` and `POST /revoke`.
    pub fn router(&self) -> axum::Router {
        axum::Router::new()
            .route("/introspect", post(introspect))
            .route("/revoke", post(revoke))
            .layer(DefaultBodyLimit::max(MAX_BODY_BYTES))
            .with_state(self.clone())
    }
}

/// The key of a (verified) token in the revoked list: its signature,
/// decoded, so that the same signature spelled differently is the same key.
fn digest(token: &str) -> Option<Digest> {
    let signature = token.rsplit('.').next()?;
    URL_SAFE_NO_PAD.decode(signature).ok()
}

/// Records `digest` as revoked until `until`; when `cap` entries are there,
/// forgets those that expired by `now` first, and refuses when none did.
fn remember(
    revoked: &mut HashMap<Digest, u64>,
    digest: Digest,
    until: u64,
    now: u64,
    cap: usize,
) -> Result<(), RevokeError> {
    if revoked.contains_key(&digest) {
        return Ok(());
    }
    if revoked.len() >= cap {
        revoked.retain(|_, until| *until > now);
        if revoked.len() >= cap {
            return Err(RevokeError::Full);
        }
    }
    revoked.insert(digest, until);
    Ok(())
}

fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// A JSON answer that no cache keeps.
fn answer(status: StatusCode, body: Value) -> Response {
    let mut response = (status, axum::Json(body)).into_response();
    let headers = response.headers_mut();
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    if status == StatusCode::UNAUTHORIZED {
        headers.insert(
            header::WWW_AUTHENTICATE,
            HeaderValue::from_static("Basic realm=\"mcp-introspect\""),
        );
    }
    response
}

/// Why a request is not answered.
#[derive(Clone, Copy, Debug)]
enum Refusal {
    /// Missing or wrong client credentials.
    Client,
    /// No `token` in the form, or one longer than [`MAX_TOKEN_BYTES`].
    Request,
    /// The list of revoked tokens is full.
    Full,
}

impl IntoResponse for Refusal {
    fn into_response(self) -> Response {
        match self {
            Refusal::Client => answer(
                StatusCode::UNAUTHORIZED,
                json!({ "error": "invalid_client" }),
            ),
            Refusal::Request => answer(
                StatusCode::BAD_REQUEST,
                json!({ "error": "invalid_request" }),
            ),
            Refusal::Full => {
                let mut response = answer(
                    StatusCode::SERVICE_UNAVAILABLE,
                    json!({ "error": "temporarily_unavailable" }),
                );
                response
                    .headers_mut()
                    .insert(header::RETRY_AFTER, HeaderValue::from_static("60"));
                response
            }
        }
    }
}

/// The token of a request that may be answered.
fn token_of(
    service: &IntrospectionService,
    headers: &HeaderMap,
    form: Result<Form<TokenForm>, FormRejection>,
) -> Result<String, Refusal> {
    if !service.client_ok(headers) {
        return Err(Refusal::Client);
    }
    match form {
        Ok(Form(TokenForm { token })) if !token.is_empty() && token.len() <= MAX_TOKEN_BYTES => {
            Ok(token)
        }
        _ => Err(Refusal::Request),
    }
}

async fn introspect(
    State(service): State<IntrospectionService>,
    headers: HeaderMap,
    form: Result<Form<TokenForm>, FormRejection>,
) -> Response {
    match token_of(&service, &headers, form) {
        Ok(token) => answer(StatusCode::OK, service.answer(&token).await),
        Err(refusal) => refusal.into_response(),
    }
}

async fn revoke(
    State(service): State<IntrospectionService>,
    headers: HeaderMap,
    form: Result<Form<TokenForm>, FormRejection>,
) -> Response {
    let token = match token_of(&service, &headers, form) {
        Ok(token) => token,
        Err(refusal) => return refusal.into_response(),
    };
    match service.revoke_token(&token).await {
        Ok(()) => {
            tracing::info!("revocation request");
            answer(StatusCode::OK, json!({}))
        }
        Err(e) => {
            tracing::warn!(error = %e, "revocation refused");
            Refusal::Full.into_response()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn constant_time_eq_compares() {
        assert!(constant_time_eq(b"abc", b"abc"));
        assert!(!constant_time_eq(b"abc", b"abd"));
        assert!(!constant_time_eq(b"abc", b"abcd"));
    }

    #[tokio::test]
    async fn garbage_is_inactive() {
        let service = IntrospectionService::new(&[7u8; 32]).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(service.answer("not.a.jwt").await, json!({"active": false}));
    }

    #[test]
    fn the_revoked_list_is_bounded_and_forgets_only_expired_tokens() {
        let mut revoked = HashMap::new();
        let key = |n: u8| vec![n; 32];
        assert_eq!(remember(&mut revoked, key(1), 100, 10, 2), Ok(()));
        assert_eq!(remember(&mut revoked, key(2), 200, 10, 2), Ok(()));
        // Full of unexpired entries: refused, and nothing forgotten.
        assert_eq!(
            remember(&mut revoked, key(3), 300, 50, 2),
            Err(RevokeError::Full)
        );
        assert!(revoked.contains_key(&key(1)) && revoked.contains_key(&key(2)));
        // Revoking again what is revoked needs no room.
        assert_eq!(remember(&mut revoked, key(2), 200, 50, 2), Ok(()));
        // Once the first has expired, it makes room.
        assert_eq!(remember(&mut revoked, key(3), 300, 100, 2), Ok(()));
        assert!(!revoked.contains_key(&key(1)));
        assert_eq!(revoked.len(), 2);
    }

    #[test]
    fn a_revoked_tokens_key_is_its_decoded_signature() {
        assert_eq!(digest("a.b.AAEC"), Some(vec![0, 1, 2]));
        assert_eq!(digest("a.b.!!"), None);
    }

    #[test]
    fn debug_never_shows_the_token() {
        let form = TokenForm {
            token: "eyJhbGciOiJIUzI1NiJ9.e30.c2lnbmF0dXJl".into(),
        };
        for shown in [format!("{form:?}"), format!("{form:#?}")] {
            assert!(shown.contains("<redacted 37 bytes>"), "{shown}");
            assert!(!shown.contains("eyJ"), "{shown}");
        }
    }

    #[test]
    fn debug_of_the_service_shows_no_secret() {
        let secret = b"service-secret-0123456789abcdefghij";
        let service = IntrospectionService::require_client(secret, "mcp-status", "client-s3cret")
            .unwrap_or_else(|e| panic!("{e}"));
        let as_bytes = format!("{:?}", &secret[..]);
        for shown in [format!("{service:?}"), format!("{service:#?}")] {
            assert!(shown.contains("mcp-status"), "{shown}");
            assert!(!shown.contains("client-s3cret"), "{shown}");
            assert!(!shown.contains("service-secret"), "{shown}");
            assert!(!shown.contains(&as_bytes[1..20]), "{shown}");
        }
    }
}
