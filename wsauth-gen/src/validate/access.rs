//! Who may do what: declared permissions, roles (wildcards expanded) and
//! the named resource checks.

use std::collections::HashSet;

use super::Validator;
use super::names::{CHECK, PERMISSION, ROLE};
use crate::diagnostic::Diagnostic;
use crate::ir;
use crate::spec::model::{self, Spanned};

/// The permission names a spec declares, in order.
fn declared_permissions(spec: &model::Spec) -> impl Iterator<Item = &str> + Clone {
    spec.permissions.keys().map(|k| k.value.as_str())
}

impl Validator<'_> {
    pub(super) fn permissions(&mut self) -> Vec<ir::Permission> {
        let mut out = Vec::new();
        for (name, description) in &self.spec.permissions {
            self.check_name(name, &PERMISSION);
            out.push(ir::Permission {
                name: name.value.clone(),
                description: description.clone(),
                loc: self.loc(name.span),
            });
        }
        out
    }

    /// Reports `perm` unless it is declared.
    pub(super) fn known_permission(&mut self, perm: &Spanned<String>) -> bool {
        if self.spec.permissions.contains_key(perm.value.as_str()) {
            return true;
        }
        let known: Vec<&str> = declared_permissions(self.spec).collect();
        self.unknown("permission", perm, known, "permissions");
        false
    }

    pub(super) fn roles(&mut self) -> Vec<ir::Role> {
        let mut out = Vec::new();
        for (name, role) in &self.spec.roles {
            self.check_name(name, &ROLE);
            let mut all = false;
            let mut granted: HashSet<&str> = HashSet::new();
            for grant in &role.permissions {
                if grant.value == "*" {
                    all = true;
                } else if let Some(prefix) = grant.value.strip_suffix(".*") {
                    let matched: Vec<&str> = declared_permissions(self.spec)
                        .filter(|p| p.strip_prefix(prefix).is_some_and(|r| r.starts_with('.')))
                        .collect();
                    if matched.is_empty() {
                        self.error(
                            Diagnostic::new(
                                "wsauth::undeclared_permission",
                                grant.span,
                                format!(
                                    "role `{}` grants `{}`, which matches no declared permission",
                                    name.value, grant.value
                                ),
                            )
                            .help(format!(
                                "declare a permission starting with `{prefix}.` under `permissions`"
                            )),
                        );
                    }
                    granted.extend(matched);
                } else if self.spec.permissions.contains_key(grant.value.as_str()) {
                    granted.insert(&grant.value);
                } else {
                    let mut d = Diagnostic::new(
                        "wsauth::undeclared_permission",
                        grant.span,
                        format!(
                            "role `{}` grants undeclared permission `{}`",
                            name.value, grant.value
                        ),
                    );
                    d = match crate::suggest::closest(&grant.value, declared_permissions(self.spec))
                    {
                        Some(best) => d.help(format!("did you mean `{best}`?")),
                        None => d.help("declare it under `permissions`, or grant `*` for all"),
                    };
                    self.error(d);
                }
            }
            let permissions = declared_permissions(self.spec)
                .filter(|p| all || granted.contains(p))
                .map(str::to_owned)
                .collect();
            out.push(ir::Role {
                name: name.value.clone(),
                description: role.description.clone(),
                all,
                permissions,
            });
        }
        out
    }

    pub(super) fn checks(&mut self) -> Vec<ir::Check> {
        let mut out = Vec::new();
        for (name, check) in &self.spec.checks {
            self.check_name(name, &CHECK);
            out.push(ir::Check {
                name: name.value.clone(),
                description: check.description.clone(),
                loc: self.loc(name.span),
            });
        }
        out
    }
}
