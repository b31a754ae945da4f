//! What the runtime enforces: a spec, resolved, as plain `'static` data.
//!
//! # Motivation
//!
//! The runtime never reads YAML. The proc-macro (through `wsauth-gen`) reads
//! the spec at compile time and emits these descriptors as constants, so a
//! running server carries exactly the rules that were checked when it was
//! built, and nothing can fail to parse at start-up. Tests and applications
//! that build descriptors by hand use the same types.
//!
//! Everything is borrowed for `'static`: a descriptor is a `const`, costs
//! nothing to share, and is never mutated. Look-ups the hot path needs
//! (message permissions by type) are compiled into maps once, when the router
//! is built, not here.

pub use wsauth_spec::Limits;
use wsauth_spec::{
    Access, Algorithm, ClaimShape, ClientAction, Deliver, ExpiryPolicy, FailureKind, Fallback,
    Frames, ParamType, TokenSource,
};

/// A whole API.
#[derive(Clone, Copy, Debug)]
pub struct ApiDescriptor {
    /// Machine name, e.g. `prsm`.
    pub name: &'static str,
    /// Authentication; `None` when every endpoint is anonymous.
    pub auth: Option<AuthDescriptor>,
    /// Roles and what they grant.
    pub roles: &'static [RoleDescriptor],
    /// How each failure kind closes a connection; every kind is present.
    pub close_codes: &'static [CloseDescriptor],
    /// The statistics endpoint, if the spec has one.
    pub stats: Option<StatsDescriptor>,
    /// The endpoints.
    pub endpoints: &'static [EndpointDescriptor],
    /// The topics: fan-out instances connections subscribe to.
    pub topics: &'static [TopicDescriptor],
}

/// Authentication settings.
#[derive(Clone, Copy, Debug)]
pub struct AuthDescriptor {
    /// Token sources in precedence order (an endpoint may narrow them).
    pub sources: &'static [TokenSource<&'static str>],
    /// Local JWT verification.
    pub jwt: Option<JwtDescriptor>,
    /// Remote introspection and its fallback, when configured.
    pub introspection: Option<Fallback>,
    /// What happens at `exp` on a live connection.
    pub on_expiry: ExpiryPolicy,
    /// Role whose permissions anonymous connections get.
    pub anonymous_role: Option<&'static str>,
}

/// What a JWT must satisfy.
#[derive(Clone, Copy, Debug)]
pub struct JwtDescriptor {
    /// Key slots, matched by `kid`; a single slot also takes tokens without `kid`.
    pub keys: &'static [KeySlot],
    /// Required `iss`.
    pub issuer: Option<&'static str>,
    /// Accepted `aud` values; empty: `aud` is not checked.
    pub audience: &'static [&'static str],
    /// Clock skew allowed on `exp`/`nbf`, seconds; at most
    /// [`MAX_LEEWAY_S`](wsauth_spec::MAX_LEEWAY_S) ([`Verifier::new`](crate::jwt::Verifier::new)
    /// refuses more).
    pub leeway_s: u64,
    /// Longest lifetime (`exp - iat`), seconds; `iat` is then required.
    /// Descriptors from a spec always have one (the spec's `max_ttl_s`, or
    /// [`DEFAULT_MAX_TTL_S`](wsauth_spec::DEFAULT_MAX_TTL_S)); `None`, for
    /// hand-built descriptors only, bounds nothing.
    pub max_ttl_s: Option<u64>,
    /// Claim holding the subject.
    pub subject_claim: &'static str,
    /// Claim holding the roles.
    pub roles_claim: &'static str,
    /// Whether that claim is an array or one string.
    pub roles_shape: ClaimShape,
}

/// A named key slot and the algorithms it may verify (one family).
#[derive(Clone, Copy, Debug)]
pub struct KeySlot {
    /// Slot name; the token's `kid` selects it.
    pub name: &'static str,
    /// Allowed algorithms.
    pub algorithms: &'static [Algorithm],
}

