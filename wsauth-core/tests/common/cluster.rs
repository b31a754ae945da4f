//! A spec, tokens and nodes for the revocation and cluster tests: tokens
//! carry `iat` and `jti`, every subject is an active user, and each node
//! runs on its own runtime, so a test can kill one the way a process dies
//! (its tasks are never polled again: no goodbye to Redis).
#![allow(dead_code)]

use std::net::SocketAddr;
use std::time::Duration;

use futures_util::SinkExt;
use tokio_tungstenite::tungstenite::Message;
use wsauth_core::__private::descriptor::*;
use wsauth_core::jwt::Claims;
use wsauth_core::spec::{Access, ExpiryPolicy, Frames, ParamType};
use wsauth_core::{AuthError, Authenticator, BoxFuture, StoreError, UserStatus, UserStore};
use wsauth_core::{Builder, Incoming, Session, WsAuth};

use super::{Client, LIMITS, SOURCES, connect, next_json, now};

/// Connections per user, cluster-wide in the cluster tests.
pub const MAX_PER_USER: u32 = 3;

pub const ROOM: EndpointDescriptor = EndpointDescriptor {
    name: "room",
    path: "/ws/{user_id}",
    params: &[ParamDescriptor {
        name: "user_id",
        ty: ParamType::String,
        equals_subject: true,
    }],
    access: Access::Required,
    sources: SOURCES,
    perm: None,
    checks: &[],
    welcome: Some("hello"),
    receives: &[ReceiveDescriptor {
        name: "say",
        perm: None,
        payload: None,
    }],
    sends: &["hello", "said", "error"],
    open: None,
    frames: Frames::Json,
    heartbeat: None,
    limits: Limits {
        max_connections_per_user: MAX_PER_USER,
        ..LIMITS
    },
    topics: &[],
};

pub static API: ApiDescriptor = ApiDescriptor {
    name: "cluster",
    auth: Some(AuthDescriptor {
        sources: SOURCES,
        jwt: None,
        introspection: None,
        on_expiry: ExpiryPolicy::Refresh,
        anonymous_role: None,
    }),
    roles: &[],
    close_codes: &[],
    stats: None,
    endpoints: &[ROOM],
    topics: &[],
};

/// `subject:exp:iat[:jti]` tokens.
pub struct Tokens;

impl Authenticator for Tokens {
    fn authenticate<'a>(&'a self, token: &'a str) -> BoxFuture<'a, Result<Claims, AuthError>> {
        Box::pin(async move {
            let mut parts = token.splitn(4, ':');
            let (Some(sub), Some(exp), Some(iat)) = (parts.next(), parts.next(), parts.next())
            else {
                return Err(AuthError::invalid("malformed test token"));
            };
            let exp: u64 = exp.parse().map_err(|_| AuthError::invalid("bad exp"))?;
            let iat: u64 = iat.parse().map_err(|_| AuthError::invalid("bad iat"))?;
            let mut claims = serde_json::Map::new();
            if let Some(jti) = parts.next() {
                claims.insert("jti".into(), jti.into());
            }
            Ok(Claims {
                subject: sub.to_owned(),
                roles: Vec::new(),
                exp,
                iat: Some(iat),
                claims,
            })
        })
    }
}

/// Every subject is an active user.
pub struct Everyone;

impl UserStore for Everyone {
    fn status<'a>(&'a self, _: &'a str) -> BoxFuture<'a, Result<UserStatus, StoreError>> {
        Box::pin(async { Ok(UserStatus::Active) })
    }
}

/// A token for `subject` issued at `iat`, with `jti` if given.
pub fn token(subject: &str, iat: u64, jti: Option<&str>) -> String {
    let exp = now() + 3600;
    match jti {
        Some(jti) => format!("{subject}:{exp}:{iat}:{jti}"),
        None => format!("{subject}:{exp}:{iat}"),
    }
}

/// Welcome, then `said` for every `say`.
pub async fn room(mut session: Session) -> wsauth_core::HandlerResult {
    session.send("hello", &serde_json::json!({}))?;
    while let Some(message) = session.recv().await {
        if let Incoming::Message { value, .. } = message {
            session.send("said", &serde_json::json!({ "text": value["text"] }))?;
        }
    }
    Ok(())
}

pub fn builder() -> Builder {
    WsAuth::builder(&API)
        .authenticator(Tokens)
        .users(Everyone)
        .allow_any_origin()
        .handler("room", room)
}

/// One server on its own runtime: a node, as a process would be.
pub struct Node {
    pub addr: SocketAddr,
    pub server: WsAuth,
    runtime: Option<tokio::runtime::Runtime>,
}

impl Node {
    /// Builds (inside its own runtime) and serves `configure(builder())`.
    pub async fn start(configure: impl FnOnce(Builder) -> Builder + Send + 'static) -> Node {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .unwrap_or_else(|e| panic!("{e}"));
        let (addr, server) = runtime
            .spawn(async move {
                let server = configure(builder())
                    .build()
                    .unwrap_or_else(|e| panic!("{e}"));
                (super::serve_with(&server, server.router()).await, server)
            })
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        Node {
            addr,
            server,
            runtime: Some(runtime),
        }
    }

    /// Runs `work` on the node's runtime.
    pub async fn run<F, Fut, T>(&self, work: F) -> T
    where
        F: FnOnce(WsAuth) -> Fut,
        Fut: Future<Output = T> + Send + 'static,
        T: Send + 'static,
    {
        let runtime = self
            .runtime
            .as_ref()
            .unwrap_or_else(|| panic!("node killed"));
        runtime
            .spawn(work(self.server.clone()))
            .await
            .unwrap_or_else(|e| panic!("{e}"))
    }

    /// Waits (at most 5 s) until the node is ready.
    pub async fn ready(&self) {
        for _ in 0..250 {
            if self.server.cluster_ready() {
                return;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        panic!("node on {} never became ready", self.addr);
    }

    /// Stops the node as a killed process stops: its tasks are never
    /// polled again, its sockets close.
    pub fn kill(&mut self) {
        if let Some(runtime) = self.runtime.take() {
            runtime.shutdown_background();
        }
    }
}

impl Drop for Node {
    fn drop(&mut self) {
        self.kill();
    }
}

/// Connects as `subject` with `token`: `Ok` with the client once welcomed,
/// `Err(code)` when closed instead.
pub async fn open(addr: SocketAddr, subject: &str, token: &str) -> Result<Client, u16> {
    let mut client = connect(addr, &format!("/ws/{subject}"), Some(token)).await;
    let first = tokio::time::timeout(
        Duration::from_secs(5),
        futures_util::StreamExt::next(&mut client),
    )
    .await
    .unwrap_or_else(|_| panic!("no answer from {addr}"));
    match first {
        Some(Ok(Message::Text(text))) => {
            let hello: serde_json::Value = serde_json::from_str(text.as_str()).unwrap_or_default();
            assert_eq!(hello["type"], "hello");
            Ok(client)
        }
        Some(Ok(Message::Close(Some(frame)))) => Err(u16::from(frame.code)),
        other => panic!("unexpected first frame: {other:?}"),
    }
}

/// Whether `client` still answers a `say`.
pub async fn answers(client: &mut Client) -> bool {
    let say = serde_json::json!({"type": "say", "text": "still here?"}).to_string();
    if client.send(Message::text(say)).await.is_err() {
        return false;
    }
    next_json(client).await["type"] == "said"
}

/// The close code `client` gets within `wait`, if any.
pub async fn closed_within(client: &mut Client, wait: Duration) -> Option<u16> {
    super::until_close_within(client, wait)
        .await
        .1
        .map(|(code, _)| code)
}
