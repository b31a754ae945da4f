//! The client lines of the ShipVox document, run against the app
//! (`tests/seed/*`, as the document shows them; only host, port and token
//! are replaced): its TypeScript login and `new WebSocket(...)` in Node 20
//! (types stripped by the TypeScript compiler), its `curl` requests, and
//! its `websocat` lines, whose requests are replayed with reqwest and
//! tokio-tungstenite (websocat is in neither Debian's archive nor a quick
//! `cargo install`; jq is not on CI either: see `tests/seed/test_token.sh`).
//!
//! What the document says they get: a bearer token for `user`; a
//! connection on `/ws?token=`; the document's own message,
//! `{"type":"test","payload":{"message":"Hello"}}`, relayed to every
//! connected client with `user`, `timestamp` and `requestId` added.
//!
//! The document shows no Python client (its Python is the server) and its
//! React hook is not given (`useWebSocket` is the document's own code), so
//! neither is run.

use std::path::Path;
use std::time::SystemTime;

use serde_json::{Value, json};
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use wsauth_example_support::seed_snippets::{node, report, snippet, substituted, typescript};

use crate::common::*;

/// The document's message, as its `echo` lines send it.
const DOCUMENT_MESSAGE: &str = r#"{"type":"test","payload":{"message":"Hello"}}"#;

/// The document's hard-coded test token (`{"sub":"user"}`, no `exp`).
const DOCUMENT_TEST_TOKEN: &str = "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiJ1c2VyIn0.dNsYhOKsYlKZzUmOJl8Zpf9SbJ4DJxhd3AU6pO-PWko";

/// Snippet `name` with the document's host and port replaced by the app's.
fn replayed(app: &App, name: &str) -> String {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/seed");
    substituted(
        &snippet(&dir, name),
        &[("localhost:8000", &app.addr.to_string())],
    )
}

/// The request one `curl` command makes.
#[derive(Debug, Default)]
struct Curl {
    method: String,
    url: String,
    headers: Vec<(String, String)>,
    body: Option<String>,
}

/// Splits a shell command into words: double-quoted, single-quoted and bare
/// (the quoting the document's lines use), stopping at a pipe or a `)`.
fn words(command: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut chars = command.chars().peekable();
    while let Some(&c) = chars.peek() {
        match c {
            ' ' | '\t' => {
                chars.next();
            }
            '|' | ')' => break,
            '"' | '\'' => {
                chars.next();
                out.push(chars.by_ref().take_while(|&x| x != c).collect());
            }
            _ => {
                let mut word = String::new();
                while let Some(&x) = chars.peek() {
                    if x == ' ' || x == '|' || x == ')' {
                        break;
                    }
                    word.push(x);
                    chars.next();
                }
                out.push(word);
            }
        }
    }
    out
}

/// Every `curl` command of a snippet (continuation lines joined).
fn curls(text: &str) -> Vec<Curl> {
    let joined = text.replace("\\\n", " ");
    joined
        .lines()
        .filter_map(|line| line.find("curl ").map(|at| &line[at + 5..]))
        .map(|command| {
            let mut curl = Curl {
                method: "GET".to_owned(),
                ..Curl::default()
            };
            let mut args = words(command).into_iter();
            while let Some(arg) = args.next() {
                match arg.as_str() {
                    "-X" => curl.method = args.next().unwrap_or_default(),
                    "-H" => {
                        let header = args.next().unwrap_or_default();
                        let (name, value) = header.split_once(':').unwrap_or_default();
                        curl.headers
                            .push((name.to_owned(), value.trim().to_owned()));
                    }
                    "-d" => {
                        curl.body = args.next();
                        if curl.method == "GET" {
                            curl.method = "POST".to_owned();
                        }
                    }
                    "-s" => {}
                    url => curl.url = url.to_owned(),
                }
            }
            curl
        })
        .collect()
}

