//! JWT verification against a
//! [`JwtDescriptor`](crate::descriptor::JwtDescriptor), with keys supplied
//! at run time.
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
//! HMAC signatures are checked in `hmac.rs` with keys prepared once,
//! others by `jsonwebtoken` (RustCrypto backend, the same primitives); the
//! time-based claims are checked here, against an explicit `now`, because
//! `jsonwebtoken` reads the system clock.
//!
//! The one way around a default is in [`dangerous`], named so that it shows
//! in review: [`dangerous::accept_non_expiring`] lets a development server
//! accept a single token without `exp`.
//!
//! The files follow that shape: `keys.rs` ([`KeySet`] and the start-up
//! checks of each key), `jwks.rs` ([`JwksSource`], its cache and the
//! document's parsing), `verify.rs` ([`Verifier`]: key choice and
//! signature), `header.rs` (the JOSE header, read once), `hmac.rs` (HMAC
//! tags with keys prepared once), `claims.rs` (the claims' rules, shared
//! with introspection) and `dangerous.rs`; the errors and [`Claims`] are
//! here.

mod claims;
pub mod dangerous;
mod header;
mod hmac;
mod jwks;
mod keys;
#[cfg(test)]
mod tests;
mod verify;

use serde_json::{Map, Value};
use wsauth_spec::{Algorithm, KeyFamily, Keyword};

pub(crate) use self::claims::{IdentityRules, check_identity, numeric_date};
pub use self::jwks::{
    DEFAULT_JWKS_STALE_AGES, DEFAULT_JWKS_TIMEOUT, JwksSource, MAX_JWKS_BYTES, MIN_JWKS_COOLDOWN,
};
pub use self::keys::{KeySet, MIN_HMAC_SECRET_BYTES, MIN_RSA_BITS};
pub use self::verify::{MAX_TOKEN_BYTES, Verifier};

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
