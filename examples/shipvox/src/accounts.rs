//! The embedded user store: who may sign in, with which password, roles and
//! status.
//!
//! # Motivation
//!
//! `POST /token` must not tell an attacker which usernames exist. The
//! status and body of a refusal are easy to keep identical; the time is not,
//! because checking a password is deliberately slow (argon2id) and an
//! unknown user has no hash to check. So every sign-in checks exactly one
//! hash made with the same parameters: the user's own, or, for a name nobody
//! has, a dummy hash of a random password made at start. An inactive user
//! (mallory) has a hash like everyone else (of a random password nobody
//! knows), which is checked and then ignored. The outcome is decided only
//! after the check, so the three refusals cost the same.
//!
//! # Shape
//!
//! [`Accounts`] is cheap to clone (shared). [`Accounts::sign_in`] runs the
//! hash check on Tokio's blocking pool, at most [`HashParams::concurrency`]
//! at a time (each takes [`HashParams::memory_kib`] of memory), and returns
//! the user's roles or `None`. [`Accounts`] is also the WebSocket side's
//! [`UserStore`]: an inactive user's token is refused at the handshake.

use std::collections::HashMap;
use std::sync::Arc;

use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::{Algorithm, Argon2, Params, Version};
use tokio::sync::Semaphore;
use wsauth_core::{BoxFuture, StoreError, UserStatus, UserStore};

use crate::random::{self, RandomError};

/// The password of every seeded user except mallory.
pub const SEEDED_PASSWORD: &str = "password";

/// Argon2id cost parameters.
///
/// The default is OWASP's minimum recommendation for argon2id
/// (Password Storage Cheat Sheet): 19 MiB of memory, 2 iterations, one
/// lane. A conscious choice for an example: strong enough to make offline
/// guessing expensive, cheap enough that a debug build signs in within a
/// fraction of a second. Production servers should raise `memory_kib` to
/// what their hardware affords (argon2's own default is the same 19 MiB;
/// RFC 9106 recommends 2 GiB, or 64 MiB on constrained machines).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct HashParams {
    /// Memory per hash, KiB.
    pub memory_kib: u32,
    /// Passes over the memory.
    pub iterations: u32,
    /// Lanes.
    pub parallelism: u32,
    /// Hash checks running at once (each holds `memory_kib`); more wait.
    pub concurrency: usize,
}

impl Default for HashParams {
    fn default() -> Self {
        HashParams {
            memory_kib: 19 * 1024,
            iterations: 2,
            parallelism: 1,
            concurrency: std::thread::available_parallelism().map_or(2, usize::from),
        }
    }
}

/// Why the store could not be built.
#[derive(Debug, thiserror::Error)]
pub enum AccountsError {
    /// Argon2 refused the parameters.
    #[error("argon2 parameters: {0}")]
    Params(argon2::Error),
    /// Hashing a password failed.
    #[error("hashing a password: {0}")]
    Hash(argon2::password_hash::Error),
    /// No random salt could be drawn.
    #[error(transparent)]
    Random(#[from] RandomError),
}

/// Why a sign-in could not be decided (a server error, not a refusal).
#[derive(Debug, thiserror::Error)]
pub enum SignInError {
    /// The blocking task checking the hash panicked or was cancelled.
    #[error("password check task failed")]
    Task(#[source] tokio::task::JoinError),
    /// The hashing pool was closed.
    #[error("password check pool closed")]
    Closed,
}

/// A user to create.
#[derive(Clone, Copy)]
pub struct NewUser<'a> {
    /// The username, which is also the token's subject.
    pub name: &'a str,
    /// The password, hashed at once; `None` for a random one nobody knows.
    pub password: Option<&'a str>,
    /// Roles, copied into tokens.
    pub roles: &'a [&'a str],
    /// Whether the user may sign in and connect.
    pub active: bool,
}

/// Everything but the password.
impl std::fmt::Debug for NewUser<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NewUser")
            .field("name", &self.name)
            .field("password", &self.password.map(|_| REDACTED))
            .field("roles", &self.roles)
            .field("active", &self.active)
            .finish()
    }
}

/// What `Debug` shows for a password or a password hash.
const REDACTED: &str = "<redacted>";

