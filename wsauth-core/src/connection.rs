//! The life of an admitted connection: one task that owns the socket.
//!
//! # Motivation
//!
//! Everything that can end a connection (the client, the handler finishing,
//! a limit, the token expiring, the server shutting down) races everything
//! else. Doing it all in one task, in one `select!`, gives each event one
//! place and one close code, and costs one task per connection. The handler
//! runs as a future polled by this same task; messages reach it, and its
//! outgoing messages come back, through a [`Link`].
//!
//! The loop never awaits the handler's queue while the handler needs to run:
//! a decoded message waits in `pending`, and the socket is not read again
//! until the handler has taken it (which is also what pushes back on a
//! client that sends faster than the handler reads).
//!
//! A handler that panics is polled under `catch_unwind`, so its panic ends
//! the connection like an error it returned (the spec's `server_error`
//! close, an audit event) instead of dropping the task, and with it the
//! TCP connection, without a close frame.

use std::any::Any;
use std::borrow::Cow;
use std::future::poll_fn;
use std::panic::AssertUnwindSafe;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::task::{Context, Poll, ready};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use futures_util::{FutureExt as _, Sink, StreamExt as _};
use tokio::time::{Instant, Sleep, timeout};
use tungstenite::{Message, Utf8Bytes};
use wsauth_spec::{ExpiryPolicy, FailureKind, Frames, Keyword};

use crate::audit::{self, AuditContext};
use crate::cluster::TokenMark;
use crate::descriptor::{ApiDescriptor, EndpointDescriptor, OpenDescriptor, ReceiveDescriptor};
use crate::frame;
use crate::identity::{self, run_checks};
use crate::limits::{Place, RateLimiter, WRITE_TIMEOUT};
use crate::link::{Inbound, Link};
use crate::metrics::{Meter, Other, Received};
use crate::principal::Principal;
use crate::reject::Rejection;
use crate::reject::close_message;
use crate::server::{Open, Socket};
use crate::session::{encode, error_reply};
use crate::store::BoxFuture;
use crate::topics::{self, Asker};

/// What a handler returns: `Ok` ends the connection normally (`completed`),
/// [`CloseWith`] with the spec's code for its kind, any other `Err` with the
/// server-error code (the error is logged, never sent). A handler that
/// panics ends like one that returned an error: the `server_error` close and
/// its generic reason (the panic message goes to the log only).
pub type HandlerResult = Result<(), Box<dyn std::error::Error + Send + Sync>>;

/// Ends a connection with the spec's close code and generic reason for a
/// failure kind, when the handler is the one who decides: a resource that
/// went away (`not_found`), access revoked mid-session (`forbidden`), a
/// message the handler cannot use (`invalid_message`).
///
/// ```
/// # use wsauth_core::{CloseWith, HandlerResult, Session};
/// # use wsauth_core::spec::FailureKind;
/// async fn room(session: Session) -> HandlerResult {
///     # let removed = true;
///     if removed {
///         return Err(CloseWith(FailureKind::NotFound).into());
///     }
///     Ok(())
/// }
/// ```
///
/// Clients act on the code as the spec's catalogue says, as for any other
/// close; the audit log records the handler's decision.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[error("the handler closed the connection: {}", .0.word())]
pub struct CloseWith(pub FailureKind);

