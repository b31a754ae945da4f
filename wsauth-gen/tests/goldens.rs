//! The checked-in output of `wsauth-gen build` (the `generated/` folder) is
//! what the generator makes of `specs/` now.
//!
//! CI also runs `wsauth-gen build --check`; this test makes plain
//! `cargo test` catch a stale golden too. `WSAUTH_BLESS=1` rewrites them.

use std::path::{Path, PathBuf};

use wsauth_gen::output::{self, Mode, Outcome};

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// Every spec under `specs/`, in name order.
fn specs() -> Vec<PathBuf> {
    let mut specs: Vec<PathBuf> = std::fs::read_dir(root().join("specs"))
        .unwrap_or_else(|e| panic!("specs/: {e}"))
        .map(|entry| entry.unwrap_or_else(|e| panic!("specs/: {e}")).path())
        .filter(|p| p.extension().is_some_and(|e| e == "yaml"))
        .collect();
    specs.sort();
    specs
}

#[test]
fn generated_files_are_current() {
    let mode = if std::env::var_os("WSAUTH_BLESS").is_some() {
        Mode::Write
    } else {
        Mode::Check
    };
    let mut stale = Vec::new();
    for spec in specs() {
        let api = wsauth_gen::load(&spec).unwrap_or_else(|e| panic!("{}: {e}", spec.display()));
        let files = wsauth_gen::generate::build(&api).unwrap_or_else(|e| panic!("{e}"));
        for file in files {
            let path = root().join("generated").join(&file.path);
            match output::emit(&path, &file.contents, mode).unwrap_or_else(|e| panic!("{e}")) {
                Outcome::Stale { diff } => {
                    eprint!("{diff}");
                    stale.push(file.path.display().to_string());
                }
                Outcome::Unchanged | Outcome::Written => {}
            }
        }
    }
    assert!(
        stale.is_empty(),
        "stale generated files (run `cargo run -p wsauth-gen -- build specs/*.yaml -o generated`, or WSAUTH_BLESS=1): {stale:?}"
    );
}
