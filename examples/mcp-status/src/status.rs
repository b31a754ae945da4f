//! The MCP server table, and the changes every watcher is told about.
//!
//! # Motivation
//!
//! The original service kept the status of each MCP server in memory and
//! pushed two kinds of news to operators: a server changed state
//! (`mcp_status_change`) and something worth knowing happened to it
//! (`health_event`). A [`StatusBoard`] is that table plus a broadcast
//! channel. The server holds one through `Builder::state`, so each
//! connection's handler reads it from its session; tests and the binary hold
//! clones of the same board (clones share it) and drive it.
//!
//! # Where changes come from
//!
//! - [`StatusBoard::set_state`] and [`StatusBoard::health`]: whatever
//!   monitors the servers (tests call them directly).
//! - [`StatusBoard::simulate`]: the binary's demo mode (`--simulate-every`),
//!   which moves one server a step through
//!   healthy → degraded → down → starting → healthy every period, with the
//!   matching health event ([`StatusBoard::step`] is one such step).
//!
//! A watcher gets the table and its subscription atomically
//! ([`StatusBoard::watch`]): every change is either in the table it starts
//! from or among the updates it receives, never lost between the two.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use tokio::sync::broadcast;
use tokio::task::JoinHandle;

use crate::messages::{HealthEvent, HealthEventLevel, McpStatusChange};
use crate::schemas::{ServerStatus, State};
use crate::time::now_rfc3339;

/// How many updates a slow watcher may fall behind before it is resynced.
pub const UPDATE_BACKLOG: usize = 256;

/// One piece of news for watchers.
#[derive(Clone, Debug, PartialEq)]
pub enum Update {
    /// A server changed state.
    Change(McpStatusChange),
    /// Something happened to a server.
    Health(HealthEvent),
}

/// The board has no server of that name.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("no MCP server named `{0}`")]
pub struct UnknownServer(pub String);

struct Inner {
    servers: Mutex<BTreeMap<String, ServerStatus>>,
    updates: broadcast::Sender<Update>,
}

/// The status of every MCP server, shared by clones.
#[derive(Clone)]
pub struct StatusBoard {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for StatusBoard {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StatusBoard")
            .field("servers", &self.snapshot().len())
            .finish()
    }
}

impl Default for StatusBoard {
    fn default() -> Self {
        Self::new()
    }
}

impl StatusBoard {
    /// An empty board.
    pub fn new() -> Self {
        StatusBoard {
            inner: Arc::new(Inner {
                servers: Mutex::new(BTreeMap::new()),
                updates: broadcast::channel(UPDATE_BACKLOG).0,
            }),
        }
    }

    /// The example's servers: `filesystem` and `github` healthy, `postgres`
    /// degraded, `slack` starting.
    pub fn seeded() -> Self {
        StatusBoard::new()
            .server("filesystem", State::Healthy, Some(12.0))
            .server("github", State::Healthy, Some(85.0))
            .server("postgres", State::Degraded, Some(240.0))
            .server("slack", State::Starting, None)
    }

    /// Adds (or replaces) server `name`, without telling watchers.
    pub fn server(self, name: &str, state: State, latency_ms: Option<f64>) -> Self {
        let status = ServerStatus {
            name: name.to_owned(),
            state,
            latency_ms,
            last_checked: Some(now_rfc3339()),
        };
        self.table().insert(name.to_owned(), status);
        self
    }