/// Makes `curl`'s request; the status and the JSON answer.
async fn run(curl: &Curl) -> (u16, Value) {
    let method = reqwest::Method::from_bytes(curl.method.as_bytes())
        .unwrap_or_else(|e| panic!("{e}: {curl:?}"));
    let mut request = reqwest::Client::new().request(method, &curl.url);
    for (name, value) in &curl.headers {
        request = request.header(name, value);
    }
    if let Some(body) = &curl.body {
        request = request.body(body.clone());
    }
    let response = request.send().await.unwrap_or_else(|e| panic!("{e}"));
    let status = response.status().as_u16();
    let text = response.text().await.unwrap_or_else(|e| panic!("{e}"));
    (
        status,
        serde_json::from_str(&text).unwrap_or(Value::String(text)),
    )
}

/// The `echo '<message>' | websocat "<url>"` lines: message and URL.
fn websocat_lines(text: &str) -> Vec<(String, String)> {
    text.lines()
        .filter_map(|line| {
            let rest = line.strip_prefix("echo '")?;
            let (message, rest) = rest.split_once("' | websocat \"")?;
            Some((message.to_owned(), rest.strip_suffix('"')?.to_owned()))
        })
        .collect()
}

/// What one websocat line does: connect to `url`, send `message` as one
/// text frame; what it would print: every text frame received, here until
/// the relayed copy of `message` arrived. Returns the welcome and the copy.
async fn websocat(url: &str, message: &str) -> (Value, Value, Client) {
    let request = url.into_client_request().unwrap_or_else(|e| panic!("{e}"));
    let mut client = connect(request).await;
    let welcome = next_json(&mut client).await;
    send_text(&mut client, message).await;
    let relayed = next_json(&mut client).await;
    (welcome, relayed, client)
}

/// `message` as the document's server relays it: everything the client
/// sent, plus `user`, `timestamp` (Unix seconds, as Python's `time.time()`)
/// and `requestId` (a UUID).
fn assert_stamped(relayed: &Value, sent: &str, user: &str) {
    let sent: Value = serde_json::from_str(sent).unwrap_or_else(|e| panic!("{e}"));
    let mut expected = sent.clone();
    for key in ["user", "timestamp", "requestId"] {
        expected[key] = relayed[key].clone();
    }
    assert_eq!(*relayed, expected, "what was sent, plus the three stamps");
    assert_eq!(relayed["user"], user, "{relayed}");
    let now = SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0.0, |d| d.as_secs_f64());
    let at = relayed["timestamp"].as_f64().unwrap_or_default();
    assert!(at <= now && now - at < 60.0, "{relayed}");
    let id = relayed["requestId"].as_str().unwrap_or_default();
    assert_eq!(id.len(), 36, "{relayed}");
    assert_eq!(id.as_bytes()[14], b'4', "a v4 UUID: {relayed}");
}

#[tokio::test]
async fn the_documents_sign_in_and_websocat_lines() {
    let app = start().await;
    // "Obtaining a Token".
    let obtain = curls(&replayed(&app, "token.sh"));
    assert_eq!(obtain.len(), 1, "{obtain:?}");
    let (status, answer) = run(&obtain[0]).await;
    assert_eq!(status, 200, "{answer}");
    assert_eq!(answer["token_type"], "bearer");
    assert_eq!(answer["expires_in"], 30 * 60, "the document's 30 minutes");
    let token = answer["access_token"].as_str().unwrap_or_default();
    assert_eq!(payload(token)["sub"], "user");

    // "Connecting with a Token using websocat": `TOKEN=$(curl ... | jq -r
    // '.access_token')`, then the echo line, with a listener already there.
    let text = replayed(&app, "websocat.sh");
    let signed_in = curls(&text);
    assert_eq!(signed_in.len(), 1, "{signed_in:?}");
    let (status, answer) = run(&signed_in[0]).await;
    assert_eq!(status, 200, "{answer}");
    let token = answer["access_token"].as_str().unwrap_or_default();
    let mut listener = connect_with(app.addr, &sign_in(&app, "alice").await).await;
    expect_welcome(&mut listener, "alice").await;
    let lines = websocat_lines(&text);
    assert_eq!(lines.len(), 1, "{lines:?}");
    let (message, url) = &lines[0];
    assert_eq!(message, DOCUMENT_MESSAGE);
    let url = url.replace("$TOKEN", token);
    let (welcome, relayed, _client) = websocat(&url, message).await;
    assert_eq!(welcome["type"], "connected", "{welcome}");
    assert_eq!(welcome["user_id"], "user", "{welcome}");
    assert_stamped(&relayed, message, "user");
    // Every connected client gets the same copy.
    assert_eq!(next_json(&mut listener).await, relayed);
}

