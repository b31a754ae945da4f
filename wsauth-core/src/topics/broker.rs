//! The in-process broker: who subscribes to which instance, and what each
//! instance remembers.
//!
//! # Motivation
//!
//! An instance is two halves. Its *local subscribers* are this process's
//! connections: a publication is queued on each one's bounded outbox
//! ([`Link`]), as one shared frame (a reference count per subscriber), and
//! a full outbox marks that connection slow instead of blocking the
//! publisher. Its *log* (the offset counter, the epoch, the history, who is
//! present) is what every process serving the topic would have to agree
//! on. Here both live under the instance's own lock; a clustered broker
//! (issue 13) keeps [`Instance::local`] and the fan-out as they are and
//! moves [`Log`] and the presence counts behind a shared store, publishing
//! through it.
//!
//! In a cluster (the `redis` feature) that is what happens: the log's
//! numbering comes from Redis, which numbers every publication
//! (`cluster/redis/fanout.rs`), and this broker only fans out what the
//! node reads back from Redis ([`Broker::deliver`]), keeping its log in
//! step ([`Numbered`]). A subscriber coming back with a `since` recovers
//! from Redis's copy of the history ([`Recovery`], whichever node it left),
//! completed under the instance's lock by what this node delivered after
//! that copy was read: nothing missed, nothing twice, and nothing before
//! its `wsauth.subscribed`. Presence is counted per node here as always,
//! but in a cluster `joined`/`left` come from Redis (which counts the
//! subjects of every node, [`Broker::announce`]), not from these counts;
//! a subject's linger is kept on its node. Without a cluster, nothing of
//! that runs.
//!
//! Locking: the map of instances is read-locked only to find an instance
//! (and write-locked to create or retire one); everything else happens
//! under the instance's mutex. A publication fanning out to thousands of
//! subscribers holds its instance only, so subscribing, leaving and
//! publishing elsewhere go on meanwhile; on one instance the lock keeps
//! offsets, queue order and presence in step. An instance taken out of the
//! map is marked retired under its lock, and whoever finds it so looks the
//! key up again. Locks are taken in one order: map, instance, a link's
//! subscription list, a link's outbox.
//!
//! A subscriber takes its publications as the instance's envelope
//! (`wsauth.publication`) or, where its endpoint lists the topic with
//! `deliver: message`, as the message's own frame; each form is built at
//! most once per publication, when a subscriber first needs it.
//!
//! Subscribers are indexed by their link, so a connection leaves an
//! instance in constant time: a thousand subscribers disconnecting at once
//! cost a thousand removals, not a thousand scans of the list.
//!
//! Memory: a connection that never subscribes costs nothing here. Each
//! subscription costs one entry in its connection's list (an `Arc` of the
//! instance key) and one [`Subscriber`] in the instance (about 50 bytes
//! with its index entry: the link and subject pointers, the key, its hash
//! and its slot in the index), plus the instance itself while anyone
//! subscribes or its history is alive.

use std::collections::HashMap;
#[cfg(feature = "redis")]
use std::collections::VecDeque;
use std::collections::hash_map::Entry;
use std::sync::atomic::Ordering;
use std::sync::{
    Arc, Mutex, MutexGuard, PoisonError, RwLock, RwLockReadGuard, RwLockWriteGuard, TryLockError,
    Weak,
};
use std::time::Duration;

use indexmap::IndexMap;
use serde_json::json;
use tokio::time::Instant;
use tungstenite::{Message, Utf8Bytes};
use wsauth_spec::Deliver;
use wsauth_spec::wire::TopicRefusal;

use super::frames::{self, Subscribed};
use super::history::{Kept, Log, Since};
use super::instance::InstanceKey;
use super::presence::{LINGER, Presence};
use super::{By, Join};
use crate::link::Link;
use crate::metrics::Registry;

/// How an epoch a cluster node numbered alone begins.
#[cfg(feature = "redis")]
const LOCAL_EPOCH: &str = "local-";

/// How often idle instances (no subscriber, history expired) are looked
/// for among those nobody touches.
const SWEEP_EVERY: Duration = Duration::from_secs(1);

#[derive(Debug)]
pub(crate) struct Broker {
    instances: RwLock<HashMap<Arc<InstanceKey>, Slot>>,
    /// In a cluster: presence changes are announced by Redis, for every
    /// node's subjects, not from this node's counts.
    presence_elsewhere: bool,
    /// The number of the next presence change Redis announces.
    #[cfg(feature = "redis")]
    heard: std::sync::atomic::AtomicU64,
    /// When idle instances were last looked for.
    swept_at: Mutex<Instant>,
    /// Where deliveries are counted (every node counts its own, whoever
    /// published).
    metrics: Option<Arc<Registry>>,
}

/// An instance, shared by the map and whoever works on it.
type Slot = Arc<Mutex<Instance>>;

/// One topic instance.
#[derive(Debug)]
struct Instance {
    /// This process's subscribed connections, by [`LinkId`].
    local: IndexMap<LinkId, Subscriber>,
    log: Log,
    /// Who is present, on topics with presence.
    present: Presence,
    /// In a cluster: the latest presence changes Redis announced, so that
    /// a join whose `present` was read from Redis meanwhile catches up.
    #[cfg(feature = "redis")]
    heard: VecDeque<Heard>,
    /// In a cluster: joins under way on this node, from before the channel
    /// is subscribed until they are done. The instance lives meanwhile, so
    /// that what the node reads on the channel before the join is
    /// registered (publications, presence changes) is kept, not dropped.
    #[cfg(feature = "redis")]
    pins: usize,
    /// In a cluster, on topics with presence: who Redis last said is
    /// present (listed to a join, then announced), so that the changes
    /// missed while the node was cut off from Redis can be told once it
    /// is back.
    #[cfg(feature = "redis")]
    told: std::collections::BTreeSet<Box<str>>,
    /// Taken out of the broker's map: nobody may join it any more, and a
    /// publication looks the key up again.
    retired: bool,
}

/// A presence change Redis announced, numbered by the broker.
#[cfg(feature = "redis")]
#[derive(Debug)]
struct Heard {
    seq: u64,
    joined: bool,
    subject: Arc<str>,
}

/// How many presence changes an instance remembers: far more than can
/// arrive while one join reads Redis.
#[cfg(feature = "redis")]
const HEARD: usize = 256;

impl<'a> FromRedis<'a> {
    /// Whether Redis counts who is present (and announces the changes),
    /// rather than this node.
    fn counts_presence(&self) -> bool {
        #[cfg(feature = "redis")]
        return self.present.is_some();
        #[cfg(not(feature = "redis"))]
        false
    }

