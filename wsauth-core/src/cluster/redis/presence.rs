//! Presence across nodes: who is on a topic instance, whatever node their
//! connections are on, and a dead node's subjects gone within the lease
//! lifetime.
//!
//! # Motivation
//!
//! Each node knows its own subjects per instance (the broker's counts, a
//! departed one kept for its linger). It tells Redis that whole set
//! (`lua/presence.lua`, `sync`), one script per instance: when it changes,
//! and every `renew_every` for every instance it has subjects on. Redis
//! keeps one member per (node, subject) expiring after `lease_ttl`, counts
//! members per subject, and announces `j:<subject>` on the instance's
//! channel when a subject's first member arrives and `l:<subject>` when its
//! last goes; every node turns those into `wsauth.presence` frames. Members
//! of a node that stopped renewing (killed, cut off) are pruned by the next
//! script on the instance: its subjects leave at most `lease_ttl` +
//! `renew_every` after its last renewal. A node runs one (a `query`) every
//! `renew_every` on each instance it follows without members of its own
//! there (anonymous subscribers only), so that it hears them leave too.
//!
//! Sending the whole set, from one task, in order, makes every call
//! idempotent and a lost one repaired by the next: there is no join/leave
//! pair that could arrive out of order. Times are Redis's (`TIME`).

use std::collections::HashMap;
use std::sync::{Arc, LazyLock, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use ::redis::{RedisResult, Script};
use tokio::sync::Notify;

use super::{NodeShared, within};
use crate::metrics::RedisOp;
use crate::topics::{Broker, InstanceKey, LINGER};

static PRESENCE: LazyLock<Script> = LazyLock::new(|| Script::new(include_str!("lua/presence.lua")));

/// After a subject's last connection on this node left: its linger, and a
/// little more so that it is surely over when the set is read.
const AFTER_LINGER: Duration = LINGER.saturating_add(Duration::from_millis(50));

/// The node's presence in Redis.
pub(super) struct Presences {
    shared: Arc<NodeShared>,
    broker: Arc<Broker>,
    /// Instances whose set is to be sent, by channel.
    dirty: Mutex<HashMap<String, Arc<InstanceKey>>>,
    /// Instances this node has members on in Redis, by channel: renewed.
    held: Mutex<HashMap<String, Arc<InstanceKey>>>,
    /// Instances with presence this node follows, by channel.
    followed: Mutex<HashMap<String, Arc<InstanceKey>>>,
    wake: Notify,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

impl Presences {
    pub(super) fn new(shared: Arc<NodeShared>, broker: Arc<Broker>) -> Self {
        Presences {
            shared,
            broker,
            dirty: Mutex::new(HashMap::new()),
            held: Mutex::new(HashMap::new()),
            followed: Mutex::new(HashMap::new()),
            wake: Notify::new(),
        }
    }

    /// The subjects present on `key` on any node.
    pub(super) async fn query(&self, key: &InstanceKey) -> RedisResult<Vec<String>> {
        self.call(key, "query", Vec::new()).await
    }

    /// The node follows `key` (on `channel`), a topic with presence.
    pub(super) fn follow(&self, channel: &str, key: &Arc<InstanceKey>) {
        lock(&self.followed).insert(channel.to_owned(), Arc::clone(key));
    }

    /// The node no longer follows the instance on `channel`.
    pub(super) fn unfollow(&self, channel: &str) {
        lock(&self.followed).remove(channel);
    }

    /// The followed instances none of whose members are this node's
    /// (`held` has those): nothing this node sends there prunes them.
    fn unheld(&self, held: &HashMap<String, Arc<InstanceKey>>) -> Vec<Arc<InstanceKey>> {
        lock(&self.followed)
            .iter()
            .filter(|(channel, _)| !held.contains_key(*channel))
            .map(|(_, key)| Arc::clone(key))
            .collect()
    }

    /// Prunes the members of nodes that stopped renewing on the followed
    /// instances `held` does not name (the subjects of a dead node leave
    /// there too, announced as always).
    async fn prune(&self, held: &HashMap<String, Arc<InstanceKey>>) {
        if !self.shared.reachable() {
            return;
        }
        for key in self.unheld(held) {
            if let Err(error) = self.query(&key).await {
                self.shared.failed(&error);
                return;
            }
        }
    }

    /// This node's subjects on `key` changed: Redis is told soon.
    pub(super) fn changed(&self, key: &InstanceKey) {
        let channel = self.shared.keys.instance(key);
        lock(&self.dirty)
            .entry(channel)
            .or_insert_with(|| Arc::new(key.clone()));
        self.wake.notify_one();
    }

    /// A subject's last connection on `key` left: Redis is told once its
    /// linger is over.
    pub(super) fn departed(self: &Arc<Self>, key: &InstanceKey) {
        let Ok(runtime) = tokio::runtime::Handle::try_current() else {
            // No runtime to wait in (the server is going): at once.
            self.changed(key);
            return;
        };
        let (presences, key) = (Arc::clone(self), key.clone());
        runtime.spawn(async move {
            tokio::time::sleep(AFTER_LINGER).await;
            presences.changed(&key);
        });
    }

    async fn call(
        &self,
        key: &InstanceKey,
        op: &str,
        subjects: Vec<String>,
    ) -> RedisResult<Vec<String>> {
        let channel = self.shared.keys.instance(key);
        let mut commands = self.shared.commands();
        within(
            &self.shared,
            RedisOp::Presence,
            PRESENCE
                .key(format!("{channel}:pz"))
                .key(format!("{channel}:pc"))
                .arg(op)
                .arg(&self.shared.id)
                .arg(self.shared.lease_ttl.as_millis() as u64)
                .arg(&channel)
                .arg(subjects)
                .invoke_async(&mut commands),
        )
        .await
    }

    /// Sends the set of every dirty instance, one after the other.
    async fn flush(&self) {
        let dirty = std::mem::take(&mut *lock(&self.dirty));
        for (channel, key) in dirty {
            let subjects = self.broker.staying(&key);
            let none = subjects.is_empty();
            match self.call(&key, "sync", subjects).await {
                Ok(_) => {
                    let mut held = lock(&self.held);
                    if none {
                        held.remove(&channel);
                    } else {
                        held.insert(channel, key);
                    }
                }
                Err(error) => {
                    // Sent again when Redis is back (the renewal does).
                    self.shared.failed(&error);
                    lock(&self.held).insert(channel, key);
                }
            }
        }
    }
}

/// The presence task: sends what changed, and renews everything the node
/// holds every `renew_every`.
pub(super) async fn run(presences: Arc<Presences>) {
    let every = presences.shared.renew_every;
    let mut renewals = tokio::time::interval_at(tokio::time::Instant::now() + every, every);
    renewals.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            () = presences.wake.notified() => {}
            _ = renewals.tick() => {
                let held = lock(&presences.held).clone();
                presences.prune(&held).await;
                lock(&presences.dirty).extend(held);
            }
        }
        presences.flush().await;
    }
}

