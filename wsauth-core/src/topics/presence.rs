//! Who is present on an instance: its subscribed subjects, counted by
//! connection, and the ones that just left.
//!
//! # Motivation
//!
//! Every `joined`/`left` is a frame to every other subscriber, so a client
//! that subscribes and unsubscribes in a loop (or reconnects over a flaky
//! network) would have the server write two frames per subscriber per
//! toggle. A subject whose last connection leaves lingers for
//! [`PRESENCE_LINGER_MS`]: it is still listed, `left` is announced only
//! once the linger passes, and a return within it announces nothing. An
//! instance thus tells at most one `joined` and one `left` per subject per
//! linger. Anonymous connections are not counted.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use tokio::time::Instant;
use wsauth_spec::wire::PRESENCE_LINGER_MS;

/// How long a subject that left still counts as present.
pub(crate) const LINGER: Duration = Duration::from_millis(PRESENCE_LINGER_MS);

#[derive(Debug, Default)]
pub(super) struct Presence {
    subjects: BTreeMap<Arc<str>, Seat>,
}

#[derive(Debug)]
struct Seat {
    /// The subject's subscribed connections.
    connections: u32,
    /// When its last connection left, while it lingers.
    left_at: Option<Instant>,
}

impl Presence {
    /// A connection of `subject` subscribed; `true` when the others are to
    /// hear it `joined` (it was not present, nor lingering).
    pub(super) fn arrive(&mut self, subject: &Arc<str>) -> bool {
        let seat = self.subjects.entry(Arc::clone(subject)).or_insert(Seat {
            connections: 0,
            left_at: None,
        });
        seat.connections += 1;
        let lingered = seat.left_at.take().is_some();
        seat.connections == 1 && !lingered
    }

    /// A connection of `subject` left; `true` when that was its last, so
    /// it now lingers and [`Presence::settle`] is due after [`LINGER`].
    pub(super) fn depart(&mut self, subject: &str, now: Instant) -> bool {
        let Some(seat) = self.subjects.get_mut(subject) else {
            return false;
        };
        seat.connections = seat.connections.saturating_sub(1);
        if seat.connections > 0 {
            return false;
        }
        seat.left_at = Some(now);
        true
    }

    /// Forgets the subjects that lingered [`LINGER`] by `now`, returning
    /// them (the others are to hear they `left`).
    pub(super) fn settle(&mut self, now: Instant) -> Vec<Arc<str>> {
        let mut gone = Vec::new();
        self.subjects.retain(|subject, seat| {
            let over = seat.left_at.is_some_and(|at| at + LINGER <= now);
            if over {
                gone.push(Arc::clone(subject));
            }
            !over
        });
        gone
    }

    /// The subjects present whose linger (if any) is not over by `now`:
    /// what this node tells the cluster.
    #[cfg(feature = "redis")]
    pub(super) fn staying(&self, now: Instant) -> Vec<String> {
        self.subjects
            .iter()
            .filter(|(_, seat)| seat.left_at.is_none_or(|at| at + LINGER > now))
            .map(|(subject, _)| subject.to_string())
            .collect()
    }

    /// The subjects present (lingering ones included), sorted.
    pub(super) fn subjects(&self) -> Vec<&str> {
        self.subjects.keys().map(|s| &**s).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_subject_is_announced_on_its_first_connection_and_after_its_last_lingered() {
        let mut presence = Presence::default();
        let alice: Arc<str> = Arc::from("alice");
        let t0 = Instant::now();
        assert!(presence.arrive(&alice), "joined");
        assert!(!presence.arrive(&alice), "a second connection is no news");
        assert!(!presence.depart("alice", t0));
        assert!(presence.depart("alice", t0), "the last one lingers");
        assert_eq!(presence.subjects(), ["alice"]);
        assert!(presence.settle(t0 + LINGER / 2).is_empty());
        // Back within the linger: nothing to announce either way.
        assert!(!presence.arrive(&alice));
        assert!(presence.depart("alice", t0 + LINGER / 2));
        assert!(
            presence.settle(t0 + LINGER).is_empty(),
            "the linger restarted"
        );
        assert_eq!(presence.settle(t0 + LINGER * 3 / 2), [Arc::clone(&alice)]);
        assert!(presence.subjects().is_empty());
        assert!(presence.arrive(&alice), "a new arrival");
    }
}
