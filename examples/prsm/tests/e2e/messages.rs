//! What admitted connections say and hear.

use std::time::{Duration, SystemTime};

use serde_json::{Value, json};

use wsauth_core::spec::wire;

use crate::common::*;

#[tokio::test]
async fn welcome_message_has_exactly_the_spec_fields() {
    let app = start().await;
    for (path, endpoint) in [
        ("/ws/alice", "notifications"),
        ("/ws/conversation/alice/1", "conversation"),
        ("/api/v1/web3/ws/alice", "web3"),
    ] {
        let before = prsm::time::rfc3339(SystemTime::now());
        let mut client = connect_as(app.addr, path, &token("alice", &["user"])).await;
        let welcome = next_json(&mut client).await;
        let after = prsm::time::rfc3339(SystemTime::now());
        let keys: Vec<&str> = welcome
            .as_object()
            .map(|o| o.keys().map(String::as_str).collect())
            .unwrap_or_default();
        assert_eq!(
            keys,
            ["type", "user_id", "endpoint", "server_time"],
            "{welcome}"
        );
        assert_eq!(welcome["type"], "connected");
        assert_eq!(welcome["user_id"], "alice");
        assert_eq!(welcome["endpoint"], endpoint);
        let time = welcome["server_time"].as_str().unwrap_or_default();
        let shape = time.len() == 20
            && time.bytes().enumerate().all(|(i, b)| match i {
                4 | 7 => b == b'-',
                10 => b == b'T',
                13 | 16 => b == b':',
                19 => b == b'Z',
                _ => b.is_ascii_digit(),
            });
        assert!(shape, "RFC 3339 UTC: {time}");
        assert!(
            before.as_str() <= time && time <= after.as_str(),
            "{before} <= {time} <= {after}"
        );
    }
}

#[tokio::test]
async fn notifications_follow_the_welcome_and_the_stream_stays_open() {
    let app = start().await;
    let mut client = connect_as(app.addr, "/ws/bob", &token("bob", &["user"])).await;
    expect_welcome(&mut client, "bob", "notifications").await;
    let first = next_json(&mut client).await;
    assert_eq!(first["type"], "notification", "{first}");
    assert_eq!(first["id"], 1);
    assert!(
        first["title"].is_string() && first["body"].is_string(),
        "{first}"
    );
    let second = next_json(&mut client).await;
    assert_eq!(
        (second["type"].as_str(), second["id"].as_i64()),
        (Some("notification"), Some(2))
    );
    assert!(
        quiet_for(&mut client, Duration::from_millis(300)).await,
        "open and quiet"
    );
    assert_eq!(app.server.stats().active_connections, 1);
    // A message the endpoint does not receive gets an `error`; the
    // connection stays open.
    send_json(
        &mut client,
        json!({"type": "typing", "user_id": "bob", "active": true}),
    )
    .await;
    let refused = next_json(&mut client).await;
    assert_eq!(
        (refused["type"].as_str(), refused["code"].as_str()),
        (Some("error"), Some("invalid_message")),
        "{refused}"
    );
    assert_eq!(app.server.stats().active_connections, 1);
}

