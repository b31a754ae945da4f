//! The link between a connection's loop and its handler.
//!
//! # Motivation
//!
//! Both ends run in the same task, so the link needs no channel machinery:
//! a one-message inbox (the loop stops reading the socket until the handler
//! has taken the message, which is the backpressure), an outbox bounded by
//! the spec's `send_queue`, and two flags the handler raises for the loop.
//! Tokio's bounded channels allocate a 32-slot block up front; an idle
//! connection here holds one small allocation. The outbox keeps its first
//! message inline, so the usual one message in flight (a reply, the
//! welcome) allocates nothing; only a backlog spills into a `VecDeque`.
//!
//! Both ends usually run in the same task: the loop polls the handler's
//! future itself, and looks at the link after every poll of it (the inbox,
//! the outbox, the flags). A change the handler makes while the loop polls
//! it therefore wakes no one: waking the task that is running would only
//! make it run once more, one more pass of the loop (and one more read
//! attempt on the socket) per message for nothing. The loop marks the
//! thread while it polls the handler ([`Link::poll_handler`]), and a
//! change from anywhere else (a handler that moved its session into a task
//! of its own, a topic delivery, a revocation sweep) wakes as before.
//!
//! The link also carries who the connection is: an in-band token refresh
//! replaces the principal in the loop, and the handler must see the new one
//! (its roles, for the checks it makes itself), so both read it here. So
//! is which token it holds (its `jti` and `iat`), for revocation sweeps,
//! which raise the `revoked` flag from outside the connection's task.

use std::cell::Cell;
use std::collections::VecDeque;
use std::future::poll_fn;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError, RwLock};
use std::task::{Context, Poll};

use bytes::Bytes;
use futures_util::task::AtomicWaker;
use tungstenite::{Message, Utf8Bytes};

use crate::cluster::TokenMark;
use crate::principal::Principal;
use crate::topics::InstanceKey;

/// A message from the client as the loop hands it over: checked against
/// the spec, and either decoded for a typed handler or its text not yet
/// parsed into what the handler wants (a [`serde_json::Value`] for
/// [`Session::recv`](crate::Session::recv), the endpoint's typed enum for
/// [`TypedSession::recv`](crate::TypedSession::recv)).
#[derive(Debug)]
pub(crate) enum Inbound {
    /// A typed message: its `type`, and the frame's text (a JSON object).
    Message { kind: &'static str, text: Utf8Bytes },
    /// A typed message the loop decoded with the typed handler's decoder,
    /// checking it in the same pass: the endpoint's `Incoming` value, and
    /// the frame's text (for [`Session::recv`](crate::Session::recv), should
    /// the typed handler read through its untyped session).
    Decoded {
        message: Box<dyn std::any::Any + Send>,
        text: Utf8Bytes,
    },
    /// An open message (a JSON object whose `type` the spec does not
    /// declare), permission-checked; the frame's text.
    Open { text: Utf8Bytes },
    /// A text frame on a `frames: raw` endpoint.
    Text(Utf8Bytes),
    /// A binary frame on a `frames: raw` endpoint.
    Binary(Bytes),
}

/// Outbox capacity kept after a burst drains; a larger buffer is released.
const KEEP_CAPACITY: usize = 8;

thread_local! {
    /// The link whose handler this thread's connection loop is polling
    /// right now (null when none): compared, never dereferenced.
    static POLLING: Cell<*const Link> = const { Cell::new(std::ptr::null()) };
}

/// Marks the thread as polling `link`'s handler until dropped (a panic
/// included), restoring what it held before.
struct Polling(*const Link);

impl Polling {
    fn enter(link: &Link) -> Self {
        Polling(POLLING.replace(std::ptr::from_ref(link)))
    }
}

impl Drop for Polling {
    fn drop(&mut self) {
        POLLING.set(self.0);
    }
}

/// Shared by a connection's loop and its session.
///
/// Each side waits on a condition of the link's state (not on a stored
/// notification), registering its task in its own [`AtomicWaker`] before it
/// looks; the other side wakes it after every change. Waiting costs the
/// waiting future a reference, and the link two wakers.
#[derive(Debug)]
pub(crate) struct Link {
    inbox: Mutex<Option<Inbound>>,
    outbox: Mutex<Outbox>,
    /// The spec's `send_queue` (a `u32`): with `generation` beside it, the
    /// link is one 16-byte step of the allocator smaller than with two
    /// 8-byte fields.
    capacity: u32,
    /// Wakes the loop: the outbox was filled, the inbox emptied, or a flag
    /// raised.
    to_loop: AtomicWaker,
    /// Wakes the handler: the inbox was filled, or the outbox has room.
    to_handler: AtomicWaker,
    /// The handler waiting for a message waits inside the loop's poll of
    /// it: the loop polls it again after filling the inbox, unwoken.
    handler_in_loop: AtomicBool,
    /// The handler last asked for a message through its typed session (as
    /// it will again, in practice): the loop decodes a typed message for
    /// it while checking it, which an untyped read would only throw away.
    reads_typed: AtomicBool,
    /// The outbox overflowed: the client is not reading.
    pub(crate) slow: AtomicBool,
    /// A message failed typed decoding and cannot be answered with `error`.
    pub(crate) invalid: AtomicBool,
    /// The connection's token was revoked, or its subject disconnected.
    pub(crate) revoked: AtomicBool,
    /// The server shuts down.
    pub(crate) closing: AtomicBool,
    /// The token the connection holds now: replaced by an in-band refresh,
    /// read by revocation sweeps.
    pub(crate) token: Mutex<TokenMark>,
    /// Who the connection is now: replaced by an in-band refresh.
    principal: RwLock<Principal>,
    /// The topic instances the connection subscribes to (empty, and
    /// unallocated, until it subscribes); the broker keeps it, under its
    /// own lock.
    pub(crate) subscriptions: Mutex<Vec<Arc<InstanceKey>>>,
    /// The connection left every topic for good (it is closing): set and
    /// read under `subscriptions`' lock, so a handler's join racing the end
    /// cannot subscribe a connection that is gone.
    pub(crate) left: AtomicBool,
    /// Bumped by every principal change: a handler's join whose checks ran
    /// for an earlier principal is refused rather than kept past the
    /// refresh's re-checks. (It would take 2^32 refreshes of one
    /// connection, each a verified token, to come back to a value.)
    generation: std::sync::atomic::AtomicU32,
}

/// Messages waiting to be sent, oldest first: `head`, then `rest`.
#[derive(Debug, Default)]
struct Outbox {
    head: Option<Message>,
    rest: VecDeque<Message>,
}

impl Outbox {
    fn len(&self) -> usize {
        usize::from(self.head.is_some()) + self.rest.len()
    }

