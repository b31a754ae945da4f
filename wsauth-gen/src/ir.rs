//! The resolved API: what every backend and the proc-macro read.
//!
//! # Motivation
//!
//! The spec as written has shorthands, defaults, inheritance (endpoint
//! limits over spec limits over framework defaults), wildcards (`admin: ["*"]`)
//! and cross-references by name. Every consumer would otherwise re-derive
//! them, and sooner or later two would derive them differently. The IR is that
//! derivation done once, after validation, so that:
//!
//! - every name it contains is known to exist (a backend may index freely);
//! - every default is filled in (the close-code catalogue lists every
//!   [`FailureKind`], limits have no gaps);
//! - every generated identifier is decided, once for all outputs
//!   ([`crate::naming`]): each message, endpoint and named schema carries
//!   its identifiers (topics too), and [`Api::close_catalogue`] groups the close codes
//!   with one name per code;
//! - order is the spec's own, deterministic, so generated files are stable.
//!
//! Items keep a [`Loc`] (line and column in the spec) so the proc-macro can
//! point from a Rust error to the spec line; locations and identifiers are
//! left out of the serialized form, which therefore describes the API's
//! meaning only.

use serde::Serialize;

pub use crate::spec::model::{
    Access, Algorithm, Binding, ClaimShape, ClientAction, Deliver, ExpiryPolicy, FailureKind,
    Fallback, Frames, KeyFamily, ParamType, SchemaType, SourceKind, TokenSource,
};
pub use wsauth_spec::Limits;

/// A position in the spec file, 1-based.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Loc {
    /// Line number.
    pub line: usize,
    /// Column, in characters.
    pub column: usize,
}

/// A whole validated API.
#[derive(Clone, Debug, Serialize)]
pub struct Api {
    /// Machine name (`prsm`).
    pub name: String,
    /// Human title; the name when the spec gives none.
    pub title: String,
    /// API version.
    pub version: String,
    /// Markdown description.
    pub description: Option<String>,
    /// Servers, in spec order.
    pub servers: Vec<Server>,
    /// Authentication; `None` when every endpoint is anonymous.
    pub auth: Option<Auth>,
    /// Declared permissions, in spec order.
    pub permissions: Vec<Permission>,
    /// Roles with their permissions expanded, in spec order.
    pub roles: Vec<Role>,
    /// Named resource checks, in spec order.
    pub checks: Vec<Check>,
    /// One entry per [`FailureKind`], in the kinds' declaration order.
    pub close_codes: Vec<CloseCode>,
    /// The same, grouped by code: one entry per distinct code, in the order
    /// codes first appear in [`Api::close_codes`]. What every output lists
    /// and names.
    #[serde(skip)]
    pub close_catalogue: Vec<CloseCodeGroup>,
    /// Spec-wide limits with defaults filled in.
    pub limits: Limits,
    /// The statistics endpoint, if any.
    pub stats: Option<Stats>,
    /// Endpoints, in spec order.
    pub endpoints: Vec<Endpoint>,
    /// Topics, in spec order.
    pub topics: Vec<Topic>,
    /// Messages, in spec order.
    pub messages: Vec<Message>,
    /// Named schemas, in spec order.
    pub schemas: Vec<NamedSchema>,
}

/// A server.
#[derive(Clone, Debug, Serialize)]
pub struct Server {
    /// Key in `servers`.
    pub name: String,
    /// `ws://` or `wss://` URL.
    pub url: String,
    /// For docs.
    pub description: Option<String>,
}

/// Authentication settings.
#[derive(Clone, Debug, Serialize)]
pub struct Auth {
    /// Token sources in precedence order.
    pub sources: Vec<TokenSource>,
    /// Local JWT verification, if configured.
    pub jwt: Option<Jwt>,
    /// Remote introspection, if configured.
    pub introspection: Option<Introspection>,
    /// Behaviour at `exp` on a live connection.
    pub on_expiry: ExpiryPolicy,
    /// Role granted to anonymous connections.
    pub anonymous_role: Option<String>,
    /// Where clients get tokens.
    pub token_url: Option<String>,
    /// For docs.
    pub description: Option<String>,
}

