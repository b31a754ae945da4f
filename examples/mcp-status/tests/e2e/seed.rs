//! The client lines of the mcp-status document, run for real in Node
//! against the app: the dashboard's connection code and the browser-console
//! test (`tests/seed/*`, as the document shows them; only host and port are
//! replaced), and the document's four connection tests.
//!
//! The snippets expect a page: the token in `localStorage` (put there by
//! the login the document shows first, which belongs to the auth service,
//! not to this app), `window.location`, and the dashboard's own
//! `updateMCPList`, `updateMCPStatus` and `showHealthAlert`. [`page`]
//! provides them, each printing what it is given.

use std::path::Path;

use mcp_status::messages::HealthEventLevel;
use mcp_status::schemas::State;
use serde_json::Value;
use wsauth_example_support::seed_snippets::{Script, node, snippet, substituted};

use crate::common::*;

/// Snippet `name` with the document's host and port replaced by the app's.
fn replayed(app: &App, name: &str) -> String {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/seed");
    substituted(
        &snippet(&dir, name),
        &[("localhost:8000", &app.addr.to_string())],
    )
}

/// What the snippets find on the dashboard's page: `token` in
/// `localStorage` (none when `None`), the callbacks, and the keepalive's
/// 30 s interval shortened to 200 ms so a test sees it.
fn page(token: Option<&str>) -> String {
    let stored = token.map_or("null".to_owned(), |t| format!("'{t}'"));
    format!(
        r#"// seed test: the page the snippet runs on
const localStorage = {{ getItem: (key) => (key === 'jwt_token' ? {stored} : null) }};
const window = {{ location: {{ href: '/dashboard' }} }};
const updateMCPList = (mcps) => console.log(`[seed] updateMCPList ${{JSON.stringify(mcps)}}`);
const updateMCPStatus = (id, status) => console.log(`[seed] updateMCPStatus ${{id}} ${{status}}`);
const showHealthAlert = (data) => console.log(`[seed] showHealthAlert ${{JSON.stringify(data)}}`);
const setInterval = (f, ms) => globalThis.setInterval(f, ms === 30000 ? 200 : ms);
"#
    )
}

/// The JSON after `[seed] <what> `.
async fn reported(script: &mut Script, what: &str) -> Value {
    let text = script.after(&format!("[seed] {what} ")).await;
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{e}: {text}"))
}

#[tokio::test]
async fn the_dashboard_lists_follows_and_keeps_alive() {
    let app = start().await;
    let text = replayed(&app, "dashboard.js");
    let mut dashboard = node(&format!("{}{text}", page(Some(&token("admin", "admin")))));
    dashboard.line(|l| l.ends_with("WebSocket connected")).await;
    let mcps = reported(&mut dashboard, "updateMCPList").await;
    let names: Vec<&str> = mcps
        .as_array()
        .map(|a| a.iter().filter_map(|m| m["name"].as_str()).collect())
        .unwrap_or_default();
    assert_eq!(names, ["filesystem", "github", "postgres", "slack"]);
    // The keepalive's answer parses as JSON and matches no case.
    dashboard.line(|l| l == "Received: pong").await;
    app.board
        .set_state("github", State::Down, None)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(
        dashboard.after("[seed] updateMCPStatus ").await,
        "github down"
    );
    app.board
        .health("github", HealthEventLevel::Critical, "connection refused")
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let alert = reported(&mut dashboard, "showHealthAlert").await;
    assert_eq!(
        (&alert["mcp_id"], &alert["level"], &alert["message"]),
        (
            &"github".into(),
            &"critical".into(),
            &"connection refused".into()
        ),
        "{alert}"
    );
    // Still open, still answering the keepalive.
    dashboard.line(|l| l == "Received: pong").await;
    assert_eq!(app.server.stats().active_connections, 1);
}

#[tokio::test]
async fn the_dashboard_handles_1008_and_a_missing_token() {
    let app = start().await;
    let text = replayed(&app, "dashboard.js");
    let mut refused = node(&format!("{}{text}", page(Some("invalid_token_123"))));
    assert_eq!(
        refused.after("WebSocket closed: ").await,
        "1008 Authentication failed: Invalid or expired token"
    );
    refused
        .line(|l| l == "Authentication failed - redirecting to login")
        .await;
    drop(refused);

    let mut viewer = node(&format!("{}{text}", page(Some(&token("alice", "viewer")))));
    assert_eq!(
        viewer.after("WebSocket closed: ").await,
        "1008 Insufficient permissions: role not authorized"
    );
    drop(viewer);

    // No token in storage: the snippet stops before connecting.
    let (code, printed) = node(&format!("{}{text}", page(None))).exit().await;
    assert_eq!(code, Some(0));
    assert_eq!(printed, ["No JWT token - user must login first"]);
    assert_eq!(app.server.stats().active_connections, 0);
}

#[tokio::test]
async fn the_console_test_connects_and_prints_messages() {
    let app = start().await;
    let text = replayed(&app, "console.js");
    let mut console = node(&format!("{}{text}", page(Some(&token("dba", "dba")))));
    console.line(|l| l == "Connected!").await;
    // `console.log('Message:', JSON.parse(e.data))`: an object, inspected.
    console.line(|l| l == "Message: {").await;
    console.line(|l| l == "  type: 'initial_status',").await;
}

/// The document's "Test Results": no token, an invalid token, an admin
/// token, a viewer token; the URLs as the document gives them.
#[tokio::test]
async fn the_documented_connection_tests() {
    let app = start().await;
    let url = |query: &str| format!("{PATH}{query}");
    assert_eq!(
        rejected(ws(app.addr, &url(""))).await,
        close((1008, "Authentication required: No token provided"))
    );
    assert_eq!(
        rejected(ws(app.addr, &url("?token=invalid_token_123"))).await,
        close((1008, "Authentication failed: Invalid or expired token"))
    );
    let admin = format!("?token={}", token("admin", "admin"));
    let mut accepted = connect(ws(app.addr, &url(&admin))).await;
    expect_initial_status(&mut accepted).await;
    let viewer = format!("?token={}", token("alice", "viewer"));
    assert_eq!(
        rejected(ws(app.addr, &url(&viewer))).await,
        close((1008, "Insufficient permissions: role not authorized"))
    );
}
