//! A client's topic subscriptions: the requests, their answers, and
//! resubscribing after a reconnection.
//!
//! # Motivation
//!
//! A subscription outlives the connection it was made on: when the client
//! reconnects, the server knows nothing of it, so the driver subscribes
//! again to every instance the user holds, each with `since` set to where
//! the user left off (the epoch and offset of the last publication seen, or
//! of the subscription when none came). The server then replays what was
//! missed, or answers `recovered: false` when it no longer can: the user
//! gets [`TopicEvent::HistoryLost`] and reloads. The user never writes that
//! bookkeeping, and cannot get it wrong.
//!
//! # Shape
//!
//! [`Subscriptions`] is the driver's state, with no I/O: it numbers
//! requests, matches answers to them by `id`, keeps each subscription's
//! position, and turns what the server pushes (publications, presence,
//! server-side ends) into [`RawTopicEvent`]s. The handle decodes those into
//! the endpoint's generated [`TopicEvents`] enum, whose variants are typed
//! by each topic's key and message enum. Which topics an endpoint may
//! subscribe to, publish on or ask presence of is said by generated marker
//! impls ([`Lists`], [`Publishable`], [`HasPresence`]), so a wrong request
//! does not compile.

use std::collections::HashMap;
use std::time::Duration;

use serde::Deserialize;
use serde::de::DeserializeOwned;
use serde_json::{Value, json};
use tokio::sync::oneshot;
use wsauth_spec::Keyword as _;
use wsauth_spec::Limits;
use wsauth_spec::wire::{
    PRESENCE, PUBLICATION, PUBLISH, PUBLISHED, REFUSED, SUBSCRIBE, SUBSCRIBED, TopicRefusal,
    UNSUBSCRIBE, UNSUBSCRIBED,
};

use super::SendError;
use super::codec::{Frame, Unexpected};
use crate::TopicKey;

/// The events of the topics one endpoint lists: generated, one variant per
/// topic, each a [`TopicEvent`] of that topic's key.
pub trait TopicEvents: std::fmt::Debug + Send + Sized + 'static {
    /// Types `event` as the variant of its topic.
    fn decode(event: RawTopicEvent) -> Result<Self, Unexpected>;
}

/// The endpoint lists topic `K`: its clients may subscribe to it.
/// Generated for every endpoint × topic it lists.
#[diagnostic::on_unimplemented(
    message = "clients of this endpoint may not subscribe to topic `{K}`",
    note = "list the topic in the endpoint's `topics:` in the spec"
)]
pub trait Lists<K: TopicKey>: TopicEvents {}

/// Clients may publish on topic `Self` (the spec gives it `publish`).
#[diagnostic::on_unimplemented(
    message = "clients may not publish on topic `{Self}`",
    note = "give the topic a `publish:` permission in the spec"
)]
pub trait Publishable: TopicKey {}

/// Topic `Self` has presence (`presence: true` in the spec).
#[diagnostic::on_unimplemented(
    message = "topic `{Self}` has no presence",
    note = "set `presence: true` on the topic in the spec"
)]
pub trait HasPresence: TopicKey {}

/// The topic events of an endpoint without topics: there are none.
#[derive(Debug)]
pub enum NoTopics {}

impl TopicEvents for NoTopics {
    fn decode(event: RawTopicEvent) -> Result<Self, Unexpected> {
        Err(event.unexpected(None))
    }
}

/// Something that happened on a topic instance the client subscribes to.
#[derive(Debug)]
pub enum TopicEvent<K: TopicKey>
where
    K::Message: std::fmt::Debug,
{
    /// A message was published on it.
    Publication(Publication<K>),
    /// A subject's first connection subscribed (topics with presence).
    Joined {
        /// The instance.
        key: K,
        /// Who.
        subject: String,
    },
    /// A subject's last connection left (topics with presence).
    Left {
        /// The instance.
        key: K,
        /// Who.
        subject: String,
    },
    /// After a reconnection the subscription holds again, but what was
    /// published meanwhile is gone (the instance started a new life, or
    /// its history no longer reaches back that far): reload the state, then
    /// follow the publications from `subscribed.offset` on.
    HistoryLost {
        /// The instance.
        key: K,
        /// The new subscription.
        subscribed: Subscribed,
    },
    /// The subscription ended without the client asking: the server ended
    /// it (a refresh re-check failed, or the server left it), or refused it
    /// again after a reconnection. The client holds it no more.
    Ended {
        /// The instance.
        key: K,
        /// Why.
        reason: Ended,
    },
}

