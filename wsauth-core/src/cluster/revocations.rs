//! What this node knows is revoked, and the live connections it would close.
//!
//! # Motivation
//!
//! A revoked token must be refused at every handshake and every refresh,
//! and a Redis round trip there would put the cluster's store on every
//! connection's path. So each node keeps the revoked `jti`s and the
//! per-subject "issued before" times in memory (fed by the control channel
//! and reloaded from Redis, see `redis/control.rs`), and checks tokens
//! against them locally.
//!
//! The same lock guards the list of live connections per subject: a
//! revocation updates the sets and sweeps the listed connections in one
//! step, and a handshake lists its connection and checks its token in one
//! step, so a revocation racing a handshake either sees the connection or
//! is seen by it.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError, Weak};
use std::time::{SystemTime, UNIX_EPOCH};

use smallvec::SmallVec;

use crate::audit::AuditLog;
use crate::link::Link;

/// The token a connection holds, as far as revocation cares.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct TokenMark {
    /// Its `jti` claim, when it has one.
    pub(crate) jti: Option<Box<str>>,
    /// Its `iat` claim, when it has one.
    pub(crate) iat: Option<u64>,
}

impl TokenMark {
    /// The mark of a token with these claims.
    pub(crate) fn of(claims: &crate::jwt::Claims) -> Self {
        TokenMark {
            jti: claims
                .claims
                .get("jti")
                .and_then(serde_json::Value::as_str)
                .map(Box::from),
            iat: claims.iat,
        }
    }
}

/// One revocation, as the API takes it and the control channel carries it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Revocation {
    /// The token with this `jti`, remembered until `exp` (unix seconds).
    Jti { jti: Box<str>, exp: u64 },
    /// Every token of `subject` issued at or before `before` (unix
    /// seconds), or without `iat` (it cannot prove it is newer).
    Subject { subject: Box<str>, before: u64 },
    /// Every live connection of `subject`, with no effect on later tokens.
    Disconnect { subject: Box<str> },
}

/// The revoked tokens this node knows of, and its live connections by
/// subject.
#[derive(Debug)]
pub(crate) struct Revocations {
    inner: Mutex<Inner>,
    /// How long a subject's "issued before" time is kept: at least the
    /// longest token lifetime, or older tokens would become valid again.
    retention_s: u64,
    /// Where what takes effect is audited, when the server has a log.
    audit: Option<AuditLog>,
}

#[derive(Debug, Default)]
struct Inner {
    /// `jti` → until when it is remembered (unix seconds).
    jtis: HashMap<Box<str>, u64>,
    /// subject → its tokens issued at or before this (unix seconds) are
    /// revoked.
    subjects: HashMap<Box<str>, u64>,
    /// subject → its live connections on this node: nearly always one,
    /// kept in the map's entry rather than in an allocation of its own
    /// (48 bytes a connection).
    live: HashMap<Arc<str>, SmallVec<[Weak<Link>; 1]>>,
}

/// A token was revoked.
#[derive(Debug)]
pub(crate) struct Revoked;

/// A connection listed for revocation sweeps; dropping it unlists it.
#[derive(Debug)]
pub(crate) struct Listed {
    revocations: Arc<Revocations>,
    subject: Arc<str>,
    link: Weak<Link>,
}

pub(crate) fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

impl Revocations {
    /// An empty set that keeps subjects' times for `retention_s` seconds.
    pub(crate) fn new(retention_s: u64) -> Self {
        Revocations {
            inner: Mutex::new(Inner::default()),
            retention_s,
            audit: None,
        }
    }

    /// Audits what takes effect to `log` (not to `tracing`).
    pub(crate) fn audited(self, audit: Option<AuditLog>) -> Self {
        Revocations { audit, ..self }
    }

    /// [`apply`](Revocations::apply)s `revocation`, from `origin` (`api`,
    /// `cluster`), and audits it.
    pub(crate) fn apply_from(&self, revocation: &Revocation, origin: &'static str) -> usize {
        let closed = self.apply(revocation);
        crate::audit::revocation(self.audit.as_ref(), revocation, origin, closed);
        closed
    }

    /// Until when a revoked `jti` is remembered (unix seconds): its
    /// token's expiry `exp`, or the retention from now when it is unknown.
    pub(crate) fn jti_until(&self, exp: Option<u64>) -> u64 {
        exp.unwrap_or_else(|| unix_now().saturating_add(self.retention_s))
    }

