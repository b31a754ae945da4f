//! Running the client lines of an example's seed document for real (feature
//! `testing`).
//!
//! Each example comes from a document (`../shared/seeds/`) that shows how a
//! client connects: a Python class on the `websockets` package, JavaScript
//! for a browser or for Node, a `websocat` line. Those lines are the
//! example's contract, so its tests keep them, byte for byte (under a
//! comment naming their lines), as files under `tests/seed/`, and run them
//! against the example on 127.0.0.1 with the real interpreter: `python3`
//! with `websockets` from PyPI, `node` with its own `WebSocket` (or the `ws`
//! package, for the lines written for it), TypeScript after the TypeScript
//! compiler strips its types ([`typescript`]).
//!
//! Only the host, the port and the token differ from the document:
//! [`substituted`] replaces them in the text, and fails when a placeholder
//! is not there, so a snippet edited out of shape is noticed. What a snippet
//! takes from its page (`localStorage`, callbacks the document leaves to the
//! app) is defined by the test ahead of the snippet's text, and [`report`]
//! prints what a bare socket receives. A snippet that never ends (a client
//! that listens forever) is read line by line with [`Script::line`] and
//! killed when the test is done. Everything here panics on failure: it is
//! test code.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use tokio::sync::mpsc::{UnboundedReceiver, unbounded_channel};

/// The `websockets` release the Python snippets run on (`.ci/test` installs
/// it).
pub const PYTHON_WEBSOCKETS: &str = "websockets==15.0.1";

/// The repository's root folder.
fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .canonicalize()
        .unwrap_or_else(|e| panic!("the repository root: {e}"))
}

/// The text of snippet file `name` in `dir` (an example's `tests/seed/`).
pub fn snippet(dir: &Path, name: &str) -> String {
    let path = dir.join(name);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// `text` with every occurrence of each `(placeholder, value)` replaced;
/// panics when a placeholder does not occur.
pub fn substituted(text: &str, replacements: &[(&str, &str)]) -> String {
    let mut out = text.to_owned();
    for (placeholder, value) in replacements {
        assert!(
            out.contains(placeholder),
            "the snippet no longer contains `{placeholder}`:\n{out}"
        );
        out = out.replace(placeholder, value);
    }
    out
}

/// JavaScript to append to a snippet that opens the `WebSocket` named
/// `socket` and prints nothing itself: it prints `[seed] message <data>`
/// for each message and `[seed] close <code> <reason>` at the close, then
/// ends the process.
pub fn report(socket: &str) -> String {
    format!(
        r#"
;{{ // seed test: report what the snippet's socket gets
  const socket = {socket};
  socket.addEventListener('message', (e) => console.log(`[seed] message ${{e.data}}`));
  socket.addEventListener('close', (e) => {{
    console.log(`[seed] close ${{e.code}} ${{e.reason}}`);
    process.exit(0);
  }});
}}
"#
    )
}

/// One output line of a running snippet.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Line {
    /// A line on stdout.
    Out(String),
    /// A line on stderr.
    Err(String),
}

/// A snippet running in its interpreter, killed when dropped.
#[derive(Debug)]
pub struct Script {
    child: Child,
    lines: UnboundedReceiver<Line>,
    seen: Vec<Line>,
    unreturned: Vec<String>,
    file: PathBuf,
}

/// A fresh path in the temporary folder, with `extension`.
fn script_path(extension: &str) -> PathBuf {
    static NEXT: AtomicUsize = AtomicUsize::new(0);
    let n = NEXT.fetch_add(1, Ordering::Relaxed);
    std::env::temp_dir().join(format!(
        "wsauth-seed-{}-{n}.{extension}",
        std::process::id()
    ))
}

