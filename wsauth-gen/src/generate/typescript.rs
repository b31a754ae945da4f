//! The TypeScript client: one self-contained module per spec.
//!
//! # Motivation
//!
//! A frontend engineer should get, from the same spec the server enforces, a
//! client that cannot send a message the endpoint does not accept, that
//! narrows what it receives by `type`, and that reacts to every close code
//! the way the spec says (refresh the token, back off, or stop with a typed
//! error) — without adding a dependency to the app. So the module carries
//! its own small runtime (`Connection`) and runs on whatever `WebSocket`
//! the host has: browsers, Node with `--experimental-websocket`, or the `ws`
//! package.
//!
//! # Shape
//!
//! [`generate`] turns the [`Api`] into a `Module` view: every name, type
//! expression, doc comment and string literal already rendered as
//! TypeScript, so the askama templates (`templates/ts/`) only lay them out.
//! The templates escape nothing (`escape = "none"`), on purpose: a string
//! from the spec reaches the output only through `literal` (a JSON string,
//! which is a valid TypeScript string literal) or `doc` (a doc comment
//! that cannot be closed early).
//!
//! Every name the module declares for the spec (`<M>Message`,
//! `<E>Connection`, `connect<E>`, schemas, close codes, ...) is decided in
//! [`crate::naming`] and read from the IR; private names start with
//! `__wsauth`. Names two spec items would share are an error here
//! ([`GenError::NameClash`]), not broken code.
//!
//! Spec text that lands in a `//` comment line (the title, the endpoint's
//! path) goes through `one_line`: TypeScript ends a line at U+2028 and
//! U+2029 as well as at `\n` and `\r`, so any of the four would let the rest
//! of the text out of the comment, as code.

use std::collections::BTreeMap;

mod checks;

use askama::Template;
use wsauth_spec::Keyword;

use super::GenError;
use crate::ir::{
    Access, Api, ClientAction, Endpoint, ExpiryPolicy, FailureKind, Field, Frames, MessageIdents,
    ParamType, Schema, SchemaKind, TokenSource, Topic,
};
use crate::naming;

/// Whether some endpoint or client-subscribed topic of `api` has open
/// messages.
fn has_open(api: &Api) -> bool {
    api.endpoints.iter().any(|e| e.open.is_some()) || client_topics(api).any(|t| t.open)
}

/// The topics clients subscribe to somewhere: the others reach clients as
/// their endpoints' own messages, and need no types of their own.
fn client_topics(api: &Api) -> impl Iterator<Item = &Topic> {
    api.topics
        .iter()
        .filter(|t| api.subscribed_by_clients(&t.name))
}

/// The TypeScript module for `api`.
pub fn generate(api: &Api) -> Result<String, GenError> {
    let mut text = Module::new(api)?
        .render()
        .map_err(|source| GenError::Template {
            backend: "typescript",
            source,
        })?;
    if !text.ends_with('\n') {
        text.push('\n');
    }
    Ok(text)
}

/// The whole module, ready to lay out.
#[derive(Template)]
#[template(path = "ts/client.ts", escape = "none", whitespace = "preserve")]
struct Module {
    title: String,
    name: String,
    /// Description lines, each with its leading space (or empty).
    description: Vec<String>,
    default_base_url: String,
    failure_kinds: Vec<String>,
    close_codes: Vec<CodeView>,
    aliases: Vec<AliasView>,
    interfaces: Vec<InterfaceView>,
    endpoints: Vec<EndpointView>,
    topics: Vec<TopicView>,
    /// Whether some endpoint has path parameters (and so the module needs
    /// `__wsauthSegment`: an unused function fails `noUnusedLocals`).
    path_params: bool,
    /// Named schemas, for the runtime's payload checks.
    checked_schemas: Vec<checks::CheckedView>,
    /// Server messages' payloads, for the runtime's payload checks.
    checked_payloads: Vec<checks::CheckedView>,
    /// Whether some endpoint has open messages (the module exports `OpenMessage`).
    has_open: bool,
    /// Whether clients subscribe to some topic: the topic runtime is emitted only then.
    has_topics: bool,
    /// The wire's words and the client defaults, from `wsauth_spec::wire`.
    wire: WireView,
}

/// `wsauth_spec::wire` as the runtime reads it: one source for the Rust
/// and TypeScript clients.
struct WireView {
    refresh: String,
    refreshed: String,
    normal_close: u16,
    abnormal_close: u16,
    backoff_base_ms: u64,
    backoff_cap_ms: u64,
    backoff_stable_ms: u64,
    connect_timeout_ms: u64,
    min_heartbeat_ms: u64,
    refresh_lead_ms: u64,
    refresh_at: String,
    refresh_too_late_ms: u64,
    retry_unknown_codes: String,
    /// The percent-encodings `__wsauthSegment` undoes after
    /// `encodeURIComponent`: the path characters clients send as they are
    /// that it encodes (`24|26|2B`…).
    segment_keeps: String,
    subscribe: String,
    subscribed: String,
    unsubscribe: String,
    unsubscribed: String,
    publish: String,
    published: String,
    publication: String,
    presence: String,
    refused: String,
    /// `TopicRefusal`'s words as a union type (`"unknown_topic" | …`).
    topic_refusals: String,
    /// The same words as an array's items.
    topic_refusal_list: String,
}

