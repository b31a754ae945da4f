//! `POST /token`: the password grant, uniform refusals, throttling,
//! no-store, and its OpenAPI document.

use std::time::{Duration, Instant};

use crate::common::*;

/// The headers of an answer, except the date, as sorted `name: value`.
fn header_set(answer: &Answer) -> Vec<String> {
    let mut set: Vec<String> = answer
        .headers
        .iter()
        .filter(|(name, _)| *name != "date")
        .map(|(name, value)| format!("{name}: {}", value.to_str().unwrap_or("?")))
        .collect();
    set.sort();
    set
}

fn assert_no_store(answer: &Answer) {
    assert_eq!(
        answer.header("cache-control"),
        Some("no-store"),
        "{answer:?}"
    );
    assert_eq!(answer.header("pragma"), Some("no-cache"), "{answer:?}");
}

#[tokio::test]
async fn the_password_grant_issues_a_bearer_token() {
    let app = start().await;
    let answer = post_token(&app, "alice", "password").await;
    assert_eq!(answer.status, 200, "{answer:?}");
    assert_no_store(&answer);
    assert_eq!(
        answer.header("content-type"),
        Some("application/json;charset=UTF-8")
    );
    let body = answer.json();
    assert_eq!(body["token_type"], "bearer");
    assert_eq!(body["expires_in"], 1800);
    assert_eq!(
        body.as_object().map(|o| o.len()),
        Some(3),
        "exactly access_token, token_type, expires_in: {body}"
    );
    let claims = payload(body["access_token"].as_str().unwrap_or_default());
    assert_eq!(claims["sub"], "alice");
    assert_eq!(claims["iss"], "shipvox");
    assert_eq!(claims["aud"], "shipvox-ws");
    assert_eq!(claims["roles"], serde_json::json!(["user"]));
    let (iat, exp) = (claims["iat"].as_i64(), claims["exp"].as_i64());
    assert_eq!(exp.zip(iat).map(|(e, i)| e - i), Some(1800), "{claims}");
    assert!(iat.is_some_and(|i| (i - now()).abs() <= 5));
    // Every seeded user but mallory has the password `password`.
    for (user, role) in [("bob", "user"), ("mod", "moderator"), ("admin", "admin")] {
        let token = sign_in(&app, user).await;
        assert_eq!(payload(&token)["roles"], serde_json::json!([role]));
    }
}

#[tokio::test]
async fn unknown_user_wrong_password_and_inactive_user_are_indistinguishable() {
    let app = start().await;
    let cases = [
        ("unknown user", "carol", "password"),
        ("wrong password", "alice", "not-the-password"),
        ("inactive user", "mallory", "password"),
    ];
    // Warm up (connection pool, first hash), on a name of its own.
    let _ = post_token(&app, "warm-up", "x").await;
    // Rounds interleave the cases, so load from other tests weighs on all
    // three alike; five attempts per name, sixteen in all, stay under the
    // throttle's limits (5 per name and address, 20 per address).
    let mut times = vec![Vec::new(); cases.len()];
    let mut answers = Vec::new();
    for round in 0..5 {
        for (i, (what, user, password)) in cases.iter().enumerate() {
            let started = Instant::now();
            let answer = post_token(&app, user, password).await;
            times[i].push(started.elapsed());
            assert_eq!(answer.status, 401, "{what}: {answer:?}");
            assert_eq!(
                answer.body,
                r#"{"error":"invalid_grant","detail":"Incorrect username or password"}"#,
                "{what}"
            );
            assert_eq!(answer.header("www-authenticate"), Some("Bearer"), "{what}");
            assert_no_store(&answer);
            if round == 0 {
                answers.push((*what, answer));
            }
        }
    }
    let medians: Vec<(&str, Duration)> = cases
        .iter()
        .zip(&mut times)
        .map(|((what, ..), t)| {
            t.sort();
            (*what, t[t.len() / 2])
        })
        .collect();
    let (first_what, first) = &answers[0];
    for (what, answer) in &answers[1..] {
        assert_eq!(answer.status, first.status, "{what} vs {first_what}");
        assert_eq!(answer.body, first.body, "{what} vs {first_what}");
        assert_eq!(
            header_set(answer),
            header_set(first),
            "{what} vs {first_what}"
        );
    }
    // Each case checks one argon2id hash of the same cost: the medians are
    // within a generous factor of each other (a missing hash check would be
    // orders of magnitude faster).
    let fastest = medians.iter().map(|(_, t)| *t).min().unwrap_or_default();
    let slowest = medians.iter().map(|(_, t)| *t).max().unwrap_or_default();
    eprintln!("token refusal medians: {medians:?}");
    assert!(
        fastest >= Duration::from_millis(2) && slowest <= fastest * 3,
        "{medians:?}"
    );
}

