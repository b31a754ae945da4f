//! Topics in the document: one channel per topic (its instance params as
//! the address's parameters), whose messages are the topic's
//! `wsauth.publication` envelope and, where clients may publish, its
//! `wsauth.publish` request, each typed with the topic's params and
//! messages; the operations on them; and the control messages endpoints
//! that list topics carry (subscribe, unsubscribe, presence, refusals).
//!
//! A topic's channel is keyed `topic.<name>`, so a topic may share its name
//! with an endpoint (prsm's `conversation` is both).

use serde_json::{Map, Value, json};
use wsauth_spec::Keyword;
use wsauth_spec::wire::{
    PRESENCE, PUBLICATION, PUBLISH, PUBLISHED, REFUSED, SUBSCRIBE, SUBSCRIBED, TopicRefusal,
    UNSUBSCRIBE, UNSUBSCRIBED,
};

use super::{put, reference};
use crate::ir::{Api, EndpointTopic, ParamType, Topic};
use crate::payload;

/// The channel key of topic `name`.
pub(super) fn channel_key(name: &str) -> String {
    format!("topic.{name}")
}

/// The component message of the publications of `topic`.
fn publication_key(topic: &Topic) -> String {
    format!("{PUBLICATION}.{}", topic.name)
}

/// The component message of client publishes on `topic`.
fn publish_key(topic: &Topic) -> String {
    format!("{PUBLISH}.{}", topic.name)
}

/// The endpoints whose connections may join `topic`.
fn endpoints_of<'a>(api: &'a Api, topic: &Topic) -> Vec<&'a str> {
    joined_by(api, topic, |_| true)
}

/// The endpoints listing `topic` whose entry passes `keep`.
fn joined_by<'a>(
    api: &'a Api,
    topic: &Topic,
    keep: impl Fn(&EndpointTopic) -> bool,
) -> Vec<&'a str> {
    api.endpoints
        .iter()
        .filter(|e| e.topics.iter().any(|t| t.name == topic.name && keep(t)))
        .map(|e| e.name.as_str())
        .collect()
}

/// The channel of `topic`.
pub(super) fn channel(api: &Api, topic: &Topic) -> Value {
    let mut out = Map::new();
    let mut address = topic.name.clone();
    for p in &topic.params {
        address.push_str(&format!("/{{{}}}", p.name));
    }
    out.insert("address".into(), address.into());
    out.insert("description".into(), description(api, topic).into());
    if !topic.params.is_empty() {
        let parameters: Map<String, Value> = topic
            .params
            .iter()
            .map(|p| {
                let mut param = Map::new();
                let what = match p.ty {
                    ParamType::Integer => "A signed 64-bit integer (a JSON number in `params`).",
                    ParamType::String | ParamType::Uuid => "A string.",
                };
                let text = match &p.description {
                    Some(d) => format!("{} {what}", d.trim_end()),
                    None => what.to_owned(),
                };
                param.insert("description".into(), text.into());
                param.insert("x-wsauth-type".into(), p.ty.word().into());
                (p.name.clone(), Value::Object(param))
            })
            .collect();
        out.insert("parameters".into(), parameters.into());
    }
    let mut messages = Map::new();
    // A topic only the server joins (its endpoints get it as their own
    // messages) has no envelope and no client publish on the wire.
    let framed = api.subscribed_by_clients(&topic.name);
    for key in [
        Some(publication_key(topic)),
        topic.publish.as_ref().map(|_| publish_key(topic)),
    ]
    .into_iter()
    .flatten()
    .filter(|_| framed)
    {
        let target = reference(&["components", "messages", &key]);
        messages.insert(key, json!({ "$ref": target }));
    }
    out.insert("messages".into(), messages.into());
    out.insert("x-wsauth-subscribe".into(), topic.subscribe.clone().into());
    if !topic.checks.is_empty() {
        out.insert("x-wsauth-checks".into(), topic.checks.clone().into());
    }
    put(&mut out, "x-wsauth-publish", topic.publish.clone());
    out.insert("x-wsauth-presence".into(), topic.presence.into());
    put(
        &mut out,
        "x-wsauth-history",
        topic
            .history
            .map(|h| json!({ "size": h.size, "ttl_s": h.ttl_s })),
    );
    out.insert("x-wsauth-endpoints".into(), endpoints_of(api, topic).into());
    Value::Object(out)
}

