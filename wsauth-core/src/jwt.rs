//! JWT verification against a [`JwtDescriptor`], with keys supplied at run
//! time.
//!
//! # Motivation
//!
//! The spec says what a token must satisfy (key slots and their algorithms,
//! issuer, audiences, lifetime, where the subject and roles live); the
//! operator supplies the keys when the server starts. This module joins the
//! two and verifies tokens with defaults stricter than `jsonwebtoken`'s,
//! because most JWT vulnerabilities come from trusting the token to say how
//! it should be checked:
//!
//! - The key is chosen by `kid` alone, as an exact look-up key (a slot name,
//!   or a key id inside a JWKS slot), never by `alg`. The header's `alg`
//!   must then be in that slot's allow-list (`none` never is), so an RSA
//!   public key can never be used as an HMAC secret.
//! - `jku`, `x5u`, `jwk` and `x5c` headers are ignored: keys come only from
//!   the configuration. A `crit` header is rejected, since no extension is
//!   understood.
//! - `exp` is required; `nbf` and `iat` are checked when present, with
//!   exactly the descriptor's leeway; issuer, audience, subject and roles
//!   claims have to be present and of the right JSON type (nothing is
//!   coerced).
//! - Misconfiguration fails at start-up ([`Verifier::new`]): a short HMAC
//!   secret, a key whose family does not match the slot's algorithms, a slot
//!   without a key, a private key where a public one belongs.
//!
//! # Shape
//!
//! [`KeySet`] collects keys by slot name; [`Verifier::new`] checks it
//! against the descriptor once ([`Verifier::for_api`] takes the descriptor
//! from a spec's `auth.jwt`); [`Verifier::verify`] checks one token and
//! returns [`Claims`], or a [`JwtError`] naming the reason (for audit logs;
//! messages never contain the token or key material). Verification is
//! `async` because a [`JwksSource`] slot may have to fetch its key set: it is
//! cached, refreshed after a maximum age, and re-fetched at most once per
//! cool-down when a token names an unknown `kid` (key rotation). A failed
//! fetch keeps the last good set; with no good set ever, tokens for the
//! slot fail closed with [`JwtError::KeysUnavailable`], a server error.
//!
//! Signatures are checked by `jsonwebtoken` (RustCrypto backend); the
//! time-based claims are checked here, against an explicit `now`, because
//! `jsonwebtoken` reads the system clock.
//!
//! The one way around a default is in [`dangerous`], named so that it shows
//! in review: [`dangerous::accept_non_expiring`] lets a development server
//! accept a single token without `exp`.

use std::collections::{HashMap, HashSet};
use std::fmt;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::crypto::rust_crypto::DEFAULT_PROVIDER;
use jsonwebtoken::jwk::{
    AlgorithmParameters, EllipticCurve, Jwk, KeyAlgorithm, KeyOperations, PublicKeyUse,
};
use jsonwebtoken::{DecodingKey, Validation};
use serde::de::{self, Deserializer, MapAccess, Visitor};
use serde::{Deserialize, de::IgnoredAny};
use serde_json::{Map, Value};
use wsauth_spec::{Algorithm, ClaimShape, KeyFamily, Keyword};

use crate::descriptor::{ApiDescriptor, JwtDescriptor};
use crate::outbound::{self, BodyError};

/// Shortest HMAC secret accepted, in bytes (256 bits).
pub const MIN_HMAC_SECRET_BYTES: usize = 32;
/// Smallest RSA modulus accepted, in bits.
pub const MIN_RSA_BITS: usize = 2048;
/// Longest token looked at, in bytes; longer ones are malformed.
pub const MAX_TOKEN_BYTES: usize = 64 * 1024;
/// Largest JWKS document accepted, in bytes.
pub const MAX_JWKS_BYTES: usize = 1024 * 1024;
/// Default time limit for one JWKS fetch.
pub const DEFAULT_JWKS_TIMEOUT: Duration = Duration::from_secs(5);
/// Shortest JWKS cool-down accepted: below it, tokens with made-up `kid`s
/// (which need no valid signature to name one) would cause a fetch each.
pub const MIN_JWKS_COOLDOWN: Duration = Duration::from_secs(1);
/// How many `max_age`s a JWKS may go without a good fetch before its keys
/// stop verifying, unless [`JwksSource::max_stale`] says otherwise.
pub const DEFAULT_JWKS_STALE_AGES: u32 = 10;

/// What a verified token says.
#[derive(Clone, Debug, PartialEq)]
pub struct Claims {
    /// The subject (the descriptor's `subject_claim`), never empty.
    pub subject: String,
    /// The roles (the descriptor's `roles_claim`); empty when absent.
    pub roles: Vec<String>,
    /// Expiry, unix seconds (fractions rounded down).
    pub exp: u64,
    /// Issue time, unix seconds, when present.
    pub iat: Option<u64>,
    /// Every claim of the token, as sent.
    pub claims: Map<String, Value>,
}

/// Why a token was rejected.
///
/// Messages are lower-case and fit audit logs: they never contain the token,
/// a signature, a secret or key material, nor any text taken from the token.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum JwtError {
    /// Not three base64url segments, a header or payload that is not a JSON
    /// object (or has duplicate keys), a header without a string `alg`, or a
    /// token longer than [`MAX_TOKEN_BYTES`].
    #[error("malformed token")]
    Malformed,
    /// No `kid`, and the key cannot be chosen without one (several slots,
    /// or a JWKS slot).
    #[error("token has no key id and one is required")]
    KidRequired,
    /// The `kid` names no slot and no usable key of a JWKS slot.
    #[error("unknown key id")]
    UnknownKey,
    /// The header's `alg` is not allowed for the selected key; `None` for
    /// `none` and names wsauth does not know.
    #[error("algorithm {} is not allowed", alg.map_or("none or unsupported", Keyword::word))]
    AlgorithmNotAllowed {
        /// The algorithm the token named, when it is one wsauth knows.
        alg: Option<Algorithm>,
    },
    /// The signature does not verify with the selected key.
    #[error("bad signature")]
    BadSignature,
    /// `exp` has passed: rejected once `now >= exp + leeway`.
    #[error("token expired")]
    Expired,
    /// `nbf` is still ahead: rejected while `nbf > now + leeway`.
    #[error("token not yet valid")]
    NotYetValid,
    /// `iat` is ahead: rejected when `iat > now + leeway`.
    #[error("token issued in the future")]
    IssuedInFuture,
    /// `exp - iat` exceeds the descriptor's `max_ttl_s`.
    #[error("token lifetime exceeds the maximum")]
    LifetimeTooLong,
    /// `iss` differs from the descriptor's issuer.
    #[error("wrong issuer")]
    WrongIssuer,
    /// No `aud` value is one of the descriptor's audiences.
    #[error("wrong audience")]
    WrongAudience,
    /// A required claim is absent.
    #[error("missing claim `{claim}`")]
    MissingClaim {
        /// The claim's name.
        claim: &'static str,
    },
    /// A claim has the wrong JSON type (e.g. a numeric subject, a negative
    /// `exp`, a role that is not a string).
    #[error("claim `{claim}` has the wrong type")]
    ClaimType {
        /// The claim's name.
        claim: &'static str,
    },
    /// The subject claim is an empty string.
    #[error("empty subject")]
    EmptySubject,
    /// The header has `crit`; no extension is understood.
    #[error("critical header extensions are not supported")]
    UnsupportedCrit,
    /// The slot's JWKS has never been fetched successfully: the key may
    /// exist but cannot be known. A server error, not the client's fault.
    #[error("keys for slot `{slot}` unavailable: key set never fetched")]
    KeysUnavailable {
        /// The JWKS slot.
        slot: &'static str,
    },
}

impl JwtError {
    /// Whether the failure is the server's (keys unavailable) rather than
    /// the token's; callers close with a server error instead of
    /// `auth_failed`.
    pub fn is_server_error(&self) -> bool {
        matches!(self, JwtError::KeysUnavailable { .. })
    }
}

/// Why keys or a verifier could not be set up. The server must refuse to
/// start. Messages never contain key material.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// An HMAC secret shorter than [`MIN_HMAC_SECRET_BYTES`].
    #[error(
        "key slot `{slot}`: hmac secret is {len} bytes, at least {MIN_HMAC_SECRET_BYTES} are required"
    )]
    ShortSecret {
        /// The slot.
        slot: String,
        /// The secret's length.
        len: usize,
    },
    /// An RSA key with a modulus under [`MIN_RSA_BITS`].
    #[error("key slot `{slot}`: rsa key has {bits} bits, at least {MIN_RSA_BITS} are required")]
    WeakRsaKey {
        /// The slot.
        slot: String,
        /// The modulus size.
        bits: usize,
    },
    /// A private key where a public key belongs.
    #[error("key slot `{slot}`: expected a public key, got a private key")]
    PrivateKey {
        /// The slot.
        slot: String,
    },
    /// A PEM that is not a public key of the expected kind.
    #[error("key slot `{slot}`: {reason}")]
    BadKey {
        /// The slot.
        slot: String,
        /// What is wrong.
        reason: &'static str,
    },
    /// Two keys for one slot, or a slot listed twice in the descriptor.
    #[error("key slot `{slot}` is given twice")]
    DuplicateSlot {
        /// The slot.
        slot: String,
    },
    /// A slot allows an algorithm of another family than its key's.
    #[error(
        "key slot `{slot}`: {} needs a {} key, the slot has a {} key",
        algorithm.word(),
        family_word(algorithm.family()),
        family_word(*key)
    )]
    FamilyMismatch {
        /// The slot.
        slot: String,
        /// The family of the configured key.
        key: KeyFamily,
        /// The algorithm the descriptor allows.
        algorithm: Algorithm,
    },
    /// An EC key on a curve that cannot verify an allowed algorithm (a P-256
    /// key with ES384, say).
    #[error("key slot `{slot}`: the key's curve cannot verify {}", algorithm.word())]
    CurveMismatch {
        /// The slot.
        slot: String,
        /// The algorithm the descriptor allows.
        algorithm: Algorithm,
    },
    /// The descriptor has a slot the key set has no key for.
    #[error("key slot `{slot}` has no key")]
    MissingKey {
        /// The slot.
        slot: &'static str,
    },
    /// The key set has a key for a slot the descriptor does not have.
    #[error("key slot `{slot}` is not in the spec")]
    UnknownSlot {
        /// The slot.
        slot: String,
    },
    /// The descriptor has no key slots.
    #[error("the jwt settings have no key slots")]
    NoSlots,
    /// [`Verifier::for_api`] was given a spec without `auth.jwt`.
    #[error("the spec declares no jwt settings")]
    NoJwtSettings,
    /// A slot allows no algorithm, or algorithms of several families.
    #[error("key slot `{slot}`: {reason}")]
    BadSlot {
        /// The slot.
        slot: &'static str,
        /// What is wrong.
        reason: &'static str,
    },
    /// The subject or roles claim name is empty.
    #[error("the {0} claim name is empty")]
    EmptyClaimName(&'static str),
    /// A leeway over [`MAX_LEEWAY_S`](wsauth_spec::MAX_LEEWAY_S) seconds.
    #[error("leeway of {0} s is over {max} s", max = wsauth_spec::MAX_LEEWAY_S)]
    LeewayTooLarge(u64),
    /// A JWKS slot whose algorithms are HMAC: shared secrets are never
    /// fetched.
    #[error("key slot `{slot}`: a jwks source cannot serve hmac secrets")]
    JwksSymmetric {
        /// The slot.
        slot: &'static str,
    },
    /// A JWKS URL that does not parse, or plain `http` to a host other than
    /// a loopback address.
    #[error("jwks url: {0}")]
    BadJwksUrl(&'static str),
    /// JWKS times that would defeat the cache: a cool-down under
    /// [`MIN_JWKS_COOLDOWN`], a `max_age` under the cool-down, or a
    /// `max_stale` under `max_age`.
    #[error("jwks timing: {0}")]
    BadJwksTiming(&'static str),
    /// The HTTP client for a JWKS source could not be built.
    #[error("key slot `{slot}`: cannot build the http client")]
    HttpClient {
        /// The slot.
        slot: &'static str,
        /// The cause.
        #[source]
        source: reqwest::Error,
    },
}

fn family_word(family: KeyFamily) -> &'static str {
    match family {
        KeyFamily::Hmac => "hmac",
        KeyFamily::Rsa => "rsa",
        KeyFamily::Ec => "ec",
        KeyFamily::Okp => "ed25519",
    }
}

/// A verification key and the algorithms it can verify.
struct KeyEntry {
    key: DecodingKey,
    family: KeyFamily,
    algorithms: Vec<Algorithm>,
}

enum KeySource {
    Static(KeyEntry),
    Jwks(JwksSource),
}

/// Keys by slot name, configured at run time.
///
/// ```no_run
/// # use std::time::Duration;
/// # use wsauth_core::jwt::{JwksSource, KeySet};
/// # fn f(secret: &[u8], pem: &[u8]) -> Result<(), wsauth_core::jwt::ConfigError> {
/// let keys = KeySet::new()
///     .hmac("default", secret)?
///     .rsa_pem("main", pem)?
///     .jwks(
///         "partner",
///         JwksSource::new(
///             "https://idp.example/jwks.json",
///             Duration::from_secs(3600),
///             Duration::from_secs(30),
///         )?,
///     )?;
/// # Ok(()) }
/// ```
#[derive(Default)]
pub struct KeySet {
    slots: Vec<(String, KeySource)>,
}

impl fmt::Debug for KeySet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut list = f.debug_map();
        for (name, source) in &self.slots {
            let kind = match source {
                KeySource::Static(k) => family_word(k.family),
                KeySource::Jwks(_) => "jwks",
            };
            list.entry(name, &kind);
        }
        list.finish()
    }
}

