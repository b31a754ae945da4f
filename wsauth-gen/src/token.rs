//! Development tokens that match a spec (`wsauth-gen token`).
//!
//! # Motivation
//!
//! Connecting to an example, or to a server under development, needs a JWT
//! its verifier accepts: the spec's issuer and audience, its subject and
//! roles claims in the spec's shape, `iat`, an `exp` within `max_ttl_s`,
//! signed with one of the spec's algorithms. Written by hand (jwt.io, a
//! snippet) one of those is usually wrong, and the refusal says only
//! "unauthorized", as it should. [`mint`] reads them all from the spec.
//!
//! Only HMAC slots are minted for: the secret is the one the server is
//! started with, so the tool can hold it. An RSA, EC or Ed25519 slot's
//! private key belongs to the identity provider, and a tool that asked for
//! it would teach the wrong habit. Secrets under 32 bytes are refused, as
//! the server refuses them (RFC 7518 §3.2 asks for at least the hash's
//! size for HS256).

use std::fmt::Write as _;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hmac::{Hmac, Mac};
use serde_json::{Map, Value, json};
use wsauth_spec::{Algorithm, ClaimShape, KeyFamily, Keyword as _};

use crate::ir::{Api, Jwt, JwtKey};
use crate::suggest::closest;

/// The shortest secret minted with, as the server's verifier requires.
pub const MIN_SECRET_BYTES: usize = 32;

/// A token's lifetime when none is asked for (capped at the spec's
/// `max_ttl_s`): long enough to try an API by hand.
pub const DEFAULT_TTL_S: u64 = 15 * 60;

/// What to mint.
#[derive(Clone, Debug, Default)]
pub struct TokenRequest {
    /// The subject (`sub`, or the spec's subject claim).
    pub subject: String,
    /// Role names from the spec's `roles`.
    pub roles: Vec<String>,
    /// Lifetime in seconds; `None` is [`DEFAULT_TTL_S`] capped at the
    /// spec's `max_ttl_s`.
    pub ttl_s: Option<u64>,
    /// The key slot (its name becomes `kid` when the spec has several);
    /// `None` is the spec's first HMAC slot.
    pub key: Option<String>,
    /// The algorithm; `None` is the slot's first.
    pub algorithm: Option<Algorithm>,
    /// The audience; `None` is the spec's first (if it lists any).
    pub audience: Option<String>,
}

/// A signed token and what it says.
#[derive(Clone, Debug)]
pub struct Minted {
    /// The compact JWT.
    pub token: String,
    /// Its claims, in the order they were written.
    pub claims: Map<String, Value>,
    /// Its `exp`, in seconds since the Unix epoch.
    pub expires_at: u64,
    /// The algorithm it is signed with.
    pub algorithm: Algorithm,
}

