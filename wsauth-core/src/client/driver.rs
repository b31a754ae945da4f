//! The task that owns a client's socket across reconnections.
//!
//! One loop per client: get a token, connect, run the connection (read,
//! write what the handle asks, heartbeat, refresh in-band), then decide from
//! the close what comes next. Everything the handle sees is an [`Event`]
//! pushed in that order, so a user reading events sees the client's history
//! exactly as it happened.
//!
//! The driver never waits on one thing only: every wait (the token
//! provider, the upgrade, room in the bounded events channel, the backoff,
//! the open socket) is a `select!` that also answers the handle, so a close
//! is acted on at once, a send is answered (written, or refused as not
//! open) and a dropped handle ends the task. The socket is read only with
//! room reserved for the event a frame may become: an unread client is
//! back-pressure, not a growing buffer.

use std::collections::VecDeque;
use std::time::Duration;

use futures_util::future::OptionFuture;
use futures_util::{SinkExt, StreamExt};
use tokio::net::TcpStream;
use tokio::sync::mpsc::{self, OwnedPermit};
use tokio::time::{Instant, Interval, sleep, sleep_until, timeout};
use tokio_tungstenite::tungstenite::Error as WsError;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::error::TlsError;
use tokio_tungstenite::tungstenite::handshake::client::Request;
use tokio_tungstenite::tungstenite::http::HeaderValue;
use tokio_tungstenite::tungstenite::protocol::CloseFrame;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use tokio_tungstenite::{Connector, MaybeTlsStream, WebSocketStream};
use wsauth_spec::{Access, ExpiryPolicy, Frames, TokenSource};

use super::close::{ABNORMAL, CloseAction, NO_STATUS, ServerClose};
use super::target::{self, Target};
use super::token::{Token, TokenError, now_ms, refresh_delay, unverified_exp};
use super::topics::{RawTopicEvent, Subscriptions, TopicError, is_topic_frame, resubscribe_pace};
use super::{ClientError, Closed, Command, Event, Frame, Options, SendError};
use crate::descriptor::{ApiDescriptor, EndpointDescriptor};
use crate::store::BoxFuture;
use wsauth_spec::wire::{REFRESH, REFRESHED, client as defaults};

type Socket = WebSocketStream<MaybeTlsStream<TcpStream>>;

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

/// Shortest heartbeat period (`heartbeatIntervalMs` has the same floor in
/// the TypeScript client).
const MIN_HEARTBEAT: Duration = Duration::from_millis(defaults::MIN_HEARTBEAT_MS);

pub(super) struct Driver {
    api: &'static ApiDescriptor,
    endpoint: &'static EndpointDescriptor,
    target: Target,
    token: Token,
    /// The token in use (the provider's last answer).
    current: Option<String>,
    options: Options,
    commands: mpsc::UnboundedReceiver<Command>,
    events: mpsc::Sender<Event<Frame, RawTopicEvent>>,
    /// [`Client::close`](super::Client::close) was called while the driver
    /// waited for room to push an event; it ends at the next step.
    close_asked: bool,
    /// The topic instances subscribed to, and requests waiting for answers.
    topics: Subscriptions,
}

/// How a connection attempt (token, then upgrade) went.
enum Attempt {
    /// The socket is open; the token it was opened with.
    Open(Box<Socket>, Option<String>),
    /// It failed the way a network fails (1006): retried after a backoff.
    Failed(ServerClose),
    /// The client ends: with this event, or silently when the handle is
    /// gone.
    End(Option<Event<Frame, RawTopicEvent>>),
}

/// Why [`open`] did not give a socket.
enum OpenError {
    /// Network failure, timeout, or an upgrade refused with 5xx or 429.
    Network,
    /// A failure that retrying cannot fix.
    Fatal(ClientError),
}

impl Driver {
    pub(super) fn new(
        api: &'static ApiDescriptor,
        endpoint: &'static EndpointDescriptor,
        target: Target,
        token: Token,
        options: Options,
        commands: mpsc::UnboundedReceiver<Command>,
        events: mpsc::Sender<Event<Frame, RawTopicEvent>>,
    ) -> Self {
        Driver {
            api,
            endpoint,
            target,
            token,
            current: None,
            options,
            commands,
            events,
            close_asked: false,
            topics: Subscriptions::default(),
        }
    }

    /// Pushes `event` once the handle has room for it, answering the
    /// handle meanwhile: nothing is open, so a send fails (`Ended` when
    /// `event` is the last one, else `NotOpen`) and a close is remembered
    /// in `close_asked`. False when the handle is gone.
    async fn push(&mut self, event: Event<Frame, RawTopicEvent>, last: bool) -> bool {
        loop {
            tokio::select! {
                permit = self.events.reserve() => {
                    return match permit {
                        Ok(permit) => {
                            permit.send(event);
                            true
                        }
                        Err(_) => false,
                    };
                }
                command = self.commands.recv() => match command {
                    Some(Command::Send(_, ack)) => {
                        let _ = ack.send(Err(not_sent(last)));
                    }
                    Some(Command::Topic(ask)) => {
                        let _ = ask.reply.send(Err(TopicError::NotSent(not_sent(last))));
                    }
                    Some(Command::Close) => self.close_asked = true,
                    None => return false,
                },
            }
        }
    }

