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
use wsauth_core::{AuditLog, HandlerResult, Incoming, ws_endpoint};

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

/// A typed endpoint's handler that reads through its untyped session, and
/// only once the loop has already read what the client sent first (which
/// it decoded for a typed read, as a typed handler's first message is).
#[ws_endpoint(spec = "tests/specs/constraints.yaml", endpoint = "late", perm = "use")]
async fn late(mut session: ep::late::Session) -> HandlerResult {
    tokio::time::sleep(Duration::from_millis(200)).await;
    let session = session.untyped();
    while let Some(message) = session.recv().await {
        if let Incoming::Message { kind: "put", value } = message
            && value["name"].is_string()
        {
            session.send("ok", &json!({}))?;
        }
    }
    Ok(())
}

async fn start() -> SocketAddr {
    start_with(None).await
}

async fn start_with(audit: Option<AuditLog>) -> SocketAddr {
    let builder = constraints::Handlers {
        typed,
        untyped,
        strict,
        late,
    }
    .into_builder()
    .allow_any_origin();
    let builder = match audit {
        Some(log) => builder.audit(log),
        None => builder,
    };
    let server = builder.build().unwrap_or_else(|e| panic!("{e}"));
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

/// An audit log's lines, written to memory.
#[derive(Clone, Default)]
struct Captured(std::sync::Arc<std::sync::Mutex<Vec<u8>>>);

impl std::io::Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let mut written = self
            .0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        written.extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// The `invalid_message` lines `log` has written to `written`, as
/// `(endpoint, message_type, field, rule)`.
async fn invalid_lines(log: &AuditLog, written: &Captured) -> Vec<[String; 4]> {
    let flushing = log.clone();
    tokio::task::spawn_blocking(move || flushing.flush())
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let text = {
        let bytes = written
            .0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        String::from_utf8_lossy(&bytes).into_owned()
    };
    text.lines()
        .map(|line| serde_json::from_str::<Value>(line).unwrap_or_else(|e| panic!("{e}: {line}")))
        .filter(|line| line["event"] == "invalid_message")
        .map(|line| {
            ["endpoint", "message_type", "field", "rule"]
                .map(|key| line[key].as_str().unwrap_or_default().to_owned())
        })
        .collect()
}

/// A typed handler's messages are checked and decoded in one pass, an
/// untyped handler's only checked: refused alike, with the same reply and
/// the same audit line (the field and the rule), and passed alike.
#[tokio::test]
async fn typed_and_untyped_handlers_refuse_and_audit_alike() {
    let written = Captured::default();
    let log = AuditLog::json_lines(written.clone()).unwrap_or_else(|e| panic!("{e}"));
    let addr = start_with(Some(log.clone())).await;
    let refused = [
        (r#"{"type":"put","name":"abcde"}"#, "/name", "maxLength"),
        (
            r#"{"type":"put","name":"ab","node":{"label":"a","children":[{"label":"abcd"}]}}"#,
            "/node/children/0/label",
            "maxLength",
        ),
        (
            r#"{"type":"put","name":"ab","tags":["a","b","c"]}"#,
            "/tags",
            "maxItems",
        ),
        (
            r#"{"type":"put","name":"ab","count":1.5}"#,
            "/count",
            "type",
        ),
        (
            r#"{"type":"put","name":"ab","level":"l\u006fw","nickname":"x"}"#,
            "",
            "additionalProperties",
        ),
        (r#"{"type":"put","level":"low"}"#, "/name", "required"),
        (
            r#"{"type":"put","name":"ab","name":"cd"}"#,
            "/name",
            "duplicate",
        ),
        (
            r#"{"type":"put","name":"ab","ratio":18446744073709551616}"#,
            "/ratio",
            "maximum",
        ),
    ];
    for endpoint in ["typed", "untyped"] {
        let (mut client, _) = tokio_tungstenite::connect_async(format!("ws://{addr}/{endpoint}"))
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        for (frame, _, _) in refused {
            assert_eq!(
                reply_to(&mut client, frame).await,
                "error",
                "{endpoint}: {frame}"
            );
        }
        let valid = r#"{"type":"put","name":"ab","level":"h\u0069gh","node":{"label":"a","children":[]},"extra":[1e300,null]}"#;
        assert_eq!(reply_to(&mut client, valid).await, "ok", "{endpoint}");
    }
    let lines = invalid_lines(&log, &written).await;
    let want: Vec<[String; 4]> = ["typed", "untyped"]
        .into_iter()
        .flat_map(|endpoint| {
            refused.map(|(_, field, rule)| [endpoint, "put", field, rule].map(str::to_owned))
        })
        .collect();
    assert_eq!(lines, want);
}

/// A message the loop decoded for a typed read (a typed handler's first
/// message is expected so) still reaches a handler that reads it through
/// its untyped session, and one the check refuses is refused as ever.
#[tokio::test]
async fn a_message_decoded_for_a_typed_read_reaches_an_untyped_one() {
    let addr = start().await;
    let (mut client, _) = tokio_tungstenite::connect_async(format!("ws://{addr}/late"))
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    client
        .send(Message::text(r#"{"type":"put","name":"ab"}"#))
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    match tokio::time::timeout(Duration::from_secs(5), client.next()).await {
        Ok(Some(Ok(Message::Text(t)))) => {
            let reply: Value = serde_json::from_str(t.as_str()).unwrap_or_default();
            assert_eq!(reply, json!({"type": "ok"}));
        }
        other => panic!("expected the reply, got {other:?}"),
    }
    assert_eq!(put(&mut client, json!({"name": "abcde"})).await, "error");
    assert_eq!(put(&mut client, json!({"name": "cd"})).await, "ok");
}
