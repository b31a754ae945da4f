//! The MCP server table, and the changes every watcher is told about.
//!
//! # Motivation
//!
//! The original service kept the status of each MCP server in memory and
//! pushed two kinds of news to operators: a server changed state
//! (`mcp_status_change`) and something worth knowing happened to it
//! (`health_event`). A [`StatusBoard`] is that table; the news goes out on
//! the spec's `status` topic, which the `status` endpoint gets as its own
//! messages. The server holds the board through `Builder::state`, so each
//! connection's handler reads it from its session, and [`app`](crate::app)
//! gives the board the server's [`Topics`] to publish on; tests and the
//! binary hold clones of the same board (clones share it) and drive it.
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
//! # No change lost, none early
//!
//! Every change is either in the table a watcher starts from or among the
//! updates it receives, never lost between the two and never sent before
//! the table. The board changes and publishes under one async lock, and a
//! watcher holds that lock ([`StatusBoard::hold`]) while it reads the
//! table, sends it and joins the topic: no change can fall between its
//! snapshot and its join. A watcher that stops reading is closed by the
//! server with the spec's `slow_consumer` code; it reconnects for a fresh
//! table.

use std::collections::BTreeMap;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use tokio::sync::{Mutex, MutexGuard};
use tokio::task::JoinHandle;
use wsauth_core::{PublishError, Topics};

use crate::messages::{HealthEvent, HealthEventLevel, McpStatusChange};
use crate::schemas::{ServerStatus, State};
use crate::time::now_rfc3339;
use crate::topics::status;

/// One piece of news for watchers.
#[derive(Clone, Debug, PartialEq)]
pub enum Update {
    /// A server changed state.
    Change(McpStatusChange),
    /// Something happened to a server.
    Health(HealthEvent),
}

/// Why the board refused a change.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum BoardError {
    /// The board has no server of that name.
    #[error("no MCP server named `{0}`")]
    UnknownServer(String),
    /// The server refused the publication (the change itself was made).
    #[error("publishing a status update: {0}")]
    Publish(#[from] PublishError),
}

/// The board already publishes through another server's topics.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("the status board is already served by another server")]
pub struct AlreadyServed;

struct Inner {
    servers: Mutex<BTreeMap<String, ServerStatus>>,
    /// The server's topics, once [`StatusBoard::serve_on`] gave them;
    /// before that nobody can be watching.
    topics: OnceLock<Topics>,
}

/// The status of every MCP server, shared by clones.
#[derive(Clone)]
pub struct StatusBoard {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for StatusBoard {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StatusBoard")
            .field("served", &self.inner.topics.get().is_some())
            .finish_non_exhaustive()
    }
}

impl Default for StatusBoard {
    fn default() -> Self {
        Self::new([])
    }
}

/// A server's status, checked now.
pub fn checked(name: &str, state: State, latency_ms: Option<f64>) -> ServerStatus {
    ServerStatus {
        name: name.to_owned(),
        state,
        latency_ms,
        last_checked: Some(now_rfc3339()),
    }
}

/// The table, held: changes wait until it is dropped (see
/// [`StatusBoard::hold`]).
pub struct Held<'a>(MutexGuard<'a, BTreeMap<String, ServerStatus>>);

impl Held<'_> {
    /// Every server's status, by name.
    pub fn servers(&self) -> Vec<ServerStatus> {
        self.0.values().cloned().collect()
    }
}

impl StatusBoard {
    /// A board of `servers` (a later one replaces an earlier of the same
    /// name).
    pub fn new(servers: impl IntoIterator<Item = ServerStatus>) -> Self {
        let servers = servers.into_iter().map(|s| (s.name.clone(), s)).collect();
        StatusBoard {
            inner: Arc::new(Inner {
                servers: Mutex::new(servers),
                topics: OnceLock::new(),
            }),
        }
    }

    /// The example's servers: `filesystem` and `github` healthy, `postgres`
    /// degraded, `slack` starting.
    pub fn seeded() -> Self {
        StatusBoard::new([
            checked("filesystem", State::Healthy, Some(12.0)),
            checked("github", State::Healthy, Some(85.0)),
            checked("postgres", State::Degraded, Some(240.0)),
            checked("slack", State::Starting, None),
        ])
    }

    /// Publishes every later change on `topics`' `status` topic: the
    /// server's, which [`app`](crate::app) gives. A board serves one server.
    pub fn serve_on(&self, topics: Topics) -> Result<(), AlreadyServed> {
        self.inner.topics.set(topics).map_err(|_| AlreadyServed)
    }

