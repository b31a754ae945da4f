//! The `reflection` handler: stream the reflection on one entry, token by
//! token, then end.
//!
//! By the time it runs, the pipeline has verified the token, checked that
//! the user is active and holds `reflections.read`, that `entry_id` is a
//! canonical integer, and (the `entry_owner` check) that the entry exists and
//! is the user's. What is left is the application: generate, send each token
//! as a text frame of its own, and return. The handler's result is the close:
//! `Ok` closes with the spec's `completed` code (1000, "done"), an error —
//! generation failing part-way, say — with `server_error` (1011) after the
//! tokens already sent. Nothing here writes a close code.
//!
//! The frames are bare text, not typed messages (the spec's endpoint has
//! `frames: raw`), because that is what the reflections document's clients
//! read: they append each `event.data` to the text on screen.
//!
//! The store and the pace reach the handler as its state ([`Generator`],
//! given with `Handlers::with_state`), so servers started side by side (as
//! tests do) never share anything.

use std::time::Duration;

use axum::extract::ws::Message;
use wsauth_core::{HandlerResult, ws_endpoint};

use crate::endpoints as ep;
use crate::store::{ENTRY_ID, Shared};

/// What the handler needs from the application: the store, and how long to
/// wait between tokens (an AI produces them over time; zero sends them as
/// fast as the client reads).
#[derive(Clone, Debug)]
pub struct Generator {
    /// Users and entries.
    pub store: Shared,
    /// The pause before every token after the first.
    pub token_interval: Duration,
}

/// Why a reflection could not be streamed; each ends the connection with
/// `server_error`, logged (never sent).
#[derive(Debug, thiserror::Error)]
pub enum ReflectionError {
    /// The path parameter is missing or not an integer (the pipeline admits
    /// only canonical integers, so a wiring bug too).
    #[error("path parameter `entry_id` is not an integer")]
    BadEntryId,
}

/// `reflection` (`/ws/reflections/{entry_id}`): every token of the
/// reflection on the entry, one text frame each, then the `completed` close.
#[ws_endpoint(perm = "reflections.read")]
pub async fn reflection(
    mut session: ep::reflection::Session,
    generator: &Generator,
) -> HandlerResult {
    let entry: i64 = session
        .param(ENTRY_ID)
        .and_then(|id| id.parse().ok())
        .ok_or(ReflectionError::BadEntryId)?;
    let generation = generator.store.store().generate(entry)?;
    for (index, token) in generation.enumerate() {
        let token = token?;
        if index > 0 && !generator.token_interval.is_zero() {
            tokio::time::sleep(generator.token_interval).await;
        }
        // Waits for room in the send queue, so a long reflection never
        // overflows it.
        session.untyped().deliver_raw(Message::text(token)).await?;
    }
    Ok(())
}
