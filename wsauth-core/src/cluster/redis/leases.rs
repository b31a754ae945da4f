//! Per-user connection slots across nodes: leases in Redis.
//!
//! # Motivation
//!
//! "Exactly N across all nodes" needs one atomic count-and-take, so a slot
//! is taken by one script (`lua/lease.lua`: drop lapsed leases, count, add)
//! in a ZSET per subject whose members are `<node>:<connection>` and whose
//! scores are when each lease lapses, in Redis's own clock. A node that
//! dies cannot give its slots back, so leases lapse `lease_ttl` after their
//! last renewal; the node's renewer renews all of its own every
//! `renew_every` (`lua/renew.lua`, one script per batch). A closed
//! connection's lease is removed at once by the releaser, and again after
//! a renewal batch that was in flight when it closed (which may have
//! re-created it).
//!
//! Renewal re-creates a lease that lapsed (the node was cut off longer than
//! `lease_ttl`, Redis lost its data, or the connection was admitted under
//! [`FailurePolicy::Degrade`]): live connections are never closed for
//! Redis's sake, so a user can hold more than N until some close; new ones
//! are refused meanwhile.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, LazyLock, Mutex, PoisonError};
use std::time::Duration;

use ::redis::Script;
use tokio::sync::mpsc;
use tokio::time::Instant;
use wsauth_spec::FailureKind;

use super::{NodeShared, is_unreachable, within};
use crate::cluster::FailurePolicy;
use crate::metrics::RedisOp;
use crate::reject::Rejection;

static LEASE: LazyLock<Script> = LazyLock::new(|| Script::new(include_str!("lua/lease.lua")));
static RENEW: LazyLock<Script> = LazyLock::new(|| Script::new(include_str!("lua/renew.lua")));

/// Leases renewed by one script call.
const RENEW_BATCH: usize = 256;

/// Closed connections' leases removed in one round trip, at most.
const RELEASE_BATCH: usize = 512;

/// How often releases waiting for Redis look again.
const RELEASE_RETRY: Duration = Duration::from_millis(200);

/// The node's own leases: connection number → subject.
pub(super) struct Table {
    held: Mutex<HashMap<u64, Arc<str>>>,
    next: AtomicU64,
    released: mpsc::UnboundedSender<(Arc<str>, u64)>,
}

/// One connection's lease; dropping it removes the lease.
pub(crate) struct Held {
    table: Arc<Table>,
    connection: u64,
}

impl Table {
    /// An empty table, and where it sends the leases to remove.
    pub(super) fn new() -> (Arc<Self>, mpsc::UnboundedReceiver<(Arc<str>, u64)>) {
        let (released, receiver) = mpsc::unbounded_channel();
        let table = Table {
            held: Mutex::new(HashMap::new()),
            next: AtomicU64::new(0),
            released,
        };
        (Arc::new(table), receiver)
    }

    fn hold(self: &Arc<Self>, connection: u64, subject: &Arc<str>) -> Held {
        self.held
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(connection, Arc::clone(subject));
        Held {
            table: Arc::clone(self),
            connection,
        }
    }

    fn snapshot(&self) -> Vec<(u64, Arc<str>)> {
        let held = self.held.lock().unwrap_or_else(PoisonError::into_inner);
        held.iter().map(|(c, s)| (*c, Arc::clone(s))).collect()
    }

    /// Releases again every lease of `batch` whose connection is no longer
    /// held: it closed while its renewal was in flight, and the renewal may
    /// have re-created the lease after the first release (ZREM is
    /// idempotent, and these go after it in the releaser's queue).
    fn release_closed(&self, batch: &[(u64, Arc<str>)]) {
        let held = self.held.lock().unwrap_or_else(PoisonError::into_inner);
        for (connection, subject) in batch {
            if !held.contains_key(connection) {
                let _ = self.released.send((Arc::clone(subject), *connection));
            }
        }
    }
}

impl Drop for Held {
    fn drop(&mut self) {
        let subject = self
            .table
            .held
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .remove(&self.connection);
        if let Some(subject) = subject {
            // The releaser may be gone (the server is being dropped): the
            // lease then lapses by itself.
            let _ = self.table.released.send((subject, self.connection));
        }
    }
}

/// A lease `lua/lease.lua` may have taken for no one: released when
/// dropped unless disarmed. Armed before the call, so a call whose future
/// is dropped (the handshake was abandoned) or times out after the script
/// was sent leaves no unowned lease.
struct Pending<'a> {
    table: &'a Table,
    subject: &'a Arc<str>,
    connection: u64,
    armed: bool,
}

impl Pending<'_> {
    /// The connection owns the lease (if any) from here on.
    fn disarm(mut self) {
        self.armed = false;
    }
}

impl Drop for Pending<'_> {
    fn drop(&mut self) {
        if self.armed {
            let _ = self
                .table
                .released
                .send((Arc::clone(self.subject), self.connection));
        }
    }
}

impl NodeShared {
    fn member(&self, connection: u64) -> String {
        format!("{}:{connection}", self.id)
    }
}

