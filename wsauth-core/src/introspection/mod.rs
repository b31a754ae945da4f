//! Token introspection (RFC 7662): asking the token's issuer whether a token
//! is still good, with the spec's fallback when it cannot be reached.
//!
//! # Motivation
//!
//! A signed JWT stays valid until its `exp`, whatever happens to its user in
//! the meantime. An authorization server that keeps track of its tokens
//! knows better: logged out, revoked, user disabled. Asking it on every
//! handshake (RFC 7662, token introspection) makes those decisions take
//! effect at once. The price is a network dependency in the handshake, so
//! the spec says what happens when the service cannot be reached
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
//! to prevent. An answer wsauth cannot use (see below) does not fall back
//! either.
//!
//! # Shape
//!
//! [`IntrospectionEndpoint`] is the run-time configuration (URL, time limit,
//! client credentials, requests in flight); [`Introspector::new`] joins it
//! to the spec and [`Introspector::with_fallback`] adds the local verifier
//! when the spec allows one (it refuses one when the spec says `none`). An
//! `Introspector` is an [`Authenticator`]: give it to
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
//! | `200`, `"active": true`, claims not acceptable (expired, wrong `iss`/`aud`, no subject, a `token_type` that is not an access token's) | `auth_failed`, no fallback |
//! | unreachable: connecting or sending fails, no answer within the time limit, `502`/`503`/`504` from a gateway | fallback: local JWT when the spec says `jwt` and a verifier was given, else `server_error` |
//! | answered, unusable: any other status (`400`, `401`, `403`, `429`, `500`, ...), not an RFC 7662 document (not JSON, too large, `active` missing or not a boolean), an active answer without `exp` | `server_error`, no fallback, an `error` log line |
//! | not asked: [`IntrospectionEndpoint::max_in_flight`] requests already under way for the whole time limit | `server_error`, no fallback |
//!
//! Only an unreachable service is an outage, the one case the spec's
//! fallback is for. A service that answers something wsauth cannot use is
//! up and telling us something is wrong on our side or its own: a `401` or
//! `403` means it refused *us* (client credentials rotated or mistyped), a
//! `400` that we speak to it wrongly, a `429` that it throttles us, a `500`
//! that it is broken. Falling back there would switch revocation off
//! silently, for as long as the misconfiguration lasts, and would let a
//! caller who can make the service fail on a given token (an odd token that
//! makes it answer `500`) steer a revoked token onto the local path. So such
//! a token is refused with `server_error`, and each refusal is logged at
//! `error` level (target `wsauth::audit`, `event =
//! "introspection_bad_answer"`, the status or what was wrong; never the
//! token or the credentials) for the operator to fix.
//!
//! # Load on the service
//!
//! Every handshake asks the service, so whoever can open connections can
//! make it busy. Two limits keep that in check:
//!
//! - With a local verifier (`fallback: jwt`; tokens are then JWTs by
//!   definition), the token is verified locally *first*. A token the
//!   verifier refuses (forged, expired, for another API) is refused with
//!   `auth_failed` without asking the service; the service is asked only
//!   about tokens that could be good, to learn whether they were revoked.
//!   When the local check cannot be made (its keys are unavailable), the
//!   service is asked as without a verifier. At the handshake, the local
//!   claims must also carry the endpoint's permission and match the path's
//!   subject ([`Authenticator::precheck`]): a token that is well signed but
//!   for another user or role costs no request either.
//! - At most [`IntrospectionEndpoint::max_in_flight`] requests (default
//!   [`DEFAULT_MAX_IN_FLIGHT`]) are under way at once. A check that cannot
//!   start one within the time limit fails closed with `server_error` and
//!   no fallback: a flood must never be a way to switch revocation off.
//!
//! # Claims
//!
//! The answer's claims are read with the spec's `auth.jwt` rules: subject and
//! roles claim names and shapes, and the issuer and audiences, which, when
//! the spec sets them, the answer must carry (RFC 7662 makes `iss` and `aud`
//! optional, but without them a token issued for another API would pass).
//! `exp` is required, as for JWTs, because live connections close at it.
//! Without `auth.jwt` the names are `sub` and `roles` (an array), and
//! issuer and audience are not checked. A `token_type`, when present, must
//! name an access token (see [`ACCESS_TOKEN_TYPES`]): a refresh token the
//! service reports as active is not a credential for a connection.
//!
//! `exp` is also held to the spec's `max_ttl_s` from now: a connection
//! admitted on an answer is asked about again (by refresh, or a new
//! handshake) at least that often, whatever lifetime the service reports.
//!
//! The token goes in the request body only: never in a URL, a log line or
//! an error.
//!
//! # Answers remembered
//!
//! An "active" answer is remembered for
//! [`IntrospectionEndpoint::cache_active_for`] (default
//! [`DEFAULT_CACHE_ACTIVE_FOR`]; zero asks every time): the longest a
//! revocation may take to reach a new handshake. An "inactive" answer is
//! remembered until the token's `exp` (from the local verifier, or the
//! spec's `max_ttl_s` from now when there is none), and keeps the token
//! refused while the service is unreachable: the fallback never lets in a
//! token the service has refused. Entries are keyed by the token's SHA-256
//! and bounded in number (see `cache`).

mod cache;

use std::fmt;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use serde_json::{Map, Value};
use tokio::sync::Semaphore;
use wsauth_spec::{ClaimShape, Fallback};

use self::cache::{Answer, Answers};
use crate::descriptor::ApiDescriptor;
use crate::identity::{AuthError, Authenticator};
use crate::jwt::{
    Claims, IdentityRules, JwtError, MAX_TOKEN_BYTES, Verifier, check_identity, numeric_date,
};
use crate::outbound::{self, BodyError};
use crate::store::BoxFuture;

