//! The server's own socket over real TCP connections: frames larger than
//! tungstenite's small read buffer, several of them in one write (even in
//! the write that carries the upgrade request), messages of a mebibyte,
//! fragments, and the size limit's close code.

mod common;

use std::net::SocketAddr;
use std::time::Duration;

use common::*;
use futures_util::{SinkExt, StreamExt};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio_tungstenite::WebSocketStream;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::protocol::Role;
use wsauth_core::__private::descriptor::*;
use wsauth_core::spec::{Access, Frames};
use wsauth_core::{Incoming, Session};

/// The mirror's message limit: a mebibyte and a half.
const MAX_BYTES: u32 = 3 << 19;

/// Anyone may open it; every text or binary frame comes back as it was.
const MIRROR: EndpointDescriptor = EndpointDescriptor {
    name: "mirror",
    path: "/ws/mirror",
    params: &[],
    access: Access::Anonymous,
    perm: None,
    checks: &[],
    welcome: None,
    receives: &[],
    sends: &[],
    heartbeat: None,
    frames: Frames::Raw,
    limits: Limits {
        max_message_bytes: MAX_BYTES,
        messages_per_second: 1_000_000,
        burst: 1_000_000,
        ..LIMITS
    },
    ..ROOM
};

static MIRROR_API: ApiDescriptor = ApiDescriptor {
    endpoints: &[ROOM, MIRROR],
    ..API
};

/// Sends every frame back through the public raw path (axum's types).
async fn mirror(mut session: Session) -> wsauth_core::HandlerResult {
    while let Some(message) = session.recv().await {
        let frame = match message {
            Incoming::Text(text) => axum::extract::ws::Message::Text(text.into()),
            Incoming::Binary(bytes) => axum::extract::ws::Message::Binary(bytes),
            _ => continue,
        };
        session.deliver_raw(frame).await?;
    }
    Ok(())
}

async fn mirror_server() -> SocketAddr {
    let (addr, _) = start_on(&MIRROR_API, room, |b| {
        b.allow_any_origin().handler("mirror", mirror)
    })
    .await;
    addr
}

const REQUEST: &str = "GET /ws/mirror HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\n\
    Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\
    Sec-WebSocket-Version: 13\r\n\r\n";

/// A client frame: `fin`, `opcode`, masked as clients must.
fn frame(fin: bool, opcode: u8, payload: &[u8]) -> Vec<u8> {
    let mask = [0x37, 0xfa, 0x21, 0x3d];
    let mut out = vec![if fin { 0x80 } else { 0 } | opcode];
    match payload.len() {
        n @ 0..=125 => out.push(0x80 | n as u8),
        n @ 126..=0xFFFF => {
            out.push(0x80 | 126);
            out.extend_from_slice(&(n as u16).to_be_bytes());
        }
        n => {
            out.push(0x80 | 127);
            out.extend_from_slice(&(n as u64).to_be_bytes());
        }
    }
    out.extend_from_slice(&mask);
    out.extend(payload.iter().zip(mask.iter().cycle()).map(|(b, m)| b ^ m));
    out
}

/// Text of `n` bytes whose characters (of one to four bytes) straddle
/// every buffer boundary somewhere.
fn text(n: usize) -> String {
    let mut text = String::with_capacity(n + 4);
    for c in ['a', 'é', '€', '🦀'].into_iter().cycle() {
        if text.len() + c.len_utf8() > n {
            break;
        }
        text.push(c);
    }
    while text.len() < n {
        text.push('.');
    }
    text
}

fn binary(n: usize) -> Vec<u8> {
    (0..n).map(|i| (i * 7 % 256) as u8).collect()
}

/// Writes `bytes` (the upgrade request, and maybe frames after it) in one
/// write, reads the `101` byte by byte (nothing after it), and reads the
/// rest as a client's socket.
async fn open_with(addr: SocketAddr, bytes: &[u8]) -> Client {
    let mut stream = TcpStream::connect(addr)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    stream
        .write_all(bytes)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let mut head = Vec::new();
    while !head.ends_with(b"\r\n\r\n") {
        let byte = tokio::time::timeout(Duration::from_secs(5), stream.read_u8())
            .await
            .unwrap_or_else(|_| panic!("no 101"))
            .unwrap_or_else(|e| panic!("{e}"));
        head.push(byte);
    }
    assert!(head.starts_with(b"HTTP/1.1 101"), "{head:?}");
    let stream = tokio_tungstenite::MaybeTlsStream::Plain(stream);
    WebSocketStream::from_raw_socket(stream, Role::Client, None).await
}

/// The next data frame, skipping pings and pongs.
async fn next_frame(client: &mut Client) -> Message {
    loop {
        let frame = tokio::time::timeout(Duration::from_secs(10), client.next()).await;
        match frame {
            Ok(Some(Ok(Message::Ping(_) | Message::Pong(_)))) => {}
            Ok(Some(Ok(message))) => return message,
            other => panic!("expected a frame, got {other:?}"),
        }
    }
}

