//! Claims: times against `now` with the leeway; issuer, audience, subject
//! and roles.

use super::*;

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
