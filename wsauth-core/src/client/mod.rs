//! The client side: connect to a wsauth server and keep the connection
//! alive the way the spec says.
//!
//! # Motivation
//!
//! A spec does not only say what a server refuses; it says what a client
//! should do about it (`client: refresh_token | backoff | stop` per close
//! code), how tokens travel (subprotocol, query, header) and whether tokens
//! are refreshed in-band. Every client of every spec needs the same
//! machinery for that, so it lives here, once; the Rust client that
//! `wsauth-gen` generates from a spec only adds the spec's types (messages,
//! path parameters, close codes) and a thin typed layer over [`Client`].
//!
//! # Shape
//!
//! [`Connect`] (usually made by a generated `connect` function) spawns one
//! Tokio task, the driver, which owns the socket across reconnections. The
//! [`Client`] handle talks to it through two channels: [`Client::send`]
//! (acknowledged once written) and [`Client::recv`], which yields
//! [`Event`]s: the socket opened, a message, a refresh, a reconnection (with
//! the close that caused it and the delay), and finally how it ended.
//!
//! On an endpoint that lists topics, the handle also subscribes,
//! unsubscribes, publishes and asks presence ([`Client::subscribe`] and
//! the rest, each answered by the server or refused with a typed
//! [`TopicRefusal`](wsauth_spec::wire::TopicRefusal)), and
//! [`Event::Topic`] brings publications, presence changes and the end of
//! subscriptions, typed by the generated client. Subscriptions belong to the
//! client, not to one connection: the driver makes them again after a
//! reconnection, from the last publication seen (see [`TopicEvent`]).
//!
//! The events channel is bounded ([`Options::event_buffer`], 64 by
//! default): the driver reads the next frame from the socket only when
//! there is room for it, so a user that reads slowly (or never: a
//! send-only client must still call `recv` or drop it) holds the server
//! back through TCP instead of growing the client's memory. Sends, closes
//! and heartbeats are answered meanwhile. Likewise, a token provider or an
//! upgrade that takes long never blocks the handle: [`Client::close`] ends
//! the client at once, [`Client::send`] fails with [`SendError::NotOpen`].
//!
//! The rules (the generated TypeScript client's too, but for the order of
//! header and query, noted below):
//!
//! - the token travels as the subprotocol pair `<marker>`,
//!   `<marker>.bearer.<token>` when the endpoint allows it, else in the
//!   `Authorization` header, else in the query, else as a cookie (the
//!   header before the query: query strings end up in proxy and access
//!   logs; the browser client, which cannot set a header, takes the query
//!   before the header);
//! - a close code in the spec's catalogue takes its action
//!   ([`CloseAction`]): `refresh_token` asks the provider for a fresh token
//!   and reconnects at once (a second `refresh_token` close in a row ends
//!   the client), `backoff` reconnects after an exponential backoff with full
//!   jitter (reset by a connection that got its welcome and stayed open
//!   for [`Backoff::stable`], 10 s), `stop` ends with
//!   [`ClientError::Closed`]; other codes: 1000 ends normally, 1001, 1006
//!   (network), 1012 and 1013 back off, anything else stops;
//! - with `auth.on_expiry: refresh`, a fresh token is sent in-band
//!   (`wsauth.refresh`) at the later of `exp - 30 s` and 80 % of the token's
//!   remaining life, and rescheduled on `wsauth.refreshed`; never on an
//!   endpoint with raw frames (they are the application's: such connections
//!   close at `exp` and reconnect with a fresh token);
//! - an endpoint with a text heartbeat gets its ping every
//!   `ping_interval_s` (the pong is swallowed).
//!
//! Before any of that, [`Connect::start`] checks what retrying cannot fix
//! and fails with a [`ConnectError`] instead of spawning a client that
//! would retry it forever: the URL and its scheme, the TLS configuration
//! (`wss://` goes through rustls, trusting the webpki roots unless
//! [`Connect::tls_config`] says otherwise), and a token bound for plain
//! `ws://` to a host other than loopback (refused unless
//! [`Connect::allow_token_over_insecure_ws`]). A TLS handshake that fails
//! for good (an untrusted certificate, no common protocol version) ends
//! the client with [`ClientError::Tls`] on the first attempt.
//!
//! ```no_run
//! # use wsauth_core::client::{Client, Connect, Event, Json, Token};
//! # static API: wsauth_core::ApiDescriptor = wsauth_core::ApiDescriptor {
//! #     name: "x", auth: None, roles: &[], close_codes: &[], stats: None, endpoints: &[],
//! #     topics: &[] };
//! # async fn run() -> Result<(), Box<dyn std::error::Error>> {
//! type Messages = Json<serde_json::Value, serde_json::Value>;
//! let mut client: Client<Messages> = Connect::new(&API, "chat", "ws://127.0.0.1:8000")
//!     .param("room", "1")
//!     .token(Token::from_fn(|| async { Ok::<_, std::io::Error>("a jwt".to_owned()) }))
//!     .start()?;
//! while let Some(event) = client.recv().await {
//!     match event {
//!         Event::Message(message) => println!("{message}"),
//!         Event::Failed(error) => return Err(error.into()),
//!         _ => {}
//!     }
//! }
//! # Ok(()) }
//! ```

