//! The wire's own words, limits and client defaults.
//!
//! # Motivation
//!
//! A spec names the application's messages; the framework adds a few words
//! of its own (the in-band refresh), a few rules every close frame obeys
//! (which codes a server may send, how long a reason may be) and the timing
//! every generated client follows (backoff, when to refresh). The validator,
//! the server runtime, the Rust client, the TypeScript runtime (generated
//! from these values) and the docs all read them from here, so they cannot
//! disagree.

/// Prefix of the framework's own message types: a spec may not declare a
/// message whose `type` starts with it.
pub const RESERVED_PREFIX: &str = "wsauth.";

/// Client → server: a fresh token for the live connection,
/// `{"type":"wsauth.refresh","token":"…"}`.
pub const REFRESH: &str = "wsauth.refresh";

/// Server → client: the refresh was accepted, `{"type":"wsauth.refreshed","exp":…}`.
pub const REFRESHED: &str = "wsauth.refreshed";

/// Client → server: subscribe to a topic instance,
/// `{"type":"wsauth.subscribe","id":1,"topic":"conversation","params":{"conversation_id":42},"since":{"epoch":"…","offset":17}}`
/// (`id` and `since` optional).
pub const SUBSCRIBE: &str = "wsauth.subscribe";

/// Server → client: the subscription holds,
/// `{"type":"wsauth.subscribed","id":1,"topic":…,"params":…,"epoch":"…","offset":17,"recovered":true,"present":["alice"]}`.
/// `offset` is the instance's latest publication (0 before the first);
/// `recovered` only answers a `since` (`false`: history lost, reload);
/// `present` only on topics with presence.
pub const SUBSCRIBED: &str = "wsauth.subscribed";

/// Client → server: leave a topic instance, `{"type":"wsauth.unsubscribe","id":2,"topic":…,"params":…}`.
pub const UNSUBSCRIBE: &str = "wsauth.unsubscribe";

/// Server → client: a subscription ended,
/// `{"type":"wsauth.unsubscribed","id":2,"topic":…,"params":…,"reason":"client"}`;
/// without `id` when the server ended it (`reason` a [`TopicRefusal`] word,
/// or `server`).
pub const UNSUBSCRIBED: &str = "wsauth.unsubscribed";

/// Client → server: publish on a topic instance the connection subscribes
/// to (the subscription is what ran the topic's resource checks),
/// `{"type":"wsauth.publish","id":3,"topic":…,"params":…,"message":{"type":"typing",…}}`.
pub const PUBLISH: &str = "wsauth.publish";

/// Server → client: a client's publication was accepted, `{"type":"wsauth.published","id":3,"offset":19}`.
pub const PUBLISHED: &str = "wsauth.published";

/// Server → client: a message published on an instance the connection
/// subscribes to,
/// `{"type":"wsauth.publication","topic":…,"params":…,"offset":19,"message":{"type":"message_posted",…}}`.
pub const PUBLICATION: &str = "wsauth.publication";

/// Both ways on topics with presence. Client → server asks who is here,
/// `{"type":"wsauth.presence","id":4,"topic":…,"params":…}`; the server
/// answers with `"present":[subjects]`, and tells subscribers
/// `"joined":"alice"` / `"left":"alice"` as subjects come and go (`left`
/// once the subject has been gone [`PRESENCE_LINGER_MS`]).
pub const PRESENCE: &str = "wsauth.presence";

/// Server → client: a topic request was refused and the connection stays,
/// `{"type":"wsauth.refused","id":3,"request":"wsauth.subscribe","topic":…,"params":…,"error":"forbidden","reason":"forbidden"}`.
pub const REFUSED: &str = "wsauth.refused";

/// Why a topic request was refused or a subscription ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TopicRefusal {
    /// The endpoint lists no such topic.
    UnknownTopic,
    /// The params are missing, extra, or not of their type.
    InvalidParams,
    /// The topic's permission is missing (to subscribe, or to publish).
    Forbidden,
    /// A resource check found no access.
    NotFound,
    /// The connection holds `max_subscriptions` already.
    TooManySubscriptions,
    /// Unsubscribe, or a presence query, on an instance not subscribed to.
    NotSubscribed,
    /// A published message that may not flow on the topic, or does not fit
    /// its schema.
    InvalidMessage,
    /// A check or the broker failed (fail closed).
    ServerError,
}

