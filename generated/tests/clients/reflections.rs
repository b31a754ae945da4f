//! The generated Rust client of reflections against the running reflections
//! example: the whole stream ends as a normal close (1000 with `stop` is
//! `Closed`, not an error), each refusal code stops (or refreshes once) with
//! the spec's failure kinds, and `server_error`, whether at the handshake or
//! mid-stream, backs off and reconnects.

use std::time::Duration;

use wsauth_core::client::{ClientError, CloseAction, Closed, Event, Frame, Token};
use wsauth_core::spec::{ClientAction, FailureKind};
use wsauth_generated::reflections::CloseCode;
use wsauth_generated::reflections::endpoints::reflection;

use crate::support::events::{all_events, next, refreshed_once_then_stopped, stopped_at_once};
use crate::support::examples::{UNAVAILABLE_ENTRY, seeded_tokens, start_reflections};
use crate::support::tokens::REFLECTIONS;

/// Fast reconnection for tests.
const BASE: Duration = Duration::from_millis(20);
const CAP: Duration = Duration::from_millis(100);

/// An HS256 token for `sub` (role `user`), expiring in `ttl` s.
fn token_for(sub: &str, ttl: i64) -> String {
    REFLECTIONS.token(sub, &["user"], ttl)
}

fn entry(entry_id: i64) -> reflection::Params {
    reflection::Params { entry_id }
}

/// The reflection's tokens in `events`: the endpoint's frames are raw, one
/// text frame a token.
fn tokens<'a>(events: impl IntoIterator<Item = &'a reflection::Event>) -> Vec<String> {
    let mut tokens = Vec::new();
    for event in events {
        match event {
            Event::Message(Frame::Text(token)) => tokens.push(token.clone()),
            Event::Message(Frame::Binary(b)) => panic!("a binary frame: {b:?}"),
            _ => {}
        }
    }
    tokens
}

#[tokio::test]
async fn the_whole_reflection_then_a_normal_close() {
    let app = start_reflections().await;
    let mut client = reflection::connect(&app.ws_url(), entry(1), token_for("alice", 600))
        .start()
        .unwrap_or_else(|e| panic!("{e}"));
    let events = all_events(&mut client).await;
    assert!(matches!(events.first(), Some(Event::Open { attempt: 0 })));
    assert_eq!(tokens(&events), seeded_tokens(1));
    match events.last() {
        Some(Event::Closed(Closed::ByServer(close))) => {
            assert_eq!(
                (close.code, close.reason.as_str(), close.action),
                (1000, "done", CloseAction::Closed)
            );
            assert_eq!(close.kind_words(), ["completed"]);
        }
        other => panic!("expected the server's normal close, got {other:?}"),
    }
    // No reconnection: one Open, the tokens, the close.
    assert_eq!(events.len(), seeded_tokens(1).len() + 2, "{events:?}");
    assert_eq!(
        CloseCode::from_code(1000).map(|c| (c.action(), c.reason())),
        Some((ClientAction::Stop, "done"))
    );
}

#[tokio::test]
async fn refusals_stop_with_the_spec_kinds() {
    let app = start_reflections().await;
    let cases = [
        ("someone else's entry", "bob", 1, 4003, "forbidden"),
        ("no such entry", "alice", 99, 4004, "entry not found"),
        ("inactive user", "mallory", 1, 4002, "user inactive"),
        ("unknown user", "carol", 1, 4002, "user inactive"),
    ];
    for (case, user, id, code, reason) in cases {
        let mut client = reflection::connect(&app.ws_url(), entry(id), token_for(user, 600))
            .backoff(BASE, CAP)
            .start()
            .unwrap_or_else(|e| panic!("{e}"));
        let close = stopped_at_once(&mut client).await;
        assert_eq!(
            (close.code, close.reason.as_str(), close.action),
            (code, reason, CloseAction::Stop),
            "{case}"
        );
        let kinds = CloseCode::from_code(code)
            .map(CloseCode::kinds)
            .unwrap_or_else(|| panic!("{code} is in the catalogue"));
        assert_eq!(close.kinds, kinds, "{case}");
    }
    assert_eq!(app.server.stats().active_connections, 0);
}

