//! The binary's configuration: the secret from the environment, `--addr`.

use std::process::Command;

fn run(secret: Option<&str>, args: &[&str]) -> (Option<i32>, String) {
    let mut command = Command::new(env!("CARGO_BIN_EXE_shipvox"));
    command.args(args).env_remove("WSAUTH_JWT_SECRET");
    if let Some(secret) = secret {
        command.env("WSAUTH_JWT_SECRET", secret);
    }
    wsauth_example_support::testing::output(&mut command)
}

#[test]
fn the_binary_refuses_to_start_without_a_proper_secret() {
    let (code, stderr) = run(None, &["--addr", "127.0.0.1:0"]);
    assert_eq!(code, Some(1), "{stderr}");
    assert!(stderr.contains("WSAUTH_JWT_SECRET is not set"), "{stderr}");
    let (code, stderr) = run(Some("short"), &["--addr", "127.0.0.1:0"]);
    assert_eq!(code, Some(1), "{stderr}");
    assert!(stderr.contains("must have at least 32"), "{stderr}");
}

#[test]
fn the_binary_reports_an_address_it_cannot_use() {
    let secret = "0123456789abcdef0123456789abcdef";
    let (code, stderr) = run(Some(secret), &["--addr", "not-an-address"]);
    assert_eq!(code, Some(2), "clap refuses it: {stderr}");
    // Port 1 on a non-local address cannot be bound.
    let (code, stderr) = run(Some(secret), &["--addr", "192.0.2.1:1"]);
    assert_eq!(code, Some(1), "{stderr}");
    assert!(stderr.contains("cannot listen on 192.0.2.1:1"), "{stderr}");
}