mod close;
mod codec;
mod driver;
mod target;
mod token;
mod topics;

use std::marker::PhantomData;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::{mpsc, oneshot};

pub use close::{ABNORMAL, Backoff, CloseAction, NO_STATUS, ServerClose};
pub use codec::{Codec, EncodeError, Frame, Json, Raw, Unexpected};
/// The rustls this client is built with, for [`Connect::tls_config`].
pub use rustls;
pub use token::{FnProvider, Token, TokenError, TokenProvider, refresh_delay, unverified_exp};
pub use topics::{
    Ended, HasPresence, Lists, NoTopics, Publication, Publishable, RawTopicEvent, Subscribed,
    TopicError, TopicEvent, TopicEvents,
};

use wsauth_spec::Access;

use crate::TopicKey;
use crate::descriptor::{ApiDescriptor, EndpointDescriptor};
use topics::{Ask, Reply, Request};

/// Something that happened to a client, in order: `M` is the endpoint's
/// messages, `T` the events of the topics it lists.
#[derive(Debug)]
pub enum Event<M, T = NoTopics> {
    /// The socket opened (attempt 0 is the first connection). Admission is
    /// confirmed by the endpoint's welcome message, which follows; a refused
    /// connection is closed right after opening.
    Open {
        /// How many connections this client opened before.
        attempt: u32,
    },
    /// A message from the server.
    Message(M),
    /// Something happened on a topic instance the client subscribes to.
    Topic(T),
    /// A frame that is not one of the endpoint's messages.
    Unexpected(Unexpected),
    /// The server accepted an in-band refresh; the token now expires at `exp`.
    Refreshed {
        /// The new expiry, unix seconds.
        exp: u64,
    },
    /// The connection ended and the client reconnects after `delay`.
    Reconnecting {
        /// Why it ended.
        close: ServerClose,
        /// How long the client waits first (zero for `refresh_token`).
        delay: Duration,
    },
    /// The client ended normally: the last event.
    Closed(Closed),
    /// The client ended on an error: the last event.
    Failed(ClientError),
}

/// How a client ended normally.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Closed {
    /// [`Client::close`] was called.
    ByClient,
    /// The server closed with a normal code (1000).
    ByServer(ServerClose),
}

/// Why a running client ended.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    /// The server closed with a code whose action is `stop`, with an
    /// unknown code, or with `refresh_token` right after a refresh.
    #[error("the server closed the connection with {} ({})", .0.code, .0.reason)]
    Closed(ServerClose),
    /// [`Options::max_reconnects`] backoff attempts in a row failed.
    #[error("gave up after {attempts} reconnection attempts")]
    GaveUp {
        /// Attempts made.
        attempts: u32,
        /// How the last one ended.
        last: ServerClose,
    },
    /// The token provider failed.
    #[error(transparent)]
    Token(#[from] TokenError),
    /// The token cannot travel in a header (it is not visible ASCII).
    #[error("the token cannot be sent in a handshake header")]
    TokenNotSendable,
    /// The server answered the upgrade request with an HTTP status instead
    /// of switching protocols.
    #[error("the server refused the upgrade with HTTP {status}")]
    Handshake {
        /// The status code.
        status: u16,
    },
    /// The TLS handshake failed in a way every attempt would repeat: the
    /// server's certificate is not trusted (unknown issuer, wrong name,
    /// expired), the two sides share no protocol version or cipher, or the
    /// server refused this client's configuration. Other TLS failures are
    /// retried like a network failure.
    #[error("TLS with the server cannot succeed: {0}")]
    Tls(rustls::Error),
}

