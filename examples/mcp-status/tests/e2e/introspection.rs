//! Tokens checked by the introspection service (`--introspection-url`):
//! its answer decides; only when it cannot be reached does the spec's
//! `fallback: jwt` verify the token locally.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use mcp_status::IntrospectionService;

use crate::common::*;

const INVALID: (u16, &str) = (1008, "Authentication failed: Invalid or expired token");

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
        (
            1008,
            "Insufficient permissions: role not authorized".to_owned()
        )
    );
    assert_eq!(
        rejected(bearer(app.addr, &token("mallory", "admin"))).await,
        (1008, "user inactive".to_owned())
    );
    assert_eq!(
        rejected(ws(app.addr, PATH)).await,
        (
            1008,
            "Authentication required: No token provided".to_owned()
        )
    );
}

#[tokio::test]
async fn a_token_whose_own_role_falls_short_costs_no_request() {
    let service = open_service().await;
    let app = start_introspected(&service.url()).await;
    // Had the service been asked, it would have said "inactive" (auth
    // failed); the local claims already lack the role (forbidden), so it
    // is not asked.
    service.service.deactivate_user("alice");
    assert_eq!(
        rejected(bearer(app.addr, &token("alice", "user"))).await,
        (
            1008,
            "Insufficient permissions: role not authorized".to_owned()
        )
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
    // fallback. A fallback is for when the service cannot be reached.
    service.service.deactivate_user("dev");
    assert_eq!(
        rejected(bearer(introspected.addr, &dev)).await,
        expect(INVALID)
    );
    drop(admitted(local.addr, &dev).await);
    // Reactivated, dev signs in again; the token the service called
    // inactive stays refused until it expires (that answer is remembered).
    service.service.reactivate_user("dev");
    let again = tok("dev", "developer")
        .set("jti", serde_json::json!("again"))
        .mint();
    drop(admitted(introspected.addr, &again).await);
    assert_eq!(
        rejected(bearer(introspected.addr, &dev)).await,
        expect(INVALID)
    );

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
    assert_eq!(next_text(&mut client).await, r#""pong""#);
    drop(admitted(app.addr, &token("dba", "dba")).await);
    // ...and the local checks are the full ones.
    let forged = tok("admin", "admin")
        .secret(b"another-secret-0123456789-abcdefghijkl")
        .mint();
    assert_eq!(rejected(bearer(app.addr, &forged)).await, expect(INVALID));
    assert_eq!(
        rejected(bearer(app.addr, &token("mod", "moderator"))).await,
        (
            1008,
            "Insufficient permissions: role not authorized".to_owned()
        )
    );
    assert_eq!(
        rejected(bearer(app.addr, &token("mallory", "admin"))).await,
        (1008, "user inactive".to_owned())
    );
}

#[tokio::test]
async fn client_credentials_are_sent_and_checked() {
    let (service, app) = with_client_credentials("client-secret-1").await;
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

/// `Authorization: Basic` for `id:secret`, as a header line.
fn basic(id: &str, secret: &str) -> String {
    format!(
        "Authorization: Basic {}\r\n",
        STANDARD.encode(format!("{id}:{secret}"))
    )
}

#[tokio::test]
async fn the_app_does_not_fall_back_when_the_service_refuses_its_credentials() {
    // Rotated on the service, not in the app: every answer is `401`.
    let (_service, app) = with_client_credentials("client-secret-0").await;
    // A valid token is refused with the server-error code (try later), not
    // admitted on its signature alone: a fallback here would silently switch
    // revocation off until someone noticed.
    let (code, _) = rejected(bearer(app.addr, &token("admin", "admin"))).await;
    assert_eq!(code, 1011);
    // A token that cannot be good is still refused as such, locally.
    let forged = tok("admin", "admin")
        .secret(b"another-secret-0123456789-abcdefghijkl")
        .mint();
    assert_eq!(rejected(bearer(app.addr, &forged)).await, expect(INVALID));
}

#[tokio::test]
async fn revocation_requires_the_client_credentials_when_the_service_has_them() {
    let service = start_service(
        IntrospectionService::require_client(SECRET, "mcp-status", "client-secret-1")
            .unwrap_or_else(|e| panic!("{e}")),
    )
    .await;
    let right = basic("mcp-status", "client-secret-1");
    let admin = token("admin", "admin");
    let form = format!("token={admin}");
    for headers in [String::new(), basic("mcp-status", "wrong")] {
        let refused = http_post(service.addr, "/revoke", &form, &headers).await;
        assert_eq!(refused.status, 401);
        assert_eq!(
            refused.json(),
            serde_json::json!({"error": "invalid_client"})
        );
    }
    assert_eq!(service.service.revoked_len(), 0);
    let answer = http_post(service.addr, "/introspect", &form, &right).await;
    assert_eq!(answer.json()["active"], true, "revoked without credentials");

    assert_eq!(
        http_post(service.addr, "/revoke", &form, &right)
            .await
            .status,
        200
    );
    let answer = http_post(service.addr, "/introspect", &form, &right).await;
    assert_eq!(answer.json(), serde_json::json!({"active": false}));
}

#[tokio::test]
async fn oversized_tokens_are_refused() {
    let service = open_service().await;
    let huge = "a".repeat(wsauth_core::jwt::MAX_TOKEN_BYTES + 1);
    for path in ["/introspect", "/revoke"] {
        let refused = http_post(service.addr, path, &format!("token={huge}"), "").await;
        assert_eq!(refused.status, 400, "{path}");
        assert_eq!(
            refused.json(),
            serde_json::json!({"error": "invalid_request"}),
            "{path}"
        );
    }
    // Beyond the body limit: refused before the form is read, even when
    // the token in it is short (without the limit, this `nope` would be
    // revoked like any junk token, with 200).
    let padded = format!(
        "token=nope&pad={}",
        "a".repeat(4 * wsauth_core::jwt::MAX_TOKEN_BYTES)
    );
    assert_eq!(
        http_post(service.addr, "/revoke", &padded, "").await.status,
        400
    );
    assert_eq!(
        http_post(service.addr, "/revoke", "token=nope&pad=a", "")
            .await
            .status,
        200,
        "the same form under the limit"
    );
    assert_eq!(service.service.revoked_len(), 0);
}

#[tokio::test]
async fn only_valid_tokens_are_remembered_and_the_list_is_bounded() {
    let service = open_service().await;
    // Nothing to remember about tokens that are inactive anyway.
    let forged = tok("admin", "admin")
        .secret(b"another-secret-0123456789-abcdefghijkl")
        .mint();
    for junk in ["nope".to_owned(), forged] {
        let revoked = http_post(service.addr, "/revoke", &format!("token={junk}"), "").await;
        assert_eq!(revoked.status, 200);
    }
    assert_eq!(service.service.revoked_len(), 0);

    let first = tok("admin", "admin")
        .set("jti", serde_json::json!("first"))
        .mint();
    let form = format!("token={first}");
    assert_eq!(
        http_post(service.addr, "/revoke", &form, "").await.status,
        200
    );
    for n in 1..mcp_status::introspect::MAX_REVOKED {
        let token = tok("admin", "admin")
            .set("jti", serde_json::json!(n))
            .mint();
        assert_eq!(service.service.revoke_token(&token).await, Ok(()));
    }
    assert_eq!(
        service.service.revoked_len(),
        mcp_status::introspect::MAX_REVOKED
    );

    // Full: refused, and no earlier revocation is forgotten to make room.
    let another = tok("dev", "developer").mint();
    let refused = http_post(service.addr, "/revoke", &format!("token={another}"), "").await;
    assert_eq!(refused.status, 503);
    assert_eq!(
        refused.json(),
        serde_json::json!({"error": "temporarily_unavailable"})
    );
    assert!(
        refused
            .head
            .to_ascii_lowercase()
            .contains("retry-after: 60")
    );
    let answer = http_post(service.addr, "/introspect", &form, "").await;
    assert_eq!(answer.json(), serde_json::json!({"active": false}));
    // Revoking a revoked token again needs no room.
    assert_eq!(
        http_post(service.addr, "/revoke", &form, "").await.status,
        200
    );
}

#[tokio::test]
async fn a_respelled_signature_does_not_dodge_revocation() {
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    let service = open_service().await;
    let admin = token("admin", "admin");
    let revoked = http_post(service.addr, "/revoke", &format!("token={admin}"), "").await;
    assert_eq!(revoked.status, 200);
    // The last character of an HS256 signature carries two unused bits:
    // flipping one spells the same 32 bytes differently. Today's verifier
    // refuses that spelling; were it lenient, the revoked list (keyed by the
    // decoded signature) would still catch it.
    let last = admin.bytes().last().unwrap_or_default();
    let index = ALPHABET
        .iter()
        .position(|&c| c == last)
        .unwrap_or_else(|| panic!("not base64url"));
    let respelled = format!(
        "{}{}",
        &admin[..admin.len() - 1],
        char::from(ALPHABET[index ^ 1])
    );
    assert_ne!(respelled, admin);
    let answer = http_post(
        service.addr,
        "/introspect",
        &format!("token={respelled}"),
        "",
    )
    .await;
    assert_eq!(answer.json(), serde_json::json!({"active": false}));
}

/// An introspection service that requires client `mcp-status` with secret
/// `client-secret-1`, and the app calling it with `app_secret`.
async fn with_client_credentials(app_secret: &'static str) -> (Service, App) {
    let service = start_service(
        IntrospectionService::require_client(SECRET, "mcp-status", "client-secret-1")
            .unwrap_or_else(|e| panic!("{e}")),
    )
    .await;
    let url = service.url();
    let app = start_with(move |mut c| {
        let mut introspection = mcp_status::IntrospectionConfig::new(url);
        introspection.client = Some(("mcp-status".into(), app_secret.into()));
        introspection.cache_active_for = std::time::Duration::ZERO;
        c.introspection = Some(introspection);
        c
    })
    .await;
    (service, app)
}