/// A role.
#[derive(Clone, Copy, Debug)]
pub struct RoleDescriptor {
    /// Name as found in tokens.
    pub name: &'static str,
    /// Granted `*`.
    pub all: bool,
    /// Granted permissions (wildcards expanded).
    pub permissions: &'static [&'static str],
}

/// How one failure kind closes a connection.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CloseDescriptor {
    /// The failure.
    pub kind: FailureKind,
    /// WebSocket close code.
    pub code: u16,
    /// Generic reason (at most 123 bytes).
    pub reason: &'static str,
    /// What clients do.
    pub client: ClientAction,
}

/// The statistics endpoint.
#[derive(Clone, Copy, Debug)]
pub struct StatsDescriptor {
    /// HTTP path.
    pub path: &'static str,
    /// Permission needed.
    pub perm: &'static str,
}

/// A WebSocket endpoint.
#[derive(Clone, Copy, Debug)]
pub struct EndpointDescriptor {
    /// Name.
    pub name: &'static str,
    /// Route, with `{param}` segments (axum's syntax).
    pub path: &'static str,
    /// Path parameters in path order.
    pub params: &'static [ParamDescriptor],
    /// Who may connect.
    pub access: Access,
    /// Token sources in precedence order.
    pub sources: &'static [TokenSource<&'static str>],
    /// Permission needed to connect.
    pub perm: Option<&'static str>,
    /// Resource checks, in order.
    pub checks: &'static [&'static str],
    /// Welcome message type.
    pub welcome: Option<&'static str>,
    /// Messages the client may send, with the permission each needs.
    pub receives: &'static [ReceiveDescriptor],
    /// Messages the server may send.
    pub sends: &'static [&'static str],
    /// Open messages (types the spec does not declare), when allowed.
    pub open: Option<OpenDescriptor>,
    /// Frame format.
    pub frames: Frames,
    /// Text keepalive `(ping, pong)`.
    pub heartbeat: Option<(&'static str, &'static str)>,
    /// Effective limits.
    pub limits: Limits,
    /// The topics its connections may join (each one of
    /// [`ApiDescriptor::topics`]), and how they get each.
    pub topics: &'static [EndpointTopicDescriptor],
}

impl EndpointDescriptor {
    /// How connections of this endpoint get topic `name`; `None` when the
    /// endpoint does not list it.
    pub fn delivery(&self, name: &str) -> Option<Deliver> {
        self.topics
            .iter()
            .find(|t| t.name == name)
            .map(|t| t.deliver)
    }
}

/// A topic an endpoint lists.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct EndpointTopicDescriptor {
    /// The topic's name.
    pub name: &'static str,
    /// [`Deliver::Publication`]: clients subscribe, and publications arrive
    /// as `wsauth.publication` envelopes. [`Deliver::Message`]: only server
    /// code joins connections, and publications arrive as the messages'
    /// own frames.
    pub deliver: Deliver,
}

/// A topic: a family of fan-out instances, one per value of its params
/// (`conversation` with `conversation_id: 42`). Who may subscribe and
/// publish, and what flows on it, are the spec's.
#[derive(Clone, Copy, Debug)]
pub struct TopicDescriptor {
    /// Name.
    pub name: &'static str,
    /// The params that pick an instance, in key order. A topic without
    /// params has one instance.
    pub params: &'static [TopicParamDescriptor],
    /// Permission needed to subscribe. A spec always names one; `None`
    /// (hand-built descriptors only) lets any admitted connection.
    pub subscribe: Option<&'static str>,
    /// Resource checks run on subscribe and again on every in-band
    /// refresh, in order (with the topic's params as the check's params).
    pub checks: &'static [&'static str],
    /// Permission a client needs to publish; `None`: only the server
    /// publishes.
    pub publish: Option<&'static str>,
    /// The messages that may flow on it, each with its payload schema (for
    /// client publishes; `perm` is unused here: [`Self::publish`] governs).
    pub messages: &'static [ReceiveDescriptor],
    /// Whether subscribers see who else is subscribed (by subject).
    pub presence: bool,
    /// The missed messages a resubscribing client may recover.
    pub history: Option<HistoryDescriptor>,
    /// Open messages (types the spec does not declare) flow on it too,
    /// when set.
    pub open: Option<OpenTopicDescriptor>,
}

