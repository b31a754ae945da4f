//! The `broadcast` endpoint's handler.
//!
//! By the time it runs, the pipeline has checked the token (from `?token=`),
//! the user (active) and `broadcast.listen`; every `say` it receives has
//! passed `broadcast.speak` and the size and rate limits. What is left is
//! the application: welcome the client, relay its `say`s to everyone
//! through the [`Hub`], and forward everyone's relayed messages to it.
//!
//! The stamps are the server's: `from` is the token's subject (never
//! anything the client wrote), `at` the time the server received the
//! message, `request_id` a fresh random UUID per relayed message, the same
//! in every copy, so clients can tell one message from another and the
//! sender can recognise its own.

use std::error::Error;

use wsauth_core::{HandlerResult, ws_endpoint};

use crate::endpoints::broadcast::{Incoming, Session};
use crate::hub::Hub;
use crate::messages;
use crate::random;
use crate::time::now_rfc3339;

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

/// The handler's own failures (closing with the server-error code).
#[derive(Debug, thiserror::Error)]
enum BroadcastError {
    #[error("the server was built without a hub")]
    NoHub,
    #[error("the listener fell {0} messages behind the broadcast")]
    Lagged(u64),
}

fn boxed(e: impl Error + Send + Sync + 'static) -> Box<dyn Error + Send + Sync> {
    Box::new(e)
}

/// `broadcast` (`/ws`): the `connected` welcome, then relaying both ways
/// until the client leaves.
#[ws_endpoint(
    spec = "../../specs/shipvox.yaml",
    endpoint = "broadcast",
    perm = "broadcast.listen"
)]
pub async fn broadcast(mut session: Session) -> HandlerResult {
    let hub = session
        .state::<Hub>()
        .cloned()
        .ok_or_else(|| boxed(BroadcastError::NoHub))?;
    let user = session.principal().subject().unwrap_or_default().to_owned();
    let mut feed = hub.subscribe();
    session.send(messages::Connected {
        user_id: user.clone(),
        listeners: i64::try_from(hub.listeners()).unwrap_or(i64::MAX),
    })?;
    loop {
        tokio::select! {
            incoming = session.recv() => match incoming {
                None => return Ok(()),
                Some(Incoming::Say(say)) if is_say_text(&say.text) => {
                    hub.publish(stamp(&user, say.text)?);
                }
                Some(Incoming::Say(_)) => session.untyped().refuse_invalid(),
            },
            relayed = feed.recv() => match relayed {
                Ok(message) => session.send((*message).clone())?,
                Err(tokio::sync::broadcast::error::RecvError::Lagged(n)) => {
                    return Err(boxed(BroadcastError::Lagged(n)));
                }
                Err(tokio::sync::broadcast::error::RecvError::Closed) => return Ok(()),
            },
        }
    }
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
}
