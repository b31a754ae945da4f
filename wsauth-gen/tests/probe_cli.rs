//! `wsauth-gen probe` as a user runs it, without a server: `--dry-run`
//! lists every check and sends nothing; a host that is not loopback is
//! refused unless allowed by name. (Probes of running servers are in
//! `generated/tests/probe*.rs`.)

use std::process::{Command, Output};

fn probe(args: &[&str]) -> Output {
    let spec = concat!(env!("CARGO_MANIFEST_DIR"), "/../specs/prsm.yaml");
    Command::new(env!("CARGO_BIN_EXE_wsauth-gen"))
        .arg("probe")
        .arg(spec)
        .args(args)
        .env("PROBE_TEST_SECRET", "probe-cli-secret-0123456789abcdefghij")
        .output()
        .unwrap_or_else(|e| panic!("{e}"))
}

#[test]
fn a_dry_run_lists_the_checks_and_sends_nothing() {
    // Port 9 (discard) on loopback: nothing listens, and nothing is sent.
    let out = probe(&[
        "--url",
        "ws://127.0.0.1:9",
        "--secret-env",
        "PROBE_TEST_SECRET",
        "--dry-run",
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.contains(
            "endpoint conversation / token: alg `none`, no signature: expects close 4001"
        ),
        "{stdout}"
    );
    assert!(stdout.contains("nothing sent (--dry-run)"), "{stdout}");
}

#[test]
fn other_hosts_must_be_allowed_by_name() {
    let out = probe(&[
        "--url",
        "ws://192.0.2.1:80",
        "--secret-env",
        "PROBE_TEST_SECRET",
        "--dry-run",
    ]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("--allow-host 192.0.2.1"));
    let allowed = probe(&[
        "--url",
        "ws://192.0.2.1:80",
        "--allow-host",
        "192.0.2.1",
        "--secret-env",
        "PROBE_TEST_SECRET",
        "--dry-run",
    ]);
    assert!(
        allowed.status.success(),
        "{}",
        String::from_utf8_lossy(&allowed.stderr)
    );
}

#[test]
fn an_unreachable_server_is_a_deviation_not_a_pass() {
    let out = probe(&[
        "--url",
        "ws://127.0.0.1:9",
        "--secret-env",
        "PROBE_TEST_SECRET",
    ]);
    assert_eq!(
        out.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("DEVIATION"));
}
