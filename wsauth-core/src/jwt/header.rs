//! A token's JOSE header, read in one pass.
//!
//! # Motivation
//!
//! The verifier needs three things from the header: `alg`, `kid`, and
//! whether `crit` is present. Reading it into a general JSON map cost a
//! map, a string per key and a hash per lookup on every handshake; this
//! reads those members straight into fields. The rules stay those of
//! [`decode_object`](super::claims::decode_object): one JSON object, no
//! key twice, every value well-formed JSON (each is still parsed as a
//! [`Value`], so a value the claims would refuse is refused here too).

use std::fmt;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::Deserialize;
use serde::de::{self, Deserializer, IgnoredAny, MapAccess, Visitor};
use serde_json::{Map, Value};
use wsauth_spec::{Algorithm, Keyword};

use crate::frame::FieldName;

use super::JwtError;

/// What the verifier reads from a header.
#[derive(Debug, PartialEq)]
pub(super) struct Header {
    pub(super) alg: Algorithm,
    /// As found: [`Header::kid`] checks it, after the verifier has checked
    /// `alg` against its slots.
    kid: Option<Value>,
}

/// The header's members as found, before the verifier's rules.
#[derive(Default)]
struct Members {
    alg: Option<Value>,
    kid: Option<Value>,
    crit: Option<Value>,
    /// Nearly every token has one; only checked.
    typ: Option<Value>,
}

impl Header {
    /// The header of `segment` (base64url, unpadded). Errors in the order
    /// the verifier has always checked them: the shape, then `crit`, then
    /// `alg` (then the verifier's slots, then [`Header::kid`]).
    pub(super) fn decode(segment: &str) -> Result<Header, JwtError> {
        let bytes = URL_SAFE_NO_PAD
            .decode(segment)
            .map_err(|_| JwtError::Malformed)?;
        let members = serde_json::from_slice::<Members>(&bytes).map_err(|_| JwtError::Malformed)?;
        if members.crit.is_some() {
            return Err(JwtError::UnsupportedCrit);
        }
        let alg = match members.alg {
            Some(Value::String(alg)) => Algorithm::from_word(&alg),
            _ => return Err(JwtError::Malformed),
        }
        .ok_or(JwtError::AlgorithmNotAllowed { alg: None })?;
        Ok(Header {
            alg,
            kid: members.kid,
        })
    }

    /// The `kid`, if any; one that is not a string is malformed.
    pub(super) fn kid(&self) -> Result<Option<&str>, JwtError> {
        match &self.kid {
            None => Ok(None),
            Some(Value::String(kid)) => Ok(Some(kid)),
            Some(_) => Err(JwtError::Malformed),
        }
    }
}

impl<'de> Deserialize<'de> for Members {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct MembersVisitor;
        impl<'de> Visitor<'de> for MembersVisitor {
            type Value = Members;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a JSON object without duplicate keys")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut access: A) -> Result<Members, A::Error> {
                let mut members = Members::default();
                // Every other member: only checked, never used.
                let mut others: Option<Map<String, Value>> = None;
                let duplicate = || de::Error::custom("duplicate key");
                // Borrowed from the header unless escaped.
                while let Some(key) = access.next_key::<FieldName<'de>>()? {
                    let slot = match key.as_str() {
                        "alg" => Some(&mut members.alg),
                        "kid" => Some(&mut members.kid),
                        "crit" => Some(&mut members.crit),
                        "typ" => Some(&mut members.typ),
                        _ => None,
                    };
                    if let Some(slot) = slot {
                        if slot.is_some() {
                            let _: IgnoredAny = access.next_value()?;
                            return Err(duplicate());
                        }
                        *slot = Some(access.next_value()?);
                        continue;
                    }
                    let others = others.get_or_insert_with(Map::new);
                    if others.contains_key(key.as_str()) {
                        let _: IgnoredAny = access.next_value()?;
                        return Err(duplicate());
                    }
                    let value: Value = access.next_value()?;
                    others.insert(key.into_owned(), value);
                }
                Ok(members)
            }
        }
        deserializer.deserialize_map(MembersVisitor)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The header's `alg` and `kid`, or the first error.
    fn header(json: &str) -> Result<(Algorithm, Option<String>), JwtError> {
        let header = Header::decode(&URL_SAFE_NO_PAD.encode(json))?;
        Ok((header.alg, header.kid()?.map(str::to_owned)))
    }

    #[test]
    fn alg_and_kid_are_read_and_other_members_only_checked() {
        assert_eq!(
            header(r#"{"typ":"JWT","alg":"HS256"}"#),
            Ok((Algorithm::HS256, None))
        );
        assert_eq!(
            header(r#"{"alg":"RS256","kid":"main","x5t":["a",{"b":null}]}"#),
            Ok((Algorithm::RS256, Some("main".to_owned())))
        );
        // Escaped keys are the same keys.
        assert_eq!(
            header(r#"{"\u0061lg":"ES256"}"#),
            Ok((Algorithm::ES256, None))
        );
    }

    #[test]
    fn the_rules_and_their_order_are_the_verifiers() {
        use JwtError::{AlgorithmNotAllowed, Malformed, UnsupportedCrit};
        for (json, expected) in [
            // Not one object, duplicate keys (known, other, escaped), bad values.
            (r#"[{"alg":"HS256"}]"#, Malformed),
            (r#"{"alg":"HS256"} {}"#, Malformed),
            (r#"{"alg":"HS256","alg":"HS256"}"#, Malformed),
            (r#"{"alg":"HS256","typ":"JWT","typ":"JWT"}"#, Malformed),
            (r#"{"alg":"HS256","kid":"a","k\u0069d":"a"}"#, Malformed),
            (r#"{"alg":"HS256","x":"\ud800"}"#, Malformed),
            // `crit` comes before `alg` and `kid`, whatever its value.
            (r#"{"crit":null,"kid":5}"#, UnsupportedCrit),
            (r#"{"alg":"none","crit":["exp"]}"#, UnsupportedCrit),
            // `alg` must be a known word; then `kid` a string.
            (r#"{"kid":"a"}"#, Malformed),
            (r#"{"alg":256}"#, Malformed),
            (r#"{"alg":"none"}"#, AlgorithmNotAllowed { alg: None }),
            (r#"{"alg":"hs256"}"#, AlgorithmNotAllowed { alg: None }),
            (r#"{"alg":"HS256","kid":["a"]}"#, Malformed),
        ] {
            assert_eq!(header(json), Err(expected), "{json}");
        }
        assert_eq!(Header::decode("e30=").err(), Some(Malformed), "padding");
        assert_eq!(Header::decode("!!").err(), Some(Malformed), "not base64url");
    }
}
