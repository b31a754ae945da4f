//! The spec as written: one Rust type per part of the file, every value
//! remembering where it came from.
//!
//! This is the *unvalidated* model. Names may be undeclared, codes out of
//! range, paths inconsistent with their params: [`crate::validate()`] checks
//! all of that and produces the resolved [`crate::ir::Api`], which is what
//! backends read. The types also derive `Serialize` and `JsonSchema`: the
//! first gives a canonical JSON form (used to test round trips), the second
//! the JSON Schema that editors use (`wsauth-gen schema`).
//!
//! Where the format has a shorthand (a role written as a bare list, a token
//! source written as a single word), the model holds the long form and
//! serializes to it.

use std::borrow::Borrow;
use std::borrow::Cow;
use std::hash::{Hash, Hasher};
use std::ops::Deref;

use indexmap::IndexMap;
use saphyr::YamlData;
use schemars::{JsonSchema, Schema as JsonSchemaDoc, SchemaGenerator, json_schema};
use serde::Serialize;

use super::yaml::{Cx, Decode, Fields, Node, as_str, decode_keywords, one_or_many};
use crate::diagnostic::Span;
pub use wsauth_spec::{
    Access, Algorithm, Binding, ClaimShape, ClientAction, Deliver, ExpiryPolicy, FailureKind,
    Fallback, Frames, KeyFamily, Keyword, ParamType, SchemaType, SourceKind, TokenSource,
};

/// A value and the bytes of the spec it was read from.
///
/// Equality and hashing look at the value only, so a `Spanned<String>` can
/// key a map and be looked up by `&str`.
#[derive(Clone, Debug, Default)]
pub struct Spanned<T> {
    /// The value.
    pub value: T,
    /// Where it was written.
    pub span: Span,
}

impl<T> Deref for Spanned<T> {
    type Target = T;
    fn deref(&self) -> &T {
        &self.value
    }
}

impl<T: PartialEq> PartialEq for Spanned<T> {
    fn eq(&self, other: &Self) -> bool {
        self.value == other.value
    }
}

impl<T: Eq> Eq for Spanned<T> {}

impl<T: Hash> Hash for Spanned<T> {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.value.hash(state);
    }
}

impl Borrow<str> for Spanned<String> {
    fn borrow(&self) -> &str {
        &self.value
    }
}

impl Borrow<FailureKind> for Spanned<FailureKind> {
    fn borrow(&self) -> &FailureKind {
        &self.value
    }
}

impl<T: Serialize> Serialize for Spanned<T> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        self.value.serialize(s)
    }
}

impl<T: JsonSchema> JsonSchema for Spanned<T> {
    fn inline_schema() -> bool {
        T::inline_schema()
    }
    fn schema_name() -> Cow<'static, str> {
        T::schema_name()
    }
    fn schema_id() -> Cow<'static, str> {
        T::schema_id()
    }
    fn json_schema(generator: &mut SchemaGenerator) -> JsonSchemaDoc {
        T::json_schema(generator)
    }
}

/// A name as written: a key of `endpoints`, `messages`, `roles`, ...
pub type Name = Spanned<String>;

/// A whole spec file.
#[derive(Clone, Debug, Serialize, JsonSchema)]
#[schemars(deny_unknown_fields, title = "wsauth spec")]
pub struct Spec {
    /// Version of the spec format. Always `1`.
    pub wsauth: Spanned<u32>,
    /// Machine name of the API: lower-case letters, digits and `_`/`-`,
    /// starting with a letter. Names generated modules and files.
    pub name: Name,
    /// Human title, for docs.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub title: Option<String>,
    /// Version of the API (not of the format), e.g. `1.0.0`.
    pub version: Spanned<String>,
    /// What the API is for, for docs (Markdown).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// Where the API is served, by name.
    #[serde(default, skip_serializing_if = "IndexMap::is_empty")]
    pub servers: IndexMap<Name, Server>,
    /// How connections authenticate. Absent when every endpoint is anonymous.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub auth: Option<Auth>,
    /// Every permission the API knows, with what it allows.
    #[serde(default, skip_serializing_if = "IndexMap::is_empty")]
    pub permissions: IndexMap<Name, String>,
    /// Roles (from the token's roles claim) and the permissions they grant.
    #[serde(default, skip_serializing_if = "IndexMap::is_empty")]
    pub roles: IndexMap<Name, Role>,
    /// Named resource checks, implemented in Rust by the application.
    #[serde(default, skip_serializing_if = "IndexMap::is_empty")]
    pub checks: IndexMap<Name, Check>,
    /// How each kind of failure closes the connection. Kinds not listed keep
    /// the framework's defaults.
    #[serde(default, skip_serializing_if = "IndexMap::is_empty")]
    #[schemars(schema_with = "close_codes_schema")]
    pub close_codes: IndexMap<Spanned<FailureKind>, CloseCode>,
    /// Limits for every endpoint; an endpoint may override them.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub limits: Option<Limits>,
    /// An HTTP endpoint reporting connection statistics.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub stats: Option<Stats>,
    /// Topics: fan-out instances connections subscribe to, by name.
    #[serde(default, skip_serializing_if = "IndexMap::is_empty")]
    pub topics: IndexMap<Name, Topic>,
    /// The WebSocket endpoints, by name.
    pub endpoints: IndexMap<Name, Endpoint>,
    /// The messages endpoints exchange, by their `type` on the wire.
    #[serde(default, skip_serializing_if = "IndexMap::is_empty")]
    pub messages: IndexMap<Name, Message>,
    /// Reusable payload schemas, referenced as `$ref: "#/schemas/Name"`.
    #[serde(default, skip_serializing_if = "IndexMap::is_empty")]
    pub schemas: IndexMap<Name, Schema>,
}

