//! The words of the wsauth spec format, shared by the spec library and the
//! runtime.
//!
//! # Motivation
//!
//! The generator (`wsauth-gen`) reads these words from YAML and the runtime
//! (`wsauth-core`) acts on them: a failure kind picks a close code, an
//! algorithm picks a key family, a token source says where to look. Defining
//! them once, here, means the two can never disagree on what `forbidden` or
//! `HS256` is, and the runtime does not pull in the YAML reader to learn it.
//!
//! Every closed set implements [`Keyword`]: the exact words the format
//! accepts, which are also the words serde writes.

#![forbid(unsafe_code)]

use serde::{Deserialize, Serialize};

pub mod wire;

/// Token lifetime bound (`exp - iat`, seconds) when a spec sets no
/// `max_ttl_s`: a day. A token must never be good forever, and live
/// connections close at its `exp`.
pub const DEFAULT_MAX_TTL_S: u64 = 86_400;

/// Largest clock-skew leeway (`leeway_s`, seconds) a spec or a verifier
/// accepts: clocks five minutes apart are broken, and leeway extends every
/// token's life.
pub const MAX_LEEWAY_S: u64 = 300;

/// A closed set of words, as written in a spec.
pub trait Keyword: Sized + Copy + PartialEq + 'static {
    /// Every accepted word and its value, in the order help lists them.
    const ALL: &'static [(&'static str, Self)];
    /// What the words name, for messages ("client behaviour").
    const WHAT: &'static str;

    /// The word for a value.
    fn word(self) -> &'static str {
        Self::ALL
            .iter()
            .find(|(_, v)| *v == self)
            .map_or("?", |(w, _)| w)
    }

    /// The value for a word.
    fn from_word(word: &str) -> Option<Self> {
        Self::ALL.iter().find(|(w, _)| *w == word).map(|(_, v)| *v)
    }
}

/// One place a token may travel.
///
/// Written as a bare word (`header`, `query`, `cookie`, `subprotocol`) for
/// the defaults, or as a one-key mapping to name the parameter, cookie or
/// marker protocol: `{ query: access_token }`.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TokenSource<S = String> {
    /// `Authorization: Bearer <token>` (the scheme is case-insensitive).
    Header,
    /// A query parameter of the upgrade request, by name.
    Query(S),
    /// A cookie, by name. Cookie tokens require an origin allow-list.
    Cookie(S),
    /// A `Sec-WebSocket-Protocol` entry `<marker>.bearer.<token>` beside the
    /// marker protocol `<marker>`; the 101 response selects the marker, never
    /// the token.
    Subprotocol(S),
}

impl<S> TokenSource<S> {
    /// The same source, borrowing its name.
    pub fn as_deref(&self) -> TokenSource<&str>
    where
        S: AsRef<str>,
    {
        match self {
            TokenSource::Header => TokenSource::Header,
            TokenSource::Query(n) => TokenSource::Query(n.as_ref()),
            TokenSource::Cookie(n) => TokenSource::Cookie(n.as_ref()),
            TokenSource::Subprotocol(n) => TokenSource::Subprotocol(n.as_ref()),
        }
    }

    /// The kind of source, without its name.
    pub fn kind(&self) -> SourceKind {
        match self {
            TokenSource::Header => SourceKind::Header,
            TokenSource::Query(_) => SourceKind::Query,
            TokenSource::Cookie(_) => SourceKind::Cookie,
            TokenSource::Subprotocol(_) => SourceKind::Subprotocol,
        }
    }

    /// The source a bare word stands for.
    pub fn default_for(kind: SourceKind) -> Self
    where
        S: From<&'static str>,
    {
        match kind {
            SourceKind::Header => TokenSource::Header,
            SourceKind::Query => TokenSource::Query("token".into()),
            SourceKind::Cookie => TokenSource::Cookie("access_token".into()),
            SourceKind::Subprotocol => TokenSource::Subprotocol("wsauth".into()),
        }
    }
}

