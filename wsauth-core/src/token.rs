//! Finding the bearer token of a WebSocket upgrade request.
//!
//! # Motivation
//!
//! Browsers cannot set `Authorization` on a WebSocket handshake, so a spec may
//! let tokens travel in a query parameter, a cookie or a `Sec-WebSocket-Protocol`
//! entry as well. Every extra place is another way to smuggle a second
//! credential past a check that only looks at one of them, so this module
//! reads exactly the places an endpoint allows, in the spec's precedence
//! order, and refuses to choose when two of them disagree: two different
//! tokens are a [`TokenError::Conflicting`] request, never "first wins".
//!
//! The module is two pure functions over the request's headers and URI.
//! [`extract`] returns the token (wrapped in [`Token`], whose `Debug` never
//! shows it) and the source it came from, or a [`TokenError`] that never
//! contains any part of the token, so errors can be logged as they are.
//! [`select_protocol`] decides which offered subprotocol the 101 response
//! echoes: the endpoint's marker when offered, otherwise an entry that carries
//! no token and does not look like one, and never the token itself.
//!
//! Rules shared by every source:
//!
//! - a token is at most [`MAX_TOKEN_BYTES`] bytes, checked before the token is
//!   validated or percent-decoded;
//! - a token is non-empty visible ASCII (`!` to `~`); anything else found
//!   where the endpoint allows a token (including an empty value, such as
//!   `?token=`) is malformed, not absent;
//! - header values may be any bytes: junk is malformed where it is a token
//!   and ignored elsewhere, and nothing here panics.

use std::borrow::Cow;

use http::header::{AUTHORIZATION, COOKIE, SEC_WEBSOCKET_PROTOCOL};
use http::{HeaderMap, HeaderValue, Uri};
use percent_encoding::percent_decode_str;
use wsauth_spec::{Keyword, SourceKind, TokenSource};

pub(crate) use wsauth_spec::wire::MAX_TOKEN_BYTES;

/// The infix that marks a `Sec-WebSocket-Protocol` entry as carrying a token.
const BEARER_INFIX: &[u8] = b".bearer.";

/// A bearer token as presented by the client.
///
/// `Debug` prints `Token(<redacted>)` and there is no `Display`, so a token
/// cannot end up in a log line by accident.
#[derive(Clone)]
pub(crate) struct Token(String);

impl Token {
    /// The token text.
    pub(crate) fn as_str(&self) -> &str {
        &self.0
    }

    /// The token text, owned.
    #[cfg(any(test, fuzzing))]
    pub(crate) fn into_inner(self) -> String {
        self.0
    }
}

impl std::fmt::Debug for Token {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Token(<redacted>)")
    }
}

/// A token and the source it was read from.
#[derive(Clone, Debug)]
pub(crate) struct Extracted {
    /// The token.
    pub token: Token,
    /// The first source, in precedence order, that carried it: what the
    /// precedence tests and the fuzz target check.
    #[cfg(any(test, fuzzing))]
    pub source: TokenSource<&'static str>,
}

/// Why no token was extracted. Messages never contain any part of a token.
#[derive(Debug, thiserror::Error)]
pub(crate) enum TokenError {
    /// None of the allowed sources carried a token (`auth_required`).
    #[error("no token was presented")]
    Missing,
    /// Two allowed sources (or one source twice) carried different tokens.
    #[error("different tokens were presented in more than one place")]
    Conflicting,
    /// A token is longer than [`MAX_TOKEN_BYTES`].
    #[error("token is longer than 8192 bytes")]
    TooLong,
    /// An allowed source carried something that is not a usable token.
    #[error("malformed `{}` token: {why}", source_kind.word())]
    Malformed {
        /// The kind of source.
        source_kind: SourceKind,
        /// What is wrong, in words that never quote the request.
        why: &'static str,
    },
}

fn malformed(source_kind: SourceKind, why: &'static str) -> TokenError {
    TokenError::Malformed { source_kind, why }
}

