//! The embedded store: users (active or not) and conversations (who takes
//! part), seeded at start.
//!
//! Roles come from tokens; the store only says whether a subject may use
//! the API at all ([`UserStore`]) and whether it takes part in a
//! conversation (the spec's `conversation_access` check, [`Checks`]).

use std::collections::HashMap;
use std::sync::Arc;

use wsauth_core::{
    BoxFuture, CheckContext, CheckOutcome, Checks, StoreError, UserStatus, UserStore,
};
use wsauth_example_support::SeededUsers;

/// The name of the spec's resource check on `conversation`.
pub const CONVERSATION_ACCESS: &str = "conversation_access";

/// The user id PRSM's WebSocket document uses in every client example
/// (`/ws/user123`), seeded so those examples run as written.
pub const SEED_DOC_USER: &str = "user123";

/// A conversation as the store knows it.
#[derive(Clone, Debug)]
enum Conversation {
    /// Its participants.
    Participants(Vec<String>),
    /// Its backend is down: looking it up fails.
    Unavailable,
}

/// Users and conversations, in memory.
#[derive(Clone, Debug, Default)]
pub struct Store {
    users: SeededUsers,
    conversations: HashMap<i64, Conversation>,
}

impl Store {
    /// An empty store.
    pub fn new() -> Self {
        Self::default()
    }

    /// The example's data: the [seeded users](SeededUsers::seeded)
    /// (`alice`, `bob`, `mod` and `admin` active, `mallory` inactive) and
    /// `user123`, the user of PRSM's documented client examples;
    /// conversation 1 with alice and user123, 2 with bob.
    pub fn seeded() -> Self {
        Store::new()
            .users(SeededUsers::seeded())
            .user(SEED_DOC_USER, true)
            .conversation(1, ["alice", SEED_DOC_USER])
            .conversation(2, ["bob"])
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

    /// Adds (or replaces) conversation `id` with its participants.
    pub fn conversation<I, S>(mut self, id: i64, participants: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        let participants = participants.into_iter().map(Into::into).collect();
        self.conversations
            .insert(id, Conversation::Participants(participants));
        self
    }

    /// Makes looking up conversation `id` fail, as if its backend were
    /// down: a fault hook, so the spec's `server_error` close can be reached.
    pub fn unavailable_conversation(mut self, id: i64) -> Self {
        self.conversations.insert(id, Conversation::Unavailable);
        self
    }

    /// Whether `subject` is known and active.
    pub fn status(&self, subject: &str) -> UserStatus {
        self.users.status(subject)
    }

    /// The `conversation_access` rule: allowed when `subject` takes part in
    /// conversation `id`, not found when there is no such conversation,
    /// forbidden otherwise.
    pub fn conversation_access(&self, subject: &str, id: i64) -> Result<CheckOutcome, StoreError> {
        match self.conversations.get(&id) {
            None => Ok(CheckOutcome::NotFound),
            Some(Conversation::Unavailable) => Err(StoreError::new(format!(
                "conversation {id}: backend unavailable"
            ))),
            Some(Conversation::Participants(p)) if p.iter().any(|s| s == subject) => {
                Ok(CheckOutcome::Allow)
            }
            Some(Conversation::Participants(_)) => Ok(CheckOutcome::Forbidden),
        }
    }
}

/// The store as the pipeline sees it: one shared copy behind both traits
/// (its `conversation_access` check also decides the `conversation`
/// topic's subscriptions).
#[derive(Clone, Debug)]
pub(crate) struct Shared(Arc<Store>);

impl Shared {
    pub(crate) fn new(store: Store) -> Self {
        Shared(Arc::new(store))
    }

    /// [`Store::status`], for the admin route.
    pub(crate) fn user_status(&self, subject: &str) -> UserStatus {
        self.0.status(subject)
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
            if name != CONVERSATION_ACCESS {
                return Err(StoreError::new(format!("unknown check `{name}`")));
            }
            let Some(subject) = cx.principal.subject() else {
                return Ok(CheckOutcome::Forbidden);
            };
            // The pipeline admits only canonical integers; anything else
            // names no conversation.
            match cx.param("conversation_id").and_then(|id| id.parse().ok()) {
                Some(id) => self.0.conversation_access(subject, id),
                None => Ok(CheckOutcome::NotFound),
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seeded_users_and_conversations() {
        let store = Store::seeded();
        assert_eq!(store.status("alice"), UserStatus::Active);
        assert_eq!(store.status("admin"), UserStatus::Active);
        assert_eq!(store.status("mallory"), UserStatus::Inactive);
        assert_eq!(store.status("carol"), UserStatus::Unknown);
        let access = |s, id| store.conversation_access(s, id).ok();
        assert_eq!(access("alice", 1), Some(CheckOutcome::Allow));
        assert_eq!(access("alice", 2), Some(CheckOutcome::Forbidden));
        assert_eq!(access("bob", 2), Some(CheckOutcome::Allow));
        assert_eq!(access("alice", 9), Some(CheckOutcome::NotFound));
        let faulty = Store::seeded().unavailable_conversation(13);
        assert!(faulty.conversation_access("alice", 13).is_err());
    }
}