/// A message published on a topic instance.
#[derive(Debug)]
pub struct Publication<K: TopicKey>
where
    K::Message: std::fmt::Debug,
{
    /// The instance.
    pub key: K,
    /// Its offset in the instance (1, 2, ... in one epoch).
    pub offset: u64,
    /// The message.
    pub message: K::Message,
}

/// Why a subscription ended by itself.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Ended {
    /// The server's code left it.
    Server,
    /// The server refused it (after a refresh, or when resubscribing).
    Refused(TopicRefusal),
}

/// The server's `wsauth.subscribed`: where the instance is.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Subscribed {
    /// The instance's life: offsets of another epoch mean nothing in this one.
    pub epoch: String,
    /// The latest publication's offset (0 before the first).
    pub offset: u64,
    /// Who is subscribed, on topics with presence.
    pub present: Option<Vec<String>>,
}

/// Why a topic request did not succeed.
#[derive(Debug, thiserror::Error)]
pub enum TopicError {
    /// The server refused it; the connection stays open.
    #[error("the server refused the request: {}", .0.reason())]
    Refused(TopicRefusal),
    /// The request could not be sent.
    #[error(transparent)]
    NotSent(#[from] SendError),
    /// The connection ended before the server answered.
    #[error("the connection ended before the server answered")]
    Interrupted,
    /// The server's answer was not what the request expects.
    #[error("the server's answer to a topic request is malformed")]
    Malformed,
}

/// A topic event before it is typed: what [`TopicEvents::decode`] reads.
#[derive(Debug)]
pub struct RawTopicEvent {
    topic: String,
    params: Value,
    kind: RawKind,
    /// The frame it came from, for [`Unexpected`].
    text: String,
}

#[derive(Debug)]
enum RawKind {
    Publication { offset: u64, message: Value },
    Joined(String),
    Left(String),
    HistoryLost(Subscribed),
    Ended(Ended),
}

impl RawTopicEvent {
    /// The topic's name in the spec.
    pub fn topic(&self) -> &str {
        &self.topic
    }

    /// The event, typed by `K` (the topic's key).
    pub fn decode<K>(self) -> Result<TopicEvent<K>, Unexpected>
    where
        K: TopicKey,
        K::Message: DeserializeOwned + std::fmt::Debug,
    {
        let key = match K::deserialize(&self.params) {
            Ok(key) => key,
            Err(error) => return Err(self.unexpected(Some(error))),
        };
        Ok(match self.kind {
            RawKind::Publication { offset, message } => match K::Message::deserialize(&message) {
                Ok(message) => TopicEvent::Publication(Publication {
                    key,
                    offset,
                    message,
                }),
                Err(error) => {
                    return Err(Unexpected {
                        frame: Frame::Text(self.text),
                        error: Some(error),
                    });
                }
            },
            RawKind::Joined(subject) => TopicEvent::Joined { key, subject },
            RawKind::Left(subject) => TopicEvent::Left { key, subject },
            RawKind::HistoryLost(subscribed) => TopicEvent::HistoryLost { key, subscribed },
            RawKind::Ended(reason) => TopicEvent::Ended { key, reason },
        })
    }

