//! `--only callgrind`: user-space instructions per handshake and per round
//! trip, counted by valgrind's callgrind (`valgrind` on the PATH; slow, so
//! only when asked for, and never in CI).
//!
//! Instruction counts do not move with the machine's load, so they compare
//! servers where rates cannot. Each server runs under
//! `valgrind --tool=callgrind` once per run length: a warm-up, then `N`
//! sequential handshakes (connect, welcome or first echo, close), or `N`
//! round trips on one connection, then it exits and callgrind writes the
//! process's total `Ir` (every thread's). Start-up, warm-up and shutdown
//! are the same in the short and the long run, so
//! `(Ir_long - Ir_short) / (N_long - N_short)` is the cost of one operation
//! alone.
//!
//! Measured side by side: tuned bare axum, wsauth with the `--audit-log`
//! given (default `json-lines`, the headline), its typed echo endpoint
//! (round trips only: its handshake is the untyped endpoint's), wsauth with
//! the audit events through `tracing-subscriber`'s JSON formatter (how the
//! examples logged them before `AuditLog`), and wsauth with the audit log
//! off.

use std::path::Path;
use std::process::Command;
use std::time::Duration;

use crate::servers::{AuditMode, Kind, Target};
use crate::{Plan, Server, endpoint, load};

/// Sequential handshakes in the short and the long run.
const HANDSHAKES: (usize, usize) = (200, 1200);
/// Round trips on one connection in the short and the long run.
const ROUND_TRIPS: (usize, usize) = (200, 2000);
/// Operations before either run, so lazily built state is not counted.
const WARMUP: usize = 20;
/// How long a server under valgrind may take to exit and write its counts.
const EXIT_PATIENCE: Duration = Duration::from_secs(120);

/// The target: wsauth's instructions per handshake (with the audit
/// log) at most this many times tuned bare axum's.
const HANDSHAKE_INSTRUCTIONS_TARGET: f64 = 1.6;

/// The target: the typed echo's instructions per round trip at
/// most this many times tuned bare axum's.
const TYPED_ECHO_INSTRUCTIONS_TARGET: f64 = 1.3;

/// One server configuration measured.
struct Config {
    label: String,
    target: Target,
    audit: AuditMode,
}

/// Instructions per operation of one configuration.
struct Counted {
    target: Target,
    label: String,
    /// `None` where the handshake is another row's (the typed echo).
    per_handshake: Option<f64>,
    /// Of `per_handshake`, SHA-256's compression function (`None` without
    /// `callgrind_annotate`).
    sha256_per_handshake: Option<f64>,
    per_round_trip: f64,
}

