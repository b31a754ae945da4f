//! How tokens travel, in AsyncAPI's words: one security scheme per token
//! source, the `security` lists that refer to them, and the servers, whose
//! `security` applies to every channel.

use serde_json::{Map, Value, json};

use super::put;
use crate::ir::{Access, Api, Server, TokenSource};

/// The `servers` object: one entry per server of the spec.
pub(super) fn servers(api: &Api) -> Map<String, Value> {
    api.servers
        .iter()
        .map(|s| (s.name.clone(), server(api, s)))
        .collect()
}

fn server(api: &Api, server: &Server) -> Value {
    let (protocol, host, pathname) = split_url(&server.url);
    // Server security applies to every channel, so it is declared here only
    // when every endpoint requires a token; otherwise operations carry it.
    let all_required = api.endpoints.iter().all(|e| e.access == Access::Required);
    let security = match &api.auth {
        Some(auth) if all_required => Some(refs(&auth.sources)),
        _ => None,
    };
    let mut description = server.description.clone().unwrap_or_default();
    if security.is_none() && api.auth.is_some() {
        if !description.is_empty() {
            description.push_str("\n\n");
        }
        description
            .push_str("Not every endpoint takes a token, so security is declared per operation.");
    }
    let mut out = Map::new();
    out.insert("host".into(), host.into());
    out.insert("protocol".into(), protocol.into());
    put(&mut out, "pathname", pathname);
    put(
        &mut out,
        "description",
        (!description.is_empty()).then_some(description),
    );
    put(&mut out, "security", security);
    Value::Object(out)
}

/// `ws://host:port/path` split into AsyncAPI's protocol, host and pathname.
fn split_url(url: &str) -> (&str, &str, Option<&str>) {
    let (protocol, rest) = url.split_once("://").unwrap_or(("ws", url));
    let rest = rest.split(['?', '#']).next().unwrap_or(rest);
    match rest.find('/') {
        Some(at) if rest.len() > at + 1 => (protocol, &rest[..at], Some(&rest[at..])),
        Some(at) => (protocol, &rest[..at], None),
        None => (protocol, rest, None),
    }
}

/// The key of the security scheme for one token source.
fn scheme_key(source: &TokenSource) -> &'static str {
    match source {
        TokenSource::Header => "httpBearer",
        TokenSource::Query(_) => "queryToken",
        TokenSource::Cookie(_) => "cookieToken",
        TokenSource::Subprotocol(_) => "subprotocolToken",
    }
}

/// A `security` list referring to the schemes of `sources`.
pub(super) fn refs(sources: &[TokenSource]) -> Value {
    sources
        .iter()
        .map(|s| json!({ "$ref": format!("#/components/securitySchemes/{}", scheme_key(s)) }))
        .collect()
}

/// How a token source reads in prose.
pub(super) fn source_prose(source: &TokenSource) -> String {
    match source {
        TokenSource::Header => "the `Authorization: Bearer <token>` header".into(),
        TokenSource::Query(name) => format!("the query parameter `{name}`"),
        TokenSource::Cookie(name) => format!("the cookie `{name}`"),
        TokenSource::Subprotocol(marker) => {
            format!("the subprotocol entry `{marker}.bearer.<token>` (offered beside `{marker}`)")
        }
    }
}

/// The `securitySchemes` of the components: one per token source.
pub(super) fn schemes(api: &Api) -> Map<String, Value> {
    let Some(auth) = &api.auth else {
        return Map::new();
    };
    let jwt = auth.jwt.is_some();
    auth.sources
        .iter()
        .map(|source| {
            let scheme = match source {
                TokenSource::Header => {
                    let mut scheme = json!({
                        "type": "http",
                        "scheme": "bearer",
                        "description": "`Authorization: Bearer <token>` on the upgrade request, for clients that can set headers (not browsers).",
                    });
                    if jwt {
                        scheme["bearerFormat"] = "JWT".into();
                    }
                    scheme
                }
                TokenSource::Query(name) => json!({
                    "type": "httpApiKey",
                    "name": name,
                    "in": "query",
                    "description": format!("`?{name}=<token>` on the WebSocket URL. Query strings end up in logs: prefer another source where the client can."),
                }),
                TokenSource::Cookie(name) => json!({
                    "type": "httpApiKey",
                    "name": name,
                    "in": "cookie",
                    "description": format!("The cookie `{name}`, sent by the browser. Accepted only from allowed origins."),
                }),
                TokenSource::Subprotocol(marker) => json!({
                    "type": "httpApiKey",
                    "name": "Sec-WebSocket-Protocol",
                    "in": "header",
                    "description": format!(
                        "The client offers two subprotocols, `{marker}` and `{marker}.bearer.<token>`; the server selects `{marker}` and never echoes the token. AsyncAPI has no scheme for a token in a subprotocol, so it is described as an API key in the `Sec-WebSocket-Protocol` header, with the marker in `x-wsauth-subprotocol`."
                    ),
                    "x-wsauth-subprotocol": {
                        "marker": marker,
                        "offer": [marker, format!("{marker}.bearer.<token>")],
                        "selected": marker,
                    },
                }),
            };
            (scheme_key(source).to_owned(), scheme)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_split_into_host_and_pathname() {
        assert_eq!(
            split_url("ws://127.0.0.1:8000"),
            ("ws", "127.0.0.1:8000", None)
        );
        assert_eq!(split_url("wss://a.example/"), ("wss", "a.example", None));
        assert_eq!(
            split_url("wss://a.example/api?x=1"),
            ("wss", "a.example", Some("/api"))
        );
    }
}