impl Decode for Spec {
    fn decode(node: &Node<'_>, cx: &mut Cx<'_>) -> Option<Self> {
        let mut f = Fields::new(node, cx, "the spec")?;
        let wsauth = f.req(cx, "wsauth");
        let name = f.req(cx, "name");
        let title = f.opt(cx, "title");
        let version = f.req(cx, "version");
        let description = f.opt(cx, "description");
        let servers = f.opt(cx, "servers").unwrap_or_default();
        let auth = f.opt(cx, "auth");
        let permissions = f.opt(cx, "permissions").unwrap_or_default();
        let roles = f.opt(cx, "roles").unwrap_or_default();
        let checks = f.opt(cx, "checks").unwrap_or_default();
        let close_codes = f
            .opt_with(cx, "close_codes", decode_close_codes)
            .unwrap_or_default();
        let limits = f.opt(cx, "limits");
        let stats = f.opt(cx, "stats");
        let topics = f.opt(cx, "topics").unwrap_or_default();
        let endpoints = f.req(cx, "endpoints");
        let messages = f.opt(cx, "messages").unwrap_or_default();
        let schemas = f.opt(cx, "schemas").unwrap_or_default();
        f.finish(cx);
        Some(Spec {
            wsauth: wsauth?,
            name: name?,
            title,
            version: version?,
            description,
            servers,
            auth,
            permissions,
            roles,
            checks,
            close_codes,
            limits,
            stats,
            topics,
            endpoints: endpoints?,
            messages,
            schemas,
        })
    }
}

fn decode_close_codes(
    node: &Node<'_>,
    cx: &mut Cx<'_>,
) -> Option<IndexMap<Spanned<FailureKind>, CloseCode>> {
    let by_name: IndexMap<Name, CloseCode> = IndexMap::decode(node, cx)?;
    let YamlData::Mapping(entries) = &node.data else {
        return None;
    };
    let mut out = IndexMap::new();
    for (k, _) in entries {
        let Some(kind) = Spanned::<FailureKind>::decode(k, cx) else {
            continue;
        };
        if let Some(code) = as_str(k).and_then(|name| by_name.get(name)) {
            out.insert(kind, code.clone());
        }
    }
    Some(out)
}

/// A server the API is deployed on.
#[derive(Clone, Debug, Serialize, JsonSchema)]
#[schemars(deny_unknown_fields)]
pub struct Server {
    /// `ws://` or `wss://` URL of the server root.
    pub url: Spanned<String>,
    /// What this server is (production, staging, local), for docs.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
}

impl Decode for Server {
    fn decode(node: &Node<'_>, cx: &mut Cx<'_>) -> Option<Self> {
        let mut f = Fields::new(node, cx, "a server")?;
        let url = f.req(cx, "url");
        let description = f.opt(cx, "description");
        f.finish(cx);
        Some(Server {
            url: url?,
            description,
        })
    }
}

/// How connections authenticate.
#[derive(Clone, Debug, Serialize, JsonSchema)]
#[schemars(deny_unknown_fields)]
pub struct Auth {
    /// Where the token may travel, in order of precedence. Presenting
    /// different tokens in two places is rejected, never resolved by order.
    pub sources: Spanned<Vec<Spanned<TokenSource>>>,
    /// Local JWT verification.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub jwt: Option<Jwt>,
    /// Verification by a remote token-introspection service (RFC 7662),
    /// whose address is run-time configuration.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub introspection: Option<Introspection>,
    /// What happens when a token expires while its connection is open.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub on_expiry: Option<Spanned<ExpiryPolicy>>,
    /// The role whose permissions anonymous connections get.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub anonymous_role: Option<Name>,
    /// Where clients obtain tokens (a URL or path), for docs and clients.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub token_url: Option<String>,
    /// How to get and pass a token, for docs.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
}

impl Decode for Auth {
    fn decode(node: &Node<'_>, cx: &mut Cx<'_>) -> Option<Self> {
        let mut f = Fields::new(node, cx, "`auth`")?;
        let sources = f.req(cx, "sources");
        let jwt = f.opt(cx, "jwt");
        let introspection = f.opt(cx, "introspection");
        let on_expiry = f.opt(cx, "on_expiry");
        let anonymous_role = f.opt(cx, "anonymous_role");
        let token_url = f.opt(cx, "token_url");
        let description = f.opt(cx, "description");
        f.finish(cx);
        Some(Auth {
            sources: sources?,
            jwt,
            introspection,
            on_expiry,
            anonymous_role,
            token_url,
            description,
        })
    }
}