/// JWT verification settings with defaults applied.
#[derive(Clone, Debug, Serialize)]
pub struct Jwt {
    /// Key slots; a spec with bare `algorithms` has one, named `default`.
    pub keys: Vec<JwtKey>,
    /// Required `iss`.
    pub issuer: Option<String>,
    /// Accepted audiences; empty means `aud` is not checked.
    pub audience: Vec<String>,
    /// Clock skew allowance in seconds (default 0, at most
    /// [`MAX_LEEWAY_S`](wsauth_spec::MAX_LEEWAY_S)).
    pub leeway_s: u64,
    /// Longest token lifetime in seconds (default [`DEFAULT_MAX_TTL_S`](wsauth_spec::DEFAULT_MAX_TTL_S)):
    /// always bounded, so `iat` is always required.
    pub max_ttl_s: u64,
    /// Claim holding the subject.
    pub subject_claim: String,
    /// Claim holding the roles.
    pub roles_claim: String,
    /// Shape of the roles claim.
    pub roles_shape: ClaimShape,
}

/// A key slot.
#[derive(Clone, Debug, Serialize)]
pub struct JwtKey {
    /// Slot name, matched against `kid`.
    pub name: String,
    /// The family all its algorithms belong to.
    pub family: KeyFamily,
    /// Allowed algorithms.
    pub algorithms: Vec<Algorithm>,
    /// For docs.
    pub description: Option<String>,
}

/// Remote introspection settings.
#[derive(Clone, Debug, Serialize)]
pub struct Introspection {
    /// Behaviour when the service is unreachable.
    pub fallback: Fallback,
    /// For docs.
    pub description: Option<String>,
}

/// A declared permission.
#[derive(Clone, Debug, Serialize)]
pub struct Permission {
    /// Dotted name.
    pub name: String,
    /// What it allows.
    pub description: String,
    /// Where it is declared.
    #[serde(skip)]
    pub loc: Loc,
}

/// A role and everything it grants.
#[derive(Clone, Debug, Serialize)]
pub struct Role {
    /// Role name as found in tokens.
    pub name: String,
    /// For docs.
    pub description: Option<String>,
    /// True when the role was granted `*` (including permissions added later).
    pub all: bool,
    /// Every permission granted, wildcards expanded, in declaration order.
    pub permissions: Vec<String>,
}

/// A named resource check.
#[derive(Clone, Debug, Serialize)]
pub struct Check {
    /// Name; the application implements a function of this name.
    pub name: String,
    /// What it decides.
    pub description: String,
    /// Where it is declared.
    #[serde(skip)]
    pub loc: Loc,
}

/// How one failure kind closes a connection.
#[derive(Clone, Debug, Serialize)]
pub struct CloseCode {
    /// The failure.
    pub kind: FailureKind,
    /// Close code.
    pub code: u16,
    /// Close reason (generic, at most 123 bytes).
    pub reason: String,
    /// Client behaviour.
    pub client: ClientAction,
    /// For docs.
    pub description: Option<String>,
    /// True when the spec sets it, false for a framework default.
    pub from_spec: bool,
}

/// One close code and every failure kind that closes with it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CloseCodeGroup {
    /// Close code.
    pub code: u16,
    /// The one name every output gives it (Rust `CloseCode::Forbidden`,
    /// TypeScript `CloseCode.Forbidden`, the docs' and AsyncAPI's
    /// catalogues): see [`crate::naming::close_code`].
    pub name: String,
    /// Client behaviour (validation makes it one per code).
    pub client: ClientAction,
    /// The kinds, in their declaration order.
    pub kinds: Vec<FailureKind>,
    /// The close reasons sent with it, each with its kinds, in the order
    /// they first appear; most codes have one.
    pub reasons: Vec<CloseReason>,
}

/// A close reason and the failure kinds that send it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CloseReason {
    /// The reason.
    pub text: String,
    /// Its kinds, in their declaration order.
    pub kinds: Vec<FailureKind>,
}

/// The statistics endpoint.
#[derive(Clone, Debug, Serialize)]
pub struct Stats {
    /// HTTP path.
    pub path: String,
    /// Permission needed.
    pub perm: String,
    /// For docs.
    pub description: Option<String>,
}

