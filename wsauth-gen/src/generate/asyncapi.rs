//! AsyncAPI 3.0 documents of an API, as YAML and as JSON.
//!
//! # Motivation
//!
//! AsyncAPI is what a platform team publishes and what tools (AsyncAPI
//! Studio, code generators, contract tests) read. The document says, in
//! AsyncAPI's words, everything the spec says about the wire: one channel per
//! endpoint (its address, parameters, handshake binding and messages), one
//! operation per message an endpoint receives or sends, every frame's JSON
//! Schema with a valid example, and how tokens travel. What AsyncAPI has no
//! words for — permissions, roles, resource checks, the close-code catalogue,
//! limits — is carried by `x-wsauth-*` extensions, listed in the document's
//! own description (see [`EXTENSIONS`]).
//!
//! # Perspective
//!
//! An AsyncAPI 3 document describes one application, here the **server**:
//! `action: receive` is a message the client sends, `action: send` one the
//! server sends. There is one operation per endpoint and message (not per
//! endpoint and direction) because that is the grain at which wsauth checks
//! permissions: each operation's `x-wsauth-permission` is the one permission
//! checked for it (a client message's own `perm`, else the endpoint's
//! connect permission).
//!
//! # Shape
//!
//! The YAML comes from the askama template `asyncapi/asyncapi.yaml`, which
//! holds the skeleton of the document; the `Document` view computes every
//! value first. Values are encoded here, not escaped by askama (the template
//! sets `escape = "none"`): a string is written plain when YAML cannot read
//! it as anything else, as a literal block when it spans lines, and as a JSON
//! string (which is also a YAML double-quoted scalar) otherwise. Schemas,
//! examples and other data go through the small block writer in `text`.
//!
//! The JSON is the YAML read back (with saphyr) and pretty-printed, so the
//! two say the same by construction, and reading the YAML back doubles as a
//! check that the template wrote well-formed YAML.

use askama::Template;
use serde_json::{Map, Value, json};

use super::GenError;
use crate::ir::{
    Access, Api, Binding, ClientAction, Direction, Endpoint, ExpiryPolicy, FailureKind, Frames,
    Message, Param, ParamType, TokenSource,
};
use crate::payload;
use crate::spec::model::Keyword;

/// Where named schemas live in the document.
const SCHEMA_REFS: &str = "#/components/schemas/";

use wsauth_spec::wire::{REFRESH, REFRESHED, RESERVED_PREFIX};
/// Any frame of a `frames: raw` endpoint.
const RAW: &str = "wsauth.raw";
/// Any open message (a JSON object of an undeclared `type`), on endpoints
/// whose spec allows them. Not a wire `type`: the document's name for them.
const OPEN: &str = "wsauth.open";

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
        "On a channel: the named resource checks run after the permission check, in order.",
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

/// The YAML document.
pub fn yaml(api: &Api) -> Result<String, GenError> {
    Document::new(api)
        .render()
        .map_err(|source| GenError::Template {
            backend: "asyncapi",
            source,
        })
}

/// The JSON document: [`yaml`] read back and pretty-printed.
pub fn json(api: &Api) -> Result<String, GenError> {
    let template_error = |e: text::InvalidYaml| GenError::Template {
        backend: "asyncapi",
        source: askama::Error::custom(e),
    };
    let value = text::read(&yaml(api)?).map_err(template_error)?;
    let mut out = serde_json::to_string_pretty(&value)
        .map_err(|e| template_error(text::InvalidYaml(e.to_string())))?;
    out.push('\n');
    Ok(out)
}

/// The view the template renders. Every `String` is an encoded value in
/// after-key form (see [`text::after_key`]), keys are encoded keys.
#[derive(Template)]
#[template(
    path = "asyncapi/asyncapi.yaml",
    escape = "none",
    whitespace = "preserve"
)]
struct Document {
    title: String,
    version: String,
    description: String,
    servers: Vec<ServerView>,
    channels: Vec<ChannelView>,
    operations: Vec<OperationView>,
    schemas: Vec<Entry>,
    messages: Vec<MessageView>,
    security_schemes: Vec<Entry>,
    /// Root `x-wsauth-*` entries.
    extensions: Vec<Entry>,
}

/// A key and its encoded value.
struct Entry {
    key: String,
    value: String,
}

impl Entry {
    /// `key` with `value` written at column `indent`.
    fn new(key: &str, value: &Value, indent: usize) -> Self {
        Entry {
            key: text::key(key),
            value: text::after_key(value, indent),
        }
    }
}

struct ServerView {
    key: String,
    host: String,
    protocol: String,
    pathname: Option<String>,
    description: Option<String>,
    security: Option<String>,
}

struct ChannelView {
    key: String,
    address: String,
    description: String,
    parameters: Vec<Entry>,
    /// Message keys with the encoded `$ref` of each.
    messages: Vec<Entry>,
    bindings: String,
    extensions: Vec<Entry>,
}

struct OperationView {
    key: String,
    action: String,
    channel: String,
    message: String,
    summary: String,
    description: Option<String>,
    security: Option<String>,
    /// The `$ref` of the reply message, if the operation has one.
    reply: Option<String>,
    permission: Option<String>,
}

struct MessageView {
    key: String,
    name: String,
    summary: Option<String>,
    description: Option<String>,
    content_type: Option<String>,
    payload: String,
    examples: String,
    extensions: Vec<Entry>,
}

/// A JSON Pointer reference token (RFC 6901).
fn pointer(name: &str) -> String {
    name.replace('~', "~0").replace('/', "~1")
}

/// An encoded `$ref` value (after-key form).
fn reference(path: &[&str]) -> String {
    let tokens: Vec<String> = path.iter().map(|p| pointer(p)).collect();
    text::after_key(&Value::from(format!("#/{}", tokens.join("/"))), 0)
}

