//! The embedded store: users, the music graph, playlists, and the
//! publication of graph changes.
//!
//! SongNodes is a live graph: what one user does (adding a track to a
//! playlist) changes the graph everybody watches (the track's weight). So
//! the store is one shared value, handed to the server with
//! [`Builder::state`](wsauth_core::Builder::state) and read by every
//! handler through its session, and every change is published on the
//! spec's `updates` topic, to the instance of each channel that shows the
//! changed node; a connection's handler joins the instances of the
//! channels its client follows. Nothing is process-wide: tests start many
//! servers, each with its own store.
//!
//! Users are looked up by the pipeline ([`UserStore`]) before any handler
//! runs; roles come from tokens, so the store only says who is active.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use tokio::sync::{Mutex, MutexGuard};
use wsauth_core::{BoxFuture, PublishError, StoreError, Topics, UserStatus, UserStore};
use wsauth_example_support::SeededUsers;

use crate::messages::{GraphUpdate, SubscribeChannel};
use crate::schemas::{Edge, Node, NodeKind};
use crate::topics;

/// The user id of SongNodes' documented client line (`/ws/123`), seeded so
/// that line runs as written.
pub const SEED_DOC_USER: &str = "123";
/// Alice's seeded playlist.
pub const ALICE_PLAYLIST: &str = "6f1c2b7e-3d4a-4e5f-8a9b-0c1d2e3f4a5b";
/// Bob's seeded playlist.
pub const BOB_PLAYLIST: &str = "9a8b7c6d-5e4f-4a3b-9c2d-1e0f9a8b7c6d";

/// A playlist: whose it is and its tracks, in the order they were added.
#[derive(Clone, Debug, PartialEq)]
pub struct Playlist {
    /// The owner's subject.
    pub owner: String,
    /// Track node ids.
    pub tracks: Vec<String>,
}

/// Why a track could not be added to a playlist.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum PlaylistError {
    /// No playlist has that id.
    #[error("no such playlist")]
    NoPlaylist,
    /// The playlist belongs to someone else.
    #[error("the playlist belongs to another user")]
    NotOwner,
    /// No track has that id.
    #[error("no such track")]
    NoTrack,
}

/// The result of adding a track: the playlist's length, and the track's
/// node when its weight changed (it was not in the playlist yet).
#[derive(Clone, Debug, PartialEq)]
pub struct Added {
    /// Tracks now in the playlist.
    pub tracks: usize,
    /// The track, re-weighted; `None` when it was already there.
    pub changed: Option<Node>,
}

/// A node and its edges, as a channel shows them.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct View {
    /// The nodes.
    pub nodes: Vec<Node>,
    /// The edges between them.
    pub edges: Vec<Edge>,
}

/// The node kinds a channel shows: `graph` everything, `tracks` and
/// `artists` one kind each.
pub fn shows(channel: SubscribeChannel, kind: NodeKind) -> bool {
    match channel {
        SubscribeChannel::Graph => true,
        SubscribeChannel::Tracks => kind == NodeKind::Track,
        SubscribeChannel::Artists => kind == NodeKind::Artist,
    }
}

/// Users, the graph and playlists, in memory. Build one with
/// [`Store::seeded`] (or [`Store::new`] and the adders), then share it.
#[derive(Clone, Debug, Default)]
pub struct Store {
    users: SeededUsers,
    nodes: BTreeMap<String, Node>,
    edges: Vec<Edge>,
    playlists: HashMap<String, Playlist>,
}

impl Store {
    /// An empty store.
    pub fn new() -> Self {
        Self::default()
    }

