//! Token introspection (RFC 7662): asking the token's issuer whether a token
//! is still good, with the spec's fallback when it cannot answer.
//!
//! # Motivation
//!
//! A signed JWT stays valid until its `exp`, whatever happens to its user in
//! the meantime. An authorization server that keeps track of its tokens
//! knows better: logged out, revoked, user disabled. Asking it on every
//! handshake (RFC 7662, token introspection) makes those decisions take
//! effect at once. The price is a network dependency in the handshake, so
//! the spec says what happens when the service cannot answer
//! (`auth.introspection.fallback`):
//!
//! - `none`: refuse the connection with the spec's `server_error` code. The
//!   token was not judged, so the client is not told it is bad (it would
//!   throw a good token away); `server_error` tells it to come back later.
//! - `jwt`: verify the token locally with `auth.jwt` (a [`Verifier`]), and
//!   say so in the audit log (`event = "introspection_fallback"`, target
//!   `wsauth::audit`).
//!
//! What is never allowed: falling back when the service *did* answer. An
//! `"active": false` answer, or an active one whose claims are not for this
//! API, refuses the token (`auth_failed`) even when its signature would
//! verify locally, since overruling the service is what introspection exists
//! to prevent.
//!
//! # Shape
//!
//! [`IntrospectionEndpoint`] is the run-time configuration (URL, time limit,
//! client credentials); [`Introspector::new`] joins it to the spec and
//! [`Introspector::with_fallback`] adds the local verifier when the spec
//! allows one (it refuses one when the spec says `none`). An `Introspector`
//! is an [`Authenticator`]: give it to
//! [`Builder::authenticator`](crate::Builder::authenticator).
//!
//! Each check POSTs `token=<token>&token_type_hint=access_token`
//! (`application/x-www-form-urlencoded`, HTTP Basic client credentials when
//! configured) and reads the JSON answer:
//!
//! | the service | result |
//! |---|---|
//! | `200`, `"active": false` | `auth_failed`, no fallback |
//! | `200`, `"active": true`, claims acceptable | admitted, with the answer's claims |
//! | `200`, `"active": true`, claims not acceptable (expired, wrong `iss`/`aud`, no subject) | `auth_failed`, no fallback |
//! | unreachable, time limit, any other status, not an RFC 7662 document, an active answer without `exp` | fallback: local JWT when the spec says `jwt` and a verifier was given, else `server_error` |
//!
//! Any status other than `200` counts as "no answer", not only `5xx`: a
//! `401` means the service refused *us* (our client credentials), a `429`
//! that it is overloaded; neither says anything about the token.
//!
//! The answer's claims are read with the spec's `auth.jwt` rules: subject and
//! roles claim names and shapes, and the issuer and audiences, which, when
//! the spec sets them, the answer must carry (RFC 7662 makes `iss` and `aud`
//! optional, but without them a token issued for another API would pass).
//! `exp` is required, as for JWTs, because live connections close at it.
//! Without `auth.jwt` the names are `sub` and `roles` (an array), and
//! issuer and audience are not checked.
//!
//! The token goes in the request body only: never in a URL, a log line or
//! an error. Answers are not cached: every handshake (and in-band refresh)
//! asks again, which is what makes revocation immediate.

use std::fmt;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde_json::{Map, Value};
use wsauth_spec::{ClaimShape, Fallback};

use crate::descriptor::ApiDescriptor;
use crate::jwt::{
    Claims, IdentityRules, JwtError, MAX_TOKEN_BYTES, Verifier, check_identity, is_loopback,
    numeric_date,
};
use crate::server::{AuthError, Authenticator};
use crate::store::BoxFuture;

/// Default time limit for one introspection request (connect included).
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(3);
/// Largest introspection answer read, in bytes; larger ones are malformed.
pub const MAX_RESPONSE_BYTES: usize = 64 * 1024;

/// Where the introspection service is and how to call it: run-time
/// configuration, like keys (the spec only says that there is one).
#[derive(Clone)]
pub struct IntrospectionEndpoint {
    url: reqwest::Url,
    timeout: Duration,
    credentials: Option<(String, String)>,
}

impl fmt::Debug for IntrospectionEndpoint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("IntrospectionEndpoint")
            .field("url", &self.url.as_str())
            .field("timeout", &self.timeout)
            .field("client_id", &self.credentials.as_ref().map(|(id, _)| id))
            .finish()
    }
}

