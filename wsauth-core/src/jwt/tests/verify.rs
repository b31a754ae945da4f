//! Choosing the key: `kid`, and the headers that are ignored or refused.

use super::*;

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