/// A WebSocket endpoint.
#[derive(Clone, Debug, Serialize)]
pub struct Endpoint {
    /// Name.
    pub name: String,
    /// For docs.
    pub description: Option<String>,
    /// Path template, e.g. `/ws/{user_id}`.
    pub path: String,
    /// The path split into literal and parameter segments.
    pub segments: Vec<Segment>,
    /// Parameters in path order.
    pub params: Vec<Param>,
    /// Who may connect.
    pub access: Access,
    /// Token sources in precedence order (empty for anonymous endpoints).
    pub sources: Vec<TokenSource>,
    /// Permission needed to connect.
    pub perm: Option<String>,
    /// Roles that hold `perm` (every role when there is none), for docs.
    pub roles: Vec<String>,
    /// Resource checks in order.
    pub checks: Vec<String>,
    /// Welcome message.
    pub welcome: Option<String>,
    /// Messages the client may send.
    pub receives: Vec<String>,
    /// Messages the server may send, the welcome first.
    pub sends: Vec<String>,
    /// Open messages (types the spec does not declare), when allowed.
    pub open: Option<Open>,
    /// Frame format.
    pub frames: Frames,
    /// Text keepalive.
    pub heartbeat: Option<Heartbeat>,
    /// Effective limits.
    pub limits: Limits,
    /// Topics its connections may join, in the endpoint's order.
    pub topics: Vec<EndpointTopic>,
    /// What generated code calls it.
    #[serde(skip)]
    pub idents: EndpointIdents,
    /// Where it is declared.
    #[serde(skip)]
    pub loc: Loc,
}

/// A topic an endpoint lists, and how its connections get it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct EndpointTopic {
    /// The topic's name.
    pub name: String,
    /// `publication`: clients subscribe, publications arrive as envelopes.
    /// `message`: the handler joins connections, publications arrive as
    /// the endpoint's own messages (clients are offered no subscription).
    pub deliver: Deliver,
}

impl EndpointTopic {
    /// Whether clients subscribe to it themselves.
    pub fn client_subscribes(&self) -> bool {
        self.deliver == Deliver::Publication
    }
}

/// The identifiers generated code gives an endpoint, decided by
/// [`crate::naming::endpoint`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EndpointIdents {
    /// Its type name in every language: the Rust `Handlers` type parameter
    /// (`Conversation`), the stem of the TypeScript names below.
    pub type_name: String,
    /// The Rust module under `endpoints` and the `Handlers` field
    /// (`conversation`; raw when a keyword).
    pub rust_module: String,
    /// The TypeScript connection class (`ConversationConnection`).
    pub ts_connection: String,
    /// The TypeScript path parameters (`ConversationParams`).
    pub ts_params: String,
    /// The TypeScript union of what the server sends (`ConversationServerMessage`).
    pub ts_server_message: String,
    /// The TypeScript union of what the client sends (`ConversationClientMessage`).
    pub ts_client_message: String,
    /// The TypeScript connect function (`connectConversation`).
    pub ts_connect: String,
}

/// One segment of an endpoint path.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Segment {
    /// Matched exactly.
    Literal(String),
    /// A `{param}`.
    Param(String),
}

/// A path parameter.
#[derive(Clone, Debug, Serialize)]
pub struct Param {
    /// Name.
    pub name: String,
    /// Type.
    #[serde(rename = "type")]
    pub ty: ParamType,
    /// Binding to the token subject.
    pub equals: Option<Binding>,
    /// For docs.
    pub description: Option<String>,
}

/// Open messages on an endpoint: JSON objects whose `type` is none of the
/// spec's messages (nor `wsauth.*`), with arbitrary fields.
#[derive(Clone, Debug, Serialize)]
pub struct Open {
    /// Clients may send them.
    pub receives: bool,
    /// The server may send them.
    pub sends: bool,
    /// Permission a client needs to send one (always set when `receives`).
    pub perm: Option<String>,
    /// For docs.
    pub description: Option<String>,
}

/// A text keepalive.
#[derive(Clone, Debug, Serialize)]
pub struct Heartbeat {
    /// Client's text.
    pub ping: String,
    /// Server's reply.
    pub pong: String,
}

