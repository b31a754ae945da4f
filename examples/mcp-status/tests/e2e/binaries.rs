//! The two binaries as processes: configuration errors, and the pair
//! working together (`mcp-status --introspection-url` asking
//! `mcp-introspect`).

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::process::{Child, Command, Stdio};

use crate::common::*;

const STATUS: &str = env!("CARGO_BIN_EXE_mcp-status");
const INTROSPECT: &str = env!("CARGO_BIN_EXE_mcp-introspect");

/// Runs `binary` with `args` and `secret` to completion: exit code, stderr.
fn run(binary: &str, args: &[&str], secret: Option<&str>) -> (Option<i32>, String) {
    let mut command = Command::new(binary);
    command
        .args(args)
        .env_remove("WSAUTH_JWT_SECRET")
        .env_remove(mcp_status::CLIENT_SECRET_ENV);
    if let Some(secret) = secret {
        command.env("WSAUTH_JWT_SECRET", secret);
    }
    output(&mut command)
}

#[test]
fn the_binaries_refuse_to_start_without_a_proper_configuration() {
    for binary in [STATUS, INTROSPECT] {
        let (code, stderr) = run(binary, &["--addr", "127.0.0.1:0"], None);
        assert_eq!(code, Some(2), "{stderr}");
        assert!(stderr.contains("WSAUTH_JWT_SECRET is not set"), "{stderr}");
        let (code, stderr) = run(binary, &["--addr", "127.0.0.1:0"], Some("short"));
        assert_eq!(code, Some(2), "{stderr}");
        assert!(stderr.contains("must have at least 32"), "{stderr}");
    }
    let secret = std::str::from_utf8(SECRET).unwrap_or_else(|e| panic!("{e}"));
    let (code, stderr) = run(
        STATUS,
        &[
            "--addr",
            "127.0.0.1:0",
            "--introspection-url",
            "http://auth.example/introspect",
        ],
        Some(secret),
    );
    assert_eq!(code, Some(2), "{stderr}");
    assert!(
        stderr.contains("plain http is only allowed to a loopback"),
        "{stderr}"
    );
    let (code, stderr) = run(
        STATUS,
        &[
            "--introspection-url",
            "http://127.0.0.1:9/introspect",
            "--introspection-client-id",
            "mcp-status",
        ],
        Some(secret),
    );
    assert_eq!(code, Some(2), "{stderr}");
    assert!(stderr.contains(mcp_status::CLIENT_SECRET_ENV), "{stderr}");
}

/// A child process killed when dropped.
struct Running(Child);

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Starts `binary` on 127.0.0.1:0 and reads the address it printed.
fn spawn(binary: &str, args: &[&str]) -> (Running, SocketAddr) {
    let secret = std::str::from_utf8(SECRET).unwrap_or_else(|e| panic!("{e}"));
    let mut child = Command::new(binary)
        .args(["--addr", "127.0.0.1:0"])
        .args(args)
        .env("WSAUTH_JWT_SECRET", secret)
        .env("RUST_LOG", "warn")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap_or_else(|e| panic!("{e}"));
    let stdout = child.stdout.take().unwrap_or_else(|| panic!("no stdout"));
    let running = Running(child);
    let mut line = String::new();
    BufReader::new(stdout)
        .read_line(&mut line)
        .unwrap_or_else(|e| panic!("{e}"));
    let addr = line
        .trim()
        .rsplit("://")
        .next()
        .and_then(|a| a.parse().ok())
        .unwrap_or_else(|| panic!("no address in {line:?}"));
    (running, addr)
}

#[tokio::test]
async fn the_binaries_work_together() {
    let (_introspect, service) = spawn(INTROSPECT, &["--inactive-user", "dev"]);
    let url = format!("http://{service}/introspect");
    let (_status, addr) = spawn(
        STATUS,
        &["--introspection-url", &url, "--simulate-every", "0"],
    );
    let mut admin = admitted(addr, &token("admin", "admin")).await;
    send_text(&mut admin, "ping").await;
    assert_eq!(next_text(&mut admin).await, r#""pong""#);
    // dev's token is valid, and the service says it is not active.
    assert_eq!(
        rejected(bearer(addr, &token("dev", "developer"))).await,
        (
            1008,
            "Authentication failed: Invalid or expired token".to_owned()
        )
    );
    assert_eq!(
        rejected(bearer(addr, &token("bob", "user"))).await,
        (
            1008,
            "Insufficient permissions: role not authorized".to_owned()
        )
    );
}

#[tokio::test]
async fn the_binary_simulates_changes() {
    let (_status, addr) = spawn(STATUS, &["--simulate-every", "1"]);
    let mut client = admitted(addr, &token("dba", "dba")).await;
    let change = next_json(&mut client).await;
    assert_eq!(change["type"], "mcp_status_change", "{change}");
    let event = next_json(&mut client).await;
    assert_eq!(event["type"], "health_event", "{event}");
}
