//! The HTML documentation page: one self-contained file per spec.
//!
//! # Motivation
//!
//! The people who connect to an API read a page, not YAML: how to get a
//! token and where to put it, which endpoint to open, what may be sent and
//! what comes back, and what each close code asks of the client. The page
//! says all of it from the [`Api`], so it cannot drift from what the server
//! enforces. It is one static file with its CSS inline and no script, font,
//! image or stylesheet from anywhere else: it can be published on any host,
//! attached to a ticket or opened from disk, and it shows the same offline.
//!
//! # Shape
//!
//! [`generate`] turns the [`Api`] into a `Page` view, and the askama
//! template `templates/html/page.html` lays the view out. HTML escaping is
//! on: every string from the spec reaches the page as text. The one kind of
//! pre-rendered HTML is `Markup`, which only this module's escaping
//! constructors make: descriptions (a small, safe Markdown subset:
//! paragraphs, `-` lists and `` `code` ``), sentences with links and code
//! spans, and highlighted example frames. Everything the page decides (who
//! may connect, which close code a failure gets, what a client does about
//! it) is decided here, in Rust; the template only places it.
//!
//! Anchors are stable and readable (`#endpoint-conversation`,
//! `#message-send_message`, `#schema-Problem`, `#close-forbidden`,
//! `#role-admin`, `#perm-conversation.read`), and the page is a function of
//! the [`Api`] alone, so it is byte-for-byte reproducible.

mod markup;

use std::fmt::Write as _;
use wsauth_spec::wire::{self, client};

use askama::Template;

use super::GenError;
use crate::ir::{
    Access, Api, Binding, ClaimShape, ClientAction, CloseCodeGroup, Direction, Endpoint,
    ExpiryPolicy, FailureKind, Fallback, Field, Frames, Message, ParamType, Schema, SchemaKind,
    Segment, SourceKind, TokenSource,
};
use crate::payload::sample_frame;
use markup::{Markup, anchor, describe, highlight_json, inline};
use wsauth_spec::Keyword;

/// The documentation page of `api`.
pub fn generate(api: &Api) -> Result<String, GenError> {
    let page = Page::new(api);
    page.render().map_err(|source| GenError::Template {
        backend: "html",
        source,
    })
}

/// `n` bytes the way people say them.
fn bytes(n: u32) -> String {
    const MIB: u32 = 1024 * 1024;
    if n >= MIB && n.is_multiple_of(MIB) {
        format!("{} MiB", n / MIB)
    } else if n >= 1024 && n.is_multiple_of(1024) {
        format!("{} KiB", n / 1024)
    } else {
        format!("{n} bytes")
    }
}

/// `s` seconds the way people say them.
fn seconds(s: u64) -> String {
    if s >= 3600 && s.is_multiple_of(3600) {
        format!("{} h", s / 3600)
    } else if s >= 60 && s.is_multiple_of(60) {
        format!("{} min", s / 60)
    } else {
        format!("{s} s")
    }
}

/// A schema bound without a needless fraction.
fn bound(n: f64) -> String {
    if n.fract() == 0.0 && n.abs() < 9.0e15 {
        // Exact: a whole f64 below 2^53 converts without loss.
        #[allow(clippy::cast_possible_truncation)]
        let whole = n as i64;
        whole.to_string()
    } else {
        n.to_string()
    }
}

// ---------------------------------------------------------------------------
// The view.

/// The whole page.
#[derive(Template)]
#[template(path = "html/page.html", escape = "html", whitespace = "minimize")]
struct Page {
    title: String,
    version: String,
    name: String,
    description: Option<Markup>,
    servers: Vec<ServerView>,
    toc: Vec<TocEntry>,
    auth: AuthView,
    endpoints: Vec<EndpointView>,
    stats: Option<Markup>,
    messages: Vec<MessageView>,
    schemas: Vec<SchemaView>,
    close: Vec<CodeGroup>,
    uncatalogued: Vec<Uncatalogued>,
    roles: RolesView,
}

/// A line of the table of contents.
struct TocEntry {
    id: String,
    label: String,
    children: Vec<TocEntry>,
}

struct ServerView {
    name: String,
    url: String,
    description: Option<Markup>,
}

/// A label and what it says.
struct Fact {
    label: &'static str,
    value: Markup,
}

/// A code example.
struct Snippet {
    label: &'static str,
    code: String,
}

struct AuthView {
    /// Why no token is needed, when none is.
    none: Option<Markup>,
    description: Option<Markup>,
    token_url: Option<String>,
    sources: Vec<SourceView>,
    jwt: Vec<Fact>,
    verification: Vec<Markup>,
    expiry: Markup,
    refresh: Option<RefreshView>,
    example: Option<Snippet>,
}

/// What an endpoint's `open` allows, in words.
fn open_fact(open: &crate::ir::Open) -> Markup {
    let way = match (open.receives, open.sends) {
        (true, true) => "the client and the server may send",
        (true, false) => "the client may send",
        _ => "the server may send",
    };
    let mut m = Markup::text(&format!(
        "{way} JSON objects whose "
    ))
    .c("type")
    .t(" the spec does not declare, with any fields (a declared type with the wrong fields is refused, never taken as open)");
    if let Some(perm) = &open.perm {
        m = m.t("; sending one needs ").m(perm_link(perm));
    }
    if let Some(d) = &open.description {
        m = m.t(". ").m(inline(&d.trim().replace('\n', " ")));
    }
    m
}

struct SourceView {
    kind: &'static str,
    how: Markup,
    note: &'static str,
}

struct RefreshView {
    request: Markup,
    response: Markup,
    after: Markup,
}

struct EndpointView {
    id: String,
    name: String,
    description: Option<Markup>,
    path: Vec<PathPart>,
    access: &'static str,
    access_class: &'static str,
    params: Vec<ParamView>,
    facts: Vec<Fact>,
    limits: Vec<Fact>,
    examples: Vec<Snippet>,
}

struct PathPart {
    text: String,
    param: bool,
}

struct ParamView {
    name: String,
    ty: &'static str,
    rule: Markup,
    description: Option<Markup>,
}

struct MessageView {
    id: String,
    name: String,
    direction: &'static str,
    direction_class: &'static str,
    description: Option<Markup>,
    facts: Vec<Fact>,
    fields: Vec<FieldRow>,
    example: Markup,
}

