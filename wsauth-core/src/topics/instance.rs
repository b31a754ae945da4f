//! Topic instances: which one a request names, in one canonical form.
//!
//! A client names an instance by the topic and a params object; so do the
//! server's typed keys (serialized) and `publish_json`. All three become the
//! same [`InstanceKey`]: the params checked against the topic's
//! declaration (exactly its names, each of its type, integers as JSON
//! integers that fit an `i64`) and written once as canonical JSON in spec
//! order, which is both the broker's map key and the `params` every frame
//! about the instance carries. The resource checks get the same values as
//! raw strings, as path parameters are given to them.

use std::fmt::Write as _;
use std::hash::{Hash, Hasher};

use serde_json::Value;
use wsauth_spec::wire::TopicRefusal;
use wsauth_spec::{Deliver, ParamType};

use crate::descriptor::{ApiDescriptor, EndpointDescriptor, TopicDescriptor};
use crate::server::canonical;

/// One instance of a topic.
#[derive(Clone, Debug)]
pub(crate) struct InstanceKey {
    pub(crate) topic: &'static TopicDescriptor,
    /// The params as canonical JSON: `{"conversation_id":42}`.
    pub(crate) params: Box<str>,
    /// The params as the resource checks see them, in spec order.
    pub(crate) raw: Box<[(&'static str, String)]>,
}

impl PartialEq for InstanceKey {
    fn eq(&self, other: &Self) -> bool {
        self.topic.name == other.topic.name && self.params == other.params
    }
}

impl Eq for InstanceKey {}

impl Hash for InstanceKey {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.topic.name.hash(state);
        self.params.hash(state);
    }
}

/// The topic called `name` that connections of `endpoint` may join, and
/// how they get it.
pub(crate) fn topic_of(
    api: &'static ApiDescriptor,
    endpoint: &EndpointDescriptor,
    name: &str,
) -> Result<(&'static TopicDescriptor, Deliver), TopicRefusal> {
    let deliver = endpoint.delivery(name).ok_or(TopicRefusal::UnknownTopic)?;
    let topic = find_topic(api, name).ok_or(TopicRefusal::UnknownTopic)?;
    Ok((topic, deliver))
}

/// The topic called `name` that clients of `endpoint` may ask about: one
/// it lists for publication delivery. A topic delivered as messages is
/// joined by server code only, so to its clients it is no topic at all.
pub(crate) fn client_topic_of(
    api: &'static ApiDescriptor,
    endpoint: &EndpointDescriptor,
    name: &str,
) -> Result<&'static TopicDescriptor, TopicRefusal> {
    match topic_of(api, endpoint, name)? {
        (topic, Deliver::Publication) => Ok(topic),
        (_, Deliver::Message) => Err(TopicRefusal::UnknownTopic),
    }
}

/// The topic called `name` in `api`.
pub(crate) fn find_topic(
    api: &'static ApiDescriptor,
    name: &str,
) -> Option<&'static TopicDescriptor> {
    api.topics.iter().find(|t| t.name == name)
}

impl InstanceKey {
    /// The instance of `topic` that `params` names; `null` (or no params
    /// at all) stands for `{}`.
    pub(crate) fn new(
        topic: &'static TopicDescriptor,
        params: &Value,
    ) -> Result<InstanceKey, TopicRefusal> {
        let empty = serde_json::Map::new();
        let given = match params {
            Value::Object(map) => map,
            Value::Null => &empty,
            _ => return Err(TopicRefusal::InvalidParams),
        };
        if given.len() != topic.params.len() {
            return Err(TopicRefusal::InvalidParams);
        }
        let mut json = String::from("{");
        let mut raw = Vec::with_capacity(topic.params.len());
        for (i, param) in topic.params.iter().enumerate() {
            let value = given.get(param.name).ok_or(TopicRefusal::InvalidParams)?;
            let text = match (param.ty, value) {
                (ParamType::Integer, Value::Number(n)) => n
                    .as_i64()
                    .map(|n| n.to_string())
                    .ok_or(TopicRefusal::InvalidParams)?,
                (ParamType::String | ParamType::Uuid, Value::String(s)) => s.clone(),
                _ => return Err(TopicRefusal::InvalidParams),
            };
            if !canonical(param.ty, &text) || !segment_like(&text) {
                return Err(TopicRefusal::InvalidParams);
            }
            if i > 0 {
                json.push(',');
            }
            // Names are spec identifiers and the values are re-encoded, so
            // the text is canonical whatever the client's spelling was.
            let _ = write!(json, "{}:", Value::from(param.name));
            match param.ty {
                ParamType::Integer => json.push_str(&text),
                ParamType::String | ParamType::Uuid => {
                    let _ = write!(json, "{}", Value::from(text.as_str()));
                }
            }
            raw.push((param.name, text));
        }
        json.push('}');
        Ok(InstanceKey {
            topic,
            params: json.into_boxed_str(),
            raw: raw.into_boxed_slice(),
        })
    }
}

/// Whether `value` could be one path segment: bounded, without `/` or
/// control characters.
fn segment_like(value: &str) -> bool {
    value.len() <= wsauth_spec::wire::MAX_TOPIC_PARAM_BYTES
        && !value.chars().any(|c| c == '/' || c.is_control())
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::descriptor::TopicParamDescriptor;

    static TOPIC: TopicDescriptor = TopicDescriptor {
        name: "conversation",
        params: &[
            TopicParamDescriptor {
                name: "org",
                ty: ParamType::String,
            },
            TopicParamDescriptor {
                name: "conversation_id",
                ty: ParamType::Integer,
            },
        ],
        subscribe: None,
        checks: &[],
        publish: None,
        messages: &[],
        presence: false,
        history: None,
        open: None,
    };

    #[test]
    fn params_become_one_canonical_text_in_spec_order() {
        let key = InstanceKey::new(&TOPIC, &json!({"conversation_id": 42, "org": "a\"b"}));
        let Ok(key) = key else { panic!("{key:?}") };
        assert_eq!(&*key.params, r#"{"org":"a\"b","conversation_id":42}"#);
        assert_eq!(
            &*key.raw,
            &[
                ("org", "a\"b".to_owned()),
                ("conversation_id", "42".to_owned())
            ]
        );
    }

    #[test]
    fn missing_extra_or_mistyped_params_are_refused() {
        for bad in [
            json!({"org": "a"}),
            json!({"org": "a", "conversation_id": 1, "x": 1}),
            json!({"org": "a", "conversation_id": "42"}),
            json!({"org": "a", "conversation_id": 4.2}),
            json!({"org": "a", "conversation_id": 1e3}),
            json!({"org": "a", "conversation_id": u64::MAX}),
            json!({"org": "", "conversation_id": 1}),
            json!({"org": 1, "conversation_id": 1}),
            json!({"org": "a/b", "conversation_id": 1}),
            json!({"org": "a\nb", "conversation_id": 1}),
            json!({"org": "a".repeat(257), "conversation_id": 1}),
            json!([1, 2]),
            json!(null),
        ] {
            assert_eq!(
                InstanceKey::new(&TOPIC, &bad).err(),
                Some(TopicRefusal::InvalidParams),
                "{bad}"
            );
        }
    }
}
