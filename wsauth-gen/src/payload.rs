//! Message payloads as JSON Schema, and a sample of each.
//!
//! # Motivation
//!
//! Every documentation backend shows what a frame on the wire looks like:
//! AsyncAPI as a payload schema, the HTML page as a schema and an example, and
//! the tests validate the examples against the schemas. Deriving both here,
//! once, from the IR keeps the backends from disagreeing about, say, whether
//! a frame may carry fields the spec does not declare (it may not: the
//! server refuses them).
//!
//! A frame is one JSON object: `type` (the message name) beside the
//! payload's fields. [`frame_schema`] describes exactly that object, with a
//! payload that refers to a named schema inlined (its fields sit beside
//! `type`); nested references stay references, rooted where the caller keeps
//! named schemas (`#/components/schemas/` in AsyncAPI).

use serde_json::{Map, Value, json};

use crate::ir::{Api, Message, Schema, SchemaKind};

/// The JSON Schema of a whole frame of `message`: an object with
/// `type` fixed to the message name and the payload's fields beside it.
/// References to named schemas become `{"$ref": "<refs><Name>"}`.
pub fn frame_schema(api: &Api, message: &Message, refs: &str) -> Value {
    let fields = payload_fields(api, &message.payload).unwrap_or_default();
    let description = message.description.as_deref();
    let mut properties = Map::new();
    properties.insert("type".into(), json!({ "const": message.name }));
    let mut required = vec![Value::from("type")];
    for field in fields {
        properties.insert(field.name.clone(), json_schema(&field.schema, refs));
        if field.required {
            required.push(field.name.clone().into());
        }
    }
    let mut schema = Map::new();
    if let Some(text) = description {
        schema.insert("description".into(), text.into());
    }
    schema.insert("type".into(), "object".into());
    schema.insert("properties".into(), Value::Object(properties));
    schema.insert("required".into(), Value::Array(required));
    schema.insert("additionalProperties".into(), false.into());
    Value::Object(schema)
}

/// The fields of a payload, looking through one reference to a named
/// object. `None` for a payload that is not an object (validation rejects
/// those, so only an unvalidated `Api` has one).
fn payload_fields<'a>(api: &'a Api, payload: &'a Schema) -> Option<&'a [crate::ir::Field]> {
    match &payload.kind {
        SchemaKind::Object { fields } => Some(fields),
        SchemaKind::Ref { name } => match &api.schema(name)?.kind {
            SchemaKind::Object { fields } => Some(fields),
            _ => None,
        },
        _ => None,
    }
}

/// The JSON Schema of one IR schema, in the draft-07 vocabulary (AsyncAPI
/// 3's Schema Object is a draft-07 superset; every keyword used here —
/// `const`, `enum`, `additionalProperties`, bounds, `format` — means the same
/// in 2020-12). References become `{"$ref": "<refs><Name>"}`; a description
/// beside one is documentation only (draft-07 ignores `$ref`'s siblings).
pub fn json_schema(schema: &Schema, refs: &str) -> Value {
    let mut out = Map::new();
    if let Some(text) = &schema.description {
        out.insert("description".into(), text.clone().into());
    }
    match &schema.kind {
        SchemaKind::Object { fields } => {
            out.insert("type".into(), "object".into());
            let properties = fields
                .iter()
                .map(|f| (f.name.clone(), json_schema(&f.schema, refs)))
                .collect();
            out.insert("properties".into(), Value::Object(properties));
            let required: Vec<Value> = fields
                .iter()
                .filter(|f| f.required)
                .map(|f| f.name.clone().into())
                .collect();
            if !required.is_empty() {
                out.insert("required".into(), Value::Array(required));
            }
            out.insert("additionalProperties".into(), false.into());
        }
        SchemaKind::String {
            values,
            min_length,
            max_length,
            format,
            pattern,
        } => {
            out.insert("type".into(), "string".into());
            if !values.is_empty() {
                out.insert("enum".into(), values.clone().into());
            }
            insert_some(&mut out, "minLength", min_length.map(Value::from));
            insert_some(&mut out, "maxLength", max_length.map(Value::from));
            insert_some(&mut out, "format", format.clone().map(Value::from));
            insert_some(&mut out, "pattern", pattern.clone().map(Value::from));
        }
        SchemaKind::Integer { minimum, maximum } => {
            out.insert("type".into(), "integer".into());
            insert_some(&mut out, "minimum", minimum.map(number));
            insert_some(&mut out, "maximum", maximum.map(number));
        }
        SchemaKind::Number { minimum, maximum } => {
            out.insert("type".into(), "number".into());
            insert_some(&mut out, "minimum", minimum.map(number));
            insert_some(&mut out, "maximum", maximum.map(number));
        }
        SchemaKind::Boolean => {
            out.insert("type".into(), "boolean".into());
        }
        SchemaKind::Array {
            items,
            min_items,
            max_items,
        } => {
            out.insert("type".into(), "array".into());
            out.insert("items".into(), json_schema(items, refs));
            insert_some(&mut out, "minItems", min_items.map(Value::from));
            insert_some(&mut out, "maxItems", max_items.map(Value::from));
        }
        SchemaKind::Any => {}
        SchemaKind::Ref { name } => {
            out.insert("$ref".into(), format!("{refs}{name}").into());
        }
    }
    Value::Object(out)
}

