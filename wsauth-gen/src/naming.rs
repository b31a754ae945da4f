//! How spec names become identifiers, in every target language.
//!
//! # Motivation
//!
//! Two generated clients and the docs that describe them must call one thing
//! by one name: a user reading `CloseCode::Forbidden` in Rust should find
//! `CloseCode.Forbidden` in TypeScript and `Forbidden` in the docs. When each
//! backend converted case on its own, they drifted (and the validator's
//! name-clash check held only while all of them agreed with it). So every
//! conversion lives here, and the identifiers of the spec's items are
//! decided once, during resolution, and stored in the IR
//! ([`ir::Message::idents`], [`ir::Endpoint::idents`],
//! [`ir::NamedSchema::type_name`], [`ir::CloseCodeGroup::name`],
//! [`ir::Topic::idents`]); backends print them. The few names that belong to a nested shape rather than to a
//! spec item (an object's fields, a string enum's values) are converted by
//! the functions of [`rust`] and [`ts`] when a backend lays the shape out.
//! A new kind of spec item gets the same treatment: an identifiers struct
//! in the IR, filled in by a function here during resolution, and its
//! TypeScript declarations listed in [`ts::declared`] (or, for topics, in
//! [`ts::topic_declared`]).
//!
//! # Rules
//!
//! - A *type name* is [`pascal`] of the spec name, the same in every
//!   language: message `send_message` is the Rust type and enum variant
//!   `SendMessage` and the stem of TypeScript's `SendMessageMessage` and
//!   `sendSendMessage`.
//! - A named schema keeps its name, unless the flat TypeScript module
//!   already declares it (see [`ts::declared`]); it then takes a `Schema`
//!   suffix until the name is free, in every language alike.
//! - A close code is named after the most general of its failure kinds
//!   ([`close_code`]).
//! - Rust snake-case identifiers are raw (`r#type`) when they are keywords.

use std::collections::BTreeSet;

use crate::ir::{self, EndpointIdents, FailureKind, MessageIdents, TopicIdents};
use wsauth_spec::Keyword;

/// `send_message`, `mcp-status` or `wsauth.refresh` as `SendMessage`,
/// `McpStatus`, `WsauthRefresh`: the alphanumeric runs, each capitalised.
/// A result that would be empty, start with a digit or be `Self` (a Rust
/// keyword no raw identifier can spell) gets a `V` in front, so it is an
/// identifier in every target language.
pub fn pascal(name: &str) -> String {
    let mut out = String::new();
    for part in name.split(|c: char| !c.is_ascii_alphanumeric()) {
        let mut chars = part.chars();
        if let Some(first) = chars.next() {
            out.push(first.to_ascii_uppercase());
            out.push_str(chars.as_str());
        }
    }
    if out.is_empty() || out.starts_with(|c: char| c.is_ascii_digit()) || out == "Self" {
        out.insert(0, 'V');
    }
    out
}

/// The identifiers of message `name`.
pub fn message(name: &str) -> MessageIdents {
    let type_name = pascal(name);
    MessageIdents {
        ts_interface: format!("{type_name}Message"),
        ts_send: format!("send{type_name}"),
        type_name,
    }
}

/// The identifiers of endpoint `name`.
pub fn endpoint(name: &str) -> EndpointIdents {
    let type_name = pascal(name);
    EndpointIdents {
        rust_module: rust::snake(name),
        ts_connection: format!("{type_name}Connection"),
        ts_params: format!("{type_name}Params"),
        ts_server_message: format!("{type_name}ServerMessage"),
        ts_client_message: format!("{type_name}ClientMessage"),
        ts_connect: format!("connect{type_name}"),
        type_name,
    }
}

/// The identifiers of topic `name`.
pub fn topic(name: &str) -> TopicIdents {
    let type_name = pascal(name);
    TopicIdents {
        rust_module: rust::snake(name),
        ts_params: format!("{type_name}TopicParams"),
        ts_message: format!("{type_name}TopicMessage"),
        ts_handlers: format!("{type_name}TopicHandlers"),
        ts_subscription: format!("{type_name}Subscription"),
        ts_subscribe: format!("subscribe{type_name}"),
        type_name,
    }
}