impl KeySet {
    /// No keys yet.
    pub fn new() -> Self {
        Self::default()
    }

    /// An HMAC secret (HS256/384/512) of at least [`MIN_HMAC_SECRET_BYTES`].
    pub fn hmac(self, slot: &str, secret: &[u8]) -> Result<Self, ConfigError> {
        if secret.len() < MIN_HMAC_SECRET_BYTES {
            return Err(ConfigError::ShortSecret {
                slot: slot.to_owned(),
                len: secret.len(),
            });
        }
        let entry = KeyEntry {
            key: DecodingKey::from_secret(secret),
            family: KeyFamily::Hmac,
            algorithms: vec![Algorithm::HS256, Algorithm::HS384, Algorithm::HS512],
        };
        self.insert(slot, KeySource::Static(entry))
    }

    /// An RSA public key (RS*, PS*), PEM `PUBLIC KEY` or `RSA PUBLIC KEY`,
    /// of at least [`MIN_RSA_BITS`].
    pub fn rsa_pem(self, slot: &str, pem: &[u8]) -> Result<Self, ConfigError> {
        public_pem_label(slot, pem, &["PUBLIC KEY", "RSA PUBLIC KEY"])?;
        let key =
            DecodingKey::from_rsa_pem(pem).map_err(|_| bad_key(slot, "not an rsa public key"))?;
        let der = key
            .try_get_as_bytes()
            .map_err(|_| bad_key(slot, "not an rsa public key"))?;
        let (n, _e) = (DEFAULT_PROVIDER
            .key_utils
            .rsa_pub_components_from_public_key)(der)
        .map_err(|_| bad_key(slot, "not an rsa public key"))?;
        check_rsa_bits(slot, &n)?;
        let entry = KeyEntry {
            key,
            family: KeyFamily::Rsa,
            algorithms: RSA_ALGORITHMS.to_vec(),
        };
        self.insert(slot, KeySource::Static(entry))
    }

    /// An EC public key, PEM `PUBLIC KEY`: P-256 (ES256) or P-384 (ES384).
    pub fn ec_pem(self, slot: &str, pem: &[u8]) -> Result<Self, ConfigError> {
        public_pem_label(slot, pem, &["PUBLIC KEY"])?;
        let key =
            DecodingKey::from_ec_pem(pem).map_err(|_| bad_key(slot, "not an ec public key"))?;
        let point = key
            .try_get_as_bytes()
            .map_err(|_| bad_key(slot, "not an ec public key"))?;
        let alg = match point.len() {
            65 => Algorithm::ES256,
            97 => Algorithm::ES384,
            _ => return Err(bad_key(slot, "not a p-256 or p-384 public key")),
        };
        if !key_verifies(&key, alg) {
            return Err(bad_key(slot, "not a valid ec public key"));
        }
        let entry = KeyEntry {
            key,
            family: KeyFamily::Ec,
            algorithms: vec![alg],
        };
        self.insert(slot, KeySource::Static(entry))
    }

    /// An Ed25519 public key (EdDSA), PEM `PUBLIC KEY`.
    pub fn ed_pem(self, slot: &str, pem: &[u8]) -> Result<Self, ConfigError> {
        public_pem_label(slot, pem, &["PUBLIC KEY"])?;
        let key = DecodingKey::from_ed_pem(pem)
            .map_err(|_| bad_key(slot, "not an ed25519 public key"))?;
        if !key_verifies(&key, Algorithm::EdDSA) {
            return Err(bad_key(slot, "not a valid ed25519 public key"));
        }
        let entry = KeyEntry {
            key,
            family: KeyFamily::Okp,
            algorithms: vec![Algorithm::EdDSA],
        };
        self.insert(slot, KeySource::Static(entry))
    }

    /// Keys fetched from a JWKS URL, selected by the token's `kid`.
    pub fn jwks(self, slot: &str, source: JwksSource) -> Result<Self, ConfigError> {
        self.insert(slot, KeySource::Jwks(source))
    }

    fn insert(mut self, slot: &str, source: KeySource) -> Result<Self, ConfigError> {
        if self.slots.iter().any(|(name, _)| name == slot) {
            return Err(ConfigError::DuplicateSlot {
                slot: slot.to_owned(),
            });
        }
        self.slots.push((slot.to_owned(), source));
        Ok(self)
    }
}

const RSA_ALGORITHMS: [Algorithm; 6] = [
    Algorithm::RS256,
    Algorithm::RS384,
    Algorithm::RS512,
    Algorithm::PS256,
    Algorithm::PS384,
    Algorithm::PS512,
];

fn bad_key(slot: &str, reason: &'static str) -> ConfigError {
    ConfigError::BadKey {
        slot: slot.to_owned(),
        reason,
    }
}

/// Checks that `pem` starts with one of the `allowed` labels and is not a
/// private key.
fn public_pem_label(slot: &str, pem: &[u8], allowed: &[&str]) -> Result<(), ConfigError> {
    let text = std::str::from_utf8(pem).map_err(|_| bad_key(slot, "not a pem text"))?;
    let label = text
        .split_once("-----BEGIN ")
        .and_then(|(_, rest)| rest.split_once("-----"))
        .map(|(label, _)| label)
        .ok_or_else(|| bad_key(slot, "not a pem text"))?;
    if label.contains("PRIVATE") {
        return Err(ConfigError::PrivateKey {
            slot: slot.to_owned(),
        });
    }
    if !allowed.contains(&label) {
        return Err(bad_key(slot, "not a public key pem"));
    }
    Ok(())
}

fn check_rsa_bits(slot: &str, n: &[u8]) -> Result<(), ConfigError> {
    let bits = modulus_bits(n);
    if bits < MIN_RSA_BITS {
        return Err(ConfigError::WeakRsaKey {
            slot: slot.to_owned(),
            bits,
        });
    }
    Ok(())
}

/// Bit length of a big-endian unsigned integer.
fn modulus_bits(n: &[u8]) -> usize {
    let mut digits = n.iter().skip_while(|b| **b == 0);
    match digits.next() {
        None => 0,
        Some(first) => (8 - first.leading_zeros() as usize) + 8 * digits.count(),
    }
}

/// Whether the backend accepts `key` for `alg` (EC points on the curve,
/// Ed25519 points of the right size).
fn key_verifies(key: &DecodingKey, alg: Algorithm) -> bool {
    (DEFAULT_PROVIDER.verifier_factory)(&backend_alg(alg), key).is_ok()
}

fn backend_alg(alg: Algorithm) -> jsonwebtoken::Algorithm {
    use jsonwebtoken::Algorithm as J;
    match alg {
        Algorithm::HS256 => J::HS256,
        Algorithm::HS384 => J::HS384,
        Algorithm::HS512 => J::HS512,
        Algorithm::RS256 => J::RS256,
        Algorithm::RS384 => J::RS384,
        Algorithm::RS512 => J::RS512,
        Algorithm::PS256 => J::PS256,
        Algorithm::PS384 => J::PS384,
        Algorithm::PS512 => J::PS512,
        Algorithm::ES256 => J::ES256,
        Algorithm::ES384 => J::ES384,
        Algorithm::EdDSA => J::EdDSA,
    }
}

/// Where a JWKS slot gets its keys: a URL, fetched with a GET, cached.
///
/// - The set is refreshed when it is older than `max_age`.
/// - A token whose `kid` is not in the set triggers a re-fetch (key
///   rotation).
/// - Fetch attempts of any kind are at least `cooldown` apart, so unknown
///   `kid`s cannot cause a fetch storm.
/// - A failed fetch keeps the last good set (and logs a warning), for at
///   most `max_stale` after it was fetched (default
///   [`DEFAULT_JWKS_STALE_AGES`] × `max_age`): after that its keys verify
///   nothing (`KeysUnavailable`, the server-error code) until a fetch
///   succeeds, so a key the provider withdrew does not verify forever
///   while its JWKS endpoint is down.
/// - It is fetched like every request the server makes on its own: `https`
///   (plain `http` only to a loopback address), no proxy from the
///   environment (the key set decides who can sign tokens), no redirects,
///   and documents over [`MAX_JWKS_BYTES`] are refused.
///
/// Only asymmetric keys with a `kid` are used; `use` other than `sig`,
/// `key_ops` without `verify`, RSA moduli under [`MIN_RSA_BITS`] and keys
/// whose `alg` is not allowed for the slot are skipped. Fetching needs a Tokio runtime.
pub struct JwksSource {
    url: reqwest::Url,
    max_age: Duration,
    cooldown: Duration,
    max_stale: Duration,
    timeout: Duration,
}

impl fmt::Debug for JwksSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("JwksSource")
            .field("host", &self.url.host_str())
            .field("max_age", &self.max_age)
            .field("cooldown", &self.cooldown)
            .field("max_stale", &self.max_stale)
            .field("timeout", &self.timeout)
            .finish()
    }
}

impl JwksSource {
    /// A JWKS at `url` (`https`, or `http` to a loopback address), kept for
    /// `max_age` and re-fetched for unknown `kid`s at most once per
    /// `cooldown` (at least [`MIN_JWKS_COOLDOWN`], and at most `max_age`).
    pub fn new(url: &str, max_age: Duration, cooldown: Duration) -> Result<Self, ConfigError> {
        if cooldown < MIN_JWKS_COOLDOWN {
            return Err(ConfigError::BadJwksTiming(
                "the cool-down must be at least one second",
            ));
        }
        if max_age < cooldown {
            return Err(ConfigError::BadJwksTiming(
                "max_age must be at least the cool-down",
            ));
        }
        Self::with_times(url, max_age, cooldown)
    }

    /// [`JwksSource::new`] without the timing checks: tests run rotations
    /// in milliseconds.
    fn with_times(url: &str, max_age: Duration, cooldown: Duration) -> Result<Self, ConfigError> {
        let url = outbound::url(url).map_err(ConfigError::BadJwksUrl)?;
        Ok(Self {
            url,
            max_age,
            cooldown,
            max_stale: max_age.saturating_mul(DEFAULT_JWKS_STALE_AGES),
            timeout: DEFAULT_JWKS_TIMEOUT,
        })
    }

    /// How long the last good set keeps verifying when fetches fail
    /// (default [`DEFAULT_JWKS_STALE_AGES`] × `max_age`); at least `max_age`.
    pub fn max_stale(mut self, max_stale: Duration) -> Result<Self, ConfigError> {
        if max_stale < self.max_age {
            return Err(ConfigError::BadJwksTiming(
                "max_stale must be at least max_age",
            ));
        }
        self.max_stale = max_stale;
        Ok(self)
    }

    /// Time limit for one fetch (default [`DEFAULT_JWKS_TIMEOUT`]).
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }
}

type KeyMap = HashMap<String, Arc<KeyEntry>>;

#[derive(Default)]
struct JwksState {
    /// The last good set.
    keys: Option<Arc<KeyMap>>,
    /// When it was fetched.
    fetched_at: Option<Instant>,
    /// When the last fetch (good or not) started.
    last_attempt: Option<Instant>,
}

/// Why a fetch failed, for the log.
#[derive(Debug, thiserror::Error)]
enum FetchError {
    #[error("request failed: {0}")]
    Http(reqwest::Error),
    #[error("http status {0}")]
    Status(u16),
    #[error("document larger than {MAX_JWKS_BYTES} bytes")]
    TooLarge,
    #[error("not a jwks document")]
    NotJwks,
}

/// A JWKS slot's cache.
struct JwksCache {
    slot: &'static str,
    allowed: &'static [Algorithm],
    source: JwksSource,
    client: reqwest::Client,
    state: tokio::sync::RwLock<JwksState>,
    /// Held while fetching, so concurrent misses share one fetch.
    fetch_lock: Arc<tokio::sync::Mutex<()>>,
}

/// No set to look in: never fetched successfully, or the last good one is
/// older than `max_stale`.
struct NoUsableSet;

impl JwksCache {
    fn wants_fetch(&self, state: &JwksState, kid: Option<&str>, now: Instant) -> bool {
        let stale = match (&state.keys, state.fetched_at) {
            (Some(_), Some(at)) => now.saturating_duration_since(at) >= self.source.max_age,
            _ => true,
        };
        let missing = match (&state.keys, kid) {
            (None, _) => true,
            (Some(keys), Some(kid)) => !keys.contains_key(kid),
            (Some(_), None) => false,
        };
        (stale || missing)
            && state
                .last_attempt
                .is_none_or(|at| now.saturating_duration_since(at) >= self.source.cooldown)
    }

    fn get(
        &self,
        state: &JwksState,
        kid: &str,
        now: Instant,
    ) -> Result<Option<Arc<KeyEntry>>, NoUsableSet> {
        match (&state.keys, state.fetched_at) {
            (Some(keys), Some(at)) if now.saturating_duration_since(at) < self.source.max_stale => {
                Ok(keys.get(kid).cloned())
            }
            _ => Err(NoUsableSet),
        }
    }