    fn push(&mut self, message: Message) {
        if self.head.is_none() && self.rest.is_empty() {
            self.head = Some(message);
        } else {
            self.rest.push_back(message);
        }
    }

    fn pop(&mut self) -> Option<Message> {
        let message = self.head.take()?;
        self.head = self.rest.pop_front();
        if self.rest.is_empty() && self.rest.capacity() > KEEP_CAPACITY {
            self.rest.shrink_to(KEEP_CAPACITY);
        }
        Some(message)
    }
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
    /// A link for `principal`'s connection whose outbox holds at most
    /// `capacity` messages.
    pub(crate) fn new(capacity: u32, principal: Principal) -> Self {
        Link {
            inbox: Mutex::new(None),
            outbox: Mutex::new(Outbox::default()),
            capacity: capacity.max(1),
            to_loop: AtomicWaker::new(),
            to_handler: AtomicWaker::new(),
            handler_in_loop: AtomicBool::new(false),
            reads_typed: AtomicBool::new(true),
            slow: AtomicBool::new(false),
            invalid: AtomicBool::new(false),
            revoked: AtomicBool::new(false),
            closing: AtomicBool::new(false),
            token: Mutex::new(TokenMark::default()),
            principal: RwLock::new(principal),
            subscriptions: Mutex::new(Vec::new()),
            left: AtomicBool::new(false),
            generation: std::sync::atomic::AtomicU32::new(0),
        }
    }

    /// The principal and its generation, read together.
    pub(crate) fn principal_at(&self) -> (Principal, u64) {
        let principal = self
            .principal
            .read()
            .unwrap_or_else(PoisonError::into_inner);
        (principal.clone(), self.generation())
    }

    /// The generation of the current principal.
    pub(crate) fn generation(&self) -> u64 {
        u64::from(self.generation.load(Ordering::Acquire))
    }

