//! Revocations across nodes: stored in Redis, announced on the control
//! channel, reloaded after every (re)subscribe and every minute.
//!
//! # Motivation
//!
//! Pub/sub delivers only to nodes connected at that moment. So a
//! revocation is written and announced by one script (`lua/revoke.lua`:
//! a ZSET entry, then `PUBLISH`), and a node, after subscribing to the
//! control channel and *before* it counts as up, loads the stored set
//! (`lua/revocations.lua`) and merges it into its own: what it missed while
//! cut off is applied before it admits anyone again. A subscription can
//! also go deaf without closing (a partition): it is probed with a PING
//! every second, and one unanswered within a second is treated as a
//! closed subscription. A reload every minute is the last resort.
//!
//! A Redis restarted without persistence has lost the stored set, so after
//! each reload a node writes back what it holds (`ZADD GT`: never an
//! older time over a newer one, and no announcement): revocations survive
//! as long as one node that knew them lives.
//!
//! The same connection follows the topic instances this node has
//! subscribers on (`fanout.rs`): the loop here only forwards to it.
//!
//! Messages (the subject is always last: subjects may contain `:`):
//! `rj:<until>:<jti>`, `rs:<before>:<subject>`, `ds:<subject>`.

use std::sync::{Arc, LazyLock};
use std::time::Duration;

use ::redis::{RedisResult, Script, Value};
use futures_util::StreamExt;

use super::fanout::Listener;
use super::{HEALTH_EVERY, NodeShared, is_unreachable, within};
use crate::cluster::revocations::Held;
use crate::cluster::{ClusterError, Revocation, Revocations};
use crate::metrics::RedisOp;

static REVOKE: LazyLock<Script> = LazyLock::new(|| Script::new(include_str!("lua/revoke.lua")));
static REVOCATIONS: LazyLock<Script> =
    LazyLock::new(|| Script::new(include_str!("lua/revocations.lua")));

/// How often the stored revocations are reloaded while subscribed.
const RELOAD_EVERY: Duration = Duration::from_secs(60);

/// The first wait before reconnecting, doubled up to [`MAX_BACKOFF`].
const MIN_BACKOFF: Duration = Duration::from_millis(100);
const MAX_BACKOFF: Duration = Duration::from_secs(2);

/// How long a subscription must have lasted for the next reconnection to
/// start from [`MIN_BACKOFF`] again: one that keeps dropping right after
/// it is made backs off like one that cannot be made.
const STABLE_AFTER: Duration = Duration::from_secs(10);

/// Stores and announces `revocation`. Returns Redis's time when it took
/// effect (unix seconds).
pub(super) async fn revoke(
    shared: &NodeShared,
    revocation: &Revocation,
) -> Result<u64, ClusterError> {
    // Commands are enough: the script stores and announces; this node's
    // own subscription being down does not stop the others hearing it.
    if !shared.reachable() {
        return Err(ClusterError::Unavailable);
    }
    let (kind, value, until) = match revocation {
        Revocation::Jti { jti, exp } => ("jti", jti, *exp),
        Revocation::Subject { subject, .. } => ("subject", subject, 0),
        Revocation::Disconnect { subject } => ("disconnect", subject, 0),
    };
    let mut commands = shared.commands();
    within(
        shared,
        RedisOp::Revoke,
        REVOKE
            .key(shared.keys.revoked_jtis())
            .key(shared.keys.revoked_subjects())
            .arg(kind)
            .arg(&**value)
            .arg(until)
            .arg(shared.retention_s)
            .arg(shared.keys.control())
            .invoke_async::<u64>(&mut commands),
    )
    .await
    .map_err(|e| {
        shared.failed(&e);
        ClusterError::Unavailable
    })
}

