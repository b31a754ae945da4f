//! Every message the spec declares, over the wire: `welcome`, `subscribe`
//! and `graph_update` (snapshots and live updates), `search` and
//! `search_results`, `add_to_playlist` and `playlist_updated`, `error`.

use std::time::Duration;

use serde_json::json;
use songnodes::messages::{ErrorCode, GraphUpdate, PlaylistUpdated, SearchResults};
use songnodes::schemas::NodeKind;
use songnodes::store::{ALICE_PLAYLIST, BOB_PLAYLIST};

use crate::common::*;

const QUIET: Duration = Duration::from_millis(300);

async fn alice(app: &App) -> Client {
    let mut client = connect_as(app.addr, "/ws/alice", &token("alice", &["user"])).await;
    expect_welcome(&mut client, "alice", &USER_PERMISSIONS).await;
    client
}

async fn expect_error(client: &mut Client, code: ErrorCode, message: &str) {
    let error: songnodes::messages::Error = next_typed(client, "error").await;
    assert_eq!((error.code, error.message.as_str()), (code, message));
}

#[tokio::test]
async fn subscribe_sends_each_channels_snapshot() {
    let app = start().await;
    let mut client = alice(&app).await;
    send_json(
        &mut client,
        json!({"type": "subscribe", "channel": "graph"}),
    )
    .await;
    let graph: GraphUpdate = next_typed(&mut client, "graph_update").await;
    assert_eq!((graph.nodes.len(), graph.edges.len()), (10, 12));
    let ids: Vec<&str> = graph.nodes.iter().map(|n| n.id.as_str()).collect();
    for edge in &graph.edges {
        assert!(ids.contains(&edge.from.as_str()) && ids.contains(&edge.to.as_str()));
    }
    for (channel, kind, nodes, edges) in [
        ("tracks", NodeKind::Track, 5, 2),
        ("artists", NodeKind::Artist, 3, 2),
    ] {
        send_json(
            &mut client,
            json!({"type": "subscribe", "channel": channel}),
        )
        .await;
        let update: GraphUpdate = next_typed(&mut client, "graph_update").await;
        assert_eq!((update.nodes.len(), update.edges.len()), (nodes, edges));
        assert!(update.nodes.iter().all(|n| n.kind == kind), "{channel}");
    }
    let the_model = graph.nodes.iter().find(|n| n.id == "track:the-model");
    assert_eq!(
        the_model.map(|n| (n.label.as_str(), n.weight)),
        Some(("The Model", Some(1.0))),
        "seeded in alice's playlist"
    );
    assert!(quiet_for(&mut client, QUIET).await);
}

#[tokio::test]
async fn search_answers_with_results() {
    let app = start().await;
    let mut client = alice(&app).await;
    send_json(&mut client, json!({"type": "search", "query": "DAFT"})).await;
    let results: SearchResults = next_typed(&mut client, "search_results").await;
    assert_eq!(results.query, "DAFT");
    let ids: Vec<&str> = results.nodes.iter().map(|n| n.id.as_str()).collect();
    assert_eq!(ids, ["artist:daft-punk"]);

    send_json(
        &mut client,
        json!({"type": "search", "query": "o", "limit": 3}),
    )
    .await;
    let results: SearchResults = next_typed(&mut client, "search_results").await;
    let ids: Vec<&str> = results.nodes.iter().map(|n| n.id.as_str()).collect();
    assert_eq!(
        ids,
        [
            "track:one-more-time",
            "track:the-model",
            "track:around-the-world"
        ],
        "heaviest first"
    );
    send_json(&mut client, json!({"type": "search", "query": "o"})).await;
    let results: SearchResults = next_typed(&mut client, "search_results").await;
    assert_eq!(
        results.nodes.len(),
        7,
        "every match, under the default limit"
    );
    send_json(
        &mut client,
        json!({"type": "search", "query": "zzz", "limit": 100}),
    )
    .await;
    let results: SearchResults = next_typed(&mut client, "search_results").await;
    assert!(results.nodes.is_empty());

    // A moderator may search too.
    let mut moderator = connect_as(app.addr, "/ws/mod", &token("mod", &["moderator"])).await;
    expect_welcome(&mut moderator, "mod", &["graph.read", "graph.search"]).await;
    send_json(&mut moderator, json!({"type": "search", "query": "love"})).await;
    let results: SearchResults = next_typed(&mut moderator, "search_results").await;
    assert_eq!(results.nodes.len(), 1);
}