    /// The subjects present on `instance`, sorted: in a cluster, as Redis
    /// listed them, changed by what Redis announced since it was asked,
    /// with this node's own.
    fn present(&self, instance: &'a Instance) -> Vec<&'a str> {
        #[cfg(feature = "redis")]
        if let Some(mut all) = self.cluster(instance) {
            all.extend(instance.present());
            return all.into_iter().collect();
        }
        instance.present()
    }

    /// In a cluster, the subjects present on `instance` as Redis counts
    /// them: as it listed them, changed by what it announced since.
    #[cfg(feature = "redis")]
    fn cluster(&self, instance: &'a Instance) -> Option<std::collections::BTreeSet<&'a str>> {
        let listed = self.present?;
        let mut all: std::collections::BTreeSet<&str> = listed.iter().map(String::as_str).collect();
        for heard in instance.heard.iter().filter(|h| h.seq >= self.heard_since) {
            if heard.joined {
                all.insert(&heard.subject);
            } else {
                all.remove(&*heard.subject);
            }
        }
        Some(all)
    }
}

/// A subscribed connection's identity: its link's address, stable and
/// unique while the instance holds the link.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
struct LinkId(usize);

impl LinkId {
    fn of(link: &Link) -> Self {
        LinkId(std::ptr::from_ref(link) as usize)
    }
}

#[derive(Debug)]
struct Subscriber {
    link: Arc<Link>,
    subject: Option<Arc<str>>,
    deliver: Deliver,
    /// In a cluster: the epoch and offset its client has seen, when that
    /// is beyond the log it joined (it recovered from Redis, having been
    /// on a node ahead of this one): what reaches this node up to there
    /// is not delivered to it again.
    #[cfg(feature = "redis")]
    floor: Option<(Box<str>, u64)>,
}

impl Subscriber {
    /// Whether its client has `offset` of `epoch` already.
    fn has(&self, epoch: &str, offset: u64) -> bool {
        #[cfg(feature = "redis")]
        return self
            .floor
            .as_ref()
            .is_some_and(|(seen, floor)| **seen == *epoch && offset <= *floor);
        #[cfg(not(feature = "redis"))]
        {
            let _ = (epoch, offset);
            false
        }
    }
}

/// A subscription the broker removed.
struct Removed {
    /// How it was delivered.
    deliver: Deliver,
    /// Its subject now lingers on the instance: the others hear it left
    /// once [`LINGER`] is over.
    lingers: bool,
}

/// A new subscription, as the broker registered it.
pub(crate) struct Joined {
    /// The `wsauth.subscribed` frame.
    pub(crate) frame: String,
    /// The publications missed since the client's `since`, in order.
    pub(crate) replay: Vec<Utf8Bytes>,
}

/// The outcome of a publication.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Published {
    /// The publication's offset in its instance; 0 when the instance had
    /// no subscriber and keeps no history (nothing numbered it). In a
    /// cluster, Redis numbers every publication: always 1 or more (but for
    /// a node publishing alone, cut off from Redis under
    /// `FailurePolicy::Degrade`, which numbers as a single server does, in
    /// an epoch of its own).
    pub offset: u64,
    /// The connections of this server it was queued for (a subscriber
    /// whose queue was full is not counted: that connection is closing as
    /// a slow consumer).
    ///
    /// `None` in a cluster (`Builder::redis`, feature `redis`): every node,
    /// this one included, delivers a publication when it reads it back from
    /// Redis, after `publish` returned, so how many connections get it is
    /// not known then.
    pub delivered: Option<usize>,
}

/// An instance's numbering as the cluster's Redis holds it, read when this
/// node starts following the instance.
#[derive(Debug)]
pub(crate) struct Numbered {
    pub(crate) epoch: String,
    /// The latest publication's offset.
    pub(crate) last: u64,
}

/// Redis's answer to a returning subscriber's `since`.
#[derive(Debug)]
pub(crate) struct Recovery {
    /// The numbering when the history was read.
    pub(crate) numbered: Numbered,
    /// The publications after `since` up to `numbered.last`, as offset and
    /// message text; `None` when they cannot all be replayed.
    pub(crate) missed: Option<Vec<(u64, String)>>,
}

/// What the cluster's Redis says about an instance a connection joins.
#[derive(Clone, Copy, Default)]
pub(crate) struct FromRedis<'a> {
    /// Its numbering, when this node has just started following it.
    pub(crate) numbered: Option<&'a Numbered>,
    /// The answer to the client's `since`, when Redis was asked.
    pub(crate) recovery: Option<&'a Recovery>,
    /// The subjects present on any node, on topics with presence.
    #[cfg(feature = "redis")]
    pub(crate) present: Option<&'a [String]>,
    /// [`Broker::heard_now`] before `present` was read: later changes
    /// complete it.
    #[cfg(feature = "redis")]
    pub(crate) heard_since: u64,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

fn read<T>(m: &RwLock<T>) -> RwLockReadGuard<'_, T> {
    m.read().unwrap_or_else(PoisonError::into_inner)
}

fn write<T>(m: &RwLock<T>) -> RwLockWriteGuard<'_, T> {
    m.write().unwrap_or_else(PoisonError::into_inner)
}

/// Queues `frame` for `link`; a full queue marks the connection slow (its
/// loop closes it with `slow_consumer`), and the caller moves on.
fn offer(link: &Link, frame: &Utf8Bytes) -> bool {
    match link.push(Message::Text(frame.clone())) {
        Ok(()) => true,
        Err(_) => {
            link.raise(&link.slow);
            false
        }
    }
}

impl Instance {
    fn new() -> Self {
        Instance {
            local: IndexMap::new(),
            log: Log::new(),
            present: Presence::default(),
            #[cfg(feature = "redis")]
            heard: VecDeque::new(),
            #[cfg(feature = "redis")]
            pins: 0,
            #[cfg(feature = "redis")]
            told: std::collections::BTreeSet::new(),
            retired: false,
        }
    }

    /// Whether the instance must be kept: someone subscribes or is joining,
    /// or its history still holds something.
    fn alive(&mut self, key: &InstanceKey, now: Instant) -> bool {
        self.log.expire(key.topic.history, now);
        !self.local.is_empty() || !self.log.is_empty() || self.pinned()
    }

    /// Whether a join in a cluster holds the instance.
    fn pinned(&self) -> bool {
        #[cfg(feature = "redis")]
        return self.pins > 0;
        #[cfg(not(feature = "redis"))]
        false
    }