/// Reads the token from the allowed `sources`, in their (precedence) order.
///
/// Sources not listed are never looked at. Every listed source is read, so a
/// malformed or conflicting value in a later source rejects the request even
/// when an earlier source carried a good token. The same token in several
/// sources is accepted and reported with the first of them.
///
/// The caller maps [`TokenError::Missing`] to `auth_required` and every other
/// error to `auth_failed`.
pub(crate) fn extract(
    headers: &HeaderMap,
    uri: &Uri,
    sources: &[TokenSource<&'static str>],
) -> Result<Extracted, TokenError> {
    let mut found: Option<Extracted> = None;
    for source in sources {
        let token = match source {
            TokenSource::Header => from_header(headers)?,
            TokenSource::Query(name) => from_query(uri, name)?,
            TokenSource::Cookie(name) => from_cookie(headers, name)?,
            TokenSource::Subprotocol(marker) => from_subprotocol(headers, marker)?,
        };
        let Some(token) = token else { continue };
        match &found {
            None => {
                found = Some(Extracted {
                    token: Token(token),
                    #[cfg(any(test, fuzzing))]
                    source: source.clone(),
                });
            }
            Some(first) if first.token.as_str() == token => {}
            Some(_) => return Err(TokenError::Conflicting),
        }
    }
    found.ok_or(TokenError::Missing)
}

/// The subprotocol the 101 response selects, borrowed from the request.
///
/// When the client offered protocols: the first `Subprotocol` marker of
/// `sources` that it offered; otherwise the first offered entry that carries
/// no token (no `.bearer.`, in any case), does not look like a bare one
/// (longer than 64 bytes, or a JWT: `eyJ`...) and is a valid protocol name
/// (an RFC 7230 token); otherwise `None`: a client that offers only its
/// token (`new WebSocket(url, [jwt])`) gets no protocol, and its browser
/// fails the handshake, rather than the token echoed in the 101. When the client offered nothing,
/// `None`. An entry carrying a token is never returned, whatever `sources`
/// holds. The result is always a valid header value; see
/// [`select_protocol_header`] for it as one.
///
/// Entries are read from every `Sec-WebSocket-Protocol` line, in order.
/// Note that axum's `WebSocketUpgrade::protocols` only looks at the first
/// line; set the result with `set_selected_protocol` instead.
pub(crate) fn select_protocol<'a>(
    headers: &'a HeaderMap,
    sources: &[TokenSource<&'static str>],
) -> Option<&'a str> {
    let offered = || offered_protocols(headers);
    let marker = sources.iter().find_map(|s| match s {
        TokenSource::Subprotocol(marker) => offered().find(|e| *e == marker.as_bytes()),
        _ => None,
    });
    // The spec's own marker is a name the spec chose, whatever it looks like.
    let valid = |e: &&[u8]| !carries_token(e) && e.iter().all(|&b| is_tchar(b));
    marker
        .into_iter()
        .filter(valid)
        .chain(offered().filter(|e| !looks_like_token(e)).filter(valid))
        .find_map(|e| std::str::from_utf8(e).ok())
}

/// [`select_protocol`] as a header value, ready for
/// `WebSocketUpgrade::set_selected_protocol`.
pub(crate) fn select_protocol_header(
    headers: &HeaderMap,
    sources: &[TokenSource<&'static str>],
) -> Option<HeaderValue> {
    select_protocol(headers, sources).and_then(|p| HeaderValue::from_str(p).ok())
}

/// `Authorization: Bearer <token>`.
fn from_header(headers: &HeaderMap) -> Result<Option<String>, TokenError> {
    const KIND: SourceKind = SourceKind::Header;
    let mut values = headers.get_all(AUTHORIZATION).iter();
    let Some(value) = values.next() else {
        return Ok(None);
    };
    if values.next().is_some() {
        return Err(malformed(KIND, "more than one `Authorization` header"));
    }
    let value = value.as_bytes().trim_ascii();
    let (scheme, rest) = match value.iter().position(|&b| is_ows(b)) {
        Some(at) => (&value[..at], &value[at..]),
        None => (value, &[][..]),
    };
    if !scheme.eq_ignore_ascii_case(b"bearer") {
        return Err(malformed(KIND, "scheme is not `Bearer`"));
    }
    let token = rest.trim_ascii();
    if token.len() > MAX_TOKEN_BYTES {
        return Err(TokenError::TooLong);
    }
    if token.iter().any(|&b| is_ows(b)) {
        return Err(malformed(KIND, "more than one word after `Bearer`"));
    }
    checked(KIND, token).map(Some)
}

/// The query parameter `name`, percent-decoded (`+` stays `+`).
fn from_query(uri: &Uri, name: &str) -> Result<Option<String>, TokenError> {
    const KIND: SourceKind = SourceKind::Query;
    let Some(query) = uri.query() else {
        return Ok(None);
    };
    let mut found: Option<String> = None;
    for pair in query.split('&') {
        let (key, raw) = pair.split_once('=').unwrap_or((pair, ""));
        if !percent_decode_str(key).eq(name.bytes()) {
            continue;
        }
        // Decoding never lengthens, and shortens by at most 3:1, so the raw
        // length alone rejects most oversized values without decoding them.
        if raw.len() > 3 * MAX_TOKEN_BYTES {
            return Err(TokenError::TooLong);
        }
        // Borrowed when there is nothing to decode, as in most tokens.
        let decoded: Cow<'_, [u8]> = if raw.contains('%') {
            percent_decode_str(raw).into()
        } else {
            Cow::Borrowed(raw.as_bytes())
        };
        if decoded.len() > MAX_TOKEN_BYTES {
            return Err(TokenError::TooLong);
        }
        let token = checked(KIND, &decoded)?;
        merge(&mut found, token)?;
    }
    Ok(found)
}

