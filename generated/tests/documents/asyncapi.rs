//! The AsyncAPI goldens pass the official parser.
//!
//! `js/check-asyncapi.mjs` runs `@asyncapi/parser` 3.x (the AsyncAPI 3.0 JSON
//! Schema, reference resolution and the parser's spectral rules) over each
//! file and fails on any error or warning. A deliberately broken document
//! shows that the check can fail, and that it names the problem.

use std::path::PathBuf;

use crate::support::tools::{js_dir, node, repo_root, run, spec_names};

fn goldens() -> Vec<PathBuf> {
    let root = repo_root().join("generated");
    spec_names()
        .iter()
        .flat_map(|spec| ["asyncapi.yaml", "asyncapi.json"].map(|file| root.join(spec).join(file)))
        .collect()
}

#[test]
fn goldens_pass_the_official_parser() {
    let files = goldens();
    let mut node = node();
    node.arg("check-asyncapi.mjs").args(&files);
    let out = run(node);
    assert!(
        out.contains(&format!("{} passed, 0 failed", files.len())),
        "{out}"
    );
    for line in out.lines() {
        assert!(
            !line.contains(": error ") && !line.contains(": warning "),
            "a golden has a diagnostic:\n{out}"
        );
    }
}

#[test]
fn a_broken_document_fails_and_says_why() {
    let fixture = js_dir().join("fixtures/broken-asyncapi.yaml");
    let mut node = node();
    node.arg("check-asyncapi.mjs").arg(&fixture);
    let output = node
        .output()
        .unwrap_or_else(|e| panic!("cannot run node: {e}"));
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        !output.status.success(),
        "the broken fixture passed:\n{stdout}"
    );
    assert!(
        stdout.contains("error invalid-ref")
            && stdout.contains("'#/channels/missing' does not exist"),
        "the output does not name the dangling reference:\n{stdout}"
    );
    assert!(stdout.contains("0 passed, 1 failed"), "{stdout}");
}