/// Why a client could not be started.
#[derive(Debug, thiserror::Error)]
pub enum ConnectError {
    /// The descriptor has no endpoint of that name.
    #[error("the API has no endpoint `{0}`")]
    UnknownEndpoint(String),
    /// A path parameter was not given.
    #[error("path parameter `{0}` is missing")]
    MissingParam(&'static str),
    /// The URL (the base URL with the endpoint's path) is malformed.
    #[error("`{url}` is not a usable URL: {reason}")]
    Url {
        /// The URL.
        url: String,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// The URL's scheme is not `ws` or `wss`.
    #[error("`{0}` is not a ws:// or wss:// URL")]
    UnsupportedScheme(String),
    /// The client would send a token in clear text (`ws://`) to a host
    /// other than this machine's loopback, and
    /// [`Connect::allow_token_over_insecure_ws`] was not called.
    #[error(
        "refusing to send a token over plain ws:// to `{host}`: use wss://, \
         or opt in with `allow_token_over_insecure_ws`"
    )]
    InsecureToken {
        /// The URL's host.
        host: String,
    },
    /// The default TLS configuration cannot be built (the process's crypto
    /// provider supports no safe protocol version).
    #[error("the default TLS configuration cannot be built: {0}")]
    Tls(rustls::Error),
    /// Not called inside a Tokio runtime.
    #[error("a client must be started inside a Tokio runtime")]
    NoRuntime,
}