fn description(api: &Api, topic: &Topic) -> String {
    let mut out = String::new();
    if let Some(text) = &topic.description {
        out.push_str(text.trim_end());
        out.push_str("\n\n");
    }
    let instances = match topic.params.as_slice() {
        [] => "A topic with a single instance".to_owned(),
        params => format!(
            "A topic: one instance per value of {}",
            params
                .iter()
                .map(|p| format!("`{}`", p.name))
                .collect::<Vec<_>>()
                .join(", ")
        ),
    };
    let names = |endpoints: &[&str]| {
        endpoints
            .iter()
            .map(|e| format!("`{e}`"))
            .collect::<Vec<_>>()
            .join(", ")
    };
    let subscribed = joined_by(api, topic, EndpointTopic::client_subscribes);
    let joined = joined_by(api, topic, |t| !t.client_subscribes());
    let how = match (subscribed.is_empty(), joined.is_empty()) {
        (false, true) => format!(
            "joined over the connections of {} with `{SUBSCRIBE}`",
            names(&subscribed)
        ),
        (true, _) => format!(
            "joined by the server for the connections of {}, delivered as their own messages",
            names(&joined)
        ),
        (false, false) => format!(
            "joined over the connections of {} with `{SUBSCRIBE}`, and by the server for those of {}, delivered as their own messages",
            names(&subscribed),
            names(&joined)
        ),
    };
    let verb = if subscribed.is_empty() {
        "Joining"
    } else {
        "Subscribing"
    };
    out.push_str(&format!(
        "{instances}, {how}. {verb} takes `{}` ({}).",
        topic.subscribe,
        roles(&topic.subscribers)
    ));
    if topic.open {
        out.push_str(
            " Open messages (any JSON object whose `type` the spec does not declare) flow on it too.",
        );
    }
    for name in &topic.checks {
        let what = api
            .check(name)
            .map(|c| c.description.as_str())
            .unwrap_or_default();
        out.push_str(&format!(
            " Resource check `{name}` (with the topic's params): {what}"
        ));
    }
    if subscribed.is_empty() {
        out.push_str(" Checks run again on every in-band refresh; a connection that fails them stops getting the topic.");
    } else {
        out.push_str(" Checks run again on every in-band refresh; a subscription that fails them ends with `wsauth.unsubscribed`.");
    }
    match &topic.publish {
        Some(p) => out.push_str(&format!(
            "\n\nClients whose roles grant `{p}` ({}) may publish with `{PUBLISH}` on instances they subscribe to (so the checks passed); the server publishes too.",
            roles(&topic.publishers)
        )),
        None => out.push_str("\n\nOnly the server publishes."),
    }
    if topic.presence {
        out.push_str(&format!(
            "\n\nPresence: subscribers may ask who is subscribed (`{PRESENCE}`), by subject, and are told as subjects join and leave."
        ));
    }
    if let Some(h) = topic.history {
        out.push_str(&format!(
            "\n\nHistory: each instance keeps its last {} publications for {} s; a client resubscribing with `since` gets what it missed, or `recovered: false` when it is gone.",
            h.size, h.ttl_s
        ));
    }
    out
}

fn roles(roles: &[String]) -> String {
    if roles.is_empty() {
        "no role".to_owned()
    } else {
        roles.join(", ")
    }
}

/// The operations on `topic`'s channel: the server sends publications to
/// subscribers, and receives publishes where clients may publish; none
/// when no endpoint's clients subscribe (the server joins every
/// connection, and delivers the messages as the endpoint's own).
pub(super) fn operations(api: &Api, topic: &Topic) -> Vec<(String, Value)> {
    if !api.subscribed_by_clients(&topic.name) {
        return Vec::new();
    }
    let key = channel_key(&topic.name);
    let channel = json!({ "$ref": reference(&["channels", &key]) });
    let message =
        |name: &str| json!([{ "$ref": reference(&["channels", &key, "messages", name]) }]);
    let publication = publication_key(topic);
    let mut out = vec![(
        format!("{key}.send.{PUBLICATION}"),
        json!({
            "action": "send",
            "channel": channel,
            "messages": message(&publication),
            "summary": "The server delivers each publication on an instance to its subscribers.",
            "description": "Each publication is numbered per instance (`offset`, from 1). A subscriber whose queue is full is closed as a slow consumer; the others keep receiving.",
            "x-wsauth-permission": topic.subscribe,
        }),
    )];
    if let Some(perm) = &topic.publish {
        let publish = publish_key(topic);
        out.push((
            format!("{key}.receive.{PUBLISH}"),
            json!({
                "action": "receive",
                "channel": channel,
                "messages": message(&publish),
                "summary": "A client publishes a message on an instance.",
                "description": format!("Answered with `{PUBLISHED}` (its offset), or `{REFUSED}` (`forbidden` without `{perm}`, `invalid_message` for a message the topic does not carry or that does not fit its schema); the client need not be subscribed."),
                "x-wsauth-permission": perm,
            }),
        ));
    }
    out
}

