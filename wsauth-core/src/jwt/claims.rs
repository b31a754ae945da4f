//! What a token's claims must be: JSON objects without duplicate keys,
//! times against an explicit `now` with the spec's leeway, issuer,
//! audience, subject and roles of the right shape. Introspection answers
//! are read by the same rules.

use std::fmt;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::de::{self, Deserializer, MapAccess, Visitor};
use serde::{Deserialize, de::IgnoredAny};
use serde_json::map::Entry;
use serde_json::{Map, Value};
use wsauth_spec::ClaimShape;

use crate::descriptor::JwtDescriptor;

use super::{Claims, JwtError, dangerous};

/// Members a claims map has room for before it grows: `iss`, `sub`, `aud`,
/// `exp`, `nbf`, `iat`, `jti` and a roles claim.
const CLAIMS_CAPACITY: usize = 8;

/// A JSON object whose keys are all distinct (parsers that keep the first
/// or the last duplicate would read different claims).
pub(super) struct StrictObject(pub(super) Map<String, Value>);

impl<'de> Deserialize<'de> for StrictObject {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct ObjectVisitor;
        impl<'de> Visitor<'de> for ObjectVisitor {
            type Value = StrictObject;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a JSON object without duplicate keys")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut access: A) -> Result<StrictObject, A::Error> {
                // Room for a typical token's claims without regrowing.
                let mut map = Map::with_capacity(CLAIMS_CAPACITY);
                while let Some(key) = access.next_key::<String>()? {
                    match map.entry(key) {
                        Entry::Occupied(_) => {
                            let _: IgnoredAny = access.next_value()?;
                            return Err(de::Error::custom("duplicate key"));
                        }
                        Entry::Vacant(slot) => {
                            slot.insert(access.next_value()?);
                        }
                    }
                }
                Ok(StrictObject(map))
            }
        }
        deserializer.deserialize_map(ObjectVisitor)
    }
}

pub(super) fn decode_object(segment: &str) -> Result<Map<String, Value>, JwtError> {
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
pub(super) fn check_claims(
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
