//! The link between a connection's loop and its handler.
//!
//! # Motivation
//!
//! Both ends run in the same task, so the link needs no channel machinery:
//! a one-message inbox (the loop stops reading the socket until the handler
//! has taken the message, which is the backpressure), an outbox bounded by
//! the spec's `send_queue`, and two flags the handler raises for the loop.
//! Tokio's bounded channels allocate a 32-slot block up front; an idle
//! connection here holds one small allocation and an empty `VecDeque`.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Mutex, PoisonError};

use axum::extract::ws::Message;
use tokio::sync::Notify;

use crate::session::Incoming;

/// Outbox capacity kept after a burst drains; a larger buffer is released.
const KEEP_CAPACITY: usize = 8;

/// Shared by a connection's loop and its session.
#[derive(Debug)]
pub(crate) struct Link {
    inbox: Mutex<Option<Incoming>>,
    /// The inbox was filled (wakes the handler).
    filled: Notify,
    /// The inbox was emptied (wakes the loop).
    emptied: Notify,
    outbox: Mutex<VecDeque<Message>>,
    capacity: usize,
    /// The outbox has messages, or a flag was raised (wakes the loop).
    ready: Notify,
    /// The outbox has room again (wakes a waiting `deliver`).
    space: Notify,
    /// The outbox overflowed: the client is not reading.
    pub(crate) slow: AtomicBool,
    /// A message failed typed decoding and cannot be answered with `error`.
    pub(crate) invalid: AtomicBool,
}

/// Why a message could not be queued.
pub(crate) enum QueueError {
    /// The outbox is at capacity.
    Full,
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

impl Link {
    /// A link whose outbox holds at most `capacity` messages.
    pub(crate) fn new(capacity: usize) -> Self {
        Link {
            inbox: Mutex::new(None),
            filled: Notify::new(),
            emptied: Notify::new(),
            outbox: Mutex::new(VecDeque::new()),
            capacity: capacity.max(1),
            ready: Notify::new(),
            space: Notify::new(),
            slow: AtomicBool::new(false),
            invalid: AtomicBool::new(false),
        }
    }

    // The loop's side.

    /// Hands a message to the handler, or gives it back if the inbox is full.
    pub(crate) fn put(&self, message: Incoming) -> Result<(), Incoming> {
        let mut inbox = lock(&self.inbox);
        if inbox.is_some() {
            return Err(message);
        }
        *inbox = Some(message);
        drop(inbox);
        self.filled.notify_one();
        Ok(())
    }

    /// Resolves once the handler has taken the inbox's message.
    pub(crate) async fn emptied(&self) {
        let notified = self.emptied.notified();
        if lock(&self.inbox).is_none() {
            return;
        }
        notified.await;
    }

    /// Resolves when there is something to send or a flag to look at.
    pub(crate) async fn ready(&self) {
        self.ready.notified().await;
    }

    /// The next message to send, if any.
    pub(crate) fn pop(&self) -> Option<Message> {
        let mut outbox = lock(&self.outbox);
        let message = outbox.pop_front();
        if outbox.is_empty() && outbox.capacity() > KEEP_CAPACITY {
            outbox.shrink_to(KEEP_CAPACITY);
        }
        drop(outbox);
        if message.is_some() {
            self.space.notify_one();
        }
        message
    }

    /// Raises a flag for the loop.
    pub(crate) fn raise(&self, flag: &AtomicBool) {
        flag.store(true, Ordering::Release);
        self.ready.notify_one();
    }

    // The handler's side.

    /// Takes the inbox's message, waiting for one.
    pub(crate) async fn take(&self) -> Incoming {
        loop {
            let notified = self.filled.notified();
            if let Some(message) = lock(&self.inbox).take() {
                self.emptied.notify_one();
                return message;
            }
            notified.await;
        }
    }

    /// Queues a message, failing when the outbox is full.
    pub(crate) fn push(&self, message: Message) -> Result<(), QueueError> {
        let mut outbox = lock(&self.outbox);
        if outbox.len() >= self.capacity {
            return Err(QueueError::Full);
        }
        outbox.push_back(message);
        drop(outbox);
        self.ready.notify_one();
        Ok(())
    }

    /// Queues a message, waiting for room.
    pub(crate) async fn push_wait(&self, message: Message) {
        let mut message = Some(message);
        loop {
            let notified = self.space.notified();
            {
                let mut outbox = lock(&self.outbox);
                if outbox.len() < self.capacity {
                    if let Some(m) = message.take() {
                        outbox.push_back(m);
                    }
                    drop(outbox);
                    self.ready.notify_one();
                    return;
                }
            }
            notified.await;
        }
    }
}
