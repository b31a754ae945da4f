//! The broadcast hub: every connected client's feed of relayed messages
//! (typed `relayed`s and stamped open messages alike).
//!
//! One `tokio::sync::broadcast` channel per server, given to the handlers
//! as application state ([`wsauth_core::Builder::state`]), so two servers
//! in one process (tests) never share a channel. Each connection subscribes
//! when it is admitted and unsubscribes when its handler ends, so the number
//! of subscribers is the number of listeners. A message is encoded once per
//! receiver by its connection, which also applies that connection's send
//! queue limit: a client that stops reading is dropped, not waited for.

use std::sync::Arc;

use tokio::sync::broadcast;

use crate::endpoints::broadcast::Outgoing;

/// How many relayed messages a listener may fall behind before it is
/// disconnected.
pub const BACKLOG: usize = 1024;

/// The channel every connection listens to. Cheap to clone.
#[derive(Clone, Debug)]
pub struct Hub {
    tx: broadcast::Sender<Arc<Outgoing>>,
}

impl Default for Hub {
    fn default() -> Self {
        Self::new()
    }
}

impl Hub {
    /// A hub with no listeners.
    pub fn new() -> Self {
        Hub {
            tx: broadcast::Sender::new(BACKLOG),
        }
    }

    /// A new listener's feed.
    pub fn subscribe(&self) -> broadcast::Receiver<Arc<Outgoing>> {
        self.tx.subscribe()
    }

    /// Relays `message` to every listener; returns how many there were.
    pub fn publish(&self, message: Outgoing) -> usize {
        self.tx.send(Arc::new(message)).unwrap_or(0)
    }

    /// Listeners now.
    pub fn listeners(&self) -> usize {
        self.tx.receiver_count()
    }
}
