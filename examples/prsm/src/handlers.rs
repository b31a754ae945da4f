//! The endpoints' handlers, over the untyped [`Session`] API.
//!
//! Every handler runs after the pipeline admitted the connection, so the
//! subject, the endpoint permission and (for `conversation`) participation
//! are already checked, and every incoming message already passed its
//! per-message permission. What is left here is the application: the
//! welcome, the canned AI answer, the wallet events. Message bodies are built
//! by small pure functions so they can move to a typed layer unchanged.
//!
//! Payload fields are checked here: the pipeline checks a message's `type`
//! and permission, not its fields. A bad payload gets an `error` reply with
//! code `invalid_message` where the endpoint may send `error`.

use std::hash::{DefaultHasher, Hash, Hasher};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use serde_json::{Value, json};
use wsauth_core::{HandlerResult, Incoming, SendError, Session};

use crate::time::now_rfc3339;

/// Longest `send_message` text, in characters (the spec's `maxLength`).
pub const MAX_TEXT_CHARS: usize = 4000;

/// The `connected` welcome: who, where, and the server's clock.
pub fn welcome_payload(user_id: &str, endpoint: &str, server_time: &str) -> Value {
    json!({ "user_id": user_id, "endpoint": endpoint, "server_time": server_time })
}

/// Sends the `connected` welcome, which must come first on every endpoint.
fn welcome(session: &mut Session) -> Result<(), SendError> {
    let user = session.principal().subject().unwrap_or_default().to_owned();
    let endpoint = session.endpoint().name;
    session.send(
        "connected",
        &welcome_payload(&user, endpoint, &now_rfc3339()),
    )
}

/// Replies `error {code: invalid_message}` to a message whose fields are
/// wrong; the connection stays open.
fn invalid(session: &mut Session, message: &str) -> Result<(), SendError> {
    session.send(
        "error",
        &json!({ "code": "invalid_message", "message": message }),
    )
}

/// The notifications a user finds on connecting.
pub fn initial_notifications(user_id: &str) -> Vec<Value> {
    vec![
        json!({
            "id": 1,
            "title": "Welcome to PRSM",
            "body": format!("Signed in as {user_id}."),
        }),
        json!({
            "id": 2,
            "title": "New answer in conversation 1",
            "body": "The assistant has replied.",
        }),
    ]
}

/// `notifications` (`/ws/{user_id}`): the welcome, the pending
/// notifications, then the connection stays open until the client leaves.
pub async fn notifications(mut session: Session) -> HandlerResult {
    welcome(&mut session)?;
    let user = session.principal().subject().unwrap_or_default().to_owned();
    for notification in initial_notifications(&user) {
        session.send("notification", &notification)?;
    }
    // The endpoint receives nothing: the pipeline refuses any message, so
    // this only waits for the end.
    while session.recv().await.is_some() {}
    Ok(())
}

/// The canned answer to `text`, split into word tokens that concatenate back
/// to it: `["You", " said:", " hello"]`.
pub fn answer_tokens(text: &str) -> Vec<String> {
    let answer = format!("You said: {text}");
    answer
        .split_whitespace()
        .enumerate()
        .map(|(i, word)| {
            if i == 0 {
                word.to_owned()
            } else {
                format!(" {word}")
            }
        })
        .collect()
}

/// The `text` of a `send_message`, if it is a string of 1 to
/// [`MAX_TEXT_CHARS`] characters.
fn message_text(value: &Value) -> Option<&str> {
    let text = value.get("text")?.as_str()?;
    let chars = text.chars().count();
    (1..=MAX_TEXT_CHARS).contains(&chars).then_some(text)
}

/// Streams the answer to `text` as `ai_token`s, then `ai_done`.
async fn stream_answer(
    session: &mut Session,
    message_id: u64,
    text: &str,
    pace: Duration,
) -> Result<(), SendError> {
    let tokens = answer_tokens(text);
    for (index, token) in tokens.iter().enumerate() {
        session.send(
            "ai_token",
            &json!({ "message_id": message_id, "index": index, "token": token }),
        )?;
        // `Session::send` only queues; pausing lets the connection write the
        // token out, so a long answer never outgrows the send queue.
        if pace.is_zero() {
            tokio::task::yield_now().await;
        } else {
            tokio::time::sleep(pace).await;
        }
    }
    session.send(
        "ai_done",
        &json!({ "message_id": message_id, "tokens": tokens.len() }),
    )
}

