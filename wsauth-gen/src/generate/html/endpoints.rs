//! The endpoint cards: path and parameters, who may connect, the facts the
//! server enforces (limits, checks, heartbeat, open messages, the topics
//! its connections may join) and how to connect.

use std::fmt::Write as _;

use super::close_codes::{close_ref, close_refs};
use super::markup::{Markup, anchor, describe, inline};
use super::topics::topic_link;
use super::{Fact, Snippet, bytes, message_link, perm_link, role_links, seconds};
use crate::ir::{
    Access, Api, Binding, Endpoint, FailureKind, Frames, ParamType, Segment, SourceKind,
    TokenSource,
};
use crate::payload::sample_frame;
use wsauth_spec::Keyword;
use wsauth_spec::wire::{REFUSED, SUBSCRIBE};

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

pub(super) struct EndpointView {
    pub(super) id: String,
    pub(super) name: String,
    pub(super) description: Option<Markup>,
    pub(super) path: Vec<PathPart>,
    pub(super) access: &'static str,
    pub(super) access_class: &'static str,
    pub(super) params: Vec<ParamView>,
    pub(super) facts: Vec<Fact>,
    pub(super) limits: Vec<Fact>,
    pub(super) examples: Vec<Snippet>,
}

pub(super) struct PathPart {
    pub(super) text: String,
    pub(super) param: bool,
}

pub(super) struct ParamView {
    pub(super) name: String,
    pub(super) ty: &'static str,
    pub(super) rule: Markup,
    pub(super) description: Option<Markup>,
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
pub(super) fn snippets(api: &Api, endpoint: &Endpoint) -> Vec<Snippet> {
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

pub(super) fn endpoint(api: &Api, e: &Endpoint) -> EndpointView {
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
        facts.push(Fact {
            label: "Resource checks",
            value: check_list(api, &e.checks)
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
    let links = |subscribed: bool| {
        let listed = e
            .topics
            .iter()
            .filter(|t| t.client_subscribes() == subscribed);
        let links: Vec<Markup> = listed.map(|t| topic_link(&t.name)).collect();
        (!links.is_empty()).then(|| Markup::join(links, ", "))
    };
    let subscribed = links(true).map(|topics| {
        topics
            .t(": subscribe with ")
            .c(SUBSCRIBE)
            .t("; a refused request is answered with ")
            .c(REFUSED)
            .t(" and the connection stays open")
    });
    let joined = links(false)
        .map(|topics| topics.t(": joined by the server, delivered as this endpoint's messages"));
    let topics = match (subscribed, joined) {
        (Some(s), Some(j)) => Some(s.t(". ").m(j)),
        (one, other) => one.or(other),
    };
    if let Some(value) = topics {
        facts.push(Fact {
            label: "Topics",
            value,
        });
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

/// Resource checks by name, each with what it checks: `a: ...; b: ...`.
pub(super) fn check_list(api: &Api, names: &[String]) -> Markup {
    Markup::join(
        names.iter().map(|name| {
            let description = api
                .check(name)
                .map(|c| c.description.as_str())
                .unwrap_or_default();
            Markup::code(name)
                .t(": ")
                .m(inline(description.trim_end().trim_end_matches('.')))
        }),
        "; ",
    )
}
