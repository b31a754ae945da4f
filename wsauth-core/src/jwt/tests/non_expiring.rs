//! The one non-expiring token a development server may accept.

use super::*;

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
