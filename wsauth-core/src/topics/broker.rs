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
//! on. Here both live under one lock; a clustered broker (issue 13) keeps
//! [`Instance::local`] and the fan-out as they are and moves [`Log`] and
//! the presence counts behind a shared store, publishing through it.
//!
//! A subscriber takes its publications as the instance's envelope
//! (`wsauth.publication`) or, where its endpoint lists the topic with
//! `deliver: message`, as the message's own frame; each form is built at
//! most once per publication, when a subscriber first needs it.
//!
//! Memory: a connection that never subscribes costs nothing here. Each
//! subscription costs one entry in its connection's list (an `Arc` of the
//! instance key) and one [`Subscriber`] in the instance (two pointers), plus
//! the instance itself while anyone subscribes or its history is alive.

use std::collections::HashMap;
use std::collections::hash_map::Entry;
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use axum::extract::ws::{Message, Utf8Bytes};
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
    /// Shared with the tasks that announce lingering subjects' `left`.
    instances: Arc<Mutex<Instances>>,
}

#[derive(Debug)]
struct Instances {
    map: HashMap<Arc<InstanceKey>, Instance>,
    swept_at: Instant,
}

/// One topic instance.
#[derive(Debug)]
struct Instance {
    /// This process's subscribed connections.
    local: Vec<Subscriber>,
    log: Log,
    /// Who is present, on topics with presence.
    present: Presence,
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
    /// The instance, when the subscription's subject now lingers there.
    lingering: Option<Arc<InstanceKey>>,
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
            local: Vec::new(),
            log: Log::new(),
            present: Presence::default(),
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
        for subscriber in &self.local {
            if subscriber.deliver == Deliver::Publication
                && !except.is_some_and(|except| std::ptr::eq(&*subscriber.link, except))
            {
                offer(&subscriber.link, &frame);
            }
        }
    }
}

