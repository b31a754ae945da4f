//! Request spans that never carry a token.
//!
//! Tokens may travel in the query string (`?token=...`), and request URIs
//! end up in logs through tracing spans. Every handshake runs in a span made
//! by [`make_span`], whose `query` field keeps short parameter names and
//! replaces every value with `<redacted>`. A client that gets the query
//! wrong may put the token where a name or a bare entry goes (`?eyJ...`),
//! so only names that look like names survive, and bare entries never do.
//! Applications that trace HTTP requests themselves should use the same
//! function, e.g. with tower-http:
//! `TraceLayer::new_for_http().make_span_with(wsauth_core::trace::make_span)`.
//!
//! The WebSocket library below wsauth logs frames and requests whole at
//! `debug` and `trace`; [`QUIET_DEPENDENCIES`] are the filter directives
//! that keep it quiet.

use http::{Request, Uri};

/// Log filter directives that hold the WebSocket library under wsauth at
/// `info`, whatever else is logged: at `debug` and `trace`, `tungstenite`
/// prints every frame it reads or writes (an in-band refresh carries a
/// token) and a client's upgrade request (its URI may carry one in the
/// query). Add them after the application's own directives, so they win
/// over a `RUST_LOG=trace`:
///
/// ```
/// # use tracing_subscriber::EnvFilter;
/// let mut filter = EnvFilter::new("trace");
/// for directive in wsauth_core::trace::QUIET_DEPENDENCIES {
///     filter = filter.add_directive(directive.parse().expect("a valid directive"));
/// }
/// ```
///
/// Its records reach a `tracing` subscriber through `tracing-log` (which
/// `tracing_subscriber::fmt().init()` installs), under targets that start
/// with the crate's name.
pub const QUIET_DEPENDENCIES: &[&str] = &["tungstenite=info", "tokio_tungstenite=info"];

/// What replaces anything that may be secret.
const REDACTED: &str = "<redacted>";
/// Longest parameter name kept: real names are short (`access_token` is
/// 12), and random tokens are longer (128 bits are 22 base64url or 32 hex
/// characters).
const MAX_NAME: usize = 20;

/// The query string with every value replaced by `<redacted>`
/// (`token=<redacted>&room=<redacted>`); empty when there is none. Names
/// longer than 20 bytes or with characters other than ASCII letters,
/// digits, `_`, `-` and `.`, and entries without `=`, are replaced whole.
pub fn redacted_query(uri: &Uri) -> String {
    uri.query()
        .unwrap_or_default()
        .split('&')
        .filter(|pair| !pair.is_empty())
        .map(|pair| match pair.split_once('=') {
            Some((name, _)) if is_plain_name(name) => format!("{name}={REDACTED}"),
            _ => REDACTED.to_owned(),
        })
        .collect::<Vec<_>>()
        .join("&")
}

/// A parameter name that cannot be a token.
fn is_plain_name(name: &str) -> bool {
    (1..=MAX_NAME).contains(&name.len())
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'.'))
}

/// A span for a request: method, path and redacted query, never the raw URI.
pub fn make_span<B>(request: &Request<B>) -> tracing::Span {
    tracing::info_span!(
        "request",
        method = %request.method(),
        path = request.uri().path(),
        query = %redacted_query(request.uri()),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_are_redacted_names_kept() {
        let uri: Uri = "/ws/alice?token=eyJ.secret.sig&room=1&access_token="
            .parse()
            .unwrap_or_default();
        assert_eq!(
            redacted_query(&uri),
            "token=<redacted>&room=<redacted>&access_token=<redacted>"
        );
        let bare: Uri = "/ws/alice".parse().unwrap_or_default();
        assert_eq!(redacted_query(&bare), "");
    }

    #[test]
    fn a_token_in_the_wrong_place_is_redacted_too() {
        let jwt = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJhbGljZSJ9.c2lnbmF0dXJlLXNpZ25hdHVyZQ";
        for query in [
            jwt.to_owned(),                                 // bare entry
            format!("{jwt}=1"),                             // token as a name
            format!("room=1&{jwt}"),                        // bare, after a good pair
            "t%20k=1".to_owned(),                           // not a plain name
            "flag".to_owned(),                              // any bare entry
            format!("{}=1", "n".repeat(21)),                // too long for a name
            "0123456789abcdef0123456789abcdef=".to_owned(), // a 128-bit hex key
        ] {
            let uri: Uri = format!("/ws?{query}").parse().expect("uri");
            let out = redacted_query(&uri);
            assert!(
                !out.contains("eyJ") && !out.contains("flag") && !out.contains("%20"),
                "{query} -> {out}"
            );
            assert!(out.ends_with(REDACTED), "{query} -> {out}");
        }
    }
}
