//! Golden diagnostics: one invalid spec per kind of problem, and a fixture
//! for every diagnostic code the reader and the validator can emit.
//!
//! Each `tests/fixtures/invalid/NAME.yaml` starts with a comment naming the
//! diagnostic codes it must produce, in order:
//!
//! ```yaml
//! # expect: wsauth::unknown_permission
//! ```
//!
//! and `NAME.stderr` holds the rendered report (file:line:column, snippet,
//! help). Run with `WSAUTH_BLESS=1` to rewrite the `.stderr` files after an
//! intended change to the messages, then review the diff.

use std::fs;
use std::path::{Path, PathBuf};

use wsauth_gen::{SourceFile, load_source};

fn fixtures() -> Vec<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/invalid");
    let mut files: Vec<PathBuf> = fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("cannot list {}: {e}", dir.display()))
        .filter_map(|entry| entry.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "yaml"))
        .collect();
    files.sort();
    files
}

fn expected_codes(text: &str, path: &Path) -> Vec<String> {
    let first = text.lines().next().unwrap_or_default();
    let Some(codes) = first.strip_prefix("# expect:") else {
        panic!(
            "{} must start with `# expect: CODE[, CODE...]`",
            path.display()
        );
    };
    codes.split(',').map(|c| c.trim().to_owned()).collect()
}

#[test]
fn every_invalid_fixture_reports_its_problems_as_in_its_golden() {
    let bless = std::env::var_os("WSAUTH_BLESS").is_some();
    let files = fixtures();
    assert!(
        files.len() >= 20,
        "expected the full fixture set, found {}",
        files.len()
    );
    let mut failures = Vec::new();
    for path in files {
        let text = fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        let name = format!(
            "tests/fixtures/invalid/{}",
            path.file_name().unwrap_or_default().to_string_lossy()
        );
        let errors = match load_source(&SourceFile::new(&name, text.as_str())) {
            Ok(_) => {
                failures.push(format!("{name}: accepted, but it is invalid"));
                continue;
            }
            Err(errors) => errors,
        };
        let codes: Vec<&str> = errors.diagnostics.iter().map(|d| d.code).collect();
        let expected = expected_codes(&text, &path);
        if codes != expected {
            failures.push(format!("{name}: produced {codes:?}, expected {expected:?}"));
        }
        let rendered = errors.render_plain();
        let golden = path.with_extension("stderr");
        if bless {
            fs::write(&golden, &rendered).unwrap_or_else(|e| panic!("{}: {e}", golden.display()));
            continue;
        }
        match fs::read_to_string(&golden) {
            Ok(want) if want == rendered => {}
            Ok(want) => failures.push(format!(
                "{name}: rendering changed (WSAUTH_BLESS=1 to accept)\n{}",
                similar::TextDiff::from_lines(&want, &rendered)
                    .unified_diff()
                    .header("golden", "now")
            )),
            Err(_) => failures.push(format!("{name}: no golden {}", golden.display())),
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}

#[test]
fn goldens_show_file_line_and_column() {
    for path in fixtures() {
        let golden = fs::read_to_string(path.with_extension("stderr")).unwrap_or_default();
        let stem = path
            .file_name()
            .unwrap_or_default()
            .to_string_lossy()
            .into_owned();
        let located = golden
            .lines()
            .any(|l| l.contains(&format!("[tests/fixtures/invalid/{stem}:")));
        assert!(
            located,
            "{stem}: golden shows no file:line:column\n{golden}"
        );
    }
}

/// Every `wsauth::` code written in the reader's and the validator's
/// sources, as the string literals they are built from.
fn codes_in_sources() -> std::collections::BTreeSet<String> {
    fn walk(dir: &Path, out: &mut std::collections::BTreeSet<String>) {
        let entries = fs::read_dir(dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display()));
        for path in entries.filter_map(|e| e.ok().map(|e| e.path())) {
            if path.is_dir() {
                walk(&path, out);
            } else if path.extension().is_some_and(|x| x == "rs") {
                let text = fs::read_to_string(&path).unwrap_or_default();
                for (at, _) in text.match_indices("\"wsauth::") {
                    let code: String = text[at + 1..].chars().take_while(|c| *c != '"').collect();
                    if code["wsauth::".len()..]
                        .chars()
                        .all(|c| c.is_ascii_lowercase() || c == '_')
                    {
                        out.insert(code);
                    }
                }
            }
        }
    }
    let mut codes = std::collections::BTreeSet::new();
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    walk(&src.join("spec"), &mut codes);
    walk(&src.join("validate"), &mut codes);
    codes
}

#[test]
fn every_diagnostic_code_has_a_fixture() {
    // The fallback of `Validator::unknown` for a kind of name it is never
    // called with: no spec can produce it.
    const UNREACHABLE: &[&str] = &["wsauth::unknown_name"];
    let mut covered = std::collections::BTreeSet::new();
    for path in fixtures() {
        let text = fs::read_to_string(&path).unwrap_or_default();
        covered.extend(expected_codes(&text, &path));
    }
    let codes = codes_in_sources();
    assert!(codes.len() >= 60, "the scan found {} codes", codes.len());
    let missing: Vec<&String> = codes
        .iter()
        .filter(|c| !covered.contains(*c) && !UNREACHABLE.contains(&c.as_str()))
        .collect();
    assert!(
        missing.is_empty(),
        "codes without a fixture in tests/fixtures/invalid: {missing:?}"
    );
}
