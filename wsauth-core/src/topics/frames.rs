//! The topic frames the server writes (shapes in `wsauth_spec::wire`).
//!
//! Every frame about an instance carries its `topic` and `params`; the
//! params are spliced in as the instance's canonical JSON text, written
//! once when the instance was named, instead of being re-encoded for every
//! frame.

use std::fmt::Write as _;

use serde_json::{Map, Value, json};
use wsauth_spec::Keyword;
use wsauth_spec::wire::{
    PRESENCE, PUBLICATION, PUBLISHED, REFUSED, SUBSCRIBED, TopicRefusal, UNSUBSCRIBED,
};

/// `{"type":kind,"id":id,"topic":topic,"params":params,...fields}`, `id`
/// only when there is one, `params` already JSON text.
fn write(kind: &str, id: Option<u64>, topic: &str, params: &str, fields: Value) -> String {
    let mut out = String::with_capacity(64 + params.len());
    let _ = write!(out, "{{\"type\":{}", Value::from(kind));
    if let Some(id) = id {
        let _ = write!(out, ",\"id\":{id}");
    }
    let _ = write!(out, ",\"topic\":{},\"params\":{params}", Value::from(topic));
    if let Value::Object(fields) = fields {
        for (name, value) in fields {
            let _ = write!(out, ",{}:{value}", Value::from(name));
        }
    }
    out.push('}');
    out
}

/// What `wsauth.subscribed` says.
pub(crate) struct Subscribed<'a> {
    pub(crate) id: Option<u64>,
    pub(crate) epoch: &'a str,
    pub(crate) offset: u64,
    /// Only in answer to a `since`.
    pub(crate) recovered: Option<bool>,
    /// Only on topics with presence.
    pub(crate) present: Option<Vec<&'a str>>,
}

pub(crate) fn subscribed(topic: &str, params: &str, s: Subscribed<'_>) -> String {
    let mut fields = Map::new();
    fields.insert("epoch".into(), s.epoch.into());
    fields.insert("offset".into(), s.offset.into());
    if let Some(recovered) = s.recovered {
        fields.insert("recovered".into(), recovered.into());
    }
    if let Some(present) = s.present {
        fields.insert("present".into(), present.into());
    }
    write(SUBSCRIBED, s.id, topic, params, Value::Object(fields))
}

/// `reason`: `client`, `server`, or a [`TopicRefusal`] word.
pub(crate) fn unsubscribed(id: Option<u64>, topic: &str, params: &str, reason: &str) -> String {
    write(UNSUBSCRIBED, id, topic, params, json!({ "reason": reason }))
}

pub(crate) fn refused(
    id: Option<u64>,
    request: &str,
    topic: &str,
    params: &str,
    error: TopicRefusal,
) -> String {
    let fields = json!({ "request": request, "error": error.word(), "reason": error.reason() });
    write(REFUSED, id, topic, params, fields)
}

/// The frame every subscriber of an instance shares; `message` is the
/// message's JSON text (an object with its `type`).
pub(crate) fn publication(topic: &str, params: &str, offset: u64, message: &str) -> String {
    let mut out = write(
        PUBLICATION,
        None,
        topic,
        params,
        json!({ "offset": offset }),
    );
    out.pop();
    let _ = write!(out, ",\"message\":{message}}}");
    out
}

pub(crate) fn published(id: Option<u64>, offset: u64) -> String {
    let mut out = format!("{{\"type\":{}", Value::from(PUBLISHED));
    if let Some(id) = id {
        let _ = write!(out, ",\"id\":{id}");
    }
    let _ = write!(out, ",\"offset\":{offset}}}");
    out
}

/// A presence answer (`present`) or event (`joined`/`left`).
pub(crate) fn presence(id: Option<u64>, topic: &str, params: &str, fields: Value) -> String {
    write(PRESENCE, id, topic, params, fields)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frames_are_one_json_object_each() {
        let frames = [
            subscribed(
                "t",
                r#"{"a":1}"#,
                Subscribed {
                    id: Some(1),
                    epoch: "e",
                    offset: 3,
                    recovered: Some(true),
                    present: Some(vec!["alice"]),
                },
            ),
            unsubscribed(None, "t", "{}", "server"),
            refused(
                Some(2),
                "wsauth.subscribe",
                "t",
                "null",
                TopicRefusal::Forbidden,
            ),
            publication("t", "{}", 4, r#"{"type":"m","x":1}"#),
            published(Some(3), 4),
            presence(None, "t", "{}", json!({"joined": "bob"})),
        ];
        let expected = [
            json!({"type":"wsauth.subscribed","id":1,"topic":"t","params":{"a":1},"epoch":"e","offset":3,"recovered":true,"present":["alice"]}),
            json!({"type":"wsauth.unsubscribed","topic":"t","params":{},"reason":"server"}),
            json!({"type":"wsauth.refused","id":2,"topic":"t","params":null,"request":"wsauth.subscribe","error":"forbidden","reason":"forbidden"}),
            json!({"type":"wsauth.publication","topic":"t","params":{},"offset":4,"message":{"type":"m","x":1}}),
            json!({"type":"wsauth.published","id":3,"offset":4}),
            json!({"type":"wsauth.presence","topic":"t","params":{},"joined":"bob"}),
        ];
        for (frame, expected) in frames.iter().zip(expected) {
            let parsed: Value = serde_json::from_str(frame).unwrap_or_default();
            assert_eq!(parsed, expected, "{frame}");
        }
    }
}
