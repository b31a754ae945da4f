//! `--only cluster`: what the cluster-wide per-user connection limit costs
//! a handshake, and what fan-out across nodes costs and gains
//! (`fanout/nodes.rs`, after the handshakes, on the same Redis).
//!
//! The echo example twice, in one run: once alone (the per-user limit kept
//! in the process) and once as a node of a cluster on a real
//! `redis-server` (started here on a free loopback port, no persistence;
//! every authenticated handshake runs `lease.lua` there, one round trip,
//! and every close removes the lease). The same handshake load as the main
//! benchmark (`load::handshakes`), rounds alternating. Reported: rates,
//! server CPU per handshake, and Redis's CPU per handshake (its process's
//! CPU in the same window).

use std::time::Duration;

use crate::load::{self, Summary};
use crate::servers::{Kind, Target};
use crate::{CLEAN_OTHER_PERCENT, Plan, Server, endpoint, paired, ratio, row};

use wsauth_example_support::redis_server::RedisServer;

/// The handshakes, then the fan-out across nodes (`fanout/nodes.rs`), on
/// one `redis-server`.
pub(crate) async fn run(plan: &Plan<'_>, fanout: &crate::fanout::Setup<'_>) -> Result<(), String> {
    let Some(redis) = RedisServer::start() else {
        return Err("no redis-server on the PATH (or WSAUTH_REDIS_SERVER)".to_owned());
    };
    let redis_pid = redis.pid().ok_or("redis-server is not running")?;
    let url = redis.url();
    let args = plan.args;
    let warmup = Duration::from_secs_f64(args.warmup_s);
    let window = Duration::from_secs_f64(args.duration_s);
    let (mut alone, mut clustered) = (Summary::default(), Summary::default());
    for round in 0..args.rounds.max(1) {
        if args.rounds > 1 {
            eprintln!("round {} of {}", round + 1, args.rounds);
        }
        for redis in [None, Some(url.as_str())] {
            let label = if redis.is_some() {
                "wsauth, limit cluster-wide"
            } else {
                "wsauth, limit per node"
            };
            eprintln!("handshakes: {label} ...");
            let server = Server::spawn(Kind::Wsauth, args, plan.server_core, plan.secret, redis)?;
            let endpoint = endpoint(Target::Wsauth, server.addr, plan.tokens, &plan.message);
            // Redis's CPU is counted in the same window, apart from "other".
            let watched = load::Watched {
                server: server.pid(),
                beside: Some(redis_pid),
            };
            let run = load::handshakes(&endpoint, watched, args.concurrency, warmup, window).await;
            if redis.is_some() {
                clustered.rounds.push(run);
            } else {
                alone.rounds.push(run);
            }
        }
    }
    report(plan, &alone, &clustered);
    crate::fanout::across_nodes(fanout, plan.secret, (&url, redis_pid)).await
}

fn report(plan: &Plan<'_>, alone: &Summary, clustered: &Summary) {
    let on = clustered;
    let paired = paired(alone, on);
    let (off, on) = (&paired.bare, &paired.wsauth);
    println!();
    row(
        "handshakes, per-user limit",
        "per node".into(),
        "cluster-wide".into(),
        "ratio".into(),
    );
    println!("{}", "-".repeat(78));
    row(
        "handshakes/s",
        format!("{:.0}", off.rate()),
        format!("{:.0}", on.rate()),
        format!("{:.2}", paired.rate_ratio),
    );
    row(
        "  server CPU µs per handshake",
        format!("{:.1}", off.server_us_per_op()),
        format!("{:.1}", on.server_us_per_op()),
        ratio(off.server_us_per_op(), on.server_us_per_op()),
    );
    let redis_us = |s: &Summary| {
        let per_op: Vec<f64> = s
            .rounds
            .iter()
            .map(|r| r.beside_cpu.as_secs_f64() * 1e6 / (r.ops.max(1) as f64))
            .collect();
        load::median(per_op)
    };
    row(
        "  redis-server CPU µs per handshake",
        format!("{:.1}", redis_us(off)),
        format!("{:.1}", redis_us(on)),
        String::new(),
    );
    row(
        "  CPU % server / load / other",
        off.busy(),
        on.busy(),
        String::new(),
    );
    for (run, label) in [(off, "per node"), (on, "cluster-wide")] {
        if let Some(e) = run.first_error() {
            println!("  first {label} error: {e}");
        }
    }
    println!();
    println!(
        "ratio = cluster-wide / per node. {} s window after {} s warm-up, {} handshake clients, \
         one user per connection; the cluster node's handshakes each run lease.lua on a local \
         redis-server, whose CPU is counted apart (not in 'other'){}.",
        plan.args.duration_s,
        plan.args.warmup_s,
        plan.args.concurrency,
        if plan.args.rounds > 1 {
            format!(
                "; medians over the rounds where other processes used < {CLEAN_OTHER_PERCENT}% of \
                 a core"
            )
        } else {
            String::new()
        }
    );
}
