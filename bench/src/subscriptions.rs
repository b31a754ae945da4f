//! What a topic subscription costs the server, beside what an idle
//! connection costs (the memory phase).
//!
//! One fresh `fanout` server (`bench/fanout.yaml`: JWT on the handshake,
//! one `feed` topic with a single instance). After a few connections
//! opened, subscribed and closed (so lazily created state is not counted),
//! `--idle-connections` connections to `/ws/feed` are opened and left
//! unsubscribed, then each subscribes to `feed` (`wsauth.subscribe`, the
//! `wsauth.subscribed` answer awaited). The server's `VmRSS` (and, in
//! `count-allocs` builds, its live heap) is read before, after the
//! connections and after the subscriptions: the two differences over the
//! number of connections are the cost of an idle connection on that
//! endpoint and of one subscription.
//!
//! A subscription's cost has two parts: the subscriber's entry (in the
//! instance's subscriber map and in the connection's list of
//! subscriptions), paid by every subscription, and the instance itself
//! (its key, history, map), paid once by the first. With one instance for
//! every subscriber the second vanishes from the average; it is measured
//! apart, as the live heap the first subscription adds beyond the
//! average, when the allocations are counted.

use std::net::SocketAddr;
use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use tokio_tungstenite::tungstenite::Message;
use wsauth_core::spec::wire;

use crate::load::{Client, client_config, next_text};
use crate::servers::Kind;
use crate::{BenchArgs, Server, procfs};

/// Connections opened and subscribed at once.
const PARALLEL: usize = 64;

/// The server's memory at one point of the run.
#[derive(Clone, Copy, Debug)]
struct Reading {
    rss: u64,
    heap: Option<i64>,
}

impl Reading {
    async fn of(server: &mut Server) -> Result<Reading, String> {
        // Let the last connections' tasks settle first.
        tokio::time::sleep(Duration::from_secs(1)).await;
        let rss = procfs::rss_bytes(server.pid()).ok_or("cannot read the server's VmRSS")?;
        Ok(Reading {
            rss,
            heap: server.heap().map(|(live, _)| live),
        })
    }
}

/// What [`measure`] found.
#[derive(Clone, Debug)]
pub(crate) struct SubscriptionMemory {
    pub(crate) connections: usize,
    before: Reading,
    connected: Reading,
    first: Option<i64>,
    subscribed: Reading,
}

impl SubscriptionMemory {
    fn per(&self, from: Reading, to: Reading, count: usize) -> (f64, Option<f64>) {
        let n = count.max(1) as f64;
        let rss = to.rss.saturating_sub(from.rss) as f64 / n;
        let heap = from.heap.zip(to.heap).map(|(a, b)| (b - a) as f64 / n);
        (rss, heap)
    }

    /// RSS and live heap bytes per idle connection on `/ws/feed`.
    pub(crate) fn per_connection(&self) -> (f64, Option<f64>) {
        self.per(self.before, self.connected, self.connections)
    }

    /// RSS and live heap bytes per subscription.
    pub(crate) fn per_subscription(&self) -> (f64, Option<f64>) {
        self.per(self.connected, self.subscribed, self.connections)
    }

    /// Live heap bytes of the topic instance itself: what the first
    /// subscription added beyond the average of the others.
    pub(crate) fn instance(&self) -> Option<f64> {
        let first = self.first?;
        let connected = self.connected.heap?;
        let rest = self.subscribed.heap? - first;
        let others = self.connections.saturating_sub(1).max(1) as f64;
        Some((first - connected) as f64 - rest as f64 / others)
    }
}

/// Opens a connection to `/ws/feed` (admitted once the upgrade answers:
/// wsauth upgrades only after its checks, and this endpoint sends no
/// welcome).
async fn connect(addr: SocketAddr, token: &str) -> Result<Client, String> {
    let url = format!("ws://{addr}/ws/feed?token={token}");
    let (client, _) =
        tokio_tungstenite::connect_async_with_config(url.as_str(), Some(client_config()), true)
            .await
            .map_err(|e| format!("connect: {e}"))?;
    Ok(client)
}

/// Subscribes `client` to `feed` and waits for the answer.
async fn subscribe(client: &mut Client) -> Result<(), String> {
    let request = serde_json::json!({
        "type": wire::SUBSCRIBE, "id": 1, "topic": "feed", "params": {}
    });
    client
        .send(Message::text(request.to_string()))
        .await
        .map_err(|e| format!("send: {e}"))?;
    let answer = next_text(client).await?;
    if answer.contains(wire::SUBSCRIBED) {
        Ok(())
    } else {
        Err(format!("subscribe answered {answer}"))
    }
}

/// Measures a subscription's cost with `args.idle_connections` subscribers
/// of one instance; `tokens[i]` is user `i`'s token.
pub(crate) async fn measure(
    args: &BenchArgs,
    server_core: Option<usize>,
    secret: &str,
    tokens: &[(String, String)],
) -> Result<SubscriptionMemory, String> {
    let count = args.idle_connections;
    eprintln!("subscription memory: wsauth topic `feed` ({count} subscribers) ...");
    let audit = args.audit_log;
    let mut server = Server::spawn_for(Kind::Fanout, audit, args, server_core, secret, None)?;
    let addr = server.addr;
    let spare = tokens.len().saturating_sub(20);
    for (_, token) in &tokens[spare..] {
        let mut client = connect(addr, token).await?;
        subscribe(&mut client).await?;
        let _ = client.close(None).await;
        while let Some(Ok(_)) = client.next().await {}
    }
    let before = Reading::of(&mut server).await?;
    let connecting = futures_util::stream::iter(&tokens[..count.min(spare)])
        .map(|(_, token)| connect(addr, token))
        .buffer_unordered(PARALLEL)
        .collect::<Vec<_>>()
        .await;
    let mut clients = connecting.into_iter().collect::<Result<Vec<_>, _>>()?;
    let connected = Reading::of(&mut server).await?;
    let mut first = None;
    if let Some(client) = clients.first_mut() {
        subscribe(client).await?;
        first = Reading::of(&mut server).await?.heap;
    }
    let subscribing = futures_util::stream::iter(clients.iter_mut().skip(1))
        .map(subscribe)
        .buffer_unordered(PARALLEL)
        .collect::<Vec<_>>()
        .await;
    subscribing.into_iter().collect::<Result<Vec<_>, _>>()?;
    let subscribed = Reading::of(&mut server).await?;
    Ok(SubscriptionMemory {
        connections: clients.len(),
        before,
        connected,
        first,
        subscribed,
    })
}
