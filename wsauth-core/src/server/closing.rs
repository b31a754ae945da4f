//! Telling every open connection that the server shuts down.
//!
//! # Motivation
//!
//! Each connection's loop used to wait on a `watch` channel for the
//! shutdown: the receiver and its `changed()` future, 128 bytes held by
//! every connection's task for its whole life, and enough to put the task
//! one 128-byte step of tokio's allocation higher (issue 14). The loop
//! already waits on its [`Link`]'s flags, with its waker registered there;
//! so the server lists every connection's link instead, and a shutdown
//! raises `closing` on each of them. A connection listed after the shutdown
//! began has its flag raised as it is listed (the listing and the shutdown
//! take the same lock), so none is missed. A connection takes itself off
//! when it ends (its `Drop`), by its link's address: the task holds no
//! handle to the listing. Whether the shutdown began is also kept outside
//! the lock, so a handshake asks without taking it: the lock is taken
//! twice per connection (listed, taken off), never per question.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError, Weak};

use crate::link::Link;

/// The server's open connections, as far as a shutdown cares.
#[derive(Debug, Default)]
pub(crate) struct Closing {
    /// The shutdown began: no connection is admitted, and every one listed
    /// from now on is told at once. Raised under the lock, so a listing
    /// (which reads it under the lock) is either told or found by
    /// `close_all`.
    begun: AtomicBool,
    /// The open connections' links, by address.
    links: Mutex<HashMap<usize, Weak<Link>>>,
}

fn key(link: &Arc<Link>) -> usize {
    Arc::as_ptr(link).addr()
}

impl Closing {
    fn lock(&self) -> MutexGuard<'_, HashMap<usize, Weak<Link>>> {
        self.links.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Whether the shutdown began.
    pub(crate) fn is_closing(&self) -> bool {
        self.begun.load(Ordering::Acquire)
    }

    /// Lists `link` until [`forget`](Self::forget); raises its `closing`
    /// flag at once when the shutdown already began.
    pub(crate) fn list(&self, link: &Arc<Link>) {
        let mut links = self.lock();
        if self.begun.load(Ordering::Acquire) {
            link.raise(&link.closing);
        } else {
            links.insert(key(link), Arc::downgrade(link));
        }
    }

    /// Takes `link` off the listing (its connection ended).
    pub(crate) fn forget(&self, link: &Arc<Link>) {
        self.lock().remove(&key(link));
    }

    /// Begins the shutdown: raises `closing` on every listed connection,
    /// and on every one listed later.
    pub(crate) fn close_all(&self) {
        let mut links = self.lock();
        self.begun.store(true, Ordering::Release);
        for link in std::mem::take(&mut *links)
            .values()
            .filter_map(Weak::upgrade)
        {
            link.raise(&link.closing);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::principal::Principal;

    fn link() -> Arc<Link> {
        Arc::new(Link::new(8, Principal::new(Some("u"), Vec::new(), &[])))
    }

    #[test]
    fn a_shutdown_reaches_links_listed_before_and_after_it() {
        let closing = Closing::default();
        let (early, late, gone) = (link(), link(), link());
        closing.list(&early);
        closing.list(&gone);
        closing.forget(&gone);
        assert_eq!(closing.lock().len(), 1, "a forgotten link is taken off");
        assert!(!closing.is_closing());
        closing.close_all();
        assert!(closing.is_closing());
        assert!(early.closing.load(Ordering::Acquire));
        assert!(!gone.closing.load(Ordering::Acquire));
        closing.list(&late);
        assert!(late.closing.load(Ordering::Acquire));
    }
}
