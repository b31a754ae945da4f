//! HS256/384/512 signatures, checked here rather than by `jsonwebtoken`.
//!
//! # Motivation
//!
//! An HMAC key's inner and outer pads are hashed once, when the key is
//! configured, instead of twice per token; the signature is decoded on the
//! stack; and the header and claims, which [`Verifier`](super::Verifier)
//! parses anyway, are not parsed a second time. Together that was most of
//! a handshake's cost in `jsonwebtoken::decode`. The primitives are the
//! ones `jsonwebtoken`'s RustCrypto backend uses (`hmac`, `sha2`), and the
//! tag is compared in constant time. Asymmetric keys still go through
//! `jsonwebtoken`.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hmac::{Hmac, Mac};
use sha2::{Sha256, Sha384, Sha512};
use wsauth_spec::Algorithm;

/// Longest tag (HS512), plus the two bytes `decode_slice` may want beyond
/// the exact length before it looks at the input.
const TAG_ROOM: usize = 64 + 2;

/// One HMAC secret, keyed for each hash once.
pub(super) struct HmacKey {
    hs256: Hmac<Sha256>,
    hs384: Hmac<Sha384>,
    hs512: Hmac<Sha512>,
}

/// Why a signature was not accepted.
#[derive(Debug, PartialEq, Eq)]
pub(super) enum Refused {
    /// The signature segment is not unpadded base64url.
    Malformed,
    /// The signature does not match (or has the wrong length).
    Mismatch,
    /// The algorithm is not an HMAC one.
    NotHmac,
}

impl HmacKey {
    /// `secret` keyed for HS256, HS384 and HS512; `None` only if the hash
    /// refused the key, which HMAC never does.
    pub(super) fn new(secret: &[u8]) -> Option<Self> {
        Some(HmacKey {
            hs256: Hmac::new_from_slice(secret).ok()?,
            hs384: Hmac::new_from_slice(secret).ok()?,
            hs512: Hmac::new_from_slice(secret).ok()?,
        })
    }

    /// Whether `signature` (base64url, unpadded) is `alg`'s tag of
    /// `signing_input` (the token's `header.payload`).
    pub(super) fn check(
        &self,
        alg: Algorithm,
        signing_input: &[u8],
        signature: &str,
    ) -> Result<(), Refused> {
        let mut tag = [0_u8; TAG_ROOM];
        let len = URL_SAFE_NO_PAD
            .decode_slice(signature, &mut tag)
            .map_err(|_| Refused::Malformed)?;
        let tag = tag.get(..len).ok_or(Refused::Malformed)?;
        let matches = match alg {
            Algorithm::HS256 => verify(self.hs256.clone(), signing_input, tag),
            Algorithm::HS384 => verify(self.hs384.clone(), signing_input, tag),
            Algorithm::HS512 => verify(self.hs512.clone(), signing_input, tag),
            _ => return Err(Refused::NotHmac),
        };
        if matches {
            Ok(())
        } else {
            Err(Refused::Mismatch)
        }
    }
}

fn verify<M: Mac>(mut mac: M, input: &[u8], tag: &[u8]) -> bool {
    mac.update(input);
    mac.verify_slice(tag).is_ok()
}

#[cfg(test)]
mod tests {
    use jsonwebtoken::{EncodingKey, Header, encode};

    use super::*;

    const SECRET: &[u8] = b"0123456789abcdef0123456789abcdef";

    fn key() -> HmacKey {
        HmacKey::new(SECRET).expect("hmac takes any key")
    }

    fn token(alg: jsonwebtoken::Algorithm) -> String {
        let claims = serde_json::json!({ "sub": "alice" });
        encode(
            &Header::new(alg),
            &claims,
            &EncodingKey::from_secret(SECRET),
        )
        .expect("token")
    }

    /// `(header.payload, signature)`.
    fn parts(token: &str) -> (&str, &str) {
        token.rsplit_once('.').expect("three segments")
    }

    #[test]
    fn jsonwebtoken_signatures_verify_for_every_hash() {
        let key = key();
        for (backend, alg, other) in [
            (
                jsonwebtoken::Algorithm::HS256,
                Algorithm::HS256,
                Algorithm::HS512,
            ),
            (
                jsonwebtoken::Algorithm::HS384,
                Algorithm::HS384,
                Algorithm::HS256,
            ),
            (
                jsonwebtoken::Algorithm::HS512,
                Algorithm::HS512,
                Algorithm::HS384,
            ),
        ] {
            let token = token(backend);
            let (input, signature) = parts(&token);
            assert_eq!(
                key.check(alg, input.as_bytes(), signature),
                Ok(()),
                "{alg:?}"
            );
            // Another hash's check of the same tag is a mismatch.
            assert_eq!(
                key.check(other, input.as_bytes(), signature),
                Err(Refused::Mismatch),
                "{alg:?} as {other:?}"
            );
        }
    }

    #[test]
    fn altered_inputs_tags_and_encodings_are_refused() {
        let key = key();
        let token = token(jsonwebtoken::Algorithm::HS256);
        let (input, signature) = parts(&token);
        let check =
            |input: &str, signature: &str| key.check(Algorithm::HS256, input.as_bytes(), signature);
        assert_eq!(
            check(&format!("{input}A"), signature),
            Err(Refused::Mismatch)
        );
        // The first character carries six bits of the tag, all used.
        let first = if signature.starts_with('A') { 'B' } else { 'A' };
        let flipped = format!("{first}{}", &signature[1..]);
        assert_eq!(check(input, &flipped), Err(Refused::Mismatch));
        // Stripped or truncated: the wrong length.
        assert_eq!(check(input, ""), Err(Refused::Mismatch));
        assert_eq!(check(input, &signature[..40]), Err(Refused::Mismatch));
        // Padded, standard base64, far too long: not the encoding.
        assert_eq!(
            check(input, &format!("{signature}=")),
            Err(Refused::Malformed)
        );
        assert_eq!(check(input, "ab+/ab+/"), Err(Refused::Malformed));
        assert_eq!(check(input, &"A".repeat(4096)), Err(Refused::Malformed));
        assert_eq!(
            key.check(Algorithm::RS256, input.as_bytes(), signature),
            Err(Refused::NotHmac)
        );
    }
}
