//! The metrics of a real echo server, scraped over HTTP from the listener
//! the binaries' `--metrics` serves them on: each handshake, message and
//! close counted exactly once, and nothing a client sends ever becomes a
//! label value.

use std::net::SocketAddr;

use futures_util::SinkExt;
use serde_json::json;
use tokio_tungstenite::tungstenite::Message;
use wsauth_core::spec::{FailureKind, Keyword};
use wsauth_example_support::metrics::serve_metrics;
use wsauth_example_support::testing::*;

const SECRET: &[u8] = b"0123456789abcdef0123456789abcdef-test-only";

fn token(sub: &str) -> String {
    let now = now();
    Tok::new(
        json!({ "sub": sub, "role": "user", "iat": now, "exp": now + 600 }),
        SECRET,
    )
    .mint()
}

/// The echo app on loopback, and its metrics on a listener of their own.
async fn start() -> (Serving, SocketAddr) {
    let (router, server) = echo::app(SECRET, echo::Users::any()).unwrap_or_else(|e| panic!("{e}"));
    let metrics = serve_metrics(([127, 0, 0, 1], 0).into(), &server)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    (serve_on_loopback(router, server).await, metrics)
}

async fn echo_as(addr: SocketAddr, path_user: &str, sub: &str) -> Client {
    connect(ws(
        addr,
        &format!("/ws/echo/{path_user}?token={}", token(sub)),
    ))
    .await
}