/// A topic's params as a JSON Schema: every one required, no others.
fn params_schema(topic: &Topic) -> Value {
    let properties: Map<String, Value> = topic
        .params
        .iter()
        .map(|p| {
            let ty = match p.ty {
                ParamType::Integer => "integer",
                ParamType::String | ParamType::Uuid => "string",
            };
            (p.name.clone(), json!({ "type": ty }))
        })
        .collect();
    let required: Vec<&str> = topic.params.iter().map(|p| p.name.as_str()).collect();
    json!({
        "type": "object",
        "properties": properties,
        "required": required,
        "additionalProperties": false,
    })
}

fn params_sample(topic: &Topic) -> Value {
    let sample: Map<String, Value> = topic
        .params
        .iter()
        .map(|p| {
            let value = match p.ty {
                ParamType::Integer => Value::from(42),
                ParamType::String | ParamType::Uuid => Value::from(p.name.clone()),
            };
            (p.name.clone(), value)
        })
        .collect();
    Value::Object(sample)
}

/// The frames of the messages `topic` carries (open ones too, where it
/// is open), as `oneOf`, and a sample (the first message's).
fn carried(api: &Api, topic: &Topic, refs: &str) -> (Value, Value) {
    let messages: Vec<_> = topic
        .messages
        .iter()
        .filter_map(|m| api.message(m))
        .collect();
    let mut schemas: Vec<Value> = messages
        .iter()
        .map(|m| payload::frame_schema(api, m, refs))
        .collect();
    if topic.open {
        schemas.push(super::messages::open_schema(api));
    }
    let sample = messages
        .first()
        .map_or(Value::Null, |m| payload::sample_frame(api, m));
    (json!({ "oneOf": schemas }), sample)
}

/// A component message: name, summary, payload, one sample, direction.
fn component(name: &str, summary: &str, payload: Value, sample: Value, direction: &str) -> Value {
    json!({
        "name": name,
        "summary": summary,
        "payload": payload,
        "examples": [{ "name": "sample", "summary": "A valid frame.", "payload": sample }],
        "x-wsauth-direction": direction,
    })
}

/// The component messages of every topic: its publication envelope and,
/// where clients may publish, its publish request.
pub(super) fn topic_messages(api: &Api, refs: &str) -> Vec<(String, Value)> {
    let mut out = Vec::new();
    for topic in api
        .topics
        .iter()
        .filter(|t| api.subscribed_by_clients(&t.name))
    {
        let (message, sample) = carried(api, topic, refs);
        let name = &topic.name;
        out.push((
            publication_key(topic),
            component(
                &publication_key(topic),
                &format!("A message published on an instance of `{name}`."),
                json!({
                    "type": "object",
                    "properties": {
                        "type": { "const": PUBLICATION },
                        "topic": { "const": name },
                        "params": params_schema(topic),
                        "offset": { "type": "integer", "minimum": 1, "description": "The publication's number on its instance." },
                        "message": message,
                    },
                    "required": ["type", "topic", "params", "offset", "message"],
                    "additionalProperties": false,
                }),
                json!({ "type": PUBLICATION, "topic": name, "params": params_sample(topic), "offset": 1, "message": sample }),
                "server_to_client",
            ),
        ));
        if topic.publish.is_some() {
            out.push((
                publish_key(topic),
                component(
                    &publish_key(topic),
                    &format!("A client publishes on an instance of `{name}`."),
                    json!({
                        "type": "object",
                        "properties": {
                            "type": { "const": PUBLISH },
                            "id": { "type": "integer", "description": "Echoed in the answer." },
                            "topic": { "const": name },
                            "params": params_schema(topic),
                            "message": message,
                        },
                        "required": ["type", "topic", "params", "message"],
                        "additionalProperties": false,
                    }),
                    json!({ "type": PUBLISH, "id": 3, "topic": name, "params": params_sample(topic), "message": sample }),
                    "client_to_server",
                ),
            ));
        }
    }
    out
}

/// What the control messages of the endpoints need to know: whether any
/// endpoint lists a topic, one clients may publish on, one with presence.
#[derive(Clone, Copy, Debug, Default)]
pub(super) struct Control {
    pub(super) topics: bool,
    pub(super) publish: bool,
    pub(super) presence: bool,
}

