//! The spec as a test suite for a running server (`wsauth-gen probe`).
//!
//! # Motivation
//!
//! A spec says who may open each endpoint, what each message needs, and
//! how every refusal looks (close code and reason, or a typed `error`
//! reply). That makes it an oracle: [`plan`] turns it into checks, each a
//! request and the outcome the spec prescribes, and [`run`] makes the
//! requests over real WebSocket connections to a server (wsauth or not)
//! and reports every deviation as spec vs observed, with the request that
//! showed it.
//!
//! What is checked (each bounded in time and in connections):
//!
//! - **the authorization matrix**: every role of the spec, and no token at
//!   all, against every endpoint; every message with a `perm` sent by a
//!   role without it and by one with it; topic subscriptions and
//!   publications by every role the endpoint admits;
//! - **subject binding**: a path parameter bound to the subject, given
//!   another user's name; **resource checks**: with `--sample`, ids the
//!   subject may open are opened, and with `--foreign-sample`, ids it may
//!   not must be refused;
//! - **the token attack catalogue** ([`forge`]): `alg: none` in four
//!   casings, an algorithm of another family, stripped and flipped
//!   signatures, edited claims, wrong issuer and audience, no `exp`, an
//!   `nbf` in the future, an unknown `crit`, `kid` path traversal, a `jku`
//!   pointing elsewhere, an oversize token, two different tokens in two
//!   sources, and the 101 never echoing the token as the subprotocol;
//! - **limits**: a message one byte over `max_message_bytes`, one
//!   connection over `max_connections_per_user`, a burst over the rate
//!   limit, and (with `slow`) a client silent past `idle_timeout_s`;
//!   **expiry** (a short-lived token closed at `exp`) and
//!   **refresh** when the spec allows it; a cookie token from a foreign
//!   origin.
//!
//! Tokens are minted from the spec with the server's HMAC secret
//! ([`crate::token`]); without it, given tokens (`ROLE=TOKEN`) are used and
//! the checks that need signing are skipped, each saying why. Only
//! loopback hosts are probed unless others are allowed by name.

mod cases;
pub mod forge;
mod report;
mod socket;

use std::time::Duration;

use serde::Serialize;
use wsauth_spec::FailureKind;

pub use cases::plan;
pub use report::{junit, table};

/// How to reach the server and what to probe it with.
#[derive(Clone, Debug)]
pub struct Options {
    /// `ws://host:port` (a path prefix is kept).
    pub url: String,
    /// The server's HMAC secret, to mint tokens from the spec.
    pub secret: Option<Vec<u8>>,
    /// Tokens given per role (`ROLE=TOKEN`), when there is no secret.
    pub tokens: Vec<(String, String)>,
    /// The subject tokens are minted for: a user the server knows and
    /// keeps active.
    pub subject: String,
    /// Another subject, for path parameters bound to the subject.
    pub other_subject: String,
    /// Path parameter and topic parameter values to use (`name=value`):
    /// ones every role's subject may access, for endpoints with resource
    /// checks.
    pub samples: Vec<(String, String)>,
    /// Values of path parameters the subject may not open (someone
    /// else's resource, or none at all), `name=value`: endpoints whose
    /// resource checks read them must refuse them.
    pub foreign_samples: Vec<(String, String)>,
    /// An origin the server allows, sent with cookie tokens.
    pub origin: Option<String>,
    /// Hosts besides loopback that may be probed.
    pub allow_hosts: Vec<String>,
    /// Also run the slow checks: the idle timeout, expiry with a long
    /// leeway.
    pub slow: bool,
    /// The longest wait for any one answer.
    pub timeout: Duration,
    /// How long a connection must stay open, without a welcome, to count as
    /// admitted (and a message unanswered to count as accepted).
    pub settle: Duration,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            url: "ws://127.0.0.1:8000".into(),
            secret: None,
            tokens: Vec::new(),
            subject: "alice".into(),
            other_subject: "probe-someone-else".into(),
            samples: Vec::new(),
            foreign_samples: Vec::new(),
            origin: None,
            allow_hosts: Vec::new(),
            slow: false,
            timeout: Duration::from_secs(5),
            settle: Duration::from_millis(300),
        }
    }
}