    fn table(&self) -> std::sync::MutexGuard<'_, BTreeMap<String, ServerStatus>> {
        self.inner
            .servers
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }

    /// Every server's status, by name.
    pub fn snapshot(&self) -> Vec<ServerStatus> {
        self.table().values().cloned().collect()
    }

    /// The table and a subscription to every update after it.
    pub fn watch(&self) -> (Vec<ServerStatus>, broadcast::Receiver<Update>) {
        let table = self.table();
        let updates = self.inner.updates.subscribe();
        (table.values().cloned().collect(), updates)
    }

    /// Records a check of `server`: its state and latency. Watchers get an
    /// `mcp_status_change` when the state differs from the last one, which
    /// is also returned.
    pub fn set_state(
        &self,
        server: &str,
        state: State,
        latency_ms: Option<f64>,
    ) -> Result<Option<McpStatusChange>, UnknownServer> {
        let mut table = self.table();
        let status = table
            .get_mut(server)
            .ok_or_else(|| UnknownServer(server.to_owned()))?;
        let at = now_rfc3339();
        let previous = status.state;
        status.state = state;
        status.latency_ms = latency_ms;
        status.last_checked = Some(at.clone());
        if previous == state {
            return Ok(None);
        }
        let change = McpStatusChange {
            mcp_id: server.to_owned(),
            old_status: previous,
            new_status: state,
            at,
        };
        // No watcher is not an error. Sent under the lock, so updates go
        // out in the order the table changed.
        let _ = self.inner.updates.send(Update::Change(change.clone()));
        Ok(Some(change))
    }

    /// Tells watchers about `server`: a `health_event`, also returned.
    pub fn health(
        &self,
        server: &str,
        level: HealthEventLevel,
        message: &str,
    ) -> Result<HealthEvent, UnknownServer> {
        let table = self.table();
        if !table.contains_key(server) {
            return Err(UnknownServer(server.to_owned()));
        }
        let event = HealthEvent {
            mcp_id: server.to_owned(),
            level,
            message: message.to_owned(),
            at: now_rfc3339(),
        };
        let _ = self.inner.updates.send(Update::Health(event.clone()));
        Ok(event)
    }

    /// Simulation step `n`: server `n mod count` (by name) moves one state
    /// on, with the health event that goes with its new state. Does nothing
    /// on an empty board.
    pub fn step(&self, n: u64) -> Vec<Update> {
        let names: Vec<String> = self.table().keys().cloned().collect();
        let Some(count) = u64::try_from(names.len()).ok().filter(|c| *c > 0) else {
            return Vec::new();
        };
        let index = usize::try_from(n % count).unwrap_or(0);
        let Some(name) = names.get(index) else {
            return Vec::new();
        };
        let Some(current) = self.table().get(name).map(|s| s.state) else {
            return Vec::new();
        };
        let (next, latency, level, message) = match current {
            State::Healthy => (
                State::Degraded,
                Some(450.0),
                HealthEventLevel::Warning,
                "latency above 400 ms",
            ),
            State::Degraded => (
                State::Down,
                None,
                HealthEventLevel::Critical,
                "health check failed",
            ),
            State::Down => (State::Starting, None, HealthEventLevel::Info, "restarting"),
            State::Starting => (
                State::Healthy,
                Some(20.0),
                HealthEventLevel::Info,
                "recovered",
            ),
        };
        let mut updates = Vec::new();
        if let Ok(Some(change)) = self.set_state(name, next, latency) {
            updates.push(Update::Change(change));
        }
        if let Ok(event) = self.health(name, level, message) {
            updates.push(Update::Health(event));
        }
        updates
    }

    /// Runs [`StatusBoard::step`] every `every` (the first after one
    /// period) until the returned task is aborted.
    pub fn simulate(&self, every: Duration) -> JoinHandle<()> {
        let board = self.clone();
        tokio::spawn(async move {
            let mut ticks = tokio::time::interval(every);
            ticks.tick().await;
            for n in 0.. {
                ticks.tick().await;
                board.step(n);
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn changes_reach_watchers_in_order() {
        let board = StatusBoard::seeded();
        let (table, mut updates) = board.watch();
        let names: Vec<&str> = table.iter().map(|s| s.name.as_str()).collect();
        assert_eq!(names, ["filesystem", "github", "postgres", "slack"]);

        // Same state: no change, only the check is recorded.
        assert_eq!(
            board.set_state("github", State::Healthy, Some(90.0)),
            Ok(None)
        );
        let change = board
            .set_state("github", State::Down, None)
            .unwrap_or_else(|e| panic!("{e}"))
            .unwrap_or_else(|| panic!("a change"));
        assert_eq!(
            (change.old_status, change.new_status),
            (State::Healthy, State::Down)
        );
        let event = board
            .health("github", HealthEventLevel::Critical, "unreachable")
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(updates.recv().await.ok(), Some(Update::Change(change)));
        assert_eq!(updates.recv().await.ok(), Some(Update::Health(event)));
        assert_eq!(
            board.set_state("nope", State::Down, None),
            Err(UnknownServer("nope".into()))
        );
        assert!(board.health("nope", HealthEventLevel::Info, "x").is_err());
    }

    #[test]
    fn simulation_cycles_through_the_states() {
        let board = StatusBoard::new().server("a", State::Healthy, None);
        let mut seen = Vec::new();
        for n in 0..4 {
            for update in board.step(n) {
                match update {
                    Update::Change(c) => seen.push(format!("{:?}", c.new_status)),
                    Update::Health(h) => seen.push(format!("{:?}", h.level)),
                }
            }
        }
        assert_eq!(
            seen,
            [
                "Degraded", "Warning", "Down", "Critical", "Starting", "Info", "Healthy", "Info"
            ]
        );
        assert!(StatusBoard::new().step(3).is_empty());
    }
}
