//! Throttling of sign-in attempts, per account and client address and per
//! client address.
//!
//! # Motivation
//!
//! Argon2id makes each guess slow for the server too; without a limit, an
//! attacker can still try a password list against one user at the rate the
//! server's cores allow. A limit per account alone, though, is a weapon: a
//! few bad guesses from anywhere lock the real user out, for as long as the
//! attacker cares to repeat them, and a flood of made-up names fills any
//! bounded table. So failures are counted under two keys, each in a
//! window of [`ThrottlePolicy::window`] that starts at the key's first
//! attempt:
//!
//! - **(username, client address)**: [`ThrottlePolicy::max_failures`] per
//!   window. Past it, that pair is answered `429 Too Many Requests` with
//!   `Retry-After` until the window ends, the right password included,
//!   without checking any hash. A guesser elsewhere cannot lock alice out:
//!   only alice's own address is locked for alice.
//! - **client address**: [`ThrottlePolicy::max_address_failures`] per
//!   window, across all usernames. Past it, every attempt from that address
//!   is refused the same way, so one source can neither spray a password
//!   over many names nor fill the table.
//!
//! The client address is the TCP peer ([`client_key`]): an IPv4 address
//! whole, an IPv6 address by its /64 prefix (one host is routinely given a
//! whole /64, so counting each of its 2^64 addresses apart would cost an
//! attacker nothing), an IPv4-mapped IPv6 address as its IPv4 address.
//!
//! Two choices keep the throttle from becoming an oracle for which accounts
//! exist: it is keyed by the username *as submitted*, whether or not an
//! account has it, so unknown names are throttled exactly like real ones;
//! and a throttled attempt checks no hash, for every name alike.
//!
//! An attempt counts when it starts (not when it fails), so a burst of
//! parallel guesses cannot slip past a limit. A successful sign-in
//! ([`Throttle::succeeded`]) clears its pair's count and gives back its own
//! attempt to the address (a success is not a failure); it does not clear
//! the address's other failures, so an attacker who owns an account cannot
//! launder a spray by signing in to it between guesses.
//!
//! # Trade-offs
//!
//! This stops one source, not many. An attacker with many addresses (a
//! botnet, a large IPv6 allocation spread over many /64s) still gets
//! [`ThrottlePolicy::max_failures`] guesses per account per window from
//! each of them; stopping that takes signals this example does not have
//! (credential-stuffing detection, second factors, CAPTCHAs, reputation).
//! Clients sharing one address (a NAT, a corporate proxy, carrier-grade
//! NAT) share its address budget, so one of them failing often enough
//! locks the others out for a window; and if the server sits behind a
//! reverse proxy, every client *is* the proxy, so the key must then come
//! from the proxy's forwarded-for header, trusted only from that proxy —
//! not done here, since the example is served directly.
//!
//! # Shape
//!
//! Each key lives in a table of at most [`ThrottlePolicy::max_tracked`]
//! entries: a hash map from key to its count, plus a queue of the keys in
//! the order their windows started. Windows all have the same length, so
//! the queue is also in order of expiry: expired entries are dropped from
//! its front on every call, and when a table is full, the entry at the
//! front — the oldest — makes room. Each call is O(1) amortised, never a
//! scan. A key with no entry of its own is never refused because the table
//! is full: evicting another key costs whoever owned it at most their count,
//! and filling the table takes `max_tracked` fresh keys, which a single
//! address cannot produce (it is locked after `max_address_failures`), while
//! many addresses already have their own guesses to spend.

use std::collections::{HashMap, VecDeque};
use std::hash::Hash;
use std::net::{IpAddr, Ipv6Addr};
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// The default most keys tracked at once, in each of the two tables.
pub const MAX_TRACKED: usize = 10_000;

/// How many unsuccessful attempts are allowed, per how long.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ThrottlePolicy {
    /// Unsuccessful attempts allowed per window for one username from one
    /// client address.
    pub max_failures: u32,
    /// Unsuccessful attempts allowed per window from one client address,
    /// all usernames together.
    pub max_address_failures: u32,
    /// The window, counted from a key's first attempt.
    pub window: Duration,
    /// The most keys tracked in each table (pairs, addresses); at least 1.
    pub max_tracked: usize,
}