struct FieldRow {
    depth: usize,
    prefix: String,
    name: String,
    ty: Markup,
    required: bool,
    constraints: Markup,
    description: Option<Markup>,
}

struct SchemaView {
    id: String,
    name: String,
    description: Option<Markup>,
    summary: Option<Fact>,
    fields: Vec<FieldRow>,
    used_by: Markup,
}

struct CodeGroup {
    code: u16,
    /// The name both clients give it.
    name: String,
    meaning: &'static str,
    action: &'static str,
    action_class: &'static str,
    action_text: String,
    rows: Vec<KindRow>,
}

struct KindRow {
    id: String,
    kind: &'static str,
    reason: String,
    description: Markup,
    from_spec: bool,
}

struct Uncatalogued {
    codes: String,
    action: &'static str,
    action_class: &'static str,
    text: &'static str,
}

struct RolesView {
    roles: Vec<RoleHead>,
    permissions: Vec<PermRow>,
}

struct RoleHead {
    id: String,
    name: String,
    note: Markup,
}

struct PermRow {
    id: String,
    name: String,
    description: Markup,
    cells: Vec<bool>,
    needed_for: Markup,
}

// ---------------------------------------------------------------------------
// Building the view.

impl Page {
    fn new(api: &Api) -> Self {
        let endpoints: Vec<EndpointView> = api.endpoints.iter().map(|e| endpoint(api, e)).collect();
        let messages: Vec<MessageView> = api.messages.iter().map(|m| message(api, m)).collect();
        let schemas: Vec<SchemaView> = api
            .schemas
            .iter()
            .map(|s| schema_view(api, &s.name, &s.schema))
            .collect();
        let toc = toc(&endpoints, &messages, &schemas);
        Page {
            title: api.title.clone(),
            version: api.version.clone(),
            name: api.name.clone(),
            description: describe(api.description.as_deref()),
            servers: api
                .servers
                .iter()
                .map(|s| ServerView {
                    name: s.name.clone(),
                    url: s.url.clone(),
                    description: describe(s.description.as_deref()),
                })
                .collect(),
            toc,
            auth: auth(api),
            endpoints,
            stats: api.stats.as_ref().map(|stats| {
                Markup::default()
                    .t("HTTP ")
                    .c(&format!("GET {}", stats.path))
                    .t(" answers with the server's connection statistics, as JSON, to a token whose roles grant ")
                    .m(perm_link(&stats.perm))
                    .t(" (held by ")
                    .m(role_links(api, &roles_holding(api, &stats.perm)))
                    .t(").")
                    .m(describe(stats.description.as_deref()).unwrap_or_default())
            }),
            messages,
            schemas,
            close: close_groups(api),
            uncatalogued: uncatalogued(api),
            roles: roles(api),
        }
    }
}

fn toc(
    endpoints: &[EndpointView],
    messages: &[MessageView],
    schemas: &[SchemaView],
) -> Vec<TocEntry> {
    let entry = |id: &str, label: &str, children| TocEntry {
        id: id.to_owned(),
        label: label.to_owned(),
        children,
    };
    let child = |id: &str, label: &str| TocEntry {
        id: id.to_owned(),
        label: label.to_owned(),
        children: Vec::new(),
    };
    let mut toc = vec![
        entry("overview", "Overview", Vec::new()),
        entry("auth", "Authentication", Vec::new()),
        entry(
            "endpoints",
            "Endpoints",
            endpoints.iter().map(|e| child(&e.id, &e.name)).collect(),
        ),
        entry(
            "messages",
            "Messages",
            messages.iter().map(|m| child(&m.id, &m.name)).collect(),
        ),
    ];
    if !schemas.is_empty() {
        toc.push(entry(
            "schemas",
            "Schemas",
            schemas.iter().map(|s| child(&s.id, &s.name)).collect(),
        ));
    }
    toc.push(entry("close-codes", "Close codes", Vec::new()));
    toc.push(entry("roles", "Roles and permissions", Vec::new()));
    toc
}

fn perm_link(perm: &str) -> Markup {
    Markup::link_code(&anchor("perm", perm), perm)
}

fn role_links(api: &Api, roles: &[String]) -> Markup {
    if roles.is_empty() {
        return Markup::text("no role");
    }
    let _ = api;
    Markup::join(
        roles
            .iter()
            .map(|r| Markup::link_code(&anchor("role", r), r)),
        ", ",
    )
}

fn roles_holding(api: &Api, perm: &str) -> Vec<String> {
    api.roles
        .iter()
        .filter(|r| api.role_grants(&r.name, perm))
        .map(|r| r.name.clone())
        .collect()
}

fn message_link(name: &str) -> Markup {
    Markup::link_code(&anchor("message", name), name)
}

/// `after`, plus the exception for authenticated raw endpoints: their frames
/// are the application's, so they carry no refresh and close at `exp`.
fn raw_endpoints_close_at_exp(api: &Api, after: Markup) -> Markup {
    let raw: Vec<&str> = api
        .endpoints
        .iter()
        .filter(|e| e.frames == Frames::Raw && e.access != Access::Anonymous)
        .map(|e| e.name.as_str())
        .collect();
    if raw.is_empty() {
        return after;
    }
    after
        .t(" Endpoints with raw frames (")
        .c(&raw.join(", "))
        .t(") carry no refresh: their connections close at ")
        .c("exp")
        .t(" with ")
        .m(close_ref(api, FailureKind::TokenExpired))
        .t(".")
}

/// `4003` linked to the catalogue row of `kind`, with the kind's word.
fn close_ref(api: &Api, kind: FailureKind) -> Markup {
    match api.close_code(kind) {
        Some(close) => Markup::link(&anchor("close", kind.word()), &close.code.to_string())
            .t(" (")
            .t(kind.word())
            .t(")"),
        None => Markup::text(kind.word()),
    }
}

