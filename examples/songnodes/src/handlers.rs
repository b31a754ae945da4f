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
//! After the welcome, a handler answers the client's messages. A
//! `subscribe` is answered with the channel's snapshot, and the connection
//! joins the channel's instance of the spec's `updates` topic: the store
//! publishes each change (a track added to a playlist) to every channel
//! that shows the changed node, and the spec delivers the topic to both
//! endpoints as their own `graph_update`s, through each connection's
//! bounded send queue (a client that stops reading is closed as a slow
//! consumer). A connection that follows `graph` and a narrower channel
//! is joined to `graph` alone, so it gets each change once.
//!
//! What the generated types cannot check is checked here: the search
//! query's length and limit, and the playlist id's UUID format. Such a
//! message gets an `error` with code `invalid_message` (both endpoints may
//! send `error`), and the connection stays open.

use wsauth_core::spec::wire::TopicRefusal;
use wsauth_core::{HandlerResult, Joins, TypedSession, ws_endpoint};

use crate::endpoints as ep;
use crate::messages::{self, ErrorCode, SubscribeChannel};
use crate::store::{Added, Addition, PlaylistError, Shared, View, updates};
use crate::topics;

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

/// A channel's contents as an update.
fn update(view: View) -> messages::GraphUpdate {
    messages::GraphUpdate {
        nodes: view.nodes,
        edges: view.edges,
    }
}

/// The handlers' own failures (closing with the server-error code).
#[derive(Debug, thiserror::Error)]
enum FollowError {
    /// The pipeline admitted the connection with `graph.read`, which is all
    /// joining takes: only a closing connection is refused.
    #[error("the connection could not follow a channel ({0:?})")]
    Join(TopicRefusal),
    /// Only a channel the connection follows is left.
    #[error("the connection could not leave a channel ({0:?})")]
    Leave(TopicRefusal),
}

/// The channels a connection follows, joined so that each change reaches
/// it once: `graph` shows every node, so a connection that follows it is
/// joined to `graph` alone; `tracks` and `artists` show different kinds.
#[derive(Debug, Default)]
struct Following {
    graph: bool,
    narrower: Vec<SubscribeChannel>,
}

/// Answers a `subscribe`: `channel`'s snapshot as a `graph_update`, then
/// (joined to the channel's `updates` instance, unless `graph` already
/// covers it) an update per change. The store is held from the snapshot
/// until the joins and leaves are done ([`Shared::hold`]), so every change
/// is in the snapshot or among the updates after it, once. Following a
/// channel again sends its snapshot again and changes nothing else.
async fn follow<E>(
    session: &mut TypedSession<E>,
    store: &Shared,
    following: &mut Following,
    channel: SubscribeChannel,
) -> HandlerResult
where
    E: Joins<topics::updates::Key>,
    messages::GraphUpdate: Into<E::Outgoing>,
{
    let held = store.hold().await;
    session.send(update(held.view(channel)))?;
    if following.graph || following.narrower.contains(&channel) {
        return Ok(());
    }
    session
        .join(&updates(channel))
        .await
        .map_err(FollowError::Join)?;
    if channel == SubscribeChannel::Graph {
        following.graph = true;
        for narrower in following.narrower.drain(..) {
            session
                .leave(&updates(narrower))
                .map_err(FollowError::Leave)?;
        }
    } else {
        following.narrower.push(channel);
    }
    drop(held);
    Ok(())
}

/// Answers a `search`: results, or an `invalid_message` error for a query
/// or limit the spec does not allow.
async fn search(
    store: &Shared,
    m: messages::Search,
) -> Result<messages::SearchResults, messages::Error> {
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
    let nodes = store.search(&m.query, limit).await;
    Ok(messages::SearchResults {
        query: m.query,
        nodes,
    })
}

/// Answers an `add_to_playlist` from `subject`: `playlist_updated`, or an
/// `error`. The reply is sent before the track's change is published (see
/// [`Shared::add_to_playlist`]), so the sender's own connection, when it
/// follows a channel showing the track, gets the reply first.
async fn add_to_playlist(
    session: &mut ep::user::Session,
    store: &Shared,
    subject: &str,
    m: messages::AddToPlaylist,
) -> HandlerResult {
    if !is_uuid(&m.playlist_id) {
        session.send(error(
            ErrorCode::InvalidMessage,
            "`playlist_id` must be a UUID",
        ))?;
        return Ok(());
    }
    // Playlist ids are compared as the store spells them (lower case).
    let playlist_id = m.playlist_id.to_ascii_lowercase();
    let addition = Addition {
        subject,
        playlist: &playlist_id,
        track: &m.track_id,
    };
    let topics = session.topics();
    let answer = |added: &Result<Added, PlaylistError>| match added {
        Ok(added) => session.send(messages::PlaylistUpdated {
            playlist_id: playlist_id.clone(),
            tracks: i64::try_from(added.tracks).unwrap_or(i64::MAX),
        }),
        Err(e @ PlaylistError::NotOwner) => {
            session.send(error(ErrorCode::Forbidden, &e.to_string()))
        }
        Err(e @ (PlaylistError::NoPlaylist | PlaylistError::NoTrack)) => {
            session.send(error(ErrorCode::NotFound, &e.to_string()))
        }
    };
    store.add_to_playlist(&topics, addition, answer).await??;
    Ok(())
}

/// `user` (`/ws/{user_id}`): the welcome, then subscriptions, searches and
/// playlist additions until the client leaves; the updates of the channels
/// it follows reach the client through their topic.
#[ws_endpoint(perm = "graph.read")]
pub async fn user(mut session: ep::user::Session, store: &Shared) -> HandlerResult {
    session.send(welcome_for(&session.principal()))?;
    let subject = session
        .principal()
        .subject()
        .ok_or("songnodes: an authenticated endpoint without a subject")?
        .to_owned();
    let mut following = Following::default();
    while let Some(message) = session.recv().await {
        match message {
            ep::user::Incoming::Subscribe(m) => {
                follow(&mut session, store, &mut following, m.channel).await?;
            }
            ep::user::Incoming::Search(m) => match search(store, m).await {
                Ok(results) => session.send(results)?,
                Err(e) => session.send(e)?,
            },
            ep::user::Incoming::AddToPlaylist(m) => {
                add_to_playlist(&mut session, store, &subject, m).await?;
            }
        }
    }
    Ok(())
}

/// `anonymous` (`/ws/anonymous`): the welcome (unauthenticated, the guest
/// role's permissions), then subscriptions; the updates of the channels it
/// follows reach the client through their topic. A `search` never arrives
/// here: guests lack `graph.search`, and the pipeline answers it with the
/// `forbidden` error.
#[ws_endpoint(perm = "graph.read")]
pub async fn anonymous(mut session: ep::anonymous::Session, store: &Shared) -> HandlerResult {
    session.send(welcome_for(&session.principal()))?;
    let mut following = Following::default();
    while let Some(message) = session.recv().await {
        match message {
            ep::anonymous::Incoming::Subscribe(m) => {
                follow(&mut session, store, &mut following, m.channel).await?;
            }
            // The endpoint receives `search` only so that a guest gets the
            // typed `forbidden` refusal (not `invalid_message`); it cannot
            // send `search_results`, so even a guest the pipeline let
            // through is refused.
            ep::anonymous::Incoming::Search(_) => {
                session.send(error(ErrorCode::Forbidden, "forbidden"))?;
            }
        }
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
