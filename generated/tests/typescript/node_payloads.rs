//! The generated TypeScript client refusing server messages that break
//! their schema, over a real socket: a wsauth server built from songnodes'
//! descriptor, whose `anonymous` handler is an untyped one that sends
//! `graph_update` and `error` messages the spec does not allow (an untyped
//! session checks a message's type, not its fields), then one that it
//! does. `js/tests/node_payloads.ts` (run with `node
//! --experimental-websocket`) connects with `generated/songnodes/songnodes.ts`
//! and checks that only the last is delivered, each other one an `invalid`
//! event, and the connection still open, as the Rust client reports an
//! undecodable message as `Event::Unexpected` and carries on.

use serde_json::{Value, json};
use wsauth_core::jwt::{KeySet, Verifier};
use wsauth_core::{BoxFuture, StoreError, UserStatus, UserStore};
use wsauth_core::{HandlerResult, Session, WsAuth};

use crate::support::SECRET;
use crate::support::examples::Serving;
use crate::support::tools::{compile_typescript, node, run_blocking};

/// Messages of songnodes' `anonymous` endpoint that break the spec, one
/// rule each, in the order the script expects them.
fn broken() -> Vec<(&'static str, Value)> {
    let node = |fields: Value| {
        let mut node = json!({"id": "n", "label": "N", "kind": "track"});
        if let (Some(node), Some(fields)) = (node.as_object_mut(), fields.as_object()) {
            node.extend(fields.clone());
        }
        node
    };
    let update = |nodes: Value| json!({"nodes": nodes, "edges": []});
    vec![
        (
            "graph_update",
            update(json!([node(json!({"kind": "album"}))])),
        ),
        ("graph_update", update(json!([node(json!({"weight": -1}))]))),
        ("graph_update", update(json!([node(json!({"label": 5}))]))),
        (
            "graph_update",
            update(json!([node(json!({"colour": "red"}))])),
        ),
        ("graph_update", update(json!({"n": node(json!({}))}))),
        ("graph_update", json!({"nodes": []})),
        (
            "graph_update",
            json!({"nodes": [], "edges": [], "extra": 1}),
        ),
        ("error", json!({"code": "teapot", "message": "no"})),
    ]
}

/// The `anonymous` handler: the welcome, every broken message, then a
/// valid `graph_update` whose node is `last`.
async fn anonymous(mut session: Session) -> HandlerResult {
    session.send(
        "welcome",
        &json!({"authenticated": false, "permissions": ["graph.read"]}),
    )?;
    for (kind, payload) in broken() {
        session.send(kind, &payload)?;
    }
    session.send(
        "graph_update",
        &json!({"nodes": [{"id": "last", "label": "Last", "kind": "genre", "weight": 0}], "edges": []}),
    )?;
    while session.recv().await.is_some() {}
    Ok(())
}

struct Everyone;

impl UserStore for Everyone {
    fn status<'a>(&'a self, _: &'a str) -> BoxFuture<'a, Result<UserStatus, StoreError>> {
        Box::pin(async { Ok(UserStatus::Active) })
    }
}

async fn start() -> Serving {
    let keys = KeySet::new()
        .hmac("default", SECRET.as_bytes())
        .unwrap_or_else(|e| panic!("{e}"));
    let verifier = Verifier::for_api(&songnodes::API, keys).unwrap_or_else(|e| panic!("{e}"));
    let server = WsAuth::builder(&songnodes::API)
        .handler("user", |_session: Session| async { Ok(()) })
        .handler("anonymous", anonymous)
        .authenticator(verifier)
        .users(Everyone)
        .allow_any_origin()
        .build()
        .unwrap_or_else(|e| panic!("{e}"));
    let router = server.router();
    wsauth_example_support::testing::serve_on_loopback(router, server)
        .await
        .abort_on_drop()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn generated_ts_client_refuses_server_messages_that_break_their_schema() {
    compile_typescript();
    let app = start().await;
    let mut node = node();
    node.args(["--experimental-websocket", "out/js/tests/node_payloads.js"])
        .env("WSAUTH_WS_URL", app.ws_url())
        .env("WSAUTH_BROKEN", broken().len().to_string());
    let output = run_blocking(node).await;
    println!("{output}");
    assert!(
        output.contains("ok - invalid server messages refused"),
        "the script ran:\n{output}"
    );
}
