//! The generated Rust client of mcp-status against the running mcp-status
//! example: the three typed messages, the text heartbeat (sent by the
//! client, its `pong` swallowed), every refusal as a 1008 `stop` carrying
//! the spec's reason and failure kinds, and admission through the
//! introspection fallback when the service is down.

use std::fmt::Debug;
use std::net::SocketAddr;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use jsonwebtoken::{Algorithm, EncodingKey, Header, encode};
use mcp_status::StatusBoard;
use serde_json::json;
use tokio::sync::oneshot;
use wsauth_core::client::{ClientError, CloseAction, Event, Options, ServerClose, Token};
use wsauth_generated::mcp_status::CloseCode;
use wsauth_generated::mcp_status::endpoints::status::{self, ServerMessage};
use wsauth_generated::mcp_status::messages::HealthEventLevel;
use wsauth_generated::mcp_status::schemas::State;

/// The HS256 secret of the test server.
const SECRET: &[u8] = b"mcp-status-client-test-secret-0123456789";

/// A running mcp-status example; stops when dropped.
struct App {
    addr: SocketAddr,
    board: StatusBoard,
    _stop: oneshot::Sender<()>,
}

impl App {
    fn ws_url(&self) -> String {
        format!("ws://{}", self.addr)
    }
}

async fn start(configure: impl FnOnce(mcp_status::Config) -> mcp_status::Config) -> App {
    let config = configure(mcp_status::Config::new(SECRET));
    let board = config.board.clone();
    let (router, server) = mcp_status::app(config).unwrap_or_else(|e| panic!("{e}"));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let addr = listener.local_addr().unwrap_or_else(|e| panic!("{e}"));
    let (stop, stopped) = oneshot::channel::<()>();
    let signal = async move {
        let _ = stopped.await;
    };
    tokio::spawn(mcp_status::serve(listener, router, server, signal));
    App {
        addr,
        board,
        _stop: stop,
    }
}

fn now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
}

/// An HS256 token for `sub` with the single `role`, expiring in `ttl` s.
fn token_for(sub: &str, role: &str, ttl: i64) -> String {
    let iat = if ttl < 0 { now() + ttl - 60 } else { now() };
    let claims = json!({
        "sub": sub, "iat": iat, "exp": now() + ttl,
        "iss": "mcp-status", "aud": "mcp-status-ws", "role": role,
    });
    encode(
        &Header::new(Algorithm::HS256),
        &claims,
        &EncodingKey::from_secret(SECRET),
    )
    .unwrap_or_else(|e| panic!("{e}"))
}

/// The next event (at most 10 s).
async fn next(client: &mut status::Client) -> status::Event {
    tokio::time::timeout(Duration::from_secs(10), client.recv())
        .await
        .unwrap_or_else(|_| panic!("no event within 10 s"))
        .unwrap_or_else(|| panic!("the client ended"))
}

/// The next event, which must be a message.
async fn message(client: &mut status::Client) -> ServerMessage {
    match next(client).await {
        Event::Message(m) => m,
        other => panic!("expected a message, got {other:?}"),
    }
}

/// A started client that is admitted: `Open`, then `initial_status`.
async fn admitted(app: &App, token: String, options: Options) -> status::Client {
    let mut client = status::connect(&app.ws_url(), token)
        .options(options)
        .start()
        .unwrap_or_else(|e| panic!("{e}"));
    assert!(matches!(
        next(&mut client).await,
        Event::Open { attempt: 0 }
    ));
    match message(&mut client).await {
        ServerMessage::InitialStatus(initial) => {
            let names: Vec<&str> = initial.servers.iter().map(|s| s.name.as_str()).collect();
            assert_eq!(names, ["filesystem", "github", "postgres", "slack"]);
        }
        other => panic!("expected initial_status, got {other:?}"),
    }
    client
}

fn expect_stop<M: Debug>(event: &Event<M>) -> ServerClose {
    match event {
        Event::Failed(ClientError::Closed(close)) => close.clone(),
        other => panic!("expected the client to stop, got {other:?}"),
    }
}

#[tokio::test]
async fn typed_messages_arrive_and_the_heartbeat_is_swallowed() {
    let app = start(|c| c).await;
    let options = Options {
        heartbeat: Some(Duration::from_millis(30)),
        ..Options::default()
    };
    let mut client = admitted(&app, token_for("dev", "developer", 600), options).await;
    // Several pings go out and their pongs produce no event.
    let quiet = tokio::time::timeout(Duration::from_millis(250), client.recv()).await;
    assert!(quiet.is_err(), "an event while idle: {quiet:?}");

    // The server's own types (the client's are generated separately).
    app.board
        .set_state("postgres", mcp_status::schemas::State::Down, None)
        .unwrap_or_else(|e| panic!("{e}"));
    app.board
        .health(
            "postgres",
            mcp_status::messages::HealthEventLevel::Critical,
            "replica lag",
        )
        .unwrap_or_else(|e| panic!("{e}"));
    match message(&mut client).await {
        ServerMessage::McpStatusChange(change) => {
            assert_eq!(change.server, "postgres");
            assert_eq!(
                (change.previous, change.current),
                (State::Degraded, State::Down)
            );
        }
        other => panic!("expected mcp_status_change, got {other:?}"),
    }
    match message(&mut client).await {
        ServerMessage::HealthEvent(event) => {
            assert_eq!(event.server, "postgres");
            assert_eq!(event.level, HealthEventLevel::Critical);
            assert_eq!(event.message, "replica lag");
        }
        other => panic!("expected health_event, got {other:?}"),
    }
    client.close();
}

#[tokio::test]
async fn every_refusal_stops_with_1008_and_its_reason() {
    let app = start(|c| c).await;
    let cases = [
        (
            "user role",
            token_for("alice", "user", 600),
            "insufficient role",
        ),
        (
            "moderator role",
            token_for("mod", "moderator", 600),
            "insufficient role",
        ),
        (
            "invalid",
            "not-a-jwt".to_owned(),
            "invalid or expired token",
        ),
        (
            "expired",
            token_for("admin", "admin", -60),
            "invalid or expired token",
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
        .chain([("no token", Token::none(), "no token provided")])
    {
        let mut client = status::connect(&app.ws_url(), token)
            .start()
            .unwrap_or_else(|e| panic!("{e}"));
        assert!(
            matches!(next(&mut client).await, Event::Open { attempt: 0 }),
            "{case}"
        );
        // `stop`: no reconnection, not even a token refresh.
        let close = expect_stop(&next(&mut client).await);
        assert_eq!(
            (close.code, close.reason.as_str(), close.action),
            (1008, reason, CloseAction::Stop),
            "{case}"
        );
        assert_eq!(close.kinds, kinds, "{case}");
        assert!(
            client.recv().await.is_none(),
            "{case}: nothing after the stop"
        );
    }
}

#[tokio::test]
async fn the_introspection_fallback_admits_when_the_service_is_down() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let down = listener.local_addr().unwrap_or_else(|e| panic!("{e}"));
    drop(listener);
    let app = start(move |mut c| {
        c.introspection = Some(mcp_status::IntrospectionConfig::new(format!(
            "http://{down}/introspect"
        )));
        c
    })
    .await;
    let client = admitted(&app, token_for("dba", "dba", 600), Options::default()).await;
    client.close();
}
