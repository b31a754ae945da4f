//! Metrics: what a node has done, as Prometheus text.
//!
//! # Motivation
//!
//! An operator running several nodes wants to see, per node, how many
//! handshakes are admitted and why the others are refused, how many
//! connections are open, how many messages flow, how topics fan out, and
//! how the cluster's Redis answers. Counting must cost the hot paths
//! nothing they would notice (issue 14 measures instructions per handshake
//! and per message), and no label value may come from a client: a label
//! taken from a path, a param or a message `type` would let any client
//! create series without bound.
//!
//! So every series exists from the start: [`Registry::new`] lays out one
//! table of atomic counters per endpoint and per topic, indexed by the
//! endpoint's position in the spec, the failure kind's and the message's;
//! an event is one relaxed atomic add (no map, no lock, no allocation), and
//! only a scrape formats text (`render.rs`). Label values are the spec's
//! names (endpoints, topics, message types), the failure kinds' keywords
//! and a few fixed words, never anything a client sent. Hand-written
//! rather than a metrics crate: the crates keep their series in maps
//! keyed by label values (or need a registration per series), which is
//! exactly the per-event cost and the open label set this avoids.
//!
//! Serving the text is the application's choice ([`Metrics::router`]
//! answers `GET /metrics`): merge it into the public router, or, as the
//! examples do with `--metrics ADDR`, serve it on a listener of its own
//! that only the scraper can reach.
//!
//! Where things are: the counters and the [`Metrics`] handle are here,
//! `render.rs` writes the text format, `redis.rs` (feature `redis`) holds
//! the Redis series, fed by the cluster's `within`.

#[cfg(feature = "redis")]
mod redis;
mod render;

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};

use axum::Router;
use axum::response::IntoResponse;
use wsauth_spec::wire::{PUBLISH, REFRESH, SUBSCRIBE, UNSUBSCRIBE};
use wsauth_spec::{FailureKind, Keyword};

use crate::audit::Sampled;
use crate::descriptor::{ApiDescriptor, TopicDescriptor};

#[cfg(feature = "redis")]
pub(crate) use self::redis::{RedisMetrics, RedisOp};

/// The path [`Metrics::router`] serves.
const METRICS_PATH: &str = "/metrics";

/// The `Content-Type` of the text exposition format.
const CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

/// A node's metrics: [`render`](Metrics::render) them as Prometheus text,
/// or serve them with [`router`](Metrics::router). A cheap `Clone`, from
/// [`WsAuth::metrics`](crate::WsAuth::metrics).
///
/// ```no_run
/// # async fn run(server: wsauth_core::WsAuth) -> std::io::Result<()> {
/// // On a port of its own, which only the scraper can reach.
/// let metrics = tokio::net::TcpListener::bind("127.0.0.1:9100").await?;
/// let app: axum::Router = server.metrics().router();
/// tokio::spawn(async move { axum::serve(metrics, app).await });
/// # Ok(()) }
/// ```
///
/// The series (every one present from the start, at zero):
///
/// | metric | type | labels |
/// |---|---|---|
/// | `wsauth_handshakes_total` | counter | `endpoint`, `outcome` (`admitted`, `refused`), `kind` (the refusal's failure kind) |
/// | `wsauth_refusals_total` | counter | `reason` (`server_full`, `address_full`, `header_timeout`, `origin`, `handshake_timeout`, `anonymous_full`): refused before authentication, as the audit log samples them |
/// | `wsauth_connections_open` | gauge | `endpoint` |
/// | `wsauth_connections_closed_total` | counter | `endpoint`, `kind` (the close's failure kind, or `client_closed`) |
/// | `wsauth_messages_received_total` | counter | `endpoint`, `type` (a message the endpoint receives, a `wsauth.` request, or `(open)`, `(raw)`, `(heartbeat)`, `(unknown)`) |
/// | `wsauth_messages_sent_total` | counter | `endpoint` (every data frame written: replies, the handler's messages, topic deliveries) |
/// | `wsauth_topic_publications_total` | counter | `topic` (published from this node) |
/// | `wsauth_topic_deliveries_total` | counter | `topic` (publications queued for a subscriber of this node, whichever node published) |
/// | `wsauth_redis_up` | gauge | (cluster nodes only) |
/// | `wsauth_redis_request_duration_seconds` | histogram | `op` (cluster nodes only) |
/// | `wsauth_redis_errors_total` | counter | `op` (cluster nodes only) |
///
/// A message dropped because its connection's send queue was full closes
/// that connection: drops show as `wsauth_connections_closed_total` with
/// `kind="slow_consumer"`.
#[derive(Clone)]
pub struct Metrics {
    registry: Arc<Registry>,
}

