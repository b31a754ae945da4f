//! The client lines of the reflections document, run for real against the
//! app (`tests/seed/*`, as the document shows them; only host, port and
//! token are replaced): its TypeScript connection code (types stripped by
//! the TypeScript compiler) and its browser-console JavaScript in Node, and
//! its two `websocat` lines, replayed with tokio-tungstenite (websocat
//! cannot be installed on CI in bounded time; see `tests/seed/websocat.sh`).
//!
//! What the document says they get: the reflection streamed token by token,
//! each frame a piece of text to append, then 1000; 4001 without a token or
//! with an invalid one, 4002 for an inactive user, 4003 for another user's
//! entry, 4004 for one that does not exist, 1011 when generation fails.
//!
//! The React hook and component are not run: they need React and a DOM.

use std::path::Path;

use reflections::store::FAILING_ENTRY;
use wsauth_example_support::seed_snippets::{
    Script, node, report, snippet, substituted, typescript,
};

use crate::common::*;

/// Snippet `name` with the document's host and port replaced by the app's.
fn replayed(app: &App, name: &str) -> String {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/seed");
    substituted(
        &snippet(&dir, name),
        &[("localhost:8000", &app.addr.to_string())],
    )
}

/// The page the browser snippets expect: `access_token` in `localStorage`
/// (when given), `window.location`, and the app's `displayReflectionToken`
/// and `showError`, each printing what it is given.
fn page(app: &App, token: Option<&str>) -> String {
    let stored = token.map_or(String::new(), |t| format!("['access_token', '{t}']"));
    format!(
        r#"// seed test: the page the snippet runs on
const localStorage = (() => {{
  const items = new Map([{stored}]);
  return {{
    getItem: (key) => (items.has(key) ? items.get(key) : null),
    removeItem: (key) => {{ items.delete(key); console.log(`[seed] removeItem ${{key}}`); }},
  }};
}})();
const window = {{ location: {{ protocol: 'http:', host: '{addr}', set href(to) {{ console.log(`[seed] navigate ${{to}}`); }} }} }};
const displayReflectionToken = (data) => console.log(`[seed] display ${{data}}`);
const showError = (message) => console.log(`[seed] showError ${{message}}`);
"#,
        addr = app.addr
    )
}

/// The reflection on `entry` of the seeded store.
fn reflection(entry: i64) -> String {
    seeded_tokens(entry).concat()
}

/// Runs the document's `connectToReflectionStream(entry, getAuthToken())`
/// on a page holding `token`; the script ends once the socket closes.
fn stream(app: &App, entry: i64, token: Option<&str>) -> Script {
    let functions = typescript(&replayed(app, "stream.ts"));
    let drive = format!(
        r#"
;{{ // seed test: connect as the page would
  const ws = connectToReflectionStream({entry}, getAuthToken());
  ws.addEventListener('close', () => setTimeout(() => process.exit(0), 50));
}}
"#
    );
    node(&format!("{}{functions}{drive}", page(app, token)))
}

/// The `[seed] display` lines of a finished script.
fn displayed(lines: &[String]) -> Vec<String> {
    lines
        .iter()
        .filter_map(|l| l.strip_prefix("[seed] display "))
        .map(str::to_owned)
        .collect()
}

#[tokio::test]
async fn the_typescript_connection_streams_the_reflection_then_closes_normally() {
    let app = start().await;
    let alice = token("alice", &["user"]);
    let (code, lines) = stream(&app, 1, Some(&alice)).exit().await;
    assert_eq!(code, Some(0));
    assert_eq!(
        lines.first().map(String::as_str),
        Some("WebSocket connected successfully")
    );
    assert_eq!(
        lines.last().map(String::as_str),
        Some("WebSocket closed normally")
    );
    // `displayReflectionToken(event.data)` gets each token, which append
    // to the reflection.
    assert_eq!(displayed(&lines), seeded_tokens(1));
    assert_eq!(displayed(&lines).concat(), reflection(1));
}