    /// The example's data: the [seeded users](SeededUsers::seeded)
    /// (`alice`, `bob`, `mod` and `admin` active, `mallory` inactive) and
    /// [`SEED_DOC_USER`], the user of SongNodes' documented client line; a
    /// small graph of genres, artists and tracks; one playlist each for
    /// alice ([`ALICE_PLAYLIST`]) and bob ([`BOB_PLAYLIST`]).
    pub fn seeded() -> Self {
        let mut store = Store::new()
            .users(SeededUsers::seeded().user(SEED_DOC_USER, true))
            .node("genre:electronic", "Electronic", NodeKind::Genre)
            .node("genre:house", "French House", NodeKind::Genre)
            .node("artist:kraftwerk", "Kraftwerk", NodeKind::Artist)
            .node("artist:daft-punk", "Daft Punk", NodeKind::Artist)
            .node("artist:aphex-twin", "Aphex Twin", NodeKind::Artist)
            .node("track:the-model", "The Model", NodeKind::Track)
            .node("track:computer-love", "Computer Love", NodeKind::Track)
            .node(
                "track:around-the-world",
                "Around the World",
                NodeKind::Track,
            )
            .node("track:one-more-time", "One More Time", NodeKind::Track)
            .node("track:windowlicker", "Windowlicker", NodeKind::Track)
            .edge("artist:kraftwerk", "genre:electronic")
            .edge("artist:daft-punk", "genre:house")
            .edge("artist:aphex-twin", "genre:electronic")
            .edge("artist:kraftwerk", "artist:daft-punk")
            .edge("artist:kraftwerk", "artist:aphex-twin")
            .edge("track:the-model", "artist:kraftwerk")
            .edge("track:computer-love", "artist:kraftwerk")
            .edge("track:around-the-world", "artist:daft-punk")
            .edge("track:one-more-time", "artist:daft-punk")
            .edge("track:windowlicker", "artist:aphex-twin")
            .edge("track:the-model", "track:computer-love")
            .edge("track:around-the-world", "track:one-more-time")
            .playlist(ALICE_PLAYLIST, "alice")
            .playlist(BOB_PLAYLIST, "bob");
        for (playlist, owner, track) in [
            (ALICE_PLAYLIST, "alice", "track:the-model"),
            (BOB_PLAYLIST, "bob", "track:one-more-time"),
        ] {
            // Seeding through the same path as clients keeps the weights
            // equal to the number of playlists holding each track.
            let _ = store.add_to_playlist(owner, playlist, track);
        }
        store
    }

    /// Replaces the users.
    pub fn users(mut self, users: SeededUsers) -> Self {
        self.users = users;
        self
    }

    /// Adds (or replaces) user `subject`.
    pub fn user(mut self, subject: &str, active: bool) -> Self {
        self.users.set_active(subject, active);
        self
    }

    /// Adds (or replaces) a node of weight 0.
    pub fn node(mut self, id: &str, label: &str, kind: NodeKind) -> Self {
        let node = Node {
            id: id.to_owned(),
            label: label.to_owned(),
            kind,
            weight: Some(0.0),
        };
        self.nodes.insert(id.to_owned(), node);
        self
    }

    /// Adds an edge of weight 1.
    pub fn edge(mut self, from: &str, to: &str) -> Self {
        self.edges.push(Edge {
            from: from.to_owned(),
            to: to.to_owned(),
            weight: Some(1.0),
        });
        self
    }

    /// Adds (or empties) playlist `id` of `owner`.
    pub fn playlist(mut self, id: &str, owner: &str) -> Self {
        let playlist = Playlist {
            owner: owner.to_owned(),
            tracks: Vec::new(),
        };
        self.playlists.insert(id.to_owned(), playlist);
        self
    }

    /// Whether `subject` is known and active.
    pub fn status(&self, subject: &str) -> UserStatus {
        self.users.status(subject)
    }

    /// What `channel` shows: its nodes (in id order) and the edges whose
    /// both ends it shows.
    pub fn view(&self, channel: SubscribeChannel) -> View {
        let nodes: Vec<Node> = self
            .nodes
            .values()
            .filter(|n| shows(channel, n.kind))
            .cloned()
            .collect();
        let shown = |id: &str| nodes.iter().any(|n| n.id == id);
        let edges = self
            .edges
            .iter()
            .filter(|e| shown(&e.from) && shown(&e.to))
            .cloned()
            .collect();
        View { nodes, edges }
    }

    /// The nodes whose label contains `query`, ignoring case: heaviest
    /// first, then by label, at most `limit`.
    pub fn search(&self, query: &str, limit: usize) -> Vec<Node> {
        let needle = query.to_lowercase();
        let mut found: Vec<Node> = self
            .nodes
            .values()
            .filter(|n| n.label.to_lowercase().contains(&needle))
            .cloned()
            .collect();
        found.sort_by(|a, b| {
            let weight = |n: &Node| n.weight.unwrap_or(0.0);
            weight(b)
                .total_cmp(&weight(a))
                .then_with(|| a.label.cmp(&b.label))
        });
        found.truncate(limit);
        found
    }

