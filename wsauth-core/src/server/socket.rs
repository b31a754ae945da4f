//! The WebSocket upgrade and the socket a connection runs on.
//!
//! # Motivation
//!
//! axum's `WebSocketUpgrade` builds its tungstenite socket over the bare
//! upgraded connection, and tungstenite zeroes the free part of its read
//! buffer before every read of it: with the 4 KiB buffer the server used,
//! about 3k instructions of `memset` per echoed message and 4 KiB held by
//! every idle connection (issue 14). Nothing in axum's API changes that, so
//! the server upgrades by itself: it validates the request as axum's
//! extractor does (the same checks, in the same order, with the same
//! statuses and bodies; HTTP/1.1 only, which is all the server speaks),
//! answers `101 Switching Protocols`, and runs the connection on a
//! [`Socket`]: tungstenite over a [`ReadAhead`], which reads the socket
//! 4 KiB at a time into a stack array, so that tungstenite's own buffer can
//! be small ([`CODEC_READ_BYTES`]).
//!
//! Everything else about the socket is as axum set it up: the spec's size
//! limits, the write batch, unmasked frames refused, no limit on the write
//! buffer beyond the loop's own.

mod read_ahead;

use axum::body::Body;
use axum::response::{IntoResponse, Response};
use http::header::{
    CONNECTION, SEC_WEBSOCKET_ACCEPT, SEC_WEBSOCKET_KEY, SEC_WEBSOCKET_PROTOCOL,
    SEC_WEBSOCKET_VERSION, UPGRADE,
};
use http::request::Parts;
use http::{HeaderMap, HeaderName, HeaderValue, Method, StatusCode, Version};
use hyper::upgrade::{OnUpgrade, Upgraded};
use hyper_util::rt::TokioIo;
use tokio_tungstenite::WebSocketStream;
use tungstenite::handshake::derive_accept_key;
use tungstenite::protocol::{Role, WebSocketConfig};

use crate::limits::WRITE_BATCH_BYTES;

use self::read_ahead::ReadAhead;

/// An upgraded connection, as the connection's loop reads and writes it.
pub(crate) type Socket = WebSocketStream<ReadAhead<TokioIo<Upgraded>>>;

/// The size of tungstenite's own read buffer: what it zeroes before each
/// read, and what an idle connection holds of it. The socket is still read
/// [`READ_BYTES`](read_ahead::READ_BYTES) at a time; a frame larger than
/// this reaches tungstenite in several copies out of what [`ReadAhead`]
/// kept, not in several system calls.
///
/// 512 bytes: a usual message (a JSON object of a few hundred bytes) still
/// arrives in one read, the zeroing is a few dozen instructions, and an
/// idle connection holds half a KiB. Under callgrind (the benchmark's echo
/// round trips of small messages) 256, 512 and 1024 bytes cost the same
/// within noise: `memset` 50, 64 and 94 instructions per typed round trip
/// (3,193 with 4 KiB), 12.9k to 13.0k in all; a smaller buffer only saves
/// idle bytes and costs a read per 256 bytes of a larger message.
const CODEC_READ_BYTES: usize = 512;

/// The socket's settings for messages of at most `max_bytes`: axum's
/// defaults (tungstenite's) but for the spec's limits, the write batch, and
/// the small read buffer.
fn config(max_bytes: usize) -> WebSocketConfig {
    WebSocketConfig::default()
        .read_buffer_size(CODEC_READ_BYTES)
        .write_buffer_size(WRITE_BATCH_BYTES)
        .max_message_size(Some(max_bytes))
        .max_frame_size(Some(max_bytes))
}

/// Why a request cannot be upgraded: axum's `WebSocketUpgradeRejection`,
/// with its statuses and bodies, for the cases an HTTP/1.1 server meets.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Refused {
    MethodNotGet,
    /// A request of a later HTTP version that is not a `CONNECT`.
    MethodNotConnect,
    InvalidConnectionHeader,
    InvalidUpgradeHeader,
    InvalidWebSocketVersionHeader,
    WebSocketKeyHeaderMissing,
    /// No upgrade on this connection (HTTP/1.0, or a later version's
    /// `CONNECT`, which this server does not serve).
    ConnectionNotUpgradable,
}