#[cfg(test)]
mod tests {
    use wsauth_spec::ParamType;

    use super::super::Fanout;
    use super::*;
    use crate::cluster::FailurePolicy;
    use crate::descriptor::{TopicDescriptor, TopicParamDescriptor};

    static LOBBY: TopicDescriptor = TopicDescriptor {
        name: "lobby",
        params: &[TopicParamDescriptor {
            name: "id",
            ty: ParamType::Integer,
        }],
        subscribe: None,
        checks: &[],
        publish: None,
        messages: &[],
        presence: true,
        history: None,
        open: None,
    };

    #[tokio::test]
    async fn followed_instances_without_members_here_are_pruned() {
        let shared = NodeShared::unstarted("redis://127.0.0.1:1", FailurePolicy::Degrade);
        let broker = Arc::new(Broker::clustered());
        let presences = Arc::new(Presences::new(Arc::clone(&shared), Arc::clone(&broker)));
        let (fanout, _listener) = Fanout::new(Arc::clone(&shared), broker, Arc::clone(&presences));
        let key = InstanceKey::new(&LOBBY, &serde_json::json!({ "id": 1 }))
            .unwrap_or_else(|e| panic!("{e:?}"));
        let watch = fanout.watch(&key).await.unwrap_or_else(|e| panic!("{e:?}"));
        assert_eq!(presences.unheld(&HashMap::new()).len(), 1);
        // Where it has members, its own sync prunes.
        let held = HashMap::from([(shared.keys.instance(&key), Arc::new(key.clone()))]);
        assert!(presences.unheld(&held).is_empty());
        // Followed no more.
        drop(watch);
        assert!(presences.unheld(&HashMap::new()).is_empty());
    }
}
