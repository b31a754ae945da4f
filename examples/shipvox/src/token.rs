//! `POST /token`: the OAuth 2.0 resource owner password credentials grant
//! (RFC 6749 §4.3), documented in OpenAPI.
//!
//! # Motivation
//!
//! ShipVox clients sign in with a username and password and get a
//! short-lived JWT for `/ws?token=`. The endpoint is where passwords meet the
//! network, so it is strict about what it reveals:
//!
//! - Unknown user, wrong password and inactive user get the same answer:
//!   the ShipVox document's `401` with `WWW-Authenticate: Bearer` and
//!   `"detail": "Incorrect username or password"` (with RFC 6749's
//!   `"error": "invalid_grant"` beside it), the same headers, and the same
//!   work (one argon2id check, see [`crate::accounts`]).
//! - Failures are limited per username from one client address and per
//!   client address over all usernames ([`crate::throttle`]); past either
//!   limit the answer is `429` with `Retry-After` and
//!   `{"error":"invalid_grant","error_description":...}`, for existing and
//!   unknown names alike. The client address is the TCP peer, from
//!   [`ConnectInfo`]: the router must be served with
//!   `into_make_service_with_connect_info::<SocketAddr>()` (as
//!   [`crate::serve`] does); without it every sign-in is a `500`.
//! - Every answer carries `Cache-Control: no-store` and `Pragma: no-cache`
//!   (RFC 6749 §5.1), errors included.
//! - Malformed requests are `400 invalid_request` (wrong content type, a
//!   body over [`MAX_BODY_BYTES`], bad encoding, a missing or repeated
//!   parameter, a username over [`MAX_USERNAME_BYTES`]), an unknown grant is
//!   `400 unsupported_grant_type` (§5.2). A request without `grant_type` is
//!   taken as the password grant, as the ShipVox document's server takes it. These depend only on the request,
//!   never on the account.
//!
//! The document served at `/openapi.json` comes from [`TokenApi`] (utoipa):
//! the form body, the three answers and their headers.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use axum::Extension;
use axum::body::Body;
use axum::extract::{ConnectInfo, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use jsonwebtoken::{EncodingKey, Header};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use utoipa::{OpenApi, ToSchema};

use crate::accounts::Accounts;
use crate::throttle::{Throttle, Throttled};

/// The token endpoint's path (the spec's `auth.token_url`).
pub const TOKEN_PATH: &str = "/token";
/// Largest request body read, in bytes.
pub const MAX_BODY_BYTES: usize = 4096;
/// Longest username accepted, in bytes.
pub const MAX_USERNAME_BYTES: usize = 256;

const FORM: &str = "application/x-www-form-urlencoded";

/// The form body of `POST /token` (`application/x-www-form-urlencoded`).
#[derive(Deserialize, ToSchema)]
pub struct TokenRequest {
    /// `password`, or absent (taken as `password`).
    #[schema(example = "password")]
    pub grant_type: Option<String>,
    /// The username.
    #[schema(example = "alice")]
    pub username: String,
    /// The password.
    #[schema(example = "password", format = Password)]
    pub password: String,
    /// Ignored: tokens carry the user's roles.
    pub scope: Option<String>,
}

/// Everything but the password.
impl std::fmt::Debug for TokenRequest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TokenRequest")
            .field("grant_type", &self.grant_type)
            .field("username", &self.username)
            .field("password", &"<redacted>")
            .field("scope", &self.scope)
            .finish()
    }
}

/// A successful answer (RFC 6749 §5.1).
#[derive(Serialize, Deserialize, ToSchema)]
pub struct TokenResponse {
    /// The JWT to pass as `?token=` on `/ws`.
    pub access_token: String,
    /// Always `bearer`.
    #[schema(example = "bearer")]
    pub token_type: String,
    /// Seconds until the token expires.
    #[schema(example = 1800)]
    pub expires_in: u64,
}

/// Everything but the token.
impl std::fmt::Debug for TokenResponse {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TokenResponse")
            .field("access_token", &"<redacted>")
            .field("token_type", &self.token_type)
            .field("expires_in", &self.expires_in)
            .finish()
    }
}

/// An error answer (RFC 6749 §5.2).
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct TokenError {
    /// `invalid_request`, `unsupported_grant_type` or `invalid_grant`.
    #[schema(example = "invalid_grant")]
    pub error: String,
    /// What was wrong with the request, for developers; absent for
    /// `invalid_grant` (which never says why).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error_description: Option<String>,
    /// The ShipVox document's message for a refused sign-in (`401` only):
    /// "Incorrect username or password", whatever the reason.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
}

