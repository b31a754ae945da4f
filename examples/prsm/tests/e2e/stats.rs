//! `GET /ws/stats`: for holders of `system.monitor` only.

use serde_json::json;

use crate::common::*;

#[tokio::test]
async fn stats_are_for_monitors_only_and_never_cached() {
    let app = start().await;
    let mut a = connect_as(app.addr, "/ws/alice", &token("alice", &["user"])).await;
    expect_welcome(&mut a, "alice", "notifications").await;
    let mut b = connect_as(
        app.addr,
        "/ws/conversation/alice/1",
        &token("alice", &["user"]),
    )
    .await;
    expect_welcome(&mut b, "alice", "conversation").await;
    let mut c = connect_as(app.addr, "/ws/bob", &token("bob", &["user"])).await;
    expect_welcome(&mut c, "bob", "notifications").await;

    let expected = json!({
        "active_connections": 3,
        "unique_users": 2,
        "per_endpoint": [
            {"endpoint": "notifications", "active": 2},
            {"endpoint": "conversation", "active": 1},
            {"endpoint": "web3", "active": 0},
        ],
    });
    for (who, roles) in [("admin", "admin"), ("mod", "moderator")] {
        let response = http_get(app.addr, "/ws/stats", Some(&token(who, &[roles]))).await;
        assert_eq!(response.status, 200, "{who}: {response:?}");
        assert_eq!(response.header("cache-control"), Some("no-store"), "{who}");
        assert!(
            response
                .header("content-type")
                .is_some_and(|t| t.starts_with("application/json"))
        );
        assert_eq!(response.json(), expected, "{who}");
    }

    let refusals = [
        ("user role", Some(token("alice", &["user"])), 403),
        ("inactive admin", Some(token("mallory", &["admin"])), 403),
        ("no token", None, 401),
        ("bad token", Some("garbage".to_owned()), 401),
        (
            "wrong audience",
            Some(tok("admin", &["admin"]).set("aud", json!("x")).mint()),
            401,
        ),
    ];
    for (case, token, status) in refusals {
        let response = http_get(app.addr, "/ws/stats", token.as_deref()).await;
        assert_eq!(response.status, status, "{case}: {response:?}");
        assert_eq!(response.header("cache-control"), Some("no-store"), "{case}");
        assert!(
            !response.body.contains("active_connections"),
            "{case}: {}",
            response.body
        );
    }
}

#[tokio::test]
async fn stats_endpoint_is_described_by_the_served_openapi_document() {
    let app = start().await;
    let response = http_get(app.addr, "/openapi.json", None).await;
    assert_eq!(response.status, 200, "{response:?}");
    let doc: serde_json::Value = serde_json::from_str(&response.body).unwrap_or_default();
    let get = &doc["paths"]["/ws/stats"]["get"];
    assert_eq!(get["security"][0]["bearer"], json!([]));
    assert_eq!(
        get["responses"]["200"]["content"]["application/json"]["schema"]["$ref"],
        "#/components/schemas/Stats"
    );
    assert!(doc["components"]["schemas"]["EndpointStats"]["properties"]["active"].is_object());
}
