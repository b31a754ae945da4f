//! The endpoints' handlers, over the typed layer `include_spec!` generates.
//!
//! Both endpoints run the same loop; what differs is who is connected and
//! what they may send, and the pipeline settled both before a handler runs:
//! on `user` the token verified, its subject equals the path's `user_id`
//! and the user is active; on `anonymous` nobody authenticated and the
//! connection holds the spec's `anonymous_role` (`guest`). The per-message
//! permissions (`graph.search`, `playlist.write`) are checked by the
//! pipeline too, so a guest's `search` is answered with the spec's
//! `forbidden` error before it reaches [`anonymous`].
//!
//! The welcome reports what the pipeline decided: whether the connection
//! authenticated, as whom, and every permission it holds, read from the
//! principal rather than restated here.
//!
//! After the welcome, a handler waits for two things at once: the client's
//! next message, and changes to the graph (published by the store when a
//! track is added to a playlist). Changes are forwarded as `graph_update`s
//! to connections subscribed to a channel that shows the changed node.
//!
//! What the generated types cannot check is checked here: the search
//! query's length and limit, and the playlist id's UUID format. Such a
//! message gets an `error` with code `invalid_message` (both endpoints may
//! send `error`), and the connection stays open.

use std::collections::HashSet;

use tokio::sync::broadcast;
use wsauth_core::{Endpoint, HandlerResult, SendError, TypedSession, ws_endpoint};

use crate::endpoints as ep;
use crate::messages::{self, ErrorCode, SubscribeChannel};
use crate::schemas::Node;
use crate::store::{PlaylistError, Shared, Store, View};

/// Longest search query, in characters (the spec's `maxLength`).
pub const MAX_QUERY_CHARS: usize = 200;
/// Results of a search without a `limit`.
pub const DEFAULT_LIMIT: usize = 10;
/// Largest `limit` (the spec's `maximum`).
pub const MAX_LIMIT: i64 = 100;

/// Every permission the spec declares that some role grants: what a
/// welcome may list.
fn declared_permissions() -> impl Iterator<Item = &'static str> {
    crate::API
        .roles
        .iter()
        .flat_map(|role| role.permissions.iter().copied())
}

/// The welcome for `session`: authentication status, user, permissions.
pub fn welcome_for(principal: &wsauth_core::Principal) -> messages::Welcome {
    messages::Welcome {
        authenticated: principal.is_authenticated(),
        user_id: principal.subject().map(str::to_owned),
        permissions: principal
            .permissions(declared_permissions())
            .into_iter()
            .map(str::to_owned)
            .collect(),
    }
}

/// The `error` reply for a refused message.
fn error(code: ErrorCode, message: &str) -> messages::Error {
    messages::Error {
        code,
        message: message.to_owned(),
    }
}

/// Whether `id` is a UUID in its textual form (8-4-4-4-12 hex digits,
/// either case), as the spec's `format: uuid` asks.
pub fn is_uuid(id: &str) -> bool {
    id.len() == 36
        && id.char_indices().all(|(i, c)| match i {
            8 | 13 | 18 | 23 => c == '-',
            _ => c.is_ascii_hexdigit(),
        })
}

/// The number of results a `search` asks for, when its `limit` is allowed.
pub fn search_limit(limit: Option<i64>) -> Option<usize> {
    match limit {
        None => Some(DEFAULT_LIMIT),
        Some(n) if (1..=MAX_LIMIT).contains(&n) => usize::try_from(n).ok(),
        Some(_) => None,
    }
}

/// Whether `query` has 1 to [`MAX_QUERY_CHARS`] characters.
pub fn is_query(query: &str) -> bool {
    (1..=MAX_QUERY_CHARS).contains(&query.chars().count())
}

/// One connection's view of the graph: the store, the channels it follows
/// and the feed of changes.
struct Follower {
    store: Shared,
    channels: HashSet<SubscribeChannel>,
    changes: broadcast::Receiver<Node>,
}

impl Follower {
    /// Listens to changes from the start: a change made after a snapshot
    /// is always on the feed, and one made before it is skipped by
    /// [`Follower::subscribe`].
    fn new(store: Shared) -> Self {
        let changes = store.changes();
        Follower {
            store,
            channels: HashSet::new(),
            changes,
        }
    }