impl Default for ThrottlePolicy {
    /// 5 failures per username and address and 20 per address, per 15
    /// minutes (OWASP's authentication cheat sheet suggests a small number
    /// of failures per account and period), [`MAX_TRACKED`] keys.
    fn default() -> Self {
        ThrottlePolicy {
            max_failures: 5,
            max_address_failures: 20,
            window: Duration::from_secs(15 * 60),
            max_tracked: MAX_TRACKED,
        }
    }
}

/// The part of a client's address that identifies it to the throttle: an
/// IPv4 address whole, an IPv6 address by its /64 prefix, an IPv4-mapped
/// IPv6 address as its IPv4 address.
pub fn client_key(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V4(v4) => IpAddr::V4(v4),
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => IpAddr::V4(v4),
            None => {
                let prefix = u128::from(v6) & !u128::from(u64::MAX);
                IpAddr::V6(Ipv6Addr::from(prefix))
            }
        },
    }
}

/// One key's count in its current window.
#[derive(Clone, Copy, Debug)]
struct Entry {
    /// Attempts counted (started, not given back by a success).
    attempts: u32,
    /// When the window started.
    since: Instant,
    /// Which entry this is, so a late success touches only the entry its
    /// attempt was counted in, not a newer one for the same key.
    id: u64,
}

/// Counts per key in windows of one length, at most `capacity` keys.
///
/// Invariant: `order` holds each key of `entries` exactly once, with its
/// entry's `since`, in non-decreasing `since` order (entries are only
/// created at the throttle's clock, which never goes back, and never
/// restarted in place: an expired entry is dropped before its key is seen
/// again).
#[derive(Debug)]
struct Table<K> {
    entries: HashMap<K, Entry>,
    order: VecDeque<(Instant, K)>,
    capacity: usize,
}

impl<K: Eq + Hash + Clone> Table<K> {
    fn new(capacity: usize) -> Self {
        Table {
            entries: HashMap::new(),
            order: VecDeque::new(),
            capacity: capacity.max(1),
        }
    }

    /// Drops the entries whose window has ended at `now` (from the front).
    fn expire(&mut self, now: Instant, window: Duration) {
        while let Some((since, _)) = self.order.front() {
            if now.saturating_duration_since(*since) < window {
                break;
            }
            if let Some((_, key)) = self.order.pop_front() {
                self.entries.remove(&key);
            }
        }
    }

    /// How long `key` stays locked, if it has used up `max` attempts.
    fn locked(&self, key: &K, max: u32, now: Instant, window: Duration) -> Option<Duration> {
        let entry = self.entries.get(key)?;
        (entry.attempts >= max)
            .then(|| window.saturating_sub(now.saturating_duration_since(entry.since)))
    }

    /// Counts an attempt for `key`, making room if `key` is new and the
    /// table is full; returns the id of the entry it was counted in.
    fn count(&mut self, key: K, now: Instant, next_id: &mut u64) -> u64 {
        if let Some(entry) = self.entries.get_mut(&key) {
            entry.attempts = entry.attempts.saturating_add(1);
            return entry.id;
        }
        while self.entries.len() >= self.capacity {
            match self.order.pop_front() {
                Some((_, oldest)) => {
                    self.entries.remove(&oldest);
                }
                None => break,
            }
        }
        let id = *next_id;
        *next_id += 1;
        self.order.push_back((now, key.clone()));
        self.entries.insert(
            key,
            Entry {
                attempts: 1,
                since: now,
                id,
            },
        );
        id
    }

    /// Changes `key`'s entry with `f`, if it is still entry `id`.
    fn update(&mut self, key: &K, id: u64, f: impl FnOnce(&mut Entry)) {
        if let Some(entry) = self.entries.get_mut(key).filter(|e| e.id == id) {
            f(entry);
        }
    }

    fn len(&self) -> usize {
        self.entries.len()
    }
}

/// What the lock guards.
#[derive(Debug)]
struct State {
    /// The latest time seen: the clock given to the tables never goes back.
    latest: Option<Instant>,
    /// Ids for new entries.
    next_id: u64,
    pairs: Table<(String, IpAddr)>,
    addresses: Table<IpAddr>,
}

