//! What the introspection service said about recent tokens.
//!
//! # Motivation
//!
//! Asking the service on every handshake makes revocation immediate, and
//! makes every reconnect storm a storm on the service. Two answers are worth
//! keeping, for different lengths of time:
//!
//! - "active": briefly ([`IntrospectionEndpoint::cache_active_for`], a few
//!   seconds by default), the delay by which a revocation may take effect;
//! - "inactive": until the token expires, because such a token never comes
//!   back. This also keeps it refused while the service is unreachable,
//!   when the spec's fallback would otherwise verify it locally and let it
//!   in.
//!
//! Entries are keyed by the token's SHA-256, so the cache holds no token,
//! and their number is bounded: past [`MAX_ENTRIES`] expired entries are
//! dropped, then an arbitrary one (a flood of distinct tokens can only
//! shorten what is remembered, never grow the process).
//!
//! [`IntrospectionEndpoint::cache_active_for`]: super::IntrospectionEndpoint::cache_active_for

use std::collections::HashMap;
use std::sync::{Mutex, PoisonError};
use std::time::Instant;

use sha2::{Digest, Sha256};

use crate::jwt::Claims;

/// Most answers kept at once.
pub(super) const MAX_ENTRIES: usize = 10_000;

/// A token's cache key: its SHA-256.
pub(super) type Key = [u8; 32];

pub(super) fn key(token: &str) -> Key {
    Sha256::digest(token.as_bytes()).into()
}

/// A remembered answer.
#[derive(Clone)]
pub(super) enum Answer {
    /// Active, with the claims the service gave.
    Active(Box<Claims>),
    /// Inactive (revoked, unknown, expired).
    Inactive,
}

struct Entry {
    answer: Answer,
    until: Instant,
}

/// Answers by token, each until its own instant.
#[derive(Default)]
pub(super) struct Answers {
    entries: Mutex<HashMap<Key, Entry>>,
}

impl Answers {
    /// The answer for `key`, if one is remembered and still current.
    pub(super) fn get(&self, key: &Key, now: Instant) -> Option<Answer> {
        let mut entries = self.entries.lock().unwrap_or_else(PoisonError::into_inner);
        match entries.get(key) {
            Some(entry) if entry.until > now => Some(entry.answer.clone()),
            Some(_) => {
                entries.remove(key);
                None
            }
            None => None,
        }
    }

    /// Remembers `answer` for `key` until `until` (nothing when that has
    /// passed already).
    pub(super) fn put(&self, key: Key, answer: Answer, until: Instant, now: Instant) {
        if until <= now {
            return;
        }
        let mut entries = self.entries.lock().unwrap_or_else(PoisonError::into_inner);
        if entries.len() >= MAX_ENTRIES && !entries.contains_key(&key) {
            entries.retain(|_, entry| entry.until > now);
            if entries.len() >= MAX_ENTRIES
                && let Some(victim) = entries.keys().next().copied()
            {
                entries.remove(&victim);
            }
        }
        entries.insert(key, Entry { answer, until });
    }

    #[cfg(test)]
    fn len(&self) -> usize {
        self.entries
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .len()
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    #[test]
    fn answers_are_kept_until_their_instant() {
        let answers = Answers::default();
        let now = Instant::now();
        answers.put(
            key("a"),
            Answer::Inactive,
            now + Duration::from_secs(1),
            now,
        );
        assert!(matches!(
            answers.get(&key("a"), now),
            Some(Answer::Inactive)
        ));
        assert!(answers.get(&key("b"), now).is_none());
        assert!(
            answers
                .get(&key("a"), now + Duration::from_secs(2))
                .is_none()
        );
        assert_eq!(answers.len(), 0, "an expired entry is dropped when read");
        answers.put(key("c"), Answer::Inactive, now, now);
        assert_eq!(answers.len(), 0, "nothing is kept for no time");
    }

    #[test]
    fn the_cache_never_grows_past_its_bound() {
        let answers = Answers::default();
        let now = Instant::now();
        let later = now + Duration::from_secs(60);
        for i in 0..MAX_ENTRIES + 100 {
            answers.put(key(&i.to_string()), Answer::Inactive, later, now);
        }
        assert_eq!(answers.len(), MAX_ENTRIES);
        // The newest is always kept.
        let last = (MAX_ENTRIES + 99).to_string();
        assert!(answers.get(&key(&last), now).is_some());
    }

    #[test]
    fn keys_are_the_tokens_sha256() {
        assert_eq!(key("a"), key("a"));
        assert_ne!(key("a"), key("b"));
        // SHA-256("abc").
        assert_eq!(key("abc")[..4], [0xba, 0x78, 0x16, 0xbf]);
    }
}
