//! The server and client fixtures the socket tests share.
#![allow(dead_code, unreachable_pub, missing_docs)]

pub mod cluster;
pub mod partition;
// Shared with the examples' tests (standard library only).
#[path = "../../../examples/support/src/redis_server.rs"]
pub mod redis_server;

use std::net::SocketAddr;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use futures_util::StreamExt;
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};
use wsauth_core::__private::descriptor::*;
use wsauth_core::jwt::Claims;
use wsauth_core::spec::{
    Access, ClientAction, ExpiryPolicy, FailureKind, Frames, ParamType, TokenSource,
};
use wsauth_core::{AuthError, Authenticator, Incoming, Session, WsAuth};
use wsauth_core::{
    BoxFuture, CheckContext, CheckOutcome, Checks, StoreError, UserStatus, UserStore,
};

pub type Client = WebSocketStream<MaybeTlsStream<TcpStream>>;

pub const LIMITS: Limits = Limits {
    max_connections_per_user: 3,
    max_message_bytes: 1024,
    messages_per_second: 50,
    burst: 50,
    ping_interval_s: 25,
    idle_timeout_s: 60,
    send_queue: 4,
    max_subscriptions: 100,
};

pub const SOURCES: &[TokenSource<&str>] = &[TokenSource::Header, TokenSource::Query("token")];

pub const ROOM: EndpointDescriptor = EndpointDescriptor {
    name: "room",
    path: "/ws/{user_id}/{room_id}",
    params: &[
        ParamDescriptor {
            name: "user_id",
            ty: ParamType::String,
            equals_subject: true,
        },
        ParamDescriptor {
            name: "room_id",
            ty: ParamType::Integer,
            equals_subject: false,
        },
    ],
    access: Access::Required,
    sources: SOURCES,
    perm: Some("room.read"),
    checks: &["room_member"],
    welcome: Some("hello"),
    receives: &[
        ReceiveDescriptor {
            name: "say",
            perm: Some("room.write"),
            payload: None,
        },
        ReceiveDescriptor {
            name: "flood",
            perm: None,
            payload: None,
        },
    ],
    sends: &["hello", "said", "error"],
    open: None,
    frames: Frames::Json,
    heartbeat: Some(("ping", "pong")),
    limits: LIMITS,
    topics: &[],
};

pub const API: ApiDescriptor = ApiDescriptor {
    name: "test",
    auth: Some(AuthDescriptor {
        sources: SOURCES,
        jwt: None,
        introspection: None,
        on_expiry: ExpiryPolicy::Refresh,
        anonymous_role: None,
    }),
    roles: &[
        RoleDescriptor {
            name: "user",
            all: false,
            permissions: &["room.read", "room.write"],
        },
        RoleDescriptor {
            name: "reader",
            all: false,
            permissions: &["room.read"],
        },
    ],
    close_codes: &[
        CloseDescriptor {
            kind: FailureKind::SubjectMismatch,
            code: 4013,
            reason: "user mismatch",
            client: ClientAction::Stop,
        },
        CloseDescriptor {
            kind: FailureKind::NotFound,
            code: 4004,
            reason: "no such room",
            client: ClientAction::Stop,
        },
    ],
    stats: None,
    endpoints: &[ROOM],
    topics: &[],
};

pub static STATIC_API: ApiDescriptor = API;

pub fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// `subject:role,role:exp[:iat]` tokens, so tests can mint any claim set.
pub struct TestTokens;

impl Authenticator for TestTokens {
    fn authenticate<'a>(&'a self, token: &'a str) -> BoxFuture<'a, Result<Claims, AuthError>> {
        Box::pin(async move {
            let mut parts = token.split(':');
            let (Some(sub), Some(roles), Some(exp)) = (parts.next(), parts.next(), parts.next())
            else {
                return Err(AuthError::invalid("malformed test token"));
            };
            let exp: u64 = exp.parse().map_err(|_| AuthError::invalid("bad exp"))?;
            let iat = match parts.next() {
                Some(iat) => Some(iat.parse().map_err(|_| AuthError::invalid("bad iat"))?),
                None => None,
            };
            if exp <= now() {
                return Err(AuthError::invalid("expired"));
            }
            Ok(Claims {
                subject: sub.to_owned(),
                roles: roles
                    .split(',')
                    .filter(|r| !r.is_empty())
                    .map(str::to_owned)
                    .collect(),
                exp,
                iat,
                claims: serde_json::Map::new(),
            })
        })
    }
}

