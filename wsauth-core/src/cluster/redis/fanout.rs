//! Topic fan-out across nodes: Redis numbers every publication and hands
//! it to every node that follows the instance, the publishing one included.
//!
//! # Motivation
//!
//! A `say` on node A must reach bob on node B, in the same order for
//! everyone, numbered once. So a publication is one script
//! (`lua/publish.lua`: bump the instance's offset, append to its capped
//! stream when the topic keeps history, `PUBLISH` on the instance's
//! channel), and every node delivers only what it reads back from that
//! channel, through the broker's local fan-out (one frame per publication
//! per node, slow consumers closed as on a single server). No node
//! delivers its own publications directly: that would put them in another
//! order there than everywhere else.
//!
//! A node follows an instance (SUBSCRIBEs its channel, on the one
//! subscriber connection it holds, in `control.rs`) while it has a local
//! subscriber, and stops when the last leaves. A join keeps the broker's
//! instance from before its SUBSCRIBE is sent until it is done, so that
//! what the node reads meanwhile is delivered into the instance's log
//! rather than dropped. The first join waits for the SUBSCRIBE's reply
//! (from then on Redis passes this node everything published there), and
//! only then reads the instance's numbering
//! (`lua/state.lua`) for its `wsauth.subscribed`; the broker keeps the
//! larger of that and what was delivered meanwhile, so the new subscriber
//! gets everything after the offset it is told. Later joins on this node
//! ask Redis nothing while the instance has subscribers here.
//!
//! Pub/sub delivers only to connected subscribers. So after the subscriber
//! connection comes back, every followed channel is subscribed again and
//! then caught up (`resync`) before anything read on the new connection is
//! dispatched: the node asks Redis for what followed its log's last offset
//! and delivers it (what arrives meanwhile waits in the connection's
//! buffer, and whatever was already delivered is dropped by offset). When
//! that cannot be replayed (no history, or Redis lost its data and started
//! a new epoch), the node takes on Redis's numbering: its subscribers miss
//! those publications and get the next ones, and a client reconnecting
//! with a `since` from before is told `recovered: false`. Presence
//! announcements missed meanwhile are made up for the same way: who Redis
//! lists now against who it last said was present.
//!
//! Payload on an instance channel: `p:<offset>:<epoch>:<message JSON>`.

use std::collections::HashMap;
use std::sync::{Arc, LazyLock, Mutex, MutexGuard, PoisonError};

use ::redis::aio::{PubSub, PubSubSink};
use ::redis::{Msg, RedisResult, Script};
use futures_util::StreamExt;
use tokio::sync::{mpsc, oneshot};
use wsauth_spec::wire::{MAX_HISTORY_BYTES, TopicRefusal};

use super::presence::Presences;
use super::{COMMAND_TIMEOUT, NodeShared, is_unreachable, within};
use crate::cluster::FailurePolicy;
use crate::descriptor::HistoryDescriptor;
use crate::metrics::RedisOp;
use crate::topics::{
    Broker, InstanceKey, Numbered, PublishError, Published, Recovery, Since, new_epoch,
};

static PUBLISH: LazyLock<Script> = LazyLock::new(|| Script::new(include_str!("lua/publish.lua")));
static STATE: LazyLock<Script> = LazyLock::new(|| Script::new(include_str!("lua/state.lua")));

/// How long an instance's numbering outlives its last publication at
/// least (a day; longer when its history lives longer): a client coming
/// back within it is told truthfully whether it missed anything.
const META_TTL_S: u64 = 24 * 3600;

/// Channels per SUBSCRIBE when following them all again.
const SUBSCRIBE_CHUNK: usize = 1000;

/// Instances caught up at once after a reconnect.
const RESYNC_IN_FLIGHT: usize = 64;

/// The node's topic side of the cluster.
pub(crate) struct Fanout {
    shared: Arc<NodeShared>,
    broker: Arc<Broker>,
    /// The instances this node follows, by channel.
    followed: Mutex<HashMap<String, Followed>>,
    /// To the subscriber connection: SUBSCRIBE and UNSUBSCRIBE, sent under
    /// `followed`'s lock so that they reach Redis in the order decided.
    requests: mpsc::UnboundedSender<Request>,
    /// Who is present, on topics with presence.
    presences: Arc<Presences>,
}

