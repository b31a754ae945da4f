//! [`Verifier`]: the key set checked against the spec once, then one token
//! at a time: header, key by `kid`, signature, claims.

use std::collections::HashMap;
use std::fmt;
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use jsonwebtoken::Validation;
use wsauth_spec::{Algorithm, KeyFamily};

use crate::descriptor::{ApiDescriptor, JwtDescriptor};

use super::claims::{StrictObject, check_claims, decode_object};
use super::header::Header;
use super::hmac::Refused;
use super::jwks::{JwksCache, NoUsableSet};
use super::keys::{KeyEntry, KeySource, backend_alg};
use super::{Claims, ConfigError, JwtError, KeySet};

/// Longest token looked at, in bytes; longer ones are malformed.
pub use wsauth_spec::wire::MAX_TOKEN_BYTES;

enum SlotKeys {
    Static(Arc<KeyEntry>),
    Jwks(Arc<JwksCache>),
}

struct Slot {
    name: &'static str,
    algorithms: &'static [Algorithm],
    keys: SlotKeys,
}

pub(super) struct Inner {
    descriptor: &'static JwtDescriptor,
    slots: Vec<Slot>,
}

/// Verifies tokens against one descriptor with one key set. Cheap to clone
/// (shared state, including JWKS caches).
#[derive(Clone)]
pub struct Verifier {
    pub(super) inner: Arc<Inner>,
    /// The `jti` of the one token accepted without `exp`, when
    /// [`dangerous::accept_non_expiring`] asked for one.
    pub(super) non_expiring: Option<Arc<str>>,
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
                    SlotKeys::Jwks(Arc::new(JwksCache::new(
                        slot.name,
                        slot.algorithms,
                        source,
                    )?))
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
    /// # static API: wsauth_core::ApiDescriptor = wsauth_core::ApiDescriptor {
    /// #     name: "x", auth: None, roles: &[], close_codes: &[], stats: None, endpoints: &[],
    /// #     topics: &[] };
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
                if !cache.has_set().await {
                    cache.fetch_if_wanted(None).await;
                }
                if !cache.has_set().await {
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
        let (header_segment, payload, signature) = match (
            segments.next(),
            segments.next(),
            segments.next(),
            segments.next(),
        ) {
            (Some(header), Some(payload), Some(signature), None)
                if !header.is_empty() && !payload.is_empty() =>
            {
                (header, payload, signature)
            }
            _ => return Err(JwtError::Malformed),
        };
        if crate::faults::on(crate::faults::Fault::AcceptAlgNone)
            && crate::faults::says_alg_none(header_segment)
        {
            let claims = decode_object(payload)?;
            return check_claims(
                self.inner.descriptor,
                claims,
                now,
                self.non_expiring.as_deref(),
            );
        }
        let header = Header::decode(header_segment)?;
        let alg = header.alg;
        // No slot takes this algorithm: reject before any JWKS fetch.
        if !self.inner.slots.iter().any(|s| s.algorithms.contains(&alg)) {
            return Err(JwtError::AlgorithmNotAllowed { alg: Some(alg) });
        }
        let kid = header.kid()?;

        let entry = self.key_for(kid).await?;
        if !entry.algorithms.contains(&alg) {
            return Err(JwtError::AlgorithmNotAllowed { alg: Some(alg) });
        }

        let descriptor = self.inner.descriptor;
        let claims = match &entry.hmac {
            Some(key) => {
                // `header.payload`: what the tag signs.
                let signing_input = &token[..header_segment.len() + 1 + payload.len()];
                key.check(alg, signing_input.as_bytes(), signature)
                    .map_err(|refused| match refused {
                        Refused::Malformed => JwtError::Malformed,
                        Refused::Mismatch => JwtError::BadSignature,
                        Refused::NotHmac => JwtError::AlgorithmNotAllowed { alg: Some(alg) },
                    })?;
                decode_object(payload)?
            }
            None => {
                // Signature and algorithm only: time claims are checked
                // below against `now`, since jsonwebtoken would read the
                // system clock.
                let mut validation = Validation::new(backend_alg(alg));
                validation.leeway = descriptor.leeway_s;
                validation.validate_exp = false;
                validation.validate_nbf = false;
                validation.validate_aud = false;
                validation.required_spec_claims.clear();
                jsonwebtoken::decode::<StrictObject>(token, &entry.key, &validation)
                    .map_err(|e| backend_error(&e))?
                    .claims
                    .0
            }
        };
        check_claims(descriptor, claims, now, self.non_expiring.as_deref())
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
