//! Payload constraints over a real socket: every keyword the runtime
//! checks, just inside and just outside its bound, on a typed handler and
//! on an untyped one (`Session::recv`). A message that passes reaches the
//! handler, which answers `ok`; one that fails never does: the pipeline
//! answers with the spec's `invalid_message` error.

use std::net::SocketAddr;
use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use serde_json::{Value, json};
use tokio_tungstenite::tungstenite::Message;
use wsauth_core::{HandlerResult, Incoming, ws_endpoint};

mod constraints {
    wsauth_core::include_spec!("tests/specs/constraints.yaml");
}

use constraints::endpoints as ep;

#[ws_endpoint(
    spec = "tests/specs/constraints.yaml",
    endpoint = "typed",
    perm = "use"
)]
async fn typed(mut session: ep::typed::Session) -> HandlerResult {
    while let Some(ep::typed::Incoming::Put(_)) = session.recv().await {
        session.send(constraints::messages::Ok {})?;
    }
    Ok(())
}

#[ws_endpoint(
    spec = "tests/specs/constraints.yaml",
    endpoint = "untyped",
    perm = "use"
)]
async fn untyped(mut session: ep::untyped::Session) -> HandlerResult {
    let session = session.untyped();
    while let Some(message) = session.recv().await {
        if let Incoming::Message { .. } = message {
            session.send("ok", &json!({}))?;
        }
    }
    Ok(())
}

#[ws_endpoint(
    spec = "tests/specs/constraints.yaml",
    endpoint = "strict",
    perm = "use"
)]
async fn strict(mut session: ep::strict::Session) -> HandlerResult {
    while let Some(ep::strict::Incoming::Put(_)) = session.recv().await {
        session.send(constraints::messages::Ok {})?;
    }
    Ok(())
}

async fn start() -> SocketAddr {
    let server = constraints::Handlers {
        typed,
        untyped,
        strict,
    }
    .into_builder()
    .allow_any_origin()
    .build()
    .unwrap_or_else(|e| panic!("{e}"));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let addr = listener.local_addr().unwrap_or_else(|e| panic!("{e}"));
    let app = server.router::<()>();
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    addr
}

type Client =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

/// Sends `put` with `fields` beside `name: "ab"` (unless `fields` sets
/// `name`) and returns the reply's type: `ok` or `error`.
async fn put(client: &mut Client, fields: Value) -> String {
    let mut frame = json!({"type": "put", "name": "ab"});
    if let (Some(frame), Some(fields)) = (frame.as_object_mut(), fields.as_object()) {
        for (k, v) in fields {
            if v.is_null() && k == "name" {
                frame.remove(k);
            } else {
                frame.insert(k.clone(), v.clone());
            }
        }
    }
    reply_to(client, &frame.to_string()).await
}

/// Sends the frame `text` and returns the reply's type: `ok` or `error`.
async fn reply_to(client: &mut Client, frame: &str) -> String {
    client
        .send(Message::text(frame))
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    loop {
        match tokio::time::timeout(Duration::from_secs(5), client.next()).await {
            Ok(Some(Ok(Message::Text(t)))) => {
                let reply: Value = serde_json::from_str(t.as_str()).unwrap_or_default();
                if reply["type"] == "error" {
                    assert_eq!(
                        (reply["code"].as_str(), reply["message"].as_str()),
                        (Some("invalid_message"), Some("invalid message")),
                        "{frame}"
                    );
                }
                return reply["type"].as_str().unwrap_or_default().to_owned();
            }
            Ok(Some(Ok(Message::Ping(_)))) => {}
            other => panic!("{frame}: expected a reply, got {other:?}"),
        }
    }
}

