//! Payload schemas: the JSON Schema subset, checked and resolved.
//!
//! A schema has a `type` or a `$ref`, never both; constraints must suit the
//! type (`maxLength` on an integer is a mistake, not a no-op); `required`
//! names real properties; references resolve. Message payloads must be
//! objects, because a message is `{"type": ..., <payload fields>}` on the wire.

use std::collections::HashSet;

use super::Validator;
use crate::diagnostic::{Diagnostic, Span};
use crate::ir::{self, SchemaKind};
use crate::naming;
use crate::spec::model::{self, Name, SchemaType, Spanned};
use wsauth_spec::Keyword;

/// String formats generators understand.
pub(crate) const FORMATS: &[&str] = &["date-time", "date", "uuid", "uri", "email"];

/// The prefix of a reference to a named schema.
pub(crate) const REF_PREFIX: &str = "#/schemas/";

fn is_field_name(s: &str) -> bool {
    s.starts_with(|c: char| c.is_ascii_alphabetic() || c == '_')
        && s.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
}

impl Validator<'_> {
    pub(super) fn named_schemas(&mut self) -> Vec<ir::NamedSchema> {
        let mut out = Vec::new();
        self.distinct_type_names("schema", self.spec.schemas.keys());
        for (name, schema) in &self.spec.schemas {
            if !(name.starts_with(|c: char| c.is_ascii_uppercase())
                && name.chars().all(|c| c.is_ascii_alphanumeric()))
            {
                self.error(
                    Diagnostic::new(
                        "wsauth::bad_name",
                        name.span,
                        format!("`{}` is not a valid schema name", name.value),
                    )
                    .help("use UpperCamelCase (letters and digits, starting upper-case): it names a type"),
                );
            }
            if let Some(schema) = self.schema(schema) {
                out.push(ir::NamedSchema {
                    name: name.value.clone(),
                    type_name: naming::pascal(&name.value),
                    schema,
                });
            }
        }
        self.ref_cycles();
        out
    }

    /// Checks and resolves one schema (recursively).
    fn schema(&mut self, s: &model::Schema) -> Option<ir::Schema> {
        let description = s.description.clone();
        if let Some(reference) = &s.reference {
            if let Some(ty) = &s.ty {
                self.error(
                    Diagnostic::new(
                        "wsauth::ref_with_type",
                        ty.span,
                        "a schema with `$ref` takes its type from the referenced schema",
                    )
                    .help("remove `type` (a `description` beside `$ref` is fine)"),
                );
            }
            self.only_for(s, None);
            let name = self.resolve_ref(reference)?;
            return Some(ir::Schema {
                description,
                kind: SchemaKind::Ref { name },
            });
        }
        let Some(ty) = &s.ty else {
            self.error(
                Diagnostic::new(
                    "wsauth::schema_type",
                    self.schema_span(s),
                    "a schema needs a `type` or a `$ref`",
                )
                .help("add `type: object` (or string, integer, number, boolean, array, any), or `$ref: \"#/schemas/Name\"`"),
            );
            return None;
        };
        self.only_for(s, Some(ty));
        let kind = match ty.value {
            SchemaType::Object => SchemaKind::Object {
                fields: self.fields(s),
            },
            SchemaType::String => {
                if let Some(f) = &s.format
                    && !FORMATS.contains(&f.value.as_str())
                {
                    self.error(
                        Diagnostic::new(
                            "wsauth::unknown_format",
                            f.span,
                            format!("unknown string format `{}`", f.value),
                        )
                        .suggest(&f.value, FORMATS.iter().copied())
                        .help_if_none(format!(
                            "use one of {}",
                            FORMATS
                                .iter()
                                .map(|f| format!("`{f}`"))
                                .collect::<Vec<_>>()
                                .join(", ")
                        )),
                    );
                }
                self.ordered(&s.min_length, &s.max_length, "minLength", "maxLength");
                if let Some(p) = &s.pattern {
                    self.pattern(p);
                }
                let mut seen = HashSet::new();
                for v in &s.enumeration {
                    if !seen.insert(v.value.as_str()) {
                        self.error(
                            Diagnostic::new(
                                "wsauth::duplicate_enum_value",
                                v.span,
                                format!("enum value `{}` is listed twice", v.value),
                            )
                            .help("list each value once"),
                        );
                    }
                }
                SchemaKind::String {
                    values: s.enumeration.iter().map(|v| v.value.clone()).collect(),
                    min_length: s.min_length.as_ref().map(|v| v.value),
                    max_length: s.max_length.as_ref().map(|v| v.value),
                    format: s.format.as_ref().map(|v| v.value.clone()),
                    pattern: s.pattern.as_ref().map(|v| v.value.clone()),
                }
            }
            SchemaType::Integer | SchemaType::Number => {
                if let (Some(lo), Some(hi)) = (&s.minimum, &s.maximum)
                    && lo.value > hi.value
                {
                    self.error(
                        Diagnostic::new(
                            "wsauth::empty_range",
                            lo.span,
                            format!("`minimum` {} is above `maximum` {}", lo.value, hi.value),
                        )
                        .also(hi.span, "maximum")
                        .help("no value could satisfy both; swap them"),
                    );
                }
                let (minimum, maximum) = (
                    s.minimum.as_ref().map(|v| v.value),
                    s.maximum.as_ref().map(|v| v.value),
                );
                if ty.value == SchemaType::Integer {
                    SchemaKind::Integer { minimum, maximum }
                } else {
                    SchemaKind::Number { minimum, maximum }
                }
            }
            SchemaType::Boolean => SchemaKind::Boolean,
            SchemaType::Any => SchemaKind::Any,
            SchemaType::Array => {
                self.ordered(&s.min_items, &s.max_items, "minItems", "maxItems");
                let Some(items) = &s.items else {
                    self.error(
                        Diagnostic::new(
                            "wsauth::array_items",
                            ty.span,
                            "an array schema needs `items`",
                        )
                        .help("add `items: { type: string }` (or whatever the elements are)"),
                    );
                    return None;
                };
                SchemaKind::Array {
                    items: Box::new(self.schema(items)?),
                    min_items: s.min_items.as_ref().map(|v| v.value),
                    max_items: s.max_items.as_ref().map(|v| v.value),
                }
            }
        };
        Some(ir::Schema { description, kind })
    }

    fn fields(&mut self, s: &model::Schema) -> Vec<ir::Field> {
        self.distinct_field_names(s.properties.keys());
        let mut fields = Vec::new();
        for (name, property) in &s.properties {
            if !is_field_name(name) {
                self.error(
                    Diagnostic::new(
                        "wsauth::bad_name",
                        name.span,
                        format!("`{}` is not a valid field name", name.value),
                    )
                    .help("use ASCII letters, digits and `_`, not starting with a digit"),
                );
            }
            if let Some(schema) = self.schema(property) {
                fields.push(ir::Field {
                    name: name.value.clone(),
                    required: s.required.iter().any(|r| r.value == name.value),
                    schema,
                });
            }
        }
        let mut seen = HashSet::new();
        for r in &s.required {
            if !seen.insert(r.value.as_str()) {
                self.error(
                    Diagnostic::new(
                        "wsauth::duplicate_required",
                        r.span,
                        format!("`{}` is listed twice in `required`", r.value),
                    )
                    .help("list each field once"),
                );
            } else if !s.properties.contains_key(r.value.as_str()) {
                let d = Diagnostic::new(
                    "wsauth::unknown_field",
                    r.span,
                    format!("required field `{}` is not among the `properties`", r.value),
                )
                .suggest(&r.value, s.properties.keys().map(|k| k.value.as_str()));
                self.error(d.help_if_none(format!("declare `{}` under `properties`", r.value)));
            }
        }
        fields
    }

    /// Reports constraints that do not apply to the schema's type (`None`: a `$ref`).
    fn only_for(&mut self, s: &model::Schema, ty: Option<&Spanned<SchemaType>>) {
        let t = ty.map(|t| t.value);
        let is = |want: &[SchemaType]| t.is_some_and(|t| want.contains(&t));
        let object = is(&[SchemaType::Object]);
        let string = is(&[SchemaType::String]);
        let number = is(&[SchemaType::Integer, SchemaType::Number]);
        let array = is(&[SchemaType::Array]);
        let first_key = |v: &[Name]| v.first().map(|k| k.span);
        let mut misplaced: Vec<(Option<Span>, &str, &str)> = Vec::new();
        if !object {
            misplaced.push((
                first_key(&s.properties.keys().cloned().collect::<Vec<_>>()),
                "properties",
                "objects",
            ));
            misplaced.push((s.required.first().map(|r| r.span), "required", "objects"));
        }
        if !string {
            misplaced.push((s.enumeration.first().map(|v| v.span), "enum", "strings"));
            misplaced.push((
                s.min_length.as_ref().map(|v| v.span),
                "minLength",
                "strings",
            ));
            misplaced.push((
                s.max_length.as_ref().map(|v| v.span),
                "maxLength",
                "strings",
            ));
            misplaced.push((s.format.as_ref().map(|v| v.span), "format", "strings"));
            misplaced.push((s.pattern.as_ref().map(|v| v.span), "pattern", "strings"));
        }
        if !number {
            misplaced.push((s.minimum.as_ref().map(|v| v.span), "minimum", "numbers"));
            misplaced.push((s.maximum.as_ref().map(|v| v.span), "maximum", "numbers"));
        }
        if !array {
            misplaced.push((
                s.items.as_ref().map(|i| self.schema_span(i)),
                "items",
                "arrays",
            ));
            misplaced.push((s.min_items.as_ref().map(|v| v.span), "minItems", "arrays"));
            misplaced.push((s.max_items.as_ref().map(|v| v.span), "maxItems", "arrays"));
        }
        let this = match ty {
            Some(t) => format!("this schema is `{}`", t.word()),
            None => "this schema is a `$ref`".to_owned(),
        };
        for (span, key, applies_to) in misplaced {
            if let Some(span) = span {
                self.error(
                    Diagnostic::new(
                        "wsauth::misplaced_constraint",
                        span,
                        format!("`{key}` applies to {applies_to}, but {this}"),
                    )
                    .help(format!("remove `{key}`, or change the type")),
                );
            }
        }
    }

    /// Reports a `pattern` the server could not compile. The runtime
    /// compiles it with the same `regex` crate, so one that passes here
    /// cannot fail there.
    fn pattern(&mut self, pattern: &Spanned<String>) {
        if let Err(e) = regex::Regex::new(&pattern.value) {
            // The crate's message draws the pattern with a caret; its last
            // line says what is wrong, and the span says where.
            let text = e.to_string();
            let why = text
                .lines()
                .rev()
                .find(|l| !l.trim().is_empty())
                .unwrap_or("not a regular expression")
                .trim()
                .trim_start_matches("error: ")
                .to_owned();
            self.error(
                Diagnostic::new(
                    "wsauth::bad_pattern",
                    pattern.span,
                    format!("`pattern` is not a valid regular expression: {why}"),
                )
                .help("patterns use the syntax of Rust's `regex` crate (no look-around or backreferences); JSON Schema patterns are unanchored, so write `^...$` to match the whole string"),
            );
        }
    }

    fn ordered(
        &mut self,
        lo: &Option<Spanned<u64>>,
        hi: &Option<Spanned<u64>>,
        lo_key: &str,
        hi_key: &str,
    ) {
        if let (Some(lo), Some(hi)) = (lo, hi)
            && lo.value > hi.value
        {
            self.error(
                Diagnostic::new(
                    "wsauth::empty_range",
                    lo.span,
                    format!("`{lo_key}` {} is above `{hi_key}` {}", lo.value, hi.value),
                )
                .also(hi.span, hi_key.to_owned())
                .help("no value could satisfy both; swap them"),
            );
        }
    }

    /// The name a `$ref` points at, if it is well-formed and declared.
    fn resolve_ref(&mut self, reference: &Spanned<String>) -> Option<String> {
        let Some(name) = reference.strip_prefix(REF_PREFIX) else {
            self.error(
                Diagnostic::new(
                    "wsauth::bad_ref",
                    reference.span,
                    format!("`{}` is not a reference to a named schema", reference.value),
                )
                .help(format!(
                    "write `$ref: \"{REF_PREFIX}Name\"` for a schema declared under `schemas`"
                )),
            );
            return None;
        };
        if self.spec.schemas.contains_key(name) {
            return Some(name.to_owned());
        }
        let known: Vec<&str> = self.spec.schemas.keys().map(|k| k.value.as_str()).collect();
        let named = Spanned {
            value: name.to_owned(),
            span: reference.span,
        };
        self.unknown("schema", &named, known, "schemas");
        None
    }

    /// Reports named schemas that are only references, round in a circle
    /// (`A: {$ref: B}`, `B: {$ref: A}`): they describe no value at all.
    fn ref_cycles(&mut self) {
        for (start, _) in &self.spec.schemas {
            let mut seen = vec![start.value.as_str()];
            let mut at = start.value.as_str();
            while let Some(next) = self
                .spec
                .schemas
                .get(at)
                .and_then(|s| s.reference.as_ref())
                .and_then(|r| r.strip_prefix(REF_PREFIX))
            {
                if next == start.value {
                    self.error(
                        Diagnostic::new(
                            "wsauth::ref_cycle",
                            start.span,
                            format!(
                                "schema `{}` is only a chain of references back to itself",
                                start.value
                            ),
                        )
                        .help(format!("path: {} → {next}", seen.join(" → "))),
                    );
                    break;
                }
                if seen.contains(&next) {
                    break;
                }
                seen.push(next);
                at = next;
            }
        }
    }

    /// A message payload: a schema that is an object, or refers to one.
    pub(super) fn payload(
        &mut self,
        message: &Name,
        s: &model::Schema,
        schemas: &[ir::NamedSchema],
    ) -> Option<ir::Schema> {
        let resolved = self.schema(s)?;
        let mut target = &resolved;
        let mut hops = 0;
        while let SchemaKind::Ref { name } = &target.kind {
            hops += 1;
            match schemas.iter().find(|n| &n.name == name) {
                Some(n) if hops < 32 => target = &n.schema,
                // Unresolvable or circular: reported where the schemas are.
                _ => return Some(resolved),
            }
        }
        match &target.kind {
            SchemaKind::Object { fields } => {
                if let Some(f) = fields.iter().find(|f| f.name == "type") {
                    let span = s.properties.get_key_value("type").map_or(self.schema_span(s), |(k, _)| k.span);
                    self.error(
                        Diagnostic::new(
                            "wsauth::reserved_field",
                            span,
                            format!("message `{}` has a field named `{}`", message.value, f.name),
                        )
                        .help("`type` carries the message name on the wire; rename the field (e.g. `kind`)"),
                    );
                }
            }
            _ => self.error(
                Diagnostic::new(
                    "wsauth::payload_not_object",
                    self.schema_span(s),
                    format!("the payload of message `{}` is not an object", message.value),
                )
                .help("a message is `{\"type\": ..., fields...}`: wrap the value in an object field, e.g. `properties: { value: ... }`"),
            ),
        }
        Some(resolved)
    }

    /// Somewhere to point at for a schema as a whole: its type, or its start.
    fn schema_span(&self, s: &model::Schema) -> Span {
        s.ty.as_ref().map_or(s.span, |t| t.span)
    }
}