/// Why no token was minted. Never includes the secret.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum TokenError {
    /// The spec verifies no JWTs.
    #[error(
        "the spec configures no JWT verification (`auth.jwt`): a server that only introspects tokens accepts what its authorization server issues"
    )]
    NoJwt,
    /// No slot of the spec takes HMAC algorithms.
    #[error(
        "the spec has no HMAC key slot (HS256/384/512): tokens for RSA, EC and Ed25519 keys are signed by the identity provider that holds the private key"
    )]
    NoHmacKey,
    /// `key` names no slot.
    #[error("the spec has no key slot `{name}`; its slots: {available}")]
    UnknownKey {
        /// The name asked for.
        name: String,
        /// The spec's slots.
        available: String,
    },
    /// `key` names a slot that is not HMAC.
    #[error(
        "key slot `{name}` takes {family} keys; only HMAC slots can be minted for (the private key belongs to the identity provider)"
    )]
    NotHmac {
        /// The slot.
        name: String,
        /// Its family.
        family: String,
    },
    /// `algorithm` is not one the slot allows.
    #[error("key slot `{slot}` does not allow {algorithm}; it allows {allowed}")]
    AlgorithmNotAllowed {
        /// The slot.
        slot: String,
        /// The algorithm asked for.
        algorithm: String,
        /// What the slot allows.
        allowed: String,
    },
    /// The secret is too short.
    #[error(
        "the secret is {len} bytes; HMAC secrets must have at least {MIN_SECRET_BYTES}, as the server requires"
    )]
    ShortSecret {
        /// Its length.
        len: usize,
    },
    /// The subject is empty.
    #[error("the subject is empty; the server refuses tokens without one")]
    EmptySubject,
    /// A role the spec does not declare.
    #[error("the spec declares no role `{role}`{}; its roles: {available}", suggestion.as_ref().map(|s| format!(" (did you mean `{s}`?)")).unwrap_or_default())]
    UnknownRole {
        /// The role asked for.
        role: String,
        /// The closest declared role.
        suggestion: Option<String>,
        /// The spec's roles.
        available: String,
    },
    /// Several roles for a claim that holds one.
    #[error(
        "the spec's roles claim `{claim}` holds one role (shape: string), and {count} were given"
    )]
    OneRoleOnly {
        /// The claim.
        claim: String,
        /// How many were given.
        count: usize,
    },
    /// A lifetime of zero.
    #[error("a token's lifetime must be at least one second")]
    ZeroTtl,
    /// A lifetime over the spec's `max_ttl_s`.
    #[error(
        "a lifetime of {ttl_s} s is over the spec's `max_ttl_s` ({max_ttl_s} s): the server would refuse the token"
    )]
    TtlTooLong {
        /// The lifetime asked for.
        ttl_s: u64,
        /// The spec's limit.
        max_ttl_s: u64,
    },
    /// An audience the spec does not accept.
    #[error("the spec accepts the audiences {accepted}, not `{audience}`")]
    WrongAudience {
        /// The audience asked for.
        audience: String,
        /// What the spec accepts.
        accepted: String,
    },
}

/// Mints a token for `request` that `api`'s verifier accepts, signed with
/// `secret`, issued at `now_s` (seconds since the Unix epoch).
pub fn mint(
    api: &Api,
    request: &TokenRequest,
    secret: &[u8],
    now_s: u64,
) -> Result<Minted, TokenError> {
    let jwt = api
        .auth
        .as_ref()
        .and_then(|a| a.jwt.as_ref())
        .ok_or(TokenError::NoJwt)?;
    let slot = slot(jwt, request.key.as_deref())?;
    let algorithm = match request.algorithm {
        None => *slot.algorithms.first().ok_or(TokenError::NoHmacKey)?,
        Some(a) if slot.algorithms.contains(&a) => a,
        Some(a) => {
            return Err(TokenError::AlgorithmNotAllowed {
                slot: slot.name.clone(),
                algorithm: a.word().to_owned(),
                allowed: list(slot.algorithms.iter().map(|a| a.word())),
            });
        }
    };
    if secret.len() < MIN_SECRET_BYTES {
        return Err(TokenError::ShortSecret { len: secret.len() });
    }
    if request.subject.is_empty() {
        return Err(TokenError::EmptySubject);
    }
    let ttl_s = match request.ttl_s {
        None => DEFAULT_TTL_S.min(jwt.max_ttl_s),
        Some(0) => return Err(TokenError::ZeroTtl),
        Some(ttl_s) if ttl_s > jwt.max_ttl_s => {
            return Err(TokenError::TtlTooLong {
                ttl_s,
                max_ttl_s: jwt.max_ttl_s,
            });
        }
        Some(ttl_s) => ttl_s,
    };
    let claims = claims(api, jwt, request, now_s, ttl_s)?;
    let mut header = Map::new();
    header.insert("alg".into(), json!(algorithm.word()));
    header.insert("typ".into(), json!("JWT"));
    // Without `kid` the server uses its only static slot; with several it
    // needs the name.
    if jwt.keys.len() > 1 {
        header.insert("kid".into(), json!(slot.name));
    }
    let signing_input = format!(
        "{}.{}",
        URL_SAFE_NO_PAD.encode(Value::Object(header).to_string()),
        URL_SAFE_NO_PAD.encode(Value::Object(claims.clone()).to_string()),
    );
    let signature = sign(algorithm, secret, signing_input.as_bytes());
    Ok(Minted {
        token: format!("{signing_input}.{}", URL_SAFE_NO_PAD.encode(signature)),
        claims,
        expires_at: now_s + ttl_s,
        algorithm,
    })
}