#[cfg(feature = "schemars")]
impl schemars::JsonSchema for TokenSource {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "TokenSource".into()
    }
    fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
        schemars::json_schema!({
            "description": "Where a token may travel: a bare word for the default name, or a one-key mapping naming the query parameter, cookie or marker subprotocol.",
            "oneOf": [
                { "enum": ["header", "query", "cookie", "subprotocol"] },
                {
                    "type": "object",
                    "minProperties": 1,
                    "maxProperties": 1,
                    "additionalProperties": false,
                    "properties": {
                        "header": { "type": "string", "description": "Always `Authorization` (Bearer scheme)." },
                        "query": { "type": "string", "description": "Query parameter name." },
                        "cookie": { "type": "string", "description": "Cookie name." },
                        "subprotocol": { "type": "string", "description": "Marker protocol the server selects." }
                    }
                }
            ]
        })
    }
}

/// The kind of a token source, used where an endpoint narrows `auth.sources`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "schemars", derive(schemars::JsonSchema))]
#[serde(rename_all = "snake_case")]
pub enum SourceKind {
    /// `Authorization: Bearer`.
    Header,
    /// A query parameter.
    Query,
    /// A cookie.
    Cookie,
    /// A `Sec-WebSocket-Protocol` entry.
    Subprotocol,
}

impl Keyword for SourceKind {
    const ALL: &'static [(&'static str, Self)] = &[
        ("header", SourceKind::Header),
        ("query", SourceKind::Query),
        ("cookie", SourceKind::Cookie),
        ("subprotocol", SourceKind::Subprotocol),
    ];
    const WHAT: &'static str = "token source";
}

/// A JWS algorithm wsauth verifies. `none` is never one of them.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "schemars", derive(schemars::JsonSchema))]
pub enum Algorithm {
    /// HMAC with SHA-256.
    HS256,
    /// HMAC with SHA-384.
    HS384,
    /// HMAC with SHA-512.
    HS512,
    /// RSASSA-PKCS1-v1_5 with SHA-256.
    RS256,
    /// RSASSA-PKCS1-v1_5 with SHA-384.
    RS384,
    /// RSASSA-PKCS1-v1_5 with SHA-512.
    RS512,
    /// RSASSA-PSS with SHA-256.
    PS256,
    /// RSASSA-PSS with SHA-384.
    PS384,
    /// RSASSA-PSS with SHA-512.
    PS512,
    /// ECDSA P-256 with SHA-256.
    ES256,
    /// ECDSA P-384 with SHA-384.
    ES384,
    /// Ed25519.
    EdDSA,
}

/// A family of algorithms that share one kind of key.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "schemars", derive(schemars::JsonSchema))]
#[serde(rename_all = "snake_case")]
pub enum KeyFamily {
    /// A shared secret (HS*).
    Hmac,
    /// An RSA key (RS*, PS*).
    Rsa,
    /// An elliptic-curve key (ES*).
    Ec,
    /// An Ed25519 key (EdDSA).
    Okp,
}

impl Algorithm {
    /// The kind of key the algorithm needs.
    pub fn family(self) -> KeyFamily {
        use Algorithm::*;
        match self {
            HS256 | HS384 | HS512 => KeyFamily::Hmac,
            RS256 | RS384 | RS512 | PS256 | PS384 | PS512 => KeyFamily::Rsa,
            ES256 | ES384 => KeyFamily::Ec,
            EdDSA => KeyFamily::Okp,
        }
    }
}

impl Keyword for Algorithm {
    const ALL: &'static [(&'static str, Self)] = {
        use Algorithm::*;
        &[
            ("HS256", HS256),
            ("HS384", HS384),
            ("HS512", HS512),
            ("RS256", RS256),
            ("RS384", RS384),
            ("RS512", RS512),
            ("PS256", PS256),
            ("PS384", PS384),
            ("PS512", PS512),
            ("ES256", ES256),
            ("ES384", ES384),
            ("EdDSA", EdDSA),
        ]
    };
    const WHAT: &'static str = "algorithm";
}

/// Whether a claim holds one string or an array of strings.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "schemars", derive(schemars::JsonSchema))]
#[serde(rename_all = "snake_case")]
pub enum ClaimShape {
    /// `"roles": ["user", "admin"]`.
    Array,
    /// `"role": "admin"`.
    String,
}