/// The attempt counts per (username, client address) and per client
/// address.
#[derive(Debug)]
pub struct Throttle {
    policy: ThrottlePolicy,
    state: Mutex<State>,
}

impl Default for Throttle {
    fn default() -> Self {
        Throttle::new(ThrottlePolicy::default())
    }
}

/// The attempt is throttled; try again after this long.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Throttled {
    /// Until the lock ends, rounded up to whole seconds (at least one).
    pub retry_after: Duration,
}

/// An attempt [`Throttle::begin`] let through and counted. Pass it to
/// [`Throttle::succeeded`] if the sign-in succeeds; drop it otherwise (it
/// stays counted as a failure).
#[derive(Debug)]
#[must_use = "a successful sign-in must be reported with `Throttle::succeeded`"]
pub struct Attempt {
    pair: (String, IpAddr),
    pair_id: u64,
    address_id: u64,
}

impl Throttle {
    /// Empty tables for `policy`.
    pub fn new(policy: ThrottlePolicy) -> Self {
        Throttle {
            policy,
            state: Mutex::new(State {
                latest: None,
                next_id: 0,
                pairs: Table::new(policy.max_tracked),
                addresses: Table::new(policy.max_tracked),
            }),
        }
    }

    fn state(&self) -> std::sync::MutexGuard<'_, State> {
        // The tables stay consistent at every step that can panic (none
        // should), so a poisoned lock is still usable.
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Counts an attempt for `username` from `client` at `now`, or refuses
    /// it when the pair or the client's address has used up its attempts in
    /// its current window. A refused attempt is not counted.
    pub fn begin(
        &self,
        username: &str,
        client: IpAddr,
        now: Instant,
    ) -> Result<Attempt, Throttled> {
        let ThrottlePolicy {
            max_failures,
            max_address_failures,
            window,
            ..
        } = self.policy;
        let mut state = self.state();
        let now = state.latest.map_or(now, |latest| latest.max(now));
        state.latest = Some(now);
        state.pairs.expire(now, window);
        state.addresses.expire(now, window);
        let address = client_key(client);
        let pair = (username.to_owned(), address);
        let locked = [
            state
                .addresses
                .locked(&address, max_address_failures, now, window),
            state.pairs.locked(&pair, max_failures, now, window),
        ];
        if let Some(left) = locked.into_iter().flatten().max() {
            return Err(Throttled {
                retry_after: whole_seconds(left),
            });
        }
        let State {
            next_id,
            pairs,
            addresses,
            ..
        } = &mut *state;
        let address_id = addresses.count(address, now, next_id);
        let pair_id = pairs.count(pair.clone(), now, next_id);
        Ok(Attempt {
            pair,
            pair_id,
            address_id,
        })
    }

    /// `attempt` signed in: its pair's count starts over, and its address
    /// gets this attempt back (the address's failures stay).
    pub fn succeeded(&self, attempt: Attempt) {
        let mut state = self.state();
        state
            .pairs
            .update(&attempt.pair, attempt.pair_id, |e| e.attempts = 0);
        state
            .addresses
            .update(&attempt.pair.1, attempt.address_id, |e| {
                e.attempts = e.attempts.saturating_sub(1);
            });
    }

    /// How many (username, address) pairs and how many addresses are
    /// tracked.
    pub fn tracked(&self) -> (usize, usize) {
        let state = self.state();
        (state.pairs.len(), state.addresses.len())
    }
}

/// `d` rounded up to whole seconds, at least one: `Retry-After` is in
/// seconds, and a client told to wait less than the lock would be refused
/// again.
fn whole_seconds(d: Duration) -> Duration {
    let secs = d.as_secs() + u64::from(d.subsec_nanos() > 0);
    Duration::from_secs(secs.max(1))
}

#[cfg(test)]
mod tests {
    use std::net::Ipv4Addr;

    use super::*;

    const POLICY: ThrottlePolicy = ThrottlePolicy {
        max_failures: 3,
        max_address_failures: 10,
        window: Duration::from_secs(60),
        max_tracked: MAX_TRACKED,
    };

    /// 10.0.0.`n`.
    fn ip(n: u8) -> IpAddr {
        IpAddr::V4(Ipv4Addr::new(10, 0, 0, n))
    }

