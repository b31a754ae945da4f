//! `POST /ws/admin/users/{user_id}/disconnect`: admins only; disconnects
//! the user everywhere and refuses their tokens issued until then, on one
//! server and across two sharing a real `redis-server`.

use std::time::Duration;

use serde_json::json;
use wsauth_example_support::redis_server::RedisServer;

use crate::common::*;

const REVOKED: u16 = 4006;

async fn post_disconnect(app: &App, user: &str, token: Option<&str>) -> HttpResponse {
    let auth = token.map_or(String::new(), |t| format!("Authorization: Bearer {t}\r\n"));
    let path = format!("/ws/admin/users/{user}/disconnect");
    http_request(app.addr, &format!("POST {path} HTTP/1.1\r\n{auth}"), "").await
}

#[tokio::test]
async fn only_admins_disconnect_and_the_users_old_tokens_are_refused() {
    let app = start().await;
    let alice_token = token("alice", &["user"]);
    let mut notifications = connect_as(app.addr, "/ws/alice", &alice_token).await;
    expect_welcome(&mut notifications, "alice", "notifications").await;
    let mut conversation = connect_as(app.addr, "/ws/conversation/alice/1", &alice_token).await;
    expect_welcome(&mut conversation, "alice", "conversation").await;
    let mut bob = connect_as(app.addr, "/ws/bob", &token("bob", &["user"])).await;
    expect_welcome(&mut bob, "bob", "notifications").await;

    let refusals = [
        ("no token", None, 401),
        ("bad token", Some("garbage".to_owned()), 401),
        ("user role", Some(token("bob", &["user"])), 403),
        ("moderator", Some(token("mod", &["moderator"])), 403),
        ("inactive admin", Some(token("mallory", &["admin"])), 403),
    ];
    for (case, token, status) in refusals {
        let response = post_disconnect(&app, "alice", token.as_deref()).await;
        assert_eq!(response.status, status, "{case}: {response:?}");
        assert_eq!(response.header("cache-control"), Some("no-store"), "{case}");
    }
    assert_eq!(
        app.server.stats().active_connections,
        3,
        "nothing closed yet"
    );

    let response = post_disconnect(&app, "alice", Some(&token("admin", &["admin"]))).await;
    assert_eq!(response.status, 200, "{response:?}");
    assert_eq!(response.header("cache-control"), Some("no-store"));
    let body = response.json();
    assert_eq!(body["user_id"], "alice");
    let before = body["revoked_before"].as_i64().unwrap_or_default();
    assert!(before >= now() - 1, "{body}");
    for client in [&mut notifications, &mut conversation] {
        let (_, close) = until_close_within(client, Duration::from_secs(2)).await;
        assert_eq!(close.map(|(code, _)| code), Some(REVOKED));
    }
    assert_eq!(app.server.stats().active_connections, 1, "bob stays");

    let (code, _) = rejected(bearer(ws(app.addr, "/ws/alice"), &alice_token)).await;
    assert_eq!(code, REVOKED, "a token issued before is refused");
    let newer = tok("alice", &["user"]).set("iat", json!(before + 1)).mint();
    let mut again = connect_as(app.addr, "/ws/alice", &newer).await;
    expect_welcome(&mut again, "alice", "notifications").await;
}

#[tokio::test]
async fn a_revoked_admin_token_is_refused_401() {
    let app = start().await;
    let by_jti = tok("admin", &["admin"]).set("jti", json!("a1")).mint();
    let response = post_disconnect(&app, "bob", Some(&by_jti)).await;
    assert_eq!(response.status, 200, "{response:?}");
    assert!(app.server.revoke_jti("a1", None).await.is_ok());
    let response = post_disconnect(&app, "bob", Some(&by_jti)).await;
    assert_eq!(response.status, 401, "revoked by jti: {response:?}");

    let admin = token("admin", &["admin"]);
    let response = post_disconnect(&app, "admin", Some(&admin)).await;
    assert_eq!(response.status, 200, "{response:?}");
    let before = response.json()["revoked_before"]
        .as_i64()
        .unwrap_or_default();
    let response = post_disconnect(&app, "bob", Some(&admin)).await;
    assert_eq!(response.status, 401, "issued before: {response:?}");
    let newer = tok("admin", &["admin"])
        .set("iat", json!(before + 1))
        .mint();
    let response = post_disconnect(&app, "bob", Some(&newer)).await;
    assert_eq!(response.status, 200, "a newer token: {response:?}");
}

#[tokio::test]
async fn the_disconnect_route_is_in_the_served_openapi_document() {
    let app = start().await;
    let response = http_get(app.addr, "/openapi.json", None).await;
    let doc: serde_json::Value = serde_json::from_str(&response.body).unwrap_or_default();
    let post = &doc["paths"]["/ws/admin/users/{user_id}/disconnect"]["post"];
    assert_eq!(post["security"][0]["bearer"], json!([]));
    for status in ["200", "401", "403", "503"] {
        assert!(post["responses"][status].is_object(), "{status}: {post}");
    }
    assert_eq!(post["parameters"][0]["name"], "user_id");
}

#[tokio::test]
async fn a_disconnect_on_one_server_reaches_the_other() {
    let Some(redis) = RedisServer::start() else {
        return;
    };
    let cluster = |mut config: prsm::Config| {
        config.cluster = Some(wsauth_core::ClusterConfig {
            prefix: Some("prsm-e2e".into()),
            ..wsauth_core::ClusterConfig::new(redis.url())
        });
        config
    };
    let a = start_with(cluster).await;
    let b = start_with(cluster).await;
    for app in [&a, &b] {
        for _ in 0..250 {
            if app.server.cluster_ready() {
                break;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        assert!(app.server.cluster_ready());
    }
    let alice_token = token("alice", &["user"]);
    let mut on_b = connect_as(b.addr, "/ws/alice", &alice_token).await;
    expect_welcome(&mut on_b, "alice", "notifications").await;

    let response = post_disconnect(&a, "alice", Some(&token("admin", &["admin"]))).await;
    assert_eq!(response.status, 200, "{response:?}");
    let (_, close) = until_close_within(&mut on_b, Duration::from_secs(2)).await;
    assert_eq!(close.map(|(code, _)| code), Some(REVOKED));
    let (code, _) = rejected(bearer(ws(b.addr, "/ws/alice"), &alice_token)).await;
    assert_eq!(code, REVOKED);
}