impl CloseWith {
    /// The `CloseWith` in `error` or in its chain of sources (so one
    /// wrapped with context by an error library still counts).
    fn find<'a>(error: &'a (dyn std::error::Error + 'static)) -> Option<&'a CloseWith> {
        std::iter::successors(Some(error), |e| e.source()).find_map(|e| e.downcast_ref())
    }
}

/// How long to wait for the client's half of the close handshake.
const CLOSE_TIMEOUT: Duration = Duration::from_secs(5);

/// The same, for a socket refused at the handshake: it has nothing to
/// finish, so it is not kept waiting on.
const REFUSED_CLOSE_TIMEOUT: Duration = Duration::from_secs(1);

/// The framework's own message types; no spec message can be named so.
use wsauth_spec::wire::{REFRESH, REFRESHED};

/// How a connection ended.
enum End {
    /// The server closes with the spec's code for this kind.
    Close(FailureKind),
    /// The client closed or vanished; nothing more to send.
    Gone,
}

/// What one data frame asks of the loop.
enum Step {
    /// Hand this message to the handler.
    Deliver(Inbound),
    /// Answer with this text frame (a heartbeat pong or a typed `error`).
    Reply(Utf8Bytes),
    /// An in-band token refresh (rare: run as a boxed future).
    Refresh(Utf8Bytes),
    /// A topic request (`wsauth.subscribe` and the others), answered by
    /// the loop (run as a boxed future: its checks may await).
    Topic(Utf8Bytes),
    /// The connection ends.
    End(End),
}

/// What the loop knows of a message's payload when it routes it.
enum Payload {
    /// Not checked against its schema yet.
    Unchecked,
    /// Checked; decoded into the typed handler's message when it has one.
    Checked(Option<Box<dyn Any + Send>>),
}

/// An admitted connection: everything its task keeps while it lives.
///
/// The task's future holds this struct once, and the loop borrows it: an
/// idle connection is paid for by the size of that future, so the loop keeps
/// one timer (not one per deadline), sends through the socket's `Sink`
/// directly (a write timer is allocated only when a write stalls), and runs
/// the rare paths (token refresh) as boxed futures.
///
/// Its fields drop in order: the socket, the handler and the user's slot
/// before the context, whose [`Open`] uncounts the connection last (what
/// [`WsAuth::shutdown`](crate::WsAuth::shutdown) waits on).
pub(crate) struct Connection {
    pub(crate) ws: Socket,
    pub(crate) handler: BoxFuture<'static, HandlerResult>,
    pub(crate) expires_at: Option<u64>,
    pub(crate) link: Arc<Link>,
    /// The connection's place among the connection limits, freed when the
    /// connection ends.
    #[expect(dead_code, reason = "held for its `Drop`, which frees the place")]
    pub(crate) slot: Place,
    pub(crate) cx: ConnectionContext,
}

impl Drop for Connection {
    /// However the task ends (even dropped mid-loop), the broker and the
    /// shutdown's listing forget the connection.
    fn drop(&mut self) {
        self.cx.open.topics().hub().leave_all(&self.link);
        self.cx.open.closing().forget(&self.link);
    }
}

/// Who the connection is and what governs it; read by every frame check.
pub(crate) struct ConnectionContext {
    pub(crate) api: &'static ApiDescriptor,
    pub(crate) endpoint: &'static EndpointDescriptor,
    /// Who the connection is now; a refresh replaces it here and in the
    /// [`Link`], where the handler's session reads it.
    pub(crate) principal: Principal,
    /// The path parameters, for the resource checks a refresh runs again.
    pub(crate) params: Arc<[(&'static str, String)]>,
    /// The current token's `iat`: a refresh must not go back to an older one.
    pub(crate) issued_at: Option<u64>,
    pub(crate) audit: AuditContext,
    /// The connection counted open on its endpoint, and the way to what
    /// the server shares with every connection: the authenticator, the
    /// user store and checks a refresh runs again, the check budget, the
    /// topics, the revocations. One pointer rather than a copy of each in
    /// every connection's task.
    pub(crate) open: Open,
    /// The endpoint's counters: frames in and out, and how it ended.
    pub(crate) meter: Meter,
}

/// The message a panic was raised with, when it has one (`panic!` with a
/// literal or with format arguments).
pub(crate) fn panic_message(payload: &(dyn Any + Send)) -> &str {
    payload
        .downcast_ref::<&'static str>()
        .copied()
        .or_else(|| payload.downcast_ref::<String>().map(String::as_str))
        .unwrap_or("(no message)")
}

/// The instant a token stops being acceptable on a live connection, when
/// it expires at `exp` (unix seconds) with `leeway_s` of clock skew allowed.
///
/// One rule everywhere: a token is valid while `now < exp + leeway`, at the
/// handshake and on refresh (the verifier's check) and here, to the
/// millisecond.
///
/// `None` when that is further away than [`EXPIRY_HORIZON`]: such a token
/// (a signed `exp` of year 9999, or `u64::MAX` where the spec sets no
/// `max_ttl_s`) has no deadline a timer can hold, and adding it to `now`
/// would overflow.
fn deadline(exp: u64, leeway_s: u64) -> Option<Instant> {
    if crate::faults::on(crate::faults::Fault::NoExpiry) {
        return None;
    }
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default();
    let until = Duration::from_secs(exp.checked_add(leeway_s)?);
    let left = until.saturating_sub(now);
    if left > EXPIRY_HORIZON {
        return None;
    }
    Instant::now().checked_add(left)
}

/// The furthest expiry a live connection is timed for (ten years).
const EXPIRY_HORIZON: Duration = Duration::from_secs(10 * 365 * 24 * 3600);

/// A frame the loop sends of its own accord, between the handler's: a
/// reply (always text) or a protocol ping.
///
/// The loop's future holds one while a slow client keeps it waiting, so
/// every idle connection pays for its size: 32 bytes, where a [`Message`]
/// takes 56 (for its `Frame` variant, which the loop never sends).
enum Own {
    Text(Utf8Bytes),
    Ping,
}

impl From<Own> for Message {
    fn from(own: Own) -> Self {
        match own {
            Own::Text(text) => Message::Text(text),
            Own::Ping => Message::Ping(bytes::Bytes::new()),
        }
    }
}

/// One step of sending `message` (taken on the first call) through the
/// socket's `Sink`: ready, start, flush.
fn poll_send<M: Into<Message>>(
    ws: &mut Socket,
    message: &mut Option<M>,
    cx: &mut Context<'_>,
) -> Poll<Result<(), tungstenite::Error>> {
    let mut ws = Pin::new(ws);
    if message.is_some() {
        ready!(ws.as_mut().poll_ready(cx))?;
        if let Some(message) = message.take() {
            ws.as_mut().start_send(message.into())?;
        }
    }
    ws.poll_flush(cx)
}

/// One step of sending everything `link`'s outbox holds: each message is
/// framed into the socket's write buffer as the socket accepts it (nothing
/// is popped before), then the buffer is flushed once. `filled` is set
/// when the outbox was found empty: from then on the step only flushes, so
/// a client that does not read cannot pull more out of the bounded outbox
/// into the socket's buffer.
fn poll_send_queued(
    ws: &mut Socket,
    link: &Link,
    meter: &Meter,
    filled: &mut bool,
    cx: &mut Context<'_>,
) -> Poll<Result<(), tungstenite::Error>> {
    let mut ws = Pin::new(ws);
    while !*filled {
        ready!(ws.as_mut().poll_ready(cx))?;
        match link.pop() {
            Some(message) => {
                ws.as_mut().start_send(message)?;
                meter.sent(1);
            }
            None => *filled = true,
        }
    }
    ws.poll_flush(cx)
}

/// Polls `step` until it is done, giving up on a client that does not read
/// within [`WRITE_TIMEOUT`]. The timer is only allocated when the write does
/// not complete at once.
fn within_write_timeout(
    mut step: impl FnMut(&mut Context<'_>) -> Poll<Result<(), tungstenite::Error>>,
) -> impl Future<Output = Result<(), ()>> {
    let mut stalled: Option<Pin<Box<Sleep>>> = None;
    poll_fn(move |cx| {
        if let Poll::Ready(result) = step(cx) {
            return Poll::Ready(result.map_err(|_| ()));
        }
        let timer = stalled.get_or_insert_with(|| Box::pin(tokio::time::sleep(WRITE_TIMEOUT)));
        timer.as_mut().poll(cx).map(|()| Err(()))
    })
}

/// Runs `work` (a topic request's checks, a refresh's) while sending what
/// the outbox fills with meanwhile: a client that reads is not closed as a
/// slow consumer because its loop was busy deciding something else. Once
/// a flag is raised the loop only waits for `work`, and closes after it.
async fn sending_while<T>(
    ws: &mut Socket,
    link: &Link,
    meter: &Meter,
    work: impl Future<Output = T>,
) -> Result<T, End> {
    let mut work = std::pin::pin!(work);
    loop {
        tokio::select! {
            biased;
            output = &mut work => return Ok(output),
            () = link.ready() => {
                if link.slow.load(Ordering::Acquire) || link.invalid.load(Ordering::Acquire) {
                    return Ok(work.await);
                }
                send_queued(ws, link, meter).await.map_err(|()| End::Gone)?;
            }
        }
    }
}

/// Sends a topic request's answer (`wsauth.subscribed`, then the replay of
/// what the client missed) ahead of the live publications already queued
/// behind it. Those keep being taken from the outbox while the answer goes
/// out, into a queue of the answer's length: a client reading as fast as
/// publications arrive catches up, one that does not still overflows the
/// outbox and is closed as a slow consumer.
async fn send_ahead(
    ws: &mut Socket,
    link: &Link,
    meter: &Meter,
    answer: Vec<Message>,
) -> Result<(), End> {
    let room = answer.len();
    let mut queue = std::collections::VecDeque::from(answer);
    while let Some(message) = queue.pop_front() {
        send(ws, message).await.map_err(|()| End::Gone)?;
        meter.sent(1);
        while queue.len() < room
            && let Some(message) = link.pop()
        {
            queue.push_back(message);
        }
    }
    Ok(())
}

/// Sends one message (a [`Message`], or the loop's [`Own`] frame, smaller).
///
/// Not an `async fn`, nor is [`send_queued`]: the returned future holds the
/// message once, inside the step (an `async fn` would keep its argument
/// and the step's copy side by side), and the loop holds this future while
/// it waits on a slow client.
fn send<M: Into<Message>>(ws: &mut Socket, message: M) -> impl Future<Output = Result<(), ()>> {
    let mut message = Some(message);
    within_write_timeout(move |cx| poll_send(ws, &mut message, cx))
}

/// Sends what the outbox holds, as one write when it fits the socket's
/// write buffer ([`WRITE_BATCH_BYTES`](crate::limits::WRITE_BATCH_BYTES)):
/// under fan-out load a subscriber's backlog costs one system call, not one
/// per message. A lone message is written at once, as before: nothing
/// waits for company. One batch per call, so a topic that never goes quiet
/// does not keep the loop from its timers and the client's frames.
fn send_queued<'a>(
    ws: &'a mut Socket,
    link: &'a Link,
    meter: &'a Meter,
) -> impl Future<Output = Result<(), ()>> + 'a {
    let mut filled = false;
    within_write_timeout(move |cx| poll_send_queued(ws, link, meter, &mut filled, cx))
}

/// Closes with the spec's code for `kind`, then keeps reading until the
/// client completes the close handshake (or a timeout passes).
pub(crate) async fn close(ws: &mut Socket, api: &ApiDescriptor, kind: FailureKind) {
    close_within(ws, api, kind, CLOSE_TIMEOUT).await;
}

/// Closes a socket refused at the handshake: like [`close`], waiting at
/// most a second for the client's close.
pub(crate) async fn close_refused(ws: &mut Socket, api: &ApiDescriptor, kind: FailureKind) {
    close_within(ws, api, kind, REFUSED_CLOSE_TIMEOUT).await;
}

async fn close_within(ws: &mut Socket, api: &ApiDescriptor, kind: FailureKind, wait: Duration) {
    if send(ws, close_message(api, kind)).await.is_err() {
        return;
    }
    drain(ws, wait).await;
}

/// Reads until the client completes the close handshake, or `wait` passes.
async fn drain(ws: &mut Socket, wait: Duration) {
    let drain = async { while let Some(Ok(_)) = ws.next().await {} };
    let _ = timeout(wait, drain).await;
}

/// How long a connection may stay silent before it is closed.
fn idle_timeout(endpoint: &EndpointDescriptor) -> Duration {
    Duration::from_secs(u64::from(endpoint.limits.idle_timeout_s))
}

/// How often the server pings (at least every second).
fn ping_interval(endpoint: &EndpointDescriptor) -> Duration {
    Duration::from_secs(u64::from(endpoint.limits.ping_interval_s.max(1)))
}

/// The deadlines the loop's one timer serves.
///
/// A frame does not move the timer: the rate limiter notes when it came
/// ([`RateLimiter::last`]), which it does anyway. When the idle deadline
/// the timer holds passes, the loop closes the connection if no frame came
/// since, else moves the deadline to `idle` after the last one. The
/// connection is closed at the same instant as if every frame had reset
/// the timer, without a timer-wheel update per message.
struct Deadlines {
    /// The idle deadline the timer was last given: no frame for `idle`
    /// after it, the connection is closed.
    idle: Instant,
    /// The next protocol ping.
    ping: Instant,
    /// The token's expiry, when it has one.
    expiry: Option<Instant>,
}

impl Deadlines {
    fn next(&self) -> Instant {
        let first = self.idle.min(self.ping);
        self.expiry.map_or(first, |e| e.min(first))
    }
}

impl Connection {
    /// Runs the connection to its end.
    pub(crate) async fn run(&mut self) {
        let end = self.run_loop().await;
        // Publications stop now, not after the close handshake.
        self.cx.open.topics().hub().leave_all(&self.link);
        let Connection { cx, ws, .. } = self;
        match end {
            End::Close(kind) => {
                cx.meter.closed(Some(kind));
                audit::closed(&cx.audit, kind);
                close(ws, cx.api, kind).await;
            }
            End::Gone => {
                cx.meter.closed(None);
                audit::client_closed(&cx.audit);
                // The client closed first; finish reading so its close
                // handshake completes.
                drain(ws, CLOSE_TIMEOUT).await;
            }
        }
    }

