//! The TypeScript goldens are real code: every generated client passes
//! `tsc --strict` (with `noUnusedLocals`, `noImplicitReturns`,
//! `exactOptionalPropertyTypes` and more, see `js/tsconfig.json`) together
//! with the TypeScript tests that use them, and compiles both for Node
//! (`@types/node`, no DOM) and for browsers (the DOM library, no Node types),
//! so it depends on neither.

use crate::support::tools::{node, repo_root, run, spec_names};

#[test]
fn goldens_and_tests_pass_tsc_strict() {
    let mut tsc = node();
    tsc.args([
        "node_modules/typescript/bin/tsc",
        "-p",
        "tsconfig.json",
        "--noEmit",
    ]);
    run(tsc);
}

#[test]
fn goldens_compile_against_the_dom_alone() {
    let mut tsc = node();
    tsc.args([
        "node_modules/typescript/bin/tsc",
        "-p",
        "tests/tsconfig.dom.json",
    ]);
    run(tsc);
}

#[test]
fn every_spec_has_a_typescript_golden() {
    for spec in &spec_names() {
        let path = repo_root()
            .join("generated")
            .join(spec)
            .join(format!("{spec}.ts"));
        let text =
            std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        assert!(
            text.contains("export class Connection<"),
            "{} is not a generated client",
            path.display()
        );
    }
}
