//! What the tests of generated code share: the prsm example on 127.0.0.1:0,
//! and the JavaScript tools (`node`, the packages `npm ci` installs in `js/`,
//! Debian's Chromium).
//!
//! A missing tool fails the test with the command that installs it; it is
//! never a skip (`bash .ci/test` installs everything).

#![allow(dead_code, unreachable_pub)] // each test binary uses part of it

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::Command;

use tokio::sync::oneshot;
use tokio::task::JoinHandle;

/// The HS256 secret the test servers use.
pub const SECRET: &str = "generated-clients-test-secret-0123456789";

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

/// A running prsm example.
pub struct Prsm {
    /// Where it listens.
    pub addr: SocketAddr,
    /// Its server handle (stats, shutdown).
    pub server: wsauth_core::WsAuth,
    stop: Option<oneshot::Sender<()>>,
    serving: Option<JoinHandle<std::io::Result<()>>>,
}

impl Prsm {
    /// `ws://127.0.0.1:<port>`.
    pub fn ws_url(&self) -> String {
        format!("ws://{}", self.addr)
    }

    /// `http://127.0.0.1:<port>`: also the one origin browsers may connect from.
    pub fn http_url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Sends the shutdown signal (open sockets get 1001) and waits.
    pub async fn stop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(serving) = self.serving.take() {
            let _ = serving.await;
        }
    }
}

impl Drop for Prsm {
    fn drop(&mut self) {
        if let Some(serving) = &self.serving {
            serving.abort();
        }
    }
}

/// prsm with [`SECRET`], its own origin allowed, the seeded store changed by
/// `configure`, and `extra` routes (a test page, say) merged into its router.
pub async fn start_prsm(
    configure: impl FnOnce(prsm::Config) -> prsm::Config,
    extra: axum::Router,
) -> Prsm {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .unwrap_or_else(|e| panic!("bind: {e}"));
    let addr = listener
        .local_addr()
        .unwrap_or_else(|e| panic!("local_addr: {e}"));
    let mut config = prsm::Config::new(SECRET);
    config.allowed_origins = vec![format!("http://{addr}")];
    let (router, server) = prsm::app(configure(config)).unwrap_or_else(|e| panic!("prsm: {e}"));
    let (stop, stopped) = oneshot::channel::<()>();
    let signal = async move {
        let _ = stopped.await;
    };
    let serving = tokio::spawn(prsm::serve(
        listener,
        router.merge(extra),
        server.clone(),
        signal,
    ));
    Prsm {
        addr,
        server,
        stop: Some(stop),
        serving: Some(serving),
    }
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