/// A topic's open messages: any JSON object whose `type` is none of the
/// spec's messages and not the framework's (`wsauth.`).
#[derive(Clone, Copy, Debug)]
pub struct OpenTopicDescriptor {
    /// Every message type the spec declares: never open, so an open
    /// message cannot pass for a declared one.
    pub declared: &'static [&'static str],
}

impl OpenTopicDescriptor {
    /// Whether `kind` may be an open message's `type`.
    pub fn admits(&self, kind: &str) -> bool {
        open_type(self.declared, kind)
    }
}

/// A topic param: its name and type (`integer` params must be in their
/// canonical form, as path params).
#[derive(Clone, Copy, Debug)]
pub struct TopicParamDescriptor {
    /// Name.
    pub name: &'static str,
    /// Type.
    pub ty: ParamType,
}

/// A topic's history: how many messages each instance keeps, and for how
/// long.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct HistoryDescriptor {
    /// Most messages kept per instance.
    pub size: u32,
    /// Seconds a message is kept.
    pub ttl_s: u32,
}

/// Open messages on an endpoint: JSON objects whose `type` is none of the
/// spec's messages and not the framework's (`wsauth.`), with any fields.
/// Size and rate limits apply to them as to every message.
#[derive(Clone, Copy, Debug)]
pub struct OpenDescriptor {
    /// Clients may send them.
    pub receives: bool,
    /// The server may send them.
    pub sends: bool,
    /// Permission a client needs to send one. A spec always names one
    /// when `receives` is set; `None` (hand-built descriptors only) means
    /// any admitted connection may.
    pub perm: Option<&'static str>,
    /// Every message type the spec declares: never open, on any endpoint,
    /// so an open message cannot pass for a declared one.
    pub declared: &'static [&'static str],
}

impl OpenDescriptor {
    /// Whether `kind` may be an open message's `type`.
    pub fn admits(&self, kind: &str) -> bool {
        open_type(self.declared, kind)
    }
}

pub use wsauth_spec::wire::RESERVED_PREFIX;

/// Whether `kind` may be an open message's `type`: none of `declared`,
/// nor the framework's.
fn open_type(declared: &[&str], kind: &str) -> bool {
    !kind.starts_with(RESERVED_PREFIX) && !declared.contains(&kind)
}

/// A path parameter.
#[derive(Clone, Copy, Debug)]
pub struct ParamDescriptor {
    /// Name.
    pub name: &'static str,
    /// Type; the segment must be in its canonical form.
    pub ty: ParamType,
    /// Must equal the token's subject.
    pub equals_subject: bool,
}

/// A message a client may send.
#[derive(Clone, Copy, Debug)]
pub struct ReceiveDescriptor {
    /// The `type` on the wire.
    pub name: &'static str,
    /// Permission needed to send it.
    pub perm: Option<&'static str>,
    /// The payload's schema (an object, or a reference to one): the loop
    /// checks every message against it before its handler sees it.
    /// Generated descriptors always have one; `None`, for hand-built
    /// descriptors only, checks nothing beyond the `type`.
    pub payload: Option<&'static SchemaDescriptor>,
}