impl IntrospectionEndpoint {
    /// The service at `url`: `https`, or plain `http` to a loopback address
    /// (the token crosses the network in the request). Credentials in the
    /// URL are refused; use [`IntrospectionEndpoint::client_credentials`].
    pub fn new(url: &str) -> Result<Self, ConfigError> {
        let url = reqwest::Url::parse(url).map_err(|_| ConfigError::BadUrl("not a url"))?;
        match url.scheme() {
            "https" => {}
            "http" if is_loopback(&url) => {}
            "http" => {
                return Err(ConfigError::BadUrl(
                    "plain http is only allowed to a loopback address",
                ));
            }
            _ => return Err(ConfigError::BadUrl("the scheme must be https")),
        }
        if url.host_str().is_none_or(str::is_empty) {
            return Err(ConfigError::BadUrl("no host"));
        }
        if !url.username().is_empty() || url.password().is_some() {
            return Err(ConfigError::BadUrl(
                "credentials in the url; use client credentials instead",
            ));
        }
        Ok(IntrospectionEndpoint {
            url,
            timeout: DEFAULT_TIMEOUT,
            credentials: None,
        })
    }

    /// Time limit for one request (default [`DEFAULT_TIMEOUT`]). A request
    /// that takes longer counts as "no answer".
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// Authenticates this server to the service with HTTP Basic (RFC 7662
    /// §2.1 requires the caller to be authorized).
    pub fn client_credentials(mut self, id: impl Into<String>, secret: impl Into<String>) -> Self {
        self.credentials = Some((id.into(), secret.into()));
        self
    }
}

/// Why an [`Introspector`] could not be set up; the server must not start.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The URL does not parse, is not `https` (or `http` to a loopback
    /// address), or carries credentials.
    #[error("introspection url: {0}")]
    BadUrl(&'static str),
    /// The spec has no `auth.introspection`: it does not say what happens
    /// when the service cannot answer, so introspection is not used.
    #[error("the spec has no `auth.introspection` settings")]
    NotInSpec,
    /// A fallback verifier was given and the spec's fallback is `none`.
    #[error(
        "the spec's introspection fallback is `none`; a local verifier would be a way around it"
    )]
    FallbackNotAllowed,
    /// The HTTP client could not be built.
    #[error("cannot build the http client")]
    HttpClient(#[source] reqwest::Error),
}

