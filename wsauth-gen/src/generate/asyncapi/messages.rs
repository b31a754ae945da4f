//! The components: every message with its frame's JSON Schema and a valid
//! example, the spec's named schemas, and the messages wsauth itself defines
//! (in-band refresh, raw frames, open messages, topic control messages and
//! each topic's envelopes) for the endpoints that use them.

use serde_json::{Map, Value, json};
use wsauth_spec::wire::{REFRESH, REFRESHED};

use super::traffic::{OPEN, RAW, Traffic};
use super::{SCHEMA_REFS, put, topics};
use crate::ir::{Api, Direction, Frames, Message};
use crate::payload;

/// The `schemas` of the components: the spec's named schemas.
pub(super) fn schemas(api: &Api) -> Map<String, Value> {
    api.schemas
        .iter()
        .map(|s| (s.name.clone(), payload::json_schema(&s.schema, SCHEMA_REFS)))
        .collect()
}

/// The `messages` of the components: the spec's, then wsauth's own.
pub(super) fn messages(api: &Api) -> Map<String, Value> {
    api.messages
        .iter()
        .map(|m| (m.name.clone(), spec_message(api, m)))
        .chain(framework_messages(api))
        .chain(topics::control_messages(api))
        .chain(topics::topic_messages(api, SCHEMA_REFS))
        .collect()
}

/// A component message, its fields in the order the document shows them.
struct MessageObject {
    name: String,
    summary: Option<String>,
    description: Option<String>,
    content_type: Option<&'static str>,
    payload: Value,
    examples: Value,
    /// `x-wsauth-permission`: what a client needs to send it.
    permission: Option<String>,
    /// `x-wsauth-direction`: who sends it.
    direction: &'static str,
}

impl From<MessageObject> for Value {
    fn from(m: MessageObject) -> Self {
        let mut out = Map::new();
        out.insert("name".into(), m.name.into());
        put(&mut out, "summary", m.summary);
        put(&mut out, "description", m.description);
        put(&mut out, "contentType", m.content_type);
        out.insert("payload".into(), m.payload);
        out.insert("examples".into(), m.examples);
        put(&mut out, "x-wsauth-permission", m.permission);
        out.insert("x-wsauth-direction".into(), m.direction.into());
        Value::Object(out)
    }
}

/// The first sentence of a description, for a one-line summary.
fn first_sentence(text: &str) -> String {
    let line = text.trim().replace('\n', " ");
    match line.find(". ") {
        Some(at) => line[..=at].to_owned(),
        None => line,
    }
}

fn spec_message(api: &Api, m: &Message) -> Value {
    let sample = payload::sample_frame(api, m);
    let examples = if m.example.is_some() {
        json!([{ "name": "example", "summary": "The spec's example.", "payload": sample }])
    } else {
        json!([{ "name": "sample", "summary": "Made up from the schema.", "payload": sample }])
    };
    let description = m.description.as_deref();
    let direction = match m.direction {
        Direction::ClientToServer => "client_to_server",
        Direction::ServerToClient => "server_to_client",
        Direction::Both => "both",
        Direction::Unused => "unused",
    };
    MessageObject {
        name: m.name.clone(),
        summary: description.map(first_sentence),
        description: description
            .filter(|d| first_sentence(d) != d.trim())
            .map(str::to_owned),
        content_type: None,
        payload: payload::frame_schema(api, m, SCHEMA_REFS),
        examples,
        permission: m.perm.clone(),
        direction,
    }
    .into()
}

/// Which way open messages travel on some endpoint of `api`, if any does.
fn open_direction(api: &Api) -> Option<&'static str> {
    let opens = api.endpoints.iter().filter_map(|e| e.open.as_ref());
    let (received, sent) = opens.fold((false, false), |(r, s), o| (r || o.receives, s || o.sends));
    match (received, sent) {
        (true, true) => Some("both"),
        (true, false) => Some("client_to_server"),
        (false, true) => Some("server_to_client"),
        (false, false) => None,
    }
}

/// The messages wsauth itself defines, for the endpoints that use them.
fn framework_messages(api: &Api) -> Vec<(String, Value)> {
    let refresh = api.endpoints.iter().any(|e| Traffic::of(api, e).refresh);
    let raw = api.endpoints.iter().any(|e| e.frames == Frames::Raw);
    let framework = |name: &str, summary: &str, payload: Value, example: Value, direction| {
        MessageObject {
            name: name.to_owned(),
            summary: Some(summary.to_owned()),
            description: None,
            content_type: None,
            payload,
            examples: json!([{ "name": "sample", "summary": "A valid frame.", "payload": example }]),
            permission: None,
            direction,
        }
    };
    let mut out: Vec<MessageObject> = Vec::new();
    if refresh {
        out.push(framework(
            REFRESH,
            "A fresh token for the open connection, sent before the current one expires.",
            json!({
                "type": "object",
                "properties": {
                    "type": { "const": REFRESH },
                    "token": { "type": "string", "description": "The fresh token." },
                },
                "required": ["type", "token"],
                "additionalProperties": false,
            }),
            json!({ "type": REFRESH, "token": "<fresh token>" }),
            "client_to_server",
        ));
        out.push(framework(
            REFRESHED,
            "The fresh token was accepted; the connection now expires at `exp`.",
            json!({
                "type": "object",
                "properties": {
                    "type": { "const": REFRESHED },
                    "exp": { "type": "integer", "minimum": 0, "description": "The new token's expiry, in Unix seconds." },
                },
                "required": ["type", "exp"],
                "additionalProperties": false,
            }),
            json!({ "type": REFRESHED, "exp": 1_795_000_000 }),
            "server_to_client",
        ));
    }
    if raw {
        let mut raw = framework(
            RAW,
            "Any text or binary frame, passed through undecoded.",
            json!({ "description": "Any text or binary frame." }),
            Value::from("hello"),
            "both",
        );
        raw.content_type = Some("application/octet-stream");
        out.push(raw);
    }
    if let Some(direction) = open_direction(api) {
        out.push(framework(
            OPEN,
            "An open message: any JSON object whose `type` the spec does not declare (nor `wsauth.`), with any fields.",
            open_schema(api),
            json!({ "type": "test", "payload": { "message": "Hello" } }),
            direction,
        ));
    }
    out.into_iter()
        .map(|m| (m.name.clone(), m.into()))
        .collect()
}

/// An open message's frame: a JSON object whose `type` is none of the
/// spec's messages nor the framework's, with any fields.
pub(super) fn open_schema(api: &Api) -> Value {
    let declared: Vec<&str> = api.messages.iter().map(|m| m.name.as_str()).collect();
    json!({
        "type": "object",
        "properties": {
            "type": {
                "type": "string",
                "description": "Any type but the spec's messages and the framework's `wsauth.` ones.",
                "not": { "anyOf": [
                    { "enum": declared },
                    { "pattern": "^wsauth\\." },
                ] },
            },
        },
        "required": ["type"],
    })
}