/// The slot named `name`, else the first HMAC slot.
fn slot<'a>(jwt: &'a Jwt, name: Option<&str>) -> Result<&'a JwtKey, TokenError> {
    let Some(name) = name else {
        return jwt
            .keys
            .iter()
            .find(|k| k.family == KeyFamily::Hmac)
            .ok_or(TokenError::NoHmacKey);
    };
    let slot = jwt
        .keys
        .iter()
        .find(|k| k.name == name)
        .ok_or_else(|| TokenError::UnknownKey {
            name: name.to_owned(),
            available: list(jwt.keys.iter().map(|k| k.name.as_str())),
        })?;
    if slot.family != KeyFamily::Hmac {
        return Err(TokenError::NotHmac {
            name: slot.name.clone(),
            family: match slot.family {
                KeyFamily::Hmac => "HMAC",
                KeyFamily::Rsa => "RSA",
                KeyFamily::Ec => "EC",
                KeyFamily::Okp => "Ed25519",
            }
            .to_owned(),
        });
    }
    Ok(slot)
}

/// The claims, in the order a reader expects them.
fn claims(
    api: &Api,
    jwt: &Jwt,
    request: &TokenRequest,
    now_s: u64,
    ttl_s: u64,
) -> Result<Map<String, Value>, TokenError> {
    let declared = || api.roles.iter().map(|r| r.name.as_str());
    for role in &request.roles {
        if !declared().any(|d| d == role) {
            return Err(TokenError::UnknownRole {
                role: role.clone(),
                suggestion: closest(role, declared()).map(str::to_owned),
                available: list(declared()),
            });
        }
    }
    let mut claims = Map::new();
    if let Some(issuer) = &jwt.issuer {
        claims.insert("iss".into(), json!(issuer));
    }
    claims.insert(jwt.subject_claim.clone(), json!(request.subject));
    match (&request.audience, jwt.audience.first()) {
        (Some(audience), _) if !jwt.audience.contains(audience) => {
            return Err(TokenError::WrongAudience {
                audience: audience.clone(),
                accepted: list(jwt.audience.iter().map(String::as_str)),
            });
        }
        (Some(audience), _) | (None, Some(audience)) => {
            claims.insert("aud".into(), json!(audience));
        }
        (None, None) => {}
    }
    claims.insert("iat".into(), json!(now_s));
    claims.insert("exp".into(), json!(now_s + ttl_s));
    match (jwt.roles_shape, request.roles.as_slice()) {
        (_, []) => {}
        (ClaimShape::String, [role]) => {
            claims.insert(jwt.roles_claim.clone(), json!(role));
        }
        (ClaimShape::String, roles) => {
            return Err(TokenError::OneRoleOnly {
                claim: jwt.roles_claim.clone(),
                count: roles.len(),
            });
        }
        (ClaimShape::Array, roles) => {
            claims.insert(jwt.roles_claim.clone(), json!(roles));
        }
    }
    Ok(claims)
}

/// The HMAC of `input` under `secret` for an HS algorithm.
fn sign(algorithm: Algorithm, secret: &[u8], input: &[u8]) -> Vec<u8> {
    fn tag<M: Mac + hmac::digest::KeyInit>(secret: &[u8], input: &[u8]) -> Vec<u8> {
        // HMAC takes keys of any length; `slot` let only HS algorithms in.
        let mut mac = <M as hmac::digest::KeyInit>::new_from_slice(secret)
            .unwrap_or_else(|_| unreachable!("HMAC accepts keys of any length"));
        mac.update(input);
        mac.finalize().into_bytes().to_vec()
    }
    match algorithm {
        Algorithm::HS384 => tag::<Hmac<sha2::Sha384>>(secret, input),
        Algorithm::HS512 => tag::<Hmac<sha2::Sha512>>(secret, input),
        _ => tag::<Hmac<sha2::Sha256>>(secret, input),
    }
}

