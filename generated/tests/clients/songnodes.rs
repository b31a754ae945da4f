//! The generated Rust client of songnodes against the running songnodes
//! example: the welcome on both endpoints, every message type, the
//! anonymous endpoint's refusal, and the close codes a client of
//! `/ws/{user_id}` can meet, with the action the client takes for each.

use std::sync::atomic::Ordering;
use std::time::Duration;

use wsauth_core::client::{CloseAction, ServerClose, Token};
use wsauth_core::spec::{ClientAction, FailureKind};
use wsauth_generated::songnodes::endpoints::{anonymous, user};
use wsauth_generated::songnodes::{CloseCode, messages};

use crate::support::events::{close, message, opened, provider, reconnecting, stopped_at_once};
use crate::support::examples::{EMAIL_LIKE_USERS, start_songnodes};
use crate::support::tokens::SONGNODES;

const BASE: Duration = Duration::from_millis(50);
const CAP: Duration = Duration::from_millis(200);
const USER_PERMISSIONS: [&str; 3] = ["graph.read", "graph.search", "playlist.write"];

/// An HS256 token for `sub` with `roles`, expiring in `ttl` s.
fn token_for(sub: &str, roles: &[&str], ttl: i64) -> String {
    SONGNODES.token(sub, roles, ttl)
}

fn params(user_id: &str) -> user::Params {
    user::Params {
        user_id: user_id.to_owned(),
    }
}

/// `Open { attempt }`, then the welcome.
async fn welcomed(client: &mut user::Client, attempt: u32) -> messages::Welcome {
    opened(client, attempt).await;
    match message(client).await {
        user::ServerMessage::Welcome(w) => w,
        other => panic!("expected the welcome, got {other:?}"),
    }
}

fn permissions(list: &[&str]) -> Vec<String> {
    list.iter().map(|p| (*p).to_owned()).collect()
}

#[tokio::test]
async fn users_and_guests_exchange_every_message() {
    let app = start_songnodes().await;
    let url = app.ws_url();
    let mut alice = user::connect(&url, params("alice"), token_for("alice", &["user"], 600))
        .start()
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(
        welcomed(&mut alice, 0).await,
        messages::Welcome {
            authenticated: true,
            user_id: Some("alice".to_owned()),
            permissions: permissions(&USER_PERMISSIONS),
        }
    );

    let mut guest = anonymous::connect(&url)
        .start()
        .unwrap_or_else(|e| panic!("{e}"));
    opened(&mut guest, 0).await;
    assert_eq!(
        message(&mut guest).await,
        anonymous::ServerMessage::Welcome(messages::Welcome {
            authenticated: false,
            user_id: None,
            permissions: permissions(&["graph.read"]),
        })
    );
    let tracks = messages::Subscribe {
        channel: messages::SubscribeChannel::Tracks,
    };
    guest.send(tracks).await.unwrap_or_else(|e| panic!("{e}"));
    match message(&mut guest).await {
        anonymous::ServerMessage::GraphUpdate(g) => assert_eq!(g.nodes.len(), 5),
        other => panic!("expected graph_update, got {other:?}"),
    }
    // A guest may send `search` but lacks `graph.search`.
    let search = messages::Search {
        query: "daft".to_owned(),
        limit: None,
    };
    guest.send(search).await.unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(
        message(&mut guest).await,
        anonymous::ServerMessage::Error(messages::Error {
            code: messages::ErrorCode::Forbidden,
            message: "forbidden".to_owned(),
        })
    );

    let graph = messages::Subscribe {
        channel: messages::SubscribeChannel::Graph,
    };
    alice.send(graph).await.unwrap_or_else(|e| panic!("{e}"));
    match message(&mut alice).await {
        user::ServerMessage::GraphUpdate(g) => assert_eq!((g.nodes.len(), g.edges.len()), (10, 12)),
        other => panic!("expected graph_update, got {other:?}"),
    }
    let search = messages::Search {
        query: "kraft".to_owned(),
        limit: Some(5),
    };
    alice.send(search).await.unwrap_or_else(|e| panic!("{e}"));
    match message(&mut alice).await {
        user::ServerMessage::SearchResults(r) => {
            assert_eq!(r.query, "kraft");
            assert_eq!(
                r.nodes.first().map(|n| n.id.as_str()),
                Some("artist:kraftwerk")
            );
        }
        other => panic!("expected search_results, got {other:?}"),
    }
    let add = messages::AddToPlaylist {
        playlist_id: songnodes::store::ALICE_PLAYLIST.to_owned(),
        track_id: "track:computer-love".to_owned(),
    };
    alice.send(add).await.unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(
        message(&mut alice).await,
        user::ServerMessage::PlaylistUpdated(messages::PlaylistUpdated {
            playlist_id: songnodes::store::ALICE_PLAYLIST.to_owned(),
            tracks: 2,
        })
    );
    // Alice follows the whole graph, the guest its tracks: both see the
    // track's new weight.
    match message(&mut alice).await {
        user::ServerMessage::GraphUpdate(g) => {
            assert_eq!(g.nodes.first().and_then(|n| n.weight), Some(1.0));
        }
        other => panic!("expected graph_update, got {other:?}"),
    }
    match message(&mut guest).await {
        anonymous::ServerMessage::GraphUpdate(g) => {
            assert_eq!(
                g.nodes.first().map(|n| n.id.as_str()),
                Some("track:computer-love")
            );
        }
        other => panic!("expected graph_update, got {other:?}"),
    }
    let foreign = messages::AddToPlaylist {
        playlist_id: songnodes::store::BOB_PLAYLIST.to_owned(),
        track_id: "track:computer-love".to_owned(),
    };
    alice.send(foreign).await.unwrap_or_else(|e| panic!("{e}"));
    match message(&mut alice).await {
        user::ServerMessage::Error(e) => assert_eq!(e.code, messages::ErrorCode::Forbidden),
        other => panic!("expected error, got {other:?}"),
    }
    close(alice).await;
    close(guest).await;
}

