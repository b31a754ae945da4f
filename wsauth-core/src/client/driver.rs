//! The task that owns a client's socket across reconnections.
//!
//! One loop per client: get a token, connect, run the connection (read,
//! write what the handle asks, heartbeat, refresh in-band), then decide from
//! the close what comes next. Everything the handle sees is an [`Event`]
//! pushed in that order, so a user reading events sees the client's history
//! exactly as it happened.

use std::time::Duration;

use futures_util::future::OptionFuture;
use futures_util::{SinkExt, StreamExt};
use tokio::net::TcpStream;
use tokio::sync::mpsc;
use tokio::time::{Instant, Interval, sleep, sleep_until, timeout};
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::handshake::client::Request;
use tokio_tungstenite::tungstenite::http::HeaderValue;
use tokio_tungstenite::tungstenite::protocol::CloseFrame;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};
use wsauth_spec::{Access, ExpiryPolicy, Frames, TokenSource};

use super::close::{ABNORMAL, CloseAction, NO_STATUS, ServerClose};
use super::token::{Token, TokenError, now_ms, refresh_delay, unverified_exp};
use super::{ClientError, Closed, Command, Event, Frame, Options, SendError};
use crate::descriptor::{ApiDescriptor, EndpointDescriptor};
use crate::store::BoxFuture;

type Socket = WebSocketStream<MaybeTlsStream<TcpStream>>;

/// The framework's own message types (see the server's connection loop).
const REFRESH: &str = "wsauth.refresh";
const REFRESHED: &str = "wsauth.refreshed";

/// How long to wait for the close handshake to finish.
const CLOSE_WAIT: Duration = Duration::from_secs(2);

/// How one connection ended.
enum SessionEnd {
    /// The server closed, or the network failed.
    Server(ServerClose),
    /// The handle asked to close.
    ByClient,
    /// The handle is gone: nobody is listening.
    Dropped,
}

/// Only the `type` of a JSON frame, and the fields the client itself reads.
/// `exp` is read leniently: on any message but `wsauth.refreshed` it is the
/// application's field, whatever its type, and must not make the frame
/// unreadable (that would hide a welcome, and with it the admission).
#[derive(serde::Deserialize)]
struct Head {
    #[serde(rename = "type")]
    kind: Option<String>,
    exp: Option<serde_json::Value>,
}

pub(super) struct Driver {
    api: &'static ApiDescriptor,
    endpoint: &'static EndpointDescriptor,
    url: String,
    token: Token,
    /// The token in use (the provider's last answer).
    current: Option<String>,
    options: Options,
    commands: mpsc::UnboundedReceiver<Command>,
    events: mpsc::UnboundedSender<Event<Frame>>,
}

impl Driver {
    pub(super) fn new(
        api: &'static ApiDescriptor,
        endpoint: &'static EndpointDescriptor,
        url: String,
        token: Token,
        options: Options,
        commands: mpsc::UnboundedReceiver<Command>,
        events: mpsc::UnboundedSender<Event<Frame>>,
    ) -> Self {
        Driver {
            api,
            endpoint,
            url,
            token,
            current: None,
            options,
            commands,
            events,
        }
    }

    fn emit(&self, event: Event<Frame>) {
        let _ = self.events.send(event);
    }

    /// Whether this endpoint presents a token at all.
    fn sends_token(&self) -> bool {
        self.endpoint.access != Access::Anonymous && self.token.is_some()
    }

    /// Whether tokens are refreshed in-band on this endpoint. Never on raw
    /// endpoints: their frames are the application's, so a refresh frame
    /// would reach its handler (and whoever it relays to); they close at
    /// `exp` instead.
    fn refreshes(&self) -> bool {
        self.sends_token()
            && self.endpoint.frames != Frames::Raw
            && self.token.can_refresh()
            && self
                .api
                .auth
                .is_some_and(|a| a.on_expiry == ExpiryPolicy::Refresh)
    }