#[tokio::test]
async fn handshakes_messages_and_closes_are_counted_exactly() {
    let (app, metrics) = start().await;
    let before = scrape(metrics).await;
    assert_eq!(
        sample(
            &before,
            r#"wsauth_handshakes_total{endpoint="echo",outcome="admitted"}"#
        ),
        Some(0.0),
        "every series is there from the start:\n{before}"
    );

    // Admitted, three echoes, closed by the client.
    let mut alice = echo_as(app.addr, "alice", "alice").await;
    assert_eq!(next_json(&mut alice).await["type"], "connected");
    for n in 0..3 {
        let message = json!({ "type": "echo", "payload": n });
        send_json(&mut alice, message.clone()).await;
        assert_eq!(next_json(&mut alice).await, message);
    }
    alice.close(None).await.unwrap_or_else(|e| panic!("{e}"));
    let _ = until_close(&mut alice).await;

    // Refused: a bad token, a path naming someone else.
    let bad = ws(app.addr, "/ws/echo/alice?token=not-a-jwt");
    assert_eq!(rejected(bad).await.0, 4001);
    let other = ws(app.addr, &format!("/ws/echo/bob?token={}", token("alice")));
    assert_eq!(rejected(other).await.0, 4003);

    // Admitted, then a type the endpoint does not receive: closed 1007.
    let mut bob = echo_as(app.addr, "bob", "bob").await;
    assert_eq!(next_json(&mut bob).await["type"], "connected");
    send_json(&mut bob, json!({ "type": "evil-type\"}\n", "payload": 1 })).await;
    assert_eq!(until_close(&mut bob).await.1.map(|c| c.0), Some(1007));

    // The anonymous raw endpoint: a text frame and a binary one, echoed.
    let mut raw = connect(ws(app.addr, "/ws/raw")).await;
    send_text(&mut raw, "evil-raw").await;
    assert_eq!(next_text(&mut raw).await, "evil-raw");
    raw.send(Message::binary(vec![1, 2, 3]))
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let open = scrape(metrics).await;
    assert_eq!(
        sample(&open, r#"wsauth_connections_open{endpoint="raw"}"#),
        Some(1.0)
    );
    assert_eq!(
        sample(&open, r#"wsauth_connections_open{endpoint="echo"}"#),
        Some(0.0)
    );
    raw.close(None).await.unwrap_or_else(|e| panic!("{e}"));
    let _ = until_close(&mut raw).await;
    wait_for_active(&app.server, 0).await;

    let text = scrape(metrics).await;
    let expected = [
        (
            r#"wsauth_handshakes_total{endpoint="echo",outcome="admitted"}"#,
            2,
        ),
        (
            r#"wsauth_handshakes_total{endpoint="echo",outcome="refused",kind="auth_failed"}"#,
            1,
        ),
        (
            r#"wsauth_handshakes_total{endpoint="echo",outcome="refused",kind="subject_mismatch"}"#,
            1,
        ),
        (
            r#"wsauth_handshakes_total{endpoint="echo",outcome="refused",kind="auth_required"}"#,
            0,
        ),
        (
            r#"wsauth_handshakes_total{endpoint="raw",outcome="admitted"}"#,
            1,
        ),
        (
            r#"wsauth_messages_received_total{endpoint="echo",type="echo"}"#,
            3,
        ),
        (
            r#"wsauth_messages_received_total{endpoint="echo",type="(unknown)"}"#,
            1,
        ),
        (
            r#"wsauth_messages_received_total{endpoint="raw",type="(raw)"}"#,
            2,
        ),
        (
            r#"wsauth_messages_received_total{endpoint="raw",type="(unknown)"}"#,
            0,
        ),
        // Two welcomes and three echoes; the raw echoes.
        (r#"wsauth_messages_sent_total{endpoint="echo"}"#, 5),
        (r#"wsauth_messages_sent_total{endpoint="raw"}"#, 2),
        (
            r#"wsauth_connections_closed_total{endpoint="echo",kind="client_closed"}"#,
            1,
        ),
        (
            r#"wsauth_connections_closed_total{endpoint="echo",kind="invalid_message"}"#,
            1,
        ),
        (
            r#"wsauth_connections_closed_total{endpoint="raw",kind="client_closed"}"#,
            1,
        ),
        (r#"wsauth_connections_open{endpoint="echo"}"#, 0),
        (r#"wsauth_connections_open{endpoint="raw"}"#, 0),
    ];
    for (series, value) in expected {
        assert_eq!(
            sample(&text, series),
            Some(f64::from(value)),
            "{series} in\n{text}"
        );
    }
    // Refused handshakes are not connections: nothing else was closed.
    let closes: f64 = text
        .lines()
        .filter(|l| l.starts_with("wsauth_connections_closed_total{"))
        .filter_map(|l| l.rsplit_once(' ').and_then(|(_, v)| v.parse::<f64>().ok()))
        .sum();
    assert_eq!(closes, 3.0, "{text}");
}

#[tokio::test]
async fn no_label_value_comes_from_a_client() {
    let (app, metrics) = start().await;
    let allowed: Vec<&str> = [
        "echo",
        "typed",
        "raw",
        "say",
        "admitted",
        "refused",
        "client_closed",
    ]
    .into_iter()
    .chain(FailureKind::ALL.iter().map(|(word, _)| *word))
    .chain([
        "wsauth.refresh",
        "wsauth.subscribe",
        "wsauth.unsubscribe",
        "wsauth.publish",
        "(open)",
        "(raw)",
        "(heartbeat)",
        "(unknown)",
    ])
    .chain([
        "server_full",
        "address_full",
        "header_timeout",
        "origin",
        "handshake_timeout",
        "anonymous_full",
    ])
    .collect();
    let before = label_values(&scrape(metrics).await);

    // Weird paths (a quote, a brace, a line feed, a long value), weird
    // tokens and weird message types.
    let weird = "x%22%7D%0Aevil-path-".to_owned() + &"z".repeat(300);
    for path in [
        format!("/ws/echo/{weird}?token={}", token("alice")),
        format!("/ws/echo/{weird}?token={}", token(&weird)),
        "/ws/echo/alice?token=evil-token%22%7D".to_owned(),
        format!("/ws/{weird}"),
    ] {
        let _ = tokio_tungstenite::connect_async(ws(app.addr, &path)).await;
    }
    for kind in ["evil-type", "wsauth.evil", "", "connected"] {
        let mut client = echo_as(app.addr, "alice", "alice").await;
        assert_eq!(next_json(&mut client).await["type"], "connected");
        send_json(&mut client, json!({ "type": kind })).await;
        let _ = until_close(&mut client).await;
    }
    let mut client = echo_as(app.addr, "alice", "alice").await;
    assert_eq!(next_json(&mut client).await["type"], "connected");
    send_text(&mut client, "evil-not-json {").await;
    let _ = until_close(&mut client).await;
    wait_for_active(&app.server, 0).await;

    let text = scrape(metrics).await;
    let after = label_values(&text);
    assert_eq!(after, before, "the label values are the same set as before");
    for value in &after {
        assert!(allowed.contains(&value.as_str()), "{value:?} in\n{text}");
    }
    assert!(!text.contains("evil"), "{text}");
    assert_eq!(
        sample(
            &text,
            r#"wsauth_messages_received_total{endpoint="echo",type="(unknown)"}"#
        ),
        Some(5.0),
        "{text}"
    );
}

#[tokio::test]
async fn the_public_port_does_not_serve_metrics() {
    let (app, metrics) = start().await;
    assert_eq!(http_get(app.addr, "/metrics", None).await.status, 404);
    assert!(
        scrape(metrics)
            .await
            .contains("# TYPE wsauth_handshakes_total counter\n")
    );
}