/// A topic: fan-out instances, one per value of its params.
#[derive(Clone, Debug, Serialize)]
pub struct Topic {
    /// Name, as on the wire (`topic`).
    pub name: String,
    /// For docs.
    pub description: Option<String>,
    /// The params that pick an instance, in key order.
    pub params: Vec<TopicParam>,
    /// Permission needed to subscribe.
    pub subscribe: String,
    /// Roles that hold `subscribe`, for docs.
    pub subscribers: Vec<String>,
    /// Resource checks run with the topic's params, in order.
    pub checks: Vec<String>,
    /// Permission a client needs to publish; `None`: only the server does.
    pub publish: Option<String>,
    /// Roles that hold `publish` (empty when there is none), for docs.
    pub publishers: Vec<String>,
    /// The messages that may flow on it, in spec order.
    pub messages: Vec<String>,
    /// Whether subscribers see who else is subscribed.
    pub presence: bool,
    /// Publications kept for resubscribing clients.
    pub history: Option<History>,
    /// Open messages (types the spec does not declare) flow on it too.
    pub open: bool,
    /// What generated code calls it.
    #[serde(skip)]
    pub idents: TopicIdents,
    /// Where it is declared.
    #[serde(skip)]
    pub loc: Loc,
}

/// A topic param.
#[derive(Clone, Debug, Serialize)]
pub struct TopicParam {
    /// Name: the key's field and the params object's member.
    pub name: String,
    /// Type: `string` or `integer`.
    #[serde(rename = "type")]
    pub ty: ParamType,
    /// For docs.
    pub description: Option<String>,
}

/// How many publications a topic instance keeps, and for how long.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub struct History {
    /// Most publications kept per instance.
    pub size: u32,
    /// Seconds each is kept.
    pub ttl_s: u32,
}

/// The identifiers generated code gives a topic, decided by
/// [`crate::naming::topic`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TopicIdents {
    /// Its type name in every language (`Conversation`): the stem of the
    /// clients' names for it.
    pub type_name: String,
    /// The Rust module under `topics` (`conversation`; raw when a keyword).
    pub rust_module: String,
    /// The TypeScript interface of its params (`ConversationTopicParams`).
    pub ts_params: String,
    /// The TypeScript union of its messages (`ConversationTopicMessage`).
    pub ts_message: String,
    /// The TypeScript type of its subscription's handlers (`ConversationTopicHandlers`).
    pub ts_handlers: String,
    /// The TypeScript type of a subscription to it (`ConversationSubscription`).
    pub ts_subscription: String,
    /// The connections' method that subscribes to it (`subscribeConversation`).
    pub ts_subscribe: String,
}

/// A message type.
#[derive(Clone, Debug, Serialize)]
pub struct Message {
    /// The `type` value on the wire.
    pub name: String,
    /// For docs.
    pub description: Option<String>,
    /// Permission a client needs to send it.
    pub perm: Option<String>,
    /// Direction, from the endpoints that use it.
    pub direction: Direction,
    /// The fields beside `type`: an object, or a reference to a named object.
    pub payload: Schema,
    /// An example message without `type`.
    pub example: Option<serde_json::Value>,
    /// What generated code calls it.
    #[serde(skip)]
    pub idents: MessageIdents,
    /// Where it is declared.
    #[serde(skip)]
    pub loc: Loc,
}

/// The identifiers generated code gives a message, decided by
/// [`crate::naming::message`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MessageIdents {
    /// Its type name in every language: the Rust type in `messages` and
    /// the variant of every message enum (`SendMessage`), the stem of the
    /// TypeScript names below.
    pub type_name: String,
    /// The TypeScript interface (`SendMessageMessage`).
    pub ts_interface: String,
    /// The TypeScript connection method that sends it (`sendSendMessage`).
    pub ts_send: String,
}

/// Who sends a message.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Direction {
    /// Client → server only.
    ClientToServer,
    /// Server → client only.
    ServerToClient,
    /// Both ways.
    Both,
    /// No endpoint uses it.
    Unused,
}

/// A named, reusable schema.
#[derive(Clone, Debug, Serialize)]
pub struct NamedSchema {
    /// Name, as in `#/schemas/Name`.
    pub name: String,
    /// Its type name in every language, decided by
    /// [`crate::naming::schema_type_names`]: usually `name`.
    #[serde(skip)]
    pub type_name: String,
    /// The schema.
    pub schema: Schema,
}

