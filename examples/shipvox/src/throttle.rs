//! Per-account throttling of sign-in attempts.
//!
//! # Motivation
//!
//! Argon2id makes each guess slow for the server too; without a limit per
//! account, an attacker can still try a password list against one user at
//! the rate the server's cores allow. So each username gets
//! [`ThrottlePolicy::max_failures`] unsuccessful attempts per
//! [`ThrottlePolicy::window`]; then every attempt for it, the right
//! password included, is answered `429 Too Many Requests` with
//! `Retry-After` until the window ends, without checking any hash.
//!
//! Two choices keep the throttle from becoming an oracle for which accounts
//! exist:
//!
//! - It is keyed by the username *as submitted*, whether or not an account
//!   has it: unknown names are throttled exactly like real ones.
//! - A throttled attempt checks no hash, for every name alike.
//!
//! An attempt counts when it starts (not when it fails), so a burst of
//! parallel guesses cannot slip past the limit; a successful sign-in clears
//! the account's count. The table holds at most [`MAX_TRACKED`] names; when
//! it is full, expired entries go first, then the oldest entry that is not
//! locked. A locked name is never evicted inside its window (thousands of
//! made-up names must not buy a locked account new guesses); when every
//! entry is locked, a new name is refused until one expires.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// The most usernames tracked at once.
pub const MAX_TRACKED: usize = 10_000;

/// How many unsuccessful attempts a username gets, and per how long.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ThrottlePolicy {
    /// Unsuccessful attempts allowed per window.
    pub max_failures: u32,
    /// The window, counted from the first attempt of a run.
    pub window: Duration,
}

impl Default for ThrottlePolicy {
    /// 5 attempts per 15 minutes (OWASP's authentication cheat sheet
    /// suggests a small number of failures per account and period).
    fn default() -> Self {
        ThrottlePolicy {
            max_failures: 5,
            window: Duration::from_secs(15 * 60),
        }
    }
}

#[derive(Clone, Copy, Debug)]
struct Entry {
    attempts: u32,
    since: Instant,
}

/// The attempt counts per username.
#[derive(Debug, Default)]
pub struct Throttle {
    policy: ThrottlePolicy,
    entries: Mutex<HashMap<String, Entry>>,
}

/// The username is throttled; try again after this long.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Throttled {
    /// Until the window ends (at least one second).
    pub retry_after: Duration,
}

impl Throttle {
    /// An empty table for `policy`.
    pub fn new(policy: ThrottlePolicy) -> Self {
        Throttle {
            policy,
            entries: Mutex::default(),
        }
    }

    /// Counts an attempt for `username` at `now`, or refuses it when the
    /// username has used up its attempts in the current window.
    pub fn begin(&self, username: &str, now: Instant) -> Result<(), Throttled> {
        let window = self.policy.window;
        let mut entries = self.entries.lock().unwrap_or_else(|p| p.into_inner());
        let fresh = Entry {
            attempts: 0,
            since: now,
        };
        if !entries.contains_key(username) && entries.len() >= MAX_TRACKED {
            entries.retain(|_, e| now.saturating_duration_since(e.since) < window);
            if entries.len() >= MAX_TRACKED {
                let max = self.policy.max_failures;
                let unlocked = entries
                    .iter()
                    .filter(|(_, e)| e.attempts < max)
                    .min_by_key(|(_, e)| e.since)
                    .map(|(name, _)| name.clone());
                match unlocked {
                    Some(oldest) => {
                        entries.remove(&oldest);
                    }
                    None => {
                        let soonest = entries.values().map(|e| e.since).min().unwrap_or(now);
                        let left = window.saturating_sub(now.saturating_duration_since(soonest));
                        return Err(Throttled {
                            retry_after: left.max(Duration::from_secs(1)),
                        });
                    }
                }
            }
        }
        let entry = entries.entry(username.to_owned()).or_insert(fresh);
        if now.saturating_duration_since(entry.since) >= window {
            *entry = fresh;
        }
        if entry.attempts >= self.policy.max_failures {
            let left = window.saturating_sub(now.saturating_duration_since(entry.since));
            return Err(Throttled {
                retry_after: left.max(Duration::from_secs(1)),
            });
        }
        entry.attempts += 1;
        Ok(())
    }

    /// A sign-in for `username` succeeded: its count starts over.
    pub fn succeeded(&self, username: &str) {
        let mut entries = self.entries.lock().unwrap_or_else(|p| p.into_inner());
        entries.remove(username);
    }

    /// How many usernames are tracked.
    pub fn tracked(&self) -> usize {
        self.entries.lock().unwrap_or_else(|p| p.into_inner()).len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const POLICY: ThrottlePolicy = ThrottlePolicy {
        max_failures: 3,
        window: Duration::from_secs(60),
    };

    #[test]
    fn attempts_are_limited_per_window() {
        let t = Throttle::new(POLICY);
        let t0 = Instant::now();
        for _ in 0..3 {
            assert_eq!(t.begin("alice", t0), Ok(()));
        }
        let refused = t.begin("alice", t0 + Duration::from_secs(20));
        assert_eq!(
            refused,
            Err(Throttled {
                retry_after: Duration::from_secs(40)
            })
        );
        // Other names are not affected, known or not.
        assert_eq!(t.begin("nobody", t0), Ok(()));
        // The window ends; the count starts over.
        assert_eq!(t.begin("alice", t0 + Duration::from_secs(60)), Ok(()));
    }

    #[test]
    fn success_clears_the_count() {
        let t = Throttle::new(POLICY);
        let t0 = Instant::now();
        for _ in 0..3 {
            assert_eq!(t.begin("bob", t0), Ok(()));
        }
        t.succeeded("bob");
        assert_eq!(t.begin("bob", t0), Ok(()));
        assert_eq!(t.tracked(), 1);
    }

    #[test]
    fn the_table_is_bounded_and_flooding_it_frees_no_locked_name() {
        let t = Throttle::new(ThrottlePolicy {
            max_failures: 2,
            window: Duration::from_secs(60),
        });
        let t0 = Instant::now();
        // The victim is locked; the flood of made-up names is not.
        assert_eq!(t.begin("victim", t0), Ok(()));
        assert_eq!(t.begin("victim", t0), Ok(()));
        for i in 0..MAX_TRACKED {
            let _ = t.begin(&format!("u{i}"), t0 + Duration::from_millis(1));
        }
        assert_eq!(t.tracked(), MAX_TRACKED);
        // Unlocked names made room; the victim is still locked.
        assert!(t.begin("victim", t0 + Duration::from_millis(2)).is_err());
        // When every entry is locked, a new name waits instead of evicting.
        let locked = Throttle::new(ThrottlePolicy {
            max_failures: 1,
            window: Duration::from_secs(60),
        });
        for i in 0..MAX_TRACKED {
            assert_eq!(locked.begin(&format!("u{i}"), t0), Ok(()));
        }
        assert!(locked.begin("one-more", t0).is_err());
        assert!(locked.begin("u0", t0).is_err());
        // Expired entries are dropped first when the table is full.
        let later = t0 + Duration::from_secs(120);
        assert_eq!(t.begin("late", later), Ok(()));
        assert!(t.tracked() <= 2, "{}", t.tracked());
    }
}