#[tokio::test]
async fn malformed_requests_are_invalid_request() {
    let app = start().await;
    let form = "application/x-www-form-urlencoded";
    let cases: [(&str, &str, String, &str); 7] = [
        (
            "json body",
            "application/json",
            r#"{"grant_type":"password"}"#.into(),
            "invalid_request",
        ),
        (
            "no password",
            form,
            "grant_type=password&username=alice".into(),
            "invalid_request",
        ),
        (
            "no username",
            form,
            "grant_type=password&password=password".into(),
            "invalid_request",
        ),
        (
            "repeated parameter",
            form,
            "grant_type=password&username=alice&username=bob&password=password".into(),
            "invalid_request",
        ),
        (
            "too large",
            form,
            format!(
                "grant_type=password&username=alice&password={}",
                "x".repeat(5000)
            ),
            "invalid_request",
        ),
        (
            "long username",
            form,
            format!(
                "grant_type=password&username={}&password=x",
                "u".repeat(300)
            ),
            "invalid_request",
        ),
        (
            "other grant",
            form,
            "grant_type=client_credentials&client_id=x".into(),
            "unsupported_grant_type",
        ),
    ];
    for (what, content_type, body, error) in cases {
        let answer = post_token_raw(&app, content_type, body).await;
        assert_eq!(answer.status, 400, "{what}: {answer:?}");
        assert_eq!(answer.json()["error"], error, "{what}");
        assert_no_store(&answer);
    }
    // A charset parameter on the content type is fine.
    let answer = post_token_raw(
        &app,
        "application/x-www-form-urlencoded; charset=UTF-8",
        "grant_type=password&username=bob&password=password".into(),
    )
    .await;
    assert_eq!(answer.status, 200, "{answer:?}");
    // The endpoint is POST only.
    assert_eq!(get(&app, "/token").await.status, 405);
}

/// `answer`, to an attempt by `user`, is a throttled one: a 429 that is not
/// cached and says to retry once the 15-minute window has (nearly) passed.
fn assert_throttled(user: &str, answer: &Answer) {
    assert_eq!(answer.status, 429, "{user}: {answer:?}");
    assert_no_store(answer);
    let retry: u64 = answer
        .header("retry-after")
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| panic!("Retry-After: {answer:?}"));
    assert!((800..=900).contains(&retry), "{retry}");
}

/// Throttled answers do not tell one name from another (existing or not,
/// locked itself or refused for its address): same body, same headers.
fn assert_alike(throttled: &[Answer]) {
    for answer in &throttled[1..] {
        assert_eq!(answer.body, throttled[0].body);
        assert_eq!(header_names(answer), header_names(&throttled[0]));
    }
}

/// The header names of an answer, sorted, without the date.
fn header_names(answer: &Answer) -> Vec<String> {
    let mut names: Vec<String> = answer
        .headers
        .keys()
        .filter(|k| *k != "date")
        .map(|k| k.to_string())
        .collect();
    names.sort();
    names
}

#[tokio::test]
async fn attempts_are_throttled_per_username_whether_it_exists_or_not() {
    let app = start().await;
    let mut throttled = Vec::new();
    for user in ["alice", "nobody-here", "mallory"] {
        for attempt in 1..=5 {
            let answer = post_token(&app, user, "wrong").await;
            assert_eq!(answer.status, 401, "{user} attempt {attempt}: {answer:?}");
        }
        // The sixth attempt is refused before any hash is checked, even
        // with the right password.
        let answer = post_token(&app, user, "password").await;
        assert_throttled(user, &answer);
        assert_eq!(answer.json()["error"], "invalid_grant");
        throttled.push(answer);
    }
    assert_alike(&throttled);
    // Other accounts are not affected (15 failures from this address stay
    // under its limit of 20).
    assert_eq!(post_token(&app, "bob", "password").await.status, 200);
}

