//! Admission, and the close code of every refusal.

use std::time::Duration;

use futures_util::StreamExt;
use jsonwebtoken::Algorithm;
use serde_json::json;
use tokio_tungstenite::tungstenite::Message;

use crate::common::*;

#[tokio::test]
async fn valid_tokens_are_admitted_on_every_endpoint() {
    let app = start().await;
    let cases = [
        ("/ws/alice", "alice", &["user"][..], "notifications"),
        (
            "/ws/conversation/alice/1",
            "alice",
            &["user"][..],
            "conversation",
        ),
        ("/api/v1/web3/ws/alice", "alice", &["user"][..], "web3"),
        (
            "/ws/conversation/bob/2",
            "bob",
            &["user"][..],
            "conversation",
        ),
        ("/ws/mod", "mod", &["moderator"][..], "notifications"),
        ("/api/v1/web3/ws/admin", "admin", &["admin"][..], "web3"),
    ];
    for (path, user, roles, endpoint) in cases {
        let mut client = connect_as(app.addr, path, &token(user, roles)).await;
        expect_welcome(&mut client, user, endpoint).await;
    }
}

#[tokio::test]
async fn every_refusal_gets_the_spec_close_code() {
    let app = start().await;
    const AUTH_REQUIRED: (u16, &str) = (4001, "authentication required");
    const AUTH_FAILED: (u16, &str) = (4001, "invalid or expired token");
    const FORBIDDEN: (u16, &str) = (4003, "forbidden");
    // PRSM's document lists "ensure user exists in the system" under 4001.
    const NO_USER: (u16, &str) = (4001, "user not found or inactive");
    let alice = || tok("alice", &["user"]);
    let conv = "/ws/conversation/alice/1";
    // Each case changes one thing from an admitted connection (alice, role
    // `user`, conversation 1), so each code is reached for its own reason.
    type Case = (
        &'static str,
        &'static str,
        Option<String>,
        (u16, &'static str),
    );
    let cases: Vec<Case> = vec![
        ("no token", conv, None, AUTH_REQUIRED),
        ("not a jwt", conv, Some("garbage".into()), AUTH_FAILED),
        (
            "bad signature",
            conv,
            Some(
                alice()
                    .secret(b"another-secret-of-32-bytes-or-more!!")
                    .mint(),
            ),
            AUTH_FAILED,
        ),
        (
            "HS512 where only HS256 is allowed",
            conv,
            Some(alice().alg(Algorithm::HS512).mint()),
            AUTH_FAILED,
        ),
        (
            "expired",
            conv,
            Some(
                alice()
                    .set("iat", json!(now() - 120))
                    .expires_in(-60)
                    .mint(),
            ),
            AUTH_FAILED,
        ),
        (
            "wrong issuer",
            conv,
            Some(alice().set("iss", json!("other")).mint()),
            AUTH_FAILED,
        ),
        (
            "wrong audience",
            conv,
            Some(alice().set("aud", json!("other-ws")).mint()),
            AUTH_FAILED,
        ),
        (
            "no exp",
            conv,
            Some(alice().without("exp").mint()),
            AUTH_FAILED,
        ),
        (
            "lifetime over max_ttl_s",
            conv,
            Some(alice().expires_in(7200).mint()),
            AUTH_FAILED,
        ),
        (
            "path names another user",
            "/ws/conversation/bob/1",
            Some(alice().mint()),
            FORBIDDEN,
        ),
        (
            "percent-encoded subject",
            "/ws/conversation/%61lice/1",
            Some(alice().mint()),
            FORBIDDEN,
        ),
        (
            "percent-encoded subject on notifications",
            "/ws/%61lice",
            Some(alice().mint()),
            FORBIDDEN,
        ),
        (
            "non-canonical id 01",
            "/ws/conversation/alice/01",
            Some(alice().mint()),
            FORBIDDEN,
        ),
        (
            "non-canonical id 042",
            "/ws/conversation/alice/042",
            Some(alice().mint()),
            FORBIDDEN,
        ),
        (
            "non-canonical id +1",
            "/ws/conversation/alice/+1",
            Some(alice().mint()),
            FORBIDDEN,
        ),
        (
            "inactive user",
            "/ws/conversation/mallory/1",
            Some(tok("mallory", &["user"]).mint()),
            NO_USER,
        ),
        (
            "unknown user",
            "/ws/carol",
            Some(tok("carol", &["user"]).mint()),
            NO_USER,
        ),
        (
            "inactive admin on notifications",
            "/ws/mallory",
            Some(tok("mallory", &["admin"]).mint()),
            NO_USER,
        ),
        (
            "no roles",
            conv,
            Some(alice().without("roles").mint()),
            FORBIDDEN,
        ),
        (
            "unknown role",
            conv,
            Some(alice().set("roles", json!(["guest"])).mint()),
            FORBIDDEN,
        ),
        (
            "moderator lacks wallet.read",
            "/api/v1/web3/ws/mod",
            Some(tok("mod", &["moderator"]).mint()),
            FORBIDDEN,
        ),
        (
            "conversation of another user",
            "/ws/conversation/alice/2",
            Some(alice().mint()),
            FORBIDDEN,
        ),
        (
            "conversation that does not exist",
            "/ws/conversation/alice/9",
            Some(alice().mint()),
            FORBIDDEN,
        ),
        (
            "conversation store fails",
            "/ws/conversation/alice/13",
            Some(alice().mint()),
            (1011, "server error"),
        ),
    ];
    for (case, path, token, (code, reason)) in cases {
        let request = ws(app.addr, path);
        let request = match &token {
            Some(t) => bearer(request, t),
            None => request,
        };
        let got = rejected(request).await;
        assert_eq!(got, (code, reason.to_owned()), "{case}: {path}");
    }
    assert_eq!(app.server.stats().active_connections, 0);
}

#[tokio::test]
async fn eleven_concurrent_connections_admit_exactly_ten() {
    let app = start().await;
    let bob = token("bob", &["user"]);
    let addr = app.addr;
    let attempts: Vec<_> = (0..11)
        .map(|_| {
            let bob = bob.clone();
            tokio::spawn(async move {
                let mut client = connect_as(addr, "/ws/bob", &bob).await;
                let first = tokio::time::timeout(Duration::from_secs(5), client.next()).await;
                let outcome = match first {
                    Ok(Some(Ok(Message::Text(t)))) => Ok(t.as_str().to_owned()),
                    Ok(Some(Ok(Message::Close(Some(f))))) => {
                        Err((u16::from(f.code), f.reason.to_string()))
                    }
                    other => panic!("unexpected first frame {other:?}"),
                };
                (outcome, client)
            })
        })
        .collect();
    let mut admitted = Vec::new();
    let mut refused = Vec::new();
    for attempt in attempts {
        let (outcome, client) = attempt.await.unwrap_or_else(|e| panic!("{e}"));
        match outcome {
            Ok(welcome) => {
                assert!(welcome.contains("\"connected\""), "{welcome}");
                admitted.push(client);
            }
            Err(close) => refused.push(close),
        }
    }
    assert_eq!(
        admitted.len(),
        10,
        "exactly max_connections_per_user are admitted"
    );
    assert_eq!(refused, vec![(4008, "too many connections".to_owned())]);
    assert_eq!(app.server.stats().active_connections, 10);

    // The limit is per user, not per endpoint, and other users are unaffected.
    let web3 = ws(app.addr, "/api/v1/web3/ws/bob");
    assert_eq!(
        rejected(bearer(web3, &bob)).await,
        (4008, "too many connections".to_owned())
    );
    let mut alice = connect_as(app.addr, "/ws/alice", &token("alice", &["user"])).await;
    expect_welcome(&mut alice, "alice", "notifications").await;

    // Leaving frees a slot.
    let mut leaving = admitted.pop().unwrap_or_else(|| panic!("no connection"));
    leaving.close(None).await.unwrap_or_else(|e| panic!("{e}"));
    let _ = until_close(&mut leaving).await;
    wait_for_active(&app.server, 10).await;
    let mut retry = connect_as(app.addr, "/api/v1/web3/ws/bob", &bob).await;
    expect_welcome(&mut retry, "bob", "web3").await;
}

/// `wsauth-gen token` reads every claim the verifier checks from the spec
/// (issuer, audience, `roles` as an array, `iat`, `exp` within
/// `max_ttl_s`): what it mints is admitted wherever the role may go.
#[tokio::test]
async fn tokens_minted_from_the_spec_are_admitted() {
    let app = start().await;
    let spec = concat!(env!("CARGO_MANIFEST_DIR"), "/../../specs/prsm.yaml");
    let api = wsauth_gen::load(std::path::Path::new(spec)).unwrap_or_else(|e| panic!("{e}"));
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let cases = [
        ("/ws/alice", "alice", "user", "notifications"),
        ("/ws/conversation/alice/1", "alice", "user", "conversation"),
        ("/ws/mod", "mod", "moderator", "notifications"),
        ("/api/v1/web3/ws/admin", "admin", "admin", "web3"),
    ];
    for (path, user, role, endpoint) in cases {
        let request = wsauth_gen::token::TokenRequest {
            subject: user.to_owned(),
            roles: vec![role.to_owned()],
            ttl_s: Some(300),
            ..Default::default()
        };
        let minted =
            wsauth_gen::token::mint(&api, &request, SECRET, now).unwrap_or_else(|e| panic!("{e}"));
        let mut client = connect_as(app.addr, path, &minted.token).await;
        expect_welcome(&mut client, user, endpoint).await;
    }
}