/// The OpenAPI document of the token endpoint.
#[derive(OpenApi)]
#[openapi(
    info(
        title = "shipvox",
        description = "Sign in for the ShipVox broadcast WebSocket (`/ws?token=`).",
        version = "1.0.0"
    ),
    paths(token_doc),
    components(schemas(TokenRequest, TokenResponse, TokenError))
)]
pub struct TokenApi;

/// Sign in with a username and password (OAuth 2.0 password grant).
///
/// Returns a short-lived JWT for `/ws?token=`. Unknown users, wrong
/// passwords and inactive users get the same `401` (`invalid_grant`, "Incorrect
/// username or password", as the ShipVox document answers). After too
/// many unsuccessful attempts for one username from one client address, or
/// from one client address over all usernames, the attempts they cover get
/// `429` until `Retry-After` seconds have passed, for known and unknown
/// names alike. Answers are never cached.
#[utoipa::path(
    post,
    path = "/token",
    operation_id = "token",
    tag = "shipvox",
    request_body(content = TokenRequest, content_type = "application/x-www-form-urlencoded"),
    responses(
        (status = 200, description = "Signed in", body = TokenResponse,
            headers(
                ("Cache-Control" = String, description = "`no-store`"),
                ("Pragma" = String, description = "`no-cache`")
            )),
        (status = 400, description = "`invalid_request` or `unsupported_grant_type`", body = TokenError,
            headers(
                ("Cache-Control" = String, description = "`no-store`"),
                ("Pragma" = String, description = "`no-cache`")
            ),
            example = json!({"error": "invalid_request", "error_description": "the password grant needs `username` and `password`"})),
        (status = 401, description = "Unknown user, wrong password or inactive user, indistinguishable", body = TokenError,
            headers(
                ("WWW-Authenticate" = String, description = "`Bearer`"),
                ("Cache-Control" = String, description = "`no-store`"),
                ("Pragma" = String, description = "`no-cache`")
            ),
            example = json!({"error": "invalid_grant", "detail": "Incorrect username or password"})),
        (status = 429, description = "Too many unsuccessful attempts for this username from this client \
            address, or from this client address", body = TokenError,
            headers(
                ("Retry-After" = u64, description = "Seconds until attempts are accepted again"),
                ("Cache-Control" = String, description = "`no-store`"),
                ("Pragma" = String, description = "`no-cache`")
            )),
        (status = 500, description = "The sign-in could not be decided", body = TokenError,
            headers(
                ("Cache-Control" = String, description = "`no-store`"),
                ("Pragma" = String, description = "`no-cache`")
            ))
    )
)]
#[allow(dead_code)] // The document's anchor; the real handler is `token`.
fn token_doc() {}

/// What the token endpoint needs.
#[derive(Clone)]
pub struct TokenService {
    /// Users and password hashes.
    pub accounts: Accounts,
    /// Attempts per username and client address, and per client address.
    pub throttle: std::sync::Arc<Throttle>,
    /// The signing key (the server's HS256 secret).
    pub key: EncodingKey,
    /// `iss` of minted tokens.
    pub issuer: &'static str,
    /// `aud` of minted tokens.
    pub audience: &'static str,
    /// Token lifetime.
    pub ttl: Duration,
}

impl std::fmt::Debug for TokenService {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TokenService")
            .field("issuer", &self.issuer)
            .field("audience", &self.audience)
            .field("ttl", &self.ttl)
            .finish_non_exhaustive()
    }
}

/// Unix seconds now.
pub fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

impl TokenService {
    /// A signed token for `subject` with `roles`, valid for `ttl` from now.
    pub fn mint(
        &self,
        subject: &str,
        roles: &[String],
    ) -> Result<String, jsonwebtoken::errors::Error> {
        let now = unix_now();
        let claims = json!({
            "sub": subject,
            "iat": now,
            "exp": now + self.ttl.as_secs(),
            "iss": self.issuer,
            "aud": self.audience,
            "roles": roles,
        });
        jsonwebtoken::encode(&Header::default(), &claims, &self.key)
    }
}

/// A JSON answer with the no-cache headers every token answer carries.
fn answer(status: StatusCode, body: &impl Serialize) -> Response {
    let body = serde_json::to_string(body).unwrap_or_else(|_| r#"{"error":"server_error"}"#.into());
    let mut response = (status, body).into_response();
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json;charset=UTF-8"),
    );
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    headers.insert(header::PRAGMA, HeaderValue::from_static("no-cache"));
    response
}

/// `response` with the no-cache headers (for the development
/// `/test-token`, which hands out a token too).
pub fn no_store(response: impl IntoResponse) -> Response {
    let mut response = response.into_response();
    let headers = response.headers_mut();
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    headers.insert(header::PRAGMA, HeaderValue::from_static("no-cache"));
    response
}

