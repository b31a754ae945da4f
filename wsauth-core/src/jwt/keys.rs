//! [`KeySet`]: the keys the operator supplies, by slot, and the checks that
//! refuse a key before the server starts (a short HMAC secret, a key of the
//! wrong family, a private key where a public one belongs).

use std::fmt;

use jsonwebtoken::DecodingKey;
use jsonwebtoken::crypto::rust_crypto::DEFAULT_PROVIDER;
use wsauth_spec::{Algorithm, KeyFamily};

use super::hmac::HmacKey;
use super::{ConfigError, JwksSource, family_word};

/// Shortest HMAC secret accepted, in bytes (256 bits).
pub const MIN_HMAC_SECRET_BYTES: usize = 32;
/// Smallest RSA modulus accepted, in bits.
pub const MIN_RSA_BITS: usize = 2048;

/// A verification key and the algorithms it can verify.
pub(super) struct KeyEntry {
    pub(super) key: DecodingKey,
    /// The secret keyed for HS256/384/512, for an HMAC key.
    pub(super) hmac: Option<Box<HmacKey>>,
    pub(super) family: KeyFamily,
    pub(super) algorithms: Vec<Algorithm>,
}

pub(super) enum KeySource {
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
    pub(super) slots: Vec<(String, KeySource)>,
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
            hmac: Some(Box::new(
                HmacKey::new(secret).ok_or_else(|| bad_key(slot, "not an hmac key"))?,
            )),
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
            hmac: None,
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
            hmac: None,
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
            hmac: None,
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

pub(super) const RSA_ALGORITHMS: [Algorithm; 6] = [
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
pub(super) fn modulus_bits(n: &[u8]) -> usize {
    let mut digits = n.iter().skip_while(|b| **b == 0);
    match digits.next() {
        None => 0,
        Some(first) => (8 - first.leading_zeros() as usize) + 8 * digits.count(),
    }
}

/// Whether the backend accepts `key` for `alg` (EC points on the curve,
/// Ed25519 points of the right size).
pub(super) fn key_verifies(key: &DecodingKey, alg: Algorithm) -> bool {
    (DEFAULT_PROVIDER.verifier_factory)(&backend_alg(alg), key).is_ok()
}

pub(super) fn backend_alg(alg: Algorithm) -> jsonwebtoken::Algorithm {
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