    /// Follows `channel`: the changes still pending for the channels
    /// already followed, then the update holding `channel`'s current
    /// contents (consistent with the feed: see [`Shared::catch_up`]).
    fn subscribe(&mut self, channel: SubscribeChannel) -> Vec<messages::GraphUpdate> {
        let Follower {
            store,
            channels,
            changes,
        } = self;
        store.catch_up(changes, |pending, lagged, store| {
            let mut updates = pending_updates(channels, pending, lagged, store);
            channels.insert(channel);
            updates.push(update(store.view(channel)));
            updates
        })
    }

    /// What to send for one item of the feed: the changed node when a
    /// followed channel shows it; every followed channel afresh when this
    /// connection fell behind and missed changes.
    fn on_change(
        &mut self,
        change: Result<Node, broadcast::error::RecvError>,
    ) -> Vec<messages::GraphUpdate> {
        match change {
            Ok(node) => changed(&self.channels, node).into_iter().collect(),
            Err(broadcast::error::RecvError::Closed) => Vec::new(),
            Err(broadcast::error::RecvError::Lagged(_)) => {
                let Follower {
                    store,
                    channels,
                    changes,
                } = self;
                store.catch_up(changes, |pending, _, store| {
                    pending_updates(channels, pending, true, store)
                })
            }
        }
    }
}

/// A channel's contents as an update.
fn update(view: View) -> messages::GraphUpdate {
    messages::GraphUpdate {
        nodes: view.nodes,
        edges: view.edges,
    }
}

/// The update for a changed node, when one of `channels` shows it.
fn changed(channels: &HashSet<SubscribeChannel>, node: Node) -> Option<messages::GraphUpdate> {
    channels
        .iter()
        .any(|c| crate::store::shows(*c, node.kind))
        .then(|| messages::GraphUpdate {
            nodes: vec![node],
            edges: Vec::new(),
        })
}

/// What `channels` must be told of `pending` changes: each change they
/// show or, when some were `lagged` past, each channel afresh.
fn pending_updates(
    channels: &HashSet<SubscribeChannel>,
    pending: Vec<Node>,
    lagged: bool,
    store: &Store,
) -> Vec<messages::GraphUpdate> {
    if lagged {
        channels.iter().map(|c| update(store.view(*c))).collect()
    } else {
        pending
            .into_iter()
            .filter_map(|node| changed(channels, node))
            .collect()
    }
}

/// Answers a `search`: results, or an `invalid_message` error for a query
/// or limit the spec does not allow.
fn search(store: &Shared, m: messages::Search) -> Result<messages::SearchResults, messages::Error> {
    let Some(limit) = search_limit(m.limit) else {
        return Err(error(
            ErrorCode::InvalidMessage,
            "search `limit` must be 1 to 100",
        ));
    };
    if !is_query(&m.query) {
        return Err(error(
            ErrorCode::InvalidMessage,
            "search needs a `query` of 1 to 200 characters",
        ));
    }
    let nodes = store.search(&m.query, limit);
    Ok(messages::SearchResults {
        query: m.query,
        nodes,
    })
}

/// Answers an `add_to_playlist` from `subject`.
fn add_to_playlist(
    store: &Shared,
    subject: &str,
    m: messages::AddToPlaylist,
) -> Result<messages::PlaylistUpdated, messages::Error> {
    if !is_uuid(&m.playlist_id) {
        return Err(error(
            ErrorCode::InvalidMessage,
            "`playlist_id` must be a UUID",
        ));
    }
    // Playlist ids are compared as the store spells them (lower case).
    let playlist_id = m.playlist_id.to_ascii_lowercase();
    match store.add_to_playlist(subject, &playlist_id, &m.track_id) {
        Ok(added) => Ok(messages::PlaylistUpdated {
            playlist_id,
            tracks: i64::try_from(added.tracks).unwrap_or(i64::MAX),
        }),
        Err(e @ PlaylistError::NotOwner) => Err(error(ErrorCode::Forbidden, &e.to_string())),
        Err(e @ (PlaylistError::NoPlaylist | PlaylistError::NoTrack)) => {
            Err(error(ErrorCode::NotFound, &e.to_string()))
        }
    }
}