impl Decode for TokenSource {
    fn decode(node: &Node<'_>, cx: &mut Cx<'_>) -> Option<Self> {
        if as_str(node).is_some() {
            return SourceKind::decode(node, cx).map(TokenSource::default_for);
        }
        let mut f = Fields::new(node, cx, "a token source")?;
        let header: Option<Spanned<String>> = f.opt(cx, "header");
        let query = f.opt(cx, "query");
        let cookie = f.opt(cx, "cookie");
        let subprotocol = f.opt(cx, "subprotocol");
        f.finish(cx);
        let mut found = Vec::new();
        if let Some(h) = header {
            if !h.value.eq_ignore_ascii_case("authorization") {
                cx.error(
                    crate::Diagnostic::new(
                        "wsauth::unsupported_header",
                        h.span,
                        format!("tokens travel in `Authorization`, not `{}`", h.value),
                    )
                    .help("write `header` (or `header: Authorization`)"),
                );
            }
            found.push(TokenSource::Header);
        }
        found.extend(query.map(TokenSource::Query));
        found.extend(cookie.map(TokenSource::Cookie));
        found.extend(subprotocol.map(TokenSource::Subprotocol));
        if found.len() != 1 {
            let d = crate::Diagnostic::new(
                "wsauth::token_source",
                cx.span(node),
                "a token source names exactly one place",
            )
            .help("write one of `header`, `query: NAME`, `cookie: NAME`, `subprotocol: MARKER`");
            cx.error(d);
            return None;
        }
        found.pop()
    }
}

/// Local JWT verification settings.
#[derive(Clone, Debug, Serialize, JsonSchema)]
#[schemars(deny_unknown_fields)]
pub struct Jwt {
    /// Accepted algorithms, for a spec with a single key. Use `keys` for
    /// several keys; one of the two is required.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub algorithms: Option<Spanned<Vec<Spanned<Algorithm>>>>,
    /// Named key slots (looked up by the token's `kid`), each with its own
    /// algorithm allow-list. The key material is run-time configuration.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub keys: Option<Spanned<IndexMap<Name, JwtKey>>>,
    /// Required `iss`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub issuer: Option<String>,
    /// Accepted `aud` values (any one must be present).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(schema_with = "string_or_list")]
    pub audience: Vec<String>,
    /// Clock skew allowed on `exp` and `nbf`, in seconds (at most 300).
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schemars(range(max = 300))]
    pub leeway_s: Option<Spanned<u64>>,
    /// Longest accepted token lifetime (`exp - iat`), in seconds; `iat` is
    /// required. Default 86400 (a day).
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 1))]
    pub max_ttl_s: Option<Spanned<u64>>,
    /// The claim holding the user id. Default `sub`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub subject_claim: Option<String>,
    /// The claim holding the user's roles. Default: `roles`, an array.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub roles_claim: Option<RolesClaim>,
}

impl Decode for Jwt {
    fn decode(node: &Node<'_>, cx: &mut Cx<'_>) -> Option<Self> {
        let mut f = Fields::new(node, cx, "`auth.jwt`")?;
        let algorithms = f.opt(cx, "algorithms");
        let keys = f.opt(cx, "keys");
        let issuer = f.opt(cx, "issuer");
        let audience = f.opt_with(cx, "audience", one_or_many).unwrap_or_default();
        let leeway_s = f.opt(cx, "leeway_s");
        let max_ttl_s = f.opt(cx, "max_ttl_s");
        let subject_claim = f.opt(cx, "subject_claim");
        let roles_claim = f.opt(cx, "roles_claim");
        f.finish(cx);
        Some(Jwt {
            algorithms,
            keys,
            issuer,
            audience,
            leeway_s,
            max_ttl_s,
            subject_claim,
            roles_claim,
        })
    }
}

/// One key slot.
#[derive(Clone, Debug, Serialize, JsonSchema)]
#[schemars(deny_unknown_fields)]
pub struct JwtKey {
    /// Algorithms this key may verify; all of one family.
    pub algorithms: Spanned<Vec<Spanned<Algorithm>>>,
    /// What the key is for, for docs.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
}

impl Decode for JwtKey {
    fn decode(node: &Node<'_>, cx: &mut Cx<'_>) -> Option<Self> {
        let mut f = Fields::new(node, cx, "a key")?;
        let algorithms = f.req(cx, "algorithms");
        let description = f.opt(cx, "description");
        f.finish(cx);
        Some(JwtKey {
            algorithms: algorithms?,
            description,
        })
    }
}

/// Where the roles are in the token.
#[derive(Clone, Debug, Serialize, JsonSchema)]
#[schemars(deny_unknown_fields, transform = or_string)]
pub struct RolesClaim {
    /// Claim name.
    pub name: String,
    /// An array of role names, or a single role name. Written alone
    /// (`roles_claim: roles`) it means an array.
    pub shape: ClaimShape,
}

impl Decode for RolesClaim {
    fn decode(node: &Node<'_>, cx: &mut Cx<'_>) -> Option<Self> {
        if let Some(name) = as_str(node) {
            return Some(RolesClaim {
                name: name.to_owned(),
                shape: ClaimShape::Array,
            });
        }
        let mut f = Fields::new(node, cx, "`roles_claim`")?;
        let name = f.req(cx, "name");
        let shape = f.opt(cx, "shape").unwrap_or(ClaimShape::Array);
        f.finish(cx);
        Some(RolesClaim { name: name?, shape })
    }
}