/// An instance the node follows.
struct Followed {
    key: Arc<InstanceKey>,
    /// Joins under way: the channel stays subscribed until they are done.
    joining: usize,
    /// Subscribed, and a join was numbered since: later joins ask Redis
    /// nothing while the broker's instance has subscribers.
    ready: bool,
}

/// What the subscriber connection is asked to do.
pub(super) enum Request {
    /// SUBSCRIBE, answering whether Redis confirmed it.
    Subscribe(String, oneshot::Sender<bool>),
    Unsubscribe(String),
}

/// A join in progress on a followed instance; dropping it (the join done,
/// refused or abandoned) lets the node stop following the instance if
/// nobody subscribes to it any more.
pub(crate) struct Watch<'a> {
    fanout: &'a Fanout,
    channel: String,
    numbered: Option<Numbered>,
    joined: bool,
    /// Joined on this node alone: the next join asks Redis again.
    alone: bool,
}

/// The subscriber connection's side: what it must subscribe to, and where
/// what it reads on instance channels goes.
pub(super) struct Listener {
    fanout: Arc<Fanout>,
    requests: mpsc::UnboundedReceiver<Request>,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

/// `(size, ttl_s)` of a topic's history, `(0, 0)` without one.
fn kept(history: Option<HistoryDescriptor>) -> (u32, u32) {
    history.map_or((0, 0), |h| (h.size, h.ttl_s))
}

impl Fanout {
    pub(super) fn new(
        shared: Arc<NodeShared>,
        broker: Arc<Broker>,
        presences: Arc<Presences>,
    ) -> (Arc<Self>, Listener) {
        let (requests, waiting) = mpsc::unbounded_channel();
        let fanout = Arc::new(Fanout {
            shared,
            broker,
            followed: Mutex::new(HashMap::new()),
            requests,
            presences,
        });
        let listener = Listener {
            fanout: Arc::clone(&fanout),
            requests: waiting,
        };
        (fanout, listener)
    }

    /// Numbers `text` (a message `key`'s topic carries) in Redis and
    /// passes it to every node following `key`.
    pub(crate) async fn publish(
        &self,
        key: &InstanceKey,
        text: &str,
    ) -> Result<Published, PublishError> {
        if !self.shared.reachable() {
            return self.alone(key, text);
        }
        let channel = self.shared.keys.instance(key);
        let (size, ttl_s) = kept(key.topic.history);
        let mut commands = self.shared.commands();
        let published: RedisResult<(u64, String)> = within(
            &self.shared,
            RedisOp::Publish,
            PUBLISH
                .key(format!("{channel}:m"))
                .key(format!("{channel}:s"))
                .arg(text)
                .arg(size)
                .arg(ttl_s)
                .arg(META_TTL_S.max(u64::from(ttl_s)))
                .arg(&*new_epoch())
                .arg(&channel)
                .invoke_async(&mut commands),
        )
        .await;
        match published {
            Ok((offset, _epoch)) => Ok(Published {
                offset,
                delivered: None,
            }),
            // The script may have run (its reply lost or late), and a
            // script error is no outage: under either policy the caller
            // hears it may not be published, never a second copy here.
            Err(error) => {
                self.shared.failed(&error);
                Err(PublishError::Unavailable)
            }
        }
    }

    /// A publication while Redis is known to be unreachable: refused, or
    /// under the `degrade` policy delivered to this node's subscribers
    /// alone.
    fn alone(&self, key: &InstanceKey, text: &str) -> Result<Published, PublishError> {
        match self.shared.policy {
            FailurePolicy::Refuse => Err(PublishError::Unavailable),
            FailurePolicy::Degrade => Ok(Published {
                // As for every publication in a cluster.
                delivered: None,
                ..self.broker.publish_alone(key, text, &new_epoch())
            }),
        }
    }

