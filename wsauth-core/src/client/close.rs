//! What a close code means to a client: the spec's catalogue first, then the
//! standard codes, and the backoff that paces reconnection.
//!
//! # Motivation
//!
//! A server closes for many reasons and only some of them get better by
//! trying again. The spec says which ([`ClientAction`]), per failure kind;
//! this module turns a received code into one decision so that the driver
//! loop, the generated code and the TypeScript client (which follows the
//! same table) never disagree on it.

use std::collections::hash_map::RandomState;
use std::hash::BuildHasher;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;
use wsauth_spec::wire::client as defaults;

use wsauth_spec::{ClientAction, FailureKind, Keyword};

use crate::descriptor::CloseDescriptor;

/// What the client does after a close.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum CloseAction {
    /// A normal end (1000): nothing to retry, nothing wrong.
    Closed,
    /// Get a fresh token from the provider and reconnect at once.
    RefreshToken,
    /// Reconnect after an exponential backoff with full jitter.
    Backoff,
    /// Do not reconnect; the client ends with [`super::ClientError::Closed`].
    Stop,
}

impl From<ClientAction> for CloseAction {
    fn from(action: ClientAction) -> Self {
        match action {
            ClientAction::RefreshToken => CloseAction::RefreshToken,
            ClientAction::Backoff => CloseAction::Backoff,
            ClientAction::Stop => CloseAction::Stop,
        }
    }
}

/// The close code the client reports when the connection ended without a
/// close frame (network failure, refused TCP connection, timeout).
pub const ABNORMAL: u16 = wsauth_spec::wire::ABNORMAL_CLOSE;
/// The close code the client reports when a close frame had no code.
pub const NO_STATUS: u16 = wsauth_spec::wire::NO_STATUS;

/// How (and why) the server, or the network, ended a connection.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ServerClose {
    /// The close code ([`ABNORMAL`] when the connection just ended).
    pub code: u16,
    /// The close reason the server sent (generic, from the spec).
    pub reason: String,
    /// The spec's failure kinds that close with this code (empty when the
    /// code is not in the catalogue).
    pub kinds: Vec<FailureKind>,
    /// What the client does about it.
    pub action: CloseAction,
}

impl ServerClose {
    /// Classifies `code` with the spec's catalogue: 1000 is a normal end
    /// whatever the catalogue says (the TypeScript client does the same); a
    /// code in the catalogue takes its action; other codes: 1001, 1006, 1012
    /// and 1013 back off, anything else stops.
    pub fn classify(catalogue: &[CloseDescriptor], code: u16, reason: impl Into<String>) -> Self {
        let entries: Vec<&CloseDescriptor> = catalogue.iter().filter(|c| c.code == code).collect();
        let kinds = entries.iter().map(|c| c.kind).collect();
        let action = match entries.first() {
            _ if code == wsauth_spec::wire::NORMAL_CLOSE => CloseAction::Closed,
            Some(c) => c.client.into(),
            None if defaults::RETRY_UNKNOWN_CODES.contains(&code) => CloseAction::Backoff,
            None => CloseAction::Stop,
        };
        ServerClose {
            code,
            reason: reason.into(),
            kinds,
            action,
        }
    }

    /// The failure kinds as the spec writes them (`auth_failed`).
    pub fn kind_words(&self) -> Vec<&'static str> {
        self.kinds.iter().map(|k| k.word()).collect()
    }
}

/// Exponential backoff with full jitter: attempt `n` waits a uniformly
/// random time in `[0, min(cap, base * 2^n)]`.
///
/// The attempts start again from 0 after a connection that was admitted (its
/// welcome, or first message, arrived) *and* stayed open for `stable`: a
/// server that admits and then fails every connection at once (a stream
/// whose generation always breaks) must not be retried at the base delay
/// forever.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Backoff {
    /// The first attempt's upper bound (default 500 ms).
    pub base: Duration,
    /// The largest upper bound (default 30 s).
    pub cap: Duration,
    /// How long an admitted connection must last to reset the attempts
    /// (default 10 s).
    pub stable: Duration,
}