/// Remote token introspection.
#[derive(Clone, Debug, Serialize, JsonSchema)]
#[schemars(deny_unknown_fields)]
pub struct Introspection {
    /// What to do when the service cannot be reached (never when it answers
    /// that the token is inactive).
    pub fallback: Spanned<Fallback>,
    /// Which service, for docs.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
}

impl Decode for Introspection {
    fn decode(node: &Node<'_>, cx: &mut Cx<'_>) -> Option<Self> {
        let mut f = Fields::new(node, cx, "`auth.introspection`")?;
        let fallback = f.req(cx, "fallback");
        let description = f.opt(cx, "description");
        f.finish(cx);
        Some(Introspection {
            fallback: fallback?,
            description,
        })
    }
}

/// A role: the permissions it grants. Written as a bare list, or with a
/// description as `{ description, permissions }`.
#[derive(Clone, Debug, Serialize, JsonSchema)]
#[schemars(deny_unknown_fields, transform = or_list_of_strings)]
pub struct Role {
    /// Who holds this role, for docs.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// Granted permissions: names from `permissions`, `prefix.*` for every
    /// permission under a prefix, or `*` for all.
    pub permissions: Vec<Spanned<String>>,
}

impl Decode for Role {
    fn decode(node: &Node<'_>, cx: &mut Cx<'_>) -> Option<Self> {
        if let YamlData::Sequence(_) = node.data {
            return Vec::decode(node, cx).map(|permissions| Role {
                description: None,
                permissions,
            });
        }
        let mut f = Fields::new(node, cx, "a role")?;
        let description = f.opt(cx, "description");
        let permissions = f.req(cx, "permissions");
        f.finish(cx);
        Some(Role {
            description,
            permissions: permissions?,
        })
    }
}

/// A named resource check. Written as its description alone, or as
/// `{ description }`.
#[derive(Clone, Debug, Serialize, JsonSchema)]
#[schemars(deny_unknown_fields, transform = or_string)]
pub struct Check {
    /// What the check decides, for docs.
    pub description: String,
}

impl Decode for Check {
    fn decode(node: &Node<'_>, cx: &mut Cx<'_>) -> Option<Self> {
        if let Some(text) = as_str(node) {
            return Some(Check {
                description: text.to_owned(),
            });
        }
        let mut f = Fields::new(node, cx, "a check")?;
        let description = f.req(cx, "description");
        f.finish(cx);
        Some(Check {
            description: description?,
        })
    }
}

/// How one kind of failure closes the connection.
#[derive(Clone, Debug, Serialize, JsonSchema)]
#[schemars(deny_unknown_fields)]
pub struct CloseCode {
    /// WebSocket close code: 1000–4999, not one reserved to the protocol.
    pub code: Spanned<u16>,
    /// Generic close reason, at most 123 bytes. Never carries detail.
    pub reason: Spanned<String>,
    /// What a client does on receiving this code.
    pub client: Spanned<ClientAction>,
    /// When this happens, for docs.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
}

impl Decode for CloseCode {
    fn decode(node: &Node<'_>, cx: &mut Cx<'_>) -> Option<Self> {
        let mut f = Fields::new(node, cx, "a close code")?;
        let code = f.req(cx, "code");
        let reason = f.req(cx, "reason");
        let client = f.req(cx, "client");
        let description = f.opt(cx, "description");
        f.finish(cx);
        Some(CloseCode {
            code: code?,
            reason: reason?,
            client: client?,
            description,
        })
    }
}

/// Resource limits. Every field is optional; unset fields inherit (endpoint
/// from spec, spec from the framework defaults).
#[derive(Clone, Debug, Default, Serialize, JsonSchema)]
#[schemars(deny_unknown_fields)]
pub struct Limits {
    /// Open connections one user may hold at once.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_connections_per_user: Option<Spanned<u32>>,
    /// Largest accepted message, in bytes (larger closes with 1009).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_message_bytes: Option<Spanned<u32>>,
    /// Sustained messages per second a client may send.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub messages_per_second: Option<Spanned<u32>>,
    /// Messages a client may send in a burst above the sustained rate.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub burst: Option<Spanned<u32>>,
    /// Seconds between server pings (at most 3600).
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schemars(range(max = 3600))]
    pub ping_interval_s: Option<Spanned<u32>>,
    /// Seconds without any frame from the client before it is closed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub idle_timeout_s: Option<Spanned<u32>>,
    /// Outgoing messages queued for one client before it is dropped as a
    /// slow reader.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub send_queue: Option<Spanned<u32>>,
    /// Topic subscriptions one connection may hold at once.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_subscriptions: Option<Spanned<u32>>,
}