/// Several kinds, by their catalogue entry: `4003 (forbidden, not_found)
/// or 4004 (...)`, entries and kinds in the order `kinds` gives them.
fn close_refs(api: &Api, kinds: &[FailureKind]) -> Markup {
    let mut entries: Vec<(&CloseCodeGroup, Vec<&str>)> = Vec::new();
    for &kind in kinds {
        let Some(group) = api.close_catalogue.iter().find(|g| g.kinds.contains(&kind)) else {
            continue;
        };
        match entries.iter_mut().find(|(g, _)| g.code == group.code) {
            Some((_, words)) => words.push(kind.word()),
            None => entries.push((group, vec![kind.word()])),
        }
    }
    let parts = entries.into_iter().map(|(group, words)| {
        Markup::link(&anchor("close", words[0]), &group.code.to_string())
            .t(" (")
            .t(&words.join(", "))
            .t(")")
    });
    Markup::join(parts, " or ")
}

/// What a client does about a close, in words, and a CSS class.
fn action(action: ClientAction) -> (&'static str, &'static str, String) {
    match action {
        ClientAction::RefreshToken => (
            "refresh token, reconnect",
            "refresh",
            "Get a fresh token, then reconnect at once. If the very next attempt is refused the same way, stop.".into(),
        ),
        ClientAction::Backoff => (
            "back off, reconnect",
            "backoff",
            format!(
                "Reconnect after an exponential backoff with full jitter ({} ms base, {} cap).",
                client::BACKOFF_BASE_MS,
                seconds(client::BACKOFF_CAP_MS / 1000)
            ),
        ),
        ClientAction::Stop => (
            "stop",
            "stop",
            "Do not reconnect; report the error (code, reason, failure kind).".into(),
        ),
    }
}

fn auth(api: &Api) -> AuthView {
    let Some(auth) = &api.auth else {
        return AuthView {
            none: Some(Markup::text(
                "Every endpoint is anonymous: no token is read, and none is needed.",
            )),
            description: None,
            token_url: None,
            sources: Vec::new(),
            jwt: Vec::new(),
            verification: Vec::new(),
            expiry: Markup::default(),
            refresh: None,
            example: None,
        };
    };
    let sources = auth.sources.iter().map(source_view).collect();
    let mut jwt = Vec::new();
    let mut verification = Vec::new();
    if let Some(j) = &auth.jwt {
        for key in &j.keys {
            let algorithms =
                Markup::join(key.algorithms.iter().map(|a| Markup::code(a.word())), ", ");
            let value = if j.keys.len() > 1 {
                Markup::default()
                    .t("key ")
                    .c(&key.name)
                    .t(" (matched against ")
                    .c("kid")
                    .t("): ")
                    .m(algorithms)
            } else {
                algorithms
            };
            let value = match describe(key.description.as_deref()) {
                Some(d) => value.m(d),
                None => value,
            };
            jwt.push(Fact {
                label: "Algorithms",
                value,
            });
        }
        jwt.push(Fact {
            label: "Issuer",
            value: match &j.issuer {
                Some(iss) => Markup::code("iss").t(" must be ").c(iss),
                None => Markup::code("iss").t(" is not checked"),
            },
        });
        jwt.push(Fact {
            label: "Audience",
            value: if j.audience.is_empty() {
                Markup::code("aud").t(" is not checked")
            } else {
                Markup::code("aud").t(" must include ").m(Markup::join(
                    j.audience.iter().map(|a| Markup::code(a)),
                    " or ",
                ))
            },
        });
        jwt.push(Fact {
            label: "Subject",
            value: Markup::code(&j.subject_claim).t(": the user id the server looks up"),
        });
        jwt.push(Fact {
            label: "Roles",
            value: Markup::code(&j.roles_claim).t(match j.roles_shape {
                ClaimShape::Array => ": an array of role names",
                ClaimShape::String => ": one role name, a string",
            }),
        });
        jwt.push(Fact {
            label: "Lifetime",
            value: {
                let ttl = j.max_ttl_s;
                Markup::code("exp")
                    .t(" and ")
                    .c("iat")
                    .t(" are required; a token may live at most ")
                    .t(&seconds(ttl))
                    .t(&format!(" ({ttl} s) from "))
                    .c("iat")
            },
        });
        jwt.push(Fact {
            label: "Clock leeway",
            value: Markup::text(&format!("{} s", j.leeway_s)),
        });
    }
    if let Some(intro) = &auth.introspection {
        verification.push(
            Markup::text("Tokens are checked by a token-introspection service configured on the server. ")
                .t(match intro.fallback {
                    Fallback::Jwt => "When it cannot be reached, the token is verified locally with the JWT settings below.",
                    Fallback::None => "When it cannot be reached, the connection is refused with ",
                })
                .m(match intro.fallback {
                    Fallback::Jwt => Markup::default(),
                    Fallback::None => close_ref(api, FailureKind::ServerError).t("."),
                })
                .m(describe(intro.description.as_deref()).unwrap_or_default()),
        );
    }
    if let Some(role) = &auth.anonymous_role {
        let perms = api
            .role(role)
            .map(|r| r.permissions.clone())
            .unwrap_or_default();
        verification.push(
            Markup::text(
                "A connection without a token, where an endpoint allows one, acts as role ",
            )
            .m(Markup::link_code(&anchor("role", role), role))
            .t(if perms.is_empty() {
                " (no permission)."
            } else {
                ": "
            })
            .m(Markup::join(perms.iter().map(|p| perm_link(p)), ", "))
            .t(if perms.is_empty() { "" } else { "." }),
        );
    }
    let expired = close_ref(api, FailureKind::TokenExpired);
    let expired_action = match api.close_code(FailureKind::TokenExpired).map(|c| c.client) {
        Some(ClientAction::RefreshToken) => "get a fresh token and reconnect",
        Some(ClientAction::Backoff) => "reconnect after a backoff",
        Some(ClientAction::Stop) | None => "not reconnect",
    };
    let (expiry, refresh) = match auth.on_expiry {
        ExpiryPolicy::Close => (
            Markup::text("A connection lives no longer than its token: at ")
                .c("exp")
                .t(" the server closes it with ")
                .m(expired)
                .t(&format!(" and the client should {expired_action}.")),
            None,
        ),
        ExpiryPolicy::Refresh => (
            Markup::text("Long-lived connections renew their token in-band, without reconnecting: before ")
                .c("exp")
                .t(", send a fresh token; the server answers with its new expiry. A connection that lets its token expire is closed with ")
                .m(expired)
                .t("."),
            Some(RefreshView {
                request: highlight_json(&serde_json::json!({
                    "type": wire::REFRESH, wire::REFRESH_TOKEN_FIELD: "<fresh token>"
                })),
                response: highlight_json(&serde_json::json!({
                    "type": wire::REFRESHED, wire::REFRESHED_EXP_FIELD: 1_795_000_000
                })),
                after: raw_endpoints_close_at_exp(
                    api,
                    Markup::text("A refused token closes the connection with ")
                        .m(close_ref(api, FailureKind::AuthFailed))
                        .t(&format!(
                            ". Generated clients send it at the later of {} before ",
                            seconds(client::REFRESH_LEAD_MS / 1000)
                        ))
                        .c("exp")
                        .t(&format!(
                            " and {} % of the token's remaining life.",
                            client::REFRESH_AT_PERCENT
                        )),
                ),
            }),
        ),
    };
    let example = api
        .endpoints
        .iter()
        .find(|e| e.access != Access::Anonymous && e.frames == Frames::Json)
        .and_then(|e| snippets(api, e).into_iter().next());
    AuthView {
        none: None,
        description: describe(auth.description.as_deref()),
        token_url: auth.token_url.clone(),
        sources,
        jwt,
        verification,
        expiry,
        refresh,
        example,
    }
}