/// Why no probe ran.
#[derive(Debug, thiserror::Error)]
pub enum ProbeError {
    /// The URL is not `ws://host:port[/prefix]`.
    #[error("`{0}` is not a ws:// URL (ws://host:port)")]
    Url(String),
    /// The host is neither loopback nor allowed.
    #[error(
        "`{0}` is not a loopback host; probing sends attacks, so other hosts must be allowed by name (--allow-host {0})"
    )]
    HostNotAllowed(String),
    /// Neither a secret nor tokens.
    #[error(
        "the probe needs the server's HMAC secret (--secret-env) or tokens per role (--token ROLE=TOKEN)"
    )]
    NoTokens,
    /// A token could not be minted.
    #[error("minting a token: {0}")]
    Token(#[from] crate::token::TokenError),
}

/// One check: a request and the outcome the spec prescribes.
#[derive(Clone, Debug, Serialize)]
pub struct Check {
    /// What it checks, in words.
    pub name: String,
    /// What it is about: `endpoint chat`, `topic room`, `tokens`.
    pub group: String,
    /// What is sent, for the report (tokens abbreviated).
    pub request: String,
    /// What the spec says should happen.
    pub expect: Expect,
    /// What the probe does.
    #[serde(skip)]
    pub(crate) action: Action,
    /// Why it is not run, when it is not (or why its run could not tell).
    pub skip: Option<String>,
    /// A close that says nothing either way: the endpoint finishing its
    /// work (the spec's `completed`) before the check's moment came.
    #[serde(skip)]
    pub(crate) inconclusive: Option<Observed>,
}

/// An outcome the spec prescribes.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(tag = "outcome", rename_all = "snake_case")]
pub enum Expect {
    /// The connection opens (its welcome arrives, or it stays open).
    Admitted,
    /// The connection closes with the spec's code and reason for `kind`.
    Closed {
        /// The failure.
        kind: FailureKind,
        /// Its code.
        code: u16,
        /// Its reason.
        reason: String,
    },
    /// A message is refused: a typed `error` reply with the kind's word
    /// (when the endpoint sends `error`), else the close for `kind`.
    Refused {
        /// The failure.
        kind: FailureKind,
        /// Its close code.
        code: u16,
        /// Its reason.
        reason: String,
        /// Whether the endpoint answers with an `error` message instead.
        error_reply: bool,
    },
    /// A message is not refused as `forbidden` (its handler may still
    /// refuse it for its own reasons, e.g. a resource that does not exist).
    Permitted {
        /// The close code of `forbidden`.
        code: u16,
        /// Its reason.
        reason: String,
    },
    /// A reply of this `type` (and `code`/`error`, when given).
    Reply {
        /// The reply's `type`.
        kind: String,
        /// Its `code` (or, for a topic refusal, `error`).
        code: Option<String>,
    },
    /// The handshake is answered with this HTTP status.
    Http {
        /// The status.
        status: u16,
    },
    /// Admitted, and the 101's `Sec-WebSocket-Protocol` is not the token.
    ProtocolNotToken,
    /// Any one of these (a resource check may answer `forbidden` or
    /// `not_found`).
    OneOf(Vec<Expect>),
}

impl std::fmt::Display for Expect {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Expect::Admitted => write!(f, "admitted"),
            Expect::Closed { code, reason, .. } => write!(f, "close {code} \"{reason}\""),
            Expect::Refused {
                kind,
                error_reply: true,
                ..
            } => write!(f, "error reply `{}`", wsauth_spec::Keyword::word(*kind)),
            Expect::Refused { code, reason, .. } => write!(f, "close {code} \"{reason}\""),
            Expect::Permitted { .. } => write!(f, "not refused as forbidden"),
            Expect::Reply {
                kind,
                code: Some(code),
            } => write!(f, "reply `{kind}` `{code}`"),
            Expect::Reply { kind, code: None } => write!(f, "reply `{kind}`"),
            Expect::Http { status } => write!(f, "HTTP {status}"),
            Expect::ProtocolNotToken => write!(f, "admitted, token not echoed"),
            Expect::OneOf(any) => {
                for (i, expect) in any.iter().enumerate() {
                    if i > 0 {
                        f.write_str(" or ")?;
                    }
                    write!(f, "{expect}")?;
                }
                Ok(())
            }
        }
    }
}