/// Runs every configuration and prints the table.
pub(crate) async fn run(plan: &Plan<'_>) -> Result<(), String> {
    let headline = plan.args.audit_log;
    let mut configs = vec![
        Config {
            label: "bare axum".to_owned(),
            target: Target::Bare,
            audit: AuditMode::Off,
        },
        Config {
            label: format!("wsauth, audit log {}", headline.word()),
            target: Target::Wsauth,
            audit: headline,
        },
        Config {
            label: format!("wsauth typed echo, audit log {}", headline.word()),
            target: Target::WsauthTyped,
            audit: headline,
        },
    ];
    for other in [AuditMode::Tracing, AuditMode::Off] {
        if other != headline {
            configs.push(Config {
                label: format!("wsauth, audit log {}", other.word()),
                target: Target::Wsauth,
                audit: other,
            });
        }
    }
    let dir = plan.args.callgrind_keep.clone().unwrap_or_else(|| {
        std::env::temp_dir().join(format!("wsauth-bench-callgrind.{}", std::process::id()))
    });
    std::fs::create_dir_all(&dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    let mut counted = Vec::new();
    for (index, config) in configs.iter().enumerate() {
        eprintln!("callgrind: {} ...", config.label);
        let out = |what: &str, n: usize| dir.join(format!("{index}-{what}-{n}.out"));
        let (handshakes, sha256) = if config.target.handshakes() {
            let all =
                per_operation(HANDSHAKES, |n| handshake_run(plan, config, n, out("hs", n))).await?;
            let sha256 = self_ir(&out("hs", HANDSHAKES.0), SHA256_COMPRESS)
                .zip(self_ir(&out("hs", HANDSHAKES.1), SHA256_COMPRESS))
                .map(|(few, many)| {
                    (many as f64 - few as f64) / (HANDSHAKES.1 - HANDSHAKES.0) as f64
                });
            (Some(all), sha256)
        } else {
            (None, None)
        };
        let round_trips = per_operation(ROUND_TRIPS, |n| {
            round_trip_run(plan, config, n, out("rt", n))
        })
        .await?;
        counted.push(Counted {
            target: config.target,
            label: config.label.clone(),
            per_handshake: handshakes,
            sha256_per_handshake: sha256,
            per_round_trip: round_trips,
        });
    }
    if plan.args.callgrind_keep.is_none() {
        let _ = std::fs::remove_dir_all(&dir);
    }
    report(&counted, headline);
    Ok(())
}

/// `(Ir(long) - Ir(short)) / (long - short)`.
async fn per_operation<F, Fut>((short, long): (usize, usize), mut run: F) -> Result<f64, String>
where
    F: FnMut(usize) -> Fut,
    Fut: std::future::Future<Output = Result<u64, String>>,
{
    let few = run(short).await?;
    let many = run(long).await?;
    Ok((many as f64 - few as f64) / (long - short) as f64)
}

/// A server of `config` under callgrind, writing its counts to `out`.
fn spawn(plan: &Plan<'_>, config: &Config, out: &Path) -> Result<Server, String> {
    let exe = std::env::current_exe().map_err(|e| format!("current_exe: {e}"))?;
    let mut command = Command::new("valgrind");
    command
        .args([
            "-q",
            "--tool=callgrind",
            "--dump-instr=no",
            "--dump-line=no",
        ])
        .arg(format!("--callgrind-out-file={}", out.display()))
        .arg(exe)
        .args(["serve", "--kind"])
        .arg(match config.target.kind() {
            Kind::Bare => "bare",
            Kind::Wsauth | Kind::Fanout => "wsauth",
        })
        .args(["--workers", "1", "--audit-log", config.audit.word()])
        .env(echo::SECRET_ENV, plan.secret);
    Server::start(command, &config.label, None)
}

/// Total `Ir` of a server that did `n` sequential handshakes after the warm-up.
async fn handshake_run(
    plan: &Plan<'_>,
    config: &Config,
    n: usize,
    out: std::path::PathBuf,
) -> Result<u64, String> {
    let server = spawn(plan, config, &out)?;
    let message = plan.message_for(config.target);
    let endpoint = endpoint(config.target, server.addr, plan.tokens, message);
    for i in 0..WARMUP + n {
        load::close(load::open(&endpoint, i).await?).await;
    }
    exit_and_count(server, &out)
}

/// Total `Ir` of a server that answered `n` round trips on one connection
/// after the warm-up.
async fn round_trip_run(
    plan: &Plan<'_>,
    config: &Config,
    n: usize,
    out: std::path::PathBuf,
) -> Result<u64, String> {
    let server = spawn(plan, config, &out)?;
    let message = plan.message_for(config.target);
    let endpoint = endpoint(config.target, server.addr, plan.tokens, message);
    let mut client = load::open(&endpoint, 0).await?;
    for _ in 0..WARMUP + n {
        load::round_trip(&mut client, message).await?;
    }
    load::close(client).await;
    exit_and_count(server, &out)
}

/// Lets the server exit, then reads the `totals:` (or `summary:`) line
/// callgrind wrote.
fn exit_and_count(server: Server, out: &Path) -> Result<u64, String> {
    if !server.exit_within(EXIT_PATIENCE) {
        return Err(format!("the server writing {} did not exit", out.display()));
    }
    let text = std::fs::read_to_string(out).map_err(|e| format!("{}: {e}", out.display()))?;
    total_ir(&text).ok_or_else(|| format!("{}: no totals line", out.display()))
}

/// SHA-256's block function in the `sha2` crate (the HS256 signature).
const SHA256_COMPRESS: &str = "sha2::sha256::compress256";

/// The instructions `function` executed itself in the run that wrote `out`,
/// as `callgrind_annotate` (valgrind's) reads them; `None` without it.
fn self_ir(out: &Path, function: &str) -> Option<u64> {
    let output = Command::new("callgrind_annotate")
        .args(["--inclusive=no", "--threshold=100"])
        .arg(out)
        .output()
        .ok()
        .filter(|o| o.status.success())?;
    Some(annotated_ir(
        &String::from_utf8_lossy(&output.stdout),
        function,
    ))
}

/// The sum of the `Ir` of `callgrind_annotate`'s lines naming `function`.
fn annotated_ir(text: &str, function: &str) -> u64 {
    text.lines()
        .filter(|l| l.contains(function))
        .filter_map(|l| l.split_whitespace().next())
        .filter_map(|n| n.replace(',', "").parse::<u64>().ok())
        .sum()
}

/// The `Ir` total of a callgrind out file (the first event column).
fn total_ir(text: &str) -> Option<u64> {
    text.lines()
        .find_map(|l| {
            l.strip_prefix("totals:")
                .or_else(|| l.strip_prefix("summary:"))
        })
        .and_then(|rest| rest.split_whitespace().next())
        .and_then(|n| n.parse().ok())
}

fn report(counted: &[Counted], headline: AuditMode) {
    let Some(bare) = counted.first() else {
        return;
    };
    println!();
    println!(
        "{:<40} {:>15} {:>7} {:>15} {:>7}",
        "instructions (callgrind Ir)", "per handshake", "ratio", "per round trip", "ratio"
    );
    println!("{}", "-".repeat(88));
    let k = |ir: f64| format!("{:.1}k", ir / 1000.0);
    let bare_handshake = bare.per_handshake.unwrap_or(0.0).max(1.0);
    for c in counted {
        let (handshake, handshake_ratio) = match c.per_handshake {
            Some(ir) => (k(ir), format!("{:.2}", ir / bare_handshake)),
            None => ("-".to_owned(), String::new()),
        };
        println!(
            "{:<40} {:>15} {:>7} {:>15} {:>7}",
            c.label,
            handshake,
            handshake_ratio,
            k(c.per_round_trip),
            format!("{:.2}", c.per_round_trip / bare.per_round_trip.max(1.0)),
        );
    }
    println!();
    println!(
        "ratio = / bare axum. (Ir after {} - Ir after {}) / {} sequential handshakes, \
         (Ir after {} - Ir after {}) / {} round trips on one connection; user space, every thread \
         of the server process (the audit log's writer included).",
        HANDSHAKES.1,
        HANDSHAKES.0,
        HANDSHAKES.1 - HANDSHAKES.0,
        ROUND_TRIPS.1,
        ROUND_TRIPS.0,
        ROUND_TRIPS.1 - ROUND_TRIPS.0,
    );
    if let Some(handshake) = counted.get(1).and_then(|wsauth| wsauth.per_handshake) {
        let r = handshake / bare_handshake;
        let verdict = if r <= HANDSHAKE_INSTRUCTIONS_TARGET {
            "met"
        } else {
            "MISSED"
        };
        println!(
            "target: wsauth instructions per handshake (audit log {}) <= {HANDSHAKE_INSTRUCTIONS_TARGET}x bare axum: {verdict} ({r:.2}x)",
            headline.word()
        );
    }
    if let Some((handshake, sha256)) = counted
        .get(1)
        .and_then(|wsauth| wsauth.per_handshake.zip(wsauth.sha256_per_handshake))
    {
        // Valgrind's CPU has no SHA extensions, so `sha2` runs its portable
        // code here whatever the machine has.
        let native = if cpu_has_sha_ni() {
            "this CPU has SHA-NI, which sha2 uses outside valgrind"
        } else {
            "this CPU has no SHA-NI either"
        };
        println!(
            "of which SHA-256 blocks (HS256), portable code under valgrind ({native}): {}; \
             the rest: {} ({:.2}x bare axum)",
            k(sha256),
            k(handshake - sha256),
            (handshake - sha256) / bare_handshake,
        );
    }
    if let Some(typed) = counted.iter().find(|c| c.target == Target::WsauthTyped) {
        let r = typed.per_round_trip / bare.per_round_trip.max(1.0);
        let verdict = if r <= TYPED_ECHO_INSTRUCTIONS_TARGET {
            "met"
        } else {
            "MISSED"
        };
        println!(
            "target: wsauth typed echo instructions per round trip (audit log {}) <= {TYPED_ECHO_INSTRUCTIONS_TARGET}x bare axum: {verdict} ({r:.2}x)",
            headline.word()
        );
    }
}

/// Whether this machine's CPU has the SHA extensions (Linux).
fn cpu_has_sha_ni() -> bool {
    std::fs::read_to_string("/proc/cpuinfo")
        .is_ok_and(|info| info.split_whitespace().any(|flag| flag == "sha_ni"))
}

#[cfg(test)]
mod tests {
    use super::{annotated_ir, total_ir};

    #[test]
    fn a_functions_own_instructions_are_read_from_the_annotation() {
        let text = "\
--------------------------------------------------------------------------------
Ir                  file:function
--------------------------------------------------------------------------------
13,907,544 (13.4%)  ???:sha2::sha256::compress256 [/bench]
 2,832,000 ( 2.7%)  ???:sha1::compress::soft::compress [/bench]
       100 ( 0.0%)  ???:sha2::sha256::compress256 [/other]
";
        assert_eq!(annotated_ir(text, "sha2::sha256::compress256"), 13_907_644);
        assert_eq!(annotated_ir(text, "blake3"), 0);
    }

    #[test]
    fn the_total_is_read_from_either_line() {
        let out = "version: 1\ncreator: callgrind-3.19.0\nevents: Ir\nsummary: 1234567\nfn=main\n0 5\ntotals: 1234567\n";
        assert_eq!(total_ir(out), Some(1_234_567));
        assert_eq!(total_ir("events: Ir\ntotals: 42 7\n"), Some(42));
        assert_eq!(total_ir("events: Ir\n"), None);
    }
}
