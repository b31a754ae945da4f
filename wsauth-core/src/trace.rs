//! Request spans that never carry a token.
//!
//! Tokens may travel in the query string (`?token=...`), and request URIs
//! end up in logs through tracing spans. Every handshake runs in a span made
//! by [`make_span`], whose `query` field keeps parameter names and replaces
//! every value with `<redacted>`. Applications that trace HTTP requests
//! themselves should use the same function, e.g. with tower-http:
//! `TraceLayer::new_for_http().make_span_with(wsauth_core::trace::make_span)`.

use http::{Request, Uri};

/// The query string with every value replaced by `<redacted>`
/// (`token=<redacted>&room=<redacted>`); empty when there is none.
pub fn redacted_query(uri: &Uri) -> String {
    uri.query()
        .unwrap_or_default()
        .split('&')
        .filter(|pair| !pair.is_empty())
        .map(|pair| match pair.split_once('=') {
            Some((name, _)) => format!("{name}=<redacted>"),
            None => pair.to_owned(),
        })
        .collect::<Vec<_>>()
        .join("&")
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
        let uri: Uri = "/ws/alice?token=eyJ.secret.sig&room=1&flag"
            .parse()
            .unwrap_or_default();
        assert_eq!(
            redacted_query(&uri),
            "token=<redacted>&room=<redacted>&flag"
        );
        let bare: Uri = "/ws/alice".parse().unwrap_or_default();
        assert_eq!(redacted_query(&bare), "");
    }
}
