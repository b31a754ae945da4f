//! JWKS slots: fetching, caching, rotation, cool-down and outages,
//! against a local server.

use super::*;
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
