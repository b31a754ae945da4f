//! The verifier's tests: keys, JWKS, tokens and claims, against one set
//! of fixtures.

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

use jsonwebtoken::{Algorithm as J, EncodingKey, Header, encode};
use serde_json::json;
use wsauth_spec::Algorithm::*;

use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::jwk::Jwk;
use serde_json::Value;
use wsauth_spec::ClaimShape;

use super::jwks::*;
use super::keys::*;
use super::verify::*;
use super::*;
use crate::descriptor::{ApiDescriptor, JwtDescriptor, KeySlot};

const NOW: u64 = 1_700_000_000;
const ISS: &str = "https://issuer.test";
const SECRET: &[u8] = b"0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";
const OTHER_SECRET: &[u8] = b"fedcba9876543210fedcba9876543210";

const RSA_PRIVATE: &[u8] = include_bytes!("../../tests/keys/rsa_private.pem");
const RSA_PUBLIC: &[u8] = include_bytes!("../../tests/keys/rsa_public.pem");
const RSA2_PRIVATE: &[u8] = include_bytes!("../../tests/keys/rsa2_private.pem");
const RSA1024_PUBLIC: &[u8] = include_bytes!("../../tests/keys/rsa1024_public.pem");
const EC256_PRIVATE: &[u8] = include_bytes!("../../tests/keys/ec256_private.pem");
const EC256_PUBLIC: &[u8] = include_bytes!("../../tests/keys/ec256_public.pem");
const EC384_PRIVATE: &[u8] = include_bytes!("../../tests/keys/ec384_private.pem");
const EC384_PUBLIC: &[u8] = include_bytes!("../../tests/keys/ec384_public.pem");
const ED_PRIVATE: &[u8] = include_bytes!("../../tests/keys/ed25519_private.pem");
const ED_PUBLIC: &[u8] = include_bytes!("../../tests/keys/ed25519_public.pem");

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