impl Keyword for ClaimShape {
    const ALL: &'static [(&'static str, Self)] =
        &[("array", ClaimShape::Array), ("string", ClaimShape::String)];
    const WHAT: &'static str = "claim shape";
}

/// Behaviour when the introspection service is unreachable.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "schemars", derive(schemars::JsonSchema))]
#[serde(rename_all = "snake_case")]
pub enum Fallback {
    /// Reject the connection (server error).
    None,
    /// Verify the token locally with `auth.jwt`.
    Jwt,
}

impl Keyword for Fallback {
    const ALL: &'static [(&'static str, Self)] =
        &[("none", Fallback::None), ("jwt", Fallback::Jwt)];
    const WHAT: &'static str = "introspection fallback";
}

/// What happens when a live connection's token expires.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "schemars", derive(schemars::JsonSchema))]
#[serde(rename_all = "snake_case")]
pub enum ExpiryPolicy {
    /// Close with the `token_expired` code at `exp`.
    Close,
    /// The client sends a fresh token in-band before `exp`; otherwise close.
    Refresh,
}

impl Keyword for ExpiryPolicy {
    const ALL: &'static [(&'static str, Self)] = &[
        ("close", ExpiryPolicy::Close),
        ("refresh", ExpiryPolicy::Refresh),
    ];
    const WHAT: &'static str = "expiry policy";
}

/// Every way the framework can end a connection on its own.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[cfg_attr(feature = "schemars", derive(schemars::JsonSchema))]
#[serde(rename_all = "snake_case")]
pub enum FailureKind {
    /// No token was presented.
    AuthRequired,
    /// The token did not verify (signature, claims, lifetime).
    AuthFailed,
    /// The token expired while the connection was open.
    TokenExpired,
    /// The user is unknown to the user store or inactive.
    UserInactive,
    /// A path parameter bound to the subject differs from it.
    SubjectMismatch,
    /// A permission or resource check denied access.
    Forbidden,
    /// A resource check found no such resource.
    NotFound,
    /// The `Origin` header is not allowed.
    OriginRejected,
    /// The user has too many open connections.
    TooManyConnections,
    /// The client sent messages faster than the rate limit.
    RateLimited,
    /// A message exceeded the size limit.
    MessageTooBig,
    /// A message could not be decoded or has an unknown type.
    InvalidMessage,
    /// The client did not read fast enough; its send queue filled up.
    SlowConsumer,
    /// Nothing was received within the idle timeout.
    IdleTimeout,
    /// The server is shutting down.
    GoingAway,
    /// Something failed on the server (including a failing user lookup).
    ServerError,
    /// The server finished the conversation (e.g. a stream ended).
    Completed,
    /// The token, or every token of the subject issued until then, was
    /// revoked (or the subject was disconnected): at the handshake, on
    /// refresh, or on a live connection.
    Revoked,
    /// The server cannot check what a new connection needs (the cluster's
    /// shared store is unreachable): try again later.
    Unavailable,
}

impl Keyword for FailureKind {
    const ALL: &'static [(&'static str, Self)] = {
        use FailureKind::*;
        &[
            ("auth_required", AuthRequired),
            ("auth_failed", AuthFailed),
            ("token_expired", TokenExpired),
            ("user_inactive", UserInactive),
            ("subject_mismatch", SubjectMismatch),
            ("forbidden", Forbidden),
            ("not_found", NotFound),
            ("origin_rejected", OriginRejected),
            ("too_many_connections", TooManyConnections),
            ("rate_limited", RateLimited),
            ("message_too_big", MessageTooBig),
            ("invalid_message", InvalidMessage),
            ("slow_consumer", SlowConsumer),
            ("idle_timeout", IdleTimeout),
            ("going_away", GoingAway),
            ("server_error", ServerError),
            ("completed", Completed),
            ("revoked", Revoked),
            ("unavailable", Unavailable),
        ]
    };
    const WHAT: &'static str = "failure kind";
}