/// `a`, `b`, `c` for an error message.
fn list<'a>(items: impl IntoIterator<Item = &'a str>) -> String {
    let mut out = String::new();
    for (i, item) in items.into_iter().enumerate() {
        if i > 0 {
            out.push_str(", ");
        }
        let _ = write!(out, "`{item}`");
    }
    if out.is_empty() {
        out.push_str("none");
    }
    out
}

/// Parses a lifetime: `90`, `90s`, `5m`, `2h` or `1d`.
pub fn parse_ttl(text: &str) -> Result<u64, String> {
    let text = text.trim();
    let (digits, unit) = match text.find(|c: char| !c.is_ascii_digit()) {
        Some(at) => text.split_at(at),
        None => (text, "s"),
    };
    let scale = match unit {
        "s" => 1,
        "m" => 60,
        "h" => 3_600,
        "d" => 86_400,
        _ => {
            return Err(format!(
                "`{text}` is not a lifetime; write seconds (`90`) or a number with s, m, h or d (`5m`)"
            ));
        }
    };
    digits
        .parse::<u64>()
        .ok()
        .and_then(|n| n.checked_mul(scale))
        .ok_or_else(|| format!("`{text}` is not a lifetime; write seconds (`90`) or a number with s, m, h or d (`5m`)"))
}

#[cfg(test)]
mod tests {
    use jsonwebtoken::{DecodingKey, Validation};

    use super::*;
    use crate::diagnostic::SourceFile;

    const SECRET: &[u8] = b"0123456789abcdef0123456789abcdef";
    const NOW: u64 = 1_800_000_000;

    /// A spec with `auth`'s `jwt` as given, and roles user and admin.
    fn api(jwt: &str) -> Api {
        let text = format!(
            "wsauth: 1\nname: t\nversion: 1.0.0\nauth:\n  sources: [header]\n  jwt:\n{jwt}\n\
             permissions:\n  a.read: Read.\nroles:\n  user: [a.read]\n  admin: ['*']\n\
             endpoints:\n  e:\n    path: /ws\n    perm: a.read\n"
        );
        crate::load_source(&SourceFile::new("t.yaml", text))
            .unwrap_or_else(|e| panic!("{}", e.render(miette::GraphicalTheme::unicode_nocolor())))
    }

    fn prsm_like() -> Api {
        api(
            "    algorithms: [HS256, HS512]\n    issuer: iss-x\n    audience: [aud-a, aud-b]\n    max_ttl_s: 3600",
        )
    }

    fn ok(minted: Result<Minted, TokenError>) -> Minted {
        minted.unwrap_or_else(|e| panic!("{e}"))
    }

    fn err(minted: Result<Minted, TokenError>) -> TokenError {
        match minted {
            Ok(minted) => panic!("minted {}", minted.token),
            Err(e) => e,
        }
    }

    fn request(roles: &[&str]) -> TokenRequest {
        TokenRequest {
            subject: "alice".into(),
            roles: roles.iter().map(|r| (*r).to_owned()).collect(),
            ..TokenRequest::default()
        }
    }

    /// Verifies `token` as an independent JWT library does, with the
    /// spec's issuer and audience, and returns its claims.
    fn verify(token: &str, alg: jsonwebtoken::Algorithm, aud: &[&str]) -> Value {
        let mut validation = Validation::new(alg);
        validation.set_issuer(&["iss-x"]);
        validation.set_audience(aud);
        validation.validate_exp = false;
        jsonwebtoken::decode::<Value>(token, &DecodingKey::from_secret(SECRET), &validation)
            .unwrap_or_else(|e| panic!("{e}"))
            .claims
    }

    #[test]
    fn a_token_carries_every_claim_the_spec_checks() {
        let minted = ok(mint(&prsm_like(), &request(&["user"]), SECRET, NOW));
        let claims = verify(&minted.token, jsonwebtoken::Algorithm::HS256, &["aud-a"]);
        assert_eq!(
            claims,
            json!({"iss": "iss-x", "sub": "alice", "aud": "aud-a", "iat": NOW,
                   "exp": NOW + DEFAULT_TTL_S, "roles": ["user"]})
        );
        assert_eq!(minted.expires_at, NOW + DEFAULT_TTL_S);
    }