/// The cookie `name`, from every `Cookie` line.
fn from_cookie(headers: &HeaderMap, name: &str) -> Result<Option<String>, TokenError> {
    const KIND: SourceKind = SourceKind::Cookie;
    let mut found: Option<String> = None;
    for line in headers.get_all(COOKIE) {
        for pair in line.as_bytes().split(|&b| b == b';') {
            let Some(at) = pair.iter().position(|&b| b == b'=') else {
                continue;
            };
            if pair[..at].trim_ascii() != name.as_bytes() {
                continue;
            }
            let mut value = pair[at + 1..].trim_ascii();
            if let [b'"', inner @ .., b'"'] = value {
                value = inner;
            }
            if value.len() > MAX_TOKEN_BYTES {
                return Err(TokenError::TooLong);
            }
            let token = checked(KIND, value)?;
            merge(&mut found, token)?;
        }
    }
    Ok(found)
}

/// The entry `<marker>.bearer.<token>`, beside the entry `<marker>`.
fn from_subprotocol(headers: &HeaderMap, marker: &str) -> Result<Option<String>, TokenError> {
    const KIND: SourceKind = SourceKind::Subprotocol;
    let mut marker_offered = false;
    let mut found: Option<String> = None;
    for entry in offered_protocols(headers) {
        if entry == marker.as_bytes() {
            marker_offered = true;
            continue;
        }
        let Some(token) = entry
            .strip_prefix(marker.as_bytes())
            .and_then(|rest| rest.strip_prefix(BEARER_INFIX))
        else {
            continue;
        };
        if token.len() > MAX_TOKEN_BYTES {
            return Err(TokenError::TooLong);
        }
        let token = checked(KIND, token)?;
        merge(&mut found, token)?;
    }
    if found.is_some() && !marker_offered {
        return Err(malformed(KIND, "token offered without the marker protocol"));
    }
    Ok(found)
}

/// Every non-empty `Sec-WebSocket-Protocol` entry, trimmed, across lines.
fn offered_protocols(headers: &HeaderMap) -> impl Iterator<Item = &[u8]> {
    headers
        .get_all(SEC_WEBSOCKET_PROTOCOL)
        .iter()
        .flat_map(|line| line.as_bytes().split(|&b| b == b','))
        .map(<[u8]>::trim_ascii)
        .filter(|e| !e.is_empty())
}

/// Longest protocol entry ever selected: names are short, tokens are not.
const MAX_PROTOCOL_NAME: usize = 64;

/// Whether a protocol entry may be a token offered bare: too long for a
/// protocol name, or a JWT (its header is base64url JSON, so it starts with
/// `eyJ`, the encoding of `{"`).
fn looks_like_token(entry: &[u8]) -> bool {
    entry.len() > MAX_PROTOCOL_NAME || entry.starts_with(b"eyJ")
}

/// Whether a protocol entry carries a token (`.bearer.`, any case).
fn carries_token(entry: &[u8]) -> bool {
    entry
        .windows(BEARER_INFIX.len())
        .any(|w| w.eq_ignore_ascii_case(BEARER_INFIX))
}

/// A token's bytes, validated: non-empty visible ASCII. The length has been
/// checked by the caller.
fn checked(kind: SourceKind, token: &[u8]) -> Result<String, TokenError> {
    if token.is_empty() {
        return Err(malformed(kind, "empty token"));
    }
    // Without an early exit, so the check runs over whole vectors.
    if !token.iter().fold(true, |ok, b| ok & b.is_ascii_graphic()) {
        return Err(malformed(kind, "token is not visible ASCII"));
    }
    String::from_utf8(token.to_vec()).map_err(|_| malformed(kind, "token is not visible ASCII"))
}

/// Records a token seen again in the same source; a different one conflicts.
fn merge(found: &mut Option<String>, token: String) -> Result<(), TokenError> {
    match found {
        None => *found = Some(token),
        Some(first) if *first == token => {}
        Some(_) => return Err(TokenError::Conflicting),
    }
    Ok(())
}

/// HTTP optional whitespace.
fn is_ows(b: u8) -> bool {
    b == b' ' || b == b'\t'
}

/// An RFC 7230 `tchar`, the characters of a protocol name.
fn is_tchar(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b)
}

#[cfg(test)]
mod tests {
    use super::*;

    const JWT: &str = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJhbGljZSJ9.c2lnbmF0dXJl";
    const OTHER: &str = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJtYWxsb3J5In0.b3RoZXI";