impl Decode for Limits {
    fn decode(node: &Node<'_>, cx: &mut Cx<'_>) -> Option<Self> {
        let mut f = Fields::new(node, cx, "`limits`")?;
        let limits = Limits {
            max_connections_per_user: f.opt(cx, "max_connections_per_user"),
            max_message_bytes: f.opt(cx, "max_message_bytes"),
            messages_per_second: f.opt(cx, "messages_per_second"),
            burst: f.opt(cx, "burst"),
            ping_interval_s: f.opt(cx, "ping_interval_s"),
            idle_timeout_s: f.opt(cx, "idle_timeout_s"),
            send_queue: f.opt(cx, "send_queue"),
            max_subscriptions: f.opt(cx, "max_subscriptions"),
        };
        f.finish(cx);
        Some(limits)
    }
}

/// The connection-statistics HTTP endpoint.
#[derive(Clone, Debug, Serialize, JsonSchema)]
#[schemars(deny_unknown_fields)]
pub struct Stats {
    /// HTTP path, e.g. `/ws/stats`.
    pub path: Spanned<String>,
    /// Permission required to read it.
    pub perm: Spanned<String>,
    /// For docs.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
}

impl Decode for Stats {
    fn decode(node: &Node<'_>, cx: &mut Cx<'_>) -> Option<Self> {
        let mut f = Fields::new(node, cx, "`stats`")?;
        let path = f.req(cx, "path");
        let perm = f.req(cx, "perm");
        let description = f.opt(cx, "description");
        f.finish(cx);
        Some(Stats {
            path: path?,
            perm: perm?,
            description,
        })
    }
}

/// A WebSocket endpoint.
#[derive(Clone, Debug, Serialize, JsonSchema)]
#[schemars(deny_unknown_fields)]
pub struct Endpoint {
    /// What the endpoint is for, for docs.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// Path with `{param}` segments, e.g. `/ws/{user_id}`.
    pub path: Spanned<String>,
    /// Every `{param}` in the path, typed.
    #[serde(default, skip_serializing_if = "IndexMap::is_empty")]
    pub params: IndexMap<Name, Param>,
    /// Whether a token is needed. Default `required`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub auth: Option<Spanned<Access>>,
    /// Narrows `auth.sources` for this endpoint, in this order.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sources: Option<Spanned<Vec<Spanned<SourceKind>>>>,
    /// Permission needed to connect. Absent: any authenticated user.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub perm: Option<Spanned<String>>,
    /// Resource checks from `checks`, run in order after the permission.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(schema_with = "string_or_list")]
    pub authorize: Vec<Spanned<String>>,
    /// Message the server sends first, on accepting.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub welcome: Option<Spanned<String>>,
    /// Messages the client may send.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub receives: Vec<Spanned<String>>,
    /// Messages the server may send (the welcome is implied).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub sends: Vec<Spanned<String>>,
    /// Open messages: JSON objects whose `type` the spec does not declare,
    /// carried with whatever fields they have.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub open: Option<Spanned<Open>>,
    /// `json` (typed messages; default) or `raw` (any frame, no decoding).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub frames: Option<Spanned<Frames>>,
    /// A text-frame keepalive answered by the server, besides protocol pings.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub heartbeat: Option<Heartbeat>,
    /// Overrides of the spec's limits.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub limits: Option<Limits>,
    /// Topics from `topics` its connections may join: a name (clients
    /// subscribe), or `name: { deliver: message }` (the handler joins its
    /// connections, and publications arrive as this endpoint's messages).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub topics: Vec<EndpointTopic>,
}

/// A topic an endpoint lists. Written as the topic's name alone, or as a
/// one-key mapping from the name to its options:
/// `everyone: { deliver: message }`.
#[derive(Clone, Debug, JsonSchema)]
#[schemars(transform = endpoint_topic_schema)]
pub struct EndpointTopic {
    /// The topic, from `topics`.
    pub name: Name,
    /// How the endpoint's connections get it: `publication` (the default:
    /// clients subscribe, publications arrive as `wsauth.publication`
    /// envelopes) or `message` (only server code joins connections, each
    /// publication arrives as the message's own frame).
    pub deliver: Option<Spanned<Deliver>>,
}

impl Serialize for EndpointTopic {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap;
        let Some(deliver) = &self.deliver else {
            return self.name.serialize(s);
        };
        let mut map = s.serialize_map(Some(1))?;
        map.serialize_entry(&self.name, &serde_json::json!({ "deliver": deliver.value }))?;
        map.end()
    }
}

impl Decode for EndpointTopic {
    fn decode(node: &Node<'_>, cx: &mut Cx<'_>) -> Option<Self> {
        if as_str(node).is_some() {
            let name = Name::decode(node, cx)?;
            return Some(EndpointTopic {
                name,
                deliver: None,
            });
        }
        let YamlData::Mapping(entries) = &node.data else {
            cx.expected(node, "a topic name, or `name: { deliver: message }`");
            return None;
        };
        let mut entries = entries.iter();
        let (key, options) = entries.next()?;
        if entries.next().is_some() {
            // The first topic is still read, so it does not also show up
            // as unlisted.
            cx.error(
                crate::Diagnostic::new(
                    "wsauth::topic_entry",
                    cx.span(node),
                    "a topic entry names one topic",
                )
                .help("write each topic as its own list item: `- everyone: { deliver: message }`"),
            );
        }
        let name = Name::decode(key, cx)?;
        let mut f = Fields::new(options, cx, "a topic entry")?;
        let deliver = f.opt(cx, "deliver");
        f.finish(cx);
        Some(EndpointTopic { name, deliver })
    }
}

