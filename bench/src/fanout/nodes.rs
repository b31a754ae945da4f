//! Fan-out across cluster nodes (`--only cluster`): the same topic served
//! by one wsauth process alone, by one node of a cluster on Redis, and by
//! two nodes on that Redis with the subscribers split between them (the
//! publisher on the first), at the same offered rate and each at its
//! saturation.
//!
//! On Redis every publication goes through `publish.lua` (numbered,
//! appended to the history stream, PUBLISHed) and each node delivers what
//! its one subscription reads, so a node's cost per delivery is the
//! in-process one plus its share of a Redis round trip per publication.
//! The second node runs on a third core when there is one, else on the
//! load generator's: its CPU is counted, but the two then compete there,
//! which caps what "scaling" can show on a two-core machine (the table
//! says how busy each was).

use super::{Nodes, Outcome, Saturated, Saturation, Setup, Side, measure, saturate};

/// The target: two nodes deliver at least this many times one
/// node's deliveries per second, each at its saturation.
const SCALING_TARGET: f64 = 1.6;

/// Runs the three deployments at `setup.rate`, then (unless saturation is
/// off) one node alone and two nodes each at its saturation.
pub(crate) async fn across_nodes(
    setup: &Setup<'_>,
    secret: &str,
    redis: (&str, u32),
) -> Result<(), String> {
    let on_redis = |count| Nodes {
        count,
        redis: Some(redis),
    };
    let deployments = [
        ("1 node", Nodes::ALONE),
        ("1 node, redis", on_redis(1)),
        ("2 nodes, redis", on_redis(2)),
    ];
    let mut outcomes = Vec::new();
    for (_, nodes) in deployments {
        outcomes.push(measure(setup, Side::Wsauth, nodes, secret, setup.rate, setup.window).await?);
    }
    let labels: Vec<&str> = deployments.iter().map(|(label, _)| *label).collect();
    println!();
    table(
        &format!("fan-out at {:.0} publications/s", setup.rate),
        &labels,
        &outcomes.iter().collect::<Vec<_>>(),
    );
    println!(
        "{} subscribers (split evenly over the nodes), {} data bytes per publication, {} s \
         window after {} s warm-up. Server CPU is every node's; the second node shares the load \
         generator's core unless the machine has a third.",
        setup.subscribers,
        setup.payload_bytes,
        setup.window.as_secs_f64(),
        setup.warmup.as_secs_f64()
    );
    let Some(saturation) = setup.saturation else {
        return Ok(());
    };
    let alone = saturate(setup, Side::Wsauth, Nodes::ALONE, secret, saturation).await?;
    let two = saturate(setup, Side::Wsauth, on_redis(2), secret, saturation).await?;
    report_saturation(saturation, &alone, &two);
    Ok(())
}

fn report_saturation(saturation: Saturation, alone: &Saturated, two: &Saturated) {
    println!();
    println!(
        "fan-out, each at its saturation (from {:.0}/s, x{} per step):",
        saturation.start, saturation.factor
    );
    for (label, saturated) in [("1 node", alone), ("2 nodes, redis", two)] {
        println!("  {label}: next step {}", saturated.stopped);
    }
    let (Some((rate1, one)), Some((rate2, both))) = (&alone.best, &two.best) else {
        println!("no comparison: a deployment sustained no step");
        return;
    };
    table(
        "fan-out at saturation",
        &["1 node", "2 nodes, redis"],
        &[one, both],
    );
    println!("  publications/s sustained: {rate1:.0} vs {rate2:.0}");
    let scaling = both.rate() / one.rate().max(1e-9);
    let met = if scaling >= SCALING_TARGET {
        "met"
    } else {
        "MISSED"
    };
    println!(
        "target: 2 nodes over redis deliver >= {SCALING_TARGET}x one node's deliveries/s, each at \
         its saturation: {met} ({scaling:.2}x)"
    );
}

/// One column per deployment.
fn table(title: &str, labels: &[&str], outcomes: &[&Outcome]) {
    let line = |metric: &str, cells: Vec<String>| {
        print!("{metric:<38}");
        for cell in cells {
            print!(" {cell:>15}");
        }
        println!();
    };
    line(title, labels.iter().map(|l| (*l).to_owned()).collect());
    println!("{}", "-".repeat(38 + 16 * labels.len()));
    let each = |f: &dyn Fn(&Outcome) -> String| outcomes.iter().map(|o| f(o)).collect();
    line("deliveries/s", each(&|o| format!("{:.0}", o.rate())));
    line(
        "  latency p50, ms",
        each(&|o| format!("{:.2}", o.latency_ms(0.5))),
    );
    line(
        "  latency p99, ms",
        each(&|o| format!("{:.2}", o.latency_ms(0.99))),
    );
    line(
        "server CPU s per million deliveries",
        each(&|o| format!("{:.2}", o.cpu_s_per_million())),
    );
    line(
        "redis CPU s per million deliveries",
        each(&|o| {
            format!(
                "{:.2}",
                o.redis_cpu.as_secs_f64() * 1e6 / (o.deliveries.max(1) as f64)
            )
        }),
    );
    line(
        "deliveries per second of server CPU",
        each(&|o| format!("{:.0}", o.per_cpu_second())),
    );
    line(
        "  CPU % servers / redis / load / other",
        each(&|o| {
            format!(
                "{:.0}/{:.0}/{:.0}/{:.0}",
                o.busy(o.server_cpu),
                o.busy(o.redis_cpu),
                o.busy(o.load_cpu),
                o.other_busy()
            )
        }),
    );
    line("  subscribers lost", each(&|o| o.lost.to_string()));
    for (label, outcome) in labels.iter().zip(outcomes) {
        if let Some(e) = &outcome.first_error {
            println!("  first error, {label}: {e}");
        }
    }
}