fn source_view(source: &TokenSource) -> SourceView {
    match source {
        TokenSource::Header => SourceView {
            kind: "header",
            how: Markup::code("Authorization: Bearer <token>"),
            note: "For services and native clients; browsers cannot set headers on a WebSocket.",
        },
        TokenSource::Subprotocol(marker) => SourceView {
            kind: "subprotocol",
            how: Markup::text("offer two subprotocols, ")
                .c(marker)
                .t(" and ")
                .c(&format!("{marker}.bearer.<token>")),
            note: "The server selects the marker, never the token. Best for browsers: the token stays out of URLs and logs.",
        },
        TokenSource::Query(name) => SourceView {
            kind: "query",
            how: Markup::code(&format!("?{name}=<token>")).t(" on the URL"),
            note: "Works everywhere, but URLs end up in logs and history.",
        },
        TokenSource::Cookie(name) => SourceView {
            kind: "cookie",
            how: Markup::text("the cookie ").c(name),
            note: "Sent by the browser itself; only from an allowed Origin.",
        },
    }
}

/// An endpoint's path, each parameter written by `param`.
fn path_text(segments: &[Segment], param: impl Fn(&str) -> String) -> String {
    segments
        .iter()
        .map(|s| match s {
            Segment::Literal(text) => format!("/{text}"),
            Segment::Param(name) => format!("/{}", param(name)),
        })
        .collect()
}

/// How to open `endpoint`: a browser line, and the header for services.
fn snippets(api: &Api, endpoint: &Endpoint) -> Vec<Snippet> {
    let base = api
        .servers
        .first()
        .map_or("wss://your-server", |s| s.url.trim_end_matches('/'));
    let path = path_text(&endpoint.segments, |name| format!("${{{name}}}"));
    let url = format!("{base}{path}");
    let mut browser = String::new();
    if endpoint.access == Access::Anonymous {
        let _ = write!(browser, "const ws = new WebSocket(`{url}`);");
    } else {
        // What a browser can set, best first: the subprotocol keeps the
        // token out of URLs; a cookie needs no code at all but an origin.
        let find = |kind: SourceKind| endpoint.sources.iter().find(|s| s.kind() == kind);
        let browser_source = find(SourceKind::Subprotocol)
            .or_else(|| find(SourceKind::Query))
            .or_else(|| find(SourceKind::Cookie));
        match browser_source {
            Some(TokenSource::Subprotocol(marker)) => {
                let _ = write!(
                    browser,
                    "const ws = new WebSocket(`{url}`, [\"{marker}\", \"{marker}.bearer.\" + token]);"
                );
            }
            Some(TokenSource::Query(name)) => {
                let _ = write!(
                    browser,
                    "const ws = new WebSocket(`{url}?{name}=${{encodeURIComponent(token)}}`);"
                );
            }
            Some(TokenSource::Cookie(name)) => {
                let _ = write!(
                    browser,
                    "// the browser sends the `{name}` cookie itself (from an allowed origin)\nconst ws = new WebSocket(`{url}`);"
                );
            }
            Some(TokenSource::Header) | None => {}
        }
        if endpoint.access == Access::Optional && !browser.is_empty() {
            let _ = write!(browser, "\n// or, anonymously: new WebSocket(`{url}`);");
        }
    }
    if !browser.is_empty() {
        if let Some(first) = endpoint.receives.first().and_then(|m| api.message(m)) {
            let frame = serde_json::to_string(&sample_frame(api, first)).unwrap_or_default();
            let _ = write!(
                browser,
                "\nws.onopen = () => ws.send(JSON.stringify({frame}));"
            );
        }
        if endpoint.frames == Frames::Json {
            browser.push_str("\nws.onmessage = (event) => console.log(JSON.parse(event.data));");
        }
    }
    let mut out = Vec::new();
    if !browser.is_empty() {
        out.push(Snippet {
            label: "Browser",
            code: browser,
        });
    }
    if endpoint.sources.contains(&TokenSource::Header) {
        let example_path = path_text(&endpoint.segments, |name| format!("{{{name}}}"));
        out.push(Snippet {
            label: "Service",
            code: format!(
                "GET {example_path} HTTP/1.1\nUpgrade: websocket\nAuthorization: Bearer <token>"
            ),
        });
    }
    out
}

