//! JWT header and claims decoding, through the public verifier (one HS256
//! key, as a spec's `auth.jwt` makes it).
//!
//! The first input byte picks the shape of the rest:
//! - even: the rest is a token as presented (the header, the segments and
//!   the base64 are what is fuzzed; the signature rarely matches);
//! - odd: the rest is `header JSON \n claims JSON`, encoded and signed here
//!   with the verifier's key, so that claim checking itself (`exp`, `nbf`,
//!   `iat`, lifetime, `iss`, `aud`, subject and roles) sees arbitrary claims.
//!
//! Nothing panics, and an accepted token satisfies every rule.

#![no_main]

use std::sync::OnceLock;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::{EncodingKey, crypto};
use libfuzzer_sys::fuzz_target;
use wsauth_core::__private::descriptor::{JwtDescriptor, KeySlot};
use wsauth_core::jwt::{KeySet, Verifier};
use wsauth_core::spec::{Algorithm, ClaimShape};

const SECRET: &[u8] = b"fuzzing-secret-0123456789abcdef-0123456789";
/// The verifier's clock: 2023-11-14T22:13:20Z.
const NOW: u64 = 1_700_000_000;
const LEEWAY: u64 = 5;
const MAX_TTL: u64 = 3600;

static DESCRIPTOR: JwtDescriptor = JwtDescriptor {
    keys: &[KeySlot {
        name: "main",
        algorithms: &[Algorithm::HS256],
    }],
    issuer: Some("prsm"),
    audience: &["prsm-ws"],
    leeway_s: LEEWAY,
    max_ttl_s: Some(MAX_TTL),
    subject_claim: "sub",
    roles_claim: "roles",
    roles_shape: ClaimShape::Array,
};

fn verifier() -> &'static (Verifier, tokio::runtime::Runtime) {
    static VERIFIER: OnceLock<(Verifier, tokio::runtime::Runtime)> = OnceLock::new();
    VERIFIER.get_or_init(|| {
        let keys = KeySet::new()
            .hmac("main", SECRET)
            .unwrap_or_else(|e| panic!("{e}"));
        let verifier = Verifier::new(&DESCRIPTOR, keys).unwrap_or_else(|e| panic!("{e}"));
        let runtime = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap_or_else(|e| panic!("{e}"));
        (verifier, runtime)
    })
}

fn signed(header: &[u8], claims: &[u8]) -> String {
    let input = format!(
        "{}.{}",
        URL_SAFE_NO_PAD.encode(header),
        URL_SAFE_NO_PAD.encode(claims)
    );
    let key = EncodingKey::from_secret(SECRET);
    let signature = crypto::sign(input.as_bytes(), &key, jsonwebtoken::Algorithm::HS256)
        .unwrap_or_else(|e| panic!("{e}"));
    format!("{input}.{signature}")
}

fuzz_target!(|data: &[u8]| {
    let Some((mode, rest)) = data.split_first() else {
        return;
    };
    let token = if mode % 2 == 0 {
        let Ok(token) = std::str::from_utf8(rest) else {
            return;
        };
        token.to_owned()
    } else {
        let split = rest.iter().position(|b| *b == b'\n').unwrap_or(rest.len());
        let (header, claims) = rest.split_at(split);
        signed(header, claims.get(1..).unwrap_or_default())
    };
    let (verifier, runtime) = verifier();
    let Ok(claims) = runtime.block_on(verifier.verify_at(&token, NOW)) else {
        return;
    };
    assert!(!claims.subject.is_empty(), "accepted without a subject");
    assert!(NOW < claims.exp + LEEWAY, "accepted an expired token");
    let iat = claims.iat.unwrap_or_else(|| panic!("accepted without iat"));
    assert!(
        claims.exp.saturating_sub(iat) <= MAX_TTL,
        "accepted a lifetime over max_ttl_s"
    );
    assert!(iat <= NOW + LEEWAY, "accepted a token issued in the future");
    assert_eq!(
        claims.claims.get("iss").and_then(|v| v.as_str()),
        Some("prsm")
    );
});