    /// The frame as [`Unexpected`]: not an event of the endpoint's topics.
    pub fn unexpected(self, error: Option<serde_json::Error>) -> Unexpected {
        Unexpected {
            frame: Frame::Text(self.text),
            error,
        }
    }
}

/// What a topic request asks.
#[derive(Debug)]
pub(super) enum Request {
    Subscribe,
    Unsubscribe,
    Publish(Value),
    Presence,
}

/// What the server answered, for the handle.
#[derive(Debug)]
pub(super) enum Reply {
    Subscribed(Subscribed),
    Unsubscribed,
    Published(u64),
    Present(Vec<String>),
}

/// A topic request from the handle: topic, params, what, and where the
/// answer goes.
pub(super) struct Ask {
    pub(super) topic: &'static str,
    pub(super) params: Value,
    pub(super) request: Request,
    pub(super) reply: oneshot::Sender<Result<Reply, TopicError>>,
}

/// An instance: topic and params (as the key serializes them).
type Instance = (String, Value);

/// Where a held subscription left off.
#[derive(Debug)]
struct Position {
    epoch: String,
    offset: u64,
}

/// A request waiting for its answer.
struct Pending {
    instance: Instance,
    kind: &'static str,
    /// `None` for the driver's own resubscriptions.
    reply: Option<oneshot::Sender<Result<Reply, TopicError>>>,
}

/// The driver's topic state across connections.
#[derive(Default)]
pub(super) struct Subscriptions {
    next_id: u64,
    held: HashMap<Instance, Position>,
    pending: HashMap<u64, Pending>,
}

/// Every field a topic frame from the server may carry.
#[derive(Deserialize)]
struct Answer {
    #[serde(rename = "type")]
    kind: String,
    id: Option<u64>,
    topic: Option<String>,
    #[serde(default)]
    params: Value,
    epoch: Option<String>,
    offset: Option<u64>,
    recovered: Option<bool>,
    present: Option<Vec<String>>,
    reason: Option<String>,
    /// Read as text: a word this client does not know (a newer server's)
    /// must not leave the request unanswered.
    error: Option<String>,
    message: Option<Value>,
    joined: Option<String>,
    left: Option<String>,
}

/// How resubscriptions are paced within the endpoint's rate limit (every
/// request counts, and a client over it is closed, then would resubscribe
/// again, and again): half the burst at once, then one per two sustained
/// slots, so the user's own messages and heartbeats keep room.
pub(super) fn resubscribe_pace(limits: &Limits) -> (usize, Duration) {
    let at_once = (limits.burst / 2).max(1) as usize;
    let every = Duration::from_secs(2) / limits.messages_per_second.max(1);
    (at_once, every)
}

/// Whether a frame's `type` is one of the server's topic frames.
pub(super) fn is_topic_frame(kind: &str) -> bool {
    [
        SUBSCRIBED,
        UNSUBSCRIBED,
        PUBLISHED,
        PUBLICATION,
        PRESENCE,
        REFUSED,
    ]
    .contains(&kind)
}

impl Subscriptions {
    /// The frame for `ask`, remembering where its answer goes.
    pub(super) fn request(&mut self, ask: Ask) -> String {
        let (kind, message) = match ask.request {
            Request::Subscribe => (SUBSCRIBE, None),
            Request::Unsubscribe => (UNSUBSCRIBE, None),
            Request::Publish(message) => (PUBLISH, Some(message)),
            Request::Presence => (PRESENCE, None),
        };
        if matches!(kind, UNSUBSCRIBE) {
            // Left at once: a reconnection must not bring it back, and
            // what is still published to it is no longer wanted.
            self.held
                .remove(&(ask.topic.to_owned(), ask.params.clone()));
        }
        let id = self.id();
        let mut frame = json!({ "type": kind, "id": id, "topic": ask.topic, "params": ask.params });
        if let Some(message) = message {
            frame["message"] = message;
        }
        self.pending.insert(
            id,
            Pending {
                instance: (ask.topic.to_owned(), ask.params),
                kind,
                reply: Some(ask.reply),
            },
        );
        frame.to_string()
    }

    fn id(&mut self) -> u64 {
        self.next_id = self.next_id.wrapping_add(1);
        self.next_id
    }

    /// A new connection is open: the frames that subscribe again to every
    /// instance held, each from where it left off.
    pub(super) fn resubscribe(&mut self) -> Vec<String> {
        let held: Vec<(Instance, Value)> = self
            .held
            .iter()
            .map(|(instance, at)| {
                let since = json!({ "epoch": at.epoch, "offset": at.offset });
                (instance.clone(), since)
            })
            .collect();
        held.into_iter()
            .map(|((topic, params), since)| {
                let id = self.id();
                let frame = json!({
                    "type": SUBSCRIBE, "id": id, "topic": topic, "params": params, "since": since,
                });
                self.pending.insert(
                    id,
                    Pending {
                        instance: (topic, params),
                        kind: SUBSCRIBE,
                        reply: None,
                    },
                );
                frame.to_string()
            })
            .collect()
    }

    /// The connection ended: no answer will come to what is pending.
    pub(super) fn interrupted(&mut self) {
        for (_, pending) in self.pending.drain() {
            if let Some(reply) = pending.reply {
                // A subscription being left is left: the next connection
                // does not hold it.
                let outcome = match pending.kind {
                    UNSUBSCRIBE => Ok(Reply::Unsubscribed),
                    _ => Err(TopicError::Interrupted),
                };
                let _ = reply.send(outcome);
            }
        }
    }

    /// Takes in a topic frame from the server (`text`, whose type
    /// [`is_topic_frame`]): answers the request it answers, and returns the
    /// event it makes for the user, if any.
    pub(super) fn receive(&mut self, text: &str) -> Option<RawTopicEvent> {
        let Ok(answer) = serde_json::from_str::<Answer>(text) else {
            return None;
        };
        let pending = answer.id.and_then(|id| self.pending.remove(&id));
        match pending {
            Some(pending) => self.answer(pending, answer, text),
            None => self.pushed(answer, text),
        }
    }