    /// Whether topics work on this node alone now (Redis unreachable,
    /// policy `degrade`).
    pub(crate) fn alone_now(&self) -> bool {
        self.shared.policy == FailurePolicy::Degrade && !self.shared.up()
    }

    /// Follows `key` for a join: subscribes its channel and reads its
    /// numbering if this node does not follow it yet. Refused with
    /// `server_error` while Redis is unreachable.
    /// Under the `degrade` policy, while Redis is unreachable, the instance
    /// is subscribed without waiting for the reply (by the subscriber
    /// connection if it is up, else by its next one), and the join goes on
    /// locally ([`Fanout::alone_now`]).
    pub(crate) async fn watch(&self, key: &InstanceKey) -> Result<Watch<'_>, TopicRefusal> {
        let alone = self.alone_now();
        if !alone && !self.shared.up() {
            return Err(TopicRefusal::ServerError);
        }
        let channel = self.shared.keys.instance(key);
        let reply = {
            let mut followed = lock(&self.followed);
            let entry = followed.entry(channel.clone()).or_insert_with(|| {
                let key = Arc::new(key.clone());
                if key.topic.presence {
                    self.presences.follow(&channel, &key);
                }
                Followed {
                    key,
                    joining: 0,
                    ready: false,
                }
            });
            entry.joining += 1;
            // Before the SUBSCRIBE: what the listener reads from then on
            // finds the instance, and is in its log when the join registers.
            // Redis is asked nothing only when that log is one subscribers
            // here follow (the channel may have outlived the instance).
            let followed_here = self.broker.pin(key);
            // Joining alone, the channel is still subscribed when the
            // subscriber connection can (it may be up while commands fail),
            // or by the next one; only the reply is not waited for.
            (!entry.ready || !followed_here).then(|| {
                let (answer, reply) = oneshot::channel();
                let _ = self
                    .requests
                    .send(Request::Subscribe(channel.clone(), answer));
                reply
            })
        };
        let mut watch = Watch {
            fanout: self,
            channel,
            numbered: None,
            joined: false,
            alone,
        };
        if let Some(reply) = reply
            && !alone
        {
            let subscribed = tokio::time::timeout(COMMAND_TIMEOUT, reply).await;
            if !matches!(subscribed, Ok(Ok(true))) {
                return Err(TopicRefusal::ServerError);
            }
            let numbered = self.numbering(key).await.map_err(|e| {
                self.shared.failed(&e);
                TopicRefusal::ServerError
            })?;
            watch.numbered = Some(numbered);
        }
        Ok(watch)
    }

    /// The instance's epoch and latest offset in Redis (created when it
    /// has none).
    async fn numbering(&self, key: &InstanceKey) -> RedisResult<Numbered> {
        self.state(key, None).await.map(|(numbered, _)| numbered)
    }

    /// What a subscriber returning with `since` missed, from the history
    /// Redis keeps, whichever node it was on. Refused with `server_error`
    /// when Redis cannot be asked.
    pub(crate) async fn recover(
        &self,
        key: &InstanceKey,
        since: &Since,
    ) -> Result<Recovery, TopicRefusal> {
        let (numbered, missed) = self.state(key, Some(since)).await.map_err(|e| {
            self.shared.failed(&e);
            TopicRefusal::ServerError
        })?;
        Ok(Recovery { numbered, missed })
    }

    /// `state.lua`: the numbering, and with `since` the publications after
    /// it (`None` when they cannot all be replayed).
    async fn state(
        &self,
        key: &InstanceKey,
        since: Option<&Since>,
    ) -> RedisResult<(Numbered, Option<Vec<(u64, String)>>)> {
        let channel = self.shared.keys.instance(key);
        let (_, ttl_s) = kept(key.topic.history);
        let mut commands = self.shared.commands();
        let (epoch, last, recovered, flat): (String, u64, i64, Vec<String>) = within(
            &self.shared,
            RedisOp::State,
            STATE
                .key(format!("{channel}:m"))
                .key(format!("{channel}:s"))
                .arg(&*new_epoch())
                .arg(META_TTL_S.max(u64::from(ttl_s)))
                .arg(since.map_or("", |s| s.epoch.as_str()))
                .arg(since.map_or(0, |s| s.offset))
                .arg(ttl_s)
                .invoke_async(&mut commands),
        )
        .await?;
        let missed = (recovered == 1).then(|| numbered_messages(flat)).flatten();
        Ok((Numbered { epoch, last }, missed))
    }