fn error(status: StatusCode, error: &str, description: Option<&str>) -> Response {
    answer(
        status,
        &TokenError {
            error: error.to_owned(),
            error_description: description.map(str::to_owned),
            detail: None,
        },
    )
}

fn invalid_request(description: &str) -> Response {
    error(
        StatusCode::BAD_REQUEST,
        "invalid_request",
        Some(description),
    )
}

/// What the ShipVox document's server says to a refused sign-in.
pub const REFUSED_DETAIL: &str = "Incorrect username or password";

/// The refusal for unknown users, wrong passwords and inactive users alike:
/// the ShipVox document's `401` with `WWW-Authenticate: Bearer` and its
/// `detail`, plus RFC 6749's `error` for OAuth2 clients.
fn invalid_grant() -> Response {
    let mut response = answer(
        StatusCode::UNAUTHORIZED,
        &TokenError {
            error: "invalid_grant".to_owned(),
            error_description: None,
            detail: Some(REFUSED_DETAIL.to_owned()),
        },
    );
    response
        .headers_mut()
        .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
    response
}

/// A form body's parameters, or why it is not one. Repeated parameters are
/// refused (RFC 6749 §3.2: parameters MUST NOT be included more than once).
pub fn parse_form(body: &[u8]) -> Result<HashMap<String, String>, &'static str> {
    let text = std::str::from_utf8(body).map_err(|_| "the body is not UTF-8")?;
    let mut params = HashMap::new();
    for pair in text.split('&').filter(|p| !p.is_empty()) {
        let (name, value) = pair.split_once('=').unwrap_or((pair, ""));
        let decode = |s: &str| {
            percent_encoding::percent_decode_str(&s.replace('+', " "))
                .decode_utf8()
                .map(|s| s.into_owned())
                .map_err(|_| "a parameter is not UTF-8 once decoded")
        };
        if params.insert(decode(name)?, decode(value)?).is_some() {
            return Err("a parameter is repeated");
        }
    }
    Ok(params)
}

/// Whether `headers` say the body is a form.
fn is_form(headers: &HeaderMap) -> bool {
    headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .is_some_and(|v| v.trim().eq_ignore_ascii_case(FORM))
}

/// The `POST /token` handler.
pub async fn token(
    State(service): State<TokenService>,
    peer: Option<Extension<ConnectInfo<SocketAddr>>>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    // Without the peer address there is nothing to throttle by: refuse
    // rather than throttle everyone together (or no one).
    let Some(Extension(ConnectInfo(peer))) = peer else {
        tracing::error!(
            target: "shipvox::token",
            "no client address: serve the router with into_make_service_with_connect_info"
        );
        return error(StatusCode::INTERNAL_SERVER_ERROR, "server_error", None);
    };
    if !is_form(&headers) {
        return invalid_request("the body must be application/x-www-form-urlencoded");
    }
    let Ok(body) = axum::body::to_bytes(body, MAX_BODY_BYTES).await else {
        return invalid_request("the body is too large or could not be read");
    };
    let params = match parse_form(&body) {
        Ok(params) => params,
        Err(why) => return invalid_request(why),
    };
    let param = |name: &str| params.get(name).map(String::as_str);
    match param("grant_type") {
        // Absent means the password grant, as in the ShipVox document's
        // server (FastAPI's `OAuth2PasswordRequestForm`), whose own client
        // line sends only `username=user&password=password`.
        None | Some("password") => {}
        Some(_) => {
            return error(
                StatusCode::BAD_REQUEST,
                "unsupported_grant_type",
                Some("only the `password` grant is supported"),
            );
        }
    }
    let (Some(username), Some(password)) = (param("username"), param("password")) else {
        return invalid_request("the password grant needs `username` and `password`");
    };
    if username.len() > MAX_USERNAME_BYTES {
        return invalid_request("the username is too long");
    }
    let attempt = match service.throttle.begin(username, peer.ip(), Instant::now()) {
        Ok(attempt) => attempt,
        Err(throttled) => {
            tracing::warn!(target: "shipvox::token", client = %peer.ip(), "sign-in throttled");
            return too_many(throttled);
        }
    };
    let roles = match service.accounts.sign_in(username, password).await {
        Ok(Some(roles)) => roles,
        Ok(None) => {
            // The username is not logged: it may be a mistyped password.
            // The attempt stays counted as a failure.
            tracing::info!(target: "shipvox::token", "sign-in refused");
            return invalid_grant();
        }
        Err(e) => {
            // Counted as a failure too: an undecided attempt gets no refund.
            tracing::error!(target: "shipvox::token", error = %e, "sign-in failed");
            return error(StatusCode::INTERNAL_SERVER_ERROR, "server_error", None);
        }
    };
    service.throttle.succeeded(attempt);
    match service.mint(username, &roles) {
        Ok(access_token) => {
            tracing::info!(target: "shipvox::token", subject = username, "token issued");
            answer(
                StatusCode::OK,
                &TokenResponse {
                    access_token,
                    token_type: "bearer".to_owned(),
                    expires_in: service.ttl.as_secs(),
                },
            )
        }
        Err(e) => {
            tracing::error!(target: "shipvox::token", error = %e, "cannot sign a token");
            error(StatusCode::INTERNAL_SERVER_ERROR, "server_error", None)
        }
    }
}

