//! Every message's example in the AsyncAPI goldens is valid against that
//! message's payload schema, and a broken copy of it is not.
//!
//! The schemas come from the golden `asyncapi.json` itself, so this checks
//! what is published. A payload refers to named schemas as
//! `#/components/schemas/Name`; each payload is validated as the root of a
//! document that also carries the golden's `components`, so the references
//! resolve where they point. AsyncAPI's Schema Object is a JSON Schema
//! draft-07 superset, so draft 7 is what validates.

use serde_json::{Map, Value};

use crate::support::tools::{repo_root, spec_names};

fn document(spec: &str) -> Value {
    let path = repo_root()
        .join("generated")
        .join(spec)
        .join("asyncapi.json");
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// The validator of one message's payload, with the document's components
/// beside it for `$ref`s.
fn validator(doc: &Value, payload: &Value) -> jsonschema::Validator {
    let mut root = payload.as_object().cloned().unwrap_or_default();
    let mut components = Map::new();
    components.insert("schemas".into(), doc["components"]["schemas"].clone());
    root.insert("components".into(), Value::Object(components));
    let root = Value::Object(root);
    jsonschema::draft7::new(&root).unwrap_or_else(|e| panic!("{e}: {root:#}"))
}

/// Copies of `sample` that must fail: a wrong `type`, each required field
/// missing in turn, and an undeclared field.
fn mutations(payload: &Value, sample: &Value) -> Vec<(String, Value)> {
    let mut out = Vec::new();
    let Some(frame) = sample.as_object() else {
        return out;
    };
    if payload["properties"]["type"]["const"].is_string() {
        let mut wrong = frame.clone();
        wrong.insert("type".into(), "no_such_message".into());
        out.push(("a wrong `type`".to_owned(), Value::Object(wrong)));
    }
    for field in payload["required"].as_array().into_iter().flatten() {
        let Some(field) = field.as_str() else {
            continue;
        };
        let mut missing = frame.clone();
        missing.remove(field);
        out.push((format!("without `{field}`"), Value::Object(missing)));
    }
    if payload["additionalProperties"] == Value::Bool(false) {
        let mut extra = frame.clone();
        extra.insert("wsauth_undeclared".into(), true.into());
        out.push(("an undeclared field".to_owned(), Value::Object(extra)));
    }
    out
}

#[test]
fn samples_validate_and_broken_samples_do_not() {
    let mut checked = 0;
    let mut rejected = 0;
    for spec in &spec_names() {
        let doc = document(spec);
        let messages = doc["components"]["messages"]
            .as_object()
            .unwrap_or_else(|| panic!("{spec}: no components.messages"));
        assert!(!messages.is_empty(), "{spec}: no messages");
        for (name, message) in messages {
            let payload = &message["payload"];
            let validator = validator(&doc, payload);
            let examples = message["examples"]
                .as_array()
                .unwrap_or_else(|| panic!("{spec}/{name}: no examples"));
            assert!(!examples.is_empty(), "{spec}/{name}: no examples");
            for example in examples {
                let sample = &example["payload"];
                let errors: Vec<String> = validator
                    .iter_errors(sample)
                    .map(|e| format!("{e} at {}", e.instance_path()))
                    .collect();
                assert!(
                    errors.is_empty(),
                    "{spec}/{name}: the example {sample} is invalid: {errors:?}"
                );
                checked += 1;
                let frames = sample.is_object();
                let broken = mutations(payload, sample);
                // Every JSON frame has at least a `type` to break.
                assert!(
                    !frames || !broken.is_empty(),
                    "{spec}/{name}: nothing to mutate"
                );
                for (what, value) in broken {
                    assert!(
                        !validator.is_valid(&value),
                        "{spec}/{name}: the sample with {what} still validates: {value}"
                    );
                    rejected += 1;
                }
            }
        }
    }
    assert!(checked >= 30, "only {checked} samples checked");
    assert!(
        rejected > checked,
        "only {rejected} broken samples rejected"
    );
}