/// Why the service gave no answer about a token: its fault (or the
/// network's), never the token's. Messages never contain the token.
#[derive(Debug, thiserror::Error)]
pub enum Unavailable {
    /// Connecting or sending failed.
    #[error("request failed: {0}")]
    Request(#[source] reqwest::Error),
    /// No complete answer within the time limit.
    #[error("no answer within the time limit")]
    Timeout,
    /// A status other than 200.
    #[error("http status {0}")]
    Status(u16),
    /// The answer exceeds [`MAX_RESPONSE_BYTES`].
    #[error("answer larger than {MAX_RESPONSE_BYTES} bytes")]
    TooLarge,
    /// Not an RFC 7662 answer wsauth can use.
    #[error("malformed answer: {0}")]
    Malformed(&'static str),
}

/// What one introspection request found.
#[derive(Debug, thiserror::Error)]
pub enum IntrospectionError {
    /// The service says the token is not active.
    #[error("token inactive")]
    Inactive,
    /// The service says the token is active, and its claims are not
    /// acceptable here (or the token was refused before asking).
    #[error("{0}")]
    Rejected(#[source] JwtError),
    /// The service gave no answer.
    #[error("introspection unavailable: {0}")]
    Unavailable(#[source] Unavailable),
}

/// The spec's rules for the claims of an answer.
#[derive(Clone, Copy, Debug)]
struct ClaimRules {
    subject: &'static str,
    roles: &'static str,
    shape: ClaimShape,
    issuer: Option<&'static str>,
    audience: &'static [&'static str],
    leeway_s: u64,
}

#[derive(Clone)]
struct Inner {
    endpoint: IntrospectionEndpoint,
    client: reqwest::Client,
    policy: Fallback,
    rules: ClaimRules,
    fallback: Option<Verifier>,
}

/// Checks tokens with an RFC 7662 introspection service, falling back to a
/// local [`Verifier`] only as the spec allows (see the module docs). Cheap
/// to clone.
#[derive(Clone)]
pub struct Introspector {
    inner: Arc<Inner>,
}

impl fmt::Debug for Introspector {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Introspector")
            .field("endpoint", &self.inner.endpoint)
            .field("fallback", &self.inner.policy)
            .field("verifier", &self.inner.fallback.is_some())
            .finish()
    }
}

impl Introspector {
    /// Introspection at `endpoint` for `api`, whose spec must declare
    /// `auth.introspection`. Without [`Introspector::with_fallback`], a
    /// service that cannot answer refuses every token with `server_error`,
    /// whatever the spec's fallback.
    pub fn new(
        api: &'static ApiDescriptor,
        endpoint: IntrospectionEndpoint,
    ) -> Result<Self, ConfigError> {
        let auth = api.auth.as_ref().ok_or(ConfigError::NotInSpec)?;
        let policy = auth.introspection.ok_or(ConfigError::NotInSpec)?;
        let rules = match &auth.jwt {
            Some(jwt) => ClaimRules {
                subject: jwt.subject_claim,
                roles: jwt.roles_claim,
                shape: jwt.roles_shape,
                issuer: jwt.issuer,
                audience: jwt.audience,
                leeway_s: jwt.leeway_s,
            },
            None => ClaimRules {
                subject: "sub",
                roles: "roles",
                shape: ClaimShape::Array,
                issuer: None,
                audience: &[],
                leeway_s: 0,
            },
        };
        let client = reqwest::Client::builder()
            .timeout(endpoint.timeout)
            .redirect(reqwest::redirect::Policy::none())
            // Tokens go to the configured service and nowhere else: an
            // `HTTP_PROXY` in the environment would otherwise receive them,
            // in clear text where plain http to loopback is allowed.
            .no_proxy()
            .build()
            .map_err(ConfigError::HttpClient)?;
        Ok(Introspector {
            inner: Arc::new(Inner {
                endpoint,
                client,
                policy,
                rules,
                fallback: None,
            }),
        })
    }

    /// The local verifier used when the service cannot answer; refused
    /// unless the spec's fallback is `jwt`.
    pub fn with_fallback(self, verifier: Verifier) -> Result<Self, ConfigError> {
        if self.inner.policy != Fallback::Jwt {
            return Err(ConfigError::FallbackNotAllowed);
        }
        let mut inner = Arc::unwrap_or_clone(self.inner);
        inner.fallback = Some(verifier);
        Ok(Introspector {
            inner: Arc::new(inner),
        })
    }

    /// Asks the service about `token` now (system clock); no fallback.
    pub async fn introspect(&self, token: &str) -> Result<Claims, IntrospectionError> {
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_secs());
        self.introspect_at(token, now).await
    }

    /// Asks the service about `token`, checking the answer's times against
    /// `now` (unix seconds); no fallback.
    pub async fn introspect_at(&self, token: &str, now: u64) -> Result<Claims, IntrospectionError> {
        if token.is_empty() || token.len() > MAX_TOKEN_BYTES {
            return Err(IntrospectionError::Rejected(JwtError::Malformed));
        }
        let answer = self
            .ask(token)
            .await
            .map_err(IntrospectionError::Unavailable)?;
        match answer.get("active") {
            Some(Value::Bool(true)) => {}
            Some(Value::Bool(false)) => return Err(IntrospectionError::Inactive),
            Some(_) => {
                return Err(IntrospectionError::Unavailable(Unavailable::Malformed(
                    "`active` is not a boolean",
                )));
            }
            None => {
                return Err(IntrospectionError::Unavailable(Unavailable::Malformed(
                    "no `active`",
                )));
            }
        }
        check_claims(&self.inner.rules, answer, now)
    }

    /// One request; the answer's JSON object.
    async fn ask(&self, token: &str) -> Result<Map<String, Value>, Unavailable> {
        let inner = &*self.inner;
        let mut request = inner
            .client
            .post(inner.endpoint.url.clone())
            .header(reqwest::header::ACCEPT, "application/json")
            .form(&[("token", token), ("token_type_hint", "access_token")]);
        if let Some((id, secret)) = &inner.endpoint.credentials {
            request = request.basic_auth(id, Some(secret));
        }
        let mut response = request.send().await.map_err(request_error)?;
        let status = response.status();
        if status != reqwest::StatusCode::OK {
            return Err(Unavailable::Status(status.as_u16()));
        }
        if response
            .content_length()
            .is_some_and(|n| n > MAX_RESPONSE_BYTES as u64)
        {
            return Err(Unavailable::TooLarge);
        }
        let mut body = Vec::new();
        while let Some(chunk) = response.chunk().await.map_err(request_error)? {
            if body.len() + chunk.len() > MAX_RESPONSE_BYTES {
                return Err(Unavailable::TooLarge);
            }
            body.extend_from_slice(&chunk);
        }
        match serde_json::from_slice::<Value>(&body) {
            Ok(Value::Object(map)) => Ok(map),
            Ok(_) => Err(Unavailable::Malformed("not a JSON object")),
            Err(_) => Err(Unavailable::Malformed("not JSON")),
        }
    }

    /// The whole decision: introspection, then the fallback the spec and
    /// the configuration allow.
    async fn check(&self, token: &str) -> Result<Claims, AuthError> {
        let unavailable = match self.introspect(token).await {
            Ok(claims) => return Ok(claims),
            Err(e @ (IntrospectionError::Inactive | IntrospectionError::Rejected(_))) => {
                return Err(AuthError::invalid(format!("introspection: {e}")));
            }
            Err(IntrospectionError::Unavailable(why)) => why,
        };
        let verifier = match (self.inner.policy, &self.inner.fallback) {
            (Fallback::Jwt, Some(verifier)) => verifier,
            (Fallback::Jwt, None) => {
                return Err(AuthError::unavailable(format!(
                    "introspection unavailable ({unavailable}); no local verifier configured"
                )));
            }
            (Fallback::None, _) => {
                return Err(AuthError::unavailable(format!(
                    "introspection unavailable ({unavailable}); the spec allows no fallback"
                )));
            }
        };
        tracing::warn!(
            target: "wsauth::audit",
            event = "introspection_fallback",
            reason = %unavailable,
            "introspection unavailable; verifying the token locally"
        );
        verifier.verify(token).await.map_err(|e| {
            let detail = format!("introspection unavailable ({unavailable}); local jwt: {e}");
            if e.is_server_error() {
                AuthError::unavailable(detail)
            } else {
                AuthError::invalid(detail)
            }
        })
    }
}

impl Authenticator for Introspector {
    fn authenticate<'a>(&'a self, token: &'a str) -> BoxFuture<'a, Result<Claims, AuthError>> {
        Box::pin(self.check(token))
    }
}

/// A transport error, without its URL (which holds no secret, but has no
/// place in a close-adjacent audit detail either).
fn request_error(error: reqwest::Error) -> Unavailable {
    if error.is_timeout() {
        Unavailable::Timeout
    } else {
        Unavailable::Request(error.without_url())
    }
}

/// The claims of an active answer, by the spec's rules.
fn check_claims(
    rules: &ClaimRules,
    answer: Map<String, Value>,
    now: u64,
) -> Result<Claims, IntrospectionError> {
    let rejected = IntrospectionError::Rejected;
    let exp = match numeric_date(&answer, "exp", false).map_err(rejected)? {
        Some(exp) => exp,
        None => {
            return Err(IntrospectionError::Unavailable(Unavailable::Malformed(
                "an active answer without `exp`",
            )));
        }
    };
    if now >= exp.saturating_add(rules.leeway_s) {
        return Err(rejected(JwtError::Expired));
    }
    if let Some(nbf) = numeric_date(&answer, "nbf", true).map_err(rejected)?
        && nbf > now.saturating_add(rules.leeway_s)
    {
        return Err(rejected(JwtError::NotYetValid));
    }
    let iat = numeric_date(&answer, "iat", false).map_err(rejected)?;
    let (subject, roles) = check_identity(
        &answer,
        &IdentityRules {
            issuer: rules.issuer,
            audience: rules.audience,
            subject: rules.subject,
            roles: rules.roles,
            shape: rules.shape,
        },
    )
    .map_err(rejected)?;
    Ok(Claims {
        subject,
        roles,
        exp,
        iat,
        claims: answer,
    })
}

#[cfg(test)]
mod tests {
    use std::sync::Mutex;
    use std::sync::atomic::{AtomicUsize, Ordering};