#[tokio::test]
async fn the_main_socket_subscribes_to_conversations_the_user_takes_part_in() {
    let app = start().await;
    let mut client = connect_as(app.addr, "/ws/alice", &token("alice", &["user"])).await;
    expect_welcome(&mut client, "alice", "notifications").await;
    for _ in prsm::handlers::initial_notifications("alice") {
        assert_eq!(next_json(&mut client).await["type"], "notification");
    }
    let mut answer = async |message: serde_json::Value| {
        send_json(&mut client, message).await;
        next_json(&mut client).await
    };
    // Joining the conversation's topic is announced with its own frame,
    // then answered.
    let joined = answer(json!({"type": "subscribe_conversation", "conversation_id": 1})).await;
    assert_eq!(joined["type"], wire::SUBSCRIBED, "{joined}");
    assert_eq!(joined["params"], json!({"conversation_id": 1}), "{joined}");
    assert_eq!(
        next_json(&mut client).await,
        json!({"type": "subscribed", "conversation_id": 1})
    );
    let mut answer = async |message: serde_json::Value| {
        send_json(&mut client, message).await;
        next_json(&mut client).await
    };
    // Bob's conversation and one that does not exist get the same answer.
    for id in [2, 9] {
        let refused =
            answer(json!({"type": "subscribe_conversation", "conversation_id": id})).await;
        assert_eq!(
            (refused["type"].as_str(), refused["code"].as_str()),
            (Some("error"), Some("forbidden")),
            "{id}: {refused}"
        );
    }
    // Here the message must name the conversation.
    let refused = answer(json!({"type": "subscribe_conversation", "since": 3})).await;
    assert_eq!(refused["code"], "invalid_message", "{refused}");
    // A store that fails ends the connection with the server-error code.
    send_json(
        &mut client,
        json!({"type": "subscribe_conversation", "conversation_id": FAULTY_CONVERSATION}),
    )
    .await;
    let (seen, close) = until_close(&mut client).await;
    assert!(seen.is_empty(), "{seen:?}");
    assert_eq!(close, Some((1011, "server error".to_owned())));
}

#[tokio::test]
async fn the_main_socket_gets_what_is_said_in_the_conversations_it_subscribed_to() {
    let app = start().await;
    let mut main = connect_as(app.addr, "/ws/alice", &token("alice", &["user"])).await;
    expect_welcome(&mut main, "alice", "notifications").await;
    for _ in prsm::handlers::initial_notifications("alice") {
        assert_eq!(next_json(&mut main).await["type"], "notification");
    }
    for id in [1, 2] {
        send_json(
            &mut main,
            json!({"type": "subscribe_conversation", "conversation_id": id}),
        )
        .await;
    }
    assert_eq!(next_json(&mut main).await["type"], wire::SUBSCRIBED);
    assert_eq!(next_json(&mut main).await["type"], "subscribed");
    assert_eq!(next_json(&mut main).await["code"], "forbidden");

    // Alice types in conversation 1, bob in conversation 2 (alice's main
    // socket was refused that one).
    let path = "/ws/conversation/alice/1";
    let mut alice = connect_as(app.addr, path, &token("alice", &["user"])).await;
    expect_welcome(&mut alice, "alice", "conversation").await;
    let path = "/ws/conversation/bob/2";
    let mut bob = connect_as(app.addr, path, &token("bob", &["user"])).await;
    expect_welcome(&mut bob, "bob", "conversation").await;
    send_json(
        &mut bob,
        json!({"type": "typing", "user_id": "bob", "active": true}),
    )
    .await;
    send_json(
        &mut alice,
        json!({"type": "typing", "user_id": "alice", "active": true}),
    )
    .await;

    // Alice was present already (her main socket): no presence event.
    let said = next_json(&mut main).await;
    assert_eq!(said["type"], wire::PUBLICATION, "{said}");
    assert_eq!(said["params"], json!({"conversation_id": 1}), "{said}");
    assert_eq!(
        said["message"],
        json!({"type": "typing", "user_id": "alice", "active": true})
    );
    assert!(quiet_for(&mut main, Duration::from_millis(300)).await);
}

/// Reads an answer stream: the tokens in order, then `ai_done`.
async fn read_answer(client: &mut Client) -> (i64, Vec<String>) {
    let mut tokens = Vec::new();
    let mut id = None;
    loop {
        let message = next_json(client).await;
        let message_id = message["message_id"]
            .as_i64()
            .unwrap_or_else(|| panic!("{message}"));
        assert_eq!(
            *id.get_or_insert(message_id),
            message_id,
            "one message id per answer"
        );
        match message["type"].as_str() {
            Some("ai_token") => {
                assert_eq!(
                    message["index"],
                    tokens.len(),
                    "tokens arrive in order: {message}"
                );
                tokens.push(message["token"].as_str().unwrap_or_default().to_owned());
            }
            Some("ai_done") => {
                assert_eq!(message["tokens"], tokens.len(), "{message}");
                return (message_id, tokens);
            }
            _ => panic!("unexpected {message}"),
        }
    }
}