    /// Takes on the cluster's numbering: a log of another epoch, or one
    /// that is behind it with nobody here listening (it was not following
    /// the instance), starts again from there. With subscribers here the
    /// node has followed the instance all along: what Redis numbered
    /// beyond the log is on its way through the subscription.
    fn number(&mut self, numbered: &Numbered) {
        let behind = numbered.last > self.log.last;
        if *self.log.epoch != *numbered.epoch || (behind && self.local.is_empty()) {
            self.log.adopt(&numbered.epoch, numbered.last);
        }
    }

    /// The publications a returning subscriber missed, up to the log's
    /// last offset (which its `wsauth.subscribed` says; later ones reach it
    /// live): from Redis's copy of the history, then what this node
    /// delivered after that copy was read (kept in the log, in step with
    /// Redis since). `None` when they cannot all be replayed.
    fn recover_from(&self, key: &InstanceKey, recovery: &Recovery) -> Option<Vec<Utf8Bytes>> {
        let missed = recovery.missed.as_ref()?;
        let read = &recovery.numbered;
        if *self.log.epoch != *read.epoch {
            return None;
        }
        let last = self.log.last;
        let after = if last > read.last {
            let since = Since {
                epoch: read.epoch.clone(),
                offset: read.last,
            };
            self.log.recover(key.topic.history, &since)?
        } else {
            Vec::new()
        };
        let (topic, params) = (key.topic.name, &key.params);
        Some(
            missed
                .iter()
                .filter(|(offset, _)| *offset <= last)
                .map(|(offset, message)| {
                    Utf8Bytes::from(frames::publication(topic, params, *offset, message))
                })
                .chain(after)
                .collect(),
        )
    }

    /// Queues the publication numbered `offset` for every subscriber, each
    /// delivery's frame built once and shared, and keeps the envelope when
    /// the topic has history. Returns how many subscribers took it.
    fn fan_out(&mut self, key: &InstanceKey, offset: u64, message: &str, now: Instant) -> usize {
        let mut frames = Shared {
            key,
            offset,
            message,
            envelope: None,
            bare: None,
        };
        let epoch = &self.log.epoch;
        let delivered = self
            .local
            .values()
            .filter(|s| !s.has(epoch, offset) && offer(&s.link, frames.get(s.deliver)))
            .count();
        if let Some(history) = key.topic.history {
            let kept = Kept {
                offset,
                at: now,
                frame: frames.get(Deliver::Publication).clone(),
            };
            self.log.keep(history, kept);
        }
        delivered
    }

    /// The subjects present, sorted.
    fn present(&self) -> Vec<&str> {
        self.present.subjects()
    }

    /// Tells every subscriber but `except` about a presence change (not
    /// those taking messages only: their clients know no topic).
    fn announce(&self, key: &InstanceKey, except: Option<&Link>, fields: serde_json::Value) {
        let frame = Utf8Bytes::from(frames::presence(None, key.topic.name, &key.params, fields));
        for subscriber in self.local.values() {
            if subscriber.deliver == Deliver::Publication
                && !except.is_some_and(|except| std::ptr::eq(&*subscriber.link, except))
            {
                offer(&subscriber.link, &frame);
            }
        }
    }
}

impl Instance {
    /// Takes `link`'s connection out of the subscribers (its own list no
    /// longer has the key, or is being emptied); `None` when it was not
    /// subscribed.
    fn remove(&mut self, link: &Link, now: Instant) -> Option<Removed> {
        let subscriber = self.local.swap_remove(&LinkId::of(link))?;
        let lingers = subscriber
            .subject
            .is_some_and(|subject| self.present.depart(&subject, now));
        Some(Removed {
            deliver: subscriber.deliver,
            lingers,
        })
    }

    /// Forgets the subjects whose linger is over, telling the subscribers
    /// when `announce` (not in a cluster: Redis tells them).
    fn settle(&mut self, key: &InstanceKey, now: Instant, announce: bool) {
        for subject in self.present.settle(now) {
            if announce {
                self.announce(key, None, json!({ "left": &*subject }));
            }
        }
    }
}

impl Broker {
    pub(crate) fn new() -> Self {
        Broker {
            instances: RwLock::new(HashMap::new()),
            presence_elsewhere: false,
            #[cfg(feature = "redis")]
            heard: std::sync::atomic::AtomicU64::new(0),
            swept_at: Mutex::new(Instant::now()),
            metrics: None,
        }
    }

    /// Counts this broker's deliveries in `metrics`.
    pub(crate) fn counted(self, metrics: Arc<Registry>) -> Self {
        Broker {
            metrics: Some(metrics),
            ..self
        }
    }

    fn count(&self, key: &InstanceKey, delivered: usize) {
        if let Some(metrics) = &self.metrics {
            metrics.delivered(key.topic, delivered);
        }
    }

    /// The broker of a cluster's node: presence is announced by Redis.
    #[cfg(feature = "redis")]
    pub(crate) fn clustered() -> Self {
        Broker {
            presence_elsewhere: true,
            ..Broker::new()
        }
    }

    /// The instance of `key`, created when `create` and it does not exist.
    fn find(&self, key: &InstanceKey, create: bool) -> Option<(Arc<InstanceKey>, Slot)> {
        if let Some((key, slot)) = read(&self.instances).get_key_value(key) {
            return Some((Arc::clone(key), Arc::clone(slot)));
        }
        if !create {
            return None;
        }
        let mut map = write(&self.instances);
        let (key, slot) = match map.entry(Arc::new(key.clone())) {
            Entry::Occupied(entry) => (Arc::clone(entry.key()), Arc::clone(entry.get())),
            Entry::Vacant(entry) => {
                let key = Arc::clone(entry.key());
                (
                    key,
                    Arc::clone(entry.insert(Arc::new(Mutex::new(Instance::new())))),
                )
            }
        };
        Some((key, slot))
    }

    /// Subscribes the joining connection to `key` (a connection already
    /// subscribed keeps its one subscription), unless it holds `max`
    /// subscriptions already; it gets publications as `deliver` says. For a
    /// server join ([`By::Server`]) with publication delivery, the
    /// `wsauth.subscribed` frame is queued on the link here, before any
    /// publication can be. In a cluster, `redis` is what Redis said of the
    /// instance.
    pub(crate) fn subscribe(
        &self,
        key: InstanceKey,
        join: &Join<'_>,
        max: usize,
        deliver: Deliver,
        redis: FromRedis<'_>,
    ) -> Result<Joined, TopicRefusal> {
        let now = Instant::now();
        self.sweep(now);
        loop {
            let Some((key, slot)) = self.find(&key, true) else {
                return Err(TopicRefusal::ServerError);
            };
            let mut instance = lock(&slot);
            if instance.retired {
                continue;
            }
            let numbered = redis.recovery.map(|r| &r.numbered);
            for numbered in redis.numbered.into_iter().chain(numbered) {
                instance.number(numbered);
            }
            return Self::join_instance(&key, &mut instance, join, max, deliver, now, redis);
        }
    }

