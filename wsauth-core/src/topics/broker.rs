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
use std::collections::hash_map::Entry;
use std::sync::atomic::Ordering;
use std::sync::{
    Arc, Mutex, MutexGuard, PoisonError, RwLock, RwLockReadGuard, RwLockWriteGuard, TryLockError,
    Weak,
};
use std::time::Duration;

use axum::extract::ws::{Message, Utf8Bytes};
use indexmap::IndexMap;
use serde_json::json;
use tokio::time::Instant;
use wsauth_spec::Deliver;
use wsauth_spec::wire::TopicRefusal;

use super::frames::{self, Subscribed};
use super::history::{Kept, Log};
use super::instance::InstanceKey;
use super::presence::{LINGER, Presence};
use super::{By, Join};
use crate::link::Link;

/// How often idle instances (no subscriber, history expired) are looked
/// for among those nobody touches.
const SWEEP_EVERY: Duration = Duration::from_secs(1);

#[derive(Debug)]
pub(crate) struct Broker {
    instances: RwLock<HashMap<Arc<InstanceKey>, Slot>>,
    /// When idle instances were last looked for.
    swept_at: Mutex<Instant>,
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
    /// Taken out of the broker's map: nobody may join it any more, and a
    /// publication looks the key up again.
    retired: bool,
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
    /// no subscriber and keeps no history (nothing numbered it).
    pub offset: u64,
    /// Connections it was queued for (a subscriber whose queue was full is
    /// not counted: that connection is closing as a slow consumer).
    pub delivered: usize,
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
            retired: false,
        }
    }

    /// Whether the instance must be kept: someone subscribes, or its
    /// history still holds something.
    fn alive(&mut self, key: &InstanceKey, now: Instant) -> bool {
        self.log.expire(key.topic.history, now);
        !self.local.is_empty() || !self.log.is_empty()
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

    /// Tells the subscribers which subjects' linger is over.
    fn settle(&mut self, key: &InstanceKey, now: Instant) {
        for subject in self.present.settle(now) {
            self.announce(key, None, json!({ "left": &*subject }));
        }
    }
}

impl Broker {
    pub(crate) fn new() -> Self {
        Broker {
            instances: RwLock::new(HashMap::new()),
            swept_at: Mutex::new(Instant::now()),
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
    /// publication can be.
    pub(crate) fn subscribe(
        &self,
        key: InstanceKey,
        join: &Join<'_>,
        max: usize,
        deliver: Deliver,
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
            return Self::join_instance(&key, &mut instance, join, max, deliver, now);
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
                },
            );
            if topic.presence
                && let Some(subject) = subject
                && instance.present.arrive(&subject)
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
            } else {
                instance.log.recover(topic.history, since)
            }
        });
        let frame = frames::subscribed(
            topic.name,
            &key.params,
            Subscribed {
                id: join.id,
                epoch: &instance.log.epoch,
                offset: instance.log.last,
                recovered: recovered.as_ref().map(Option::is_some),
                present: topic.presence.then(|| instance.present()),
            },
        );
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
                settle_later(key, &slot);
            }
            return removed.map(|r| r.deliver);
        }
    }

    /// Ends every subscription of `link`'s connection (it is closing).
    pub(crate) fn leave_all(&self, link: &Link) {
        // Marked gone first (a handler's join racing the end is refused),
        // and most connections never subscribe: they touch nothing else.
        let subscriptions = {
            let mut subscriptions = lock(&link.subscriptions);
            link.left.store(true, Ordering::Relaxed);
            std::mem::take(&mut *subscriptions)
        };
        let now = Instant::now();
        for key in subscriptions {
            let Some((key, slot)) = self.find(&key, false) else {
                continue;
            };
            let mut instance = lock(&slot);
            let lingers = instance.remove(link, now).is_some_and(|r| r.lingers);
            let idle = !instance.retired && !instance.alive(&key, now);
            drop(instance);
            if idle {
                self.retire(&key, &slot, now);
            } else if lingers {
                settle_later(key, &slot);
            }
        }
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
                    delivered: 0,
                };
            };
            let mut instance = lock(&slot);
            if instance.retired {
                continue;
            }
            instance.log.last += 1;
            let offset = instance.log.last;
            let mut frames = Shared {
                key,
                offset,
                message,
                envelope: None,
                bare: None,
            };
            let delivered = instance
                .local
                .values()
                .filter(|s| offer(&s.link, frames.get(s.deliver)))
                .count();
            if let Some(history) = history {
                let kept = Kept {
                    offset,
                    at: now,
                    frame: frames.get(Deliver::Publication).clone(),
                };
                instance.log.keep(history, kept);
            }
            return Published { offset, delivered };
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
fn settle_later(key: Arc<InstanceKey>, slot: &Slot) {
    let Ok(runtime) = tokio::runtime::Handle::try_current() else {
        // No runtime to wait in (the server is gone): no lingering.
        lock(slot).settle(&key, Instant::now() + LINGER);
        return;
    };
    let slot: Weak<Mutex<Instance>> = Arc::downgrade(slot);
    runtime.spawn(async move {
        tokio::time::sleep(LINGER).await;
        if let Some(slot) = slot.upgrade() {
            let mut instance = lock(&slot);
            if !instance.retired {
                instance.settle(&key, Instant::now());
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
            since: None,
            by: By::Client,
        };
        if let Err(e) = broker.subscribe(room(id), &join, 100, Deliver::Publication) {
            panic!("{e:?}");
        }
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
        assert_eq!(outcome, Ok((1, Some(Deliver::Publication))));
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
        assert_eq!(published.delivered, 1);
        assert!(stays.pop().is_some());
        assert!(leaving.iter().all(|l| l.pop().is_none()));
        assert_eq!(broker.publish(&room(2), r#"{"type":"t"}"#).delivered, 1);
        // The last one out takes the instance (no history) with it.
        broker.leave_all(&stays);
        assert!(broker.find(&room(1), false).is_none());
        assert_eq!(broker.publish(&room(1), r#"{"type":"t"}"#).offset, 0);
        assert!(broker.find(&room(2), false).is_some());
    }
}
