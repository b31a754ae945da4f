//! What the application tells the pipeline: whether a user may connect at
//! all ([`UserStore`]) and whether they may reach a resource ([`Checks`]).
//!
//! Both are traits the application implements over its own storage. Both
//! return boxed futures so they can live behind `Arc<dyn ...>` in the router
//! without generic parameters leaking into every type. Both fail closed: an
//! `Err` ends the handshake with the spec's `server_error` code.

use std::future::Future;
use std::pin::Pin;

use crate::principal::Principal;

/// A boxed, sendable future, as the traits here return.
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// Whether a subject may use the API.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum UserStatus {
    /// Known and active.
    Active,
    /// Known, deactivated.
    Inactive,
    /// Not known to the store.
    Unknown,
}

/// A store could not answer; the handshake fails closed.
#[derive(Debug, thiserror::Error)]
#[error("{message}")]
pub struct StoreError {
    message: String,
}

impl StoreError {
    /// A failure described for the audit log (never shown to clients).
    pub fn new(message: impl Into<String>) -> Self {
        StoreError {
            message: message.into(),
        }
    }
}

/// Looks users up by the token's subject.
pub trait UserStore: Send + Sync + 'static {
    /// The status of `subject`.
    fn status<'a>(&'a self, subject: &'a str) -> BoxFuture<'a, Result<UserStatus, StoreError>>;
}

/// The outcome of a resource check.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CheckOutcome {
    /// Access granted.
    Allow,
    /// The resource exists and the principal may not use it.
    Forbidden,
    /// There is no such resource.
    NotFound,
}

/// What a resource check sees.
#[derive(Debug)]
pub struct CheckContext<'a> {
    /// The connecting principal.
    pub principal: &'a Principal,
    /// The parameters, raw: the endpoint's path parameters in path order
    /// (at the handshake and on refresh), or a topic's params in spec order
    /// (on a subscribe, integers in their canonical decimal form).
    pub params: &'a [(&'static str, String)],
    /// The topic being subscribed to; `None` for the endpoint's own checks.
    pub topic: Option<&'static str>,
}

impl CheckContext<'_> {
    /// The raw value of parameter `name`.
    pub fn param(&self, name: &str) -> Option<&str> {
        self.params
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(_, v)| v.as_str())
    }
}

/// The named resource checks a spec lists (`checks:`), implemented by the
/// application.
pub trait Checks: Send + Sync + 'static {
    /// Runs the check called `name`.
    fn check<'a>(
        &'a self,
        name: &'static str,
        cx: &'a CheckContext<'a>,
    ) -> BoxFuture<'a, Result<CheckOutcome, StoreError>>;
}
