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
//! and their number is bounded by [`MAX_ENTRIES`]. "Inactive" is the answer
//! that matters for safety, so it wins: it is never replaced by an
//! "active" answer that raced it (a request sent before the revocation and
//! answered after), and when the cache is full, expired entries go first,
//! then "active" ones, and only then the "inactive" entry that would expire
//! soonest; an "active" answer is not kept at all rather than push out an
//! "inactive" one. A flood of distinct tokens can only shorten what is
//! remembered, never grow the process.
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

/// Drops one entry of a full cache to make room for an answer (`active`
/// or not): an "active" entry if there is one, else, for an "inactive"
/// answer only, the "inactive" entry that expires soonest. False when
/// nothing may go.
fn make_room(entries: &mut HashMap<Key, Entry>, active: bool) -> bool {
    let victim = entries
        .iter()
        .find(|(_, entry)| matches!(entry.answer, Answer::Active(_)))
        .or_else(|| {
            (!active)
                .then(|| entries.iter().min_by_key(|(_, entry)| entry.until))
                .flatten()
        })
        .map(|(key, _)| *key);
    victim.is_some_and(|key| entries.remove(&key).is_some())
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
    /// passed already), unless a current "inactive" answer for the same
    /// key would be replaced by an "active" one.
    pub(super) fn put(&self, key: Key, answer: Answer, until: Instant, now: Instant) {
        if until <= now {
            return;
        }
        let active = matches!(answer, Answer::Active(_));
        let mut entries = self.entries.lock().unwrap_or_else(PoisonError::into_inner);
        match entries.get(&key) {
            Some(entry)
                if active && entry.until > now && matches!(entry.answer, Answer::Inactive) =>
            {
                return;
            }
            Some(_) => {}
            None if entries.len() >= MAX_ENTRIES => {
                entries.retain(|_, entry| entry.until > now);
                if entries.len() >= MAX_ENTRIES && !make_room(&mut entries, active) {
                    return;
                }
            }
            None => {}
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

    fn active() -> Answer {
        Answer::Active(Box::new(Claims {
            subject: "alice".into(),
            roles: Vec::new(),
            exp: 0,
            iat: None,
            claims: serde_json::Map::new(),
        }))
    }

    #[test]
    fn an_inactive_answer_is_not_replaced_by_an_active_one_that_raced_it() {
        let answers = Answers::default();
        let now = Instant::now();
        let later = now + Duration::from_secs(60);
        answers.put(key("t"), Answer::Inactive, later, now);
        answers.put(key("t"), active(), later, now);
        assert!(matches!(
            answers.get(&key("t"), now),
            Some(Answer::Inactive)
        ));
        // The other way round, the inactive answer wins too.
        answers.put(key("u"), active(), later, now);
        answers.put(key("u"), Answer::Inactive, later, now);
        assert!(matches!(
            answers.get(&key("u"), now),
            Some(Answer::Inactive)
        ));
    }

    #[test]
    fn a_full_cache_gives_up_active_answers_before_inactive_ones() {
        let answers = Answers::default();
        let now = Instant::now();
        for i in 0..MAX_ENTRIES {
            let until = now + Duration::from_secs(60 + i as u64);
            answers.put(key(&i.to_string()), Answer::Inactive, until, now);
        }
        // An active answer does not push out an inactive one.
        answers.put(key("active"), active(), now + Duration::from_secs(5), now);
        assert!(answers.get(&key("active"), now).is_none());
        assert!(answers.get(&key("0"), now).is_some());
        // A new inactive answer pushes out the one that expires soonest.
        answers.put(
            key("revoked"),
            Answer::Inactive,
            now + Duration::from_secs(90),
            now,
        );
        assert!(answers.get(&key("revoked"), now).is_some());
        assert!(answers.get(&key("0"), now).is_none(), "the soonest went");
        assert!(answers.get(&key("1"), now).is_some());
        assert_eq!(answers.len(), MAX_ENTRIES);
    }

    #[test]
    fn keys_are_the_tokens_sha256() {
        assert_eq!(key("a"), key("a"));
        assert_ne!(key("a"), key("b"));
        // SHA-256("abc").
        assert_eq!(key("abc")[..4], [0xba, 0x78, 0x16, 0xbf]);
    }
}
