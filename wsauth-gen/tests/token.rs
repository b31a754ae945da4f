//! `wsauth-gen token` as a user runs it: the token alone on standard
//! output, accepted by an independent JWT library with the spec's claims;
//! refusals on standard error, never echoing the secret.

use std::process::{Command, Output};

use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use serde_json::Value;

const SECRET: &str = "cli-test-secret-0123456789abcdefghij";

fn run(args: &[&str], secret: Option<&str>) -> Output {
    let spec = concat!(env!("CARGO_MANIFEST_DIR"), "/../specs/prsm.yaml");
    let mut command = Command::new(env!("CARGO_BIN_EXE_wsauth-gen"));
    command.arg("token").arg(spec).args(args);
    command.env_remove("WSAUTH_JWT_SECRET");
    if let Some(secret) = secret {
        command.env("WSAUTH_JWT_SECRET", secret);
    }
    command.output().unwrap_or_else(|e| panic!("{e}"))
}

#[test]
fn prints_a_token_the_spec_accepts_and_nothing_else() {
    let out = run(
        &["--sub", "alice", "--roles", "user,moderator", "--ttl", "5m"],
        Some(SECRET),
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stdout = String::from_utf8(out.stdout).unwrap_or_else(|e| panic!("{e}"));
    let token = stdout
        .strip_suffix('\n')
        .unwrap_or_else(|| panic!("{stdout:?}"));
    assert!(!token.contains(char::is_whitespace), "{stdout:?}");
    let mut validation = Validation::new(Algorithm::HS256);
    validation.set_issuer(&["prsm"]);
    validation.set_audience(&["prsm-ws"]);
    let claims = jsonwebtoken::decode::<Value>(
        token,
        &DecodingKey::from_secret(SECRET.as_bytes()),
        &validation,
    )
    .unwrap_or_else(|e| panic!("{e}"))
    .claims;
    assert_eq!(claims["sub"], "alice");
    assert_eq!(claims["roles"], serde_json::json!(["user", "moderator"]));
    assert_eq!(
        claims["exp"]
            .as_u64()
            .zip(claims["iat"].as_u64())
            .map(|(e, i)| e - i),
        Some(300)
    );
}

#[test]
fn refusals_name_the_problem_not_the_secret() {
    let missing = run(&["--sub", "alice"], None);
    assert!(!missing.status.success());
    assert!(missing.stdout.is_empty());
    assert!(String::from_utf8_lossy(&missing.stderr).contains("WSAUTH_JWT_SECRET is not set"));

    let short = run(&["--sub", "alice"], Some("s3cret-short"));
    assert!(!short.status.success());
    let stderr = String::from_utf8_lossy(&short.stderr);
    assert!(stderr.contains("12 bytes"), "{stderr}");
    assert!(!stderr.contains("s3cret-short"), "{stderr}");

    let role = run(&["--sub", "alice", "--roles", "usr"], Some(SECRET));
    assert!(!role.status.success());
    assert!(String::from_utf8_lossy(&role.stderr).contains("did you mean `user`"));
}