/// What the probe saw.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(tag = "outcome", rename_all = "snake_case")]
pub enum Observed {
    /// The connection opened (welcome or quiet), or a message got no
    /// refusal.
    Admitted,
    /// A close frame (1005: none; 1006: the connection dropped).
    Closed {
        /// The code.
        code: u16,
        /// The reason.
        reason: String,
    },
    /// A text frame: its `type`, and `code` when it has one.
    Reply {
        /// Its `type`.
        kind: String,
        /// Its `code`, for an `error`.
        code: Option<String>,
    },
    /// No 101: this status.
    Http {
        /// The status.
        status: u16,
    },
    /// The 101 selected this subprotocol.
    Protocol {
        /// The selected protocol.
        selected: String,
    },
    /// The connection opened, but the welcome the spec promises did not
    /// come in time.
    NoWelcome,
    /// No answer in time.
    Timeout,
    /// The probe could not do what it meant to (connection refused, ...).
    Failed {
        /// What went wrong.
        error: String,
    },
}

impl std::fmt::Display for Observed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Observed::Admitted => write!(f, "admitted"),
            Observed::Closed { code, reason } => write!(f, "close {code} \"{reason}\""),
            Observed::Reply {
                kind,
                code: Some(code),
            } => write!(f, "reply `{kind}` `{code}`"),
            Observed::Reply { kind, code: None } => write!(f, "reply `{kind}`"),
            Observed::Http { status } => write!(f, "HTTP {status}"),
            Observed::Protocol { selected } => write!(f, "101 selected `{selected}`"),
            Observed::NoWelcome => write!(f, "open, but no welcome in time"),
            Observed::Timeout => write!(f, "no answer in time"),
            Observed::Failed { error } => write!(f, "probe failed: {error}"),
        }
    }
}

/// What a check does on the wire.
#[derive(Clone, Debug)]
pub(crate) enum Action {
    /// Opens a connection and waits for admission or refusal.
    Open(socket::Request),
    /// Opens, then sends `frames` in turn and waits for the answer to the
    /// last.
    Send(socket::Request, Vec<String>),
    /// Opens, then sends a text message of `bytes` bytes.
    Oversize(socket::Request, usize),
    /// Opens `count` connections and holds them; opens one more.
    ConnectionLimit(socket::Request, u32),
    /// Opens, then sends `count` small frames as fast as it can.
    Flood(socket::Request, u32),
    /// Opens and waits for the close at the token's expiry (`wait`).
    Expiry(socket::Request, Duration),
    /// Opens, then reads nothing (so answers no ping) for `wait`.
    Idle(socket::Request, Duration),
    /// Opens and reads the selected subprotocol.
    Protocol(socket::Request),
    /// Nothing (the check is skipped).
    None,
}

/// One check's result.
#[derive(Clone, Debug, Serialize)]
pub struct Outcome {
    /// The check.
    #[serde(flatten)]
    pub check: Check,
    /// What was seen; `None` when skipped.
    pub observed: Option<Observed>,
    /// Whether it matches the spec (skipped checks pass).
    pub pass: bool,
}

/// Every check's result.
#[derive(Clone, Debug, Serialize)]
pub struct Report {
    /// The server probed.
    pub url: String,
    /// The spec's name.
    pub spec: String,
    /// Results, in plan order.
    pub outcomes: Vec<Outcome>,
}

impl Report {
    /// The checks that did not match the spec.
    pub fn deviations(&self) -> impl Iterator<Item = &Outcome> {
        self.outcomes.iter().filter(|o| !o.pass)
    }
}

/// Runs `checks` against the server, one at a time, calling `progress`
/// before each.
pub async fn run(
    spec: &str,
    options: &Options,
    checks: Vec<Check>,
    mut progress: impl FnMut(usize, usize, &Check),
) -> Report {
    let total = checks.len();
    let mut outcomes = Vec::with_capacity(total);
    for (index, check) in checks.into_iter().enumerate() {
        progress(index, total, &check);
        let mut check = check;
        let observed = if check.skip.is_some() {
            None
        } else {
            let observed = socket::perform(&check.action, &check.expect, options).await;
            if check.inconclusive.as_ref() == Some(&observed) {
                check.skip = Some(format!(
                    "the server ended the connection as done ({observed}) before the check could tell"
                ));
                None
            } else {
                Some(observed)
            }
        };
        let pass = observed
            .as_ref()
            .is_none_or(|observed| matches(&check.expect, observed));
        outcomes.push(Outcome {
            check,
            observed,
            pass,
        });
    }
    Report {
        url: options.url.clone(),
        spec: spec.to_owned(),
        outcomes,
    }
}

