//! `wsauth-gen probe` against the seeds' own stack: ShipVox's FastAPI
//! server as its document shows it (`seeds/shipvox_server.py`: python-jose,
//! the token in the query, 1008 on refusals), probed with
//! `specs/shipvox.yaml`. Its faults are the document's; the probe must
//! name each one as a deviation:
//!
//! - refusals arrive as an HTTP 403, not the close 1008 the document
//!   promises (Starlette answers a close before `accept` that way; a
//!   browser sees 1006 and no reason);
//! - python-jose refuses every token with an `aud` when it is not told one,
//!   so the spec's own tokens (audience `shipvox-ws`) never get in;
//! - with the tokens the server itself issues (`POST /token`): no welcome
//!   message, no per-user connection limit, no rate limit, no message size
//!   limit (an oversize message that is not JSON kills the connection
//!   instead: 1006).
//!
//! Needs python3 with `fastapi`, `uvicorn`, `python-jose`,
//! `python-multipart` and `websockets` (`bash .ci/test` installs them).

#[path = "support/mod.rs"]
mod support;

use std::net::SocketAddr;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use wsauth_gen::probe::{self, Options, Report};

const PACKAGES: &str = "fastapi==0.142.2 uvicorn==0.54.0 python-jose==3.5.0 python-multipart==0.0.20 websockets==15.0.1";

/// The seed's server on a free loopback port, killed on drop.
struct Seed {
    child: Child,
    addr: SocketAddr,
}

impl Drop for Seed {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

async fn start() -> Seed {
    let import = Command::new("python3")
        .args(["-c", "import fastapi, uvicorn, jose, multipart, websockets"])
        .status();
    assert!(
        import.is_ok_and(|s| s.success()),
        "python3 lacks the seed's stack: run `python3 -m pip install {PACKAGES}` (or `bash .ci/test`)"
    );
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .unwrap_or_else(|e| panic!("{e}"))
        .port();
    let script = support::tools::repo_root().join("generated/tests/seeds/shipvox_server.py");
    let child = Command::new("python3")
        .arg(script)
        .arg(port.to_string())
        .env("WSAUTH_JWT_SECRET", support::SECRET)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap_or_else(|e| panic!("python3: {e}"));
    let seed = Seed {
        child,
        addr: SocketAddr::from(([127, 0, 0, 1], port)),
    };
    for _ in 0..200 {
        if tokio::net::TcpStream::connect(seed.addr).await.is_ok() {
            return seed;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!(
        "the seed's server did not listen on {} within 10 s",
        seed.addr
    );
}

/// A token from the server's own OAuth2 password grant, as its document's
/// clients get one.
async fn seed_token(addr: SocketAddr) -> String {
    let body = "username=user&password=password";
    let request = format!(
        "POST /token HTTP/1.1\r\nHost: {addr}\r\nContent-Type: application/x-www-form-urlencoded\r\n\
         Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    let mut stream = tokio::net::TcpStream::connect(addr)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    stream
        .write_all(request.as_bytes())
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let mut response = String::new();
    stream
        .read_to_string(&mut response)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let json = response.split("\r\n\r\n").nth(1).unwrap_or("");
    let value: serde_json::Value =
        serde_json::from_str(json).unwrap_or_else(|e| panic!("{e}: {response}"));
    value["access_token"]
        .as_str()
        .unwrap_or_else(|| panic!("no access_token: {response}"))
        .to_owned()
}

async fn probe(addr: SocketAddr, configure: impl FnOnce(&mut Options)) -> Report {
    let path = support::tools::repo_root().join("specs/shipvox.yaml");
    let api = wsauth_gen::load(&path).unwrap_or_else(|e| panic!("{e}"));
    let mut options = Options {
        url: format!("ws://{addr}"),
        subject: "user".into(),
        // The seed sends no welcome: each admission waits this long.
        timeout: Duration::from_secs(2),
        ..Options::default()
    };
    configure(&mut options);
    let checks = probe::plan(&api, &options).unwrap_or_else(|e| panic!("{e}"));
    probe::run(&api.name, &options, checks, |_, _, _| {}).await
}

/// The observed outcome of check `name` (which must have run).
fn seen(report: &Report, name: &str) -> (bool, String) {
    let outcome = report
        .outcomes
        .iter()
        .find(|o| o.check.name == name)
        .unwrap_or_else(|| panic!("no check `{name}`:\n{}", probe::table(report)));
    let observed = outcome
        .observed
        .as_ref()
        .unwrap_or_else(|| panic!("`{name}` was skipped:\n{}", probe::table(report)));
    (outcome.pass, observed.to_string())
}

#[tokio::test]
async fn the_seeds_faults_are_deviations() {
    let seed = start().await;

    // The spec's own tokens, minted with the server's secret.
    let minted = probe(seed.addr, |o| {
        o.secret = Some(support::SECRET.as_bytes().to_vec())
    })
    .await;
    let table = probe::table(&minted);
    assert_eq!(
        seen(&minted, "no token opens it"),
        (false, "HTTP 403".to_owned()),
        "a refusal is a 403, not the close 1008 the document promises:\n{table}"
    );
    assert_eq!(
        seen(&minted, "role `user` opens it"),
        (false, "HTTP 403".to_owned()),
        "python-jose refuses the spec's `aud`:\n{table}"
    );

    // The server's own tokens: admitted, so the live-socket limits show.
    let token = seed_token(seed.addr).await;
    let issued = probe(seed.addr, |o| {
        o.tokens = ["user", "moderator", "admin"]
            .iter()
            .map(|role| ((*role).to_owned(), token.clone()))
            .collect();
    })
    .await;
    let table = probe::table(&issued);
    assert_eq!(
        seen(&issued, "role `user` opens it"),
        (false, "open, but no welcome in time".to_owned()),
        "the spec's welcome `connected` never comes:\n{table}"
    );
    for (check, why) in [
        (
            "connection 4 of one user (max_connections_per_user 3)",
            "no per-user limit",
        ),
        (
            "25 frames at once (burst 10, 5 per second)",
            "no rate limit",
        ),
        (
            "a message of 16385 bytes (max_message_bytes + 1)",
            "no size limit",
        ),
        (
            "token: alg `none`, no signature",
            "a 403 where the spec closes 1008",
        ),
    ] {
        let (pass, observed) = seen(&issued, check);
        assert!(
            !pass,
            "{why}: `{check}` should deviate, saw {observed}:\n{table}"
        );
    }
}
