//! `wsauth-gen probe` against every example, each in-process on
//! 127.0.0.1: the spec, taken as a test suite, finds no deviation in the
//! servers built from it. (What the probe finds in servers that are wrong
//! is `probe_faults.rs`.)

#[path = "support/mod.rs"]
mod support;

use std::time::Duration;

use support::SECRET;
use support::examples::{self, Serving};
use wsauth_example_support::testing::serve_on_loopback;
use wsauth_gen::probe::{self, Options, Report};

/// Probes `spec` (a file under specs/) at `serving` with `samples`.
pub async fn probe(spec: &str, serving: &Serving, configure: impl FnOnce(&mut Options)) -> Report {
    let path = support::tools::repo_root().join("specs").join(spec);
    let api = wsauth_gen::load(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let mut options = Options {
        url: format!("ws://{}", serving.addr),
        secret: Some(SECRET.as_bytes().to_vec()),
        // A loaded test machine may take longer than the default to send a
        // refusal; only quiet admissions wait this long.
        settle: Duration::from_secs(1),
        ..Options::default()
    };
    configure(&mut options);
    let checks = probe::plan(&api, &options).unwrap_or_else(|e| panic!("{e}"));
    probe::run(&api.name, &options, checks, |_, _, _| {}).await
}

/// No deviation, and at least `min_checked` checks run (a probe that skips
/// everything proves nothing).
fn clean(report: &Report, min_checked: usize) {
    let table = probe::table(report);
    assert_eq!(report.deviations().count(), 0, "{table}");
    let checked = report
        .outcomes
        .iter()
        .filter(|o| o.observed.is_some())
        .count();
    assert!(
        checked >= min_checked,
        "only {checked} checks ran:\n{table}"
    );
}

#[tokio::test]
async fn echo_is_as_its_spec_says() {
    let (router, server) =
        echo::app(SECRET.as_bytes(), echo::Users::any()).unwrap_or_else(|e| panic!("{e}"));
    let serving = serve_on_loopback(router, server).await.abort_on_drop();
    clean(&probe("echo.yaml", &serving, |_| {}).await, 40);
}

#[tokio::test]
async fn prsm_is_as_its_spec_says() {
    let serving = examples::start_prsm(|c| c, axum::Router::new()).await;
    let origin = format!("http://{}", serving.addr);
    let report = probe("prsm.yaml", &serving, |o| {
        o.samples = vec![("conversation_id".into(), "1".into())];
        // Conversation 2 is bob's.
        o.foreign_samples = vec![("conversation_id".into(), "2".into())];
        o.origin = Some(origin);
    })
    .await;
    clean(&report, 90);
}

#[tokio::test]
async fn songnodes_is_as_its_spec_says() {
    let serving = examples::start_songnodes().await;
    clean(&probe("songnodes.yaml", &serving, |_| {}).await, 35);
}

#[tokio::test]
async fn shipvox_is_as_its_spec_says() {
    let serving = examples::start_shipvox().await;
    clean(&probe("shipvox.yaml", &serving, |_| {}).await, 25);
}

#[tokio::test]
async fn reflections_is_as_its_spec_says() {
    // Streaming at its own pace: the limit checks need the connection open
    // for a moment.
    let config = reflections::Config::new(SECRET);
    let (router, server) = reflections::app(config).unwrap_or_else(|e| panic!("{e}"));
    let serving = serve_on_loopback(router, server).await.abort_on_drop();
    let report = probe("reflections.yaml", &serving, |o| {
        o.samples = vec![("entry_id".into(), "1".into())];
        // Entry 2 is bob's.
        o.foreign_samples = vec![("entry_id".into(), "2".into())];
    })
    .await;
    clean(&report, 20);
}

#[tokio::test]
async fn mcp_status_is_as_its_spec_says() {
    let (serving, _board) = examples::start_mcp_status(|c| c, |_| axum::Router::new()).await;
    clean(&probe("mcp-status.yaml", &serving, |_| {}).await, 25);
}