    async fn run_loop(&mut self) -> End {
        let Connection {
            cx,
            ws,
            handler,
            expires_at,
            link: shared_link,
            ..
        } = self;
        let link: &Link = shared_link;
        // Every local kept across an `await` here is paid for by every idle
        // connection: the limits are read where they are used.
        let endpoint = cx.endpoint;
        let mut rate = RateLimiter::new(endpoint.limits.messages_per_second, endpoint.limits.burst);
        let now = Instant::now();
        let mut at = Deadlines {
            idle: now + idle_timeout(endpoint),
            ping: now + ping_interval(endpoint),
            expiry: expires_at.and_then(|exp| deadline(exp, cx.leeway_s())),
        };
        // One timer for every deadline, moved rather than re-created.
        let timer = tokio::time::sleep_until(at.next());
        tokio::pin!(timer);
        // Boxed: a message waits only while the handler is behind, and 48
        // bytes more here would cost every idle connection 128 of task.
        let mut pending: Option<Box<Inbound>> = None;
        loop {
            // The shutdown first, as it was first among the events (it
            // raises `closing`, which also ends the link's wait below).
            if link.closing.load(Ordering::Acquire) {
                return End::Close(FailureKind::GoingAway);
            }
            {
                let next = at.next();
                if timer.deadline() != next {
                    timer.as_mut().reset(next);
                }
            }
            tokio::select! {
                biased;
                // Before the socket: a client that keeps sending (pongs,
                // pings, messages) is still closed at its deadlines.
                () = &mut timer => {
                    let now = Instant::now();
                    if at.idle <= now {
                        at.idle = rate.last() + idle_timeout(endpoint);
                        if at.idle <= now {
                            audit::limit_hit(&cx.audit, FailureKind::IdleTimeout);
                            return End::Close(FailureKind::IdleTimeout);
                        }
                    }
                    if at.expiry.is_some_and(|e| e <= now) {
                        audit::expired(&cx.audit);
                        return End::Close(FailureKind::TokenExpired);
                    }
                    if at.ping <= now {
                        at.ping = now + ping_interval(endpoint);
                        if send(ws, Own::Ping).await.is_err() {
                            return End::Gone;
                        }
                    }
                }
                // Before the link's branches: they look at what the handler
                // did in this same pass (it wakes no one for it).
                result = {
                    let mut handler = AssertUnwindSafe(&mut *handler).catch_unwind();
                    poll_fn(move |cx| link.poll_handler(&mut handler, cx))
                } => {
                    // Deliver what the handler queued before it ended.
                    if send_queued(ws, link, &cx.meter).await.is_err() {
                        return End::Gone;
                    }
                    // The handler is never polled again: the loop ends here.
                    let result = match result {
                        Ok(result) => result,
                        Err(panic) => {
                            let message = panic_message(panic.as_ref());
                            tracing::error!(
                                endpoint = cx.endpoint.name,
                                subject = cx.audit.subject.as_deref().unwrap_or(""),
                                panic = message,
                                "the handler panicked; closing with server_error",
                            );
                            audit::rejected(
                                &cx.audit,
                                FailureKind::ServerError,
                                &format!("handler panicked: {message}"),
                            );
                            return End::Close(FailureKind::ServerError);
                        }
                    };
                    return match result {
                        Ok(()) => End::Close(FailureKind::Completed),
                        Err(e) => match CloseWith::find(e.as_ref()) {
                            Some(&CloseWith(FailureKind::Completed)) => {
                                End::Close(FailureKind::Completed)
                            }
                            Some(&CloseWith(kind)) => {
                                audit::rejected(&cx.audit, kind, "closed by the handler");
                                End::Close(kind)
                            }
                            None => {
                                audit::rejected(&cx.audit, FailureKind::ServerError, &e.to_string());
                                End::Close(FailureKind::ServerError)
                            }
                        },
                    };
                }
                () = link.ready() => {
                    if link.closing.load(Ordering::Acquire) {
                        return End::Close(FailureKind::GoingAway);
                    }
                    if link.slow.load(Ordering::Acquire) {
                        audit::limit_hit(&cx.audit, FailureKind::SlowConsumer);
                        return End::Close(FailureKind::SlowConsumer);
                    }
                    if link.invalid.load(Ordering::Acquire) {
                        return End::Close(FailureKind::InvalidMessage);
                    }
                    if link.revoked.load(Ordering::Acquire) {
                        return End::Close(FailureKind::Revoked);
                    }
                    if send_queued(ws, link, &cx.meter).await.is_err() {
                        return End::Gone;
                    }
                }
                () = link.emptied(), if pending.is_some() => {
                    if let Some(message) = pending.take() {
                        pending = link.put(*message).err().map(Box::new);
                    }
                }
                frame = ws.next(), if pending.is_none() => {
                    let frame = match read(frame) {
                        Ok(frame) => frame,
                        Err(end) => {
                            if matches!(end, End::Close(FailureKind::MessageTooBig)) {
                                audit::limit_hit(&cx.audit, FailureKind::MessageTooBig);
                            }
                            return end;
                        }
                    };
                    // Every frame counts, control frames too: each ping
                    // costs the server a pong.
                    if !rate.allow() {
                        audit::limit_hit(&cx.audit, FailureKind::RateLimited);
                        return End::Close(FailureKind::RateLimited);
                    }
                    // tungstenite answers pings itself, and reading never
                    // yields a raw `Frame` (skipped as axum skipped it).
                    if matches!(frame, Message::Ping(_) | Message::Pong(_) | Message::Frame(_)) {
                        continue;
                    }
                    let reply = match cx.frame(frame, link) {
                        Step::Deliver(message) => {
                            pending = link.put(message).err().map(Box::new);
                            None
                        }
                        Step::Reply(reply) => Some(reply),
                        // One await for both rare steps, the step moved
                        // into it whole: nothing of theirs stays in the
                        // loop's future, which every idle connection pays.
                        step @ (Step::Refresh(_) | Step::Topic(_)) => {
                            let rare = rare_step(cx, ws, shared_link, &mut at.expiry, step);
                            match Box::pin(rare).await {
                                Ok(reply) => reply,
                                Err(end) => return end,
                            }
                        }
                        Step::End(end) => return end,
                    };
                    if let Some(reply) = reply {
                        if send(ws, Own::Text(reply)).await.is_err() {
                            return End::Gone;
                        }
                        cx.meter.sent(1);
                    }
                }
            }
        }
    }
}

/// The frame a read of the socket returned, or how the connection ends:
/// the client closed or vanished, or its message is over the size limit.
/// (It takes the read whole, so the loop keeps nothing of it.)
fn read(received: Option<Result<Message, tungstenite::Error>>) -> Result<Message, End> {
    match received {
        None | Some(Ok(Message::Close(_))) => Err(End::Gone),
        // A message or frame over the endpoint's limit.
        Some(Err(tungstenite::Error::Capacity(_))) => Err(End::Close(FailureKind::MessageTooBig)),
        Some(Err(_)) => Err(End::Gone),
        Some(Ok(frame)) => Ok(frame),
    }
}

/// An in-band refresh or a topic request: answered by the loop, its
/// checks awaited while what the outbox fills with is sent. Returns the
/// reply to send, if any.
async fn rare_step(
    cx: &mut ConnectionContext,
    ws: &mut Socket,
    shared_link: &Arc<Link>,
    expiry: &mut Option<Instant>,
    step: Step,
) -> Result<Option<Utf8Bytes>, End> {
    let link: &Link = shared_link;
    match step {
        Step::Refresh(text) => {
            // Two rounds of checks: the token's, then every
            // subscription's (concurrently), each within the check budget.
            let budget = cx.open.check_budget().saturating_mul(2);
            // The refresh borrows the whole context.
            let meter = cx.meter.clone();
            let refresh = Box::pin(cx.refresh(text.as_str(), expiry, link));
            let refreshed = sending_while(ws, link, &meter, timeout(budget, refresh)).await?;
            match refreshed {
                Ok(Ok(reply)) => Ok(Some(reply)),
                Ok(Err(end)) => Err(end),
                Err(_) => {
                    audit::rejected(
                        &cx.audit,
                        FailureKind::ServerError,
                        "the refresh's checks took longer than their time budget",
                    );
                    Err(End::Close(FailureKind::ServerError))
                }
            }
        }
        Step::Topic(text) => {
            // What was queued before the request goes first: an answer
            // never overtakes it.
            if send_queued(ws, link, &cx.meter).await.is_err() {
                return Err(End::Gone);
            }
            let asker = Asker {
                endpoint: cx.endpoint,
                principal: &cx.principal,
                audit: &cx.audit,
                link: shared_link,
            };
            let request = Box::pin(topics::request(cx.open.topics(), asker, text.as_str()));
            match sending_while(ws, link, &cx.meter, request).await? {
                Ok(replies) => {
                    send_ahead(ws, link, &cx.meter, replies).await?;
                    Ok(None)
                }
                Err(kind) => match cx.refuse(kind) {
                    Step::Reply(reply) => Ok(Some(reply)),
                    Step::End(end) => Err(end),
                    _ => Err(End::Close(FailureKind::ServerError)),
                },
            }
        }
        // The loop hands over only the two steps above.
        _ => Err(End::Close(FailureKind::ServerError)),
    }
}

impl ConnectionContext {
    /// The clock skew the spec allows on `exp`.
    fn leeway_s(&self) -> u64 {
        self.api
            .auth
            .and_then(|a| a.jwt)
            .map_or(0, |jwt| jwt.leeway_s)
    }

