//! The five example specs: they load, the format's JSON Schema accepts them
//! as written, and reading them back from their canonical JSON form resolves
//! to the same API.

use std::path::{Path, PathBuf};

use wsauth_gen::ir::{Access, ClientAction, FailureKind, SchemaKind, TokenSource};
use wsauth_gen::spec::model::Spec;
use wsauth_gen::{Api, SourceFile, load, load_source};
use wsauth_spec::Keyword as _;

const EXAMPLES: [&str; 5] = ["songnodes", "shipvox", "prsm", "reflections", "mcp-status"];

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn spec_path(name: &str) -> PathBuf {
    root().join("specs").join(format!("{name}.yaml"))
}

fn api(name: &str) -> Api {
    load(spec_path(name)).unwrap_or_else(|e| match e {
        wsauth_gen::LoadError::Invalid(errors) => panic!("{}", errors.render_plain()),
        other => panic!("{other}"),
    })
}

fn source(name: &str) -> SourceFile {
    let path = spec_path(name);
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    SourceFile::new(path, text)
}

fn validator() -> jsonschema::Validator {
    let schema = wsauth_gen::format_schema::format_schema();
    jsonschema::validator_for(&schema)
        .unwrap_or_else(|e| panic!("the format schema is invalid: {e}"))
}

#[test]
fn every_example_spec_is_valid() {
    for name in EXAMPLES {
        let api = api(name);
        assert_eq!(api.name, name);
        assert!(!api.endpoints.is_empty(), "{name} has endpoints");
    }
}

#[test]
fn format_schema_accepts_every_example_as_written() {
    let validator = validator();
    for name in EXAMPLES {
        let document =
            wsauth_gen::spec::to_json(&source(name)).unwrap_or_else(|d| panic!("{name}: {d:?}"));
        let problems: Vec<String> = validator
            .iter_errors(&document)
            .map(|e| format!("{} at {}", e, e.instance_path()))
            .collect();
        assert!(problems.is_empty(), "{name}: {problems:#?}");
    }
}

#[test]
fn format_schema_rejects_typos_and_unknown_words() {
    let validator = validator();
    let base = wsauth_gen::spec::to_json(&source("prsm")).unwrap_or_else(|d| panic!("{d:?}"));
    type Typo = fn(&mut serde_json::Value);
    let typos: [(&str, Typo); 4] = [
        ("top-level key", |v| {
            v["titel"] = "x".into();
        }),
        ("endpoint key", |v| {
            v["endpoints"]["conversation"]["welcom"] = "connected".into();
        }),
        ("failure kind", |v| {
            v["close_codes"]["forbiden"] = v["close_codes"]["forbidden"].clone();
        }),
        ("client behaviour", |v| {
            v["close_codes"]["forbidden"]["client"] = "retry".into();
        }),
    ];
    assert!(validator.is_valid(&base));
    for (what, typo) in typos {
        let mut doc = base.clone();
        typo(&mut doc);
        assert!(
            !validator.is_valid(&doc),
            "a typo'd {what} must be rejected"
        );
    }
}

#[test]
fn checked_in_format_schema_is_current() {
    let path = root().join(wsauth_gen::format_schema::SCHEMA_PATH);
    let on_disk = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(
        on_disk == wsauth_gen::format_schema::format_schema_text(),
        "{} is stale: run `cargo run -p wsauth-gen -- schema -o {}`",
        path.display(),
        wsauth_gen::format_schema::SCHEMA_PATH
    );
}

/// Serializes the model to its canonical JSON (long forms, no comments) and
/// reads that back as a spec: the resolved API must be the same, and so must
/// the canonical form itself (serialization is a fixed point).
#[test]
fn specs_round_trip_through_their_canonical_form() {
    for name in EXAMPLES {
        let original = source(name);
        let (model, problems) = wsauth_gen::spec::parse(&original);
        assert!(problems.is_empty(), "{name}: {problems:?}");
        let model: Spec = model.unwrap_or_else(|| panic!("{name} parses"));
        let canonical = serde_json::to_string_pretty(&model).unwrap_or_default();
        let reread = SourceFile::new(format!("{name}.json"), canonical.as_str());
        let again =
            load_source(&reread).unwrap_or_else(|e| panic!("{}\n{canonical}", e.render_plain()));
        let before = serde_json::to_value(api(name)).unwrap_or_default();
        let after = serde_json::to_value(&again).unwrap_or_default();
        assert_eq!(before, after, "{name}: meaning changed in the round trip");
        let (model2, _) = wsauth_gen::spec::parse(&reread);
        let canonical2 = serde_json::to_string_pretty(&model2).unwrap_or_default();
        assert_eq!(
            canonical, canonical2,
            "{name}: canonical form is not stable"
        );
    }
}