/// The answer to a throttled attempt: the same for every username, and for
/// a locked pair or a locked address (neither says whether the name exists).
fn too_many(throttled: Throttled) -> Response {
    let mut response = error(
        StatusCode::TOO_MANY_REQUESTS,
        "invalid_grant",
        Some("too many unsuccessful attempts; retry later"),
    );
    response
        .headers_mut()
        .insert(header::RETRY_AFTER, throttled.retry_after.as_secs().into());
    response
}

/// The OpenAPI document as JSON: the token endpoint, plus `extra` (the
/// framework's own document, when the spec has one) merged in.
pub fn openapi_json(extra: Option<utoipa::openapi::OpenApi>) -> Value {
    let mut doc = TokenApi::openapi();
    if let Some(extra) = extra {
        doc.merge(extra);
    }
    serde_json::to_value(&doc).unwrap_or(Value::Null)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn forms_are_decoded_and_repeats_refused() {
        let p = parse_form(b"grant_type=password&username=al%69ce&password=a+b%2Bc&scope=")
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(p["username"], "alice");
        assert_eq!(p["password"], "a b+c");
        assert_eq!(p["scope"], "");
        assert_eq!(
            parse_form(b"username=a&username=b"),
            Err("a parameter is repeated")
        );
        assert!(parse_form(b"password=%ff").is_err());
        assert!(parse_form(&[0xff]).is_err());
        assert_eq!(parse_form(b"").map(|p| p.len()), Ok(0));
    }

    #[test]
    fn the_document_describes_the_token_endpoint() {
        let doc = openapi_json(None);
        let op = &doc["paths"]["/token"]["post"];
        assert!(
            op["requestBody"]["content"][FORM]["schema"].is_object(),
            "{op}"
        );
        for status in ["200", "400", "401", "429"] {
            assert!(
                op["responses"][status]["headers"]["Cache-Control"].is_object(),
                "{status}: {op}"
            );
        }
        assert!(doc["components"]["schemas"]["TokenResponse"].is_object());
    }

    #[test]
    fn debug_never_shows_the_password_or_the_token() {
        let request = TokenRequest {
            grant_type: Some("password".into()),
            username: "alice".into(),
            password: "hunter2-plaintext".into(),
            scope: None,
        };
        let response = TokenResponse {
            access_token: "eyJhbGciOiJIUzI1NiJ9.e30.c2lnbmF0dXJl".into(),
            token_type: "bearer".into(),
            expires_in: 900,
        };
        for shown in [
            format!("{request:?}"),
            format!("{request:#?}"),
            format!("{response:?}"),
            format!("{response:#?}"),
        ] {
            assert!(
                shown.contains("alice") || shown.contains("bearer"),
                "{shown}"
            );
            assert!(!shown.contains("hunter2"), "{shown}");
            assert!(!shown.contains("eyJ"), "{shown}");
        }
    }

    #[test]
    fn debug_of_the_service_shows_no_key_and_no_hash() {
        let cheap = crate::HashParams {
            memory_kib: 64,
            iterations: 1,
            parallelism: 1,
            concurrency: 1,
        };
        let secret = b"service-secret-0123456789abcdefghij";
        let service = TokenService {
            accounts: Accounts::seeded(cheap).unwrap_or_else(|e| panic!("{e}")),
            throttle: std::sync::Arc::new(Throttle::new(crate::ThrottlePolicy::default())),
            key: EncodingKey::from_secret(secret),
            issuer: "shipvox",
            audience: "shipvox-ws",
            ttl: Duration::from_secs(900),
        };
        let as_bytes = format!("{:?}", &secret[..]);
        for shown in [format!("{service:?}"), format!("{service:#?}")] {
            assert!(shown.contains("shipvox-ws"), "{shown}");
            assert!(!shown.contains("service-secret"), "{shown}");
            assert!(!shown.contains(&as_bytes[1..20]), "{shown}");
            assert!(!shown.contains("$argon2"), "{shown}");
        }
    }
}
