//! The message and schema cards: fields, types and constraints, examples,
//! and where each is used.

use super::markup::{Markup, anchor, describe, highlight_json};
use super::{Fact, bound, message_link, perm_link, role_links, roles_holding};
use crate::ir::{Api, Direction, Field, Message, Schema, SchemaKind};
use crate::payload::sample_frame;

pub(super) struct MessageView {
    pub(super) id: String,
    pub(super) name: String,
    pub(super) direction: &'static str,
    pub(super) direction_class: &'static str,
    pub(super) description: Option<Markup>,
    pub(super) facts: Vec<Fact>,
    pub(super) fields: Vec<FieldRow>,
    pub(super) example: Markup,
}

pub(super) struct FieldRow {
    pub(super) depth: usize,
    pub(super) prefix: String,
    pub(super) name: String,
    pub(super) ty: Markup,
    pub(super) required: bool,
    pub(super) constraints: Markup,
    pub(super) description: Option<Markup>,
}

pub(super) struct SchemaView {
    pub(super) id: String,
    pub(super) name: String,
    pub(super) description: Option<Markup>,
    pub(super) summary: Option<Fact>,
    pub(super) fields: Vec<FieldRow>,
    pub(super) used_by: Markup,
}

pub(super) fn message(api: &Api, m: &Message) -> MessageView {
    let (direction, direction_class) = match m.direction {
        Direction::ClientToServer => ("client → server", "up"),
        Direction::ServerToClient => ("server → client", "down"),
        Direction::Both => ("both ways", "both"),
        Direction::Unused => ("unused", "unused"),
    };
    let mut facts = Vec::new();
    if m.direction != Direction::ServerToClient && m.direction != Direction::Unused {
        facts.push(Fact {
            label: "To send it",
            value: match &m.perm {
                Some(perm) => Markup::text("a role granting ")
                    .m(perm_link(perm))
                    .t(": ")
                    .m(role_links(api, &roles_holding(api, perm))),
                None => Markup::text("no permission beyond connecting"),
            },
        });
    }
    let mut uses = Vec::new();
    for e in &api.endpoints {
        let link = Markup::link_code(&anchor("endpoint", &e.name), &e.name);
        if e.welcome.as_deref() == Some(m.name.as_str()) {
            uses.push(link.t(" (first frame)"));
        } else if e.receives.contains(&m.name) && e.sends.contains(&m.name) {
            uses.push(link.t(" (both ways)"));
        } else if e.receives.contains(&m.name) {
            uses.push(link.t(" (from the client)"));
        } else if e.sends.contains(&m.name) {
            uses.push(link.t(" (from the server)"));
        }
    }
    if !uses.is_empty() {
        facts.push(Fact {
            label: "Endpoints",
            value: Markup::join(uses, ", "),
        });
    }
    if let SchemaKind::Ref { name } = &m.payload.kind {
        facts.push(Fact {
            label: "Payload",
            value: Markup::text("the fields of ")
                .m(Markup::link_code(&anchor("schema", name), name)),
        });
    }
    let mut fields = vec![FieldRow {
        depth: 0,
        prefix: String::new(),
        name: "type".into(),
        ty: Markup::text("string"),
        required: true,
        constraints: Markup::text("always ").c(&m.name),
        description: None,
    }];
    let payload = match &m.payload.kind {
        SchemaKind::Ref { name } => api.schema(name).unwrap_or(&m.payload),
        _ => &m.payload,
    };
    if let SchemaKind::Object { fields: list } = &payload.kind {
        field_rows(list, 0, "", &mut fields);
    }
    MessageView {
        id: anchor("message", &m.name),
        name: m.name.clone(),
        direction,
        direction_class,
        description: describe(m.description.as_deref()),
        facts,
        fields,
        example: highlight_json(&sample_frame(api, m)),
    }
}

/// Rows for `fields`, nested objects (also inside arrays) flattened below
/// their parent with a path prefix.
fn field_rows(fields: &[Field], depth: usize, prefix: &str, out: &mut Vec<FieldRow>) {
    for f in fields {
        out.push(FieldRow {
            depth,
            prefix: prefix.to_owned(),
            name: f.name.clone(),
            ty: type_label(&f.schema),
            required: f.required,
            constraints: constraints(&f.schema),
            description: describe(f.schema.description.as_deref()),
        });
        let mut inner = &f.schema;
        let mut path = format!("{prefix}{}", f.name);
        while let SchemaKind::Array { items, .. } = &inner.kind {
            inner = items;
            path.push_str("[]");
        }
        if let SchemaKind::Object { fields: nested } = &inner.kind {
            field_rows(nested, depth + 1, &format!("{path}."), out);
        }
    }
}