fn endpoint(api: &Api, e: &Endpoint) -> EndpointView {
    let (access, access_class) = match e.access {
        Access::Required => ("token required", "required"),
        Access::Optional => ("token optional", "optional"),
        Access::Anonymous => ("anonymous", "anonymous"),
    };
    let mut path = Vec::new();
    for segment in &e.segments {
        match segment {
            Segment::Literal(text) => path.push(PathPart {
                text: format!("/{text}"),
                param: false,
            }),
            Segment::Param(name) => {
                path.push(PathPart {
                    text: "/".into(),
                    param: false,
                });
                path.push(PathPart {
                    text: format!("{{{name}}}"),
                    param: true,
                });
            }
        }
    }
    let subject_claim = api
        .auth
        .as_ref()
        .and_then(|a| a.jwt.as_ref())
        .map_or("sub", |j| j.subject_claim.as_str());
    let params = e
        .params
        .iter()
        .map(|p| ParamView {
            name: p.name.clone(),
            ty: p.ty.word(),
            rule: {
                let shape = match p.ty {
                    ParamType::String => Markup::text("any non-empty segment"),
                    ParamType::Integer => Markup::text("a decimal integer"),
                    ParamType::Uuid => Markup::text("a lower-case hyphenated UUID"),
                };
                match p.equals {
                    Some(Binding::Subject) => shape
                        .t("; must equal the token's subject (")
                        .c(subject_claim)
                        .t("), else ")
                        .m(close_ref(api, FailureKind::SubjectMismatch)),
                    None => shape,
                }
            },
            description: describe(p.description.as_deref()),
        })
        .collect();

    let mut facts = Vec::new();
    let who = match (e.access, &e.perm) {
        (Access::Anonymous, Some(perm)) => {
            Markup::text("Anyone, without a token; anonymous connections need ")
                .m(perm_link(perm))
                .t(", which ")
                .m(role_links(api, &e.roles))
                .t(" hold.")
        }
        (Access::Anonymous, None) => Markup::text("Anyone: no token is read."),
        (access, perm) => {
            let mut who = Markup::text(if access == Access::Optional {
                "Anyone; a token is verified when presented (an invalid one is refused), and without one the connection is anonymous. "
            } else {
                ""
            });
            who = match perm {
                Some(perm) => who
                    .t("Tokens whose roles grant ")
                    .m(perm_link(perm))
                    .t(": ")
                    .m(role_links(api, &e.roles))
                    .t("."),
                None => who.t("Any valid token."),
            };
            who
        }
    };
    facts.push(Fact {
        label: "Who may connect",
        value: who,
    });
    if e.access != Access::Anonymous {
        facts.push(Fact {
            label: "Token",
            value: if e.sources.len() > 1 {
                Markup::join(e.sources.iter().map(source_short), ", then ")
                    .t(" (the first found is used)")
            } else {
                Markup::join(e.sources.iter().map(source_short), "")
            },
        });
    }
    if !e.checks.is_empty() {
        let checks = e.checks.iter().map(|name| {
            let description = api
                .check(name)
                .map(|c| c.description.as_str())
                .unwrap_or_default();
            Markup::code(name)
                .t(": ")
                .m(inline(description.trim_end().trim_end_matches('.')))
        });
        facts.push(Fact {
            label: "Resource checks",
            value: Markup::join(checks, "; ")
                .t(". Refused with ")
                .m(close_refs(
                    api,
                    &[FailureKind::Forbidden, FailureKind::NotFound],
                ))
                .t("."),
        });
    }
    if e.frames == Frames::Raw {
        facts.push(Fact {
            label: "Frames",
            value: Markup::text(
                "Raw: any text or binary frame is handed over as is, without JSON decoding.",
            ),
        });
    }
    if let Some(welcome) = &e.welcome {
        facts.push(Fact {
            label: "First frame",
            value: message_link(welcome).t(", sent once the connection is admitted"),
        });
    }
    if e.frames == Frames::Json {
        facts.push(Fact {
            label: "Client sends",
            value: links_or_none(&e.receives, "nothing (receive only)"),
        });
        let sends: Vec<String> = e
            .sends
            .iter()
            .filter(|m| Some(*m) != e.welcome.as_ref())
            .cloned()
            .collect();
        facts.push(Fact {
            label: "Server sends",
            value: links_or_none(&sends, "nothing after the first frame"),
        });
        if let Some(open) = &e.open {
            facts.push(Fact {
                label: "Open messages",
                value: open_fact(open),
            });
        }
        if !e.receives.is_empty() || e.open.as_ref().is_some_and(|o| o.receives) {
            facts.push(Fact {
                label: "Refused messages",
                value: if e.sends.iter().any(|m| m == "error") {
                    Markup::text("answered with ")
                        .m(message_link("error"))
                        .t("; the connection stays open")
                } else {
                    Markup::text("close the connection with the failure's code: ").m(close_refs(
                        api,
                        &[
                            FailureKind::Forbidden,
                            FailureKind::InvalidMessage,
                            FailureKind::RateLimited,
                        ],
                    ))
                },
            });
        }
    }
    if let Some(h) = &e.heartbeat {
        facts.push(Fact {
            label: "Heartbeat",
            value: Markup::text("send the text ")
                .c(&h.ping)
                .t("; the server answers ")
                .c(&h.pong),
        });
    }
    let l = &e.limits;
    let limits = vec![
        Fact {
            label: "Message size",
            value: Markup::text(&format!(
                "at most {}; larger closes with ",
                bytes(l.max_message_bytes)
            ))
            .m(close_ref(api, FailureKind::MessageTooBig)),
        },
        Fact {
            label: "Message rate",
            value: Markup::text(&format!(
                "{} per second, bursts of {}; faster closes with ",
                l.messages_per_second, l.burst
            ))
            .m(close_ref(api, FailureKind::RateLimited)),
        },
        Fact {
            label: "Connections",
            value: Markup::text(&format!(
                "{} per user at once; more closes with ",
                l.max_connections_per_user
            ))
            .m(close_ref(api, FailureKind::TooManyConnections)),
        },
        Fact {
            label: "Keepalive",
            value: Markup::text(&format!(
                "the server pings every {}; {} without a frame from the client closes with ",
                seconds(u64::from(l.ping_interval_s)),
                seconds(u64::from(l.idle_timeout_s))
            ))
            .m(close_ref(api, FailureKind::IdleTimeout)),
        },
        Fact {
            label: "Send queue",
            value: Markup::text(&format!(
                "{} messages; a client that reads slower is closed with ",
                l.send_queue
            ))
            .m(close_ref(api, FailureKind::SlowConsumer)),
        },
    ];
    EndpointView {
        id: anchor("endpoint", &e.name),
        name: e.name.clone(),
        description: describe(e.description.as_deref()),
        path,
        access,
        access_class,
        params,
        facts,
        limits,
        examples: snippets(api, e),
    }
}

fn links_or_none(names: &[String], none: &str) -> Markup {
    if names.is_empty() {
        Markup::text(none)
    } else {
        Markup::join(names.iter().map(|m| message_link(m)), ", ")
    }
}

