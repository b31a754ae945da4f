//! The client lines of SongNodes' WebSocket document, run for real in Node
//! against the app (`tests/seed/*`, as the document shows them; only host,
//! port and token are replaced), with the outcomes its test scenarios list:
//! a valid token for the path's user is welcomed with its authentication
//! status, a token for another user, an invalid and a missing one close
//! with 1008 and the document's reasons, anonymous access is welcomed
//! unauthenticated.

use std::path::Path;

use serde_json::json;
use wsauth_example_support::seed_snippets::{Script, node, report, snippet, substituted};

use crate::common::*;

/// Runs snippet `name` with the document's host and port replaced by the
/// app's, and each `(placeholder, value)` of `more` replaced.
fn run(app: &App, name: &str, more: &[(&str, &str)]) -> Script {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/seed");
    let addr = app.addr.to_string();
    let mut replacements = vec![("localhost:8083", addr.as_str())];
    replacements.extend_from_slice(more);
    let text = substituted(&snippet(&dir, name), &replacements);
    node(&format!("{text}{}", report("ws")))
}

/// The authenticated line's token placeholder.
const TOKEN: &str = "eyJ0eXAi...";

#[tokio::test]
async fn the_authenticated_line_is_welcomed_with_its_status() {
    let app = start().await;
    let token = token("123", &["user"]);
    let mut client = run(&app, "authenticated.js", &[(TOKEN, &token)]);
    assert_eq!(
        client.message().await,
        json!({
            "type": "welcome",
            "authenticated": true,
            "user_id": "123",
            "permissions": USER_PERMISSIONS,
        })
    );
}

#[tokio::test]
async fn mismatched_invalid_and_missing_tokens_close_1008() {
    let app = start().await;
    let alice = token("alice", &["user"]);
    let cases = [
        (TOKEN, alice.as_str(), "1008 Unauthorized: User ID mismatch"),
        (TOKEN, "invalid", "1008 Authentication failed"),
        // The line without its query: no token at all.
        ("?token=eyJ0eXAi...", "", "1008 Authentication required"),
    ];
    for (placeholder, value, expected) in cases {
        let mut client = run(&app, "authenticated.js", &[(placeholder, value)]);
        assert_eq!(client.closed().await, expected, "{value}");
    }
}

#[tokio::test]
async fn the_anonymous_line_is_welcomed_unauthenticated() {
    let app = start().await;
    let mut client = run(&app, "anonymous.js", &[]);
    assert_eq!(
        client.message().await,
        json!({ "type": "welcome", "authenticated": false, "permissions": ["graph.read"] })
    );
}
