//! The endpoints' handlers, over the typed layer `include_spec!` generates.
//!
//! Every handler runs after the pipeline admitted the connection, so the
//! subject, the endpoint permission and (for `conversation`) participation
//! are already checked, and every incoming message already passed its
//! per-message permission. What is left here is the application: the
//! welcome, conversation subscriptions on the main socket, the canned AI
//! answer, the wallet events.
//!
//! Each handler is bound to its endpoint with `#[ws_endpoint]`: its session
//! type names the endpoint, the permission is checked against the spec at
//! compile time, and the function becomes a value for [`crate::Handlers`].
//! A handler only receives its endpoint's
//! [`Incoming`](ep::conversation::Incoming) messages and can only send what
//! converts into its [`Outgoing`](ep::conversation::Outgoing). Handlers that
//! need the answer ids take the server's [`State`].
//!
//! Message shapes are the generated types' job: a message whose fields are
//! missing, of the wrong type or unknown is refused with the spec's
//! `invalid_message` handling before the handler sees it. What the types
//! cannot say is checked here: string lengths and the wallet address format.
//! Such a message gets an `error` reply with code `invalid_message` (both
//! endpoints that receive messages may send `error`), and the connection
//! stays open.

use std::hash::{DefaultHasher, Hash, Hasher};
use std::sync::atomic::{AtomicI64, Ordering};

use wsauth_core::spec::wire::TopicRefusal;
use wsauth_core::{
    Endpoint, HandlerResult, PublishError, SendError, Topics, TypedSession, ws_endpoint,
};

use crate::endpoints as ep;
use crate::messages;
use crate::schemas::{Problem, ProblemCode};
use crate::time::now_rfc3339;

/// Longest `send_message` text, in characters (the spec's `maxLength`).
pub const MAX_TEXT_CHARS: usize = 4000;

/// What the handlers share, given to the server with
/// [`Handlers::with_state`](crate::Handlers::with_state).
#[derive(Debug)]
pub struct State {
    /// The next `message_id` of an answer: ids are unique per server.
    next_message_id: AtomicI64,
}

impl State {
    pub(crate) fn new() -> Self {
        State {
            next_message_id: AtomicI64::new(1),
        }
    }
}

/// The `connected` welcome: who, where, and the server's clock.
pub fn welcome_payload(user_id: &str, endpoint: &str, server_time: &str) -> messages::Connected {
    messages::Connected {
        user_id: user_id.to_owned(),
        endpoint: endpoint.to_owned(),
        server_time: server_time.to_owned(),
    }
}

/// The authenticated subject (every prsm endpoint requires one).
fn subject<E: Endpoint>(session: &TypedSession<E>) -> String {
    session.principal().subject().unwrap_or_default().to_owned()
}

/// Sends the `connected` welcome, which must come first on every endpoint.
fn welcome<E: Endpoint>(session: &mut TypedSession<E>) -> Result<(), SendError>
where
    messages::Connected: Into<E::Outgoing>,
{
    let user = subject(session);
    session.send(welcome_payload(&user, E::NAME, &now_rfc3339()))
}

/// The `error {code: invalid_message}` reply to a message whose fields have
/// the right types but values the spec does not allow.
fn invalid(message: &str) -> messages::Error {
    Problem {
        code: ProblemCode::InvalidMessage,
        message: message.to_owned(),
    }
}

/// The `error {code: forbidden}` reply to a subscription the user may not
/// have. A conversation that does not exist gets the same answer, as at the
/// handshake: ids of other users' conversations are not confirmed.
fn forbidden() -> messages::Error {
    Problem {
        code: ProblemCode::Forbidden,
        message: "no access to that conversation".to_owned(),
    }
}

/// The notifications a user finds on connecting.
pub fn initial_notifications(user_id: &str) -> Vec<messages::Notification> {
    vec![
        messages::Notification {
            id: 1,
            title: "Welcome to PRSM".to_owned(),
            body: Some(format!("Signed in as {user_id}.")),
        },
        messages::Notification {
            id: 2,
            title: "New answer in conversation 1".to_owned(),
            body: Some("The assistant has replied.".to_owned()),
        },
    ]
}