    #[test]
    fn the_algorithm_audience_and_lifetime_follow_the_request() {
        let mut req = request(&["user", "admin"]);
        req.algorithm = Some(Algorithm::HS512);
        req.audience = Some("aud-b".into());
        req.ttl_s = Some(60);
        let minted = ok(mint(&prsm_like(), &req, SECRET, NOW));
        let claims = verify(&minted.token, jsonwebtoken::Algorithm::HS512, &["aud-b"]);
        assert_eq!(claims["exp"], json!(NOW + 60));
        assert_eq!(claims["roles"], json!(["user", "admin"]));
    }

    #[test]
    fn a_string_roles_claim_gets_one_role_and_no_roles_no_claim() {
        let api = api("    algorithms: [HS256]\n    roles_claim: { name: role, shape: string }");
        let minted = ok(mint(&api, &request(&["admin"]), SECRET, NOW));
        assert_eq!(minted.claims["role"], json!("admin"));
        assert!(!minted.claims.contains_key("iss"), "no issuer configured");
        assert!(!minted.claims.contains_key("aud"), "no audience configured");
        let none = ok(mint(&api, &request(&[]), SECRET, NOW));
        assert!(!none.claims.contains_key("role"));
        assert_eq!(
            err(mint(&api, &request(&["user", "admin"]), SECRET, NOW)),
            TokenError::OneRoleOnly {
                claim: "role".into(),
                count: 2
            }
        );
    }

    #[test]
    fn the_default_lifetime_is_capped_at_max_ttl() {
        let api = api("    algorithms: [HS256]\n    max_ttl_s: 120");
        let minted = ok(mint(&api, &request(&[]), SECRET, NOW));
        assert_eq!(minted.expires_at, NOW + 120);
    }

    #[test]
    fn what_the_server_would_refuse_is_refused_here() {
        let api = prsm_like();
        let with = |f: fn(&mut TokenRequest)| {
            let mut req = request(&["user"]);
            f(&mut req);
            err(mint(&api, &req, SECRET, NOW))
        };
        assert_eq!(
            err(mint(&api, &request(&["user"]), &SECRET[..31], NOW)),
            TokenError::ShortSecret { len: 31 }
        );
        assert_eq!(
            with(|r| r.ttl_s = Some(3601)),
            TokenError::TtlTooLong {
                ttl_s: 3601,
                max_ttl_s: 3600
            }
        );
        assert_eq!(with(|r| r.ttl_s = Some(0)), TokenError::ZeroTtl);
        assert_eq!(with(|r| r.subject.clear()), TokenError::EmptySubject);
        assert!(matches!(
            with(|r| r.roles = vec!["usr".into()]),
            TokenError::UnknownRole { suggestion: Some(s), .. } if s == "user"
        ));
        assert!(matches!(
            with(|r| r.audience = Some("elsewhere".into())),
            TokenError::WrongAudience { .. }
        ));
        assert!(matches!(
            with(|r| r.algorithm = Some(Algorithm::HS384)),
            TokenError::AlgorithmNotAllowed { .. }
        ));
        assert!(matches!(
            with(|r| r.key = Some("other".into())),
            TokenError::UnknownKey { .. }
        ));
    }

    #[test]
    fn only_hmac_slots_are_minted_for() {
        let rsa = api("    algorithms: [RS256]");
        assert_eq!(
            err(mint(&rsa, &request(&[]), SECRET, NOW)),
            TokenError::NoHmacKey
        );
    }

    #[test]
    fn lifetimes_parse_with_units() {
        assert_eq!(parse_ttl("90"), Ok(90));
        assert_eq!(parse_ttl("90s"), Ok(90));
        assert_eq!(parse_ttl("5m"), Ok(300));
        assert_eq!(parse_ttl("2h"), Ok(7_200));
        assert_eq!(parse_ttl("1d"), Ok(86_400));
        assert!(parse_ttl("5 min").is_err());
        assert!(parse_ttl("m").is_err());
        assert!(parse_ttl("99999999999999999999d").is_err());
    }
}