    /// The key `kid`, fetching first when the set is stale or lacks it (and
    /// the cool-down allows). A miss while another task is fetching waits
    /// for that fetch.
    async fn lookup(self: &Arc<Self>, kid: &str) -> Result<Option<Arc<KeyEntry>>, NoUsableSet> {
        {
            let state = self.state.read().await;
            let now = Instant::now();
            if !self.wants_fetch(&state, Some(kid), now) {
                let found = self.get(&state, kid, now);
                let in_flight = self.fetch_lock.try_lock().is_err();
                if matches!(found, Ok(Some(_))) || !in_flight {
                    return found;
                }
            }
        }
        self.fetch_if_wanted(Some(kid)).await;
        self.get(&*self.state.read().await, kid, Instant::now())
    }

    /// Fetches unless another task just did (single flight). The fetch runs
    /// in its own task, so a caller that gives up (a client that goes away)
    /// does not abandon it half-way.
    async fn fetch_if_wanted(self: &Arc<Self>, kid: Option<&str>) {
        let flight = Arc::clone(&self.fetch_lock).lock_owned().await;
        let now = Instant::now();
        {
            let mut state = self.state.write().await;
            if !self.wants_fetch(&state, kid, now) {
                return;
            }
            state.last_attempt = Some(now);
        }
        let this = Arc::clone(self);
        let task = tokio::spawn(async move {
            let _flight = flight;
            this.fetch_and_store().await;
        });
        if let Err(error) = task.await {
            tracing::error!(slot = self.slot, %error, "jwks fetch task failed");
        }
    }

    async fn fetch_and_store(&self) {
        match self.fetch().await {
            Ok(keys) => {
                tracing::debug!(slot = self.slot, keys = keys.len(), "jwks fetched");
                let mut state = self.state.write().await;
                state.keys = Some(Arc::new(keys));
                state.fetched_at = Some(Instant::now());
            }
            Err(error) => {
                let has_set = self.state.read().await.keys.is_some();
                if has_set {
                    tracing::warn!(slot = self.slot, %error, "jwks fetch failed; keeping the last good key set");
                } else {
                    tracing::error!(slot = self.slot, %error, "jwks fetch failed; no key set yet, tokens for this slot are refused");
                }
            }
        }
    }

    async fn fetch(&self) -> Result<KeyMap, FetchError> {
        let http = |e: reqwest::Error| FetchError::Http(e.without_url());
        let response = self
            .client
            .get(self.source.url.clone())
            .header(http::header::ACCEPT, "application/json")
            .send()
            .await
            .map_err(http)?;
        let status = response.status();
        if !status.is_success() {
            return Err(FetchError::Status(status.as_u16()));
        }
        let body = outbound::read_body(response, MAX_JWKS_BYTES)
            .await
            .map_err(|e| match e {
                BodyError::TooLarge(_) => FetchError::TooLarge,
                BodyError::Read(e) => http(e),
            })?;
        parse_jwks(self.slot, &body, self.allowed)
    }
}

#[derive(Deserialize)]
struct RawJwks {
    keys: Vec<Value>,
}

/// The usable keys of a JWKS document, by `kid`. Keys that are unusable
/// for the slot are skipped; a `kid` given to two usable keys is dropped
/// (ambiguous).
fn parse_jwks(slot: &str, body: &[u8], allowed: &[Algorithm]) -> Result<KeyMap, FetchError> {
    let raw: RawJwks = serde_json::from_slice(body).map_err(|_| FetchError::NotJwks)?;
    let mut keys = KeyMap::new();
    let mut ambiguous = HashSet::new();
    for value in raw.keys {
        let Ok(jwk) = serde_json::from_value::<Jwk>(value) else {
            tracing::debug!(slot, "jwks: skipping a key that does not parse");
            continue;
        };
        let Some(kid) = jwk.common.key_id.clone() else {
            tracing::debug!(slot, "jwks: skipping a key without kid");
            continue;
        };
        let Some(entry) = jwk_entry(&jwk, allowed) else {
            tracing::debug!(slot, kid, "jwks: skipping a key unusable for this slot");
            continue;
        };
        if keys.insert(kid.clone(), Arc::new(entry)).is_some() {
            ambiguous.insert(kid);
        }
    }
    for kid in ambiguous {
        tracing::warn!(
            slot,
            kid,
            "jwks: two usable keys share a kid; ignoring both"
        );
        keys.remove(&kid);
    }
    Ok(keys)
}

fn jwk_entry(jwk: &Jwk, allowed: &[Algorithm]) -> Option<KeyEntry> {
    if jwk
        .common
        .public_key_use
        .as_ref()
        .is_some_and(|u| *u != PublicKeyUse::Signature)
    {
        return None;
    }
    if jwk
        .common
        .key_operations
        .as_ref()
        .is_some_and(|ops| !ops.contains(&KeyOperations::Verify))
    {
        return None;
    }
    let (key, family, candidates): (DecodingKey, KeyFamily, Vec<Algorithm>) = match &jwk.algorithm {
        AlgorithmParameters::RSA(p) => {
            let n = URL_SAFE_NO_PAD.decode(&p.n).ok()?;
            let e = URL_SAFE_NO_PAD.decode(&p.e).ok()?;
            if modulus_bits(&n) < MIN_RSA_BITS || e.is_empty() {
                return None;
            }
            let key = DecodingKey::from_rsa_raw_components(&n, &e);
            (key, KeyFamily::Rsa, RSA_ALGORITHMS.to_vec())
        }
        AlgorithmParameters::EllipticCurve(p) => {
            let (alg, size) = match p.curve {
                EllipticCurve::P256 => (Algorithm::ES256, 32),
                EllipticCurve::P384 => (Algorithm::ES384, 48),
                _ => return None,
            };
            let x = URL_SAFE_NO_PAD.decode(&p.x).ok()?;
            let y = URL_SAFE_NO_PAD.decode(&p.y).ok()?;
            if x.len() != size || y.len() != size {
                return None;
            }
            let key = DecodingKey::from_ec_components(&p.x, &p.y).ok()?;
            if !key_verifies(&key, alg) {
                return None;
            }
            (key, KeyFamily::Ec, vec![alg])
        }
        AlgorithmParameters::OctetKeyPair(p) => {
            if p.curve != EllipticCurve::Ed25519 {
                return None;
            }
            let key = DecodingKey::from_ed_components(&p.x).ok()?;
            if !key_verifies(&key, Algorithm::EdDSA) {
                return None;
            }
            (key, KeyFamily::Okp, vec![Algorithm::EdDSA])
        }
        // Shared secrets are never taken from the network.
        _ => return None,
    };
    let named = match jwk.common.key_algorithm {
        None => None,
        Some(alg) => Some(key_algorithm(alg)?),
    };
    let algorithms: Vec<Algorithm> = candidates
        .into_iter()
        .filter(|a| allowed.contains(a) && named.is_none_or(|n| n == *a))
        .collect();
    if algorithms.is_empty() {
        return None;
    }
    Some(KeyEntry {
        key,
        family,
        algorithms,
    })
}

fn key_algorithm(alg: KeyAlgorithm) -> Option<Algorithm> {
    Some(match alg {
        KeyAlgorithm::HS256 => Algorithm::HS256,
        KeyAlgorithm::HS384 => Algorithm::HS384,
        KeyAlgorithm::HS512 => Algorithm::HS512,
        KeyAlgorithm::ES256 => Algorithm::ES256,
        KeyAlgorithm::ES384 => Algorithm::ES384,
        KeyAlgorithm::RS256 => Algorithm::RS256,
        KeyAlgorithm::RS384 => Algorithm::RS384,
        KeyAlgorithm::RS512 => Algorithm::RS512,
        KeyAlgorithm::PS256 => Algorithm::PS256,
        KeyAlgorithm::PS384 => Algorithm::PS384,
        KeyAlgorithm::PS512 => Algorithm::PS512,
        KeyAlgorithm::EdDSA => Algorithm::EdDSA,
        _ => return None,
    })
}

enum SlotKeys {
    Static(Arc<KeyEntry>),
    Jwks(Arc<JwksCache>),
}

struct Slot {
    name: &'static str,
    algorithms: &'static [Algorithm],
    keys: SlotKeys,
}

struct Inner {
    descriptor: &'static JwtDescriptor,
    slots: Vec<Slot>,
}

/// Verifies tokens against one descriptor with one key set. Cheap to clone
/// (shared state, including JWKS caches).
#[derive(Clone)]
pub struct Verifier {
    inner: Arc<Inner>,
    /// The `jti` of the one token accepted without `exp`, when
    /// [`dangerous::accept_non_expiring`] asked for one.
    non_expiring: Option<Arc<str>>,
}

impl fmt::Debug for Verifier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let slots: Vec<&str> = self.inner.slots.iter().map(|s| s.name).collect();
        f.debug_struct("Verifier")
            .field("slots", &slots)
            .field("accepts_non_expiring", &self.non_expiring.is_some())
            .finish()
    }
}

impl Verifier {
    /// Checks `keys` against `descriptor`: every slot has a key of the
    /// family its algorithms need, and every key has a slot.
    pub fn new(descriptor: &'static JwtDescriptor, keys: KeySet) -> Result<Self, ConfigError> {
        if descriptor.keys.is_empty() {
            return Err(ConfigError::NoSlots);
        }
        if descriptor.subject_claim.is_empty() {
            return Err(ConfigError::EmptyClaimName("subject"));
        }
        if descriptor.roles_claim.is_empty() {
            return Err(ConfigError::EmptyClaimName("roles"));
        }
        if descriptor.leeway_s > wsauth_spec::MAX_LEEWAY_S {
            return Err(ConfigError::LeewayTooLarge(descriptor.leeway_s));
        }
        let mut supplied: HashMap<String, KeySource> = keys.slots.into_iter().collect();
        let mut slots = Vec::with_capacity(descriptor.keys.len());
        for slot in descriptor.keys {
            if slots.iter().any(|s: &Slot| s.name == slot.name) {
                return Err(ConfigError::DuplicateSlot {
                    slot: slot.name.to_owned(),
                });
            }
            let Some(first) = slot.algorithms.first() else {
                return Err(ConfigError::BadSlot {
                    slot: slot.name,
                    reason: "no algorithm is allowed",
                });
            };
            if slot.algorithms.iter().any(|a| a.family() != first.family()) {
                return Err(ConfigError::BadSlot {
                    slot: slot.name,
                    reason: "algorithms of several key families",
                });
            }
            let source = supplied
                .remove(slot.name)
                .ok_or(ConfigError::MissingKey { slot: slot.name })?;
            let keys = match source {
                KeySource::Static(entry) => {
                    for alg in slot.algorithms {
                        if alg.family() != entry.family {
                            return Err(ConfigError::FamilyMismatch {
                                slot: slot.name.to_owned(),
                                key: entry.family,
                                algorithm: *alg,
                            });
                        }
                        if !entry.algorithms.contains(alg) {
                            return Err(ConfigError::CurveMismatch {
                                slot: slot.name.to_owned(),
                                algorithm: *alg,
                            });
                        }
                    }
                    let entry = KeyEntry {
                        algorithms: slot.algorithms.to_vec(),
                        ..entry
                    };
                    SlotKeys::Static(Arc::new(entry))
                }
                KeySource::Jwks(source) => {
                    if first.family() == KeyFamily::Hmac {
                        return Err(ConfigError::JwksSymmetric { slot: slot.name });
                    }
                    let client = outbound::client(source.timeout).map_err(|source| {
                        ConfigError::HttpClient {
                            slot: slot.name,
                            source,
                        }
                    })?;
                    SlotKeys::Jwks(Arc::new(JwksCache {
                        slot: slot.name,
                        allowed: slot.algorithms,
                        source,
                        client,
                        state: tokio::sync::RwLock::new(JwksState::default()),
                        fetch_lock: Arc::new(tokio::sync::Mutex::new(())),
                    }))
                }
            };
            slots.push(Slot {
                name: slot.name,
                algorithms: slot.algorithms,
                keys,
            });
        }
        if let Some(extra) = supplied.into_keys().min() {
            return Err(ConfigError::UnknownSlot { slot: extra });
        }
        Ok(Self {
            inner: Arc::new(Inner { descriptor, slots }),
            non_expiring: None,
        })
    }

    /// [`Verifier::new`] with the JWT settings of `api` (its `auth.jwt`),
    /// or [`ConfigError::NoJwtSettings`] when the spec declares none.
    ///
    /// ```no_run
    /// # use wsauth_core::jwt::{ConfigError, KeySet, Verifier};
    /// # static API: wsauth_core::descriptor::ApiDescriptor = wsauth_core::descriptor::ApiDescriptor {
    /// #     name: "x", auth: None, roles: &[], close_codes: &[], stats: None, endpoints: &[] };
    /// # fn run(secret: &[u8]) -> Result<(), ConfigError> {
    /// let verifier = Verifier::for_api(&API, KeySet::new().hmac("default", secret)?)?;
    /// # Ok(()) }
    /// ```
    pub fn for_api(api: &'static ApiDescriptor, keys: KeySet) -> Result<Self, ConfigError> {
        let jwt = api
            .auth
            .as_ref()
            .and_then(|auth| auth.jwt.as_ref())
            .ok_or(ConfigError::NoJwtSettings)?;
        Self::new(jwt, keys)
    }