impl TopicRefusal {
    /// The generic text sent as `reason`: never any detail.
    pub fn reason(self) -> &'static str {
        match self {
            TopicRefusal::UnknownTopic => "unknown topic",
            TopicRefusal::InvalidParams => "invalid params",
            TopicRefusal::Forbidden => "forbidden",
            TopicRefusal::NotFound => "not found",
            TopicRefusal::TooManySubscriptions => "too many subscriptions",
            TopicRefusal::NotSubscribed => "not subscribed",
            TopicRefusal::InvalidMessage => "invalid message",
            TopicRefusal::ServerError => "server error",
        }
    }
}

impl crate::Keyword for TopicRefusal {
    const ALL: &'static [(&'static str, Self)] = &[
        ("unknown_topic", TopicRefusal::UnknownTopic),
        ("invalid_params", TopicRefusal::InvalidParams),
        ("forbidden", TopicRefusal::Forbidden),
        ("not_found", TopicRefusal::NotFound),
        ("too_many_subscriptions", TopicRefusal::TooManySubscriptions),
        ("not_subscribed", TopicRefusal::NotSubscribed),
        ("invalid_message", TopicRefusal::InvalidMessage),
        ("server_error", TopicRefusal::ServerError),
    ];
    const WHAT: &'static str = "topic refusal";
}

/// The longest string topic param, in bytes. String params are held to
/// what a path segment could carry (no `/`, `%` or control characters), so
/// a resource check written for path params sees the same shapes.
pub const MAX_TOPIC_PARAM_BYTES: usize = 256;

/// How long a subject whose last subscription to an instance ended still
/// counts as present there, in milliseconds: subscribers hear `left` only
/// once it has been gone this long, and nothing at all when it comes back
/// sooner (a reconnect, a client toggling its subscription). So an instance
/// announces at most one `joined` and one `left` per subject per linger,
/// however fast a client subscribes and unsubscribes.
pub const PRESENCE_LINGER_MS: u64 = 1_000;

/// The most one topic instance's history keeps, in bytes of publication
/// frames (4 MiB). History keeps the latest `history.size` publications
/// within this, forgetting the oldest first: `size: 10000` of large
/// messages would otherwise hold gigabytes per instance. A client whose
/// `since` is older than what is kept is answered `recovered: false`.
pub const MAX_HISTORY_BYTES: usize = 4 * 1024 * 1024;

/// The longest close reason a close frame can carry: a control frame's
/// payload is at most 125 bytes (RFC 6455 §5.5), and the code takes two.
pub const MAX_CLOSE_REASON_BYTES: usize = 123;

/// The longest token a server accepts, in bytes (after percent-decoding):
/// at the handshake, in an in-band refresh and in the verifier. Longer ones
/// are refused before they are decoded.
pub const MAX_TOKEN_BYTES: usize = 8192;

/// A normal end (RFC 6455 §7.4.1).
pub const NORMAL_CLOSE: u16 = 1000;

/// The close frame carried no code (never sent; seen by a receiver).
pub const NO_STATUS: u16 = 1005;

/// The connection ended without a close frame (never sent; seen by a receiver).
pub const ABNORMAL_CLOSE: u16 = 1006;

/// The registered codes a server may send for a failure, for messages
/// that suggest one.
pub const REGISTERED_SERVER_CODES: [u16; 6] = [1000, 1001, 1008, 1009, 1011, 1013];

/// Why a server may not send `code` in a close frame (RFC 6455 §7.4), or
/// `None` when it may: 1000–1003, 1007–1014 and 3000–4999.
pub fn close_code_problem(code: u16) -> Option<&'static str> {
    match code {
        1004..=1006 | 1015 => Some("is reserved: endpoints may never send it"),
        1016..=2999 => Some("is reserved for the WebSocket protocol and its extensions"),
        1000..=4999 => None,
        _ => Some("is outside the range 1000–4999"),
    }
}

/// Whether a server may send `code` in a close frame.
pub fn may_send_close_code(code: u16) -> bool {
    close_code_problem(code).is_none()
}

