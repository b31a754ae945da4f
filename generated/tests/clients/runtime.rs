//! The client runtime's edges, against a bare WebSocket server on
//! 127.0.0.1:0 (tokio-tungstenite) rather than an example: what the client
//! puts in the upgrade request, and what it does when its user, its token
//! provider or the server is slow.
//!
//! - a user that does not call `recv` holds the socket unread once
//!   [`Options::event_buffer`] events wait: the server's writes stall
//!   (TCP pushes back) instead of the client buffering without bound, and
//!   nothing is lost once the user reads again;
//! - a token provider that never answers, or a server that never completes
//!   the upgrade, does not block `close()` or `send()`, and dropping the
//!   client ends its task; a provider slower than `connect_timeout` counts
//!   as a network failure (1006, backoff);
//! - a service client prefers the `Authorization` header to the query;
//! - `heartbeat: Some(0)` pings once a second (no flood), `connect_timeout: 0`
//!   is no limit.

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{mpsc, oneshot};
use tokio_tungstenite::WebSocketStream;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::handshake::server::{Request, Response};
use tokio_tungstenite::tungstenite::protocol::CloseFrame;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use wsauth_core::client::{
    ABNORMAL, Client, CloseAction, Closed, Codec, Event, Frame, Options, SendError, Token,
    TopicEvents,
};
use wsauth_example_support::testing::loopback;
use wsauth_generated::echo::endpoints::{echo, raw};
use wsauth_generated::mcp_status::endpoints::status;
use wsauth_generated::prsm::endpoints::web3;

use crate::support::events::{next, opened};

/// What a handler gets: the upgrade request's target and
/// `Authorization` header, and the socket.
struct Accepted {
    uri: String,
    authorization: Option<String>,
    socket: WebSocketStream<TcpStream>,
}

/// Accepts one WebSocket connection on `listener` (any path, no
/// subprotocol).
#[allow(clippy::result_large_err)] // tungstenite's callback returns its `ErrorResponse`
async fn accept(listener: &TcpListener) -> Accepted {
    let (stream, _) = listener.accept().await.unwrap_or_else(|e| panic!("{e}"));
    let (seen_tx, seen_rx) = oneshot::channel();
    let callback = |request: &Request, response: Response| {
        let authorization = request
            .headers()
            .get("authorization")
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        let _ = seen_tx.send((request.uri().to_string(), authorization));
        Ok(response)
    };
    let socket = tokio_tungstenite::accept_hdr_async(stream, callback)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let (uri, authorization) = seen_rx.await.unwrap_or_else(|e| panic!("{e}"));
    Accepted {
        uri,
        authorization,
        socket,
    }
}

/// A server on 127.0.0.1:0 that runs `handler` on its first connection.
async fn serve_one<F, Fut>(handler: F) -> SocketAddr
where
    F: FnOnce(Accepted) -> Fut + Send + 'static,
    Fut: Future<Output = ()> + Send,
{
    let (listener, addr) = loopback().await;
    tokio::spawn(async move { handler(accept(&listener).await).await });
    addr
}

fn ws(addr: SocketAddr) -> String {
    format!("ws://{addr}")
}

/// `f` must finish within `within`.
async fn soon<T>(within: Duration, what: &str, f: impl Future<Output = T>) -> T {
    tokio::time::timeout(within, f)
        .await
        .unwrap_or_else(|_| panic!("{what} took more than {within:?}"))
}

/// The client's last events after `close()`: `Closed(ByClient)`, then
/// nothing.
async fn closed_by_client<C: Codec, T: TopicEvents>(client: &mut Client<C, T>)
where
    C::Receive: std::fmt::Debug,
{
    match soon(Duration::from_secs(1), "closing", client.recv()).await {
        Some(Event::Closed(Closed::ByClient)) => {}
        other => panic!("expected Closed(ByClient), got {other:?}"),
    }
    assert!(
        soon(Duration::from_secs(1), "ending", client.recv())
            .await
            .is_none(),
        "nothing after the last event"
    );
}

