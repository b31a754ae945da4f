//! Waiting for a generated Rust client's events (each within
//! [`WAIT`], so a hung scenario fails instead of hanging), and the event
//! sequences every client test checks: admitted, stopped at once,
//! refreshed once and stopped, closed by the user.

use std::fmt::Debug;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use wsauth_core::client::{
    Client, ClientError, Closed, Codec, Event, ServerClose, Token, TopicEvents,
};

/// How long any one event may take.
pub const WAIT: Duration = Duration::from_secs(10);

/// The next event.
pub async fn next<C: Codec, T: TopicEvents>(client: &mut Client<C, T>) -> Event<C::Receive, T> {
    tokio::time::timeout(WAIT, client.recv())
        .await
        .unwrap_or_else(|_| panic!("no event within {WAIT:?}"))
        .unwrap_or_else(|| panic!("the client ended"))
}

/// The next event, which must be a message.
pub async fn message<C: Codec, T: TopicEvents>(client: &mut Client<C, T>) -> C::Receive
where
    C::Receive: Debug,
{
    match next(client).await {
        Event::Message(m) => m,
        other => panic!("expected a message, got {other:?}"),
    }
}

/// The next event, which must be the socket opening on `attempt`.
pub async fn opened<C: Codec, T: TopicEvents>(client: &mut Client<C, T>, attempt: u32)
where
    C::Receive: Debug,
{
    match next(client).await {
        Event::Open { attempt: a } => assert_eq!(a, attempt, "the attempt that opened"),
        other => panic!("expected the socket to open, got {other:?}"),
    }
}

/// The next event, which must be a reconnection: its close and delay.
pub async fn reconnecting<C: Codec, T: TopicEvents>(
    client: &mut Client<C, T>,
) -> (ServerClose, Duration)
where
    C::Receive: Debug,
{
    match next(client).await {
        Event::Reconnecting { close, delay } => (close, delay),
        other => panic!("expected a reconnection, got {other:?}"),
    }
}

/// Every event up to and including the last one (`Closed` or `Failed`),
/// after checking that the client yields nothing more.
pub async fn all_events<C: Codec, T: TopicEvents>(
    client: &mut Client<C, T>,
) -> Vec<Event<C::Receive, T>> {
    let mut events = Vec::new();
    loop {
        let event = next(client).await;
        let last = matches!(event, Event::Closed(_) | Event::Failed(_));
        events.push(event);
        if last {
            assert!(
                client.recv().await.is_none(),
                "nothing after the last event"
            );
            return events;
        }
    }
}

/// Skips to the client's last event, which must be a failure; the events
/// before it.
pub async fn failure<C: Codec, T: TopicEvents>(
    client: &mut Client<C, T>,
) -> (ClientError, Vec<Event<C::Receive, T>>) {
    let mut seen = Vec::new();
    loop {
        match next(client).await {
            Event::Failed(e) => return (e, seen),
            other => seen.push(other),
        }
    }
}

/// The server's close inside `error`, which must be a stop on a close.
pub fn expect_close(error: &ClientError) -> &ServerClose {
    match error {
        ClientError::Closed(close) => close,
        other => panic!("expected a close, got {other:?}"),
    }
}

/// A client that must stop on its first connection: it opens once, fails
/// with the server's close (no reconnection, not even a token refresh), and
/// yields nothing more. The close it stopped on.
pub async fn stopped_at_once<C: Codec, T: TopicEvents>(client: &mut Client<C, T>) -> ServerClose
where
    C::Receive: Debug,
{
    match all_events(client).await.as_slice() {
        [
            Event::Open { attempt: 0 },
            Event::Failed(ClientError::Closed(close)),
        ] => close.clone(),
        other => panic!("expected one connection and a stop, got {other:?}"),
    }
}

/// A client whose token the server refuses twice: it opens, is closed with
/// a `refresh_token` code, reconnects at once with a token from the
/// provider, is closed the same way again and stops there (no loop). The
/// first close and the last.
pub async fn refreshed_once_then_stopped<C: Codec, T: TopicEvents>(
    client: &mut Client<C, T>,
) -> (ServerClose, ServerClose)
where
    C::Receive: Debug,
{
    match all_events(client).await.as_slice() {
        [
            Event::Open { attempt: 0 },
            Event::Reconnecting { close, delay },
            Event::Open { attempt: 1 },
            Event::Failed(ClientError::Closed(last)),
        ] => {
            assert_eq!(*delay, Duration::ZERO, "a refresh reconnects at once");
            (close.clone(), last.clone())
        }
        other => panic!("expected one refresh, then a stop: {other:?}"),
    }
}

/// Closes the client and expects the normal end (messages and topic
/// events still in flight are skipped), after which the client yields
/// nothing.
pub async fn close<C: Codec, T: TopicEvents>(mut client: Client<C, T>)
where
    C::Receive: Debug,
{
    client.close();
    loop {
        match next(&mut client).await {
            Event::Closed(Closed::ByClient) => break,
            Event::Message(_) | Event::Topic(_) => {}
            other => panic!("expected the client's close, got {other:?}"),
        }
    }
    assert!(
        client.recv().await.is_none(),
        "nothing after the last event"
    );
}

/// A provider that hands out `tokens` in order (the last one forever) and
/// counts its calls.
pub fn provider(tokens: Vec<String>) -> (Token, Arc<AtomicUsize>) {
    let calls = Arc::new(AtomicUsize::new(0));
    let counter = calls.clone();
    let tokens = Arc::new(tokens);
    let token = Token::from_fn(move || {
        let n = counter.fetch_add(1, Ordering::SeqCst);
        let tokens = tokens.clone();
        async move {
            tokens
                .get(n.min(tokens.len().saturating_sub(1)))
                .cloned()
                .ok_or_else(|| std::io::Error::other("no tokens"))
        }
    });
    (token, calls)
}