/// Whether `program args` runs and exits successfully.
fn succeeds(program: &str, args: &[&str]) -> bool {
    Command::new(program)
        .args(args)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

/// Runs `text` with `python3` (unbuffered), after checking that the
/// `websockets` package is there.
pub fn python(text: &str) -> Script {
    assert!(
        succeeds("python3", &["-c", "import websockets"]),
        "python3 with the `websockets` package is missing: run `pip install {PYTHON_WEBSOCKETS}` (or `bash .ci/test`)"
    );
    let mut command = Command::new("python3");
    command.arg("-u");
    Script::start(command, "py", text)
}

/// Runs `text` as a CommonJS module with `node`, its global `WebSocket`
/// switched on (Node 20 keeps it behind a flag) and `require` finding the
/// packages of `js/` (`ws`).
pub fn node(text: &str) -> Script {
    let modules = repo_root().join("js/node_modules");
    assert!(
        modules.join("ws").is_dir(),
        "{} has no `ws`: run `npm ci --prefix js` (or `bash .ci/test`)",
        modules.display()
    );
    let mut command = Command::new("node");
    command
        .arg("--experimental-websocket")
        .arg("--no-warnings")
        .env("NODE_PATH", &modules);
    Script::start(command, "cjs", text)
}

/// `text`, TypeScript, as JavaScript: its types stripped by the
/// TypeScript compiler of `js/` (`transpileModule`, nothing else changed).
pub fn typescript(text: &str) -> String {
    use std::io::Write;
    const STRIP: &str = "const ts = require('typescript'); let src = ''; \
        process.stdin.on('data', (d) => { src += d; }); \
        process.stdin.on('end', () => process.stdout.write(ts.transpileModule(src, \
        { compilerOptions: { target: ts.ScriptTarget.ES2022, module: ts.ModuleKind.CommonJS } }).outputText));";
    let modules = repo_root().join("js/node_modules");
    assert!(
        modules.join("typescript").is_dir(),
        "{} has no `typescript`: run `npm ci --prefix js` (or `bash .ci/test`)",
        modules.display()
    );
    let mut child = Command::new("node")
        .args(["-e", STRIP])
        .env("NODE_PATH", &modules)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot run node: {e}"));
    if let Some(mut stdin) = child.stdin.take() {
        stdin
            .write_all(text.as_bytes())
            .unwrap_or_else(|e| panic!("{e}"));
    }
    let output = child.wait_with_output().unwrap_or_else(|e| panic!("{e}"));
    assert!(
        output.status.success(),
        "transpiling failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout).unwrap_or_else(|e| panic!("{e}"))
}

impl Script {
    fn start(mut command: Command, extension: &str, text: &str) -> Script {
        let file = script_path(extension);
        std::fs::write(&file, text).unwrap_or_else(|e| panic!("{}: {e}", file.display()));
        let mut child = command
            .arg(&file)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot run {command:?}: {e}"));
        let (tx, lines) = unbounded_channel();
        if let Some(stdout) = child.stdout.take() {
            let tx = tx.clone();
            std::thread::spawn(move || {
                for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                    let _ = tx.send(Line::Out(line));
                }
            });
        }
        if let Some(stderr) = child.stderr.take() {
            std::thread::spawn(move || {
                for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                    let _ = tx.send(Line::Err(line));
                }
            });
        }
        Script {
            child,
            lines,
            seen: Vec::new(),
            unreturned: Vec::new(),
            file,
        }
    }

    /// The earliest line not returned before (on stdout or stderr:
    /// `console.error` writes there) for which `wanted` holds, within 10 s;
    /// panics with everything the script printed otherwise. Lines are
    /// matched in the order they arrived, but a line skipped by one call can
    /// still be returned by a later one: the two streams interleave in no
    /// fixed order.
    pub async fn line(&mut self, wanted: impl Fn(&str) -> bool) -> String {
        if let Some(i) = self.unreturned.iter().position(|l| wanted(l)) {
            return self.unreturned.remove(i);
        }
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match tokio::time::timeout(left, self.lines.recv()).await {
                Ok(Some(line)) => {
                    self.seen.push(line.clone());
                    let (Line::Out(text) | Line::Err(text)) = line;
                    if wanted(&text) {
                        return text;
                    }
                    self.unreturned.push(text);
                }
                Ok(None) | Err(_) => panic!(
                    "no such line from the snippet; it printed: {:#?}",
                    self.seen
                ),
            }
        }
    }

    /// The next line that starts with `prefix`, without the prefix.
    pub async fn after(&mut self, prefix: &str) -> String {
        let line = self.line(|l| l.starts_with(prefix)).await;
        line[prefix.len()..].to_owned()
    }

    /// The JSON of the next `[seed] message` line (see [`report`]).
    pub async fn message(&mut self) -> serde_json::Value {
        let text = self.after("[seed] message ").await;
        serde_json::from_str(&text).unwrap_or_else(|e| panic!("{e}: {text}"))
    }

    /// The code and reason of the `[seed] close` line (see [`report`]).
    pub async fn closed(&mut self) -> String {
        self.after("[seed] close ").await
    }

    /// Waits (at most 10 s) for the script to exit on its own: its exit code
    /// and the lines it printed (stdout and stderr) that no [`Script::line`]
    /// returned.
    pub async fn exit(mut self) -> (Option<i32>, Vec<String>) {
        let deadline = Instant::now() + Duration::from_secs(10);
        let status = loop {
            if let Some(status) = self.child.try_wait().unwrap_or_else(|e| panic!("{e}")) {
                break status;
            }
            assert!(
                Instant::now() < deadline,
                "the snippet did not exit; it printed: {:#?}",
                self.seen
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        };
        // The reader threads end with the pipes; drain what they read.
        let drain = async {
            while let Some(line) = self.lines.recv().await {
                self.seen.push(line.clone());
                let (Line::Out(text) | Line::Err(text)) = line;
                self.unreturned.push(text);
            }
        };
        let _ = tokio::time::timeout(Duration::from_secs(2), drain).await;
        (status.code(), std::mem::take(&mut self.unreturned))
    }

    /// Everything the script printed so far, stderr included.
    pub fn printed(&self) -> &[Line] {
        &self.seen
    }
}

impl Drop for Script {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_file(&self.file);
    }
}
