//! What changed between two versions of a spec, and whom it breaks
//! (`wsauth-gen diff`).
//!
//! # Motivation
//!
//! A spec is a contract with two sides that ship on their own schedules:
//! the server's code (bound to the spec at compile time) and clients
//! generated from an older copy. A change can be harmless to one and
//! break the other, and which one depends on the direction a message
//! travels. [`diff`] classifies every change for each side:
//!
//! - **servers**: the server's code, written against the old spec, built
//!   against the new one. Typed messages, parameters and handlers are
//!   generated from the spec, so removing or retyping what the code reads,
//!   adding what it must build or handle (a field of a message it sends, a
//!   message it receives, an endpoint, a check) stops the build.
//! - **clients**: a client generated from the old spec talking to a server
//!   running the new one. The Rust and TypeScript clients decide alike:
//!   both refuse a frame whose type or payload the spec they were
//!   generated from does not allow, and act on close codes as it says. So
//!   a server that may now *send* more (a new message, field or enum
//!   value) breaks them, as does one that *accepts* less (a narrowed
//!   permission, a tighter bound, a new required field, a lower limit).
//!
//! Payload schemas are compared as sets of values: whether the new schema
//! admits values the old one refused (it widens) and refuses values the old
//! one admitted (it narrows), field by field, named schemas resolved.

use std::collections::BTreeSet;
use std::fmt::Write as _;

use serde::Serialize;
use wsauth_spec::{Access, Keyword as _};

use crate::ir::{Api, Direction, Endpoint, Message, Schema, SchemaKind, Topic};

/// Whether a change breaks one side.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Impact {
    /// Nothing that worked stops working.
    Compatible,
    /// Something that worked stops working (or stops building).
    Breaking,
}

impl Impact {
    fn from(breaking: bool) -> Self {
        if breaking {
            Impact::Breaking
        } else {
            Impact::Compatible
        }
    }

    fn word(self) -> &'static str {
        match self {
            Impact::Compatible => "compatible",
            Impact::Breaking => "**breaking**",
        }
    }
}

/// One change between the two specs.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize)]
pub struct Change {
    /// What changed, and what it means.
    pub what: String,
    /// For the server's code.
    pub servers: Impact,
    /// For clients generated from the old spec (Rust and TypeScript alike).
    pub clients: Impact,
}

/// Every change, in a stable order.
#[derive(Clone, Debug, Serialize)]
pub struct Report {
    /// The spec's name in the new version.
    pub name: String,
    /// `version` of the old spec.
    pub old_version: String,
    /// `version` of the new spec.
    pub new_version: String,
    /// The changes, breaking ones first.
    pub changes: Vec<Change>,
}

impl Report {
    /// Whether any change breaks servers or clients.
    pub fn breaking(&self) -> bool {
        self.changes
            .iter()
            .any(|c| c.servers == Impact::Breaking || c.clients == Impact::Breaking)
    }

    /// A Markdown summary, for a changelog or a pull request.
    pub fn markdown(&self) -> String {
        let mut out = format!(
            "# `{}`: {} → {}\n\n",
            self.name, self.old_version, self.new_version
        );
        if self.changes.is_empty() {
            out.push_str("No changes to the contract.\n");
            return out;
        }
        let count = |f: fn(&Change) -> Impact| {
            self.changes
                .iter()
                .filter(|c| f(c) == Impact::Breaking)
                .count()
        };
        let (servers, clients) = (count(|c| c.servers), count(|c| c.clients));
        let _ = writeln!(
            out,
            "{} change{}: {servers} breaking for servers, {clients} for clients.",
            self.changes.len(),
            if self.changes.len() == 1 { "" } else { "s" },
        );
        if self.breaking() && major(&self.old_version) == major(&self.new_version) {
            let _ = writeln!(
                out,
                "\nThe major version did not change ({} → {}), and some changes are breaking.",
                self.old_version, self.new_version
            );
        }
        out.push_str(
            "\n| change | servers | Rust client | TypeScript client |\n|---|---|---|---|\n",
        );
        for change in &self.changes {
            let _ = writeln!(
                out,
                "| {} | {} | {} | {} |",
                change.what.replace('|', "\\|"),
                change.servers.word(),
                change.clients.word(),
                change.clients.word(),
            );
        }
        out
    }
}

