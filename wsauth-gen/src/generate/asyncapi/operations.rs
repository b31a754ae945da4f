//! One operation per endpoint and message, from the server's side:
//! `receive` for what the client sends, `send` for what the server sends.
//! Each carries the one permission checked for it and, for an endpoint that
//! takes tokens, the security schemes it accepts.

use serde_json::{Map, Value, json};
use wsauth_spec::wire::{REFRESH, REFRESHED, RESERVED_PREFIX};

use super::traffic::{OPEN, RAW, Traffic};
use super::{put, reference, security, topics};
use crate::ir::{Access, Api, Endpoint};

/// One operation in the making.
struct Operation {
    /// `receive` or `send`.
    action: &'static str,
    message: String,
    summary: String,
    description: Option<String>,
    /// The messages the server answers with, if any.
    reply: &'static [&'static str],
    permission: Option<String>,
}

/// The operations of `endpoint`, keyed `<endpoint>.<action>.<message>`: the
/// spec's messages first, wsauth's own (refresh, raw frames, open messages)
/// last.
pub(super) fn of(api: &Api, endpoint: &Endpoint) -> Vec<(String, Value)> {
    let traffic = Traffic::of(api, endpoint);
    let connect_perm = endpoint.perm.as_deref();
    let open_perm = endpoint.open.as_ref().and_then(|o| o.perm.as_deref());
    let refusal = if endpoint.sends.iter().any(|s| s == "error") {
        "answered with `error`; the connection stays open"
    } else {
        "the connection closes"
    };
    let refused =
        |p: &str| format!("A connection whose roles do not grant `{p}` is refused: {refusal}.");
    let mut operations = Vec::new();
    for &name in &traffic.receives {
        let perm = api.message(name).and_then(|m| m.perm.as_deref());
        let (summary, description, reply, permission) = if name == REFRESH {
            (
                "The client refreshes its token in-band.".to_owned(),
                Some(format!(
                    "The new token must have the same subject and still grant the connect permission; the server answers `{REFRESHED}`, or closes the connection."
                )),
                &[REFRESHED][..],
                None,
            )
        } else if let Some((summary, description)) = topics::summary(name, true) {
            // Each topic's channel says which permission it takes.
            (
                summary.to_owned(),
                description.map(str::to_owned),
                topics::replies(name).unwrap_or_default(),
                None,
            )
        } else if name == RAW {
            (
                "The client sends any frame.".to_owned(),
                None,
                &[][..],
                connect_perm,
            )
        } else if name == OPEN {
            let checked = open_perm.map_or(String::new(), |p| format!(" {}", refused(p)));
            (
                "The client sends an open message: a JSON object whose `type` the spec does not declare.".to_owned(),
                Some(format!(
                    "Any fields; size and rate limits apply as to every message. A declared `type` with the wrong fields is invalid, never an open message.{checked}"
                )),
                &[][..],
                open_perm.or(connect_perm),
            )
        } else {
            (
                format!("The client sends `{name}`."),
                perm.map(refused),
                &[][..],
                perm.or(connect_perm),
            )
        };
        operations.push(Operation {
            action: "receive",
            message: name.to_owned(),
            summary,
            description,
            reply,
            permission: permission.map(str::to_owned),
        });
    }
    for &name in &traffic.sends {
        if traffic.refresh && name == REFRESHED || topics::reply_only(name) {
            // The reply of a request's operation.
            continue;
        }
        let summary = if let Some((summary, _)) = topics::summary(name, false) {
            summary.to_owned()
        } else if endpoint.welcome.as_deref() == Some(name) {
            format!("The server sends `{name}` first, once the connection is admitted.")
        } else if name == RAW {
            "The server sends any frame.".to_owned()
        } else if name == OPEN {
            "The server sends open messages: JSON objects whose `type` the spec does not declare."
                .to_owned()
        } else {
            format!("The server sends `{name}`.")
        };
        operations.push(Operation {
            action: "send",
            message: name.to_owned(),
            summary,
            description: None,
            reply: &[],
            permission: connect_perm.map(str::to_owned),
        });
    }
    let security = (endpoint.access != Access::Anonymous && !endpoint.sources.is_empty())
        .then(|| security::refs(&endpoint.sources));
    // A stable partition: the spec's messages first, wsauth's own last.
    operations.sort_by_key(|o| o.message.starts_with(RESERVED_PREFIX));
    operations
        .into_iter()
        .map(|o| {
            let key = format!("{}.{}.{}", endpoint.name, o.action, o.message);
            (key, operation(endpoint, o, security.clone()))
        })
        .collect()
}

fn operation(endpoint: &Endpoint, o: Operation, security: Option<Value>) -> Value {
    let channel = json!({ "$ref": reference(&["channels", &endpoint.name]) });
    let message =
        |name: &str| json!({ "$ref": reference(&["channels", &endpoint.name, "messages", name]) });
    let mut out = Map::new();
    out.insert("action".into(), o.action.into());
    out.insert("channel".into(), channel.clone());
    out.insert("messages".into(), json!([message(&o.message)]));
    out.insert("summary".into(), o.summary.into());
    put(&mut out, "description", o.description);
    put(&mut out, "security", security);
    if !o.reply.is_empty() {
        let replies: Vec<Value> = o.reply.iter().map(|r| message(r)).collect();
        out.insert(
            "reply".into(),
            json!({ "channel": channel, "messages": replies }),
        );
    }
    put(&mut out, "x-wsauth-permission", o.permission);
    Value::Object(out)
}
