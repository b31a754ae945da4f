//! The tables the TypeScript client checks incoming messages against: each
//! schema as an object literal of the runtime's `__WsauthSchema` type
//! (`templates/ts/validate.ts`), the named schemas by name and the payload
//! of every message a server sends by `type`.
//!
//! The generated Rust client checks shape by decoding into its typed enum;
//! the TypeScript client has no decoder, so it reads these tables instead,
//! with the same constraints the server enforces on what clients send
//! (formats: the same three, `date-time`, `date`, `uuid`).

use crate::ir::{Api, Schema, SchemaKind};

use super::literal;

/// One `[name, schema]` entry of a table.
pub(super) struct CheckedView {
    /// The key, as a string literal.
    pub(super) name: String,
    /// The schema, as an object literal.
    pub(super) schema: String,
}

/// Every named schema.
pub(super) fn schemas(api: &Api) -> Vec<CheckedView> {
    api.schemas
        .iter()
        .map(|s| CheckedView {
            name: literal(&s.name),
            schema: schema(&s.schema),
        })
        .collect()
}

/// The payload of every message some endpoint sends or a topic carries,
/// in spec order.
pub(super) fn payloads(api: &Api) -> Vec<CheckedView> {
    api.messages
        .iter()
        .filter(|m| {
            api.endpoints.iter().any(|e| e.sends.contains(&m.name))
                || api.topics.iter().any(|t| t.messages.contains(&m.name))
        })
        .map(|m| CheckedView {
            name: literal(&m.name),
            schema: schema(&m.payload),
        })
        .collect()
}

/// `schema` as a `__WsauthSchema` object literal.
fn schema(schema: &Schema) -> String {
    let mut parts: Vec<String> = Vec::new();
    let mut put = |key: &str, value: String| parts.push(format!("{key}: {value}"));
    match &schema.kind {
        SchemaKind::Object { fields } => {
            put("kind", literal("object"));
            let fields: Vec<String> = fields
                .iter()
                .map(|f| {
                    format!(
                        "{{ name: {}, required: {}, schema: {} }}",
                        literal(&f.name),
                        f.required,
                        self::schema(&f.schema)
                    )
                })
                .collect();
            put("fields", format!("[{}]", fields.join(", ")));
        }
        SchemaKind::String {
            values,
            min_length,
            max_length,
            format,
            pattern,
        } => {
            put("kind", literal("string"));
            if !values.is_empty() {
                let values: Vec<String> = values.iter().map(|v| literal(v)).collect();
                put("values", format!("[{}]", values.join(", ")));
            }
            if let Some(n) = min_length {
                put("minLength", n.to_string());
            }
            if let Some(n) = max_length {
                put("maxLength", n.to_string());
            }
            if let Some(f @ ("date-time" | "date" | "uuid")) = format.as_deref() {
                put("format", literal(f));
            }
            if let Some(p) = pattern {
                put("pattern", literal(p));
            }
        }
        SchemaKind::Integer { minimum, maximum } | SchemaKind::Number { minimum, maximum } => {
            let kind = if matches!(schema.kind, SchemaKind::Integer { .. }) {
                "integer"
            } else {
                "number"
            };
            put("kind", literal(kind));
            if let Some(n) = minimum {
                put("minimum", number(*n));
            }
            if let Some(n) = maximum {
                put("maximum", number(*n));
            }
        }
        SchemaKind::Boolean => put("kind", literal("boolean")),
        SchemaKind::Any => put("kind", literal("any")),
        SchemaKind::Array {
            items,
            min_items,
            max_items,
        } => {
            put("kind", literal("array"));
            put("items", self::schema(items));
            if let Some(n) = min_items {
                put("minItems", n.to_string());
            }
            if let Some(n) = max_items {
                put("maxItems", n.to_string());
            }
        }
        SchemaKind::Ref { name } => {
            put("kind", literal("ref"));
            put("name", literal(name));
        }
    }
    format!("{{ {} }}", parts.join(", "))
}

/// A bound as a JavaScript number literal: whole numbers without a
/// fraction, others in Rust's shortest round-trip form (the spec's bounds
/// are finite).
fn number(n: f64) -> String {
    if n.fract() == 0.0 && n.abs() < 9.0e15 {
        format!("{n:.0}")
    } else if n.is_finite() {
        format!("{n:?}")
    } else {
        "0".to_owned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ir::Field;

    #[test]
    fn schemas_become_literals_of_the_runtime_type() {
        let s = Schema {
            description: None,
            kind: SchemaKind::Object {
                fields: vec![
                    Field {
                        name: "text".into(),
                        required: true,
                        schema: Schema {
                            description: None,
                            kind: SchemaKind::String {
                                values: vec![],
                                min_length: Some(1),
                                max_length: Some(4000),
                                format: Some("email".into()),
                                pattern: Some("^[a-z\"]+$".into()),
                            },
                        },
                    },
                    Field {
                        name: "n".into(),
                        required: false,
                        schema: Schema {
                            description: None,
                            kind: SchemaKind::Number {
                                minimum: Some(0.5),
                                maximum: Some(100.0),
                            },
                        },
                    },
                ],
            },
        };
        assert_eq!(
            schema(&s),
            r#"{ kind: "object", fields: [{ name: "text", required: true, schema: { kind: "string", minLength: 1, maxLength: 4000, pattern: "^[a-z\"]+$" } }, { name: "n", required: false, schema: { kind: "number", minimum: 0.5, maximum: 100 } }] }"#
        );
    }
}
