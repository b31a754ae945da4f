//! Who a connection is and what it may do.
//!
//! A [`Principal`] is built once per connection, after the token verified
//! and the user was found active: the subject, the roles from the token, and
//! which of the spec's roles those are, so that a per-message permission
//! check reads the spec's (static) permission lists of the held roles and
//! allocates nothing.
//!
//! A principal lives as long as its connection, in both the connection's
//! loop and the handler's session, so it is one shared allocation: cloning
//! it is a reference count, and the subject is shared with the audit context
//! and the connection limiter. The token's roles are usually the spec's
//! roles in the spec's order: then the principal keeps only which ones
//! (`held`), and spells them out as strings if and when [`Principal::roles`]
//! is asked, which an idle connection never is (two allocations fewer per
//! connection, issue 14).

use std::sync::{Arc, OnceLock};

use crate::descriptor::RoleDescriptor;

/// An authenticated (or explicitly anonymous) connection's identity.
#[derive(Clone, Debug)]
pub struct Principal(Arc<Inner>);

#[derive(Debug)]
struct Inner {
    subject: Option<Arc<str>>,
    /// The token's roles as it listed them. Left empty when they are
    /// exactly the held spec roles in index order, and then built from
    /// `held` and `held_beyond` on first ask.
    roles: OnceLock<Vec<String>>,
    spec_roles: &'static [RoleDescriptor],
    /// The held spec roles among the first 64, by index (bit `i` = role `i`).
    held: u64,
    /// Held spec roles from index 64 on (specs rarely have that many).
    held_beyond: Box<[usize]>,
}

impl Principal {
    /// A principal for `subject` holding `roles`, with permissions resolved
    /// from the spec's roles. Roles the spec does not know grant nothing.
    pub fn new(
        subject: Option<&str>,
        roles: Vec<String>,
        spec_roles: &'static [RoleDescriptor],
    ) -> Self {
        Self::shared(subject.map(Arc::from), roles, spec_roles)
    }

    /// Like [`Principal::new`], keeping the caller's shared subject.
    pub(crate) fn shared(
        subject: Option<Arc<str>>,
        roles: Vec<String>,
        spec_roles: &'static [RoleDescriptor],
    ) -> Self {
        let mut held = 0u64;
        let mut held_beyond = Vec::new();
        for (index, role) in spec_roles.iter().enumerate() {
            if roles.iter().any(|r| r == role.name) {
                if index < 64 {
                    held |= 1 << index;
                } else {
                    held_beyond.push(index);
                }
            }
        }
        let mut inner = Inner {
            subject,
            roles: OnceLock::new(),
            spec_roles,
            held,
            held_beyond: held_beyond.into_boxed_slice(),
        };
        let spelled_by_held = roles.len() == inner.held().count()
            && roles
                .iter()
                .zip(inner.held())
                .all(|(role, spec)| *role == spec.name);
        if !spelled_by_held {
            inner.roles = OnceLock::from(roles);
        }
        Principal(Arc::new(inner))
    }

    /// The token's subject; `None` for anonymous connections.
    pub fn subject(&self) -> Option<&str> {
        self.0.subject.as_deref()
    }

    /// The subject, shared.
    pub(crate) fn shared_subject(&self) -> Option<&Arc<str>> {
        self.0.subject.as_ref()
    }

    /// Whether the connection authenticated with a token.
    pub fn is_authenticated(&self) -> bool {
        self.0.subject.is_some()
    }

    /// The roles the token carried.
    pub fn roles(&self) -> &[String] {
        let inner = &*self.0;
        inner
            .roles
            .get_or_init(|| inner.held().map(|role| role.name.to_owned()).collect())
    }

    /// Whether the principal holds `perm`.
    pub fn has(&self, perm: &str) -> bool {
        self.0
            .held()
            .any(|role| role.all || role.permissions.contains(&perm))
    }

    /// Every permission held, sorted (for welcome messages and docs).
    pub fn permissions(
        &self,
        declared: impl IntoIterator<Item = &'static str>,
    ) -> Vec<&'static str> {
        let mut held: Vec<&'static str> = declared.into_iter().filter(|p| self.has(p)).collect();
        held.sort_unstable();
        held.dedup();
        held
    }
}

impl Inner {
    /// The held spec roles, in the spec's order.
    fn held(&self) -> impl Iterator<Item = &'static RoleDescriptor> + '_ {
        let mut bits = self.held;
        std::iter::from_fn(move || {
            (bits != 0).then(|| {
                let index = bits.trailing_zeros() as usize;
                bits &= bits - 1;
                index
            })
        })
        .chain(self.held_beyond.iter().copied())
        .filter_map(|index| self.spec_roles.get(index))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const ROLES: &[RoleDescriptor] = &[
        RoleDescriptor {
            name: "user",
            all: false,
            permissions: &["conversation.read", "conversation.write"],
        },
        RoleDescriptor {
            name: "admin",
            all: true,
            permissions: &["conversation.read"],
        },
    ];

    #[test]
    fn roles_grant_their_permissions_only() {
        let user = Principal::new(Some("alice"), vec!["user".into(), "unknown".into()], ROLES);
        assert!(user.has("conversation.write"));
        assert!(!user.has("system.monitor"));
        let admin = Principal::new(Some("root"), vec!["admin".into()], ROLES);
        assert!(admin.has("system.monitor"), "`*` grants everything");
        let nobody = Principal::new(None, vec![], ROLES);
        assert!(!nobody.has("conversation.read") && !nobody.is_authenticated());
    }

    #[test]
    fn roles_read_back_as_the_token_listed_them() {
        let listed = |roles: &[&str]| {
            let roles: Vec<String> = roles.iter().map(|r| r.to_string()).collect();
            assert_eq!(
                Principal::new(Some("a"), roles.clone(), ROLES).roles(),
                roles
            );
        };
        listed(&[]);
        listed(&["user"]);
        listed(&["user", "admin"]);
        listed(&["admin", "user"]);
        listed(&["user", "user"]);
        listed(&["unknown"]);
        listed(&["user", "unknown", "admin"]);
    }

    #[test]
    fn roles_beyond_the_first_64_count() {
        let roles: &'static [RoleDescriptor] = Box::leak(
            (0..70)
                .map(|i| RoleDescriptor {
                    name: Box::leak(format!("r{i}").into_boxed_str()),
                    all: false,
                    permissions: if i == 68 { &["late"] } else { &["early"] },
                })
                .collect::<Vec<_>>()
                .into_boxed_slice(),
        );
        let late = Principal::new(Some("a"), vec!["r68".into()], roles);
        assert!(late.has("late") && !late.has("early"));
        let early = Principal::new(Some("a"), vec!["r3".into()], roles);
        assert!(early.has("early") && !early.has("late"));
        assert_eq!(early.clone().subject(), Some("a"));
        let both = Principal::new(Some("a"), vec!["r3".into(), "r68".into()], roles);
        assert_eq!(both.roles(), ["r3", "r68"]);
    }
}
