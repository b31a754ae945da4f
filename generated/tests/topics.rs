//! The topic items `include_spec!` generates, as prsm gets them from its
//! `conversation` topic: the instance key is the wire's `params` object
//! (and nothing else decodes as one), the message enum accepts the topic's
//! messages and serializes them tagged, `Joins` holds for the endpoints that
//! list the topic, and the descriptor the broker reads says what the spec
//! says.

use prsm::messages::{AiDone, Typing};
use prsm::topics::conversation::{Key, Message};
use serde_json::json;
use wsauth_core::spec::Deliver;
use wsauth_core::{Joins, MessageKind, TopicKey};

/// Compiles only when connections of `E` may join topic `K`.
fn joinable<E: Joins<K>, K: TopicKey>() {}

#[test]
fn the_key_is_the_params_object() {
    assert_eq!(<Key as TopicKey>::TOPIC, "conversation");
    let key = Key {
        conversation_id: 42,
    };
    assert_eq!(
        serde_json::to_value(&key).ok(),
        Some(json!({ "conversation_id": 42 }))
    );
    let back: Result<Key, _> = serde_json::from_value(json!({ "conversation_id": 42 }));
    assert_eq!(back.ok(), Some(key));
    for wrong in [
        json!({}),
        json!({ "conversation_id": "42" }),
        json!({ "conversation_id": 42, "extra": 1 }),
    ] {
        assert!(
            serde_json::from_value::<Key>(wrong.clone()).is_err(),
            "{wrong} decoded as a key"
        );
    }
}

#[test]
fn the_topic_messages_convert_and_serialize_tagged() {
    let typing: Message = Typing {
        user_id: "alice".into(),
        active: true,
    }
    .into();
    assert_eq!(typing.kind(), "typing");
    assert_eq!(
        serde_json::to_value(&typing).ok(),
        Some(json!({ "type": "typing", "user_id": "alice", "active": true }))
    );
    let done: Message = AiDone {
        message_id: 7,
        tokens: 3,
    }
    .into();
    assert_eq!(done.kind(), "ai_done");
}

#[test]
fn the_endpoints_that_list_the_topic_join_it() {
    joinable::<prsm::endpoints::conversation::Endpoint, Key>();
    joinable::<prsm::endpoints::notifications::Endpoint, Key>();
}

#[test]
fn the_descriptor_describes_the_topic() {
    let [topic] = prsm::API.topics else {
        panic!("prsm declares one topic: {:?}", prsm::API.topics);
    };
    assert_eq!(topic.name, "conversation");
    let params: Vec<&str> = topic.params.iter().map(|p| p.name).collect();
    assert_eq!(params, ["conversation_id"]);
    assert_eq!(topic.subscribe, Some("conversation.read"));
    assert_eq!(topic.checks, ["conversation_access"]);
    assert_eq!(topic.publish, Some("conversation.write"));
    let messages: Vec<&str> = topic.messages.iter().map(|m| m.name).collect();
    assert_eq!(messages, ["send_message", "typing", "ai_token", "ai_done"]);
    assert!(
        topic.messages.iter().all(|m| m.payload.is_some()),
        "every message carries its schema"
    );
    assert!(topic.presence);
    assert_eq!(topic.history.map(|h| (h.size, h.ttl_s)), Some((100, 300)));
    let listed: Vec<(&str, Vec<(&str, Deliver)>)> = prsm::API
        .endpoints
        .iter()
        .map(|e| {
            (
                e.name,
                e.topics.iter().map(|t| (t.name, t.deliver)).collect(),
            )
        })
        .collect();
    let subscribed = vec![("conversation", Deliver::Publication)];
    assert_eq!(
        listed,
        [
            ("notifications", subscribed.clone()),
            ("conversation", subscribed),
            ("web3", Vec::new()),
        ]
    );
}

#[test]
fn shipvox_delivers_its_topic_as_the_endpoints_messages() {
    let [broadcast] = shipvox::API.endpoints else {
        panic!("shipvox has one endpoint");
    };
    let delivered: Vec<(&str, Deliver)> = broadcast
        .topics
        .iter()
        .map(|t| (t.name, t.deliver))
        .collect();
    assert_eq!(delivered, [("everyone", Deliver::Message)]);
    let [everyone] = shipvox::API.topics else {
        panic!("shipvox declares one topic");
    };
    let open = everyone
        .open
        .map(|o| (o.admits("test"), o.admits("relayed")));
    assert_eq!(open, Some((true, false)), "open, but never a declared type");
}
