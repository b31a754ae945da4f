//! The `x-wsauth-*` extensions: what AsyncAPI has no words for. The root
//! ones (auth, permissions, roles, close codes) are built here; the others
//! sit beside the object they extend (channels, operations, messages,
//! security schemes). [`EXTENSIONS`] explains every one of them in the
//! document's description.

use serde_json::{Map, Value, json};

use super::close_codes;
use crate::ir::{Api, TokenSource};
use crate::spec::model::Keyword;

/// The `x-wsauth-*` extensions, as the document's description explains them.
pub const EXTENSIONS: &[(&str, &str)] = &[
    (
        "x-wsauth-permission",
        "On a channel: the permission needed to connect. On an operation: the one permission checked for it (a client message's own, else the connect permission). On a message: the permission a client needs to send it.",
    ),
    (
        "x-wsauth-access",
        "On a channel: `required` (a valid token), `optional` (verified when presented) or `anonymous` (no token is read).",
    ),
    (
        "x-wsauth-checks",
        "On a channel: the named resource checks run after the permission check, in order (on a topic's channel, with the instance's params).",
    ),
    (
        "x-wsauth-welcome",
        "On a channel: the first message the server sends once the connection is admitted.",
    ),
    (
        "x-wsauth-heartbeat",
        "On a channel: a text keepalive; the client sends the raw text `ping` and the server answers the raw text `pong`.",
    ),
    (
        "x-wsauth-limits",
        "On a channel: the limits the server enforces on it.",
    ),
    (
        "x-wsauth-topics",
        "On a channel: the topics its connections may join (each a channel `topic.<name>`).",
    ),
    (
        "x-wsauth-deliver",
        "On a channel: the topics it gets as its own messages (`message`): the server joins its connections to them and each publication arrives as the message's own frame, not a `wsauth.publication`; clients do not subscribe to them.",
    ),
    (
        "x-wsauth-subscribe, x-wsauth-publish",
        "On a topic's channel: the permission needed to subscribe, and the one a client needs to publish (absent: only the server publishes).",
    ),
    (
        "x-wsauth-presence, x-wsauth-history, x-wsauth-endpoints",
        "On a topic's channel: whether subscribers see who else is subscribed; how many publications each instance keeps (`size`) and for how long (`ttl_s`, seconds); the endpoints whose connections may join it.",
    ),
    (
        "x-wsauth-type, x-wsauth-equals",
        "On a channel parameter: its type and what it must equal (`subject`: the token's subject).",
    ),
    (
        "x-wsauth-direction",
        "On a message: who sends it (`client_to_server`, `server_to_client`, `both`).",
    ),
    (
        "x-wsauth-subprotocol",
        "On a security scheme: the token travels as a `Sec-WebSocket-Protocol` entry `<marker>.bearer.<token>` offered beside `<marker>`; the server selects `<marker>` and never echoes the token.",
    ),
    (
        "x-wsauth-auth",
        "At the root: where tokens are read, how they are verified, and what happens at expiry.",
    ),
    (
        "x-wsauth-permissions",
        "At the root: every permission and what it allows.",
    ),
    (
        "x-wsauth-roles",
        "At the root: each role and the permissions it grants (`all: true` for a role granted `*`).",
    ),
    (
        "x-wsauth-close-codes",
        "At the root: the close-code catalogue, one entry per code and reason: the code's name (the same in every generated client), the failure kinds that close with it and what a client does (`refresh_token`: get a fresh token and reconnect once; `backoff`: reconnect with exponential backoff and jitter; `stop`: do not reconnect).",
    ),
];

/// The root extensions, in the order the document lists them.
pub(super) fn root(api: &Api) -> Vec<(&'static str, Value)> {
    let mut out = Vec::new();
    if let Some(auth) = auth(api) {
        out.push(("x-wsauth-auth", auth));
    }
    let permissions: Map<String, Value> = api
        .permissions
        .iter()
        .map(|p| (p.name.clone(), p.description.clone().into()))
        .collect();
    out.push(("x-wsauth-permissions", Value::Object(permissions)));
    let roles: Map<String, Value> = api
        .roles
        .iter()
        .map(|r| {
            let mut role = Map::new();
            if let Some(text) = &r.description {
                role.insert("description".into(), text.clone().into());
            }
            role.insert("all".into(), r.all.into());
            role.insert("permissions".into(), r.permissions.clone().into());
            (r.name.clone(), Value::Object(role))
        })
        .collect();
    out.push(("x-wsauth-roles", Value::Object(roles)));
    out.push(("x-wsauth-close-codes", close_codes::entries(api)));
    out
}

/// `x-wsauth-auth`, when the API reads tokens.
fn auth(api: &Api) -> Option<Value> {
    let auth = api.auth.as_ref()?;
    let mut value = Map::new();
    let sources: Vec<Value> = auth
        .sources
        .iter()
        .map(|s| match s {
            TokenSource::Header => json!({ "header": "Authorization" }),
            TokenSource::Query(n) => json!({ "query": n }),
            TokenSource::Cookie(n) => json!({ "cookie": n }),
            TokenSource::Subprotocol(n) => json!({ "subprotocol": n }),
        })
        .collect();
    value.insert("sources".into(), sources.into());
    value.insert("on_expiry".into(), auth.on_expiry.word().into());
    if let Some(jwt) = &auth.jwt {
        let algorithms: Vec<&str> = jwt
            .keys
            .iter()
            .flat_map(|k| k.algorithms.iter().map(|a| a.word()))
            .collect();
        let mut j = Map::new();
        j.insert("algorithms".into(), algorithms.into());
        if let Some(issuer) = &jwt.issuer {
            j.insert("issuer".into(), issuer.clone().into());
        }
        if !jwt.audience.is_empty() {
            j.insert("audience".into(), jwt.audience.clone().into());
        }
        j.insert("subject_claim".into(), jwt.subject_claim.clone().into());
        j.insert("roles_claim".into(), jwt.roles_claim.clone().into());
        j.insert("leeway_s".into(), jwt.leeway_s.into());
        j.insert("max_ttl_s".into(), jwt.max_ttl_s.into());
        value.insert("jwt".into(), Value::Object(j));
    }
    if let Some(introspection) = &auth.introspection {
        value.insert(
            "introspection".into(),
            json!({ "fallback": introspection.fallback.word() }),
        );
    }
    if let Some(role) = &auth.anonymous_role {
        value.insert("anonymous_role".into(), role.clone().into());
    }
    if let Some(url) = &auth.token_url {
        value.insert("token_url".into(), url.clone().into());
    }
    Some(Value::Object(value))
}