/// `conversation`: the welcome, then `send_message` streams an answer,
/// `typing` is relayed back stamped with the sender's subject, and
/// `subscribe_conversation` is accepted without a reply. Message ids come
/// from `message_ids`, shared by the whole server.
pub async fn conversation(
    mut session: Session,
    message_ids: Arc<AtomicU64>,
    pace: Duration,
) -> HandlerResult {
    welcome(&mut session)?;
    let user = session.principal().subject().unwrap_or_default().to_owned();
    while let Some(incoming) = session.recv().await {
        let Incoming::Message { kind, value } = incoming else {
            continue;
        };
        match kind {
            "subscribe_conversation" => {}
            "send_message" => match message_text(&value) {
                Some(text) => {
                    let id = message_ids.fetch_add(1, Ordering::Relaxed);
                    stream_answer(&mut session, id, text, pace).await?;
                }
                None => invalid(
                    &mut session,
                    "send_message needs a `text` of 1 to 4000 characters",
                )?,
            },
            "typing" => match value.get("active").and_then(Value::as_bool) {
                Some(active) => {
                    session.send("typing", &json!({ "user_id": user, "active": active }))?;
                }
                None => invalid(&mut session, "typing needs a boolean `active`")?,
            },
            _ => {}
        }
    }
    Ok(())
}

/// Whether `address` is `0x` and 40 hex digits.
pub fn is_wallet_address(address: &str) -> bool {
    address.len() == 42
        && address.starts_with("0x")
        && address[2..].bytes().all(|b| b.is_ascii_hexdigit())
}

/// The events a new wallet subscription receives: its balance and its
/// latest transaction (deterministic, derived from the address).
pub fn wallet_events(address: &str) -> (Value, Value) {
    let mut hasher = DefaultHasher::new();
    address.to_ascii_lowercase().hash(&mut hasher);
    let seed = hasher.finish();
    let balance = json!({
        "address": address,
        "balance": format!("{}.{:04}", seed % 100, seed / 100 % 10_000),
        "token": "ETH",
    });
    let hash: String = (0..4u64)
        .map(|i| format!("{:016x}", seed.rotate_left(16 * i as u32) ^ i))
        .collect();
    let transaction = json!({
        "hash": format!("0x{hash}"),
        "from": "0x000000000000000000000000000000000000dead",
        "to": address,
        "amount": "0.5000",
        "status": "confirmed",
    });
    (balance, transaction)
}

/// `web3`: the welcome, then each `subscribe_wallet` gets a
/// `balance_update` and a `transaction`.
pub async fn web3(mut session: Session) -> HandlerResult {
    welcome(&mut session)?;
    while let Some(incoming) = session.recv().await {
        let Incoming::Message {
            kind: "subscribe_wallet",
            value,
        } = incoming
        else {
            continue;
        };
        match value.get("address").and_then(Value::as_str) {
            Some(address) if is_wallet_address(address) => {
                let (balance, transaction) = wallet_events(address);
                session.send("balance_update", &balance)?;
                session.send("transaction", &transaction)?;
            }
            _ => invalid(
                &mut session,
                "subscribe_wallet needs an `address`: 0x and 40 hex digits",
            )?,
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn answer_tokens_concatenate_to_the_answer() {
        let tokens = answer_tokens("hello  there\nworld");
        assert_eq!(tokens, ["You", " said:", " hello", " there", " world"]);
        assert_eq!(tokens.concat(), "You said: hello there world");
    }

    #[test]
    fn message_text_bounds() {
        assert_eq!(message_text(&json!({"text": "hi"})), Some("hi"));
        assert_eq!(message_text(&json!({"text": ""})), None);
        assert_eq!(message_text(&json!({"text": 5})), None);
        assert_eq!(message_text(&json!({})), None);
        let long = "é".repeat(MAX_TEXT_CHARS);
        assert!(message_text(&json!({ "text": long })).is_some());
        let longer = "x".repeat(MAX_TEXT_CHARS + 1);
        assert!(message_text(&json!({ "text": longer })).is_none());
    }

    #[test]
    fn wallet_addresses_and_events() {
        let address = "0x52908400098527886E0F7030069857D2E4169EE7";
        assert!(is_wallet_address(address));
        assert!(!is_wallet_address("0x1234"));
        assert!(!is_wallet_address(&format!("1x{}", &address[2..])));
        assert!(!is_wallet_address(
            "0xZZ908400098527886E0F7030069857D2E4169EE7"
        ));
        let (balance, transaction) = wallet_events(address);
        assert_eq!(balance["address"], address);
        assert_eq!(transaction["to"], address);
        assert_eq!(transaction["hash"].as_str().map(str::len), Some(66));
        assert_eq!(
            wallet_events(address),
            (balance, transaction),
            "deterministic"
        );
    }
}