#[tokio::test]
async fn send_message_streams_tokens_in_order_then_done() {
    let app = start().await;
    let mut client = connect_as(
        app.addr,
        "/ws/conversation/alice/1",
        &token("alice", &["user"]),
    )
    .await;
    expect_welcome(&mut client, "alice", "conversation").await;
    send_json(
        &mut client,
        json!({"type": "subscribe_conversation", "since": 0}),
    )
    .await;
    send_json(
        &mut client,
        json!({"type": "send_message", "text": "Summarise the last block."}),
    )
    .await;
    let (first_id, tokens) = read_answer(&mut client).await;
    assert_eq!(
        tokens,
        ["You", " said:", " Summarise", " the", " last", " block."]
    );
    // A long answer (more tokens than the send queue holds) arrives whole.
    let long: Vec<String> = (0..300).map(|i| format!("w{i}")).collect();
    send_json(
        &mut client,
        json!({"type": "send_message", "text": long.join(" ")}),
    )
    .await;
    let (second_id, tokens) = read_answer(&mut client).await;
    assert_ne!(first_id, second_id, "every answer has its own id");
    assert_eq!(tokens.len(), 302);
    assert_eq!(tokens.concat(), format!("You said: {}", long.join(" ")));
}

#[tokio::test]
async fn typing_is_relayed_stamped_with_the_sender() {
    let app = start().await;
    let mut client = connect_as(
        app.addr,
        "/ws/conversation/alice/1",
        &token("alice", &["user"]),
    )
    .await;
    expect_welcome(&mut client, "alice", "conversation").await;
    send_json(&mut client, json!({"type": "subscribe_conversation"})).await;
    send_json(
        &mut client,
        json!({"type": "typing", "user_id": "alice", "active": true}),
    )
    .await;
    assert_eq!(
        next_json(&mut client).await,
        json!({"type": "typing", "user_id": "alice", "active": true})
    );
    // The relayed user is the authenticated one, not what the client claims.
    send_json(
        &mut client,
        json!({"type": "typing", "user_id": "bob", "active": false}),
    )
    .await;
    assert_eq!(
        next_json(&mut client).await,
        json!({"type": "typing", "user_id": "alice", "active": false})
    );
}

#[tokio::test]
async fn moderator_cannot_post_but_stays_connected() {
    // Participation is checked for moderators too: make `mod` take part.
    let app = start_with(|mut c| {
        c.store = prsm::Store::seeded().conversation(1, ["alice", "mod"]);
        c
    })
    .await;
    let mut client = connect_as(
        app.addr,
        "/ws/conversation/mod/1",
        &token("mod", &["moderator"]),
    )
    .await;
    expect_welcome(&mut client, "mod", "conversation").await;
    send_json(
        &mut client,
        json!({"type": "send_message", "text": "hello"}),
    )
    .await;
    assert_eq!(
        next_json(&mut client).await,
        json!({"type": "error", "code": "forbidden", "message": "forbidden"})
    );
    // Still connected, and still allowed what conversation.read allows.
    send_json(
        &mut client,
        json!({"type": "typing", "user_id": "mod", "active": true}),
    )
    .await;
    assert_eq!(next_json(&mut client).await["type"], "typing");
    assert_eq!(app.server.stats().active_connections, 1);
    // The same message from a user is answered.
    let mut alice = connect_as(
        app.addr,
        "/ws/conversation/alice/1",
        &token("alice", &["user"]),
    )
    .await;
    expect_welcome(&mut alice, "alice", "conversation").await;
    send_json(&mut alice, json!({"type": "send_message", "text": "hello"})).await;
    assert_eq!(next_json(&mut alice).await["type"], "ai_token");
}

