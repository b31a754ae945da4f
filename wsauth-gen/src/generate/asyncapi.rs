//! AsyncAPI 3.0 documents of an API, as YAML and as JSON.
//!
//! # Motivation
//!
//! AsyncAPI is what a platform team publishes and what tools (AsyncAPI
//! Studio, code generators, contract tests) read. The document says, in
//! AsyncAPI's words, everything the spec says about the wire: one channel per
//! endpoint (its address, parameters, handshake binding and messages), one
//! operation per message an endpoint receives or sends, every frame's JSON
//! Schema with a valid example, and how tokens travel. What AsyncAPI has no
//! words for — permissions, roles, resource checks, the close-code catalogue,
//! limits — is carried by `x-wsauth-*` extensions, listed in the document's
//! own description (see [`EXTENSIONS`]). Each topic is a channel of its
//! own (`topic.<name>`), carrying its `wsauth.publication` envelope.
//!
//! # Perspective
//!
//! An AsyncAPI 3 document describes one application, here the **server**:
//! `action: receive` is a message the client sends, `action: send` one the
//! server sends. There is one operation per endpoint and message (not per
//! endpoint and direction) because that is the grain at which wsauth checks
//! permissions: each operation's `x-wsauth-permission` is the one permission
//! checked for it (a client message's own `perm`, else the endpoint's
//! connect permission).
//!
//! # Shape
//!
//! The document is built once as data, a [`serde_json::Value`] whose maps
//! keep insertion order, and serialized twice: pretty JSON by serde_json,
//! YAML by the small writer in `yaml`, which quotes every string a YAML
//! reader could take for something else. So the two files say the same by
//! construction, and neither can be malformed. `document` lays out the
//! skeleton in the order the files show it; each part has its module:
//!
//! | module | builds |
//! |---|---|
//! | `description` | `info.description`: authentication, close codes, extensions in Markdown |
//! | `security` | `servers`, `components.securitySchemes` and the `security` lists |
//! | `traffic` | which messages travel on an endpoint, and which way (used by the next three) |
//! | `channels` | `channels`: address, parameters, messages, WebSocket binding, channel extensions |
//! | `operations` | `operations`: one per endpoint and message, with its permission |
//! | `messages` | `components.schemas` and `components.messages`, wsauth's own messages included |
//! | `close_codes` | the close-code table, `x-wsauth-close-codes`, and which code a failure closes with |
//! | `topics` | one channel per topic, its operations and envelopes, and the endpoints' topic control messages |
//! | `extensions` | the root `x-wsauth-*` extensions and [`EXTENSIONS`], what each one means |
//! | `yaml` | the YAML writer |

mod channels;
mod close_codes;
mod description;
mod extensions;
mod messages;
mod operations;
mod security;
mod topics;
mod traffic;
mod yaml;

use serde_json::{Map, Value, json};

use super::GenError;
use crate::ir::Api;

pub use extensions::EXTENSIONS;

/// Where named schemas live in the document.
const SCHEMA_REFS: &str = "#/components/schemas/";

/// The YAML document.
///
/// Never fails; it returns a `Result` like every backend of
/// [`build`](super::build).
pub fn yaml(api: &Api) -> Result<String, GenError> {
    Ok(yaml::to_string(&document(api)))
}

/// The JSON document, pretty-printed.
///
/// Never fails; it returns a `Result` like every backend of
/// [`build`](super::build).
pub fn json(api: &Api) -> Result<String, GenError> {
    Ok(format!("{:#}\n", document(api)))
}