#[test]
fn unknown_keys_are_errors_even_in_canonical_json() {
    let text = r#"{"wsauth": 1, "name": "x", "version": "1", "endpoints": {}, "extra": true}"#;
    let errors = load_source(&SourceFile::new("x.json", text))
        .err()
        .map(|e| e.diagnostics);
    let codes: Vec<&str> = errors.iter().flatten().map(|d| d.code).collect();
    assert_eq!(codes, ["wsauth::unknown_key"]);
}

// What the examples must express, checked on the resolved API.

#[test]
fn prsm_resolves_roles_sources_codes_and_checks() {
    let api = api("prsm");
    let admin = api
        .roles
        .iter()
        .find(|r| r.name == "admin")
        .map(|r| r.permissions.len());
    assert_eq!(
        admin,
        Some(api.permissions.len()),
        "`*` grants every permission"
    );
    assert!(api.role_grants("moderator", "system.monitor"));
    assert!(!api.role_grants("moderator", "conversation.write"));
    let conversation = api
        .endpoint("conversation")
        .map(|e| (e.checks.clone(), e.sends.first().cloned()));
    assert_eq!(
        conversation,
        Some((
            vec!["conversation_access".to_owned()],
            Some("connected".to_owned())
        )),
        "welcome is sent first"
    );
    let web3 = api.endpoint("web3").map(|e| e.sources.clone());
    assert_eq!(
        web3,
        Some(vec![
            TokenSource::Header,
            TokenSource::Query("token".into())
        ])
    );
    let codes: Vec<u16> = [
        FailureKind::AuthFailed,
        FailureKind::Forbidden,
        FailureKind::NotFound,
        FailureKind::TooManyConnections,
    ]
    .into_iter()
    .filter_map(|k| api.close_code(k).map(|c| c.code))
    .collect();
    assert_eq!(codes, [4001, 4003, 4003, 4008]);
    assert_eq!(
        api.stats.as_ref().map(|s| s.perm.as_str()),
        Some("system.monitor")
    );
    assert_eq!(
        api.close_codes.len(),
        FailureKind::ALL.len(),
        "every failure kind is resolved"
    );
}

#[test]
fn songnodes_has_an_explicit_anonymous_endpoint_and_1008_mismatch() {
    let api = api("songnodes");
    let anon = api
        .endpoint("anonymous")
        .map(|e| (e.access, e.sources.is_empty()));
    assert_eq!(anon, Some((Access::Anonymous, true)));
    assert_eq!(
        api.auth.as_ref().and_then(|a| a.anonymous_role.as_deref()),
        Some("guest")
    );
    let mismatch = api
        .close_code(FailureKind::SubjectMismatch)
        .map(|c| (c.code, c.client));
    assert_eq!(mismatch, Some((1008, ClientAction::Stop)));
}

#[test]
fn mcp_status_rejects_everything_with_1008_and_reads_a_role_string() {
    let api = api("mcp-status");
    for kind in [
        FailureKind::AuthRequired,
        FailureKind::AuthFailed,
        FailureKind::Forbidden,
    ] {
        assert_eq!(api.close_code(kind).map(|c| c.code), Some(1008), "{kind:?}");
    }
    let jwt = api.auth.as_ref().and_then(|a| a.jwt.as_ref());
    assert_eq!(
        jwt.map(|j| (j.roles_claim.as_str(), j.roles_shape)),
        Some(("role", wsauth_gen::ir::ClaimShape::String))
    );
    let status = api.endpoint("status").map(|e| e.roles.clone());
    assert_eq!(
        status,
        Some(vec!["admin".into(), "developer".into(), "dba".into()])
    );
}

#[test]
fn reflections_uses_its_own_codes_and_references_resolve() {
    let api = api("reflections");
    let codes: Vec<u16> = [
        FailureKind::AuthFailed,
        FailureKind::UserInactive,
        FailureKind::Forbidden,
        FailureKind::NotFound,
        FailureKind::ServerError,
        FailureKind::Completed,
    ]
    .into_iter()
    .filter_map(|k| api.close_code(k).map(|c| c.code))
    .collect();
    assert_eq!(codes, [4001, 4002, 4003, 4004, 1011, 1000]);
    let mcp = self::api("mcp-status");
    let state = mcp.schema("State").map(|s| &s.kind);
    assert!(matches!(state, Some(SchemaKind::String { values, .. }) if values.len() == 4));
}

#[test]
fn the_readme_tour_is_a_valid_spec() {
    let readme = std::fs::read_to_string(root().join("README.md")).unwrap_or_default();
    let tour = readme
        .split("## A tour of the spec format")
        .nth(1)
        .and_then(|rest| rest.split("```yaml\n").nth(1))
        .and_then(|block| block.split("```").next())
        .unwrap_or_else(|| panic!("README.md has a tour with a yaml block"));
    let api = load_source(&SourceFile::new("README.md (tour)", tour))
        .unwrap_or_else(|e| panic!("{}", e.render_plain()));
    assert_eq!(api.name, "prsm");
}