    /// 10.`n`: a distinct address for each `n`.
    fn many(n: u32) -> IpAddr {
        IpAddr::V4(Ipv4Addr::from(0x0a00_0000 | n))
    }

    fn secs(s: u64) -> Duration {
        Duration::from_secs(s)
    }

    fn refused(secs: u64) -> Result<(), Throttled> {
        Err(Throttled {
            retry_after: Duration::from_secs(secs),
        })
    }

    /// `begin`, the attempt dropped (a failure).
    fn fail(t: &Throttle, user: &str, client: IpAddr, now: Instant) -> Result<(), Throttled> {
        t.begin(user, client, now).map(drop)
    }

    /// Fails `POLICY.max_failures` times for `user` from `client`, each
    /// allowed: the next attempt is refused.
    fn use_up(t: &Throttle, user: &str, client: IpAddr, now: Instant) {
        for _ in 0..POLICY.max_failures {
            assert_eq!(fail(t, user, client, now), Ok(()), "{user}");
        }
    }

    #[test]
    fn attempts_are_limited_per_username_and_address() {
        let t = Throttle::new(POLICY);
        let t0 = Instant::now();
        for _ in 0..3 {
            assert_eq!(fail(&t, "alice", ip(1), t0), Ok(()));
        }
        assert_eq!(fail(&t, "alice", ip(1), t0 + secs(20)), refused(40));
        // A fraction of a second left still says one whole second.
        let nearly = t0 + Duration::from_millis(59_500);
        assert_eq!(fail(&t, "alice", ip(1), nearly), refused(1));
        // Other names from the same address are not affected, known or not.
        assert_eq!(fail(&t, "nobody", ip(1), t0 + secs(20)), Ok(()));
        // The window ends; the count starts over.
        assert_eq!(fail(&t, "alice", ip(1), t0 + secs(60)), Ok(()));
    }

    #[test]
    fn alice_locked_from_one_address_signs_in_from_another() {
        let t = Throttle::new(POLICY);
        let t0 = Instant::now();
        for _ in 0..3 {
            assert_eq!(fail(&t, "alice", ip(66), t0), Ok(()));
        }
        assert!(fail(&t, "alice", ip(66), t0).is_err());
        let attempt = t.begin("alice", ip(1), t0);
        assert!(attempt.is_ok(), "{attempt:?}");
        // The attacker keeps hammering; alice's own address is unaffected.
        for _ in 0..100 {
            assert!(fail(&t, "alice", ip(66), t0 + secs(1)).is_err());
        }
        assert_eq!(fail(&t, "alice", ip(1), t0 + secs(1)), Ok(()));
    }

    #[test]
    fn one_address_failing_across_names_is_locked_for_every_name() {
        let t = Throttle::new(POLICY);
        let t0 = Instant::now();
        for i in 0..10 {
            assert_eq!(fail(&t, &format!("user{i}"), ip(66), t0), Ok(()));
        }
        // Locked for every name, new or known, the account's owner included.
        for name in ["alice", "user0", "someone-new"] {
            assert_eq!(fail(&t, name, ip(66), t0 + secs(10)), refused(50));
        }
        // Refused attempts are not counted: the address did not add entries.
        assert_eq!(t.tracked(), (10, 1));
        // Another address is not affected; the lock ends with the window.
        assert_eq!(fail(&t, "alice", ip(1), t0 + secs(10)), Ok(()));
        assert_eq!(fail(&t, "alice", ip(66), t0 + secs(60)), Ok(()));
    }

    #[test]
    fn the_longer_lock_is_the_one_reported() {
        let t = Throttle::new(ThrottlePolicy {
            max_failures: 1,
            max_address_failures: 2,
            ..POLICY
        });
        let t0 = Instant::now();
        // The address's window starts at t0, the pair (alice, .1)'s at 30 s,
        // when both lock.
        assert_eq!(fail(&t, "carol", ip(1), t0), Ok(()));
        assert_eq!(fail(&t, "alice", ip(1), t0 + secs(30)), Ok(()));
        assert_eq!(fail(&t, "alice", ip(1), t0 + secs(40)), refused(50));
        assert_eq!(fail(&t, "bob", ip(1), t0 + secs(40)), refused(20));
    }

