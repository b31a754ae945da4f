//! Token extraction from an upgrade request: the first line of the input is
//! the request target (path and query), every other line a header
//! `name: value`. Whatever the request, extraction never panics, and a
//! token it returns is non-empty visible ASCII within the size limit; the
//! subprotocol it selects is never one that carries a token.

#![no_main]

use http::Uri;
use http::header::{HeaderMap, HeaderName, HeaderValue};
use libfuzzer_sys::fuzz_target;
use wsauth_core::spec::TokenSource;
use wsauth_core::__fuzz::{MAX_TOKEN_BYTES, extract_token, select_protocol};

/// Every source alone, and all of them in two precedence orders.
const SOURCES: &[&[TokenSource<&str>]] = &[
    &[TokenSource::Header],
    &[TokenSource::Query("token")],
    &[TokenSource::Cookie("access_token")],
    &[TokenSource::Subprotocol("prsm")],
    &[
        TokenSource::Header,
        TokenSource::Subprotocol("prsm"),
        TokenSource::Query("token"),
        TokenSource::Cookie("access_token"),
    ],
    &[
        TokenSource::Cookie("access_token"),
        TokenSource::Query("token"),
        TokenSource::Subprotocol("prsm"),
        TokenSource::Header,
    ],
];

fuzz_target!(|data: &[u8]| {
    let mut lines = data.split(|b| *b == b'\n');
    let target = lines.next().unwrap_or_default();
    let Ok(uri) = Uri::try_from(target) else {
        return;
    };
    let mut headers = HeaderMap::new();
    for line in lines {
        let Some(colon) = line.iter().position(|b| *b == b':') else {
            continue;
        };
        let (name, value) = line.split_at(colon);
        let (Ok(name), Ok(value)) = (
            HeaderName::from_bytes(name),
            HeaderValue::from_bytes(value[1..].trim_ascii()),
        ) else {
            continue;
        };
        headers.append(name, value);
    }
    for sources in SOURCES {
        if let Some((t, source)) = extract_token(&headers, &uri, sources) {
            assert!(
                !t.is_empty() && t.len() <= MAX_TOKEN_BYTES,
                "token of {} bytes",
                t.len()
            );
            assert!(
                t.bytes().all(|b| b.is_ascii_graphic()),
                "token is not visible ASCII"
            );
            assert!(
                sources.contains(&source),
                "token from a source not allowed"
            );
        }
        if let Some(selected) = select_protocol(&headers, sources) {
            let lower = selected.to_ascii_lowercase();
            assert!(!lower.contains(".bearer."), "the 101 would echo a token");
        }
    }
});