/// The close code the server ends with.
async fn close_code(client: &mut Client) -> Option<u16> {
    loop {
        let frame = tokio::time::timeout(Duration::from_secs(10), client.next()).await;
        match frame {
            Ok(Some(Ok(Message::Close(close)))) => return close.map(|c| c.code.into()),
            Ok(Some(Ok(_))) => {}
            other => panic!("expected a close, got {other:?}"),
        }
    }
}

/// The request and five frames, from 10 bytes to 5 KB, in one TCP write:
/// hyper keeps what followed the request, the socket reads the rest 4 KiB
/// at a time, and tungstenite takes it 512 bytes at a time.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn frames_pipelined_behind_the_upgrade_request_all_come_back_in_order() {
    let addr = mirror_server().await;
    let sent = [
        Message::text(text(600)),
        Message::binary(binary(1500)),
        Message::text(text(3000)),
        Message::text(text(10)),
        Message::binary(binary(5000)),
    ];
    let mut bytes = REQUEST.as_bytes().to_vec();
    for message in &sent {
        let (opcode, payload) = match message {
            Message::Text(text) => (0x1, text.as_bytes()),
            Message::Binary(bytes) => (0x2, &bytes[..]),
            _ => unreachable!(),
        };
        bytes.extend(frame(true, opcode, payload));
    }
    let mut client = open_with(addr, &bytes).await;
    for message in sent {
        assert_eq!(next_frame(&mut client).await, message);
    }
}

/// Frames written after the upgrade, many to one write, of sizes around
/// every buffer's: tungstenite's 512 bytes, the socket's 4 KiB reads.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pipelined_frames_of_every_size_around_the_buffers_come_back() {
    let addr = mirror_server().await;
    let mut client = open_with(addr, REQUEST.as_bytes()).await;
    let sizes = [
        0, 1, 125, 126, 500, 511, 512, 513, 1024, 4083, 4096, 4097, 9000,
    ];
    for size in sizes {
        client
            .feed(Message::text(text(size)))
            .await
            .unwrap_or_else(|e| panic!("{e}"));
    }
    client.flush().await.unwrap_or_else(|e| panic!("{e}"));
    for size in sizes {
        assert_eq!(next_frame(&mut client).await, Message::text(text(size)));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_mebibyte_message_comes_back_whole() {
    let addr = mirror_server().await;
    let mut client = open_with(addr, REQUEST.as_bytes()).await;
    for message in [
        Message::text(text(1 << 20)),
        Message::binary(binary(1 << 20)),
    ] {
        client
            .send(message.clone())
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(next_frame(&mut client).await, message);
    }
}

/// A message in fragments of 700 bytes (cutting characters in two), a
/// ping between two of them, all in one write: one message comes back.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_fragmented_message_comes_back_as_one() {
    let addr = mirror_server().await;
    let whole = text(5000);
    let pieces: Vec<&[u8]> = whole.as_bytes().chunks(700).collect();
    let mut bytes = REQUEST.as_bytes().to_vec();
    for (i, piece) in pieces.iter().enumerate() {
        let opcode = if i == 0 { 0x1 } else { 0x0 };
        bytes.extend(frame(i + 1 == pieces.len(), opcode, piece));
        if i == 2 {
            bytes.extend(frame(true, 0x9, b"between"));
        }
    }
    bytes.extend(frame(true, 0x2, &binary(900)));
    let mut client = open_with(addr, &bytes).await;
    assert_eq!(next_frame(&mut client).await, Message::text(whole));
    assert_eq!(next_frame(&mut client).await, Message::binary(binary(900)));
}

/// One byte over the limit, in one frame or in fragments: 1009.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_message_over_the_limit_is_closed_with_1009() {
    let addr = mirror_server().await;
    let over = binary(MAX_BYTES as usize + 1);
    let mut client = open_with(addr, REQUEST.as_bytes()).await;
    let _ = client.send(Message::binary(over.clone())).await;
    assert_eq!(close_code(&mut client).await, Some(1009));

    let mut bytes = REQUEST.as_bytes().to_vec();
    let pieces: Vec<&[u8]> = over.chunks(1 << 18).collect();
    for (i, piece) in pieces.iter().enumerate() {
        let opcode = if i == 0 { 0x2 } else { 0x0 };
        bytes.extend(frame(i + 1 == pieces.len(), opcode, piece));
    }
    let mut client = open_with(addr, &bytes[..REQUEST.len()]).await;
    let stream = client.get_mut();
    let tokio_tungstenite::MaybeTlsStream::Plain(stream) = stream else {
        unreachable!()
    };
    let _ = stream.write_all(&bytes[REQUEST.len()..]).await;
    assert_eq!(close_code(&mut client).await, Some(1009));
}
