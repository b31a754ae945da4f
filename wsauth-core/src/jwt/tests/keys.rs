//! Keys: which algorithms a slot verifies, and the key and slot
//! configurations refused at start-up.

use super::*;

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
        topics: &[],
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