/// The seeded users: `user` (the ShipVox document's demo account), alice
/// and bob (user), mod (moderator), admin (admin), all with password
/// [`SEEDED_PASSWORD`], and mallory (user, inactive, a random password).
pub const SEEDED: [NewUser<'static>; 6] = [
    NewUser {
        name: "user",
        password: Some(SEEDED_PASSWORD),
        roles: &["user"],
        active: true,
    },
    NewUser {
        name: "alice",
        password: Some(SEEDED_PASSWORD),
        roles: &["user"],
        active: true,
    },
    NewUser {
        name: "bob",
        password: Some(SEEDED_PASSWORD),
        roles: &["user"],
        active: true,
    },
    NewUser {
        name: "mod",
        password: Some(SEEDED_PASSWORD),
        roles: &["moderator"],
        active: true,
    },
    NewUser {
        name: "admin",
        password: Some(SEEDED_PASSWORD),
        roles: &["admin"],
        active: true,
    },
    NewUser {
        name: "mallory",
        password: None,
        roles: &["user"],
        active: false,
    },
];

struct Account {
    /// PHC string: `$argon2id$v=19$m=...,t=...,p=...$salt$hash`.
    hash: String,
    roles: Vec<String>,
    active: bool,
}

struct Inner {
    users: HashMap<String, Account>,
    /// The hash checked for names nobody has.
    dummy: String,
    hasher: Argon2<'static>,
    permits: Arc<Semaphore>,
}

/// Everything but the hash.
impl std::fmt::Debug for Account {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Account")
            .field("hash", &REDACTED)
            .field("roles", &self.roles)
            .field("active", &self.active)
            .finish()
    }
}

/// The accounts (without their hashes) and the cost; not the dummy hash.
impl std::fmt::Debug for Inner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Inner")
            .field("users", &self.users)
            .field("hasher", &self.hasher)
            .field("permits", &self.permits)
            .finish_non_exhaustive()
    }
}

/// Users, their argon2id hashes, roles and status. Cheap to clone.
#[derive(Clone, Debug)]
pub struct Accounts(Arc<Inner>);

impl Accounts {
    /// A store with `users`, hashing each password with a fresh random salt.
    pub fn new(params: HashParams, users: &[NewUser<'_>]) -> Result<Self, AccountsError> {
        let argon_params = Params::new(
            params.memory_kib,
            params.iterations,
            params.parallelism,
            None,
        )
        .map_err(AccountsError::Params)?;
        let hasher = Argon2::new(Algorithm::Argon2id, Version::V0x13, argon_params);
        let hash_random = |hasher: &Argon2<'static>| -> Result<String, AccountsError> {
            hash(hasher, &random::hex(&random::bytes::<32>()?))
        };
        let dummy = hash_random(&hasher)?;
        let mut accounts = HashMap::with_capacity(users.len());
        for user in users {
            let hash = match user.password {
                Some(password) => hash(&hasher, password)?,
                None => hash_random(&hasher)?,
            };
            let account = Account {
                hash,
                roles: user.roles.iter().map(|r| (*r).to_owned()).collect(),
                active: user.active,
            };
            accounts.insert(user.name.to_owned(), account);
        }
        Ok(Accounts(Arc::new(Inner {
            users: accounts,
            dummy,
            hasher,
            permits: Arc::new(Semaphore::new(params.concurrency.max(1))),
        })))
    }

    /// The [`SEEDED`] users.
    pub fn seeded(params: HashParams) -> Result<Self, AccountsError> {
        Self::new(params, &SEEDED)
    }

    /// The user's roles when `username` exists, is active and `password`
    /// is theirs; `None` otherwise. Always checks exactly one argon2id hash
    /// of the same cost, whatever the outcome (see the module docs).
    pub async fn sign_in(
        &self,
        username: &str,
        password: &str,
    ) -> Result<Option<Vec<String>>, SignInError> {
        let permit = Arc::clone(&self.0.permits)
            .acquire_owned()
            .await
            .map_err(|_| SignInError::Closed)?;
        let this = self.clone();
        let (username, password) = (username.to_owned(), password.to_owned());
        tokio::task::spawn_blocking(move || {
            let _permit = permit;
            this.check(&username, &password)
        })
        .await
        .map_err(SignInError::Task)
    }

    /// The blocking part of [`Accounts::sign_in`].
    fn check(&self, username: &str, password: &str) -> Option<Vec<String>> {
        let inner = &self.0;
        let account = inner.users.get(username);
        let stored = account.map_or(inner.dummy.as_str(), |a| a.hash.as_str());
        let matches = match PasswordHash::new(stored) {
            Ok(parsed) => inner
                .hasher
                .verify_password(password.as_bytes(), &parsed)
                .is_ok(),
            Err(error) => {
                tracing::error!(%error, "a stored password hash does not parse");
                false
            }
        };
        match account {
            Some(a) if matches && a.active => Some(a.roles.clone()),
            _ => None,
        }
    }

