//! What `wsauth-gen probe` finds in servers that are wrong: the prsm
//! example with one real check switched off at a time (`wsauth-core`'s
//! `fault-injection` feature, a test build only). Each fault must show up
//! as a deviation in the check that covers it, and nowhere else among
//! that check's neighbours; a probe that passed these servers would prove
//! nothing when it passes the real ones (`probe.rs`).
//!
//! Faults are process-wide, so this binary holds one test that takes
//! them in turn.

#[path = "support/mod.rs"]
mod support;

use support::SECRET;
use support::examples;
use wsauth_core::__faults::{self, Fault};
use wsauth_gen::probe::{self, Options};

/// For each fault, the checks to run (by name, on endpoint `group`) and
/// the one that must deviate.
const CASES: &[(Fault, &str, &[&str], &str)] = &[
    (
        Fault::AcceptAlgNone,
        "endpoint notifications",
        &[
            "token: alg `none`, no signature",
            "token: signature stripped",
            "role `user` opens it",
        ],
        "token: alg `none`, no signature",
    ),
    (
        Fault::NoEndpointPermission,
        "endpoint web3",
        &[
            "role `user` opens it",
            "role `moderator` opens it",
            "no token opens it",
        ],
        "role `moderator` opens it",
    ),
    (
        Fault::NoSubjectBinding,
        "endpoint notifications",
        &[
            "`alice`'s token on `probe-someone-else`'s path",
            "role `user` opens it",
        ],
        "`alice`'s token on `probe-someone-else`'s path",
    ),
    (
        Fault::NoConnectionLimit,
        "endpoint notifications",
        &["connection 11 of one user (max_connections_per_user 10)"],
        "connection 11 of one user (max_connections_per_user 10)",
    ),
    (
        Fault::NoResourceChecks,
        "endpoint conversation",
        &[
            "`alice` opens a resource of someone else's (--foreign-sample)",
            "role `user` opens it",
        ],
        "`alice` opens a resource of someone else's (--foreign-sample)",
    ),
    (
        Fault::NoExpiry,
        "endpoint web3",
        &["a token living 2 s is closed at exp (+ leeway 5 s)"],
        "a token living 2 s is closed at exp (+ leeway 5 s)",
    ),
];

#[tokio::test]
async fn each_missing_check_is_a_deviation() {
    let path = support::tools::repo_root().join("specs/prsm.yaml");
    let api = wsauth_gen::load(&path).unwrap_or_else(|e| panic!("{e}"));
    for &(fault, group, names, deviates) in CASES {
        __faults::set(&[fault]);
        let serving = examples::start_prsm(|c| c, axum::Router::new()).await;
        let options = Options {
            url: format!("ws://{}", serving.addr),
            secret: Some(SECRET.as_bytes().to_vec()),
            // alice takes part in conversation 1; 2 is bob's.
            samples: vec![("conversation_id".into(), "1".into())],
            foreign_samples: vec![("conversation_id".into(), "2".into())],
            ..Options::default()
        };
        let checks: Vec<_> = probe::plan(&api, &options)
            .unwrap_or_else(|e| panic!("{e}"))
            .into_iter()
            .filter(|c| c.group == group && names.contains(&c.name.as_str()))
            .collect();
        assert_eq!(
            checks.len(),
            names.len(),
            "{fault:?}: the plan lost a check"
        );
        let report = probe::run(&api.name, &options, checks, |_, _, _| {}).await;
        __faults::set(&[]);
        let table = probe::table(&report);
        let deviations: Vec<&str> = report.deviations().map(|o| o.check.name.as_str()).collect();
        assert_eq!(deviations, [deviates], "{fault:?}:\n{table}");
    }
}