#[tokio::test]
async fn the_documents_test_token_lines() {
    let app = start_with(|mut c| {
        c.dev_token = Some("user".into());
        c
    })
    .await;
    let text = replayed(&app, "test_token.sh");
    let get = curls(&text);
    assert_eq!(get.len(), 1, "{get:?}");
    let (status, answer) = run(&get[0]).await;
    assert_eq!(status, 200, "{answer}");
    let served = answer["test_token"].as_str().unwrap_or_default();
    assert_eq!(Some(served), app.dev_token.as_deref(), "{answer}");
    assert!(answer["note"].is_string(), "{answer}");

    let lines = websocat_lines(&text);
    assert_eq!(lines.len(), 1, "{lines:?}");
    let (message, url) = &lines[0];
    assert!(url.contains(DOCUMENT_TEST_TOKEN), "{url}");
    // With the token this server hands out, the line works as documented.
    let url_served = url.replace(DOCUMENT_TEST_TOKEN, served);
    let (welcome, relayed, _client) = websocat(&url_served, message).await;
    assert_eq!(welcome["user_id"], "user", "{welcome}");
    assert_stamped(&relayed, message, "user");
    // The document's own token (no `exp`, no issuer, signed with the
    // document's key) is refused: see README.md, what differs and why.
    let request = url.as_str().into_client_request();
    let request = request.unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(
        rejected(request).await,
        (1008, "Invalid or expired token".to_owned())
    );
}

#[tokio::test]
async fn the_documents_typescript_signs_in_and_connects_in_node() {
    let app = start().await;
    let mut listener = connect_with(app.addr, &sign_in(&app, "bob").await).await;
    expect_welcome(&mut listener, "bob").await;
    let code = typescript(&replayed(&app, "login.ts"));
    // The snippet awaits at its top level (an ES module); it runs here in
    // an async function, with the test's own lines after it: report what
    // `ws` receives, and send the document's message once it is open.
    let script = format!(
        "(async () => {{\n{code}\n{report}\nws.addEventListener('open', () => ws.send({message}));\n}})()\
         .catch((e) => {{ console.error(`[seed] error ${{e}}`); process.exit(1); }});\n",
        report = report("ws"),
        message = json!(DOCUMENT_MESSAGE),
    );
    let mut script = node(&script);
    let welcome = script.message().await;
    assert_eq!(welcome["type"], "connected", "{welcome}");
    assert_eq!(welcome["user_id"], "user", "{welcome}");
    let relayed = script.message().await;
    assert_stamped(&relayed, DOCUMENT_MESSAGE, "user");
    assert_eq!(next_json(&mut listener).await, relayed);
}

#[test]
fn the_replay_reads_the_document_lines_it_claims_to() {
    let text = "TOKEN=$(curl -s -X POST \"http://h/token\" \\\n  -H \"A: b\" \\\n  -d \"x=1&y=2\" | jq -r '.t')\n\
                echo '{\"type\":\"t\"}' | websocat \"ws://h/ws?token=$TOKEN\"\n";
    let c = curls(text);
    assert_eq!(c.len(), 1);
    assert_eq!(
        (
            c[0].method.as_str(),
            c[0].url.as_str(),
            c[0].body.as_deref()
        ),
        ("POST", "http://h/token", Some("x=1&y=2"))
    );
    assert_eq!(c[0].headers, [("A".to_owned(), "b".to_owned())]);
    assert_eq!(
        websocat_lines(text),
        [(
            r#"{"type":"t"}"#.to_owned(),
            "ws://h/ws?token=$TOKEN".to_owned()
        )]
    );
}
