//! Every refusal gets the spec's close code, and the refused client
//! receives nothing before it.

use jsonwebtoken::Algorithm;
use serde_json::json;

use crate::common::*;

type Case = (&'static str, String, (u16, &'static str));

/// Runs `cases` (name, path with its query, expected close) against `app`.
async fn refuse_all(app: &App, cases: Vec<Case>) {
    for (case, path, expected) in cases {
        let got = rejected(ws(app.addr, &path)).await;
        assert_eq!(got, close(expected), "{case}: {path}");
    }
    wait_for_active(&app.server, 0).await;
}

#[tokio::test]
async fn entries_of_someone_else_close_with_4003() {
    let app = start().await;
    let alice = token("alice", &["user"]);
    let bob = token("bob", &["user"]);
    let cases: Vec<Case> = vec![
        (
            "bob on alice's entry",
            entry_path("1", Some(&bob)),
            FORBIDDEN,
        ),
        (
            "alice on bob's entry",
            entry_path("2", Some(&alice)),
            FORBIDDEN,
        ),
        (
            "bob on alice's failing entry",
            entry_path("3", Some(&bob)),
            FORBIDDEN,
        ),
        (
            "an admin on alice's entry: reflections are private",
            entry_path("1", Some(&token("admin", &["admin"]))),
            FORBIDDEN,
        ),
        (
            "a moderator on alice's entry",
            entry_path("1", Some(&token("mod", &["moderator"]))),
            FORBIDDEN,
        ),
    ];
    refuse_all(&app, cases).await;
}

#[tokio::test]
async fn missing_entries_close_with_4004() {
    let app = start().await;
    let alice = token("alice", &["user"]);
    let mut cases: Vec<Case> = vec![
        ("no entry 99", entry_path("99", Some(&alice)), NOT_FOUND),
        ("no entry 0", entry_path("0", Some(&alice)), NOT_FOUND),
        ("no entry -1", entry_path("-1", Some(&alice)), NOT_FOUND),
    ];
    // `entry_id` is an integer: anything but its one canonical decimal
    // spelling names no entry, even when it would parse as entry 1.
    for bad in [
        "abc",
        "1.0",
        "01",
        "+1",
        "1e0",
        "0x1",
        "%31",
        "-0",
        " 1",
        "99999999999999999999",
    ] {
        let path = entry_path(&bad.replace(' ', "%20"), Some(&alice));
        cases.push(("not a canonical integer", path, NOT_FOUND));
    }
    refuse_all(&app, cases).await;
}

#[tokio::test]
async fn bad_or_missing_tokens_close_with_4001() {
    let app = start().await;
    let alice = || tok("alice", &["user"]);
    let cases: Vec<Case> = vec![
        ("no token", entry_path("1", None), AUTH_REQUIRED),
        (
            "no token, and an entry that is not an integer",
            entry_path("abc", None),
            AUTH_REQUIRED,
        ),
        (
            "empty token (malformed)",
            entry_path("1", Some("")),
            AUTH_FAILED,
        ),
        ("not a jwt", entry_path("1", Some("garbage")), AUTH_FAILED),
        (
            "bad signature",
            entry_path(
                "1",
                Some(
                    &alice()
                        .secret(b"another-secret-of-32-bytes-or-more!!")
                        .mint(),
                ),
            ),
            AUTH_FAILED,
        ),
        (
            "HS512 where only HS256 is allowed",
            entry_path("1", Some(&alice().alg(Algorithm::HS512).mint())),
            AUTH_FAILED,
        ),
        (
            "expired",
            entry_path(
                "1",
                Some(
                    &alice()
                        .set("iat", json!(now() - 120))
                        .expires_in(-60)
                        .mint(),
                ),
            ),
            AUTH_FAILED,
        ),
        (
            "wrong issuer",
            entry_path("1", Some(&alice().set("iss", json!("prsm")).mint())),
            AUTH_FAILED,
        ),
        (
            "wrong audience",
            entry_path("1", Some(&alice().set("aud", json!("prsm-ws")).mint())),
            AUTH_FAILED,
        ),
        (
            "no exp",
            entry_path("1", Some(&alice().without("exp").mint())),
            AUTH_FAILED,
        ),
        (
            "lifetime over max_ttl_s (30 minutes)",
            entry_path("1", Some(&alice().expires_in(1900).mint())),
            AUTH_FAILED,
        ),
        (
            "expired, on an entry that does not exist",
            entry_path("99", Some(&alice().expires_in(-60).mint())),
            AUTH_FAILED,
        ),
    ];
    refuse_all(&app, cases).await;
    // The header source is read the same way.
    let expired = alice().expires_in(-60).mint();
    let request = bearer(ws(app.addr, "/ws/reflections/1"), &expired);
    assert_eq!(rejected(request).await, close(AUTH_FAILED));
}

#[tokio::test]
async fn inactive_and_unknown_users_close_with_4002() {
    let app = start().await;
    let cases: Vec<Case> = vec![
        (
            "mallory is inactive",
            entry_path("1", Some(&token("mallory", &["user"]))),
            USER_INACTIVE,
        ),
        (
            "mallory as admin is still inactive",
            entry_path("1", Some(&token("mallory", &["admin"]))),
            USER_INACTIVE,
        ),
        (
            "carol has a valid token but is not in the store",
            entry_path("1", Some(&token("carol", &["user"]))),
            USER_INACTIVE,
        ),
        (
            "carol, on an entry that does not exist",
            entry_path("99", Some(&token("carol", &["user"]))),
            USER_INACTIVE,
        ),
    ];
    refuse_all(&app, cases).await;
}

#[tokio::test]
async fn tokens_without_the_permission_close_with_4003() {
    let app = start().await;
    let alice = || tok("alice", &["user"]);
    let cases: Vec<Case> = vec![
        (
            "no roles",
            entry_path("1", Some(&alice().without("roles").mint())),
            FORBIDDEN,
        ),
        (
            "unknown role",
            entry_path("1", Some(&alice().set("roles", json!(["guest"])).mint())),
            FORBIDDEN,
        ),
        (
            "no permission, on an entry that does not exist: not told",
            entry_path("99", Some(&alice().set("roles", json!([])).mint())),
            FORBIDDEN,
        ),
    ];
    refuse_all(&app, cases).await;
}

#[tokio::test]
async fn a_failing_store_closes_with_1011_before_anything_is_sent() {
    let app = start().await;
    let path = entry_path(
        &UNAVAILABLE_ENTRY.to_string(),
        Some(&token("alice", &["user"])),
    );
    assert_eq!(rejected(ws(app.addr, &path)).await, close(SERVER_ERROR));
    // The fault is the entry's backend: other entries still stream.
    let mut client = connect_to(app.addr, "1", "alice").await;
    let (seen, closed) = texts_until_close(&mut client).await;
    assert_eq!(closed, Some(close(DONE)));
    assert_eq!(seen, seeded_tokens(1));
}
