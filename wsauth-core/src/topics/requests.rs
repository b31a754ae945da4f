//! A connection's topic requests (`wsauth.subscribe`, `wsauth.unsubscribe`,
//! `wsauth.publish`, `wsauth.presence`), answered by its loop.
//!
//! The loop calls [`request`] for these reserved types on endpoints that
//! list topics, as it handles `wsauth.refresh` itself: the handler never
//! sees them. A refusal is a `wsauth.refused` frame and the connection
//! stays; only a frame that is not a request at all is refused like any
//! invalid message.

use std::sync::Arc;

use serde::Deserialize;
use serde_json::{Value, json};
use tungstenite::{Message, Utf8Bytes};
use wsauth_spec::FailureKind;
use wsauth_spec::wire::{PRESENCE, PUBLISH, SUBSCRIBE, TopicRefusal, UNSUBSCRIBE};

use super::history::Since;
use super::instance::{InstanceKey, client_topic_of};
use super::{By, Join, Topics, checked_message, frames};
use crate::audit::{self, AuditContext};
use crate::descriptor::EndpointDescriptor;
use crate::link::Link;
use crate::principal::Principal;

#[derive(Deserialize)]
struct Request {
    #[serde(rename = "type")]
    kind: String,
    id: Option<u64>,
    topic: String,
    #[serde(default)]
    params: Value,
    since: Option<Since>,
    message: Option<Value>,
}

/// Who asks, for [`request`].
pub(crate) struct Asker<'a> {
    pub(crate) endpoint: &'static EndpointDescriptor,
    pub(crate) principal: &'a Principal,
    pub(crate) audit: &'a AuditContext,
    pub(crate) link: &'a Arc<Link>,
}

/// Whether a frame's `type` is a topic request.
pub(crate) fn is_request(kind: &str) -> bool {
    [SUBSCRIBE, UNSUBSCRIBE, PUBLISH, PRESENCE].contains(&kind)
}

/// Answers one topic request: the frames to send, in order. `Err` when the
/// frame is not a request (the loop refuses it as an invalid message).
pub(crate) async fn request(
    topics: &Topics,
    asker: Asker<'_>,
    text: &str,
) -> Result<Vec<Message>, FailureKind> {
    let request: Request = serde_json::from_str(text).map_err(|_| FailureKind::InvalidMessage)?;
    let hub = topics.hub();
    let text = |s: String| Message::Text(Utf8Bytes::from(s));
    let refused = |error: TopicRefusal| {
        text(frames::refused(
            request.id,
            &request.kind,
            &request.topic,
            &request.params.to_string(),
            error,
        ))
    };
    match request.kind.as_str() {
        SUBSCRIBE => {
            let join = Join {
                endpoint: asker.endpoint,
                principal: asker.principal,
                audit: asker.audit,
                link: asker.link,
                generation: asker.link.generation(),
                id: request.id,
                since: request.since.as_ref(),
                by: By::Client,
            };
            match hub.join(join, &request.topic, &request.params).await {
                Ok(joined) => Ok(std::iter::once(text(joined.frame))
                    .chain(joined.replay.into_iter().map(Message::Text))
                    .collect()),
                Err(error) => Ok(vec![refused(error)]),
            }
        }
        UNSUBSCRIBE => {
            let left = hub.leave(
                asker.endpoint,
                asker.link,
                &request.topic,
                &request.params,
                By::Client,
            );
            match left {
                Ok((key, _)) => {
                    audit::topic_unsubscribed(asker.audit, key.topic.name, "client");
                    // Through the queue, behind the publications queued
                    // before the subscription ended.
                    let frame =
                        frames::unsubscribed(request.id, key.topic.name, &key.params, "client");
                    if asker.link.push(text(frame)).is_err() {
                        asker.link.raise(&asker.link.slow);
                    }
                    Ok(Vec::new())
                }
                Err(error) => {
                    audit::topic_refused(asker.audit, UNSUBSCRIBE, &request.topic, error);
                    Ok(vec![refused(error)])
                }
            }
        }
        PUBLISH => match publish(topics, &asker, &request).await {
            Ok(offset) => Ok(vec![text(frames::published(request.id, offset))]),
            Err(error) => {
                audit::topic_refused(asker.audit, PUBLISH, &request.topic, error);
                Ok(vec![refused(error)])
            }
        },
        PRESENCE => match presence(topics, &asker, &request).await {
            Ok((key, present)) => Ok(vec![text(frames::presence(
                request.id,
                key.topic.name,
                &key.params,
                json!({ "present": present }),
            ))]),
            Err(error) => {
                audit::topic_refused(asker.audit, PRESENCE, &request.topic, error);
                Ok(vec![refused(error)])
            }
        },
        _ => Err(FailureKind::InvalidMessage),
    }
}

/// A client's publication: the topic's `publish` permission, a
/// subscription to the instance (so the topic's resource checks passed for
/// this principal, and are re-run on every refresh: a permission to publish
/// is not a licence to write into every instance), then a message the topic
/// carries that fits its schema.
async fn publish(
    topics: &Topics,
    asker: &Asker<'_>,
    request: &Request,
) -> Result<u64, TopicRefusal> {
    let hub = topics.hub();
    let topic = client_topic_of(hub.api, asker.endpoint, &request.topic)?;
    match topic.publish {
        Some(perm) if asker.principal.has(perm) => {}
        _ => return Err(TopicRefusal::Forbidden),
    }
    let key = InstanceKey::new(topic, &request.params)?;
    if !super::subscribed(asker.link, &key) {
        return Err(TopicRefusal::NotSubscribed);
    }
    let message = request
        .message
        .as_ref()
        .ok_or(TopicRefusal::InvalidMessage)?;
    let text = checked_message(topic, message).map_err(|_| TopicRefusal::InvalidMessage)?;
    match hub.publish(&key, &text).await {
        Ok(published) => Ok(published.offset),
        // Redis could not number it: nothing was published.
        Err(_) => Err(TopicRefusal::ServerError),
    }
}

/// Who is present on an instance the connection subscribes to.
async fn presence(
    topics: &Topics,
    asker: &Asker<'_>,
    request: &Request,
) -> Result<(InstanceKey, Vec<String>), TopicRefusal> {
    let hub = topics.hub();
    let topic = client_topic_of(hub.api, asker.endpoint, &request.topic)?;
    let key = InstanceKey::new(topic, &request.params)?;
    if !super::subscribed(asker.link, &key) {
        return Err(TopicRefusal::NotSubscribed);
    }
    if !topic.presence {
        return Err(TopicRefusal::InvalidMessage);
    }
    let present = hub.presence(&key).await?;
    Ok((key, present))
}