    /// A playlist, by id.
    pub fn playlist_of(&self, id: &str) -> Option<&Playlist> {
        self.playlists.get(id)
    }

    /// Adds `track` to `subject`'s playlist `playlist`. A track added for
    /// the first time weighs one more (its weight counts the playlists
    /// holding it).
    pub fn add_to_playlist(
        &mut self,
        subject: &str,
        playlist: &str,
        track: &str,
    ) -> Result<Added, PlaylistError> {
        let list = self
            .playlists
            .get_mut(playlist)
            .ok_or(PlaylistError::NoPlaylist)?;
        if list.owner != subject {
            return Err(PlaylistError::NotOwner);
        }
        let node = self
            .nodes
            .get_mut(track)
            .filter(|n| n.kind == NodeKind::Track)
            .ok_or(PlaylistError::NoTrack)?;
        if list.tracks.iter().any(|t| t == track) {
            return Ok(Added {
                tracks: list.tracks.len(),
                changed: None,
            });
        }
        list.tracks.push(track.to_owned());
        node.weight = Some(node.weight.unwrap_or(0.0) + 1.0);
        Ok(Added {
            tracks: list.tracks.len(),
            changed: Some(node.clone()),
        })
    }
}

/// The store as the server shares it: behind a lock under which every
/// change is also published. Cloning shares the same store.
///
/// The lock is async because a connection holds it while it follows a
/// channel ([`Shared::hold`]): from the snapshot it sends until its join of
/// the channel's topic, no change can be made, so every change is either in
/// the snapshot or among the updates after it.
#[derive(Clone, Debug)]
pub struct Shared(Arc<Mutex<Store>>);

/// The store, held: changes wait until it is dropped (see
/// [`Shared::hold`]).
pub struct Held<'a>(MutexGuard<'a, Store>);

impl Held<'_> {
    /// See [`Store::view`].
    pub fn view(&self, channel: SubscribeChannel) -> View {
        self.0.view(channel)
    }
}

/// The `updates` topic's instance for `channel`.
pub fn updates(channel: SubscribeChannel) -> topics::updates::Key {
    let channel = match channel {
        SubscribeChannel::Graph => "graph",
        SubscribeChannel::Tracks => "tracks",
        SubscribeChannel::Artists => "artists",
    };
    topics::updates::Key {
        channel: channel.to_owned(),
    }
}

/// Every channel, to find those that show a node.
const CHANNELS: [SubscribeChannel; 3] = [
    SubscribeChannel::Graph,
    SubscribeChannel::Tracks,
    SubscribeChannel::Artists,
];

impl Shared {
    /// Shares `store`.
    pub fn new(store: Store) -> Self {
        Shared(Arc::new(Mutex::new(store)))
    }

    /// The store, held until the result is dropped: a connection reads a
    /// channel's snapshot, sends it and joins the channel's topic
    /// meanwhile, and no change is made (or published) before it has
    /// joined.
    pub async fn hold(&self) -> Held<'_> {
        Held(self.0.lock().await)
    }

    /// See [`Store::view`].
    pub async fn view(&self, channel: SubscribeChannel) -> View {
        self.0.lock().await.view(channel)
    }

    /// See [`Store::search`].
    pub async fn search(&self, query: &str, limit: usize) -> Vec<Node> {
        self.0.lock().await.search(query, limit)
    }

    /// A copy of playlist `id`.
    pub async fn playlist(&self, id: &str) -> Option<Playlist> {
        self.0.lock().await.playlist_of(id).cloned()
    }

    /// See [`Store::add_to_playlist`]. With the store still held, the
    /// outcome goes to `answer` (the sender's reply, which so comes before
    /// the change on the sender's own connection), then a changed track is
    /// published on `topics`, as a `graph_update` to every channel that
    /// shows it; `answer`'s result is returned.
    pub async fn add_to_playlist<R>(
        &self,
        topics: &Topics,
        addition: Addition<'_>,
        answer: impl FnOnce(&Result<Added, PlaylistError>) -> R,
    ) -> Result<R, PublishError> {
        // Published under the lock, so that changes go out in the order
        // they were made, and never between a snapshot and its join.
        let mut store = self.0.lock().await;
        let added = store.add_to_playlist(addition.subject, addition.playlist, addition.track);
        let answered = answer(&added);
        if let Ok(Added {
            changed: Some(node),
            ..
        }) = &added
        {
            for channel in CHANNELS.into_iter().filter(|c| shows(*c, node.kind)) {
                let update = GraphUpdate {
                    nodes: vec![node.clone()],
                    edges: Vec::new(),
                };
                topics.publish(&updates(channel), update).await?;
            }
        }
        drop(store);
        Ok(answered)
    }
}