impl WireView {
    fn new() -> Self {
        use wsauth_spec::wire::{self, TopicRefusal, client};
        let refusals: Vec<String> = TopicRefusal::ALL.iter().map(|(w, _)| literal(w)).collect();
        WireView {
            refresh: literal(wire::REFRESH),
            refreshed: literal(wire::REFRESHED),
            normal_close: wire::NORMAL_CLOSE,
            abnormal_close: wire::ABNORMAL_CLOSE,
            backoff_base_ms: client::BACKOFF_BASE_MS,
            backoff_cap_ms: client::BACKOFF_CAP_MS,
            backoff_stable_ms: client::BACKOFF_STABLE_MS,
            connect_timeout_ms: client::CONNECT_TIMEOUT_MS,
            min_heartbeat_ms: client::MIN_HEARTBEAT_MS,
            refresh_lead_ms: client::REFRESH_LEAD_MS,
            refresh_at: format!("{}", client::REFRESH_AT_PERCENT as f64 / 100.0),
            refresh_too_late_ms: client::REFRESH_TOO_LATE_MS,
            retry_unknown_codes: client::RETRY_UNKNOWN_CODES
                .map(|c| c.to_string())
                .join(", "),
            segment_keeps: wire::PATH_SEGMENT_KEEPS
                .iter()
                // What `encodeURIComponent` leaves alone besides letters and digits.
                .filter(|b| !b"-_.!~*'()".contains(b))
                .map(|b| format!("{b:02X}"))
                .collect::<Vec<_>>()
                .join("|"),
            subscribe: literal(wire::SUBSCRIBE),
            subscribed: literal(wire::SUBSCRIBED),
            unsubscribe: literal(wire::UNSUBSCRIBE),
            unsubscribed: literal(wire::UNSUBSCRIBED),
            publish: literal(wire::PUBLISH),
            published: literal(wire::PUBLISHED),
            publication: literal(wire::PUBLICATION),
            presence: literal(wire::PRESENCE),
            refused: literal(wire::REFUSED),
            topic_refusals: refusals.join(" | "),
            topic_refusal_list: refusals.join(", "),
        }
    }
}

/// One distinct close code.
struct CodeView {
    doc: String,
    name: String,
    code: u16,
    action: String,
    kinds: String,
}

/// `export type Name = ...;`
struct AliasView {
    doc: String,
    name: String,
    ty: String,
}

/// `export interface Name extends ... { fields }`
struct InterfaceView {
    doc: String,
    name: String,
    extends: String,
    fields: Vec<FieldView>,
}

/// One property of an interface.
struct FieldView {
    doc: String,
    prop: String,
    optional: &'static str,
    ty: String,
}

/// A typed `send...` method.
struct SendView {
    doc: String,
    method: String,
    type_name: String,
    literal: String,
    default: &'static str,
}

/// Everything generated for one topic: its descriptor, params, message
/// union, handlers and subscription types.
struct TopicView {
    name: String,
    /// The subscription type's doc.
    doc: String,
    descriptor: String,
    name_literal: String,
    messages: String,
    params_name: String,
    params: Vec<FieldView>,
    message_name: String,
    message_union: String,
    handlers_name: String,
    handlers: String,
    subscription_name: String,
    subscription: String,
    /// The descriptor's `open` (`null`, or the declared types).
    open: String,
}

/// A connection's `subscribe...` method for one topic it lists.
struct SubscribeView {
    doc: String,
    method: String,
    params_name: String,
    handlers_name: String,
    subscription_name: String,
    message_name: String,
    descriptor: String,
}

/// Everything generated for one endpoint.
struct EndpointView {
    name: String,
    name_literal: String,
    path: String,
    doc: String,
    connect_doc: String,
    class_name: String,
    connect_fn: String,
    descriptor: String,
    params_name: String,
    params: Vec<FieldView>,
    params_arg: String,
    options_type: &'static str,
    path_expr: String,
    server_union_name: String,
    server_union: String,
    client_union_name: String,
    client_union: String,
    transport: String,
    welcome: String,
    sends: String,
    raw: bool,
    refresh: bool,
    heartbeat: String,
    send_methods: Vec<SendView>,
    subscribe_methods: Vec<SubscribeView>,
    /// The descriptor's `open` (`null`, or directions and declared types).
    open: String,
    open_receives: bool,
    open_sends: bool,
    open_send_doc: String,
    open_on_doc: String,
}

/// Resolves names: message and schema type names, collision-free.
struct Names<'a> {
    api: &'a Api,
}

impl<'a> Names<'a> {
    /// Fails when two spec names would become one TypeScript name (message
    /// `chat_server` beside endpoint `chat`'s `ChatServerMessage` union):
    /// valid spec names, but one module cannot declare both. (Schema names
    /// already yield to the others: [`naming::schema_type_names`].)
    fn new(api: &'a Api) -> Result<Self, GenError> {
        let mut owners: BTreeMap<String, String> = BTreeMap::new();
        for (name, owner) in naming::ts::declared(&api.messages, &api.endpoints) {
            if let Some(first) = owners.get(&name) {
                return Err(GenError::NameClash {
                    backend: "TypeScript",
                    name,
                    first: first.clone(),
                    second: owner,
                });
            }
            owners.insert(name, owner);
        }
        for named in &api.schemas {
            let owner = format!("schema `{}`", named.name);
            if let Some(first) = owners.get(&named.type_name) {
                return Err(GenError::NameClash {
                    backend: "TypeScript",
                    name: named.type_name.clone(),
                    first: first.clone(),
                    second: owner,
                });
            }
            owners.insert(named.type_name.clone(), owner);
        }
        for (name, owner) in naming::ts::topic_declared(&api.topics) {
            if let Some(first) = owners.get(&name) {
                return Err(GenError::NameClash {
                    backend: "TypeScript",
                    name,
                    first: first.clone(),
                    second: owner,
                });
            }
            owners.insert(name, owner);
        }
        Ok(Names { api })
    }

    /// The TypeScript name of named schema `name`.
    fn schema(&self, name: &str) -> String {
        // Validation resolves every reference to a declared schema.
        self.api.schema_type_name(name).unwrap_or(name).to_owned()
    }

    /// The identifiers of message `name`.
    fn message(&self, name: &str) -> MessageIdents {
        // Validation declares every message an endpoint names.
        self.api
            .message_idents(name)
            .cloned()
            .unwrap_or_else(|| naming::message(name))
    }

