//! The embedded store: users (active or not) and journal entries (whose they
//! are, and the reflection the AI writes on each), seeded at start.
//!
//! The store answers three questions, each for its own caller: whether a
//! subject may use the API at all ([`UserStore`], asked by the pipeline),
//! whether an entry exists and is the subject's (the spec's `entry_owner`
//! check, [`Checks`], asked by the pipeline before the socket is admitted),
//! and what the reflection on an entry is ([`Store::generate`], asked by the
//! handler once it is). Roles come from tokens, never from here.
//!
//! Two kinds of failure are seeded on purpose, because the spec documents
//! both: an entry whose *look-up* fails ([`Store::unavailable_entry`], a
//! fault hook for tests: the handshake fails closed with `server_error`
//! before anything is sent), and an entry whose *generation* fails part-way
//! ([`Store::failing_entry`], entry 3 of the seed: the client is admitted,
//! receives the first tokens, then `server_error`).

use std::collections::HashMap;
use std::sync::Arc;

use wsauth_core::{
    BoxFuture, CheckContext, CheckOutcome, Checks, StoreError, UserStatus, UserStore,
};
use wsauth_example_support::SeededUsers;

/// The name of the spec's resource check on `reflection`.
pub const ENTRY_OWNER: &str = "entry_owner";

/// The name of the endpoint's path parameter that names the entry.
pub const ENTRY_ID: &str = "entry_id";

/// The entry of the seed whose generation fails part-way.
pub const FAILING_ENTRY: i64 = 3;

/// How many tokens of entry [`FAILING_ENTRY`] are sent before generation
/// fails.
pub const FAILING_AFTER: usize = 3;

/// A journal entry as the store knows it.
#[derive(Clone, Debug)]
struct Entry {
    /// The subject of the entry's author.
    owner: String,
    /// The reflection on it, as the AI would write it.
    reflection: String,
    /// Generation fails after this many tokens.
    fails_after: Option<usize>,
}

/// A record in the entry table.
#[derive(Clone, Debug)]
enum Record {
    Entry(Entry),
    /// Its backend is down: looking it up fails.
    Unavailable,
}

/// Users and entries, in memory.
#[derive(Clone, Debug, Default)]
pub struct Store {
    users: SeededUsers,
    entries: HashMap<i64, Record>,
}

impl Store {
    /// An empty store.
    pub fn new() -> Self {
        Self::default()
    }

    /// The example's data: the [seeded users](SeededUsers::seeded)
    /// (`alice`, `bob`, `mod` and `admin` active, `mallory` inactive);
    /// entry 1 by alice, 2 by bob, and 3 by alice, whose generation fails
    /// after [`FAILING_AFTER`] tokens.
    pub fn seeded() -> Self {
        Store::new()
            .users(SeededUsers::seeded())
            .entry(
                1,
                "alice",
                "You wrote about walking by the river after a hard week. \
                 Slowing down seems to give you room to think: what would it \
                 take to make that walk a habit?",
            )
            .entry(
                2,
                "bob",
                "Your entry returns to the unfinished project twice. \
                 Naming the next small step might make it feel lighter.",
            )
            .failing_entry(
                FAILING_ENTRY,
                "alice",
                "You seem torn between two plans, and this reflection never finishes.",
                FAILING_AFTER,
            )
    }

    /// Replaces the users.
    pub fn users(mut self, users: SeededUsers) -> Self {
        self.users = users;
        self
    }

    /// Adds (or replaces) user `subject`.
    pub fn user(mut self, subject: &str, active: bool) -> Self {
        self.users.set_active(subject, active);
        self
    }

    /// Adds (or replaces) entry `id` by `owner`, with its reflection.
    pub fn entry(mut self, id: i64, owner: &str, reflection: &str) -> Self {
        let entry = Entry {
            owner: owner.to_owned(),
            reflection: reflection.to_owned(),
            fails_after: None,
        };
        self.entries.insert(id, Record::Entry(entry));
        self
    }

    /// Adds (or replaces) entry `id` by `owner` whose generation fails with
    /// an internal error after `after` tokens of `reflection`.
    pub fn failing_entry(mut self, id: i64, owner: &str, reflection: &str, after: usize) -> Self {
        let entry = Entry {
            owner: owner.to_owned(),
            reflection: reflection.to_owned(),
            fails_after: Some(after),
        };
        self.entries.insert(id, Record::Entry(entry));
        self
    }

    /// Makes looking up entry `id` fail, as if its backend were down: a
    /// fault hook, so the spec's `server_error` close at the handshake can be
    /// reached.
    pub fn unavailable_entry(mut self, id: i64) -> Self {
        self.entries.insert(id, Record::Unavailable);
        self
    }

    /// Whether `subject` is known and active.
    pub fn status(&self, subject: &str) -> UserStatus {
        self.users.status(subject)
    }

    /// Entry `id`: `None` when there is none, an error when its backend is
    /// down.
    fn lookup(&self, id: i64) -> Result<Option<&Entry>, StoreError> {
        match self.entries.get(&id) {
            None => Ok(None),
            Some(Record::Unavailable) => {
                Err(StoreError::new(format!("entry {id}: backend unavailable")))
            }
            Some(Record::Entry(entry)) => Ok(Some(entry)),
        }
    }

    /// The `entry_owner` rule: allowed when entry `id` is `subject`'s, not
    /// found when there is no such entry, forbidden otherwise (whatever the
    /// subject's roles: reflections are private).
    pub fn entry_owner(&self, subject: &str, id: i64) -> Result<CheckOutcome, StoreError> {
        Ok(match self.lookup(id)? {
            None => CheckOutcome::NotFound,
            Some(entry) if entry.owner == subject => CheckOutcome::Allow,
            Some(_) => CheckOutcome::Forbidden,
        })
    }