impl Control {
    /// The control traffic of the endpoint listing `topics` (those its
    /// clients subscribe to; the ones the server joins need none).
    pub(super) fn of<'a>(api: &Api, topics: impl IntoIterator<Item = &'a EndpointTopic>) -> Self {
        let mut out = Control::default();
        let subscribed = topics.into_iter().filter(|t| t.client_subscribes());
        for t in subscribed.filter_map(|t| api.topic(&t.name)) {
            out.topics = true;
            out.publish |= t.publish.is_some();
            out.presence |= t.presence;
        }
        out
    }

    /// The same over every endpoint.
    pub(super) fn any(api: &Api) -> Self {
        Control::of(api, api.endpoints.iter().flat_map(|e| &e.topics))
    }

    /// What the client sends.
    pub(super) fn receives(self) -> Vec<&'static str> {
        let mut out = Vec::new();
        if self.topics {
            out.extend([SUBSCRIBE, UNSUBSCRIBE]);
        }
        if self.presence {
            out.push(PRESENCE);
        }
        out
    }

    /// What the server sends (publications are on the topics' channels).
    pub(super) fn sends(self) -> Vec<&'static str> {
        let mut out = Vec::new();
        if self.topics {
            out.extend([SUBSCRIBED, UNSUBSCRIBED, REFUSED]);
        }
        if self.publish {
            out.push(PUBLISHED);
        }
        if self.presence {
            out.push(PRESENCE);
        }
        out
    }
}

/// The replies a control request is answered with, if `name` is one.
pub(super) fn replies(name: &str) -> Option<&'static [&'static str]> {
    match name {
        SUBSCRIBE => Some(&[SUBSCRIBED, REFUSED]),
        UNSUBSCRIBE => Some(&[UNSUBSCRIBED, REFUSED]),
        PRESENCE => Some(&[PRESENCE, REFUSED]),
        _ => None,
    }
}

/// Whether the server sends `name` only as a reply.
pub(super) fn reply_only(name: &str) -> bool {
    [SUBSCRIBED, REFUSED].contains(&name)
}

/// The operation summary and description of `name`, if it is a control
/// message (`received`: the client sends it).
pub(super) fn summary(name: &str, received: bool) -> Option<(&'static str, Option<&'static str>)> {
    let found = match (name, received) {
        (SUBSCRIBE, _) => (
            "The client subscribes to a topic instance.",
            Some(
                "Checked like a handshake: the topic's permission, then its resource checks with the instance's params. With `since` (the epoch and offset last seen), the missed publications follow `wsauth.subscribed` in order, or `recovered: false` says they are gone.",
            ),
        ),
        (UNSUBSCRIBE, _) => ("The client leaves a topic instance.", None),
        (PRESENCE, true) => ("The client asks who is subscribed to an instance.", None),
        (PRESENCE, false) => (
            "The server answers a presence query, or tells subscribers that a subject joined or left.",
            None,
        ),
        (UNSUBSCRIBED, _) => (
            "A subscription ended: at the client's request, or by the server (`reason`: `forbidden` or `not_found` after a refresh re-check failed, `server`).",
            None,
        ),
        (PUBLISHED, _) => ("The server accepted a client's publication.", None),
        _ => return None,
    };
    Some(found)
}

