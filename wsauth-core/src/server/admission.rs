//! The handshake's checks, in the spec's order: path, token (and whether it
//! was revoked), path binding, user, permission, connection limit (on this
//! node, then across the cluster), resource checks. What passes is
//! [`Admitted`]; what fails is a [`Rejection`] carrying the spec's failure
//! kind.

use std::sync::Arc;

use wsauth_spec::{Access, FailureKind, ParamType};

use crate::audit::{self, AuditContext, Refusal};
use crate::cluster::TokenMark;
use crate::descriptor::EndpointDescriptor;
use crate::faults::{self, Fault};
use crate::identity::{self, run_checks};
use crate::limits::Place;
use crate::link::Link;
use crate::principal::Principal;
use crate::reject::Rejection;
use crate::token::{self, TokenError};

use super::EndpointState;

/// What passed the handshake.
pub(super) struct Admitted {
    pub(super) principal: Principal,
    pub(super) params: Arc<[(&'static str, String)]>,
    pub(super) expires_at: Option<u64>,
    pub(super) issued_at: Option<u64>,
    pub(super) slot: Place,
    /// The connection's link, made here to be listed for revocation
    /// sweeps before its token's last revocation check.
    pub(super) link: Arc<Link>,
}

/// The handshake's checks, in the spec's order.
pub(super) async fn admit(
    state: &EndpointState,
    parts: &http::request::Parts,
    audit: &mut AuditContext,
) -> Result<Admitted, Rejection> {
    let shared = &state.shared;
    let api = shared.api;
    let endpoint = state.descriptor;

    let raw = raw_params(endpoint, parts.uri.path())
        .ok_or_else(|| Rejection::new(FailureKind::NotFound, "path does not match the endpoint"))?;

    let (principal, expires_at, issued_at, mark) = match (
        endpoint.access,
        token::extract(&parts.headers, &parts.uri, endpoint.sources),
    ) {
        (Access::Anonymous, _) | (Access::Optional, Err(TokenError::Missing)) => {
            let role = api.auth.and_then(|a| a.anonymous_role);
            (
                Principal::new(
                    None,
                    role.map(str::to_owned).into_iter().collect(),
                    api.roles,
                ),
                None,
                None,
                TokenMark::default(),
            )
        }
        (_, Err(TokenError::Missing)) => {
            return Err(Rejection::new(
                FailureKind::AuthRequired,
                "no token presented",
            ));
        }
        (_, Err(e)) => return Err(Rejection::new(FailureKind::AuthFailed, e.to_string())),
        (_, Ok(extracted)) => {
            let token = extracted.token.as_str();
            // A token whose local claims could never pass costs no call to
            // a remote authenticator.
            if let Some(authenticator) = &shared.authenticator
                && let Some(local) = authenticator.precheck(token).await
            {
                let local = Principal::new(Some(&local.subject), local.roles, api.roles);
                bound(endpoint, &local, &raw)?;
                permitted(endpoint, &local)?;
            }
            let claims = identity::verify(shared.authenticator.as_ref(), token).await?;
            let subject: Arc<str> = Arc::from(claims.subject.as_str());
            audit.subject = Some(Arc::clone(&subject));
            // In memory, no round trip: revoked tokens cost nothing more.
            let mark = TokenMark::of(&claims);
            if shared.cluster.revocations.is_revoked(&subject, &mark) {
                return Err(Rejection::new(FailureKind::Revoked, "token revoked"));
            }
            (
                Principal::shared(Some(subject), claims.roles, api.roles),
                Some(claims.exp),
                claims.iat,
                mark,
            )
        }
    };

    bound(endpoint, &principal, &raw)?;
    let mut params: Vec<(&'static str, String)> = Vec::with_capacity(raw.len());
    for (param, value) in endpoint.params.iter().zip(raw) {
        if !canonical(param.ty, value) {
            return Err(Rejection::new(
                FailureKind::NotFound,
                "path parameter is not in canonical form",
            ));
        }
        params.push((param.name, value.to_owned()));
    }

    if let Some(subject) = principal.subject() {
        identity::check_user(shared.users.as_ref(), subject).await?;
    }

    permitted(endpoint, &principal)?;

    let link = Arc::new(Link::new(endpoint.limits.send_queue, principal.clone()));

    // The user's slot before the resource checks: a user at their limit
    // costs no check (a lookup, often a database query); a refused check
    // drops the slot again. The node's own count first: it costs no round
    // trip to the cluster's Redis.
    let slot = match principal.shared_subject() {
        Some(subject) => {
            // Listed and checked in one step: a revocation from now on
            // closes the connection, one before it refuses it here.
            let listed = shared
                .cluster
                .revocations
                .list(subject, &link, mark)
                .map_err(|_| Rejection::new(FailureKind::Revoked, "token revoked"))?;
            let max = if faults::on(Fault::NoConnectionLimit) {
                u32::MAX
            } else {
                endpoint.limits.max_connections_per_user
            };
            let local = shared
                .limiter
                .try_acquire_shared(subject, max)
                .ok_or_else(|| {
                    audit::limit_hit(audit, FailureKind::TooManyConnections);
                    Rejection::new(FailureKind::TooManyConnections, "connection limit reached")
                })?;
            let cluster = shared
                .cluster
                .take_slot(subject, max)
                .await
                .inspect_err(|refused| {
                    if refused.kind == FailureKind::TooManyConnections {
                        audit::limit_hit(audit, FailureKind::TooManyConnections);
                    }
                })?;
            Place::User(local, cluster, listed)
        }
        None => Place::Anonymous(
            shared
                .anonymous
                .try_lease((), shared.limits.max_anonymous_connections)
                .ok_or_else(|| {
                    shared
                        .metrics
                        .refusals()
                        .refused(Refusal::AnonymousFull, audit.peer);
                    Rejection::new(
                        FailureKind::TooManyConnections,
                        "anonymous connection limit reached",
                    )
                    .sampled()
                })?,
        ),
    };

    if !faults::on(Fault::NoResourceChecks) {
        run_checks(shared.checks.as_ref(), endpoint, &principal, &params).await?;
    }

    Ok(Admitted {
        principal,
        params: params.into(),
        expires_at,
        issued_at,
        slot,
        link,
    })
}

/// Whether every `equals: subject` path parameter is `principal`'s subject.
fn bound(
    endpoint: &EndpointDescriptor,
    principal: &Principal,
    raw: &[&str],
) -> Result<(), Rejection> {
    if faults::on(Fault::NoSubjectBinding) {
        return Ok(());
    }
    let mismatch = endpoint
        .params
        .iter()
        .zip(raw)
        .any(|(param, value)| param.equals_subject && principal.subject() != Some(*value));
    if mismatch {
        return Err(Rejection::new(
            FailureKind::SubjectMismatch,
            "path parameter differs from the subject",
        ));
    }
    Ok(())
}

/// Whether `principal` holds the endpoint's own permission.
fn permitted(endpoint: &EndpointDescriptor, principal: &Principal) -> Result<(), Rejection> {
    if faults::on(Fault::NoEndpointPermission) {
        return Ok(());
    }
    match endpoint.perm {
        Some(perm) if !principal.has(perm) => Err(Rejection::new(
            FailureKind::Forbidden,
            format!("lacks permission `{perm}`"),
        )),
        _ => Ok(()),
    }
}

/// The raw (still percent-encoded) path segments under the endpoint's
/// parameters, in order; `None` when the path does not match the template.
fn raw_params<'p>(endpoint: &EndpointDescriptor, path: &'p str) -> Option<Vec<&'p str>> {
    let mut template = endpoint.path.trim_start_matches('/').split('/');
    let mut actual = path.trim_start_matches('/').split('/');
    let mut out = Vec::with_capacity(endpoint.params.len());
    loop {
        match (template.next(), actual.next()) {
            (None, None) => return Some(out),
            (Some(t), Some(a)) if t.starts_with('{') => out.push(a),
            (Some(t), Some(a)) if t == a => {}
            _ => return None,
        }
    }
}

/// Whether `value` is the one canonical spelling of a `ty` value: no
/// percent-encoding, no sign or leading zeros, lower-case UUIDs.
pub(crate) fn canonical(ty: ParamType, value: &str) -> bool {
    if value.is_empty() || value.contains('%') {
        return false;
    }
    match ty {
        ParamType::String => true,
        ParamType::Integer => {
            let digits = value.strip_prefix('-').unwrap_or(value);
            !digits.is_empty()
                && digits.bytes().all(|b| b.is_ascii_digit())
                && (digits == "0" || !digits.starts_with('0'))
                && value != "-0"
                && value.parse::<i64>().is_ok()
        }
        ParamType::Uuid => {
            value.len() == 36
                && value.char_indices().all(|(i, c)| match i {
                    8 | 13 | 18 | 23 => c == '-',
                    _ => c.is_ascii_digit() || ('a'..='f').contains(&c),
                })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_canonical_params_pass() {
        assert!(canonical(ParamType::Integer, "42"));
        assert!(canonical(ParamType::Integer, "0"));
        assert!(canonical(ParamType::Integer, "-7"));
        for bad in [
            "042",
            "+42",
            "-0",
            "4 2",
            "%34%32",
            "",
            "99999999999999999999",
        ] {
            assert!(!canonical(ParamType::Integer, bad), "{bad}");
        }
        assert!(canonical(
            ParamType::Uuid,
            "123e4567-e89b-12d3-a456-426614174000"
        ));
        assert!(!canonical(
            ParamType::Uuid,
            "123E4567-E89B-12D3-A456-426614174000"
        ));
        assert!(!canonical(ParamType::String, "%34%32"));
        assert!(canonical(ParamType::String, "alice"));
    }
}
