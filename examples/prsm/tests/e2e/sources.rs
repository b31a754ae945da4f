//! Where tokens may come from: header, query, cookie (with an allowed
//! origin), and never two different ones at once.

use crate::common::*;

#[tokio::test]
async fn header_and_query_tokens_are_accepted() {
    let app = start().await;
    let alice = token("alice", &["user"]);
    let mut by_header = connect_as(app.addr, "/ws/conversation/alice/1", &alice).await;
    expect_welcome(&mut by_header, "alice", "conversation").await;
    let mut by_query = connect(ws(app.addr, &format!("/ws/alice?token={alice}"))).await;
    expect_welcome(&mut by_query, "alice", "notifications").await;
    let web3 = ws(app.addr, &format!("/api/v1/web3/ws/alice?token={alice}"));
    let mut web3 = connect(web3).await;
    expect_welcome(&mut web3, "alice", "web3").await;
    // The same token in two places is one token.
    let both = bearer(ws(app.addr, &format!("/ws/alice?token={alice}")), &alice);
    let mut both = connect(both).await;
    expect_welcome(&mut both, "alice", "notifications").await;
}

#[tokio::test]
async fn different_tokens_in_query_and_header_are_refused() {
    let app = start().await;
    let alice = token("alice", &["user"]);
    let other = tok("alice", &["user"]).expires_in(300).mint();
    assert_ne!(alice, other);
    let request = bearer(ws(app.addr, &format!("/ws/alice?token={other}")), &alice);
    assert_eq!(
        rejected(request).await,
        (4001, "invalid or expired token".to_owned())
    );
    // Even when one of them is not valid at all.
    let request = bearer(ws(app.addr, "/ws/alice?token=garbage"), &alice);
    assert_eq!(
        rejected(request).await,
        (4001, "invalid or expired token".to_owned())
    );
}

#[tokio::test]
async fn cookie_tokens_need_an_allowed_origin() {
    let app = start().await;
    let alice = token("alice", &["user"]);
    let cookie = format!("theme=dark; access_token={alice}");
    for origin in prsm::DEFAULT_ORIGINS {
        let request = with(
            with(ws(app.addr, "/ws/alice"), "cookie", &cookie),
            "origin",
            origin,
        );
        let mut client = connect(request).await;
        expect_welcome(&mut client, "alice", "notifications").await;
    }
    let mut conversation = connect(with(
        with(ws(app.addr, "/ws/conversation/alice/1"), "cookie", &cookie),
        "origin",
        ORIGIN,
    ))
    .await;
    expect_welcome(&mut conversation, "alice", "conversation").await;
    // Another site's page gets no WebSocket: 403 before the upgrade.
    for origin in [
        "http://evil.example",
        "http://127.0.0.1:8000.evil.example",
        "https://127.0.0.1:8000",
        "http://127.0.0.1:8001",
        "null",
    ] {
        let request = with(
            with(ws(app.addr, "/ws/alice"), "cookie", &cookie),
            "origin",
            origin,
        );
        assert_eq!(refused_status(request).await, 403, "{origin}");
    }
    // A disallowed origin is refused whatever carries the token.
    let request = with(
        bearer(ws(app.addr, "/ws/alice"), &alice),
        "origin",
        "http://evil.example",
    );
    assert_eq!(refused_status(request).await, 403);
}

#[tokio::test]
async fn allow_origin_replaces_the_defaults() {
    let app = start_with(|mut c| {
        c.allowed_origins = vec!["https://app.prsm.example".into()];
        c
    })
    .await;
    let cookie = format!("access_token={}", token("alice", &["user"]));
    let allowed = with(
        with(ws(app.addr, "/ws/alice"), "cookie", &cookie),
        "origin",
        "https://app.prsm.example",
    );
    let mut client = connect(allowed).await;
    expect_welcome(&mut client, "alice", "notifications").await;
    let default = with(
        with(ws(app.addr, "/ws/alice"), "cookie", &cookie),
        "origin",
        ORIGIN,
    );
    assert_eq!(refused_status(default).await, 403);
}

#[tokio::test]
async fn web3_does_not_read_cookies() {
    let app = start().await;
    let cookie = format!("access_token={}", token("alice", &["user"]));
    let request = with(
        with(ws(app.addr, "/api/v1/web3/ws/alice"), "cookie", &cookie),
        "origin",
        ORIGIN,
    );
    assert_eq!(
        rejected(request).await,
        (4001, "authentication required".to_owned())
    );
}