/// An encoded string (after-key form) at column `indent`.
fn string(text: &str, indent: usize) -> String {
    text::after_key(&Value::from(text), indent)
}

/// Wraps `name` in backticks for Markdown.
fn code(name: &str) -> String {
    format!("`{name}`")
}

/// Every message of one endpoint with the direction it travels there.
struct Traffic<'a> {
    /// Messages the client sends (the server receives), in spec order.
    receives: Vec<&'a str>,
    /// Messages the server sends, the welcome first.
    sends: Vec<&'a str>,
    /// Whether in-band refresh applies.
    refresh: bool,
}

impl<'a> Traffic<'a> {
    fn of(api: &Api, endpoint: &'a Endpoint) -> Self {
        let refresh = endpoint.frames == Frames::Json
            && endpoint.access != Access::Anonymous
            && api
                .auth
                .as_ref()
                .is_some_and(|a| a.on_expiry == ExpiryPolicy::Refresh);
        let mut receives: Vec<&str> = endpoint.receives.iter().map(String::as_str).collect();
        let mut sends: Vec<&str> = endpoint.sends.iter().map(String::as_str).collect();
        if endpoint.frames == Frames::Raw {
            receives.push(RAW);
            sends.push(RAW);
        }
        if let Some(open) = &endpoint.open {
            if open.receives {
                receives.push(OPEN);
            }
            if open.sends {
                sends.push(OPEN);
            }
        }
        if refresh {
            receives.push(REFRESH);
            sends.push(REFRESHED);
        }
        Traffic {
            receives,
            sends,
            refresh,
        }
    }

    /// Every message once: what the client sends, then what the server
    /// sends, the spec's messages before wsauth's own.
    fn all(&self) -> Vec<&'a str> {
        let mut all: Vec<&str> = Vec::new();
        for name in self.receives.iter().chain(&self.sends) {
            if !all.contains(name) {
                all.push(name);
            }
        }
        all.sort_by_key(|name| name.starts_with(RESERVED_PREFIX));
        all
    }
}

impl Document {
    fn new(api: &Api) -> Self {
        let framework = FrameworkMessages::of(api);
        Document {
            title: string(&api.title, 2),
            version: string(&api.version, 2),
            description: string(&info_description(api), 2),
            servers: api.servers.iter().map(|s| server(api, s)).collect(),
            channels: api.endpoints.iter().map(|e| channel(api, e)).collect(),
            operations: api
                .endpoints
                .iter()
                .flat_map(|e| operations(api, e))
                .collect(),
            schemas: api
                .schemas
                .iter()
                .map(|s| Entry::new(&s.name, &payload::json_schema(&s.schema, SCHEMA_REFS), 4))
                .collect(),
            messages: api
                .messages
                .iter()
                .map(|m| spec_message(api, m))
                .chain(framework.views())
                .collect(),
            security_schemes: security_schemes(api),
            extensions: root_extensions(api),
        }
    }
}

/// `ws://host:port/path` split into AsyncAPI's protocol, host and pathname.
fn split_url(url: &str) -> (&str, &str, Option<&str>) {
    let (protocol, rest) = url.split_once("://").unwrap_or(("ws", url));
    let rest = rest.split(['?', '#']).next().unwrap_or(rest);
    match rest.find('/') {
        Some(at) if rest.len() > at + 1 => (protocol, &rest[..at], Some(&rest[at..])),
        Some(at) => (protocol, &rest[..at], None),
        None => (protocol, rest, None),
    }
}

fn server(api: &Api, server: &crate::ir::Server) -> ServerView {
    let (protocol, host, pathname) = split_url(&server.url);
    // Server security applies to every channel, so it is declared here only
    // when every endpoint requires a token; otherwise operations carry it.
    let all_required = api.endpoints.iter().all(|e| e.access == Access::Required);
    let security = match &api.auth {
        Some(auth) if all_required => Some(security_refs(&auth.sources, 4)),
        _ => None,
    };
    let mut description = server.description.clone().unwrap_or_default();
    if security.is_none() && api.auth.is_some() {
        if !description.is_empty() {
            description.push_str("\n\n");
        }
        description
            .push_str("Not every endpoint takes a token, so security is declared per operation.");
    }
    ServerView {
        key: text::key(&server.name),
        host: string(host, 4),
        protocol: string(protocol, 4),
        pathname: pathname.map(|p| string(p, 4)),
        description: (!description.is_empty()).then(|| string(&description, 4)),
        security,
    }
}

/// The key of the security scheme for one token source.
fn scheme_key(source: &TokenSource) -> &'static str {
    match source {
        TokenSource::Header => "httpBearer",
        TokenSource::Query(_) => "queryToken",
        TokenSource::Cookie(_) => "cookieToken",
        TokenSource::Subprotocol(_) => "subprotocolToken",
    }
}

/// A `security` list referring to the schemes of `sources`.
fn security_refs(sources: &[TokenSource], indent: usize) -> String {
    let refs: Vec<Value> = sources
        .iter()
        .map(|s| json!({ "$ref": format!("#/components/securitySchemes/{}", scheme_key(s)) }))
        .collect();
    text::after_key(&Value::Array(refs), indent)
}

/// How a token source reads in prose.
fn source_prose(source: &TokenSource) -> String {
    match source {
        TokenSource::Header => "the `Authorization: Bearer <token>` header".into(),
        TokenSource::Query(name) => format!("the query parameter `{name}`"),
        TokenSource::Cookie(name) => format!("the cookie `{name}`"),
        TokenSource::Subprotocol(marker) => {
            format!("the subprotocol entry `{marker}.bearer.<token>` (offered beside `{marker}`)")
        }
    }
}