impl std::fmt::Debug for Metrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Metrics")
            .field("api", &self.registry.api.name)
            .finish_non_exhaustive()
    }
}

impl Metrics {
    pub(crate) fn new(registry: Arc<Registry>) -> Self {
        Metrics { registry }
    }

    /// Every series, in the text exposition format (version 0.0.4).
    pub fn render(&self) -> String {
        render::render(&self.registry)
    }

    /// A router answering `GET /metrics` with [`render`](Metrics::render)'s
    /// text, never cached. It checks nothing: serve it where only the
    /// scraper can reach it, or put it behind the app's own guard.
    pub fn router<S: Clone + Send + Sync + 'static>(&self) -> Router<S> {
        let metrics = self.clone();
        Router::new().route(
            METRICS_PATH,
            axum::routing::get(move || {
                let text = metrics.render();
                async move {
                    (
                        [
                            (http::header::CONTENT_TYPE, CONTENT_TYPE),
                            (http::header::CACHE_CONTROL, "no-store"),
                        ],
                        text,
                    )
                        .into_response()
                }
            }),
        )
    }
}

/// How many failure kinds there are: each has a slot, at `kind as usize`
/// (their order in [`Keyword::ALL`], as a test checks).
const KINDS: usize = <FailureKind as Keyword>::ALL.len();

/// One counter.
#[derive(Debug, Default)]
pub(crate) struct Counter(AtomicU64);

impl Counter {
    pub(crate) fn add(&self, n: u64) {
        self.0.fetch_add(n, Ordering::Relaxed);
    }

    pub(crate) fn get(&self) -> u64 {
        self.0.load(Ordering::Relaxed)
    }
}

/// What a client's data frame was, as `wsauth_messages_received_total`
/// labels it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Received {
    /// The endpoint's `receives[i]`.
    Message(usize),
    /// Anything else: a framework request, or one of the fixed words.
    Other(Other),
}

/// The `type`s of frames that are none of the endpoint's messages; their
/// labels are [`Other::label`], fixed words.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Other {
    /// `wsauth.refresh`.
    Refresh,
    /// `wsauth.subscribe`.
    Subscribe,
    /// `wsauth.unsubscribe`.
    Unsubscribe,
    /// `wsauth.publish`.
    Publish,
    /// An open message (its `type` is the client's own, never a label).
    Open,
    /// A frame on a `frames: raw` endpoint.
    Raw,
    /// The endpoint's text heartbeat.
    Heartbeat,
    /// Not JSON, no `type`, or one the endpoint neither receives nor
    /// admits as open.
    Unknown,
}

impl From<Other> for Received {
    fn from(other: Other) -> Self {
        Received::Other(other)
    }
}

impl Other {
    const ALL: [Other; 8] = [
        Other::Refresh,
        Other::Subscribe,
        Other::Unsubscribe,
        Other::Publish,
        Other::Open,
        Other::Raw,
        Other::Heartbeat,
        Other::Unknown,
    ];