#[tokio::test]
async fn bad_messages_get_typed_errors_and_the_connection_stays_open() {
    let app = start().await;
    let mut client = connect_as(
        app.addr,
        "/ws/conversation/alice/1",
        &token("alice", &["user"]),
    )
    .await;
    expect_welcome(&mut client, "alice", "conversation").await;
    let bad: [Value; 7] = [
        json!("not json {"),
        json!({"no": "type"}),
        json!({"type": "unknown"}),
        json!({"type": "subscribe_wallet", "address": "0x"}),
        json!({"type": "send_message"}),
        json!({"type": "send_message", "text": ""}),
        json!({"type": "typing", "user_id": "alice"}),
    ];
    for message in bad {
        let text = match &message {
            Value::String(s) => s.clone(),
            other => other.to_string(),
        };
        send_text(&mut client, text.clone()).await;
        let reply = next_json(&mut client).await;
        assert_eq!(reply["type"], "error", "{text}: {reply}");
        assert_eq!(reply["code"], "invalid_message", "{text}: {reply}");
        assert!(reply["message"].is_string(), "{reply}");
    }
    send_json(
        &mut client,
        json!({"type": "typing", "user_id": "alice", "active": true}),
    )
    .await;
    assert_eq!(next_json(&mut client).await["type"], "typing", "still open");
}

#[tokio::test]
async fn subscribe_wallet_sends_balance_then_transaction() {
    let app = start().await;
    let mut client = connect_as(
        app.addr,
        "/api/v1/web3/ws/alice",
        &token("alice", &["user"]),
    )
    .await;
    expect_welcome(&mut client, "alice", "web3").await;
    let address = "0x52908400098527886E0F7030069857D2E4169EE7";
    send_json(
        &mut client,
        json!({"type": "subscribe_wallet", "address": address}),
    )
    .await;
    let balance = next_json(&mut client).await;
    assert_eq!(balance["type"], "balance_update", "{balance}");
    assert_eq!(balance["address"], address);
    assert!(
        balance["balance"]
            .as_str()
            .is_some_and(|b| b.parse::<f64>().is_ok()),
        "{balance}"
    );
    assert!(["ETH", "USDC", "FTNS"].contains(&balance["token"].as_str().unwrap_or_default()));
    let transaction = next_json(&mut client).await;
    assert_eq!(transaction["type"], "transaction", "{transaction}");
    for field in ["hash", "from", "to", "amount", "status"] {
        assert!(transaction[field].is_string(), "{field}: {transaction}");
    }
    assert_eq!(transaction["to"], address);
    assert!(
        ["pending", "confirmed", "failed"]
            .contains(&transaction["status"].as_str().unwrap_or_default())
    );
    send_json(
        &mut client,
        json!({"type": "subscribe_wallet", "address": "0x1234"}),
    )
    .await;
    assert_eq!(next_json(&mut client).await["code"], "invalid_message");
}

#[tokio::test]
async fn messages_over_64_kib_close_with_1009() {
    let app = start().await;
    let mut client = connect_as(
        app.addr,
        "/ws/conversation/alice/1",
        &token("alice", &["user"]),
    )
    .await;
    expect_welcome(&mut client, "alice", "conversation").await;
    // Exactly max_message_bytes passes... (padded inside a field the spec
    // declares: the generated message types refuse unknown fields, and the
    // relayed `typing` carries the subject, not the claimed `user_id`)
    let frame = |size: usize| {
        let empty = json!({"type": "typing", "user_id": "alice", "active": true}).to_string();
        let user_id = format!("alice{}", "x".repeat(size - empty.len()));
        json!({"type": "typing", "user_id": user_id, "active": true}).to_string()
    };
    let exact = frame(65_536);
    assert_eq!(exact.len(), 65_536);
    send_text(&mut client, exact).await;
    assert_eq!(next_json(&mut client).await["type"], "typing");
    // ...one byte more closes.
    send_text(&mut client, frame(65_537)).await;
    let (seen, close) = until_close(&mut client).await;
    assert!(seen.is_empty(), "{seen:?}");
    assert_eq!(close, Some((1009, "message too big".to_owned())));
}