fn type_label(schema: &Schema) -> Markup {
    match &schema.kind {
        SchemaKind::Object { .. } => Markup::text("object"),
        SchemaKind::String { .. } => Markup::text("string"),
        SchemaKind::Integer { .. } => Markup::text("integer"),
        SchemaKind::Number { .. } => Markup::text("number"),
        SchemaKind::Boolean => Markup::text("boolean"),
        SchemaKind::Any => Markup::text("any JSON"),
        SchemaKind::Array { items, .. } => Markup::text("array of ").m(type_label(items)),
        SchemaKind::Ref { name } => Markup::link_code(&anchor("schema", name), name),
    }
}

fn constraints(schema: &Schema) -> Markup {
    let mut parts: Vec<Markup> = Vec::new();
    match &schema.kind {
        SchemaKind::String {
            values,
            min_length,
            max_length,
            format,
            pattern,
        } => {
            if !values.is_empty() {
                parts.push(
                    Markup::text("one of ")
                        .m(Markup::join(values.iter().map(|v| Markup::code(v)), ", ")),
                );
            }
            if let Some(range) = range(*min_length, *max_length, "characters") {
                parts.push(Markup::text(&range));
            }
            if let Some(format) = format {
                parts.push(Markup::text("format ").c(format));
            }
            if let Some(pattern) = pattern {
                parts.push(Markup::text("matching ").c(pattern));
            }
        }
        SchemaKind::Integer { minimum, maximum } | SchemaKind::Number { minimum, maximum } => {
            match (minimum, maximum) {
                (Some(lo), Some(hi)) => {
                    parts.push(Markup::text(&format!("{} to {}", bound(*lo), bound(*hi))))
                }
                (Some(lo), None) => parts.push(Markup::text(&format!("≥ {}", bound(*lo)))),
                (None, Some(hi)) => parts.push(Markup::text(&format!("≤ {}", bound(*hi)))),
                (None, None) => {}
            }
        }
        SchemaKind::Array {
            items,
            min_items,
            max_items,
        } => {
            if let Some(range) = range(*min_items, *max_items, "items") {
                parts.push(Markup::text(&range));
            }
            let inner = constraints(items);
            if !inner.is_empty() {
                parts.push(Markup::text("each: ").m(inner));
            }
        }
        SchemaKind::Object { .. }
        | SchemaKind::Boolean
        | SchemaKind::Any
        | SchemaKind::Ref { .. } => {}
    }
    Markup::join(parts, "; ")
}

fn range(min: Option<u64>, max: Option<u64>, unit: &str) -> Option<String> {
    match (min, max) {
        (Some(lo), Some(hi)) if lo == hi => Some(format!("exactly {lo} {unit}")),
        (Some(lo), Some(hi)) => Some(format!("{lo} to {hi} {unit}")),
        (Some(lo), None) if lo > 0 => Some(format!("at least {lo} {unit}")),
        (_, Some(hi)) => Some(format!("at most {hi} {unit}")),
        _ => None,
    }
}

pub(super) fn schema_view(api: &Api, name: &str, schema: &Schema) -> SchemaView {
    let mut fields = Vec::new();
    let summary = match &schema.kind {
        SchemaKind::Object { fields: list } => {
            field_rows(list, 0, "", &mut fields);
            None
        }
        _ => {
            let constraints = constraints(schema);
            Some(Fact {
                label: "Type",
                value: if constraints.is_empty() {
                    type_label(schema)
                } else {
                    type_label(schema).t(": ").m(constraints)
                },
            })
        }
    };
    let mut users = Vec::new();
    for m in &api.messages {
        if refers_to(&m.payload, name) {
            users.push(message_link(&m.name));
        }
    }
    for other in &api.schemas {
        if other.name != name && refers_to(&other.schema, name) {
            users.push(Markup::link_code(
                &anchor("schema", &other.name),
                &other.name,
            ));
        }
    }
    SchemaView {
        id: anchor("schema", name),
        name: name.to_owned(),
        description: describe(schema.description.as_deref()),
        summary,
        fields,
        used_by: Markup::join(users, ", "),
    }
}

/// Whether `schema` mentions the named schema `name` anywhere inside.
fn refers_to(schema: &Schema, name: &str) -> bool {
    match &schema.kind {
        SchemaKind::Ref { name: n } => n == name,
        SchemaKind::Object { fields } => fields.iter().any(|f| refers_to(&f.schema, name)),
        SchemaKind::Array { items, .. } => refers_to(items, name),
        _ => false,
    }
}