impl Refused {
    fn status(self) -> StatusCode {
        match self {
            Refused::MethodNotGet | Refused::MethodNotConnect => StatusCode::METHOD_NOT_ALLOWED,
            Refused::InvalidConnectionHeader
            | Refused::InvalidUpgradeHeader
            | Refused::InvalidWebSocketVersionHeader
            | Refused::WebSocketKeyHeaderMissing => StatusCode::BAD_REQUEST,
            Refused::ConnectionNotUpgradable => StatusCode::UPGRADE_REQUIRED,
        }
    }

    fn body(self) -> &'static str {
        match self {
            Refused::MethodNotGet => "Request method must be `GET`",
            Refused::MethodNotConnect => "Request method must be `CONNECT`",
            Refused::InvalidConnectionHeader => "Connection header did not include 'upgrade'",
            Refused::InvalidUpgradeHeader => "`Upgrade` header did not include 'websocket'",
            Refused::InvalidWebSocketVersionHeader => {
                "`Sec-WebSocket-Version` header did not include '13'"
            }
            Refused::WebSocketKeyHeaderMissing => "`Sec-WebSocket-Key` header missing",
            Refused::ConnectionNotUpgradable => {
                "WebSocket request couldn't be upgraded since no upgrade state was present"
            }
        }
    }
}

impl IntoResponse for Refused {
    fn into_response(self) -> Response {
        (self.status(), self.body()).into_response()
    }
}

/// A request for a WebSocket that passed the upgrade's checks.
pub(crate) struct Upgrade {
    key: HeaderValue,
    on_upgrade: OnUpgrade,
    protocol: Option<HeaderValue>,
}

impl Upgrade {
    /// Checks that `parts` asks for a WebSocket, as axum's
    /// `WebSocketUpgrade` extractor does and in its order, and takes the
    /// connection's upgrade out of its extensions.
    pub(crate) fn from_parts(parts: &mut Parts) -> Result<Self, Refused> {
        let key = checked_key(parts)?;
        let on_upgrade = parts
            .extensions
            .remove::<OnUpgrade>()
            .ok_or(Refused::ConnectionNotUpgradable)?;
        Ok(Upgrade {
            key,
            on_upgrade,
            protocol: None,
        })
    }

    /// Answers with `protocol` as the selected subprotocol.
    pub(crate) fn set_selected_protocol(&mut self, protocol: HeaderValue) {
        self.protocol = Some(protocol);
    }

    /// The `101` answer; once it is sent and the connection upgraded, a
    /// task runs `callback` on the socket, whose messages and frames are of
    /// at most `max_bytes`. A connection whose upgrade fails (the client
    /// went away) is dropped, as axum's default does.
    pub(crate) fn on_upgrade<F, Fut>(self, max_bytes: usize, callback: F) -> Response
    where
        F: FnOnce(Socket) -> Fut + Send + 'static,
        Fut: Future<Output = ()> + Send + 'static,
    {
        let Upgrade {
            key,
            on_upgrade,
            protocol,
        } = self;
        tokio::spawn(async move {
            let Ok(upgraded) = on_upgrade.await else {
                return;
            };
            let stream = ReadAhead::new(TokioIo::new(upgraded));
            let config = Some(config(max_bytes));
            let socket = WebSocketStream::from_raw_socket(stream, Role::Server, config).await;
            callback(socket).await;
        });
        switching_protocols(&key, protocol)
    }
}