/// Whether `observed` is what `expect` prescribes.
fn matches(expect: &Expect, observed: &Observed) -> bool {
    match (expect, observed) {
        (Expect::OneOf(any), observed) => any.iter().any(|e| matches(e, observed)),
        (Expect::Admitted | Expect::Permitted { .. }, Observed::Admitted) => true,
        (Expect::Permitted { code, reason }, Observed::Closed { code: c, reason: r }) => {
            !(code == c && reason == r)
        }
        (Expect::Permitted { .. }, Observed::Reply { code, .. }) => {
            code.as_deref() != Some(wsauth_spec::Keyword::word(FailureKind::Forbidden))
        }
        (Expect::Closed { code, reason, .. }, Observed::Closed { code: c, reason: r }) => {
            code == c && reason == r
        }
        (
            Expect::Refused {
                kind,
                error_reply: true,
                ..
            },
            Observed::Reply {
                kind: t,
                code: Some(c),
            },
        ) => t == "error" && c == wsauth_spec::Keyword::word(*kind),
        (
            Expect::Refused {
                code,
                reason,
                error_reply: false,
                ..
            },
            Observed::Closed { code: c, reason: r },
        ) => code == c && reason == r,
        (Expect::Reply { kind, code }, Observed::Reply { kind: k, code: c }) => {
            kind == k && (code.is_none() || code == c)
        }
        (Expect::Http { status }, Observed::Http { status: s }) => status == s,
        (Expect::ProtocolNotToken, Observed::Admitted) => true,
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::diagnostic::SourceFile;

    fn api() -> crate::Api {
        let text = "wsauth: 1\nname: t\nversion: 1.0.0\n\
            auth:\n  sources: [header, { query: token }]\n  jwt:\n    algorithms: [HS256]\n    issuer: t\n\
            permissions:\n  a.read: Read.\n  a.write: Write.\n\
            roles:\n  user: [a.read]\n  writer: [a.read, a.write]\n\
            endpoints:\n  e:\n    path: /ws/{user_id}\n    params:\n      user_id: { type: string, equals: subject }\n\
            \x20   perm: a.read\n    welcome: hello\n    receives: [post]\n    sends: [hello, error]\n\
            messages:\n  hello:\n    payload: { type: object, properties: {} }\n  error:\n    payload:\n      type: object\n      required: [code]\n      properties:\n        code: { type: string }\n        message: { type: string }\n\
            \x20 post:\n    perm: a.write\n    payload:\n      type: object\n      required: [text]\n      properties:\n        text: { type: string }\n";
        crate::load_source(&SourceFile::new("t.yaml", text))
            .unwrap_or_else(|e| panic!("{}", e.render(miette::GraphicalTheme::unicode_nocolor())))
    }

    fn options(url: &str) -> Options {
        Options {
            url: url.into(),
            secret: Some(b"probe-unit-secret-0123456789abcdef".to_vec()),
            ..Options::default()
        }
    }

    #[test]
    fn only_loopback_hosts_unless_allowed() {
        for url in [
            "ws://127.0.0.1:1",
            "ws://localhost:1",
            "ws://[::1]:1/prefix",
        ] {
            assert!(plan(&api(), &options(url)).is_ok(), "{url}");
        }
        assert!(matches!(
            plan(&api(), &options("ws://example.com:80")),
            Err(ProbeError::HostNotAllowed(h)) if h == "example.com"
        ));
        let mut allowed = options("ws://example.com:80");
        allowed.allow_hosts = vec!["example.com".into()];
        assert!(plan(&api(), &allowed).is_ok());
        assert!(matches!(
            plan(&api(), &options("http://127.0.0.1:1")),
            Err(ProbeError::Url(_))
        ));
        let mut tokenless = options("ws://127.0.0.1:1");
        tokenless.secret = None;
        assert!(matches!(
            plan(&api(), &tokenless),
            Err(ProbeError::NoTokens)
        ));
    }

    #[test]
    fn the_plan_follows_the_spec() {
        let checks = plan(&api(), &options("ws://127.0.0.1:1")).unwrap_or_else(|e| panic!("{e}"));
        let find = |name: &str| {
            checks
                .iter()
                .find(|c| c.name == name)
                .unwrap_or_else(|| panic!("no check `{name}`"))
        };
        assert!(matches!(
            find("no token opens it").expect,
            Expect::Closed {
                kind: FailureKind::AuthRequired,
                ..
            }
        ));
        assert_eq!(find("role `user` opens it").expect, Expect::Admitted);
        assert!(matches!(
            find("`alice`'s token on `probe-someone-else`'s path").expect,
            Expect::Closed {
                kind: FailureKind::SubjectMismatch,
                ..
            }
        ));
        // `user` lacks `a.write`: refused with the endpoint's `error` reply.
        assert!(matches!(
            find("role `user` sends `post` (needs `a.write`)").expect,
            Expect::Refused {
                kind: FailureKind::Forbidden,
                error_reply: true,
                ..
            }
        ));
        assert!(matches!(
            find("role `writer` sends `post` (needs `a.write`)").expect,
            Expect::Permitted { .. }
        ));
        for attack in [
            "token: alg `none`, no signature",
            "token: wrong issuer",
            "two different tokens in two sources",
        ] {
            assert!(
                matches!(
                    find(attack).expect,
                    Expect::Closed {
                        kind: FailureKind::AuthFailed,
                        ..
                    }
                ),
                "{attack}"
            );
        }
        assert!(
            checks.iter().all(|c| !c.request.contains(&"x".repeat(200))),
            "requests are shortened"
        );
    }

    #[test]
    fn outcomes_match_only_what_the_spec_says() {
        let closed = |code: u16, reason: &str| Observed::Closed {
            code,
            reason: reason.into(),
        };
        let expect = Expect::Closed {
            kind: FailureKind::AuthFailed,
            code: 4001,
            reason: "bad token".into(),
        };
        assert!(matches(&expect, &closed(4001, "bad token")));
        assert!(!matches(&expect, &closed(4001, "other reason")));
        assert!(!matches(&expect, &closed(1008, "bad token")));
        assert!(!matches(&expect, &Observed::Admitted));
        let permitted = Expect::Permitted {
            code: 4003,
            reason: "forbidden".into(),
        };
        assert!(matches(&permitted, &Observed::Admitted));
        assert!(matches(
            &permitted,
            &Observed::Reply {
                kind: "error".into(),
                code: Some("not_found".into())
            }
        ));
        assert!(!matches(
            &permitted,
            &Observed::Reply {
                kind: "error".into(),
                code: Some("forbidden".into())
            }
        ));
        assert!(!matches(&permitted, &closed(4003, "forbidden")));
        let refused = Expect::Refused {
            kind: FailureKind::Forbidden,
            code: 4003,
            reason: "forbidden".into(),
            error_reply: true,
        };
        assert!(matches(
            &refused,
            &Observed::Reply {
                kind: "error".into(),
                code: Some("forbidden".into())
            }
        ));
        assert!(!matches(&refused, &Observed::Admitted));
    }

    #[test]
    fn every_forged_token_differs_from_the_valid_one() {
        let valid = crate::token::mint(
            &api(),
            &crate::token::TokenRequest {
                subject: "alice".into(),
                roles: vec!["user".into()],
                ..Default::default()
            },
            b"probe-unit-secret-0123456789abcdef",
            1_800_000_000,
        )
        .unwrap_or_else(|e| panic!("{e}"))
        .token;
        let without = forge::catalogue(&valid, None, true);
        let with = forge::catalogue(&valid, Some(b"probe-unit-secret-0123456789abcdef"), true);
        assert!(
            with.len() > without.len(),
            "the secret adds re-signed attacks"
        );
        let mut seen = std::collections::HashSet::new();
        for forged in &with {
            assert_ne!(forged.token, valid, "{}", forged.name);
            assert!(
                seen.insert(forged.token.clone()),
                "{} repeats another",
                forged.name
            );
        }
    }
}
