//! Serving a wsauth app on a TCP listener, with the limits that must hold
//! before anyone is authenticated.
//!
//! # Motivation
//!
//! A WebSocket server on the internet meets unauthenticated floods first:
//! connections that never send a request (slowloris), more connections
//! than the process has file descriptors, one address opening thousands.
//! `axum::serve` sets no header timeout and counts nothing, and by the time
//! a request reaches a handler it is too late to refuse cheaply. So
//! [`WsAuth::serve`](crate::WsAuth::serve) owns the accept loop:
//!
//! - every accepted socket takes a place among [`ServerLimits::max_connections`]
//!   and among its address's [`ServerLimits::max_connections_per_address`]
//!   (IPv6 addresses grouped by /64, what one host or site usually gets),
//!   held by the socket itself, so a place is given back when the socket
//!   closes, upgraded or not; a socket over either limit is closed at once,
//!   before a byte is read;
//! - the request headers must arrive within
//!   [`ServerLimits::header_read_timeout`];
//! - on shutdown, it stops accepting, lets plain HTTP connections finish
//!   their request, and closes every WebSocket with `going_away`.
//!
//! Each refusal is audited, sampled (one line per reason per second with a
//! count), since a flood would otherwise write one line per attempt.

use std::future::Future;
use std::io;
use std::net::{IpAddr, SocketAddr};
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use axum::Router;
use axum::extract::ConnectInfo;
use hyper::server::conn::http1;
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;
use tower_service::Service as _;

use crate::audit::{Refusal, Sampled};
use crate::limits::{Lease, Leases};

/// Limits on connections before and during the handshake. All are on by
/// default; [`Builder::limits`](crate::Builder::limits) changes them.
///
/// ```
/// # use std::time::Duration;
/// let mut limits = wsauth_core::ServerLimits::default();
/// limits.max_connections_per_address = 32;
/// limits.header_read_timeout = Duration::from_secs(2);
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct ServerLimits {
    /// Time for a client to send its whole request head after connecting
    /// (and between requests on a kept-alive connection). Default 5 s.
    /// Applies to [`WsAuth::serve`](crate::WsAuth::serve).
    pub header_read_timeout: Duration,
    /// Time for the handshake's checks (token verification, introspection,
    /// user lookup, resource checks), after which the connection is refused
    /// with the spec's `server_error` code. Default 10 s.
    pub handshake_timeout: Duration,
    /// Open TCP connections in all, WebSockets and plain HTTP. Default 10,000.
    /// Applies to [`WsAuth::serve`](crate::WsAuth::serve).
    pub max_connections: u32,
    /// Open TCP connections from one client address, IPv6 addresses grouped
    /// by /64. Default 256 (room for an office behind one NAT address).
    /// Applies to [`WsAuth::serve`](crate::WsAuth::serve).
    pub max_connections_per_address: u32,
    /// Open anonymous WebSocket connections (admitted without a token), in
    /// all; past it they are refused with `too_many_connections`.
    /// Default 1,000.
    pub max_anonymous_connections: u32,
}

impl Default for ServerLimits {
    fn default() -> Self {
        ServerLimits {
            header_read_timeout: Duration::from_secs(5),
            handshake_timeout: Duration::from_secs(10),
            max_connections: 10_000,
            max_connections_per_address: 256,
            max_anonymous_connections: 1_000,
        }
    }
}

/// The most a client's request head (and a plain request's body, per
/// read) may take in memory before it is refused.
const MAX_REQUEST_HEAD_BYTES: usize = 16 * 1024;

/// The key one client address is counted under: an IPv4 address whole
/// (also when mapped into IPv6), an IPv6 address by its /64 prefix.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub(crate) enum AddressKey {
    V4(u32),
    V6(u64),
}

impl From<IpAddr> for AddressKey {
    fn from(ip: IpAddr) -> Self {
        match ip {
            IpAddr::V4(v4) => AddressKey::V4(v4.to_bits()),
            IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
                Some(v4) => AddressKey::V4(v4.to_bits()),
                None => AddressKey::V6((v6.to_bits() >> 64) as u64),
            },
        }
    }
}

/// A socket together with the places it holds: they are given back when
/// the socket is dropped, whoever owns it by then (hyper, or the WebSocket
/// it was upgraded to).
struct Counted {
    stream: TcpStream,
    _places: (Lease<()>, Lease<AddressKey>),
}

impl AsyncRead for Counted {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.stream).poll_read(cx, buf)
    }
}

impl AsyncWrite for Counted {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.stream).poll_write(cx, buf)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.stream).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.stream).poll_shutdown(cx)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.stream).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.stream.is_write_vectored()
    }
}

/// The places every socket takes before it is served.
pub(crate) struct Gate {
    limits: ServerLimits,
    all: Arc<Leases<()>>,
    per_address: Arc<Leases<AddressKey>>,
    pub(crate) refusals: Arc<Sampled>,
}

impl Gate {
    pub(crate) fn new(limits: ServerLimits, refusals: Arc<Sampled>) -> Self {
        Gate {
            limits,
            all: Arc::default(),
            per_address: Arc::default(),
            refusals,
        }
    }