#[tokio::test]
async fn missing_or_bad_tokens_close_4001_and_refresh_once() {
    let app = start_reflections().await;
    let mut client = reflection::connect(&app.ws_url(), entry(1), Token::none())
        .start()
        .unwrap_or_else(|e| panic!("{e}"));
    let close = stopped_at_once(&mut client).await;
    assert_eq!(
        (close.code, close.reason.as_str(), close.action),
        (4001, "authentication required", CloseAction::RefreshToken)
    );
    assert_eq!(
        close.kind_words(),
        ["auth_required", "auth_failed", "token_expired"]
    );
    for (case, token) in [
        ("invalid", "not-a-jwt".to_owned()),
        ("expired", token_for("alice", -60)),
    ] {
        let mut client = reflection::connect(&app.ws_url(), entry(1), token)
            .start()
            .unwrap_or_else(|e| panic!("{e}"));
        let (first, last) = refreshed_once_then_stopped(&mut client).await;
        assert_eq!(first.code, 4001, "{case}");
        assert_eq!(
            (last.code, last.reason.as_str()),
            (4001, "invalid or expired token"),
            "{case}"
        );
    }
}

#[tokio::test]
async fn a_failing_generation_backs_off_and_streams_again() {
    let app = start_reflections().await;
    let mut client = reflection::connect(
        &app.ws_url(),
        entry(reflections::store::FAILING_ENTRY),
        token_for("alice", 600),
    )
    .backoff(BASE, CAP)
    .max_reconnects(2)
    .start()
    .unwrap_or_else(|e| panic!("{e}"));
    // Each attempt: Open, the tokens produced before the failure, then 1011
    // (`backoff`). Every attempt was admitted (it received messages), but
    // none stayed open long enough to count as stable, so the backoff grows
    // and the client gives up after two reconnections instead of retrying
    // at the base delay forever.
    let partial =
        &seeded_tokens(reflections::store::FAILING_ENTRY)[..reflections::store::FAILING_AFTER];
    let mut attempt = 0;
    let last = loop {
        let mut seen = Vec::new();
        let end = loop {
            match next(&mut client).await {
                event @ (Event::Reconnecting { .. } | Event::Failed(_)) => break event,
                other => seen.push(other),
            }
        };
        assert!(
            matches!(seen.first(), Some(Event::Open { attempt: a }) if *a == attempt),
            "{seen:?}"
        );
        assert_eq!(tokens(&seen), partial, "{seen:?}");
        assert_eq!(seen.len(), partial.len() + 1, "{seen:?}");
        let Event::Reconnecting { close, delay } = end else {
            break end;
        };
        assert_eq!(
            (close.code, close.reason.as_str(), close.action),
            (1011, "server error", CloseAction::Backoff)
        );
        assert_eq!(close.kinds, [FailureKind::ServerError]);
        assert!(delay <= (BASE * 2u32.pow(attempt)).min(CAP), "{delay:?}");
        attempt += 1;
    };
    assert_eq!(attempt, 2, "two reconnections before giving up");
    match last {
        Event::Failed(ClientError::GaveUp { attempts: 2, last }) => {
            assert_eq!(last.code, 1011);
        }
        other => panic!("expected GaveUp after 2 reconnections, got {other:?}"),
    }
}

#[tokio::test]
async fn a_failing_store_backs_off_with_nothing_received() {
    let app = start_reflections().await;
    let mut client = reflection::connect(
        &app.ws_url(),
        entry(UNAVAILABLE_ENTRY),
        token_for("alice", 600),
    )
    .backoff(BASE, CAP)
    .max_reconnects(2)
    .start()
    .unwrap_or_else(|e| panic!("{e}"));
    let events = all_events(&mut client).await;
    assert!(tokens(&events).is_empty(), "{events:?}");
    let reconnects = events
        .iter()
        .filter(|e| matches!(e, Event::Reconnecting { close, .. } if close.code == 1011))
        .count();
    assert_eq!(reconnects, 2, "{events:?}");
    match events.last() {
        Some(Event::Failed(ClientError::GaveUp { attempts, last })) => {
            assert_eq!(
                (*attempts, last.code, last.action),
                (2, 1011, CloseAction::Backoff)
            );
        }
        other => panic!("expected to give up, got {other:?}"),
    }
}
