//! The topic scenarios every generated client passes
//! (`generated/tests/scenarios/topics.json`, whose `about` says what each
//! step means): the file read into steps, and prsm configured with the
//! conversations it names. The Rust client runs the steps in
//! `clients/scenarios.rs`; the TypeScript client reads the same file in
//! `js/tests/node_scenarios.ts`, one scenario per fresh server.

use std::collections::BTreeMap;
use std::path::PathBuf;

use serde::Deserialize;
use serde_json::Value;

use super::tools::repo_root;

/// The file's path.
pub fn path() -> PathBuf {
    repo_root().join("generated/tests/scenarios/topics.json")
}

/// The scenarios, and what they assume of prsm.
#[derive(Debug, Deserialize)]
pub struct Scenarios {
    /// The topic every step's params name an instance of.
    pub topic: String,
    /// Conversation id to its participants.
    pub conversations: BTreeMap<i64, Vec<String>>,
    /// In the order they run.
    pub scenarios: Vec<Scenario>,
}

/// One scenario: a fresh server, then its steps in order.
#[derive(Debug, Deserialize)]
pub struct Scenario {
    /// What it shows.
    pub name: String,
    /// What happens, in order.
    pub steps: Vec<Step>,
}

/// One step: an action and, for requests, the answer expected. Params,
/// messages, answers and events stay JSON, compared as JSON: the clients'
/// typed values are serialized to meet them.
#[derive(Debug, Deserialize)]
#[serde(untagged)]
pub enum Step {
    /// `actor` publishes `message` on the instance `publish` names.
    Publish {
        publish: Value,
        message: Value,
        #[serde(rename = "as")]
        actor: String,
        expect: Value,
    },
    /// `user` connects with `roles` and is welcomed.
    Connect { connect: String, roles: Vec<String> },
    /// `actor` subscribes to the instance `subscribe` names.
    Subscribe {
        subscribe: Value,
        #[serde(rename = "as")]
        actor: String,
        expect: Value,
    },
    /// `actor` unsubscribes from it.
    Unsubscribe {
        unsubscribe: Value,
        #[serde(rename = "as")]
        actor: String,
        expect: Value,
    },
    /// `actor` asks who is present on it.
    Presence {
        presence: Value,
        #[serde(rename = "as")]
        actor: String,
        expect: Value,
    },
    /// `actor`'s next topic event is `receive`.
    Receive {
        receive: Value,
        #[serde(rename = "as")]
        actor: String,
    },
    /// `actor` gets no topic event within `quiet` milliseconds.
    Quiet {
        quiet: u64,
        #[serde(rename = "as")]
        actor: String,
    },
    /// The actor's network goes down: its socket drops.
    Cut { cut: String },
    /// The actor's network comes back: it reconnects and is welcomed.
    Restore { restore: String },
}

/// The scenarios file, read.
pub fn load() -> Scenarios {
    let path = path();
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

impl Scenarios {
    /// prsm's seeded store with the scenarios' conversations.
    pub fn configure(&self, mut config: prsm::Config) -> prsm::Config {
        for (id, participants) in &self.conversations {
            config.store = config.store.conversation(*id, participants.iter().cloned());
        }
        config
    }
}