/// Default time limit for one introspection request (connect included).
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(3);
/// Largest introspection answer read, in bytes; larger ones are malformed.
pub const MAX_RESPONSE_BYTES: usize = 64 * 1024;
/// Default time an "active" answer is remembered.
pub const DEFAULT_CACHE_ACTIVE_FOR: Duration = Duration::from_secs(5);
/// Default number of introspection requests under way at once.
pub const DEFAULT_MAX_IN_FLIGHT: usize = 64;
/// The `token_type` values of an active answer that name an access token
/// (compared ASCII case-insensitively): RFC 6750's `Bearer`, what some
/// services say, and RFC 8693's URI. Any other (Keycloak's `Refresh`, say)
/// refuses the token.
pub const ACCESS_TOKEN_TYPES: &[&str] = &[
    "bearer",
    "access_token",
    "access",
    "urn:ietf:params:oauth:token-type:access_token",
];

/// Where the introspection service is and how to call it: run-time
/// configuration, like keys (the spec only says that there is one).
#[derive(Clone)]
pub struct IntrospectionEndpoint {
    url: reqwest::Url,
    timeout: Duration,
    credentials: Option<(String, String)>,
    max_in_flight: usize,
    cache_active_for: Duration,
}

impl fmt::Debug for IntrospectionEndpoint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("IntrospectionEndpoint")
            .field("url", &self.url.as_str())
            .field("timeout", &self.timeout)
            .field("client_id", &self.credentials.as_ref().map(|(id, _)| id))
            .field("max_in_flight", &self.max_in_flight)
            .field("cache_active_for", &self.cache_active_for)
            .finish()
    }
}

impl IntrospectionEndpoint {
    /// The service at `url`: `https`, or plain `http` to a loopback address
    /// (the token crosses the network in the request). Credentials in the
    /// URL are refused; use [`IntrospectionEndpoint::client_credentials`].
    pub fn new(url: &str) -> Result<Self, ConfigError> {
        let url = outbound::url(url).map_err(ConfigError::BadUrl)?;
        if !url.username().is_empty() || url.password().is_some() {
            return Err(ConfigError::BadUrl(
                "credentials in the url; use client credentials instead",
            ));
        }
        Ok(IntrospectionEndpoint {
            url,
            timeout: DEFAULT_TIMEOUT,
            credentials: None,
            max_in_flight: DEFAULT_MAX_IN_FLIGHT,
            cache_active_for: DEFAULT_CACHE_ACTIVE_FOR,
        })
    }

    /// Time limit for one request (default [`DEFAULT_TIMEOUT`]). A request
    /// that takes longer counts as "unreachable". Also the longest a check
    /// waits for its turn when [`IntrospectionEndpoint::max_in_flight`]
    /// requests are under way.
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

    /// At most `n` requests under way at once (default
    /// [`DEFAULT_MAX_IN_FLIGHT`]); `n` must be at least 1, else
    /// [`Introspector::new`] refuses the endpoint. Checks beyond it wait up
    /// to the time limit, then fail with `server_error` (no fallback).
    pub fn max_in_flight(mut self, n: usize) -> Self {
        self.max_in_flight = n;
        self
    }

