//! The life of an admitted connection: one task that owns the socket.
//!
//! # Motivation
//!
//! Everything that can end a connection (the client, the handler finishing,
//! a limit, the token expiring, the server shutting down) races everything
//! else. Doing it all in one task, in one `select!`, gives each event one
//! place and one close code, and costs one task per connection. The handler
//! runs as a future polled by this same task; messages reach it, and its
//! outgoing messages come back, through a [`Link`].
//!
//! The loop never awaits the handler's queue while the handler needs to run:
//! a decoded message waits in `pending`, and the socket is not read again
//! until the handler has taken it (which is also what pushes back on a
//! client that sends faster than the handler reads).

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use axum::extract::ws::{Message, WebSocket};
use tokio::sync::watch;
use tokio::time::timeout;
use wsauth_spec::{ExpiryPolicy, FailureKind, Frames};

use crate::audit::{self, AuditContext};
use crate::descriptor::{ApiDescriptor, EndpointDescriptor};
use crate::identity;
use crate::limits::{RateLimiter, WRITE_TIMEOUT};
use crate::link::Link;
use crate::principal::Principal;
use crate::reject::Rejection;
use crate::reject::close_message;
use crate::server::Authenticator;
use crate::session::{Incoming, encode, error_reply};
use crate::store::{BoxFuture, UserStore};

/// What a handler returns: `Ok` ends the connection normally (`completed`),
/// `Err` with the server-error code. The error is logged, never sent.
pub type HandlerResult = Result<(), Box<dyn std::error::Error + Send + Sync>>;

/// How long to wait for the client's half of the close handshake.
const CLOSE_TIMEOUT: Duration = Duration::from_secs(5);

/// The framework's own message types; no spec message can be named so.
const REFRESH: &str = "wsauth.refresh";
const REFRESHED: &str = "wsauth.refreshed";

/// How a connection ended.
enum End {
    /// The server closes with the spec's code for this kind.
    Close(FailureKind),
    /// The client closed or vanished; nothing more to send.
    Gone,
}

/// Everything the loop needs besides the socket and the handler.
pub(crate) struct Connection {
    pub(crate) cx: ConnectionContext,
    pub(crate) expires_at: Option<u64>,
    pub(crate) shutdown: watch::Receiver<bool>,
    pub(crate) link: Arc<Link>,
}

/// Who the connection is and what governs it; read by every frame check.
pub(crate) struct ConnectionContext {
    pub(crate) api: &'static ApiDescriptor,
    pub(crate) endpoint: &'static EndpointDescriptor,
    pub(crate) principal: Principal,
    pub(crate) audit: AuditContext,
    pub(crate) authenticator: Option<Arc<dyn Authenticator>>,
    pub(crate) users: Option<Arc<dyn UserStore>>,
}

fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// The instant a unix time `exp` falls on.
fn deadline(exp: u64) -> Instant {
    Instant::now() + Duration::from_secs(exp.saturating_sub(unix_now()))
}

/// Sends one message, giving up on a client that does not read.
async fn send(ws: &mut WebSocket, message: Message) -> Result<(), ()> {
    match timeout(WRITE_TIMEOUT, ws.send(message)).await {
        Ok(Ok(())) => Ok(()),
        _ => Err(()),
    }
}

/// Closes with the spec's code for `kind`, then keeps reading until the
/// client completes the close handshake (or a timeout passes).
pub(crate) async fn close(ws: &mut WebSocket, api: &ApiDescriptor, kind: FailureKind) {
    if send(ws, close_message(api, kind)).await.is_err() {
        return;
    }
    let drain = async { while let Some(Ok(_)) = ws.recv().await {} };
    let _ = timeout(CLOSE_TIMEOUT, drain).await;
}