/// The control subscription, for the node's life: subscribe, reload,
/// apply what arrives; on any loss, mark the node down and start again
/// after a backoff.
pub(super) async fn run(
    shared: Arc<NodeShared>,
    revocations: Arc<Revocations>,
    mut topics: Listener,
) {
    let mut backoff = MIN_BACKOFF;
    let mut failures = 0u32;
    loop {
        match subscribe(&shared, &revocations, &topics).await {
            Ok(pubsub) => {
                failures = 0;
                shared.set_control(true);
                let since = tokio::time::Instant::now();
                listen(&shared, pubsub, &revocations, &mut topics).await;
                if since.elapsed() >= STABLE_AFTER {
                    backoff = MIN_BACKOFF;
                }
            }
            Err(error) => {
                failures += 1;
                // Redis being away is logged once by the health task; a
                // refusal (no rights on the channel, a script error) would
                // otherwise refuse every handshake without a word.
                if failures == 1 || !is_unreachable(&error) {
                    tracing::warn!(target: "wsauth::cluster", node = %shared.id, %error, "control channel: cannot subscribe");
                } else {
                    tracing::debug!(target: "wsauth::cluster", node = %shared.id, %error, "control channel: cannot subscribe");
                }
            }
        }
        shared.set_control(false);
        topics.refuse_waiting();
        tokio::time::sleep(jitter(backoff)).await;
        backoff = (backoff * 2).min(MAX_BACKOFF);
    }
}

/// Subscribes to the control channel and the followed topic instances,
/// then loads what is stored.
async fn subscribe(
    shared: &NodeShared,
    revocations: &Revocations,
    topics: &Listener,
) -> RedisResult<::redis::aio::PubSub> {
    let mut pubsub = within(shared, RedisOp::Subscribe, shared.client.get_async_pubsub()).await?;
    within(
        shared,
        RedisOp::Subscribe,
        pubsub.subscribe(shared.keys.control()),
    )
    .await?;
    topics.resubscribe(&mut pubsub).await?;
    topics.resync().await?;
    reload(shared, revocations).await?;
    Ok(pubsub)
}

/// Applies what the control channel carries until the subscription ends
/// or stops answering its probe; reloads the stored set every
/// [`RELOAD_EVERY`]. Topic publications and the topics' (un)subscriptions
/// go to and from `topics`.
async fn listen(
    shared: &NodeShared,
    pubsub: ::redis::aio::PubSub,
    revocations: &Revocations,
    topics: &mut Listener,
) {
    let (mut sink, mut messages) = pubsub.split();
    let mut reloads =
        tokio::time::interval_at(tokio::time::Instant::now() + RELOAD_EVERY, RELOAD_EVERY);
    let mut probes =
        tokio::time::interval_at(tokio::time::Instant::now() + HEALTH_EVERY, HEALTH_EVERY);
    probes.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            message = messages.next() => match message {
                Some(message) if topics.dispatch(&message) => {}
                Some(message) => match parse(message.get_payload_bytes()) {
                    Some(revocation) => {
                        revocations.apply_from(&revocation, "cluster");
                    }
                    None => tracing::warn!(target: "wsauth::cluster", node = %shared.id, "control channel: unreadable message"),
                },
                None => return,
            },
            Some(request) = topics.next() => {
                if topics.serve(&mut sink, request).await.is_err() {
                    return;
                }
            }
            _ = reloads.tick() => {
                if let Err(error) = reload(shared, revocations).await {
                    shared.failed(&error);
                }
            }
            _ = probes.tick() => {
                // Answered in order after everything published before it,
                // on the subscription's own connection.
                if let Err(error) = within(shared, RedisOp::Probe, sink.ping::<Value>()).await {
                    tracing::warn!(target: "wsauth::cluster", node = %shared.id, %error, "control channel: no answer to its probe; resubscribing");
                    return;
                }
            }
        }
    }
}

