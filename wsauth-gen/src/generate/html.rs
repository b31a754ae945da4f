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
//! `#topic-conversation`, `#message-send_message`, `#schema-Problem`, `#close-forbidden`,
//! `#role-admin`, `#perm-conversation.read`), and the page is a function of
//! the [`Api`] alone, so it is byte-for-byte reproducible.
//!
//! This file holds the page view, its table of contents and the helpers
//! every section uses (links, units); each section's view is built in its
//! own file: `auth`, `endpoints`, `topics`, `messages` (messages and schemas),
//! `close_codes` (the catalogue and references to it) and `roles`.
//! `markup` makes the only pre-rendered HTML.

mod auth;
mod close_codes;
mod endpoints;
mod markup;
mod messages;
mod roles;
mod topics;

use askama::Template;

use super::GenError;
use crate::ir::Api;
use auth::{AuthView, auth};
use close_codes::{CodeGroup, Uncatalogued, close_groups, uncatalogued};
use endpoints::{EndpointView, endpoint};
use markup::{Markup, anchor, describe};
use messages::{MessageView, SchemaView, message, schema_view};
use roles::{RolesView, roles};
use topics::{TopicView, topic};

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
    topics: Vec<TopicView>,
    topics_intro: Markup,
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

// ---------------------------------------------------------------------------
// Building the view.

impl Page {
    fn new(api: &Api) -> Self {
        let endpoints: Vec<EndpointView> = api.endpoints.iter().map(|e| endpoint(api, e)).collect();
        let topics: Vec<TopicView> = api.topics.iter().map(|t| topic(api, t)).collect();
        let messages: Vec<MessageView> = api.messages.iter().map(|m| message(api, m)).collect();
        let schemas: Vec<SchemaView> = api
            .schemas
            .iter()
            .map(|s| schema_view(api, &s.name, &s.schema))
            .collect();
        let toc = toc(&endpoints, &topics, &messages, &schemas);
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
            topics,
            topics_intro: topics::intro(),
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
    topics: &[TopicView],
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
    ];
    if !topics.is_empty() {
        toc.push(entry(
            "topics",
            "Topics",
            topics.iter().map(|t| child(&t.id, &t.name)).collect(),
        ));
    }
    toc.push(entry(
        "messages",
        "Messages",
        messages.iter().map(|m| child(&m.id, &m.name)).collect(),
    ));
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
    fn topics_have_a_card_and_their_endpoints_link_to_it() {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../specs/prsm.yaml");
        let prsm = crate::load(&path).unwrap_or_else(|e| panic!("{e}"));
        let page = generate(&prsm).unwrap_or_else(|e| panic!("{e}"));
        assert!(page.contains("id=\"topic-conversation\""), "{page}");
        assert!(
            page.contains("<a href=\"#topics\">Topics</a>"),
            "no table of contents entry"
        );
        let card = page
            .split("id=\"topic-conversation\"")
            .nth(1)
            .and_then(|rest| rest.split("</article>").next())
            .unwrap_or_default();
        for fact in [
            "Who may subscribe",
            "Who may publish",
            "Resource checks",
            "Presence",
            "History",
        ] {
            assert!(
                card.contains(&format!("<dt>{fact}</dt>")),
                "no {fact}: {card}"
            );
        }
        assert!(card.contains(
            r##"<a href="#perm-conversation.write"><code>conversation.write</code></a>"##
        ));
        assert!(card.contains("the last 100 publications of each instance, kept 5 min"));
        let joinable = page.matches(
            r##"<dt>Topics</dt><dd><a href="#topic-conversation"><code>conversation</code></a>"##,
        );
        assert_eq!(
            joinable.count(),
            2,
            "one fact per endpoint that lists the topic"
        );
        // A page without topics has no such section.
        let page = generate(&api(HOSTILE)).unwrap_or_else(|e| panic!("{e}"));
        assert!(!page.contains("id=\"topics\""));
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