    /// The `type` label. The fixed words are in parentheses, as the audit
    /// log names open messages: no wire `type` is written so.
    fn label(self) -> &'static str {
        match self {
            Other::Refresh => REFRESH,
            Other::Subscribe => SUBSCRIBE,
            Other::Unsubscribe => UNSUBSCRIBE,
            Other::Publish => PUBLISH,
            Other::Open => "(open)",
            Other::Raw => "(raw)",
            Other::Heartbeat => "(heartbeat)",
            Other::Unknown => "(unknown)",
        }
    }

    /// A topic request's `type` (`wsauth.subscribe` and the others).
    pub(crate) fn request(kind: &str) -> Other {
        match kind {
            SUBSCRIBE => Other::Subscribe,
            UNSUBSCRIBE => Other::Unsubscribe,
            PUBLISH => Other::Publish,
            _ => Other::Unknown,
        }
    }
}

/// One endpoint's counters.
#[derive(Debug)]
pub(crate) struct EndpointCounters {
    /// Open connections (also what [`WsAuth::stats`](crate::WsAuth::stats)
    /// and [`WsAuth::shutdown`](crate::WsAuth::shutdown) read).
    pub(crate) open: AtomicUsize,
    admitted: Counter,
    /// Refused handshakes, by failure kind.
    refused: [Counter; KINDS],
    /// Closes by the server, by failure kind.
    closed: [Counter; KINDS],
    /// Connections the client closed (or lost).
    client_closed: Counter,
    /// Received frames: the endpoint's `receives` in order, then
    /// [`Other::ALL`].
    received: Box<[Counter]>,
    sent: Counter,
}

impl EndpointCounters {
    fn new(receives: usize) -> Self {
        EndpointCounters {
            open: AtomicUsize::new(0),
            admitted: Counter::default(),
            refused: std::array::from_fn(|_| Counter::default()),
            closed: std::array::from_fn(|_| Counter::default()),
            client_closed: Counter::default(),
            received: (0..receives + Other::ALL.len())
                .map(|_| Counter::default())
                .collect(),
            sent: Counter::default(),
        }
    }
}

/// One topic's counters.
#[derive(Debug, Default)]
pub(crate) struct TopicCounters {
    publications: Counter,
    deliveries: Counter,
}

/// Every counter of a node, laid out from its spec.
#[derive(Debug)]
pub(crate) struct Registry {
    api: &'static ApiDescriptor,
    /// By index in [`ApiDescriptor::endpoints`].
    endpoints: Box<[EndpointCounters]>,
    /// By index in [`ApiDescriptor::topics`].
    topics: Box<[TopicCounters]>,
    /// Refusals before authentication (also sampled into the audit log).
    refusals: Arc<Sampled>,
    /// The cluster's Redis, on a node of one.
    #[cfg(feature = "redis")]
    redis: Option<Arc<RedisMetrics>>,
}

impl Registry {
    /// Zeroed counters for every endpoint and topic of `api`.
    pub(crate) fn new(api: &'static ApiDescriptor) -> Self {
        Registry {
            api,
            endpoints: api
                .endpoints
                .iter()
                .map(|e| EndpointCounters::new(e.receives.len()))
                .collect(),
            topics: api
                .topics
                .iter()
                .map(|_| TopicCounters::default())
                .collect(),
            refusals: Arc::default(),
            #[cfg(feature = "redis")]
            redis: None,
        }
    }

    /// The same, for a node of a cluster: with the Redis series.
    #[cfg(feature = "redis")]
    pub(crate) fn clustered(api: &'static ApiDescriptor, redis: Arc<RedisMetrics>) -> Self {
        Registry {
            redis: Some(redis),
            ..Registry::new(api)
        }
    }

    /// The same, with the sampled refusals written to `log` (when given)
    /// instead of `tracing`.
    pub(crate) fn audited(self, log: Option<crate::audit::AuditLog>) -> Self {
        Registry {
            refusals: Arc::new(Sampled::new(log)),
            ..self
        }
    }

