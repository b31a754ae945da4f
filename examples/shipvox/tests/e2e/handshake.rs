//! `/ws` admission: the token comes from `?token=` only; every refusal is
//! the spec's close code with nothing sent first.

use std::time::Duration;

use serde_json::json;

use crate::common::*;

/// auth_required / auth_failed (client: refresh_token), as the ShipVox document closes them.
const AUTH: u16 = 1008;
/// user_inactive (client: stop).
const INACTIVE: u16 = 4002;

#[tokio::test]
async fn a_token_from_token_in_the_query_is_admitted() {
    let app = start().await;
    let token = sign_in(&app, "alice").await;
    let mut client = connect_with(app.addr, &token).await;
    let welcome = expect_welcome(&mut client, "alice").await;
    assert_eq!(
        welcome,
        json!({"type": "connected", "user_id": "alice", "listeners": 1})
    );
}

#[tokio::test]
async fn other_token_sources_are_refused() {
    let app = start().await;
    let token = token("alice", &["user"]);
    let header = with(
        ws(app.addr, "/ws"),
        "authorization",
        &format!("Bearer {token}"),
    );
    let subprotocol = with(
        ws(app.addr, "/ws"),
        "sec-websocket-protocol",
        &format!("wsauth, wsauth.bearer.{token}"),
    );
    let cookie = with(ws(app.addr, "/ws"), "cookie", &format!("token={token}"));
    let other_query = ws(app.addr, &format!("/ws?access_token={token}"));
    for (what, request) in [
        ("header", header),
        ("subprotocol", subprotocol),
        ("cookie", cookie),
        ("other query name", other_query),
    ] {
        let (code, reason) = rejected(request).await;
        assert_eq!(code, AUTH, "{what}: {reason}");
        assert_eq!(reason, "Missing authentication token", "{what}");
    }
}

#[tokio::test]
async fn bad_tokens_get_the_spec_codes_and_nothing_else() {
    let app = start().await;
    let mut expired = claims("alice", &["user"]);
    expired["iat"] = json!(now() - 700);
    expired["exp"] = json!(now() - 60);
    let mut wrong_aud = claims("alice", &["user"]);
    wrong_aud["aud"] = json!("prsm-ws");
    let mut too_long = claims("alice", &["user"]);
    too_long["exp"] = json!(now() + 7200);
    let mut no_exp = claims("alice", &["user"]);
    no_exp.as_object_mut().map(|o| o.remove("exp"));
    let cases = [
        (
            "missing",
            "/ws".to_owned(),
            AUTH,
            "Missing authentication token",
        ),
        (
            "empty",
            "/ws?token=".to_owned(),
            AUTH,
            "Invalid or expired token",
        ),
        (
            "garbage",
            "/ws?token=not.a.jwt".to_owned(),
            AUTH,
            "Invalid or expired token",
        ),
        (
            "other secret",
            format!(
                "/ws?token={}",
                sign(
                    &claims("alice", &["user"]),
                    b"another-secret-0123456789-abcdefghijkl"
                )
            ),
            AUTH,
            "Invalid or expired token",
        ),
        (
            "expired",
            format!("/ws?token={}", sign(&expired, SECRET)),
            AUTH,
            "Invalid or expired token",
        ),
        (
            "wrong audience",
            format!("/ws?token={}", sign(&wrong_aud, SECRET)),
            AUTH,
            "Invalid or expired token",
        ),
        (
            "over max_ttl",
            format!("/ws?token={}", sign(&too_long, SECRET)),
            AUTH,
            "Invalid or expired token",
        ),
        (
            "no exp",
            format!("/ws?token={}", sign(&no_exp, SECRET)),
            AUTH,
            "Invalid or expired token",
        ),
        (
            "inactive",
            format!("/ws?token={}", token("mallory", &["user"])),
            INACTIVE,
            "user inactive",
        ),
        (
            "unknown user",
            format!("/ws?token={}", token("carol", &["user"])),
            INACTIVE,
            "user inactive",
        ),
    ];
    for (what, path, code, reason) in cases {
        let (got, got_reason) = rejected(ws(app.addr, &path)).await;
        assert_eq!((got, got_reason.as_str()), (code, reason), "{what}");
    }
    // Roles without `broadcast.listen`: forbidden.
    let (code, _) = rejected(ws(app.addr, &format!("/ws?token={}", token("alice", &[])))).await;
    assert_eq!(code, 4003);
    wait_for_active(&app.server, 0).await;
}

#[tokio::test]
async fn a_live_connection_is_closed_when_its_token_expires() {
    let app = start().await;
    let mut short = claims("bob", &["user"]);
    // Good until exp + the spec's 5 s leeway (as at the handshake): 2 s left.
    short["exp"] = json!(now() + 2 - 5);
    let mut client = connect_with(app.addr, &sign(&short, SECRET)).await;
    expect_welcome(&mut client, "bob").await;
    let (seen, close) = until_close_within(&mut client, Duration::from_secs(6)).await;
    assert!(seen.is_empty(), "{seen:?}");
    // The document does not cover live connections: `token_expired` keeps
    // the framework's 4001.
    assert_eq!(close, Some((4001, "token expired".to_owned())));
}

#[tokio::test]
async fn a_say_outside_the_spec_is_refused() {
    let app = start().await;
    let token = sign_in(&app, "alice").await;
    for bad in [
        json!({"type": "say", "text": ""}),
        json!({"type": "say", "text": "x".repeat(2001)}),
        json!({"type": "say"}),
        json!({"type": "relayed", "from": "admin", "at": "2026-01-01T00:00:00Z", "request_id": "x", "text": "hi"}),
    ] {
        let mut client = connect_with(app.addr, &token).await;
        expect_welcome(&mut client, "alice").await;
        send_json(&mut client, bad.clone()).await;
        let (seen, close) = until_close(&mut client).await;
        assert!(seen.is_empty(), "{bad}: {seen:?}");
        assert_eq!(close.map(|c| c.0), Some(1007), "{bad}");
    }
}

#[tokio::test]
async fn connections_per_user_are_limited() {
    let app = start().await;
    let token = sign_in(&app, "bob").await;
    let mut open = Vec::new();
    for _ in 0..3 {
        let mut client = connect_with(app.addr, &token).await;
        expect_welcome(&mut client, "bob").await;
        open.push(client);
    }
    let (code, _) = rejected(ws(app.addr, &format!("/ws?token={token}"))).await;
    assert_eq!(code, 4008);
}