/// The control messages, for the APIs whose endpoints list topics.
pub(super) fn control_messages(api: &Api) -> Vec<(String, Value)> {
    let control = Control::any(api);
    if !control.topics {
        return Vec::new();
    }
    let topic_names: Vec<&str> = api.topics.iter().map(|t| t.name.as_str()).collect();
    let first = api
        .topics
        .iter()
        .find(|t| api.subscribed_by_clients(&t.name));
    let topic = first.map_or("", |t| t.name.as_str());
    let params = first.map_or(json!({}), params_sample);
    let frame = |ty: &str, properties: Value, required: &[&str]| {
        let mut props = Map::new();
        props.insert("type".into(), json!({ "const": ty }));
        if let Value::Object(more) = properties {
            props.extend(more);
        }
        let mut req = vec!["type"];
        req.extend(required);
        json!({
            "type": "object",
            "properties": props,
            "required": req,
            "additionalProperties": false,
        })
    };
    let id =
        json!({ "type": "integer", "description": "Chosen by the client; echoed in the answer." });
    let topic_schema = json!({ "type": "string", "enum": topic_names });
    let params_schema = json!({ "type": "object", "description": "The instance's params, as the topic declares them." });
    let since = json!({
        "type": "object",
        "properties": {
            "epoch": { "type": "string" },
            "offset": { "type": "integer", "minimum": 0 },
        },
        "required": ["epoch", "offset"],
        "additionalProperties": false,
    });
    let refusals: Vec<&str> = TopicRefusal::ALL.iter().map(|(w, _)| *w).collect();
    // A client's request, server code, or a refresh re-check that failed.
    let ended = [
        "client",
        "server",
        TopicRefusal::Forbidden.word(),
        TopicRefusal::NotFound.word(),
    ];
    let mut out = vec![
        (
            SUBSCRIBE,
            component(
                SUBSCRIBE,
                "Subscribe to a topic instance, recovering from `since` when given.",
                frame(
                    SUBSCRIBE,
                    json!({ "id": id, "topic": topic_schema, "params": params_schema, "since": since }),
                    &["topic", "params"],
                ),
                json!({ "type": SUBSCRIBE, "id": 1, "topic": topic, "params": params }),
                "client_to_server",
            ),
        ),
        (
            SUBSCRIBED,
            component(
                SUBSCRIBED,
                "The subscription holds.",
                frame(
                    SUBSCRIBED,
                    json!({
                        "id": id,
                        "topic": topic_schema,
                        "params": params_schema,
                        "epoch": { "type": "string", "description": "The instance's life; another epoch means history was lost." },
                        "offset": { "type": "integer", "minimum": 0, "description": "The instance's latest publication (0 before the first)." },
                        "recovered": { "type": "boolean", "description": "Only answering a `since`: `false` when the missed publications are gone (reload)." },
                        "present": { "type": "array", "items": { "type": "string" }, "description": "Subjects subscribed, on topics with presence." },
                    }),
                    &["topic", "params", "epoch", "offset"],
                ),
                json!({ "type": SUBSCRIBED, "id": 1, "topic": topic, "params": params, "epoch": "3f2a9c", "offset": 0 }),
                "server_to_client",
            ),
        ),
        (
            UNSUBSCRIBE,
            component(
                UNSUBSCRIBE,
                "Leave a topic instance.",
                frame(
                    UNSUBSCRIBE,
                    json!({ "id": id, "topic": topic_schema, "params": params_schema }),
                    &["topic", "params"],
                ),
                json!({ "type": UNSUBSCRIBE, "id": 2, "topic": topic, "params": params }),
                "client_to_server",
            ),
        ),
        (
            UNSUBSCRIBED,
            component(
                UNSUBSCRIBED,
                "A subscription ended; without `id` when the server ended it.",
                frame(
                    UNSUBSCRIBED,
                    json!({ "id": id, "topic": topic_schema, "params": params_schema, "reason": { "type": "string", "enum": ended } }),
                    &["topic", "params", "reason"],
                ),
                json!({ "type": UNSUBSCRIBED, "id": 2, "topic": topic, "params": params, "reason": "client" }),
                "server_to_client",
            ),
        ),
        (
            REFUSED,
            component(
                REFUSED,
                "A topic request was refused; the connection stays open.",
                frame(
                    REFUSED,
                    json!({
                        "id": id,
                        "request": { "type": "string", "enum": [SUBSCRIBE, UNSUBSCRIBE, PUBLISH, PRESENCE] },
                        "topic": { "type": "string" },
                        "params": params_schema,
                        "error": { "type": "string", "enum": refusals },
                        "reason": { "type": "string", "description": "Generic text for the error; never any detail." },
                    }),
                    &["request", "topic", "error", "reason"],
                ),
                json!({ "type": REFUSED, "id": 1, "request": SUBSCRIBE, "topic": topic, "params": params, "error": "forbidden", "reason": TopicRefusal::Forbidden.reason() }),
                "server_to_client",
            ),
        ),
    ];
    if control.publish {
        out.push((
            PUBLISHED,
            component(
                PUBLISHED,
                "A client's publication was accepted.",
                frame(
                    PUBLISHED,
                    json!({ "id": id, "offset": { "type": "integer", "minimum": 1 } }),
                    &["offset"],
                ),
                json!({ "type": PUBLISHED, "id": 3, "offset": 19 }),
                "server_to_client",
            ),
        ));
    }
    if control.presence {
        out.push((
            PRESENCE,
            component(
                PRESENCE,
                "Who is subscribed: a client's query, the server's answer (`present`), or a subject that `joined` or `left`.",
                frame(
                    PRESENCE,
                    json!({
                        "id": id,
                        "topic": topic_schema,
                        "params": params_schema,
                        "present": { "type": "array", "items": { "type": "string" }, "description": "Subjects subscribed, sorted; anonymous connections are not listed." },
                        "joined": { "type": "string" },
                        "left": { "type": "string" },
                    }),
                    &["topic", "params"],
                ),
                json!({ "type": PRESENCE, "id": 4, "topic": topic, "params": params, "present": ["alice"] }),
                "both",
            ),
        ));
    }
    out.into_iter()
        .map(|(name, value)| (name.to_owned(), value))
        .collect()
}
