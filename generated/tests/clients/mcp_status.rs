//! The generated Rust client of mcp-status against the running mcp-status
//! example: the three typed messages, the text heartbeat (sent by the
//! client, its `pong` swallowed), every refusal as a 1008 `stop` carrying
//! the spec's reason and failure kinds, and admission through the
//! introspection fallback when the service is down.

use std::time::Duration;

use wsauth_core::client::{CloseAction, Options, Token};
use wsauth_example_support::testing::loopback;
use wsauth_generated::mcp_status::CloseCode;
use wsauth_generated::mcp_status::endpoints::status::{self, ServerMessage};
use wsauth_generated::mcp_status::messages::HealthEventLevel;
use wsauth_generated::mcp_status::schemas::State;

use crate::support::events::{message, opened, stopped_at_once};
use crate::support::examples::{Serving, postgres_down, start_mcp_status};
use crate::support::tokens::MCP_STATUS;

/// An HS256 token for `sub` with the single `role`, expiring in `ttl` s.
fn token_for(sub: &str, role: &str, ttl: i64) -> String {
    MCP_STATUS.token(sub, &[role], ttl)
}

/// A started client that is admitted: `Open`, then `initial_status`.
async fn admitted(app: &Serving, token: String, options: Options) -> status::Client {
    let mut client = status::connect(&app.ws_url(), token)
        .options(options)
        .start()
        .unwrap_or_else(|e| panic!("{e}"));
    opened(&mut client, 0).await;
    match message(&mut client).await {
        ServerMessage::InitialStatus(initial) => {
            let names: Vec<&str> = initial.mcps.iter().map(|s| s.name.as_str()).collect();
            assert_eq!(names, ["filesystem", "github", "postgres", "slack"]);
        }
        other => panic!("expected initial_status, got {other:?}"),
    }
    client
}

#[tokio::test]
async fn typed_messages_arrive_and_the_heartbeat_is_swallowed() {
    let (app, board) = start_mcp_status(|c| c, |_| axum::Router::new()).await;
    let options = Options {
        heartbeat: Some(Duration::from_millis(30)),
        ..Options::default()
    };
    let mut client = admitted(&app, token_for("dev", "developer", 600), options).await;
    // Several pings go out and their pongs produce no event.
    let quiet = tokio::time::timeout(Duration::from_millis(250), client.recv()).await;
    assert!(quiet.is_err(), "an event while idle: {quiet:?}");

    // Through the server's own types (the client's are generated separately).
    postgres_down(&board).await;
    match message(&mut client).await {
        ServerMessage::McpStatusChange(change) => {
            assert_eq!(change.mcp_id, "postgres");
            assert_eq!(
                (change.old_status, change.new_status),
                (State::Degraded, State::Down)
            );
        }
        other => panic!("expected mcp_status_change, got {other:?}"),
    }
    match message(&mut client).await {
        ServerMessage::HealthEvent(event) => {
            assert_eq!(event.mcp_id, "postgres");
            assert_eq!(event.level, HealthEventLevel::Critical);
            assert_eq!(event.message, "replica lag");
        }
        other => panic!("expected health_event, got {other:?}"),
    }
    client.close();
}

#[tokio::test]
async fn every_refusal_stops_with_1008_and_its_reason() {
    let (app, _) = start_mcp_status(|c| c, |_| axum::Router::new()).await;
    let cases = [
        (
            "user role",
            token_for("alice", "user", 600),
            "Insufficient permissions: role not authorized",
        ),
        (
            "moderator role",
            token_for("mod", "moderator", 600),
            "Insufficient permissions: role not authorized",
        ),
        (
            "invalid",
            "not-a-jwt".to_owned(),
            "Authentication failed: Invalid or expired token",
        ),
        (
            "expired",
            token_for("admin", "admin", -60),
            "Authentication failed: Invalid or expired token",
        ),
        (
            "inactive",
            token_for("mallory", "admin", 600),
            "user inactive",
        ),
    ];
    let kinds = CloseCode::from_code(1008)
        .map(CloseCode::kinds)
        .unwrap_or_else(|| panic!("1008 is in the catalogue"));
    for (case, token, reason) in cases
        .into_iter()
        .map(|(c, t, r)| (c, Token::from(t), r))
        .chain([(
            "no token",
            Token::none(),
            "Authentication required: No token provided",
        )])
    {
        let mut client = status::connect(&app.ws_url(), token)
            .start()
            .unwrap_or_else(|e| panic!("{e}"));
        // `stop`: no reconnection, not even a token refresh.
        let close = stopped_at_once(&mut client).await;
        assert_eq!(
            (close.code, close.reason.as_str(), close.action),
            (1008, reason, CloseAction::Stop),
            "{case}"
        );
        assert_eq!(close.kinds, kinds, "{case}");
    }
}

#[tokio::test]
async fn the_introspection_fallback_admits_when_the_service_is_down() {
    let (listener, down) = loopback().await;
    drop(listener);
    let (app, _) = start_mcp_status(
        move |mut c| {
            c.introspection = Some(mcp_status::IntrospectionConfig::new(format!(
                "http://{down}/introspect"
            )));
            c
        },
        |_| axum::Router::new(),
    )
    .await;
    let client = admitted(&app, token_for("dba", "dba", 600), Options::default()).await;
    client.close();
}
