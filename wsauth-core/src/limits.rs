//! Per-user connection slots and per-connection message rates.
//!
//! # Motivation
//!
//! A connection limit checked with "count, then admit" lets N+1 simultaneous
//! handshakes through; one decremented only on a clean close leaks a slot on
//! every dropped TCP connection. [`ConnectionLimiter`] does both in one step
//! under a lock and hands out a [`Slot`] that frees itself when dropped,
//! which happens however the connection task ends. The limits that come
//! before authentication (per client address, anonymous, in all) are the
//! same mechanism, [`Leases`], with other keys.

use std::borrow::Borrow;
use std::collections::HashMap;
use std::hash::Hash;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use tokio::time::Instant;

use crate::cluster::{ClusterSlot, Listed};

/// Held leases per key, at most a given number each, taken and counted in
/// one step under a lock; a [`Lease`] gives its place back when dropped.
///
/// The per-user connection limit is one ([`ConnectionLimiter`]); so are the
/// limits before authentication: connections per client address, anonymous
/// connections, all connections (one key, `()`).
#[derive(Debug)]
pub(crate) struct Leases<K> {
    open: Mutex<HashMap<K, u32>>,
}

impl<K> Default for Leases<K> {
    fn default() -> Self {
        Leases {
            open: Mutex::new(HashMap::new()),
        }
    }
}

/// One held place of a [`Leases`]; dropping it frees the place.
#[derive(Debug)]
pub(crate) struct Lease<K: Hash + Eq> {
    leases: Arc<Leases<K>>,
    key: K,
}

/// Open connections per user, shared by every endpoint of an API.
pub(crate) type ConnectionLimiter = Leases<Arc<str>>;

/// One admitted connection of a user; dropping it frees the slot.
pub(crate) type Slot = Lease<Arc<str>>;

/// The place an admitted connection holds among the connection limits,
/// given back when the connection ends: its user's slot (on this node and,
/// in a cluster, across nodes) and its listing for revocation sweeps, or
/// one of the anonymous connections'.
pub(crate) enum Place {
    User(
        #[expect(dead_code, reason = "held for its `Drop`")] Slot,
        #[cfg_attr(feature = "redis", expect(dead_code, reason = "held for its `Drop`"))]
        ClusterSlot,
        #[expect(dead_code, reason = "held for its `Drop`")] Listed,
    ),
    Anonymous(#[expect(dead_code, reason = "held for its `Drop`")] Lease<()>),
}

impl<K: Hash + Eq + Clone> Leases<K> {
    /// Takes one more place for `key` unless it already holds `max`.
    pub(crate) fn try_lease(self: &Arc<Self>, key: K, max: u32) -> Option<Lease<K>> {
        self.acquire(&key.clone(), max, || key)
    }

    fn acquire<Q>(
        self: &Arc<Self>,
        key: &Q,
        max: u32,
        new_key: impl FnOnce() -> K,
    ) -> Option<Lease<K>>
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        let mut open = self.open.lock().unwrap_or_else(PoisonError::into_inner);
        // Counted before any entry is made: a refusal (a limit of 0
        // included) leaves nothing behind.
        let key: K = match open.get_key_value(key) {
            Some((_, &held)) if held >= max => return None,
            Some((k, _)) => k.clone(),
            None if max == 0 => return None,
            None => new_key(),
        };
        *open.entry(key.clone()).or_insert(0) += 1;
        Some(Lease {
            leases: Arc::clone(self),
            key,
        })
    }

    /// Keys with at least one place held.
    pub(crate) fn unique_keys(&self) -> usize {
        self.open
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .len()
    }

    /// Places held under `key`.
    #[cfg(test)]
    pub(crate) fn held<Q>(&self, key: &Q) -> u32
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        let open = self.open.lock().unwrap_or_else(PoisonError::into_inner);
        open.get(key).copied().unwrap_or(0)
    }
}

impl Leases<Arc<str>> {
    /// Admits one more connection for `user` unless they already hold `max`.
    #[cfg(test)]
    pub(crate) fn try_acquire(self: &Arc<Self>, user: &str, max: u32) -> Option<Slot> {
        self.acquire(user, max, || Arc::from(user))
    }

    /// Admits one more connection for `user` unless they already hold `max`,
    /// keeping the caller's shared name as the key when the user has no open
    /// connection yet (no copy).
    pub(crate) fn try_acquire_shared(self: &Arc<Self>, user: &Arc<str>, max: u32) -> Option<Slot> {
        self.acquire(&**user, max, || Arc::clone(user))
    }

    /// Users with at least one open connection.
    pub(crate) fn unique_users(&self) -> usize {
        self.unique_keys()
    }

