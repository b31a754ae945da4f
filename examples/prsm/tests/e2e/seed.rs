//! The client lines of PRSM's WebSocket document, run for real against the
//! app: its Python client on `websockets`, its JavaScript in Node (the
//! browser lines on Node's own `WebSocket`, the header line on the `ws`
//! package it was written for). The snippets are `tests/seed/*`, as the
//! document shows them; only host, port and token are replaced.
//!
//! What the document says they get: the `connected` confirmation first, the
//! server's `error` messages with a `message`, and 4001 when the token is
//! missing or invalid.

use std::path::{Path, PathBuf};

use wsauth_core::spec::wire;
use wsauth_example_support::seed_snippets::{Script, node, python, report, snippet, substituted};

use crate::common::*;

/// The user every snippet of the document connects as.
const USER: &str = "user123";

fn seed_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/seed")
}

/// Snippet `name` with the document's host and port replaced by the app's,
/// and `placeholder` by `token`.
fn replayed(app: &App, name: &str, placeholder: &str, token: &str) -> String {
    substituted(
        &snippet(&seed_dir(), name),
        &[
            ("localhost:8000", &app.addr.to_string()),
            (placeholder, token),
        ],
    )
}

async fn expect_connected(script: &mut Script, endpoint: &str) {
    let connected = script.message().await;
    assert_eq!(
        (
            &connected["type"],
            &connected["user_id"],
            &connected["endpoint"]
        ),
        (&"connected".into(), &USER.into(), &endpoint.into()),
        "{connected}"
    );
}

#[tokio::test]
async fn the_python_client_is_confirmed_and_reports_4001() {
    let app = start().await;
    let text = replayed(&app, "client.py", "your_jwt_token", &token(USER, &["user"]));
    let mut client = python(&text);
    client.line(|l| l == "Secure WebSocket connected").await;
    // `print(f"Connection confirmed: {message}")`: the dict's repr.
    let confirmed = client.after("Connection confirmed: ").await;
    assert!(
        confirmed
            .starts_with("{'type': 'connected', 'user_id': 'user123', 'endpoint': 'notifications'"),
        "{confirmed}"
    );
    drop(client);

    let expired = tok(USER, &["user"]).expires_in(-60).mint();
    let text = replayed(&app, "client.py", "your_jwt_token", &expired);
    let mut refused = python(&text);
    refused.line(|l| l == "Authentication failed").await;
    let (code, _) = refused.exit().await;
    assert_eq!(code, Some(0), "the snippet handles 4001 and ends");
}

#[tokio::test]
async fn the_javascript_client_is_confirmed_subscribes_and_reports_4001() {
    let app = start().await;
    let text = replayed(&app, "client.js", "your_jwt_token", &token(USER, &["user"]));
    // Once confirmed, use the class's own `subscribeToConversation`: one
    // conversation user123 takes part in, one of another user.
    let drive = r#"
;{ // seed test: print what arrives, subscribe once confirmed
  client.ws.addEventListener('message', (e) => {
    console.log(`[seed] message ${e.data}`);
    if (JSON.parse(e.data).type === 'connected') {
      client.subscribeToConversation(1);
      client.subscribeToConversation(2);
    }
  });
}
"#;
    let mut client = node(&format!("{text}{drive}"));
    client.line(|l| l == "Secure WebSocket connected").await;
    client
        .line(|l| l.starts_with("Connection confirmed: "))
        .await;
    expect_connected(&mut client, "notifications").await;
    // The join of the conversation's topic is announced first with its
    // own `wsauth.subscribed`, which the class's `switch` has no case for.
    let mut topic_frames = Vec::new();
    let subscribed = loop {
        let m = client.message().await;
        match m["type"].as_str() {
            Some("notification") => {}
            Some(kind) if kind.starts_with(wire::RESERVED_PREFIX) => topic_frames.push(m),
            _ => break m,
        }
    };
    assert_eq!(
        subscribed,
        serde_json::json!({"type": "subscribed", "conversation_id": 1})
    );
    assert_eq!(topic_frames.len(), 1, "{topic_frames:?}");
    assert_eq!(topic_frames[0]["type"], wire::SUBSCRIBED);
    assert_eq!(topic_frames[0]["params"]["conversation_id"], 1);
    // `console.error('Server error:', message.message)`.
    client
        .line(|l| l == "Server error: no access to that conversation")
        .await;
    drop(client);

    let text = replayed(&app, "client.js", "your_jwt_token", "not-a-jwt");
    let mut refused = node(&format!("{text}{}", report("client.ws")));
    refused.line(|l| l == "Authentication failed").await;
    assert_eq!(refused.closed().await, "4001 invalid or expired token");
}

#[tokio::test]
async fn the_query_and_header_methods_connect() {
    let app = start().await;
    let alice = token(USER, &["user"]);
    let text = replayed(&app, "query_token.js", "your_jwt_token_here", &alice);
    let mut by_query = node(&format!("{text}{}", report("ws")));
    expect_connected(&mut by_query, "notifications").await;

    // Written for the `ws` package, whose constructor takes headers.
    let text = replayed(&app, "header_token.js", "your_jwt_token_here", &alice);
    let mut by_header = node(&format!(
        "const WebSocket = require('ws');\n{text}{}",
        report("ws")
    ));
    expect_connected(&mut by_header, "notifications").await;
    assert_eq!(app.server.stats().active_connections, 2);
}

#[tokio::test]
async fn the_migration_lines_before_and_after() {
    let app = start().await;
    let before = substituted(
        &snippet(&seed_dir(), "unsecured.js"),
        &[("localhost:8000", &app.addr.to_string())],
    );
    let mut unsecured = node(&format!("{before}{}", report("ws")));
    assert_eq!(unsecured.closed().await, "4001 authentication required");

    // `getJWTToken()` is "your auth system": here, a freshly minted token.
    let after = substituted(
        &snippet(&seed_dir(), "secured.js"),
        &[("localhost:8000", &app.addr.to_string())],
    );
    let auth_system = format!("const getJWTToken = () => '{}';\n", token(USER, &["user"]));
    let mut secured = node(&format!("{auth_system}{after}{}", report("ws")));
    expect_connected(&mut secured, "notifications").await;
}
