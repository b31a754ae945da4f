//! The repository's folders and the JavaScript tools the tests drive.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Once;

/// The repository's root folder.
pub fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap_or_else(|| panic!("generated/ has a parent"))
        .to_owned()
}

/// The name of every spec in `specs/` (each has a folder of generated
/// files), sorted: a spec added there is covered by every test at once.
pub fn spec_names() -> Vec<String> {
    let dir = repo_root().join("specs");
    let mut names: Vec<String> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|entry| {
            entry
                .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
                .path()
        })
        .filter(|p| p.extension().is_some_and(|e| e == "yaml"))
        .filter_map(|p| Some(p.file_stem()?.to_str()?.to_owned()))
        .collect();
    names.sort();
    assert!(!names.is_empty(), "no specs in {}", dir.display());
    names
}

/// `js/`, where `package.json` lists the JavaScript tools.
pub fn js_dir() -> PathBuf {
    repo_root().join("js")
}

/// A `node` command in `js/`, after checking that `npm ci` has run there.
pub fn node() -> Command {
    let modules = js_dir().join("node_modules");
    assert!(
        modules.is_dir(),
        "{} is missing: run `npm ci --prefix js` (or `bash .ci/test`, which installs every tool the tests use)",
        modules.display()
    );
    let mut command = Command::new("node");
    command.current_dir(js_dir());
    command
}

/// Compiles the TypeScript (generated clients and tests) into `js/out/`,
/// once per test binary: the tests that run the output share it, and two
/// compilers writing `js/out/` at once would race.
pub fn compile_typescript() {
    static COMPILED: Once = Once::new();
    COMPILED.call_once(|| {
        let mut tsc = node();
        tsc.args(["node_modules/typescript/bin/tsc", "-p", "tsconfig.json"]);
        run(tsc);
    });
}

/// Debian's Chromium, for playwright-core (`executablePath`).
pub fn chromium() -> PathBuf {
    let path =
        PathBuf::from(std::env::var_os("CHROMIUM").unwrap_or_else(|| "/usr/bin/chromium".into()));
    assert!(
        path.exists(),
        "{} is missing: run `apt-get install -y chromium` (or `bash .ci/test`), or set CHROMIUM",
        path.display()
    );
    path
}

/// Runs `command`, failing the test with its output unless it succeeds.
pub fn run(mut command: Command) -> String {
    let output = command
        .output()
        .unwrap_or_else(|e| panic!("cannot run {command:?}: {e}"));
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success(),
        "{command:?} failed ({}):\n--- stdout\n{stdout}\n--- stderr\n{stderr}",
        output.status
    );
    stdout
}

/// Runs `command` off the async runtime (a test's server keeps serving
/// meanwhile), failing the test with its output unless it succeeds.
pub async fn run_blocking(command: Command) -> String {
    tokio::task::spawn_blocking(move || run(command))
        .await
        .unwrap_or_else(|e| panic!("node: {e}"))
}
