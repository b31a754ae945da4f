//! The `broadcast` endpoint's handler.
//!
//! By the time it runs, the pipeline has checked the token (from `?token=`),
//! the user (active) and `broadcast.listen`; every `say` it receives has
//! passed `broadcast.speak` and the size and rate limits, and so has every
//! open message (any other `type`, as the ShipVox document's
//! `{"type":"test","payload":{"message":"Hello"}}`). What is left is the
//! application: welcome the client, join its connection to the spec's
//! `everyone` topic, and publish its messages there. The spec lists the
//! topic on `broadcast` with `deliver: message`, so every publication
//! reaches each connection as a bare `relayed` (or open) frame, through
//! its bounded send queue: a client that stops reading is closed as a slow
//! consumer, never waited for.
//!
//! The stamps are the server's: the sender is the token's subject (never
//! anything the client wrote), the time is when the server received the
//! message, the request id a fresh random UUID per relayed message, the
//! same in every copy, so clients can tell one message from another and
//! the sender can recognise its own. A `say` becomes a typed `relayed`
//! (`from`, `at`, `request_id`); an open message is relayed as it came with
//! `user`, `timestamp` (Unix seconds, fractional, like Python's
//! `time.time()`) and `requestId` set, as the ShipVox document's server
//! does, over whatever the client put in those fields.

use std::time::{SystemTime, UNIX_EPOCH};

use wsauth_core::spec::wire::TopicRefusal;
use wsauth_core::{HandlerResult, OpenMessage, PublishError, Topics, ws_endpoint};

use crate::endpoints::broadcast::{Incoming, Session};
use crate::messages;
use crate::random;
use crate::time::now_rfc3339;
use crate::topics::everyone;

/// Longest `say` text, in characters (the spec's `maxLength`).
pub const MAX_TEXT_CHARS: usize = 2000;

/// Whether `text` has 1 to [`MAX_TEXT_CHARS`] characters (the spec's
/// `minLength` and `maxLength`, which the generated type does not check).
pub fn is_say_text(text: &str) -> bool {
    (1..=MAX_TEXT_CHARS).contains(&text.chars().count())
}

/// A `say` from `from`, stamped.
pub fn stamp(from: &str, text: String) -> Result<messages::Relayed, random::RandomError> {
    Ok(messages::Relayed {
        from: from.to_owned(),
        at: now_rfc3339(),
        request_id: random::uuid_v4()?,
        text,
    })
}

/// An open message from `user`, stamped as the ShipVox document's server
/// stamps every message: `user`, `timestamp` and `requestId` set, replacing
/// any the client sent.
pub fn stamp_open(
    user: &str,
    mut message: OpenMessage,
) -> Result<OpenMessage, random::RandomError> {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0.0, |d| d.as_secs_f64());
    let fields = &mut message.payload;
    fields.insert("user".to_owned(), user.into());
    fields.insert("timestamp".to_owned(), now.into());
    fields.insert("requestId".to_owned(), random::uuid_v4()?.into());
    Ok(message)
}

/// The handler's own failures (closing with the server-error code).
#[derive(Debug, thiserror::Error)]
enum BroadcastError {
    /// The pipeline admitted the connection with `broadcast.listen`, which
    /// is all joining takes: only a closing connection is refused, or, in a
    /// cluster, one that joins while Redis is unreachable.
    #[error("the connection could not join the broadcast ({0:?})")]
    Join(TopicRefusal),
}

/// Publishes `message` to everyone; while the cluster's Redis is
/// unreachable it is lost (logged), and the sender's connection stays open.
async fn relay(topics: &Topics, message: impl Into<everyone::Message>) -> Result<(), PublishError> {
    match topics.publish(&everyone::Key {}, message).await {
        Err(PublishError::Unavailable) => {
            tracing::warn!("not relayed: the cluster's redis is unreachable");
            Ok(())
        }
        published => published.map(drop),
    }
}

/// `broadcast` (`/ws`): the `connected` welcome, then the broadcast both
/// ways until the client leaves.
///
/// The welcome goes first and the join after it, so no relayed message can
/// reach the client before its welcome; the welcome's count is the
/// listeners already joined, and this one.
#[ws_endpoint(perm = "broadcast.listen")]
pub async fn broadcast(mut session: Session) -> HandlerResult {
    let user = session.principal().subject().unwrap_or_default().to_owned();
    let topics = session.topics();
    let everyone = everyone::Key {};
    session.send(messages::Connected {
        user_id: user.clone(),
        listeners: i64::try_from(topics.subscribers(&everyone) + 1).unwrap_or(i64::MAX),
    })?;
    session
        .join(&everyone)
        .await
        .map_err(BroadcastError::Join)?;
    while let Some(incoming) = session.recv().await {
        match incoming {
            Incoming::Say(say) if is_say_text(&say.text) => {
                relay(&topics, stamp(&user, say.text)?).await?;
            }
            Incoming::Say(_) => session.untyped().refuse_invalid(),
            Incoming::Open(message) => {
                relay(&topics, stamp_open(&user, message)?).await?;
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn say_text_bounds() {
        assert!(is_say_text("Ship it."));
        assert!(!is_say_text(""));
        assert!(is_say_text(&"é".repeat(MAX_TEXT_CHARS)));
        assert!(!is_say_text(&"x".repeat(MAX_TEXT_CHARS + 1)));
    }

    #[test]
    fn stamps_are_the_servers() {
        let a = stamp("alice", "hi".into()).unwrap_or_else(|e| panic!("{e}"));
        let b = stamp("alice", "hi".into()).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(a.from, "alice");
        assert_ne!(a.request_id, b.request_id);
        assert!(a.at.ends_with('Z') && a.at.len() == 20, "{}", a.at);
    }

    #[test]
    fn open_messages_are_stamped_over_what_the_client_wrote() {
        let sent: serde_json::Value = serde_json::json!({
            "payload": {"message": "Hello"},
            "user": "mallory",
            "requestId": "mine",
        });
        let serde_json::Value::Object(fields) = sent else {
            panic!("an object")
        };
        let m =
            stamp_open("alice", OpenMessage::new("test", fields)).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(m.kind, "test");
        assert_eq!(m.payload["payload"]["message"], "Hello");
        assert_eq!(m.payload["user"], "alice");
        assert_ne!(m.payload["requestId"], "mine");
        assert_eq!(m.payload["requestId"].as_str().map(str::len), Some(36));
        assert!(m.payload["timestamp"].as_f64().is_some_and(|t| t > 1.7e9));
    }
}
