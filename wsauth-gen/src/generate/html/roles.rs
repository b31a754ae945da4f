//! The roles and permissions matrix.

use super::markup::{Markup, anchor, inline};
use super::message_link;
use crate::ir::Api;

pub(super) struct RolesView {
    pub(super) roles: Vec<RoleHead>,
    pub(super) permissions: Vec<PermRow>,
}

pub(super) struct RoleHead {
    pub(super) id: String,
    pub(super) name: String,
    pub(super) note: Markup,
}

pub(super) struct PermRow {
    pub(super) id: String,
    pub(super) name: String,
    pub(super) description: Markup,
    pub(super) cells: Vec<bool>,
    pub(super) needed_for: Markup,
}

pub(super) fn roles(api: &Api) -> RolesView {
    let anonymous = api.auth.as_ref().and_then(|a| a.anonymous_role.as_deref());
    let roles = api
        .roles
        .iter()
        .map(|r| {
            let mut notes = Vec::new();
            if r.all {
                notes.push(Markup::text("every permission"));
            }
            if anonymous == Some(r.name.as_str()) {
                notes.push(Markup::text("anonymous connections"));
            }
            let mut note = Markup::join(notes, "; ");
            if let Some(d) = &r.description {
                if !note.is_empty() {
                    note = note.t(". ");
                }
                note = note.m(inline(d));
            }
            RoleHead {
                id: anchor("role", &r.name),
                name: r.name.clone(),
                note,
            }
        })
        .collect();
    let permissions = api
        .permissions
        .iter()
        .map(|p| {
            let mut needed = Vec::new();
            for e in &api.endpoints {
                if e.perm.as_deref() == Some(p.name.as_str()) {
                    needed.push(
                        Markup::text("open ")
                            .m(Markup::link_code(&anchor("endpoint", &e.name), &e.name)),
                    );
                }
            }
            for m in &api.messages {
                if m.perm.as_deref() == Some(p.name.as_str()) {
                    needed.push(Markup::text("send ").m(message_link(&m.name)));
                }
            }
            if let Some(stats) = &api.stats
                && stats.perm == p.name
            {
                needed.push(Markup::text("read ").c(&stats.path));
            }
            PermRow {
                id: anchor("perm", &p.name),
                name: p.name.clone(),
                description: inline(&p.description),
                cells: api
                    .roles
                    .iter()
                    .map(|r| api.role_grants(&r.name, &p.name))
                    .collect(),
                needed_for: Markup::join(needed, ", "),
            }
        })
        .collect();
    RolesView { roles, permissions }
}
