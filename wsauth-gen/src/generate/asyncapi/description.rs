//! The document's own description (`info.description`), in Markdown: the
//! spec's description, then how authentication works, the close-code table
//! and what each `x-wsauth-*` extension means, so a reader of the document
//! alone knows the rules.

use wsauth_spec::wire::{REFRESH, REFRESHED};

use super::extensions::EXTENSIONS;
use super::{close_codes, security};
use crate::ir::{Access, Api, ExpiryPolicy, FailureKind, Frames};
use crate::spec::model::Keyword;

/// Wraps `name` in backticks for Markdown.
fn code(name: &str) -> String {
    format!("`{name}`")
}

pub(super) fn info(api: &Api) -> String {
    let mut out = String::new();
    if let Some(text) = &api.description {
        out.push_str(text.trim_end());
        out.push_str("\n\n");
    }
    authentication(api, &mut out);
    if let Some(stats) = &api.stats {
        out.push_str(&format!(
            "Connection statistics: `GET {}` with a token granting `{}`.\n\n",
            stats.path, stats.perm
        ));
    }
    out.push_str("## Close codes\n\n");
    out.push_str(&close_codes::table(api));
    out.push_str("\n## wsauth extensions\n\n");
    for (name, text) in EXTENSIONS {
        let names: Vec<String> = name.split(", ").map(code).collect();
        out.push_str(&format!("- {}: {text}\n", names.join(", ")));
    }
    out
}

/// The `## Authentication` section, when the API reads tokens.
fn authentication(api: &Api, out: &mut String) {
    let Some(auth) = &api.auth else {
        return;
    };
    out.push_str("## Authentication\n\n");
    if let Some(text) = &auth.description {
        out.push_str(text.trim_end());
        out.push_str("\n\n");
    }
    let sources: Vec<String> = auth.sources.iter().map(security::source_prose).collect();
    out.push_str(&format!(
        "The server reads a token from, in order: {}. An endpoint may accept fewer (see each operation's `security`).\n",
        sources.join("; ")
    ));
    if let Some(jwt) = &auth.jwt {
        let algorithms: Vec<&str> = jwt
            .keys
            .iter()
            .flat_map(|k| k.algorithms.iter().map(|a| a.word()))
            .collect();
        let mut claims = vec![format!("algorithms {}", algorithms.join(", "))];
        if let Some(issuer) = &jwt.issuer {
            claims.push(format!("issuer `{issuer}`"));
        }
        if !jwt.audience.is_empty() {
            let audience: Vec<String> = jwt.audience.iter().map(|a| code(a)).collect();
            claims.push(format!("audience {}", audience.join(" or ")));
        }
        claims.push(format!("subject claim `{}`", jwt.subject_claim));
        claims.push(format!("roles claim `{}`", jwt.roles_claim));
        claims.push(format!("leeway {} s", jwt.leeway_s));
        claims.push(format!("lifetime at most {} s", jwt.max_ttl_s));
        out.push_str(&format!("Tokens are JWTs: {}.\n", claims.join(", ")));
    }
    if auth.introspection.is_some() {
        out.push_str(
            "Tokens are checked by a token-introspection service configured on the server.\n",
        );
    }
    match auth.on_expiry {
        ExpiryPolicy::Refresh => {
            out.push_str(&format!(
                "Before `exp`, a client sends `{{\"type\": \"{REFRESH}\", \"token\": \"<fresh token>\"}}` and the server answers `{{\"type\": \"{REFRESHED}\", \"exp\": <unix seconds>}}`; without a refresh the server closes at `exp`{}.\n",
                close_codes::note(api, FailureKind::TokenExpired)
            ));
            let raw: Vec<String> = api
                .endpoints
                .iter()
                .filter(|e| e.frames == Frames::Raw && e.access != Access::Anonymous)
                .map(|e| code(&e.name))
                .collect();
            if !raw.is_empty() {
                out.push_str(&format!(
                    "Endpoints with raw frames ({}) carry no refresh: their frames are the application's, and their connections close at `exp`.\n",
                    raw.join(", ")
                ));
            }
        }
        ExpiryPolicy::Close => out.push_str(&format!(
            "At `exp` the server closes the connection{}.\n",
            close_codes::note(api, FailureKind::TokenExpired)
        )),
    }
    if let Some(role) = &auth.anonymous_role {
        out.push_str(&format!(
            "Connections without a token get the role `{role}`.\n"
        ));
    }
    if let Some(url) = &auth.token_url {
        out.push_str(&format!("Tokens are issued at `{url}`.\n"));
    }
    out.push('\n');
}