    /// The TypeScript type of `schema`.
    fn ty(&self, schema: &Schema) -> String {
        match &schema.kind {
            SchemaKind::Object { fields } if fields.is_empty() => "Record<string, never>".into(),
            SchemaKind::Object { fields } => {
                let fields: Vec<String> = fields
                    .iter()
                    .map(|f| {
                        format!(
                            "{}{}: {}",
                            property(&f.name),
                            optional(f),
                            self.ty(&f.schema)
                        )
                    })
                    .collect();
                format!("{{ {} }}", fields.join("; "))
            }
            SchemaKind::String { values, .. } if !values.is_empty() => values
                .iter()
                .map(|v| literal(v))
                .collect::<Vec<_>>()
                .join(" | "),
            SchemaKind::String { .. } => "string".into(),
            SchemaKind::Integer { .. } | SchemaKind::Number { .. } => "number".into(),
            SchemaKind::Boolean => "boolean".into(),
            SchemaKind::Array { items, .. } => format!("Array<{}>", self.ty(items)),
            SchemaKind::Any => "unknown".into(),
            SchemaKind::Ref { name } => self.schema(name),
        }
    }

    fn fields(&self, fields: &[Field]) -> Vec<FieldView> {
        fields
            .iter()
            .map(|f| FieldView {
                doc: doc(f.schema.description.as_deref(), "  "),
                prop: property(&f.name),
                optional: optional(f),
                ty: self.ty(&f.schema),
            })
            .collect()
    }

    /// The named schemas: objects as interfaces, the rest as aliases.
    fn schemas(&self) -> (Vec<AliasView>, Vec<InterfaceView>) {
        let mut aliases = Vec::new();
        let mut interfaces = Vec::new();
        for named in &self.api.schemas {
            let doc = doc(named.schema.description.as_deref(), "");
            let name = named.type_name.clone();
            match &named.schema.kind {
                SchemaKind::Object { fields } => interfaces.push(InterfaceView {
                    doc,
                    name,
                    extends: String::new(),
                    fields: self.fields(fields),
                }),
                _ => aliases.push(AliasView {
                    doc,
                    name,
                    ty: self.ty(&named.schema),
                }),
            }
        }
        (aliases, interfaces)
    }

    /// One interface per message: `type` beside the payload's fields, or
    /// extending the named object the payload refers to.
    fn messages(&self) -> Vec<InterfaceView> {
        self.api
            .messages
            .iter()
            .map(|m| {
                let type_field = FieldView {
                    doc: doc(Some("The message type on the wire."), "  "),
                    prop: "type".into(),
                    optional: "",
                    ty: literal(&m.name),
                };
                let (extends, fields) = match &m.payload.kind {
                    SchemaKind::Object { fields } => (String::new(), self.fields(fields)),
                    SchemaKind::Ref { name } => (format!(" extends {}", self.schema(name)), vec![]),
                    // Validation only admits object payloads.
                    _ => (String::new(), vec![]),
                };
                let mut all = vec![type_field];
                all.extend(fields);
                InterfaceView {
                    doc: doc(
                        Some(&with_default(
                            m.description.as_deref(),
                            &format!("The `{}` message.", m.name),
                        )),
                        "",
                    ),
                    name: m.idents.ts_interface.clone(),
                    extends,
                    fields: all,
                }
            })
            .collect()
    }

    /// Whether every payload field of message `name` is optional (its
    /// `send...` method may then be called without an argument).
    fn all_optional(&self, name: &str) -> bool {
        let Some(message) = self.api.message(name) else {
            return false;
        };
        let fields = match &message.payload.kind {
            SchemaKind::Object { fields } => fields,
            SchemaKind::Ref { name } => match self.api.schema(name).map(|s| &s.kind) {
                Some(SchemaKind::Object { fields }) => fields,
                _ => return false,
            },
            _ => return false,
        };
        fields.iter().all(|f| !f.required)
    }
}

impl Module {
    fn new(api: &Api) -> Result<Self, GenError> {
        let names = Names::new(api)?;
        let (aliases, mut interfaces) = names.schemas();
        interfaces.extend(names.messages());
        Ok(Module {
            title: one_line(&format!("{} {}", api.title, api.version)),
            name: one_line(&api.name),
            description: api
                .description
                .as_deref()
                .map(|d| {
                    // Each line becomes a `//` comment, so every character
                    // JavaScript ends a line at must end one here too.
                    let d = d.trim_end().replace("\r\n", "\n");
                    std::iter::once(String::new())
                        .chain(d.split(['\n', '\r', '\u{2028}', '\u{2029}']).map(|l| {
                            if l.is_empty() {
                                String::new()
                            } else {
                                format!(" {l}")
                            }
                        }))
                        .collect()
                })
                .unwrap_or_default(),
            default_base_url: literal(
                api.servers
                    .first()
                    .map_or("ws://127.0.0.1:8000", |s| s.url.as_str()),
            ),
            failure_kinds: FailureKind::ALL.iter().map(|(w, _)| literal(w)).collect(),
            close_codes: close_codes(api),
            wire: WireView::new(),
            aliases,
            interfaces,
            has_open: has_open(api),
            has_topics: client_topics(api).next().is_some(),
            endpoints: api
                .endpoints
                .iter()
                .map(|e| endpoint(api, &names, e))
                .collect(),
            topics: client_topics(api).map(|t| topic(api, &names, t)).collect(),
            path_params: api.endpoints.iter().any(|e| {
                e.segments
                    .iter()
                    .any(|s| matches!(s, crate::ir::Segment::Param(_)))
            }),
            checked_schemas: checks::schemas(api),
            checked_payloads: checks::payloads(api),
        })
    }
}

/// One entry per code of the catalogue.
fn close_codes(api: &Api) -> Vec<CodeView> {
    api.close_catalogue
        .iter()
        .map(|group| {
            let listed = group
                .kinds
                .iter()
                .map(|k| format!("`{}`", k.word()))
                .collect::<Vec<_>>()
                .join(", ");
            let mut text = format!("{listed}: {}.", action_text(group.client));
            for &kind in &group.kinds {
                if let Some(d) = api.close_code(kind).and_then(|c| c.description.as_ref()) {
                    text.push_str(&format!("\n\n`{}`: {}", kind.word(), d.trim_end()));
                }
            }
            CodeView {
                doc: doc(Some(&text), "  "),
                name: group.name.clone(),
                code: group.code,
                action: literal(group.client.word()),
                kinds: group
                    .kinds
                    .iter()
                    .map(|k| literal(k.word()))
                    .collect::<Vec<_>>()
                    .join(", "),
            }
        })
        .collect()
}