/// `user` (`/ws/{user_id}`): the welcome, then subscriptions, searches,
/// playlist additions and live updates until the client leaves.
#[ws_endpoint(perm = "graph.read")]
pub async fn user(mut session: ep::user::Session, store: &Shared) -> HandlerResult {
    let mut follower = Follower::new(store.clone());
    session.send(welcome_for(&session.principal()))?;
    let subject = session
        .principal()
        .subject()
        .ok_or("songnodes: an authenticated endpoint without a subject")?
        .to_owned();
    loop {
        tokio::select! {
            message = session.recv() => {
                let Some(message) = message else { break };
                match message {
                    ep::user::Incoming::Subscribe(m) => {
                        forward(&mut session, follower.subscribe(m.channel))?;
                    }
                    ep::user::Incoming::Search(m) => match search(&follower.store, m) {
                        Ok(results) => session.send(results)?,
                        Err(e) => session.send(e)?,
                    },
                    ep::user::Incoming::AddToPlaylist(m) => {
                        match add_to_playlist(&follower.store, &subject, m) {
                            Ok(updated) => session.send(updated)?,
                            Err(e) => session.send(e)?,
                        }
                    }
                }
            }
            change = follower.changes.recv() => {
                forward(&mut session, follower.on_change(change))?;
            }
        }
    }
    Ok(())
}

/// `anonymous` (`/ws/anonymous`): the welcome (unauthenticated, the guest
/// role's permissions), then subscriptions and live updates. A `search`
/// never arrives here: guests lack `graph.search`, and the pipeline answers
/// it with the `forbidden` error.
#[ws_endpoint(perm = "graph.read")]
pub async fn anonymous(mut session: ep::anonymous::Session, store: &Shared) -> HandlerResult {
    let mut follower = Follower::new(store.clone());
    session.send(welcome_for(&session.principal()))?;
    loop {
        tokio::select! {
            message = session.recv() => {
                let Some(message) = message else { break };
                match message {
                    ep::anonymous::Incoming::Subscribe(m) => {
                        forward(&mut session, follower.subscribe(m.channel))?;
                    }
                    // The endpoint receives `search` only so that a guest
                    // gets the typed `forbidden` refusal (not
                    // `invalid_message`); it cannot send `search_results`,
                    // so even a guest the pipeline let through is refused.
                    ep::anonymous::Incoming::Search(_) => {
                        session.send(error(ErrorCode::Forbidden, "forbidden"))?;
                    }
                }
            }
            change = follower.changes.recv() => {
                forward(&mut session, follower.on_change(change))?;
            }
        }
    }
    Ok(())
}

/// Sends graph updates, in order.
fn forward<E: Endpoint>(
    session: &mut TypedSession<E>,
    updates: Vec<messages::GraphUpdate>,
) -> Result<(), SendError>
where
    messages::GraphUpdate: Into<E::Outgoing>,
{
    for update in updates {
        session.send(update)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uuids() {
        assert!(is_uuid(crate::store::ALICE_PLAYLIST));
        assert!(is_uuid("6F1C2B7E-3D4A-4E5F-8A9B-0C1D2E3F4A5B"));
        assert!(!is_uuid("6f1c2b7e3d4a4e5f8a9b0c1d2e3f4a5b"));
        assert!(!is_uuid("6f1c2b7e-3d4a-4e5f-8a9b-0c1d2e3f4a5g"));
        assert!(!is_uuid(""));
    }

    #[test]
    fn search_bounds() {
        assert_eq!(search_limit(None), Some(DEFAULT_LIMIT));
        assert_eq!(search_limit(Some(1)), Some(1));
        assert_eq!(search_limit(Some(100)), Some(100));
        assert_eq!(search_limit(Some(0)), None);
        assert_eq!(search_limit(Some(101)), None);
        assert!(is_query("a"));
        assert!(is_query(&"é".repeat(MAX_QUERY_CHARS)));
        assert!(!is_query(""));
        assert!(!is_query(&"x".repeat(MAX_QUERY_CHARS + 1)));
    }

    #[test]
    fn welcomes_list_the_held_permissions() {
        let guest = wsauth_core::Principal::new(None, vec!["guest".into()], crate::API.roles);
        let welcome = welcome_for(&guest);
        assert!(!welcome.authenticated);
        assert_eq!(welcome.user_id, None);
        assert_eq!(welcome.permissions, ["graph.read"]);
        let admin =
            wsauth_core::Principal::new(Some("admin"), vec!["admin".into()], crate::API.roles);
        assert_eq!(
            welcome_for(&admin).permissions,
            ["graph.read", "graph.search", "playlist.write"]
        );
    }
}