fn security_schemes(api: &Api) -> Vec<Entry> {
    let Some(auth) = &api.auth else {
        return Vec::new();
    };
    let jwt = auth.jwt.is_some();
    auth.sources
        .iter()
        .map(|source| {
            let scheme = match source {
                TokenSource::Header => {
                    let mut scheme = json!({
                        "type": "http",
                        "scheme": "bearer",
                        "description": "`Authorization: Bearer <token>` on the upgrade request, for clients that can set headers (not browsers).",
                    });
                    if jwt {
                        scheme["bearerFormat"] = "JWT".into();
                    }
                    scheme
                }
                TokenSource::Query(name) => json!({
                    "type": "httpApiKey",
                    "name": name,
                    "in": "query",
                    "description": format!("`?{name}=<token>` on the WebSocket URL. Query strings end up in logs: prefer another source where the client can."),
                }),
                TokenSource::Cookie(name) => json!({
                    "type": "httpApiKey",
                    "name": name,
                    "in": "cookie",
                    "description": format!("The cookie `{name}`, sent by the browser. Accepted only from allowed origins."),
                }),
                TokenSource::Subprotocol(marker) => json!({
                    "type": "httpApiKey",
                    "name": "Sec-WebSocket-Protocol",
                    "in": "header",
                    "description": format!(
                        "The client offers two subprotocols, `{marker}` and `{marker}.bearer.<token>`; the server selects `{marker}` and never echoes the token. AsyncAPI has no scheme for a token in a subprotocol, so it is described as an API key in the `Sec-WebSocket-Protocol` header, with the marker in `x-wsauth-subprotocol`."
                    ),
                    "x-wsauth-subprotocol": {
                        "marker": marker,
                        "offer": [marker, format!("{marker}.bearer.<token>")],
                        "selected": marker,
                    },
                }),
            };
            Entry::new(scheme_key(source), &scheme, 4)
        })
        .collect()
}

fn info_description(api: &Api) -> String {
    let mut out = String::new();
    if let Some(text) = &api.description {
        out.push_str(text.trim_end());
        out.push_str("\n\n");
    }
    if let Some(auth) = &api.auth {
        out.push_str("## Authentication\n\n");
        if let Some(text) = &auth.description {
            out.push_str(text.trim_end());
            out.push_str("\n\n");
        }
        let sources: Vec<String> = auth.sources.iter().map(source_prose).collect();
        out.push_str(&format!(
            "The server reads a token from, in order: {}. An endpoint may accept fewer (see each operation's `security`).\n",
            sources.join("; ")
        ));
        if let Some(jwt) = &auth.jwt {
            let algorithms: Vec<&str> = jwt
                .keys
                .iter()
                .flat_map(|k| k.algorithms.iter().map(|a| a.word()))
                .collect();
            let mut claims = vec![format!("algorithms {}", algorithms.join(", "))];
            if let Some(issuer) = &jwt.issuer {
                claims.push(format!("issuer `{issuer}`"));
            }
            if !jwt.audience.is_empty() {
                let audience: Vec<String> = jwt.audience.iter().map(|a| code(a)).collect();
                claims.push(format!("audience {}", audience.join(" or ")));
            }
            claims.push(format!("subject claim `{}`", jwt.subject_claim));
            claims.push(format!("roles claim `{}`", jwt.roles_claim));
            claims.push(format!("leeway {} s", jwt.leeway_s));
            claims.push(format!("lifetime at most {} s", jwt.max_ttl_s));
            out.push_str(&format!("Tokens are JWTs: {}.\n", claims.join(", ")));
        }
        if auth.introspection.is_some() {
            out.push_str(
                "Tokens are checked by a token-introspection service configured on the server.\n",
            );
        }
        match auth.on_expiry {
            ExpiryPolicy::Refresh => {
                out.push_str(&format!(
                    "Before `exp`, a client sends `{{\"type\": \"{REFRESH}\", \"token\": \"<fresh token>\"}}` and the server answers `{{\"type\": \"{REFRESHED}\", \"exp\": <unix seconds>}}`; without a refresh the server closes at `exp`{}.\n",
                    close_note(api, FailureKind::TokenExpired)
                ));
                let raw: Vec<String> = api
                    .endpoints
                    .iter()
                    .filter(|e| e.frames == Frames::Raw && e.access != Access::Anonymous)
                    .map(|e| format!("`{}`", e.name))
                    .collect();
                if !raw.is_empty() {
                    out.push_str(&format!(
                        "Endpoints with raw frames ({}) carry no refresh: their frames are the application's, and their connections close at `exp`.\n",
                        raw.join(", ")
                    ));
                }
            }
            ExpiryPolicy::Close => out.push_str(&format!(
                "At `exp` the server closes the connection{}.\n",
                close_note(api, FailureKind::TokenExpired)
            )),
        }
        if let Some(role) = &auth.anonymous_role {
            out.push_str(&format!(
                "Connections without a token get the role `{role}`.\n"
            ));
        }
        if let Some(url) = &auth.token_url {
            out.push_str(&format!("Tokens are issued at `{url}`.\n"));
        }
        out.push('\n');
    }
    if let Some(stats) = &api.stats {
        out.push_str(&format!(
            "Connection statistics: `GET {}` with a token granting `{}`.\n\n",
            stats.path, stats.perm
        ));
    }
    out.push_str(
        "## Close codes\n\n| code | reason | client | failure kinds |\n|---|---|---|---|\n",
    );
    for group in close_groups(api) {
        let kinds: Vec<String> = group.kinds.iter().map(|k| code(k.word())).collect();
        out.push_str(&format!(
            "| {} | {} | {} | {} |\n",
            group.code,
            group.reason.replace('|', "\\|"),
            group.client.word(),
            kinds.join(", ")
        ));
    }
    out.push_str("\n## wsauth extensions\n\n");
    for (name, text) in EXTENSIONS {
        let names: Vec<String> = name.split(", ").map(code).collect();
        out.push_str(&format!("- {}: {text}\n", names.join(", ")));
    }
    out
}