/// Why a handler ends the connection (with the server-error code).
#[derive(Debug, thiserror::Error)]
enum SubscriptionError {
    /// The conversation's check failed (the store), or the server refused
    /// the join for a reason this handler never causes.
    #[error("joining conversation {conversation_id} was refused: {}", .refusal.reason())]
    Join {
        conversation_id: i64,
        refusal: TopicRefusal,
    },
}

/// Answers `subscribe_conversation` on the main socket by joining the
/// connection to the conversation's topic: `subscribed` once joined (the
/// client then gets the topic's `wsauth.*` frames too), an `error`
/// otherwise. The join runs the topic's permission (`conversation.read`)
/// and its `conversation_access` check, the seed's "conversation access
/// control" for subscriptions, the same rule as the `conversation`
/// endpoint's. A check that fails (the store) ends the connection (1011).
async fn subscribe(
    session: &mut ep::notifications::Session,
    m: &messages::SubscribeConversation,
) -> HandlerResult {
    let Some(conversation_id) = m.conversation_id else {
        session.send(invalid(
            "subscribe_conversation needs a `conversation_id` here",
        ))?;
        return Ok(());
    };
    let key = crate::topics::conversation::Key { conversation_id };
    match session.join(&key).await {
        Ok(()) => session.send(messages::Subscribed { conversation_id })?,
        Err(TopicRefusal::Forbidden | TopicRefusal::NotFound) => session.send(forbidden())?,
        Err(TopicRefusal::TooManySubscriptions) => session.send(Problem {
            code: ProblemCode::Forbidden,
            message: TopicRefusal::TooManySubscriptions.reason().to_owned(),
        })?,
        Err(refusal) => {
            return Err(Box::new(SubscriptionError::Join {
                conversation_id,
                refusal,
            }));
        }
    }
    Ok(())
}

