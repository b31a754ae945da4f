//! Every refusal of `/ws/{user_id}`: the refused client gets the close code
//! and reason of the spec's failure kind, and nothing before it.

use jsonwebtoken::Algorithm;
use serde_json::json;
use wsauth_core::spec::FailureKind;

use crate::common::*;

const MISMATCH: (u16, &str) = (1008, "Unauthorized: User ID mismatch");

fn pair((code, reason): (u16, &str)) -> (u16, String) {
    (code, reason.to_owned())
}

#[tokio::test]
async fn the_path_user_must_be_the_subject_exactly() {
    let app = start().await;
    assert_eq!(
        spec_close(FailureKind::SubjectMismatch),
        pair(MISMATCH),
        "the spec's own entry"
    );
    // (subject, path): the path's user is compared with the subject as
    // sent, byte for byte, before any decoding or user lookup.
    let cases = [
        ("alice", "/ws/bob"),
        ("alice", "/ws/Alice"),
        ("alice", "/ws/ALICE"),
        ("alice", "/ws/alic"),
        ("alice", "/ws/alice2"),
        ("alice", "/ws/%61lice"),
        ("alice", "/ws/alic%65"),
        ("alice", "/ws/%41lice"),
        ("alice", "/ws/alice%20"),
        ("alice", "/ws/%20alice"),
        ("alice", "/ws/alice%00"),
        ("alice", "/ws/alice%2F"),
        ("42", "/ws/042"),
        ("042", "/ws/42"),
        ("42", "/ws/+42"),
        ("42", "/ws/42.0"),
        ("42", "/ws/%34%32"),
        ("user 1", "/ws/user%201"),
        ("mallory", "/ws/alice"),
    ];
    for (subject, path) in cases {
        for via in VIAS {
            let request = request(app.addr, path, &token(subject, &["user"]), via);
            assert_eq!(
                rejected(request).await,
                pair(MISMATCH),
                "{subject} on {path} by {via:?}"
            );
        }
    }
    wait_for_active(&app.server, 0).await;
}

#[tokio::test]
async fn missing_invalid_and_expired_tokens_close_1008() {
    let app = start().await;
    let required = spec_close(FailureKind::AuthRequired);
    let failed = spec_close(FailureKind::AuthFailed);
    assert_eq!(required, pair((1008, "Authentication required")));
    assert_eq!(failed, pair((1008, "Authentication failed")));

    assert_eq!(rejected(ws(app.addr, "/ws/alice")).await, required);
    // A token in a place the spec does not read is no token.
    let cookie = format!("token={}", token("alice", &["user"]));
    let cookie = with(ws(app.addr, "/ws/alice"), "cookie", &cookie);
    assert_eq!(rejected(cookie).await, required);
    let other_param = ws(
        app.addr,
        &format!("/ws/alice?access_token={}", token("alice", &["user"])),
    );
    assert_eq!(rejected(other_param).await, required);
    let alice = || tok("alice", &["user"]);
    let bad_tokens = [
        ("garbage", "not-a-jwt".to_owned()),
        ("expired", alice().expires_in(-60).mint()),
        (
            "wrong secret",
            alice()
                .secret(b"another-secret-0123456789-abcdefghij")
                .mint(),
        ),
        ("HS384", alice().alg(Algorithm::HS384).mint()),
        ("wrong issuer", alice().set("iss", json!("prsm")).mint()),
        (
            "wrong audience",
            alice().set("aud", json!("prsm-ws")).mint(),
        ),
        ("no exp", alice().without("exp").mint()),
        ("no sub", alice().without("sub").mint()),
        (
            "lifetime over max_ttl_s",
            alice().expires_in(2 * 86_400).mint(),
        ),
        (
            "not yet valid",
            alice().set("nbf", json!(now() + 600)).mint(),
        ),
    ];
    for (what, bad) in bad_tokens {
        for via in VIAS {
            let request = request(app.addr, "/ws/alice", &bad, via);
            assert_eq!(rejected(request).await, failed, "{what} by {via:?}");
        }
    }
    // An empty query token is malformed, not absent.
    assert_eq!(rejected(ws(app.addr, "/ws/alice?token=")).await, failed);
}

#[tokio::test]
async fn inactive_and_unknown_users_close_1008_like_a_failed_token() {
    let app = start().await;
    let inactive = spec_close(FailureKind::UserInactive);
    assert_eq!(inactive, pair((1008, "Authentication failed")));
    for via in VIAS {
        let mallory = request(app.addr, "/ws/mallory", &token("mallory", &["user"]), via);
        assert_eq!(rejected(mallory).await, inactive, "{via:?}");
        // Even as admin.
        let mallory = request(app.addr, "/ws/mallory", &token("mallory", &["admin"]), via);
        assert_eq!(rejected(mallory).await, inactive, "{via:?}");
        let carol = request(app.addr, "/ws/carol", &token("carol", &["user"]), via);
        assert_eq!(rejected(carol).await, inactive, "{via:?}");
        // `42` is nobody, so its exact path passes the subject check and
        // stops at the user lookup.
        let numeric = request(app.addr, "/ws/42", &token("42", &["user"]), via);
        assert_eq!(rejected(numeric).await, inactive, "{via:?}");
    }
}

#[tokio::test]
async fn a_token_without_graph_read_closes_4003() {
    let app = start().await;
    let forbidden = spec_close(FailureKind::Forbidden);
    assert_eq!(forbidden, pair((4003, "forbidden")));
    for roles in [&[][..], &["dj"][..]] {
        for via in VIAS {
            let request = request(app.addr, "/ws/alice", &token("alice", roles), via);
            assert_eq!(rejected(request).await, forbidden, "{roles:?} by {via:?}");
        }
    }
}

#[tokio::test]
async fn disallowed_origins_get_403_before_the_upgrade() {
    let app = start().await;
    let alice = token("alice", &["user"]);
    for origin in ["http://evil.example", "http://127.0.0.1:8001", "null"] {
        for via in VIAS {
            let request = with(
                request(app.addr, "/ws/alice", &alice, via),
                "origin",
                origin,
            );
            assert_eq!(refused_status(request).await, 403, "{origin}");
        }
        let anonymous = with(ws(app.addr, "/ws/anonymous"), "origin", origin);
        assert_eq!(refused_status(anonymous).await, 403, "{origin}");
    }
    for origin in songnodes::DEFAULT_ORIGINS {
        let request = with(
            request(app.addr, "/ws/alice", &alice, Via::Query),
            "origin",
            origin,
        );
        let mut client = connect(request).await;
        expect_welcome(&mut client, "alice", &USER_PERMISSIONS).await;
    }
}

#[tokio::test]
async fn other_paths_are_not_endpoints() {
    let app = start().await;
    let alice = token("alice", &["user"]);
    for path in ["/ws/alice/extra", "/ws", "/ws/", "/wss/alice"] {
        let request = request(app.addr, path, &alice, Via::Header);
        let refused = tokio_tungstenite::connect_async(request).await;
        assert!(refused.is_err(), "{path} upgraded");
    }
}