    /// Where refusals before authentication are counted and sampled.
    pub(crate) fn refusals(&self) -> &Arc<Sampled> {
        &self.refusals
    }

    /// Endpoint `index`'s counters.
    pub(crate) fn endpoint(&self, index: usize) -> Option<&EndpointCounters> {
        self.endpoints.get(index)
    }

    /// A handshake on endpoint `index` was admitted, or refused with a kind.
    pub(crate) fn handshake(&self, index: usize, refused: Option<FailureKind>) {
        if let Some(counters) = self.endpoints.get(index) {
            let counter = match refused {
                None => Some(&counters.admitted),
                Some(kind) => slot(&counters.refused, kind),
            };
            if let Some(counter) = counter {
                counter.add(1);
            }
        }
    }

    /// This node published on `topic` (in a cluster, whatever node then
    /// delivers it).
    pub(crate) fn published(&self, topic: &TopicDescriptor) {
        if let Some(counters) = self.topic(topic) {
            counters.publications.add(1);
        }
    }

    /// A publication on `topic` was queued for `delivered` of this node's
    /// subscribers.
    pub(crate) fn delivered(&self, topic: &TopicDescriptor, delivered: usize) {
        if let Some(counters) = self.topic(topic) {
            counters.deliveries.add(delivered as u64);
        }
    }

    /// `topic`'s counters. By address: the topic is one of the spec's (a
    /// handful), and this runs once per publication, not per subscriber.
    fn topic(&self, topic: &TopicDescriptor) -> Option<&TopicCounters> {
        self.api
            .topics
            .iter()
            .position(|t| std::ptr::eq(t, topic))
            .and_then(|i| self.topics.get(i))
    }
}

/// The counter of `kind` in a per-kind table: at `kind as usize`, its
/// index in `FailureKind::ALL` (as a test checks).
fn slot(table: &[Counter; KINDS], kind: FailureKind) -> Option<&Counter> {
    table.get(kind as usize)
}

/// A connection's view of its endpoint's counters, kept by its loop.
#[derive(Clone)]
pub(crate) struct Meter {
    registry: Arc<Registry>,
    endpoint: usize,
}

impl Meter {
    /// The counters of `registry`'s endpoint `endpoint`.
    pub(crate) fn new(registry: Arc<Registry>, endpoint: usize) -> Self {
        Meter { registry, endpoint }
    }

    fn counters(&self) -> Option<&EndpointCounters> {
        self.registry.endpoints.get(self.endpoint)
    }

    /// The client sent a data frame.
    pub(crate) fn received(&self, what: impl Into<Received>) {
        let what = what.into();
        if let Some(counters) = self.counters() {
            let receives = counters.received.len() - Other::ALL.len();
            let index = match what {
                Received::Message(i) if i < receives => i,
                Received::Message(_) => receives + Other::Unknown as usize,
                Received::Other(other) => receives + other as usize,
            };
            if let Some(counter) = counters.received.get(index) {
                counter.add(1);
            }
        }
    }

    /// `n` data frames were written to the client.
    pub(crate) fn sent(&self, n: u64) {
        if let Some(counters) = self.counters() {
            counters.sent.add(n);
        }
    }

    /// The server closed the connection with `kind`, or (`None`) the client
    /// closed it or vanished.
    pub(crate) fn closed(&self, kind: Option<FailureKind>) {
        if let Some(counters) = self.counters() {
            let counter = match kind {
                Some(kind) => slot(&counters.closed, kind),
                None => Some(&counters.client_closed),
            };
            if let Some(counter) = counter {
                counter.add(1);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use wsauth_spec::{FailureKind, Keyword};

    use super::KINDS;

    #[test]
    fn a_failure_kind_s_slot_is_its_place_among_the_keywords() {
        for (i, (_, kind)) in FailureKind::ALL.iter().enumerate() {
            assert_eq!(*kind as usize, i, "{}", kind.word());
        }
        assert_eq!(FailureKind::ALL.len(), KINDS);
    }
}
