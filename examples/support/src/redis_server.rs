//! A real `redis-server` for the cluster tests: started on a free loopback
//! port without persistence, stopped (SIGKILL, by its PID) when dropped.
//!
//! The binary is `WSAUTH_REDIS_SERVER` or `redis-server` on the `PATH`
//! (Debian's package; `.ci/test` installs it). Without one, [`RedisServer::start`]
//! returns `None` and the test is skipped with a printed line, except in CI
//! (`CI` set), where it fails.
//!
//! Standard library only: `wsauth-core`'s cluster tests include this file
//! too (they cannot depend on this crate).

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A running `redis-server`, killed when dropped.
pub struct RedisServer {
    binary: PathBuf,
    port: u16,
    child: Option<Child>,
}

fn binary() -> Option<PathBuf> {
    if let Some(path) = std::env::var_os("WSAUTH_REDIS_SERVER") {
        return Some(PathBuf::from(path));
    }
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|dir| dir.join("redis-server"))
        .find(|candidate| candidate.is_file())
}

impl RedisServer {
    /// A fresh server, or `None` (after saying so) when there is no binary
    /// outside CI. Panics in CI without a binary, or when it does not start.
    pub fn start() -> Option<Self> {
        let Some(binary) = binary() else {
            assert!(
                std::env::var_os("CI").is_none(),
                "redis-server not found (PATH or WSAUTH_REDIS_SERVER): CI must install it (.ci/test)"
            );
            eprintln!("skipped: no redis-server on PATH (set WSAUTH_REDIS_SERVER)");
            return None;
        };
        for _ in 0..3 {
            let port = free_port();
            let mut server = RedisServer {
                binary: binary.clone(),
                port,
                child: None,
            };
            if server.spawn() {
                return Some(server);
            }
        }
        panic!("redis-server ({}) did not start", binary.display());
    }

    /// Its process id while it runs (for a benchmark's CPU figures).
    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(Child::id)
    }

    /// `redis://127.0.0.1:<port>`.
    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}", self.port)
    }

    /// Kills the server (SIGKILL): everything it held is lost.
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Freezes the server (SIGSTOP): connections stay open, nothing is
    /// answered; the "slow or deaf Redis" case.
    pub fn pause(&self) {
        self.signal("-STOP");
    }

    /// Lets a paused server run again (SIGCONT).
    pub fn resume(&self) {
        self.signal("-CONT");
    }

    fn signal(&self, signal: &str) {
        let Some(child) = &self.child else {
            panic!("redis-server is not running");
        };
        let status = Command::new("kill")
            .args([signal, &child.id().to_string()])
            .status()
            .unwrap_or_else(|e| panic!("kill {signal}: {e}"));
        assert!(status.success(), "kill {signal} failed");
    }

    /// Starts it again on the same port, empty.
    pub fn restart(&mut self) {
        self.kill();
        let deadline = Instant::now() + Duration::from_secs(10);
        while !self.spawn() {
            assert!(
                Instant::now() < deadline,
                "redis-server did not restart on port {}",
                self.port
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// Sends one command in Redis's inline form and returns the raw reply
    /// (for a test's look at what the cluster stored).
    pub fn command(&self, line: &str) -> String {
        let mut stream = TcpStream::connect(("127.0.0.1", self.port))
            .unwrap_or_else(|e| panic!("connect to redis: {e}"));
        let _ = stream.set_read_timeout(Some(Duration::from_secs(2)));
        stream
            .write_all(format!("{line}\r\n").as_bytes())
            .unwrap_or_else(|e| panic!("write to redis: {e}"));
        let mut reply = [0u8; 4096];
        let n = stream.read(&mut reply).unwrap_or(0);
        String::from_utf8_lossy(&reply[..n]).into_owned()
    }

    fn spawn(&mut self) -> bool {
        let dir = std::env::temp_dir();
        let child = Command::new(&self.binary)
            .args(["--bind", "127.0.0.1", "--port", &self.port.to_string()])
            .args(["--save", "", "--appendonly", "no", "--daemonize", "no"])
            .args(["--loglevel", "warning"])
            .arg("--dir")
            .arg(&dir)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn();
        let Ok(mut child) = child else {
            return false;
        };
        let deadline = Instant::now() + Duration::from_secs(5);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = child.try_wait() {
                return false;
            }
            if serves(self.port, child.id()) {
                self.child = Some(child);
                return true;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = child.kill();
        let _ = child.wait();
        false
    }
}

impl Drop for RedisServer {
    fn drop(&mut self) {
        self.kill();
    }
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .unwrap_or_else(|e| panic!("no free port: {e}"))
}

/// Whether the Redis answering on `port` is the process `pid`: a port
/// freed by another test and taken again by its Redis must not pass for
/// this one's.
fn serves(port: u16, pid: u32) -> bool {
    let Ok(mut stream) = TcpStream::connect(("127.0.0.1", port)) else {
        return false;
    };
    let _ = stream.set_read_timeout(Some(Duration::from_millis(500)));
    if stream.write_all(b"INFO server\r\n").is_err() {
        return false;
    }
    let mine = format!("\r\nprocess_id:{pid}\r\n");
    let mut reply = Vec::new();
    let mut chunk = [0u8; 4096];
    while reply.len() < 64 * 1024 {
        match stream.read(&mut chunk) {
            Ok(0) | Err(_) => return false,
            Ok(n) => reply.extend_from_slice(&chunk[..n]),
        }
        let text = String::from_utf8_lossy(&reply);
        if text.contains(&mine) {
            return true;
        }
        if text.contains("\r\nprocess_id:") && text.contains("\r\nrun_id:") {
            return false;
        }
    }
    false
}
