//! Endpoints: paths and their parameters, token sources, who may connect,
//! the messages each sends and receives, open messages, and the statistics
//! endpoint.

use std::collections::{HashMap, HashSet};

use super::Validator;
use super::names::{ENDPOINT, PARAM};
use crate::diagnostic::{Diagnostic, Span};
use crate::ir;
use crate::naming::{self, rust::OPEN_VARIANT};
use crate::spec::model::{self, Access, Deliver, Frames, Name, Spanned, TokenSource};
use wsauth_spec::Keyword;

impl Validator<'_> {
    pub(super) fn endpoints(
        &mut self,
        auth: Option<&ir::Auth>,
        roles: &[ir::Role],
        spec_limits: &ir::Limits,
    ) -> Vec<ir::Endpoint> {
        let mut out = Vec::new();
        let mut paths: HashMap<String, (Span, &str)> = HashMap::new();
        self.distinct_type_names("endpoint", self.spec.endpoints.keys());
        for (name, endpoint) in &self.spec.endpoints {
            self.check_name(name, &ENDPOINT);
            let (segments, params) = self.path(name, endpoint);
            let shape = segments
                .iter()
                .map(|s| match s {
                    ir::Segment::Literal(l) => l.as_str(),
                    ir::Segment::Param(_) => "{}",
                })
                .collect::<Vec<_>>()
                .join("/");
            if let Some((first, other)) = paths.insert(shape, (endpoint.path.span, &name.value)) {
                self.error(
                    Diagnostic::new(
                        "wsauth::duplicate_path",
                        endpoint.path.span,
                        format!("endpoint `{}` has the same path as `{other}`", name.value),
                    )
                    .also(first, "first used here")
                    .help("two endpoints must differ in a literal segment"),
                );
            }
            let access = endpoint.auth.as_ref().map_or(Access::Required, |a| a.value);
            let sources = self.endpoint_sources(name, endpoint, access, auth);
            if let Some(perm) = &endpoint.perm
                && self.known_permission(perm)
                && access != Access::Required
            {
                self.anonymous_can(name, perm, auth);
            }
            if access == Access::Anonymous {
                for (pname, param) in &endpoint.params {
                    if let Some(b) = &param.equals {
                        self.error(
                            Diagnostic::new(
                                "wsauth::anonymous_binding",
                                b.span,
                                format!(
                                    "`{}` is bound to the subject, but endpoint `{}` is anonymous",
                                    pname.value, name.value
                                ),
                            )
                            .help("anonymous connections have no subject: remove `equals`, or require a token"),
                        );
                    }
                }
            }
            for check in &endpoint.authorize {
                if !self.spec.checks.contains_key(check.value.as_str()) {
                    let known: Vec<&str> =
                        self.spec.checks.keys().map(|k| k.value.as_str()).collect();
                    self.unknown("check", check, known, "checks");
                }
            }
            let frames = endpoint.frames.as_ref().map_or(Frames::Json, |f| f.value);
            self.endpoint_messages(name, endpoint, frames);
            self.endpoint_topics(name, endpoint, frames, access, auth);
            let mut sends: Vec<String> = endpoint.welcome.iter().map(|w| w.value.clone()).collect();
            for s in &endpoint.sends {
                if !sends.contains(&s.value) {
                    sends.push(s.value.clone());
                }
            }
            if let Some(hb) = &endpoint.heartbeat {
                for text in [&hb.ping, &hb.pong] {
                    if text.trim().is_empty() || text.starts_with('{') {
                        self.error(
                            Diagnostic::new(
                                "wsauth::heartbeat_text",
                                text.span,
                                "a heartbeat is a short plain word such as `ping`",
                            )
                            .help("it must be non-empty and must not look like a JSON message"),
                        );
                    }
                }
            }
            let open = self.open(name, endpoint, frames);
            let perm = endpoint.perm.as_ref().map(|p| p.value.clone());
            let allowed_roles = roles
                .iter()
                .filter(|r| {
                    perm.as_ref()
                        .is_none_or(|p| r.all || r.permissions.contains(p))
                })
                .map(|r| r.name.clone())
                .collect();
            out.push(ir::Endpoint {
                name: name.value.clone(),
                description: endpoint.description.clone(),
                path: endpoint.path.value.clone(),
                segments,
                params,
                access,
                sources,
                perm,
                roles: allowed_roles,
                checks: endpoint.authorize.iter().map(|c| c.value.clone()).collect(),
                welcome: endpoint.welcome.as_ref().map(|w| w.value.clone()),
                receives: endpoint.receives.iter().map(|r| r.value.clone()).collect(),
                sends,
                open,
                frames,
                heartbeat: endpoint.heartbeat.as_ref().map(|h| ir::Heartbeat {
                    ping: h.ping.value.clone(),
                    pong: h.pong.value.clone(),
                }),
                limits: self.limits(endpoint.limits.as_ref(), *spec_limits),
                topics: endpoint
                    .topics
                    .iter()
                    .map(|t| ir::EndpointTopic {
                        name: t.name.value.clone(),
                        deliver: t.deliver.as_ref().map_or(Deliver::Publication, |d| d.value),
                    })
                    .collect(),
                idents: naming::endpoint(&name.value),
                loc: self.loc(name.span),
            });
        }
        out
    }

    /// Splits the path and checks it against the declared params.
    fn path(
        &mut self,
        name: &Name,
        endpoint: &model::Endpoint,
    ) -> (Vec<ir::Segment>, Vec<ir::Param>) {
        let path = &endpoint.path;
        let mut segments = Vec::new();
        let mut params = Vec::new();
        if !path.starts_with('/') || path.len() > 1 && path.ends_with('/') || path.contains("//") {
            self.error(
                Diagnostic::new(
                    "wsauth::bad_path",
                    path.span,
                    format!("`{}` is not a valid endpoint path", path.value),
                )
                .help(
                    "start with `/`, no empty segments and no trailing `/`, e.g. `/ws/{user_id}`",
                ),
            );
            return (segments, params);
        }
        // Where the path's text starts inside the (possibly quoted) scalar,
        // to underline one segment; a path written with escapes has no such
        // place, and its segments are reported on the whole path.
        let raw = self
            .source
            .text()
            .get(path.span.offset..path.span.offset + path.span.len)
            .unwrap_or_default();
        let start = raw
            .find(path.value.as_str())
            .map(|i| path.span.offset + i + 1);
        let mut offset = start.unwrap_or(path.span.offset);
        let mut in_path: Vec<&str> = Vec::new();
        for seg in path.value[1..].split('/') {
            let seg_span = match start {
                Some(_) => Span::new(offset, seg.len()),
                None => path.span,
            };
            offset += seg.len() + 1;
            if let Some(p) = seg.strip_prefix('{').and_then(|s| s.strip_suffix('}')) {
                segments.push(ir::Segment::Param(p.to_owned()));
                if in_path.contains(&p) {
                    self.error(
                        Diagnostic::new(
                            "wsauth::duplicate_param",
                            seg_span,
                            format!("path parameter `{p}` appears twice"),
                        )
                        .help("give each parameter its own name"),
                    );
                }
                in_path.push(p);
                match endpoint.params.get_key_value(p) {
                    Some((pname, param)) => {
                        self.check_name(pname, &PARAM);
                        params.push(ir::Param {
                            name: p.to_owned(),
                            ty: param.ty.value,
                            equals: param.equals.as_ref().map(|b| b.value),
                            description: param.description.clone(),
                        });
                    }
                    None => self.error(
                        Diagnostic::new(
                            "wsauth::undeclared_param",
                            seg_span,
                            format!("path parameter `{p}` is not declared in `params`"),
                        )
                        .help(format!(
                            "add `{p}: {{ type: string }}` (or `integer`, `uuid`) under `endpoints.{}.params`",
                            name.value
                        )),
                    ),
                }
            } else if seg.contains(['{', '}']) {
                self.error(
                    Diagnostic::new(
                        "wsauth::bad_path",
                        seg_span,
                        format!("segment `{seg}` mixes text and a parameter"),
                    )
                    .help("a parameter takes a whole segment: `/ws/{id}`, not `/ws/id-{id}`"),
                );
            } else {
                segments.push(ir::Segment::Literal(seg.to_owned()));
            }
        }
        for (pname, _) in &endpoint.params {
            if !in_path.contains(&pname.value.as_str()) {
                let d = Diagnostic::new(
                    "wsauth::unused_param",
                    pname.span,
                    format!(
                        "parameter `{}` does not appear in the path `{}`",
                        pname.value, path.value
                    ),
                )
                .also(path.span, "the path");
                self.error(
                    d.suggest(&pname.value, in_path.iter().copied())
                        .help_if_none(format!(
                            "add `{{{}}}` to the path, or remove the parameter",
                            pname.value
                        )),
                );
            }
        }
        (segments, params)
    }

    fn endpoint_sources(
        &mut self,
        name: &Name,
        endpoint: &model::Endpoint,
        access: Access,
        auth: Option<&ir::Auth>,
    ) -> Vec<TokenSource> {
        if access == Access::Anonymous {
            if let Some(s) = &endpoint.sources {
                self.error(
                    Diagnostic::new(
                        "wsauth::anonymous_sources",
                        s.span,
                        format!(
                            "endpoint `{}` is anonymous but lists token sources",
                            name.value
                        ),
                    )
                    .help("remove `sources`, or set `auth: optional` to accept a token when given"),
                );
            }
            return Vec::new();
        }
        let Some(auth) = auth else {
            let span = endpoint.auth.as_ref().map_or(name.span, |a| a.span);
            self.error(
                Diagnostic::new(
                    "wsauth::no_auth",
                    span,
                    format!(
                        "endpoint `{}` needs tokens, but the spec has no `auth` section",
                        name.value
                    ),
                )
                .help("add `auth` (sources and jwt), or mark the endpoint `auth: anonymous`"),
            );
            return Vec::new();
        };
        let Some(narrowed) = &endpoint.sources else {
            return auth.sources.clone();
        };
        let mut out = Vec::new();
        for kind in narrowed.iter() {
            match auth.sources.iter().find(|s| s.kind() == kind.value) {
                Some(s) if !out.contains(s) => out.push(s.clone()),
                Some(_) => self.error(
                    Diagnostic::new(
                        "wsauth::duplicate_source",
                        kind.span,
                        format!("token source `{}` is listed twice", kind.word()),
                    )
                    .help("list each source once"),
                ),
                None => self.error(
                    Diagnostic::new(
                        "wsauth::source_not_allowed",
                        kind.span,
                        format!("`{}` is not one of the spec's `auth.sources`", kind.word()),
                    )
                    .help(format!(
                        "an endpoint can only narrow `auth.sources` ({}); add it there first",
                        auth.sources
                            .iter()
                            .map(|s| format!("`{}`", s.kind().word()))
                            .collect::<Vec<_>>()
                            .join(", ")
                    )),
                ),
            }
        }
        out
    }

    /// An endpoint open to anonymous connections can require a permission
    /// only if the anonymous role grants it.
    fn anonymous_can(&mut self, name: &Name, perm: &Spanned<String>, auth: Option<&ir::Auth>) {
        let role = auth.and_then(|a| a.anonymous_role.as_deref());
        if !self.anonymous_role_grants(&perm.value, auth) {
            let help = match role {
                Some(r) => format!(
                    "grant `{}` to the anonymous role `{r}`, or require a token",
                    perm.value
                ),
                None => "set `auth.anonymous_role` to a role that grants it, or require a token"
                    .to_owned(),
            };
            self.error(
                Diagnostic::new(
                    "wsauth::anonymous_permission",
                    perm.span,
                    format!(
                        "endpoint `{}` admits anonymous connections, which never hold `{}`",
                        name.value, perm.value
                    ),
                )
                .help(help),
            );
        }
    }

    /// Whether the anonymous role (if any) grants `perm`.
    pub(super) fn anonymous_role_grants(&self, perm: &str, auth: Option<&ir::Auth>) -> bool {
        let role = auth.and_then(|a| a.anonymous_role.as_deref());
        role.is_some_and(|r| {
            self.spec.roles.get(r).is_some_and(|role| {
                role.permissions.iter().any(|g| {
                    g.value == "*"
                        || g.value == perm
                        || g.strip_suffix(".*").is_some_and(|p| {
                            perm.strip_prefix(p).is_some_and(|r| r.starts_with('.'))
                        })
                })
            })
        })
    }

    fn endpoint_messages(&mut self, name: &Name, endpoint: &model::Endpoint, frames: Frames) {
        if frames == Frames::Raw {
            let typed = endpoint
                .welcome
                .iter()
                .chain(&endpoint.receives)
                .chain(&endpoint.sends)
                .next();
            if let Some(m) = typed {
                self.error(
                    Diagnostic::new(
                        "wsauth::raw_with_messages",
                        m.span,
                        format!("endpoint `{}` has raw frames but names message `{}`", name.value, m.value),
                    )
                    .help("raw endpoints pass frames through undecoded: remove `welcome`, `receives` and `sends`, or use `frames: json`"),
                );
            }
            return;
        }
        let known: Vec<&str> = self
            .spec
            .messages
            .keys()
            .map(|k| k.value.as_str())
            .collect();
        for list in [&endpoint.receives, &endpoint.sends] {
            let mut seen = HashSet::new();
            for m in list {
                if !seen.insert(m.value.as_str()) {
                    self.error(
                        Diagnostic::new(
                            "wsauth::duplicate_message",
                            m.span,
                            format!("message `{}` is listed twice", m.value),
                        )
                        .help("list each message once"),
                    );
                }
            }
        }
        for m in endpoint
            .welcome
            .iter()
            .chain(&endpoint.receives)
            .chain(&endpoint.sends)
        {
            if !self.spec.messages.contains_key(m.value.as_str()) {
                self.unknown("message", m, known.iter().copied(), "messages");
            }
        }
    }

    /// Checks an endpoint's `open` block: it allows something, says which
    /// permission sending needs (there is no default), and its endpoint has
    /// typed frames and no message whose variant would be called `Open`.
    fn open(
        &mut self,
        name: &Name,
        endpoint: &model::Endpoint,
        frames: Frames,
    ) -> Option<ir::Open> {
        let open = endpoint.open.as_ref()?;
        if frames == Frames::Raw {
            self.error(
                Diagnostic::new(
                    "wsauth::raw_with_messages",
                    open.span,
                    format!("endpoint `{}` has raw frames but allows open messages", name.value),
                )
                .help("raw endpoints pass frames through undecoded: remove `open`, or use `frames: json`"),
            );
            return None;
        }
        let receives = open.receives.as_ref().is_some_and(|r| r.value);
        let sends = open.sends.as_ref().is_some_and(|s| s.value);
        // A key that failed to read (`receive:`) explains what is missing.
        let explained = self.explained(open.span);
        if !receives && !sends && !explained {
            self.error(
                Diagnostic::new(
                    "wsauth::open_allows_nothing",
                    open.span,
                    format!("`open` on endpoint `{}` allows neither direction", name.value),
                )
                .help("set `receives: true` (clients send them), `sends: true` (the server does), or both; or remove `open`"),
            );
        }
        match (&open.perm, receives) {
            (Some(perm), true) => {
                self.known_permission(perm);
            }
            (Some(_), false) if explained => {}
            (Some(perm), false) => self.error(
                Diagnostic::new(
                    "wsauth::open_perm_unused",
                    perm.span,
                    "`open.perm` guards open messages clients send, but `receives` is not `true`",
                )
                .help("set `receives: true`, or remove `perm`"),
            ),
            (None, true) if explained => {}
            (None, true) => {
                let example = endpoint
                    .perm
                    .as_ref()
                    .map_or_else(|| "a permission".to_owned(), |p| format!("`{}`", p.value));
                self.error(
                    Diagnostic::new(
                        "wsauth::open_without_perm",
                        open.span,
                        format!(
                            "endpoint `{}` receives open messages but does not say who may send them",
                            name.value
                        ),
                    )
                    .help(format!(
                        "add `perm:` to `open`, e.g. {example}; open messages have no default permission"
                    )),
                );
            }
            (None, false) => {}
        }
        for m in endpoint
            .welcome
            .iter()
            .chain(&endpoint.receives)
            .chain(&endpoint.sends)
        {
            if naming::pascal(&m.value) == OPEN_VARIANT {
                self.error(
                    Diagnostic::new(
                        "wsauth::name_clash",
                        m.span,
                        format!(
                            "message `{}` and the open messages of endpoint `{}` both become `{OPEN_VARIANT}` in generated code",
                            m.value, name.value
                        ),
                    )
                    .also(open.span, "open messages allowed here")
                    .help("rename the message"),
                );
            }
        }
        Some(ir::Open {
            receives,
            sends,
            perm: open
                .perm
                .as_ref()
                .filter(|_| receives)
                .map(|p| p.value.clone()),
            description: open.description.clone(),
        })
    }

    pub(super) fn stats(&mut self, endpoints: &[ir::Endpoint]) -> Option<ir::Stats> {
        let stats = self.spec.stats.as_ref()?;
        self.known_permission(&stats.perm);
        if !stats.path.starts_with('/') || stats.path.contains(['{', '}']) {
            self.error(
                Diagnostic::new(
                    "wsauth::bad_path",
                    stats.path.span,
                    format!("`{}` is not a valid stats path", stats.path.value),
                )
                .help("a fixed path starting with `/`, e.g. `/ws/stats`"),
            );
        }
        if let Some(e) = endpoints.iter().find(|e| e.path == stats.path.value) {
            self.error(
                Diagnostic::new(
                    "wsauth::duplicate_path",
                    stats.path.span,
                    format!("the stats path is also endpoint `{}`'s path", e.name),
                )
                .help("give statistics a path of their own"),
            );
        }
        Some(ir::Stats {
            path: stats.path.value.clone(),
            perm: stats.perm.value.clone(),
            description: stats.description.clone(),
        })
    }
}