/// What a client action means, for doc comments.
fn action_text(action: ClientAction) -> &'static str {
    match action {
        ClientAction::RefreshToken => "get a fresh token and reconnect at once",
        ClientAction::Backoff => "reconnect after a backoff with jitter",
        ClientAction::Stop => "stop, with a `CloseError`",
    }
}

fn endpoint(api: &Api, names: &Names<'_>, e: &Endpoint) -> EndpointView {
    let idents = &e.idents;
    let class_name = idents.ts_connection.clone();
    let params_name = idents.ts_params.clone();
    let union = |messages: &[String]| {
        if messages.is_empty() {
            "never".to_owned()
        } else {
            messages
                .iter()
                .map(|m| names.message(m).ts_interface)
                .collect::<Vec<_>>()
                .join(" | ")
        }
    };
    let raw = e.frames == Frames::Raw;
    let anonymous = e.access == Access::Anonymous;
    // Raw frames are the application's own: a refresh frame would reach its
    // handler (and whoever it relays to), so raw endpoints close at `exp`.
    let refresh = !anonymous
        && !raw
        && api
            .auth
            .as_ref()
            .is_some_and(|a| a.on_expiry == ExpiryPolicy::Refresh);
    let path_expr = path_expression(e);
    let params = e
        .params
        .iter()
        .map(|param| FieldView {
            doc: doc(param.description.as_deref(), "  "),
            prop: property(&param.name),
            optional: "",
            ty: param_type(param.ty),
        })
        .collect::<Vec<_>>();
    let send_methods = e
        .receives
        .iter()
        .enumerate()
        .map(|(i, m)| {
            let message = api.message(m);
            let mut text = format!("Sends `{m}`");
            if let Some(perm) = message.and_then(|m| m.perm.as_deref()) {
                text.push_str(&format!(" (needs `{perm}`)"));
            }
            text.push_str("; `false` when no socket is open.");
            if let Some(d) = message.and_then(|m| m.description.as_deref()) {
                text.push_str("\n\n");
                text.push_str(d.trim_end());
            }
            // A blank line between methods.
            let gap = if i == 0 { "" } else { "\n" };
            SendView {
                doc: format!("{gap}{}", doc(Some(&text), "  ")),
                method: names.message(m).ts_send,
                type_name: names.message(m).ts_interface,
                literal: literal(m),
                default: if names.all_optional(m) { " = {}" } else { "" },
            }
        })
        .collect();
    let transport = if anonymous {
        r#"{ kind: "none" }"#.to_owned()
    } else {
        transport(&e.sources)
    };
    let heartbeat = e.heartbeat.as_ref().map_or("null".to_owned(), |h| {
        format!(
            "{{ ping: {}, pong: {}, intervalMs: {} }}",
            literal(&h.ping),
            literal(&h.pong),
            u64::from(e.limits.ping_interval_s) * 1000
        )
    });
    let options_type = match e.access {
        Access::Required => "TokenOptions",
        Access::Optional => "OptionalTokenOptions",
        Access::Anonymous => "ConnectOptions = {}",
    };
    let mut connect_text = format!("Connects to `{}` (`{}`).", e.name, e.path);
    match e.access {
        Access::Required => connect_text.push_str(&format!(" Needs a token{}.", token_note(e))),
        Access::Optional => {
            connect_text.push_str(&format!(" A token is optional{}.", token_note(e)));
        }
        Access::Anonymous => connect_text.push_str(" Anonymous: no token is sent."),
    }
    if let Some(perm) = &e.perm {
        connect_text.push_str(&format!(" Permission: `{perm}`."));
    }
    let (open_receives, open_sends) = e
        .open
        .as_ref()
        .map_or((false, false), |o| (o.receives, o.sends));
    let open = e.open.as_ref().map_or("null".to_owned(), |o| {
        let declared: Vec<String> = api.messages.iter().map(|m| literal(&m.name)).collect();
        format!(
            "{{ receives: {}, sends: {}, declared: [{}] }}",
            o.receives,
            o.sends,
            declared.join(", ")
        )
    });
    let open_about = e.open.as_ref().and_then(|o| o.description.as_deref());
    let with_about = |text: String| match open_about {
        Some(d) => format!("{text}\n\n{}", d.trim_end()),
        None => text,
    };
    let perm_note = e
        .open
        .as_ref()
        .and_then(|o| o.perm.as_deref())
        .map_or(String::new(), |p| format!(" (needs `{p}`)"));
    let gap = if e.receives.is_empty() { "" } else { "\n" };
    let open_send_doc = format!(
        "{gap}{}",
        doc(
            Some(&with_about(format!(
                "Sends an open message: any `type` the spec does not declare, with any fields{perm_note}; \
                 `false` when no socket is open. Throws a `RangeError` for a declared or `wsauth.` type."
            ))),
            "  "
        )
    );
    let gap = if e.receives.is_empty() && !open_receives {
        ""
    } else {
        "\n"
    };
    let open_on_doc = format!(
        "{gap}{}",
        doc(
            Some(&with_about(
                "Calls `handler` with every open message the server sends (a `type` the spec does \
                 not declare; `on` and `onMessage` see only declared ones); returns a function that removes it."
                    .to_owned()
            )),
            "  "
        )
    );
    // A blank line after the class's other members, if any.
    let first_gap = if e.receives.is_empty() && !open_receives && !open_sends && !raw {
        ""
    } else {
        "\n"
    };
    // A topic the server joins arrives as the endpoint's own messages:
    // nothing to subscribe to.
    let subscribe_methods = e
        .topics
        .iter()
        .filter(|t| t.client_subscribes())
        .filter_map(|t| api.topic(&t.name))
        .enumerate()
        .map(|(i, t)| {
            let checks = t
                .checks
                .iter()
                .map(|c| format!(", checked by `{c}`"))
                .collect::<String>();
            let mut text = format!(
                "Subscribes to topic `{}` (needs `{}`{checks}): resolves once the server answers, \
                 or rejects with a `TopicRefusedError`. The subscription is renewed on every \
                 reconnect, from the last publication seen.",
                t.name, t.subscribe,
            );
            if let Some(d) = t.description.as_deref() {
                text.push_str("\n\n");
                text.push_str(d.trim_end());
            }
            SubscribeView {
                doc: format!(
                    "{}{}",
                    if i == 0 { first_gap } else { "\n" },
                    doc(Some(&text), "  ")
                ),
                method: t.idents.ts_subscribe.clone(),
                params_name: t.idents.ts_params.clone(),
                handlers_name: t.idents.ts_handlers.clone(),
                subscription_name: t.idents.ts_subscription.clone(),
                message_name: t.idents.ts_message.clone(),
                descriptor: topic_descriptor(t),
            }
        })
        .collect();
    EndpointView {
        subscribe_methods,
        open,
        open_receives,
        open_sends,
        open_send_doc,
        open_on_doc,
        name: e.name.clone(),
        name_literal: literal(&e.name),
        path: one_line(&e.path),
        doc: doc(
            Some(&with_default(
                e.description.as_deref(),
                &format!("A connection to `{}`.", e.name),
            )),
            "",
        ),
        connect_doc: doc(Some(&connect_text), ""),
        connect_fn: idents.ts_connect.clone(),
        descriptor: format!("__wsauthEndpoint{}", idents.type_name),
        params_arg: if e.params.is_empty() {
            String::new()
        } else {
            format!("params: {params_name}, ")
        },
        params_name,
        params,
        options_type,
        path_expr,
        server_union_name: idents.ts_server_message.clone(),
        server_union: if raw { "never".into() } else { union(&e.sends) },
        client_union_name: idents.ts_client_message.clone(),
        client_union: if raw {
            "never".into()
        } else {
            union(&e.receives)
        },
        transport,
        welcome: e.welcome.as_deref().map_or("null".to_owned(), literal),
        sends: e
            .sends
            .iter()
            .map(|m| literal(m))
            .collect::<Vec<_>>()
            .join(", "),
        raw,
        refresh,
        heartbeat,
        send_methods,
        class_name,
    }
}