    use axum::extract::State;
    use axum::http::{HeaderMap, StatusCode};
    use axum::response::IntoResponse;
    use jsonwebtoken::{EncodingKey, Header, encode};
    use serde_json::json;
    use wsauth_spec::{Algorithm, ExpiryPolicy, TokenSource};

    use super::*;
    use crate::descriptor::{AuthDescriptor, JwtDescriptor, KeySlot};
    use crate::jwt::KeySet;

    const SECRET: &[u8] = b"introspection-test-secret-0123456789-abcdef";
    const ISS: &str = "mcp-status";
    const AUD: &str = "mcp-status-ws";

    const SLOTS: &[KeySlot] = &[KeySlot {
        name: "default",
        algorithms: &[Algorithm::HS256],
    }];
    const JWT: JwtDescriptor = JwtDescriptor {
        keys: SLOTS,
        issuer: Some(ISS),
        audience: &[AUD],
        leeway_s: 5,
        max_ttl_s: Some(3600),
        subject_claim: "sub",
        roles_claim: "role",
        roles_shape: ClaimShape::String,
    };

    fn api(introspection: Option<Fallback>) -> &'static ApiDescriptor {
        Box::leak(Box::new(ApiDescriptor {
            name: "test",
            auth: Some(AuthDescriptor {
                sources: &[TokenSource::Header],
                jwt: Some(JWT),
                introspection,
                on_expiry: ExpiryPolicy::Close,
                anonymous_role: None,
            }),
            roles: &[],
            close_codes: &[],
            stats: None,
            endpoints: &[],
        }))
    }

