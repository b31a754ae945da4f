//! The `status` endpoint's handler, over the typed layer `include_spec!`
//! generates.
//!
//! The pipeline has already done everything the spec asks before a handler
//! runs: the token (introspected, or verified locally), the user directory,
//! the role → `mcp.status.read` check, and the text keepalive (`ping` is
//! answered with `pong` by the connection loop; the handler never sees it).
//! What is left is the application: the table at connect time, then every
//! change as it happens.

use tokio::sync::broadcast::error::RecvError;
use wsauth_core::{HandlerResult, ws_endpoint};

use crate::endpoints as ep;
use crate::messages;
use crate::status::{StatusBoard, Update};

/// `status` (`/ws/mcp-status`): `initial_status` with every server, then
/// each `mcp_status_change` and `health_event` as the board publishes them.
/// A watcher that falls more than
/// [`UPDATE_BACKLOG`](crate::status::UPDATE_BACKLOG) updates behind gets
/// the whole table again as a fresh `initial_status` instead of a gap.
#[ws_endpoint(perm = "mcp.status.read")]
pub async fn status(mut session: ep::status::Session, board: &StatusBoard) -> HandlerResult {
    let (mcps, mut updates) = board.watch();
    session.send(messages::InitialStatus { mcps })?;
    // The endpoint receives nothing but the keepalive, which the loop
    // answers; when the connection ends this future is dropped where it
    // waits.
    loop {
        match updates.recv().await {
            Ok(Update::Change(change)) => session.send(change)?,
            Ok(Update::Health(event)) => session.send(event)?,
            Err(RecvError::Lagged(_)) => {
                let (mcps, fresh) = board.watch();
                updates = fresh;
                session.send(messages::InitialStatus { mcps })?;
            }
            Err(RecvError::Closed) => return Ok(()),
        }
    }
}