/// Frames the flooding server writes, and their size.
const FLOOD_FRAMES: usize = 1024;
const FLOOD_FRAME_BYTES: usize = 64 * 1024;

#[tokio::test]
async fn a_user_that_does_not_read_makes_the_server_wait() {
    let written = Arc::new(AtomicUsize::new(0));
    let (heard_tx, mut heard) = mpsc::unbounded_channel();
    let counter = written.clone();
    let addr = serve_one(move |accepted| async move {
        let (mut sink, mut stream) = accepted.socket.split();
        tokio::spawn(async move {
            while let Some(Ok(message)) = stream.next().await {
                if let Message::Text(text) = message {
                    let _ = heard_tx.send(text.as_str().to_owned());
                }
            }
        });
        for i in 0..FLOOD_FRAMES {
            let mut frame = vec![0u8; FLOOD_FRAME_BYTES];
            frame[..4].copy_from_slice(&u32::try_from(i).unwrap_or(0).to_be_bytes());
            if sink.send(Message::Binary(frame.into())).await.is_err() {
                return;
            }
            counter.fetch_add(1, Ordering::SeqCst);
        }
        let _ = sink
            .send(Message::Close(Some(CloseFrame {
                code: CloseCode::Normal,
                reason: "".into(),
            })))
            .await;
    })
    .await;
    let options = Options {
        event_buffer: 4,
        ..Options::default()
    };
    let mut client = raw::connect(&ws(addr))
        .options(options)
        .start()
        .unwrap_or_else(|e| panic!("{e}"));

    // The server writes until the TCP buffers are full, then waits: the
    // client reads no more than its event buffer holds.
    let mut last = usize::MAX;
    loop {
        tokio::time::sleep(Duration::from_millis(300)).await;
        let now = written.load(Ordering::SeqCst);
        if now == last || now == FLOOD_FRAMES {
            break;
        }
        last = now;
    }
    let stalled_at = written.load(Ordering::SeqCst);
    assert!(
        stalled_at < FLOOD_FRAMES / 2,
        "the server wrote {stalled_at} frames of {FLOOD_FRAME_BYTES} bytes to a client \
         whose user reads nothing: the client buffers them"
    );

    // Meanwhile the client still sends.
    soon(
        Duration::from_secs(2),
        "a send while the events are full",
        client.send(Frame::from("still here")),
    )
    .await
    .unwrap_or_else(|e| panic!("{e}"));
    let heard = soon(
        Duration::from_secs(2),
        "the server hearing it",
        heard.recv(),
    )
    .await;
    assert_eq!(heard.as_deref(), Some("still here"));

    // Reading again lets the server go on; nothing was lost or reordered.
    opened(&mut client, 0).await;
    for i in 0..FLOOD_FRAMES {
        match next(&mut client).await {
            Event::Message(Frame::Binary(bytes)) => {
                assert_eq!(bytes.len(), FLOOD_FRAME_BYTES);
                let index = bytes
                    .get(..4)
                    .and_then(|b| <[u8; 4]>::try_from(b).ok())
                    .map(u32::from_be_bytes);
                assert_eq!(index, u32::try_from(i).ok(), "frame {i}");
            }
            other => panic!("expected frame {i}, got {other:?}"),
        }
    }
    match next(&mut client).await {
        Event::Closed(Closed::ByServer(close)) => assert_eq!(close.code, 1000),
        other => panic!("expected the server's normal close, got {other:?}"),
    }
}

/// A provider that never answers; `dropped` is set when the client drops
/// the pending call.
fn hanging_provider(dropped: Arc<AtomicBool>) -> Token {
    struct OnDrop(Arc<AtomicBool>);
    impl Drop for OnDrop {
        fn drop(&mut self) {
            self.0.store(true, Ordering::SeqCst);
        }
    }
    Token::from_fn(move || {
        let guard = OnDrop(dropped.clone());
        async move {
            let _guard = guard;
            std::future::pending::<Result<String, std::io::Error>>().await
        }
    })
}

fn echo_params() -> echo::Params {
    echo::Params {
        user_id: "alice".to_owned(),
    }
}