    /// The socket with its places, or `None` (audited) when a limit is full.
    fn admit(&self, stream: TcpStream, peer: SocketAddr) -> Option<Counted> {
        let Some(all) = self.all.try_lease((), self.limits.max_connections) else {
            self.refusals.refused(Refusal::ServerFull, Some(peer));
            return None;
        };
        let key = AddressKey::from(peer.ip());
        let Some(address) = self
            .per_address
            .try_lease(key, self.limits.max_connections_per_address)
        else {
            self.refusals.refused(Refusal::AddressFull, Some(peer));
            return None;
        };
        Some(Counted {
            stream,
            _places: (all, address),
        })
    }
}

/// The accept loop of [`WsAuth::serve`](crate::WsAuth::serve): serves
/// `router` until `signal` completes, then stops accepting and tells every
/// HTTP connection to finish (`closing`); waits at most `grace` for them.
pub(crate) async fn serve(
    listener: TcpListener,
    router: Router,
    gate: Gate,
    signal: impl Future<Output = ()> + Send,
    grace: Duration,
) -> io::Result<()> {
    let (closing, closed) = watch::channel(false);
    let mut tasks = tokio::task::JoinSet::new();
    tokio::pin!(signal);
    loop {
        let (stream, peer) = tokio::select! {
            () = &mut signal => break,
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                // Out of file descriptors, or the peer gave up before we
                // took it: neither ends the server. A short pause keeps an
                // EMFILE from spinning the loop.
                Err(e) if is_transient(&e) => {
                    tokio::time::sleep(Duration::from_millis(10)).await;
                    continue;
                }
                Err(e) => return Err(e),
            },
            // Reap finished connection tasks as they end.
            Some(_) = tasks.join_next(), if !tasks.is_empty() => continue,
        };
        let Some(io) = gate.admit(stream, peer) else {
            continue;
        };
        let _ = io.stream.set_nodelay(true);
        tasks.spawn(serve_connection(
            io,
            peer,
            router.clone(),
            gate.limits.header_read_timeout,
            Arc::clone(&gate.refusals),
            closed.clone(),
        ));
    }
    drop(listener);
    let _ = closing.send(true);
    let _ = tokio::time::timeout(grace, async { while tasks.join_next().await.is_some() {} }).await;
    tasks.abort_all();
    Ok(())
}

fn is_transient(error: &io::Error) -> bool {
    matches!(
        error.kind(),
        io::ErrorKind::ConnectionAborted
            | io::ErrorKind::ConnectionReset
            | io::ErrorKind::Interrupted
            | io::ErrorKind::WouldBlock
    ) || error.raw_os_error().is_some_and(|code| {
        // EMFILE, ENFILE, ENOBUFS, ENOMEM.
        [24, 23, 105, 12].contains(&code)
    })
}

/// One HTTP/1.1 connection: requests (and at most one upgrade) until the
/// client or `closing` ends it.
async fn serve_connection(
    io: Counted,
    peer: SocketAddr,
    router: Router,
    header_read_timeout: Duration,
    refusals: Arc<Sampled>,
    mut closing: watch::Receiver<bool>,
) {
    let service =
        hyper::service::service_fn(move |request: http::Request<hyper::body::Incoming>| {
            let mut request = request.map(axum::body::Body::new);
            request.extensions_mut().insert(ConnectInfo(peer));
            router.clone().call(request)
        });
    let connection = http1::Builder::new()
        .timer(TokioTimer::new())
        .header_read_timeout(header_read_timeout)
        // Room for a request head with a token in a header or a cookie
        // (8 KiB at most), not hyper's default of ~400 KiB per connection.
        .max_buf_size(MAX_REQUEST_HEAD_BYTES)
        .serve_connection(TokioIo::new(io), service)
        .with_upgrades();
    tokio::pin!(connection);
    let result = tokio::select! {
        result = connection.as_mut() => result,
        true = async { closing.wait_for(|closing| *closing).await.is_ok() } => {
            connection.as_mut().graceful_shutdown();
            connection.await
        }
    };
    if let Err(e) = result
        && e.is_timeout()
    {
        refusals.refused(Refusal::HeaderTimeout, Some(peer));
    }
}

#[cfg(test)]
mod tests {
    use std::net::{Ipv4Addr, Ipv6Addr};

    use super::*;

    #[test]
    fn ipv6_addresses_count_by_their_64_bit_prefix() {
        let a: Ipv6Addr = "2001:db8:1:2:aaaa::1"
            .parse()
            .unwrap_or(Ipv6Addr::UNSPECIFIED);
        let b: Ipv6Addr = "2001:db8:1:2:bbbb::2"
            .parse()
            .unwrap_or(Ipv6Addr::UNSPECIFIED);
        let other: Ipv6Addr = "2001:db8:1:3::1".parse().unwrap_or(Ipv6Addr::UNSPECIFIED);
        assert_eq!(
            AddressKey::from(IpAddr::V6(a)),
            AddressKey::from(IpAddr::V6(b))
        );
        assert_ne!(
            AddressKey::from(IpAddr::V6(a)),
            AddressKey::from(IpAddr::V6(other))
        );
    }

    #[test]
    fn ipv4_addresses_count_whole_also_when_mapped_into_ipv6() {
        let v4 = Ipv4Addr::new(192, 0, 2, 7);
        assert_eq!(
            AddressKey::from(IpAddr::V4(v4)),
            AddressKey::from(IpAddr::V6(v4.to_ipv6_mapped()))
        );
        assert_ne!(
            AddressKey::from(IpAddr::V4(v4)),
            AddressKey::from(IpAddr::V4(Ipv4Addr::new(192, 0, 2, 8)))
        );
    }
}