/// The major version number of a `MAJOR.MINOR.PATCH` string (the whole
/// string when it has no dot).
fn major(version: &str) -> &str {
    version.split('.').next().unwrap_or(version)
}

/// Every change from `old` to `new`.
pub fn diff(old: &Api, new: &Api) -> Report {
    let mut changes = Changes::default();
    auth(old, new, &mut changes);
    roles(old, new, &mut changes);
    close_codes(old, new, &mut changes);
    for o in &old.endpoints {
        match new.endpoint(&o.name) {
            Some(n) => endpoint(old, new, o, n, &mut changes),
            None => changes.add(format!("endpoint `{}` removed", o.name), true, true),
        }
    }
    for n in &new.endpoints {
        if old.endpoint(&n.name).is_none() {
            changes.add(
                format!(
                    "endpoint `{}` added (`{}`): the server needs a handler for it",
                    n.name, n.path
                ),
                true,
                false,
            );
        }
    }
    for o in &old.topics {
        match new.topic(&o.name) {
            Some(n) => topic(old, new, o, n, &mut changes),
            None => changes.add(format!("topic `{}` removed", o.name), true, true),
        }
    }
    for n in &new.topics {
        if old.topic(&n.name).is_none() {
            changes.add(format!("topic `{}` added", n.name), false, false);
        }
    }
    for o in &old.messages {
        if let Some(n) = new.message(&o.name) {
            message(old, new, o, n, &mut changes);
        }
    }
    let mut changes = changes.0;
    changes.sort_by(|a, b| {
        (b.servers.max(b.clients), &a.what).cmp(&(a.servers.max(a.clients), &b.what))
    });
    changes.dedup();
    Report {
        name: new.name.clone(),
        old_version: old.version.clone(),
        new_version: new.version.clone(),
        changes,
    }
}

#[derive(Default)]
struct Changes(Vec<Change>);

impl Changes {
    fn add(&mut self, what: String, servers: bool, clients: bool) {
        self.0.push(Change {
            what,
            servers: Impact::from(servers),
            clients: Impact::from(clients),
        });
    }
}