/// The whole document, keys in the order the files show them.
fn document(api: &Api) -> Value {
    let mut doc = Map::new();
    doc.insert("asyncapi".into(), "3.0.0".into());
    doc.insert(
        "info".into(),
        json!({
            "title": api.title,
            "version": api.version,
            "description": description::info(api),
        }),
    );
    doc.insert("defaultContentType".into(), "application/json".into());
    let servers = security::servers(api);
    if !servers.is_empty() {
        doc.insert("servers".into(), servers.into());
    }
    let channels: Map<String, Value> = api
        .endpoints
        .iter()
        .map(|e| (e.name.clone(), channels::channel(api, e)))
        .chain(
            api.topics
                .iter()
                .map(|t| (topics::channel_key(&t.name), topics::channel(api, t))),
        )
        .collect();
    doc.insert("channels".into(), channels.into());
    let operations: Map<String, Value> = api
        .endpoints
        .iter()
        .flat_map(|e| operations::of(api, e))
        .chain(api.topics.iter().flat_map(|t| topics::operations(api, t)))
        .collect();
    doc.insert("operations".into(), operations.into());
    let mut components = Map::new();
    let schemas = messages::schemas(api);
    if !schemas.is_empty() {
        components.insert("schemas".into(), schemas.into());
    }
    components.insert("messages".into(), messages::messages(api).into());
    let schemes = security::schemes(api);
    if !schemes.is_empty() {
        components.insert("securitySchemes".into(), schemes.into());
    }
    doc.insert("components".into(), components.into());
    for (key, value) in extensions::root(api) {
        doc.insert(key.into(), value);
    }
    Value::Object(doc)
}

/// Sets `key` in `map` when there is a value.
fn put(map: &mut Map<String, Value>, key: &str, value: Option<impl Into<Value>>) {
    if let Some(value) = value {
        map.insert(key.into(), value.into());
    }
}