pub struct Users;

impl UserStore for Users {
    fn status<'a>(&'a self, subject: &'a str) -> BoxFuture<'a, Result<UserStatus, StoreError>> {
        Box::pin(async move {
            match subject {
                "alice" | "bob" => Ok(UserStatus::Active),
                "mallory" => Ok(UserStatus::Inactive),
                "broken" => Err(StoreError::new("database down")),
                _ => Ok(UserStatus::Unknown),
            }
        })
    }
}

pub struct Rooms;

impl Checks for Rooms {
    fn check<'a>(
        &'a self,
        _name: &'static str,
        cx: &'a CheckContext<'a>,
    ) -> BoxFuture<'a, Result<CheckOutcome, StoreError>> {
        Box::pin(async move {
            match (cx.param("room_id"), cx.principal.subject()) {
                (Some("1"), Some("alice" | "bob")) => Ok(CheckOutcome::Allow),
                (Some("2"), Some("bob")) => Ok(CheckOutcome::Allow),
                (Some("2"), _) => Ok(CheckOutcome::Forbidden),
                _ => Ok(CheckOutcome::NotFound),
            }
        })
    }
}

/// Application state for [`room`]: put before every `said` text.
pub struct Prefix(pub &'static str);

/// The handler: welcome, then echo `say` as `said` (after the [`Prefix`]
/// state, when the server has one); `flood` makes it queue more than the
/// send queue holds.
pub async fn room(mut session: Session) -> wsauth_core::HandlerResult {
    let user = session.principal().subject().unwrap_or_default().to_owned();
    session.send("hello", &serde_json::json!({ "user": user }))?;
    while let Some(message) = session.recv().await {
        if let Incoming::Message { kind, value } = message {
            match kind {
                "say" => {
                    let text = match (session.state::<Prefix>(), value["text"].as_str()) {
                        (Some(Prefix(prefix)), Some(text)) => format!("{prefix}{text}").into(),
                        _ => value["text"].clone(),
                    };
                    session.send("said", &serde_json::json!({ "text": text }))?;
                }
                "flood" => {
                    for i in 0..1000 {
                        if session
                            .send("said", &serde_json::json!({ "text": i }))
                            .is_err()
                        {
                            break;
                        }
                    }
                }
                _ => {}
            }
        }
    }
    Ok(())
}

pub async fn start(
    configure: impl FnOnce(wsauth_core::Builder) -> wsauth_core::Builder,
) -> (SocketAddr, WsAuth) {
    start_with(room, configure).await
}

/// [`start`] with `handler` for the room instead of [`room`].
pub async fn start_with<F, Fut>(
    handler: F,
    configure: impl FnOnce(wsauth_core::Builder) -> wsauth_core::Builder,
) -> (SocketAddr, WsAuth)
where
    F: Fn(Session) -> Fut + Send + Sync + 'static,
    Fut: std::future::Future<Output = wsauth_core::HandlerResult> + Send + 'static,
{
    start_on(&STATIC_API, handler, configure).await
}

/// [`start_with`] for another spec (`api`), whose `room` endpoint `handler`
/// serves; `configure` adds handlers for the others.
pub async fn start_on<F, Fut>(
    api: &'static ApiDescriptor,
    handler: F,
    configure: impl FnOnce(wsauth_core::Builder) -> wsauth_core::Builder,
) -> (SocketAddr, WsAuth)
where
    F: Fn(Session) -> Fut + Send + Sync + 'static,
    Fut: std::future::Future<Output = wsauth_core::HandlerResult> + Send + 'static,
{
    let builder = WsAuth::builder(api)
        .authenticator(TestTokens)
        .users(Users)
        .checks(Rooms)
        .handler("room", handler);
    let server = configure(builder).build().unwrap_or_else(|e| panic!("{e}"));
    (serve_with(&server, server.router()).await, server)
}

/// Serves `app` on 127.0.0.1 with [`WsAuth::serve`], as the examples do
/// (its limits before authentication included).
pub async fn serve_with(server: &WsAuth, app: axum::Router) -> SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let addr = listener.local_addr().unwrap_or_else(|e| panic!("{e}"));
    let server = server.clone();
    tokio::spawn(async move {
        let forever = std::future::pending::<()>();
        let _ = server
            .serve(listener, app, forever, Duration::from_secs(1))
            .await;
    });
    addr
}

