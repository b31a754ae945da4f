//! Open messages: JSON objects whose `type` the spec does not declare.
//!
//! # Motivation
//!
//! Some APIs relay whatever their clients say: a broadcast channel stamps
//! each message with who sent it and passes it on, whatever its `type`. A
//! spec can allow that on an endpoint (`open:`), and everything else stays
//! as strict as before: an open message's `type` is never one the spec
//! declares (so `{"type": "relayed", ...}` with the wrong fields is refused
//! as an invalid `relayed`, never accepted as an open message that other
//! clients would then decode as a real `relayed`), never the framework's own
//! (`wsauth.`), and sending one needs the permission the spec names for it.
//! Size and rate limits count it like any message.
//!
//! # Shape
//!
//! One type, [`OpenMessage`], on both sides and in both directions: a
//! handler receives `Incoming::Open(message)` and can send the same value
//! on (`session.send(message)`), and the generated Rust client sends and
//! receives it the same way. Its wire form is the frame itself,
//! `{"type": kind, ...payload}`. Generated enums hold it in an untagged
//! last variant whose decoder refuses the spec's declared types.

use serde::de::{self, Deserializer, MapAccess, Visitor};
use serde::ser::{SerializeMap, Serializer};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::descriptor::RESERVED_PREFIX;

/// A message whose `type` the spec does not declare, with its other fields
/// as they are.
#[derive(Clone, Debug, PartialEq)]
pub struct OpenMessage {
    /// The `type` on the wire.
    pub kind: String,
    /// Every field beside `type` (what the spec calls a message's payload).
    pub payload: Map<String, Value>,
}

impl OpenMessage {
    /// An open message of type `kind` with `payload`'s fields. A `type`
    /// among them is ignored: `kind` is the message's type. Give it a type
    /// the spec does not declare: a server refuses to send a declared one
    /// this way, and a client that sends one has it checked as that
    /// declared message (its fields, its permission).
    pub fn new(kind: impl Into<String>, payload: Map<String, Value>) -> Self {
        OpenMessage {
            kind: kind.into(),
            payload,
        }
    }

    /// Decodes an open message, refusing a `type` in `declared` or under
    /// the reserved `wsauth.` prefix (for generated enums' open variant).
    #[doc(hidden)]
    pub fn __deserialize_undeclared<'de, D: Deserializer<'de>>(
        deserializer: D,
        declared: &[&str],
    ) -> Result<Self, D::Error> {
        let message = OpenMessage::deserialize(deserializer)?;
        if declared.contains(&message.kind.as_str()) {
            return Err(de::Error::custom(format_args!(
                "`{}` is a declared message and its fields do not match",
                message.kind
            )));
        }
        Ok(message)
    }
}

impl Serialize for OpenMessage {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let fields = self.payload.iter().filter(|(k, _)| *k != "type");
        let mut map = serializer.serialize_map(None)?;
        map.serialize_entry("type", &self.kind)?;
        for (k, v) in fields {
            map.serialize_entry(k, v)?;
        }
        map.end()
    }
}

impl<'de> Deserialize<'de> for OpenMessage {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Fields;
        impl<'de> Visitor<'de> for Fields {
            type Value = OpenMessage;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("a JSON object with a string `type`")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<OpenMessage, A::Error> {
                let mut kind = None;
                let mut payload = Map::new();
                while let Some(key) = map.next_key::<String>()? {
                    if key == "type" {
                        if kind.is_some() {
                            return Err(de::Error::duplicate_field("type"));
                        }
                        kind = Some(map.next_value::<String>()?);
                    } else {
                        let value = map.next_value::<Value>()?;
                        payload.insert(key, value);
                    }
                }
                let kind = kind.ok_or_else(|| de::Error::missing_field("type"))?;
                if kind.starts_with(RESERVED_PREFIX) {
                    return Err(de::Error::custom(format_args!(
                        "`{RESERVED_PREFIX}` types are the framework's"
                    )));
                }
                Ok(OpenMessage { kind, payload })
            }
        }
        deserializer.deserialize_map(Fields)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The shape generated enums give an endpoint with open messages.
    #[derive(Debug, PartialEq, Serialize, Deserialize)]
    #[serde(tag = "type")]
    enum Messages {
        #[serde(rename = "say")]
        Say(Say),
        #[serde(untagged, deserialize_with = "undeclared")]
        Open(OpenMessage),
    }

    #[derive(Debug, PartialEq, Serialize, Deserialize)]
    #[serde(deny_unknown_fields)]
    struct Say {
        text: String,
    }

    fn undeclared<'de, D: Deserializer<'de>>(d: D) -> Result<OpenMessage, D::Error> {
        OpenMessage::__deserialize_undeclared(d, &["say", "relayed"])
    }

    fn parse(text: &str) -> Option<Messages> {
        serde_json::from_str(text).ok()
    }

    #[test]
    fn undeclared_types_are_open_and_declared_ones_never_are() {
        assert_eq!(
            parse(r#"{"type":"say","text":"hi"}"#),
            Some(Messages::Say(Say { text: "hi".into() }))
        );
        let open = parse(r#"{"type":"test","payload":{"message":"Hello"}}"#);
        let mut payload = Map::new();
        payload.insert("payload".into(), serde_json::json!({"message": "Hello"}));
        assert_eq!(
            open,
            Some(Messages::Open(OpenMessage::new("test", payload)))
        );
        // A declared type with the wrong fields is not an open message.
        assert_eq!(parse(r#"{"type":"say","txt":"hi"}"#), None);
        assert_eq!(parse(r#"{"type":"relayed","text":"forged"}"#), None);
        // Nor is the framework's, or anything without a string type.
        assert_eq!(parse(r#"{"type":"wsauth.refresh","token":"x"}"#), None);
        for bad in [
            r#"{"payload":1}"#,
            r#"{"type":3}"#,
            r#"["test"]"#,
            r#""test""#,
        ] {
            assert_eq!(parse(bad), None, "{bad}");
        }
        assert_eq!(parse(r#"{"type":"a","type":"b"}"#), None);
    }

    #[test]
    fn the_wire_form_is_the_type_then_the_fields() {
        let mut payload = Map::new();
        payload.insert("type".into(), Value::from("ignored"));
        payload.insert("user".into(), Value::from("alice"));
        let message = Messages::Open(OpenMessage::new("test", payload));
        let text = serde_json::to_string(&message).unwrap_or_default();
        assert_eq!(text, r#"{"type":"test","user":"alice"}"#);
        let say = serde_json::to_string(&Messages::Say(Say { text: "x".into() }));
        assert_eq!(say.unwrap_or_default(), r#"{"type":"say","text":"x"}"#);
    }
}
