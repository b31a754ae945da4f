//! Shared helpers: the app on 127.0.0.1:0, HS256 tokens minted with
//! `jsonwebtoken`, a WebSocket client that can carry a token in each of the
//! spec's places, and readers that assert what arrived.

use std::net::SocketAddr;

use serde_json::json;
use tokio_tungstenite::tungstenite::handshake::client::Request;
use wsauth_core::spec::FailureKind;

/// The shared harness; what is defined below is this example's own.
pub(crate) use wsauth_example_support::testing::*;

/// The server's HS256 secret in tests.
pub(crate) const SECRET: &[u8] = b"songnodes-e2e-secret-0123456789-abcdef";
/// The spec's subprotocol marker (`subprotocol` without a name).
pub(crate) const MARKER: &str = "wsauth";
/// Every permission of role `user`, as a welcome lists them (sorted).
pub(crate) const USER_PERMISSIONS: [&str; 3] = ["graph.read", "graph.search", "playlist.write"];

/// A running app, stopped by `App::stop` (`songnodes::serve` returns).
pub(crate) type App = Serving;

/// The app with the seeded store, served by `songnodes::serve`.
pub(crate) async fn start() -> App {
    let config = songnodes::Config::new(SECRET);
    let (router, server) = songnodes::app(config).unwrap_or_else(|e| panic!("{e}"));
    serve_on_loopback(router, server).await
}

/// The close code and reason the spec gives failure `kind`.
pub(crate) fn spec_close(kind: FailureKind) -> (u16, String) {
    let close = songnodes::API.close(kind);
    (close.code, close.reason.to_owned())
}

/// A valid token for `sub` with `roles`.
pub(crate) fn tok(sub: &str, roles: &[&str]) -> Tok {
    let now = now();
    let claims = json!({
        "sub": sub, "iat": now, "exp": now + 600,
        "iss": "songnodes", "aud": "songnodes-ws", "roles": roles,
    });
    Tok::new(claims, SECRET)
}

/// A valid token for `sub` with `roles`, minted.
pub(crate) fn token(sub: &str, roles: &[&str]) -> String {
    tok(sub, roles).mint()
}

/// Where a test puts the token.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Via {
    /// `?token=<token>`.
    Query,
    /// `Sec-WebSocket-Protocol: wsauth, wsauth.bearer.<token>`.
    Subprotocol,
    /// `Authorization: Bearer <token>`.
    Header,
}

/// Every place the spec lets a token travel.
pub(crate) const VIAS: [Via; 3] = [Via::Query, Via::Subprotocol, Via::Header];

/// A handshake request for `path` carrying `token` `via` one place.
pub(crate) fn request(addr: SocketAddr, path: &str, token: &str, via: Via) -> Request {
    match via {
        Via::Query => {
            let sep = if path.contains('?') { '&' } else { '?' };
            ws(addr, &format!("{path}{sep}token={token}"))
        }
        Via::Subprotocol => with(
            ws(addr, path),
            "sec-websocket-protocol",
            &format!("{MARKER}, {MARKER}.bearer.{token}"),
        ),
        Via::Header => with(ws(addr, path), "authorization", &format!("Bearer {token}")),
    }
}

/// Connects to `/ws/anonymous` without a token.
pub(crate) async fn connect_anonymous(addr: SocketAddr) -> Client {
    connect(ws(addr, "/ws/anonymous")).await
}

/// The next message, which must be of type `kind`, decoded into the
/// generated type `T` (which refuses unknown or missing fields): the frame
/// has exactly the spec's shape.
pub(crate) async fn next_typed<T: serde::de::DeserializeOwned>(
    client: &mut Client,
    kind: &str,
) -> T {
    let mut frame = next_json(client).await;
    assert_eq!(frame["type"], kind, "{frame}");
    if let Some(fields) = frame.as_object_mut() {
        fields.remove("type");
    }
    serde_json::from_value(frame.clone()).unwrap_or_else(|e| panic!("{e}: {frame}"))
}

/// Expects the welcome of an authenticated `user` holding `permissions`.
pub(crate) async fn expect_welcome(client: &mut Client, user: &str, permissions: &[&str]) {
    let welcome = next_json(client).await;
    assert_eq!(
        welcome,
        json!({
            "type": "welcome",
            "authenticated": true,
            "user_id": user,
            "permissions": permissions,
        })
    );
}

/// Expects the welcome of an anonymous connection: unauthenticated, no
/// user, the `guest` role's permissions.
pub(crate) async fn expect_anonymous_welcome(client: &mut Client) {
    let welcome = next_json(client).await;
    assert_eq!(
        welcome,
        json!({ "type": "welcome", "authenticated": false, "permissions": ["graph.read"] })
    );
}
