//! Who a token belongs to ([`Authenticator`]), whether they may use the API,
//! and whether they may reach a resource: the checks every entry point
//! shares (the handshake, `/ws/stats` and in-band refresh), each mapping its
//! failures to the spec's failure kinds once.
//!
//! They are separate on purpose: the handshake binds path parameters to the
//! subject between the two, so a request that cannot match costs no
//! user-store lookup.

use std::sync::Arc;

use wsauth_spec::FailureKind;

use crate::descriptor::EndpointDescriptor;
use crate::jwt::{Claims, Verifier};
use crate::principal::Principal;
use crate::reject::Rejection;
use crate::store::{BoxFuture, CheckContext, CheckOutcome, Checks, UserStatus, UserStore};

/// Verifies `token`: `auth_failed` when it is not acceptable,
/// `server_error` when it could not be checked.
pub(crate) async fn verify(
    authenticator: Option<&Arc<dyn Authenticator>>,
    token: &str,
) -> Result<Claims, Rejection> {
    let authenticator = authenticator
        .ok_or_else(|| Rejection::new(FailureKind::ServerError, "no authenticator"))?;
    authenticator.authenticate(token).await.map_err(|e| {
        let kind = if e.is_server_error() {
            FailureKind::ServerError
        } else {
            FailureKind::AuthFailed
        };
        Rejection::new(kind, e.to_string())
    })
}

/// Checks that `subject` is an active user: `user_inactive` for an unknown
/// or inactive one (clients are not told which), `server_error` when the
/// store fails (fail closed).
pub(crate) async fn check_user(
    users: Option<&Arc<dyn UserStore>>,
    subject: &str,
) -> Result<(), Rejection> {
    let users = users.ok_or_else(|| Rejection::new(FailureKind::ServerError, "no user store"))?;
    match users.status(subject).await {
        Ok(UserStatus::Active) => Ok(()),
        Ok(UserStatus::Inactive) => Err(Rejection::new(FailureKind::UserInactive, "user inactive")),
        Ok(UserStatus::Unknown) => Err(Rejection::new(FailureKind::UserInactive, "user unknown")),
        Err(e) => Err(Rejection::new(
            FailureKind::ServerError,
            format!("user store: {e}"),
        )),
    }
}

/// Verifies a token and says who it belongs to.
pub trait Authenticator: Send + Sync + 'static {
    /// The token's claims, or why it was refused.
    fn authenticate<'a>(&'a self, token: &'a str) -> BoxFuture<'a, Result<Claims, AuthError>>;

    /// What a cheap, local look at `token` finds, for an authenticator
    /// whose [`authenticate`](Authenticator::authenticate) is costly (a call
    /// to a remote service) and that can also verify locally (an
    /// [`Introspector`](crate::introspection::Introspector) with a fallback
    /// verifier). The handshake checks path binding and the endpoint's
    /// permission on these claims before it authenticates, so a token that
    /// could never pass costs no remote call; a token that passes is then
    /// authenticated, and checked again on the claims that returns.
    ///
    /// `None` (the default): there is no such look.
    fn precheck<'a>(&'a self, token: &'a str) -> BoxFuture<'a, Option<Claims>> {
        let _ = token;
        Box::pin(std::future::ready(None))
    }
}

/// A token was refused, or could not be checked.
#[derive(Debug, thiserror::Error)]
#[error("{detail}")]
pub struct AuthError {
    server_error: bool,
    detail: String,
}

impl AuthError {
    /// The token is not acceptable (closes with `auth_failed`).
    pub fn invalid(detail: impl Into<String>) -> Self {
        AuthError {
            server_error: false,
            detail: detail.into(),
        }
    }

    /// The token could not be checked (closes with `server_error`).
    pub fn unavailable(detail: impl Into<String>) -> Self {
        AuthError {
            server_error: true,
            detail: detail.into(),
        }
    }

    /// Whether the failure was the server's, not the token's.
    pub fn is_server_error(&self) -> bool {
        self.server_error
    }
}

impl Authenticator for Verifier {
    fn authenticate<'a>(&'a self, token: &'a str) -> BoxFuture<'a, Result<Claims, AuthError>> {
        Box::pin(async move {
            self.verify(token).await.map_err(|e| AuthError {
                server_error: e.is_server_error(),
                detail: e.to_string(),
            })
        })
    }
}

/// Runs the endpoint's resource checks (the spec's `authorize:`), in order,
/// for `principal` on the path `params`: at the handshake, and again when
/// an in-band refresh replaces the principal. The first that refuses
/// decides the failure kind: `forbidden`, `not_found`, or `server_error`
/// when the check could not answer (fail closed).
pub(crate) async fn run_checks(
    checks: Option<&Arc<dyn Checks>>,
    endpoint: &EndpointDescriptor,
    principal: &Principal,
    params: &[(&'static str, String)],
) -> Result<(), Rejection> {
    if endpoint.checks.is_empty() {
        return Ok(());
    }
    let checks = checks.ok_or_else(|| Rejection::new(FailureKind::ServerError, "no checks"))?;
    let cx = CheckContext {
        principal,
        params,
        topic: None,
    };
    for &name in endpoint.checks {
        match checks.check(name, &cx).await {
            Ok(CheckOutcome::Allow) => {}
            Ok(CheckOutcome::Forbidden) => {
                return Err(Rejection::new(
                    FailureKind::Forbidden,
                    format!("check `{name}` denied"),
                ));
            }
            Ok(CheckOutcome::NotFound) => {
                return Err(Rejection::new(
                    FailureKind::NotFound,
                    format!("check `{name}` found nothing"),
                ));
            }
            Err(e) => {
                return Err(Rejection::new(
                    FailureKind::ServerError,
                    format!("check `{name}`: {e}"),
                ));
            }
        }
    }
    Ok(())
}