impl Decode for Endpoint {
    fn decode(node: &Node<'_>, cx: &mut Cx<'_>) -> Option<Self> {
        let mut f = Fields::new(node, cx, "an endpoint")?;
        let description = f.opt(cx, "description");
        let path = f.req(cx, "path");
        let params = f.opt(cx, "params").unwrap_or_default();
        let auth = f.opt(cx, "auth");
        let sources = f.opt(cx, "sources");
        let perm = f.opt(cx, "perm");
        let authorize = f.opt_with(cx, "authorize", one_or_many).unwrap_or_default();
        let welcome = f.opt(cx, "welcome");
        let receives = f.opt(cx, "receives").unwrap_or_default();
        let sends = f.opt(cx, "sends").unwrap_or_default();
        let open = f.opt(cx, "open");
        let frames = f.opt(cx, "frames");
        let heartbeat = f.opt(cx, "heartbeat");
        let limits = f.opt(cx, "limits");
        let topics = f.opt(cx, "topics").unwrap_or_default();
        f.finish(cx);
        Some(Endpoint {
            description,
            path: path?,
            params,
            auth,
            sources,
            perm,
            authorize,
            welcome,
            receives,
            sends,
            open,
            frames,
            heartbeat,
            limits,
            topics,
        })
    }
}

/// Open messages on an endpoint: any JSON object whose `type` is not a
/// message of the spec (nor the framework's reserved `wsauth.` prefix),
/// with arbitrary fields. Declared messages keep their own rules; an open
/// message is never mistaken for one.
#[derive(Clone, Debug, Serialize, JsonSchema)]
#[schemars(deny_unknown_fields)]
pub struct Open {
    /// Clients may send open messages. Default `false`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub receives: Option<Spanned<bool>>,
    /// The server may send open messages. Default `false`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sends: Option<Spanned<bool>>,
    /// Permission a client needs to send an open message; required when
    /// `receives` is `true` (there is no default: say who may).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub perm: Option<Spanned<String>>,
    /// What open messages are for, for docs.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
}

impl Decode for Open {
    fn decode(node: &Node<'_>, cx: &mut Cx<'_>) -> Option<Self> {
        let mut f = Fields::new(node, cx, "`open`")?;
        let receives = f.opt(cx, "receives");
        let sends = f.opt(cx, "sends");
        let perm = f.opt(cx, "perm");
        let description = f.opt(cx, "description");
        f.finish(cx);
        Some(Open {
            receives,
            sends,
            perm,
            description,
        })
    }
}

/// An application-level text keepalive.
#[derive(Clone, Debug, Serialize, JsonSchema)]
#[schemars(deny_unknown_fields)]
pub struct Heartbeat {
    /// Text frame the client sends, e.g. `ping`.
    pub ping: Spanned<String>,
    /// Text frame the server answers with, e.g. `pong`.
    pub pong: Spanned<String>,
}

impl Decode for Heartbeat {
    fn decode(node: &Node<'_>, cx: &mut Cx<'_>) -> Option<Self> {
        let mut f = Fields::new(node, cx, "`heartbeat`")?;
        let ping = f.req(cx, "ping");
        let pong = f.req(cx, "pong");
        f.finish(cx);
        Some(Heartbeat {
            ping: ping?,
            pong: pong?,
        })
    }
}

/// A topic: a family of fan-out instances, one per value of its params,
/// that connections of the endpoints listing it subscribe to.
#[derive(Clone, Debug, Serialize, JsonSchema)]
#[schemars(deny_unknown_fields)]
pub struct Topic {
    /// What flows on the topic, for docs.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// The params that pick an instance, in key order. None: one instance.
    #[serde(default, skip_serializing_if = "IndexMap::is_empty")]
    pub params: IndexMap<Name, TopicParam>,
    /// Permission needed to subscribe.
    pub subscribe: Spanned<String>,
    /// Resource checks from `checks`, run with the topic's params on
    /// subscribe and on every in-band refresh, in order.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(schema_with = "string_or_list")]
    pub checks: Vec<Spanned<String>>,
    /// Permission a client needs to publish. Absent: only the server
    /// publishes.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub publish: Option<Spanned<String>>,
    /// The messages that may flow on the topic (at least one).
    #[schemars(length(min = 1))]
    pub messages: Spanned<Vec<Spanned<String>>>,
    /// Subscribers may see who else is subscribed, by subject. Default
    /// `false`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub presence: Option<Spanned<bool>>,
    /// Publications kept so a resubscribing client recovers what it
    /// missed. Absent: none.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub history: Option<History>,
    /// Open messages (JSON objects whose `type` the spec does not declare)
    /// may flow on it too. Default `false`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub open: Option<Spanned<bool>>,
}

