//! Tokens checked by the introspection service (`--introspection-url`):
//! its answer decides; only when it cannot answer does the spec's
//! `fallback: jwt` verify the token locally.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use mcp_status::IntrospectionService;

use crate::common::*;

const INVALID: (u16, &str) = (1008, "invalid or expired token");

fn expect(expected: (u16, &str)) -> (u16, String) {
    (expected.0, expected.1.to_owned())
}

#[tokio::test]
async fn active_tokens_are_admitted_and_roles_still_apply() {
    let service = open_service().await;
    let app = start_introspected(&service.url()).await;
    for (user, role) in [("admin", "admin"), ("dev", "developer"), ("dba", "dba")] {
        drop(admitted(app.addr, &token(user, role)).await);
    }
    // The answer's claims go through the same pipeline: role, then user.
    assert_eq!(
        rejected(bearer(app.addr, &token("alice", "user"))).await,
        (1008, "insufficient role".to_owned())
    );
    assert_eq!(
        rejected(bearer(app.addr, &token("mallory", "admin"))).await,
        (1008, "user inactive".to_owned())
    );
    assert_eq!(
        rejected(ws(app.addr, PATH)).await,
        (1008, "no token provided".to_owned())
    );
}

#[tokio::test]
async fn inactive_answers_refuse_tokens_that_are_valid_locally() {
    let service = open_service().await;
    let introspected = start_introspected(&service.url()).await;
    let local = start().await;
    let dev = token("dev", "developer");
    drop(admitted(introspected.addr, &dev).await);

    // The service deactivates dev: refused, although the token still
    // verifies locally (the local-only app admits it) and the spec has a
    // fallback. A fallback is for when the service cannot answer.
    service.service.deactivate_user("dev");
    assert_eq!(
        rejected(bearer(introspected.addr, &dev)).await,
        expect(INVALID)
    );
    drop(admitted(local.addr, &dev).await);
    service.service.reactivate_user("dev");
    drop(admitted(introspected.addr, &dev).await);

    // One token revoked (RFC 7009, over HTTP): that token only.
    let admin = token("admin", "admin");
    let revoked = http_post(service.addr, "/revoke", &format!("token={admin}"), "").await;
    assert_eq!(revoked.status, 200);
    assert_eq!(
        rejected(bearer(introspected.addr, &admin)).await,
        expect(INVALID)
    );
    let fresh = tok("admin", "admin")
        .set("jti", serde_json::json!("second"))
        .mint();
    drop(admitted(introspected.addr, &fresh).await);
}

#[tokio::test]
async fn tokens_the_service_does_not_know_are_refused() {
    let service = open_service().await;
    let app = start_introspected(&service.url()).await;
    let forged = tok("admin", "admin")
        .secret(b"another-secret-0123456789-abcdefghijkl")
        .mint();
    assert_eq!(rejected(bearer(app.addr, &forged)).await, expect(INVALID));
    let expired = tok("admin", "admin")
        .set("exp", serde_json::json!(now() - 60))
        .mint();
    assert_eq!(rejected(bearer(app.addr, &expired)).await, expect(INVALID));
}

#[tokio::test]
async fn when_the_service_is_down_tokens_are_verified_locally() {
    let app = start_introspected(&unreachable_url().await).await;
    // The spec says `fallback: jwt`: a valid token is admitted...
    let mut client = admitted(app.addr, &token("admin", "admin")).await;
    send_text(&mut client, "ping").await;
    assert_eq!(next_text(&mut client).await, "pong");
    drop(admitted(app.addr, &token("dba", "dba")).await);
    // ...and the local checks are the full ones.
    let forged = tok("admin", "admin")
        .secret(b"another-secret-0123456789-abcdefghijkl")
        .mint();
    assert_eq!(rejected(bearer(app.addr, &forged)).await, expect(INVALID));
    assert_eq!(
        rejected(bearer(app.addr, &token("mod", "moderator"))).await,
        (1008, "insufficient role".to_owned())
    );
    assert_eq!(
        rejected(bearer(app.addr, &token("mallory", "admin"))).await,
        (1008, "user inactive".to_owned())
    );
}

#[tokio::test]
async fn client_credentials_are_sent_and_checked() {
    let service = start_service(
        IntrospectionService::require_client(SECRET, "mcp-status", "client-secret-1")
            .unwrap_or_else(|e| panic!("{e}")),
    )
    .await;
    let url = service.url();
    let app = start_with(move |mut c| {
        let mut introspection = mcp_status::IntrospectionConfig::new(url);
        introspection.client = Some(("mcp-status".into(), "client-secret-1".into()));
        c.introspection = Some(introspection);
        c
    })
    .await;
    let dev = token("dev", "developer");
    drop(admitted(app.addr, &dev).await);
    // The app is really asking: the service's verdict is applied.
    service.service.deactivate_user("dev");
    assert_eq!(rejected(bearer(app.addr, &dev)).await, expect(INVALID));

    // Callers without (or with wrong) credentials get 401.
    let form = format!("token={dev}");
    let anonymous = http_post(service.addr, "/introspect", &form, "").await;
    assert_eq!(anonymous.status, 401);
    assert_eq!(
        anonymous.json(),
        serde_json::json!({"error": "invalid_client"})
    );
    assert!(
        anonymous
            .head
            .to_ascii_lowercase()
            .contains("www-authenticate: basic")
    );
    let wrong = format!(
        "Authorization: Basic {}\r\n",
        STANDARD.encode("mcp-status:wrong")
    );
    assert_eq!(
        http_post(service.addr, "/introspect", &form, &wrong)
            .await
            .status,
        401
    );
    let right = format!(
        "Authorization: Basic {}\r\n",
        STANDARD.encode("mcp-status:client-secret-1")
    );
    let answer = http_post(service.addr, "/introspect", &form, &right).await;
    assert_eq!(answer.status, 200);
    assert_eq!(answer.json(), serde_json::json!({"active": false}));
}

#[tokio::test]
async fn the_service_answers_rfc_7662() {
    let service = open_service().await;
    let admin = token("admin", "admin");
    let answer = http_post(service.addr, "/introspect", &format!("token={admin}"), "").await;
    assert_eq!(answer.status, 200);
    assert!(
        answer
            .head
            .to_ascii_lowercase()
            .contains("cache-control: no-store")
    );
    let body = answer.json();
    assert_eq!(body["active"], true);
    assert_eq!(body["sub"], "admin");
    assert_eq!(body["role"], "admin");
    assert_eq!(body["iss"], "mcp-status");
    assert_eq!(body["aud"], "mcp-status-ws");
    assert_eq!(body["token_type"], "Bearer");
    assert!(body["exp"].is_u64() && body["iat"].is_u64(), "{body}");

    let garbage = http_post(service.addr, "/introspect", "token=nope", "").await;
    assert_eq!(garbage.json(), serde_json::json!({"active": false}));
    let missing = http_post(service.addr, "/introspect", "tok=x", "").await;
    assert_eq!(missing.status, 400);
    assert_eq!(
        missing.json(),
        serde_json::json!({"error": "invalid_request"})
    );
}