/// Whether an error from the socket is the message-size limit.
fn too_big(error: &axum::Error) -> bool {
    let mut source: Option<&(dyn std::error::Error + 'static)> = Some(error);
    while let Some(e) = source {
        if let Some(tungstenite::Error::Capacity(_)) = e.downcast_ref::<tungstenite::Error>() {
            return true;
        }
        source = e.source();
    }
    false
}

impl Connection {
    /// Runs the connection to its end.
    pub(crate) async fn run(self, mut ws: WebSocket, handler: BoxFuture<'static, HandlerResult>) {
        let Connection {
            mut cx,
            expires_at,
            mut shutdown,
            link,
        } = self;
        let end = run_loop(&mut cx, &mut ws, handler, expires_at, &mut shutdown, &link).await;
        match end {
            End::Close(kind) => {
                audit::closed(&cx.audit, kind);
                close(&mut ws, cx.api, kind).await;
            }
            End::Gone => {
                audit::client_closed(&cx.audit);
                // The client closed first; finish reading so its close
                // handshake completes.
                let drain = async { while let Some(Ok(_)) = ws.recv().await {} };
                let _ = timeout(CLOSE_TIMEOUT, drain).await;
            }
        }
    }
}

#[allow(clippy::too_many_arguments)]
async fn run_loop(
    cx: &mut ConnectionContext,
    ws: &mut WebSocket,
    mut handler: BoxFuture<'static, HandlerResult>,
    expires_at: Option<u64>,
    shutdown: &mut watch::Receiver<bool>,
    link: &Link,
) -> End {
    let limits = cx.endpoint.limits;
    let mut rate = RateLimiter::new(limits.messages_per_second, limits.burst);
    let idle = Duration::from_secs(u64::from(limits.idle_timeout_s));
    let ping_every = Duration::from_secs(u64::from(limits.ping_interval_s.max(1)));
    let mut ping = tokio::time::interval_at((Instant::now() + ping_every).into(), ping_every);
    // One timer each, reset rather than re-created on every iteration.
    let idle_timer = tokio::time::sleep(idle);
    tokio::pin!(idle_timer);
    let mut expiry = expires_at.map(deadline);
    let expiry_timer = tokio::time::sleep_until(expiry.unwrap_or_else(Instant::now).into());
    tokio::pin!(expiry_timer);
    let mut pending: Option<Incoming> = None;
    // A shutdown that began before this connection subscribed is not a
    // change the receiver will see; it is checked here instead.
    if *shutdown.borrow_and_update() {
        return End::Close(FailureKind::GoingAway);
    }
    loop {
        tokio::select! {
            biased;
            _ = shutdown.changed() => return End::Close(FailureKind::GoingAway),
            () = link.ready() => {
                if link.slow.load(Ordering::Acquire) {
                    audit::limit_hit(&cx.audit, FailureKind::SlowConsumer);
                    return End::Close(FailureKind::SlowConsumer);
                }
                if link.invalid.load(Ordering::Acquire) {
                    return End::Close(FailureKind::InvalidMessage);
                }
                while let Some(message) = link.pop() {
                    if send(ws, message).await.is_err() {
                        return End::Gone;
                    }
                }
            }
            result = &mut handler => {
                // Deliver what the handler queued before it returned.
                while let Some(message) = link.pop() {
                    if send(ws, message).await.is_err() {
                        return End::Gone;
                    }
                }
                return match result {
                    Ok(()) => End::Close(FailureKind::Completed),
                    Err(e) => {
                        audit::rejected(&cx.audit, FailureKind::ServerError, &e.to_string());
                        End::Close(FailureKind::ServerError)
                    }
                };
            }
            () = link.emptied(), if pending.is_some() => {
                if let Some(message) = pending.take() {
                    pending = link.put(message).err();
                }
            }
            frame = ws.recv(), if pending.is_none() => {
                idle_timer.as_mut().reset((Instant::now() + idle).into());
                let frame = match frame {
                    None => return End::Gone,
                    Some(Err(e)) if too_big(&e) => {
                        audit::limit_hit(&cx.audit, FailureKind::MessageTooBig);
                        return End::Close(FailureKind::MessageTooBig);
                    }
                    Some(Err(_)) => return End::Gone,
                    Some(Ok(frame)) => frame,
                };
                if matches!(frame, Message::Close(_)) {
                    return End::Gone;
                }
                if matches!(frame, Message::Ping(_) | Message::Pong(_)) {
                    continue;
                }
                if !rate.allow() {
                    audit::limit_hit(&cx.audit, FailureKind::RateLimited);
                    return End::Close(FailureKind::RateLimited);
                }
                match cx.frame(ws, frame, &mut expiry).await {
                    Ok(Some(message)) => pending = link.put(message).err(),
                    Ok(None) => {}
                    Err(end) => return end,
                }
                if let Some(at) = expiry {
                    if at != expiry_timer.deadline().into_std() {
                        expiry_timer.as_mut().reset(at.into());
                    }
                }
            }
            _ = ping.tick() => {
                if send(ws, Message::Ping(bytes::Bytes::new())).await.is_err() {
                    return End::Gone;
                }
            }
            () = &mut idle_timer => {
                audit::limit_hit(&cx.audit, FailureKind::IdleTimeout);
                return End::Close(FailureKind::IdleTimeout);
            }
            () = &mut expiry_timer, if expiry.is_some() => {
                audit::expired(&cx.audit);
                return End::Close(FailureKind::TokenExpired);
            }
        }
    }
}

impl ConnectionContext {
    /// Checks one data frame; `Ok(Some)` is a message for the handler.
    async fn frame(
        &mut self,
        ws: &mut WebSocket,
        frame: Message,
        expiry: &mut Option<Instant>,
    ) -> Result<Option<Incoming>, End> {
        let text = match frame {
            Message::Text(text) => text,
            Message::Binary(bytes) if self.endpoint.frames == Frames::Raw => {
                return Ok(Some(Incoming::Binary(bytes)));
            }
            _ => {
                return self
                    .refuse(ws, FailureKind::InvalidMessage)
                    .await
                    .map(|()| None);
            }
        };
        if let Some((ping, pong)) = self.endpoint.heartbeat {
            if text.as_str() == ping {
                return match send(ws, Message::Text(pong.into())).await {
                    Ok(()) => Ok(None),
                    Err(()) => Err(End::Gone),
                };
            }
        }
        if self.endpoint.frames == Frames::Raw {
            return Ok(Some(Incoming::Text(text.as_str().to_owned())));
        }
        let Ok(value) = serde_json::from_str::<serde_json::Value>(text.as_str()) else {
            return self
                .refuse(ws, FailureKind::InvalidMessage)
                .await
                .map(|()| None);
        };
        let Some(kind) = value.get("type").and_then(serde_json::Value::as_str) else {
            return self
                .refuse(ws, FailureKind::InvalidMessage)
                .await
                .map(|()| None);
        };
        if kind == REFRESH {
            return self.refresh(ws, &value, expiry).await.map(|()| None);
        }
        let Some(spec) = self.endpoint.receives.iter().find(|r| r.name == kind) else {
            return self
                .refuse(ws, FailureKind::InvalidMessage)
                .await
                .map(|()| None);
        };
        if let Some(perm) = spec.perm {
            if !self.principal.has(perm) {
                audit::permission_denied(&self.audit, spec.name, perm);
                return self.refuse(ws, FailureKind::Forbidden).await.map(|()| None);
            }
        }
        Ok(Some(Incoming::Message {
            kind: spec.name,
            value,
        }))
    }

    /// Refuses one message: with a typed `error` reply when the endpoint may
    /// send one (the connection stays open), else by closing with the code.
    async fn refuse(&mut self, ws: &mut WebSocket, kind: FailureKind) -> Result<(), End> {
        let Some(text) = error_reply(self.api, self.endpoint, kind) else {
            return Err(End::Close(kind));
        };
        send(ws, Message::Text(text.into()))
            .await
            .map_err(|()| End::Gone)
    }

    /// In-band token refresh: same subject, verified like the first token.
    async fn refresh(
        &mut self,
        ws: &mut WebSocket,
        value: &serde_json::Value,
        expiry: &mut Option<Instant>,
    ) -> Result<(), End> {
        let refresh_allowed = self
            .api
            .auth
            .is_some_and(|a| a.on_expiry == ExpiryPolicy::Refresh);
        if !refresh_allowed || self.authenticator.is_none() {
            return self.refuse(ws, FailureKind::InvalidMessage).await;
        }
        let Some(token) = value.get("token").and_then(serde_json::Value::as_str) else {
            return self.refuse(ws, FailureKind::InvalidMessage).await;
        };
        match self.reidentify(token).await {
            Ok(exp) => {
                *expiry = Some(deadline(exp));
                audit::refreshed(&self.audit, exp);
                let text = encode(REFRESHED, &serde_json::json!({ "exp": exp }))
                    .map_err(|_| End::Close(FailureKind::ServerError))?;
                send(ws, Message::Text(text.into()))
                    .await
                    .map_err(|()| End::Gone)
            }
            Err(rejection) => {
                audit::rejected(&self.audit, rejection.kind, &rejection.detail);
                Err(End::Close(rejection.kind))
            }
        }
    }

    /// Checks a refresh token like the first one (same subject, user still
    /// active, endpoint permission still held) and, if it passes, replaces
    /// the principal: the new roles govern every later message. Returns the
    /// new `exp`.
    async fn reidentify(&mut self, token: &str) -> Result<u64, Rejection> {
        if token.len() > crate::token::MAX_TOKEN_BYTES {
            return Err(Rejection::new(
                FailureKind::AuthFailed,
                "refresh token too long",
            ));
        }
        let claims = identity::verify(self.authenticator.as_ref(), token).await?;
        if Some(claims.subject.as_str()) != self.principal.subject() {
            return Err(Rejection::new(
                FailureKind::AuthFailed,
                "refresh token has another subject",
            ));
        }
        if self.users.is_some() {
            identity::check_user(self.users.as_ref(), &claims.subject).await?;
        }
        let principal = Principal::new(Some(&claims.subject), claims.roles, self.api.roles);
        if let Some(perm) = self.endpoint.perm {
            if !principal.has(perm) {
                return Err(Rejection::new(
                    FailureKind::Forbidden,
                    format!("refreshed token lacks `{perm}`"),
                ));
            }
        }
        self.principal = principal;
        Ok(claims.exp)
    }
}