/// A client of `user_id` with `token` that must stop on its first
/// connection, and the close it stopped on.
/// Subjects with `@`, `:` and `+` (and the other characters a path segment
/// holds as they are) bind to `/ws/{user_id}`: the client sends them
/// unencoded, the one spelling the server compares with the subject.
#[tokio::test]
async fn email_like_subjects_bind_to_the_path() {
    let app = start_songnodes().await;
    let url = app.ws_url();
    for subject in EMAIL_LIKE_USERS {
        let token = token_for(subject, &["user"], 600);
        let mut client = user::connect(&url, params(subject), token)
            .start()
            .unwrap_or_else(|e| panic!("{e}"));
        let welcome = welcomed(&mut client, 0).await;
        assert_eq!(welcome.user_id.as_deref(), Some(subject));
        assert!(welcome.authenticated, "{subject}");
        client.close();
    }
}

async fn stops_with(url: &str, user_id: &str, token: Token) -> ServerClose {
    let mut client = user::connect(url, params(user_id), token)
        .backoff(BASE, CAP)
        .start()
        .unwrap_or_else(|e| panic!("{e}"));
    stopped_at_once(&mut client).await
}

#[tokio::test]
async fn refusals_stop_with_the_spec_close() {
    let app = start_songnodes().await;
    let url = app.ws_url();
    let cases = [
        (
            "alice",
            "bob",
            &["user"][..],
            1008,
            "Unauthorized: User ID mismatch",
            FailureKind::SubjectMismatch,
        ),
        (
            "alice",
            "%61lice",
            &["user"],
            1008,
            "Unauthorized: User ID mismatch",
            FailureKind::SubjectMismatch,
        ),
        (
            "42",
            "042",
            &["user"],
            1008,
            "Unauthorized: User ID mismatch",
            FailureKind::SubjectMismatch,
        ),
        (
            "mallory",
            "mallory",
            &["user"],
            1008,
            "Authentication failed",
            FailureKind::UserInactive,
        ),
        (
            "alice",
            "alice",
            &[],
            4003,
            "forbidden",
            FailureKind::Forbidden,
        ),
    ];
    for (subject, path_user, roles, code, reason, kind) in cases {
        let token = token_for(subject, roles, 600);
        let close = stops_with(&url, path_user, token.into()).await;
        assert_eq!(
            (close.code, close.reason.as_str(), close.action),
            (code, reason, CloseAction::Stop),
            "{subject} on {path_user}"
        );
        assert!(close.kinds.contains(&kind), "{:?}", close.kinds);
    }
    assert_eq!(
        CloseCode::from_code(1008).map(|c| (c.action(), c.kinds())),
        Some((
            ClientAction::Stop,
            &[
                FailureKind::AuthRequired,
                FailureKind::AuthFailed,
                FailureKind::UserInactive,
                FailureKind::SubjectMismatch
            ][..]
        ))
    );
    // No token, and a bad one: 1008, which SongNodes' document gives every
    // token failure, means stop; the token is not refreshed.
    let close = stops_with(&url, "alice", Token::none()).await;
    assert_eq!(
        (close.code, close.reason.as_str(), close.action),
        (1008, "Authentication required", CloseAction::Stop)
    );
    let (token, calls) = provider(vec![
        "not-a-jwt".to_owned(),
        token_for("alice", &["user"], 600),
    ]);
    let close = stops_with(&url, "alice", token).await;
    assert_eq!(
        (close.code, close.reason.as_str(), close.action),
        (1008, "Authentication failed", CloseAction::Stop)
    );
    assert_eq!(calls.load(Ordering::SeqCst), 1);
}

#[tokio::test]
async fn expiring_tokens_refresh_and_reconnect() {
    let app = start_songnodes().await;
    let url = app.ws_url();
    // The spec closes at `exp` (no in-band refresh): the client gets a
    // fresh token and reconnects.
    let (token, calls) = provider(vec![
        token_for("alice", &["user"], 2),
        token_for("alice", &["user"], 600),
    ]);
    let mut client = user::connect(&url, params("alice"), token)
        .start()
        .unwrap_or_else(|e| panic!("{e}"));
    assert!(welcomed(&mut client, 0).await.authenticated);
    let (expired, delay) = reconnecting(&mut client).await;
    assert_eq!(
        (expired.code, expired.reason.as_str(), expired.action, delay),
        (
            4001,
            "token expired",
            CloseAction::RefreshToken,
            Duration::ZERO
        )
    );
    assert!(expired.kinds.contains(&FailureKind::TokenExpired));
    assert!(welcomed(&mut client, 1).await.authenticated);
    assert_eq!(calls.load(Ordering::SeqCst), 2);
    close(client).await;
}