/// Loads every stored revocation still in force and merges it in.
async fn reload(shared: &NodeShared, revocations: &Revocations) -> RedisResult<()> {
    let mut commands = shared.commands();
    let (_now, jtis, subjects): (u64, Vec<String>, Vec<String>) = within(
        shared,
        RedisOp::Reload,
        REVOCATIONS
            .key(shared.keys.revoked_jtis())
            .key(shared.keys.revoked_subjects())
            .arg(shared.retention_s)
            .invoke_async(&mut commands),
    )
    .await?;
    revocations.merge(pairs(jtis), pairs(subjects));
    write_back(shared, revocations.held()).await
}

/// Stores `held` again, keeping any newer time Redis has.
async fn write_back(shared: &NodeShared, (jtis, subjects): Held) -> RedisResult<()> {
    if jtis.is_empty() && subjects.is_empty() {
        return Ok(());
    }
    let mut pipe = ::redis::pipe();
    for (key, entries) in [
        (shared.keys.revoked_jtis(), jtis),
        (shared.keys.revoked_subjects(), subjects),
    ] {
        if entries.is_empty() {
            continue;
        }
        let command = pipe.cmd("ZADD").arg(key).arg("GT");
        for (name, time) in entries {
            command.arg(time).arg(&*name);
        }
        command.ignore();
    }
    let mut commands = shared.commands();
    within(
        shared,
        RedisOp::WriteBack,
        pipe.query_async::<()>(&mut commands),
    )
    .await
}

/// `[member, score, member, score, ...]` as pairs; scores are whole seconds.
fn pairs(flat: Vec<String>) -> Vec<(Box<str>, u64)> {
    let mut out = Vec::with_capacity(flat.len() / 2);
    let mut flat = flat.into_iter();
    while let (Some(member), Some(score)) = (flat.next(), flat.next()) {
        if let Some(score) = seconds(&score) {
            out.push((member.into_boxed_str(), score));
        }
    }
    out
}

fn seconds(text: &str) -> Option<u64> {
    text.parse::<u64>()
        .ok()
        .or_else(|| text.parse::<f64>().ok().map(|f| f as u64))
}

/// A control message, or `None` when it is not one.
fn parse(payload: &[u8]) -> Option<Revocation> {
    let text = std::str::from_utf8(payload).ok()?;
    let (kind, rest) = text.split_once(':')?;
    match kind {
        "ds" => Some(Revocation::Disconnect {
            subject: rest.into(),
        }),
        "rj" | "rs" => {
            let (time, name) = rest.split_once(':')?;
            let time = seconds(time)?;
            Some(if kind == "rj" {
                Revocation::Jti {
                    jti: name.into(),
                    exp: time,
                }
            } else {
                Revocation::Subject {
                    subject: name.into(),
                    before: time,
                }
            })
        }
        _ => None,
    }
}

/// `wait`, less up to a quarter at random, so nodes do not reconnect in step.
fn jitter(wait: Duration) -> Duration {
    let mut byte = [0u8; 1];
    let _ = getrandom::fill(&mut byte);
    wait - wait / 4 * u32::from(byte[0]) / 255
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn control_messages_keep_colons_in_names() {
        assert_eq!(
            parse(b"rs:1700000000:tenant:alice"),
            Some(Revocation::Subject {
                subject: "tenant:alice".into(),
                before: 1_700_000_000
            })
        );
        assert_eq!(
            parse(b"rj:1700000060:a:b"),
            Some(Revocation::Jti {
                jti: "a:b".into(),
                exp: 1_700_000_060
            })
        );
        assert_eq!(
            parse(b"ds:x:y"),
            Some(Revocation::Disconnect {
                subject: "x:y".into()
            })
        );
        assert_eq!(parse(b"zz:1:x"), None);
        assert_eq!(parse(b"rs:soon:x"), None);
    }

    #[test]
    fn scores_pair_with_members() {
        assert_eq!(
            pairs(vec!["a".into(), "17".into(), "b".into(), "1.8e1".into()]),
            vec![("a".into(), 17), ("b".into(), 18)]
        );
    }
}