    /// Checks one data frame and says what the loop does with it (`link`:
    /// how the handler reads what it is given).
    fn frame(&mut self, frame: Message, link: &Link) -> Step {
        let text = match frame {
            Message::Text(text) => text,
            Message::Binary(bytes) if self.endpoint.frames == Frames::Raw => {
                self.meter.received(Other::Raw);
                return Step::Deliver(Inbound::Binary(bytes));
            }
            _ => {
                self.meter.received(Other::Unknown);
                return self.refuse(FailureKind::InvalidMessage);
            }
        };
        if let Some((ping, pong)) = self.endpoint.heartbeat
            && text.as_str() == ping
        {
            self.meter.received(Other::Heartbeat);
            return Step::Reply(Utf8Bytes::from_static(pong));
        }
        if self.endpoint.frames == Frames::Raw {
            self.meter.received(Other::Raw);
            return Step::Deliver(Inbound::Text(text));
        }
        // The usual frame, its `type` first and naming a message with a
        // payload schema, is parsed once: the schema's check reads all of it,
        // which proves everything `kind_of` would (one JSON object, one
        // string `type`), and for a typed handler decodes it in the same
        // pass. Any other frame, or one the check refuses, takes the long
        // way below, which decides as it always did.
        if let Some((index, spec)) =
            frame::leading_kind(text.as_str()).and_then(|kind| self.receives(kind))
            && let Some(schema) = spec.payload
        {
            let checked = match self.open.decoder().filter(|_| link.reads_typed()) {
                Some(decode) => decode(spec.name, text.as_str(), schema),
                None => crate::payload::check(text.as_str(), schema).map(|()| None),
            };
            if let Ok(decoded) = checked {
                return self.message(index, spec, text, Payload::Checked(decoded));
            }
        }
        let Some(kind) = frame::kind_of(text.as_str()) else {
            self.meter.received(Other::Unknown);
            return self.refuse(FailureKind::InvalidMessage);
        };
        if kind == REFRESH {
            self.meter.received(Other::Refresh);
            return Step::Refresh(text);
        }
        if !self.endpoint.topics.is_empty() && topics::is_request(&kind) {
            self.meter.received(Other::request(&kind));
            return Step::Topic(text);
        }
        let Some((index, spec)) = self.receives(&kind) else {
            let open = self.endpoint.open.filter(|o| o.receives && o.admits(&kind));
            self.meter.received(if open.is_some() {
                Other::Open
            } else {
                Other::Unknown
            });
            return match self.open_message(open, text) {
                Ok(message) => Step::Deliver(message),
                Err(kind) => self.refuse(kind),
            };
        };
        self.message(index, spec, text, Payload::Unchecked)
    }