/// `notifications` (`/ws/{user_id}`): the welcome, the pending
/// notifications, then conversation subscriptions until the client leaves.
#[ws_endpoint(perm = "notifications.read")]
pub async fn notifications(mut session: ep::notifications::Session) -> HandlerResult {
    welcome(&mut session)?;
    let user = subject(&session);
    for notification in initial_notifications(&user) {
        session.send(notification)?;
    }
    while let Some(message) = session.recv().await {
        match message {
            ep::notifications::Incoming::SubscribeConversation(m) => {
                subscribe(&mut session, &m).await?;
            }
        }
    }
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

/// Whether `text` has 1 to [`MAX_TEXT_CHARS`] characters (the spec's
/// `minLength` and `maxLength` of `send_message.text`).
fn is_message_text(text: &str) -> bool {
    (1..=MAX_TEXT_CHARS).contains(&text.chars().count())
}

/// Streams the answer to `text` as `ai_token`s, then `ai_done`. Each token
/// waits for room in the send queue, so a long answer never overflows it.
async fn stream_answer(
    session: &mut ep::conversation::Session,
    message_id: i64,
    text: &str,
) -> Result<(), SendError> {
    let tokens = answer_tokens(text);
    let count = tokens.len();
    for (index, token) in (0..).zip(tokens) {
        session
            .deliver(messages::AiToken {
                message_id,
                index,
                token,
            })
            .await?;
    }
    session
        .deliver(messages::AiDone {
            message_id,
            tokens: i64::try_from(count).unwrap_or(i64::MAX),
        })
        .await
}

/// Publishes `message` on `topic`; while the cluster's Redis is unreachable
/// it is only logged (the sender's connection stays open).
async fn relay(
    topics: &Topics,
    topic: &crate::topics::conversation::Key,
    message: impl Into<crate::topics::conversation::Message>,
) -> Result<(), PublishError> {
    match topics.publish(topic, message).await {
        Err(PublishError::Unavailable) => {
            tracing::warn!(
                topic = "conversation",
                "not relayed: the cluster's redis is unreachable"
            );
            Ok(())
        }
        published => published.map(drop),
    }
}

/// `conversation`: the welcome, then `send_message` streams an answer,
/// `typing` is relayed back stamped with the sender's subject, and
/// `subscribe_conversation` is accepted without a reply. Message ids are
/// unique per server.
///
/// What is said is also published on the conversation's topic, so every
/// participant subscribed to it (from any endpoint that lists it) sees the
/// messages posted and who is typing; the sender's own socket keeps its
/// direct replies, as the seed's clients expect. In a cluster whose Redis
/// is unreachable the others miss it, and the conversation goes on.
#[ws_endpoint(perm = "conversation.read")]
pub async fn conversation(mut session: ep::conversation::Session, state: &State) -> HandlerResult {
    welcome(&mut session)?;
    let user = subject(&session);
    // The pipeline admitted the path, so the id is a canonical integer.
    let conversation_id: i64 = session
        .param("conversation_id")
        .and_then(|id| id.parse().ok())
        .ok_or("prsm: conversation id missing from the path")?;
    let topic = crate::topics::conversation::Key { conversation_id };
    let topics = session.topics();
    while let Some(message) = session.recv().await {
        match message {
            ep::conversation::Incoming::SubscribeConversation(_) => {}
            ep::conversation::Incoming::SendMessage(m) if is_message_text(&m.text) => {
                relay(&topics, &topic, m.clone()).await?;
                let id = state.next_message_id.fetch_add(1, Ordering::Relaxed);
                stream_answer(&mut session, id, &m.text).await?;
            }
            ep::conversation::Incoming::SendMessage(_) => {
                session.send(invalid(
                    "send_message needs a `text` of 1 to 4000 characters",
                ))?;
            }
            ep::conversation::Incoming::Typing(t) => {
                // The relayed user is the authenticated one, not the claimed one.
                let typing = messages::Typing {
                    user_id: user.clone(),
                    active: t.active,
                };
                relay(&topics, &topic, typing.clone()).await?;
                session.send(typing)?;
            }
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
pub fn wallet_events(address: &str) -> (messages::BalanceUpdate, messages::Transaction) {
    let mut hasher = DefaultHasher::new();
    address.to_ascii_lowercase().hash(&mut hasher);
    let seed = hasher.finish();
    let balance = messages::BalanceUpdate {
        address: address.to_owned(),
        balance: format!("{}.{:04}", seed % 100, seed / 100 % 10_000),
        token: messages::BalanceUpdateToken::ETH,
    };
    let hash: String = (0..4u32)
        .map(|i| format!("{:016x}", seed.rotate_left(16 * i) ^ u64::from(i)))
        .collect();
    let transaction = messages::Transaction {
        hash: format!("0x{hash}"),
        from: "0x000000000000000000000000000000000000dead".to_owned(),
        to: address.to_owned(),
        amount: "0.5000".to_owned(),
        status: messages::TransactionStatus::Confirmed,
    };
    (balance, transaction)
}

/// `web3`: the welcome, then each `subscribe_wallet` gets a
/// `balance_update` and a `transaction`.
#[ws_endpoint(perm = "wallet.read")]
pub async fn web3(mut session: ep::web3::Session) -> HandlerResult {
    welcome(&mut session)?;
    while let Some(message) = session.recv().await {
        match message {
            ep::web3::Incoming::SubscribeWallet(m) if is_wallet_address(&m.address) => {
                let (balance, transaction) = wallet_events(&m.address);
                session.send(balance)?;
                session.send(transaction)?;
            }
            ep::web3::Incoming::SubscribeWallet(_) => {
                session.send(invalid(
                    "subscribe_wallet needs an `address`: 0x and 40 hex digits",
                ))?;
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use serde_json::{Value, json};

    use super::*;

    #[test]
    fn answer_tokens_concatenate_to_the_answer() {
        let tokens = answer_tokens("hello  there\nworld");
        assert_eq!(tokens, ["You", " said:", " hello", " there", " world"]);
        assert_eq!(tokens.concat(), "You said: hello there world");
    }

    /// The text of a `send_message` as the handler takes it: decoded into
    /// the generated type, then checked for its length.
    fn message_text(value: &Value) -> Option<String> {
        let message: messages::SendMessage = serde_json::from_value(value.clone()).ok()?;
        is_message_text(&message.text).then_some(message.text)
    }

    #[test]
    fn message_text_bounds() {
        assert_eq!(message_text(&json!({"text": "hi"})).as_deref(), Some("hi"));
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
        assert_eq!(balance.address, address);
        assert_eq!(transaction.to, address);
        assert_eq!(transaction.hash.len(), 66);
        assert_eq!(
            wallet_events(address),
            (balance, transaction),
            "deterministic"
        );
    }
}
