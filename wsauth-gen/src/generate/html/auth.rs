//! The authentication section: where tokens go, how they are checked, and
//! what happens when they expire.

use wsauth_spec::wire::{self, client};

use super::close_codes::close_ref;
use super::endpoints::snippets;
use super::markup::{Markup, anchor, describe, highlight_json};
use super::{Fact, Snippet, perm_link, seconds};
use crate::ir::{
    Access, Api, ClaimShape, ClientAction, ExpiryPolicy, FailureKind, Fallback, Frames, TokenSource,
};
use wsauth_spec::Keyword;

pub(super) struct AuthView {
    /// Why no token is needed, when none is.
    pub(super) none: Option<Markup>,
    pub(super) description: Option<Markup>,
    pub(super) token_url: Option<String>,
    pub(super) sources: Vec<SourceView>,
    pub(super) jwt: Vec<Fact>,
    pub(super) verification: Vec<Markup>,
    pub(super) expiry: Markup,
    pub(super) refresh: Option<RefreshView>,
    pub(super) example: Option<Snippet>,
}

pub(super) struct SourceView {
    pub(super) kind: &'static str,
    pub(super) how: Markup,
    pub(super) note: &'static str,
}

pub(super) struct RefreshView {
    pub(super) request: Markup,
    pub(super) response: Markup,
    pub(super) after: Markup,
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

pub(super) fn auth(api: &Api) -> AuthView {
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
                    "type": wire::REFRESH, "token": "<fresh token>"
                })),
                response: highlight_json(&serde_json::json!({
                    "type": wire::REFRESHED, "exp": 1_795_000_000
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