impl Decode for Topic {
    fn decode(node: &Node<'_>, cx: &mut Cx<'_>) -> Option<Self> {
        let mut f = Fields::new(node, cx, "a topic")?;
        let description = f.opt(cx, "description");
        let params = f.opt(cx, "params").unwrap_or_default();
        let subscribe = f.req(cx, "subscribe");
        let checks = f.opt_with(cx, "checks", one_or_many).unwrap_or_default();
        let publish = f.opt(cx, "publish");
        let messages = f.req(cx, "messages");
        let presence = f.opt(cx, "presence");
        let history = f.opt(cx, "history");
        let open = f.opt(cx, "open");
        f.finish(cx);
        Some(Topic {
            description,
            params,
            subscribe: subscribe?,
            checks,
            publish,
            messages: messages?,
            presence,
            history,
            open,
        })
    }
}

/// A topic param.
#[derive(Clone, Debug, Serialize, JsonSchema)]
#[schemars(deny_unknown_fields)]
pub struct TopicParam {
    /// `string` or `integer` (in its canonical form, as path params).
    #[serde(rename = "type")]
    pub ty: Spanned<ParamType>,
    /// For docs.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
}

impl Decode for TopicParam {
    fn decode(node: &Node<'_>, cx: &mut Cx<'_>) -> Option<Self> {
        let mut f = Fields::new(node, cx, "a topic parameter")?;
        let ty = f.req(cx, "type");
        let description = f.opt(cx, "description");
        f.finish(cx);
        Some(TopicParam {
            ty: ty?,
            description,
        })
    }
}

/// A topic's history.
#[derive(Clone, Debug, Serialize, JsonSchema)]
#[schemars(deny_unknown_fields)]
pub struct History {
    /// Most publications kept per instance (1 to 10000).
    #[schemars(range(min = 1, max = 10000))]
    pub size: Spanned<u32>,
    /// Seconds a publication is kept (1 to 86400).
    #[schemars(range(min = 1, max = 86400))]
    pub ttl_s: Spanned<u32>,
}

impl Decode for History {
    fn decode(node: &Node<'_>, cx: &mut Cx<'_>) -> Option<Self> {
        let mut f = Fields::new(node, cx, "`history`")?;
        let size = f.req(cx, "size");
        let ttl_s = f.req(cx, "ttl_s");
        f.finish(cx);
        Some(History {
            size: size?,
            ttl_s: ttl_s?,
        })
    }
}

/// A path parameter.
#[derive(Clone, Debug, Serialize, JsonSchema)]
#[schemars(deny_unknown_fields)]
pub struct Param {
    /// Its type; the segment must parse as it exactly.
    #[serde(rename = "type")]
    pub ty: Spanned<ParamType>,
    /// `subject`: must equal the token's subject, byte for byte.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub equals: Option<Spanned<Binding>>,
    /// For docs.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
}

impl Decode for Param {
    fn decode(node: &Node<'_>, cx: &mut Cx<'_>) -> Option<Self> {
        let mut f = Fields::new(node, cx, "a path parameter")?;
        let ty = f.req(cx, "type");
        let equals = f.opt(cx, "equals");
        let description = f.opt(cx, "description");
        f.finish(cx);
        Some(Param {
            ty: ty?,
            equals,
            description,
        })
    }
}

/// A message type.
#[derive(Clone, Debug, Serialize, JsonSchema)]
#[schemars(deny_unknown_fields)]
pub struct Message {
    /// What the message means, for docs.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// Permission a client needs to send it (client → server messages only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub perm: Option<Spanned<String>>,
    /// The fields beside `type`: an object schema, or a `$ref` to one.
    /// Absent: no fields.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub payload: Option<Schema>,
    /// A complete example message (without `type`), for docs and tests.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub example: Option<Spanned<serde_json::Value>>,
}

impl Decode for Message {
    fn decode(node: &Node<'_>, cx: &mut Cx<'_>) -> Option<Self> {
        let mut f = Fields::new(node, cx, "a message")?;
        let description = f.opt(cx, "description");
        let perm = f.opt(cx, "perm");
        let payload = f.opt(cx, "payload");
        let example = f.opt(cx, "example");
        f.finish(cx);
        Some(Message {
            description,
            perm,
            payload,
            example,
        })
    }
}

/// A payload schema: the JSON Schema subset wsauth generates types from.
#[derive(Clone, Debug, Default, Serialize, JsonSchema)]
#[schemars(deny_unknown_fields)]
pub struct Schema {
    /// The type. Required unless `$ref` is given.
    #[serde(rename = "type", skip_serializing_if = "Option::is_none")]
    pub ty: Option<Spanned<SchemaType>>,
    /// A reference to a named schema: `#/schemas/Name`.
    #[serde(rename = "$ref", skip_serializing_if = "Option::is_none")]
    pub reference: Option<Spanned<String>>,
    /// For docs and generated doc comments.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// Fields of an object.
    #[serde(default, skip_serializing_if = "IndexMap::is_empty")]
    pub properties: IndexMap<Name, Schema>,
    /// Fields of an object that must be present; the rest are optional.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub required: Vec<Spanned<String>>,
    /// Element schema of an array.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub items: Option<Box<Schema>>,
    /// Allowed values of a string.
    #[serde(rename = "enum", default, skip_serializing_if = "Vec::is_empty")]
    pub enumeration: Vec<Spanned<String>>,
    /// Shortest string, in characters.
    #[serde(rename = "minLength", skip_serializing_if = "Option::is_none")]
    pub min_length: Option<Spanned<u64>>,
    /// Longest string, in characters.
    #[serde(rename = "maxLength", skip_serializing_if = "Option::is_none")]
    pub max_length: Option<Spanned<u64>>,
    /// A string format: `date-time`, `uuid`, `uri`, `email`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub format: Option<Spanned<String>>,
    /// A regular expression the string must match somewhere (unanchored,
    /// as in JSON Schema; write `^...$` for the whole string), in the
    /// syntax of the Rust `regex` crate.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pattern: Option<Spanned<String>>,
    /// Smallest number.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub minimum: Option<Spanned<f64>>,
    /// Largest number.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub maximum: Option<Spanned<f64>>,
    /// Fewest array items.
    #[serde(rename = "minItems", skip_serializing_if = "Option::is_none")]
    pub min_items: Option<Spanned<u64>>,
    /// Most array items.
    #[serde(rename = "maxItems", skip_serializing_if = "Option::is_none")]
    pub max_items: Option<Spanned<u64>>,
    /// Where the schema is written.
    #[serde(skip)]
    pub span: Span,
}