    #[test]
    fn success_clears_the_pair_and_gives_the_attempt_back_to_the_address() {
        let t = Throttle::new(POLICY);
        let t0 = Instant::now();
        for _ in 0..2 {
            assert_eq!(fail(&t, "bob", ip(1), t0), Ok(()));
        }
        let attempt = t
            .begin("bob", ip(1), t0)
            .unwrap_or_else(|e| panic!("{e:?}"));
        t.succeeded(attempt);
        // The pair starts over: three more attempts.
        for _ in 0..3 {
            assert_eq!(fail(&t, "bob", ip(1), t0), Ok(()));
        }
        assert!(fail(&t, "bob", ip(1), t0).is_err());
        // The address counted 2 + 3 failures, not the success: five more
        // failures (on other names) lock it, not four.
        for i in 0..5 {
            assert_eq!(fail(&t, &format!("u{i}"), ip(1), t0), Ok(()));
        }
        assert!(fail(&t, "u9", ip(1), t0).is_err());
    }

    #[test]
    fn successes_do_not_launder_an_address_spray() {
        let t = Throttle::new(POLICY);
        let t0 = Instant::now();
        for i in 0..9 {
            assert_eq!(fail(&t, &format!("victim{i}"), ip(66), t0), Ok(()));
            // The attacker signs in to an account of their own in between.
            let own = t
                .begin("own", ip(66), t0)
                .unwrap_or_else(|e| panic!("{e:?}"));
            t.succeeded(own);
        }
        assert_eq!(fail(&t, "victim9", ip(66), t0), Ok(()));
        assert!(fail(&t, "victim10", ip(66), t0).is_err());
        assert!(t.begin("own", ip(66), t0).is_err());
    }

    #[test]
    fn parallel_attempts_count_when_they_start() {
        let t = Throttle::new(POLICY);
        let t0 = Instant::now();
        // Three guesses in flight at once: the fourth is refused before any
        // of them has finished.
        let in_flight: Vec<Attempt> = (0..3)
            .map(|_| {
                t.begin("alice", ip(1), t0)
                    .unwrap_or_else(|e| panic!("{e:?}"))
            })
            .collect();
        assert!(t.begin("alice", ip(1), t0).is_err());
        drop(in_flight);
    }

    #[test]
    fn a_late_success_does_not_touch_a_newer_entry() {
        let t = Throttle::new(POLICY);
        let t0 = Instant::now();
        let slow = t
            .begin("alice", ip(1), t0)
            .unwrap_or_else(|e| panic!("{e:?}"));
        // The window ends while it runs; three new failures lock the pair.
        for _ in 0..3 {
            assert_eq!(fail(&t, "alice", ip(1), t0 + secs(61)), Ok(()));
        }
        t.succeeded(slow);
        assert!(fail(&t, "alice", ip(1), t0 + secs(62)).is_err());
    }

    #[test]
    fn a_full_table_of_other_names_does_not_refuse_alice() {
        let t = Throttle::new(POLICY);
        let t0 = Instant::now();
        // The table fills with locked pairs and locked addresses, as many as
        // it holds, from as many addresses as that takes.
        for i in 0..MAX_TRACKED as u32 {
            let client = many(1000 + i);
            for _ in 0..3 {
                assert_eq!(fail(&t, &format!("made-up-{i}"), client, t0), Ok(()));
            }
        }
        assert_eq!(t.tracked(), (MAX_TRACKED, MAX_TRACKED));
        // Alice, from an address of her own, with the right password.
        let attempt = t.begin("alice", ip(1), t0 + secs(1));
        assert!(attempt.is_ok(), "{attempt:?}");
        assert_eq!(t.tracked(), (MAX_TRACKED, MAX_TRACKED));
        // A known name from a flooding address is not refused because of the
        // table either, only because of its own address's count.
        assert_eq!(fail(&t, "bob", many(1000 + 5000), t0 + secs(1)), Ok(()));
    }