/// Why a message was not sent.
#[derive(Debug, thiserror::Error)]
pub enum SendError {
    /// The client is between connections (or not yet connected).
    #[error("the connection is not open")]
    NotOpen,
    /// The client has ended.
    #[error("the client has ended")]
    Ended,
    /// The message could not be encoded.
    #[error(transparent)]
    Encode(#[from] EncodeError),
    /// The socket failed while sending.
    #[error("the socket failed")]
    Socket(#[source] tokio_tungstenite::tungstenite::Error),
}

/// How a client behaves; the defaults follow the spec.
#[derive(Clone, Debug)]
pub struct Options {
    /// Reconnection pacing (500 ms base, 30 s cap).
    pub backoff: Backoff,
    /// Backoff attempts in a row before giving up (`None`: never give up).
    pub max_reconnects: Option<u32>,
    /// Heartbeat period for endpoints with a text heartbeat (`None`: the
    /// endpoint's `ping_interval_s`); at least one second, shorter periods
    /// are raised to it (as `heartbeatIntervalMs` in the TypeScript client).
    pub heartbeat: Option<Duration>,
    /// How long one connection attempt (asking the token provider, then the
    /// upgrade) may take before it counts as a network failure (1006, so a
    /// backoff). [`Duration::ZERO`] is no limit (as `connectTimeoutMs: 0`
    /// in the TypeScript client). Default 10 s.
    pub connect_timeout: Duration,
    /// How many events may wait for [`Client::recv`] (default
    /// [`Options::DEFAULT_EVENT_BUFFER`]). When they do, the client stops
    /// reading the socket until the user takes one, so memory stays bounded
    /// and TCP makes the server wait. 0 is taken as 1.
    pub event_buffer: usize,
}

impl Options {
    /// The default of [`Options::event_buffer`].
    pub const DEFAULT_EVENT_BUFFER: usize = 64;
}

impl Default for Options {
    fn default() -> Self {
        Options {
            backoff: Backoff::default(),
            max_reconnects: None,
            heartbeat: None,
            connect_timeout: Duration::from_millis(wsauth_spec::wire::client::CONNECT_TIMEOUT_MS),
            event_buffer: Options::DEFAULT_EVENT_BUFFER,
        }
    }
}

/// Starts a client of one endpoint; generated `connect` functions fill it in.
#[must_use = "a client starts with `start()`"]
pub struct Connect<C, T = NoTopics> {
    api: &'static ApiDescriptor,
    endpoint: &'static str,
    base_url: String,
    params: Vec<(&'static str, String)>,
    token: Token,
    options: Options,
    tls: Option<Arc<rustls::ClientConfig>>,
    insecure_ws: bool,
    codec: PhantomData<fn() -> (C, T)>,
}

impl<C: Codec, T: TopicEvents> Connect<C, T> {
    /// A client of `endpoint` of `api` on the server at `base_url`
    /// (`ws://host:port`, without the endpoint's path).
    pub fn new(api: &'static ApiDescriptor, endpoint: &'static str, base_url: &str) -> Self {
        Connect {
            api,
            endpoint,
            base_url: base_url.to_owned(),
            params: Vec::new(),
            token: Token::none(),
            options: Options::default(),
            tls: None,
            insecure_ws: false,
            codec: PhantomData,
        }
    }

    /// Sets path parameter `name`.
    pub fn param(mut self, name: &'static str, value: impl ToString) -> Self {
        self.params.push((name, value.to_string()));
        self
    }

    /// Authenticates with `token` (a string, or a [`Token`] provider).
    pub fn token(mut self, token: impl Into<Token>) -> Self {
        self.token = token.into();
        self
    }

    /// Replaces every option.
    pub fn options(mut self, options: Options) -> Self {
        self.options = options;
        self
    }

    /// Sets the backoff's base and cap (see [`Backoff`]).
    pub fn backoff(mut self, base: Duration, cap: Duration) -> Self {
        self.options.backoff.base = base;
        self.options.backoff.cap = cap;
        self
    }

    /// Gives up after `attempts` failed backoff reconnections in a row.
    pub fn max_reconnects(mut self, attempts: u32) -> Self {
        self.options.max_reconnects = Some(attempts);
        self
    }

    /// Sets how long one connection attempt may take
    /// ([`Options::connect_timeout`]; zero is no limit).
    pub fn connect_timeout(mut self, timeout: Duration) -> Self {
        self.options.connect_timeout = timeout;
        self
    }

    /// Sets how many events may wait for [`Client::recv`] before the client
    /// stops reading the socket ([`Options::event_buffer`]).
    pub fn event_buffer(mut self, events: usize) -> Self {
        self.options.event_buffer = events;
        self
    }

    /// Opens `wss://` URLs with `config` (a private CA's roots, the
    /// platform's store, a client certificate) instead of the default: TLS
    /// 1.2 and 1.3 trusting the webpki roots (Mozilla's root program). See
    /// [`rustls`] (re-exported) for building one.
    pub fn tls_config(mut self, config: Arc<rustls::ClientConfig>) -> Self {
        self.tls = Some(config);
        self
    }

    /// Allows sending the token over plain `ws://` to a host that is not
    /// this machine's loopback. Anyone on the way can read it and act as
    /// its subject until it expires: use it only where the network itself
    /// is trusted (a private link, a sidecar that adds TLS). Without it,
    /// [`start`](Connect::start) refuses with
    /// [`ConnectError::InsecureToken`].
    pub fn allow_token_over_insecure_ws(mut self) -> Self {
        self.insecure_ws = true;
        self
    }

    /// Spawns the driver on the current Tokio runtime and returns the handle.
    ///
    /// Everything that can be checked before connecting is checked here,
    /// and fails without spawning anything: the URL, its scheme (`ws` or
    /// `wss`), the TLS configuration, a token over plain `ws://` to a host
    /// other than loopback (see [`Connect::allow_token_over_insecure_ws`]).
    pub fn start(self) -> Result<Client<C, T>, ConnectError> {
        let runtime = tokio::runtime::Handle::try_current().map_err(|_| ConnectError::NoRuntime)?;
        let endpoint = self
            .api
            .endpoints
            .iter()
            .find(|e| e.name == self.endpoint)
            .ok_or_else(|| ConnectError::UnknownEndpoint(self.endpoint.to_owned()))?;
        let url = endpoint_url(&self.base_url, endpoint, &self.params)?;
        let rules = target::Rules {
            tls: self.tls,
            sends_token: endpoint.access != Access::Anonymous && self.token.is_some(),
            insecure_ws: self.insecure_ws,
        };
        let target = target::Target::check(url, rules)?;
        // Commands need no bound: each `send` waits for its answer, so
        // there are never more of them than callers waiting.
        let (commands, command_rx) = mpsc::unbounded_channel();
        let (event_tx, events) = mpsc::channel(self.options.event_buffer.max(1));
        let driver = driver::Driver::new(
            self.api,
            endpoint,
            target,
            self.token,
            self.options,
            command_rx,
            event_tx,
        );
        runtime.spawn(driver.run());
        Ok(Client {
            commands,
            events,
            codec: PhantomData,
        })
    }
}

/// What is encoded in a query name or value: all but RFC 3986's
/// unreserved characters (`&`, `=` and `+` mean something there).
const COMPONENT: &percent_encoding::AsciiSet = &percent_encoding::NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~');

/// What is encoded in a path segment: all but RFC 3986's `pchar`
/// (unreserved and [`wsauth_spec::wire::PATH_SEGMENT_KEEPS`]), the set the
/// TypeScript client's `__wsauthSegment` encodes too.
const SEGMENT: &percent_encoding::AsciiSet =
    &keeping(COMPONENT, wsauth_spec::wire::PATH_SEGMENT_KEEPS);

/// `set` without `keeps`.
const fn keeping(set: &percent_encoding::AsciiSet, keeps: &[u8]) -> percent_encoding::AsciiSet {
    let mut set = set.union(percent_encoding::AsciiSet::EMPTY);
    let mut i = 0;
    while i < keeps.len() {
        set = set.remove(keeps[i]);
        i += 1;
    }
    set
}

/// `base_url` + the endpoint's path with its parameters filled in.
fn endpoint_url(
    base_url: &str,
    endpoint: &EndpointDescriptor,
    params: &[(&'static str, String)],
) -> Result<String, ConnectError> {
    let mut url = base_url.trim_end_matches('/').to_owned();
    for segment in endpoint.path.split('/').filter(|s| !s.is_empty()) {
        url.push('/');
        match segment.strip_prefix('{').and_then(|s| s.strip_suffix('}')) {
            Some(name) => {
                let spec = endpoint.params.iter().find(|p| p.name == name);
                let value = params
                    .iter()
                    .rev()
                    .find(|(n, _)| *n == name)
                    .map(|(_, v)| v)
                    .ok_or(ConnectError::MissingParam(spec.map_or("?", |p| p.name)))?;
                url.extend(percent_encoding::utf8_percent_encode(value, SEGMENT));
            }
            None => url.push_str(segment),
        }
    }
    if endpoint.path.ends_with('/') && endpoint.path.len() > 1 {
        url.push('/');
    }
    Ok(url)
}

/// What the handle asks of the driver.
enum Command {
    /// Write a frame; the answer says whether it was written.
    Send(Frame, oneshot::Sender<Result<(), SendError>>),
    /// Send a topic request; the answer goes back when the server gives it.
    Topic(Ask),
    /// Close the connection (1000) and end.
    Close,
}

/// A running client of one endpoint. Dropping it closes the connection.
pub struct Client<C: Codec, T: TopicEvents = NoTopics> {
    commands: mpsc::UnboundedSender<Command>,
    events: mpsc::Receiver<Event<Frame, RawTopicEvent>>,
    codec: PhantomData<fn() -> (C, T)>,
}

impl<C: Codec, T: TopicEvents> std::fmt::Debug for Client<C, T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Client").finish_non_exhaustive()
    }
}

impl<C: Codec, T: TopicEvents> Client<C, T> {
    /// Sends `message`; resolves once it is written to the open socket.
    ///
    /// Fails with [`SendError::NotOpen`] while the client is not connected
    /// (asking the token provider, opening the socket, waiting to
    /// reconnect), without waiting for any of these (only for a close the
    /// client is completing, a few seconds at most), and with
    /// [`SendError::Ended`] once it has ended.
    pub async fn send(&self, message: impl Into<C::Send>) -> Result<(), SendError> {
        let frame = C::encode(&message.into())?;
        let (ack, written) = oneshot::channel();
        self.commands
            .send(Command::Send(frame, ack))
            .map_err(|_| SendError::Ended)?;
        written.await.unwrap_or(Err(SendError::Ended))
    }

    /// The next event; `None` after the last one ([`Event::Closed`] or
    /// [`Event::Failed`]).
    ///
    /// Call it steadily: while [`Options::event_buffer`] events wait, the
    /// client reads nothing more from the server.
    pub async fn recv(&mut self) -> Option<Event<C::Receive, T>> {
        let event = self.events.recv().await?;
        Some(match event {
            Event::Message(frame) => match C::decode(frame) {
                Ok(message) => Event::Message(message),
                Err(unexpected) => Event::Unexpected(unexpected),
            },
            Event::Topic(raw) => match T::decode(raw) {
                Ok(event) => Event::Topic(event),
                Err(unexpected) => Event::Unexpected(unexpected),
            },
            Event::Open { attempt } => Event::Open { attempt },
            Event::Unexpected(u) => Event::Unexpected(u),
            Event::Refreshed { exp } => Event::Refreshed { exp },
            Event::Reconnecting { close, delay } => Event::Reconnecting { close, delay },
            Event::Closed(c) => Event::Closed(c),
            Event::Failed(e) => Event::Failed(e),
        })
    }

    /// Closes the connection with 1000 and stops reconnecting, at once
    /// whatever the client is doing (a pending token provider or upgrade is
    /// abandoned); the last event is then
    /// [`Event::Closed`]`(`[`Closed::ByClient`]`)`.
    pub fn close(&self) {
        let _ = self.commands.send(Command::Close);
    }

    /// Subscribes to the topic instance `key` names: the server's
    /// `wsauth.subscribed` (the instance's epoch and latest offset, and who
    /// is present), or its refusal ([`TopicError::Refused`]); the
    /// connection stays open either way. Publications then come as
    /// [`Event::Topic`]. The subscription is the client's, not the
    /// connection's: after a reconnection the client subscribes again by
    /// itself, from the last publication seen (see [`TopicEvent`]).
    ///
    /// Only topics the endpoint lists: prsm's `web3` lists none.
    ///
    /// ```compile_fail,E0277
    /// # mod prsm { wsauth_core::include_client!("../specs/prsm.yaml"); }
    /// # async fn run(client: prsm::endpoints::web3::Client) -> Result<(), wsauth_core::client::TopicError> {
    /// client.subscribe(&prsm::topics::conversation::Key { conversation_id: 1 }).await?;
    /// # Ok(()) }
    /// ```
    pub async fn subscribe<K>(&self, key: &K) -> Result<Subscribed, TopicError>
    where
        K: TopicKey,
        T: Lists<K>,
    {
        match self.ask(key, Request::Subscribe).await? {
            Reply::Subscribed(subscribed) => Ok(subscribed),
            _ => Err(TopicError::Malformed),
        }
    }

    /// Leaves the topic instance `key` names; nothing more of it reaches
    /// [`Client::recv`], and a reconnection does not subscribe to it again.
    pub async fn unsubscribe<K>(&self, key: &K) -> Result<(), TopicError>
    where
        K: TopicKey,
        T: Lists<K>,
    {
        match self.ask(key, Request::Unsubscribe).await? {
            Reply::Unsubscribed => Ok(()),
            _ => Err(TopicError::Malformed),
        }
    }

    /// Publishes `message` (one of the topic's messages: anything else
    /// does not compile) on the instance `key` names, which the client need
    /// not subscribe to; the publication's offset.
    ///
    /// ```no_run
    /// # mod prsm { wsauth_core::include_client!("../specs/prsm.yaml"); }
    /// # async fn run(client: prsm::endpoints::notifications::Client) -> Result<(), wsauth_core::client::TopicError> {
    /// let key = prsm::topics::conversation::Key { conversation_id: 1 };
    /// let typing = prsm::messages::Typing { user_id: "alice".into(), active: true };
    /// let offset = client.publish(&key, typing).await?;
    /// # Ok(()) }
    /// ```
    ///
    /// A notification does not flow on `conversation`:
    ///
    /// ```compile_fail,E0277
    /// # mod prsm { wsauth_core::include_client!("../specs/prsm.yaml"); }
    /// # async fn run(client: prsm::endpoints::notifications::Client) -> Result<(), wsauth_core::client::TopicError> {
    /// let key = prsm::topics::conversation::Key { conversation_id: 1 };
    /// let notification = prsm::messages::Notification { id: 1, title: "hi".into(), body: None };
    /// client.publish(&key, notification).await?;
    /// # Ok(()) }
    /// ```
    pub async fn publish<K>(
        &self,
        key: &K,
        message: impl Into<K::Message>,
    ) -> Result<u64, TopicError>
    where
        K: Publishable,
        T: Lists<K>,
    {
        let message =
            serde_json::to_value(message.into()).map_err(|e| SendError::Encode(EncodeError(e)))?;
        match self.ask(key, Request::Publish(message)).await? {
            Reply::Published(offset) => Ok(offset),
            _ => Err(TopicError::Malformed),
        }
    }

    /// Who is subscribed to the instance `key` names (the client must
    /// subscribe to it): subjects, sorted.
    pub async fn presence<K>(&self, key: &K) -> Result<Vec<String>, TopicError>
    where
        K: HasPresence,
        T: Lists<K>,
    {
        match self.ask(key, Request::Presence).await? {
            Reply::Present(present) => Ok(present),
            _ => Err(TopicError::Malformed),
        }
    }

    async fn ask<K: TopicKey>(&self, key: &K, request: Request) -> Result<Reply, TopicError> {
        let params = serde_json::to_value(key).map_err(|e| SendError::Encode(EncodeError(e)))?;
        let (reply, answer) = oneshot::channel();
        let ask = Ask {
            topic: K::TOPIC,
            params,
            request,
            reply,
        };
        self.commands
            .send(Command::Topic(ask))
            .map_err(|_| SendError::Ended)?;
        answer
            .await
            .unwrap_or(Err(TopicError::NotSent(SendError::Ended)))
    }
}

#[cfg(test)]
mod tests {
    use wsauth_spec::{Frames, Limits, ParamType};

    use super::*;
    use crate::descriptor::ParamDescriptor;

    static USER: ParamDescriptor = ParamDescriptor {
        name: "user_id",
        ty: ParamType::String,
        equals_subject: true,
    };

    fn user_url(user_id: &str) -> String {
        let endpoint = EndpointDescriptor {
            name: "user",
            path: "/ws/{user_id}",
            params: std::slice::from_ref(&USER),
            access: Access::Required,
            sources: &[],
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
        };
        endpoint_url("ws://h/", &endpoint, &[("user_id", user_id.to_owned())])
            .unwrap_or_else(|e| panic!("{e}"))
    }

    #[test]
    fn a_segment_keeps_what_rfc_3986_allows_in_it() {
        // Email-like and URN subjects travel as they are: the server
        // compares the segment as sent with the token's subject.
        for subject in [
            "alice+ws@example.com",
            "urn:user:1",
            "a!$&'()*,;=b",
            "A-z_0.9~",
        ] {
            assert_eq!(user_url(subject), format!("ws://h/ws/{subject}"));
        }
        // What would end the segment, start a query or fragment, or is not
        // ASCII is encoded (as `encodeURIComponent` does).
        assert_eq!(
            user_url("a b/c?d#e%f|g"),
            "ws://h/ws/a%20b%2Fc%3Fd%23e%25f%7Cg"
        );
        assert_eq!(
            user_url("josé\"<>`{}^\\[]"),
            "ws://h/ws/jos%C3%A9%22%3C%3E%60%7B%7D%5E%5C%5B%5D"
        );
        // Every printable ASCII character and some beyond, as the
        // TypeScript client's `__wsauthSegment` encodes them (its output
        // under Node): the two clients build the same URL.
        let all: String = (' '..='~').chain(['é', '\u{2028}', '😀']).collect();
        assert_eq!(
            user_url(&all),
            "ws://h/ws/%20!%22%23$%25&'()*+,-.%2F0123456789:;%3C=%3E%3F@ABCDEFGHIJKLMNOPQRSTUVWXYZ\
             %5B%5C%5D%5E_%60abcdefghijklmnopqrstuvwxyz%7B%7C%7D~%C3%A9%E2%80%A8%F0%9F%98%80"
        );
    }
}
