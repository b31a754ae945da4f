//! The embedded user directory, seeded at start.
//!
//! Roles come from tokens (a single `role` string claim, as the original
//! service issued them); the directory only says whether a subject may use
//! the API at all. An inactive user is refused with the spec's
//! `user_inactive` code even while their tokens are still valid, whether the
//! token was checked by the introspection service or locally.

use std::sync::{Arc, PoisonError, RwLock};

use wsauth_core::{BoxFuture, StoreError, UserStatus, UserStore};
use wsauth_example_support::SeededUsers;

/// Users by subject, active or not. Cheap to clone: clones share the
/// directory, so a test (or an admin task) can deactivate a user of a
/// running server.
#[derive(Clone, Debug, Default)]
pub struct Users {
    users: Arc<RwLock<SeededUsers>>,
}

impl Users {
    /// An empty directory.
    pub fn new() -> Self {
        Self::default()
    }

    /// The example's users: the [seeded ones](SeededUsers::seeded),
    /// `alice` and `bob` (role `user`), `mod` (`moderator`) and `admin`
    /// active, `mallory` inactive; and `dev` (`developer`) and `dba`, active.
    /// (Roles are the tokens' business; these are the roles the example's
    /// tokens give them.)
    pub fn seeded() -> Self {
        let users = SeededUsers::seeded().user("dev", true).user("dba", true);
        Users {
            users: Arc::new(RwLock::new(users)),
        }
    }

    /// Adds (or replaces) user `subject`.
    pub fn user(self, subject: &str, active: bool) -> Self {
        self.set_active(subject, active);
        self
    }

    /// Activates or deactivates `subject` (adding them when unknown).
    pub fn set_active(&self, subject: &str, active: bool) {
        self.users
            .write()
            .unwrap_or_else(PoisonError::into_inner)
            .set_active(subject, active);
    }

    /// Whether `subject` is known and active.
    pub fn status(&self, subject: &str) -> UserStatus {
        self.users
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .status(subject)
    }
}

impl UserStore for Users {
    fn status<'a>(&'a self, subject: &'a str) -> BoxFuture<'a, Result<UserStatus, StoreError>> {
        let status = Users::status(self, subject);
        Box::pin(async move { Ok(status) })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seeded_users() {
        let users = Users::seeded();
        for active in ["alice", "bob", "mod", "admin", "dev", "dba"] {
            assert_eq!(users.status(active), UserStatus::Active, "{active}");
        }
        assert_eq!(users.status("mallory"), UserStatus::Inactive);
        assert_eq!(users.status("eve"), UserStatus::Unknown);
        let shared = users.clone();
        shared.set_active("alice", false);
        assert_eq!(users.status("alice"), UserStatus::Inactive);
    }
}