#[tokio::test]
async fn invalid_messages_get_the_invalid_message_error() {
    let app = start().await;
    let mut client = alice(&app).await;
    let generic = "invalid message";
    let cases = [
        // Refused by the pipeline or the generated types.
        (json!({"type": "subscribe", "channel": "albums"}), generic),
        (json!({"type": "subscribe"}), generic),
        (
            json!({"type": "subscribe", "channel": "graph", "extra": 1}),
            generic,
        ),
        (json!({"type": "search", "query": 5}), generic),
        (
            json!({"type": "search", "query": "x", "limit": "ten"}),
            generic,
        ),
        (
            json!({"type": "add_to_playlist", "playlist_id": ALICE_PLAYLIST}),
            generic,
        ),
        (
            json!({"type": "graph_update", "nodes": [], "edges": []}),
            generic,
        ),
        (
            json!({"type": "welcome", "authenticated": true, "permissions": []}),
            generic,
        ),
        (json!({"type": "delete_graph"}), generic),
        (json!({"channel": "graph"}), generic),
        // Refused by the pipeline, before the handler: the spec's
        // constraints, each just outside its bound.
        (json!({"type": "search", "query": ""}), generic),
        (json!({"type": "search", "query": "é".repeat(201)}), generic),
        (json!({"type": "search", "query": "x", "limit": 0}), generic),
        (
            json!({"type": "search", "query": "x", "limit": 101}),
            generic,
        ),
        (
            json!({"type": "add_to_playlist", "playlist_id": "not-a-uuid", "track_id": "track:the-model"}),
            generic,
        ),
        (
            json!({"type": "add_to_playlist", "playlist_id": format!("{ALICE_PLAYLIST}0"), "track_id": "track:the-model"}),
            generic,
        ),
    ];
    for (message, reason) in cases {
        send_json(&mut client, message.clone()).await;
        let error: songnodes::messages::Error = next_typed(&mut client, "error").await;
        assert_eq!(
            (error.code, error.message.as_str()),
            (ErrorCode::InvalidMessage, reason),
            "{message}"
        );
    }
    send_text(&mut client, "not json").await;
    expect_error(&mut client, ErrorCode::InvalidMessage, generic).await;
    // The connection survived all of it.
    send_json(&mut client, json!({"type": "search", "query": "kraftwerk"})).await;
    let results: SearchResults = next_typed(&mut client, "search_results").await;
    assert_eq!(results.nodes.len(), 1);
    // Just inside every bound: answered, not refused.
    for search in [
        json!({"type": "search", "query": "k", "limit": 1}),
        json!({"type": "search", "query": "é".repeat(200), "limit": 100}),
    ] {
        send_json(&mut client, search.clone()).await;
        let _: SearchResults = next_typed(&mut client, "search_results").await;
    }
}