/// Takes one of `subject`'s `max` slots: `too_many_connections` when all
/// are held; while Redis is unreachable, the failure policy decides.
pub(super) async fn take(
    shared: &Arc<NodeShared>,
    subject: &Arc<str>,
    max: u32,
) -> Result<Held, Rejection> {
    let connection = shared.leases.next.fetch_add(1, Ordering::Relaxed);
    if shared.up() {
        let pending = Pending {
            table: &shared.leases,
            subject,
            connection,
            armed: true,
        };
        let mut commands = shared.commands();
        let taken = within(
            shared,
            RedisOp::Lease,
            LEASE
                .key(shared.keys.lease(subject))
                .arg(shared.member(connection))
                .arg(max)
                .arg(shared.lease_ttl.as_millis() as u64)
                .invoke_async::<i64>(&mut commands),
        )
        .await;
        match taken {
            Ok(1) => {
                pending.disarm();
                return Ok(shared.leases.hold(connection, subject));
            }
            Ok(_) => {
                return Err(Rejection::new(
                    FailureKind::TooManyConnections,
                    "cluster-wide connection limit reached",
                ));
            }
            Err(e) => {
                shared.failed(&e);
                // Admitted below, the connection owns whatever lease the
                // call took; refused, the guard releases it.
                if shared.policy == FailurePolicy::Degrade {
                    pending.disarm();
                }
            }
        }
    }
    match shared.policy {
        FailurePolicy::Refuse => Err(Rejection::new(
            FailureKind::Unavailable,
            "redis unreachable: new connections refused (policy `refuse`)",
        )),
        // Leased by the renewer once Redis is back.
        FailurePolicy::Degrade => Ok(shared.leases.hold(connection, subject)),
    }
}

/// Renews every lease of the node every `renew_every`, and at once when
/// Redis comes back.
pub(super) async fn renew(shared: Arc<NodeShared>) {
    loop {
        tokio::select! {
            () = tokio::time::sleep(shared.renew_every) => {}
            () = shared.back.notified() => {}
        }
        if !shared.up() {
            continue;
        }
        let ttl = shared.lease_ttl.as_millis() as u64;
        for batch in shared.leases.snapshot().chunks(RENEW_BATCH) {
            let mut renewal = RENEW.prepare_invoke();
            renewal.arg(ttl);
            for (connection, subject) in batch {
                renewal
                    .key(shared.keys.lease(subject))
                    .arg(shared.member(*connection));
            }
            let mut commands = shared.commands();
            let renewed = within(
                &shared,
                RedisOp::Renew,
                renewal.invoke_async::<Vec<u64>>(&mut commands),
            )
            .await;
            shared.leases.release_closed(batch);
            match renewed {
                Ok(lapsed) if !lapsed.is_empty() => tracing::info!(
                    target: "wsauth::cluster",
                    node = %shared.id,
                    lapsed = lapsed.len(),
                    "leases of live connections had lapsed and were taken again"
                ),
                Ok(_) => {}
                Err(e) => {
                    shared.failed(&e);
                    break;
                }
            }
        }
    }
}

/// Removes the leases of closed connections, many in one round trip. While
/// Redis is unreachable they wait (a lease a timed-out `lease.lua` call
/// may still have taken must not be left to block its user for a whole
/// lease lifetime); once Redis has been away for `lease_ttl`, every lease
/// they name has lapsed by itself and they are dropped.
pub(super) async fn release(
    shared: Arc<NodeShared>,
    mut released: mpsc::UnboundedReceiver<(Arc<str>, u64)>,
) {
    let mut batch = Vec::with_capacity(RELEASE_BATCH);
    let mut unreachable_since: Option<Instant> = None;
    loop {
        if batch.is_empty() {
            if released.recv_many(&mut batch, RELEASE_BATCH).await == 0 {
                return;
            }
        } else {
            while batch.len() < RELEASE_BATCH {
                match released.try_recv() {
                    Ok(closed) => batch.push(closed),
                    Err(_) => break,
                }
            }
        }
        if !shared.reachable() {
            let since = *unreachable_since.get_or_insert_with(Instant::now);
            if since.elapsed() >= shared.lease_ttl {
                batch.clear();
            }
            tokio::time::sleep(RELEASE_RETRY).await;
            continue;
        }
        unreachable_since = None;
        // One round trip for every connection closed meanwhile: a mass
        // close frees its slots at once, not one by one behind each other.
        let mut pipe = ::redis::pipe();
        for (subject, connection) in &batch {
            pipe.cmd("ZREM")
                .arg(shared.keys.lease(subject))
                .arg(shared.member(*connection))
                .ignore();
        }
        let mut commands = shared.commands();
        let removed = within(
            &shared,
            RedisOp::Release,
            pipe.query_async::<()>(&mut commands),
        )
        .await;
        match removed {
            // ZREM is idempotent: a batch Redis may have run is sent again.
            Err(e) if is_unreachable(&e) => shared.failed(&e),
            Err(e) => {
                shared.failed(&e);
                batch.clear();
            }
            Ok(()) => batch.clear(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_connection_closed_during_its_renewal_is_released_again() {
        let (table, mut released) = Table::new();
        let (alice, bob): (Arc<str>, Arc<str>) = (Arc::from("alice"), Arc::from("bob"));
        let a = table.hold(1, &alice);
        let _b = table.hold(2, &bob);
        let mut batch = table.snapshot();
        batch.sort_by_key(|(connection, _)| *connection);
        drop(a);
        table.release_closed(&batch);
        let mut sent = Vec::new();
        while let Ok((subject, connection)) = released.try_recv() {
            sent.push((subject.to_string(), connection));
        }
        assert_eq!(sent, [("alice".to_owned(), 1), ("alice".to_owned(), 1)]);
    }

    #[test]
    fn a_lease_call_not_admitted_is_released() {
        let (table, mut released) = Table::new();
        let alice: Arc<str> = Arc::from("alice");
        let pending = |connection| Pending {
            table: &table,
            subject: &alice,
            connection,
            armed: true,
        };
        drop(pending(1));
        pending(2).disarm();
        let sent: Vec<u64> = std::iter::from_fn(|| released.try_recv().ok())
            .map(|(_, connection)| connection)
            .collect();
        assert_eq!(sent, [1], "dropped armed: released; disarmed: kept");
    }
}