/// `a`, `b` as Markdown code.
fn names<'a>(items: impl IntoIterator<Item = &'a str>) -> String {
    items
        .into_iter()
        .map(|i| format!("`{i}`"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// Who may use something that needs `perm` (`None`: every role): the
/// roles granting it, plus `(anonymous)` when the spec's anonymous role
/// does.
fn admitted(api: &Api, perm: Option<&str>) -> BTreeSet<String> {
    let grants = |role: &str| perm.is_none_or(|p| api.role_grants(role, p));
    let mut roles: BTreeSet<String> = api
        .roles
        .iter()
        .filter(|r| grants(&r.name))
        .map(|r| r.name.clone())
        .collect();
    let anonymous = api.auth.as_ref().and_then(|a| a.anonymous_role.as_deref());
    if anonymous.is_some_and(grants) {
        roles.insert("(anonymous)".to_owned());
    }
    roles
}

/// Records who lost access when `what` went from needing `old_perm` to
/// needing `new_perm`; `in_code`: the server's code states the permission
/// (an endpoint's, in `#[ws_endpoint(perm = ...)]`), so a new one breaks
/// its build.
fn permission(
    old: &Api,
    new: &Api,
    what: &str,
    (old_perm, new_perm): (Option<&str>, Option<&str>),
    in_code: bool,
    changes: &mut Changes,
) {
    let (before, after) = (admitted(old, old_perm), admitted(new, new_perm));
    let lost: Vec<&str> = before.difference(&after).map(String::as_str).collect();
    let gained: Vec<&str> = after.difference(&before).map(String::as_str).collect();
    if old_perm != new_perm || !lost.is_empty() || !gained.is_empty() {
        let name = |p: Option<&str>| p.map_or("none".to_owned(), |p| format!("`{p}`"));
        let mut text = if old_perm == new_perm {
            format!("{what} (permission {})", name(new_perm))
        } else {
            format!("{what}: permission {} → {}", name(old_perm), name(new_perm))
        };
        if !lost.is_empty() {
            let _ = write!(text, ": no longer for {}", names(lost.iter().copied()));
        }
        if !gained.is_empty() {
            let sep = if lost.is_empty() { ":" } else { ";" };
            let _ = write!(text, "{sep} now also for {}", names(gained.iter().copied()));
        }
        changes.add(text, in_code && old_perm != new_perm, !lost.is_empty());
    }
}

fn auth(old: &Api, new: &Api, changes: &mut Changes) {
    let (Some(o), Some(n)) = (&old.auth, &new.auth) else {
        if old.auth.is_some() != new.auth.is_some() {
            changes.add(
                format!(
                    "authentication {}",
                    if new.auth.is_some() {
                        "added"
                    } else {
                        "removed"
                    }
                ),
                false,
                new.auth.is_some(),
            );
        }
        return;
    };
    for source in &o.sources {
        if !n.sources.contains(source) {
            changes.add(
                format!("token source {} removed", source_name(source)),
                false,
                true,
            );
        }
    }
    for source in &n.sources {
        if !o.sources.contains(source) {
            changes.add(
                format!("token source {} added", source_name(source)),
                false,
                false,
            );
        }
    }
    if o.on_expiry != n.on_expiry {
        changes.add(
            format!(
                "at a token's expiry: `{}` → `{}`",
                o.on_expiry.word(),
                n.on_expiry.word()
            ),
            false,
            true,
        );
    }
    match (&o.jwt, &n.jwt) {
        (Some(oj), Some(nj)) => {
            let mut claim = |what: &str, before: String, after: String| {
                if before != after {
                    changes.add(
                        format!("JWT {what}: {before} → {after}: tokens issued for the old spec are refused"),
                        false,
                        true,
                    );
                }
            };
            claim(
                "issuer",
                format!("{:?}", oj.issuer),
                format!("{:?}", nj.issuer),
            );
            claim(
                "subject claim",
                oj.subject_claim.clone(),
                nj.subject_claim.clone(),
            );
            claim(
                "roles claim",
                format!("`{}` ({})", oj.roles_claim, oj.roles_shape.word()),
                format!("`{}` ({})", nj.roles_claim, nj.roles_shape.word()),
            );
            let lost_aud: Vec<&str> = oj
                .audience
                .iter()
                .filter(|a| !nj.audience.is_empty() && !nj.audience.contains(a))
                .map(String::as_str)
                .collect();
            if !lost_aud.is_empty() || (oj.audience.is_empty() && !nj.audience.is_empty()) {
                changes.add(
                    format!(
                        "JWT audiences {} → {}",
                        names(oj.audience.iter().map(String::as_str)),
                        names(nj.audience.iter().map(String::as_str))
                    ),
                    false,
                    true,
                );
            }
            let algorithms = |jwt: &crate::ir::Jwt| -> BTreeSet<&'static str> {
                jwt.keys
                    .iter()
                    .flat_map(|k| k.algorithms.iter().map(|a| a.word()))
                    .collect()
            };
            let (oa, na) = (algorithms(oj), algorithms(nj));
            for alg in oa.difference(&na) {
                changes.add(
                    format!("JWT algorithm {alg} no longer accepted"),
                    false,
                    true,
                );
            }
            for alg in na.difference(&oa) {
                changes.add(format!("JWT algorithm {alg} accepted"), false, false);
            }
            if nj.max_ttl_s != oj.max_ttl_s {
                changes.add(
                    format!("JWT `max_ttl_s` {} → {}", oj.max_ttl_s, nj.max_ttl_s),
                    false,
                    nj.max_ttl_s < oj.max_ttl_s,
                );
            }
            if nj.leeway_s != oj.leeway_s {
                changes.add(
                    format!("JWT `leeway_s` {} → {}", oj.leeway_s, nj.leeway_s),
                    false,
                    nj.leeway_s < oj.leeway_s,
                );
            }
        }
        (o, n) if o.is_some() != n.is_some() => changes.add(
            format!(
                "local JWT verification {}",
                if n.is_some() { "added" } else { "removed" }
            ),
            false,
            o.is_some(),
        ),
        _ => {}
    }
}

/// `header`, `query \`token\``, as the spec writes them.
fn source_name(source: &wsauth_spec::TokenSource) -> String {
    match source {
        wsauth_spec::TokenSource::Header => "`header`".to_owned(),
        wsauth_spec::TokenSource::Query(n) => format!("`query` `{n}`"),
        wsauth_spec::TokenSource::Cookie(n) => format!("`cookie` `{n}`"),
        wsauth_spec::TokenSource::Subprotocol(n) => format!("`subprotocol` `{n}`"),
    }
}

fn roles(old: &Api, new: &Api, changes: &mut Changes) {
    for o in &old.roles {
        let Some(n) = new.role(&o.name) else {
            changes.add(
                format!(
                    "role `{}` removed: its holders lose what it granted",
                    o.name
                ),
                false,
                true,
            );
            continue;
        };
        let lost: Vec<&str> = old
            .permissions
            .iter()
            .map(|p| p.name.as_str())
            // A permission gone from the spec is reported where it was
            // needed.
            .filter(|p| new.permissions.iter().any(|x| x.name == *p))
            .filter(|p| old.role_grants(&o.name, p) && !new.role_grants(&n.name, p))
            .collect();
        if !lost.is_empty() {
            changes.add(
                format!("role `{}` no longer grants {}", o.name, names(lost)),
                false,
                true,
            );
        }
        let gained: Vec<&str> = new
            .permissions
            .iter()
            .map(|p| p.name.as_str())
            .filter(|p| new.role_grants(&n.name, p) && !old.role_grants(&o.name, p))
            .collect();
        if !gained.is_empty() {
            changes.add(
                format!("role `{}` now grants {}", o.name, names(gained)),
                false,
                false,
            );
        }
    }
    for n in &new.roles {
        if old.role(&n.name).is_none() {
            changes.add(format!("role `{}` added", n.name), false, false);
        }
    }
    for o in &old.permissions {
        if !new.permissions.iter().any(|p| p.name == o.name) {
            // What needed it is reported where it changed.
            changes.add(format!("permission `{}` removed", o.name), false, false);
        }
    }
}

fn close_codes(old: &Api, new: &Api, changes: &mut Changes) {
    for o in &old.close_codes {
        let Some(n) = new.close_code(o.kind) else {
            continue;
        };
        if o.code != n.code || o.client != n.client {
            changes.add(
                format!(
                    "close code for `{}`: {} ({}) → {} ({}): clients generated from the old spec read the code as the old spec says",
                    o.kind.word(),
                    o.code,
                    o.client.word(),
                    n.code,
                    n.client.word()
                ),
                false,
                true,
            );
        } else if o.reason != n.reason {
            changes.add(
                format!(
                    "close reason for `{}` ({}): \"{}\" → \"{}\"",
                    o.kind.word(),
                    o.code,
                    o.reason,
                    n.reason
                ),
                false,
                false,
            );
        }
    }
}

fn endpoint(old: &Api, new: &Api, o: &Endpoint, n: &Endpoint, changes: &mut Changes) {
    let at = format!("endpoint `{}`", o.name);
    if o.path != n.path {
        let params = |e: &Endpoint| -> Vec<(String, String)> {
            e.params
                .iter()
                .map(|p| (p.name.clone(), format!("{:?}{:?}", p.ty, p.equals)))
                .collect()
        };
        changes.add(
            format!("{at}: path `{}` → `{}`", o.path, n.path),
            params(o) != params(n),
            true,
        );
    } else {
        for (op, np) in o.params.iter().zip(&n.params) {
            if op.ty != np.ty || op.equals != np.equals {
                changes.add(
                    format!(
                        "{at}: path parameter `{}` changed its type or binding",
                        op.name
                    ),
                    op.ty != np.ty,
                    true,
                );
            }
        }
    }
    if o.access != n.access {
        let rank = |a: Access| match a {
            Access::Anonymous => 0,
            Access::Optional => 1,
            Access::Required => 2,
        };
        changes.add(
            format!("{at}: access `{}` → `{}`", o.access.word(), n.access.word()),
            false,
            rank(n.access) > rank(o.access),
        );
    }
    if o.perm != n.perm || o.roles != n.roles {
        permission(
            old,
            new,
            &at,
            (o.perm.as_deref(), n.perm.as_deref()),
            true,
            changes,
        );
    }
    for check in n.checks.iter().filter(|c| !o.checks.contains(c)) {
        changes.add(
            format!("{at}: check `{check}` added: the server implements it, and it may refuse connections the old spec admitted"),
            true,
            true,
        );
    }
    for check in o.checks.iter().filter(|c| !n.checks.contains(c)) {
        changes.add(format!("{at}: check `{check}` removed"), true, false);
    }
    if o.welcome != n.welcome {
        changes.add(
            format!(
                "{at}: welcome `{}` → `{}`",
                o.welcome.as_deref().unwrap_or("none"),
                n.welcome.as_deref().unwrap_or("none")
            ),
            true,
            true,
        );
    }
    for m in n.receives.iter().filter(|m| !o.receives.contains(m)) {
        changes.add(
            format!("{at}: receives `{m}` (new): the handler must handle it"),
            true,
            false,
        );
    }
    for m in o.receives.iter().filter(|m| !n.receives.contains(m)) {
        changes.add(
            format!("{at}: no longer receives `{m}`: clients that send it are refused"),
            true,
            true,
        );
    }
    for m in n.sends.iter().filter(|m| !o.sends.contains(m)) {
        changes.add(
            format!(
                "{at}: sends `{m}` (new): clients generated from the old spec refuse it as invalid"
            ),
            false,
            true,
        );
    }
    for m in o.sends.iter().filter(|m| !n.sends.contains(m)) {
        changes.add(format!("{at}: no longer sends `{m}`"), true, false);
    }
    let heartbeat = |e: &Endpoint| {
        e.heartbeat
            .as_ref()
            .map(|h| (h.ping.clone(), h.pong.clone()))
    };
    let open = |e: &Endpoint| {
        e.open
            .as_ref()
            .map(|o| (o.receives, o.sends, o.perm.clone()))
    };
    if o.frames != n.frames || heartbeat(o) != heartbeat(n) || open(o) != open(n) {
        changes.add(
            format!("{at}: frames, heartbeat or open messages changed"),
            true,
            true,
        );
    }
    for t in o
        .topics
        .iter()
        .filter(|t| !n.topics.iter().any(|x| x.name == t.name))
    {
        changes.add(
            format!("{at}: no longer offers topic `{}`", t.name),
            true,
            true,
        );
    }
    for t in n
        .topics
        .iter()
        .filter(|t| !o.topics.iter().any(|x| x.name == t.name))
    {
        changes.add(format!("{at}: offers topic `{}`", t.name), false, false);
    }
    let (ol, nl) = (&o.limits, &n.limits);
    let limits: [(&str, u32, u32); 7] = [
        (
            "max_connections_per_user",
            ol.max_connections_per_user,
            nl.max_connections_per_user,
        ),
        (
            "max_message_bytes",
            ol.max_message_bytes,
            nl.max_message_bytes,
        ),
        (
            "messages_per_second",
            ol.messages_per_second,
            nl.messages_per_second,
        ),
        ("burst", ol.burst, nl.burst),
        ("idle_timeout_s", ol.idle_timeout_s, nl.idle_timeout_s),
        ("send_queue", ol.send_queue, nl.send_queue),
        (
            "max_subscriptions",
            ol.max_subscriptions,
            nl.max_subscriptions,
        ),
    ];
    for (name, before, after) in limits {
        if before != after {
            changes.add(
                format!("{at}: limit `{name}` {before} → {after}"),
                false,
                after < before,
            );
        }
    }
}

fn topic(old: &Api, new: &Api, o: &Topic, n: &Topic, changes: &mut Changes) {
    let at = format!("topic `{}`", o.name);
    let params = |t: &Topic| -> Vec<(String, String)> {
        t.params
            .iter()
            .map(|p| (p.name.clone(), format!("{:?}", p.ty)))
            .collect()
    };
    if params(o) != params(n) {
        changes.add(format!("{at}: parameters changed"), true, true);
    }
    let subscribe = (Some(o.subscribe.as_str()), Some(n.subscribe.as_str()));
    permission(
        old,
        new,
        &format!("{at} subscribe"),
        subscribe,
        false,
        changes,
    );
    if o.publish.is_some() || n.publish.is_some() {
        let publish = (o.publish.as_deref(), n.publish.as_deref());
        permission(old, new, &format!("{at} publish"), publish, false, changes);
    }
    for m in n.messages.iter().filter(|m| !o.messages.contains(m)) {
        changes.add(
            format!(
                "{at}: publishes `{m}` (new): subscribers generated from the old spec refuse it"
            ),
            false,
            true,
        );
    }
    for m in o.messages.iter().filter(|m| !n.messages.contains(m)) {
        changes.add(format!("{at}: no longer publishes `{m}`"), true, false);
    }
    if o.presence && !n.presence {
        changes.add(format!("{at}: presence removed"), true, true);
    }
    match (&o.history, &n.history) {
        (Some(_), None) => changes.add(
            format!("{at}: history removed: clients can no longer recover after a reconnect"),
            false,
            true,
        ),
        (Some(oh), Some(nh)) if nh.size < oh.size || nh.ttl_s < oh.ttl_s => changes.add(
            format!(
                "{at}: history {} messages / {} s → {} / {} s: recovery reaches less far back",
                oh.size, oh.ttl_s, nh.size, nh.ttl_s
            ),
            false,
            true,
        ),
        _ => {}
    }
}

fn message(old: &Api, new: &Api, o: &Message, n: &Message, changes: &mut Changes) {
    let at = format!("message `{}`", o.name);
    if o.perm != n.perm {
        permission(
            old,
            new,
            &at,
            (o.perm.as_deref(), n.perm.as_deref()),
            false,
            changes,
        );
    }
    let mut found = Vec::new();
    compare(
        old,
        new,
        &o.payload,
        &n.payload,
        String::new(),
        &mut found,
        0,
    );
    // A message the server receives is read by its code and must still be
    // accepted; one it sends is built by its code and must still be read
    // by old clients. Both directions: both rules.
    let receives = matches!(n.direction, Direction::ClientToServer | Direction::Both)
        || matches!(o.direction, Direction::ClientToServer | Direction::Both);
    let sends = matches!(n.direction, Direction::ServerToClient | Direction::Both)
        || matches!(o.direction, Direction::ServerToClient | Direction::Both);
    for d in found {
        let servers =
            (receives && d.shape.breaks_readers()) || (sends && d.shape.breaks_builders());
        let clients = (receives && d.narrows) || (sends && d.widens);
        let arrow = match (receives, sends) {
            (true, true) => "both ways",
            (true, false) => "client → server",
            _ => "server → client",
        };
        let field = if d.path.is_empty() {
            "payload".to_owned()
        } else {
            format!("`{}`", d.path)
        };
        changes.add(
            format!("{at} ({arrow}): {field} {}", d.what),
            servers,
            clients,
        );
    }
}

/// How a difference changes the generated types.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Shape {
    /// Only bounds, formats or patterns: the types stay.
    Same,
    /// A field was added (required or not).
    FieldAdded,
    /// A string enum gained values.
    EnumAdded,
    /// Anything else: a field removed, a type or optionality changed,
    /// enum values removed.
    Changed,
}

impl Shape {
    /// Whether code that reads the value stops building.
    fn breaks_readers(self) -> bool {
        matches!(self, Shape::EnumAdded | Shape::Changed)
    }

    /// Whether code that builds the value stops building.
    fn breaks_builders(self) -> bool {
        matches!(self, Shape::FieldAdded | Shape::Changed)
    }
}

/// One difference between two schemas.
struct Difference {
    path: String,
    what: String,
    /// The new schema admits values the old one refused.
    widens: bool,
    /// The new schema refuses values the old one admitted.
    narrows: bool,
    shape: Shape,
}

/// Deeper than any spec nests; stops cycles through named schemas.
const MAX_DEPTH: usize = 32;

fn resolve<'a>(api: &'a Api, schema: &'a Schema) -> &'a Schema {
    let mut schema = schema;
    for _ in 0..MAX_DEPTH {
        match &schema.kind {
            SchemaKind::Ref { name } => match api.schema(name) {
                Some(target) => schema = target,
                None => return schema,
            },
            _ => return schema,
        }
    }
    schema
}

fn compare(
    old_api: &Api,
    new_api: &Api,
    old: &Schema,
    new: &Schema,
    path: String,
    out: &mut Vec<Difference>,
    depth: usize,
) {
    if depth > MAX_DEPTH {
        return;
    }
    let at =
        |out: &mut Vec<Difference>, what: String, widens: bool, narrows: bool, shape: Shape| {
            out.push(Difference {
                path: path.clone(),
                what,
                widens,
                narrows,
                shape,
            });
        };
    if let (SchemaKind::Ref { name: a }, SchemaKind::Ref { name: b }) = (&old.kind, &new.kind)
        && a != b
    {
        at(
            out,
            format!("type `{a}` → `{b}`"),
            false,
            false,
            Shape::Changed,
        );
    }
    let (old, new) = (resolve(old_api, old), resolve(new_api, new));
    match (&old.kind, &new.kind) {
        (SchemaKind::Object { fields: of }, SchemaKind::Object { fields: nf }) => {
            for o in of {
                let sub = join(&path, &o.name);
                match nf.iter().find(|f| f.name == o.name) {
                    None => out.push(Difference {
                        path: sub,
                        what: "removed".into(),
                        widens: o.required,
                        narrows: true,
                        shape: Shape::Changed,
                    }),
                    Some(n) => {
                        if o.required != n.required {
                            out.push(Difference {
                                path: sub.clone(),
                                what: if n.required {
                                    "now required".into()
                                } else {
                                    "now optional".into()
                                },
                                widens: !n.required,
                                narrows: n.required,
                                shape: Shape::Changed,
                            });
                        }
                        compare(old_api, new_api, &o.schema, &n.schema, sub, out, depth + 1);
                    }
                }
            }
            for n in nf.iter().filter(|n| !of.iter().any(|o| o.name == n.name)) {
                out.push(Difference {
                    path: join(&path, &n.name),
                    what: if n.required {
                        "added, required".into()
                    } else {
                        "added, optional".into()
                    },
                    widens: true,
                    narrows: n.required,
                    shape: Shape::FieldAdded,
                });
            }
        }
        (
            SchemaKind::String {
                values: ov,
                min_length: omin,
                max_length: omax,
                format: ofmt,
                pattern: opat,
            },
            SchemaKind::String {
                values: nv,
                min_length: nmin,
                max_length: nmax,
                format: nfmt,
                pattern: npat,
            },
        ) => {
            let added: Vec<&str> = nv
                .iter()
                .filter(|v| !ov.is_empty() && !ov.contains(v))
                .map(String::as_str)
                .collect();
            let removed: Vec<&str> = ov
                .iter()
                .filter(|v| !nv.is_empty() && !nv.contains(v))
                .map(String::as_str)
                .collect();
            if !added.is_empty() {
                at(
                    out,
                    format!("enum gains {}", names(added)),
                    true,
                    false,
                    Shape::EnumAdded,
                );
            }
            if !removed.is_empty() {
                at(
                    out,
                    format!("enum loses {}", names(removed)),
                    false,
                    true,
                    Shape::Changed,
                );
            }
            if ov.is_empty() != nv.is_empty() {
                at(
                    out,
                    if nv.is_empty() {
                        "no longer an enum".into()
                    } else {
                        "now an enum".into()
                    },
                    nv.is_empty(),
                    !nv.is_empty(),
                    Shape::Changed,
                );
            }
            bound(out, &path, "minLength", count(*omin), count(*nmin), true);
            bound(out, &path, "maxLength", count(*omax), count(*nmax), false);
            rule(out, &path, "format", ofmt.as_deref(), nfmt.as_deref());
            rule(out, &path, "pattern", opat.as_deref(), npat.as_deref());
        }
        (
            SchemaKind::Integer {
                minimum: omin,
                maximum: omax,
            },
            SchemaKind::Integer {
                minimum: nmin,
                maximum: nmax,
            },
        )
        | (
            SchemaKind::Number {
                minimum: omin,
                maximum: omax,
            },
            SchemaKind::Number {
                minimum: nmin,
                maximum: nmax,
            },
        ) => {
            bound(out, &path, "minimum", *omin, *nmin, true);
            bound(out, &path, "maximum", *omax, *nmax, false);
        }
        (
            SchemaKind::Array {
                items: oi,
                min_items: omin,
                max_items: omax,
            },
            SchemaKind::Array {
                items: ni,
                min_items: nmin,
                max_items: nmax,
            },
        ) => {
            bound(out, &path, "minItems", count(*omin), count(*nmin), true);
            bound(out, &path, "maxItems", count(*omax), count(*nmax), false);
            compare(
                old_api,
                new_api,
                oi,
                ni,
                format!("{path}[]"),
                out,
                depth + 1,
            );
        }
        (SchemaKind::Boolean, SchemaKind::Boolean) | (SchemaKind::Any, SchemaKind::Any) => {}
        (o, n) => {
            let widens = matches!(n, SchemaKind::Any)
                || matches!(
                    (o, n),
                    (SchemaKind::Integer { .. }, SchemaKind::Number { .. })
                );
            let narrows = matches!(o, SchemaKind::Any)
                || matches!(
                    (o, n),
                    (SchemaKind::Number { .. }, SchemaKind::Integer { .. })
                );
            at(
                out,
                format!("type {} → {}", kind(o), kind(n)),
                widens || !narrows,
                narrows || !widens,
                Shape::Changed,
            );
        }
    }
}

/// A length or item count as a bound's value.
fn count(value: Option<u64>) -> Option<f64> {
    value.map(|v| v as f64)
}

fn join(path: &str, name: &str) -> String {
    if path.is_empty() {
        name.to_owned()
    } else {
        format!("{path}.{name}")
    }
}

fn kind(kind: &SchemaKind) -> &'static str {
    match kind {
        SchemaKind::Object { .. } => "object",
        SchemaKind::String { .. } => "string",
        SchemaKind::Integer { .. } => "integer",
        SchemaKind::Number { .. } => "number",
        SchemaKind::Boolean => "boolean",
        SchemaKind::Array { .. } => "array",
        SchemaKind::Any => "any",
        SchemaKind::Ref { .. } => "ref",
    }
}