    /// Who the connection is now (a shared handle: cloning it is a
    /// reference count).
    pub(crate) fn principal(&self) -> Principal {
        self.principal
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// Replaces the principal, after an in-band refresh passed every check.
    pub(crate) fn set_principal(&self, principal: Principal) {
        let mut current = self
            .principal
            .write()
            .unwrap_or_else(PoisonError::into_inner);
        *current = principal;
        self.generation.fetch_add(1, Ordering::AcqRel);
    }

    /// Whether this is the loop polling this link's handler.
    fn in_loop(&self) -> bool {
        POLLING.get() == std::ptr::from_ref(self)
    }

    /// Wakes the loop, unless it is the one running this (it looks at the
    /// link after polling the handler).
    fn wake_loop(&self) {
        if !self.in_loop() {
            self.to_loop.wake();
        }
    }

    // The loop's side.

    /// Polls the handler's future `handler`, as the loop: what the handler
    /// changes on the link meanwhile wakes no one, so the loop must look at
    /// the link after every poll of it. (A poll function, not a future of
    /// its own: the loop's future, which every idle connection holds, stays
    /// as small as it was.)
    pub(crate) fn poll_handler<F: Future + Unpin>(
        &self,
        handler: &mut F,
        cx: &mut Context<'_>,
    ) -> Poll<F::Output> {
        let _polling = Polling::enter(self);
        Pin::new(handler).poll(cx)
    }

    /// Hands a message to the handler, or gives it back if the inbox is full.
    /// A handler waiting inside the loop is not woken: the loop polls it
    /// next.
    pub(crate) fn put(&self, message: Inbound) -> Result<(), Inbound> {
        let mut inbox = lock(&self.inbox);
        if inbox.is_some() {
            return Err(message);
        }
        *inbox = Some(message);
        drop(inbox);
        if !self.handler_in_loop.load(Ordering::Relaxed) {
            self.to_handler.wake();
        }
        Ok(())
    }

    /// Resolves once the handler has taken the inbox's message.
    ///
    /// This and [`ready`](Self::ready) are plain functions, not `async fn`s:
    /// the loop's idle wait holds both futures, and each is then one
    /// reference (an `async fn` would add its own state and a second one).
    pub(crate) fn emptied(&self) -> impl Future<Output = ()> + '_ {
        poll_fn(move |cx| {
            self.to_loop.register(cx.waker());
            if lock(&self.inbox).is_none() {
                Poll::Ready(())
            } else {
                Poll::Pending
            }
        })
    }

    /// Resolves when there is something to send or a flag to look at.
    pub(crate) fn ready(&self) -> impl Future<Output = ()> + '_ {
        poll_fn(move |cx| {
            self.to_loop.register(cx.waker());
            let raised = self.slow.load(Ordering::Acquire)
                || self.invalid.load(Ordering::Acquire)
                || self.revoked.load(Ordering::Acquire)
                || self.closing.load(Ordering::Acquire);
            if raised || lock(&self.outbox).len() > 0 {
                Poll::Ready(())
            } else {
                Poll::Pending
            }
        })
    }

    /// The next message to send, if any.
    ///
    /// Only a pop from a full outbox wakes the handler: that is the one
    /// change a handler can be waiting for ([`push_wait`](Self::push_wait)).
    /// Waking it on every pop would poll the connection's task (loop and
    /// handler share it) once more per delivery, for nothing.
    pub(crate) fn pop(&self) -> Option<Message> {
        let mut outbox = lock(&self.outbox);
        let was_full = outbox.len() >= self.capacity as usize;
        let message = outbox.pop();
        drop(outbox);
        if was_full && message.is_some() {
            self.to_handler.wake();
        }
        message
    }

    /// Raises a flag for the loop.
    pub(crate) fn raise(&self, flag: &AtomicBool) {
        flag.store(true, Ordering::Release);
        self.wake_loop();
    }

    /// Whether the handler reads typed messages (see `reads_typed`).
    pub(crate) fn reads_typed(&self) -> bool {
        self.reads_typed.load(Ordering::Relaxed)
    }

    // The handler's side.

    /// Notes which of its sessions the handler reads through.
    pub(crate) fn read_typed(&self, typed: bool) {
        self.reads_typed.store(typed, Ordering::Relaxed);
    }