    pub(super) async fn run(mut self) {
        // Connections opened so far, backoff attempts since the last
        // admitted connection, and whether the last close asked for a new
        // token (a second such close in a row ends the client).
        let mut opened = 0u32;
        let mut attempt = 0u32;
        let mut after_refresh = false;
        loop {
            // The provider is asked before every attempt: a token that was
            // fine before a long backoff may have expired since.
            if self.sends_token() {
                match self.token.get().await {
                    Ok(token) => self.current = token,
                    Err(e) => return self.emit(Event::Failed(ClientError::Token(e))),
                }
            }
            let request = match self.request() {
                Ok(r) => r,
                Err(e) => return self.emit(Event::Failed(e)),
            };
            let connected = timeout(
                self.options.connect_timeout,
                tokio_tungstenite::connect_async(request),
            )
            .await;
            let mut admitted = false;
            let opened_at = tokio::time::Instant::now();
            let end = match connected {
                Ok(Ok((socket, _))) => {
                    self.emit(Event::Open { attempt: opened });
                    opened = opened.saturating_add(1);
                    self.session(socket, &mut admitted).await
                }
                // A proxy or load balancer answering 5xx or 429 during a
                // deploy is temporary (a browser sees it as 1006 and backs
                // off); any other refusal of the upgrade is final.
                Ok(Err(tokio_tungstenite::tungstenite::Error::Http(response)))
                    if response.status().is_server_error() || response.status().as_u16() == 429 =>
                {
                    SessionEnd::Server(self.classify(ABNORMAL, ""))
                }
                Ok(Err(tokio_tungstenite::tungstenite::Error::Http(response))) => {
                    let status = response.status().as_u16();
                    return self.emit(Event::Failed(ClientError::Handshake { status }));
                }
                Ok(Err(_)) | Err(_) => SessionEnd::Server(self.classify(ABNORMAL, "")),
            };
            let close = match end {
                SessionEnd::Server(close) => close,
                SessionEnd::ByClient => return self.emit(Event::Closed(Closed::ByClient)),
                SessionEnd::Dropped => return,
            };
            if admitted {
                // The token worked: a later refresh_token close may fetch
                // a new one again.
                after_refresh = false;
                if opened_at.elapsed() >= self.options.backoff.stable {
                    attempt = 0;
                }
            }
            let delay = match close.action {
                CloseAction::Closed => return self.emit(Event::Closed(Closed::ByServer(close))),
                CloseAction::Stop => return self.emit(Event::Failed(ClientError::Closed(close))),
                CloseAction::RefreshToken if after_refresh || !self.sends_token() => {
                    return self.emit(Event::Failed(ClientError::Closed(close)));
                }
                CloseAction::RefreshToken => {
                    after_refresh = true;
                    Duration::ZERO
                }
                CloseAction::Backoff => {
                    if self
                        .options
                        .max_reconnects
                        .is_some_and(|max| attempt >= max)
                    {
                        return self.emit(Event::Failed(ClientError::GaveUp {
                            attempts: attempt,
                            last: close,
                        }));
                    }
                    let delay = self.options.backoff.delay(attempt);
                    attempt = attempt.saturating_add(1);
                    delay
                }
            };
            self.emit(Event::Reconnecting { close, delay });
            if !self.wait(delay).await {
                return;
            }
        }
    }

    fn classify(&self, code: u16, reason: &str) -> ServerClose {
        ServerClose::classify(self.api.close_codes, code, reason)
    }

    /// Waits `delay` between connections, answering the handle meanwhile;
    /// false when the client must end.
    async fn wait(&mut self, delay: Duration) -> bool {
        let until = sleep(delay);
        tokio::pin!(until);
        loop {
            tokio::select! {
                () = &mut until => return true,
                command = self.commands.recv() => match command {
                    Some(Command::Send(_, ack)) => {
                        let _ = ack.send(Err(SendError::NotOpen));
                    }
                    Some(Command::Close) => {
                        self.emit(Event::Closed(Closed::ByClient));
                        return false;
                    }
                    None => return false,
                },
            }
        }
    }