    /// Ends the client with its last event.
    async fn end(mut self, event: Event<Frame, RawTopicEvent>) {
        self.push(event, true).await;
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
            let mut admitted = false;
            let opened_at = Instant::now();
            let end = match self.attempt().await {
                Attempt::Open(socket, token) => {
                    self.current = token;
                    let first = Event::Open { attempt: opened };
                    opened = opened.saturating_add(1);
                    let end = self.session(*socket, first, &mut admitted).await;
                    self.topics.interrupted();
                    end
                }
                Attempt::Failed(close) => SessionEnd::Server(close),
                Attempt::End(Some(event)) => return self.end(event).await,
                Attempt::End(None) => return,
            };
            let close = match end {
                SessionEnd::Server(close) => close,
                SessionEnd::ByClient => return self.end(Event::Closed(Closed::ByClient)).await,
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
                CloseAction::Closed => {
                    return self.end(Event::Closed(Closed::ByServer(close))).await;
                }
                CloseAction::Stop => {
                    return self.end(Event::Failed(ClientError::Closed(close))).await;
                }
                CloseAction::RefreshToken if after_refresh || !self.sends_token() => {
                    return self.end(Event::Failed(ClientError::Closed(close))).await;
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
                        let gave_up = ClientError::GaveUp {
                            attempts: attempt,
                            last: close,
                        };
                        return self.end(Event::Failed(gave_up)).await;
                    }
                    let delay = self.options.backoff.delay(attempt);
                    attempt = attempt.saturating_add(1);
                    delay
                }
            };
            if !self.push(Event::Reconnecting { close, delay }, false).await {
                return;
            }
            if self.close_asked || !self.wait(delay).await {
                return self.end(Event::Closed(Closed::ByClient)).await;
            }
        }
    }

    fn classify(&self, code: u16, reason: &str) -> ServerClose {
        ServerClose::classify(self.api.close_codes, code, reason)
    }

    /// One connection attempt: a token from the provider (asked before
    /// every attempt: a token that was fine before a long backoff may have
    /// expired since), then the upgrade, both within
    /// [`Options::connect_timeout`] and both abandoned at once when the
    /// handle closes or goes away; a send meanwhile fails with `NotOpen`.
    async fn attempt(&mut self) -> Attempt {
        let timeout = self.options.connect_timeout;
        let expired = async {
            if timeout.is_zero() {
                std::future::pending::<()>().await;
            }
            sleep(timeout).await;
        };
        let token = self.sends_token().then(|| self.token.clone());
        let opening = open(
            token,
            self.target.url.clone(),
            self.target.connector.clone(),
            self.endpoint,
        );
        tokio::pin!(expired, opening);
        loop {
            tokio::select! {
                opened = &mut opening => {
                    return match opened {
                        Ok((socket, token)) => Attempt::Open(Box::new(socket), token),
                        Err(OpenError::Network) => Attempt::Failed(self.classify(ABNORMAL, "")),
                        Err(OpenError::Fatal(error)) => Attempt::End(Some(Event::Failed(error))),
                    };
                }
                () = &mut expired => return Attempt::Failed(self.classify(ABNORMAL, "")),
                command = self.commands.recv() => match command {
                    Some(Command::Send(_, ack)) => {
                        let _ = ack.send(Err(SendError::NotOpen));
                    }
                    Some(Command::Topic(ask)) => {
                        let _ = ask.reply.send(Err(TopicError::NotSent(SendError::NotOpen)));
                    }
                    Some(Command::Close) => {
                        return Attempt::End(Some(Event::Closed(Closed::ByClient)));
                    }
                    None => return Attempt::End(None),
                },
            }
        }
    }

    /// Waits `delay` between connections, answering the handle meanwhile;
    /// false when the client must end (closed, or the handle is gone).
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
                    Some(Command::Topic(ask)) => {
                        let _ = ask.reply.send(Err(TopicError::NotSent(SendError::NotOpen)));
                    }
                    Some(Command::Close) | None => return false,
                },
            }
        }
    }

    /// When to refresh the current token in-band, if ever.
    fn refresh_at(&self, token: Option<&str>) -> Option<Instant> {
        if !self.refreshes() {
            return None;
        }
        let exp = unverified_exp(token?)?;
        // Close to `exp` there is no time left to refresh (and a provider
        // that keeps answering with the same cached token must not be asked
        // in a tight loop): the server closes at `exp`, and that close asks
        // for a new token.
        Some(Instant::now() + refresh_delay(exp, now_ms())?)
    }

    /// Runs one open connection to its end; `first` (the `Open` event) is
    /// pushed before anything the socket brings.
    ///
    /// The next frame is read from the socket only once there is room for
    /// the event it may become (a permit reserved on the bounded events
    /// channel): a user who does not call `recv` leaves frames in the
    /// kernel's buffers, and TCP makes the server wait. Sends, closes,
    /// heartbeats and refreshes go on meanwhile.
    async fn session(
        &mut self,
        mut socket: Socket,
        first: Event<Frame, RawTopicEvent>,
        admitted: &mut bool,
    ) -> SessionEnd {
        let welcome = self.endpoint.welcome;
        let heartbeat = self.endpoint.heartbeat;
        // At least a second, as in the TypeScript client: a zero period
        // would flood the server with pings (and panic tokio's interval).
        let period = self
            .options
            .heartbeat
            .unwrap_or_else(|| Duration::from_secs(u64::from(self.endpoint.limits.ping_interval_s)))
            .max(MIN_HEARTBEAT);
        let mut ticker: Option<Interval> =
            heartbeat.map(|_| tokio::time::interval_at(Instant::now() + period, period));
        let mut refresh_at = self.refresh_at(self.current.as_deref());
        let mut refreshing: Option<BoxFuture<'static, Result<String, TokenError>>> = None;
        let mut pending: Option<String> = None;
        let mut first = Some(first);
        let mut room: Option<OwnedPermit<Event<Frame, RawTopicEvent>>> = None;
        let topics = !self.endpoint.topics.is_empty();
        // The subscriptions held before are the client's: made again, each
        // from where it left off, paced within the rate limit. A failed
        // write shows up as a failed read next.
        let mut resubscribing: VecDeque<String> = self.topics.resubscribe().into();
        let (at_once, every) = resubscribe_pace(&self.endpoint.limits);
        for frame in resubscribing.drain(..at_once.min(resubscribing.len())) {
            let _ = socket.send(Message::text(frame)).await;
        }
        let mut pace: Option<Interval> = (!resubscribing.is_empty())
            .then(|| tokio::time::interval_at(Instant::now() + every, every));
        loop {
            let tick = async {
                match ticker.as_mut() {
                    Some(t) => {
                        t.tick().await;
                    }
                    None => std::future::pending().await,
                }
            };
            let paced = async {
                match pace.as_mut() {
                    Some(p) => {
                        p.tick().await;
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
            let reserve = room.is_none().then(|| self.events.clone().reserve_owned());
            tokio::select! {
                Some(permit) = OptionFuture::from(reserve) => match permit {
                    Ok(permit) => match first.take() {
                        Some(event) => {
                            permit.send(event);
                        }
                        None => room = Some(permit),
                    },
                    Err(_) => {
                        close(&mut socket).await;
                        return SessionEnd::Dropped;
                    }
                },
                frame = socket.next(), if room.is_some() => {
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
                            if topics && kind.is_some_and(is_topic_frame) {
                                if let Some(event) = self.topics.receive(text) {
                                    deliver(&mut room, Event::Topic(event));
                                }
                                continue;
                            }
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
                                deliver(&mut room, Event::Refreshed { exp: exp.unwrap_or(0) });
                                continue;
                            }
                            if welcome.is_none() || kind.is_some_and(|k| Some(k) == welcome) {
                                *admitted = true;
                            }
                            deliver(&mut room, Event::Message(Frame::Text(text.to_owned())));
                        }
                        Message::Binary(bytes) => {
                            if welcome.is_none() {
                                *admitted = true;
                            }
                            deliver(&mut room, Event::Message(Frame::Binary(bytes)));
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
                    Some(Command::Topic(ask)) => {
                        // Answered when the server answers, or when the
                        // connection ends first.
                        let frame = self.topics.request(ask);
                        let _ = socket.send(Message::text(frame)).await;
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
                () = paced => {
                    if let Some(frame) = resubscribing.pop_front() {
                        let _ = socket.send(Message::text(frame)).await;
                    }
                    if resubscribing.is_empty() {
                        pace = None;
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

/// Why nothing could be sent while no connection is open: the client is
/// between connections, or it is ending (`last`).
fn not_sent(last: bool) -> SendError {
    if last {
        SendError::Ended
    } else {
        SendError::NotOpen
    }
}

/// Sends `event` with the reserved permit (a frame is only read with one).
fn deliver(
    room: &mut Option<OwnedPermit<Event<Frame, RawTopicEvent>>>,
    event: Event<Frame, RawTopicEvent>,
) {
    if let Some(permit) = room.take() {
        permit.send(event);
    }
}

/// Asks `token` (when the endpoint presents one) and opens the socket
/// through `connector` (TLS for `wss`).
async fn open(
    token: Option<Token>,
    url: String,
    connector: Connector,
    endpoint: &'static EndpointDescriptor,
) -> Result<(Socket, Option<String>), OpenError> {
    let token = match token {
        Some(provider) => provider
            .get()
            .await
            .map_err(|e| OpenError::Fatal(ClientError::Token(e)))?,
        None => None,
    };
    let request = request(url, endpoint, token.as_deref()).map_err(OpenError::Fatal)?;
    let connecting =
        tokio_tungstenite::connect_async_tls_with_config(request, None, false, Some(connector));
    match connecting.await {
        Ok((socket, _)) => Ok((socket, token)),
        // A proxy or load balancer answering 5xx or 429 during a deploy is
        // temporary (a browser sees it as 1006 and backs off); any other
        // refusal of the upgrade is final.
        Err(WsError::Http(response))
            if response.status().is_server_error() || response.status().as_u16() == 429 =>
        {
            Err(OpenError::Network)
        }
        Err(WsError::Http(response)) => {
            let status = response.status().as_u16();
            Err(OpenError::Fatal(ClientError::Handshake { status }))
        }
        // tokio-rustls reports a failed TLS handshake as an I/O error
        // wrapping rustls' own; an I/O error without one is TCP's or DNS's.
        Err(WsError::Io(error)) => match error.get_ref().and_then(|e| e.downcast_ref()) {
            Some(tls) if target::permanent(tls) => {
                Err(OpenError::Fatal(ClientError::Tls(tls.clone())))
            }
            _ => Err(OpenError::Network),
        },
        Err(WsError::Tls(TlsError::Rustls(tls))) if target::permanent(&tls) => {
            Err(OpenError::Fatal(ClientError::Tls(*tls)))
        }
        Err(_) => Err(OpenError::Network),
    }
}

/// The upgrade request, with `token` where the endpoint takes it:
/// subprotocol, else the `Authorization` header, else the query, else a
/// cookie. A service client can set a header, and a header stays out of
/// the URLs that proxies and servers log; the query is for endpoints that
/// take nothing better (the browser client, which cannot set headers,
/// prefers the query to the header).
fn request(
    mut url: String,
    endpoint: &EndpointDescriptor,
    token: Option<&str>,
) -> Result<Request, ClientError> {
    let sources = endpoint.sources;
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
        } else if pick(|s| matches!(s, TokenSource::Header)).is_some() {
            header = Some(("authorization", format!("Bearer {token}")));
        } else if let Some(TokenSource::Query(name)) = pick(|s| matches!(s, TokenSource::Query(_)))
        {
            let name = percent_encoding::utf8_percent_encode(name, super::COMPONENT);
            let value = percent_encoding::utf8_percent_encode(token, super::COMPONENT);
            url = format!("{url}?{name}={value}");
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

#[cfg(test)]
mod tests {
    use wsauth_spec::Limits;

    use super::*;

    fn endpoint(sources: &'static [TokenSource<&'static str>]) -> EndpointDescriptor {
        EndpointDescriptor {
            name: "e",
            path: "/ws",
            params: &[],
            access: Access::Required,
            sources,
            perm: None,
            checks: &[],
            welcome: None,
            receives: &[],
            sends: &[],
            open: None,
            frames: Frames::Json,
            heartbeat: None,
            limits: Limits::DEFAULT,
            topics: &[],
        }
    }

    /// Where the token went: the request's query, then each header.
    fn sent(sources: &'static [TokenSource<&'static str>]) -> (Option<String>, Vec<String>) {
        let request = request("ws://h/ws".to_owned(), &endpoint(sources), Some("t.k"))
            .unwrap_or_else(|e| panic!("{e}"));
        let headers = ["sec-websocket-protocol", "authorization", "cookie"]
            .into_iter()
            .filter_map(|name| request.headers().get(name))
            .filter_map(|value| value.to_str().ok().map(str::to_owned))
            .collect();
        (request.uri().query().map(str::to_owned), headers)
    }

    #[test]
    fn the_token_goes_by_subprotocol_then_header_then_query_then_cookie() {
        use TokenSource::{Cookie, Header, Query, Subprotocol};
        let protocol = || vec!["m, m.bearer.t.k".to_owned()];
        let bearer = || vec!["Bearer t.k".to_owned()];
        assert_eq!(
            sent(&[Cookie("c"), Query("q"), Header, Subprotocol("m")]),
            (None, protocol())
        );
        assert_eq!(sent(&[Cookie("c"), Query("q"), Header]), (None, bearer()));
        assert_eq!(
            sent(&[Cookie("c"), Query("q")]),
            (Some("q=t.k".to_owned()), vec![])
        );
        assert_eq!(sent(&[Cookie("c")]), (None, vec!["c=t.k".to_owned()]));
    }
}
