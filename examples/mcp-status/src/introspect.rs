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
//!   `{"active": true, "sub", "role", "exp", "iat", "iss", "aud", ...}` for
//!   a valid token of an active user, `{"active": false}` for anything else.
//! - `POST /revoke` (RFC 7009): form `token=...`; the token is inactive
//!   from then on. Always `200`, as the RFC says.
//!
//! Both require HTTP Basic client credentials when the service was given
//! some ([`IntrospectionService::require_client`]): `401` with
//! `{"error": "invalid_client"}` otherwise. A body without `token` gets
//! `400` `{"error": "invalid_request"}`. Answers are `no-store`. Tokens are
//! never logged; revoked ones are kept in memory only.

use std::collections::HashSet;
use std::sync::{Arc, PoisonError, RwLock};

use axum::extract::rejection::FormRejection;
use axum::extract::{Form, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use serde::Deserialize;
use serde_json::{Map, Value, json};
use wsauth_core::jwt::{ConfigError, KeySet, Verifier};

use crate::{API, KEY_SLOT};

/// The claims of a token an active answer passes on.
const ANSWERED_CLAIMS: [&str; 8] = ["sub", "role", "exp", "iat", "nbf", "iss", "aud", "jti"];

struct Inner {
    verifier: Verifier,
    client: Option<(String, String)>,
    inactive_users: RwLock<HashSet<String>>,
    revoked: RwLock<HashSet<String>>,
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

/// An introspection or revocation request.
#[derive(Debug, Deserialize)]
struct TokenForm {
    token: String,
}

impl IntrospectionService {
    /// A service that knows the tokens signed with `secret` (HS256, the
    /// spec's issuer, audience and lifetime rules), open to any caller.
    pub fn new(secret: &[u8]) -> Result<Self, ServiceError> {
        Self::build(secret, None)
    }

    /// Like [`IntrospectionService::new`], answering only callers that
    /// authenticate with HTTP Basic as `id`/`secret`.
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
                revoked: RwLock::new(HashSet::new()),
            }),
        })
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

    /// `token` is inactive from now on.
    pub fn revoke_token(&self, token: &str) {
        self.inner
            .revoked
            .write()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(token.to_owned());
    }

    /// The RFC 7662 answer for `token`.
    pub async fn answer(&self, token: &str) -> Value {
        let inactive = json!({ "active": false });
        if self
            .inner
            .revoked
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .contains(token)
        {
            tracing::info!(active = false, reason = "revoked", "introspection");
            return inactive;
        }
        let claims = match self.inner.verifier.verify(token).await {
            Ok(claims) => claims,
            Err(e) => {
                tracing::info!(active = false, reason = %e, "introspection");
                return inactive;
            }
        };
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
            .with_state(self.clone())
    }
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
    /// No `token` in the form.
    Request,
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
        Ok(Form(TokenForm { token })) if !token.is_empty() => Ok(token),
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
    match token_of(&service, &headers, form) {
        Ok(token) => {
            service.revoke_token(&token);
            tracing::info!("token revoked");
            answer(StatusCode::OK, json!({}))
        }
        Err(refusal) => refusal.into_response(),
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
}
