//! The `status` endpoint's handler, over the typed layer `include_spec!`
//! generates.
//!
//! The pipeline has already done everything the spec asks before a handler
//! runs: the token (introspected, or verified locally), the user directory,
//! the role → `mcp.status.read` check, and the text keepalive (`ping` is
//! answered with `pong` by the connection loop; the handler never sees it).
//! What is left is the application: the table at connect time, then every
//! change as it happens, which the spec's `status` topic delivers as the
//! endpoint's own messages once the handler has joined the connection to
//! it.

use wsauth_core::spec::wire::TopicRefusal;
use wsauth_core::{HandlerResult, ws_endpoint};

use crate::endpoints as ep;
use crate::messages;
use crate::status::StatusBoard;
use crate::topics;

/// The handler's own failures (closing with the server-error code).
#[derive(Debug, thiserror::Error)]
enum StatusError {
    /// The pipeline admitted the connection with `mcp.status.read`, which
    /// is all joining takes: only a closing connection is refused.
    #[error("the connection could not join the status updates ({0:?})")]
    Join(TopicRefusal),
}

/// `status` (`/ws/mcp-status`): `initial_status` with every server, then
/// each `mcp_status_change` and `health_event` as the board publishes them.
///
/// The table is held from the snapshot until the connection has joined the
/// topic (see [`StatusBoard::hold`]): every change is either in the
/// `initial_status` or among the updates after it, never lost and never
/// before it.
#[ws_endpoint(perm = "mcp.status.read")]
pub async fn status(mut session: ep::status::Session, board: &StatusBoard) -> HandlerResult {
    let table = board.hold().await;
    session.send(messages::InitialStatus {
        mcps: table.servers(),
    })?;
    session
        .join(&topics::status::Key {})
        .await
        .map_err(StatusError::Join)?;
    drop(table);
    // The updates reach the client without the handler, and the endpoint
    // receives nothing but the keepalive, which the connection loop
    // answers: `recv` returns only when the connection ends.
    match session.recv().await {
        Some(incoming) => match incoming {},
        None => Ok(()),
    }
}