    /// Delivers what was published on `key` since this node's log last
    /// heard of it, or takes on Redis's numbering when that is lost; and
    /// on a topic with presence, tells its subscribers who arrived or
    /// left meanwhile (those announcements were missed too).
    async fn catch_up(&self, key: Arc<InstanceKey>) -> RedisResult<()> {
        if key.topic.presence {
            let present = self.presences.query(&key).await?;
            self.broker.reconcile(&key, &present);
        }
        let Some(at) = self.broker.numbering(&key) else {
            return Ok(());
        };
        let since = Since {
            epoch: at.epoch,
            offset: at.last,
        };
        // Without history there is nothing to replay: only the numbering.
        let asked = key.topic.history.map(|_| &since);
        let (numbered, missed) = self.state(&key, asked).await?;
        match missed {
            Some(missed) => {
                for (offset, message) in missed {
                    self.broker.deliver(&key, &numbered.epoch, offset, &message);
                }
            }
            None if numbered.epoch != since.epoch || numbered.last != since.offset => {
                tracing::info!(
                    target: "wsauth::cluster",
                    node = %self.shared.id,
                    topic = key.topic.name,
                    params = &*key.params,
                    "publications missed while disconnected cannot be replayed"
                );
                self.broker.renumber(&key, &numbered);
            }
            None => {}
        }
        Ok(())
    }

    /// A connection left `key`: stops following it if nobody on this node
    /// subscribes to it or is joining it, and (once a departed subject's
    /// linger is over) tells Redis who is still here.
    pub(crate) fn unwatch(&self, key: &InstanceKey) {
        let channel = self.shared.keys.instance(key);
        self.release(&mut lock(&self.followed), &channel);
        if key.topic.presence {
            self.presences.departed(key);
        }
    }

    /// The subjects present on `key` on any node, sorted. Refused with
    /// `server_error` when Redis cannot be asked.
    pub(crate) async fn present(&self, key: &InstanceKey) -> Result<Vec<String>, TopicRefusal> {
        if !self.shared.reachable() {
            return Err(TopicRefusal::ServerError);
        }
        let mut present = self.presences.query(key).await.map_err(|e| {
            self.shared.failed(&e);
            TopicRefusal::ServerError
        })?;
        present.sort_unstable();
        Ok(present)
    }

    fn release(&self, followed: &mut HashMap<String, Followed>, channel: &str) {
        let Some(entry) = followed.get(channel) else {
            return;
        };
        if entry.joining > 0 || self.broker.subscribers(&entry.key) > 0 {
            return;
        }
        followed.remove(channel);
        self.presences.unfollow(channel);
        let _ = self.requests.send(Request::Unsubscribe(channel.to_owned()));
    }
}

impl Watch<'_> {
    /// The instance's numbering in Redis, when this join started following it.
    pub(crate) fn numbered(&self) -> Option<&Numbered> {
        self.numbered.as_ref()
    }

    /// The join is over: `joined` says whether the connection subscribed.
    pub(crate) fn done(mut self, joined: bool) {
        self.joined = joined;
    }
}

impl Drop for Watch<'_> {
    fn drop(&mut self) {
        let mut followed = lock(&self.fanout.followed);
        if let Some(entry) = followed.get_mut(&self.channel) {
            entry.joining -= 1;
            self.fanout.broker.unpin(&entry.key);
            if self.joined {
                entry.ready |= !self.alone;
                if entry.key.topic.presence {
                    self.fanout.presences.changed(&entry.key);
                }
            }
        }
        self.fanout.release(&mut followed, &self.channel);
    }
}

