//! Outbound HTTP: the one policy for every request the server makes on its
//! own, today JWKS fetches ([`crate::jwt::JwksSource`]) and token
//! introspection ([`crate::introspection::IntrospectionEndpoint`]).
//!
//! # Motivation
//!
//! These requests are part of the security boundary: a fetched key set
//! decides who can sign tokens, and an introspection request carries the
//! token itself. Where they go and what comes back is therefore policy, and
//! policy has one home:
//!
//! - [`url`]: `https`, or plain `http` only to a loopback address (a local
//!   sidecar), with a host. Any other scheme is refused at configuration
//!   time, so the server does not start.
//! - [`client`]: no proxy from the environment (an `HTTP_PROXY` would
//!   otherwise see every request, in clear text where plain http to
//!   loopback is allowed), redirects never followed (the configured URL is
//!   the only one contacted), and a time limit on the whole request.
//! - [`read_body`]: the response body is read up to a bound and refused
//!   beyond it, whether or not the server announced its length.
//!
//! What a status code or a body means stays with the caller: a JWKS and an
//! introspection answer are judged differently.

use std::net::IpAddr;
use std::time::Duration;

/// The URL the server may send requests to, or why not (a reason for the
/// caller's configuration error).
pub(crate) fn url(url: &str) -> Result<reqwest::Url, &'static str> {
    let url = reqwest::Url::parse(url).map_err(|_| "not a url")?;
    match url.scheme() {
        "https" => {}
        "http" if is_loopback(&url) => {}
        "http" => return Err("plain http is only allowed to a loopback address"),
        _ => return Err("the scheme must be https"),
    }
    if url.host_str().is_none_or(str::is_empty) {
        return Err("no host");
    }
    Ok(url)
}

/// Whether `url` points at this machine (plain http is allowed there only).
fn is_loopback(url: &reqwest::Url) -> bool {
    match url.host_str() {
        Some("localhost") => true,
        Some(host) => host
            .trim_start_matches('[')
            .trim_end_matches(']')
            .parse::<IpAddr>()
            .is_ok_and(|ip| ip.is_loopback()),
        None => false,
    }
}

/// An HTTP client that ignores proxies from the environment, follows no
/// redirect and gives up on a request after `timeout` (connecting, sending
/// and reading the body included).
pub(crate) fn client(timeout: Duration) -> Result<reqwest::Client, reqwest::Error> {
    reqwest::Client::builder()
        .timeout(timeout)
        .redirect(reqwest::redirect::Policy::none())
        .no_proxy()
        .build()
}

