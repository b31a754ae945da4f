//! Who is admitted to `/ws/mcp-status`, and how everyone else is refused:
//! always 1008 with the spec's generic reason, nothing received first.

use serde_json::json;

use crate::common::*;

const NO_TOKEN: (u16, &str) = (1008, "Authentication required: No token provided");
const INVALID: (u16, &str) = (1008, "Authentication failed: Invalid or expired token");
const INSUFFICIENT_ROLE: (u16, &str) = (1008, "Insufficient permissions: role not authorized");
const USER_INACTIVE: (u16, &str) = (1008, "user inactive");

fn expect(expected: (u16, &str)) -> (u16, String) {
    (expected.0, expected.1.to_owned())
}

#[tokio::test]
async fn admin_developer_and_dba_are_admitted() {
    let app = start().await;
    for (user, role) in [("admin", "admin"), ("dev", "developer"), ("dba", "dba")] {
        let mut client = connect_as(app.addr, &token(user, role)).await;
        let welcome = expect_initial_status(&mut client).await;
        assert_eq!(welcome["mcps"].as_array().map(Vec::len), Some(4), "{user}");
    }
    // The spec's other source: `?token=`.
    let path = format!("{PATH}?token={}", token("dev", "developer"));
    let mut client = connect(ws(app.addr, &path)).await;
    expect_initial_status(&mut client).await;
}

#[tokio::test]
async fn other_roles_are_refused_with_insufficient_role() {
    let app = start().await;
    for (user, role) in [("alice", "user"), ("bob", "user"), ("mod", "moderator")] {
        let close = rejected(bearer(app.addr, &token(user, role))).await;
        assert_eq!(close, expect(INSUFFICIENT_ROLE), "{user}");
    }
    // A role the spec does not know, and no role at all, grant nothing.
    let unknown = token("alice", "superuser");
    assert_eq!(
        rejected(bearer(app.addr, &unknown)).await,
        expect(INSUFFICIENT_ROLE)
    );
    let none = tok("admin", "admin").without("role").mint();
    assert_eq!(
        rejected(bearer(app.addr, &none)).await,
        expect(INSUFFICIENT_ROLE)
    );
}

#[tokio::test]
async fn a_missing_token_is_refused_with_no_token_provided() {
    let app = start().await;
    assert_eq!(rejected(ws(app.addr, PATH)).await, expect(NO_TOKEN));
    // A cookie is not one of this spec's sources.
    let mut request = ws(app.addr, PATH);
    let cookie = format!("token={}", token("admin", "admin"));
    request
        .headers_mut()
        .append("cookie", cookie.parse().unwrap_or_else(|e| panic!("{e}")));
    assert_eq!(rejected(request).await, expect(NO_TOKEN));
}

#[tokio::test]
async fn invalid_and_expired_tokens_are_refused_with_one_reason() {
    let app = start().await;
    let now = now();
    let cases = [
        ("garbage", "not-a-jwt".to_owned()),
        (
            "other secret",
            tok("admin", "admin")
                .secret(b"another-secret-0123456789-abcdefghijkl")
                .mint(),
        ),
        (
            "expired",
            tok("admin", "admin").set("exp", json!(now - 60)).mint(),
        ),
        (
            "wrong issuer",
            tok("admin", "admin").set("iss", json!("prsm")).mint(),
        ),
        (
            "wrong audience",
            tok("admin", "admin").set("aud", json!("prsm-ws")).mint(),
        ),
        (
            "too long a lifetime",
            tok("admin", "admin")
                .set("iat", json!(now))
                .set("exp", json!(now + 7200))
                .mint(),
        ),
        // mcp-status reads one `role` string, not a `roles` array.
        (
            "role as an array",
            tok("admin", "admin").set("role", json!(["admin"])).mint(),
        ),
    ];
    for (name, token) in cases {
        assert_eq!(
            rejected(bearer(app.addr, &token)).await,
            expect(INVALID),
            "{name}"
        );
    }
}

#[tokio::test]
async fn inactive_and_unknown_users_are_refused_with_user_inactive() {
    let app = start().await;
    // mallory holds a valid admin token, and is inactive.
    let mallory = token("mallory", "admin");
    assert_eq!(
        rejected(bearer(app.addr, &mallory)).await,
        expect(USER_INACTIVE)
    );
    let stranger = token("eve", "admin");
    assert_eq!(
        rejected(bearer(app.addr, &stranger)).await,
        expect(USER_INACTIVE)
    );
}

#[tokio::test]
async fn a_user_deactivated_while_the_server_runs_is_refused() {
    let users = mcp_status::Users::seeded();
    let directory = users.clone();
    let app = start_with(move |mut c| {
        c.users = users;
        c
    })
    .await;
    let dev = token("dev", "developer");
    drop(admitted(app.addr, &dev).await);
    directory.set_active("dev", false);
    assert_eq!(
        rejected(bearer(app.addr, &dev)).await,
        expect(USER_INACTIVE)
    );
}