    fn answer(&mut self, pending: Pending, answer: Answer, text: &str) -> Option<RawTopicEvent> {
        let refused = (answer.kind == REFUSED).then(|| {
            answer
                .error
                .as_deref()
                .and_then(TopicRefusal::from_word)
                .unwrap_or(TopicRefusal::ServerError)
        });
        let reply = match (pending.kind, refused) {
            (_, Some(error)) => Err(TopicError::Refused(error)),
            (SUBSCRIBE, None) => match (answer.kind.as_str(), answer.epoch, answer.offset) {
                (SUBSCRIBED, Some(epoch), Some(offset)) => {
                    self.held.insert(
                        pending.instance.clone(),
                        Position {
                            epoch: epoch.clone(),
                            offset,
                        },
                    );
                    Ok(Reply::Subscribed(Subscribed {
                        epoch,
                        offset,
                        present: answer.present,
                    }))
                }
                _ => Err(TopicError::Malformed),
            },
            (UNSUBSCRIBE, None) if answer.kind == UNSUBSCRIBED => Ok(Reply::Unsubscribed),
            (PUBLISH, None) => match (answer.kind.as_str(), answer.offset) {
                (PUBLISHED, Some(offset)) => Ok(Reply::Published(offset)),
                _ => Err(TopicError::Malformed),
            },
            (PRESENCE, None) => match (answer.kind.as_str(), answer.present) {
                (PRESENCE, Some(present)) => Ok(Reply::Present(present)),
                _ => Err(TopicError::Malformed),
            },
            _ => Err(TopicError::Malformed),
        };
        match pending.reply {
            Some(reply_to) => {
                let _ = reply_to.send(reply);
                None
            }
            // A resubscription: only a lost history or a refusal is news.
            None => {
                let (topic, params) = pending.instance;
                let kind = match reply {
                    Ok(Reply::Subscribed(subscribed)) if answer.recovered != Some(true) => {
                        RawKind::HistoryLost(subscribed)
                    }
                    Err(TopicError::Refused(error)) => {
                        self.held.remove(&(topic.clone(), params.clone()));
                        RawKind::Ended(Ended::Refused(error))
                    }
                    _ => return None,
                };
                Some(RawTopicEvent {
                    topic,
                    params,
                    kind,
                    text: text.to_owned(),
                })
            }
        }
    }