    /// How long an "active" answer is remembered (default
    /// [`DEFAULT_CACHE_ACTIVE_FOR`]): the longest a revocation may take to
    /// reach a new handshake or refresh with the same token. Zero asks the
    /// service every time. "Inactive" answers are remembered until the
    /// token expires, whatever this says.
    pub fn cache_active_for(mut self, duration: Duration) -> Self {
        self.cache_active_for = duration;
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
    /// [`IntrospectionEndpoint::max_in_flight`] is 0 (no request could ever
    /// be made) or more than a semaphore holds.
    #[error("max_in_flight is {0}; it must be at least 1 and at most {max}", max = Semaphore::MAX_PERMITS)]
    MaxInFlight(usize),
    /// The spec has no `auth.introspection`: it does not say what happens
    /// when the service cannot be reached, so introspection is not used.
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

/// Why the service could not be reached: an outage (its own, a gateway's or
/// the network's), the one case the spec's fallback is for. Messages never
/// contain the token.
#[derive(Debug, thiserror::Error)]
pub enum Unreachable {
    /// Connecting, sending or receiving failed.
    #[error("request failed: {0}")]
    Request(#[source] reqwest::Error),
    /// No complete answer within the time limit.
    #[error("no answer within the time limit")]
    Timeout,
    /// `502`, `503` or `504`: a gateway says the service behind it is down.
    #[error("http status {0} from a gateway")]
    Gateway(u16),
}

/// The service answered, and wsauth cannot use the answer: an operator's
/// problem (client credentials, a broken service), never a reason to fall
/// back. Messages never contain the token.
#[derive(Debug, thiserror::Error)]
pub enum BadAnswer {
    /// A status other than 200 that is not a gateway's "down" (`401`,
    /// `403`: our client credentials are refused; `400`, `429`, `500`, ...).
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
    /// The service says the token is active, and its `token_type` is not
    /// one of [`ACCESS_TOKEN_TYPES`] (a refresh token, say).
    #[error("not an access token")]
    NotAnAccessToken,
    /// The service could not be reached.
    #[error("introspection unreachable: {0}")]
    Unreachable(#[source] Unreachable),
    /// The service answered, unusably.
    #[error("introspection answer unusable: {0}")]
    BadAnswer(#[source] BadAnswer),
    /// [`IntrospectionEndpoint::max_in_flight`] requests were under way
    /// for the whole time limit; the service was not asked.
    #[error("too many introspection requests in flight")]
    Busy,
}

impl IntrospectionError {
    /// Whether the token was not judged (the service unreachable, its
    /// answer unusable, or too busy to ask), rather than found wanting:
    /// callers close with `server_error`, not `auth_failed`.
    pub fn is_server_error(&self) -> bool {
        matches!(
            self,
            IntrospectionError::Unreachable(_)
                | IntrospectionError::BadAnswer(_)
                | IntrospectionError::Busy
        )
    }

    /// Whether the service could not be reached: the only error after which
    /// the spec's fallback may verify the token locally.
    pub fn is_unreachable(&self) -> bool {
        matches!(self, IntrospectionError::Unreachable(_))
    }
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
    /// The longest an answer's `exp` may lie ahead.
    max_ttl_s: u64,
}

#[derive(Clone)]
struct Inner {
    endpoint: IntrospectionEndpoint,
    client: reqwest::Client,
    /// One permit per request under way.
    in_flight: Arc<Semaphore>,
    policy: Fallback,
    rules: ClaimRules,
    fallback: Option<Verifier>,
    answers: Arc<Answers>,
}

/// Checks tokens with an RFC 7662 introspection service, falling back to a
/// local [`Verifier`] only as the spec allows (see the module docs). Cheap
/// to clone; clones share the limit on requests in flight.
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
    /// `auth.introspection`. Without [`Introspector::with_fallback`], an
    /// unreachable service refuses every token with `server_error`,
    /// whatever the spec's fallback.
    pub fn new(
        api: &'static ApiDescriptor,
        endpoint: IntrospectionEndpoint,
    ) -> Result<Self, ConfigError> {
        let auth = api.auth.as_ref().ok_or(ConfigError::NotInSpec)?;
        let policy = auth.introspection.ok_or(ConfigError::NotInSpec)?;
        if endpoint.max_in_flight == 0 || endpoint.max_in_flight > Semaphore::MAX_PERMITS {
            return Err(ConfigError::MaxInFlight(endpoint.max_in_flight));
        }
        let rules = match &auth.jwt {
            Some(jwt) => ClaimRules {
                subject: jwt.subject_claim,
                roles: jwt.roles_claim,
                shape: jwt.roles_shape,
                issuer: jwt.issuer,
                audience: jwt.audience,
                leeway_s: jwt.leeway_s,
                max_ttl_s: jwt.max_ttl_s.unwrap_or(wsauth_spec::DEFAULT_MAX_TTL_S),
            },
            None => ClaimRules {
                subject: "sub",
                roles: "roles",
                shape: ClaimShape::Array,
                issuer: None,
                audience: &[],
                leeway_s: 0,
                max_ttl_s: wsauth_spec::DEFAULT_MAX_TTL_S,
            },
        };
        let client = outbound::client(endpoint.timeout).map_err(ConfigError::HttpClient)?;
        Ok(Introspector {
            inner: Arc::new(Inner {
                in_flight: Arc::new(Semaphore::new(endpoint.max_in_flight)),
                endpoint,
                client,
                policy,
                rules,
                fallback: None,
                answers: Arc::default(),
            }),
        })
    }

    /// The local verifier: it refuses tokens that cannot be good before the
    /// service is asked, and verifies them when the service is unreachable.
    /// Refused unless the spec's fallback is `jwt`.
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

    /// Asks the service about `token` now (system clock); no local
    /// verification, no fallback.
    pub async fn introspect(&self, token: &str) -> Result<Claims, IntrospectionError> {
        self.introspect_at(token, unix_now()).await
    }

    /// Asks the service about `token`, checking the answer's times against
    /// `now` (unix seconds); no local verification, no fallback.
    pub async fn introspect_at(&self, token: &str, now: u64) -> Result<Claims, IntrospectionError> {
        if token.is_empty() || token.len() > MAX_TOKEN_BYTES {
            return Err(IntrospectionError::Rejected(JwtError::Malformed));
        }
        let answer = self.ask(token).await?;
        match answer.get("active") {
            Some(Value::Bool(true)) => {}
            Some(Value::Bool(false)) => return Err(IntrospectionError::Inactive),
            Some(_) => {
                return Err(IntrospectionError::BadAnswer(BadAnswer::Malformed(
                    "`active` is not a boolean",
                )));
            }
            None => {
                return Err(IntrospectionError::BadAnswer(BadAnswer::Malformed(
                    "no `active`",
                )));
            }
        }
        check_claims(&self.inner.rules, answer, now)
    }

    /// One request, when a permit is free within the time limit; the
    /// answer's JSON object.
    async fn ask(&self, token: &str) -> Result<Map<String, Value>, IntrospectionError> {
        let inner = &*self.inner;
        let _permit = match tokio::time::timeout(
            inner.endpoint.timeout,
            Arc::clone(&inner.in_flight).acquire_owned(),
        )
        .await
        {
            Ok(Ok(permit)) => permit,
            // Elapsed, or closed (never: the semaphore is not closed).
            Ok(Err(_)) | Err(_) => return Err(IntrospectionError::Busy),
        };
        let unreachable = IntrospectionError::Unreachable;
        let bad = IntrospectionError::BadAnswer;
        let mut request = inner
            .client
            .post(inner.endpoint.url.clone())
            .header(reqwest::header::ACCEPT, "application/json")
            .form(&[("token", token), ("token_type_hint", "access_token")]);
        if let Some((id, secret)) = &inner.endpoint.credentials {
            request = request.basic_auth(id, Some(secret));
        }
        let response = request
            .send()
            .await
            .map_err(|e| unreachable(request_error(e)))?;
        let status = response.status();
        if status != reqwest::StatusCode::OK {
            return Err(match status.as_u16() {
                code @ (502..=504) => unreachable(Unreachable::Gateway(code)),
                code => bad(BadAnswer::Status(code)),
            });
        }
        let body = outbound::read_body(response, MAX_RESPONSE_BYTES)
            .await
            .map_err(|e| match e {
                BodyError::TooLarge(_) => bad(BadAnswer::TooLarge),
                BodyError::Read(e) => unreachable(request_error(e)),
            })?;
        match serde_json::from_slice::<Value>(&body) {
            Ok(Value::Object(map)) => Ok(map),
            Ok(_) => Err(bad(BadAnswer::Malformed("not a JSON object"))),
            Err(_) => Err(bad(BadAnswer::Malformed("not JSON"))),
        }
    }

    /// The whole decision: the local verifier first (when there is one),
    /// then introspection, then the fallback the spec and the configuration
    /// allow, for an unreachable service only.
    async fn check(&self, token: &str) -> Result<Claims, AuthError> {
        // Tokens that cannot be good never reach the service.
        let local = match &self.inner.fallback {
            None => None,
            Some(verifier) => match verifier.verify(token).await {
                Ok(claims) => Some(Ok(claims)),
                Err(e) if e.is_server_error() => Some(Err(e)),
                Err(e) => return Err(AuthError::invalid(format!("local jwt: {e}"))),
            },
        };
        let key = cache::key(token);
        let answers = &self.inner.answers;
        let now = Instant::now();
        match answers.get(&key, now) {
            Some(Answer::Inactive) => {
                return Err(AuthError::invalid(
                    "introspection: token inactive (remembered)",
                ));
            }
            Some(Answer::Active(claims))
                if claims.exp.saturating_add(self.inner.rules.leeway_s) > unix_now() =>
            {
                return Ok(*claims);
            }
            Some(Answer::Active(_)) | None => {}
        }
        let unreachable = match self.introspect(token).await {
            Ok(claims) => {
                if let Some(until) = now.checked_add(self.inner.endpoint.cache_active_for) {
                    answers.put(key, Answer::Active(Box::new(claims.clone())), until, now);
                }
                return Ok(claims);
            }
            Err(IntrospectionError::Inactive) => {
                // Never coming back: remembered until the token expires,
                // as far as this server can tell.
                let rules = &self.inner.rules;
                let left = match &local {
                    Some(Ok(claims)) => claims
                        .exp
                        .saturating_add(rules.leeway_s)
                        .saturating_sub(unix_now()),
                    _ => rules.max_ttl_s,
                };
                // Past what a timer can hold (an absurd `max_ttl_s`): a
                // year is as good as forever here.
                let left = Duration::from_secs(left.min(rules.max_ttl_s)).min(ONE_YEAR);
                if let Some(until) = now.checked_add(left) {
                    answers.put(key, Answer::Inactive, until, now);
                }
                return Err(AuthError::invalid(format!(
                    "introspection: {}",
                    IntrospectionError::Inactive
                )));
            }
            Err(e) if e.is_unreachable() => e,
            Err(e @ IntrospectionError::BadAnswer(_)) => {
                tracing::error!(
                    target: "wsauth::audit",
                    event = "introspection_bad_answer",
                    reason = %e,
                    "the introspection service answered unusably; refusing tokens \
                     until it is fixed (check the client credentials and the service)"
                );
                return Err(AuthError::unavailable(format!("{e}; no fallback")));
            }
            Err(e @ IntrospectionError::Busy) => {
                tracing::warn!(
                    target: "wsauth::audit",
                    event = "introspection_busy",
                    max_in_flight = self.inner.endpoint.max_in_flight,
                    "too many introspection requests in flight; refusing the token"
                );
                return Err(AuthError::unavailable(format!("{e}; no fallback")));
            }
            Err(e) => return Err(AuthError::invalid(format!("introspection: {e}"))),
        };
        match (self.inner.policy, local) {
            (Fallback::None, _) => Err(AuthError::unavailable(format!(
                "{unreachable}; the spec allows no fallback"
            ))),
            (Fallback::Jwt, None) => Err(AuthError::unavailable(format!(
                "{unreachable}; no local verifier configured"
            ))),
            (Fallback::Jwt, Some(Err(e))) => Err(AuthError::unavailable(format!(
                "{unreachable}; local jwt: {e}"
            ))),
            (Fallback::Jwt, Some(Ok(claims))) => {
                tracing::warn!(
                    target: "wsauth::audit",
                    event = "introspection_fallback",
                    reason = %unreachable,
                    "introspection unreachable; the token was verified locally"
                );
                Ok(claims)
            }
        }
    }
}

impl Authenticator for Introspector {
    fn authenticate<'a>(&'a self, token: &'a str) -> BoxFuture<'a, Result<Claims, AuthError>> {
        Box::pin(self.check(token))
    }

    /// The local verifier's claims, when there is one and it accepts the
    /// token: the handshake refuses a token whose own claims lack the
    /// endpoint's permission (or name another user than the path) without
    /// asking the service.
    fn precheck<'a>(&'a self, token: &'a str) -> BoxFuture<'a, Option<Claims>> {
        Box::pin(async move {
            let verifier = self.inner.fallback.as_ref()?;
            verifier.verify(token).await.ok()
        })
    }
}

const ONE_YEAR: Duration = Duration::from_secs(365 * 24 * 3600);

fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// A transport error, without its URL (which holds no secret, but has no
/// place in a close-adjacent audit detail either).
fn request_error(error: reqwest::Error) -> Unreachable {
    if error.is_timeout() {
        Unreachable::Timeout
    } else {
        Unreachable::Request(error.without_url())
    }
}

/// Whether an answer's `token_type`, when it has one, names an access token.
fn is_access_token_type(answer: &Map<String, Value>) -> bool {
    match answer.get("token_type") {
        None => true,
        Some(Value::String(kind)) => ACCESS_TOKEN_TYPES
            .iter()
            .any(|accepted| kind.eq_ignore_ascii_case(accepted)),
        Some(_) => false,
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
            return Err(IntrospectionError::BadAnswer(BadAnswer::Malformed(
                "an active answer without `exp`",
            )));
        }
    };
    if !is_access_token_type(&answer) {
        return Err(IntrospectionError::NotAnAccessToken);
    }
    if now >= exp.saturating_add(rules.leeway_s) {
        return Err(rejected(JwtError::Expired));
    }
    if let Some(nbf) = numeric_date(&answer, "nbf", true).map_err(rejected)?
        && nbf > now.saturating_add(rules.leeway_s)
    {
        return Err(rejected(JwtError::NotYetValid));
    }
    let exp = exp.min(now.saturating_add(rules.max_ttl_s));
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
    use base64::Engine as _;
    use base64::engine::general_purpose::URL_SAFE_NO_PAD;
    use jsonwebtoken::{EncodingKey, Header, encode};
    use serde_json::json;
    use wsauth_spec::{Algorithm, ExpiryPolicy, TokenSource};

    use super::*;
    use crate::descriptor::{AuthDescriptor, JwtDescriptor, KeySlot};
    use crate::jwt::{JwksSource, KeySet};

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

    fn api_with(jwt: JwtDescriptor, introspection: Option<Fallback>) -> &'static ApiDescriptor {
        Box::leak(Box::new(ApiDescriptor {
            name: "test",
            auth: Some(AuthDescriptor {
                sources: &[TokenSource::Header],
                jwt: Some(jwt),
                introspection,
                on_expiry: ExpiryPolicy::Close,
                anonymous_role: None,
            }),
            roles: &[],
            close_codes: &[],
            stats: None,
            endpoints: &[],
            topics: &[],
        }))
    }

    fn api(introspection: Option<Fallback>) -> &'static ApiDescriptor {
        api_with(JWT, introspection)
    }

    fn now() -> u64 {
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_secs())
    }

