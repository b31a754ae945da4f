//! The non-expiring development token: accepted only by the server that
//! minted it, only when asked for, and never closed for expiry.

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use serde_json::json;

use crate::common::*;

#[tokio::test]
async fn the_dev_token_works_only_on_the_server_that_minted_it() {
    let dev = start_with(|mut c| {
        c.dev_token = Some("alice".into());
        c
    })
    .await;
    let token = dev
        .dev_token
        .clone()
        .unwrap_or_else(|| panic!("no dev token"));
    let claims = payload(&token);
    assert_eq!(claims["sub"], "alice");
    assert!(claims.get("exp").is_none(), "{claims}");
    assert!(
        claims["jti"].as_str().is_some_and(|j| j.len() == 32),
        "{claims}"
    );

    let mut client = connect_with(dev.addr, &token).await;
    expect_welcome(&mut client, "alice").await;

    // A server without the flag refuses it, as does one whose flag minted
    // another token (a restart), and a hand-made token without exp.
    let plain = start().await;
    assert!(plain.dev_token.is_none());
    let other_dev = start_with(|mut c| {
        c.dev_token = Some("alice".into());
        c
    })
    .await;
    let mut forged = claims.clone();
    forged["jti"] = json!("00000000000000000000000000000000");
    for (what, addr, token) in [
        ("no flag", plain.addr, token.clone()),
        ("another run", other_dev.addr, token.clone()),
        ("another jti", dev.addr, sign(&forged, SECRET)),
    ] {
        let (code, reason) = rejected(ws(addr, &format!("/ws?token={token}"))).await;
        assert_eq!(
            (code, reason.as_str()),
            (1008, "Invalid or expired token"),
            "{what}"
        );
    }
}

#[tokio::test]
async fn a_dev_token_connection_is_not_closed_for_expiry() {
    let app = start_with(|mut c| {
        c.dev_token = Some("mod".into());
        c
    })
    .await;
    let dev_token = app
        .dev_token
        .clone()
        .unwrap_or_else(|| panic!("no dev token"));
    let mut dev = connect_with(app.addr, &dev_token).await;
    expect_welcome(&mut dev, "mod").await;
    let mut short = claims("bob", &["user"]);
    // Good until exp + the spec's 5 s leeway: 1 s left.
    short["exp"] = json!(now() + 1 - 5);
    let mut expiring = connect_with(app.addr, &sign(&short, SECRET)).await;
    expect_welcome(&mut expiring, "bob").await;
    let (_, close) = until_close_within(&mut expiring, Duration::from_secs(5)).await;
    assert_eq!(close, Some((4001, "token expired".to_owned())));
    // The dev connection outlives it and still works.
    send_json(&mut dev, json!({"type": "say", "text": "still here"})).await;
    let relayed = next_json(&mut dev).await;
    assert_eq!(relayed["from"], "mod");
    assert_eq!(relayed["text"], "still here");
    assert_eq!(app.server.stats().active_connections, 1);
}

/// The binary, started with `args` and a good secret; stderr is read line
/// by line (by a thread, for as long as the process lives) until the
/// listening address shows up.
pub(crate) struct Binary {
    child: Child,
    pub(crate) addr: SocketAddr,
    pub(crate) stderr: Vec<String>,
}

impl Drop for Binary {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub(crate) fn spawn_binary(args: &[&str]) -> Binary {
    let mut child = Command::new(env!("CARGO_BIN_EXE_shipvox"))
        .args(["--addr", "127.0.0.1:0"])
        .args(args)
        .env(
            "WSAUTH_JWT_SECRET",
            std::str::from_utf8(SECRET).unwrap_or_default(),
        )
        .env("RUST_LOG", "info")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("{e}"));
    let stderr = child.stderr.take().unwrap_or_else(|| panic!("no stderr"));
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        // Keeps draining after the test stops listening, so the child never
        // writes to a closed or full pipe.
        for line in BufReader::new(stderr).lines() {
            let Ok(line) = line else { break };
            let _ = tx.send(line);
        }
    });
    let mut lines = Vec::new();
    let mut addr = None;
    while let Ok(line) = rx.recv_timeout(Duration::from_secs(20)) {
        let listening = line.contains("shipvox listening");
        if listening {
            addr = line
                .split("addr=")
                .nth(1)
                .and_then(|rest| rest.split_whitespace().next())
                .and_then(|a| a.parse().ok());
        }
        lines.push(line);
        if listening {
            break;
        }
    }
    let addr = addr.unwrap_or_else(|| panic!("no listening line: {lines:#?}"));
    Binary {
        child,
        addr,
        stderr: lines,
    }
}

#[tokio::test]
async fn the_binary_prints_a_dev_token_only_with_the_flag_and_warns_loudly() {
    let binary = tokio::task::spawn_blocking(|| spawn_binary(&["--dev-token"]))
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let text = binary.stderr.join("\n");
    assert!(text.contains("WARNING: DEVELOPMENT MODE"), "{text}");
    assert!(text.contains("NEVER EXPIRES"), "{text}");
    let warn = binary
        .stderr
        .iter()
        .find(|l| l.contains("WARN") && l.contains("DEVELOPMENT MODE"));
    assert!(warn.is_some(), "a tracing warning too: {text}");
    let token = binary
        .stderr
        .iter()
        .find_map(|l| l.split("dev token: ").nth(1))
        .map(str::trim)
        .unwrap_or_else(|| panic!("no token printed: {text}"))
        .to_owned();
    assert!(payload(&token).get("exp").is_none());
    // The document's `/test-token` hands out the same token (for `user`,
    // the document's account), never cached.
    let answer = reqwest::get(format!("http://{}/test-token", binary.addr))
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(answer.status().as_u16(), 200);
    let no_store = answer.headers().get("cache-control").cloned();
    assert_eq!(
        no_store.as_ref().and_then(|v| v.to_str().ok()),
        Some("no-store")
    );
    let body: serde_json::Value = answer.json().await.unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(body["test_token"], token.as_str(), "{body}");
    assert!(
        body["note"].as_str().is_some_and(|n| n.contains("'user'")),
        "{body}"
    );
    let mut client = connect_with(binary.addr, &token).await;
    expect_welcome(&mut client, "user").await;
    send_json(&mut client, json!({"type": "say", "text": "dev"})).await;
    assert_eq!(next_json(&mut client).await["from"], "user");

    // Without the flag: no token, no warning, and the same token is refused.
    let plain = tokio::task::spawn_blocking(|| spawn_binary(&[]))
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let text = plain.stderr.join("\n");
    assert!(
        !text.contains("dev token") && !text.contains("WARNING"),
        "{text}"
    );
    let (code, _) = rejected(ws(plain.addr, &format!("/ws?token={token}"))).await;
    assert_eq!(code, 1008);
    let answer = reqwest::get(format!("http://{}/test-token", plain.addr))
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(
        answer.status().as_u16(),
        404,
        "no test token without the flag"
    );
}

#[test]
fn the_dev_token_must_name_an_active_user() {
    let output = Command::new(env!("CARGO_BIN_EXE_shipvox"))
        .args(["--addr", "127.0.0.1:0", "--dev-token", "mallory"])
        .env(
            "WSAUTH_JWT_SECRET",
            std::str::from_utf8(SECRET).unwrap_or_default(),
        )
        .output()
        .unwrap_or_else(|e| panic!("{e}"));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("`mallory` is not an active user"),
        "{stderr}"
    );
    assert!(!stderr.contains("dev token:"), "{stderr}");
}