fn source_short(source: &TokenSource) -> Markup {
    match source {
        TokenSource::Header => Markup::code("Authorization: Bearer"),
        TokenSource::Subprotocol(marker) => Markup::text("subprotocol ").c(marker),
        TokenSource::Query(name) => Markup::code(&format!("?{name}=")),
        TokenSource::Cookie(name) => Markup::text("cookie ").c(name),
    }
}

fn message(api: &Api, m: &Message) -> MessageView {
    let (direction, direction_class) = match m.direction {
        Direction::ClientToServer => ("client → server", "up"),
        Direction::ServerToClient => ("server → client", "down"),
        Direction::Both => ("both ways", "both"),
        Direction::Unused => ("unused", "unused"),
    };
    let mut facts = Vec::new();
    if m.direction != Direction::ServerToClient && m.direction != Direction::Unused {
        facts.push(Fact {
            label: "To send it",
            value: match &m.perm {
                Some(perm) => Markup::text("a role granting ")
                    .m(perm_link(perm))
                    .t(": ")
                    .m(role_links(api, &roles_holding(api, perm))),
                None => Markup::text("no permission beyond connecting"),
            },
        });
    }
    let mut uses = Vec::new();
    for e in &api.endpoints {
        let link = Markup::link_code(&anchor("endpoint", &e.name), &e.name);
        if e.welcome.as_deref() == Some(m.name.as_str()) {
            uses.push(link.t(" (first frame)"));
        } else if e.receives.contains(&m.name) && e.sends.contains(&m.name) {
            uses.push(link.t(" (both ways)"));
        } else if e.receives.contains(&m.name) {
            uses.push(link.t(" (from the client)"));
        } else if e.sends.contains(&m.name) {
            uses.push(link.t(" (from the server)"));
        }
    }
    if !uses.is_empty() {
        facts.push(Fact {
            label: "Endpoints",
            value: Markup::join(uses, ", "),
        });
    }
    if let SchemaKind::Ref { name } = &m.payload.kind {
        facts.push(Fact {
            label: "Payload",
            value: Markup::text("the fields of ")
                .m(Markup::link_code(&anchor("schema", name), name)),
        });
    }
    let mut fields = vec![FieldRow {
        depth: 0,
        prefix: String::new(),
        name: "type".into(),
        ty: Markup::text("string"),
        required: true,
        constraints: Markup::text("always ").c(&m.name),
        description: None,
    }];
    let payload = match &m.payload.kind {
        SchemaKind::Ref { name } => api.schema(name).unwrap_or(&m.payload),
        _ => &m.payload,
    };
    if let SchemaKind::Object { fields: list } = &payload.kind {
        field_rows(list, 0, "", &mut fields);
    }
    MessageView {
        id: anchor("message", &m.name),
        name: m.name.clone(),
        direction,
        direction_class,
        description: describe(m.description.as_deref()),
        facts,
        fields,
        example: highlight_json(&sample_frame(api, m)),
    }
}

/// Rows for `fields`, nested objects (also inside arrays) flattened below
/// their parent with a path prefix.
fn field_rows(fields: &[Field], depth: usize, prefix: &str, out: &mut Vec<FieldRow>) {
    for f in fields {
        out.push(FieldRow {
            depth,
            prefix: prefix.to_owned(),
            name: f.name.clone(),
            ty: type_label(&f.schema),
            required: f.required,
            constraints: constraints(&f.schema),
            description: describe(f.schema.description.as_deref()),
        });
        let mut inner = &f.schema;
        let mut path = format!("{prefix}{}", f.name);
        while let SchemaKind::Array { items, .. } = &inner.kind {
            inner = items;
            path.push_str("[]");
        }
        if let SchemaKind::Object { fields: nested } = &inner.kind {
            field_rows(nested, depth + 1, &format!("{path}."), out);
        }
    }
}

fn type_label(schema: &Schema) -> Markup {
    match &schema.kind {
        SchemaKind::Object { .. } => Markup::text("object"),
        SchemaKind::String { .. } => Markup::text("string"),
        SchemaKind::Integer { .. } => Markup::text("integer"),
        SchemaKind::Number { .. } => Markup::text("number"),
        SchemaKind::Boolean => Markup::text("boolean"),
        SchemaKind::Any => Markup::text("any JSON"),
        SchemaKind::Array { items, .. } => Markup::text("array of ").m(type_label(items)),
        SchemaKind::Ref { name } => Markup::link_code(&anchor("schema", name), name),
    }
}

fn constraints(schema: &Schema) -> Markup {
    let mut parts: Vec<Markup> = Vec::new();
    match &schema.kind {
        SchemaKind::String {
            values,
            min_length,
            max_length,
            format,
            pattern,
        } => {
            if !values.is_empty() {
                parts.push(
                    Markup::text("one of ")
                        .m(Markup::join(values.iter().map(|v| Markup::code(v)), ", ")),
                );
            }
            if let Some(range) = range(*min_length, *max_length, "characters") {
                parts.push(Markup::text(&range));
            }
            if let Some(format) = format {
                parts.push(Markup::text("format ").c(format));
            }
            if let Some(pattern) = pattern {
                parts.push(Markup::text("matching ").c(pattern));
            }
        }
        SchemaKind::Integer { minimum, maximum } | SchemaKind::Number { minimum, maximum } => {
            match (minimum, maximum) {
                (Some(lo), Some(hi)) => {
                    parts.push(Markup::text(&format!("{} to {}", bound(*lo), bound(*hi))))
                }
                (Some(lo), None) => parts.push(Markup::text(&format!("≥ {}", bound(*lo)))),
                (None, Some(hi)) => parts.push(Markup::text(&format!("≤ {}", bound(*hi)))),
                (None, None) => {}
            }
        }
        SchemaKind::Array {
            items,
            min_items,
            max_items,
        } => {
            if let Some(range) = range(*min_items, *max_items, "items") {
                parts.push(Markup::text(&range));
            }
            let inner = constraints(items);
            if !inner.is_empty() {
                parts.push(Markup::text("each: ").m(inner));
            }
        }
        SchemaKind::Object { .. }
        | SchemaKind::Boolean
        | SchemaKind::Any
        | SchemaKind::Ref { .. } => {}
    }
    Markup::join(parts, "; ")
}