/// ` with 4001 (`token_expired`)`, or nothing for a kind without a code.
fn close_note(api: &Api, kind: FailureKind) -> String {
    api.close_code(kind)
        .map(|c| format!(" with {} (`{}`)", c.code, kind.word()))
        .unwrap_or_default()
}

/// One row of the close-code tables: a catalogue entry's code and name
/// with one of its reasons; rows in the order of their first kind.
struct CloseGroup<'a> {
    code: u16,
    name: &'a str,
    reason: &'a str,
    client: ClientAction,
    kinds: &'a [FailureKind],
    descriptions: Vec<(FailureKind, &'a str)>,
}

fn close_groups(api: &Api) -> Vec<CloseGroup<'_>> {
    let mut rows: Vec<CloseGroup<'_>> = api
        .close_catalogue
        .iter()
        .flat_map(|group| {
            group.reasons.iter().map(move |reason| CloseGroup {
                code: group.code,
                name: &group.name,
                reason: &reason.text,
                client: group.client,
                kinds: &reason.kinds,
                descriptions: reason
                    .kinds
                    .iter()
                    .filter_map(|&kind| {
                        let text = api.close_code(kind)?.description.as_deref()?;
                        Some((kind, text))
                    })
                    .collect(),
            })
        })
        .collect();
    let declared = |kind: Option<&FailureKind>| {
        kind.and_then(|k| api.close_codes.iter().position(|c| c.kind == *k))
    };
    rows.sort_by_key(|row| declared(row.kinds.first()));
    rows
}

fn root_extensions(api: &Api) -> Vec<Entry> {
    let mut out = Vec::new();
    if let Some(auth) = &api.auth {
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
        out.push(Entry::new("x-wsauth-auth", &Value::Object(value), 0));
    }
    let permissions: Map<String, Value> = api
        .permissions
        .iter()
        .map(|p| (p.name.clone(), p.description.clone().into()))
        .collect();
    out.push(Entry::new(
        "x-wsauth-permissions",
        &Value::Object(permissions),
        0,
    ));
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
    out.push(Entry::new("x-wsauth-roles", &Value::Object(roles), 0));
    let codes: Vec<Value> = close_groups(api)
        .iter()
        .map(|g| {
            let mut entry = Map::new();
            entry.insert("code".into(), g.code.into());
            entry.insert("name".into(), g.name.into());
            entry.insert("reason".into(), g.reason.into());
            entry.insert("client".into(), g.client.word().into());
            let kinds: Vec<&str> = g.kinds.iter().map(|k| k.word()).collect();
            entry.insert("kinds".into(), kinds.into());
            let description = match g.descriptions.as_slice() {
                [] => None,
                [(_, text)] if g.kinds.len() == 1 => Some((*text).to_owned()),
                many => Some(
                    many.iter()
                        .map(|(k, text)| format!("`{}`: {}", k.word(), text))
                        .collect::<Vec<_>>()
                        .join(" "),
                ),
            };
            if let Some(text) = description {
                entry.insert("description".into(), text.into());
            }
            Value::Object(entry)
        })
        .collect();
    out.push(Entry::new("x-wsauth-close-codes", &Value::from(codes), 0));
    out
}

/// What a path parameter is, in prose.
fn param_description(api: &Api, param: &Param) -> String {
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
            close_note(api, FailureKind::SubjectMismatch)
        ));
    }
    out
}

fn channel_description(api: &Api, endpoint: &Endpoint) -> String {
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
    if let Some(heartbeat) = &endpoint.heartbeat {
        out.push_str(&format!(
            "\n\nKeepalive: the client may send the text frame `{}`; the server answers `{}`.",
            heartbeat.ping, heartbeat.pong
        ));
    }
    out
}