    const HEADER: TokenSource<&str> = TokenSource::Header;
    const QUERY: TokenSource<&str> = TokenSource::Query("token");
    const COOKIE_SRC: TokenSource<&str> = TokenSource::Cookie("access_token");
    const SUB: TokenSource<&str> = TokenSource::Subprotocol("wsauth");
    const ALL: &[TokenSource<&str>] = &[HEADER, QUERY, COOKIE_SRC, SUB];

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (name, value) in pairs {
            let value = HeaderValue::from_str(value).expect("test header value");
            map.append(*name, value);
        }
        map
    }

    fn uri(s: &str) -> Uri {
        s.parse().expect("test uri")
    }

    fn root() -> Uri {
        uri("/ws")
    }

    fn token_of(r: Result<Extracted, TokenError>) -> (String, TokenSource<&'static str>) {
        let e = r.expect("a token");
        (e.token.into_inner(), e.source)
    }

    fn is_malformed(r: &Result<Extracted, TokenError>, kind: SourceKind) -> bool {
        matches!(r, Err(TokenError::Malformed { source_kind, .. }) if *source_kind == kind)
    }

    // --- each source alone ---

    #[test]
    fn header_alone() {
        let h = headers(&[("authorization", &format!("Bearer {JWT}"))]);
        assert_eq!(
            token_of(extract(&h, &root(), &[HEADER])),
            (JWT.to_owned(), HEADER)
        );
    }

    #[test]
    fn query_alone() {
        let u = uri(&format!("/ws?a=1&token={JWT}&b=2"));
        assert_eq!(
            token_of(extract(&HeaderMap::new(), &u, &[QUERY])),
            (JWT.to_owned(), QUERY)
        );
    }

    #[test]
    fn query_with_custom_name_ignores_default_name() {
        let u = uri(&format!("/ws?token={OTHER}&access={JWT}"));
        let src = TokenSource::Query("access");
        assert_eq!(
            token_of(extract(&HeaderMap::new(), &u, std::slice::from_ref(&src))),
            (JWT.to_owned(), src)
        );
    }

    #[test]
    fn cookie_alone() {
        let h = headers(&[("cookie", &format!("theme=dark; access_token={JWT}; x=y"))]);
        assert_eq!(
            token_of(extract(&h, &root(), &[COOKIE_SRC])),
            (JWT.to_owned(), COOKIE_SRC)
        );
    }

    #[test]
    fn subprotocol_alone() {
        let h = headers(&[(
            "sec-websocket-protocol",
            &format!("wsauth, wsauth.bearer.{JWT}"),
        )]);
        assert_eq!(
            token_of(extract(&h, &root(), &[SUB])),
            (JWT.to_owned(), SUB)
        );
    }

    #[test]
    fn subprotocol_across_lines_and_custom_marker() {
        let h = headers(&[
            ("sec-websocket-protocol", &format!("app.bearer.{JWT}")),
            ("sec-websocket-protocol", "chat, app"),
        ]);
        let src = TokenSource::Subprotocol("app");
        assert_eq!(
            token_of(extract(&h, &root(), std::slice::from_ref(&src))),
            (JWT.to_owned(), src)
        );
        // The default marker's entries are not this endpoint's.
        assert!(matches!(
            extract(&h, &root(), &[SUB]),
            Err(TokenError::Missing)
        ));
    }

    #[test]
    fn subprotocol_marker_without_token_is_missing() {
        let h = headers(&[("sec-websocket-protocol", "wsauth, chat")]);
        assert!(matches!(
            extract(&h, &root(), &[SUB]),
            Err(TokenError::Missing)
        ));
    }

    #[test]
    fn subprotocol_token_without_marker_is_malformed() {
        let h = headers(&[(
            "sec-websocket-protocol",
            &format!("chat, wsauth.bearer.{JWT}"),
        )]);
        assert!(is_malformed(
            &extract(&h, &root(), &[SUB]),
            SourceKind::Subprotocol
        ));
    }

    #[test]
    fn subprotocol_two_different_tokens_conflict() {
        let h = headers(&[(
            "sec-websocket-protocol",
            &format!("wsauth, wsauth.bearer.{JWT}, wsauth.bearer.{OTHER}"),
        )]);
        assert!(matches!(
            extract(&h, &root(), &[SUB]),
            Err(TokenError::Conflicting)
        ));
    }

    // --- precedence, agreement, conflict ---

    #[test]
    fn precedence_follows_source_order() {
        let h = headers(&[
            ("authorization", &format!("Bearer {JWT}")),
            ("cookie", &format!("access_token={JWT}")),
        ]);
        let u = uri(&format!("/ws?token={JWT}"));
        assert_eq!(token_of(extract(&h, &u, ALL)).1, HEADER);
        assert_eq!(
            token_of(extract(&h, &u, &[COOKIE_SRC, QUERY, HEADER])).1,
            COOKIE_SRC
        );
        assert_eq!(token_of(extract(&h, &u, &[QUERY, HEADER])).1, QUERY);
    }

    #[test]
    fn later_source_is_used_when_earlier_is_empty() {
        let h = headers(&[("cookie", &format!("access_token={JWT}"))]);
        assert_eq!(
            token_of(extract(&h, &root(), ALL)),
            (JWT.to_owned(), COOKIE_SRC)
        );
    }

    #[test]
    fn identical_tokens_in_two_sources_are_accepted() {
        let h = headers(&[
            ("authorization", &format!("Bearer {JWT}")),
            (
                "sec-websocket-protocol",
                &format!("wsauth,wsauth.bearer.{JWT}"),
            ),
        ]);
        assert_eq!(
            token_of(extract(&h, &root(), &[SUB, HEADER])),
            (JWT.to_owned(), SUB)
        );
    }

    #[test]
    fn different_tokens_in_two_sources_conflict() {
        let h = headers(&[("authorization", &format!("Bearer {JWT}"))]);
        let u = uri(&format!("/ws?token={OTHER}"));
        assert!(matches!(
            extract(&h, &u, &[HEADER, QUERY]),
            Err(TokenError::Conflicting)
        ));
        assert!(matches!(
            extract(&h, &u, &[QUERY, HEADER]),
            Err(TokenError::Conflicting)
        ));
    }

    #[test]
    fn sources_not_allowed_are_ignored() {
        // Different tokens, and junk, in places the endpoint does not read.
        let h = headers(&[
            ("authorization", "Basic dXNlcjpwYXNz"),
            ("authorization", &format!("Bearer {OTHER}")),
            ("cookie", &format!("access_token={OTHER}")),
            ("sec-websocket-protocol", &format!("wsauth.bearer.{OTHER}")),
        ]);
        let u = uri(&format!("/ws?token={JWT}"));
        assert_eq!(token_of(extract(&h, &u, &[QUERY])), (JWT.to_owned(), QUERY));
        assert!(matches!(
            extract(&h, &root(), &[QUERY]),
            Err(TokenError::Missing)
        ));
    }

    #[test]
    fn nothing_anywhere_is_missing() {
        assert!(matches!(
            extract(&HeaderMap::new(), &root(), ALL),
            Err(TokenError::Missing)
        ));
        assert!(matches!(
            extract(&HeaderMap::new(), &uri(&format!("/ws?token={JWT}")), &[]),
            Err(TokenError::Missing)
        ));
    }

    // --- header ---

    #[test]
    fn header_scheme_is_case_insensitive_and_whitespace_trimmed() {
        for value in [
            format!("bearer {JWT}"),
            format!("BEARER {JWT}"),
            format!("BeArEr   {JWT}  "),
            format!("  Bearer\t{JWT}"),
        ] {
            let h = headers(&[("authorization", &value)]);
            assert_eq!(
                token_of(extract(&h, &root(), &[HEADER])).0,
                JWT,
                "{value:?}"
            );
        }
    }

    #[test]
    fn header_other_scheme_or_shape_is_malformed() {
        for value in [
            "Basic dXNlcjpwYXNz".to_owned(),
            "Bearer".to_owned(),
            "Bearer   ".to_owned(),
            format!("Bearer{JWT}"),
            format!("Bearer {JWT} extra"),
            format!("Token {JWT}"),
            String::new(),
        ] {
            let h = headers(&[("authorization", &value)]);
            assert!(
                is_malformed(&extract(&h, &root(), &[HEADER]), SourceKind::Header),
                "{value:?}"
            );
        }
    }

    #[test]
    fn header_with_two_words_says_so() {
        let h = headers(&[("authorization", &format!("Bearer {JWT} {JWT}"))]);
        assert!(matches!(
            extract(&h, &root(), &[HEADER]),
            Err(TokenError::Malformed {
                source_kind: SourceKind::Header,
                why: "more than one word after `Bearer`",
            })
        ));
    }

    #[test]
    fn multiple_authorization_headers_are_malformed() {
        let h = headers(&[
            ("authorization", &format!("Bearer {JWT}")),
            ("authorization", &format!("Bearer {JWT}")),
        ]);
        assert!(is_malformed(
            &extract(&h, &root(), &[HEADER]),
            SourceKind::Header
        ));
    }

    // --- query ---

    #[test]
    fn query_is_percent_decoded_and_plus_is_kept() {
        let u = uri("/ws?token=a%2Bb%2Fc+d%3D%3D");
        assert_eq!(
            token_of(extract(&HeaderMap::new(), &u, &[QUERY])).0,
            "a+b/c+d=="
        );
        // A percent-encoded parameter name is the same parameter.
        let u = uri("/ws?t%6Fken=abc");
        assert_eq!(token_of(extract(&HeaderMap::new(), &u, &[QUERY])).0, "abc");
    }

    #[test]
    fn query_decoding_to_space_or_control_is_malformed() {
        for q in [
            "/ws?token=a%20b",
            "/ws?token=a%00b",
            "/ws?token=%C3%A9",
            "/ws?token=",
            "/ws?token",
        ] {
            assert!(
                is_malformed(
                    &extract(&HeaderMap::new(), &uri(q), &[QUERY]),
                    SourceKind::Query
                ),
                "{q}"
            );
        }
    }

    #[test]
    fn duplicate_query_parameter() {
        let same = uri(&format!("/ws?token={JWT}&x=1&token={JWT}"));
        assert_eq!(token_of(extract(&HeaderMap::new(), &same, &[QUERY])).0, JWT);
        let differ = uri(&format!("/ws?token={JWT}&token={OTHER}"));
        assert!(matches!(
            extract(&HeaderMap::new(), &differ, &[QUERY]),
            Err(TokenError::Conflicting)
        ));
        // The same value spelled two ways is the same token.
        let spelled = uri("/ws?token=a.b&token=a%2Eb");
        assert_eq!(
            token_of(extract(&HeaderMap::new(), &spelled, &[QUERY])).0,
            "a.b"
        );
    }

    // --- cookie ---

    #[test]
    fn cookie_across_several_lines() {
        let h = headers(&[
            ("cookie", "theme=dark; lang=en"),
            ("cookie", &format!("session=zzz; access_token={JWT}")),
        ]);
        assert_eq!(token_of(extract(&h, &root(), &[COOKIE_SRC])).0, JWT);
        // Only the named cookie counts; a prefix match is not it.
        let h = headers(&[(
            "cookie",
            &format!("xaccess_token={JWT}; access_token_2={JWT}"),
        )]);
        assert!(matches!(
            extract(&h, &root(), &[COOKIE_SRC]),
            Err(TokenError::Missing)
        ));
    }

    #[test]
    fn duplicate_cookie() {
        let same = headers(&[
            ("cookie", &format!("access_token={JWT}")),
            ("cookie", &format!("access_token=\"{JWT}\"")),
        ]);
        assert_eq!(token_of(extract(&same, &root(), &[COOKIE_SRC])).0, JWT);
        let differ = headers(&[
            ("cookie", &format!("access_token={JWT}")),
            ("cookie", &format!("a=b; access_token={OTHER}")),
        ]);
        assert!(matches!(
            extract(&differ, &root(), &[COOKIE_SRC]),
            Err(TokenError::Conflicting)
        ));
    }

    // --- length ---

    #[test]
    fn length_limit_is_exactly_8192_bytes_in_every_source() {
        assert_eq!(MAX_TOKEN_BYTES, 8192);
        let ok = "a".repeat(MAX_TOKEN_BYTES);
        let long = "a".repeat(MAX_TOKEN_BYTES + 1);
        type Build = fn(&str) -> (HeaderMap, Uri);
        let cases: [(TokenSource<&'static str>, Build); 4] = [
            (HEADER, |t| {
                (
                    headers(&[("authorization", &format!("Bearer {t}"))]),
                    root(),
                )
            }),
            (QUERY, |t| {
                (HeaderMap::new(), uri(&format!("/ws?token={t}")))
            }),
            (COOKIE_SRC, |t| {
                (headers(&[("cookie", &format!("access_token={t}"))]), root())
            }),
            (SUB, |t| {
                let h = headers(&[(
                    "sec-websocket-protocol",
                    &format!("wsauth, wsauth.bearer.{t}"),
                )]);
                (h, root())
            }),
        ];
        for (src, build) in cases {
            let (h, u) = build(&ok);
            assert_eq!(
                token_of(extract(&h, &u, std::slice::from_ref(&src)))
                    .0
                    .len(),
                MAX_TOKEN_BYTES,
                "{src:?}"
            );
            let (h, u) = build(&long);
            assert!(
                matches!(
                    extract(&h, &u, std::slice::from_ref(&src)),
                    Err(TokenError::TooLong)
                ),
                "{src:?}"
            );
        }
    }

    #[test]
    fn query_length_is_the_decoded_length() {
        // 8192 decoded bytes written as 24576 raw bytes: accepted.
        let ok = "%41".repeat(MAX_TOKEN_BYTES);
        let u = uri(&format!("/ws?token={ok}"));
        assert_eq!(
            token_of(extract(&HeaderMap::new(), &u, &[QUERY])).0,
            "A".repeat(MAX_TOKEN_BYTES)
        );
        // One more decoded byte: rejected, however it is written.
        let long = uri(&format!("/ws?token={ok}B"));
        assert!(matches!(
            extract(&HeaderMap::new(), &long, &[QUERY]),
            Err(TokenError::TooLong)
        ));
        let long = uri(&format!("/ws?token={ok}%42"));
        assert!(matches!(
            extract(&HeaderMap::new(), &long, &[QUERY]),
            Err(TokenError::TooLong)
        ));
    }

    #[test]
    fn too_long_wins_over_a_good_token_elsewhere() {
        let h = headers(&[("authorization", &format!("Bearer {JWT}"))]);
        let u = uri(&format!("/ws?token={}", "a".repeat(MAX_TOKEN_BYTES + 1)));
        assert!(matches!(
            extract(&h, &u, &[HEADER, QUERY]),
            Err(TokenError::TooLong)
        ));
    }

    // --- junk ---

    #[test]
    fn non_utf8_header_values_never_panic() {
        let junk = HeaderValue::from_bytes(b"\xff\xfe Bearer \x80\x81; ,=\"\t")
            .expect("obs-text is allowed");
        let mut h = HeaderMap::new();
        for name in [AUTHORIZATION, COOKIE, SEC_WEBSOCKET_PROTOCOL] {
            h.append(name, junk.clone());
        }
        let r = extract(&h, &root(), ALL);
        assert!(is_malformed(&r, SourceKind::Header), "{r:?}");
        let _ = select_protocol(&h, ALL);

        // Junk exactly where a token goes is malformed, not ignored.
        let mut h = HeaderMap::new();
        h.append(
            AUTHORIZATION,
            HeaderValue::from_bytes(b"Bearer ab\xffcd").expect("bytes"),
        );
        assert!(is_malformed(
            &extract(&h, &root(), &[HEADER]),
            SourceKind::Header
        ));
        let mut h = HeaderMap::new();
        h.append(
            COOKIE,
            HeaderValue::from_bytes(b"x=\xff; access_token=a\xe9").expect("bytes"),
        );
        assert!(is_malformed(
            &extract(&h, &root(), &[COOKIE_SRC]),
            SourceKind::Cookie
        ));
        let mut h = HeaderMap::new();
        h.append(
            SEC_WEBSOCKET_PROTOCOL,
            HeaderValue::from_bytes(b"wsauth, wsauth.bearer.\xc3\xa9").expect("bytes"),
        );
        assert!(is_malformed(
            &extract(&h, &root(), &[SUB]),
            SourceKind::Subprotocol
        ));

        // Junk in another cookie does not hide or break ours.
        let mut h = HeaderMap::new();
        h.append(
            COOKIE,
            HeaderValue::from_bytes(format!("junk=\u{fffd}; access_token={JWT}").as_bytes())
                .expect("bytes"),
        );
        assert_eq!(token_of(extract(&h, &root(), &[COOKIE_SRC])).0, JWT);
    }

    // --- protocol selection ---

    fn offered(lines: &[&str]) -> HeaderMap {
        let pairs: Vec<_> = lines
            .iter()
            .map(|l| ("sec-websocket-protocol", *l))
            .collect();
        headers(&pairs)
    }

    #[test]
    fn select_returns_marker_when_offered() {
        let h = offered(&[&format!("chat, wsauth.bearer.{JWT}"), "wsauth"]);
        assert_eq!(select_protocol(&h, ALL), Some("wsauth"));
        let h = offered(&["chat, app, wsauth"]);
        let sources = [HEADER, TokenSource::Subprotocol("app"), SUB];
        assert_eq!(select_protocol(&h, &sources), Some("app"));
    }

    #[test]
    fn select_returns_first_non_token_entry_without_marker() {
        let h = offered(&[&format!("wsauth.bearer.{JWT}, graphql-ws, chat")]);
        assert_eq!(select_protocol(&h, ALL), Some("graphql-ws"));
        // Endpoints without a subprotocol source still answer browsers.
        let h = offered(&[&format!("wsauth.bearer.{JWT}"), "chat"]);
        assert_eq!(select_protocol(&h, &[HEADER, QUERY]), Some("chat"));
        // The marker of a source the endpoint lacks is just another entry.
        let h = offered(&["wsauth, chat"]);
        assert_eq!(select_protocol(&h, &[HEADER]), Some("wsauth"));
    }

    #[test]
    fn select_never_returns_a_token_entry() {
        let h = offered(&[&format!(
            "wsauth.bearer.{JWT}, other.BEARER.{OTHER},x.Bearer.y"
        )]);
        for sources in [
            ALL,
            &[HEADER][..],
            &[][..],
            &[TokenSource::Subprotocol("other")][..],
        ] {
            assert_eq!(select_protocol(&h, sources), None, "{sources:?}");
            assert!(select_protocol_header(&h, sources).is_none());
        }
        // A marker the spec chose is selected even if it starts like a JWT.
        let h = offered(&["eyJapp"]);
        assert_eq!(
            select_protocol(&h, &[TokenSource::Subprotocol("eyJapp")]),
            Some("eyJapp")
        );
        // Nor a token offered bare, nor anything as long as one.
        let opaque = "k".repeat(65);
        let h = offered(&[&format!("{JWT}, {opaque}")]);
        assert_eq!(select_protocol(&h, ALL), None);
        let h = offered(&[&format!("{JWT}, {opaque}, chat")]);
        assert_eq!(select_protocol(&h, ALL), Some("chat"));
        // A marker whose name carries `.bearer.` is still never selected.
        let h = offered(&["a.bearer.b"]);
        assert_eq!(
            select_protocol(&h, &[TokenSource::Subprotocol("a.bearer.b")]),
            None
        );
    }

    #[test]
    fn select_none_when_nothing_offered() {
        assert_eq!(select_protocol(&HeaderMap::new(), ALL), None);
        assert_eq!(select_protocol(&offered(&["", " , "]), ALL), None);
    }

    #[test]
    fn select_skips_entries_that_are_not_protocol_names() {
        let mut h = HeaderMap::new();
        h.append(
            SEC_WEBSOCKET_PROTOCOL,
            HeaderValue::from_bytes(b"\xff\xfe, a b, chat").expect("bytes"),
        );
        assert_eq!(select_protocol(&h, &[HEADER]), Some("chat"));
        assert_eq!(
            select_protocol_header(&h, &[HEADER]),
            Some(HeaderValue::from_static("chat"))
        );
    }

    // --- redaction ---

    #[test]
    fn debug_and_errors_never_show_the_token() {
        let h = headers(&[("authorization", &format!("Bearer {JWT}"))]);
        let extracted = extract(&h, &root(), &[HEADER]).expect("a token");
        assert_eq!(format!("{:?}", extracted.token), "Token(<redacted>)");
        assert!(!format!("{extracted:?}").contains(JWT));
        assert!(!format!("{extracted:#?}").contains("eyJ"));

        // Every error, from requests that carry the token.
        let cases: Vec<(HeaderMap, Uri, Vec<TokenSource<&'static str>>)> = vec![
            (HeaderMap::new(), root(), ALL.to_vec()),
            (
                h.clone(),
                uri(&format!("/ws?token={OTHER}")),
                vec![HEADER, QUERY],
            ),
            (
                headers(&[(
                    "authorization",
                    &format!("Bearer {JWT}{}", "x".repeat(MAX_TOKEN_BYTES)),
                )]),
                root(),
                vec![HEADER],
            ),
            (
                headers(&[("authorization", &format!("Basic {JWT}"))]),
                root(),
                vec![HEADER],
            ),
            (
                headers(&[("authorization", &format!("Bearer {JWT} {JWT}"))]),
                root(),
                vec![HEADER],
            ),
            (
                HeaderMap::new(),
                uri(&format!("/ws?token={JWT}%20")),
                vec![QUERY],
            ),
            (
                offered(&[&format!("wsauth.bearer.{JWT}")]),
                root(),
                vec![SUB],
            ),
        ];
        let mut kinds = Vec::new();
        for (h, u, sources) in cases {
            let err = extract(&h, &u, &sources).expect_err("an error");
            let shown = format!("{err} {err:?}");
            assert!(!shown.contains(JWT) && !shown.contains("eyJ"), "{shown}");
            kinds.push(std::mem::discriminant(&err));
        }
        // The cases above do reach every variant.
        for err in [
            TokenError::Missing,
            TokenError::Conflicting,
            TokenError::TooLong,
            malformed(SourceKind::Header, "x"),
        ] {
            assert!(kinds.contains(&std::mem::discriminant(&err)));
        }
    }

    #[test]
    fn error_messages_are_lower_case() {
        for err in [
            TokenError::Missing,
            TokenError::Conflicting,
            TokenError::TooLong,
            malformed(SourceKind::Cookie, "empty token"),
        ] {
            let msg = err.to_string();
            assert!(msg.starts_with(|c: char| c.is_ascii_lowercase()), "{msg}");
        }
        assert_eq!(
            malformed(SourceKind::Cookie, "empty token").to_string(),
            "malformed `cookie` token: empty token"
        );
        assert!(
            TokenError::TooLong
                .to_string()
                .contains(&MAX_TOKEN_BYTES.to_string())
        );
    }
}