/// A `$ref` to the object at `path`, each segment escaped as a JSON Pointer
/// reference token (RFC 6901).
fn reference(path: &[&str]) -> String {
    let tokens: Vec<String> = path
        .iter()
        .map(|p| p.replace('~', "~0").replace('/', "~1"))
        .collect();
    format!("#/{}", tokens.join("/"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::PathBuf;

    use crate::ir::{Access, ExpiryPolicy};

    fn specs_dir() -> PathBuf {
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../specs")
    }

    fn spec(name: &str) -> Api {
        let path = specs_dir().join(format!("{name}.yaml"));
        crate::load(&path).unwrap_or_else(|e| panic!("{}: {e:?}", path.display()))
    }

    /// The name of every example spec in `specs/`.
    fn spec_names() -> Vec<String> {
        let entries = std::fs::read_dir(specs_dir()).unwrap_or_else(|e| panic!("specs/: {e}"));
        let mut names: Vec<String> = entries
            .filter_map(|entry| {
                let path = entry.ok()?.path();
                let name = path.file_name()?.to_str()?.strip_suffix(".yaml")?;
                Some(name.to_owned())
            })
            .collect();
        names.sort();
        assert!(names.len() >= 6, "{names:?}");
        names
    }

    #[test]
    fn raw_endpoints_are_documented_as_carrying_no_refresh() {
        let mut api = spec("echo");
        api.auth
            .as_mut()
            .unwrap_or_else(|| panic!("echo has auth"))
            .on_expiry = ExpiryPolicy::Refresh;
        let doc = yaml(&api).unwrap_or_else(|e| panic!("{e}"));
        // echo's raw endpoint is anonymous: nothing to say about it.
        assert!(!doc.contains("carry no refresh"), "{doc}");
        for endpoint in &mut api.endpoints {
            endpoint.access = Access::Required;
        }
        let doc = yaml(&api).unwrap_or_else(|e| panic!("{e}"));
        assert!(
            doc.contains("Endpoints with raw frames (`raw`) carry no refresh"),
            "{doc}"
        );
    }

    #[test]
    fn output_is_deterministic() {
        for name in &spec_names() {
            let api = spec(name);
            let (a, b) = (yaml(&api), yaml(&api));
            assert_eq!(a.ok(), b.ok(), "{name}");
            assert_eq!(json(&api).ok(), json(&spec(name)).ok(), "{name}");
        }
    }

    #[test]
    fn yaml_and_json_say_the_same() {
        for name in &spec_names() {
            let api = spec(name);
            let yaml = yaml(&api).unwrap_or_else(|e| panic!("{name}: {e}"));
            let json = json(&api).unwrap_or_else(|e| panic!("{name}: {e}"));
            let from_yaml = yaml::read(&yaml).unwrap_or_else(|e| panic!("{name}: {e}"));
            let from_json: Value =
                serde_json::from_str(&json).unwrap_or_else(|e| panic!("{name}: {e}"));
            assert_eq!(from_yaml, from_json, "{name}");
            // Pretty JSON in the same key order, not merely equal values.
            let again = serde_json::to_string_pretty(&from_yaml).unwrap_or_default() + "\n";
            assert_eq!(again, json, "{name}");
        }
    }

    #[test]
    fn prsm_describes_the_server() {
        let api = spec("prsm");
        let doc: Value = serde_json::from_str(&json(&api).unwrap_or_default()).unwrap_or_default();
        assert_eq!(doc["asyncapi"], "3.0.0");
        let post = &doc["operations"]["conversation.receive.send_message"];
        assert_eq!(post["action"], "receive");
        assert_eq!(post["x-wsauth-permission"], "conversation.write");
        assert_eq!(
            post["messages"][0]["$ref"],
            "#/channels/conversation/messages/send_message"
        );
        let token = &doc["operations"]["conversation.send.ai_token"];
        assert_eq!(token["action"], "send");
        assert_eq!(token["x-wsauth-permission"], "conversation.read");
        let refresh = &doc["operations"]["conversation.receive.wsauth.refresh"];
        assert_eq!(
            refresh["reply"]["messages"][0]["$ref"],
            "#/channels/conversation/messages/wsauth.refreshed"
        );
        let channel = &doc["channels"]["web3"];
        assert_eq!(channel["address"], "/api/v1/web3/ws/{user_id}");
        assert_eq!(channel["x-wsauth-permission"], "wallet.read");
        assert_eq!(channel["bindings"]["ws"]["query"]["type"], "object");
        assert!(channel["bindings"]["ws"]["headers"]["properties"]["Authorization"].is_object());
        assert_eq!(
            channel["parameters"]["user_id"]["x-wsauth-equals"],
            "subject"
        );
        let codes = doc["x-wsauth-close-codes"]
            .as_array()
            .cloned()
            .unwrap_or_default();
        assert!(
            codes
                .iter()
                .any(|c| c["code"] == 4008 && c["client"] == "backoff")
        );
        assert_eq!(doc["x-wsauth-roles"]["admin"]["all"], true);
        assert_eq!(
            doc["components"]["securitySchemes"]["queryToken"]["in"],
            "query"
        );
    }

    #[test]
    fn open_messages_have_their_operations_permission_and_schema() {
        let api = spec("shipvox");
        let doc: Value = serde_json::from_str(&json(&api).unwrap_or_default()).unwrap_or_default();
        let receive = &doc["operations"]["broadcast.receive.wsauth.open"];
        assert_eq!(receive["action"], "receive");
        assert_eq!(receive["x-wsauth-permission"], "broadcast.speak");
        let send = &doc["operations"]["broadcast.send.wsauth.open"];
        assert_eq!(send["x-wsauth-permission"], "broadcast.listen");
        let ty = &doc["components"]["messages"]["wsauth.open"]["payload"]["properties"]["type"];
        assert_eq!(
            ty["not"]["anyOf"][0]["enum"],
            json!(["connected", "say", "relayed"]),
            "{ty}"
        );
        // Specs without open messages document none.
        let prsm: Value =
            serde_json::from_str(&json(&spec("prsm")).unwrap_or_default()).unwrap_or_default();
        assert!(prsm["components"]["messages"]["wsauth.open"].is_null());
    }

    #[test]
    fn a_topic_delivered_as_messages_has_no_envelope_and_no_control() {
        let doc: Value =
            serde_json::from_str(&json(&spec("shipvox")).unwrap_or_default()).unwrap_or_default();
        let broadcast = &doc["channels"]["broadcast"];
        assert_eq!(
            broadcast["x-wsauth-deliver"],
            json!({ "everyone": "message" })
        );
        assert!(
            broadcast["messages"]["wsauth.subscribe"].is_null(),
            "{broadcast}"
        );
        assert_eq!(doc["channels"]["topic.everyone"]["messages"], json!({}));
        assert!(doc["components"]["messages"]["wsauth.publication.everyone"].is_null());

        // Where clients subscribe to an open topic, its envelope carries
        // open messages beside the declared ones.
        let mut api = spec("shipvox");
        api.endpoints[0].topics[0].deliver = crate::ir::Deliver::Publication;
        let doc: Value = serde_json::from_str(&json(&api).unwrap_or_default()).unwrap_or_default();
        assert!(doc["channels"]["broadcast"]["x-wsauth-deliver"].is_null());
        let envelope = &doc["components"]["messages"]["wsauth.publication.everyone"];
        let carried = &envelope["payload"]["properties"]["message"]["oneOf"];
        assert_eq!(
            carried[0]["properties"]["type"]["const"], "relayed",
            "{carried}"
        );
        assert_eq!(
            carried[1]["properties"]["type"]["not"]["anyOf"][0]["enum"],
            json!(["connected", "say", "relayed"]),
            "{carried}"
        );
    }

    #[test]
    fn topics_have_a_channel_operations_and_control_messages() {
        let doc: Value =
            serde_json::from_str(&json(&spec("prsm")).unwrap_or_default()).unwrap_or_default();
        let channel = &doc["channels"]["topic.conversation"];
        assert_eq!(channel["address"], "conversation/{conversation_id}");
        assert_eq!(
            channel["parameters"]["conversation_id"]["x-wsauth-type"],
            "integer"
        );
        assert_eq!(channel["x-wsauth-subscribe"], "conversation.read");
        assert_eq!(channel["x-wsauth-publish"], "conversation.write");
        assert_eq!(channel["x-wsauth-checks"], json!(["conversation_access"]));
        assert_eq!(channel["x-wsauth-presence"], true);
        assert_eq!(
            channel["x-wsauth-history"],
            json!({ "size": 100, "ttl_s": 300 })
        );
        assert_eq!(
            channel["x-wsauth-endpoints"],
            json!(["notifications", "conversation"])
        );
        let deliver = &doc["operations"]["topic.conversation.send.wsauth.publication"];
        assert_eq!(deliver["action"], "send");
        assert_eq!(deliver["x-wsauth-permission"], "conversation.read");
        let publish = &doc["operations"]["topic.conversation.receive.wsauth.publish"];
        assert_eq!(publish["action"], "receive");
        assert_eq!(publish["x-wsauth-permission"], "conversation.write");
        let envelope = &doc["components"]["messages"]["wsauth.publication.conversation"]["payload"];
        assert_eq!(envelope["properties"]["topic"]["const"], "conversation");
        assert_eq!(
            envelope["properties"]["params"]["required"],
            json!(["conversation_id"])
        );
        let carried = envelope["properties"]["message"]["oneOf"]
            .as_array()
            .map_or(0, Vec::len);
        assert_eq!(carried, 4, "{envelope}");
        let subscribe = &doc["operations"]["conversation.receive.wsauth.subscribe"];
        assert_eq!(
            subscribe["reply"]["messages"],
            json!([
                { "$ref": "#/channels/conversation/messages/wsauth.subscribed" },
                { "$ref": "#/channels/conversation/messages/wsauth.refused" },
            ])
        );
        assert_eq!(
            doc["channels"]["conversation"]["x-wsauth-topics"],
            json!(["conversation"])
        );
        // An endpoint that lists no topic carries no control message.
        assert!(doc["channels"]["web3"]["messages"]["wsauth.subscribe"].is_null());
        assert!(doc["operations"]["web3.receive.wsauth.subscribe"].is_null());
        // Nor does a spec without topics.
        let echo: Value =
            serde_json::from_str(&json(&spec("echo")).unwrap_or_default()).unwrap_or_default();
        assert!(echo["components"]["messages"]["wsauth.subscribe"].is_null());
    }

    #[test]
    fn anonymous_operations_have_no_security() {
        let api = spec("songnodes");
        let doc: Value = serde_json::from_str(&json(&api).unwrap_or_default()).unwrap_or_default();
        assert!(doc["operations"]["anonymous.receive.search"]["security"].is_null());
        assert!(doc["operations"]["user.receive.search"]["security"].is_array());
        assert!(doc["servers"]["local"]["security"].is_null());
    }
}