    fn now() -> u64 {
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_secs())
    }

    /// A locally valid HS256 token for `sub`.
    fn token(sub: &str) -> String {
        let now = now();
        let claims = json!({
            "sub": sub, "role": "admin", "iat": now, "exp": now + 600,
            "iss": ISS, "aud": AUD,
        });
        encode(
            &Header::default(),
            &claims,
            &EncodingKey::from_secret(SECRET),
        )
        .unwrap_or_else(|e| panic!("{e}"))
    }

    fn verifier(api: &'static ApiDescriptor) -> Verifier {
        let jwt = api
            .auth
            .as_ref()
            .and_then(|a| a.jwt.as_ref())
            .unwrap_or_else(|| panic!("jwt"));
        let keys = KeySet::new()
            .hmac("default", SECRET)
            .unwrap_or_else(|e| panic!("{e}"));
        Verifier::new(jwt, keys).unwrap_or_else(|e| panic!("{e}"))
    }

    /// What the fake service answers.
    #[derive(Clone)]
    enum Reply {
        Json(StatusCode, Value),
        Text(&'static str),
        Slow(Duration),
    }

    /// A request as the fake service saw it.
    #[derive(Clone, Debug, Default)]
    struct Seen {
        content_type: Option<String>,
        authorization: Option<String>,
        form: Vec<(String, String)>,
    }

    struct Fake {
        reply: Mutex<Reply>,
        seen: Mutex<Vec<Seen>>,
        hits: AtomicUsize,
    }

    struct Service {
        url: String,
        fake: Arc<Fake>,
    }

    impl Service {
        fn hits(&self) -> usize {
            self.fake.hits.load(Ordering::SeqCst)
        }
        fn last(&self) -> Seen {
            self.fake
                .seen
                .lock()
                .unwrap_or_else(|e| panic!("{e}"))
                .last()
                .cloned()
                .unwrap_or_default()
        }
        fn set(&self, reply: Reply) {
            *self.fake.reply.lock().unwrap_or_else(|e| panic!("{e}")) = reply;
        }
    }

    async fn introspect(
        State(fake): State<Arc<Fake>>,
        headers: HeaderMap,
        body: String,
    ) -> axum::response::Response {
        fake.hits.fetch_add(1, Ordering::SeqCst);
        let header = |name| {
            headers
                .get(name)
                .and_then(|v| v.to_str().ok())
                .map(str::to_owned)
        };
        let form = body
            .split('&')
            .filter_map(|pair| pair.split_once('='))
            .map(|(k, v)| (k.to_owned(), v.to_owned()))
            .collect();
        fake.seen
            .lock()
            .unwrap_or_else(|e| panic!("{e}"))
            .push(Seen {
                content_type: header("content-type"),
                authorization: header("authorization"),
                form,
            });
        let reply = fake.reply.lock().unwrap_or_else(|e| panic!("{e}")).clone();
        match reply {
            Reply::Json(status, body) => (status, axum::Json(body)).into_response(),
            Reply::Text(text) => text.into_response(),
            Reply::Slow(wait) => {
                tokio::time::sleep(wait).await;
                axum::Json(json!({"active": false})).into_response()
            }
        }
    }

    async fn service(reply: Reply) -> Service {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        let addr = listener.local_addr().unwrap_or_else(|e| panic!("{e}"));
        let fake = Arc::new(Fake {
            reply: Mutex::new(reply),
            seen: Mutex::new(Vec::new()),
            hits: AtomicUsize::new(0),
        });
        let app = axum::Router::new()
            .route("/introspect", axum::routing::post(introspect))
            .with_state(Arc::clone(&fake));
        tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Service {
            url: format!("http://{addr}/introspect"),
            fake,
        }
    }

    /// A loopback URL nothing listens on.
    async fn unreachable_url() -> String {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        let addr = listener.local_addr().unwrap_or_else(|e| panic!("{e}"));
        drop(listener);
        format!("http://{addr}/introspect")
    }

    fn active(sub: &str) -> Value {
        let now = now();
        json!({
            "active": true, "sub": sub, "role": "dba", "exp": now + 300, "iat": now,
            "iss": ISS, "aud": [AUD, "other"], "client_id": "cli", "scope": "read",
        })
    }

    fn introspector(api: &'static ApiDescriptor, url: &str) -> Introspector {
        let endpoint = IntrospectionEndpoint::new(url)
            .unwrap_or_else(|e| panic!("{e}"))
            .timeout(Duration::from_millis(500));
        Introspector::new(api, endpoint).unwrap_or_else(|e| panic!("{e}"))
    }

    fn with_fallback(api: &'static ApiDescriptor, url: &str) -> Introspector {
        introspector(api, url)
            .with_fallback(verifier(api))
            .unwrap_or_else(|e| panic!("{e}"))
    }

    #[tokio::test]
    async fn active_answers_give_the_answers_claims() {
        let service = service(Reply::Json(StatusCode::OK, active("dana"))).await;
        let api = api(Some(Fallback::Jwt));
        let endpoint = IntrospectionEndpoint::new(&service.url)
            .unwrap_or_else(|e| panic!("{e}"))
            .client_credentials("mcp-status", "s3cret");
        let introspector = Introspector::new(api, endpoint).unwrap_or_else(|e| panic!("{e}"));
        // Any opaque token: the service decides, not the local verifier.
        let claims = introspector
            .authenticate("opaque-token.v1")
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(claims.subject, "dana");
        assert_eq!(claims.roles, ["dba"]);
        assert_eq!(claims.claims["client_id"], "cli");
        let seen = service.last();
        assert_eq!(
            seen.content_type.as_deref(),
            Some("application/x-www-form-urlencoded")
        );
        assert_eq!(
            seen.form,
            [
                ("token".to_owned(), "opaque-token.v1".to_owned()),
                ("token_type_hint".to_owned(), "access_token".to_owned()),
            ]
        );
        // base64("mcp-status:s3cret")
        assert_eq!(
            seen.authorization.as_deref(),
            Some("Basic bWNwLXN0YXR1czpzM2NyZXQ=")
        );
        assert!(!format!("{introspector:?}").contains("s3cret"));
    }

    #[tokio::test]
    async fn inactive_tokens_are_refused_without_fallback() {
        let service = service(Reply::Json(StatusCode::OK, json!({"active": false}))).await;
        let api = api(Some(Fallback::Jwt));
        let introspector = with_fallback(api, &service.url);
        // Valid locally, inactive for the service: the service wins.
        let token = token("alice");
        assert!(verifier(api).verify(&token).await.is_ok());
        let e = introspector
            .authenticate(&token)
            .await
            .err()
            .unwrap_or_else(|| panic!("admitted an inactive token"));
        assert!(!e.is_server_error());
        assert_eq!(e.to_string(), "introspection: token inactive");
        assert_eq!(service.hits(), 1);
    }

    #[tokio::test]
    async fn active_answers_with_foreign_claims_are_refused_without_fallback() {
        let now = now();
        let cases = [
            ("iss", json!("someone-else"), "wrong issuer"),
            ("aud", json!(["another-api"]), "wrong audience"),
            ("aud", json!(7), "claim `aud` has the wrong type"),
            ("exp", json!(now - 60), "token expired"),
            ("nbf", json!(now + 600), "token not yet valid"),
            ("role", json!(["admin"]), "claim `role` has the wrong type"),
            ("sub", json!(""), "empty subject"),
        ];
        let api = api(Some(Fallback::Jwt));
        let service = service(Reply::Text("")).await;
        let introspector = with_fallback(api, &service.url);
        for (claim, value, why) in cases {
            let mut answer = active("alice");
            answer[claim] = value;
            service.set(Reply::Json(StatusCode::OK, answer));
            let e = introspector
                .authenticate(&token("alice"))
                .await
                .err()
                .unwrap_or_else(|| panic!("{claim}: admitted"));
            assert!(!e.is_server_error(), "{claim}");
            assert_eq!(e.to_string(), format!("introspection: {why}"), "{claim}");
        }
        for claim in ["iss", "aud", "sub"] {
            let mut answer = active("alice");
            answer.as_object_mut().map(|a| a.remove(claim));
            service.set(Reply::Json(StatusCode::OK, answer));
            let e = introspector.authenticate(&token("alice")).await.err();
            let e = e.unwrap_or_else(|| panic!("{claim}: admitted"));
            assert_eq!(
                e.to_string(),
                format!("introspection: missing claim `{claim}`")
            );
        }
    }

    /// Unreachable, slow, failing or garbled: all "no answer".
    async fn no_answer_cases() -> Vec<(&'static str, String, Option<Service>)> {
        let mut cases = vec![("unreachable", unreachable_url().await, None)];
        let no_exp = {
            let mut answer = active("alice");
            answer.as_object_mut().map(|a| a.remove("exp"));
            answer
        };
        for (name, reply) in [
            (
                "5xx",
                Reply::Json(StatusCode::SERVICE_UNAVAILABLE, json!({})),
            ),
            ("401", Reply::Json(StatusCode::UNAUTHORIZED, json!({}))),
            ("not json", Reply::Text("<html>oops</html>")),
            (
                "no active",
                Reply::Json(StatusCode::OK, json!({"sub": "alice"})),
            ),
            (
                "active not bool",
                Reply::Json(StatusCode::OK, json!({"active": "yes"})),
            ),
            ("no exp", Reply::Json(StatusCode::OK, no_exp)),
            ("slow", Reply::Slow(Duration::from_secs(3))),
        ] {
            let s = service(reply).await;
            cases.push((name, s.url.clone(), Some(s)));
        }
        cases
    }

    #[tokio::test]
    async fn no_answer_falls_back_to_the_local_verifier_when_the_spec_says_jwt() {
        let api = api(Some(Fallback::Jwt));
        let good = token("alice");
        let forged = {
            let mut t = token("alice");
            t.push('x');
            t
        };
        for (name, url, _service) in no_answer_cases().await {
            let introspector = with_fallback(api, &url);
            let claims = introspector
                .authenticate(&good)
                .await
                .unwrap_or_else(|e| panic!("{name}: {e}"));
            assert_eq!(claims.subject, "alice", "{name}");
            assert_eq!(claims.roles, ["admin"], "{name}");
            let e = introspector.authenticate(&forged).await.err();
            let e = e.unwrap_or_else(|| panic!("{name}: a forged token was admitted"));
            assert!(!e.is_server_error(), "{name}");
            assert!(
                e.to_string().ends_with("local jwt: bad signature"),
                "{name}: {e}"
            );
            assert!(!e.to_string().contains(&good), "{name}: the token leaked");
        }
    }

    #[tokio::test]
    async fn no_answer_fails_closed_when_the_spec_allows_no_fallback() {
        let api = api(Some(Fallback::None));
        let good = token("alice");
        for (name, url, _service) in no_answer_cases().await {
            let e = introspector(api, &url).authenticate(&good).await.err();
            let e = e.unwrap_or_else(|| panic!("{name}: admitted without an answer"));
            assert!(e.is_server_error(), "{name}: {e}");
            assert!(e.to_string().contains("the spec allows no fallback"), "{e}");
            assert!(!e.to_string().contains(&good), "{name}: the token leaked");
        }
        // And no verifier can be slipped in.
        let url = unreachable_url().await;
        assert!(matches!(
            introspector(api, &url).with_fallback(verifier(api)),
            Err(ConfigError::FallbackNotAllowed)
        ));
    }

    #[tokio::test]
    async fn a_jwt_fallback_without_a_verifier_fails_closed() {
        let api = api(Some(Fallback::Jwt));
        let url = unreachable_url().await;
        let e = introspector(api, &url).authenticate(&token("alice")).await;
        let e = e.err().unwrap_or_else(|| panic!("admitted"));
        assert!(e.is_server_error());
        assert!(e.to_string().contains("no local verifier"), "{e}");
    }

    #[tokio::test]
    async fn oversized_tokens_and_answers_are_not_used() {
        let api = api(Some(Fallback::None));
        let big = json!({"active": true, "padding": "x".repeat(MAX_RESPONSE_BYTES)});
        let service = service(Reply::Json(StatusCode::OK, big)).await;
        let introspector = introspector(api, &service.url);
        assert!(matches!(
            introspector.introspect("t").await,
            Err(IntrospectionError::Unavailable(Unavailable::TooLarge))
        ));
        let huge = "a".repeat(MAX_TOKEN_BYTES + 1);
        assert!(matches!(
            introspector.introspect(&huge).await,
            Err(IntrospectionError::Rejected(JwtError::Malformed))
        ));
        assert_eq!(service.hits(), 1, "an oversized token is not sent");
    }

    #[test]
    fn configuration_is_checked() {
        for (url, why) in [
            ("not a url", "not a url"),
            ("http://auth.example/introspect", "plain http"),
            ("ftp://127.0.0.1/x", "scheme"),
            ("https://id:pw@auth.example/introspect", "credentials"),
        ] {
            match IntrospectionEndpoint::new(url) {
                Err(ConfigError::BadUrl(reason)) => assert!(reason.contains(why), "{url}"),
                other => panic!("{url}: {other:?}"),
            }
        }
        for url in [
            "https://auth.example/introspect",
            "http://127.0.0.1:9/introspect",
            "http://[::1]:9/introspect",
            "http://localhost:9/introspect",
        ] {
            assert!(IntrospectionEndpoint::new(url).is_ok(), "{url}");
        }
        let endpoint = || {
            IntrospectionEndpoint::new("https://auth.example/introspect")
                .unwrap_or_else(|e| panic!("{e}"))
        };
        assert!(matches!(
            Introspector::new(api(None), endpoint()),
            Err(ConfigError::NotInSpec)
        ));
        assert!(Introspector::new(api(Some(Fallback::None)), endpoint()).is_ok());
    }

    /// The fallback is an audit event, and no log line carries the token.
    #[tokio::test(flavor = "current_thread")]
    async fn the_fallback_is_audited_and_the_token_never_logged() {
        #[derive(Clone, Default)]
        struct Buffer(Arc<Mutex<Vec<u8>>>);
        impl std::io::Write for Buffer {
            fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
                self.0
                    .lock()
                    .unwrap_or_else(|e| panic!("{e}"))
                    .extend_from_slice(bytes);
                Ok(bytes.len())
            }
            fn flush(&mut self) -> std::io::Result<()> {
                Ok(())
            }
        }
        let buffer = Buffer::default();
        let writer = buffer.clone();
        let subscriber = tracing_subscriber::fmt()
            .with_max_level(tracing::Level::TRACE)
            .with_ansi(false)
            .with_writer(move || writer.clone())
            .finish();
        let _guard = tracing::subscriber::set_default(subscriber);
        // Tests on other threads (no subscriber) may have cached "never" for
        // the audit callsites while this subscriber was being registered;
        // recompute, so this thread's events are not dropped.
        tracing::callsite::rebuild_interest_cache();

        let api = api(Some(Fallback::Jwt));
        let token = token("alice");
        let url = unreachable_url().await;
        assert!(with_fallback(api, &url).authenticate(&token).await.is_ok());
        let service = service(Reply::Json(StatusCode::OK, json!({"active": false}))).await;
        assert!(
            with_fallback(api, &service.url)
                .authenticate(&token)
                .await
                .is_err()
        );

        let log = String::from_utf8(buffer.0.lock().unwrap_or_else(|e| panic!("{e}")).clone())
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(log.matches("introspection_fallback").count(), 1, "{log}");
        assert!(log.contains("wsauth::audit"), "{log}");
        assert!(!log.contains(&token), "the token reached the log");
        let signature = token.rsplit('.').next().unwrap_or_default();
        assert!(!log.contains(signature), "the signature reached the log");
    }
}
