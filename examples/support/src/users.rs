//! The examples' users: who exists and who is active.
//!
//! Every example answers the pipeline's one question about users
//! ([`UserStore`]: may this subject use the API at all?) from the same
//! seeded table, because their tests share the cast: `alice`, `bob`, `mod`
//! and `admin` active, `mallory` inactive (so the spec's `user_inactive`
//! code can be reached with a token that is otherwise good), anyone else
//! unknown. Roles are not here: they come from tokens.
//!
//! A store embeds a [`SeededUsers`] beside its own data and delegates to
//! it; one that needs nothing else can hand it to the builder as is.

use std::collections::HashMap;

use wsauth_core::{BoxFuture, StoreError, UserStatus, UserStore};

/// Users by subject, active or not.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SeededUsers {
    active: HashMap<String, bool>,
}

impl SeededUsers {
    /// Nobody.
    pub fn new() -> Self {
        Self::default()
    }

    /// The examples' users: `alice`, `bob`, `mod` and `admin` active,
    /// `mallory` inactive.
    pub fn seeded() -> Self {
        SeededUsers::new()
            .user("alice", true)
            .user("bob", true)
            .user("mod", true)
            .user("admin", true)
            .user("mallory", false)
    }

    /// Adds (or replaces) user `subject`.
    pub fn user(mut self, subject: &str, active: bool) -> Self {
        self.set_active(subject, active);
        self
    }

    /// Activates or deactivates `subject` (adding them when unknown).
    pub fn set_active(&mut self, subject: &str, active: bool) {
        self.active.insert(subject.to_owned(), active);
    }

    /// Whether `subject` is known and active.
    pub fn status(&self, subject: &str) -> UserStatus {
        match self.active.get(subject) {
            Some(true) => UserStatus::Active,
            Some(false) => UserStatus::Inactive,
            None => UserStatus::Unknown,
        }
    }
}

impl UserStore for SeededUsers {
    fn status<'a>(&'a self, subject: &'a str) -> BoxFuture<'a, Result<UserStatus, StoreError>> {
        let status = SeededUsers::status(self, subject);
        Box::pin(async move { Ok(status) })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_seeded_cast() {
        let users = SeededUsers::seeded();
        for active in ["alice", "bob", "mod", "admin"] {
            assert_eq!(users.status(active), UserStatus::Active, "{active}");
        }
        assert_eq!(users.status("mallory"), UserStatus::Inactive);
        assert_eq!(users.status("carol"), UserStatus::Unknown);
        assert_eq!(SeededUsers::new().status("alice"), UserStatus::Unknown);
    }

    #[test]
    fn users_are_added_and_replaced() {
        let mut users = SeededUsers::seeded()
            .user("carol", true)
            .user("alice", false);
        assert_eq!(users.status("carol"), UserStatus::Active);
        assert_eq!(users.status("alice"), UserStatus::Inactive);
        users.set_active("mallory", true);
        assert_eq!(users.status("mallory"), UserStatus::Active);
    }

    #[tokio::test]
    async fn the_pipeline_sees_the_same_table() {
        let users = SeededUsers::seeded();
        let status = UserStore::status(&users, "mallory").await;
        assert_eq!(status.ok(), Some(UserStatus::Inactive));
    }
}
