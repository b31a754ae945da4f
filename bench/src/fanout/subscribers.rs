//! The fan-out load: subscribers as real WebSocket clients over loopback,
//! the same tokio-tungstenite client for both servers so the load side
//! costs the same. Socket.IO subscribers speak the engine.io v4 protocol
//! over a raw WebSocket (what `socket.io-client` with
//! `transports: ["websocket"]` sends, without its event-emitter layers), so
//! one load core can keep up with either server.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use futures_util::{SinkExt, StreamExt};
use tokio::sync::watch;
use tokio_tungstenite::tungstenite::Message;
use wsauth_core::spec::wire;

use super::{Side, now_us};
use crate::load::{Client, client_config, next_text};

/// engine.io v4: the server's `open` packet, its ping, the client's pong,
/// socket.io's `CONNECT` to the main namespace, and the event the
/// benchmark's server emits once the socket joined the room.
const EIO_OPEN: &str = "0";
const EIO_PING: &str = "2";
const EIO_PONG: &str = "3";
const SIO_CONNECT: &str = "40";
const SIO_JOINED: &str = r#"42["joined"]"#;

/// Connects one subscriber and waits until it is subscribed.
pub(crate) async fn open(side: Side, addr: SocketAddr, token: &str) -> Result<Client, String> {
    let url = match side {
        Side::Wsauth => format!("ws://{addr}/ws/feed?token={token}"),
        Side::SocketIo => format!("ws://{addr}/socket.io/?EIO=4&transport=websocket"),
    };
    let (mut client, _) =
        tokio_tungstenite::connect_async_with_config(url.as_str(), Some(client_config()), true)
            .await
            .map_err(|e| format!("connect: {e}"))?;
    let send = |text: String| Message::text(text);
    match side {
        Side::Wsauth => {
            let subscribe = serde_json::json!({
                "type": wire::SUBSCRIBE, "id": 1, "topic": "feed", "params": {}
            });
            client
                .send(send(subscribe.to_string()))
                .await
                .map_err(|e| format!("send: {e}"))?;
            let answer = next_text(&mut client).await?;
            if !answer.contains(wire::SUBSCRIBED) {
                return Err(format!("subscribe answered {answer}"));
            }
        }
        Side::SocketIo => {
            let open = next_text(&mut client).await?;
            if !open.starts_with(EIO_OPEN) {
                return Err(format!("unexpected engine.io open {open}"));
            }
            client
                .send(send(SIO_CONNECT.to_owned()))
                .await
                .map_err(|e| format!("send: {e}"))?;
            loop {
                let packet = next_text(&mut client).await?;
                if packet == SIO_JOINED {
                    break;
                }
                if !packet.starts_with(SIO_CONNECT) {
                    return Err(format!("unexpected socket.io packet {packet}"));
                }
            }
        }
    }
    Ok(client)
}

/// What one subscriber received while the window was open.
#[derive(Debug, Default)]
pub(crate) struct Received {
    /// Publish-to-receive latency of each delivery in the window, µs.
    pub(crate) latencies_us: Vec<u32>,
    /// Length of a delivered frame (the publication with its envelope).
    pub(crate) frame_bytes: usize,
    /// Why the connection ended before the benchmark stopped it.
    pub(crate) error: Option<String>,
}

/// The send time a publication carries (`"sent_us":N`), read without
/// parsing the rest: the same work for both servers' frames.
fn sent_us(text: &str) -> Option<i64> {
    const FIELD: &str = "\"sent_us\":";
    let start = text.find(FIELD)? + FIELD.len();
    let digits = &text[start..];
    let end = digits
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(digits.len());
    digits[..end].parse().ok()
}

/// Reads publications until `stop`, timing those that arrive while
/// `recording` is set.
pub(crate) async fn read(
    mut client: Client,
    side: Side,
    recording: Arc<AtomicBool>,
    mut stop: watch::Receiver<bool>,
) -> Received {
    let mut received = Received::default();
    loop {
        let frame = tokio::select! {
            _ = stop.changed() => break,
            frame = client.next() => frame,
        };
        let text = match frame {
            Some(Ok(Message::Text(text))) => text,
            Some(Ok(Message::Ping(_) | Message::Pong(_) | Message::Binary(_))) => continue,
            Some(Ok(Message::Close(frame))) => {
                received.error = Some(format!("closed by the server: {frame:?}"));
                break;
            }
            Some(Ok(Message::Frame(_))) => continue,
            Some(Err(e)) => {
                received.error = Some(format!("read: {e}"));
                break;
            }
            None => {
                received.error = Some("connection ended".to_owned());
                break;
            }
        };
        if side == Side::SocketIo && text.as_str() == EIO_PING {
            if let Err(e) = client.send(Message::text(EIO_PONG)).await {
                received.error = Some(format!("pong: {e}"));
                break;
            }
            continue;
        }
        let Some(sent) = sent_us(text.as_str()) else {
            continue;
        };
        if recording.load(Ordering::Relaxed) {
            let latency = (now_us() - sent).max(0);
            received
                .latencies_us
                .push(u32::try_from(latency).unwrap_or(u32::MAX));
            received.frame_bytes = text.len();
        }
    }
    let _ = client.close(None).await;
    received
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_send_time_of_both_frames() {
        let wsauth = r#"{"type":"wsauth.publication","topic":"feed","params":{},"offset":3,"message":{"type":"tick","sent_us":1765000000123456,"data":"xx"}}"#;
        let socket_io = r#"42["tick",{"sent_us":1765000000123456,"data":"xx"}]"#;
        assert_eq!(sent_us(wsauth), Some(1_765_000_000_123_456));
        assert_eq!(sent_us(socket_io), Some(1_765_000_000_123_456));
        assert_eq!(sent_us(r#"42["joined"]"#), None);
    }
}