    /// [`Broker::subscribe`] on a live instance, under its lock.
    fn join_instance(
        key: &Arc<InstanceKey>,
        instance: &mut Instance,
        join: &Join<'_>,
        max: usize,
        deliver: Deliver,
        now: Instant,
        redis: FromRedis<'_>,
    ) -> Result<Joined, TopicRefusal> {
        let link = join.link;
        let subject = join.principal.shared_subject().cloned();
        let mut subscriptions = lock(&link.subscriptions);
        // A connection that is gone, or whose principal changed while the
        // checks ran (a handler's join racing a refresh), is not subscribed:
        // the refresh's re-checks never saw this subscription.
        if link.left.load(Ordering::Relaxed) || link.generation() != join.generation {
            return Err(TopicRefusal::ServerError);
        }
        let already = subscriptions.iter().any(|s| **s == **key);
        if !already && subscriptions.len() >= max {
            return Err(TopicRefusal::TooManySubscriptions);
        }
        let topic = key.topic;
        instance.log.expire(topic.history, now);
        if !already {
            subscriptions.push(Arc::clone(key));
            instance.local.insert(
                LinkId::of(link),
                Subscriber {
                    link: Arc::clone(link),
                    subject: subject.clone(),
                    deliver,
                    #[cfg(feature = "redis")]
                    floor: None,
                },
            );
            if topic.presence
                && let Some(subject) = subject
                && instance.present.arrive(&subject)
                && !redis.counts_presence()
            {
                instance.announce(key, Some(link), json!({ "joined": &*subject }));
            }
        }
        drop(subscriptions);
        // Recovery is for a new subscription: one already held gets its
        // publications live, and replaying them again would repeat them
        // (and let a client ask for the whole history at its rate limit).
        let recovered = join.since.map(|since| {
            if already {
                None
            } else if let Some(recovery) = redis.recovery {
                instance.recover_from(key, recovery)
            } else {
                instance.log.recover(topic.history, since)
            }
        });
        #[cfg(feature = "redis")]
        let offset = match join.since {
            // Recovered from Redis beyond this node's log: it has seen up
            // to its `since`, which the log is yet to reach.
            Some(since)
                if redis.recovery.is_some()
                    && matches!(recovered, Some(Some(_)))
                    && since.offset > instance.log.last =>
            {
                let epoch = instance.log.epoch.clone();
                if let Some(subscriber) = instance.local.get_mut(&LinkId::of(link)) {
                    subscriber.floor = Some((epoch, since.offset));
                }
                since.offset
            }
            _ => instance.log.last,
        };
        #[cfg(not(feature = "redis"))]
        let offset = instance.log.last;
        let frame = frames::subscribed(
            topic.name,
            &key.params,
            Subscribed {
                id: join.id,
                epoch: &instance.log.epoch,
                offset,
                recovered: recovered.as_ref().map(Option::is_some),
                present: topic.presence.then(|| redis.present(instance)),
            },
        );
        #[cfg(feature = "redis")]
        if let Some(cluster) = redis.cluster(instance) {
            instance.told = cluster.into_iter().map(Box::from).collect();
        }
        if join.by == By::Server && deliver == Deliver::Publication {
            offer(link, &Utf8Bytes::from(frame.clone()));
        }
        Ok(Joined {
            frame,
            replay: recovered.flatten().unwrap_or_default(),
        })
    }

    /// Ends `link`'s subscription to `key`, saying how it was delivered;
    /// `None` when it had none.
    pub(crate) fn unsubscribe(&self, key: &InstanceKey, link: &Link) -> Option<Deliver> {
        let now = Instant::now();
        loop {
            // A connection's list names only instances it is in, and an
            // instance with a subscriber is in the map.
            let (key, slot) = self.find(key, false)?;
            let mut instance = lock(&slot);
            if instance.retired {
                continue;
            }
            let mut subscriptions = lock(&link.subscriptions);
            let at = subscriptions.iter().position(|s| **s == *key)?;
            subscriptions.swap_remove(at);
            if subscriptions.is_empty() {
                // A connection that leaves every topic returns to costing nothing.
                *subscriptions = Vec::new();
            }
            drop(subscriptions);
            let removed = instance.remove(link, now);
            let idle = !instance.alive(&key, now);
            drop(instance);
            if idle {
                self.retire(&key, &slot, now);
            } else if removed.as_ref().is_some_and(|r| r.lingers) {
                settle_later(key, &slot, !self.presence_elsewhere);
            }
            return removed.map(|r| r.deliver);
        }
    }

    /// Ends every subscription of `link`'s connection (it is closing), and
    /// returns the instances it left.
    pub(crate) fn leave_all(&self, link: &Link) -> Vec<Arc<InstanceKey>> {
        // Marked gone first (a handler's join racing the end is refused),
        // and most connections never subscribe: they touch nothing else.
        let subscriptions = {
            let mut subscriptions = lock(&link.subscriptions);
            link.left.store(true, Ordering::Relaxed);
            std::mem::take(&mut *subscriptions)
        };
        let now = Instant::now();
        for key in &subscriptions {
            let Some((key, slot)) = self.find(key, false) else {
                continue;
            };
            let mut instance = lock(&slot);
            let lingers = instance.remove(link, now).is_some_and(|r| r.lingers);
            let idle = !instance.retired && !instance.alive(&key, now);
            drop(instance);
            if idle {
                self.retire(&key, &slot, now);
            } else if lingers {
                settle_later(key, &slot, !self.presence_elsewhere);
            }
        }
        subscriptions
    }

    /// Takes `slot`, found under `key`, out of the map if it is still idle
    /// (someone may have joined it since it was seen idle).
    fn retire(&self, key: &InstanceKey, slot: &Slot, now: Instant) {
        let mut map = write(&self.instances);
        if !map
            .get(key)
            .is_some_and(|current| Arc::ptr_eq(current, slot))
        {
            return;
        }
        let mut instance = lock(slot);
        if instance.alive(key, now) {
            return;
        }
        instance.retired = true;
        drop(instance);
        map.remove(key);
    }