#[tokio::test]
async fn add_to_playlist_updates_the_playlist_and_every_watcher() {
    let app = start().await;
    let mut alice = alice(&app).await;
    // Watchers: a guest on tracks, bob on the whole graph, a guest on
    // artists (which a track change does not concern), and a guest who
    // subscribed to nothing.
    let mut tracks_guest = connect_anonymous(app.addr).await;
    expect_anonymous_welcome(&mut tracks_guest).await;
    send_json(
        &mut tracks_guest,
        json!({"type": "subscribe", "channel": "tracks"}),
    )
    .await;
    let _: GraphUpdate = next_typed(&mut tracks_guest, "graph_update").await;
    let mut bob = connect_as(app.addr, "/ws/bob", &token("bob", &["user"])).await;
    expect_welcome(&mut bob, "bob", &USER_PERMISSIONS).await;
    send_json(&mut bob, json!({"type": "subscribe", "channel": "graph"})).await;
    let _: GraphUpdate = next_typed(&mut bob, "graph_update").await;
    // Subscribing twice to overlapping channels still sends one update.
    send_json(&mut bob, json!({"type": "subscribe", "channel": "tracks"})).await;
    let _: GraphUpdate = next_typed(&mut bob, "graph_update").await;
    let mut artists_guest = connect_anonymous(app.addr).await;
    expect_anonymous_welcome(&mut artists_guest).await;
    send_json(
        &mut artists_guest,
        json!({"type": "subscribe", "channel": "artists"}),
    )
    .await;
    let _: GraphUpdate = next_typed(&mut artists_guest, "graph_update").await;
    let mut idle_guest = connect_anonymous(app.addr).await;
    expect_anonymous_welcome(&mut idle_guest).await;

    send_json(
        &mut alice,
        json!({"type": "add_to_playlist", "playlist_id": ALICE_PLAYLIST, "track_id": "track:windowlicker"}),
    )
    .await;
    let updated: PlaylistUpdated = next_typed(&mut alice, "playlist_updated").await;
    assert_eq!(
        updated,
        PlaylistUpdated {
            playlist_id: ALICE_PLAYLIST.to_owned(),
            tracks: 2
        }
    );
    for watcher in [&mut tracks_guest, &mut bob] {
        let change = next_json(watcher).await;
        assert_eq!(
            change,
            json!({
                "type": "graph_update",
                "nodes": [{"id": "track:windowlicker", "label": "Windowlicker", "kind": "track", "weight": 1.0}],
                "edges": [],
            })
        );
    }
    for watcher in [&mut alice, &mut bob, &mut artists_guest, &mut idle_guest] {
        assert!(quiet_for(watcher, QUIET).await);
    }

    // Adding it again changes nothing and tells nobody.
    send_json(
        &mut alice,
        json!({"type": "add_to_playlist", "playlist_id": ALICE_PLAYLIST.to_uppercase(), "track_id": "track:windowlicker"}),
    )
    .await;
    let again: PlaylistUpdated = next_typed(&mut alice, "playlist_updated").await;
    assert_eq!(
        (again.playlist_id.as_str(), again.tracks),
        (ALICE_PLAYLIST, 2)
    );
    assert!(quiet_for(&mut tracks_guest, QUIET).await);

    // Bob adding the same track makes it heavier for everyone watching,
    // alice included once she subscribes.
    send_json(
        &mut alice,
        json!({"type": "subscribe", "channel": "tracks"}),
    )
    .await;
    let _: GraphUpdate = next_typed(&mut alice, "graph_update").await;
    send_json(
        &mut bob,
        json!({"type": "add_to_playlist", "playlist_id": BOB_PLAYLIST, "track_id": "track:windowlicker"}),
    )
    .await;
    // Bob's own connection follows tracks: it gets its reply, then the
    // change.
    let kinds = [
        next_json(&mut bob).await["type"].clone(),
        next_json(&mut bob).await["type"].clone(),
    ];
    assert_eq!(kinds, [json!("playlist_updated"), json!("graph_update")]);
    for watcher in [&mut alice, &mut tracks_guest] {
        let change: GraphUpdate = next_typed(watcher, "graph_update").await;
        assert_eq!(change.nodes.first().and_then(|n| n.weight), Some(2.0));
    }
}

