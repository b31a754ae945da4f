//! [`JwksSource`]: a slot whose keys are fetched from a JWKS URL, cached,
//! refreshed after a maximum age and re-fetched (at most once per
//! cool-down) for an unknown `kid`.

use std::collections::{HashMap, HashSet};
use std::fmt;
use std::sync::Arc;
use std::time::{Duration, Instant};

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::DecodingKey;
use jsonwebtoken::jwk::{
    AlgorithmParameters, EllipticCurve, Jwk, KeyAlgorithm, KeyOperations, PublicKeyUse,
};
use serde::Deserialize;
use serde_json::Value;
use wsauth_spec::{Algorithm, KeyFamily};

use crate::outbound::{self, BodyError};

use super::ConfigError;
use super::keys::{KeyEntry, MIN_RSA_BITS, RSA_ALGORITHMS, key_verifies, modulus_bits};

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
    pub(super) fn with_times(
        url: &str,
        max_age: Duration,
        cooldown: Duration,
    ) -> Result<Self, ConfigError> {
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
pub(super) struct JwksCache {
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
pub(super) struct NoUsableSet;

impl JwksCache {
    /// The cache of `slot`, empty until the first fetch.
    pub(super) fn new(
        slot: &'static str,
        allowed: &'static [Algorithm],
        source: JwksSource,
    ) -> Result<Self, ConfigError> {
        let client = outbound::client(source.timeout)
            .map_err(|source| ConfigError::HttpClient { slot, source })?;
        Ok(JwksCache {
            slot,
            allowed,
            source,
            client,
            state: tokio::sync::RwLock::new(JwksState::default()),
            fetch_lock: Arc::new(tokio::sync::Mutex::new(())),
        })
    }

    /// Whether a good set was ever fetched.
    pub(super) async fn has_set(&self) -> bool {
        self.state.read().await.keys.is_some()
    }

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
    pub(super) async fn lookup(
        self: &Arc<Self>,
        kid: &str,
    ) -> Result<Option<Arc<KeyEntry>>, NoUsableSet> {
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
    pub(super) async fn fetch_if_wanted(self: &Arc<Self>, kid: Option<&str>) {
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
        hmac: None,
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