    /// Queues `message` (a message's JSON text) for every subscriber of
    /// `key`, each delivery's frame built once and shared, and keeps the
    /// envelope when the topic has history.
    pub(crate) fn publish(&self, key: &InstanceKey, message: &str) -> Published {
        let now = Instant::now();
        self.sweep(now);
        let history = key.topic.history;
        loop {
            // Nobody to deliver to and nothing to remember: no instance.
            let Some((_, slot)) = self.find(key, history.is_some()) else {
                return Published {
                    offset: 0,
                    delivered: Some(0),
                };
            };
            let mut instance = lock(&slot);
            if instance.retired {
                continue;
            }
            instance.log.last += 1;
            let offset = instance.log.last;
            let delivered = instance.fan_out(key, offset, message, now);
            drop(instance);
            self.count(key, delivered);
            return Published {
                offset,
                delivered: Some(delivered),
            };
        }
    }

    /// Publishes on this node alone (a cluster node cut off from Redis):
    /// numbered in an epoch of the node's, `local-` followed by
    /// `fresh_epoch`, started when the instance's log is in the cluster's.
    #[cfg(feature = "redis")]
    pub(crate) fn publish_alone(
        &self,
        key: &InstanceKey,
        message: &str,
        fresh_epoch: &str,
    ) -> Published {
        if let Some((_, slot)) = self.find(key, false) {
            let mut instance = lock(&slot);
            if !instance.log.epoch.starts_with(LOCAL_EPOCH) {
                instance
                    .log
                    .adopt(&format!("{LOCAL_EPOCH}{fresh_epoch}"), 0);
            }
        }
        self.publish(key, message)
    }

    /// Queues a publication the cluster numbered (`offset` in `epoch`) for
    /// this node's subscribers of `key`. One already delivered is dropped;
    /// after a gap or in another epoch, the log starts again from it.
    #[cfg(feature = "redis")]
    pub(crate) fn deliver(&self, key: &InstanceKey, epoch: &str, offset: u64, message: &str) {
        let now = Instant::now();
        loop {
            let Some((_, slot)) = self.find(key, false) else {
                return;
            };
            let mut instance = lock(&slot);
            if instance.retired {
                continue;
            }
            if *instance.log.epoch != *epoch || offset > instance.log.last + 1 {
                instance.log.adopt(epoch, offset.saturating_sub(1));
            } else if offset <= instance.log.last {
                return;
            }
            instance.log.last = offset;
            let delivered = instance.fan_out(key, offset, message, now);
            drop(instance);
            self.count(key, delivered);
            return;
        }
    }

    /// Keeps the instance of `key` (created if need be) until
    /// [`Broker::unpin`]: a join is under way on it. Says whether someone
    /// subscribes to it here (its log is the one they follow).
    #[cfg(feature = "redis")]
    pub(crate) fn pin(&self, key: &InstanceKey) -> bool {
        loop {
            let Some((_, slot)) = self.find(key, true) else {
                return false;
            };
            let mut instance = lock(&slot);
            if instance.retired {
                continue;
            }
            instance.pins += 1;
            return !instance.local.is_empty();
        }
    }

    /// A join on `key` is over: its instance goes if nothing else keeps it.
    #[cfg(feature = "redis")]
    pub(crate) fn unpin(&self, key: &InstanceKey) {
        let now = Instant::now();
        // A pinned instance is never retired: the one found is the one pinned.
        let Some((key, slot)) = self.find(key, false) else {
            return;
        };
        let mut instance = lock(&slot);
        instance.pins = instance.pins.saturating_sub(1);
        let idle = !instance.retired && !instance.alive(&key, now);
        drop(instance);
        if idle {
            self.retire(&key, &slot, now);
        }
    }

    /// Where this node's log of `key` stands; `None` without an instance.
    #[cfg(feature = "redis")]
    pub(crate) fn numbering(&self, key: &InstanceKey) -> Option<Numbered> {
        let (_, slot) = self.find(key, false)?;
        let instance = lock(&slot);
        Some(Numbered {
            epoch: instance.log.epoch.to_string(),
            last: instance.log.last,
        })
    }

    /// Takes on the cluster's numbering of `key` (after publications were
    /// missed that cannot be replayed).
    #[cfg(feature = "redis")]
    pub(crate) fn renumber(&self, key: &InstanceKey, numbered: &Numbered) {
        if let Some((_, slot)) = self.find(key, false) {
            lock(&slot).number(numbered);
        }
    }

    /// The subjects of this node that the cluster is to count present on
    /// `key` (a departed one until its linger is over).
    #[cfg(feature = "redis")]
    pub(crate) fn staying(&self, key: &InstanceKey) -> Vec<String> {
        self.find(key, false).map_or_else(Vec::new, |(_, slot)| {
            lock(&slot).present.staying(Instant::now())
        })
    }

    /// The number the next presence change from Redis gets.
    #[cfg(feature = "redis")]
    pub(crate) fn heard_now(&self) -> u64 {
        self.heard.load(Ordering::Acquire)
    }

    /// Tells this node's subscribers of `key` that `subject` joined (or
    /// left) somewhere in the cluster; not its own connections, which know.
    /// Remembered for the joins reading Redis meanwhile (the instance is
    /// created for them if it has no subscriber yet).
    #[cfg(feature = "redis")]
    pub(crate) fn announce(&self, key: &InstanceKey, joined: bool, subject: &str) {
        let fields = if joined {
            json!({ "joined": subject })
        } else {
            json!({ "left": subject })
        };
        let frame = Utf8Bytes::from(frames::presence(None, key.topic.name, &key.params, fields));
        loop {
            let Some((_, slot)) = self.find(key, true) else {
                return;
            };
            let mut instance = lock(&slot);
            if instance.retired {
                continue;
            }
            if instance.heard.len() == HEARD {
                instance.heard.pop_front();
            }
            instance.heard.push_back(Heard {
                seq: self.heard.fetch_add(1, Ordering::AcqRel),
                joined,
                subject: subject.into(),
            });
            if joined {
                instance.told.insert(subject.into());
            } else {
                instance.told.remove(subject);
            }
            for subscriber in instance.local.values() {
                if subscriber.deliver == Deliver::Publication
                    && subscriber.subject.as_deref() != Some(subject)
                {
                    offer(&subscriber.link, &frame);
                }
            }
            return;
        }
    }