/// The name of the close code shared by `kinds` (in the kinds' declaration
/// order): the kind itself when it is alone, else the most general of them,
/// else the first.
///
/// Naming a shared code after its general kind says what the code means to
/// a client (4003 with `subject_mismatch`, `forbidden` and `not_found` is
/// `Forbidden`: stop, access denied) rather than which specific kind
/// happens to be declared first, and it keeps the name when a spec moves
/// one more specific kind onto the code.
pub fn close_code(kinds: &[FailureKind]) -> String {
    const GENERAL: [FailureKind; 4] = [
        FailureKind::Forbidden,
        FailureKind::AuthFailed,
        FailureKind::GoingAway,
        FailureKind::ServerError,
    ];
    let kind = GENERAL
        .iter()
        .find(|general| kinds.len() > 1 && kinds.contains(general))
        .or(kinds.first())
        .map_or("Unknown", |k| k.word());
    pascal(kind)
}

/// The type name of every named schema, in order: its own name unless the
/// TypeScript module declares that name for something else, then with
/// `Schema` suffixes until it is free of every name the module declares
/// (other schemas' included). A schema name one language needs to change
/// is changed in all, so the clients agree.
pub fn schema_type_names(
    schemas: &[ir::NamedSchema],
    messages: &[ir::Message],
    endpoints: &[ir::Endpoint],
) -> Vec<String> {
    let generated: BTreeSet<String> = ts::declared(messages, endpoints)
        .map(|(name, _)| name)
        .chain(ts::RESERVED.iter().map(|s| (*s).to_owned()))
        .collect();
    let mut taken = generated.clone();
    taken.extend(schemas.iter().map(|s| pascal(&s.name)));
    schemas
        .iter()
        .map(|s| {
            let mut name = pascal(&s.name);
            if generated.contains(&name) {
                while taken.contains(&name) {
                    name.push_str("Schema");
                }
                taken.insert(name.clone());
            }
            name
        })
        .collect()
}

/// Rust identifiers.
pub mod rust {
    use proc_macro2::{Ident, Span};

    /// The variant generated Rust message enums give open messages (after
    /// the declared ones, which are named after their messages), so the
    /// validator can refuse a message that would be named the same.
    pub const OPEN_VARIANT: &str = "Open";

    /// Names that cannot be raw identifiers: they get a `_` suffix.
    const NOT_RAW: [&str; 5] = ["self", "Self", "super", "crate", "_"];

    /// `userId` or `user_id` as the snake-case identifier `user_id`, raw
    /// (`r#type`) when it is a keyword.
    pub fn snake(name: &str) -> String {
        let mut snake = String::new();
        for (i, c) in name.chars().enumerate() {
            if c.is_ascii_uppercase() {
                if i > 0 {
                    snake.push('_');
                }
                snake.push(c.to_ascii_lowercase());
            } else {
                snake.push(c);
            }
        }
        if NOT_RAW.contains(&snake.as_str()) {
            snake.push('_');
        } else if syn::parse_str::<Ident>(&snake).is_err() {
            snake.insert_str(0, "r#");
        }
        snake
    }

    /// A field's identifier and, when its JSON name is not that
    /// identifier, the name serde renames it from.
    pub fn field(name: &str) -> (Ident, Option<String>) {
        let snake = snake(name);
        let rename = (snake.trim_start_matches("r#") != name).then(|| name.to_owned());
        (ident(&snake), rename)
    }

    /// The token for an identifier decided here (`r#type` included).
    pub fn ident(text: &str) -> Ident {
        match text.strip_prefix("r#") {
            Some(raw) => Ident::new_raw(raw, Span::call_site()),
            None => Ident::new(text, Span::call_site()),
        }
    }

    /// The variant of a `wsauth_spec` keyword enum (`too_many_connections`
    /// → `TooManyConnections`), or of a string enum value.
    pub fn variant(word: &str) -> Ident {
        ident(&super::pascal(word))
    }
}

/// TypeScript identifiers.
pub mod ts {
    use crate::ir;

    /// Names the module defines whatever the spec says, and global names a
    /// schema must not shadow.
    pub const RESERVED: &[&str] = &[
        // The runtime's public names.
        "BackoffOptions",
        "ClientAction",
        "CloseCode",
        "CloseDecision",
        "CloseError",
        "CloseOutcome",
        "ConnectOptions",
        "Connection",
        "ConnectionEvent",
        "EndpointDescriptor",
        "FailureKind",
        "OptionalTokenOptions",
        "PresenceEvent",
        "PresenceHandlers",
        "PresenceSubscription",
        "PublishingSubscription",
        "StopReason",
        "Token",
        "TokenOptions",
        "TokenProvider",
        "TokenTransport",
        "TopicEndReason",
        "TopicHandlers",
        "TopicRefusal",
        "TopicRefusedError",
        "TopicRequestError",
        "TopicSubscription",
        "WebSocketConstructor",
        // Globals the module uses.
        "Array",
        "ArrayBuffer",
        "ArrayBufferView",
        "Date",
        "Error",
        "Exclude",
        "Extract",
        "JSON",
        "Map",
        "Math",
        "Object",
        "Omit",
        "Promise",
        "Record",
        "Set",
        "String",
    ];