    /// Takes the inbox's message, waiting for one.
    pub(crate) async fn take(&self) -> Inbound {
        poll_fn(|cx| {
            self.to_handler.register(cx.waker());
            // Read by `put` after it fills the inbox (the inbox's lock
            // orders the two).
            self.handler_in_loop
                .store(self.in_loop(), Ordering::Relaxed);
            match lock(&self.inbox).take() {
                Some(message) => {
                    self.wake_loop();
                    Poll::Ready(message)
                }
                None => Poll::Pending,
            }
        })
        .await
    }

    /// Queues a message, failing when the outbox is full.
    pub(crate) fn push(&self, message: Message) -> Result<(), QueueError> {
        let mut outbox = lock(&self.outbox);
        if outbox.len() >= self.capacity as usize {
            return Err(QueueError::Full);
        }
        outbox.push(message);
        drop(outbox);
        self.wake_loop();
        Ok(())
    }

    /// Queues a message, waiting for room.
    pub(crate) async fn push_wait(&self, message: Message) {
        let mut message = Some(message);
        poll_fn(|cx| {
            self.to_handler.register(cx.waker());
            let mut outbox = lock(&self.outbox);
            if outbox.len() >= self.capacity as usize {
                return Poll::Pending;
            }
            if let Some(m) = message.take() {
                outbox.push(m);
            }
            drop(outbox);
            self.wake_loop();
            Poll::Ready(())
        })
        .await;
    }
}

#[cfg(test)]
mod tests {
    use std::pin::pin;
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::task::{Context, Poll, Wake, Waker};

    use tungstenite::Message;

    use super::Link;
    use crate::principal::Principal;

    /// A waker that counts its wakes.
    #[derive(Default)]
    struct Count(AtomicUsize);

    impl Wake for Count {
        fn wake(self: Arc<Self>) {
            self.0.fetch_add(1, Ordering::SeqCst);
        }
    }

    fn link(capacity: u32) -> Link {
        Link::new(capacity, Principal::new(None, Vec::new(), &[]))
    }

    fn text(n: usize) -> Message {
        Message::Text(n.to_string().into())
    }

    #[test]
    fn sending_a_delivery_does_not_wake_a_handler_waiting_for_a_message() {
        let link = link(4);
        let count = Arc::new(Count::default());
        let waker = Waker::from(Arc::clone(&count));
        let mut take = pin!(link.take());
        assert!(
            take.as_mut()
                .poll(&mut Context::from_waker(&waker))
                .is_pending()
        );
        for n in 0..3 {
            assert!(link.push(text(n)).is_ok());
        }
        while link.pop().is_some() {}
        assert_eq!(count.0.load(Ordering::SeqCst), 0);
    }

    #[test]
    fn a_pop_from_a_full_outbox_wakes_a_handler_waiting_for_room() {
        let link = link(2);
        for n in 0..2 {
            assert!(link.push(text(n)).is_ok());
        }
        let count = Arc::new(Count::default());
        let waker = Waker::from(Arc::clone(&count));
        let mut cx = Context::from_waker(&waker);
        let mut wait = pin!(link.push_wait(text(2)));
        assert!(wait.as_mut().poll(&mut cx).is_pending());
        assert!(link.pop().is_some());
        assert_eq!(count.0.load(Ordering::SeqCst), 1);
        assert_eq!(wait.as_mut().poll(&mut cx), Poll::Ready(()));
        let sent: Vec<Message> = std::iter::from_fn(|| link.pop()).collect();
        assert_eq!(sent, vec![text(1), text(2)]);
    }

    #[test]
    fn what_the_handler_does_inside_the_loop_wakes_no_one_and_the_rest_wakes_the_loop() {
        let link = link(4);
        let count = Arc::new(Count::default());
        let waker = Waker::from(Arc::clone(&count));
        let mut cx = Context::from_waker(&waker);
        let mut ready = pin!(link.ready());
        assert!(ready.as_mut().poll(&mut cx).is_pending());
        // The handler, polled by the loop, replies: the loop looks next.
        let mut handler = Box::pin(async {
            assert!(link.push(text(0)).is_ok());
        });
        assert_eq!(link.poll_handler(&mut handler, &mut cx), Poll::Ready(()));
        assert_eq!(count.0.load(Ordering::SeqCst), 0);
        assert!(link.pop().is_some());
        // Anyone else (a topic delivery, a session in a task of its own).
        let mut ready = pin!(link.ready());
        assert!(ready.as_mut().poll(&mut cx).is_pending());
        assert!(link.push(text(1)).is_ok());
        assert_eq!(count.0.load(Ordering::SeqCst), 1);
    }
}