impl Broker {
    pub(crate) fn new() -> Self {
        Broker {
            instances: Arc::new(Mutex::new(Instances {
                map: HashMap::new(),
                swept_at: Instant::now(),
            })),
        }
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
        let link = join.link;
        let subject = join.principal.shared_subject().cloned();
        let now = Instant::now();
        let mut instances = lock(&self.instances);
        instances.sweep(now);
        let mut subscriptions = lock(&link.subscriptions);
        // A connection that is gone, or whose principal changed while the
        // checks ran (a handler's join racing a refresh), is not subscribed:
        // the refresh's re-checks never saw this subscription.
        if link.left.load(Ordering::Relaxed) || link.generation() != join.generation {
            return Err(TopicRefusal::ServerError);
        }
        let already = subscriptions.iter().any(|s| **s == key);
        if !already && subscriptions.len() >= max {
            return Err(TopicRefusal::TooManySubscriptions);
        }
        let key = Arc::new(key);
        let (key, instance) = match instances.map.entry(key) {
            Entry::Occupied(entry) => {
                let key = Arc::clone(entry.key());
                (key, entry.into_mut())
            }
            Entry::Vacant(entry) => {
                let key = Arc::clone(entry.key());
                (key, entry.insert(Instance::new()))
            }
        };
        let topic = key.topic;
        instance.log.expire(topic.history, now);
        if !already {
            subscriptions.push(Arc::clone(&key));
            instance.local.push(Subscriber {
                link: Arc::clone(link),
                subject: subject.clone(),
                deliver,
            });
            if topic.presence
                && let Some(subject) = subject
                && instance.present.arrive(&subject)
            {
                instance.announce(&key, Some(link), json!({ "joined": &*subject }));
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
        let mut instances = lock(&self.instances);
        let mut subscriptions = lock(&link.subscriptions);
        let at = subscriptions.iter().position(|s| **s == *key)?;
        subscriptions.swap_remove(at);
        if subscriptions.is_empty() {
            // A connection that leaves every topic returns to costing nothing.
            *subscriptions = Vec::new();
        }
        drop(subscriptions);
        let removed = instances.remove(key, link, now);
        drop(instances);
        let removed = removed?;
        if let Some(key) = removed.lingering {
            self.settle_later(key);
        }
        Some(removed.deliver)
    }

    /// Ends every subscription of `link`'s connection (it is closing).
    pub(crate) fn leave_all(&self, link: &Link) {
        // Most connections never subscribe: they do not take the broker's
        // lock to leave. (Only the connection's own task subscribes it, and
        // it is ending.)
        {
            let subscriptions = lock(&link.subscriptions);
            link.left.store(true, Ordering::Relaxed);
            if subscriptions.is_empty() {
                return;
            }
        }
        let now = Instant::now();
        let mut instances = lock(&self.instances);
        let subscriptions = std::mem::take(&mut *lock(&link.subscriptions));
        let lingering: Vec<_> = subscriptions
            .iter()
            .filter_map(|key| instances.remove(key, link, now)?.lingering)
            .collect();
        drop(instances);
        for key in lingering {
            self.settle_later(key);
        }
    }

    /// Announces `left` for `key`'s subjects whose linger is over, once it
    /// is (a task sleeps until then).
    fn settle_later(&self, key: Arc<InstanceKey>) {
        let Ok(runtime) = tokio::runtime::Handle::try_current() else {
            // No runtime to wait in (the server is gone): no lingering.
            lock(&self.instances).settle(&key, Instant::now() + LINGER);
            return;
        };
        let instances = Arc::downgrade(&self.instances);
        runtime.spawn(async move {
            tokio::time::sleep(LINGER).await;
            if let Some(instances) = instances.upgrade() {
                lock(&instances).settle(&key, Instant::now());
            }
        });
    }

    /// Queues `message` (a message's JSON text) for every subscriber of
    /// `key`, each delivery's frame built once and shared, and keeps the
    /// envelope when the topic has history.
    pub(crate) fn publish(&self, key: &InstanceKey, message: &str) -> Published {
        let now = Instant::now();
        let mut instances = lock(&self.instances);
        instances.sweep(now);
        let history = key.topic.history;
        if !instances.map.contains_key(key) {
            // Nobody to deliver to and nothing to remember: no instance.
            let Some(_) = history else {
                return Published {
                    offset: 0,
                    delivered: 0,
                };
            };
            instances.map.insert(Arc::new(key.clone()), Instance::new());
        }
        let Some(instance) = instances.map.get_mut(key) else {
            return Published {
                offset: 0,
                delivered: 0,
            };
        };
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
            .iter()
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
        Published { offset, delivered }
    }

    /// How many connections subscribe to `key`.
    pub(crate) fn subscribers(&self, key: &InstanceKey) -> usize {
        let instances = lock(&self.instances);
        instances.map.get(key).map_or(0, |i| i.local.len())
    }

    /// The subjects subscribed to `key`, sorted; anonymous connections are
    /// not listed.
    pub(crate) fn presence(&self, key: &InstanceKey) -> Vec<String> {
        let instances = lock(&self.instances);
        instances
            .map
            .get(key)
            .map(|i| i.present().into_iter().map(str::to_owned).collect())
            .unwrap_or_default()
    }
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

impl Instances {
    /// Removes `link`'s connection from `key`'s subscribers (its own list
    /// no longer has it): how it was delivered, and the instance's key when
    /// its subject now lingers (the others are told it left once
    /// [`Instances::settle`] finds the linger over). `None` when it was not
    /// there.
    fn remove(&mut self, key: &InstanceKey, link: &Link, now: Instant) -> Option<Removed> {
        let key = Arc::clone(self.map.get_key_value(key)?.0);
        let instance = self.map.get_mut(&key)?;
        let at = instance
            .local
            .iter()
            .position(|s| std::ptr::eq(&*s.link, link))?;
        let subscriber = instance.local.swap_remove(at);
        let lingers = subscriber
            .subject
            .is_some_and(|subject| instance.present.depart(&subject, now));
        let lingering = if instance.alive(&key, now) {
            lingers.then_some(key)
        } else {
            // Nobody is left to tell.
            self.map.remove(&key);
            None
        };
        Some(Removed {
            deliver: subscriber.deliver,
            lingering,
        })
    }

    /// Tells `key`'s subscribers which of its subjects' linger is over.
    fn settle(&mut self, key: &InstanceKey, now: Instant) {
        let Some(instance) = self.map.get_mut(key) else {
            return;
        };
        for subject in instance.present.settle(now) {
            instance.announce(key, None, json!({ "left": &*subject }));
        }
    }

    /// Drops the instances nobody subscribes to whose history has expired,
    /// at most once per [`SWEEP_EVERY`].
    fn sweep(&mut self, now: Instant) {
        if now < self.swept_at + SWEEP_EVERY {
            return;
        }
        self.swept_at = now;
        self.map.retain(|key, instance| instance.alive(key, now));
    }
}