    /// Open connections of `user`.
    #[cfg(test)]
    pub(crate) fn open_for(&self, user: &str) -> u32 {
        self.held(user)
    }
}

impl<K: Hash + Eq> Drop for Lease<K> {
    fn drop(&mut self) {
        let mut open = self
            .leases
            .open
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        if let Some(count) = open.get_mut(&self.key) {
            *count -= 1;
            if *count == 0 {
                open.remove(&self.key);
            }
        }
    }
}

/// A token bucket: `rate` messages per second sustained, `burst` at once.
#[derive(Debug)]
///
/// The spec's integers are kept, not their `f64`s: every connection's task
/// holds one.
pub(crate) struct RateLimiter {
    rate: u32,
    burst: u32,
    tokens: f64,
    last: Instant,
}

impl RateLimiter {
    /// A full bucket.
    pub(crate) fn new(rate: u32, burst: u32) -> Self {
        let burst = burst.max(1);
        RateLimiter {
            rate,
            burst,
            tokens: f64::from(burst),
            last: Instant::now(),
        }
    }

    /// Takes one token at `now`; false when the bucket is empty.
    pub(crate) fn allow_at(&mut self, now: Instant) -> bool {
        let elapsed = now.saturating_duration_since(self.last);
        self.last = now;
        let refill = elapsed.as_secs_f64() * f64::from(self.rate);
        self.tokens = (self.tokens + refill).min(f64::from(self.burst));
        if self.tokens >= 1.0 {
            self.tokens -= 1.0;
            true
        } else {
            false
        }
    }

    /// Takes one token now.
    pub(crate) fn allow(&mut self) -> bool {
        self.allow_at(Instant::now())
    }

    /// When a token was last asked for (or the bucket made): the
    /// connection's last frame, since every frame asks for one.
    pub(crate) fn last(&self) -> Instant {
        self.last
    }
}

/// How long a single write to a client may take before it counts as not
/// reading at all.
pub(crate) const WRITE_TIMEOUT: Duration = Duration::from_secs(10);

/// How many bytes of queued messages a connection frames before it writes
/// them to the socket: a backlog (a subscriber behind on a busy topic) goes
/// out in one system call per this many bytes instead of one per message.
/// The loop always flushes once the outbox is empty, so a message never
/// waits for others. A connection keeps what its buffer grew to (at most
/// this plus one message) after a backlog.
pub(crate) const WRITE_BATCH_BYTES: usize = 16 * 1024;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slots_are_counted_and_freed_on_drop() {
        let limiter = Arc::new(ConnectionLimiter::default());
        let a = limiter.try_acquire("alice", 2);
        let b = limiter.try_acquire("alice", 2);
        assert!(a.is_some() && b.is_some());
        assert!(limiter.try_acquire("alice", 2).is_none());
        assert!(
            limiter.try_acquire("bob", 2).is_some(),
            "limits are per user"
        );
        drop(a);
        assert_eq!(limiter.open_for("alice"), 1);
        assert!(limiter.try_acquire("alice", 2).is_some());
    }

    #[test]
    fn a_refusal_leaves_no_entry_behind() {
        let limiter = Arc::new(ConnectionLimiter::default());
        for user in ["alice", "bob", "carol"] {
            assert!(limiter.try_acquire(user, 0).is_none());
        }
        assert_eq!(limiter.unique_users(), 0);
        let held = limiter.try_acquire("alice", 1);
        assert!(held.is_some() && limiter.try_acquire("alice", 1).is_none());
        assert_eq!(limiter.open_for("alice"), 1);
    }

    #[test]
    fn concurrent_acquires_admit_exactly_the_limit() {
        let limiter = Arc::new(ConnectionLimiter::default());
        let admitted: Vec<Option<Slot>> = std::thread::scope(|s| {
            let handles: Vec<_> = (0..64)
                .map(|_| s.spawn(|| limiter.try_acquire("alice", 10)))
                .collect();
            handles.into_iter().filter_map(|h| h.join().ok()).collect()
        });
        assert_eq!(admitted.iter().filter(|s| s.is_some()).count(), 10);
        drop(admitted);
        assert_eq!(limiter.unique_users(), 0, "every slot freed");
    }

    #[test]
    fn bucket_allows_a_burst_then_the_rate() {
        let mut bucket = RateLimiter::new(2, 3);
        let t0 = Instant::now();
        assert!((0..3).all(|_| bucket.allow_at(t0)));
        assert!(!bucket.allow_at(t0));
        assert!(
            bucket.allow_at(t0 + Duration::from_millis(500)),
            "refills at the rate"
        );
        assert!(!bucket.allow_at(t0 + Duration::from_millis(500)));
    }
}