    /// Tells this node's subscribers of `key` the presence changes they
    /// missed (the node was cut off from Redis): who `present` (the
    /// subjects on any node, as Redis lists them) and this node's own
    /// subjects add to, or take from, what they were told.
    #[cfg(feature = "redis")]
    pub(crate) fn reconcile(&self, key: &InstanceKey, present: &[String]) {
        let Some((_, slot)) = self.find(key, false) else {
            return;
        };
        let changes: Vec<(bool, String)> = {
            let instance = lock(&slot);
            let now: std::collections::BTreeSet<&str> = present
                .iter()
                .map(String::as_str)
                .chain(instance.present())
                .collect();
            let told = instance.told.iter().map(|s| &**s);
            let left = told
                .clone()
                .filter(|s| !now.contains(s))
                .map(|s| (false, s.to_owned()));
            let joined = now
                .iter()
                .filter(|s| !instance.told.contains(**s))
                .map(|s| (true, (*s).to_owned()));
            left.chain(joined).collect()
        };
        for (joined, subject) in changes {
            self.announce(key, joined, &subject);
        }
    }

    /// How many connections subscribe to `key`.
    pub(crate) fn subscribers(&self, key: &InstanceKey) -> usize {
        self.find(key, false)
            .map_or(0, |(_, slot)| lock(&slot).local.len())
    }

    /// The subjects subscribed to `key`, sorted; anonymous connections are
    /// not listed.
    pub(crate) fn presence(&self, key: &InstanceKey) -> Vec<String> {
        let Some((_, slot)) = self.find(key, false) else {
            return Vec::new();
        };
        let instance = lock(&slot);
        instance.present().into_iter().map(str::to_owned).collect()
    }

    /// Drops the instances nobody subscribes to whose history has expired,
    /// at most once per [`SWEEP_EVERY`]. An instance someone is working on
    /// right now is not idle, and is not waited for.
    fn sweep(&self, now: Instant) {
        {
            let mut swept_at = match self.swept_at.try_lock() {
                Ok(swept_at) => swept_at,
                Err(TryLockError::Poisoned(poisoned)) => poisoned.into_inner(),
                // Another caller is sweeping.
                Err(TryLockError::WouldBlock) => return,
            };
            if now < *swept_at + SWEEP_EVERY {
                return;
            }
            *swept_at = now;
        }
        write(&self.instances).retain(|key, slot| {
            let mut instance = match slot.try_lock() {
                Ok(instance) => instance,
                Err(TryLockError::Poisoned(poisoned)) => poisoned.into_inner(),
                Err(TryLockError::WouldBlock) => return true,
            };
            if instance.alive(key, now) {
                return true;
            }
            instance.retired = true;
            false
        });
    }
}

/// Announces `left` for the subjects of `slot` (the instance of `key`)
/// whose linger is over, once it is (a task sleeps until then).
fn settle_later(key: Arc<InstanceKey>, slot: &Slot, announce: bool) {
    let Ok(runtime) = tokio::runtime::Handle::try_current() else {
        // No runtime to wait in (the server is gone): no lingering.
        lock(slot).settle(&key, Instant::now() + LINGER, announce);
        return;
    };
    let slot: Weak<Mutex<Instance>> = Arc::downgrade(slot);
    runtime.spawn(async move {
        tokio::time::sleep(LINGER).await;
        if let Some(slot) = slot.upgrade() {
            let mut instance = lock(&slot);
            if !instance.retired {
                instance.settle(&key, Instant::now(), announce);
            }
        }
    });
}

/// One publication's frames, each built when first needed and then shared
/// by every subscriber that takes it.
struct Shared<'a> {
    key: &'a InstanceKey,
    offset: u64,
    message: &'a str,
    envelope: Option<Utf8Bytes>,
    bare: Option<Utf8Bytes>,
}