impl Listener {
    /// Subscribes a new connection to every followed instance's channel.
    pub(super) async fn resubscribe(&self, pubsub: &mut PubSub) -> RedisResult<()> {
        let channels: Vec<String> = lock(&self.fanout.followed).keys().cloned().collect();
        for chunk in channels.chunks(SUBSCRIBE_CHUNK) {
            within(
                &self.fanout.shared,
                RedisOp::Follow,
                pubsub.subscribe(chunk),
            )
            .await?;
        }
        Ok(())
    }

    /// Catches every followed instance up with what was published while
    /// the subscriber was disconnected; run after [`Listener::resubscribe`],
    /// before the new connection's messages are dispatched.
    pub(super) async fn resync(&self) -> RedisResult<()> {
        let followed: Vec<Arc<InstanceKey>> = lock(&self.fanout.followed)
            .values()
            .map(|f| Arc::clone(&f.key))
            .collect();
        let mut catching_up =
            futures_util::stream::iter(followed.into_iter().map(|key| self.fanout.catch_up(key)))
                .buffer_unordered(RESYNC_IN_FLIGHT);
        while let Some(caught_up) = catching_up.next().await {
            match caught_up {
                Err(error) if is_unreachable(&error) => return Err(error),
                // Refused for one instance (a script error, a key of
                // another type): the others are caught up all the same,
                // and it is tried again at the next resync.
                Err(error) => tracing::warn!(
                    target: "wsauth::cluster",
                    node = %self.fanout.shared.id,
                    %error,
                    "an instance could not be caught up"
                ),
                Ok(()) => {}
            }
        }
        Ok(())
    }

    /// The next SUBSCRIBE or UNSUBSCRIBE to send.
    pub(super) async fn next(&mut self) -> Option<Request> {
        self.requests.recv().await
    }

    /// Sends `request` on the subscriber connection; an error means the
    /// connection is lost.
    pub(super) async fn serve(&self, sink: &mut PubSubSink, request: Request) -> RedisResult<()> {
        match request {
            Request::Subscribe(channel, answer) => {
                let subscribed = within(
                    &self.fanout.shared,
                    RedisOp::Follow,
                    sink.subscribe(&channel),
                )
                .await;
                let _ = answer.send(subscribed.is_ok());
                subscribed
            }
            Request::Unsubscribe(channel) => {
                within(
                    &self.fanout.shared,
                    RedisOp::Follow,
                    sink.unsubscribe(&channel),
                )
                .await
            }
        }
    }

    /// Refuses the joins waiting for a SUBSCRIBE when the connection is
    /// lost (the next one subscribes every followed channel anyway).
    pub(super) fn refuse_waiting(&mut self) {
        while let Ok(request) = self.requests.try_recv() {
            if let Request::Subscribe(_, answer) = request {
                let _ = answer.send(false);
            }
        }
    }

    /// Delivers a publication read on an instance channel to this node's
    /// subscribers; `false` when `message` is not on an instance channel
    /// the node follows.
    pub(super) fn dispatch(&self, message: &Msg) -> bool {
        let key = lock(&self.fanout.followed)
            .get(message.get_channel_name())
            .map(|followed| Arc::clone(&followed.key));
        let Some(key) = key else {
            return false;
        };
        match parse(message.get_payload_bytes()) {
            Some(Event::Publication(offset, epoch, text)) => {
                self.fanout.broker.deliver(&key, epoch, offset, text);
            }
            Some(Event::Presence(joined, subject)) => {
                self.fanout.broker.announce(&key, joined, subject);
            }
            None => tracing::warn!(
                target: "wsauth::cluster",
                node = %self.fanout.shared.id,
                topic = key.topic.name,
                "instance channel: unreadable message"
            ),
        }
        true
    }
}

/// `[offset, message, offset, message, ...]` as pairs; `None` when an
/// offset is not one, or when the messages hold more than
/// [`MAX_HISTORY_BYTES`] (more than a node keeps of an instance's history:
/// not all of it can be replayed, as on a single server).
fn numbered_messages(flat: Vec<String>) -> Option<Vec<(u64, String)>> {
    let bytes: usize = flat.iter().skip(1).step_by(2).map(String::len).sum();
    if bytes > MAX_HISTORY_BYTES {
        return None;
    }
    let mut out = Vec::with_capacity(flat.len() / 2);
    let mut flat = flat.into_iter();
    while let Some(offset) = flat.next() {
        out.push((offset.parse().ok()?, flat.next()?));
    }
    Some(out)
}

