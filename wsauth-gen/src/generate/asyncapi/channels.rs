//! One channel per endpoint: its address and path parameters, the messages
//! that travel on it, the WebSocket handshake binding (which query
//! parameters and headers carry a token) and the endpoint's rules as
//! `x-wsauth-*` extensions.

use serde_json::{Map, Value, json};

use super::traffic::Traffic;
use super::{close_codes, put, reference, topics};
use crate::ir::{
    Access, Api, Binding, Endpoint, FailureKind, Frames, Param, ParamType, TokenSource,
};
use crate::spec::model::Keyword;
use wsauth_spec::wire::PUBLICATION;

/// The channel of `endpoint`.
pub(super) fn channel(api: &Api, endpoint: &Endpoint) -> Value {
    let mut out = Map::new();
    out.insert("address".into(), endpoint.path.clone().into());
    out.insert("description".into(), description(api, endpoint).into());
    if !endpoint.params.is_empty() {
        let parameters: Map<String, Value> = endpoint
            .params
            .iter()
            .map(|p| (p.name.clone(), parameter(api, p)))
            .collect();
        out.insert("parameters".into(), parameters.into());
    }
    let messages: Map<String, Value> = Traffic::of(api, endpoint)
        .all()
        .into_iter()
        .map(|m| {
            let target = reference(&["components", "messages", m]);
            (m.to_owned(), json!({ "$ref": target }))
        })
        .collect();
    out.insert("messages".into(), messages.into());
    out.insert("bindings".into(), json!({ "ws": ws_binding(endpoint) }));
    put(&mut out, "x-wsauth-permission", endpoint.perm.clone());
    out.insert("x-wsauth-access".into(), endpoint.access.word().into());
    if !endpoint.checks.is_empty() {
        out.insert("x-wsauth-checks".into(), endpoint.checks.clone().into());
    }
    put(&mut out, "x-wsauth-welcome", endpoint.welcome.clone());
    if let Some(heartbeat) = &endpoint.heartbeat {
        out.insert(
            "x-wsauth-heartbeat".into(),
            json!({ "ping": heartbeat.ping, "pong": heartbeat.pong }),
        );
    }
    out.insert(
        "x-wsauth-limits".into(),
        serde_json::to_value(endpoint.limits).unwrap_or(Value::Null),
    );
    if !endpoint.topics.is_empty() {
        let names: Vec<&str> = endpoint.topics.iter().map(|t| t.name.as_str()).collect();
        out.insert("x-wsauth-topics".into(), names.into());
        let by_message: Map<String, Value> = endpoint
            .topics
            .iter()
            .filter(|t| !t.client_subscribes())
            .map(|t| (t.name.clone(), t.deliver.word().into()))
            .collect();
        if !by_message.is_empty() {
            out.insert("x-wsauth-deliver".into(), by_message.into());
        }
    }
    Value::Object(out)
}

fn parameter(api: &Api, param: &Param) -> Value {
    let mut out = Map::new();
    out.insert(
        "description".into(),
        parameter_description(api, param).into(),
    );
    out.insert("x-wsauth-type".into(), param.ty.word().into());
    put(&mut out, "x-wsauth-equals", param.equals.map(Binding::word));
    Value::Object(out)
}

/// What a path parameter is, in prose.
fn parameter_description(api: &Api, param: &Param) -> String {
    let mut out = String::new();
    if let Some(text) = &param.description {
        out.push_str(text.trim_end());
        out.push(' ');
    }
    out.push_str(match param.ty {
        ParamType::String => "Any non-empty path segment.",
        ParamType::Integer => {
            "A signed 64-bit integer in canonical decimal (no sign, no leading zeros)."
        }
        ParamType::Uuid => "A UUID in canonical hyphenated lower-case form.",
    });
    if let Some(Binding::Subject) = param.equals {
        let claim = api
            .auth
            .as_ref()
            .and_then(|a| a.jwt.as_ref())
            .map_or("sub", |j| j.subject_claim.as_str());
        out.push_str(&format!(
            " Bound to the token's subject (`{claim}`): any other value closes the connection{}.",
            close_codes::note(api, FailureKind::SubjectMismatch)
        ));
    }
    out
}