    /// The latest a `jti` is remembered, whatever expiry it came with: the
    /// retention from `now` (as `revoke.lua` stores it), so memory stays
    /// bounded and a far-future `exp` cannot be written back to Redis.
    fn jti_cap(&self, now: u64) -> u64 {
        now.saturating_add(self.retention_s)
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Whether `subject`'s token `mark` is revoked.
    pub(crate) fn is_revoked(&self, subject: &str, mark: &TokenMark) -> bool {
        self.lock().revokes(subject, mark, unix_now())
    }

    /// Lists `link` (holding the token `mark`) among `subject`'s live
    /// connections, unless that token is revoked.
    pub(crate) fn list(
        self: &Arc<Self>,
        subject: &Arc<str>,
        link: &Arc<Link>,
        mark: TokenMark,
    ) -> Result<Listed, Revoked> {
        let mut inner = self.lock();
        if inner.revokes(subject, &mark, unix_now()) {
            return Err(Revoked);
        }
        *lock(&link.token) = mark;
        let links = inner.live.entry(Arc::clone(subject)).or_default();
        links.push(Arc::downgrade(link));
        Ok(Listed {
            revocations: Arc::clone(self),
            subject: Arc::clone(subject),
            link: Arc::downgrade(link),
        })
    }

    /// Records that `link` of `subject` now holds the token `mark` (an
    /// in-band refresh), unless that token is revoked.
    pub(crate) fn refreshed(
        &self,
        subject: &str,
        link: &Link,
        mark: TokenMark,
    ) -> Result<(), Revoked> {
        let inner = self.lock();
        if inner.revokes(subject, &mark, unix_now()) {
            return Err(Revoked);
        }
        *lock(&link.token) = mark;
        Ok(())
    }

    /// Applies `revocation` on this node: remembers it, and closes the live
    /// connections it covers. Returns how many were closed.
    pub(crate) fn apply(&self, revocation: &Revocation) -> usize {
        let now = unix_now();
        let mut inner = self.lock();
        inner.prune(now, self.retention_s);
        match revocation {
            Revocation::Jti { jti, exp } => {
                if *exp > now {
                    let exp = (*exp).min(self.jti_cap(now));
                    let until = inner.jtis.entry(jti.clone()).or_insert(0);
                    *until = (*until).max(exp);
                }
                inner.sweep(None, now)
            }
            Revocation::Subject { subject, before } => {
                if before.saturating_add(self.retention_s) > now {
                    let at = inner.subjects.entry(subject.clone()).or_insert(0);
                    *at = (*at).max(*before);
                }
                inner.sweep(Some(subject), now)
            }
            Revocation::Disconnect { subject } => match inner.live.get(&**subject) {
                Some(links) => links
                    .iter()
                    .filter_map(Weak::upgrade)
                    .map(|link| link.raise(&link.revoked))
                    .count(),
                None => 0,
            },
        }
    }

    /// Merges a full reload (from Redis) into the sets, never dropping what
    /// this node already knows, and sweeps every live connection against
    /// the result. Returns how many were closed.
    #[cfg(any(feature = "redis", test))]
    pub(crate) fn merge(
        &self,
        jtis: Vec<(Box<str>, u64)>,
        subjects: Vec<(Box<str>, u64)>,
    ) -> usize {
        let now = unix_now();
        let mut inner = self.lock();
        for (jti, exp) in jtis {
            let until = inner.jtis.entry(jti).or_insert(0);
            *until = (*until).max(exp.min(self.jti_cap(now)));
        }
        for (subject, before) in subjects {
            let at = inner.subjects.entry(subject).or_insert(0);
            *at = (*at).max(before);
        }
        inner.prune(now, self.retention_s);
        inner.sweep(None, now)
    }
}

/// Every revocation a node holds: `jti`s with their expiry, subjects with
/// their "issued before" time.
#[cfg(feature = "redis")]
pub(crate) type Held = (Vec<(Box<str>, u64)>, Vec<(Box<str>, u64)>);

impl Revocations {
    /// What this node holds and still enforces, to write back to a Redis
    /// that lost it.
    #[cfg(feature = "redis")]
    pub(crate) fn held(&self) -> Held {
        let inner = self.lock();
        let pairs = |map: &HashMap<Box<str>, u64>| -> Vec<(Box<str>, u64)> {
            map.iter().map(|(k, v)| (k.clone(), *v)).collect()
        };
        (pairs(&inner.jtis), pairs(&inner.subjects))
    }
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

impl Inner {
    fn revokes(&self, subject: &str, mark: &TokenMark, now: u64) -> bool {
        let jti = mark
            .jti
            .as_deref()
            .and_then(|jti| self.jtis.get(jti))
            .is_some_and(|&until| until > now);
        let before = self
            .subjects
            .get(subject)
            .is_some_and(|&before| mark.iat.is_none_or(|iat| iat <= before));
        jti || before
    }

    /// Forgets `jti`s past their token's expiry and subjects' times past
    /// the retention.
    fn prune(&mut self, now: u64, retention_s: u64) {
        self.jtis.retain(|_, until| *until > now);
        self.subjects
            .retain(|_, before| before.saturating_add(retention_s) > now);
    }