/// Serves `app` on 127.0.0.1 (with the peer address, as servers must).
pub async fn serve(app: axum::Router) -> SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let addr = listener.local_addr().unwrap_or_else(|e| panic!("{e}"));
    tokio::spawn(async move {
        let _ = axum::serve(
            listener,
            app.into_make_service_with_connect_info::<SocketAddr>(),
        )
        .await;
    });
    addr
}

pub async fn default_server() -> (SocketAddr, WsAuth) {
    start(|b| b.allow_origins(["https://app.example"])).await
}

pub fn token(sub: &str, roles: &str, ttl: u64) -> String {
    format!("{sub}:{roles}:{}", now() + ttl)
}

pub async fn connect(addr: SocketAddr, path: &str, bearer: Option<&str>) -> Client {
    let mut request = format!("ws://{addr}{path}")
        .into_client_request()
        .unwrap_or_else(|e| panic!("{e}"));
    if let Some(t) = bearer {
        let value = format!("Bearer {t}")
            .parse()
            .unwrap_or_else(|e| panic!("{e}"));
        request.headers_mut().insert("authorization", value);
    }
    let (client, _) = tokio_tungstenite::connect_async(request)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    client
}

/// Reads until the close frame; returns the data messages seen before it and
/// the close code and reason.
pub async fn until_close(client: &mut Client) -> (Vec<serde_json::Value>, Option<(u16, String)>) {
    until_close_within(client, Duration::from_secs(10)).await
}

/// [`until_close`], giving up (no close) after `wait`.
pub async fn until_close_within(
    client: &mut Client,
    wait: Duration,
) -> (Vec<serde_json::Value>, Option<(u16, String)>) {
    let mut seen = Vec::new();
    let read = async {
        while let Some(frame) = client.next().await {
            match frame {
                Ok(Message::Text(t)) => {
                    seen.push(serde_json::from_str(t.as_str()).unwrap_or_default())
                }
                Ok(Message::Close(frame)) => {
                    return frame.map(|f| (u16::from(f.code), f.reason.to_string()));
                }
                Ok(_) => {}
                Err(_) => return None,
            }
        }
        None
    };
    let close = tokio::time::timeout(wait, read).await.unwrap_or(None);
    (seen, close)
}

pub async fn next_json(client: &mut Client) -> serde_json::Value {
    loop {
        let frame = tokio::time::timeout(Duration::from_secs(5), client.next()).await;
        match frame {
            Ok(Some(Ok(Message::Text(t)))) => {
                return serde_json::from_str(t.as_str()).unwrap_or_default();
            }
            Ok(Some(Ok(Message::Ping(_) | Message::Pong(_)))) => {}
            other => panic!("expected a text message, got {other:?}"),
        }
    }
}

pub async fn rejected_with(addr: SocketAddr, path: &str, bearer: Option<&str>) -> (u16, String) {
    let mut client = connect(addr, path, bearer).await;
    let (seen, close) = until_close(&mut client).await;
    assert!(
        seen.is_empty(),
        "a rejected client receives nothing: {seen:?}"
    );
    close.unwrap_or_else(|| panic!("no close frame for {path}"))
}

/// A `tracing` writer that keeps everything written, to search it.
#[derive(Clone, Default)]
pub struct Captured(std::sync::Arc<std::sync::Mutex<Vec<u8>>>);

impl Captured {
    /// Everything written so far.
    pub fn text(&self) -> String {
        let bytes = self
            .0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        String::from_utf8_lossy(&bytes).into_owned()
    }
}

impl std::io::Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// Captures every event on this thread, as JSON lines, until the guard is
/// dropped. `tracing` caches per call site whether anyone is interested,
/// so a test that captures must run in a binary of its own (no other test
/// deciding that cache in parallel), and the cache is rebuilt here for the
/// new subscriber.
pub fn capture_logs() -> (Captured, tracing::subscriber::DefaultGuard) {
    let captured = Captured::default();
    let writer = captured.clone();
    let subscriber = tracing_subscriber::fmt()
        .json()
        .with_writer(move || writer.clone())
        .with_max_level(tracing::Level::TRACE)
        .finish();
    let guard = tracing::subscriber::set_default(subscriber);
    tracing::callsite::rebuild_interest_cache();
    (captured, guard)
}
