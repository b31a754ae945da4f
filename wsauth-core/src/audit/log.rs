//! [`AuditLog`]: audit events as JSON lines, written by a thread of their
//! own.
//!
//! Formatting an event through a `tracing` subscriber costs about a
//! quarter of a handshake (the JSON formatter re-serializes the spans each
//! time). Here a connection encodes its line straight into a shared
//! buffer, under a lock held only for that, and a writer thread takes the
//! whole buffer, swaps in an empty one and writes it at once: the
//! connection never waits on the writer's I/O, lines keep the order they
//! were made in, and many lines go out in one write. The writer wakes for
//! the first line after a quiet spell, then gathers for [`BATCH_WAIT`]
//! (less once [`HURRY_BYTES`] wait, or when asked to flush): waking it for
//! every line cost a futex call and a context switch each, several times
//! the line's own cost.
//!
//! Nothing is dropped: when [`MAX_PENDING_BYTES`] are waiting, the next
//! event waits for the writer to take them (back-pressure from a log that
//! cannot keep up, rather than a gap in the audit trail). A write that
//! fails (or a writer that panics) loses its lines: they are counted
//! ([`AuditLog::lost`]), each failed write is reported as an error on
//! target `wsauth::audit_log`, and the next batch is tried again.

use std::fmt;
use std::io::{self, Write};
use std::panic::{self, AssertUnwindSafe};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError};
use std::thread::JoinHandle;
use std::time::{Duration, SystemTime};

use super::line::{Level, Line};

/// Lines (in bytes) waiting for the writer before an event waits for it.
const MAX_PENDING_BYTES: usize = 1 << 20;
/// Lines (in bytes) waiting that make the writer write without gathering
/// any longer.
const HURRY_BYTES: usize = 64 << 10;
/// How long the writer gathers lines after the first one of a batch: the
/// most a line waits before its write begins.
const BATCH_WAIT: Duration = Duration::from_millis(10);

/// Where a server's audit events go, as JSON lines, instead of `tracing`.
///
/// Give it to [`Builder::audit`](crate::Builder::audit). Each event is one
/// line of one JSON object: `timestamp` (RFC 3339, UTC, milliseconds),
/// `level` (`INFO` or `WARN`), `target` (`wsauth::audit`), `event`, and the
/// fields the `tracing` event of that name carries, under the same names:
/// the lines `tracing-subscriber`'s JSON formatter writes with
/// `flatten_event(true)`. Tokens are never among them.
///
/// A thread writes the lines, in batches gathered for up to 10 ms; clones
/// share it. When the last clone is dropped the thread writes what is left
/// and ends. [`AuditLog::flush`] waits until every line made so far is
/// written.
#[derive(Clone)]
pub struct AuditLog {
    writer: Arc<Writer>,
}

impl fmt::Debug for AuditLog {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AuditLog")
            .field("lost", &self.lost())
            .finish_non_exhaustive()
    }
}

/// The handles' side: stops and joins the thread when the last goes.
struct Writer {
    shared: Arc<Shared>,
    thread: Option<JoinHandle<()>>,
}

/// What the connections and the writer thread share.
#[derive(Default)]
struct Shared {
    state: Mutex<State>,
    /// Lines are waiting (signalled when the buffer stops being empty).
    ready: Condvar,
    /// The writer took or wrote lines.
    drained: Condvar,
}