/// Why a response body was not read.
#[derive(Debug, thiserror::Error)]
pub(crate) enum BodyError {
    /// The body is (or announces itself as) larger than the bound.
    #[error("body larger than {0} bytes")]
    TooLarge(usize),
    /// The connection failed or the time limit passed while reading.
    #[error("reading the body failed")]
    Read(#[source] reqwest::Error),
}

/// The whole body of `response`, at most `max` bytes.
pub(crate) async fn read_body(
    mut response: reqwest::Response,
    max: usize,
) -> Result<Vec<u8>, BodyError> {
    if response
        .content_length()
        .is_some_and(|len| len > max as u64)
    {
        return Err(BodyError::TooLarge(max));
    }
    let mut body = Vec::new();
    while let Some(chunk) = response.chunk().await.map_err(BodyError::Read)? {
        if body.len() + chunk.len() > max {
            return Err(BodyError::TooLarge(max));
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body)
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};

    use axum::body::Body;
    use axum::response::IntoResponse;
    use axum::routing::get;

    use super::*;

    const LIMIT: Duration = Duration::from_secs(5);

    /// A local server: `/small` (announced length), `/big` (announced
    /// length over the bound), `/stream` (over the bound, no length),
    /// `/redirect` (to `/small`), `/slow` (answers after two seconds).
    /// Returns its address and a counter of requests to `/small`.
    async fn server() -> (std::net::SocketAddr, Arc<AtomicUsize>) {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        let addr = listener.local_addr().unwrap_or_else(|e| panic!("{e}"));
        let small_hits = Arc::new(AtomicUsize::new(0));
        let hits = Arc::clone(&small_hits);
        let app = axum::Router::new()
            .route(
                "/small",
                get(move || async move {
                    hits.fetch_add(1, Ordering::SeqCst);
                    "0123456789"
                }),
            )
            .route("/big", get(|| async { "x".repeat(11) }))
            .route(
                "/stream",
                get(|| async {
                    let chunks = ["x".repeat(6), "x".repeat(6)]
                        .map(|chunk| Ok::<_, std::io::Error>(bytes::Bytes::from(chunk)));
                    Body::from_stream(futures_util::stream::iter(chunks))
                }),
            )
            .route(
                "/redirect",
                get(|| async { axum::response::Redirect::temporary("/small").into_response() }),
            )
            .route(
                "/slow",
                get(|| async {
                    tokio::time::sleep(Duration::from_secs(2)).await;
                    "late"
                }),
            );
        tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        (addr, small_hits)
    }

    async fn get_body(
        client: &reqwest::Client,
        url: String,
        max: usize,
    ) -> Result<Vec<u8>, BodyError> {
        let response = client
            .get(url)
            .send()
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        read_body(response, max).await
    }

    #[test]
    fn urls_are_https_or_plain_http_to_loopback() {
        for (bad, why) in [
            ("not a url", "not a url"),
            ("http://idp.example/jwks", "plain http"),
            ("http://10.0.0.1/jwks", "plain http"),
            ("ftp://127.0.0.1/jwks", "scheme"),
            ("file:///etc/passwd", "scheme"),
        ] {
            match url(bad) {
                Err(reason) => assert!(reason.contains(why), "{bad}: {reason}"),
                Ok(_) => panic!("{bad} accepted"),
            }
        }
        for good in [
            "https://idp.example/jwks",
            "http://127.0.0.1:1/j",
            "http://127.8.9.10/j",
            "http://[::1]/j",
            "http://localhost:9/j",
        ] {
            assert!(url(good).is_ok(), "{good}");
        }
    }

    #[tokio::test]
    async fn bodies_are_bounded_whether_or_not_their_length_is_announced() {
        let (addr, _) = server().await;
        let client = client(LIMIT).unwrap_or_else(|e| panic!("{e}"));
        let body = get_body(&client, format!("http://{addr}/small"), 10).await;
        assert_eq!(body.ok().as_deref(), Some(&b"0123456789"[..]));
        for path in ["big", "stream"] {
            let body = get_body(&client, format!("http://{addr}/{path}"), 10).await;
            assert!(matches!(body, Err(BodyError::TooLarge(10))), "{path}");
        }
    }

    #[tokio::test]
    async fn redirects_are_not_followed() {
        let (addr, small_hits) = server().await;
        let client = client(LIMIT).unwrap_or_else(|e| panic!("{e}"));
        let response = client
            .get(format!("http://{addr}/redirect"))
            .send()
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        assert!(response.status().is_redirection());
        assert_eq!(small_hits.load(Ordering::SeqCst), 0);
    }

    #[tokio::test]
    async fn requests_are_abandoned_at_the_time_limit() {
        let (addr, _) = server().await;
        let client = client(Duration::from_millis(200)).unwrap_or_else(|e| panic!("{e}"));
        let error = client.get(format!("http://{addr}/slow")).send().await.err();
        assert!(error.is_some_and(|e| e.is_timeout()));
    }

    /// Set in the child process of
    /// [`proxies_in_the_environment_are_ignored`], which runs with a proxy
    /// in its environment (setting one in this process would race the other
    /// tests' threads).
    const CHILD: &str = "WSAUTH_OUTBOUND_PROXY_CHILD";

    #[test]
    fn proxies_in_the_environment_are_ignored() {
        if std::env::var_os(CHILD).is_some() {
            return proxy_child();
        }
        let proxy = std::net::TcpListener::bind("127.0.0.1:0").unwrap_or_else(|e| panic!("{e}"));
        let proxy = proxy.local_addr().unwrap_or_else(|e| panic!("{e}"));
        let exe = std::env::current_exe().unwrap_or_else(|e| panic!("{e}"));
        let output = std::process::Command::new(exe)
            .args([
                "--exact",
                "outbound::tests::proxies_in_the_environment_are_ignored",
                "--nocapture",
            ])
            .env(CHILD, "1")
            .env("HTTP_PROXY", format!("http://{proxy}"))
            .env("http_proxy", format!("http://{proxy}"))
            .env("ALL_PROXY", format!("http://{proxy}"))
            .env_remove("NO_PROXY")
            .env_remove("no_proxy")
            .output()
            .unwrap_or_else(|e| panic!("{e}"));
        assert!(
            output.status.success(),
            "{}",
            String::from_utf8_lossy(&output.stdout)
        );
    }

    /// With a proxy in the environment (a socket that accepts and never
    /// answers), a request to the local server still goes straight to it.
    fn proxy_child() {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap_or_else(|e| panic!("{e}"));
        runtime.block_on(async {
            let (addr, small_hits) = server().await;
            let client = client(LIMIT).unwrap_or_else(|e| panic!("{e}"));
            let response = client
                .get(format!("http://{addr}/small"))
                .send()
                .await
                .unwrap_or_else(|e| panic!("{e}"));
            assert_eq!(response.status(), reqwest::StatusCode::OK);
            assert_eq!(small_hits.load(Ordering::SeqCst), 1);
        });
    }
}
