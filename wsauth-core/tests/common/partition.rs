//! A TCP proxy that can cut connections the way a network partition does:
//! nothing more gets through, and neither end hears a FIN or a reset. A
//! node whose Redis connections go through it meets the one failure that
//! closing, killing or pausing Redis cannot show: a connection that looks
//! open and is dead.
#![allow(dead_code)]

use std::io::{ErrorKind, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

/// Forwards every connection to a target; see [`Proxy::partition`].
pub struct Proxy {
    pub addr: SocketAddr,
    shared: Arc<Shared>,
}

#[derive(Default)]
struct Shared {
    connections: Mutex<Vec<Arc<Connection>>>,
    stop: AtomicBool,
}

/// One proxied connection: the client's and the target's socket.
struct Connection {
    client: TcpStream,
    target: TcpStream,
    /// The client sent a (P)SUBSCRIBE on it: a pub/sub connection.
    subscriber: AtomicBool,
    /// Nothing is forwarded any more (the sockets stay open).
    cut: AtomicBool,
    /// An end closed it before any cut: nothing left to cut.
    closed: AtomicBool,
}

/// Which established connections [`Proxy::partition`] cuts.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Cut {
    /// Every connection open now.
    All,
    /// Only pub/sub connections (a client that sent SUBSCRIBE).
    Subscribers,
}

impl Proxy {
    /// Listens on a free loopback port and forwards to `target`.
    pub fn start(target: SocketAddr) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind the proxy");
        let addr = listener.local_addr().expect("the proxy's address");
        listener
            .set_nonblocking(true)
            .expect("a non-blocking listener");
        let shared = Arc::new(Shared::default());
        let accepting = Arc::clone(&shared);
        std::thread::spawn(move || accept(&listener, &accepting, target));
        Proxy { addr, shared }
    }

    /// Cuts the connections `which` selects among those open now (and
    /// returns how many): from
    /// here on what either end sends is read and dropped, and no socket is
    /// closed. Connections opened later are forwarded as before.
    pub fn partition(&self, which: Cut) -> usize {
        let connections = self
            .shared
            .connections
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        let mut cut = 0;
        for connection in connections.iter() {
            if connection.closed.load(Ordering::Acquire) {
                continue;
            }
            if which == Cut::All || connection.subscriber.load(Ordering::Acquire) {
                connection.cut.store(true, Ordering::Release);
                cut += 1;
            }
        }
        cut
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        self.shared.stop.store(true, Ordering::Release);
        let connections = self
            .shared
            .connections
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        for connection in connections.iter() {
            let _ = connection.client.shutdown(Shutdown::Both);
            let _ = connection.target.shutdown(Shutdown::Both);
        }
    }
}

fn accept(listener: &TcpListener, shared: &Arc<Shared>, target: SocketAddr) {
    while !shared.stop.load(Ordering::Acquire) {
        let client = match listener.accept() {
            Ok((client, _)) => client,
            Err(e) if e.kind() == ErrorKind::WouldBlock => {
                std::thread::sleep(Duration::from_millis(10));
                continue;
            }
            Err(_) => return,
        };
        let Ok(target) = TcpStream::connect(target) else {
            continue;
        };
        let _ = client.set_nonblocking(false);
        let connection = Arc::new(Connection {
            client,
            target,
            subscriber: AtomicBool::new(false),
            cut: AtomicBool::new(false),
            closed: AtomicBool::new(false),
        });
        shared
            .connections
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push(Arc::clone(&connection));
        for upstream in [true, false] {
            let connection = Arc::clone(&connection);
            let shared = Arc::clone(shared);
            std::thread::spawn(move || pump(&connection, upstream, &shared));
        }
    }
}

/// Copies one direction until either end closes or the proxy stops;
/// once the connection is cut, reads and drops.
fn pump(connection: &Connection, upstream: bool, shared: &Shared) {
    let (mut from, mut to) = if upstream {
        (&connection.client, &connection.target)
    } else {
        (&connection.target, &connection.client)
    };
    let _ = from.set_read_timeout(Some(Duration::from_millis(100)));
    let mut buffer = [0u8; 16 * 1024];
    while !shared.stop.load(Ordering::Acquire) {
        let n = match from.read(&mut buffer) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => continue,
            Err(_) => break,
        };
        if connection.cut.load(Ordering::Acquire) {
            continue;
        }
        if upstream && contains(&buffer[..n], b"SUBSCRIBE") {
            connection.subscriber.store(true, Ordering::Release);
        }
        if to.write_all(&buffer[..n]).is_err() {
            break;
        }
    }
    // An end closed before the cut: pass the close on, as a network would.
    if !connection.cut.load(Ordering::Acquire) {
        connection.closed.store(true, Ordering::Release);
        let _ = to.shutdown(Shutdown::Write);
    }
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack
        .windows(needle.len())
        .any(|w| w.eq_ignore_ascii_case(needle))
}