    /// The JWT settings this verifier checks tokens against: what a service
    /// that also mints tokens (a `/token` endpoint) must put in them.
    pub fn descriptor(&self) -> &'static JwtDescriptor {
        self.inner.descriptor
    }

    /// Fetches every JWKS slot's key set that has none yet (subject to the
    /// cool-down). Call it at start-up to fail early, or to have keys ready
    /// before the first token.
    pub async fn warm_up(&self) -> Result<(), JwtError> {
        for slot in &self.inner.slots {
            if let SlotKeys::Jwks(cache) = &slot.keys {
                if cache.state.read().await.keys.is_none() {
                    cache.fetch_if_wanted(None).await;
                }
                if cache.state.read().await.keys.is_none() {
                    return Err(JwtError::KeysUnavailable { slot: slot.name });
                }
            }
        }
        Ok(())
    }

    /// Verifies `token` now (system clock).
    pub async fn verify(&self, token: &str) -> Result<Claims, JwtError> {
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_secs());
        self.verify_at(token, now).await
    }

    /// Verifies `token` at `now` (unix seconds).
    pub async fn verify_at(&self, token: &str, now: u64) -> Result<Claims, JwtError> {
        if token.len() > MAX_TOKEN_BYTES {
            return Err(JwtError::Malformed);
        }
        let mut segments = token.split('.');
        let header = match (
            segments.next(),
            segments.next(),
            segments.next(),
            segments.next(),
        ) {
            (Some(header), Some(payload), Some(_), None)
                if !header.is_empty() && !payload.is_empty() =>
            {
                header
            }
            _ => return Err(JwtError::Malformed),
        };
        let header = decode_object(header)?;
        if header.contains_key("crit") {
            return Err(JwtError::UnsupportedCrit);
        }
        let alg = match header.get("alg") {
            Some(Value::String(alg)) => Algorithm::from_word(alg),
            _ => return Err(JwtError::Malformed),
        }
        .ok_or(JwtError::AlgorithmNotAllowed { alg: None })?;
        // No slot takes this algorithm: reject before any JWKS fetch.
        if !self.inner.slots.iter().any(|s| s.algorithms.contains(&alg)) {
            return Err(JwtError::AlgorithmNotAllowed { alg: Some(alg) });
        }
        let kid = match header.get("kid") {
            None => None,
            Some(Value::String(kid)) => Some(kid.as_str()),
            Some(_) => return Err(JwtError::Malformed),
        };

        let entry = self.key_for(kid).await?;
        if !entry.algorithms.contains(&alg) {
            return Err(JwtError::AlgorithmNotAllowed { alg: Some(alg) });
        }

        let descriptor = self.inner.descriptor;
        // Signature and algorithm only: time claims are checked below against
        // `now`, since jsonwebtoken would read the system clock.
        let mut validation = Validation::new(backend_alg(alg));
        validation.leeway = descriptor.leeway_s;
        validation.validate_exp = false;
        validation.validate_nbf = false;
        validation.validate_aud = false;
        validation.required_spec_claims.clear();
        let data = jsonwebtoken::decode::<StrictObject>(token, &entry.key, &validation)
            .map_err(|e| backend_error(&e))?;
        check_claims(descriptor, data.claims.0, now, self.non_expiring.as_deref())
    }

    /// The key `kid` selects: a static slot of that name, else a key of that
    /// id in a JWKS slot; without `kid`, the only slot if it is static.
    async fn key_for(&self, kid: Option<&str>) -> Result<Arc<KeyEntry>, JwtError> {
        let slots = &self.inner.slots;
        let Some(kid) = kid else {
            return match slots.as_slice() {
                [
                    Slot {
                        keys: SlotKeys::Static(entry),
                        ..
                    },
                ] => Ok(Arc::clone(entry)),
                _ => Err(JwtError::KidRequired),
            };
        };
        for slot in slots {
            if let SlotKeys::Static(entry) = &slot.keys
                && slot.name == kid
            {
                return Ok(Arc::clone(entry));
            }
        }
        let mut unavailable = None;
        for slot in slots {
            if let SlotKeys::Jwks(cache) = &slot.keys {
                match cache.lookup(kid).await {
                    Ok(Some(entry)) => return Ok(entry),
                    Ok(None) => {}
                    Err(NoUsableSet) => {
                        unavailable.get_or_insert(slot.name);
                    }
                }
            }
        }
        Err(
            unavailable.map_or(JwtError::UnknownKey, |slot| JwtError::KeysUnavailable {
                slot,
            }),
        )
    }
}

fn backend_error(error: &jsonwebtoken::errors::Error) -> JwtError {
    use jsonwebtoken::errors::ErrorKind as K;
    match error.kind() {
        K::InvalidSignature => JwtError::BadSignature,
        K::InvalidToken | K::Base64(_) | K::Json(_) | K::Utf8(_) => JwtError::Malformed,
        K::InvalidAlgorithm | K::MissingAlgorithm | K::UnsupportedAlgorithm => {
            JwtError::AlgorithmNotAllowed { alg: None }
        }
        _ => JwtError::BadSignature,
    }
}

/// A JSON object whose keys are all distinct (parsers that keep the first
/// or the last duplicate would read different claims).
struct StrictObject(Map<String, Value>);

impl<'de> Deserialize<'de> for StrictObject {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct ObjectVisitor;
        impl<'de> Visitor<'de> for ObjectVisitor {
            type Value = StrictObject;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a JSON object without duplicate keys")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut access: A) -> Result<StrictObject, A::Error> {
                let mut map = Map::new();
                while let Some(key) = access.next_key::<String>()? {
                    if map.contains_key(&key) {
                        let _: IgnoredAny = access.next_value()?;
                        return Err(de::Error::custom("duplicate key"));
                    }
                    let value: Value = access.next_value()?;
                    map.insert(key, value);
                }
                Ok(StrictObject(map))
            }
        }
        deserializer.deserialize_map(ObjectVisitor)
    }
}

fn decode_object(segment: &str) -> Result<Map<String, Value>, JwtError> {
    let bytes = URL_SAFE_NO_PAD
        .decode(segment)
        .map_err(|_| JwtError::Malformed)?;
    serde_json::from_slice::<StrictObject>(&bytes)
        .map(|o| o.0)
        .map_err(|_| JwtError::Malformed)
}

/// A NumericDate claim: a non-negative number, fractions rounded the safe
/// way (`round_up` for `nbf`).
pub(crate) fn numeric_date(
    claims: &Map<String, Value>,
    claim: &'static str,
    round_up: bool,
) -> Result<Option<u64>, JwtError> {
    let Some(value) = claims.get(claim) else {
        return Ok(None);
    };
    let Value::Number(n) = value else {
        return Err(JwtError::ClaimType { claim });
    };
    if let Some(n) = n.as_u64() {
        return Ok(Some(n));
    }
    match n.as_f64() {
        Some(f) if (0.0..1.0e19).contains(&f) => {
            let f = if round_up { f.ceil() } else { f.floor() };
            Ok(Some(f as u64))
        }
        _ => Err(JwtError::ClaimType { claim }),
    }
}

/// Checks the claims of a token whose signature verified. `non_expiring` is
/// the `jti` of the one token that may lack `exp` (see [`dangerous`]).
fn check_claims(
    d: &'static JwtDescriptor,
    claims: Map<String, Value>,
    now: u64,
    non_expiring: Option<&str>,
) -> Result<Claims, JwtError> {
    let leeway = d.leeway_s;
    // Valid while now < exp + leeway (RFC 7519: "on or after" exp is expired).
    let (exp, expires) = match numeric_date(&claims, "exp", false)? {
        Some(exp) => (exp, true),
        None if dangerous::is_the_non_expiring_token(&claims, non_expiring) => {
            (dangerous::NON_EXPIRING_EXP, false)
        }
        None => return Err(JwtError::MissingClaim { claim: "exp" }),
    };
    if now >= exp.saturating_add(leeway) {
        return Err(JwtError::Expired);
    }
    if let Some(nbf) = numeric_date(&claims, "nbf", true)?
        && nbf > now.saturating_add(leeway)
    {
        return Err(JwtError::NotYetValid);
    }
    let iat = numeric_date(&claims, "iat", false)?;
    if let Some(iat) = iat
        && iat > now.saturating_add(leeway)
    {
        return Err(JwtError::IssuedInFuture);
    }
    if let Some(max_ttl) = d.max_ttl_s.filter(|_| expires) {
        let iat = iat.ok_or(JwtError::MissingClaim { claim: "iat" })?;
        if exp.saturating_sub(iat) > max_ttl {
            return Err(JwtError::LifetimeTooLong);
        }
    }
    let (subject, roles) = check_identity(
        &claims,
        &IdentityRules {
            issuer: d.issuer,
            audience: d.audience,
            subject: d.subject_claim,
            roles: d.roles_claim,
            shape: d.roles_shape,
        },
    )?;
    if !expires {
        tracing::warn!(
            target: "wsauth::dangerous",
            subject = %subject,
            "accepted the non-expiring development token"
        );
    }
    Ok(Claims {
        subject,
        roles,
        exp,
        iat,
        claims,
    })
}

/// What identifies a principal in a set of claims, and whose they must be:
/// the spec's issuer, audiences, subject claim and roles claim.
pub(crate) struct IdentityRules<'a> {
    pub(crate) issuer: Option<&'a str>,
    pub(crate) audience: &'a [&'a str],
    pub(crate) subject: &'static str,
    pub(crate) roles: &'static str,
    pub(crate) shape: ClaimShape,
}

/// Checks `iss` and `aud` (each required when the spec configures it, of
/// the right JSON type) and reads the subject and roles: the part of claim
/// checking shared by local verification and introspection answers.
pub(crate) fn check_identity(
    claims: &Map<String, Value>,
    rules: &IdentityRules<'_>,
) -> Result<(String, Vec<String>), JwtError> {
    if let Some(issuer) = rules.issuer {
        match claims.get("iss") {
            None => return Err(JwtError::MissingClaim { claim: "iss" }),
            Some(Value::String(iss)) if iss == issuer => {}
            Some(Value::String(_)) => return Err(JwtError::WrongIssuer),
            Some(_) => return Err(JwtError::ClaimType { claim: "iss" }),
        }
    }
    if !rules.audience.is_empty() {
        let matches = |aud: &str| rules.audience.contains(&aud);
        let ok = match claims.get("aud") {
            None => return Err(JwtError::MissingClaim { claim: "aud" }),
            Some(Value::String(aud)) => matches(aud),
            Some(Value::Array(items)) => {
                let mut any = false;
                for item in items {
                    match item {
                        Value::String(aud) => any |= matches(aud),
                        _ => return Err(JwtError::ClaimType { claim: "aud" }),
                    }
                }
                any
            }
            Some(_) => return Err(JwtError::ClaimType { claim: "aud" }),
        };
        if !ok {
            return Err(JwtError::WrongAudience);
        }
    }
    let subject = match claims.get(rules.subject) {
        None => {
            return Err(JwtError::MissingClaim {
                claim: rules.subject,
            });
        }
        Some(Value::String(s)) if s.is_empty() => return Err(JwtError::EmptySubject),
        Some(Value::String(s)) => s.clone(),
        Some(_) => {
            return Err(JwtError::ClaimType {
                claim: rules.subject,
            });
        }
    };
    let wrong_roles = JwtError::ClaimType { claim: rules.roles };
    let roles = match (rules.shape, claims.get(rules.roles)) {
        (_, None) => Vec::new(),
        (ClaimShape::Array, Some(Value::Array(items))) => items
            .iter()
            .map(|item| match item {
                Value::String(role) => Ok(role.clone()),
                _ => Err(wrong_roles.clone()),
            })
            .collect::<Result<_, _>>()?,
        (ClaimShape::String, Some(Value::String(role))) => vec![role.clone()],
        (_, Some(_)) => return Err(wrong_roles),
    };
    Ok((subject, roles))
}

/// Conveniences that weaken verification on purpose, for development
/// servers only; every use should be visible in review and loud at run
/// time.
///
/// # Motivation
///
/// Every token must carry `exp` (and, with `max_ttl_s`, a bounded
/// lifetime): a stolen token stops working on its own. A developer poking at
/// a server by hand, though, wants one token that keeps working while the
/// server runs. [`accept_non_expiring`](dangerous::accept_non_expiring) allows exactly that and nothing
/// wider: one token, named by a `jti` the server chose (unguessable, fresh
/// at every start), signed with the server's own key, and otherwise checked
/// like any other (issuer, audience, subject, roles, `nbf`, `iat`). Tokens
/// without `exp` and with any other `jti` are still refused, and a restart
/// with a new `jti` retires the old token.
pub mod dangerous {
    use serde_json::{Map, Value};

    use super::Verifier;

    /// The `exp` reported in [`Claims`](super::Claims) for the non-expiring
    /// token: 9999-12-31T23:59:59Z, far enough never to come, near enough
    /// that adding it to a clock cannot overflow.
    pub const NON_EXPIRING_EXP: u64 = 253_402_300_799;

    /// The claim naming the non-expiring token.
    pub const MARKER_CLAIM: &str = "jti";

    /// `verifier`, also accepting the one token that has no `exp` and whose
    /// `jti` claim is `jti` (every other check still applies; the lifetime
    /// limit does not, since there is no lifetime). Its claims report
    /// [`NON_EXPIRING_EXP`] as `exp`, so a connection opened with it is not
    /// closed for expiry. Each acceptance logs a warning (target
    /// `wsauth::dangerous`).
    ///
    /// `jti` should be random and fresh for each run (at least 128 bits);
    /// an empty `jti` accepts nothing. Only for development servers, behind
    /// an explicit flag.
    pub fn accept_non_expiring(verifier: Verifier, jti: &str) -> Verifier {
        Verifier {
            non_expiring: (!jti.is_empty()).then(|| jti.into()),
            ..verifier
        }
    }