    /// The upgrade request, with the token where the endpoint takes it:
    /// subprotocol, else query, else header, else cookie.
    fn request(&self) -> Result<Request, ClientError> {
        let mut url = self.url.clone();
        let token = self.current.as_deref().filter(|_| self.sends_token());
        let sources = self.endpoint.sources;
        let pick = |want: fn(&TokenSource<&'static str>) -> bool| sources.iter().find(|s| want(s));
        let mut header: Option<(&'static str, String)> = None;
        if let Some(token) = token {
            if let Some(TokenSource::Subprotocol(marker)) =
                pick(|s| matches!(s, TokenSource::Subprotocol(_)))
            {
                header = Some((
                    "sec-websocket-protocol",
                    format!("{marker}, {marker}.bearer.{token}"),
                ));
            } else if let Some(TokenSource::Query(name)) =
                pick(|s| matches!(s, TokenSource::Query(_)))
            {
                let name = percent_encoding::utf8_percent_encode(name, super::SEGMENT);
                let value = percent_encoding::utf8_percent_encode(token, super::SEGMENT);
                url = format!("{url}?{name}={value}");
            } else if pick(|s| matches!(s, TokenSource::Header)).is_some() {
                header = Some(("authorization", format!("Bearer {token}")));
            } else if let Some(TokenSource::Cookie(name)) =
                pick(|s| matches!(s, TokenSource::Cookie(_)))
            {
                header = Some(("cookie", format!("{name}={token}")));
            }
        }
        let mut request = url
            .into_client_request()
            .map_err(|_| ClientError::TokenNotSendable)?;
        if let Some((name, value)) = header {
            let value = HeaderValue::from_str(&value).map_err(|_| ClientError::TokenNotSendable)?;
            request.headers_mut().insert(name, value);
        }
        Ok(request)
    }

    /// When to refresh the current token in-band, if ever.
    fn refresh_at(&self, token: Option<&str>) -> Option<Instant> {
        if !self.refreshes() {
            return None;
        }
        let exp = unverified_exp(token?)?;
        // Within a second of `exp` there is no time left to refresh (and a
        // provider that keeps answering with the same cached token must not
        // be asked in a tight loop): the server closes at `exp`, and that
        // close asks for a new token.
        if exp.saturating_mul(1000).saturating_sub(now_ms()) <= 1000 {
            return None;
        }
        Some(Instant::now() + refresh_delay(exp, now_ms()))
    }

    /// Runs one open connection to its end.
    async fn session(&mut self, mut socket: Socket, admitted: &mut bool) -> SessionEnd {
        let welcome = self.endpoint.welcome;
        let heartbeat = self.endpoint.heartbeat;
        let mut ticker: Option<Interval> = heartbeat.map(|_| {
            let period = self.options.heartbeat.unwrap_or_else(|| {
                Duration::from_secs(u64::from(self.endpoint.limits.ping_interval_s.max(1)))
            });
            tokio::time::interval_at(Instant::now() + period, period)
        });
        let mut refresh_at = self.refresh_at(self.current.as_deref());
        let mut refreshing: Option<BoxFuture<'static, Result<String, TokenError>>> = None;
        let mut pending: Option<String> = None;
        loop {
            let tick = async {
                match ticker.as_mut() {
                    Some(t) => {
                        t.tick().await;
                    }
                    None => std::future::pending().await,
                }
            };
            let due = refresh_at.filter(|_| refreshing.is_none());
            let refresh_due = async {
                match due {
                    Some(at) => sleep_until(at).await,
                    None => std::future::pending().await,
                }
            };
            tokio::select! {
                frame = socket.next() => {
                    let message = match frame {
                        Some(Ok(m)) => m,
                        Some(Err(_)) | None => {
                            return SessionEnd::Server(self.classify(ABNORMAL, ""));
                        }
                    };
                    match message {
                        Message::Text(text) => {
                            let text = text.as_str();
                            if heartbeat.is_some_and(|(_, pong)| pong == text) {
                                continue;
                            }
                            let head = if self.endpoint.frames == Frames::Json {
                                serde_json::from_str::<Head>(text).ok()
                            } else {
                                None
                            };
                            let kind = head.as_ref().and_then(|h| h.kind.as_deref());
                            if kind == Some(REFRESHED) {
                                if let Some(token) = pending.take() {
                                    self.current = Some(token);
                                }
                                let exp = head
                                    .as_ref()
                                    .and_then(|h| h.exp.as_ref())
                                    .and_then(serde_json::Value::as_u64)
                                    .or_else(|| self.current.as_deref().and_then(unverified_exp));
                                refresh_at = self.refresh_at(self.current.as_deref());
                                self.emit(Event::Refreshed { exp: exp.unwrap_or(0) });
                                continue;
                            }
                            if welcome.is_none() || kind.is_some_and(|k| Some(k) == welcome) {
                                *admitted = true;
                            }
                            self.emit(Event::Message(Frame::Text(text.to_owned())));
                        }
                        Message::Binary(bytes) => {
                            if welcome.is_none() {
                                *admitted = true;
                            }
                            self.emit(Event::Message(Frame::Binary(bytes)));
                        }
                        Message::Close(frame) => {
                            let (code, reason) = frame.map_or((NO_STATUS, String::new()), |f| {
                                (u16::from(f.code), f.reason.as_str().to_owned())
                            });
                            finish(&mut socket).await;
                            return SessionEnd::Server(self.classify(code, &reason));
                        }
                        Message::Ping(_) | Message::Pong(_) | Message::Frame(_) => {}
                    }
                }
                command = self.commands.recv() => match command {
                    Some(Command::Send(frame, ack)) => {
                        let message = match frame {
                            Frame::Text(t) => Message::text(t),
                            Frame::Binary(b) => Message::Binary(b),
                        };
                        let _ = ack.send(socket.send(message).await.map_err(SendError::Socket));
                    }
                    Some(Command::Close) => {
                        close(&mut socket).await;
                        return SessionEnd::ByClient;
                    }
                    None => {
                        close(&mut socket).await;
                        return SessionEnd::Dropped;
                    }
                },
                () = tick => {
                    if let Some((ping, _)) = heartbeat {
                        // A failed write shows up as a failed read next.
                        let _ = socket.send(Message::text(ping)).await;
                    }
                }
                () = refresh_due => {
                    refresh_at = None;
                    let token = self.token.clone();
                    refreshing = Some(Box::pin(async move {
                        token.get().await?.ok_or_else(|| TokenError::new("no token provider"))
                    }));
                }
                Some(result) = OptionFuture::from(refreshing.as_mut()) => {
                    refreshing = None;
                    // On failure nothing is sent: the server closes at exp
                    // with a refresh_token code, and reconnecting asks the
                    // provider again.
                    if let Ok(token) = result {
                        let text = serde_json::json!({ "type": REFRESH, "token": token }).to_string();
                        if socket.send(Message::text(text)).await.is_ok() {
                            pending = Some(token);
                        }
                    }
                }
            }
        }
    }
}

/// Sends a normal close and waits (briefly) for the server's answer.
async fn close(socket: &mut Socket) {
    let frame = CloseFrame {
        code: CloseCode::Normal,
        reason: "".into(),
    };
    if socket.close(Some(frame)).await.is_ok() {
        finish(socket).await;
    }
}

/// Reads until the socket ends, so the close handshake completes.
async fn finish(socket: &mut Socket) {
    let drain = async { while let Some(Ok(_)) = socket.next().await {} };
    let _ = timeout(CLOSE_WAIT, drain).await;
}