#[tokio::test]
async fn playlists_of_others_and_unknown_ids_are_refused() {
    let app = start().await;
    let mut alice = alice(&app).await;
    let add = |playlist: &str, track: &str| json!({"type": "add_to_playlist", "playlist_id": playlist, "track_id": track});
    send_json(&mut alice, add(BOB_PLAYLIST, "track:the-model")).await;
    expect_error(
        &mut alice,
        ErrorCode::Forbidden,
        "the playlist belongs to another user",
    )
    .await;
    send_json(
        &mut alice,
        add("00000000-0000-4000-8000-000000000000", "track:the-model"),
    )
    .await;
    expect_error(&mut alice, ErrorCode::NotFound, "no such playlist").await;
    for track in ["track:nope", "artist:kraftwerk"] {
        send_json(&mut alice, add(ALICE_PLAYLIST, track)).await;
        expect_error(&mut alice, ErrorCode::NotFound, "no such track").await;
    }

    // Without `playlist.write` (a moderator) the pipeline refuses it before
    // any playlist is looked at.
    let mut moderator = connect_as(app.addr, "/ws/mod", &token("mod", &["moderator"])).await;
    expect_welcome(&mut moderator, "mod", &["graph.read", "graph.search"]).await;
    send_json(&mut moderator, add(ALICE_PLAYLIST, "track:windowlicker")).await;
    expect_error(&mut moderator, ErrorCode::Forbidden, "forbidden").await;

    // An admin holds every permission, but the playlist is still alice's.
    let mut admin = connect_as(app.addr, "/ws/admin", &token("admin", &["admin"])).await;
    expect_welcome(&mut admin, "admin", &USER_PERMISSIONS).await;
    send_json(&mut admin, add(ALICE_PLAYLIST, "track:windowlicker")).await;
    expect_error(
        &mut admin,
        ErrorCode::Forbidden,
        "the playlist belongs to another user",
    )
    .await;

    // Nothing changed.
    send_json(
        &mut alice,
        json!({"type": "subscribe", "channel": "tracks"}),
    )
    .await;
    let tracks: GraphUpdate = next_typed(&mut alice, "graph_update").await;
    let windowlicker = tracks.nodes.iter().find(|n| n.id == "track:windowlicker");
    assert_eq!(windowlicker.and_then(|n| n.weight), Some(0.0));
}

/// How many tracks alice adds while watchers subscribe.
const ADDED: usize = 30;

/// Track `n` of those alice adds.
fn added_track(n: usize) -> String {
    format!("track:x{n:02}")
}

/// A watcher on `tracks` that subscribes while alice adds tracks
/// 0..[`ADDED`] in order: its snapshot holds the first `k` added, and the
/// updates after it are tracks `k`, `k + 1`, ... up to the last, none lost,
/// none repeated, none before the snapshot.
async fn watch_while_adding(addr: std::net::SocketAddr, watcher: usize) {
    let mut client = connect_anonymous(addr).await;
    expect_anonymous_welcome(&mut client).await;
    send_json(
        &mut client,
        json!({"type": "subscribe", "channel": "tracks"}),
    )
    .await;
    let snapshot: GraphUpdate = next_typed(&mut client, "graph_update").await;
    let added: Vec<&str> = snapshot
        .nodes
        .iter()
        .filter(|n| n.id.starts_with("track:x") && n.weight == Some(1.0))
        .map(|n| n.id.as_str())
        .collect();
    let expected: Vec<String> = (0..added.len()).map(added_track).collect();
    assert_eq!(added, expected, "watcher {watcher}: the snapshot");
    for n in added.len()..ADDED {
        let change: GraphUpdate = next_typed(&mut client, "graph_update").await;
        let ids: Vec<&str> = change.nodes.iter().map(|n| n.id.as_str()).collect();
        assert_eq!(ids, [added_track(n)], "watcher {watcher}: change {n}");
    }
    assert!(quiet_for(&mut client, QUIET).await, "watcher {watcher}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn watchers_subscribing_during_changes_miss_none_and_see_none_early() {
    let mut store = songnodes::Store::seeded();
    for n in 0..ADDED {
        store = store.node(&added_track(n), &format!("Track {n}"), NodeKind::Track);
    }
    let mut config = songnodes::Config::new(SECRET);
    config.store = store;
    let (router, server) = songnodes::app(config).unwrap_or_else(|e| panic!("{e}"));
    let app = wsauth_example_support::testing::serve_on_loopback(router, server).await;
    let addr = app.addr;
    let watchers: Vec<_> = (0..60)
        .map(|watcher| {
            tokio::spawn(async move {
                tokio::time::sleep(Duration::from_millis(watcher as u64 % 30)).await;
                watch_while_adding(addr, watcher).await;
            })
        })
        .collect();
    let mut alice = alice(&app).await;
    for n in 0..ADDED {
        send_json(
            &mut alice,
            json!({"type": "add_to_playlist", "playlist_id": ALICE_PLAYLIST, "track_id": added_track(n)}),
        )
        .await;
        let _: PlaylistUpdated = next_typed(&mut alice, "playlist_updated").await;
    }
    for watcher in watchers {
        watcher.await.unwrap_or_else(|e| panic!("{e}"));
    }
}