/// A payload schema, as the runtime checks it: the connection's loop checks
/// every message a client sends against its [`ReceiveDescriptor::payload`]
/// before the handler sees it, and refuses one that fails as the spec's
/// `invalid_message`.
///
/// Named schemas are `static`s that [`SchemaDescriptor::Ref`] points to, so
/// a schema may refer to itself (a tree of nodes) without the descriptor
/// being infinite.
#[derive(Clone, Copy, Debug)]
pub enum SchemaDescriptor {
    /// A JSON object with exactly these fields (none other allowed).
    Object {
        /// Its fields, in spec order.
        fields: &'static [FieldDescriptor],
    },
    /// A string.
    String(StringDescriptor),
    /// A whole number that fits an `i64` (the generated Rust type).
    Integer(Bounds),
    /// Any JSON number.
    Number(Bounds),
    /// `true` or `false`.
    Boolean,
    /// A JSON array.
    Array {
        /// Every item's schema.
        items: &'static SchemaDescriptor,
        /// Fewest items.
        min_items: Option<u64>,
        /// Most items.
        max_items: Option<u64>,
    },
    /// Any JSON value.
    Any,
    /// A named schema.
    Ref(&'static SchemaDescriptor),
}

/// A field of an object schema.
#[derive(Clone, Copy, Debug)]
pub struct FieldDescriptor {
    /// JSON name.
    pub name: &'static str,
    /// Whether it must be present (`null` never stands in for a value).
    pub required: bool,
    /// Its schema.
    pub schema: SchemaDescriptor,
}

/// What a string must satisfy.
#[derive(Clone, Copy, Debug, Default)]
pub struct StringDescriptor {
    /// Allowed values; empty: any.
    pub values: &'static [&'static str],
    /// Fewest characters (Unicode scalar values, as JSON Schema counts).
    pub min_length: Option<u64>,
    /// Most characters.
    pub max_length: Option<u64>,
    /// A format the runtime checks; formats it does not check are left out.
    pub format: Option<Format>,
    /// A regular expression it must match somewhere.
    pub pattern: Option<&'static Pattern>,
}

/// Inclusive numeric bounds.
#[derive(Clone, Copy, Debug, Default)]
pub struct Bounds {
    /// Smallest allowed.
    pub minimum: Option<f64>,
    /// Largest allowed.
    pub maximum: Option<f64>,
}

/// The string formats the runtime checks: those whose grammar is short and
/// exact. `uri` and `email` are documentation only (their grammars are
/// large, and a partial check would refuse valid values or pass invalid
/// ones), as JSON Schema itself treats `format` by default.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    /// RFC 3339 `date-time`: `2026-11-22T10:00:00Z`, with optional
    /// fraction and a `Z` or `±hh:mm` offset.
    DateTime,
    /// RFC 3339 `full-date`: `2026-11-22`.
    Date,
    /// An RFC 9562 UUID in its hyphenated form, any case.
    Uuid,
}

/// A `pattern`, compiled the first time a message needs it and then kept
/// for the life of the process (generated descriptors hold it in a
/// `static`). The spec's validator compiled it with the same `regex` crate,
/// so a generated one always compiles; a hand-built one that does not
/// refuses every value (fail closed).
pub struct Pattern {
    source: &'static str,
    compiled: std::sync::OnceLock<Option<regex::Regex>>,
}

impl Pattern {
    /// A pattern, not yet compiled.
    pub const fn new(source: &'static str) -> Self {
        Pattern {
            source,
            compiled: std::sync::OnceLock::new(),
        }
    }

    /// The pattern as the spec writes it.
    pub fn source(&self) -> &'static str {
        self.source
    }

    /// Whether `text` matches somewhere; `None` when the pattern does not
    /// compile.
    pub(crate) fn is_match(&self, text: &str) -> Option<bool> {
        self.compiled
            .get_or_init(|| regex::Regex::new(self.source).ok())
            .as_ref()
            .map(|re| re.is_match(text))
    }
}

impl std::fmt::Debug for Pattern {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_tuple("Pattern").field(&self.source).finish()
    }
}

impl ApiDescriptor {
    /// The close behaviour for `kind`. Generated descriptors list every kind;
    /// a hand-built one missing a kind gets the framework default.
    pub fn close(&self, kind: FailureKind) -> CloseDescriptor {
        self.close_codes
            .iter()
            .find(|c| c.kind == kind)
            .copied()
            .unwrap_or_else(|| {
                let (code, reason, client) = kind.default_close();
                CloseDescriptor {
                    kind,
                    code,
                    reason,
                    client,
                }
            })
    }

    /// The endpoint called `name`.
    pub fn endpoint(&self, name: &str) -> Option<&'static EndpointDescriptor> {
        self.endpoints.iter().find(|e| e.name == name)
    }
}