/// A send on a client that is not connected fails at once (`NotOpen`), and
/// `close()` ends it.
async fn refuses_a_send_then_closes(client: &mut echo::Client, what: &str) {
    let sent = soon(
        Duration::from_millis(500),
        what,
        client.send(echo::ClientMessage::Echo(
            wsauth_generated::echo::messages::Echo {
                payload: serde_json::json!(1),
            },
        )),
    )
    .await;
    assert!(matches!(sent, Err(SendError::NotOpen)), "{what}: {sent:?}");
    client.close();
    closed_by_client(client).await;
}

#[tokio::test]
async fn a_hanging_provider_blocks_neither_send_nor_close() {
    let (_listener, addr) = loopback().await;
    let mut client = echo::connect(&ws(addr), echo_params(), hanging_provider(Arc::default()))
        .start()
        .unwrap_or_else(|e| panic!("{e}"));
    // Let the driver reach the provider.
    tokio::time::sleep(Duration::from_millis(50)).await;
    refuses_a_send_then_closes(&mut client, "a send while the provider hangs").await;
}

#[tokio::test]
async fn dropping_the_client_abandons_a_hanging_provider() {
    let (_listener, addr) = loopback().await;
    let dropped = Arc::new(AtomicBool::new(false));
    let client = echo::connect(&ws(addr), echo_params(), hanging_provider(dropped.clone()))
        .start()
        .unwrap_or_else(|e| panic!("{e}"));
    tokio::time::sleep(Duration::from_millis(50)).await;
    assert!(!dropped.load(Ordering::SeqCst), "the provider was asked");
    drop(client);
    soon(Duration::from_secs(1), "the driver ending", async {
        while !dropped.load(Ordering::SeqCst) {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    })
    .await;
}

#[tokio::test]
async fn a_provider_slower_than_the_connect_timeout_is_a_network_failure() {
    let (_listener, addr) = loopback().await;
    let options = Options {
        connect_timeout: Duration::from_millis(100),
        ..Options::default()
    };
    let mut client = echo::connect(&ws(addr), echo_params(), hanging_provider(Arc::default()))
        .options(options)
        .start()
        .unwrap_or_else(|e| panic!("{e}"));
    match soon(Duration::from_secs(2), "the timeout", client.recv()).await {
        Some(Event::Reconnecting { close, .. }) => {
            assert_eq!((close.code, close.action), (ABNORMAL, CloseAction::Backoff));
        }
        other => panic!("expected a reconnection, got {other:?}"),
    }
    client.close();
    closed_by_client(&mut client).await;
}

#[tokio::test]
async fn an_upgrade_that_never_completes_blocks_neither_send_nor_close() {
    // The server takes the TCP connection and never answers the upgrade.
    let (listener, addr) = loopback().await;
    let holder = tokio::spawn(async move {
        let (stream, _) = listener.accept().await.unwrap_or_else(|e| panic!("{e}"));
        std::future::pending::<()>().await;
        drop(stream);
    });
    let mut client = echo::connect(&ws(addr), echo_params(), "a token")
        .start()
        .unwrap_or_else(|e| panic!("{e}"));
    tokio::time::sleep(Duration::from_millis(100)).await;
    refuses_a_send_then_closes(&mut client, "a send during the upgrade").await;
    holder.abort();
}

#[tokio::test]
async fn a_service_client_sends_its_token_in_the_header_not_the_query() {
    let (seen_tx, seen_rx) = oneshot::channel();
    let addr = serve_one(move |accepted| async move {
        let _ = seen_tx.send((accepted.uri, accepted.authorization));
        let mut socket = accepted.socket;
        while let Some(Ok(_)) = socket.next().await {}
    })
    .await;
    // prsm's web3 takes `[header, query]`.
    let client = web3::connect(
        &ws(addr),
        web3::Params {
            user_id: "alice".to_owned(),
        },
        "the.token",
    )
    .start()
    .unwrap_or_else(|e| panic!("{e}"));
    let (uri, authorization) = soon(Duration::from_secs(5), "the upgrade", seen_rx)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(uri, "/api/v1/web3/ws/alice");
    assert_eq!(authorization.as_deref(), Some("Bearer the.token"));
    client.close();

    // mcp-status takes `[header, {query: token}]`.
    let (seen_tx, seen_rx) = oneshot::channel();
    let addr = serve_one(move |accepted| async move {
        let _ = seen_tx.send((accepted.uri, accepted.authorization));
    })
    .await;
    let client = status::connect(&ws(addr), "the.token")
        .start()
        .unwrap_or_else(|e| panic!("{e}"));
    let (uri, authorization) = soon(Duration::from_secs(5), "the upgrade", seen_rx)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(uri, "/ws/mcp-status");
    assert_eq!(authorization.as_deref(), Some("Bearer the.token"));
    client.close();
}

#[tokio::test]
async fn a_zero_heartbeat_pings_once_a_second() {
    let (heard_tx, mut heard) = mpsc::unbounded_channel();
    let addr = serve_one(move |accepted| async move {
        let mut socket = accepted.socket;
        while let Some(Ok(message)) = socket.next().await {
            if let Message::Text(text) = message {
                let _ = heard_tx.send(text.as_str().to_owned());
            }
        }
    })
    .await;
    let options = Options {
        heartbeat: Some(Duration::ZERO),
        ..Options::default()
    };
    let mut client = status::connect(&ws(addr), "the.token")
        .options(options)
        .start()
        .unwrap_or_else(|e| panic!("{e}"));
    opened(&mut client, 0).await;
    let quiet = tokio::time::timeout(Duration::from_millis(700), heard.recv()).await;
    assert!(
        quiet.is_err(),
        "no flood of pings: the server heard {quiet:?}"
    );
    let ping = tokio::time::timeout(Duration::from_secs(3), heard.recv()).await;
    assert!(
        matches!(ping, Ok(Some(ref p)) if p == "ping"),
        "a ping after a second: {ping:?}"
    );
    // The client is alive (a panicking driver would have ended it).
    client.close();
    closed_by_client(&mut client).await;
}

#[tokio::test]
async fn a_zero_connect_timeout_is_no_limit() {
    // The server answers the upgrade after 300 ms.
    let (listener, addr) = loopback().await;
    tokio::spawn(async move {
        let (stream, _) = listener.accept().await.unwrap_or_else(|e| panic!("{e}"));
        tokio::time::sleep(Duration::from_millis(300)).await;
        let mut socket = tokio_tungstenite::accept_async(stream)
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        while let Some(Ok(_)) = socket.next().await {}
    });
    let options = Options {
        connect_timeout: Duration::ZERO,
        ..Options::default()
    };
    let mut client = raw::connect(&ws(addr))
        .options(options)
        .start()
        .unwrap_or_else(|e| panic!("{e}"));
    match next(&mut client).await {
        Event::Open { attempt: 0 } => {}
        other => panic!("expected the socket to open, got {other:?}"),
    }
    client.close();
    closed_by_client(&mut client).await;
}

/// `Options::event_buffer` of 0 is taken as 1 (a channel needs room for
/// one event); the client still works.
#[tokio::test]
async fn an_event_buffer_of_zero_holds_one_event() {
    let addr = serve_one(|accepted| async move {
        let mut socket = accepted.socket;
        let _ = socket.send(Message::text("one")).await;
        let _ = socket.send(Message::text("two")).await;
        while let Some(Ok(_)) = socket.next().await {}
    })
    .await;
    let options = Options {
        event_buffer: 0,
        ..Options::default()
    };
    let mut client = raw::connect(&ws(addr))
        .options(options)
        .start()
        .unwrap_or_else(|e| panic!("{e}"));
    opened(&mut client, 0).await;
    for text in ["one", "two"] {
        match next(&mut client).await {
            Event::Message(frame) => assert_eq!(frame, Frame::from(text)),
            other => panic!("expected {text}, got {other:?}"),
        }
    }
    client.close();
    closed_by_client(&mut client).await;
}
