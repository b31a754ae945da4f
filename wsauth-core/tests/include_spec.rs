//! Every example spec compiles into a runtime descriptor through the macro,
//! and the descriptor says what the spec says. Each spec gets a module of
//! its own, as the generated items (`messages`, `endpoints`, ...) would
//! otherwise collide.

use wsauth_core::spec::{Access, ExpiryPolicy, FailureKind, Keyword as _, TokenSource};

mod prsm {
    wsauth_core::include_spec!("../specs/prsm.yaml");
}
use prsm::API as PRSM;
mod songnodes {
    wsauth_core::include_spec!("../specs/songnodes.yaml");
}
use songnodes::API as SONGNODES;
mod shipvox {
    wsauth_core::include_spec!("../specs/shipvox.yaml");
}
use shipvox::API as SHIPVOX;
mod reflections {
    wsauth_core::include_spec!("../specs/reflections.yaml");
}
use reflections::API as REFLECTIONS;
mod mcp_status {
    wsauth_core::include_spec!("../specs/mcp-status.yaml");
}
use mcp_status::API as MCP_STATUS;

#[test]
fn prsm_descriptor_carries_the_spec() {
    assert_eq!(PRSM.name, "prsm");
    assert_eq!(PRSM.close(FailureKind::TooManyConnections).code, 4008);
    assert_eq!(PRSM.close(FailureKind::NotFound).code, 4003);
    assert_eq!(
        PRSM.close_codes.len(),
        FailureKind::ALL.len(),
        "every failure kind is listed"
    );
    let conversation = PRSM
        .endpoint("conversation")
        .map(|e| (e.path, e.perm, e.checks, e.welcome));
    assert_eq!(
        conversation,
        Some((
            "/ws/conversation/{user_id}/{conversation_id}",
            Some("conversation.read"),
            &["conversation_access"][..],
            Some("connected")
        ))
    );
    let send = PRSM
        .endpoint("conversation")
        .and_then(|e| e.receives.iter().find(|r| r.name == "send_message"))
        .and_then(|r| r.perm);
    assert_eq!(send, Some("conversation.write"), "per-message permission");
    assert_eq!(PRSM.auth.map(|a| a.on_expiry), Some(ExpiryPolicy::Refresh));
    assert_eq!(PRSM.stats.map(|s| s.path), Some("/ws/stats"));
}

#[test]
fn the_other_examples_compile_to_what_they_declare() {
    let anonymous = SONGNODES.endpoint("anonymous").map(|e| e.access);
    assert_eq!(anonymous, Some(Access::Anonymous));
    assert_eq!(SONGNODES.close(FailureKind::SubjectMismatch).code, 1008);
    assert_eq!(
        SHIPVOX.auth.map(|a| a.sources),
        Some(&[TokenSource::Query("token")][..])
    );
    assert_eq!(REFLECTIONS.close(FailureKind::Completed).code, 1000);
    let role = MCP_STATUS.auth.and_then(|a| a.jwt).map(|j| j.roles_claim);
    assert_eq!(role, Some("role"));
    assert_eq!(
        MCP_STATUS.endpoint("status").and_then(|e| e.heartbeat),
        Some(("ping", r#""pong""#))
    );
}

#[test]
fn stats_endpoint_is_documented_in_openapi() {
    let doc = wsauth_core::stats_openapi(&PRSM).unwrap_or_else(|| panic!("prsm has stats"));
    let json = serde_json::to_value(&doc).unwrap_or_default();
    let get = &json["paths"]["/ws/stats"]["get"];
    assert_eq!(
        get["responses"]["200"]["content"]["application/json"]["schema"]["$ref"],
        "#/components/schemas/Stats"
    );
    assert!(
        get["description"]
            .as_str()
            .is_some_and(|d| d.contains("system.monitor"))
    );
    assert_eq!(get["security"][0]["bearer"], serde_json::json!([]));
    for code in ["401", "403"] {
        assert!(get["responses"][code].is_object(), "{code} documented");
    }
    let stats = &json["components"]["schemas"]["Stats"]["properties"];
    for field in ["active_connections", "unique_users", "per_endpoint"] {
        assert!(
            stats[field].is_object(),
            "Stats.{field} in the schema: {stats}"
        );
    }
    assert!(
        wsauth_core::stats_openapi(&SHIPVOX).is_none(),
        "no stats, no document"
    );
}