/// The request's `Sec-WebSocket-Key`, once its method and headers ask for
/// a WebSocket.
fn checked_key(parts: &Parts) -> Result<HeaderValue, Refused> {
    if parts.version > Version::HTTP_11 {
        // A later version's WebSocket is a `CONNECT`, and this server has
        // no upgrade for it (axum finds none either: 426).
        return Err(if parts.method == Method::CONNECT {
            Refused::ConnectionNotUpgradable
        } else {
            Refused::MethodNotConnect
        });
    }
    if parts.method != Method::GET {
        return Err(Refused::MethodNotGet);
    }
    if !header_contains(&parts.headers, CONNECTION, "upgrade") {
        return Err(Refused::InvalidConnectionHeader);
    }
    if !header_eq(&parts.headers, UPGRADE, "websocket") {
        return Err(Refused::InvalidUpgradeHeader);
    }
    let key = parts
        .headers
        .get(SEC_WEBSOCKET_KEY)
        .ok_or(Refused::WebSocketKeyHeaderMissing)?;
    if !header_eq(&parts.headers, SEC_WEBSOCKET_VERSION, "13") {
        return Err(Refused::InvalidWebSocketVersionHeader);
    }
    Ok(key.clone())
}

/// `101 Switching Protocols` for the client's `Sec-WebSocket-Key`, with the
/// headers (and in the order) axum sends.
fn switching_protocols(key: &HeaderValue, protocol: Option<HeaderValue>) -> Response {
    let mut response = Response::new(Body::empty());
    *response.status_mut() = StatusCode::SWITCHING_PROTOCOLS;
    let headers = response.headers_mut();
    headers.insert(CONNECTION, HeaderValue::from_static("upgrade"));
    headers.insert(UPGRADE, HeaderValue::from_static("websocket"));
    // Base64, always a valid header value.
    if let Ok(accept) = HeaderValue::try_from(derive_accept_key(key.as_bytes())) {
        headers.insert(SEC_WEBSOCKET_ACCEPT, accept);
    }
    if let Some(protocol) = protocol {
        headers.insert(SEC_WEBSOCKET_PROTOCOL, protocol);
    }
    response
}

/// Whether header `name` is `value`, ASCII case aside.
fn header_eq(headers: &HeaderMap, name: HeaderName, value: &str) -> bool {
    headers
        .get(name)
        .is_some_and(|header| header.as_bytes().eq_ignore_ascii_case(value.as_bytes()))
}

/// Whether header `name` is UTF-8 and contains `value` (lower case),
/// ASCII case aside: axum's test (`Connection: keep-alive, Upgrade`
/// passes), without its lower-cased copy of the header.
fn header_contains(headers: &HeaderMap, name: HeaderName, value: &str) -> bool {
    let Some(header) = headers.get(name) else {
        return false;
    };
    let bytes = header.as_bytes();
    std::str::from_utf8(bytes).is_ok()
        && bytes
            .windows(value.len())
            .any(|window| window.eq_ignore_ascii_case(value.as_bytes()))
}

#[cfg(test)]
mod tests {
    use axum::extract::FromRequestParts as _;
    use axum::extract::ws::WebSocketUpgrade;

    use super::*;

    /// A request as a browser sends it (without the connection's upgrade,
    /// which only hyper can make).
    fn request() -> http::request::Builder {
        http::Request::get("/ws")
            .header(CONNECTION, "keep-alive, Upgrade")
            .header(UPGRADE, "websocket")
            .header(SEC_WEBSOCKET_VERSION, "13")
            .header(SEC_WEBSOCKET_KEY, "dGhlIHNhbXBsZSBub25jZQ==")
    }

    fn without(name: HeaderName) -> http::request::Builder {
        let mut request = request();
        if let Some(headers) = request.headers_mut() {
            headers.remove(name);
        }
        request
    }

    fn with(name: HeaderName, value: HeaderValue) -> http::request::Builder {
        let mut request = request();
        if let Some(headers) = request.headers_mut() {
            headers.insert(name, value);
        }
        request
    }