/// `(fields, accepted)`: each keyword just inside and just outside its bound.
fn cases() -> Vec<(Value, bool)> {
    let node = |depth: usize, label: &str| {
        let mut node = json!({"label": label});
        for _ in 0..depth {
            node = json!({"label": "n", "children": [node]});
        }
        node
    };
    vec![
        // minLength 2, maxLength 4, pattern ^[a-z]+$, required.
        (json!({"name": "ab"}), true),
        (json!({"name": "a"}), false),
        (json!({"name": "abcd"}), true),
        (json!({"name": "abcde"}), false),
        (json!({"name": "aB"}), false),
        (json!({"name": null}), false),
        // enum.
        (json!({"level": "high"}), true),
        (json!({"level": "medium"}), false),
        // integer -3..=3, whole.
        (json!({"count": -3}), true),
        (json!({"count": 3}), true),
        (json!({"count": -4}), false),
        (json!({"count": 4}), false),
        (json!({"count": 1.5}), false),
        // number 0.5..=1.5.
        (json!({"ratio": 0.5}), true),
        (json!({"ratio": 1.5}), true),
        (json!({"ratio": 0.49}), false),
        (json!({"ratio": 1.51}), false),
        // boolean.
        (json!({"on": true}), true),
        (json!({"on": "true"}), false),
        // formats: uuid, date, date-time checked; uri documentation only.
        (json!({"id": "0b9d6c6e-3f4a-4c8e-9a57-6f1d2c3b4a5e"}), true),
        (json!({"id": "0b9d6c6e-3f4a-4c8e-9a57-6f1d2c3b4a5"}), false),
        (json!({"day": "2024-02-29"}), true),
        (json!({"day": "2023-02-29"}), false),
        (json!({"at": "2026-11-22T10:00:00.5+01:00"}), true),
        (json!({"at": "2026-11-22T10:00:00"}), false),
        (json!({"link": "not checked"}), true),
        // arrays: minItems 1, maxItems 2, items maxLength 3.
        (json!({"tags": ["a"]}), true),
        (json!({"tags": []}), false),
        (json!({"tags": ["a", "b"]}), true),
        (json!({"tags": ["a", "b", "c"]}), false),
        (json!({"tags": ["abcd"]}), false),
        // nested objects through a recursive `$ref`, with its own bounds.
        (json!({"node": node(3, "abc")}), true),
        (json!({"node": node(3, "abcd")}), false),
        (
            json!({"node": {"label": "a", "children": [{"label": "b"}, {"label": "c"}, {"label": "d"}]}}),
            false,
        ),
        (json!({"node": {"children": []}}), false),
        (json!({"node": {"label": "a", "colour": "red"}}), false),
        // no undeclared fields; `any` takes anything.
        (json!({"nickname": "x"}), false),
        (json!({"extra": {"deep": [1, {"x": null}]}}), true),
    ]
}

#[tokio::test]
async fn every_keyword_is_enforced_on_typed_and_untyped_handlers() {
    let addr = start().await;
    for endpoint in ["typed", "untyped"] {
        let (mut client, _) = tokio_tungstenite::connect_async(format!("ws://{addr}/{endpoint}"))
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        for (fields, accepted) in cases() {
            let want = if accepted { "ok" } else { "error" };
            assert_eq!(
                put(&mut client, fields.clone()).await,
                want,
                "{endpoint}: {fields}"
            );
        }
    }
}

#[tokio::test]
async fn a_frame_is_one_object_with_one_type_wherever_its_type_is() {
    let addr = start().await;
    for endpoint in ["typed", "untyped"] {
        let (mut client, _) = tokio_tungstenite::connect_async(format!("ws://{addr}/{endpoint}"))
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        for (frame, want) in [
            (r#"{"type":"put","name":"ab"}"#, "ok"),
            (r#" { "type" : "put" , "name" : "ab" } "#, "ok"),
            (r#"{"name":"ab","type":"put"}"#, "ok"),
            (r#"{"type":"p\u0075t","name":"ab"}"#, "ok"),
            (r#"{"type":"put","name":"ab","type":"put"}"#, "error"),
            (r#"{"type":"put","name":"ab","typ\u0065":"put"}"#, "error"),
            (r#"{"type":"put","name":"ab"} {}"#, "error"),
            (r#"{"type":"put","name":"ab""#, "error"),
            (r#"{"type":"put","name":"ab","type":"other"}"#, "error"),
        ] {
            assert_eq!(
                reply_to(&mut client, frame).await,
                want,
                "{endpoint}: {frame}"
            );
        }
    }
}

#[tokio::test]
async fn a_refused_message_closes_with_1007_where_no_error_can_be_sent() {
    let addr = start().await;
    let (mut client, _) = tokio_tungstenite::connect_async(format!("ws://{addr}/strict"))
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(put(&mut client, json!({"count": 3})).await, "ok");
    client
        .send(Message::text(r#"{"type":"put","name":"ab","count":4}"#))
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let close = loop {
        match tokio::time::timeout(Duration::from_secs(5), client.next()).await {
            Ok(Some(Ok(Message::Close(frame)))) => break frame,
            Ok(Some(Ok(Message::Ping(_)))) => {}
            other => panic!("expected the close, got {other:?}"),
        }
    };
    let close = close.map(|f| (u16::from(f.code), f.reason.as_str().to_owned()));
    assert_eq!(close, Some((1007, "invalid message".to_owned())));
}