    /// Every name the module declares for the spec's topics, each with
    /// what declares it, for error messages.
    pub fn topic_declared(topics: &[ir::Topic]) -> impl Iterator<Item = (String, String)> + '_ {
        topics.iter().flat_map(|t| {
            let owner = format!("topic `{}`", t.name);
            let i = &t.idents;
            [
                &i.ts_params,
                &i.ts_message,
                &i.ts_handlers,
                &i.ts_subscription,
            ]
            .map(|name| (name.clone(), owner.clone()))
        })
    }

    /// The type of open messages, exported by modules that have them.
    pub const OPEN_MESSAGE: &str = "OpenMessage";

    /// Every name the module declares for the spec's messages and endpoints
    /// (and open messages, when an endpoint has them), each with what
    /// declares it, for error messages; in declaration order, so a name
    /// may come twice.
    pub fn declared<'a>(
        messages: &'a [ir::Message],
        endpoints: &'a [ir::Endpoint],
    ) -> impl Iterator<Item = (String, String)> + 'a {
        let messages = messages.iter().map(|m| {
            (
                m.idents.ts_interface.clone(),
                format!("message `{}`", m.name),
            )
        });
        let endpoint_names = endpoints.iter().flat_map(|e| {
            let i = &e.idents;
            [
                &i.ts_connection,
                &i.ts_params,
                &i.ts_server_message,
                &i.ts_client_message,
                &i.ts_connect,
            ]
            .map(|name| (name.clone(), format!("endpoint `{}`", e.name)))
        });
        let open = endpoints
            .iter()
            .any(|e| e.open.is_some())
            .then(|| (OPEN_MESSAGE.to_owned(), "open messages".to_owned()));
        messages.chain(endpoint_names).chain(open)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn type_names_are_identifiers_in_every_language() {
        assert_eq!(pascal("ai_token"), "AiToken");
        assert_eq!(pascal("mcp-status"), "McpStatus");
        assert_eq!(pascal("wsauth.refresh"), "WsauthRefresh");
        assert_eq!(pascal("2fa"), "V2fa");
        assert_eq!(pascal("self"), "VSelf");
        assert_eq!(pascal("Self"), "VSelf");
        assert_eq!(pascal("selfie"), "Selfie");
        assert_eq!(pascal(""), "V");
        let m = message("send_message");
        assert_eq!(
            (
                m.type_name.as_str(),
                m.ts_interface.as_str(),
                m.ts_send.as_str()
            ),
            ("SendMessage", "SendMessageMessage", "sendSendMessage")
        );
        let e = endpoint("type");
        assert_eq!(e.rust_module, "r#type");
        assert_eq!(e.ts_connect, "connectType");
    }

    #[test]
    fn rust_snake_names_escape_keywords() {
        assert_eq!(rust::snake("userId"), "user_id");
        assert_eq!(rust::snake("match"), "r#match");
        assert_eq!(rust::snake("self"), "self_");
        let (ident, rename) = rust::field("type");
        assert_eq!((ident.to_string(), rename), ("r#type".to_owned(), None));
        let (ident, rename) = rust::field("latencyMs");
        assert_eq!(
            (ident.to_string(), rename.as_deref()),
            ("latency_ms".to_owned(), Some("latencyMs"))
        );
    }

    #[test]
    fn close_code_names_prefer_the_general_kind() {
        use FailureKind::*;
        assert_eq!(
            close_code(&[AuthRequired, AuthFailed, TokenExpired]),
            "AuthFailed"
        );
        assert_eq!(
            close_code(&[UserInactive, Forbidden, NotFound]),
            "Forbidden"
        );
        assert_eq!(close_code(&[IdleTimeout, GoingAway]), "GoingAway");
        assert_eq!(close_code(&[TooManyConnections]), "TooManyConnections");
        assert_eq!(close_code(&[SubjectMismatch, NotFound]), "SubjectMismatch");
    }
}