    /// The endpoint's message named `kind`, and its index.
    fn receives(&self, kind: &str) -> Option<(usize, &'static ReceiveDescriptor)> {
        self.endpoint
            .receives
            .iter()
            .enumerate()
            .find(|(_, r)| r.name == kind)
    }

    /// A frame of the endpoint's message `spec`: counted, its permission
    /// checked, then its payload (unless already checked), and handed over.
    fn message(
        &mut self,
        index: usize,
        spec: &'static ReceiveDescriptor,
        text: Utf8Bytes,
        payload: Payload,
    ) -> Step {
        self.meter.received(Received::Message(index));
        if let Some(perm) = spec.perm
            && !self.principal.has(perm)
        {
            audit::permission_denied(&self.audit, spec.name, perm);
            return self.refuse(FailureKind::Forbidden);
        }
        let decoded = match payload {
            Payload::Checked(decoded) => decoded,
            Payload::Unchecked => {
                if let Some(schema) = spec.payload
                    && let Err(violation) = crate::payload::check(text.as_str(), schema)
                {
                    audit::invalid_message(&self.audit, spec.name, &violation);
                    return self.refuse(FailureKind::InvalidMessage);
                }
                None
            }
        };
        Step::Deliver(match decoded {
            Some(message) => Inbound::Decoded { message, text },
            None => Inbound::Message {
                kind: spec.name,
                text,
            },
        })
    }