/// The private constant describing topic `t` to the runtime.
fn topic_descriptor(t: &Topic) -> String {
    format!("__wsauthTopic{}", t.idents.type_name)
}

fn topic(api: &Api, names: &Names<'_>, t: &Topic) -> TopicView {
    let idents = &t.idents;
    let mut message_union: Vec<String> = t
        .messages
        .iter()
        .map(|m| names.message(m).ts_interface)
        .collect();
    let open = if t.open {
        message_union.push("OpenMessage".to_owned());
        let declared: Vec<String> = api.messages.iter().map(|m| literal(&m.name)).collect();
        format!("{{ declared: [{}] }}", declared.join(", "))
    } else {
        "null".to_owned()
    };
    let message_union = message_union.join(" | ");
    let mut handlers = format!("TopicHandlers<{}>", idents.ts_message);
    let mut subscription = format!("TopicSubscription<{}>", idents.ts_params);
    if t.publish.is_some() {
        subscription.push_str(&format!(" & PublishingSubscription<{}>", idents.ts_message));
    }
    if t.presence {
        handlers.push_str(" & PresenceHandlers");
        subscription.push_str(" & PresenceSubscription");
    }
    TopicView {
        name: t.name.clone(),
        doc: doc(
            Some(&match t.description.as_deref() {
                Some(d) => format!("A subscription to topic `{}`.\n\n{}", t.name, d.trim_end()),
                None => format!("A subscription to topic `{}`.", t.name),
            }),
            "",
        ),
        descriptor: topic_descriptor(t),
        name_literal: literal(&t.name),
        messages: t
            .messages
            .iter()
            .map(|m| literal(m))
            .collect::<Vec<_>>()
            .join(", "),
        params_name: idents.ts_params.clone(),
        params: t
            .params
            .iter()
            .map(|param| FieldView {
                doc: doc(param.description.as_deref(), "  "),
                prop: property(&param.name),
                optional: "",
                ty: param_type(param.ty),
            })
            .collect(),
        message_name: idents.ts_message.clone(),
        message_union,
        handlers_name: idents.ts_handlers.clone(),
        handlers,
        subscription_name: idents.ts_subscription.clone(),
        subscription,
        open,
    }
}

/// The TypeScript type of a path or topic param.
fn param_type(ty: ParamType) -> String {
    match ty {
        ParamType::Integer => "number".into(),
        ParamType::String | ParamType::Uuid => "string".into(),
    }
}

/// The TypeScript expression of an endpoint's path, from `params`: literal
/// runs as string literals, parameters percent-encoded as path segments
/// (`__wsauthSegment`, the same set as the Rust client's).
fn path_expression(e: &Endpoint) -> String {
    let mut pieces = Vec::new();
    let mut run = String::new();
    for segment in &e.segments {
        run.push('/');
        match segment {
            crate::ir::Segment::Literal(text) => run.push_str(text),
            crate::ir::Segment::Param(name) => {
                pieces.push(literal(&run));
                run.clear();
                pieces.push(format!("__wsauthSegment(String(params{}))", access(name)));
            }
        }
    }
    if !run.is_empty() || pieces.is_empty() {
        pieces.push(literal(if run.is_empty() { "/" } else { &run }));
    }
    pieces.join(" + ")
}

/// How the token travels, for the connect function's doc.
fn token_note(e: &Endpoint) -> String {
    match preferred_source(&e.sources) {
        Some(TokenSource::Subprotocol(marker)) => {
            format!(", sent in the `{marker}` subprotocol")
        }
        Some(TokenSource::Query(name)) => format!(", sent as the `{name}` query parameter"),
        Some(TokenSource::Header) => {
            ", sent as `Authorization: Bearer` (needs a WebSocket that takes headers, like the `ws` package)".into()
        }
        Some(TokenSource::Cookie(name)) => {
            format!(" in the `{name}` cookie, which the browser sends")
        }
        None => String::new(),
    }
}