/// A resolved payload schema.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Schema {
    /// For docs.
    pub description: Option<String>,
    /// What it is.
    pub kind: SchemaKind,
}

/// The shape of a schema.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(rename_all = "snake_case", tag = "type")]
pub enum SchemaKind {
    /// An object; `fields` in spec order.
    Object {
        /// Fields.
        fields: Vec<Field>,
    },
    /// A string.
    String {
        /// Allowed values, when it is an enum.
        values: Vec<String>,
        /// Shortest length.
        min_length: Option<u64>,
        /// Longest length.
        max_length: Option<u64>,
        /// Format name.
        format: Option<String>,
        /// A regular expression it must match (unanchored, `regex` syntax).
        pattern: Option<String>,
    },
    /// A whole number.
    Integer {
        /// Smallest.
        minimum: Option<f64>,
        /// Largest.
        maximum: Option<f64>,
    },
    /// Any number.
    Number {
        /// Smallest.
        minimum: Option<f64>,
        /// Largest.
        maximum: Option<f64>,
    },
    /// A boolean.
    Boolean,
    /// A list.
    Array {
        /// Element schema.
        items: Box<Schema>,
        /// Fewest items.
        min_items: Option<u64>,
        /// Most items.
        max_items: Option<u64>,
    },
    /// Any JSON value.
    Any,
    /// A named schema from [`Api::schemas`].
    Ref {
        /// Its name.
        name: String,
    },
}

/// A field of an object schema.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Field {
    /// JSON name.
    pub name: String,
    /// Whether it must be present.
    pub required: bool,
    /// Its schema.
    pub schema: Schema,
}

impl Api {
    /// The endpoint called `name`.
    pub fn endpoint(&self, name: &str) -> Option<&Endpoint> {
        self.endpoints.iter().find(|e| e.name == name)
    }

    /// The topic called `name`.
    pub fn topic(&self, name: &str) -> Option<&Topic> {
        self.topics.iter().find(|t| t.name == name)
    }

    /// Whether the clients of some endpoint subscribe to topic `name`
    /// (else the server joins every connection that gets it, as bare
    /// messages, and clients need nothing generated for it).
    pub fn subscribed_by_clients(&self, name: &str) -> bool {
        self.endpoints.iter().any(|e| {
            e.topics
                .iter()
                .any(|t| t.name == name && t.client_subscribes())
        })
    }

    /// The message called `name`.
    pub fn message(&self, name: &str) -> Option<&Message> {
        self.messages.iter().find(|m| m.name == name)
    }

    /// The resource check called `name`.
    pub fn check(&self, name: &str) -> Option<&Check> {
        self.checks.iter().find(|c| c.name == name)
    }

    /// The role called `name`.
    pub fn role(&self, name: &str) -> Option<&Role> {
        self.roles.iter().find(|r| r.name == name)
    }

    /// The named schema called `name`.
    pub fn schema(&self, name: &str) -> Option<&Schema> {
        self.schemas
            .iter()
            .find(|s| s.name == name)
            .map(|s| &s.schema)
    }

    /// The close behaviour for a failure kind.
    /// Validation fills in every kind, so for a validated `Api` this is
    /// always `Some`.
    pub fn close_code(&self, kind: FailureKind) -> Option<&CloseCode> {
        self.close_codes.iter().find(|c| c.kind == kind)
    }

    /// The identifiers of message `name`.
    pub fn message_idents(&self, name: &str) -> Option<&MessageIdents> {
        self.message(name).map(|m| &m.idents)
    }

    /// The type name of named schema `name`.
    pub fn schema_type_name(&self, name: &str) -> Option<&str> {
        self.schemas
            .iter()
            .find(|s| s.name == name)
            .map(|s| s.type_name.as_str())
    }

    /// Whether `role` grants `perm`.
    pub fn role_grants(&self, role: &str, perm: &str) -> bool {
        self.roles
            .iter()
            .any(|r| r.name == role && (r.all || r.permissions.iter().any(|p| p == perm)))
    }
}