#[tokio::test]
async fn one_address_failing_across_usernames_is_throttled_for_all() {
    let app = start_with(|mut c| {
        c.throttle = shipvox::ThrottlePolicy {
            max_failures: 2,
            max_address_failures: 6,
            ..c.throttle
        };
        c
    })
    .await;
    // Two names locked for this address (four failures counted)...
    let mut throttled = Vec::new();
    for user in ["alice", "nobody-here"] {
        for _ in 0..2 {
            assert_eq!(post_token(&app, user, "wrong").await.status, 401);
        }
        let answer = post_token(&app, user, "password").await;
        assert_eq!(answer.status, 429, "{user}: {answer:?}");
        throttled.push(answer);
    }
    // ...then two more names reach the address's limit of six.
    for user in ["carol", "dave"] {
        assert_eq!(post_token(&app, user, "wrong").await.status, 401);
    }
    // Now every name is refused from this address, untouched ones and
    // the right password included, with the same answer as a locked name.
    for user in ["bob", "mallory", "someone-else"] {
        let answer = post_token(&app, user, "password").await;
        assert_throttled(user, &answer);
        throttled.push(answer);
    }
    assert_alike(&throttled);
    assert_eq!(
        throttled[0].json(),
        serde_json::json!({
            "error": "invalid_grant",
            "error_description": "too many unsuccessful attempts; retry later",
        })
    );
}

#[tokio::test]
async fn a_successful_sign_in_clears_the_count() {
    let app = start_with(|mut c| {
        c.throttle = shipvox::ThrottlePolicy {
            max_failures: 3,
            max_address_failures: 5,
            window: Duration::from_secs(60),
            ..c.throttle
        };
        c
    })
    .await;
    for _ in 0..2 {
        assert_eq!(post_token(&app, "bob", "wrong").await.status, 401);
    }
    assert_eq!(post_token(&app, "bob", "password").await.status, 200);
    for _ in 0..2 {
        assert_eq!(post_token(&app, "bob", "wrong").await.status, 401);
    }
    assert_eq!(post_token(&app, "bob", "password").await.status, 200);
    // Successes do not use up the address's budget: four failures so far,
    // however many sign-ins.
    for _ in 0..6 {
        assert_eq!(post_token(&app, "bob", "password").await.status, 200);
    }
    // But they do not wipe its failures either: the fifth locks it.
    assert_eq!(post_token(&app, "carol", "wrong").await.status, 401);
    assert_eq!(post_token(&app, "bob", "password").await.status, 429);
}

#[tokio::test]
async fn the_openapi_document_describes_token() {
    let app = start().await;
    let answer = get(&app, "/openapi.json").await;
    assert_eq!(answer.status, 200);
    let doc = answer.json();
    assert!(doc["openapi"].as_str().is_some_and(|v| v.starts_with("3.")));
    let op = &doc["paths"]["/token"]["post"];
    let form = &op["requestBody"]["content"]["application/x-www-form-urlencoded"]["schema"];
    assert_eq!(form["$ref"], "#/components/schemas/TokenRequest", "{op}");
    let request = &doc["components"]["schemas"]["TokenRequest"];
    for field in ["username", "password"] {
        assert!(
            request["required"]
                .as_array()
                .is_some_and(|r| r.iter().any(|f| f == field)),
            "{request}"
        );
    }
    for status in ["200", "400", "401", "429", "500"] {
        let response = &op["responses"][status];
        assert!(response["headers"]["Cache-Control"].is_object(), "{status}");
        assert!(response["headers"]["Pragma"].is_object(), "{status}");
    }
    assert!(op["responses"]["429"]["headers"]["Retry-After"].is_object());
    let ok = &doc["components"]["schemas"]["TokenResponse"]["properties"];
    for field in ["access_token", "token_type", "expires_in"] {
        assert!(ok[field].is_object(), "{ok}");
    }
}

#[tokio::test]
async fn without_the_client_address_sign_in_is_refused_not_unthrottled() {
    // Served without `into_make_service_with_connect_info`, the token
    // endpoint has no address to throttle by: it answers 500, never a token.
    let built = tokio::task::spawn_blocking(|| shipvox::app(shipvox::Config::new(SECRET)))
        .await
        .unwrap_or_else(|e| panic!("{e}"))
        .unwrap_or_else(|e| panic!("{e}"));
    let (listener, addr) = loopback().await;
    let serving = tokio::spawn(axum::serve(listener, built.router).into_future());
    let answer = reqwest::Client::new()
        .post(format!("http://{addr}/token"))
        .header("content-type", "application/x-www-form-urlencoded")
        .body("grant_type=password&username=alice&password=password")
        .send()
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    serving.abort();
    assert_eq!(answer.status().as_u16(), 500);
    assert_eq!(
        answer.headers().get("cache-control").map(|v| v.as_bytes()),
        Some(&b"no-store"[..])
    );
    let body = answer.text().await.unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(body, r#"{"error":"server_error"}"#);
}