#[tokio::test]
async fn the_typescript_close_handler_sees_every_documented_code() {
    let app = start().await;
    let alice = token("alice", &["user"]);
    let mallory = token("mallory", &["user"]);
    let cases: [(i64, &str, &[&str]); 5] = [
        (
            1,
            "invalid",
            &[
                "Authentication failed: invalid or expired token",
                "[seed] removeItem access_token",
                "[seed] navigate /login",
            ],
        ),
        (
            1,
            &mallory,
            &[
                "User not found or inactive: user inactive",
                "[seed] showError Your account is not accessible. Please contact support.",
            ],
        ),
        (
            2,
            &alice,
            &[
                "Unauthorized access: forbidden",
                "[seed] showError You do not have permission to access this entry.",
            ],
        ),
        (
            999,
            &alice,
            &[
                "Entry not found: entry not found",
                "[seed] showError The requested entry could not be found.",
            ],
        ),
        (
            FAILING_ENTRY,
            &alice,
            &[
                "Server error: server error",
                "[seed] showError An unexpected error occurred. Please try again.",
            ],
        ),
    ];
    for (entry, token, expected) in cases {
        let (code, lines) = stream(&app, entry, Some(token)).exit().await;
        assert_eq!(code, Some(0), "entry {entry}");
        // What `handleWebSocketClose` did; stdout and stderr interleave in
        // no fixed order, so compared sorted.
        let mut handled: Vec<&str> = lines
            .iter()
            .map(String::as_str)
            .filter(|l| {
                !l.starts_with("[seed] display ")
                    && !l.starts_with("Received: ")
                    && *l != "WebSocket connected successfully"
            })
            .collect();
        handled.sort_unstable();
        let mut expected = expected.to_vec();
        expected.sort_unstable();
        assert_eq!(handled, expected, "entry {entry}");
    }
}

#[tokio::test]
async fn the_console_test_prints_every_token_then_the_normal_close() {
    let app = start().await;
    let text_js = replayed(&app, "console.js");
    let alice = token("alice", &["user"]);
    let (code, lines) = node(&format!("{}{text_js}", page(&app, Some(&alice))))
        .exit()
        .await;
    assert_eq!(code, Some(0));
    assert_eq!(lines.first().map(String::as_str), Some("Connected"));
    assert_eq!(lines.last().map(String::as_str), Some("Closed: 1000 done"));
    let frames: Vec<String> = lines
        .iter()
        .filter_map(|l| l.strip_prefix("Message: "))
        .map(str::to_owned)
        .collect();
    assert_eq!(frames, seeded_tokens(1));
}

#[tokio::test]
async fn the_authentication_failure_tests_close_as_documented() {
    let app = start().await;
    let failures = replayed(&app, "failures.js");
    let valid = format!("const validToken = '{}';\n", token("alice", &["user"]));
    let report_all = r#"
;{ // seed test: report each socket's close, end after the third
  let closed = 0;
  for (const [name, socket] of [['ws1', ws1], ['ws2', ws2], ['ws3', ws3]]) {
    socket.addEventListener('close', (e) => {
      console.log(`[seed] ${name} ${e.code} ${e.reason}`);
      closed += 1;
      if (closed === 3) process.exit(0);
    });
  }
}
"#;
    let mut script = node(&format!("{valid}{failures}{report_all}"));
    assert_eq!(
        script.after("[seed] ws1 ").await,
        "4001 authentication required"
    );
    assert_eq!(
        script.after("[seed] ws2 ").await,
        "4001 invalid or expired token"
    );
    // "4003 or 4004": entry 999 does not exist.
    assert_eq!(script.after("[seed] ws3 ").await, "4004 entry not found");
}

#[tokio::test]
async fn the_migration_lines_before_and_after() {
    let app = start().await;
    let entry = "const entryId = 1;\n";
    let before = typescript(&replayed(&app, "before.ts"));
    let mut unsecured = node(&format!("{entry}{before}{}", report("ws")));
    assert_eq!(unsecured.closed().await, "4001 authentication required");

    let after = typescript(&replayed(&app, "after.ts"));
    let alice = token("alice", &["user"]);
    let mut secured = node(&format!(
        "{}{entry}{after}{}",
        page(&app, Some(&alice)),
        report("ws")
    ));
    let first = secured.after("[seed] message ").await;
    assert_eq!(first, seeded_tokens(1)[0]);
    assert_eq!(secured.closed().await, "1000 done");
}

/// The URLs of the `websocat` lines, host and port replaced.
fn websocat_urls(app: &App) -> Vec<String> {
    replayed(app, "websocat.sh")
        .lines()
        .filter_map(|l| l.strip_prefix("websocat \"")?.strip_suffix('"'))
        .map(str::to_owned)
        .collect()
}

#[tokio::test]
async fn the_websocat_requests() {
    use tokio_tungstenite::tungstenite::client::IntoClientRequest;
    let app = start().await;
    let urls = websocat_urls(&app);
    assert_eq!(urls.len(), 2, "{urls:?}");
    // websocat prints each text message on its own line until the close.
    let with_token = urls[0].replace("YOUR_JWT_TOKEN", &token("alice", &["user"]));
    let request = with_token
        .into_client_request()
        .unwrap_or_else(|e| panic!("{e}"));
    let (seen, closed) = texts_until_close(&mut connect(request).await).await;
    assert_eq!(seen, seeded_tokens(1));
    assert_eq!(closed, Some(close(DONE)));
    // "should fail with 4001".
    let request = urls[1]
        .as_str()
        .into_client_request()
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(rejected(request).await, close(AUTH_REQUIRED));
}