/// The source the generated TypeScript client uses: subprotocol, else
/// query, else header, else cookie (which the browser sends by itself).
/// Browsers cannot set headers, hence the query before the header; the
/// Rust client, a service's, puts the header first (query strings end up in
/// proxy logs).
fn preferred_source(sources: &[TokenSource]) -> Option<&TokenSource> {
    let find = |want: fn(&TokenSource) -> bool| sources.iter().find(|s| want(s));
    find(|s| matches!(s, TokenSource::Subprotocol(_)))
        .or_else(|| find(|s| matches!(s, TokenSource::Query(_))))
        .or_else(|| find(|s| matches!(s, TokenSource::Header)))
        .or_else(|| find(|s| matches!(s, TokenSource::Cookie(_))))
}

/// The `TokenTransport` literal for an endpoint's sources.
fn transport(sources: &[TokenSource]) -> String {
    match preferred_source(sources) {
        Some(TokenSource::Subprotocol(marker)) => {
            format!(r#"{{ kind: "subprotocol", marker: {} }}"#, literal(marker))
        }
        Some(TokenSource::Query(name)) => {
            format!(r#"{{ kind: "query", name: {} }}"#, literal(name))
        }
        Some(TokenSource::Header) => r#"{ kind: "header" }"#.into(),
        Some(TokenSource::Cookie(_)) => r#"{ kind: "cookie" }"#.into(),
        None => r#"{ kind: "none" }"#.into(),
    }
}

fn with_default(text: Option<&str>, default: &str) -> String {
    text.map_or_else(|| default.to_owned(), |t| t.trim_end().to_owned())
}

fn optional(field: &Field) -> &'static str {
    if field.required { "" } else { "?" }
}

/// `text` as a TypeScript string literal (JSON's syntax is a subset), with
/// U+2028 and U+2029 escaped too: JSON leaves them bare, and engines
/// before ES2019 end a line (and so the literal) at them.
fn literal(text: &str) -> String {
    serde_json::to_string(text)
        .unwrap_or_else(|_| String::from("\"\""))
        .replace('\u{2028}', "\\u2028")
        .replace('\u{2029}', "\\u2029")
}

/// `text` for a `//` comment line: each of the characters TypeScript ends
/// a line at (`\n`, `\r`, U+2028, U+2029) becomes a space, so none can end
/// the comment and start code.
fn one_line(text: &str) -> String {
    text.replace(['\n', '\r', '\u{2028}', '\u{2029}'], " ")
}

/// Whether `name` can be written bare as a property name or after a dot.
fn is_identifier(name: &str) -> bool {
    let mut chars = name.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_' || c == '$')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '$')
}

/// A property name in a type or an object literal.
fn property(name: &str) -> String {
    if is_identifier(name) {
        name.to_owned()
    } else {
        literal(name)
    }
}

/// Property access on a value: `.name` or `["na-me"]`.
fn access(name: &str) -> String {
    if is_identifier(name) {
        format!(".{name}")
    } else {
        format!("[{}]", literal(name))
    }
}

/// A `/** */` doc comment for `text`, every line indented by `indent`,
/// ending with a newline; empty without text. `*/` in the text cannot end
/// the comment.
fn doc(text: Option<&str>, indent: &str) -> String {
    let Some(text) = text.map(str::trim).filter(|t| !t.is_empty()) else {
        return String::new();
    };
    let text = text.replace("*/", "*\\/").replace("\r\n", "\n");
    // Every line TypeScript sees gets its own ` * `.
    let lines: Vec<&str> = text
        .split(['\n', '\r', '\u{2028}', '\u{2029}'])
        .map(str::trim_end)
        .collect();
    if let [line] = lines.as_slice() {
        return format!("{indent}/** {line} */\n");
    }
    let mut out = format!("{indent}/**\n");
    for line in lines {
        if line.is_empty() {
            out.push_str(&format!("{indent} *\n"));
        } else {
            out.push_str(&format!("{indent} * {line}\n"));
        }
    }
    out.push_str(&format!("{indent} */\n"));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn raw_endpoints_never_refresh_in_band() {
        let yaml = r#"
wsauth: 1
name: mixed
version: 1.0.0
auth:
  sources: [{ subprotocol: mixed }]
  jwt: { algorithms: [HS256] }
  on_expiry: refresh
permissions:
  use: Use it.
roles:
  user: [use]
endpoints:
  typed:
    path: /ws/typed
    perm: use
    receives: [ping]
  relay:
    path: /ws/relay
    perm: use
    frames: raw
messages:
  ping: {}
"#;
        let api = crate::load_source(&crate::SourceFile::new("mixed.yaml", yaml))
            .unwrap_or_else(|e| panic!("{e:?}"));
        let ts = generate(&api).unwrap_or_else(|e| panic!("{e}"));
        let flags: Vec<&str> = ts
            .lines()
            .filter(|l| {
                // The endpoint flags, not the wire word (`refresh: "wsauth.refresh"`).
                let l = l.trim_start();
                l.starts_with("refresh: true") || l.starts_with("refresh: false")
            })
            .map(str::trim)
            .collect();
        assert_eq!(flags, ["refresh: true,", "refresh: false,"], "{ts}");
    }

    #[test]
    fn names_are_identifiers() {
        assert_eq!(property("user_id"), "user_id");
        assert_eq!(property("latency-ms"), r#""latency-ms""#);
        assert_eq!(access("user_id"), ".user_id");
        assert_eq!(access("a b"), r#"["a b"]"#);
    }

    #[test]
    fn strings_become_literals_and_docs_stay_closed() {
        assert_eq!(literal(r#"say "hi"\n"#), r#""say \"hi\"\\n""#);
        assert_eq!(literal("a\nb"), r#""a\nb""#);
        assert_eq!(doc(None, ""), "");
        assert_eq!(doc(Some("  "), ""), "");
        assert_eq!(doc(Some("one */ line"), "  "), "  /** one *\\/ line */\n");
        assert_eq!(
            doc(Some("first\n\nthird"), ""),
            "/**\n * first\n *\n * third\n */\n"
        );
    }

    #[test]
    fn sources_prefer_subprotocol_then_query() {
        let all = [
            TokenSource::Header,
            TokenSource::Query("token".into()),
            TokenSource::Cookie("c".into()),
            TokenSource::Subprotocol("prsm".into()),
        ];
        assert_eq!(
            transport(&all),
            r#"{ kind: "subprotocol", marker: "prsm" }"#
        );
        assert_eq!(transport(&all[..2]), r#"{ kind: "query", name: "token" }"#);
        assert_eq!(transport(&all[..1]), r#"{ kind: "header" }"#);
        assert_eq!(transport(&all[2..3]), r#"{ kind: "cookie" }"#);
        assert_eq!(transport(&[]), r#"{ kind: "none" }"#);
    }

    fn spec(name: &str) -> Api {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../specs")
            .join(format!("{name}.yaml"));
        crate::load(&path).unwrap_or_else(|e| panic!("{name}: {e}"))
    }

    /// A copy of `api`'s first message named `name`, as resolution names it.
    fn message_named(api: &Api, name: &str) -> crate::ir::Message {
        let mut message = api.messages[0].clone();
        message.name = name.into();
        message.idents = naming::message(name);
        message
    }

    /// Adds schema `name` (a copy of the first) and settles every
    /// schema's name again, as resolution does.
    fn add_schema(api: &mut Api, name: &str) {
        let schema = api.schemas[0].schema.clone();
        api.schemas.push(crate::ir::NamedSchema {
            name: name.into(),
            type_name: naming::pascal(name),
            schema,
        });
        rename_schemas(api);
    }

    fn rename_schemas(api: &mut Api) {
        let names = naming::schema_type_names(&api.schemas, &api.messages, &api.endpoints);
        for (schema, name) in api.schemas.iter_mut().zip(names) {
            schema.type_name = name;
        }
    }

    #[test]
    fn open_message_is_exported_only_by_modules_with_open_messages() {
        // A message called `open` is `OpenMessage`: fine where no endpoint
        // has open messages, a clash where one does.
        let mut api = spec("prsm");
        let open = message_named(&api, "open");
        api.messages.push(open.clone());
        let module = generate(&api).unwrap_or_else(|e| panic!("{e}"));
        assert!(module.contains("export interface OpenMessage {"));
        assert!(!module.contains("export type OpenMessage"));
        let mut api = spec("shipvox");
        let with_open = generate(&api).unwrap_or_else(|e| panic!("{e}"));
        assert!(with_open.contains("export type OpenMessage = __WsauthOpenMessage;"));
        assert!(with_open.contains("  sendOpen(message: OpenMessage): boolean {"));
        api.messages.push(open);
        let error = generate(&api).err().map(|e| e.to_string());
        assert_eq!(
            error.as_deref(),
            Some(
                "the TypeScript client would declare `OpenMessage` for both \
                 message `open` and open messages; rename one of them in the spec"
            )
        );
    }

    #[test]
    fn names_one_module_cannot_tell_apart_are_an_error_not_broken_code() {
        // Message `conversation_server` would be `ConversationServerMessage`,
        // already endpoint `conversation`'s union of server messages.
        let mut api = spec("prsm");
        let clash = message_named(&api, "conversation_server");
        api.messages.push(clash);
        let error = generate(&api).err().map(|e| e.to_string());
        assert_eq!(
            error.as_deref(),
            Some(
                "the TypeScript client would declare `ConversationServerMessage` for both \
                 message `conversation_server` and endpoint `conversation`; rename one of them in the spec"
            )
        );
        // `a_1` and `a1` are both `A1`.
        let mut api = spec("prsm");
        for name in ["a_1", "a1"] {
            let message = message_named(&api, name);
            api.messages.push(message);
        }
        assert!(matches!(generate(&api), Err(GenError::NameClash { .. })));
    }

    #[test]
    fn schemas_yield_to_generated_names() {
        let mut api = spec("prsm");
        add_schema(&mut api, "CloseError");
        add_schema(&mut api, "ConnectedMessage");
        let names = Names::new(&api).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(names.schema("Problem"), "Problem");
        assert_eq!(names.schema("CloseError"), "CloseErrorSchema");
        assert_eq!(names.schema("ConnectedMessage"), "ConnectedMessageSchema");
    }

    #[test]
    fn suffixed_schema_names_never_land_on_another_schema() {
        // `ChatMessage` yields to message `chat`'s type; its `Schema`
        // suffix would give the name of schema `ChatMessageSchema`.
        let mut api = spec("prsm");
        let chat = message_named(&api, "chat");
        api.messages.push(chat);
        for name in ["ChatMessage", "ChatMessageSchema"] {
            add_schema(&mut api, name);
        }
        let names = Names::new(&api).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(names.schema("ChatMessage"), "ChatMessageSchemaSchema");
        assert_eq!(names.schema("ChatMessageSchema"), "ChatMessageSchema");
        let ts = generate(&api).unwrap_or_else(|e| panic!("{e}"));
        for name in [
            "ChatMessage",
            "ChatMessageSchema",
            "ChatMessageSchemaSchema",
        ] {
            let declared = ts
                .lines()
                .filter(|l| l.starts_with(&format!("export interface {name} ")))
                .count();
            assert_eq!(declared, 1, "{name} declared once");
        }
        // The same order backwards gives the same names.
        let last = api.schemas.len() - 1;
        api.schemas.swap(last - 1, last);
        rename_schemas(&mut api);
        let names = Names::new(&api).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(names.schema("ChatMessage"), "ChatMessageSchemaSchema");
        assert_eq!(names.schema("ChatMessageSchema"), "ChatMessageSchema");
        // Two schemas of one name cannot both be declared.
        let twice = api.schemas[0].clone();
        api.schemas.push(twice);
        assert_eq!(
            generate(&api).err().map(|e| e.to_string()).as_deref(),
            Some(
                "the TypeScript client would declare `Problem` for both schema `Problem` and \
                 schema `Problem`; rename one of them in the spec"
            )
        );
    }

    #[test]
    fn line_separators_in_the_title_or_path_cannot_start_code() {
        let mut api = spec("prsm");
        api.title = "Chat\u{2028}export const pwned = globalThis; /*".into();
        api.version = "1\u{2029}export const pwned2 = 2; /*".into();
        api.endpoints[0].path = "/ws\u{2029}export const pwned3 = 3; /*".into();
        api.endpoints[1].path = "/ws\u{2028}export const pwned4 = 4; /*".into();
        api.endpoints[1].description = Some("about\u{2028}export const pwned5 = 5;".into());
        let ts = generate(&api).unwrap_or_else(|e| panic!("{e}"));
        // Lines as TypeScript reads them.
        let code: Vec<&str> = ts
            .split(['\n', '\r', '\u{2028}', '\u{2029}'])
            .filter(|l| l.contains("pwned"))
            .collect();
        assert!(!code.is_empty());
        for line in code {
            let line = line.trim_start();
            assert!(
                line.starts_with("//") || line.starts_with("/*") || line.starts_with('*'),
                "spec text outside a comment: {line:?}"
            );
        }
        assert!(ts.starts_with(
            "// Chat export const pwned = globalThis; /* 1 export const pwned2 = 2; /*: the TypeScript client.\n"
        ));
        assert_eq!(one_line("a\nb\rc\u{2028}d\u{2029}e"), "a b c d e");
        assert_eq!(literal("a\u{2028}b\u{2029}"), r#""a\u2028b\u2029""#);
    }

    #[test]
    fn prsm_module_has_typed_sends_and_codes() {
        let ts = generate(&spec("prsm")).unwrap_or_else(|e| panic!("{e}"));
        assert!(ts.contains("export function connectConversation(params: ConversationParams, options: TokenOptions): ConversationConnection"), "{ts}");
        assert!(
            ts.contains("sendSendMessage(payload: Omit<SendMessageMessage, \"type\">): boolean")
        );
        assert!(ts.contains(
            "sendSubscribeConversation(payload: Omit<SubscribeConversationMessage, \"type\"> = {}): boolean"
        ));
        assert!(ts.contains("export interface ErrorMessage extends Problem {"));
        assert!(ts.contains("  AuthFailed: 4001,"));
        assert!(ts.contains("  4008: { action: \"backoff\", kinds: [\"too_many_connections\"] },"));
        assert!(ts.contains(
            "\"/ws/conversation/\" + __wsauthSegment(String(params.user_id)) + \"/\" + __wsauthSegment(String(params.conversation_id))"
        ));
        // web3 takes no subprotocol: the token goes in the query.
        assert!(ts.contains(r#"transport: { kind: "query", name: "token" },"#));
        assert!(
            !ts.contains("sendAiToken"),
            "only the endpoint's receives are sendable"
        );
        // Both endpoints that list `conversation` subscribe to it, typed.
        let subscribe = "  subscribeConversation(params: ConversationTopicParams, \
             handlers: ConversationTopicHandlers = {}): Promise<ConversationSubscription> {";
        assert_eq!(ts.matches(subscribe).count(), 2, "{ts}");
        assert!(ts.contains(
            "export type ConversationSubscription = TopicSubscription<ConversationTopicParams> \
             & PublishingSubscription<ConversationTopicMessage> & PresenceSubscription;"
        ));
        assert!(ts.contains("export type ConversationTopicHandlers = TopicHandlers<ConversationTopicMessage> & PresenceHandlers;"));
        // The refusal words come from `wsauth_spec::wire::TopicRefusal`.
        assert!(ts.contains(
            "export type TopicRefusal = \"unknown_topic\" | \"invalid_params\" | \"forbidden\" | \"not_found\" \
             | \"too_many_subscriptions\" | \"not_subscribed\" | \"invalid_message\" | \"server_error\";"
        ));
    }

    #[test]
    fn topics_without_publish_or_presence_offer_neither() {
        let mut api = spec("prsm");
        api.topics[0].publish = None;
        api.topics[0].presence = false;
        let ts = generate(&api).unwrap_or_else(|e| panic!("{e}"));
        assert!(ts.contains(
            "export type ConversationSubscription = TopicSubscription<ConversationTopicParams>;"
        ));
        assert!(ts.contains(
            "export type ConversationTopicHandlers = TopicHandlers<ConversationTopicMessage>;"
        ));
    }

    #[test]
    fn only_specs_whose_clients_subscribe_carry_the_topic_runtime() {
        let with = generate(&spec("prsm")).unwrap_or_else(|e| panic!("{e}"));
        // echo has no topics; shipvox's reaches its clients as messages.
        for name in ["echo", "shipvox"] {
            let without = generate(&spec(name)).unwrap_or_else(|e| panic!("{e}"));
            for runtime in ["class __WsauthTopics", "#topics", "__wsauthSubscribe"] {
                assert!(with.contains(runtime), "prsm lacks {runtime}");
                assert!(!without.contains(runtime), "{name} carries {runtime}");
            }
        }
    }

    #[test]
    fn topics_the_server_joins_offer_no_subscription_and_open_topics_carry_open_messages() {
        // shipvox's `everyone` reaches `broadcast` as its own messages.
        let ts = generate(&spec("shipvox")).unwrap_or_else(|e| panic!("{e}"));
        assert!(!ts.contains("subscribeEveryone"), "{ts}");
        assert!(!ts.contains("EveryoneTopicMessage"), "{ts}");
        // Had its clients subscribed, they would have been offered it, with
        // open messages among the topic's.
        let mut api = spec("shipvox");
        api.endpoints[0].topics[0].deliver = crate::ir::Deliver::Publication;
        let ts = generate(&api).unwrap_or_else(|e| panic!("{e}"));
        assert!(ts.contains("  subscribeEveryone("), "{ts}");
        assert!(ts.contains("export type EveryoneTopicMessage = RelayedMessage | OpenMessage;"));
        assert!(
            ts.contains("open: { declared: [\"connected\", \"say\", \"relayed\"] } } as const;")
        );
    }

    #[test]
    fn topic_names_that_clash_are_an_error() {
        // Message `conversation_topic` would be `ConversationTopicMessage`,
        // topic `conversation`'s union of messages.
        let mut api = spec("prsm");
        let clash = message_named(&api, "conversation_topic");
        api.messages.push(clash);
        assert_eq!(
            generate(&api).err().map(|e| e.to_string()).as_deref(),
            Some(
                "the TypeScript client would declare `ConversationTopicMessage` for both \
                 message `conversation_topic` and topic `conversation`; rename one of them in the spec"
            )
        );
    }
}