#[derive(Default)]
struct State {
    /// Lines made and not yet taken by the writer.
    pending: Vec<u8>,
    /// How many lines `pending` holds.
    pending_lines: u64,
    /// Lines made since the start.
    made: u64,
    /// Lines the writer has finished with (written or lost).
    done: u64,
    /// Lines lost to failed writes.
    lost: u64,
    /// Write what is waiting now (a flush, or [`HURRY_BYTES`] waiting).
    hurry: bool,
    /// The last handle is gone: write what is left and stop.
    closed: bool,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, State> {
        // A panic while holding the lock leaves at worst a partial line.
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl AuditLog {
    /// Writes the events as JSON lines to `out` (a file, stdout, a pipe),
    /// from a thread started here; each batch of lines is written with
    /// `write_all` and then flushed.
    pub fn json_lines(out: impl Write + Send + 'static) -> io::Result<AuditLog> {
        let shared = Arc::new(Shared::default());
        let thread = std::thread::Builder::new()
            .name("wsauth-audit".into())
            .spawn({
                let shared = Arc::clone(&shared);
                move || write_until_closed(&shared, out)
            })?;
        Ok(AuditLog {
            writer: Arc::new(Writer {
                shared,
                thread: Some(thread),
            }),
        })
    }

    /// Blocks until every line made before the call has been written (or
    /// lost to a failed write). Blocks the thread: in async code call it
    /// from `spawn_blocking`, or at shutdown.
    pub fn flush(&self) {
        let shared = &self.writer.shared;
        let mut state = shared.lock();
        let made = state.made;
        if state.done < made {
            state.hurry = true;
            shared.ready.notify_one();
        }
        while state.done < made {
            state = shared
                .drained
                .wait(state)
                .unwrap_or_else(PoisonError::into_inner);
        }
    }

    /// Lines lost to failed writes since the start.
    pub fn lost(&self) -> u64 {
        self.writer.shared.lock().lost
    }

    /// Makes one line: `fields` adds the event's fields after `event`.
    pub(crate) fn event(
        &self,
        level: Level,
        event: &'static str,
        fields: impl FnOnce(&mut Line<'_>),
    ) {
        let now = SystemTime::now();
        let shared = &self.writer.shared;
        let mut state = shared.lock();
        while state.pending.len() >= MAX_PENDING_BYTES {
            state = shared
                .drained
                .wait(state)
                .unwrap_or_else(PoisonError::into_inner);
        }
        let before = state.pending.len();
        let mut line = Line::start(&mut state.pending, now, level, event);
        fields(&mut line);
        line.end();
        state.pending_lines += 1;
        state.made += 1;
        // The writer sleeps until a first line, then gathers until told to
        // hurry or its time is up: wake it only for those.
        let hurry = before < HURRY_BYTES && state.pending.len() >= HURRY_BYTES;
        state.hurry |= hurry;
        drop(state);
        if before == 0 || hurry {
            shared.ready.notify_one();
        }
    }
}

impl Drop for Writer {
    fn drop(&mut self) {
        self.shared.lock().closed = true;
        self.shared.ready.notify_one();
        if let Some(thread) = self.thread.take() {
            // The thread does not panic (its only calls are the writer's,
            // whose errors and panics it counts); nothing to report if it did.
            let _ = thread.join();
        }
    }
}

/// The writer thread: waits for a first line, gathers more for
/// [`BATCH_WAIT`] unless told to hurry, takes every waiting line at once,
/// writes them, and does it again, until the last handle is gone and
/// nothing is left.
fn write_until_closed(shared: &Shared, mut out: impl Write) {
    let mut batch = Vec::new();
    loop {
        let lines = {
            let mut state = shared.lock();
            while state.pending.is_empty() && !state.closed {
                state = shared
                    .ready
                    .wait(state)
                    .unwrap_or_else(PoisonError::into_inner);
            }
            if state.pending.is_empty() {
                return;
            }
            // Anyone waking the writer now (a flush, the last handle
            // going, a full batch) wants the lines written: one wait.
            if !state.hurry && !state.closed {
                state = shared
                    .ready
                    .wait_timeout(state, BATCH_WAIT)
                    .unwrap_or_else(PoisonError::into_inner)
                    .0;
            }
            state.hurry = false;
            std::mem::swap(&mut state.pending, &mut batch);
            std::mem::take(&mut state.pending_lines)
        };
        // Room for waiting events.
        shared.drained.notify_all();
        // A writer that panics loses its batch like one that fails: the
        // thread goes on, so events never wait for a writer that is gone.
        let written = panic::catch_unwind(AssertUnwindSafe(|| {
            out.write_all(&batch).and_then(|()| out.flush())
        }))
        .unwrap_or_else(|_| Err(io::Error::other("the writer panicked")));
        batch.clear();
        let mut state = shared.lock();
        state.done += lines;
        let failed = written.err().map(|error| {
            state.lost += lines;
            (error, state.lost)
        });
        drop(state);
        shared.drained.notify_all();
        if let Some((error, lost_in_all)) = failed {
            tracing::error!(
                target: "wsauth::audit_log",
                %error,
                lost = lines,
                lost_in_all,
                "audit lines lost to a failed write"
            );
        }
    }
}