fn insert_some(out: &mut Map<String, Value>, key: &str, value: Option<Value>) {
    if let Some(value) = value {
        out.insert(key.into(), value);
    }
}

/// A bound as JSON: whole numbers without a fraction (`0`, not `0.0`).
fn number(n: f64) -> Value {
    if n.fract() == 0.0 && n.abs() < 9.0e15 {
        // Exact: a whole f64 below 2^53 converts without loss.
        #[allow(clippy::cast_possible_truncation)]
        Value::from(n as i64)
    } else {
        Value::from(n)
    }
}

/// A whole frame of `message` for docs and tests: the spec's `example`
/// when it gives one, otherwise a value made up from the schema that
/// satisfies it (every field present, enums at their first value, bounds
/// respected).
pub fn sample_frame(api: &Api, message: &Message) -> Value {
    let mut frame = Map::new();
    frame.insert("type".into(), message.name.clone().into());
    let payload = match &message.example {
        Some(example) => example.clone(),
        None => sample(api, &message.payload),
    };
    if let Value::Object(fields) = payload {
        frame.extend(fields.into_iter().filter(|(k, _)| k != "type"));
    }
    Value::Object(frame)
}

/// A value that satisfies `schema`.
pub fn sample(api: &Api, schema: &Schema) -> Value {
    sample_at(api, schema, 0)
}

/// Named schemas may refer to themselves through optional fields; beyond
/// this depth, optional fields are left out so the sample stays finite.
const MAX_DEPTH: usize = 8;

fn sample_at(api: &Api, schema: &Schema, depth: usize) -> Value {
    match &schema.kind {
        SchemaKind::Object { fields } => Value::Object(
            fields
                .iter()
                .filter(|f| f.required || depth < MAX_DEPTH)
                .map(|f| (f.name.clone(), sample_at(api, &f.schema, depth + 1)))
                .collect(),
        ),
        SchemaKind::String {
            values,
            min_length,
            max_length,
            format,
            ..
        } => {
            if let Some(first) = values.first() {
                return first.clone().into();
            }
            let mut text = match format.as_deref() {
                Some("date-time") => "2026-11-22T10:00:00Z",
                Some("date") => "2026-11-22",
                Some("time") => "10:00:00Z",
                Some("email") => "alice@example.com",
                Some("uri" | "url") => "https://example.com/",
                Some("uuid") => "0b9d6c6e-3f4a-4c8e-9a57-6f1d2c3b4a5e",
                Some("ipv4") => "127.0.0.1",
                _ => "text",
            }
            .to_owned();
            let min = min_length.unwrap_or(0);
            let max = max_length.unwrap_or(u64::MAX);
            while (text.chars().count() as u64) < min {
                text.push('x');
            }
            if (text.chars().count() as u64) > max {
                text = "x".repeat(usize::try_from(max).unwrap_or(0));
            }
            text.into()
        }
        SchemaKind::Integer { minimum, maximum } => {
            let low = minimum.map_or(1.0, f64::ceil);
            let value = maximum.map_or(low, |m| low.min(m.floor()));
            number(value)
        }
        SchemaKind::Number { minimum, maximum } => {
            let low = minimum.unwrap_or(1.5);
            let value = maximum.map_or(low, |m| low.min(m));
            number(value)
        }
        SchemaKind::Boolean => true.into(),
        SchemaKind::Array {
            items,
            min_items,
            max_items,
        } => {
            let count = min_items.unwrap_or(1).max(1).min(max_items.unwrap_or(1));
            let item = sample_at(api, items, depth + 1);
            Value::Array(vec![item; usize::try_from(count).unwrap_or(1)])
        }
        SchemaKind::Any => json!({}),
        SchemaKind::Ref { name } => match api.schema(name) {
            Some(target) => sample_at(api, target, depth + 1),
            None => Value::Null,
        },
    }
}