    /// Refuses one message: with a typed `error` reply when the endpoint may
    /// send one (the connection stays open), else by closing with the code.
    fn refuse(&self, kind: FailureKind) -> Step {
        match error_reply(self.api, self.endpoint, kind) {
            Some(text) => Step::Reply(text.into()),
            None => Step::End(End::Close(kind)),
        }
    }

    /// In-band token refresh: same subject, verified like the first token.
    /// Returns the reply to send (`wsauth.refreshed`, or a typed `error`).
    /// Once it passes, the handler's session sees the new principal through
    /// `link`.
    async fn refresh(
        &mut self,
        text: &str,
        expiry: &mut Option<Instant>,
        link: &Link,
    ) -> Result<Utf8Bytes, End> {
        let refused = |step: Step| match step {
            Step::Reply(reply) => Ok(reply),
            Step::End(end) => Err(end),
            _ => Err(End::Close(FailureKind::ServerError)),
        };
        let refresh_allowed = self
            .api
            .auth
            .is_some_and(|a| a.on_expiry == ExpiryPolicy::Refresh);
        if !refresh_allowed || self.open.authenticator().is_none() {
            return refused(self.refuse(FailureKind::InvalidMessage));
        }
        #[derive(serde::Deserialize)]
        struct Refresh<'a> {
            #[serde(borrow)]
            token: Cow<'a, str>,
        }
        let Ok(Refresh { token }) = serde_json::from_str::<Refresh<'_>>(text) else {
            return refused(self.refuse(FailureKind::InvalidMessage));
        };
        match self.reidentify(&token, link).await {
            Ok(exp) => {
                link.set_principal(self.principal.clone());
                // Every subscription is decided again for the new roles.
                self.open
                    .topics()
                    .hub()
                    .recheck(&self.principal, link, &self.audit)
                    .await;
                *expiry = deadline(exp, self.leeway_s());
                audit::refreshed(&self.audit, exp);
                let text = encode(REFRESHED, &serde_json::json!({ "exp": exp }))
                    .map_err(|_| End::Close(FailureKind::ServerError))?;
                Ok(text.into())
            }
            Err(rejection) => {
                audit::rejected(&self.audit, rejection.kind, &rejection.detail);
                Err(End::Close(rejection.kind))
            }
        }
    }

