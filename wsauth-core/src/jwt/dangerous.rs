//! Conveniences that weaken verification on purpose, for development
//! servers only; every use should be visible in review and loud at run
//! time.
//!
//! # Motivation
//!
//! Every token must carry `exp` (and, with `max_ttl_s`, a bounded
//! lifetime): a stolen token stops working on its own. A developer poking at
//! a server by hand, though, wants one token that keeps working while the
//! server runs. [`accept_non_expiring`] allows exactly that and nothing
//! wider: one token, named by a `jti` the server chose (unguessable, fresh
//! at every start), signed with the server's own key, and otherwise checked
//! like any other (issuer, audience, subject, roles, `nbf`, `iat`). Tokens
//! without `exp` and with any other `jti` are still refused, and a restart
//! with a new `jti` retires the old token.

use serde_json::{Map, Value};

use super::Verifier;

/// The `exp` reported in [`Claims`](super::Claims) for the non-expiring
/// token: 9999-12-31T23:59:59Z, far enough never to come, near enough
/// that adding it to a clock cannot overflow.
pub const NON_EXPIRING_EXP: u64 = 253_402_300_799;

/// The claim naming the non-expiring token.
pub const MARKER_CLAIM: &str = "jti";

/// `verifier`, also accepting the one token that has no `exp` and whose
/// `jti` claim is `jti` (every other check still applies; the lifetime
/// limit does not, since there is no lifetime). Its claims report
/// [`NON_EXPIRING_EXP`] as `exp`, so a connection opened with it is not
/// closed for expiry. Each acceptance logs a warning (target
/// `wsauth::dangerous`).
///
/// `jti` should be random and fresh for each run (at least 128 bits);
/// an empty `jti` accepts nothing. Only for development servers, behind
/// an explicit flag.
pub fn accept_non_expiring(verifier: Verifier, jti: &str) -> Verifier {
    Verifier {
        non_expiring: (!jti.is_empty()).then(|| jti.into()),
        ..verifier
    }
}

/// Whether `claims` (without `exp`) name the token `non_expiring`
/// allows.
pub(super) fn is_the_non_expiring_token(
    claims: &Map<String, Value>,
    non_expiring: Option<&str>,
) -> bool {
    match (non_expiring, claims.get(MARKER_CLAIM)) {
        (Some(allowed), Some(Value::String(jti))) => {
            !allowed.is_empty() && allowed.as_bytes() == jti.as_bytes()
        }
        _ => false,
    }
}