impl FailureKind {
    /// The framework's default code, reason and client behaviour.
    pub fn default_close(self) -> (u16, &'static str, ClientAction) {
        use ClientAction::*;
        use FailureKind::*;
        match self {
            AuthRequired => (4001, "authentication required", RefreshToken),
            AuthFailed => (4001, "invalid or expired token", RefreshToken),
            TokenExpired => (4001, "token expired", RefreshToken),
            UserInactive => (4002, "user inactive", Stop),
            SubjectMismatch | Forbidden | OriginRejected => (4003, "forbidden", Stop),
            NotFound => (4004, "not found", Stop),
            TooManyConnections => (4008, "too many connections", Backoff),
            RateLimited => (4029, "rate limit exceeded", Backoff),
            MessageTooBig => (1009, "message too big", Stop),
            InvalidMessage => (1007, "invalid message", Stop),
            SlowConsumer => (1013, "try again later", Backoff),
            IdleTimeout => (1001, "idle timeout", Backoff),
            GoingAway => (1001, "server shutting down", Backoff),
            ServerError => (1011, "server error", Backoff),
            Completed => (1000, "done", Stop),
            Revoked => (4006, "revoked", RefreshToken),
            Unavailable => (1013, "try again later", Backoff),
        }
    }
}

/// What a generated client does when the server closes with a code.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "schemars", derive(schemars::JsonSchema))]
#[serde(rename_all = "snake_case")]
pub enum ClientAction {
    /// Obtain a fresh token, then reconnect.
    RefreshToken,
    /// Reconnect after an exponential backoff with jitter.
    Backoff,
    /// Do not reconnect; surface a typed error.
    Stop,
}

impl Keyword for ClientAction {
    const ALL: &'static [(&'static str, Self)] = &[
        ("refresh_token", ClientAction::RefreshToken),
        ("backoff", ClientAction::Backoff),
        ("stop", ClientAction::Stop),
    ];
    const WHAT: &'static str = "client behaviour";
}

/// Who may open an endpoint.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "schemars", derive(schemars::JsonSchema))]
#[serde(rename_all = "snake_case")]
pub enum Access {
    /// A valid token is required.
    Required,
    /// A token is verified when presented (an invalid one is still
    /// rejected); without one the connection is anonymous.
    Optional,
    /// No token is read; every connection is anonymous.
    Anonymous,
}

impl Keyword for Access {
    const ALL: &'static [(&'static str, Self)] = &[
        ("required", Access::Required),
        ("optional", Access::Optional),
        ("anonymous", Access::Anonymous),
    ];
    const WHAT: &'static str = "endpoint access";
}

/// How an endpoint's frames are read.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "schemars", derive(schemars::JsonSchema))]
#[serde(rename_all = "snake_case")]
pub enum Frames {
    /// JSON text frames `{"type": ..., ...}` decoded into the spec's messages.
    Json,
    /// Any text or binary frame, handed over undecoded.
    Raw,
}

impl Keyword for Frames {
    const ALL: &'static [(&'static str, Self)] = &[("json", Frames::Json), ("raw", Frames::Raw)];
    const WHAT: &'static str = "frame format";
}

/// How an endpoint's connections get a topic they are joined to.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "schemars", derive(schemars::JsonSchema))]
#[serde(rename_all = "snake_case")]
pub enum Deliver {
    /// Clients subscribe (`wsauth.subscribe`) and each publication arrives
    /// as a `wsauth.publication` envelope with its offset.
    Publication,
    /// Only server code joins connections to it, and each publication
    /// arrives as the message's own frame, as if the handler had sent it.
    Message,
}

impl Keyword for Deliver {
    const ALL: &'static [(&'static str, Self)] = &[
        ("publication", Deliver::Publication),
        ("message", Deliver::Message),
    ];
    const WHAT: &'static str = "topic delivery";
}

/// The type of a path parameter.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "schemars", derive(schemars::JsonSchema))]
#[serde(rename_all = "snake_case")]
pub enum ParamType {
    /// Any non-empty segment.
    String,
    /// A signed 64-bit integer in canonical decimal (no sign, no leading zeros).
    Integer,
    /// A UUID in canonical hyphenated lower-case form.
    Uuid,
}

impl Keyword for ParamType {
    const ALL: &'static [(&'static str, Self)] = &[
        ("string", ParamType::String),
        ("integer", ParamType::Integer),
        ("uuid", ParamType::Uuid),
    ];
    const WHAT: &'static str = "parameter type";
}