fn range(min: Option<u64>, max: Option<u64>, unit: &str) -> Option<String> {
    match (min, max) {
        (Some(lo), Some(hi)) if lo == hi => Some(format!("exactly {lo} {unit}")),
        (Some(lo), Some(hi)) => Some(format!("{lo} to {hi} {unit}")),
        (Some(lo), None) if lo > 0 => Some(format!("at least {lo} {unit}")),
        (_, Some(hi)) => Some(format!("at most {hi} {unit}")),
        _ => None,
    }
}

fn schema_view(api: &Api, name: &str, schema: &Schema) -> SchemaView {
    let mut fields = Vec::new();
    let summary = match &schema.kind {
        SchemaKind::Object { fields: list } => {
            field_rows(list, 0, "", &mut fields);
            None
        }
        _ => {
            let constraints = constraints(schema);
            Some(Fact {
                label: "Type",
                value: if constraints.is_empty() {
                    type_label(schema)
                } else {
                    type_label(schema).t(": ").m(constraints)
                },
            })
        }
    };
    let mut users = Vec::new();
    for m in &api.messages {
        if refers_to(&m.payload, name) {
            users.push(message_link(&m.name));
        }
    }
    for other in &api.schemas {
        if other.name != name && refers_to(&other.schema, name) {
            users.push(Markup::link_code(
                &anchor("schema", &other.name),
                &other.name,
            ));
        }
    }
    SchemaView {
        id: anchor("schema", name),
        name: name.to_owned(),
        description: describe(schema.description.as_deref()),
        summary,
        fields,
        used_by: Markup::join(users, ", "),
    }
}

/// Whether `schema` mentions the named schema `name` anywhere inside.
fn refers_to(schema: &Schema, name: &str) -> bool {
    match &schema.kind {
        SchemaKind::Ref { name: n } => n == name,
        SchemaKind::Object { fields } => fields.iter().any(|f| refers_to(&f.schema, name)),
        SchemaKind::Array { items, .. } => refers_to(items, name),
        _ => false,
    }
}

/// The standard meaning of a close code, for the catalogue.
fn code_meaning(code: u16) -> &'static str {
    match code {
        1000 => "normal closure",
        1001 => "going away",
        1002 => "protocol error",
        1003 => "unsupported data",
        1007 => "invalid payload",
        1008 => "policy violation",
        1009 => "message too big",
        1010 => "mandatory extension",
        1011 => "internal error",
        1012 => "service restart",
        1013 => "try again later",
        1014 => "bad gateway",
        3000..=3999 => "registered",
        4000..=4999 => "application",
        _ => "",
    }
}

/// The catalogue, by code.
fn close_groups(api: &Api) -> Vec<CodeGroup> {
    let mut groups: Vec<&CloseCodeGroup> = api.close_catalogue.iter().collect();
    groups.sort_by_key(|g| g.code);
    groups
        .into_iter()
        .map(|group| {
            let (action, action_class, action_text) = action(group.client);
            let rows = group
                .kinds
                .iter()
                .filter_map(|&kind| api.close_code(kind))
                .map(|c| KindRow {
                    id: anchor("close", c.kind.word()),
                    kind: c.kind.word(),
                    reason: c.reason.clone(),
                    description: describe(c.description.as_deref())
                        .unwrap_or_else(|| kind_text(c.kind)),
                    from_spec: c.from_spec,
                })
                .collect();
            CodeGroup {
                code: group.code,
                name: group.name.clone(),
                meaning: code_meaning(group.code),
                action,
                action_class,
                action_text,
                rows,
            }
        })
        .collect()
}

/// What a failure kind means, for rows the spec does not describe.
fn kind_text(kind: FailureKind) -> Markup {
    use FailureKind::*;
    let text = match kind {
        AuthRequired => "No token was presented.",
        AuthFailed => {
            "The token did not verify (signature, claims or lifetime), or a refresh was refused."
        }
        TokenExpired => "The token expired while the connection was open.",
        UserInactive => "The user is unknown or inactive.",
        SubjectMismatch => "A path parameter bound to the subject differs from it.",
        Forbidden => "A permission or resource check denied access.",
        NotFound => "A resource check found no such resource.",
        OriginRejected => {
            "The Origin header is not allowed: refused with HTTP 403 before the upgrade, so this code is not sent."
        }
        TooManyConnections => {
            "The user (or, for anonymous connections, everyone) has too many open connections."
        }
        RateLimited => {
            "The client sent frames (pings and pongs included) faster than the rate limit."
        }
        MessageTooBig => "A message exceeded the size limit.",
        InvalidMessage => "A message could not be decoded or has an unknown type.",
        SlowConsumer => "The client did not read fast enough; its send queue filled up.",
        IdleTimeout => "Nothing was received within the idle timeout.",
        GoingAway => "The server is shutting down.",
        ServerError => "Something failed on the server (a failing lookup included).",
        Completed => "The server finished the conversation.",
    };
    Markup::text(text)
}

/// What clients do with codes the catalogue does not list.
fn uncatalogued(api: &Api) -> Vec<Uncatalogued> {
    let listed = |code: &str| api.close_codes.iter().any(|c| c.code.to_string() == code);
    let backoff: Vec<&str> = ["1001", "1006", "1012", "1013"]
        .into_iter()
        .filter(|c| !listed(c))
        .collect();
    let mut rows = Vec::new();
    if !listed("1000") {
        rows.push(Uncatalogued {
            codes: "1000".into(),
            action: "done",
            action_class: "stop",
            text: "Closed normally: do not reconnect.",
        });
    }
    if !backoff.is_empty() {
        rows.push(Uncatalogued {
            codes: backoff.join(", "),
            action: "back off, reconnect",
            action_class: "backoff",
            text: "Going away, connection lost, service restart, try again later.",
        });
    }
    rows.push(Uncatalogued {
        codes: "any other".into(),
        action: "stop",
        action_class: "stop",
        text: "Do not reconnect; report the error.",
    });
    rows
}

