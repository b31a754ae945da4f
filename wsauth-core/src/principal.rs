//! Who a connection is and what it may do.
//!
//! A [`Principal`] is built once per connection, after the token verified
//! and the user was found active: the subject, the roles from the token, and
//! the permissions those roles grant under the spec, resolved into a set so
//! that per-message checks are a lookup.

use std::collections::HashSet;
use std::sync::Arc;

use crate::descriptor::RoleDescriptor;

/// An authenticated (or explicitly anonymous) connection's identity.
#[derive(Clone, Debug)]
pub struct Principal {
    subject: Option<Arc<str>>,
    roles: Vec<String>,
    all: bool,
    permissions: HashSet<&'static str>,
}

impl Principal {
    /// A principal for `subject` holding `roles`, with permissions resolved
    /// from the spec's roles. Roles the spec does not know grant nothing.
    pub fn new(
        subject: Option<&str>,
        roles: Vec<String>,
        spec_roles: &'static [RoleDescriptor],
    ) -> Self {
        let mut all = false;
        let mut permissions = HashSet::new();
        for role in spec_roles
            .iter()
            .filter(|r| roles.iter().any(|held| held == r.name))
        {
            all |= role.all;
            permissions.extend(role.permissions.iter().copied());
        }
        Principal {
            subject: subject.map(Arc::from),
            roles,
            all,
            permissions,
        }
    }

    /// The token's subject; `None` for anonymous connections.
    pub fn subject(&self) -> Option<&str> {
        self.subject.as_deref()
    }

    /// Whether the connection authenticated with a token.
    pub fn is_authenticated(&self) -> bool {
        self.subject.is_some()
    }

    /// The roles the token carried.
    pub fn roles(&self) -> &[String] {
        &self.roles
    }

    /// Whether the principal holds `perm`.
    pub fn has(&self, perm: &str) -> bool {
        self.all || self.permissions.contains(perm)
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
}