/// A lower (`lower`) or upper bound that moved.
fn bound(
    out: &mut Vec<Difference>,
    path: &str,
    name: &str,
    old: Option<f64>,
    new: Option<f64>,
    lower: bool,
) {
    if old == new {
        return;
    }
    // Tighter: a lower bound raised (or added), an upper bound lowered.
    let tighter = match (old, new) {
        (None, Some(_)) => true,
        (Some(_), None) => false,
        (Some(o), Some(n)) => (n > o) == lower,
        (None, None) => return,
    };
    let show = |v: Option<f64>| v.map_or("none".to_owned(), |v| v.to_string());
    out.push(Difference {
        path: path.to_owned(),
        what: format!("{name} {} → {}", show(old), show(new)),
        widens: !tighter,
        narrows: tighter,
        shape: Shape::Same,
    });
}

/// A `format` or `pattern` that changed: added narrows, removed widens,
/// replaced does both.
fn rule(out: &mut Vec<Difference>, path: &str, name: &str, old: Option<&str>, new: Option<&str>) {
    if old != new {
        out.push(Difference {
            path: path.to_owned(),
            what: format!(
                "{name} {} → {}",
                old.map_or("none".to_owned(), |v| format!("`{v}`")),
                new.map_or("none".to_owned(), |v| format!("`{v}`"))
            ),
            widens: old.is_some(),
            narrows: new.is_some(),
            shape: Shape::Same,
        });
    }
}