    /// An HS256 token: locally valid for `sub`, then `patch` applied.
    fn token_with(sub: &str, patch: Value) -> String {
        let now = now();
        let mut claims = json!({
            "sub": sub, "role": "admin", "iat": now, "exp": now + 600,
            "iss": ISS, "aud": AUD,
        });
        if let (Some(claims), Value::Object(patch)) = (claims.as_object_mut(), patch) {
            claims.extend(patch);
        }
        encode(
            &Header::default(),
            &claims,
            &EncodingKey::from_secret(SECRET),
        )
        .unwrap_or_else(|e| panic!("{e}"))
    }

    /// A locally valid HS256 token for `sub`.
    fn token(sub: &str) -> String {
        token_with(sub, json!({}))
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
        /// `200` with this JSON, after a while.
        Slow(Duration, Value),
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
        /// Requests being answered now, and the most there ever were.
        current: AtomicUsize,
        peak: AtomicUsize,
    }

    struct Service {
        url: String,
        fake: Arc<Fake>,
    }

    impl Service {
        fn hits(&self) -> usize {
            self.fake.hits.load(Ordering::SeqCst)
        }
        fn peak(&self) -> usize {
            self.fake.peak.load(Ordering::SeqCst)
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
        let current = fake.current.fetch_add(1, Ordering::SeqCst) + 1;
        fake.peak.fetch_max(current, Ordering::SeqCst);
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
        let response = match reply {
            Reply::Json(status, body) => (status, axum::Json(body)).into_response(),
            Reply::Text(text) => text.into_response(),
            Reply::Slow(wait, body) => {
                tokio::time::sleep(wait).await;
                axum::Json(body).into_response()
            }
        };
        fake.current.fetch_sub(1, Ordering::SeqCst);
        response
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
            current: AtomicUsize::new(0),
            peak: AtomicUsize::new(0),
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

    /// The service at `url`, asked every time (tests change its answers
    /// from one check to the next); remembering is tested on its own.
    fn endpoint(url: &str) -> IntrospectionEndpoint {
        IntrospectionEndpoint::new(url)
            .unwrap_or_else(|e| panic!("{e}"))
            .timeout(Duration::from_millis(500))
            .cache_active_for(Duration::ZERO)
    }

    fn introspector(api: &'static ApiDescriptor, url: &str) -> Introspector {
        Introspector::new(api, endpoint(url)).unwrap_or_else(|e| panic!("{e}"))
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
        for shown in [format!("{introspector:?}"), format!("{introspector:#?}")] {
            assert!(
                shown.contains("mcp-status"),
                "the client id is shown: {shown}"
            );
            assert!(!shown.contains("s3cret"), "{shown}");
            assert!(!shown.contains("bWNwLXN0YXR1czpzM2NyZXQ"), "{shown}");
        }
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

    #[tokio::test]
    async fn only_access_tokens_are_admitted() {
        let api = api(Some(Fallback::None));
        let service = service(Reply::Text("")).await;
        let introspector = introspector(api, &service.url);
        let with_type = |kind: Option<Value>| {
            let mut answer = active("alice");
            if let (Some(answer), Some(kind)) = (answer.as_object_mut(), kind) {
                answer.insert("token_type".into(), kind);
            }
            Reply::Json(StatusCode::OK, answer)
        };
        for kind in [
            None,
            Some(json!("Bearer")),
            Some(json!("bearer")),
            Some(json!("ACCESS_TOKEN")),
            Some(json!("access")),
            Some(json!("urn:ietf:params:oauth:token-type:access_token")),
        ] {
            service.set(with_type(kind.clone()));
            let claims = introspector.authenticate("opaque").await;
            let claims = claims.unwrap_or_else(|e| panic!("{kind:?}: {e}"));
            assert_eq!(claims.subject, "alice");
        }
        for kind in [
            json!("Refresh"),
            json!("refresh_token"),
            json!("urn:ietf:params:oauth:token-type:refresh_token"),
            json!("id_token"),
            json!("bearer "),
            json!(""),
            json!(7),
            json!(["bearer"]),
        ] {
            service.set(with_type(Some(kind.clone())));
            let e = introspector.authenticate("opaque").await.err();
            let e = e.unwrap_or_else(|| panic!("{kind}: admitted"));
            assert!(!e.is_server_error(), "{kind}");
            assert_eq!(e.to_string(), "introspection: not an access token");
            assert!(matches!(
                introspector.introspect("opaque").await,
                Err(IntrospectionError::NotAnAccessToken)
            ));
        }
    }

    /// The service is unreachable: nothing listens, it is too slow, or a
    /// gateway says it is down.
    async fn unreachable_cases() -> Vec<(&'static str, String, Option<Service>)> {
        let mut cases = vec![("unreachable", unreachable_url().await, None)];
        for (name, reply) in [
            ("502", Reply::Json(StatusCode::BAD_GATEWAY, json!({}))),
            (
                "503",
                Reply::Json(StatusCode::SERVICE_UNAVAILABLE, json!({})),
            ),
            ("504", Reply::Json(StatusCode::GATEWAY_TIMEOUT, json!({}))),
            (
                "slow",
                Reply::Slow(Duration::from_secs(3), json!({"active": false})),
            ),
        ] {
            let s = service(reply).await;
            cases.push((name, s.url.clone(), Some(s)));
        }
        cases
    }

    /// The service answered, and the answer cannot be used.
    async fn bad_answer_cases() -> Vec<(&'static str, Service)> {
        let no_exp = {
            let mut answer = active("alice");
            answer.as_object_mut().map(|a| a.remove("exp"));
            answer
        };
        let big = json!({"active": true, "padding": "x".repeat(MAX_RESPONSE_BYTES)});
        let mut cases = Vec::new();
        for (name, reply) in [
            ("400", Reply::Json(StatusCode::BAD_REQUEST, json!({}))),
            ("401", Reply::Json(StatusCode::UNAUTHORIZED, json!({}))),
            ("403", Reply::Json(StatusCode::FORBIDDEN, json!({}))),
            ("429", Reply::Json(StatusCode::TOO_MANY_REQUESTS, json!({}))),
            (
                "500",
                Reply::Json(StatusCode::INTERNAL_SERVER_ERROR, json!({})),
            ),
            ("not json", Reply::Text("<html>oops</html>")),
            ("not an object", Reply::Json(StatusCode::OK, json!([true]))),
            (
                "no active",
                Reply::Json(StatusCode::OK, json!({"sub": "alice"})),
            ),
            (
                "active not bool",
                Reply::Json(StatusCode::OK, json!({"active": "yes"})),
            ),
            ("no exp", Reply::Json(StatusCode::OK, no_exp)),
            ("too large", Reply::Json(StatusCode::OK, big)),
        ] {
            cases.push((name, service(reply).await));
        }
        cases
    }

    #[tokio::test]
    async fn an_unreachable_service_falls_back_to_the_local_verifier_when_the_spec_says_jwt() {
        let api = api(Some(Fallback::Jwt));
        let good = token("alice");
        let forged = {
            let mut t = token("alice");
            t.push('x');
            t
        };
        for (name, url, _service) in unreachable_cases().await {
            let introspector = with_fallback(api, &url);
            assert!(
                introspector
                    .introspect(&good)
                    .await
                    .err()
                    .is_some_and(|e| e.is_unreachable() && e.is_server_error()),
                "{name}"
            );
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
    async fn an_unreachable_service_fails_closed_when_the_spec_allows_no_fallback() {
        let api = api(Some(Fallback::None));
        let good = token("alice");
        for (name, url, _service) in unreachable_cases().await {
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

    /// An answer wsauth cannot use is the operator's problem: refused with
    /// `server_error`, never verified locally, whatever the spec allows.
    #[tokio::test]
    async fn unusable_answers_fail_closed_and_never_fall_back() {
        let good = token("alice");
        for (name, service) in bad_answer_cases().await {
            for introspector in [
                with_fallback(api(Some(Fallback::Jwt)), &service.url),
                introspector(api(Some(Fallback::None)), &service.url),
            ] {
                let e = introspector.introspect(&good).await.err();
                let e = e.unwrap_or_else(|| panic!("{name}: admitted"));
                assert!(
                    matches!(e, IntrospectionError::BadAnswer(_)),
                    "{name}: {e:?}"
                );
                assert!(e.is_server_error() && !e.is_unreachable(), "{name}");

                let e = introspector.authenticate(&good).await.err();
                let e = e.unwrap_or_else(|| panic!("{name}: fell back, admitted"));
                assert!(e.is_server_error(), "{name}: {e}");
                let text = e.to_string();
                assert!(
                    text.starts_with("introspection answer unusable: "),
                    "{text}"
                );
                assert!(text.ends_with("; no fallback"), "{text}");
                assert!(!text.contains(&good), "{name}: the token leaked");
            }
            assert_eq!(service.hits(), 4, "{name}");
        }
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

    /// With a local verifier, tokens that cannot be good are refused
    /// without asking the service.
    #[tokio::test]
    async fn tokens_the_local_verifier_refuses_never_reach_the_service() {
        let api = api(Some(Fallback::Jwt));
        let service = service(Reply::Json(StatusCode::OK, active("alice"))).await;
        let introspector = with_fallback(api, &service.url);
        let forged = {
            let mut t = token("alice");
            t.push('x');
            t
        };
        for (name, token, why) in [
            ("forged", forged, "bad signature"),
            (
                "expired",
                token_with("alice", json!({"exp": now() - 60})),
                "token expired",
            ),
            (
                "foreign",
                token_with("alice", json!({"aud": "another-api"})),
                "wrong audience",
            ),
            ("opaque", "opaque-token".to_owned(), "malformed token"),
        ] {
            let e = introspector.authenticate(&token).await.err();
            let e = e.unwrap_or_else(|| panic!("{name}: admitted"));
            assert!(!e.is_server_error(), "{name}");
            assert_eq!(e.to_string(), format!("local jwt: {why}"), "{name}");
        }
        assert_eq!(service.hits(), 0, "the service was asked");
        // A token that could be good is still asked about (revocation).
        let claims = introspector.authenticate(&token("alice")).await;
        assert_eq!(claims.map(|c| c.subject).ok().as_deref(), Some("alice"));
        assert_eq!(service.hits(), 1);
    }

    /// When the local check cannot be made (JWKS unavailable), the service
    /// decides, as without a verifier.
    #[tokio::test]
    async fn a_local_server_error_still_asks_the_service() {
        const PARTNER: &[KeySlot] = &[KeySlot {
            name: "partner",
            algorithms: &[Algorithm::RS256],
        }];
        let api = api_with(
            JwtDescriptor {
                keys: PARTNER,
                ..JWT
            },
            Some(Fallback::Jwt),
        );
        let jwks = JwksSource::new(
            &unreachable_url().await,
            Duration::from_secs(60),
            Duration::from_secs(1),
        )
        .unwrap_or_else(|e| panic!("{e}"));
        let verifier = Verifier::for_api(
            api,
            KeySet::new()
                .jwks("partner", jwks)
                .unwrap_or_else(|e| panic!("{e}")),
        )
        .unwrap_or_else(|e| panic!("{e}"));
        let segment = |v: Value| URL_SAFE_NO_PAD.encode(v.to_string());
        let token = format!(
            "{}.{}.c2ln",
            segment(json!({"alg": "RS256", "kid": "k1"})),
            segment(json!({"sub": "alice"}))
        );
        assert!(
            verifier
                .verify(&token)
                .await
                .err()
                .is_some_and(|e| e.is_server_error())
        );

        let service = service(Reply::Json(StatusCode::OK, active("alice"))).await;
        let asking = introspector(api, &service.url)
            .with_fallback(verifier.clone())
            .unwrap_or_else(|e| panic!("{e}"));
        let claims = asking.authenticate(&token).await;
        assert_eq!(claims.map(|c| c.subject).ok().as_deref(), Some("alice"));
        assert_eq!(service.hits(), 1);
        service.set(Reply::Json(StatusCode::OK, json!({"active": false})));
        let e = asking.authenticate(&token).await.err();
        assert!(e.is_some_and(|e| !e.is_server_error()));

        // Neither check can be made: server error.
        let unreachable = introspector(api, &unreachable_url().await)
            .with_fallback(verifier)
            .unwrap_or_else(|e| panic!("{e}"));
        let e = unreachable.authenticate(&token).await.err();
        let e = e.unwrap_or_else(|| panic!("admitted"));
        assert!(e.is_server_error());
        assert!(e.to_string().contains("local jwt: "), "{e}");
    }

    #[tokio::test]
    async fn requests_in_flight_are_bounded() {
        let api = api(Some(Fallback::None));
        let service = service(Reply::Slow(Duration::from_millis(150), active("alice"))).await;
        let endpoint = IntrospectionEndpoint::new(&service.url)
            .unwrap_or_else(|e| panic!("{e}"))
            .timeout(Duration::from_secs(10))
            .max_in_flight(2);
        let introspector = Introspector::new(api, endpoint).unwrap_or_else(|e| panic!("{e}"));
        let checks = (0..8).map(|_| introspector.authenticate("opaque"));
        for result in futures_util::future::join_all(checks).await {
            assert!(result.is_ok(), "{result:?}");
        }
        assert_eq!(service.hits(), 8);
        assert_eq!(service.peak(), 2, "more than max_in_flight at once");
    }

    /// A check that gets no turn within the time limit fails closed, even
    /// with a fallback and a locally valid token: a flood must not switch
    /// revocation off.
    #[tokio::test]
    async fn a_check_without_a_turn_fails_closed_without_fallback() {
        let api = api(Some(Fallback::Jwt));
        let service = service(Reply::Json(StatusCode::OK, json!({"active": false}))).await;
        let endpoint = endpoint(&service.url)
            .timeout(Duration::from_millis(200))
            .max_in_flight(1);
        let introspector = Introspector::new(api, endpoint)
            .and_then(|i| i.with_fallback(verifier(api)))
            .unwrap_or_else(|e| panic!("{e}"));
        let token = token("alice");
        // The one request allowed is under way.
        let held = Arc::clone(&introspector.inner.in_flight)
            .acquire_owned()
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        let e = introspector.authenticate(&token).await.err();
        let e = e.unwrap_or_else(|| panic!("admitted without asking"));
        assert!(e.is_server_error(), "{e}");
        assert_eq!(
            e.to_string(),
            "too many introspection requests in flight; no fallback"
        );
        assert!(matches!(
            introspector.introspect(&token).await,
            Err(IntrospectionError::Busy)
        ));
        assert_eq!(service.hits(), 0);
        drop(held);
        // Its turn comes: the service's "inactive" applies.
        let e = introspector.authenticate(&token).await.err();
        assert!(e.is_some_and(|e| !e.is_server_error()));
        assert_eq!(service.hits(), 1);
    }

    #[tokio::test]
    async fn oversized_tokens_are_not_sent() {
        // Oversized answers are among `bad_answer_cases`.
        let api = api(Some(Fallback::None));
        let service = service(Reply::Json(StatusCode::OK, active("alice"))).await;
        let introspector = introspector(api, &service.url);
        let huge = "a".repeat(MAX_TOKEN_BYTES + 1);
        assert!(matches!(
            introspector.introspect(&huge).await,
            Err(IntrospectionError::Rejected(JwtError::Malformed))
        ));
        assert_eq!(service.hits(), 0, "an oversized token is not sent");
    }

    #[test]
    fn configuration_is_checked() {
        // Which URLs may be asked is tested in `outbound`; here, that it
        // applies, and the credentials rule that is introspection's own.
        for (url, why) in [
            ("http://auth.example/introspect", "plain http"),
            ("https://id:pw@auth.example/introspect", "credentials"),
        ] {
            match IntrospectionEndpoint::new(url) {
                Err(ConfigError::BadUrl(reason)) => assert!(reason.contains(why), "{url}"),
                other => panic!("{url}: {other:?}"),
            }
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
        let api = api(Some(Fallback::None));
        for n in [0, Semaphore::MAX_PERMITS + 1] {
            assert!(matches!(
                Introspector::new(api, endpoint().max_in_flight(n)),
                Err(ConfigError::MaxInFlight(m)) if m == n
            ));
        }
        assert!(Introspector::new(api, endpoint().max_in_flight(1)).is_ok());
    }

    /// The fallback is an audit event, an unusable answer an error line,
    /// and no log line carries the token or the client credentials.
    #[tokio::test(flavor = "current_thread")]
    async fn the_fallback_and_bad_answers_are_logged_without_secrets() {
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
        // Our credentials refused: an error line for the operator.
        service.set(Reply::Json(StatusCode::UNAUTHORIZED, json!({})));
        let with_credentials = Introspector::new(
            api,
            endpoint(&service.url).client_credentials("mcp-status", "cred-s3cret"),
        )
        .and_then(|i| i.with_fallback(verifier(api)))
        .unwrap_or_else(|e| panic!("{e}"));
        assert!(with_credentials.authenticate(&token).await.is_err());

        let log = String::from_utf8(buffer.0.lock().unwrap_or_else(|e| panic!("{e}")).clone())
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(log.matches("introspection_fallback").count(), 1, "{log}");
        let bad: Vec<&str> = log
            .lines()
            .filter(|l| l.contains("introspection_bad_answer"))
            .collect();
        assert_eq!(bad.len(), 1, "{log}");
        assert!(bad[0].contains("ERROR"), "{log}");
        assert!(bad[0].contains("wsauth::audit"), "{log}");
        assert!(bad[0].contains("http status 401"), "{log}");
        assert!(!log.contains(&token), "the token reached the log");
        let signature = token.rsplit('.').next().unwrap_or_default();
        assert!(!log.contains(signature), "the signature reached the log");
        assert!(
            !log.contains("cred-s3cret"),
            "the client secret reached the log"
        );
        // base64("mcp-status:cred-s3cret")
        assert!(!log.contains("bWNwLXN0YXR1czpjcmVkLXMzY3JldA"), "{log}");
    }

    #[tokio::test]
    async fn an_inactive_token_stays_refused_while_the_service_is_unreachable() {
        let service = service(Reply::Json(StatusCode::OK, json!({"active": false}))).await;
        let api = api(Some(Fallback::Jwt));
        let revoked = token("alice");
        let introspector = with_fallback(api, &service.url);
        assert!(introspector.authenticate(&revoked).await.is_err());
        // The service goes away: the fallback would verify the token
        // locally (it is well signed), but the service's word stands.
        service.set(Reply::Json(StatusCode::SERVICE_UNAVAILABLE, json!({})));
        let e = introspector.authenticate(&revoked).await.err();
        let e = e.unwrap_or_else(|| panic!("a revoked token was let in by the fallback"));
        assert!(!e.is_server_error(), "{e}");
        assert_eq!(service.hits(), 1, "the remembered answer was used");
        // Another token the service never judged falls back as before.
        let other = token("bob");
        assert!(introspector.authenticate(&other).await.is_ok());
    }

    #[tokio::test]
    async fn active_answers_are_remembered_briefly_and_not_at_all_with_zero() {
        let service = service(Reply::Json(StatusCode::OK, active("dana"))).await;
        let api = api(Some(Fallback::Jwt));
        let remembering = Introspector::new(
            api,
            endpoint(&service.url).cache_active_for(DEFAULT_CACHE_ACTIVE_FOR),
        )
        .unwrap_or_else(|e| panic!("{e}"));
        for _ in 0..3 {
            let claims = remembering.authenticate("opaque").await;
            assert_eq!(claims.map(|c| c.subject).ok().as_deref(), Some("dana"));
        }
        assert_eq!(service.hits(), 1);
        let asking =
            Introspector::new(api, endpoint(&service.url).cache_active_for(Duration::ZERO))
                .unwrap_or_else(|e| panic!("{e}"));
        for _ in 0..3 {
            assert!(asking.authenticate("opaque").await.is_ok());
        }
        assert_eq!(service.hits(), 4, "zero asks every time");
        // Remembered for the given time only.
        let brief = Introspector::new(
            api,
            endpoint(&service.url).cache_active_for(Duration::from_millis(200)),
        )
        .unwrap_or_else(|e| panic!("{e}"));
        assert!(brief.authenticate("opaque").await.is_ok());
        tokio::time::sleep(Duration::from_millis(300)).await;
        assert!(brief.authenticate("opaque").await.is_ok());
        assert_eq!(service.hits(), 6);
    }

    #[tokio::test]
    async fn an_answers_exp_is_held_to_max_ttl() {
        let mut answer = active("dana");
        answer["exp"] = json!(now() + 10 * 365 * 24 * 3600);
        let service = service(Reply::Json(StatusCode::OK, answer)).await;
        let api = api(Some(Fallback::Jwt));
        let claims = introspector(api, &service.url)
            .introspect("opaque")
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        let max_ttl = JWT.max_ttl_s.unwrap_or_default();
        assert!(claims.exp <= now() + max_ttl, "exp {} not held", claims.exp);
        assert!(claims.exp + 5 >= now() + max_ttl);
    }
}