/// A track to add to a playlist, on behalf of a user.
#[derive(Clone, Copy, Debug)]
pub struct Addition<'a> {
    /// Who asks: the playlist must be theirs.
    pub subject: &'a str,
    /// The playlist's id.
    pub playlist: &'a str,
    /// The track's node id.
    pub track: &'a str,
}

impl UserStore for Shared {
    fn status<'a>(&'a self, subject: &'a str) -> BoxFuture<'a, Result<UserStatus, StoreError>> {
        Box::pin(async move { Ok(self.0.lock().await.status(subject)) })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seeded_users() {
        let store = Store::seeded();
        assert_eq!(store.status("alice"), UserStatus::Active);
        assert_eq!(store.status("admin"), UserStatus::Active);
        assert_eq!(store.status("mallory"), UserStatus::Inactive);
        assert_eq!(store.status("carol"), UserStatus::Unknown);
    }

    #[test]
    fn channels_show_their_kinds_and_the_edges_between_them() {
        let store = Store::seeded();
        let graph = store.view(SubscribeChannel::Graph);
        assert_eq!(graph.nodes.len(), 10);
        assert_eq!(graph.edges.len(), 12);
        let tracks = store.view(SubscribeChannel::Tracks);
        assert_eq!(tracks.nodes.len(), 5);
        assert!(tracks.nodes.iter().all(|n| n.kind == NodeKind::Track));
        assert_eq!(tracks.edges.len(), 2, "{:?}", tracks.edges);
        let artists = store.view(SubscribeChannel::Artists);
        assert_eq!(artists.nodes.len(), 3);
        assert_eq!(artists.edges.len(), 2);
    }

    #[test]
    fn search_ignores_case_and_ranks_by_weight() {
        let store = Store::seeded();
        let ids = |nodes: Vec<Node>| nodes.into_iter().map(|n| n.id).collect::<Vec<_>>();
        // "The Model" and "One More Time" weigh 1 (seeded playlists).
        assert_eq!(
            ids(store.search("O", 3)),
            [
                "track:one-more-time",
                "track:the-model",
                "track:around-the-world"
            ]
        );
        assert_eq!(ids(store.search("kraft", 10)), ["artist:kraftwerk"]);
        assert!(store.search("nothing like it", 10).is_empty());
    }

    #[test]
    fn playlists_take_their_owners_tracks_once() {
        let mut store = Store::seeded();
        let added = store.add_to_playlist("alice", ALICE_PLAYLIST, "track:windowlicker");
        let added = added.unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(added.tracks, 2);
        assert_eq!(added.changed.and_then(|n| n.weight), Some(1.0));
        let again = store.add_to_playlist("alice", ALICE_PLAYLIST, "track:windowlicker");
        assert_eq!(
            again,
            Ok(Added {
                tracks: 2,
                changed: None
            })
        );
        let refusals = [
            (
                "bob",
                ALICE_PLAYLIST,
                "track:windowlicker",
                PlaylistError::NotOwner,
            ),
            (
                "alice",
                BOB_PLAYLIST,
                "track:the-model",
                PlaylistError::NotOwner,
            ),
            (
                "alice",
                "00000000-0000-4000-8000-000000000000",
                "track:the-model",
                PlaylistError::NoPlaylist,
            ),
            (
                "alice",
                ALICE_PLAYLIST,
                "track:nope",
                PlaylistError::NoTrack,
            ),
            (
                "alice",
                ALICE_PLAYLIST,
                "artist:kraftwerk",
                PlaylistError::NoTrack,
            ),
        ];
        for (subject, playlist, track, error) in refusals {
            assert_eq!(store.add_to_playlist(subject, playlist, track), Err(error));
        }
    }
}