fn description(api: &Api, endpoint: &Endpoint) -> String {
    let mut out = String::new();
    if let Some(text) = &endpoint.description {
        out.push_str(text.trim_end());
        out.push_str("\n\n");
    }
    let perm = endpoint
        .perm
        .as_ref()
        .map(|p| {
            format!(
                " The connection's roles must grant `{p}` ({}).",
                endpoint.roles.join(", ")
            )
        })
        .unwrap_or_default();
    let anonymous_role = api
        .auth
        .as_ref()
        .and_then(|a| a.anonymous_role.as_deref())
        .map(|r| format!(" with the role `{r}`"))
        .unwrap_or_default();
    match endpoint.access {
        Access::Required => out.push_str(&format!("Requires a valid token.{perm}")),
        Access::Optional => out.push_str(&format!(
            "A token is verified when presented; without one the connection is anonymous{anonymous_role}.{perm}"
        )),
        Access::Anonymous => out.push_str(&format!(
            "Anonymous: no token is read; connections are anonymous{anonymous_role}.{perm}"
        )),
    }
    for name in &endpoint.checks {
        let what = api
            .check(name)
            .map(|c| c.description.as_str())
            .unwrap_or_default();
        out.push_str(&format!(" Resource check `{name}`: {what}"));
    }
    if let Some(welcome) = &endpoint.welcome {
        out.push_str(&format!("\n\nThe server's first frame is `{welcome}`."));
    }
    if endpoint.frames == Frames::Raw {
        out.push_str("\n\nFrames are passed through undecoded: any text or binary frame.");
    }
    let listed = |subscribed: bool| -> Vec<String> {
        endpoint
            .topics
            .iter()
            .filter(|t| t.client_subscribes() == subscribed)
            .map(|t| format!("`{}` (channel `{}`)", t.name, topics::channel_key(&t.name)))
            .collect()
    };
    let subscribed = listed(true);
    if !subscribed.is_empty() {
        out.push_str(&format!(
            "\n\nIts connections may subscribe to the topics {}; publications arrive on the connection as `{PUBLICATION}` frames.",
            subscribed.join(", ")
        ));
    }
    let joined = listed(false);
    if !joined.is_empty() {
        out.push_str(&format!(
            "\n\nThe server joins its connections to the topics {}; their publications arrive as this channel's own messages, as if the handler had sent them (clients do not subscribe to them).",
            joined.join(", ")
        ));
    }
    if let Some(heartbeat) = &endpoint.heartbeat {
        out.push_str(&format!(
            "\n\nKeepalive: the client may send the text frame `{}`; the server answers `{}`.",
            heartbeat.ping, heartbeat.pong
        ));
    }
    out
}

/// The WebSockets channel binding: the handshake's method, and the query
/// parameters and headers that carry a token.
fn ws_binding(endpoint: &Endpoint) -> Value {
    let mut binding = Map::new();
    binding.insert("method".into(), "GET".into());
    let only = endpoint.sources.len() == 1 && endpoint.access == Access::Required;
    let mut query = Map::new();
    let mut headers = Map::new();
    for source in &endpoint.sources {
        match source {
            TokenSource::Query(name) => {
                query.insert(
                    name.clone(),
                    json!({ "type": "string", "description": "The token (JWT)." }),
                );
            }
            TokenSource::Header => {
                headers.insert(
                    "Authorization".into(),
                    json!({ "type": "string", "description": "`Bearer <token>`." }),
                );
            }
            TokenSource::Subprotocol(marker) => {
                headers.insert(
                    "Sec-WebSocket-Protocol".into(),
                    json!({ "type": "string", "description": format!("`{marker}, {marker}.bearer.<token>`; the server selects `{marker}`.") }),
                );
            }
            TokenSource::Cookie(name) => {
                headers.insert(
                    "Cookie".into(),
                    json!({ "type": "string", "description": format!("`{name}=<token>`, set by the browser; only from allowed origins.") }),
                );
            }
        }
    }
    let object = |properties: Map<String, Value>| {
        let required: Vec<Value> = if only {
            properties.keys().cloned().map(Value::from).collect()
        } else {
            Vec::new()
        };
        let mut schema = Map::new();
        schema.insert("type".into(), "object".into());
        schema.insert("properties".into(), Value::Object(properties));
        if !required.is_empty() {
            schema.insert("required".into(), required.into());
        }
        Value::Object(schema)
    };
    if !query.is_empty() {
        binding.insert("query".into(), object(query));
    }
    if !headers.is_empty() {
        binding.insert("headers".into(), object(headers));
    }
    binding.insert("bindingVersion".into(), "0.1.0".into());
    Value::Object(binding)
}