fn roles(api: &Api) -> RolesView {
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::SourceFile;

    fn api(yaml: &str) -> Api {
        crate::load_source(&SourceFile::new("test.yaml", yaml)).unwrap_or_else(|e| panic!("{e:?}"))
    }

    const HOSTILE: &str = r#"
wsauth: 1
name: hostile
title: "<script>alert('title')</script>"
version: 1.0.0
description: |
  Hello <script>alert(1)</script> & `<b>code</b>` "quoted".

  - one <i>item</i>
  - two
servers:
  local: { url: "ws://127.0.0.1:8000", description: "<img src=x onerror=alert(2)>" }
auth:
  sources: [header, { subprotocol: chat }, { query: token }]
  jwt: { algorithms: [HS256], issuer: "<iss>" }
  on_expiry: refresh
permissions:
  chat.read: "Read <em>everything</em>."
roles:
  user: [chat.read]
  admin: ["*"]
endpoints:
  room:
    description: "A room <script>alert(3)</script>"
    path: /ws/{user_id}
    params:
      user_id: { type: string, equals: subject, description: "<u>the user</u>" }
    perm: chat.read
    welcome: hello
    receives: [say]
    sends: [error]
messages:
  hello:
    description: "</pre><script>alert(4)</script>"
    payload:
      type: object
      required: [text]
      properties:
        text: { type: string, enum: ["<script>x</script>"], description: "<b>bold</b>" }
  say:
    payload:
      type: object
      properties:
        text: { type: string }
        meta:
          type: array
          items:
            type: object
            properties:
              tag: { type: string, maxLength: 8 }
    example: { text: "</code></pre><script>alert(5)</script>" }
  error:
    payload:
      type: object
      required: [code]
      properties:
        code: { type: string }
"#;

    #[test]
    fn markup_from_the_spec_is_escaped() {
        let page = generate(&api(HOSTILE)).unwrap_or_else(|e| panic!("{e}"));
        assert!(!page.contains("<script"), "{page}");
        assert!(!page.contains("<img"));
        assert!(!page.contains("<em>"));
        assert!(!page.contains("<b>"));
        assert!(!page.contains("<i>"));
        assert!(!page.contains("<u>"));
        assert!(page.contains("&lt;script&gt;alert(1)&lt;/script&gt;"));
        assert!(page.contains("<code>&lt;b&gt;code&lt;/b&gt;</code>"));
        assert!(page.contains("<li>one &lt;i&gt;item&lt;/i&gt;</li>"));
        assert!(page.contains("&lt;/code&gt;&lt;/pre&gt;&lt;script&gt;"));
    }

    #[test]
    fn open_messages_are_listed_on_their_endpoint_with_their_permission() {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../specs/shipvox.yaml");
        let api = crate::load(&path).unwrap_or_else(|e| panic!("{e}"));
        let page = generate(&api).unwrap_or_else(|e| panic!("{e}"));
        let fact = page
            .split("<dt>Open messages</dt><dd>")
            .nth(1)
            .and_then(|rest| rest.split("</dd>").next())
            .unwrap_or_else(|| panic!("no open messages fact"));
        assert!(
            fact.starts_with("the client and the server may send"),
            "{fact}"
        );
        assert!(
            fact.contains(r##"sending one needs <a href="#perm-broadcast.speak"><code>broadcast.speak</code></a>"##),
            "{fact}"
        );
    }

    #[test]
    fn the_page_references_nothing_outside_itself() {
        for spec in [
            "echo",
            "mcp-status",
            "prsm",
            "reflections",
            "shipvox",
            "songnodes",
        ] {
            let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("../specs")
                .join(format!("{spec}.yaml"));
            let api = crate::load(&path).unwrap_or_else(|e| panic!("{e}"));
            let page = generate(&api).unwrap_or_else(|e| panic!("{e}"));
            // The one link element: an empty icon, so browsers ask for no favicon.
            let lower =
                page.to_ascii_lowercase()
                    .replacen("<link rel=\"icon\" href=\"data:,\">", "", 1);
            for needle in [
                "src=", "url(", "@import", "<link", "<script", "<iframe", "<img",
            ] {
                assert!(!lower.contains(needle), "{spec}: the page has {needle}");
            }
            for (i, _) in lower.match_indices("href=\"") {
                let target = lower.get(i + 6..).unwrap_or_default();
                assert!(
                    target.starts_with('#'),
                    "{spec}: a link leaves the page: {}",
                    &target[..target.len().min(60)]
                );
            }
            for scheme in ["http://", "https://"] {
                for (i, _) in lower.match_indices(scheme) {
                    let before = lower.get(..i).unwrap_or_default();
                    assert!(
                        !before.ends_with('"') && !before.ends_with('\'') && !before.ends_with('('),
                        "{spec}: {scheme} used as a reference"
                    );
                }
            }
        }
    }

    #[test]
    fn the_page_is_deterministic_and_complete() {
        let api = api(HOSTILE);
        let a = generate(&api).unwrap_or_else(|e| panic!("{e}"));
        let b = generate(&api).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(a, b);
        for id in [
            "id=\"auth\"",
            "id=\"endpoints\"",
            "id=\"endpoint-room\"",
            "id=\"message-hello\"",
            "id=\"close-codes\"",
            "id=\"close-forbidden\"",
            "id=\"role-admin\"",
            "id=\"perm-chat.read\"",
        ] {
            assert!(a.contains(id), "missing {id}");
        }
        // The browser example uses the subprotocol, the first source a browser can set.
        assert!(a.contains("[&#34;chat&#34;, &#34;chat.bearer.&#34; + token]"));
        // Nested fields sit below their parent, with its path.
        assert!(
            a.contains("<span class=\"prefix\">meta[].</span>tag"),
            "{a}"
        );
        assert!(a.contains("at most 8 characters"));
        // In-band refresh is documented.
        assert!(a.contains("wsauth.refresh"));
        assert!(!a.contains("carry no refresh"), "no raw endpoint here");
    }

    #[test]
    fn raw_endpoints_are_documented_as_closing_at_exp() {
        let yaml = HOSTILE.replace(
            "    path: /ws/{user_id}",
            "    frames: raw\n    path: /ws/{user_id}",
        );
        let yaml = yaml
            .replace("    welcome: hello\n", "")
            .replace("    receives: [say]\n", "")
            .replace("    sends: [error]\n", "");
        let page = generate(&api(&yaml)).unwrap_or_else(|e| panic!("{e}"));
        assert!(
            page.contains("Endpoints with raw frames (<code>room</code>) carry no refresh"),
            "{page}"
        );
    }
}