    /// The table, held until the result is dropped: a watcher reads it,
    /// sends it and joins the `status` topic meanwhile, and no change is
    /// made (or published) before it has joined.
    pub async fn hold(&self) -> Held<'_> {
        Held(self.inner.servers.lock().await)
    }

    /// Every server's status, by name.
    pub async fn snapshot(&self) -> Vec<ServerStatus> {
        self.hold().await.servers()
    }

    /// Tells the watchers `update`; called with the table held, so updates
    /// go out in the order the table changed.
    async fn publish(&self, update: impl Into<status::Message>) -> Result<(), PublishError> {
        match self.inner.topics.get() {
            Some(topics) => topics.publish(&status::Key {}, update).await.map(drop),
            None => Ok(()),
        }
    }

    /// Records a check of `server`: its state and latency. Watchers get an
    /// `mcp_status_change` when the state differs from the last one, which
    /// is also returned.
    pub async fn set_state(
        &self,
        server: &str,
        state: State,
        latency_ms: Option<f64>,
    ) -> Result<Option<McpStatusChange>, BoardError> {
        let mut table = self.inner.servers.lock().await;
        let status = table
            .get_mut(server)
            .ok_or_else(|| BoardError::UnknownServer(server.to_owned()))?;
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
        self.publish(change.clone()).await?;
        drop(table);
        Ok(Some(change))
    }

    /// Tells watchers about `server`: a `health_event`, also returned.
    pub async fn health(
        &self,
        server: &str,
        level: HealthEventLevel,
        message: &str,
    ) -> Result<HealthEvent, BoardError> {
        let table = self.inner.servers.lock().await;
        if !table.contains_key(server) {
            return Err(BoardError::UnknownServer(server.to_owned()));
        }
        let event = HealthEvent {
            mcp_id: server.to_owned(),
            level,
            message: message.to_owned(),
            at: now_rfc3339(),
        };
        self.publish(event.clone()).await?;
        drop(table);
        Ok(event)
    }

    /// Simulation step `n`: server `n mod count` (by name) moves one state
    /// on, with the health event that goes with its new state. Does nothing
    /// on an empty board.
    pub async fn step(&self, n: u64) -> Result<Vec<Update>, BoardError> {
        let (name, current) = {
            let table = self.inner.servers.lock().await;
            let Some(count) = u64::try_from(table.len()).ok().filter(|c| *c > 0) else {
                return Ok(Vec::new());
            };
            let index = usize::try_from(n % count).unwrap_or(0);
            match table.values().nth(index) {
                Some(status) => (status.name.clone(), status.state),
                None => return Ok(Vec::new()),
            }
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
        if let Some(change) = self.set_state(&name, next, latency).await? {
            updates.push(Update::Change(change));
        }
        updates.push(Update::Health(self.health(&name, level, message).await?));
        Ok(updates)
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
                if let Err(error) = board.step(n).await {
                    tracing::error!(%error, "simulation step failed");
                }
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn changes_are_recorded_and_returned() {
        let board = StatusBoard::seeded();
        let names: Vec<String> = board.snapshot().await.into_iter().map(|s| s.name).collect();
        assert_eq!(names, ["filesystem", "github", "postgres", "slack"]);

        // Same state: no change, only the check is recorded.
        assert_eq!(
            board.set_state("github", State::Healthy, Some(90.0)).await,
            Ok(None)
        );
        let change = board
            .set_state("github", State::Down, None)
            .await
            .unwrap_or_else(|e| panic!("{e}"))
            .unwrap_or_else(|| panic!("a change"));
        assert_eq!(
            (change.old_status, change.new_status),
            (State::Healthy, State::Down)
        );
        assert_eq!(board.snapshot().await[1].state, State::Down);
        assert_eq!(
            board.set_state("nope", State::Down, None).await,
            Err(BoardError::UnknownServer("nope".into()))
        );
        let unknown = board.health("nope", HealthEventLevel::Info, "x").await;
        assert!(unknown.is_err());
    }

    #[tokio::test]
    async fn simulation_cycles_through_the_states() {
        let board = StatusBoard::new([checked("a", State::Healthy, None)]);
        let mut seen = Vec::new();
        for n in 0..4 {
            for update in board.step(n).await.unwrap_or_else(|e| panic!("{e}")) {
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
        let empty = StatusBoard::default().step(3).await;
        assert_eq!(empty, Ok(Vec::new()));
    }
}