    #[test]
    fn a_full_table_evicts_the_oldest_entry() {
        let t = Throttle::new(ThrottlePolicy {
            max_tracked: 3,
            ..POLICY
        });
        let t0 = Instant::now();
        let lock = |user: &str, client: IpAddr, at: Instant| {
            use_up(&t, user, client, at);
            assert!(fail(&t, user, client, at).is_err(), "{user}");
        };
        lock("a", ip(1), t0);
        lock("b", ip(2), t0 + secs(10));
        lock("c", ip(3), t0 + secs(20));
        assert_eq!(t.tracked(), (3, 3));
        // A fourth key: the oldest, a, makes room (its pair and its address).
        lock("d", ip(4), t0 + secs(30));
        assert_eq!(t.tracked(), (3, 3));
        for (user, client) in [("b", ip(2)), ("c", ip(3)), ("d", ip(4))] {
            assert!(fail(&t, user, client, t0 + secs(30)).is_err(), "{user}");
        }
        // a's count is gone; counting it again evicts b, the oldest left.
        assert_eq!(fail(&t, "a", ip(1), t0 + secs(30)), Ok(()));
        assert_eq!(t.tracked(), (3, 3));
        assert_eq!(fail(&t, "b", ip(2), t0 + secs(30)), Ok(()));
        assert!(fail(&t, "d", ip(4), t0 + secs(30)).is_err());
    }

    #[test]
    fn expired_entries_go_before_live_ones() {
        let t = Throttle::new(ThrottlePolicy {
            max_tracked: 3,
            ..POLICY
        });
        let t0 = Instant::now();
        use_up(&t, "x", ip(1), t0);
        use_up(&t, "y", ip(2), t0 + secs(50));
        use_up(&t, "z", ip(3), t0 + secs(50));
        // x's window has ended: it goes, and the locked y and z stay.
        assert_eq!(fail(&t, "w", ip(4), t0 + secs(60)), Ok(()));
        assert_eq!(t.tracked(), (3, 3));
        assert_eq!(fail(&t, "y", ip(2), t0 + secs(60)), refused(50));
        assert_eq!(fail(&t, "z", ip(3), t0 + secs(60)), refused(50));
        // Expired entries are dropped whether or not the table is full.
        assert_eq!(fail(&t, "e", ip(5), t0 + secs(200)), Ok(()));
        assert_eq!(t.tracked(), (1, 1));
    }

    #[test]
    fn a_clock_going_back_keeps_the_order() {
        let t = Throttle::new(ThrottlePolicy {
            max_tracked: 2,
            ..POLICY
        });
        let t0 = Instant::now();
        assert_eq!(fail(&t, "a", ip(1), t0 + secs(10)), Ok(()));
        // An earlier `now` (threads racing to the lock) counts as the latest.
        assert_eq!(fail(&t, "b", ip(2), t0), Ok(()));
        assert_eq!(fail(&t, "c", ip(3), t0 + secs(10)), Ok(()));
        // a was the oldest and went; b's window started at t0 + 10s too.
        assert_eq!(t.tracked(), (2, 2));
        for _ in 0..2 {
            assert_eq!(fail(&t, "b", ip(2), t0 + secs(69)), Ok(()));
        }
        assert_eq!(fail(&t, "b", ip(2), t0 + secs(69)), refused(1));
    }

    #[test]
    fn ipv6_clients_are_counted_by_their_64_prefix() {
        let a: IpAddr = "2001:db8:1:2:aaaa::1"
            .parse()
            .unwrap_or_else(|e| panic!("{e}"));
        let b: IpAddr = "2001:db8:1:2:ffff::9"
            .parse()
            .unwrap_or_else(|e| panic!("{e}"));
        let other: IpAddr = "2001:db8:1:3::1".parse().unwrap_or_else(|e| panic!("{e}"));
        let mapped: IpAddr = "::ffff:10.0.0.1".parse().unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(client_key(a), client_key(b));
        assert_ne!(client_key(a), client_key(other));
        assert_eq!(client_key(mapped), ip(1));
        assert_eq!(client_key(ip(1)), ip(1));
        let t = Throttle::new(POLICY);
        let t0 = Instant::now();
        for _ in 0..3 {
            assert_eq!(fail(&t, "alice", a, t0), Ok(()));
        }
        assert!(fail(&t, "alice", b, t0).is_err());
        assert_eq!(fail(&t, "alice", other, t0), Ok(()));
    }
}