    /// Whether `subject` is known and active.
    pub fn status_of(&self, subject: &str) -> UserStatus {
        match self.0.users.get(subject) {
            Some(a) if a.active => UserStatus::Active,
            Some(_) => UserStatus::Inactive,
            None => UserStatus::Unknown,
        }
    }

    /// The roles of `subject`, when it exists.
    pub fn roles_of(&self, subject: &str) -> Option<&[String]> {
        self.0.users.get(subject).map(|a| a.roles.as_slice())
    }

    /// The stored PHC hash of `subject` (for tests and audits; it is not a
    /// secret that opens anything, but it is not for clients either).
    pub fn hash_of(&self, subject: &str) -> Option<&str> {
        self.0.users.get(subject).map(|a| a.hash.as_str())
    }
}

fn hash(hasher: &Argon2<'static>, password: &str) -> Result<String, AccountsError> {
    let salt = SaltString::encode_b64(&random::bytes::<16>()?).map_err(AccountsError::Hash)?;
    hasher
        .hash_password(password.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(AccountsError::Hash)
}

impl UserStore for Accounts {
    fn status<'a>(&'a self, subject: &'a str) -> BoxFuture<'a, Result<UserStatus, StoreError>> {
        Box::pin(async move { Ok(self.status_of(subject)) })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Cheap parameters: these tests are about logic, not cost.
    const CHEAP: HashParams = HashParams {
        memory_kib: 64,
        iterations: 1,
        parallelism: 1,
        concurrency: 2,
    };

    #[tokio::test]
    async fn seeded_users_sign_in_with_their_password_only() {
        let accounts = Accounts::seeded(CHEAP).unwrap_or_else(|e| panic!("{e}"));
        let sign_in = |u: &'static str, p: &'static str| {
            let accounts = accounts.clone();
            async move {
                accounts
                    .sign_in(u, p)
                    .await
                    .unwrap_or_else(|e| panic!("{e}"))
            }
        };
        assert_eq!(
            sign_in("alice", "password").await,
            Some(vec!["user".to_owned()])
        );
        assert_eq!(
            sign_in("admin", "password").await,
            Some(vec!["admin".to_owned()])
        );
        assert_eq!(sign_in("alice", "Password").await, None);
        assert_eq!(sign_in("carol", "password").await, None);
        assert_eq!(sign_in("mallory", "password").await, None);
        assert_eq!(sign_in("", "").await, None);
        assert_eq!(accounts.status_of("mallory"), UserStatus::Inactive);
        assert_eq!(accounts.status_of("bob"), UserStatus::Active);
        assert_eq!(accounts.status_of("carol"), UserStatus::Unknown);
    }

    #[test]
    fn hashes_are_argon2id_with_fresh_salts() {
        let accounts = Accounts::seeded(CHEAP).unwrap_or_else(|e| panic!("{e}"));
        let alice = accounts.hash_of("alice").unwrap_or_default();
        let bob = accounts.hash_of("bob").unwrap_or_default();
        assert!(alice.starts_with("$argon2id$v=19$m=64,t=1,p=1$"), "{alice}");
        assert_ne!(alice, bob, "same password, different salts");
        assert!(
            accounts.hash_of("mallory").is_some(),
            "mallory has a hash too"
        );
        assert!(!alice.contains(SEEDED_PASSWORD));
    }

    #[test]
    fn the_default_cost_is_owasp_minimum() {
        let p = HashParams::default();
        assert_eq!((p.memory_kib, p.iterations, p.parallelism), (19_456, 2, 1));
        assert!(p.concurrency >= 1);
    }

    #[test]
    fn debug_never_shows_passwords_or_hashes() {
        let user = NewUser {
            name: "carol",
            password: Some("hunter2-plaintext"),
            roles: &["user"],
            active: true,
        };
        let accounts = Accounts::new(CHEAP, &[user]).unwrap_or_else(|e| panic!("{e}"));
        let hash = accounts.hash_of("carol").unwrap_or_default();
        assert!(hash.starts_with("$argon2id$"), "{hash}");
        for shown in [
            format!("{user:?}"),
            format!("{user:#?}"),
            format!("{accounts:?}"),
            format!("{accounts:#?}"),
        ] {
            assert!(shown.contains("carol"), "{shown}");
            assert!(!shown.contains("hunter2"), "{shown}");
            assert!(!shown.contains("$argon2"), "{shown}");
            assert!(!shown.contains(&hash[hash.len() - 20..]), "{shown}");
        }
    }
}