    /// Raises `revoked` on every live connection (of `subject`, or all)
    /// whose token is revoked now.
    fn sweep(&self, subject: Option<&str>, now: u64) -> usize {
        let mut closed = 0;
        let mut check = |subject: &str, links: &[Weak<Link>]| {
            for link in links.iter().filter_map(Weak::upgrade) {
                if self.revokes(subject, &lock(&link.token), now) {
                    link.raise(&link.revoked);
                    closed += 1;
                }
            }
        };
        match subject {
            Some(subject) => {
                if let Some(links) = self.live.get(subject) {
                    check(subject, links);
                }
            }
            None => {
                for (subject, links) in &self.live {
                    check(subject, links);
                }
            }
        }
        closed
    }
}

impl Drop for Listed {
    fn drop(&mut self) {
        let mut inner = self.revocations.lock();
        if let Some(links) = inner.live.get_mut(&self.subject) {
            links.retain(|l| !l.ptr_eq(&self.link) && l.strong_count() > 0);
            if links.is_empty() {
                inner.live.remove(&self.subject);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::principal::Principal;

    fn link() -> Arc<Link> {
        Arc::new(Link::new(4, Principal::new(Some("alice"), Vec::new(), &[])))
    }

    fn mark(jti: Option<&str>, iat: Option<u64>) -> TokenMark {
        TokenMark {
            jti: jti.map(Box::from),
            iat,
        }
    }

    #[test]
    fn a_subject_revocation_covers_older_and_undated_tokens_only() {
        let set = Arc::new(Revocations::new(3600));
        let now = unix_now();
        set.apply(&Revocation::Subject {
            subject: "alice".into(),
            before: now - 10,
        });
        assert!(set.is_revoked("alice", &mark(None, Some(now - 10))));
        assert!(
            set.is_revoked("alice", &mark(None, None)),
            "no iat: fail closed"
        );
        assert!(!set.is_revoked("alice", &mark(None, Some(now - 9))));
        assert!(!set.is_revoked("bob", &mark(None, Some(now - 100))));
    }

    #[test]
    fn a_jti_is_revoked_until_its_expiry() {
        let set = Arc::new(Revocations::new(3600));
        let now = unix_now();
        set.apply(&Revocation::Jti {
            jti: "t1".into(),
            exp: now + 60,
        });
        set.apply(&Revocation::Jti {
            jti: "old".into(),
            exp: now - 1,
        });
        assert!(set.is_revoked("alice", &mark(Some("t1"), None)));
        assert!(!set.is_revoked("alice", &mark(Some("t2"), Some(now))));
        assert!(!set.is_revoked("alice", &mark(Some("old"), Some(now))));
    }

    #[test]
    fn a_jti_without_expiry_is_kept_for_the_configured_retention() {
        let week = 7 * 24 * 3600;
        let set = Revocations::new(week);
        let now = unix_now();
        let until = set.jti_until(None);
        assert!((now + week..=now + week + 1).contains(&until), "{until}");
        assert_eq!(set.jti_until(Some(now + 60)), now + 60);
    }

    #[test]
    fn a_jti_expiry_is_capped_at_the_retention() {
        let set = Revocations::new(60);
        let now = unix_now();
        set.apply(&Revocation::Jti {
            jti: "far".into(),
            exp: now + 1_000_000,
        });
        set.merge(vec![("loaded".into(), now + 1_000_000)], Vec::new());
        let inner = set.lock();
        for jti in ["far", "loaded"] {
            let until = inner.jtis[jti];
            assert!((now + 60..=now + 61).contains(&until), "{jti}: {until}");
        }
    }

    #[test]
    fn revocations_raise_the_flag_on_listed_connections_only() {
        let set = Arc::new(Revocations::new(3600));
        let now = unix_now();
        let subject: Arc<str> = Arc::from("alice");
        let (a, b) = (link(), link());
        let listed_a = set.list(&subject, &a, mark(Some("ja"), Some(now - 5)));
        let listed_b = set.list(&subject, &b, mark(Some("jb"), Some(now - 5)));
        assert!(listed_a.is_ok() && listed_b.is_ok());
        assert_eq!(
            set.apply(&Revocation::Jti {
                jti: "ja".into(),
                exp: now + 60
            }),
            1
        );
        assert!(a.revoked.load(std::sync::atomic::Ordering::Acquire));
        assert!(!b.revoked.load(std::sync::atomic::Ordering::Acquire));
        assert_eq!(
            set.apply(&Revocation::Disconnect {
                subject: "alice".into()
            }),
            2
        );
        assert!(b.revoked.load(std::sync::atomic::Ordering::Acquire));
        drop((listed_a, listed_b));
        assert!(set.lock().live.is_empty(), "unlisted on drop");
        assert!(
            set.list(&subject, &link(), mark(Some("ja"), Some(now)))
                .is_err(),
            "a revoked token is not listed"
        );
    }

    #[test]
    fn a_refresh_to_a_revoked_token_is_refused() {
        let set = Arc::new(Revocations::new(3600));
        let now = unix_now();
        set.merge(
            vec![("bad".into(), now + 60)],
            vec![("alice".into(), now - 100)],
        );
        let a = link();
        assert!(
            set.refreshed("alice", &a, mark(Some("bad"), Some(now)))
                .is_err()
        );
        assert!(
            set.refreshed("alice", &a, mark(Some("ok"), Some(now - 100)))
                .is_err()
        );
        assert!(
            set.refreshed("alice", &a, mark(Some("ok"), Some(now)))
                .is_ok()
        );
        assert_eq!(*lock(&a.token), mark(Some("ok"), Some(now)));
    }
}
