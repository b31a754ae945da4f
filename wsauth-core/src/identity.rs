//! Who a token belongs to, and whether they may use the API: the two
//! checks every entry point shares (the handshake, `/ws/stats` and in-band
//! refresh), each mapping its failures to the spec's failure kinds once.
//!
//! They are separate on purpose: the handshake binds path parameters to the
//! subject between the two, so a request that cannot match costs no
//! user-store lookup.

use std::sync::Arc;

use wsauth_spec::FailureKind;

use crate::jwt::Claims;
use crate::reject::Rejection;
use crate::server::Authenticator;
use crate::store::{UserStatus, UserStore};

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