    /// A frame the server sent by itself: a publication, a presence event,
    /// or the end of a subscription.
    fn pushed(&mut self, answer: Answer, text: &str) -> Option<RawTopicEvent> {
        let instance = (answer.topic?, answer.params);
        let kind = match answer.kind.as_str() {
            PUBLICATION => {
                let offset = answer.offset?;
                let at = self.held.get_mut(&instance)?;
                at.offset = offset;
                RawKind::Publication {
                    offset,
                    message: answer.message?,
                }
            }
            PRESENCE if !self.held.contains_key(&instance) => return None,
            PRESENCE => match (answer.joined, answer.left) {
                (Some(subject), _) => RawKind::Joined(subject),
                (None, Some(subject)) => RawKind::Left(subject),
                (None, None) => return None,
            },
            UNSUBSCRIBED => {
                self.held.remove(&instance)?;
                let reason = answer.reason.as_deref().unwrap_or_default();
                RawKind::Ended(match TopicRefusal::from_word(reason) {
                    Some(refusal) => Ended::Refused(refusal),
                    None => Ended::Server,
                })
            }
            _ => return None,
        };
        let (topic, params) = instance;
        Some(RawTopicEvent {
            topic,
            params,
            kind,
            text: text.to_owned(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ask(request: Request) -> (Ask, oneshot::Receiver<Result<Reply, TopicError>>) {
        let (reply, answer) = oneshot::channel();
        let ask = Ask {
            topic: "t",
            params: json!({"id": 1}),
            request,
            reply,
        };
        (ask, answer)
    }

    fn id_of(frame: &str) -> u64 {
        let frame: Value = serde_json::from_str(frame).unwrap_or_default();
        frame["id"].as_u64().unwrap_or_default()
    }

    /// Subscribed to `t {"id":1}` in epoch `e` at offset 0.
    fn held() -> Subscriptions {
        let mut topics = Subscriptions::default();
        let (ask, mut answer) = ask(Request::Subscribe);
        let id = id_of(&topics.request(ask));
        let subscribed = json!({"type": SUBSCRIBED, "id": id, "topic": "t", "params": {"id": 1}, "epoch": "e", "offset": 0});
        assert!(topics.receive(&subscribed.to_string()).is_none());
        assert!(matches!(answer.try_recv(), Ok(Ok(Reply::Subscribed(_)))));
        topics
    }

    fn publication(offset: u64) -> String {
        json!({"type": PUBLICATION, "topic": "t", "params": {"id": 1}, "offset": offset, "message": {"type": "m"}}).to_string()
    }

    #[test]
    fn a_reconnection_resubscribes_from_the_last_publication_seen() {
        let mut topics = held();
        assert!(topics.receive(&publication(7)).is_some());
        let frames = topics.resubscribe();
        let [frame] = frames.as_slice() else {
            panic!("{frames:?}");
        };
        let frame: Value = serde_json::from_str(frame).unwrap_or_default();
        assert_eq!(frame["type"], SUBSCRIBE);
        assert_eq!(frame["since"], json!({"epoch": "e", "offset": 7}));
        // Recovered: nothing to tell the user.
        let again = json!({"type": SUBSCRIBED, "id": frame["id"], "topic": "t", "params": {"id": 1}, "epoch": "e", "offset": 9, "recovered": true});
        assert!(topics.receive(&again.to_string()).is_none());
    }

    #[test]
    fn resubscriptions_keep_within_the_rate_limit() {
        let prsm = Limits {
            messages_per_second: 10,
            burst: 20,
            ..Limits::DEFAULT
        };
        assert_eq!(resubscribe_pace(&prsm), (10, Duration::from_millis(200)));
        let tight = Limits {
            messages_per_second: 0,
            burst: 1,
            ..Limits::DEFAULT
        };
        assert_eq!(resubscribe_pace(&tight), (1, Duration::from_secs(2)));
    }

    #[test]
    fn a_refused_resubscription_ends_the_subscription() {
        let mut topics = held();
        let frames = topics.resubscribe();
        let refused = json!({"type": REFUSED, "id": id_of(&frames[0]), "request": SUBSCRIBE, "topic": "t", "params": {"id": 1}, "error": "forbidden", "reason": "forbidden"});
        let event = topics.receive(&refused.to_string());
        assert!(
            matches!(
                event.as_ref().map(|e| &e.kind),
                Some(RawKind::Ended(Ended::Refused(TopicRefusal::Forbidden)))
            ),
            "{event:?}"
        );
        assert!(topics.resubscribe().is_empty());
        assert!(topics.receive(&publication(1)).is_none());
    }

    #[test]
    fn a_refusal_this_client_does_not_know_is_still_an_answer() {
        let mut topics = Subscriptions::default();
        let (join, mut joined) = ask(Request::Subscribe);
        let id = id_of(&topics.request(join));
        let refused = json!({"type": REFUSED, "id": id, "request": SUBSCRIBE, "topic": "t", "params": {"id": 1}, "error": "from_the_future", "reason": "?"});
        assert!(topics.receive(&refused.to_string()).is_none());
        assert!(matches!(
            joined.try_recv(),
            Ok(Err(TopicError::Refused(TopicRefusal::ServerError)))
        ));
    }

    #[test]
    fn a_subscription_the_server_ends_is_reported_and_not_resubscribed() {
        for (reason, ended) in [
            ("not_found", Ended::Refused(TopicRefusal::NotFound)),
            ("server", Ended::Server),
        ] {
            let mut topics = held();
            let end =
                json!({"type": UNSUBSCRIBED, "topic": "t", "params": {"id": 1}, "reason": reason});
            let event = topics.receive(&end.to_string());
            assert!(
                matches!(event.as_ref().map(|e| &e.kind), Some(RawKind::Ended(e)) if *e == ended),
                "{event:?}"
            );
            assert!(topics.resubscribe().is_empty());
        }
    }

    #[test]
    fn a_connection_ending_answers_what_is_pending() {
        let mut topics = held();
        let (leave, mut left) = ask(Request::Unsubscribe);
        topics.request(leave);
        let (join, mut joined) = ask(Request::Subscribe);
        topics.request(join);
        topics.interrupted();
        // Being left, it is left; being joined, it is not held.
        assert!(matches!(left.try_recv(), Ok(Ok(Reply::Unsubscribed))));
        assert!(matches!(
            joined.try_recv(),
            Ok(Err(TopicError::Interrupted))
        ));
        assert!(topics.resubscribe().is_empty());
    }
}