/// What a path parameter is bound to.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "schemars", derive(schemars::JsonSchema))]
#[serde(rename_all = "snake_case")]
pub enum Binding {
    /// The token's subject.
    Subject,
}

impl Keyword for Binding {
    const ALL: &'static [(&'static str, Self)] = &[("subject", Binding::Subject)];
    const WHAT: &'static str = "parameter binding";
}

/// The types a payload schema may have.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "schemars", derive(schemars::JsonSchema))]
#[serde(rename_all = "snake_case")]
pub enum SchemaType {
    /// A JSON object with named fields.
    Object,
    /// A string.
    String,
    /// A whole number (64-bit).
    Integer,
    /// Any number.
    Number,
    /// `true` or `false`.
    Boolean,
    /// A list of `items`.
    Array,
    /// Any JSON value (no constraints; generated as a JSON value type).
    Any,
}

impl Keyword for SchemaType {
    const ALL: &'static [(&'static str, Self)] = &[
        ("object", SchemaType::Object),
        ("string", SchemaType::String),
        ("integer", SchemaType::Integer),
        ("number", SchemaType::Number),
        ("boolean", SchemaType::Boolean),
        ("array", SchemaType::Array),
        ("any", SchemaType::Any),
    ];
    const WHAT: &'static str = "schema type";
}

/// Resource limits with every value resolved: what an endpoint enforces.
/// The spec's `limits` fill in these over [`Limits::DEFAULT`], and an
/// endpoint's over the spec's.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Limits {
    /// Open connections one user may hold at once.
    pub max_connections_per_user: u32,
    /// Largest accepted message, in bytes (larger closes with 1009).
    pub max_message_bytes: u32,
    /// Sustained client messages per second.
    pub messages_per_second: u32,
    /// Client messages accepted in a burst above the sustained rate.
    pub burst: u32,
    /// Seconds between server pings.
    pub ping_interval_s: u32,
    /// Seconds without any frame from the client before it is closed.
    pub idle_timeout_s: u32,
    /// Outgoing messages queued for one client before it is dropped as a
    /// slow reader.
    pub send_queue: u32,
    /// Topic subscriptions one connection may hold at once.
    pub max_subscriptions: u32,
}

impl Limits {
    /// The framework's defaults: limits are always on.
    pub const DEFAULT: Limits = Limits {
        max_connections_per_user: 10,
        max_message_bytes: 65_536,
        messages_per_second: 20,
        burst: 40,
        ping_interval_s: 25,
        idle_timeout_s: 60,
        send_queue: 64,
        max_subscriptions: 100,
    };
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The words the reader accepts are the words serde writes, so a
    /// serialized spec reads back and the JSON Schema lists the same words.
    fn words_match_serde<T: Keyword + Serialize + std::fmt::Debug>() {
        for (word, value) in T::ALL {
            assert_eq!(serde_json::to_value(value).ok(), Some((*word).into()));
            assert_eq!(T::from_word(word), Some(*value));
        }
    }

    #[test]
    fn keywords_serialize_as_they_are_read() {
        words_match_serde::<SourceKind>();
        words_match_serde::<Algorithm>();
        words_match_serde::<ClaimShape>();
        words_match_serde::<Fallback>();
        words_match_serde::<ExpiryPolicy>();
        words_match_serde::<FailureKind>();
        words_match_serde::<ClientAction>();
        words_match_serde::<Access>();
        words_match_serde::<Frames>();
        words_match_serde::<Deliver>();
        words_match_serde::<ParamType>();
        words_match_serde::<Binding>();
        words_match_serde::<SchemaType>();
        words_match_serde::<wire::TopicRefusal>();
    }

    #[test]
    fn default_close_codes_agree_on_client_behaviour() {
        for (_, a) in FailureKind::ALL {
            for (_, b) in FailureKind::ALL {
                let (ca, _, xa) = a.default_close();
                let (cb, _, xb) = b.default_close();
                assert!(ca != cb || xa == xb, "{a:?} and {b:?} disagree");
            }
        }
    }
}