    /// Checks a refresh token like the first one (same subject, user still
    /// active, endpoint permission still held, the endpoint's resource
    /// checks still allowing it on this connection's path) and, if it
    /// passes, replaces the principal: the new roles govern every later
    /// message. Returns the new `exp`.
    async fn reidentify(&mut self, token: &str, link: &Link) -> Result<u64, Rejection> {
        if token.len() > wsauth_spec::wire::MAX_TOKEN_BYTES {
            return Err(Rejection::new(
                FailureKind::AuthFailed,
                "refresh token too long",
            ));
        }
        let claims = identity::verify(self.open.authenticator(), token).await?;
        if Some(claims.subject.as_str()) != self.principal.subject() {
            return Err(Rejection::new(
                FailureKind::AuthFailed,
                "refresh token has another subject",
            ));
        }
        // A refresh moves forward: a token issued before the current one
        // (one that leaked earlier, say) cannot replace it.
        if let Some(current) = self.issued_at
            && claims.iat.is_none_or(|iat| iat < current)
        {
            return Err(Rejection::new(
                FailureKind::AuthFailed,
                "refresh token is older than the current one",
            ));
        }
        // In memory, and recorded on the link in the same step, so that a
        // revocation racing the refresh sees the new token.
        if self
            .open
            .revocations()
            .refreshed(&claims.subject, link, TokenMark::of(&claims))
            .is_err()
        {
            return Err(Rejection::new(
                FailureKind::Revoked,
                "refresh token revoked",
            ));
        }
        if let Some(users) = self.open.users() {
            identity::check_user(Some(users), &claims.subject).await?;
        }
        let principal = Principal::shared(
            self.principal.shared_subject().cloned(),
            claims.roles,
            self.api.roles,
        );
        if let Some(perm) = self.endpoint.perm
            && !principal.has(perm)
        {
            return Err(Rejection::new(
                FailureKind::Forbidden,
                format!("refreshed token lacks `{perm}`"),
            ));
        }
        // Access may have been revoked since the handshake (the user left
        // the conversation): the checks decide again, for the new
        // principal, and their refusal closes with their kind.
        run_checks(self.open.checks(), self.endpoint, &principal, &self.params).await?;
        self.principal = principal;
        self.issued_at = claims.iat;
        Ok(claims.exp)
    }
}