/// The characters besides RFC 3986's unreserved ones that clients send
/// as they are in a path segment (the rest of `pchar`: sub-delims, `:` and
/// `@`). The server compares a bound parameter's segment as sent with the
/// token's subject and refuses any percent-encoding in it (one spelling per
/// value), so `alice+ws@example.com` and `urn:user:1` must travel as they
/// are. Both generated clients encode everything else.
pub const PATH_SEGMENT_KEEPS: &[u8] = b"!$&'()*+,;=:@";

/// What every generated client does unless its user says otherwise. The
/// Rust client's `Options` and the TypeScript runtime start from these.
pub mod client {
    /// First backoff ceiling (attempt 0), milliseconds.
    pub const BACKOFF_BASE_MS: u64 = 500;
    /// Largest backoff ceiling, milliseconds.
    pub const BACKOFF_CAP_MS: u64 = 30_000;
    /// How long an admitted connection must stay open to start the backoff
    /// from its base again, milliseconds.
    pub const BACKOFF_STABLE_MS: u64 = 10_000;
    /// How long one attempt may wait for its token and the socket to open,
    /// milliseconds.
    pub const CONNECT_TIMEOUT_MS: u64 = 10_000;
    /// Shortest heartbeat period, milliseconds.
    pub const MIN_HEARTBEAT_MS: u64 = 1_000;
    /// A token is refreshed in-band at the later of `exp` minus this many
    /// milliseconds and [`REFRESH_AT_PERCENT`] of its remaining life.
    pub const REFRESH_LEAD_MS: u64 = 30_000;
    /// See [`REFRESH_LEAD_MS`].
    pub const REFRESH_AT_PERCENT: u64 = 80;
    /// Codes outside the spec's catalogue that a client retries after a
    /// backoff (going away, abnormal end, restart, try again later); any
    /// other unknown code stops it.
    pub const RETRY_UNKNOWN_CODES: [u16; 4] = [1001, super::ABNORMAL_CLOSE, 1012, 1013];
    /// Within this many milliseconds of `exp` there is no time left to
    /// refresh: the server closes at `exp`, and that close asks for a new
    /// token.
    pub const REFRESH_TOO_LATE_MS: u64 = 1_000;

    /// How long to wait before refreshing a token that expires at `exp`
    /// (unix seconds), `now_ms` being now (unix milliseconds): until the
    /// later of `exp - REFRESH_LEAD_MS` and `REFRESH_AT_PERCENT` of the
    /// remaining life. `None` within [`REFRESH_TOO_LATE_MS`] of `exp` (and
    /// after it): no refresh then.
    pub fn refresh_delay_ms(exp: u64, now_ms: u64) -> Option<u64> {
        let remaining = exp.saturating_mul(1000).saturating_sub(now_ms);
        if remaining <= REFRESH_TOO_LATE_MS {
            return None;
        }
        let margin = remaining.saturating_sub(REFRESH_LEAD_MS);
        let share = remaining.saturating_mul(REFRESH_AT_PERCENT) / 100;
        Some(margin.max(share))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn close_codes_a_server_may_send() {
        for code in [
            1000, 1001, 1003, 1007, 1008, 1009, 1011, 1013, 1014, 3000, 4000, 4999,
        ] {
            assert!(may_send_close_code(code), "{code}");
        }
        for code in [0, 999, 1004, 1005, 1006, 1015, 1016, 2999, 5000] {
            assert!(!may_send_close_code(code), "{code}");
        }
        for code in REGISTERED_SERVER_CODES {
            assert!(may_send_close_code(code), "{code}");
        }
    }

    #[test]
    fn refresh_is_due_at_the_later_of_the_lead_and_the_share() {
        // An hour left: 30 s before exp.
        assert_eq!(client::refresh_delay_ms(3600, 0), Some(3_570_000));
        // 10 s left: at 80 %.
        assert_eq!(client::refresh_delay_ms(10, 0), Some(8_000));
        // A second or less left, or past exp: too late.
        assert_eq!(client::refresh_delay_ms(10, 9_000), None);
        assert_eq!(client::refresh_delay_ms(10, 8_999), Some(800));
        assert_eq!(client::refresh_delay_ms(10, 20_000), None);
    }
}
