//! Where tokens may come from (`sources: [{ query: token }, subprotocol,
//! header]`), and the welcome an admitted client gets.

use serde_json::json;

use crate::common::*;

#[tokio::test]
async fn each_source_is_admitted_with_the_welcome() {
    let app = start().await;
    let alice = token("alice", &["user"]);
    let mut clients = Vec::new();
    for via in VIAS {
        let mut client = connect(request(app.addr, "/ws/alice", &alice, via)).await;
        expect_welcome(&mut client, "alice", &USER_PERMISSIONS).await;
        // The connection serves after the welcome.
        send_json(&mut client, json!({"type": "search", "query": "daft"})).await;
        let results = next_json(&mut client).await;
        assert_eq!(results["type"], "search_results", "{via:?}: {results}");
        clients.push(client);
    }
    wait_for_active(&app.server, 3).await;
}

#[tokio::test]
async fn the_welcome_lists_the_roles_permissions() {
    let app = start().await;
    let cases: [(&str, &[&str], &[&str]); 5] = [
        ("bob", &["user"], &USER_PERMISSIONS),
        ("mod", &["moderator"], &["graph.read", "graph.search"]),
        ("admin", &["admin"], &USER_PERMISSIONS),
        // Roles add up; unknown roles grant nothing.
        ("mod", &["moderator", "user", "dj"], &USER_PERMISSIONS),
        // `guest` is a role like any other when a token carries it.
        ("alice", &["guest"], &["graph.read"]),
    ];
    for (user, roles, permissions) in cases {
        for via in VIAS {
            let request = request(app.addr, &format!("/ws/{user}"), &token(user, roles), via);
            let mut client = connect(request).await;
            expect_welcome(&mut client, user, permissions).await;
        }
    }
}

#[tokio::test]
async fn the_101_selects_the_marker_never_the_token() {
    let app = start().await;
    let alice = token("alice", &["user"]);
    let (mut client, response) =
        open(request(app.addr, "/ws/alice", &alice, Via::Subprotocol)).await;
    assert_eq!(response.status(), 101);
    let selected: Vec<&str> = response
        .headers()
        .get_all("sec-websocket-protocol")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .collect();
    assert_eq!(selected, [MARKER]);
    for (name, value) in response.headers() {
        let value = String::from_utf8_lossy(value.as_bytes());
        assert!(!value.contains(&alice), "{name} echoes the token");
    }
    expect_welcome(&mut client, "alice", &USER_PERMISSIONS).await;

    // The token entry listed first changes nothing.
    let first = with(
        ws(app.addr, "/ws/alice"),
        "sec-websocket-protocol",
        &format!("{MARKER}.bearer.{alice}, {MARKER}"),
    );
    let (mut client, response) = open(first).await;
    let selected = response.headers().get("sec-websocket-protocol");
    assert_eq!(selected.and_then(|v| v.to_str().ok()), Some(MARKER));
    expect_welcome(&mut client, "alice", &USER_PERMISSIONS).await;

    // Query and header tokens select no subprotocol.
    for via in [Via::Query, Via::Header] {
        let (_, response) = open(request(app.addr, "/ws/alice", &alice, via)).await;
        assert!(response.headers().get("sec-websocket-protocol").is_none());
    }
}

#[tokio::test]
async fn the_same_token_twice_is_one_token_and_two_differ() {
    let app = start().await;
    let alice = token("alice", &["user"]);
    let both = request(
        app.addr,
        &format!("/ws/alice?token={alice}"),
        &alice,
        Via::Subprotocol,
    );
    let mut client = connect(both).await;
    expect_welcome(&mut client, "alice", &USER_PERMISSIONS).await;

    let other = tok("alice", &["user"]).expires_in(300).mint();
    assert_ne!(alice, other);
    let auth_failed = spec_close(wsauth_core::spec::FailureKind::AuthFailed);
    for via in [Via::Subprotocol, Via::Header] {
        let conflicting = request(app.addr, &format!("/ws/alice?token={other}"), &alice, via);
        assert_eq!(rejected(conflicting).await, auth_failed, "{via:?}");
    }
}