impl ConnectionContext {
    /// A client's message whose `type` is not one the endpoint receives:
    /// handed over as an open message when the endpoint allows them and the
    /// type is not declared (else invalid), and when the client holds the
    /// spec's permission for them (else forbidden). The loop refuses with
    /// the failure kind returned.
    pub(crate) fn open_message(
        &self,
        open: Option<OpenDescriptor>,
        text: Utf8Bytes,
    ) -> Result<Inbound, FailureKind> {
        let Some(open) = open else {
            return Err(FailureKind::InvalidMessage);
        };
        if let Some(perm) = open.perm
            && !self.principal.has(perm)
        {
            // The client's own `type` is not logged: it is anything it chose.
            audit::permission_denied(&self.audit, "(open)", perm);
            return Err(FailureKind::Forbidden);
        }
        Ok(Inbound::Open { text })
    }
}

#[cfg(test)]
mod tests {
    use std::time::{Duration, SystemTime, UNIX_EPOCH};

    use tokio::time::Instant;

    use super::deadline;

    fn unix_now() -> u64 {
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_secs())
    }

    #[test]
    fn far_or_absurd_expiries_have_no_deadline_instead_of_overflowing() {
        assert!(deadline(u64::MAX, 0).is_none());
        assert!(deadline(u64::MAX - 1, 5).is_none());
        assert!(deadline(253_402_300_799, 0).is_none()); // 9999-12-31T23:59:59Z
        assert!(deadline(unix_now() + 60, 0).is_some());
        assert!(deadline(0, 0).is_some()); // already passed: due now
    }

    #[test]
    fn the_deadline_is_exp_plus_leeway_to_the_millisecond() {
        let exp = unix_now() + 10;
        let (Some(plain), Some(lenient)) = (deadline(exp, 0), deadline(exp, 5)) else {
            panic!("no deadline");
        };
        let apart = lenient - plain;
        assert!(
            apart.abs_diff(Duration::from_secs(5)) < Duration::from_millis(50),
            "{apart:?}"
        );
        // Not rounded to whole seconds from now: `exp` is a point in time.
        let exact = Duration::from_secs(exp)
            - SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .unwrap_or_default();
        let left = plain - Instant::now();
        assert!(
            left.abs_diff(exact) < Duration::from_millis(50),
            "{left:?} vs {exact:?}"
        );
    }
}
