//! `wsauth-gen diff`: one fixture per kind of change (`tests/diff/*.yaml`,
//! each `base.yaml` changed in one way) and its golden Markdown report
//! (`*.md` beside it). `WSAUTH_BLESS=1` rewrites the goldens.

use std::path::{Path, PathBuf};
use std::process::Command;

use wsauth_gen::diff::{Impact, diff};

fn dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/diff")
}

fn load(path: &Path) -> wsauth_gen::Api {
    wsauth_gen::load(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// Every fixture but the base, in name order.
fn fixtures() -> Vec<PathBuf> {
    let mut fixtures: Vec<PathBuf> = std::fs::read_dir(dir())
        .unwrap_or_else(|e| panic!("{e}"))
        .map(|entry| entry.unwrap_or_else(|e| panic!("{e}")).path())
        .filter(|p| p.extension().is_some_and(|e| e == "yaml") && !p.ends_with("base.yaml"))
        .collect();
    fixtures.sort();
    fixtures
}

#[test]
fn every_kind_of_change_reports_as_its_golden_says() {
    let base = load(&dir().join("base.yaml"));
    let bless = std::env::var_os("WSAUTH_BLESS").is_some();
    let mut stale = Vec::new();
    for fixture in fixtures() {
        let report = diff(&base, &load(&fixture)).markdown();
        let golden = fixture.with_extension("md");
        if bless {
            std::fs::write(&golden, &report).unwrap_or_else(|e| panic!("{e}"));
        } else if std::fs::read_to_string(&golden).ok().as_deref() != Some(report.as_str()) {
            stale.push(format!("{}:\n{report}", golden.display()));
        }
    }
    assert!(
        stale.is_empty(),
        "reports differ from their goldens (WSAUTH_BLESS=1 rewrites them):\n{}",
        stale.join("\n")
    );
}

#[test]
fn each_fixture_is_one_change_and_only_wording_is_none() {
    let base = load(&dir().join("base.yaml"));
    assert!(diff(&base, &base).changes.is_empty());
    for fixture in fixtures() {
        let report = diff(&base, &load(&fixture));
        let name = fixture.file_stem().and_then(|s| s.to_str()).unwrap_or("");
        if name == "description-only" {
            assert!(report.changes.is_empty(), "{name}: {:?}", report.changes);
        } else {
            assert!(!report.changes.is_empty(), "{name} reports no change");
        }
    }
}

/// The classification of the changes whose side is easy to get backwards.
#[test]
fn direction_decides_whom_a_payload_change_breaks() {
    let base = load(&dir().join("base.yaml"));
    let sides = |name: &str| -> (Impact, Impact) {
        let report = diff(&base, &load(&dir().join(format!("{name}.yaml"))));
        let worst = |f: fn(&wsauth_gen::diff::Change) -> Impact| {
            report
                .changes
                .iter()
                .map(f)
                .max()
                .unwrap_or(Impact::Compatible)
        };
        (worst(|c| c.servers), worst(|c| c.clients))
    };
    use Impact::{Breaking as B, Compatible as C};
    // (servers, clients)
    assert_eq!(sides("bound-tightened-on-received"), (C, B));
    assert_eq!(sides("bound-loosened-on-received"), (C, C));
    assert_eq!(sides("bound-loosened-on-sent"), (C, B));
    assert_eq!(sides("field-added-optional-to-received"), (C, C));
    assert_eq!(sides("field-added-optional-to-sent"), (B, B));
    assert_eq!(sides("field-added-required-to-received"), (C, B));
    assert_eq!(sides("enum-value-added-to-sent"), (C, B));
    assert_eq!(sides("enum-value-removed-from-received"), (B, B));
    assert_eq!(sides("receives-added"), (B, C));
    assert_eq!(sides("sends-added"), (C, B));
    assert_eq!(sides("sends-removed"), (B, C));
    assert_eq!(sides("endpoint-added"), (B, C));
    assert_eq!(sides("endpoint-permission-widened-by-role"), (C, C));
    assert_eq!(sides("close-reason-changed"), (C, C));
    assert_eq!(sides("limit-raised"), (C, C));
    assert_eq!(sides("limit-lowered"), (C, B));
}

#[test]
fn the_exit_code_tells_ci_whether_anything_breaks() {
    let run = |new: &str| {
        Command::new(env!("CARGO_BIN_EXE_wsauth-gen"))
            .arg("diff")
            .arg(dir().join("base.yaml"))
            .arg(dir().join(new))
            .output()
            .unwrap_or_else(|e| panic!("{e}"))
    };
    assert_eq!(run("description-only.yaml").status.code(), Some(0));
    assert_eq!(run("limit-raised.yaml").status.code(), Some(0));
    let breaking = run("receives-removed.yaml");
    assert_eq!(breaking.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&breaking.stdout).contains("| **breaking** |"));
    assert_eq!(run("missing.yaml").status.code(), Some(2));
}