fn channel(api: &Api, endpoint: &Endpoint) -> ChannelView {
    let traffic = Traffic::of(api, endpoint);
    let parameters = endpoint
        .params
        .iter()
        .map(|p| {
            let mut value = Map::new();
            value.insert("description".into(), param_description(api, p).into());
            value.insert("x-wsauth-type".into(), p.ty.word().into());
            if let Some(binding) = p.equals {
                value.insert("x-wsauth-equals".into(), binding.word().into());
            }
            Entry::new(&p.name, &Value::Object(value), 6)
        })
        .collect();
    let messages = traffic
        .all()
        .into_iter()
        .map(|m| Entry {
            key: text::key(m),
            value: reference(&["components", "messages", m]),
        })
        .collect();
    let mut extensions = Vec::new();
    let mut extension = |key: &str, value: Value| extensions.push(Entry::new(key, &value, 4));
    if let Some(perm) = &endpoint.perm {
        extension("x-wsauth-permission", perm.clone().into());
    }
    extension("x-wsauth-access", endpoint.access.word().into());
    if !endpoint.checks.is_empty() {
        extension("x-wsauth-checks", endpoint.checks.clone().into());
    }
    if let Some(welcome) = &endpoint.welcome {
        extension("x-wsauth-welcome", welcome.clone().into());
    }
    if let Some(heartbeat) = &endpoint.heartbeat {
        extension(
            "x-wsauth-heartbeat",
            json!({ "ping": heartbeat.ping, "pong": heartbeat.pong }),
        );
    }
    extension(
        "x-wsauth-limits",
        serde_json::to_value(endpoint.limits).unwrap_or(Value::Null),
    );
    ChannelView {
        key: text::key(&endpoint.name),
        address: string(&endpoint.path, 4),
        description: string(&channel_description(api, endpoint), 4),
        parameters,
        messages,
        bindings: text::after_key(&json!({ "ws": ws_binding(endpoint) }), 4),
        extensions,
    }
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

fn operations(api: &Api, endpoint: &Endpoint) -> Vec<OperationView> {
    let traffic = Traffic::of(api, endpoint);
    let security = (endpoint.access != Access::Anonymous && !endpoint.sources.is_empty())
        .then(|| security_refs(&endpoint.sources, 4));
    let connect_perm = endpoint.perm.as_deref();
    let open_perm = endpoint.open.as_ref().and_then(|o| o.perm.as_deref());
    let refusal = if endpoint.sends.iter().any(|s| s == "error") {
        "answered with `error`; the connection stays open".to_owned()
    } else {
        "the connection closes".to_owned()
    };
    let op = |action: &str, message: &str| OperationView {
        key: text::key(&format!("{}.{action}.{message}", endpoint.name)),
        action: string(action, 4),
        channel: reference(&["channels", &endpoint.name]),
        message: reference(&["channels", &endpoint.name, "messages", message]),
        summary: String::new(),
        description: None,
        security: security.clone(),
        reply: None,
        permission: None,
    };
    let mut receives = Vec::new();
    for &name in &traffic.receives {
        let mut view = op("receive", name);
        let perm = api.message(name).and_then(|m| m.perm.as_deref());
        let (summary, description) = if name == REFRESH {
            view.reply = Some(reference(&[
                "channels",
                &endpoint.name,
                "messages",
                REFRESHED,
            ]));
            (
                "The client refreshes its token in-band.".to_owned(),
                Some(format!(
                    "The new token must have the same subject and still grant the connect permission; the server answers `{REFRESHED}`, or closes the connection."
                )),
            )
        } else if name == RAW {
            ("The client sends any frame.".to_owned(), None)
        } else if name == OPEN {
            let checked = open_perm.map_or(String::new(), |p| {
                format!(" A connection whose roles do not grant `{p}` is refused: {refusal}.")
            });
            (
                "The client sends an open message: a JSON object whose `type` the spec does not declare.".to_owned(),
                Some(format!(
                    "Any fields; size and rate limits apply as to every message. A declared `type` with the wrong fields is invalid, never an open message.{checked}"
                )),
            )
        } else {
            let checked = match perm {
                Some(p) => {
                    format!(" A connection whose roles do not grant `{p}` is refused: {refusal}.")
                }
                None => String::new(),
            };
            (
                format!("The client sends `{name}`."),
                (!checked.is_empty()).then(|| checked.trim_start().to_owned()),
            )
        };
        view.summary = string(&summary, 4);
        view.description = description.map(|d| string(&d, 4));
        view.permission = match name {
            REFRESH => None,
            OPEN => open_perm.or(connect_perm).map(|p| string(p, 4)),
            _ => perm.or(connect_perm).map(|p| string(p, 4)),
        };
        receives.push((name, view));
    }
    let mut sends = Vec::new();
    for &name in &traffic.sends {
        if traffic.refresh && name == REFRESHED {
            // The reply of the refresh operation.
            continue;
        }
        let mut view = op("send", name);
        let summary = if endpoint.welcome.as_deref() == Some(name) {
            format!("The server sends `{name}` first, once the connection is admitted.")
        } else if name == RAW {
            "The server sends any frame.".to_owned()
        } else if name == OPEN {
            "The server sends open messages: JSON objects whose `type` the spec does not declare."
                .to_owned()
        } else {
            format!("The server sends `{name}`.")
        };
        view.summary = string(&summary, 4);
        view.permission = connect_perm.map(|p| string(p, 4));
        sends.push((name, view));
    }
    // The spec's messages first, wsauth's own (refresh, raw frames) last.
    let (framework, spec): (Vec<_>, Vec<_>) = receives
        .into_iter()
        .chain(sends)
        .partition(|(name, _)| name.starts_with(RESERVED_PREFIX));
    spec.into_iter()
        .chain(framework)
        .map(|(_, view)| view)
        .collect()
}

/// The first sentence of a description, for a one-line summary.
fn first_sentence(text: &str) -> String {
    let line = text.trim().replace('\n', " ");
    match line.find(". ") {
        Some(at) => line[..=at].to_owned(),
        None => line,
    }
}

fn spec_message(api: &Api, message: &Message) -> MessageView {
    let sample = payload::sample_frame(api, message);
    let example = if message.example.is_some() {
        json!([{ "name": "example", "summary": "The spec's example.", "payload": sample }])
    } else {
        json!([{ "name": "sample", "summary": "Made up from the schema.", "payload": sample }])
    };
    let mut extensions = Vec::new();
    if let Some(perm) = &message.perm {
        extensions.push(Entry::new("x-wsauth-permission", &perm.clone().into(), 6));
    }
    let direction = match message.direction {
        Direction::ClientToServer => "client_to_server",
        Direction::ServerToClient => "server_to_client",
        Direction::Both => "both",
        Direction::Unused => "unused",
    };
    extensions.push(Entry::new("x-wsauth-direction", &direction.into(), 6));
    let description = message.description.as_deref();
    MessageView {
        key: text::key(&message.name),
        name: string(&message.name, 6),
        summary: description.map(|d| string(&first_sentence(d), 6)),
        description: description
            .filter(|d| first_sentence(d) != d.trim())
            .map(|d| string(d, 6)),
        content_type: None,
        payload: text::after_key(&payload::frame_schema(api, message, SCHEMA_REFS), 6),
        examples: text::after_key(&example, 6),
        extensions,
    }
}

/// The messages wsauth itself defines, for the endpoints that use them.
struct FrameworkMessages {
    refresh: bool,
    raw: bool,
    /// The direction of open messages over every endpoint, when any has them.
    open: Option<&'static str>,
    /// The spec's message types, which open messages never use.
    declared: Vec<String>,
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

impl FrameworkMessages {
    fn of(api: &Api) -> Self {
        let traffic: Vec<Traffic<'_>> = api.endpoints.iter().map(|e| Traffic::of(api, e)).collect();
        FrameworkMessages {
            refresh: traffic.iter().any(|t| t.refresh),
            raw: api.endpoints.iter().any(|e| e.frames == Frames::Raw),
            open: open_direction(api),
            declared: api.messages.iter().map(|m| m.name.clone()).collect(),
        }
    }

    fn views(&self) -> Vec<MessageView> {
        let mut out = Vec::new();
        let view = |name: &str, summary: &str, payload: Value, example: Value, direction: &str| {
            MessageView {
                key: text::key(name),
                name: string(name, 6),
                summary: Some(string(summary, 6)),
                description: None,
                content_type: None,
                payload: text::after_key(&payload, 6),
                examples: text::after_key(
                    &json!([{ "name": "sample", "summary": "A valid frame.", "payload": example }]),
                    6,
                ),
                extensions: vec![Entry::new("x-wsauth-direction", &direction.into(), 6)],
            }
        };
        if self.refresh {
            out.push(view(
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
            out.push(view(
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
        if self.raw {
            let mut raw = view(
                RAW,
                "Any text or binary frame, passed through undecoded.",
                json!({ "description": "Any text or binary frame." }),
                Value::from("hello"),
                "both",
            );
            raw.content_type = Some(string("application/octet-stream", 6));
            out.push(raw);
        }
        if let Some(direction) = self.open {
            out.push(view(
                OPEN,
                "An open message: any JSON object whose `type` the spec does not declare (nor `wsauth.`), with any fields.",
                json!({
                    "type": "object",
                    "properties": {
                        "type": {
                            "type": "string",
                            "description": "Any type but the spec's messages and the framework's `wsauth.` ones.",
                            "not": { "anyOf": [
                                { "enum": self.declared },
                                { "pattern": "^wsauth\\." },
                            ] },
                        },
                    },
                    "required": ["type"],
                }),
                json!({ "type": "test", "payload": { "message": "Hello" } }),
                direction,
            ));
        }
        out
    }
}

/// A small, deterministic YAML writer for JSON values, and the reader that
/// turns YAML back into JSON.
///
/// Values are written in block style, in the order of the JSON maps
/// (serde_json keeps insertion order here). Scalars are written so that
/// YAML 1.2 (saphyr, js-yaml) and YAML 1.1 readers agree on them: a string
/// is plain only when it is ASCII, starts with a letter, `_` or `$`, holds
/// no indicator that could end or change it (`:`, `#`, quotes, brackets...)
/// and is not a word like `true`, `null` or `yes`; multi-line text becomes a
/// literal block; everything else is a JSON string, which YAML reads as a
/// double-quoted scalar.
mod text {
    use saphyr::{LoadableYamlNode, Scalar, Yaml};
    use serde_json::{Map, Value};

    /// Short lists of scalars up to this width are written inline.
    const FLOW_WIDTH: usize = 72;

    /// `value` as written after `key:` whose key starts at column `indent`:
    /// a space and an inline value, or a line break and a block indented
    /// two columns deeper, without a final line break.
    pub(super) fn after_key(value: &Value, indent: usize) -> String {
        match value {
            Value::Object(map) if !map.is_empty() => format!("\n{}", mapping(map, indent + 2)),
            Value::Array(items) if !items.is_empty() => match flow(items) {
                Some(text) => format!(" {text}"),
                None => format!("\n{}", sequence(items, indent + 2)),
            },
            Value::String(s) => match literal(s, indent + 2) {
                Some(block) => format!(" {block}"),
                None => format!(" {}", scalar(s)),
            },
            other => format!(" {}", inline(other)),
        }
    }

    /// A mapping key.
    pub(super) fn key(name: &str) -> String {
        scalar(name)
    }

    fn mapping(map: &Map<String, Value>, indent: usize) -> String {
        let pad = " ".repeat(indent);
        map.iter()
            .map(|(k, v)| format!("{pad}{}:{}", key(k), after_key(v, indent)))
            .collect::<Vec<_>>()
            .join("\n")
    }

    fn sequence(items: &[Value], indent: usize) -> String {
        let pad = " ".repeat(indent);
        items
            .iter()
            .map(|item| match item {
                Value::Object(map) if !map.is_empty() => dash(&mapping(map, indent + 2), indent),
                Value::Array(inner) if !inner.is_empty() && flow(inner).is_none() => {
                    dash(&sequence(inner, indent + 2), indent)
                }
                other => format!("{pad}-{}", after_key(other, indent)),
            })
            .collect::<Vec<_>>()
            .join("\n")
    }

    /// A block written at `indent + 2` as a sequence item at `indent`: its
    /// first line's indentation becomes `- `.
    fn dash(block: &str, indent: usize) -> String {
        format!("{}- {}", " ".repeat(indent), &block[indent + 2..])
    }

    /// `[a, b]` when every item is a scalar and the line stays short.
    fn flow(items: &[Value]) -> Option<String> {
        let mut parts = Vec::with_capacity(items.len());
        for item in items {
            let part = match item {
                Value::String(s) if plain(s) && !s.contains([',', '[', ']', '{', '}']) => s.clone(),
                Value::String(s) => quoted(s),
                Value::Object(_) | Value::Array(_) => return None,
                other => inline(other),
            };
            parts.push(part);
        }
        let text = format!("[{}]", parts.join(", "));
        (text.len() <= FLOW_WIDTH).then_some(text)
    }

    /// A scalar or empty collection on one line.
    fn inline(value: &Value) -> String {
        match value {
            Value::Null => "null".into(),
            Value::Bool(b) => b.to_string(),
            Value::Number(n) => n.to_string(),
            Value::String(s) => scalar(s),
            Value::Array(_) => "[]".into(),
            Value::Object(_) => "{}".into(),
        }
    }

    /// A one-line string: plain when safe, else a JSON string.
    fn scalar(s: &str) -> String {
        if plain(s) { s.to_owned() } else { quoted(s) }
    }

    fn quoted(s: &str) -> String {
        Value::from(s).to_string()
    }

    /// Whether `s` reads back as the same string when written plain.
    fn plain(s: &str) -> bool {
        const WORDS: &[&str] = &["true", "false", "yes", "no", "on", "off", "y", "n", "null"];
        let Some(first) = s.chars().next() else {
            return false;
        };
        (first.is_ascii_alphabetic() || first == '_' || first == '$')
            && !s.ends_with(' ')
            && !s.contains("  ")
            && s.chars()
                .all(|c| c.is_ascii_alphanumeric() || " _.-/()',`;?!+=<>*%@&$".contains(c))
            && !WORDS.contains(&s.to_ascii_lowercase().as_str())
    }

    /// `|` or `|-` and the lines of `s` at column `indent`, when `s` spans
    /// lines and a literal block keeps it exactly.
    fn literal(s: &str, indent: usize) -> Option<String> {
        let (body, chomp) = match s.strip_suffix('\n') {
            Some(body) => (body, "|"),
            None => (s, "|-"),
        };
        let fits = body.contains('\n')
            && !body.starts_with([' ', '\n'])
            && !body.ends_with('\n')
            && !body.chars().any(|c| c.is_control() && c != '\n')
            && body.lines().all(|l| !l.ends_with([' ', '\t']));
        if !fits {
            return None;
        }
        let pad = " ".repeat(indent);
        let lines: Vec<String> = body
            .split('\n')
            .map(|l| {
                if l.is_empty() {
                    String::new()
                } else {
                    format!("{pad}{l}")
                }
            })
            .collect();
        Some(format!("{chomp}\n{}", lines.join("\n")))
    }

    /// The template wrote YAML that does not read back as JSON data: a bug
    /// in the template or in this writer.
    #[derive(Debug, thiserror::Error)]
    #[error("the generated AsyncAPI YAML does not read back as JSON: {0}")]
    pub(super) struct InvalidYaml(pub(super) String);

    /// The one document in `yaml`, as JSON.
    pub(super) fn read(yaml: &str) -> Result<Value, InvalidYaml> {
        let docs = Yaml::load_from_str(yaml).map_err(|e| InvalidYaml(e.to_string()))?;
        match docs.as_slice() {
            [doc] => to_json(doc),
            _ => Err(InvalidYaml(format!("{} documents", docs.len()))),
        }
    }

    fn to_json(node: &Yaml<'_>) -> Result<Value, InvalidYaml> {
        Ok(match node {
            Yaml::Value(Scalar::Null) => Value::Null,
            Yaml::Value(Scalar::Boolean(b)) => Value::Bool(*b),
            Yaml::Value(Scalar::Integer(i)) => Value::from(*i),
            Yaml::Value(Scalar::FloatingPoint(f)) => serde_json::Number::from_f64(f.into_inner())
                .map(Value::Number)
                .ok_or_else(|| InvalidYaml(format!("the number {f} is not JSON")))?,
            Yaml::Value(Scalar::String(s)) => Value::String(s.to_string()),
            Yaml::Sequence(items) => {
                Value::Array(items.iter().map(to_json).collect::<Result<_, _>>()?)
            }
            Yaml::Mapping(map) => {
                let mut out = Map::new();
                for (k, v) in map {
                    let Yaml::Value(Scalar::String(k)) = k else {
                        return Err(InvalidYaml(format!("a key that is not a string: {k:?}")));
                    };
                    out.insert(k.to_string(), to_json(v)?);
                }
                Value::Object(out)
            }
            other => return Err(InvalidYaml(format!("an unexpected node: {other:?}"))),
        })
    }

    #[cfg(test)]
    mod tests {
        use super::*;
        use serde_json::json;

        /// Every tricky value reads back as itself, at any depth.
        #[test]
        fn values_read_back_unchanged() {
            let strings = [
                "plain words",
                "true",
                "No",
                "null",
                "~",
                "1.0",
                "1.0.0",
                "0x1F",
                "-5",
                "#/components/schemas/Problem",
                "a: b",
                "a #b",
                "*",
                "&anchor",
                "!tag",
                "@at",
                "`code`",
                "'single'",
                "\"double\"",
                "back\\slash",
                "trailing ",
                " leading",
                "",
                "tab\there",
                "two\nlines",
                "ends with newline\n",
                "two\n\nparagraphs\n",
                "many newlines\n\n",
                "  indented\nfirst",
                "trailing space \nline",
                "{braces}",
                "[brackets]",
                "a, b",
                "é unicode ✓",
                "$ref",
                "x-wsauth-permission",
                "conversation.read",
            ];
            let value = json!({
                "strings": strings.to_vec(),
                "map": strings.iter().map(|s| ((*s).to_owned(), Value::from(*s))).collect::<Map<_, _>>(),
                "numbers": [0, -1, 1.5, 65536, 1e300, 0.1],
                "flags": [true, false, null],
                "empty": { "map": {}, "list": [] },
                "nested": [[1, 2], [{ "a": [{ "b": "c" }] }], { "x": { "y": ["z\nw", "v"] } }],
                "long": (0..30).map(|i| format!("item{i}")).collect::<Vec<_>>(),
            });
            let text = format!("root:{}\n", after_key(&value, 0));
            let back = read(&text).unwrap_or_else(|e| panic!("{e}\n{text}"));
            assert_eq!(back, json!({ "root": value }), "\n{text}");
        }

        #[test]
        fn plain_only_where_unambiguous() {
            assert_eq!(scalar("conversation.read"), "conversation.read");
            assert_eq!(scalar("true"), "\"true\"");
            assert_eq!(scalar("1.0.0"), "\"1.0.0\"");
            assert_eq!(scalar("#/x"), "\"#/x\"");
            assert_eq!(key("$ref"), "$ref");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::PathBuf;

    fn spec(name: &str) -> Api {
        let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
            .join("../specs")
            .join(format!("{name}.yaml"));
        crate::load(&path).unwrap_or_else(|e| panic!("{}: {e:?}", path.display()))
    }

    const SPECS: &[&str] = &[
        "echo",
        "mcp-status",
        "prsm",
        "reflections",
        "shipvox",
        "songnodes",
    ];

    #[test]
    fn raw_endpoints_are_documented_as_carrying_no_refresh() {
        let mut api = spec("echo");
        api.auth
            .as_mut()
            .unwrap_or_else(|| panic!("echo has auth"))
            .on_expiry = ExpiryPolicy::Refresh;
        let doc = yaml(&api).unwrap_or_else(|e| panic!("{e}"));
        // echo's raw endpoint is anonymous: nothing to say about it.
        assert!(!doc.contains("carry no refresh"), "{doc}");
        for endpoint in &mut api.endpoints {
            endpoint.access = Access::Required;
        }
        let doc = yaml(&api).unwrap_or_else(|e| panic!("{e}"));
        assert!(
            doc.contains("Endpoints with raw frames (`raw`) carry no refresh"),
            "{doc}"
        );
    }

    #[test]
    fn output_is_deterministic() {
        for name in SPECS {
            let api = spec(name);
            let (a, b) = (yaml(&api), yaml(&api));
            assert_eq!(a.ok(), b.ok(), "{name}");
            assert_eq!(json(&api).ok(), json(&spec(name)).ok(), "{name}");
        }
    }

    #[test]
    fn yaml_and_json_say_the_same() {
        for name in SPECS {
            let api = spec(name);
            let yaml = yaml(&api).unwrap_or_else(|e| panic!("{name}: {e}"));
            let json = json(&api).unwrap_or_else(|e| panic!("{name}: {e}"));
            let from_yaml = text::read(&yaml).unwrap_or_else(|e| panic!("{name}: {e}"));
            let from_json: Value =
                serde_json::from_str(&json).unwrap_or_else(|e| panic!("{name}: {e}"));
            assert_eq!(from_yaml, from_json, "{name}");
            // Pretty JSON in the same key order, not merely equal values.
            let again = serde_json::to_string_pretty(&from_yaml).unwrap_or_default() + "\n";
            assert_eq!(again, json, "{name}");
        }
    }

    #[test]
    fn prsm_describes_the_server() {
        let api = spec("prsm");
        let doc: Value = serde_json::from_str(&json(&api).unwrap_or_default()).unwrap_or_default();
        assert_eq!(doc["asyncapi"], "3.0.0");
        let post = &doc["operations"]["conversation.receive.send_message"];
        assert_eq!(post["action"], "receive");
        assert_eq!(post["x-wsauth-permission"], "conversation.write");
        assert_eq!(
            post["messages"][0]["$ref"],
            "#/channels/conversation/messages/send_message"
        );
        let token = &doc["operations"]["conversation.send.ai_token"];
        assert_eq!(token["action"], "send");
        assert_eq!(token["x-wsauth-permission"], "conversation.read");
        let refresh = &doc["operations"]["conversation.receive.wsauth.refresh"];
        assert_eq!(
            refresh["reply"]["messages"][0]["$ref"],
            "#/channels/conversation/messages/wsauth.refreshed"
        );
        let channel = &doc["channels"]["web3"];
        assert_eq!(channel["address"], "/api/v1/web3/ws/{user_id}");
        assert_eq!(channel["x-wsauth-permission"], "wallet.read");
        assert_eq!(channel["bindings"]["ws"]["query"]["type"], "object");
        assert!(channel["bindings"]["ws"]["headers"]["properties"]["Authorization"].is_object());
        assert_eq!(
            channel["parameters"]["user_id"]["x-wsauth-equals"],
            "subject"
        );
        let codes = doc["x-wsauth-close-codes"]
            .as_array()
            .cloned()
            .unwrap_or_default();
        assert!(
            codes
                .iter()
                .any(|c| c["code"] == 4008 && c["client"] == "backoff")
        );
        assert_eq!(doc["x-wsauth-roles"]["admin"]["all"], true);
        assert_eq!(
            doc["components"]["securitySchemes"]["queryToken"]["in"],
            "query"
        );
    }

    #[test]
    fn open_messages_have_their_operations_permission_and_schema() {
        let api = spec("shipvox");
        let doc: Value = serde_json::from_str(&json(&api).unwrap_or_default()).unwrap_or_default();
        let receive = &doc["operations"]["broadcast.receive.wsauth.open"];
        assert_eq!(receive["action"], "receive");
        assert_eq!(receive["x-wsauth-permission"], "broadcast.speak");
        let send = &doc["operations"]["broadcast.send.wsauth.open"];
        assert_eq!(send["x-wsauth-permission"], "broadcast.listen");
        let ty = &doc["components"]["messages"]["wsauth.open"]["payload"]["properties"]["type"];
        assert_eq!(
            ty["not"]["anyOf"][0]["enum"],
            json!(["connected", "say", "relayed"]),
            "{ty}"
        );
        // Specs without open messages document none.
        let prsm: Value =
            serde_json::from_str(&json(&spec("prsm")).unwrap_or_default()).unwrap_or_default();
        assert!(prsm["components"]["messages"]["wsauth.open"].is_null());
    }

    #[test]
    fn anonymous_operations_have_no_security() {
        let api = spec("songnodes");
        let doc: Value = serde_json::from_str(&json(&api).unwrap_or_default()).unwrap_or_default();
        assert!(doc["operations"]["anonymous.receive.search"]["security"].is_null());
        assert!(doc["operations"]["user.receive.search"]["security"].is_array());
        assert!(doc["servers"]["local"]["security"].is_null());
    }

    #[test]
    fn urls_split_into_host_and_pathname() {
        assert_eq!(
            split_url("ws://127.0.0.1:8000"),
            ("ws", "127.0.0.1:8000", None)
        );
        assert_eq!(split_url("wss://a.example/"), ("wss", "a.example", None));
        assert_eq!(
            split_url("wss://a.example/api?x=1"),
            ("wss", "a.example", Some("/api"))
        );
    }
}