    /// Whether `claims` (without `exp`) name the token `non_expiring`
    /// allows.
    pub(super) fn is_the_non_expiring_token(
        claims: &Map<String, Value>,
        non_expiring: Option<&str>,
    ) -> bool {
        match (non_expiring, claims.get(MARKER_CLAIM)) {
            (Some(allowed), Some(Value::String(jti))) => {
                !allowed.is_empty() && allowed.as_bytes() == jti.as_bytes()
            }
            _ => false,
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

    use jsonwebtoken::{Algorithm as J, EncodingKey, Header, encode};
    use serde_json::json;
    use wsauth_spec::Algorithm::*;

    use super::*;
    use crate::descriptor::KeySlot;

    const NOW: u64 = 1_700_000_000;
    const ISS: &str = "https://issuer.test";
    const SECRET: &[u8] = b"0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";
    const OTHER_SECRET: &[u8] = b"fedcba9876543210fedcba9876543210";

    const RSA_PRIVATE: &[u8] = include_bytes!("../tests/keys/rsa_private.pem");
    const RSA_PUBLIC: &[u8] = include_bytes!("../tests/keys/rsa_public.pem");
    const RSA2_PRIVATE: &[u8] = include_bytes!("../tests/keys/rsa2_private.pem");
    const RSA1024_PUBLIC: &[u8] = include_bytes!("../tests/keys/rsa1024_public.pem");
    const EC256_PRIVATE: &[u8] = include_bytes!("../tests/keys/ec256_private.pem");
    const EC256_PUBLIC: &[u8] = include_bytes!("../tests/keys/ec256_public.pem");
    const EC384_PRIVATE: &[u8] = include_bytes!("../tests/keys/ec384_private.pem");
    const EC384_PUBLIC: &[u8] = include_bytes!("../tests/keys/ec384_public.pem");
    const ED_PRIVATE: &[u8] = include_bytes!("../tests/keys/ed25519_private.pem");
    const ED_PUBLIC: &[u8] = include_bytes!("../tests/keys/ed25519_public.pem");

    const HS256_ONLY: &[KeySlot] = &[KeySlot {
        name: "default",
        algorithms: &[HS256],
    }];
    const HS_ALL: &[KeySlot] = &[KeySlot {
        name: "default",
        algorithms: &[HS256, HS384, HS512],
    }];
    const RS256_ONLY: &[KeySlot] = &[KeySlot {
        name: "main",
        algorithms: &[RS256],
    }];
    const TWO_SLOTS: &[KeySlot] = &[
        KeySlot {
            name: "a",
            algorithms: &[HS256],
        },
        KeySlot {
            name: "b",
            algorithms: &[RS256],
        },
    ];
    const PARTNER: &[KeySlot] = &[KeySlot {
        name: "partner",
        algorithms: &[RS256],
    }];
    const PARTNER_RS_PS: &[KeySlot] = &[KeySlot {
        name: "partner",
        algorithms: &[RS256, PS256],
    }];

    fn descriptor(keys: &'static [KeySlot]) -> JwtDescriptor {
        JwtDescriptor {
            keys,
            issuer: Some(ISS),
            audience: &["wsauth", "other"],
            leeway_s: 30,
            max_ttl_s: None,
            subject_claim: "sub",
            roles_claim: "roles",
            roles_shape: ClaimShape::Array,
        }
    }

    fn leak(d: JwtDescriptor) -> &'static JwtDescriptor {
        Box::leak(Box::new(d))
    }

    fn claims() -> Value {
        json!({
            "sub": "alice",
            "iss": ISS,
            "aud": "wsauth",
            "iat": NOW,
            "exp": NOW + 600,
            "roles": ["user", "admin"],
        })
    }

    fn with(mut claims: Value, name: &str, value: Value) -> Value {
        claims[name] = value;
        claims
    }

    fn without(mut claims: Value, name: &str) -> Value {
        if let Some(object) = claims.as_object_mut() {
            object.remove(name);
        }
        claims
    }

    fn mint(alg: J, kid: Option<&str>, claims: &Value, key: &EncodingKey) -> String {
        let mut header = Header::new(alg);
        header.kid = kid.map(str::to_owned);
        encode(&header, claims, key).expect("encode")
    }

    fn hs256(claims: &Value) -> String {
        mint(J::HS256, None, claims, &EncodingKey::from_secret(SECRET))
    }

    /// A token with exactly these header and payload texts, signed.
    fn sign_raw(header: &str, payload: &str, alg: J, key: &EncodingKey) -> String {
        let message = format!(
            "{}.{}",
            URL_SAFE_NO_PAD.encode(header),
            URL_SAFE_NO_PAD.encode(payload)
        );
        let signature = jsonwebtoken::crypto::sign(message.as_bytes(), key, alg).expect("sign");
        format!("{message}.{signature}")
    }

    fn rsa_key() -> EncodingKey {
        EncodingKey::from_rsa_pem(RSA_PRIVATE).expect("rsa private key")
    }

    fn rsa2_key() -> EncodingKey {
        EncodingKey::from_rsa_pem(RSA2_PRIVATE).expect("rsa private key")
    }

    fn hmac_verifier(d: JwtDescriptor) -> Verifier {
        let keys = KeySet::new().hmac("default", SECRET).expect("secret");
        Verifier::new(leak(d), keys).expect("verifier")
    }

    async fn check(verifier: &Verifier, claims: &Value) -> Result<Claims, JwtError> {
        let token = mint(J::HS256, None, claims, &EncodingKey::from_secret(SECRET));
        verifier.verify_at(&token, NOW).await
    }

    // ---- algorithms and keys -------------------------------------------

    #[tokio::test]
    async fn hmac_algorithms_verify() {
        let v = hmac_verifier(descriptor(HS_ALL));
        for alg in [J::HS256, J::HS384, J::HS512] {
            let token = mint(alg, None, &claims(), &EncodingKey::from_secret(SECRET));
            let got = v.verify_at(&token, NOW).await.expect("valid token");
            assert_eq!(got.subject, "alice");
            assert_eq!(got.roles, ["user", "admin"]);
            assert_eq!(got.exp, NOW + 600);
            assert_eq!(got.iat, Some(NOW));
            assert_eq!(got.claims.get("iss"), Some(&json!(ISS)));
        }
    }

    #[tokio::test]
    async fn asymmetric_algorithms_verify() {
        static SLOTS: &[KeySlot] = &[
            KeySlot {
                name: "rsa",
                algorithms: &[RS256, PS256],
            },
            KeySlot {
                name: "ec256",
                algorithms: &[ES256],
            },
            KeySlot {
                name: "ec384",
                algorithms: &[ES384],
            },
            KeySlot {
                name: "ed",
                algorithms: &[EdDSA],
            },
        ];
        let keys = KeySet::new()
            .rsa_pem("rsa", RSA_PUBLIC)
            .and_then(|k| k.ec_pem("ec256", EC256_PUBLIC))
            .and_then(|k| k.ec_pem("ec384", EC384_PUBLIC))
            .and_then(|k| k.ed_pem("ed", ED_PUBLIC))
            .expect("keys");
        let v = Verifier::new(leak(descriptor(SLOTS)), keys).expect("verifier");
        let cases = [
            (J::RS256, "rsa", rsa_key()),
            (J::PS256, "rsa", rsa_key()),
            (
                J::ES256,
                "ec256",
                EncodingKey::from_ec_pem(EC256_PRIVATE).expect("ec"),
            ),
            (
                J::ES384,
                "ec384",
                EncodingKey::from_ec_pem(EC384_PRIVATE).expect("ec"),
            ),
            (
                J::EdDSA,
                "ed",
                EncodingKey::from_ed_pem(ED_PRIVATE).expect("ed"),
            ),
        ];
        for (alg, kid, key) in cases {
            let token = mint(alg, Some(kid), &claims(), &key);
            let got = v.verify_at(&token, NOW).await;
            assert_eq!(got.map(|c| c.subject), Ok("alice".to_owned()), "{alg:?}");
        }
    }

    #[tokio::test]
    async fn wrong_signature_is_rejected() {
        let v = hmac_verifier(descriptor(HS256_ONLY));
        let token = mint(
            J::HS256,
            None,
            &claims(),
            &EncodingKey::from_secret(OTHER_SECRET),
        );
        assert_eq!(v.verify_at(&token, NOW).await, Err(JwtError::BadSignature));

        // A payload swapped under a valid signature.
        let good = hs256(&claims());
        let forged_payload =
            URL_SAFE_NO_PAD.encode(with(claims(), "sub", json!("mallory")).to_string());
        let parts: Vec<&str> = good.split('.').collect();
        let forged = format!("{}.{}.{}", parts[0], forged_payload, parts[2]);
        assert_eq!(v.verify_at(&forged, NOW).await, Err(JwtError::BadSignature));
        assert!(v.verify_at(&good, NOW).await.is_ok());
    }

    #[tokio::test]
    async fn algorithm_outside_the_allow_list_is_rejected() {
        let v = hmac_verifier(descriptor(HS256_ONLY));
        let token = mint(J::HS384, None, &claims(), &EncodingKey::from_secret(SECRET));
        assert_eq!(
            v.verify_at(&token, NOW).await,
            Err(JwtError::AlgorithmNotAllowed { alg: Some(HS384) })
        );
    }

    #[tokio::test]
    async fn alg_none_is_rejected() {
        let v = hmac_verifier(descriptor(HS256_ONLY));
        let payload = URL_SAFE_NO_PAD.encode(claims().to_string());
        for alg in ["none", "None", "NONE"] {
            let header = URL_SAFE_NO_PAD.encode(json!({"alg": alg, "typ": "JWT"}).to_string());
            for signature in ["", "c2ln"] {
                let token = format!("{header}.{payload}.{signature}");
                assert_eq!(
                    v.verify_at(&token, NOW).await,
                    Err(JwtError::AlgorithmNotAllowed { alg: None }),
                    "{alg} {signature:?}"
                );
            }
        }
    }

    #[tokio::test]
    async fn rsa_public_key_as_hmac_secret_is_rejected() {
        let keys = KeySet::new().rsa_pem("main", RSA_PUBLIC).expect("rsa");
        let v = Verifier::new(leak(descriptor(RS256_ONLY)), keys).expect("verifier");
        let forged_key = EncodingKey::from_secret(RSA_PUBLIC);
        for kid in [None, Some("main")] {
            let token = mint(J::HS256, kid, &claims(), &forged_key);
            assert_eq!(
                v.verify_at(&token, NOW).await,
                Err(JwtError::AlgorithmNotAllowed { alg: Some(HS256) })
            );
        }
        let genuine = mint(J::RS256, None, &claims(), &rsa_key());
        assert!(v.verify_at(&genuine, NOW).await.is_ok());
    }

    // ---- time ---------------------------------------------------------

    #[tokio::test]
    async fn expiry_honours_the_leeway_exactly() {
        let v = hmac_verifier(descriptor(HS256_ONLY)); // leeway 30 s
        let at = |exp: u64| with(with(claims(), "exp", json!(exp)), "iat", json!(NOW - 600));
        assert!(check(&v, &at(NOW + 1)).await.is_ok());
        assert!(check(&v, &at(NOW - 29)).await.is_ok(), "within leeway");
        assert_eq!(check(&v, &at(NOW - 30)).await, Err(JwtError::Expired));
        assert_eq!(check(&v, &at(NOW - 31)).await, Err(JwtError::Expired));
        assert_eq!(check(&v, &at(NOW - 100_000)).await, Err(JwtError::Expired));

        let mut strict = descriptor(HS256_ONLY);
        strict.leeway_s = 0;
        let v = hmac_verifier(strict);
        assert_eq!(check(&v, &at(NOW)).await, Err(JwtError::Expired));
        assert!(check(&v, &at(NOW + 1)).await.is_ok());
    }

    #[tokio::test]
    async fn exp_is_required_and_numeric() {
        let v = hmac_verifier(descriptor(HS256_ONLY));
        assert_eq!(
            check(&v, &without(claims(), "exp")).await,
            Err(JwtError::MissingClaim { claim: "exp" })
        );
        for bad in [json!((NOW + 600).to_string()), json!(-1), json!(null)] {
            assert_eq!(
                check(&v, &with(claims(), "exp", bad)).await,
                Err(JwtError::ClaimType { claim: "exp" })
            );
        }
        let fractional = check(&v, &with(claims(), "exp", json!(NOW as f64 + 600.7))).await;
        assert_eq!(fractional.map(|c| c.exp), Ok(NOW + 600));
    }

    #[tokio::test]
    async fn nbf_in_the_future_is_rejected() {
        let v = hmac_verifier(descriptor(HS256_ONLY));
        assert!(
            check(&v, &with(claims(), "nbf", json!(NOW + 30)))
                .await
                .is_ok()
        );
        assert_eq!(
            check(&v, &with(claims(), "nbf", json!(NOW + 31))).await,
            Err(JwtError::NotYetValid)
        );
        assert_eq!(
            check(&v, &with(claims(), "nbf", json!("soon"))).await,
            Err(JwtError::ClaimType { claim: "nbf" })
        );
    }

    #[tokio::test]
    async fn iat_in_the_future_is_rejected() {
        let v = hmac_verifier(descriptor(HS256_ONLY));
        assert!(
            check(&v, &with(claims(), "iat", json!(NOW + 30)))
                .await
                .is_ok()
        );
        assert_eq!(
            check(&v, &with(claims(), "iat", json!(NOW + 31))).await,
            Err(JwtError::IssuedInFuture)
        );
        assert_eq!(
            check(&v, &with(claims(), "iat", json!("now"))).await,
            Err(JwtError::ClaimType { claim: "iat" })
        );
        let got = check(&v, &without(claims(), "iat")).await;
        assert_eq!(
            got.map(|c| c.iat),
            Ok(None),
            "iat is optional without max_ttl"
        );
    }

    #[tokio::test]
    async fn lifetime_over_max_ttl_is_rejected() {
        let mut d = descriptor(HS256_ONLY);
        d.max_ttl_s = Some(600);
        let v = hmac_verifier(d);
        let life = |ttl: u64| with(with(claims(), "iat", json!(NOW)), "exp", json!(NOW + ttl));
        assert!(check(&v, &life(600)).await.is_ok());
        assert_eq!(check(&v, &life(601)).await, Err(JwtError::LifetimeTooLong));
        assert_eq!(
            check(&v, &without(claims(), "iat")).await,
            Err(JwtError::MissingClaim { claim: "iat" })
        );
    }

    #[tokio::test]
    async fn verify_uses_the_system_clock() {
        let v = hmac_verifier(descriptor(HS256_ONLY));
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .expect("clock")
            .as_secs();
        let fresh = with(with(claims(), "iat", json!(now)), "exp", json!(now + 60));
        assert!(v.verify(&hs256(&fresh)).await.is_ok());
        let stale = with(
            with(claims(), "iat", json!(now - 600)),
            "exp",
            json!(now - 60),
        );
        assert_eq!(v.verify(&hs256(&stale)).await, Err(JwtError::Expired));
    }

    // ---- issuer, audience, subject, roles -----------------------------------

    #[tokio::test]
    async fn issuer_is_required_and_must_match() {
        let v = hmac_verifier(descriptor(HS256_ONLY));
        assert_eq!(
            check(&v, &without(claims(), "iss")).await,
            Err(JwtError::MissingClaim { claim: "iss" })
        );
        assert_eq!(
            check(&v, &with(claims(), "iss", json!("https://evil.test"))).await,
            Err(JwtError::WrongIssuer)
        );
        assert_eq!(
            check(&v, &with(claims(), "iss", json!([ISS]))).await,
            Err(JwtError::ClaimType { claim: "iss" })
        );

        let mut open = descriptor(HS256_ONLY);
        open.issuer = None;
        let v = hmac_verifier(open);
        assert!(check(&v, &without(claims(), "iss")).await.is_ok());
    }

    #[tokio::test]
    async fn audience_string_or_array_must_match() {
        let v = hmac_verifier(descriptor(HS256_ONLY)); // wsauth, other
        let aud = |a: Value| with(claims(), "aud", a);
        assert!(check(&v, &aud(json!("wsauth"))).await.is_ok());
        assert!(check(&v, &aud(json!("other"))).await.is_ok());
        assert!(check(&v, &aud(json!(["x", "other"]))).await.is_ok());
        assert_eq!(
            check(&v, &aud(json!("x"))).await,
            Err(JwtError::WrongAudience)
        );
        assert_eq!(
            check(&v, &aud(json!(["x", "y"]))).await,
            Err(JwtError::WrongAudience)
        );
        assert_eq!(
            check(&v, &aud(json!([]))).await,
            Err(JwtError::WrongAudience)
        );
        assert_eq!(
            check(&v, &aud(json!(["wsauth", 7]))).await,
            Err(JwtError::ClaimType { claim: "aud" })
        );
        assert_eq!(
            check(&v, &aud(json!(7))).await,
            Err(JwtError::ClaimType { claim: "aud" })
        );
        assert_eq!(
            check(&v, &without(claims(), "aud")).await,
            Err(JwtError::MissingClaim { claim: "aud" })
        );

        let mut open = descriptor(HS256_ONLY);
        open.audience = &[];
        let v = hmac_verifier(open);
        assert!(check(&v, &aud(json!("anyone"))).await.is_ok());
    }

    #[tokio::test]
    async fn subject_must_be_a_non_empty_string() {
        let v = hmac_verifier(descriptor(HS256_ONLY));
        assert_eq!(
            check(&v, &without(claims(), "sub")).await,
            Err(JwtError::MissingClaim { claim: "sub" })
        );
        assert_eq!(
            check(&v, &with(claims(), "sub", json!(42))).await,
            Err(JwtError::ClaimType { claim: "sub" })
        );
        assert_eq!(
            check(&v, &with(claims(), "sub", json!(""))).await,
            Err(JwtError::EmptySubject)
        );

        let mut custom = descriptor(HS256_ONLY);
        custom.subject_claim = "uid";
        let v = hmac_verifier(custom);
        let got = check(&v, &with(without(claims(), "sub"), "uid", json!("u-1"))).await;
        assert_eq!(got.map(|c| c.subject), Ok("u-1".to_owned()));
        assert_eq!(
            check(&v, &claims()).await,
            Err(JwtError::MissingClaim { claim: "uid" })
        );
    }

    #[tokio::test]
    async fn roles_follow_their_shape() {
        let v = hmac_verifier(descriptor(HS256_ONLY));
        let roles = |r: Value| with(claims(), "roles", r);
        let got = check(&v, &roles(json!(["a", "b"]))).await;
        assert_eq!(
            got.map(|c| c.roles),
            Ok(vec!["a".to_owned(), "b".to_owned()])
        );
        let got = check(&v, &without(claims(), "roles")).await;
        assert_eq!(got.map(|c| c.roles), Ok(vec![]));
        for bad in [
            json!("admin"),
            json!(["a", 1]),
            json!({"a": true}),
            json!(null),
        ] {
            assert_eq!(
                check(&v, &roles(bad)).await,
                Err(JwtError::ClaimType { claim: "roles" })
            );
        }

        let mut single = descriptor(HS256_ONLY);
        single.roles_claim = "role";
        single.roles_shape = ClaimShape::String;
        let v = hmac_verifier(single);
        let got = check(&v, &with(claims(), "role", json!("admin"))).await;
        assert_eq!(got.map(|c| c.roles), Ok(vec!["admin".to_owned()]));
        let got = check(&v, &claims()).await; // `roles` is not `role`
        assert_eq!(got.map(|c| c.roles), Ok(vec![]));
        for bad in [json!(["admin"]), json!(3)] {
            assert_eq!(
                check(&v, &with(claims(), "role", bad)).await,
                Err(JwtError::ClaimType { claim: "role" })
            );
        }
    }

    // ---- kid and headers ----------------------------------------------

    fn two_slot_verifier() -> Verifier {
        let keys = KeySet::new()
            .hmac("a", SECRET)
            .and_then(|k| k.rsa_pem("b", RSA_PUBLIC))
            .expect("keys");
        Verifier::new(leak(descriptor(TWO_SLOTS)), keys).expect("verifier")
    }

    #[tokio::test]
    async fn kid_selects_the_slot() {
        let v = two_slot_verifier();
        let hs = EncodingKey::from_secret(SECRET);
        assert!(
            v.verify_at(&mint(J::HS256, Some("a"), &claims(), &hs), NOW)
                .await
                .is_ok()
        );
        assert!(
            v.verify_at(&mint(J::RS256, Some("b"), &claims(), &rsa_key()), NOW)
                .await
                .is_ok()
        );
        // The slot's allow-list applies, whatever the token's alg.
        assert_eq!(
            v.verify_at(&mint(J::RS256, Some("a"), &claims(), &rsa_key()), NOW)
                .await,
            Err(JwtError::AlgorithmNotAllowed { alg: Some(RS256) })
        );
        assert_eq!(
            v.verify_at(&mint(J::HS256, Some("b"), &claims(), &hs), NOW)
                .await,
            Err(JwtError::AlgorithmNotAllowed { alg: Some(HS256) })
        );
        // Several slots: kid is required.
        assert_eq!(
            v.verify_at(&mint(J::HS256, None, &claims(), &hs), NOW)
                .await,
            Err(JwtError::KidRequired)
        );
    }

    #[tokio::test]
    async fn unknown_kid_is_rejected() {
        let hs = EncodingKey::from_secret(SECRET);
        let v = two_slot_verifier();
        for kid in ["c", "A", "", "../a", "http://127.0.0.1/a"] {
            assert_eq!(
                v.verify_at(&mint(J::HS256, Some(kid), &claims(), &hs), NOW)
                    .await,
                Err(JwtError::UnknownKey),
                "{kid}"
            );
        }
        // One slot: no kid is fine, a kid must still name it.
        let v = hmac_verifier(descriptor(HS256_ONLY));
        assert!(
            v.verify_at(&mint(J::HS256, None, &claims(), &hs), NOW)
                .await
                .is_ok()
        );
        assert!(
            v.verify_at(&mint(J::HS256, Some("default"), &claims(), &hs), NOW)
                .await
                .is_ok()
        );
        assert_eq!(
            v.verify_at(&mint(J::HS256, Some("other"), &claims(), &hs), NOW)
                .await,
            Err(JwtError::UnknownKey)
        );
    }

    #[tokio::test]
    async fn crit_header_is_rejected() {
        let v = hmac_verifier(descriptor(HS256_ONLY));
        let key = EncodingKey::from_secret(SECRET);
        let mut header = Header::new(J::HS256);
        header.crit = Some(vec!["exp".to_owned()]);
        let token = encode(&header, &claims(), &key).expect("encode");
        assert_eq!(
            v.verify_at(&token, NOW).await,
            Err(JwtError::UnsupportedCrit)
        );
        let payload = claims().to_string();
        let empty = sign_raw(r#"{"alg":"HS256","crit":[]}"#, &payload, J::HS256, &key);
        assert_eq!(
            v.verify_at(&empty, NOW).await,
            Err(JwtError::UnsupportedCrit)
        );
        let plain = sign_raw(r#"{"alg":"HS256"}"#, &payload, J::HS256, &key);
        assert!(v.verify_at(&plain, NOW).await.is_ok());
    }

    #[tokio::test]
    async fn key_url_headers_are_never_fetched() {
        let server = jwks_server(json!({"keys": []})).await;
        let v = hmac_verifier(descriptor(HS256_ONLY));
        let mut header = Header::new(J::HS256);
        header.jku = Some(server.url.clone());
        header.x5u = Some(server.url.clone());
        let token = encode(&header, &claims(), &EncodingKey::from_secret(SECRET)).expect("encode");
        assert!(v.verify_at(&token, NOW).await.is_ok());
        assert_eq!(server.hits(), 0);
    }

    #[tokio::test]
    async fn embedded_jwk_header_is_ignored() {
        let keys = KeySet::new().rsa_pem("main", RSA_PUBLIC).expect("rsa");
        let v = Verifier::new(leak(descriptor(RS256_ONLY)), keys).expect("verifier");
        let attacker = rsa2_key();
        let mut header = Header::new(J::RS256);
        header.jwk = Some(Jwk::from_encoding_key(&attacker, J::RS256).expect("jwk"));
        let token = encode(&header, &claims(), &attacker).expect("encode");
        assert_eq!(v.verify_at(&token, NOW).await, Err(JwtError::BadSignature));
    }

    #[tokio::test]
    async fn malformed_input_is_rejected_without_panicking() {
        let v = hmac_verifier(descriptor(HS256_ONLY));
        let key = EncodingKey::from_secret(SECRET);
        let payload = claims().to_string();
        let huge = format!("{}.e30.sig", "A".repeat(MAX_TOKEN_BYTES));
        let inputs = [
            String::new(),
            ".".into(),
            "..".into(),
            "a.b".into(),
            "a.b.c.d".into(),
            "!!!.e30.c2ln".into(),
            "é.é.é".into(),
            "W10.e30.c2ln".into(), // header `[]`
            huge,
            sign_raw(r#"{"alg":"HS256","alg":"none"}"#, &payload, J::HS256, &key),
            sign_raw(r#"{"alg":"none","alg":"HS256"}"#, &payload, J::HS256, &key),
            sign_raw(r#"{"alg":256}"#, &payload, J::HS256, &key),
            sign_raw(r#"{"typ":"JWT"}"#, &payload, J::HS256, &key),
            sign_raw(r#"{"alg":"HS256","kid":7}"#, &payload, J::HS256, &key),
            sign_raw(r#"{"alg":"HS256"}"#, "[1,2]", J::HS256, &key),
            sign_raw(
                r#"{"alg":"HS256"}"#,
                &format!(r#"{{"sub":"alice","sub":"mallory",{}"#, &payload[1..]),
                J::HS256,
                &key,
            ),
        ];
        for input in &inputs {
            assert_eq!(
                v.verify_at(input, NOW).await,
                Err(JwtError::Malformed),
                "{}",
                &input[..input.len().min(80)]
            );
        }
    }

    #[tokio::test]
    async fn error_messages_never_contain_the_token() {
        let v = hmac_verifier(descriptor(HS256_ONLY));
        let tokens = [
            mint(
                J::HS256,
                None,
                &claims(),
                &EncodingKey::from_secret(OTHER_SECRET),
            ),
            hs256(&with(claims(), "exp", json!(NOW - 1000))),
            hs256(&with(claims(), "sub", json!(42))),
            hs256(&with(claims(), "iss", json!("https://evil.test"))),
            mint(
                J::HS256,
                Some("secret-kid-value"),
                &claims(),
                &EncodingKey::from_secret(SECRET),
            ),
        ];
        for token in &tokens {
            let message = v
                .verify_at(token, NOW)
                .await
                .expect_err("rejected")
                .to_string();
            assert!(!message.contains(token.as_str()));
            for segment in token.split('.') {
                assert!(!message.contains(segment), "{message}");
            }
            assert!(!message.contains("secret-kid-value") && !message.contains("evil"));
            assert_eq!(message, message.to_lowercase());
        }
    }

    // ---- configuration ------------------------------------------------

    #[test]
    fn short_hmac_secret_is_refused() {
        let secret = [7u8; 31];
        let err = KeySet::new()
            .hmac("default", &secret)
            .expect_err("31 bytes");
        assert!(matches!(err, ConfigError::ShortSecret { len: 31, .. }));
        assert!(KeySet::new().hmac("default", &[7u8; 32]).is_ok());
    }

    #[test]
    fn family_mismatch_is_refused() {
        let hmac = KeySet::new().hmac("main", SECRET).expect("secret");
        let err = Verifier::new(leak(descriptor(RS256_ONLY)), hmac).expect_err("mismatch");
        assert!(matches!(
            err,
            ConfigError::FamilyMismatch {
                key: KeyFamily::Hmac,
                algorithm: RS256,
                ..
            }
        ));
        let rsa = KeySet::new().rsa_pem("default", RSA_PUBLIC).expect("rsa");
        let err = Verifier::new(leak(descriptor(HS256_ONLY)), rsa).expect_err("mismatch");
        assert!(matches!(err, ConfigError::FamilyMismatch { .. }));

        static ES384_SLOT: &[KeySlot] = &[KeySlot {
            name: "ec",
            algorithms: &[ES384],
        }];
        let p256 = KeySet::new().ec_pem("ec", EC256_PUBLIC).expect("ec");
        let err = Verifier::new(leak(descriptor(ES384_SLOT)), p256).expect_err("curve");
        assert!(matches!(
            err,
            ConfigError::CurveMismatch {
                algorithm: ES384,
                ..
            }
        ));
    }

    /// A spec with `auth` (and `jwt`, when given) and nothing else.
    fn api(auth: bool, jwt: Option<JwtDescriptor>) -> &'static ApiDescriptor {
        use crate::descriptor::AuthDescriptor;
        use wsauth_spec::{ExpiryPolicy, TokenSource};
        Box::leak(Box::new(ApiDescriptor {
            name: "test",
            auth: auth.then_some(AuthDescriptor {
                sources: &[TokenSource::Header],
                jwt,
                introspection: None,
                on_expiry: ExpiryPolicy::Close,
                anonymous_role: None,
            }),
            roles: &[],
            close_codes: &[],
            stats: None,
            endpoints: &[],
        }))
    }

    #[tokio::test]
    async fn a_verifier_for_a_spec_uses_its_jwt_settings() {
        let keys = || KeySet::new().hmac("default", SECRET).expect("secret");
        let verifier =
            Verifier::for_api(api(true, Some(descriptor(HS256_ONLY))), keys()).expect("verifier");
        let got = check(&verifier, &claims()).await.expect("valid token");
        assert_eq!(got.subject, "alice");
        assert_eq!(verifier.descriptor().issuer, Some(ISS));
        // The spec's rules, not defaults: its issuer is required.
        let foreign = with(claims(), "iss", json!("https://other.test"));
        assert!(check(&verifier, &foreign).await.is_err());
        // The key set is still checked against the spec's slots.
        let err = Verifier::for_api(api(true, Some(descriptor(RS256_ONLY))), keys())
            .expect_err("no key for the spec's slot");
        assert!(matches!(err, ConfigError::MissingKey { slot: "main" }));
        for no_jwt in [api(true, None), api(false, None)] {
            let err = Verifier::for_api(no_jwt, keys()).expect_err("no jwt settings");
            assert!(matches!(err, ConfigError::NoJwtSettings));
            assert_eq!(err.to_string(), "the spec declares no jwt settings");
        }
    }

    #[test]
    fn slots_and_keys_must_pair_up() {
        let err = Verifier::new(
            leak(descriptor(TWO_SLOTS)),
            KeySet::new().hmac("a", SECRET).expect("a"),
        )
        .expect_err("b has no key");
        assert!(matches!(err, ConfigError::MissingKey { slot: "b" }));
        let extra = KeySet::new()
            .hmac("default", SECRET)
            .and_then(|k| k.hmac("spare", SECRET))
            .expect("keys");
        let err = Verifier::new(leak(descriptor(HS256_ONLY)), extra).expect_err("spare");
        assert!(matches!(err, ConfigError::UnknownSlot { ref slot } if slot == "spare"));
        let err = KeySet::new()
            .hmac("a", SECRET)
            .and_then(|k| k.hmac("a", SECRET))
            .expect_err("twice");
        assert!(matches!(err, ConfigError::DuplicateSlot { .. }));
        let err = Verifier::new(leak(descriptor(&[])), KeySet::new()).expect_err("no slots");
        assert!(matches!(err, ConfigError::NoSlots));
        let mut lax = descriptor(HS256_ONLY);
        lax.leeway_s = wsauth_spec::MAX_LEEWAY_S + 1;
        let keys = KeySet::new().hmac("default", SECRET).expect("key");
        let err = Verifier::new(leak(lax), keys).expect_err("leeway");
        assert!(matches!(err, ConfigError::LeewayTooLarge(301)));
    }

    #[test]
    fn bad_pems_are_refused() {
        let err = KeySet::new()
            .rsa_pem("k", RSA_PRIVATE)
            .expect_err("private");
        assert!(matches!(err, ConfigError::PrivateKey { .. }));
        let err = KeySet::new()
            .ec_pem("k", EC256_PRIVATE)
            .expect_err("private");
        assert!(matches!(err, ConfigError::PrivateKey { .. }));
        let err = KeySet::new()
            .rsa_pem("k", RSA1024_PUBLIC)
            .expect_err("weak");
        assert!(matches!(err, ConfigError::WeakRsaKey { bits: 1024, .. }));
        for (pem, what) in [
            (EC256_PUBLIC, "ec as rsa"),
            (b"not a pem".as_slice(), "garbage"),
            (
                b"-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----\n".as_slice(),
                "empty",
            ),
        ] {
            let err = KeySet::new().rsa_pem("k", pem).expect_err(what);
            assert!(matches!(err, ConfigError::BadKey { .. }), "{what}");
        }
        let err = KeySet::new()
            .ec_pem("k", RSA_PUBLIC)
            .expect_err("rsa as ec");
        assert!(matches!(err, ConfigError::BadKey { .. }));
        let err = KeySet::new()
            .ed_pem("k", EC256_PUBLIC)
            .expect_err("ec as ed");
        assert!(matches!(err, ConfigError::BadKey { .. }));
        let message = KeySet::new()
            .hmac("k", b"short-secret-value")
            .expect_err("short")
            .to_string();
        assert!(!message.contains("short-secret-value"));
    }

    #[test]
    fn jwks_configuration_is_checked() {
        let day = Duration::from_secs(86_400);
        // Which URLs may be fetched is tested in `outbound`; here, that it applies.
        assert!(matches!(
            JwksSource::new("http://idp.example/jwks", day, day),
            Err(ConfigError::BadJwksUrl(_))
        ));
        let source = JwksSource::new("https://idp.example/jwks", day, day).expect("url");
        let keys = KeySet::new().jwks("default", source).expect("keys");
        let err = Verifier::new(leak(descriptor(HS256_ONLY)), keys).expect_err("hmac jwks");
        assert!(matches!(err, ConfigError::JwksSymmetric { .. }));
    }

    // ---- dangerous: the non-expiring token ------------------------------

    const DEV_JTI: &str = "d7c1a0f5e3b94b2c8a6f1e0d9c8b7a65";

    fn dev_verifier() -> Verifier {
        let mut d = descriptor(HS256_ONLY);
        d.max_ttl_s = Some(600);
        dangerous::accept_non_expiring(hmac_verifier(d), DEV_JTI)
    }

    fn dev_claims() -> Value {
        with(without(claims(), "exp"), "jti", json!(DEV_JTI))
    }

    #[tokio::test]
    async fn the_non_expiring_token_is_accepted_only_when_asked_for() {
        let mut d = descriptor(HS256_ONLY);
        d.max_ttl_s = Some(600);
        let plain = hmac_verifier(d);
        assert_eq!(
            check(&plain, &dev_claims()).await,
            Err(JwtError::MissingClaim { claim: "exp" }),
            "the default verifier refuses every token without exp"
        );
        let v = dev_verifier();
        assert!(format!("{v:?}").contains("accepts_non_expiring: true"));
        let got = check(&v, &dev_claims()).await.expect("accepted");
        assert_eq!(got.exp, dangerous::NON_EXPIRING_EXP);
        assert_eq!(got.subject, "alice");
        // Still accepted long after: no lifetime, no expiry.
        let token = hs256(&dev_claims());
        let later = NOW + 100 * 365 * 86_400;
        assert!(v.verify_at(&token, later).await.is_ok());
        // Adding the reported exp to a clock cannot overflow.
        assert!(
            std::time::Instant::now()
                .checked_add(Duration::from_secs(dangerous::NON_EXPIRING_EXP))
                .is_some()
        );
    }

    #[tokio::test]
    async fn the_non_expiring_option_is_narrow() {
        let v = dev_verifier();
        let missing_exp = Err(JwtError::MissingClaim { claim: "exp" });
        // Another jti, a jti of another type, no jti: exp is required.
        for claims in [
            with(dev_claims(), "jti", json!("another")),
            with(
                dev_claims(),
                "jti",
                json!(["d7c1a0f5e3b94b2c8a6f1e0d9c8b7a65"]),
            ),
            with(dev_claims(), "jti", json!("")),
            without(dev_claims(), "jti"),
        ] {
            assert_eq!(check(&v, &claims).await, missing_exp, "{claims}");
        }
        // An empty jti enables nothing.
        let none = dangerous::accept_non_expiring(hmac_verifier(descriptor(HS256_ONLY)), "");
        let empty = with(dev_claims(), "jti", json!(""));
        assert_eq!(check(&none, &empty).await, missing_exp);
        // The marked token with an exp is an ordinary token: it expires and
        // its lifetime is bounded.
        let expired = with(dev_claims(), "exp", json!(NOW - 60));
        assert_eq!(check(&v, &expired).await, Err(JwtError::Expired));
        let long = with(dev_claims(), "exp", json!(NOW + 601));
        assert_eq!(check(&v, &long).await, Err(JwtError::LifetimeTooLong));
        // Every other check still applies.
        assert_eq!(
            check(&v, &with(dev_claims(), "iss", json!("https://evil.test"))).await,
            Err(JwtError::WrongIssuer)
        );
        assert_eq!(
            check(&v, &with(dev_claims(), "aud", json!("elsewhere"))).await,
            Err(JwtError::WrongAudience)
        );
        assert_eq!(
            check(&v, &with(dev_claims(), "nbf", json!(NOW + 3600))).await,
            Err(JwtError::NotYetValid)
        );
        assert_eq!(
            check(&v, &without(dev_claims(), "sub")).await,
            Err(JwtError::MissingClaim { claim: "sub" })
        );
        let forged = mint(
            J::HS256,
            None,
            &dev_claims(),
            &EncodingKey::from_secret(OTHER_SECRET),
        );
        assert_eq!(v.verify_at(&forged, NOW).await, Err(JwtError::BadSignature));
        // Clones share the option; the original verifier is unchanged.
        let plain = hmac_verifier(descriptor(HS256_ONLY));
        let dev = dangerous::accept_non_expiring(plain.clone(), DEV_JTI);
        assert!(check(&dev.clone(), &dev_claims()).await.is_ok());
        assert_eq!(check(&plain, &dev_claims()).await, missing_exp);
    }

    // ---- JWKS ----------------------------------------------------------

    #[derive(Clone)]
    struct JwksServer {
        url: String,
        hits: Arc<AtomicUsize>,
        body: Arc<std::sync::Mutex<Value>>,
        down: Arc<AtomicBool>,
    }

    impl JwksServer {
        fn hits(&self) -> usize {
            self.hits.load(Ordering::SeqCst)
        }
        fn set(&self, body: Value) {
            *self.body.lock().expect("lock") = body;
        }
        fn set_down(&self, down: bool) {
            self.down.store(down, Ordering::SeqCst);
        }
    }

    async fn jwks_server(body: Value) -> JwksServer {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let addr = listener.local_addr().expect("addr");
        let server = JwksServer {
            url: format!("http://{addr}/jwks"),
            hits: Arc::default(),
            body: Arc::new(std::sync::Mutex::new(body)),
            down: Arc::default(),
        };
        let app = axum::Router::new()
            .route(
                "/jwks",
                axum::routing::get(
                    |axum::extract::State(s): axum::extract::State<JwksServer>| async move {
                        s.hits.fetch_add(1, Ordering::SeqCst);
                        if s.down.load(Ordering::SeqCst) {
                            return Err(http::StatusCode::INTERNAL_SERVER_ERROR);
                        }
                        Ok(axum::Json(s.body.lock().expect("lock").clone()))
                    },
                ),
            )
            .with_state(server.clone());
        tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        server
    }

    fn jwk(key: &EncodingKey, alg: J, kid: &str) -> Value {
        let mut value =
            serde_json::to_value(Jwk::from_encoding_key(key, alg).expect("jwk")).expect("json");
        value["kid"] = json!(kid);
        value
    }

    fn jwks_verifier(
        slots: &'static [KeySlot],
        url: &str,
        max_age: Duration,
        cooldown: Duration,
    ) -> Verifier {
        let source = JwksSource::with_times(url, max_age, cooldown).expect("url");
        jwks_verifier_from(slots, source)
    }

    fn jwks_verifier_from(slots: &'static [KeySlot], source: JwksSource) -> Verifier {
        let keys = KeySet::new().jwks("partner", source).expect("keys");
        Verifier::new(leak(descriptor(slots)), keys).expect("verifier")
    }

    const HOUR: Duration = Duration::from_secs(3600);

    #[tokio::test]
    async fn jwks_keys_verify_and_are_cached() {
        let server = jwks_server(json!({"keys": [jwk(&rsa_key(), J::RS256, "k1")]})).await;
        let v = jwks_verifier(PARTNER, &server.url, HOUR, HOUR);
        let token = mint(J::RS256, Some("k1"), &claims(), &rsa_key());
        assert!(v.verify_at(&token, NOW).await.is_ok());
        assert!(v.verify_at(&token, NOW).await.is_ok());
        assert_eq!(server.hits(), 1);
        // A JWKS slot needs a kid; a key signed by someone else fails.
        let no_kid = mint(J::RS256, None, &claims(), &rsa_key());
        assert_eq!(v.verify_at(&no_kid, NOW).await, Err(JwtError::KidRequired));
        let forged = mint(J::RS256, Some("k1"), &claims(), &rsa2_key());
        assert_eq!(v.verify_at(&forged, NOW).await, Err(JwtError::BadSignature));
    }

    #[tokio::test]
    async fn jwks_keys_are_limited_to_the_slot_algorithms() {
        let ec = EncodingKey::from_ec_pem(EC256_PRIVATE).expect("ec");
        let server = jwks_server(json!({"keys": [
            jwk(&rsa_key(), J::RS256, "rs"),          // alg RS256 only
            jwk(&ec, J::ES256, "ec"),                 // family not allowed
            {"kty": "oct", "k": URL_SAFE_NO_PAD.encode(SECRET), "kid": "oct"},
            with(jwk(&rsa2_key(), J::RS256, "enc"), "use", json!("enc")),
        ]}))
        .await;
        let v = jwks_verifier(PARTNER_RS_PS, &server.url, HOUR, HOUR);
        let rs = mint(J::RS256, Some("rs"), &claims(), &rsa_key());
        assert!(v.verify_at(&rs, NOW).await.is_ok());
        let ps = mint(J::PS256, Some("rs"), &claims(), &rsa_key());
        assert_eq!(
            v.verify_at(&ps, NOW).await,
            Err(JwtError::AlgorithmNotAllowed { alg: Some(PS256) })
        );
        // Keys of other families, and shared secrets, are not in the set at
        // all: a token naming them finds no key (rather than a key whose
        // algorithm check would have to save the day).
        for kid in ["ec", "oct"] {
            let token = mint(J::RS256, Some(kid), &claims(), &rsa_key());
            assert_eq!(v.verify_at(&token, NOW).await, Err(JwtError::UnknownKey));
        }
        let es = mint(J::ES256, Some("ec"), &claims(), &ec);
        assert_eq!(
            v.verify_at(&es, NOW).await,
            Err(JwtError::AlgorithmNotAllowed { alg: Some(ES256) })
        );
        let enc = mint(J::RS256, Some("enc"), &claims(), &rsa2_key());
        assert_eq!(v.verify_at(&enc, NOW).await, Err(JwtError::UnknownKey));
    }

    #[tokio::test]
    async fn algorithm_no_slot_allows_triggers_no_fetch() {
        let server = jwks_server(json!({"keys": []})).await;
        let v = jwks_verifier(PARTNER, &server.url, HOUR, Duration::ZERO);
        let token = mint(
            J::HS256,
            Some("k1"),
            &claims(),
            &EncodingKey::from_secret(SECRET),
        );
        assert_eq!(
            v.verify_at(&token, NOW).await,
            Err(JwtError::AlgorithmNotAllowed { alg: Some(HS256) })
        );
        assert_eq!(server.hits(), 0);
    }

    #[tokio::test]
    async fn jwks_rotation_is_picked_up() {
        let k1 = jwk(&rsa_key(), J::RS256, "k1");
        let server = jwks_server(json!({"keys": [k1.clone()]})).await;
        let v = jwks_verifier(PARTNER, &server.url, HOUR, Duration::ZERO);
        let t1 = mint(J::RS256, Some("k1"), &claims(), &rsa_key());
        let t2 = mint(J::RS256, Some("k2"), &claims(), &rsa2_key());
        assert!(v.verify_at(&t1, NOW).await.is_ok());
        assert_eq!(v.verify_at(&t2, NOW).await, Err(JwtError::UnknownKey));
        assert_eq!(server.hits(), 2, "an unknown kid triggers a re-fetch");

        server.set(json!({"keys": [k1, jwk(&rsa2_key(), J::RS256, "k2")]}));
        assert!(v.verify_at(&t2, NOW).await.is_ok());
        assert!(v.verify_at(&t1, NOW).await.is_ok());
        assert_eq!(server.hits(), 3);

        // A key removed from the set stops verifying once the set is re-read.
        server.set(json!({"keys": [jwk(&rsa2_key(), J::RS256, "k2")]}));
        let t3 = mint(J::RS256, Some("k3"), &claims(), &rsa2_key());
        assert_eq!(v.verify_at(&t3, NOW).await, Err(JwtError::UnknownKey));
        assert_eq!(v.verify_at(&t1, NOW).await, Err(JwtError::UnknownKey));
    }

    #[tokio::test]
    async fn jwks_cooldown_prevents_a_fetch_storm() {
        let server = jwks_server(json!({"keys": [jwk(&rsa_key(), J::RS256, "k1")]})).await;
        let v = jwks_verifier(PARTNER, &server.url, HOUR, HOUR);
        let t1 = mint(J::RS256, Some("k1"), &claims(), &rsa_key());
        assert!(v.verify_at(&t1, NOW).await.is_ok());
        for i in 0..20 {
            let t = mint(J::RS256, Some(&format!("nope-{i}")), &claims(), &rsa_key());
            assert_eq!(v.verify_at(&t, NOW).await, Err(JwtError::UnknownKey));
        }
        assert_eq!(server.hits(), 1);
        // Even a genuinely new key waits for the cool-down.
        server.set(json!({"keys": [jwk(&rsa2_key(), J::RS256, "k2")]}));
        let t2 = mint(J::RS256, Some("k2"), &claims(), &rsa2_key());
        assert_eq!(v.verify_at(&t2, NOW).await, Err(JwtError::UnknownKey));
        assert_eq!(server.hits(), 1);
    }

    #[tokio::test]
    async fn concurrent_misses_share_one_fetch() {
        let server = jwks_server(json!({"keys": [jwk(&rsa_key(), J::RS256, "k1")]})).await;
        let v = jwks_verifier(PARTNER, &server.url, HOUR, HOUR);
        let token = mint(J::RS256, Some("k1"), &claims(), &rsa_key());
        let tasks: Vec<_> = (0..16)
            .map(|_| {
                let (v, token) = (v.clone(), token.clone());
                tokio::spawn(async move { v.verify_at(&token, NOW).await })
            })
            .collect();
        for task in tasks {
            let r = task.await.expect("task");
            assert!(r.is_ok(), "{r:?}");
        }
        assert_eq!(server.hits(), 1);
    }

    #[tokio::test]
    async fn jwks_is_refreshed_after_max_age() {
        let server = jwks_server(json!({"keys": [jwk(&rsa_key(), J::RS256, "k1")]})).await;
        let v = jwks_verifier(
            PARTNER,
            &server.url,
            Duration::from_millis(200),
            Duration::ZERO,
        );
        let token = mint(J::RS256, Some("k1"), &claims(), &rsa_key());
        assert!(v.verify_at(&token, NOW).await.is_ok());
        assert!(v.verify_at(&token, NOW).await.is_ok());
        assert_eq!(server.hits(), 1);
        tokio::time::sleep(Duration::from_millis(300)).await;
        assert!(v.verify_at(&token, NOW).await.is_ok());
        assert_eq!(server.hits(), 2);
    }

    #[tokio::test]
    async fn jwks_server_down_keeps_the_last_good_set() {
        let server = jwks_server(json!({"keys": [jwk(&rsa_key(), J::RS256, "k1")]})).await;
        // Always stale, no cool-down: every token tries to refresh.
        let source = JwksSource::with_times(&server.url, Duration::ZERO, Duration::ZERO)
            .and_then(|s| s.max_stale(HOUR))
            .expect("source");
        let v = jwks_verifier_from(PARTNER, source);
        let token = mint(J::RS256, Some("k1"), &claims(), &rsa_key());
        assert!(v.verify_at(&token, NOW).await.is_ok());
        server.set_down(true);
        assert!(v.verify_at(&token, NOW).await.is_ok());
        assert_eq!(server.hits(), 2, "the refresh was attempted and failed");
        // Garbage is a failure too, not an empty set.
        server.set_down(false);
        server.set(json!({"not": "a jwks"}));
        assert!(v.verify_at(&token, NOW).await.is_ok());
        assert_eq!(server.hits(), 3);
    }

    #[tokio::test]
    async fn a_set_older_than_max_stale_stops_verifying() {
        let server = jwks_server(json!({"keys": [jwk(&rsa_key(), J::RS256, "k1")]})).await;
        let ms = Duration::from_millis;
        let source = JwksSource::with_times(&server.url, ms(100), Duration::ZERO)
            .and_then(|s| s.max_stale(ms(1500)))
            .expect("source");
        let v = jwks_verifier_from(PARTNER, source);
        let token = mint(J::RS256, Some("k1"), &claims(), &rsa_key());
        assert!(v.verify_at(&token, NOW).await.is_ok());
        server.set_down(true);
        tokio::time::sleep(ms(150)).await;
        assert!(
            v.verify_at(&token, NOW).await.is_ok(),
            "stale, refresh failed, within max_stale: the last good set"
        );
        tokio::time::sleep(ms(1500)).await;
        let err = v.verify_at(&token, NOW).await.expect_err("too stale");
        assert_eq!(err, JwtError::KeysUnavailable { slot: "partner" });
        // A good fetch brings it back.
        server.set_down(false);
        assert!(v.verify_at(&token, NOW).await.is_ok());
    }

    #[test]
    fn jwks_times_that_defeat_the_cache_are_refused() {
        let url = "https://idp.example/jwks";
        let secs = Duration::from_secs;
        for (max_age, cooldown) in [(HOUR, Duration::ZERO), (HOUR, Duration::from_millis(999))] {
            let err = JwksSource::new(url, max_age, cooldown).expect_err("cooldown");
            assert!(matches!(err, ConfigError::BadJwksTiming(_)), "{err}");
        }
        let err = JwksSource::new(url, secs(10), secs(30)).expect_err("max_age < cooldown");
        assert!(matches!(err, ConfigError::BadJwksTiming(_)), "{err}");
        let source = JwksSource::new(url, secs(60), MIN_JWKS_COOLDOWN).expect("ok");
        let err = source.max_stale(secs(59)).expect_err("max_stale < max_age");
        assert!(matches!(err, ConfigError::BadJwksTiming(_)), "{err}");
    }

    #[tokio::test]
    async fn jwks_never_fetched_fails_closed() {
        // Nothing listens on this port any more.
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let url = format!("http://{}/jwks", listener.local_addr().expect("addr"));
        drop(listener);
        let v = jwks_verifier(PARTNER, &url, HOUR, Duration::ZERO);
        let token = mint(J::RS256, Some("k1"), &claims(), &rsa_key());
        let err = v.verify_at(&token, NOW).await.expect_err("no keys");
        assert_eq!(err, JwtError::KeysUnavailable { slot: "partner" });
        assert!(err.is_server_error());
        assert!(!err.to_string().contains(&token));
        assert!(v.warm_up().await.is_err());

        // An error status from the start is the same.
        let server = jwks_server(json!({"keys": []})).await;
        server.set_down(true);
        let v = jwks_verifier(PARTNER, &server.url, HOUR, HOUR);
        let err = v.verify_at(&token, NOW).await.expect_err("no keys");
        assert!(err.is_server_error());
        // Client errors are not server errors.
        assert!(!JwtError::Expired.is_server_error());
        assert!(!JwtError::UnknownKey.is_server_error());
        assert!(!JwtError::BadSignature.is_server_error());
    }

    #[tokio::test]
    async fn warm_up_fetches_before_the_first_token() {
        let server = jwks_server(json!({"keys": [jwk(&rsa_key(), J::RS256, "k1")]})).await;
        let v = jwks_verifier(PARTNER, &server.url, HOUR, HOUR);
        assert_eq!(v.warm_up().await, Ok(()));
        assert_eq!(server.hits(), 1);
        let token = mint(J::RS256, Some("k1"), &claims(), &rsa_key());
        assert!(v.verify_at(&token, NOW).await.is_ok());
        assert_eq!(server.hits(), 1);
    }

    #[test]
    fn debug_never_shows_key_material() {
        let keys = KeySet::new().hmac("default", SECRET).expect("secret");
        let verifier = hmac_verifier(descriptor(HS256_ONLY));
        let as_bytes = format!("{SECRET:?}");
        for shown in [
            format!("{keys:?}"),
            format!("{keys:#?}"),
            format!("{verifier:?}"),
            format!("{verifier:#?}"),
        ] {
            assert!(shown.contains("default"), "slots are named: {shown}");
            assert!(!shown.contains("0123456789abcdef"), "{shown}");
            assert!(!shown.contains(&as_bytes[1..20]), "{shown}");
        }
    }
}