impl Default for Backoff {
    fn default() -> Self {
        Backoff {
            base: Duration::from_millis(defaults::BACKOFF_BASE_MS),
            cap: Duration::from_millis(defaults::BACKOFF_CAP_MS),
            stable: Duration::from_millis(defaults::BACKOFF_STABLE_MS),
        }
    }
}

impl Backoff {
    /// The upper bound of attempt `attempt` (0-based).
    pub fn ceiling(&self, attempt: u32) -> Duration {
        let factor = 1u32.checked_shl(attempt.min(31)).unwrap_or(u32::MAX);
        self.base.saturating_mul(factor).min(self.cap)
    }

    /// A random delay for attempt `attempt` (0-based), full jitter.
    pub fn delay(&self, attempt: u32) -> Duration {
        self.ceiling(attempt).mul_f64(unit_random())
    }
}

/// A number in `[0, 1]`, random enough to spread reconnecting clients
/// (std's per-process random hash keys; not for cryptography).
fn unit_random() -> f64 {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    let bits = RandomState::new().hash_one(n);
    (bits >> 11) as f64 / (1u64 << 53) as f64
}

#[cfg(test)]
mod tests {
    use super::*;

    const CATALOGUE: &[CloseDescriptor] = &[
        CloseDescriptor {
            kind: FailureKind::AuthRequired,
            code: 4001,
            reason: "authentication required",
            client: ClientAction::RefreshToken,
        },
        CloseDescriptor {
            kind: FailureKind::AuthFailed,
            code: 4001,
            reason: "invalid or expired token",
            client: ClientAction::RefreshToken,
        },
        CloseDescriptor {
            kind: FailureKind::Forbidden,
            code: 4003,
            reason: "forbidden",
            client: ClientAction::Stop,
        },
        CloseDescriptor {
            kind: FailureKind::TooManyConnections,
            code: 4008,
            reason: "too many connections",
            client: ClientAction::Backoff,
        },
        CloseDescriptor {
            kind: FailureKind::Completed,
            code: 1000,
            reason: "done",
            client: ClientAction::Stop,
        },
    ];

    #[test]
    fn catalogue_codes_take_their_action_and_kinds() {
        let c = ServerClose::classify(CATALOGUE, 4001, "invalid or expired token");
        assert_eq!(c.action, CloseAction::RefreshToken);
        assert_eq!(c.kind_words(), ["auth_required", "auth_failed"]);
        assert_eq!(
            ServerClose::classify(CATALOGUE, 4003, "").action,
            CloseAction::Stop
        );
        assert_eq!(
            ServerClose::classify(CATALOGUE, 4008, "").action,
            CloseAction::Backoff
        );
        let done = ServerClose::classify(CATALOGUE, 1000, "done");
        assert_eq!((done.action, done.kinds.len()), (CloseAction::Closed, 1));
    }

    #[test]
    fn other_codes_follow_the_standard_table() {
        for (code, action) in [
            (1000, CloseAction::Closed),
            (1001, CloseAction::Backoff),
            (1006, CloseAction::Backoff),
            (1012, CloseAction::Backoff),
            (1013, CloseAction::Backoff),
            (1011, CloseAction::Stop),
            (4999, CloseAction::Stop),
        ] {
            let c = ServerClose::classify(&[], code, "");
            assert_eq!((c.action, c.kinds.is_empty()), (action, true), "{code}");
        }
    }

    #[test]
    fn backoff_grows_to_its_cap_and_jitters_below_it() {
        let b = Backoff::default();
        assert_eq!(b.ceiling(0), Duration::from_millis(500));
        assert_eq!(b.ceiling(3), Duration::from_secs(4));
        assert_eq!(b.ceiling(10), Duration::from_secs(30));
        assert_eq!(b.ceiling(u32::MAX), Duration::from_secs(30));
        let delays: Vec<Duration> = (0..50).map(|_| b.delay(2)).collect();
        assert!(delays.iter().all(|d| *d <= Duration::from_secs(2)));
        assert!(delays.windows(2).any(|w| w[0] != w[1]), "jittered");
    }
}