/// The refusal the pipeline sends for a message that breaks the spec: the
/// catalogue's generic reason (the handler's own refusals say more).
async fn expect_refused(client: &mut Client, what: &str) {
    let reply = next_json(client).await;
    assert_eq!(
        (
            reply["type"].as_str(),
            reply["code"].as_str(),
            reply["message"].as_str()
        ),
        (
            Some("error"),
            Some("invalid_message"),
            Some("invalid message")
        ),
        "{what}: {reply}"
    );
}

/// The spec's payload constraints hold before any handler code runs: a
/// value just inside each bound reaches the handler, one just outside is
/// refused by the server with the spec's `invalid_message` error.
#[tokio::test]
async fn payload_constraints_hold_just_inside_and_outside_every_bound() {
    let app = start().await;
    let mut client = connect_as(
        app.addr,
        "/ws/conversation/alice/1",
        &token("alice", &["user"]),
    )
    .await;
    expect_welcome(&mut client, "alice", "conversation").await;
    // `text`: minLength 1, maxLength 4000, counted in characters: 4000
    // two-byte characters (8000 bytes) pass, 4001 do not.
    send_json(&mut client, json!({"type": "send_message", "text": ""})).await;
    expect_refused(&mut client, "text of 0 characters").await;
    send_json(&mut client, json!({"type": "send_message", "text": "x"})).await;
    assert_eq!(read_answer(&mut client).await.1, ["You", " said:", " x"]);
    let longest = "é".repeat(4000);
    send_json(
        &mut client,
        json!({"type": "send_message", "text": longest}),
    )
    .await;
    let (_, tokens) = read_answer(&mut client).await;
    assert_eq!(tokens.last().map(|t| t.chars().count()), Some(4001));
    send_json(
        &mut client,
        json!({"type": "send_message", "text": "é".repeat(4001)}),
    )
    .await;
    expect_refused(&mut client, "text of 4001 characters").await;
    // `since`: an integer, minimum 0. Accepted without a reply, so the
    // next reply is the relayed `typing`.
    let typing = json!({"type": "typing", "user_id": "alice", "active": true});
    for (since, accepted) in [(json!(-1), false), (json!(0), true), (json!(0.5), false)] {
        send_json(
            &mut client,
            json!({"type": "subscribe_conversation", "since": since}),
        )
        .await;
        if !accepted {
            expect_refused(&mut client, &format!("since {since}")).await;
        }
        send_json(&mut client, typing.clone()).await;
        assert_eq!(
            next_json(&mut client).await["type"],
            "typing",
            "since {since}"
        );
    }
    // Fields the spec does not declare, and `null` for a value.
    for message in [
        json!({"type": "send_message", "text": "x", "admin": true}),
        json!({"type": "typing", "user_id": "alice", "active": null}),
    ] {
        send_json(&mut client, message.clone()).await;
        expect_refused(&mut client, &message.to_string()).await;
    }

    // `address`: exactly 42 characters matching `^0x[0-9a-fA-F]{40}$`.
    let mut web3 = connect_as(
        app.addr,
        "/api/v1/web3/ws/alice",
        &token("alice", &["user"]),
    )
    .await;
    expect_welcome(&mut web3, "alice", "web3").await;
    let good = "0x52908400098527886E0F7030069857D2E4169EE7";
    for bad in [
        // Right length, not hex: only the pattern refuses it.
        "0xZZ908400098527886E0F7030069857D2E4169EE7".to_owned(),
        format!("{good}0"),
        good[..41].to_owned(),
    ] {
        send_json(
            &mut web3,
            json!({"type": "subscribe_wallet", "address": bad}),
        )
        .await;
        expect_refused(&mut web3, &bad).await;
    }
    send_json(
        &mut web3,
        json!({"type": "subscribe_wallet", "address": good}),
    )
    .await;
    assert_eq!(next_json(&mut web3).await["type"], "balance_update");
}