impl Decode for Schema {
    fn decode(node: &Node<'_>, cx: &mut Cx<'_>) -> Option<Self> {
        let mut f = Fields::new(node, cx, "a schema")?;
        let schema = Schema {
            ty: f.opt(cx, "type"),
            reference: f.opt(cx, "$ref"),
            description: f.opt(cx, "description"),
            properties: f.opt(cx, "properties").unwrap_or_default(),
            required: f.opt(cx, "required").unwrap_or_default(),
            items: f.opt(cx, "items"),
            enumeration: f.opt(cx, "enum").unwrap_or_default(),
            min_length: f.opt(cx, "minLength"),
            max_length: f.opt(cx, "maxLength"),
            format: f.opt(cx, "format"),
            pattern: f.opt(cx, "pattern"),
            minimum: f.opt(cx, "minimum"),
            maximum: f.opt(cx, "maximum"),
            min_items: f.opt(cx, "minItems"),
            max_items: f.opt(cx, "maxItems"),
            span: cx.span(node),
        };
        f.finish(cx);
        Some(schema)
    }
}

impl Decode for Algorithm {
    fn decode(node: &Node<'_>, cx: &mut Cx<'_>) -> Option<Self> {
        if as_str(node).is_some_and(|w| w.eq_ignore_ascii_case("none")) {
            let d = crate::Diagnostic::new(
                "wsauth::unsupported_algorithm",
                cx.span(node),
                "the `none` algorithm is never accepted: tokens must be signed",
            )
            .help(
                "use `HS256` with a shared secret, or `RS256`, `ES256` or `EdDSA` with a key pair",
            );
            cx.error(d);
            return None;
        }
        super::yaml::keyword(node, cx)
    }
}

/// Adds a shorthand form beside a type's long (object) form.
fn with_shorthand(schema: &mut JsonSchemaDoc, shorthand: serde_json::Value) {
    let long = std::mem::replace(schema, json_schema!({}));
    let description = long.get("description").cloned();
    *schema = json_schema!({ "oneOf": [shorthand, long.to_value()] });
    if let Some(d) = description {
        schema.insert("description".into(), d);
    }
}

fn or_string(schema: &mut JsonSchemaDoc) {
    with_shorthand(schema, serde_json::json!({ "type": "string" }));
}

fn or_list_of_strings(schema: &mut JsonSchemaDoc) {
    with_shorthand(
        schema,
        serde_json::json!({ "type": "array", "items": { "type": "string" } }),
    );
}

/// The two forms of [`EndpointTopic`]; its `deliver` refers to the
/// [`Deliver`] definition schemars emits for the struct's field.
fn endpoint_topic_schema(schema: &mut JsonSchemaDoc) {
    let description = schema.get("description").cloned();
    *schema = json_schema!({
        "oneOf": [
            { "type": "string" },
            {
                "type": "object",
                "minProperties": 1,
                "maxProperties": 1,
                "additionalProperties": {
                    "type": "object",
                    "additionalProperties": false,
                    "properties": {
                        "deliver": {
                            "description": "How the endpoint's connections get the topic. Default `publication`.",
                            "$ref": "#/$defs/Deliver"
                        }
                    }
                }
            }
        ]
    });
    if let Some(d) = description {
        schema.insert("description".into(), d);
    }
}

fn string_or_list(_: &mut SchemaGenerator) -> JsonSchemaDoc {
    json_schema!({
        "oneOf": [
            { "type": "string" },
            { "type": "array", "items": { "type": "string" } }
        ]
    })
}

fn close_codes_schema(generator: &mut SchemaGenerator) -> JsonSchemaDoc {
    let kinds: Vec<&str> = FailureKind::ALL.iter().map(|(w, _)| *w).collect();
    json_schema!({
        "type": "object",
        "propertyNames": { "enum": kinds },
        "additionalProperties": generator.subschema_for::<CloseCode>(),
    })
}

decode_keywords!(
    SourceKind,
    ClaimShape,
    Fallback,
    ExpiryPolicy,
    FailureKind,
    ClientAction,
    Access,
    Frames,
    Deliver,
    ParamType,
    Binding,
    SchemaType,
);