    fn parts(request: http::request::Builder) -> Parts {
        let (parts, ()) = request.body(()).expect("request").into_parts();
        parts
    }

    /// The status and body of a response.
    async fn answer(response: Response) -> (StatusCode, String) {
        let status = response.status();
        let body = axum::body::to_bytes(response.into_body(), 1024)
            .await
            .expect("body");
        (status, String::from_utf8_lossy(&body).into_owned())
    }

    /// Every request the checks refuse, each check once, and one that
    /// passes them (then refused for want of an upgrade, as none of these
    /// came through hyper): the same status and body as axum's extractor.
    #[tokio::test]
    async fn each_missing_or_wrong_header_is_refused_as_axum_refuses_it() {
        let value = HeaderValue::from_static;
        let not_utf8 = HeaderValue::from_bytes(b"upgrade, \xff").expect("value");
        let cases = [
            (request(), Refused::ConnectionNotUpgradable),
            (request().method("POST"), Refused::MethodNotGet),
            (
                request().version(Version::HTTP_2),
                Refused::MethodNotConnect,
            ),
            (
                request().version(Version::HTTP_2).method("CONNECT"),
                Refused::ConnectionNotUpgradable,
            ),
            (
                request().version(Version::HTTP_10),
                Refused::ConnectionNotUpgradable,
            ),
            (without(CONNECTION), Refused::InvalidConnectionHeader),
            (
                with(CONNECTION, value("keep-alive")),
                Refused::InvalidConnectionHeader,
            ),
            (with(CONNECTION, not_utf8), Refused::InvalidConnectionHeader),
            (
                with(CONNECTION, value("UPGRADE")),
                Refused::ConnectionNotUpgradable,
            ),
            (without(UPGRADE), Refused::InvalidUpgradeHeader),
            (with(UPGRADE, value("h2c")), Refused::InvalidUpgradeHeader),
            (
                with(UPGRADE, value("WebSocket")),
                Refused::ConnectionNotUpgradable,
            ),
            (
                without(SEC_WEBSOCKET_KEY),
                Refused::WebSocketKeyHeaderMissing,
            ),
            (
                without(SEC_WEBSOCKET_VERSION),
                Refused::InvalidWebSocketVersionHeader,
            ),
            (
                with(SEC_WEBSOCKET_VERSION, value("8")),
                Refused::InvalidWebSocketVersionHeader,
            ),
        ];
        for (request, want) in cases {
            let mut ours = parts(request);
            let mut theirs = ours.clone();
            let Err(refused) = Upgrade::from_parts(&mut ours) else {
                panic!("upgraded without an upgrade");
            };
            assert_eq!(refused, want);
            let Err(rejection) = WebSocketUpgrade::from_request_parts(&mut theirs, &()).await
            else {
                panic!("axum upgraded without an upgrade");
            };
            let ours = answer(refused.into_response()).await;
            assert_eq!(ours, answer(rejection.into_response()).await, "{want:?}");
        }
    }

    /// RFC 6455's example key and accept value; the selected protocol when
    /// there is one.
    #[test]
    fn the_101_has_the_accept_key_and_the_protocol() {
        let key = HeaderValue::from_static("dGhlIHNhbXBsZSBub25jZQ==");
        let response = switching_protocols(&key, Some(HeaderValue::from_static("wsauth")));
        assert_eq!(response.status(), StatusCode::SWITCHING_PROTOCOLS);
        let headers = response.headers();
        assert_eq!(headers[CONNECTION], "upgrade");
        assert_eq!(headers[UPGRADE], "websocket");
        assert_eq!(
            headers[SEC_WEBSOCKET_ACCEPT],
            "s3pPLMBiTxaQ9kYGzzhZRbK+xOo="
        );
        assert_eq!(headers[SEC_WEBSOCKET_PROTOCOL], "wsauth");
        let response = switching_protocols(&key, None);
        assert!(response.headers().get(SEC_WEBSOCKET_PROTOCOL).is_none());
    }
}
