//! The close-code catalogue, and the references to it from the rest of the
//! page (`4003 (forbidden)` linked to its row).

use wsauth_spec::wire;
use wsauth_spec::wire::client;

use super::markup::{Markup, anchor, describe};
use super::seconds;
use crate::ir::{Api, ClientAction, CloseCodeGroup, FailureKind};
use wsauth_spec::Keyword;

pub(super) struct CodeGroup {
    pub(super) code: u16,
    /// The name both clients give it.
    pub(super) name: String,
    pub(super) meaning: &'static str,
    pub(super) action: &'static str,
    pub(super) action_class: &'static str,
    pub(super) action_text: String,
    pub(super) rows: Vec<KindRow>,
}

pub(super) struct KindRow {
    pub(super) id: String,
    pub(super) kind: &'static str,
    pub(super) reason: String,
    pub(super) description: Markup,
    pub(super) from_spec: bool,
}

pub(super) struct Uncatalogued {
    pub(super) codes: String,
    pub(super) action: &'static str,
    pub(super) action_class: &'static str,
    pub(super) text: &'static str,
}

/// `4003` linked to the catalogue row of `kind`, with the kind's word.
pub(super) fn close_ref(api: &Api, kind: FailureKind) -> Markup {
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
pub(super) fn close_refs(api: &Api, kinds: &[FailureKind]) -> Markup {
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
pub(super) fn close_groups(api: &Api) -> Vec<CodeGroup> {
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
        Revoked => {
            "The token was revoked, or every token of the user issued until then, or the user was disconnected: get a newer token."
        }
        Unavailable => {
            "The server cannot check what a new connection needs right now (its cluster store is unreachable)."
        }
    };
    Markup::text(text)
}

/// What clients do with codes the catalogue does not list.
pub(super) fn uncatalogued(api: &Api) -> Vec<Uncatalogued> {
    let listed = |code: u16| api.close_codes.iter().any(|c| c.code == code);
    let backoff: Vec<String> = wire::client::RETRY_UNKNOWN_CODES
        .into_iter()
        .filter(|c| !listed(*c))
        .map(|c| c.to_string())
        .collect();
    let mut rows = Vec::new();
    if !listed(wire::NORMAL_CLOSE) {
        rows.push(Uncatalogued {
            codes: wire::NORMAL_CLOSE.to_string(),
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