impl Shared<'_> {
    fn get(&mut self, deliver: Deliver) -> &Utf8Bytes {
        match deliver {
            Deliver::Publication => self.envelope.get_or_insert_with(|| {
                Utf8Bytes::from(frames::publication(
                    self.key.topic.name,
                    &self.key.params,
                    self.offset,
                    self.message,
                ))
            }),
            Deliver::Message => self
                .bare
                .get_or_insert_with(|| Utf8Bytes::from(self.message.to_owned())),
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::time::Duration;

    use wsauth_spec::{Access, Frames, Limits, ParamType};

    use super::*;
    use crate::audit::AuditContext;
    use crate::descriptor::{
        EndpointDescriptor, EndpointTopicDescriptor, TopicDescriptor, TopicParamDescriptor,
    };
    use crate::principal::Principal;

    static ROOM: TopicDescriptor = TopicDescriptor {
        name: "room",
        params: &[TopicParamDescriptor {
            name: "id",
            ty: ParamType::Integer,
        }],
        subscribe: None,
        checks: &[],
        publish: None,
        messages: &[],
        presence: false,
        history: None,
        open: None,
    };

    /// `ROOM` keeping history.
    #[cfg(feature = "redis")]
    static LOGGED: TopicDescriptor = TopicDescriptor {
        history: Some(crate::descriptor::HistoryDescriptor {
            size: 100,
            ttl_s: 60,
        }),
        ..ROOM
    };

    /// `ROOM` with presence.
    #[cfg(feature = "redis")]
    static PRESENT: TopicDescriptor = TopicDescriptor {
        presence: true,
        ..ROOM
    };

    /// Instance 1 of `topic`.
    #[cfg(feature = "redis")]
    fn instance_of(topic: &'static TopicDescriptor) -> InstanceKey {
        InstanceKey::new(topic, &serde_json::json!({ "id": 1 })).unwrap_or_else(|e| panic!("{e:?}"))
    }

    static ENDPOINT: EndpointDescriptor = EndpointDescriptor {
        name: "e",
        path: "/ws",
        params: &[],
        access: Access::Required,
        sources: &[],
        perm: None,
        checks: &[],
        welcome: None,
        receives: &[],
        sends: &[],
        open: None,
        frames: Frames::Json,
        heartbeat: None,
        limits: Limits::DEFAULT,
        topics: &[EndpointTopicDescriptor {
            name: "room",
            deliver: Deliver::Publication,
        }],
    };

    fn room(id: i64) -> InstanceKey {
        InstanceKey::new(&ROOM, &serde_json::json!({ "id": id }))
            .unwrap_or_else(|e| panic!("{e:?}"))
    }

    fn link() -> Arc<Link> {
        Arc::new(Link::new(8, Principal::new(Some("u"), Vec::new(), &[])))
    }

    fn subscribe(broker: &Broker, link: &Arc<Link>, id: i64) {
        subscribe_with(broker, link, room(id), None, FromRedis::default());
    }

    fn subscribe_with(
        broker: &Broker,
        link: &Arc<Link>,
        key: InstanceKey,
        since: Option<&Since>,
        redis: FromRedis<'_>,
    ) -> Joined {
        let principal = link.principal();
        let audit = AuditContext {
            endpoint: ENDPOINT.name,
            peer: None,
            user_agent: None,
            subject: None,
            log: None,
        };
        let join = Join {
            endpoint: &ENDPOINT,
            principal: &principal,
            audit: &audit,
            link,
            generation: link.generation(),
            id: None,
            since,
            by: By::Client,
        };
        broker
            .subscribe(key, &join, 100, Deliver::Publication, redis)
            .unwrap_or_else(|e| panic!("{e:?}"))
    }

    /// The offsets of the publication frames in `frames`.
    #[cfg(feature = "redis")]
    fn offsets<'a>(frames: impl IntoIterator<Item = &'a str>) -> Vec<u64> {
        frames
            .into_iter()
            .map(|f| serde_json::from_str::<serde_json::Value>(f).unwrap_or_default())
            .map(|f| f["offset"].as_u64().unwrap_or_default())
            .collect()
    }

    /// Offsets of what `link` has queued, in order.
    #[cfg(feature = "redis")]
    fn queued(link: &Link) -> Vec<u64> {
        let texts: Vec<String> = std::iter::from_fn(|| link.pop())
            .map(|m| match m {
                Message::Text(t) => t.to_string(),
                other => panic!("{other:?}"),
            })
            .collect();
        offsets(texts.iter().map(String::as_str))
    }

    #[cfg(feature = "redis")]
    #[test]
    fn a_join_that_read_redis_ahead_of_the_node_misses_nothing_and_gets_nothing_twice() {
        let key = || instance_of(&LOGGED);
        let broker = Broker::new();
        let (live, fresh, back) = (link(), link(), link());
        let at = |last| Numbered {
            epoch: "e".into(),
            last,
        };
        let first = at(3);
        let numbered = FromRedis {
            numbered: Some(&first),
            ..FromRedis::default()
        };
        subscribe_with(&broker, &live, key(), None, numbered);
        broker.deliver(&key(), "e", 4, "{}");
        // Redis read at 6 while 5 and 6 are still on their way here.
        let ahead = at(6);
        let numbered = FromRedis {
            numbered: Some(&ahead),
            ..FromRedis::default()
        };
        let joined = subscribe_with(&broker, &fresh, key(), None, numbered);
        assert!(joined.frame.contains(r#""offset":4"#), "{}", joined.frame);
        let recovery = Recovery {
            numbered: at(6),
            missed: Some((3..=6).map(|o| (o, "{}".to_owned())).collect()),
        };
        let since = Since {
            epoch: "e".into(),
            offset: 2,
        };
        let redis = FromRedis {
            recovery: Some(&recovery),
            ..FromRedis::default()
        };
        let joined = subscribe_with(&broker, &back, key(), Some(&since), redis);
        assert!(
            joined.frame.contains(r#""offset":4,"recovered":true"#),
            "{}",
            joined.frame
        );
        assert_eq!(offsets(joined.replay.iter().map(|f| f.as_str())), [3, 4]);
        for offset in [5, 6] {
            broker.deliver(&key(), "e", offset, "{}");
        }
        assert_eq!(queued(&live), [4, 5, 6]);
        assert_eq!(queued(&fresh), [5, 6]);
        assert_eq!(queued(&back), [5, 6]);
    }

    #[cfg(feature = "redis")]
    #[test]
    fn a_first_join_keeps_what_was_delivered_while_it_read_redis() {
        let broker = Broker::new();
        let live = link();
        // The channel is subscribed; Redis is read at 4, and 5 arrives
        // before the join is registered.
        assert!(!broker.pin(&room(1)));
        broker.deliver(&room(1), "e", 5, "{}");
        let read = Numbered {
            epoch: "e".into(),
            last: 4,
        };
        let numbered = FromRedis {
            numbered: Some(&read),
            ..FromRedis::default()
        };
        let joined = subscribe_with(&broker, &live, room(1), None, numbered);
        broker.unpin(&room(1));
        assert!(joined.frame.contains(r#""offset":5"#), "{}", joined.frame);
        broker.deliver(&room(1), "e", 6, "{}");
        assert_eq!(queued(&live), [6]);
        // A join abandoned leaves nothing behind.
        assert!(!broker.pin(&room(2)));
        broker.unpin(&room(2));
        assert!(broker.find(&room(2), false).is_none());
    }

    #[cfg(feature = "redis")]
    #[test]
    fn a_subscriber_back_from_a_node_ahead_gets_nothing_twice() {
        let key = || instance_of(&LOGGED);
        let broker = Broker::new();
        let (live, back) = (link(), link());
        let at = |last| Numbered {
            epoch: "e".into(),
            last,
        };
        let first = at(8);
        let numbered = FromRedis {
            numbered: Some(&first),
            ..FromRedis::default()
        };
        subscribe_with(&broker, &live, key(), None, numbered);
        // It saw 10 on another node; 9 and 10 are still on their way here.
        let recovery = Recovery {
            numbered: at(10),
            missed: Some(Vec::new()),
        };
        let since = Since {
            epoch: "e".into(),
            offset: 10,
        };
        let redis = FromRedis {
            recovery: Some(&recovery),
            ..FromRedis::default()
        };
        let joined = subscribe_with(&broker, &back, key(), Some(&since), redis);
        assert!(
            joined.frame.contains(r#""offset":10,"recovered":true"#),
            "{}",
            joined.frame
        );
        assert!(joined.replay.is_empty());
        for offset in 9..=11 {
            broker.deliver(&key(), "e", offset, "{}");
        }
        assert_eq!(queued(&back), [11]);
        assert_eq!(queued(&live), [9, 10, 11]);
        // In an epoch Redis started again, the floor is no more.
        broker.deliver(&key(), "f", 1, "{}");
        assert_eq!(queued(&back), [1]);
    }

    #[cfg(feature = "redis")]
    #[test]
    fn presence_changes_missed_while_cut_off_are_told_when_redis_is_back() {
        let key = || instance_of(&PRESENT);
        let broker = Broker::clustered();
        let watcher = Arc::new(Link::new(8, Principal::new(Some("w"), Vec::new(), &[])));
        let listed = ["alice".to_owned(), "old".to_owned()];
        let redis = FromRedis {
            present: Some(&listed),
            heard_since: broker.heard_now(),
            ..FromRedis::default()
        };
        subscribe_with(&broker, &watcher, key(), None, redis);
        broker.announce(&key(), true, "carol");
        // Cut off: old left and bob arrived unheard; back, Redis lists
        // who is there (this node's own subject among them or not yet).
        broker.reconcile(&key(), &["alice".into(), "bob".into(), "carol".into()]);
        let told: Vec<String> = std::iter::from_fn(|| watcher.pop())
            .map(|m| match m {
                Message::Text(t) => t.to_string(),
                other => panic!("{other:?}"),
            })
            .collect();
        assert_eq!(told.len(), 3, "{told:?}");
        assert!(told[0].contains(r#""joined":"carol""#), "{told:?}");
        assert!(told[1].contains(r#""left":"old""#), "{told:?}");
        assert!(told[2].contains(r#""joined":"bob""#), "{told:?}");
        // Nothing more to tell.
        broker.reconcile(&key(), &["alice".into(), "bob".into(), "carol".into()]);
        assert!(watcher.pop().is_none());
    }

    #[cfg(feature = "redis")]
    #[test]
    fn presence_heard_during_a_first_join_outlives_a_sweep() {
        let key = || instance_of(&PRESENT);
        let broker = Broker::clustered();
        broker.pin(&key());
        let heard_since = broker.heard_now();
        broker.announce(&key(), true, "bob");
        // Idle but for the join under way.
        broker.sweep(Instant::now() + 2 * SWEEP_EVERY);
        let listed: [String; 0] = [];
        let redis = FromRedis {
            present: Some(&listed),
            heard_since,
            ..FromRedis::default()
        };
        let joined = subscribe_with(&broker, &link(), key(), None, redis);
        broker.unpin(&key());
        assert!(
            joined.frame.contains(r#""present":["bob","u"]"#),
            "{}",
            joined.frame
        );
    }

    #[cfg(feature = "redis")]
    #[test]
    fn a_join_hears_the_presence_changes_made_while_it_read_redis() {
        let key = || instance_of(&PRESENT);
        let broker = Broker::clustered();
        // Before Redis was read: in its answer already.
        broker.announce(&key(), true, "old");
        let heard_since = broker.heard_now();
        let listed = ["alice".to_owned(), "old".to_owned()];
        // While it was read: bob arrived, alice left.
        broker.announce(&key(), true, "bob");
        broker.announce(&key(), false, "alice");
        let redis = FromRedis {
            present: Some(&listed),
            heard_since,
            ..FromRedis::default()
        };
        let joined = subscribe_with(&broker, &link(), key(), None, redis);
        assert!(
            joined.frame.contains(r#""present":["bob","old","u"]"#),
            "{}",
            joined.frame
        );
    }

    #[cfg(feature = "redis")]
    #[test]
    fn a_recovery_from_redis_is_completed_by_what_the_node_delivered_since() {
        let key = || instance_of(&LOGGED);
        let broker = Broker::new();
        let (live, back) = (link(), link());
        let numbered = Numbered {
            epoch: "e".into(),
            last: 3,
        };
        let first = FromRedis {
            numbered: Some(&numbered),
            ..FromRedis::default()
        };
        subscribe_with(&broker, &live, key(), None, first);
        // Redis's history was read at 5; 6 and 7 reached this node before
        // the returning subscriber was attached.
        let recovery = Recovery {
            numbered: Numbered {
                epoch: "e".into(),
                last: 5,
            },
            missed: Some(vec![(4, "{}".into()), (5, "{}".into())]),
        };
        for offset in [4, 5, 6, 7, 7] {
            broker.deliver(&key(), "e", offset, "{}");
        }
        let since = Since {
            epoch: "e".into(),
            offset: 3,
        };
        let redis = FromRedis {
            recovery: Some(&recovery),
            ..FromRedis::default()
        };
        let joined = subscribe_with(&broker, &back, key(), Some(&since), redis);
        assert!(
            joined.frame.contains(r#""offset":7,"recovered":true"#),
            "{}",
            joined.frame
        );
        assert_eq!(
            offsets(joined.replay.iter().map(|f| f.as_str())),
            [4, 5, 6, 7]
        );
        // Live from 8, a repeat dropped.
        broker.deliver(&key(), "e", 8, "{}");
        broker.deliver(&key(), "e", 8, "{}");
        let text = |m: Message| match m {
            Message::Text(t) => t.to_string(),
            other => panic!("{other:?}"),
        };
        let queued: Vec<String> = std::iter::from_fn(|| back.pop()).map(text).collect();
        assert_eq!(offsets(queued.iter().map(String::as_str)), [8]);
        let heard: Vec<String> = std::iter::from_fn(|| live.pop()).map(text).collect();
        assert_eq!(offsets(heard.iter().map(String::as_str)), [4, 5, 6, 7, 8]);
    }

    #[test]
    fn work_on_one_instance_waits_for_nothing_on_another() {
        let broker = Arc::new(Broker::new());
        let (busy, other) = (link(), link());
        subscribe(&broker, &busy, 1);
        // Instance 1 held, as a long fan-out holds it.
        let Some((_, slot)) = broker.find(&room(1), false) else {
            panic!("no instance 1");
        };
        let held = lock(&slot);
        let (done, finished) = std::sync::mpsc::channel();
        let worker = {
            let broker = Arc::clone(&broker);
            std::thread::spawn(move || {
                subscribe(&broker, &other, 2);
                let published = broker.publish(&room(2), r#"{"type":"t"}"#);
                let left = broker.unsubscribe(&room(2), &other);
                broker.leave_all(&other);
                let _ = done.send((published.delivered, left));
            })
        };
        let outcome = finished.recv_timeout(Duration::from_secs(5));
        drop(held);
        let _ = worker.join();
        assert_eq!(outcome, Ok((Some(1), Some(Deliver::Publication))));
    }

    #[test]
    fn a_mass_disconnect_empties_the_instance_and_the_rest_keep_receiving() {
        let broker = Broker::new();
        let leaving: Vec<Arc<Link>> = (0..5000).map(|_| link()).collect();
        let (stays, elsewhere) = (link(), link());
        for link in &leaving {
            subscribe(&broker, link, 1);
        }
        subscribe(&broker, &stays, 1);
        subscribe(&broker, &elsewhere, 2);
        for link in &leaving {
            broker.leave_all(link);
        }
        let published = broker.publish(&room(1), r#"{"type":"t"}"#);
        assert_eq!(published.delivered, Some(1));
        assert!(stays.pop().is_some());
        assert!(leaving.iter().all(|l| l.pop().is_none()));
        assert_eq!(
            broker.publish(&room(2), r#"{"type":"t"}"#).delivered,
            Some(1)
        );
        // The last one out takes the instance (no history) with it.
        broker.leave_all(&stays);
        assert!(broker.find(&room(1), false).is_none());
        assert_eq!(broker.publish(&room(1), r#"{"type":"t"}"#).offset, 0);
        assert!(broker.find(&room(2), false).is_some());
    }
}