    /// Starts generating the reflection on entry `id`.
    pub fn generate(&self, id: i64) -> Result<Generation, StoreError> {
        let entry = self
            .lookup(id)?
            .ok_or_else(|| StoreError::new(format!("entry {id} vanished")))?;
        Ok(Generation {
            entry: id,
            tokens: tokens(&entry.reflection).into_iter(),
            sent: 0,
            fails_after: entry.fails_after,
        })
    }
}

/// `text` split into word tokens that concatenate back to it (runs of
/// whitespace become one space): `["You", " wrote", " about"]`.
pub fn tokens(text: &str) -> Vec<String> {
    text.split_whitespace()
        .enumerate()
        .map(|(i, word)| {
            if i == 0 {
                word.to_owned()
            } else {
                format!(" {word}")
            }
        })
        .collect()
}

/// Generation failed part-way; the handler ends with `server_error`.
#[derive(Debug, thiserror::Error)]
#[error("generating the reflection on entry {entry} failed after {sent} tokens")]
pub struct GenerationError {
    /// The entry.
    pub entry: i64,
    /// How many tokens were produced before the failure.
    pub sent: usize,
}

/// A reflection being generated: its tokens one by one, or the failure that
/// cuts it short.
#[derive(Debug)]
pub struct Generation {
    entry: i64,
    tokens: std::vec::IntoIter<String>,
    sent: usize,
    fails_after: Option<usize>,
}

impl Iterator for Generation {
    type Item = Result<String, GenerationError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.fails_after == Some(self.sent) {
            // Fail once, then end.
            self.fails_after = None;
            self.tokens = Vec::new().into_iter();
            return Some(Err(GenerationError {
                entry: self.entry,
                sent: self.sent,
            }));
        }
        let token = self.tokens.next()?;
        self.sent += 1;
        Some(Ok(token))
    }
}

/// The store as the pipeline and the handler see it: one shared copy.
#[derive(Clone, Debug)]
pub struct Shared(Arc<Store>);

impl Shared {
    /// Shares `store`.
    pub fn new(store: Store) -> Self {
        Shared(Arc::new(store))
    }

    /// The store.
    pub fn store(&self) -> &Store {
        &self.0
    }
}

impl UserStore for Shared {
    fn status<'a>(&'a self, subject: &'a str) -> BoxFuture<'a, Result<UserStatus, StoreError>> {
        Box::pin(async move { Ok(self.0.status(subject)) })
    }
}

impl Checks for Shared {
    fn check<'a>(
        &'a self,
        name: &'static str,
        cx: &'a CheckContext<'a>,
    ) -> BoxFuture<'a, Result<CheckOutcome, StoreError>> {
        Box::pin(async move {
            if name != ENTRY_OWNER {
                return Err(StoreError::new(format!("unknown check `{name}`")));
            }
            let Some(subject) = cx.principal.subject() else {
                return Ok(CheckOutcome::Forbidden);
            };
            // The pipeline admits only canonical integers; anything else
            // names no entry.
            match cx.param(ENTRY_ID).and_then(|id| id.parse().ok()) {
                Some(id) => self.0.entry_owner(subject, id),
                None => Ok(CheckOutcome::NotFound),
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seeded_users_and_entries() {
        let store = Store::seeded();
        assert_eq!(store.status("alice"), UserStatus::Active);
        assert_eq!(store.status("mod"), UserStatus::Active);
        assert_eq!(store.status("mallory"), UserStatus::Inactive);
        assert_eq!(store.status("carol"), UserStatus::Unknown);
        let owner = |s, id| store.entry_owner(s, id).ok();
        assert_eq!(owner("alice", 1), Some(CheckOutcome::Allow));
        assert_eq!(owner("bob", 1), Some(CheckOutcome::Forbidden));
        assert_eq!(owner("admin", 1), Some(CheckOutcome::Forbidden));
        assert_eq!(owner("bob", 2), Some(CheckOutcome::Allow));
        assert_eq!(owner("alice", 3), Some(CheckOutcome::Allow));
        assert_eq!(owner("alice", 99), Some(CheckOutcome::NotFound));
        let faulty = Store::seeded().unavailable_entry(13);
        assert!(faulty.entry_owner("alice", 13).is_err());
        assert!(faulty.generate(13).is_err());
        assert!(faulty.generate(99).is_err());
    }

    #[test]
    fn tokens_concatenate_to_the_text() {
        let tokens = tokens("You  wrote\nabout it");
        assert_eq!(tokens, ["You", " wrote", " about", " it"]);
        assert_eq!(tokens.concat(), "You wrote about it");
    }

    #[test]
    fn generations_finish_or_fail_part_way() {
        let store = Store::seeded();
        let whole: Result<Vec<String>, _> = store
            .generate(1)
            .unwrap_or_else(|e| panic!("{e}"))
            .collect();
        let whole = whole.unwrap_or_else(|e| panic!("{e}"));
        assert!(whole.concat().starts_with("You wrote about walking"));
        let failing: Vec<_> = store
            .generate(FAILING_ENTRY)
            .unwrap_or_else(|e| panic!("{e}"))
            .collect();
        assert_eq!(failing.len(), FAILING_AFTER + 1);
        assert!(failing[..FAILING_AFTER].iter().all(Result::is_ok));
        assert!(matches!(
            failing[FAILING_AFTER],
            Err(GenerationError { entry: 3, sent: 3 })
        ));
    }
}
