//! Per-user connection slots and per-connection message rates.
//!
//! # Motivation
//!
//! A connection limit checked with "count, then admit" lets N+1 simultaneous
//! handshakes through; one decremented only on a clean close leaks a slot on
//! every dropped TCP connection. [`ConnectionLimiter`] does both in one step
//! under a lock and hands out a [`Slot`] that frees itself when dropped,
//! which happens however the connection task ends.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

/// Open connections per user, shared by every endpoint of an API.
#[derive(Debug, Default)]
pub struct ConnectionLimiter {
    open: Mutex<HashMap<Arc<str>, u32>>,
}

/// One admitted connection; dropping it frees the slot.
#[derive(Debug)]
pub struct Slot {
    limiter: Arc<ConnectionLimiter>,
    user: Arc<str>,
}

impl ConnectionLimiter {
    /// Admits one more connection for `user` unless they already hold `max`.
    pub fn try_acquire(self: &Arc<Self>, user: &str, max: u32) -> Option<Slot> {
        self.acquire(user, max, || Arc::from(user))
    }

    /// Like [`ConnectionLimiter::try_acquire`], keeping the caller's shared
    /// name as the key when the user has no open connection yet (no copy).
    pub(crate) fn try_acquire_shared(self: &Arc<Self>, user: &Arc<str>, max: u32) -> Option<Slot> {
        self.acquire(user, max, || Arc::clone(user))
    }

    fn acquire(
        self: &Arc<Self>,
        user: &str,
        max: u32,
        new_key: impl FnOnce() -> Arc<str>,
    ) -> Option<Slot> {
        let mut open = self.open.lock().unwrap_or_else(PoisonError::into_inner);
        let key: Arc<str> = match open.get_key_value(user) {
            Some((k, _)) => Arc::clone(k),
            None => new_key(),
        };
        let count = open.entry(Arc::clone(&key)).or_insert(0);
        if *count >= max {
            return None;
        }
        *count += 1;
        Some(Slot {
            limiter: Arc::clone(self),
            user: key,
        })
    }

    /// Users with at least one open connection.
    pub fn unique_users(&self) -> usize {
        self.open
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .len()
    }

    /// Open connections of `user`.
    pub fn open_for(&self, user: &str) -> u32 {
        let open = self.open.lock().unwrap_or_else(PoisonError::into_inner);
        open.get(user).copied().unwrap_or(0)
    }
}

impl Drop for Slot {
    fn drop(&mut self) {
        let mut open = self
            .limiter
            .open
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        if let Some(count) = open.get_mut(&self.user) {
            *count -= 1;
            if *count == 0 {
                open.remove(&self.user);
            }
        }
    }
}

/// A token bucket: `rate` messages per second sustained, `burst` at once.
#[derive(Debug)]
pub struct RateLimiter {
    rate: f64,
    burst: f64,
    tokens: f64,
    last: Instant,
}

impl RateLimiter {
    /// A full bucket.
    pub fn new(rate: u32, burst: u32) -> Self {
        RateLimiter {
            rate: f64::from(rate),
            burst: f64::from(burst.max(1)),
            tokens: f64::from(burst.max(1)),
            last: Instant::now(),
        }
    }

    /// Takes one token at `now`; false when the bucket is empty.
    pub fn allow_at(&mut self, now: Instant) -> bool {
        let elapsed = now.saturating_duration_since(self.last);
        self.last = now;
        self.tokens = (self.tokens + elapsed.as_secs_f64() * self.rate).min(self.burst);
        if self.tokens >= 1.0 {
            self.tokens -= 1.0;
            true
        } else {
            false
        }
    }

    /// Takes one token now.
    pub fn allow(&mut self) -> bool {
        self.allow_at(Instant::now())
    }
}

/// How long a single write to a client may take before it counts as not
/// reading at all.
pub const WRITE_TIMEOUT: Duration = Duration::from_secs(10);

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