/// What an instance channel carries.
#[derive(Debug, PartialEq)]
enum Event<'a> {
    /// `p:<offset>:<epoch>:<message>` (the message may hold `:`).
    Publication(u64, &'a str, &'a str),
    /// `j:<subject>` (`true`) or `l:<subject>`: the subject's first
    /// connection in the cluster arrived, or its last left.
    Presence(bool, &'a str),
}

fn parse(payload: &[u8]) -> Option<Event<'_>> {
    let text = std::str::from_utf8(payload).ok()?;
    let (kind, rest) = text.split_once(':')?;
    match kind {
        "p" => {
            let mut parts = rest.splitn(3, ':');
            let offset = parts.next()?.parse::<u64>().ok().filter(|&o| o > 0)?;
            Some(Event::Publication(offset, parts.next()?, parts.next()?))
        }
        "j" | "l" if !rest.is_empty() => Some(Event::Presence(kind == "j", rest)),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use wsauth_spec::ParamType;

    use super::*;
    use crate::descriptor::{TopicDescriptor, TopicParamDescriptor};

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

    fn room() -> InstanceKey {
        InstanceKey::new(&ROOM, &serde_json::json!({ "id": 1 })).unwrap_or_else(|e| panic!("{e:?}"))
    }

    /// A node's fan-out whose Redis (nothing listens at `url`) was never
    /// reached, under `policy`.
    fn cut_off(policy: FailurePolicy) -> (Arc<Fanout>, Listener, Arc<Broker>) {
        let shared = NodeShared::unstarted("redis://127.0.0.1:1", policy);
        let broker = Arc::new(Broker::clustered());
        let presences = Arc::new(Presences::new(Arc::clone(&shared), Arc::clone(&broker)));
        let (fanout, listener) = Fanout::new(shared, Arc::clone(&broker), presences);
        (fanout, listener, broker)
    }

    /// A Redis that refuses every command but `CLIENT` (what a connection
    /// starts with), as it does a script that fails; its URL.
    fn refusing() -> String {
        use std::io::{BufRead, BufReader, Read, Write};

        fn answer(stream: std::net::TcpStream) -> std::io::Result<()> {
            let mut reader = BufReader::new(stream.try_clone()?);
            let mut writer = stream;
            let mut line = String::new();
            loop {
                line.clear();
                if reader.read_line(&mut line)? == 0 {
                    return Ok(());
                }
                let parts: usize = line.trim().trim_start_matches('*').parse().unwrap_or(0);
                let mut first = Vec::new();
                for i in 0..parts {
                    line.clear();
                    reader.read_line(&mut line)?;
                    let len: usize = line.trim().trim_start_matches('$').parse().unwrap_or(0);
                    let mut bulk = vec![0; len + 2];
                    reader.read_exact(&mut bulk)?;
                    if i == 0 {
                        first = bulk;
                    }
                }
                if first.starts_with(b"CLIENT") {
                    writer.write_all(b"+OK\r\n")?;
                } else {
                    writer.write_all(b"-ERR refused\r\n")?;
                }
            }
        }

        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap_or_else(|e| panic!("{e}"));
        let addr = listener.local_addr().unwrap_or_else(|e| panic!("{e}"));
        std::thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                std::thread::spawn(move || answer(stream));
            }
        });
        format!("redis://{addr}")
    }

    #[tokio::test]
    async fn an_instance_redis_refuses_does_not_stop_the_resync() {
        let shared = NodeShared::unstarted(&refusing(), FailurePolicy::Refuse);
        shared.set_commands(true);
        let broker = Arc::new(Broker::clustered());
        let presences = Arc::new(Presences::new(Arc::clone(&shared), Arc::clone(&broker)));
        let (fanout, listener) = Fanout::new(shared, Arc::clone(&broker), presences);
        broker.pin(&room());
        let followed = Followed {
            key: Arc::new(room()),
            joining: 1,
            ready: true,
        };
        lock(&fanout.followed).insert(fanout.shared.keys.instance(&room()), followed);
        let resynced = listener.resync().await;
        assert!(resynced.is_ok(), "{resynced:?}");
        // Unreachable, it is the connection that failed: resync again.
        let (cut, listener, broker) = cut_off(FailurePolicy::Refuse);
        broker.pin(&room());
        let followed = Followed {
            key: Arc::new(room()),
            joining: 1,
            ready: true,
        };
        lock(&cut.followed).insert(cut.shared.keys.instance(&room()), followed);
        assert!(listener.resync().await.is_err());
    }

    #[test]
    fn a_recovery_larger_than_a_nodes_history_is_not_replayed() {
        let half = "x".repeat(MAX_HISTORY_BYTES / 2);
        let flat = |n: u64| {
            (1..=n)
                .flat_map(|o| [o.to_string(), half.clone()])
                .collect::<Vec<_>>()
        };
        assert_eq!(numbered_messages(flat(2)).map(|m| m.len()), Some(2));
        assert_eq!(numbered_messages(flat(3)), None);
    }

    #[tokio::test]
    async fn a_publish_that_fails_is_not_also_delivered_alone() {
        let (fanout, _listener, _) = cut_off(FailurePolicy::Degrade);
        // Known down: on this node alone.
        assert!(fanout.publish(&room(), "{}").await.is_ok());
        // Thought up, and the script fails: it may have run.
        fanout.shared.set_commands(true);
        assert_eq!(
            fanout.publish(&room(), "{}").await,
            Err(PublishError::Unavailable)
        );
    }

    #[tokio::test]
    async fn a_join_asks_redis_when_the_instance_is_gone_though_the_channel_is_ready() {
        let (fanout, mut listener, _) = cut_off(FailurePolicy::Refuse);
        fanout.shared.set_commands(true);
        fanout.shared.set_control(true);
        // The last subscriber left, its instance retired, while another
        // join kept the channel followed.
        let channel = fanout.shared.keys.instance(&room());
        let followed = Followed {
            key: Arc::new(room()),
            joining: 0,
            ready: true,
        };
        lock(&fanout.followed).insert(channel, followed);
        let refused = async {
            let asked = tokio::time::timeout(COMMAND_TIMEOUT, listener.next()).await;
            if let Ok(Some(Request::Subscribe(_, answer))) = asked {
                let _ = answer.send(false);
            }
        };
        let key = room();
        let (watched, ()) = tokio::join!(fanout.watch(&key), refused);
        assert_eq!(watched.err(), Some(TopicRefusal::ServerError));
    }

    #[tokio::test]
    async fn a_join_made_alone_still_asks_for_the_channel() {
        let (fanout, mut listener, _) = cut_off(FailurePolicy::Degrade);
        assert!(fanout.alone_now());
        let watch = fanout
            .watch(&room())
            .await
            .unwrap_or_else(|e| panic!("{e:?}"));
        watch.done(true);
        let request = listener.requests.try_recv();
        assert!(
            matches!(&request, Ok(Request::Subscribe(channel, _)) if channel.starts_with("test:i:room:")),
            "{:?}",
            request.map(|_| ())
        );
    }

    #[test]
    fn publications_keep_colons_in_messages() {
        assert_eq!(
            parse(br#"p:7:ab12:{"type":"said","text":"a:b"}"#),
            Some(Event::Publication(
                7,
                "ab12",
                r#"{"type":"said","text":"a:b"}"#
            ))
        );
        assert_eq!(parse(b"p:0:ab:{}"), None);
        assert_eq!(
            parse(b"j:tenant:alice"),
            Some(Event::Presence(true, "tenant:alice"))
        );
        assert_eq!(parse(b"l:bob"), Some(Event::Presence(false, "bob")));
        assert_eq!(parse(b"l:"), None);
        assert_eq!(parse(b"p:x:ab:{}"), None);
        assert_eq!(parse(b"p:1:ab"), None);
    }
}
