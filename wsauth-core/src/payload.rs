//! Payload constraints, checked on every message a client sends, before its
//! handler sees it.
//!
//! # Motivation
//!
//! The spec says what a message may hold (`maxLength: 4000`, `minimum: 0`,
//! an `enum`, a `pattern`), AsyncAPI publishes it, and the generated types
//! alone enforce only its shape. The check lives here, in the connection's
//! loop, beside the message's permission check, for three reasons:
//!
//! - one mechanism covers every handler: typed handlers (whose serde types
//!   would check shape but not bounds) and untyped ones (`Session::recv`,
//!   which would otherwise get any JSON with a declared `type`);
//! - a refusal is the loop's own `invalid_message` handling: a typed
//!   `error` reply when the endpoint sends one, else a close with the
//!   spec's code, and an audit event naming the field and the rule;
//! - the rules are data in the descriptor ([`SchemaDescriptor`]), so what
//!   runs is what was validated at compile time, and a hand-built
//!   descriptor gets the same checks.
//!
//! The check is one pass over the frame's text that builds nothing: keys
//! are matched against the declared field names, strings are looked at
//! where they lie (or in serde_json's scratch buffer when escaped), and a
//! check stops at the first broken rule. The path to the failing field is
//! assembled only on failure, as the error returns through the levels.
//! Nesting is bounded by serde_json's recursion limit, as for every parse.
//! For a typed handler the same pass also decodes the message into its
//! payload's type ([`decode`]), with the same outcome, so that the frame is
//! not parsed again in the handler.
//!
//! What is checked: `type` (an integer must fit the generated `i64`;
//! `null` never stands in for a value, optional fields are left out),
//! `required`, no undeclared fields, `enum`, `minLength`/`maxLength` (in
//! Unicode scalar values, as JSON Schema counts), `pattern` (Rust `regex`
//! syntax, unanchored, compiled once per process), `format` for
//! `date-time`, `date` and `uuid` (see [`Format`]), inclusive
//! `minimum`/`maximum`, `items`, `minItems`/`maxItems`, and `$ref`. An
//! audit line says which field broke which rule, never the value, nor a
//! field name the client made up.

use std::fmt;

use serde::Deserialize as _;
use serde::de::{self, DeserializeSeed, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};

use crate::descriptor::{FieldDescriptor, Format, SchemaDescriptor, StringDescriptor};

mod decode;

pub(crate) use decode::{Decode, decode_as};

/// The keyword a message broke.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Rule {
    /// The value is not of the schema's type.
    Type,
    /// A required field is missing.
    Required,
    /// A field the schema does not declare.
    AdditionalProperties,
    /// A field given twice.
    Duplicate,
    /// A string outside its `enum`.
    Enum,
    /// A string shorter than `minLength`.
    MinLength,
    /// A string longer than `maxLength`.
    MaxLength,
    /// A string that does not match its `pattern`.
    Pattern,
    /// A string not in its `format`.
    Format,
    /// A number below `minimum`.
    Minimum,
    /// A number above `maximum`.
    Maximum,
    /// An array shorter than `minItems`.
    MinItems,
    /// An array longer than `maxItems`.
    MaxItems,
    /// Not JSON the server can read (a number out of range, nesting deeper
    /// than the parser allows).
    Json,
}

impl Rule {
    /// The JSON Schema keyword, for the audit log.
    pub(crate) fn keyword(self) -> &'static str {
        match self {
            Rule::Type => "type",
            Rule::Required => "required",
            Rule::AdditionalProperties => "additionalProperties",
            Rule::Duplicate => "duplicate",
            Rule::Enum => "enum",
            Rule::MinLength => "minLength",
            Rule::MaxLength => "maxLength",
            Rule::Pattern => "pattern",
            Rule::Format => "format",
            Rule::Minimum => "minimum",
            Rule::Maximum => "maximum",
            Rule::MinItems => "minItems",
            Rule::MaxItems => "maxItems",
            Rule::Json => "json",
        }
    }
}

/// One step of a path into a message.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Segment {
    /// A declared field.
    Field(&'static str),
    /// An array item.
    Index(usize),
}

/// Which rule a message broke, and where: never the value.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Violation {
    path: Vec<Segment>,
    /// The rule.
    pub(crate) rule: Rule,
}

impl Violation {
    pub(crate) fn new(rule: Rule) -> Self {
        Violation {
            path: Vec::new(),
            rule,
        }
    }

    /// The failing value's place as a JSON Pointer (`/nodes/3/kind`; empty
    /// for the message itself). Only declared names and indices appear.
    pub(crate) fn pointer(&self) -> String {
        use fmt::Write as _;
        let mut out = String::new();
        for segment in &self.path {
            let _ = match segment {
                Segment::Field(name) => write!(out, "/{name}"),
                Segment::Index(i) => write!(out, "/{i}"),
            };
        }
        out
    }
}

/// Checks a frame's text (a JSON object: `type` and the payload's fields)
/// against the payload's schema.
pub(crate) fn check(text: &str, payload: &'static SchemaDescriptor) -> Result<(), Violation> {
    #[cfg(test)]
    crate::frame::parses::count();
    let mut report = None;
    let mut de = serde_json::Deserializer::from_str(text);
    let checked = Check {
        schema: payload,
        frame: true,
        report: &mut report,
    }
    .deserialize(&mut de)
    .and_then(|()| de.end());
    match checked {
        Ok(()) => Ok(()),
        Err(_) => Err(report.unwrap_or_else(|| Violation::new(Rule::Json))),
    }
}

/// References followed before a chain of them is taken for a loop (the
/// spec's validator refuses loops; a hand-built descriptor might not).
const MAX_HOPS: usize = 32;

fn resolve(mut schema: &'static SchemaDescriptor) -> Option<&'static SchemaDescriptor> {
    for _ in 0..MAX_HOPS {
        match schema {
            SchemaDescriptor::Ref(target) => schema = target,
            _ => return Some(schema),
        }
    }
    None
}

/// Records `rule` as the violation and stops the parse.
fn fail<T, E: de::Error>(report: &mut Option<Violation>, rule: Rule) -> Result<T, E> {
    *report = Some(Violation::new(rule));
    Err(E::custom("payload constraint"))
}

/// Puts `segment` in front of the recorded violation's path (on the way
/// out of a failed nested check).
fn within(report: &mut Option<Violation>, segment: Segment) {
    if let Some(v) = report {
        v.path.insert(0, segment);
    }
}

/// Checks one value against `schema`.
struct Check<'r> {
    schema: &'static SchemaDescriptor,
    /// The whole frame: its `type` key is allowed beside the fields.
    frame: bool,
    report: &'r mut Option<Violation>,
}

impl<'de> DeserializeSeed<'de> for Check<'_> {
    type Value = ();

    fn deserialize<D: Deserializer<'de>>(self, de: D) -> Result<(), D::Error> {
        let Some(schema) = resolve(self.schema) else {
            return fail(self.report, Rule::Type);
        };
        match schema {
            SchemaDescriptor::Any => {
                IgnoredAny::deserialize(de)?;
                return Ok(());
            }
            SchemaDescriptor::Integer(_) | SchemaDescriptor::Number(_) => {
                // Asked for a number, serde_json parses it into a primitive
                // even when an application turns on its `arbitrary_precision`
                // feature (whose `deserialize_any` hands fractional and big
                // numbers over as a private map). Anything else is refused
                // by the parser: the wrong type.
                let report = self.report;
                let checked = de.deserialize_f64(Check {
                    schema,
                    frame: false,
                    report: &mut *report,
                });
                if checked.is_err() && report.is_none() {
                    *report = Some(Violation::new(Rule::Type));
                }
                return checked;
            }
            _ => {}
        }
        de.deserialize_any(Check {
            schema,
            frame: self.frame,
            report: self.report,
        })
    }
}

impl<'de> Visitor<'de> for Check<'_> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a value of the message's schema")
    }

    fn visit_bool<E: de::Error>(self, _: bool) -> Result<(), E> {
        match self.schema {
            SchemaDescriptor::Boolean => Ok(()),
            _ => fail(self.report, Rule::Type),
        }
    }

    fn visit_i64<E: de::Error>(self, v: i64) -> Result<(), E> {
        let checked = number(self.schema, Number::I64(v));
        self.settle(checked)
    }

    fn visit_u64<E: de::Error>(self, v: u64) -> Result<(), E> {
        let checked = number(self.schema, Number::U64(v));
        self.settle(checked)
    }

    fn visit_f64<E: de::Error>(self, v: f64) -> Result<(), E> {
        let checked = number(self.schema, Number::F64(v));
        self.settle(checked)
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<(), E> {
        match self.schema {
            SchemaDescriptor::String(s) => {
                let checked = string(s, v);
                self.settle(checked)
            }
            _ => fail(self.report, Rule::Type),
        }
    }

    fn visit_unit<E: de::Error>(self) -> Result<(), E> {
        fail(self.report, Rule::Type)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        let SchemaDescriptor::Array {
            items,
            min_items,
            max_items,
        } = self.schema
        else {
            return fail(self.report, Rule::Type);
        };
        let mut count: usize = 0;
        loop {
            let item = Check {
                schema: items,
                frame: false,
                report: &mut *self.report,
            };
            match seq.next_element_seed(item) {
                Ok(Some(())) => {
                    count += 1;
                    // Stop at the first item too many, unread the rest.
                    if max_items.is_some_and(|max| count as u64 > max) {
                        return fail(self.report, Rule::MaxItems);
                    }
                }
                Ok(None) => break,
                Err(e) => {
                    within(self.report, Segment::Index(count));
                    return Err(e);
                }
            }
        }
        if min_items.is_some_and(|min| (count as u64) < min) {
            return fail(self.report, Rule::MinItems);
        }
        Ok(())
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        let fields: &'static [FieldDescriptor] = match self.schema {
            SchemaDescriptor::Object { fields } => fields,
            _ => return fail(self.report, Rule::Type),
        };
        let mut seen = Seen::new(fields.len());
        let mut typed = false;
        let key = Key {
            fields,
            frame: self.frame,
        };
        while let Some(found) = map.next_key_seed(key)? {
            match found {
                // A frame has one `type`: the loop routes by it.
                KeyIs::Type if typed => return fail(self.report, Rule::Duplicate),
                KeyIs::Type => {
                    typed = true;
                    map.next_value::<IgnoredAny>()?;
                }
                KeyIs::Unknown => return fail(self.report, Rule::AdditionalProperties),
                KeyIs::Field(i, field) => {
                    if !seen.insert(i) {
                        let failed = fail(self.report, Rule::Duplicate);
                        within(self.report, Segment::Field(field.name));
                        return failed;
                    }
                    let value = Check {
                        schema: &field.schema,
                        frame: false,
                        report: &mut *self.report,
                    };
                    if let Err(e) = map.next_value_seed(value) {
                        within(self.report, Segment::Field(field.name));
                        return Err(e);
                    }
                }
            }
        }
        let missing = fields
            .iter()
            .enumerate()
            .find(|(i, f)| f.required && !seen.has(*i));
        if let Some((_, field)) = missing {
            let failed = fail(self.report, Rule::Required);
            within(self.report, Segment::Field(field.name));
            return failed;
        }
        Ok(())
    }
}

impl Check<'_> {
    /// Records the rule `checked` broke, if any.
    fn settle<E: de::Error>(self, checked: Result<(), Rule>) -> Result<(), E> {
        match checked {
            Ok(()) => Ok(()),
            Err(rule) => fail(self.report, rule),
        }
    }
}

/// A JSON number as the parser read it.
#[derive(Clone, Copy)]
enum Number {
    I64(i64),
    U64(u64),
    F64(f64),
}

/// The first rule the number `n` breaks as a value of `schema`, if any.
fn number(schema: &SchemaDescriptor, n: Number) -> Result<(), Rule> {
    #[allow(clippy::cast_precision_loss, reason = "bounds are f64 in the spec")]
    let (bounds, v) = match (schema, n) {
        (SchemaDescriptor::Integer(b) | SchemaDescriptor::Number(b), Number::I64(v)) => {
            (b, v as f64)
        }
        (_, Number::U64(v)) => match (i64::try_from(v), schema) {
            (Ok(v), _) => return number(schema, Number::I64(v)),
            // Beyond the generated `i64`: only a `number` takes it.
            (Err(_), SchemaDescriptor::Number(b)) => (b, v as f64),
            (Err(_), _) => return Err(Rule::Type),
        },
        // `1.5` and `1e3` alike: the generated `i64` reads neither.
        (SchemaDescriptor::Number(b), Number::F64(v)) => (b, v),
        _ => return Err(Rule::Type),
    };
    if bounds.minimum.is_some_and(|m| v < m) {
        return Err(Rule::Minimum);
    }
    if bounds.maximum.is_some_and(|m| v > m) {
        return Err(Rule::Maximum);
    }
    Ok(())
}

/// The first rule `v` breaks, if any.
fn string(s: &StringDescriptor, v: &str) -> Result<(), Rule> {
    if !s.values.is_empty() && !s.values.contains(&v) {
        return Err(Rule::Enum);
    }
    if s.min_length.is_some() || s.max_length.is_some() {
        // Counting characters walks the string; a byte length inside the
        // bounds either way settles it without (a character is 1 to 4 bytes).
        let bytes = v.len() as u64;
        let settled = s.min_length.is_none_or(|min| bytes / 4 >= min)
            && s.max_length.is_none_or(|max| bytes <= max);
        if !settled {
            let chars = v.chars().count() as u64;
            if s.min_length.is_some_and(|min| chars < min) {
                return Err(Rule::MinLength);
            }
            if s.max_length.is_some_and(|max| chars > max) {
                return Err(Rule::MaxLength);
            }
        }
    }
    if let Some(format) = s.format
        && !format_ok(format, v)
    {
        return Err(Rule::Format);
    }
    if let Some(pattern) = s.pattern
        && pattern.is_match(v) != Some(true)
    {
        return Err(Rule::Pattern);
    }
    Ok(())
}

/// Whether `v` is in `format`.
pub(crate) fn format_ok(format: Format, v: &str) -> bool {
    match format {
        Format::Uuid => is_uuid(v.as_bytes()),
        Format::Date => is_date(v.as_bytes()),
        Format::DateTime => is_date_time(v.as_bytes()),
    }
}

fn is_uuid(b: &[u8]) -> bool {
    b.len() == 36
        && b.iter().enumerate().all(|(i, c)| match i {
            8 | 13 | 18 | 23 => *c == b'-',
            _ => c.is_ascii_hexdigit(),
        })
}

/// The number in `b`, which must be all ASCII digits.
fn digits(b: &[u8]) -> Option<u32> {
    if b.is_empty() || !b.iter().all(u8::is_ascii_digit) {
        return None;
    }
    Some(b.iter().fold(0, |n, d| n * 10 + u32::from(d - b'0')))
}

/// `YYYY-MM-DD`, a day that exists.
fn is_date(b: &[u8]) -> bool {
    let [y0, y1, y2, y3, b'-', m0, m1, b'-', d0, d1] = *b else {
        return false;
    };
    let (Some(year), Some(month), Some(day)) = (
        digits(&[y0, y1, y2, y3]),
        digits(&[m0, m1]),
        digits(&[d0, d1]),
    ) else {
        return false;
    };
    let leap = year % 4 == 0 && (year % 100 != 0 || year % 400 == 0);
    let days = match month {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        2 if leap => 29,
        2 => 28,
        _ => return false,
    };
    (1..=days).contains(&day)
}

/// `hh:mm` with `hh` up to `max_hour` and `mm` up to 59.
fn is_hh_mm(b: &[u8], max_hour: u32) -> bool {
    let [h0, h1, b':', m0, m1] = *b else {
        return false;
    };
    digits(&[h0, h1]).is_some_and(|h| h <= max_hour) && digits(&[m0, m1]).is_some_and(|m| m <= 59)
}

/// RFC 3339 `date-time`: `YYYY-MM-DDThh:mm:ss[.frac](Z|±hh:mm)`, `T` and
/// `Z` in either case, a leap second (`:60`) allowed.
fn is_date_time(b: &[u8]) -> bool {
    if b.len() < 20 || !is_date(&b[..10]) || !matches!(b[10], b'T' | b't') {
        return false;
    }
    let time = &b[11..];
    if !is_hh_mm(&time[..5], 23) || time[5] != b':' || digits(&time[6..8]).is_none_or(|s| s > 60) {
        return false;
    }
    let mut rest = &time[8..];
    if let [b'.', frac @ ..] = rest {
        let n = frac.iter().take_while(|c| c.is_ascii_digit()).count();
        if n == 0 {
            return false;
        }
        rest = &frac[n..];
    }
    match rest {
        [b'Z' | b'z'] => true,
        [b'+' | b'-', offset @ ..] => is_hh_mm(offset, 23),
        _ => false,
    }
}

/// What a key of an object is.
#[derive(Clone, Copy)]
enum KeyIs {
    /// The frame's own `type`.
    Type,
    /// Declared field number `.0`.
    Field(usize, &'static FieldDescriptor),
    /// Not declared.
    Unknown,
}

/// Matches a key against the declared fields without copying it.
#[derive(Clone, Copy)]
struct Key {
    fields: &'static [FieldDescriptor],
    frame: bool,
}

impl<'de> DeserializeSeed<'de> for Key {
    type Value = KeyIs;

    fn deserialize<D: Deserializer<'de>>(self, de: D) -> Result<KeyIs, D::Error> {
        de.deserialize_str(self)
    }
}

impl Visitor<'_> for Key {
    type Value = KeyIs;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a field name")
    }

    fn visit_str<E: de::Error>(self, key: &str) -> Result<KeyIs, E> {
        if self.frame && key == "type" {
            return Ok(KeyIs::Type);
        }
        Ok(self
            .fields
            .iter()
            .enumerate()
            .find(|(_, f)| f.name == key)
            .map_or(KeyIs::Unknown, |(i, f)| KeyIs::Field(i, f)))
    }
}

/// Which declared fields an object has given so far.
enum Seen {
    /// Up to 64 fields: one bit each.
    Few(u64),
    /// More.
    Many(Vec<bool>),
}

impl Seen {
    fn new(fields: usize) -> Self {
        if fields <= 64 {
            Seen::Few(0)
        } else {
            Seen::Many(vec![false; fields])
        }
    }

    /// Marks field `i`; false when it was already marked.
    fn insert(&mut self, i: usize) -> bool {
        let fresh = !self.has(i);
        match self {
            Seen::Few(bits) => *bits |= 1u64.checked_shl(i as u32).unwrap_or(0),
            Seen::Many(flags) => {
                if let Some(flag) = flags.get_mut(i) {
                    *flag = true;
                }
            }
        }
        fresh
    }

    fn has(&self, i: usize) -> bool {
        match self {
            Seen::Few(bits) => bits & 1u64.checked_shl(i as u32).unwrap_or(0) != 0,
            Seen::Many(flags) => flags.get(i).copied().unwrap_or(false),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::descriptor::{Bounds, Pattern};
    use crate::frame::decode_fields;

    static SLUG: Pattern = Pattern::new("^[a-z][a-z0-9-]*$");
    static BROKEN: Pattern = Pattern::new("(");

    static POINT: SchemaDescriptor = SchemaDescriptor::Object {
        fields: &[
            FieldDescriptor {
                name: "x",
                required: true,
                schema: SchemaDescriptor::Integer(Bounds {
                    minimum: Some(-10.0),
                    maximum: Some(10.0),
                }),
            },
            FieldDescriptor {
                name: "label",
                required: false,
                schema: SchemaDescriptor::String(StringDescriptor {
                    values: &[],
                    min_length: None,
                    max_length: None,
                    format: None,
                    pattern: Some(&SLUG),
                }),
            },
        ],
    };

    /// A tree: each node has children of its own kind.
    static TREE: SchemaDescriptor = SchemaDescriptor::Object {
        fields: &[
            FieldDescriptor {
                name: "name",
                required: true,
                schema: SchemaDescriptor::String(StringDescriptor {
                    values: &[],
                    min_length: Some(1),
                    max_length: Some(3),
                    format: None,
                    pattern: None,
                }),
            },
            FieldDescriptor {
                name: "children",
                required: false,
                schema: SchemaDescriptor::Array {
                    items: &SchemaDescriptor::Ref(&TREE),
                    min_items: None,
                    max_items: Some(2),
                },
            },
        ],
    };

    static PAYLOAD: SchemaDescriptor = SchemaDescriptor::Object {
        fields: &[
            FieldDescriptor {
                name: "text",
                required: true,
                schema: SchemaDescriptor::String(StringDescriptor {
                    values: &[],
                    min_length: Some(1),
                    max_length: Some(4),
                    format: None,
                    pattern: None,
                }),
            },
            FieldDescriptor {
                name: "level",
                required: false,
                schema: SchemaDescriptor::String(StringDescriptor {
                    values: &["info", "warning"],
                    min_length: None,
                    max_length: None,
                    format: None,
                    pattern: None,
                }),
            },
            FieldDescriptor {
                name: "ratio",
                required: false,
                schema: SchemaDescriptor::Number(Bounds {
                    minimum: Some(0.0),
                    maximum: Some(1.0),
                }),
            },
            FieldDescriptor {
                name: "points",
                required: false,
                schema: SchemaDescriptor::Array {
                    items: &SchemaDescriptor::Ref(&POINT),
                    min_items: Some(1),
                    max_items: Some(2),
                },
            },
            FieldDescriptor {
                name: "id",
                required: false,
                schema: SchemaDescriptor::String(StringDescriptor {
                    values: &[],
                    min_length: None,
                    max_length: None,
                    format: Some(Format::Uuid),
                    pattern: None,
                }),
            },
            FieldDescriptor {
                name: "on",
                required: false,
                schema: SchemaDescriptor::Boolean,
            },
            FieldDescriptor {
                name: "extra",
                required: false,
                schema: SchemaDescriptor::Any,
            },
            FieldDescriptor {
                name: "tree",
                required: false,
                schema: SchemaDescriptor::Ref(&TREE),
            },
        ],
    };

    // `PAYLOAD`'s types, as `include_spec!` generates them.

    #[derive(Debug, PartialEq, serde::Deserialize)]
    #[serde(deny_unknown_fields)]
    struct Payload {
        text: String,
        #[serde(default)]
        level: Option<Level>,
        #[serde(default)]
        ratio: Option<f64>,
        #[serde(default)]
        points: Option<Vec<Point>>,
        #[serde(default)]
        id: Option<String>,
        #[serde(default)]
        on: Option<bool>,
        #[serde(default)]
        extra: Option<serde_json::Value>,
        #[serde(default)]
        tree: Option<Tree>,
    }

    #[derive(Debug, PartialEq, serde::Deserialize)]
    enum Level {
        #[serde(rename = "info")]
        Info,
        #[serde(rename = "warning")]
        Warning,
    }

    #[derive(Debug, PartialEq, serde::Deserialize)]
    #[serde(deny_unknown_fields)]
    struct Point {
        x: i64,
        #[serde(default)]
        label: Option<String>,
    }

    #[derive(Debug, PartialEq, serde::Deserialize)]
    #[serde(deny_unknown_fields)]
    struct Tree {
        name: String,
        #[serde(default)]
        children: Option<Vec<Tree>>,
    }

    /// A hand-written type that reads only `text` and ignores the rest:
    /// the fused pass still checks every field it skips.
    #[derive(Debug, PartialEq, serde::Deserialize)]
    struct Lenient {
        text: String,
    }

    /// `check`'s outcome on `text` against `schema`, after asserting that
    /// the fused pass decoding `T` reaches the same one: the same violation,
    /// or, for a valid frame, the value `decode_fields` gives (`None` when
    /// `T` cannot hold it).
    fn checked_as<T>(text: &str, schema: &'static SchemaDescriptor) -> Result<(), Violation>
    where
        T: serde::de::DeserializeOwned + PartialEq + fmt::Debug,
    {
        let checked = check(text, schema);
        match (&checked, decode::decode::<T>(text, schema)) {
            (Err(want), Err(got)) => assert_eq!(want, &got, "{text}"),
            (Ok(()), Ok(got)) => assert_eq!(got, decode_fields::<T>(text), "{text}"),
            (want, got) => panic!("{text}: check gives {want:?}, the fused pass {got:?}"),
        }
        checked
    }

    /// `check`'s outcome on `text`, equal to the fused pass's (for the
    /// generated types and for a type that ignores fields).
    fn outcome(text: &str) -> Result<(), Violation> {
        let lenient = checked_as::<Lenient>(text, &PAYLOAD);
        let checked = checked_as::<Payload>(text, &PAYLOAD);
        assert_eq!(lenient, checked, "{text}");
        checked
    }

    /// `Ok` or the violation as `(pointer, keyword)`.
    fn run(fields: &str) -> Result<(), (String, &'static str)> {
        let text = format!(
            r#"{{"type":"m"{}{fields}}}"#,
            if fields.is_empty() { "" } else { "," }
        );
        outcome(&text).map_err(|v| (v.pointer(), v.rule.keyword()))
    }

    fn refused(fields: &str, pointer: &str, keyword: &str) {
        assert_eq!(
            run(fields),
            Err((pointer.to_owned(), keyword_static(keyword))),
            "{fields}"
        );
    }

    fn keyword_static(k: &str) -> &'static str {
        [
            Rule::Type,
            Rule::Required,
            Rule::AdditionalProperties,
            Rule::Duplicate,
            Rule::Enum,
            Rule::MinLength,
            Rule::MaxLength,
            Rule::Pattern,
            Rule::Format,
            Rule::Minimum,
            Rule::Maximum,
            Rule::MinItems,
            Rule::MaxItems,
            Rule::Json,
        ]
        .into_iter()
        .map(Rule::keyword)
        .find(|w| *w == k)
        .unwrap_or("?")
    }

    #[test]
    fn lengths_count_unicode_scalar_values_at_both_bounds() {
        assert_eq!(run(r#""text":"a""#), Ok(()));
        assert_eq!(run(r#""text":"abcd""#), Ok(()));
        refused(r#""text":"""#, "/text", "minLength");
        refused(r#""text":"abcde""#, "/text", "maxLength");
        // Four characters of 4 bytes each: 16 bytes, still four characters.
        assert_eq!(run(r#""text":"😀😀😀😀""#), Ok(()));
        refused(r#""text":"😀😀😀😀😀""#, "/text", "maxLength");
        // Escapes count as the character they stand for.
        assert_eq!(run(r#""text":"\u00e9\ud83d\ude00\n\"""#), Ok(()));
        refused(
            r#""text":"\u00e9\u00e9\u00e9\u00e9\u00e9""#,
            "/text",
            "maxLength",
        );
    }

    #[test]
    fn numeric_bounds_are_inclusive_and_integers_are_whole() {
        assert_eq!(run(r#""text":"a","ratio":0"#), Ok(()));
        assert_eq!(run(r#""text":"a","ratio":1.0"#), Ok(()));
        refused(r#""text":"a","ratio":-0.001"#, "/ratio", "minimum");
        refused(r#""text":"a","ratio":1.001"#, "/ratio", "maximum");
        refused(r#""text":"a","ratio":"1""#, "/ratio", "type");
        let point = |x: &str| format!(r#""text":"a","points":[{{"x":{x}}}]"#);
        assert_eq!(run(&point("-10")), Ok(()));
        assert_eq!(run(&point("10")), Ok(()));
        refused(&point("-11"), "/points/0/x", "minimum");
        refused(&point("11"), "/points/0/x", "maximum");
        refused(&point("1.5"), "/points/0/x", "type");
        refused(&point("18446744073709551615"), "/points/0/x", "type");
        // Beyond f64: the parser refuses it, as the wrong type.
        refused(&point("1e400"), "/points/0/x", "type");
    }

    #[test]
    fn enums_formats_and_patterns() {
        assert_eq!(run(r#""text":"a","level":"warning""#), Ok(()));
        refused(r#""text":"a","level":"Warning""#, "/level", "enum");
        assert_eq!(
            run(r#""text":"a","id":"0b9d6c6e-3f4a-4c8e-9a57-6F1D2C3B4A5E""#),
            Ok(())
        );
        refused(
            r#""text":"a","id":"0b9d6c6e3f4a-4c8e-9a57-6f1d2c3b4a5e0""#,
            "/id",
            "format",
        );
        let label = |l: &str| format!(r#""text":"a","points":[{{"x":1,"label":"{l}"}}]"#);
        assert_eq!(run(&label("a-1")), Ok(()));
        refused(&label("1-a"), "/points/0/label", "pattern");
        refused(&label("a b"), "/points/0/label", "pattern");
    }

    #[test]
    fn shape_required_unknown_duplicate_and_null() {
        refused("", "/text", "required");
        refused(r#""text":"a","secret":"x""#, "", "additionalProperties");
        refused(r#""text":"a","text":"b""#, "/text", "duplicate");
        refused(r#""text":null"#, "/text", "type");
        refused(r#""text":"a","level":null"#, "/level", "type");
        refused(r#""text":"a","on":1"#, "/on", "type");
        assert_eq!(run(r#""text":"a","on":false"#), Ok(()));
        assert_eq!(
            run(r#""text":"a","extra":{"anything":[1,null,{"deep":true}]}"#),
            Ok(())
        );
        refused(
            r#""text":"a","points":[{"x":1,"y":2}]"#,
            "/points/0",
            "additionalProperties",
        );
        refused(r#""text":"a","points":[{}]"#, "/points/0/x", "required");
        refused(r#""text":"a","points":{"x":1}"#, "/points", "type");
        // Not an object at all, or trailing text.
        assert!(outcome(r#"["m"]"#).is_err());
        assert!(outcome(r#"{"type":"m","text":"a"} x"#).is_err());
    }

    #[test]
    fn array_bounds_and_recursive_references() {
        let points = |n: usize| {
            let items = vec![r#"{"x":0}"#; n].join(",");
            format!(r#""text":"a","points":[{items}]"#)
        };
        refused(&points(0), "/points", "minItems");
        assert_eq!(run(&points(1)), Ok(()));
        assert_eq!(run(&points(2)), Ok(()));
        refused(&points(3), "/points", "maxItems");
        let tree = r#""text":"a","tree":{"name":"r","children":[{"name":"a"},{"name":"b","children":[{"name":"long"}]}]}"#;
        refused(tree, "/tree/children/1/children/0/name", "maxLength");
        let tree = r#""text":"a","tree":{"name":"r","children":[{"name":"a"},{"name":"b","children":[{"name":"ok"}]}]}"#;
        assert_eq!(run(tree), Ok(()));
    }

    #[test]
    fn nesting_beyond_the_parser_limit_is_refused_not_a_crash() {
        let mut deep = String::from(r#""text":"a","extra":"#);
        deep.push_str(&"[".repeat(100_000));
        assert_eq!(run(&deep), Err((String::new(), "json")));
        let mut tree = String::from(r#""text":"a","tree":"#);
        tree.push_str(&r#"{"name":"n","children":["#.repeat(10_000));
        assert!(run(&tree).is_err());
    }

    /// Beyond the cases above (each of which also compares the fused pass
    /// with the check): escapes, the frame's `type`, and numbers at the
    /// edges of what the parser and the types hold.
    #[test]
    fn the_fused_pass_decides_as_the_check_does() {
        for ok in [
            r#"{"type":"m","t\u0065xt":"a"}"#,
            r#"{"typ\u0065":"m","text":"a"}"#,
            r#"{"text":"a","type":"m"}"#,
            r#" { "text" : "a" , "type" : "m" } "#,
            r#"{"type":"m","text":"a","level":"w\u0061rning"}"#,
            r#"{"type":"m","text":"a","ratio":-0,"on":true,"extra":null}"#,
            r#"{"type":"m","text":"a","ratio":1e-300}"#,
            r#"{"type":"m","text":"a","points":[{"x":-10,"label":"a"},{"x":10}]}"#,
            r#"{"type":"m","text":"a","tree":{"name":"r","children":[]}}"#,
            // `Any` is skipped unchecked, as the check skips it: the types
            // refuse it (`Ok(None)`), and so would the handler's decode.
            r#"{"type":"m","text":"a","extra":1e400}"#,
        ] {
            assert_eq!(outcome(ok), Ok(()), "{ok}");
        }
        let refused = |text: &str, pointer: &str, keyword: &str| {
            let got = outcome(text).map_err(|v| (v.pointer(), v.rule.keyword()));
            assert_eq!(
                got,
                Err((pointer.to_owned(), keyword_static(keyword))),
                "{text}"
            );
        };
        refused(r#"{"type":"m","type":"m","text":"a"}"#, "", "duplicate");
        refused(
            r#"{"type":"m","text":"a","typ\u0065":"m"}"#,
            "",
            "duplicate",
        );
        refused(
            r#"{"type":"m","t\u0065xt":"a","text":"b"}"#,
            "/text",
            "duplicate",
        );
        refused(
            r#"{"type":"m","text":"a","s\u0065cret":1}"#,
            "",
            "additionalProperties",
        );
        refused(
            r#"{"type":"m","text":"a","level":"w\u0061rn"}"#,
            "/level",
            "enum",
        );
        refused(
            r#"{"type":"m","text":"a","ratio":18446744073709551615}"#,
            "/ratio",
            "maximum",
        );
        refused(r#"{"type":"m","text":"a","ratio":1e400}"#, "/ratio", "type");
        refused(r#"{"type":"m","text":"a","ratio":null}"#, "/ratio", "type");
        refused(
            r#"{"type":"m","text":"a","tree":{"children":[]}}"#,
            "/tree/name",
            "required",
        );
        refused(r#"{"type":"m","text":"a","extra":[1,]}"#, "", "json");
        refused(r#"{"type":"m","text":"\ud800"}"#, "", "json");
        refused(r#"{"type":"m","text":"a"}{}"#, "", "json");
        refused(
            r#"{"type":"m","text":"abcde","secret":1}"#,
            "/text",
            "maxLength",
        );
    }

    /// A type that holds less than its schema allows: where it stops, the
    /// check over the whole frame decides, so a violation further on is
    /// still the one found, and a frame that breaks no rule is left to the
    /// handler's decode.
    #[test]
    fn where_the_type_refuses_a_valid_value_the_check_decides() {
        static SMALL: SchemaDescriptor = SchemaDescriptor::Object {
            fields: &[
                FieldDescriptor {
                    name: "a",
                    required: true,
                    schema: SchemaDescriptor::Integer(Bounds {
                        minimum: None,
                        maximum: None,
                    }),
                },
                FieldDescriptor {
                    name: "b",
                    required: false,
                    schema: SchemaDescriptor::String(StringDescriptor {
                        values: &[],
                        min_length: None,
                        max_length: Some(1),
                        format: None,
                        pattern: None,
                    }),
                },
            ],
        };
        #[derive(Debug, PartialEq, serde::Deserialize)]
        struct Small {
            a: u8,
            b: Option<String>,
        }
        let fused = |text: &str| decode::decode::<Small>(text, &SMALL);
        assert_eq!(
            fused(r#"{"type":"m","a":7,"b":"x"}"#),
            Ok(Some(Small {
                a: 7,
                b: Some("x".to_owned())
            }))
        );
        assert_eq!(fused(r#"{"type":"m","a":300,"b":"x"}"#), Ok(None));
        let late = fused(r#"{"type":"m","a":300,"b":"xy"}"#).map_err(|v| v.pointer());
        assert_eq!(late, Err("/b".to_owned()));
        for text in [
            r#"{"type":"m","a":300,"b":"xy"}"#,
            r#"{"type":"m","a":300}"#,
            r#"{"type":"m","a":-1,"c":1}"#,
        ] {
            let _ = checked_as::<Small>(text, &SMALL);
        }
    }

    #[test]
    fn a_pattern_that_does_not_compile_refuses_every_value() {
        assert_eq!(BROKEN.is_match("anything"), None);
        static S: SchemaDescriptor = SchemaDescriptor::Object {
            fields: &[FieldDescriptor {
                name: "s",
                required: true,
                schema: SchemaDescriptor::String(StringDescriptor {
                    values: &[],
                    min_length: None,
                    max_length: None,
                    format: None,
                    pattern: Some(&BROKEN),
                }),
            }],
        };
        #[derive(Debug, PartialEq, serde::Deserialize)]
        struct Broken {
            #[allow(dead_code, reason = "never decoded: every value is refused")]
            s: String,
        }
        assert!(checked_as::<Broken>(r#"{"type":"m","s":"("}"#, &S).is_err());
    }

    #[test]
    fn dates_and_times_follow_rfc_3339() {
        for ok in ["2026-11-22", "2024-02-29", "2000-02-29", "0001-01-01"] {
            assert!(format_ok(Format::Date, ok), "{ok}");
        }
        for bad in [
            "2026-11-31",
            "2023-02-29",
            "1900-02-29",
            "2026-13-01",
            "2026-1-01",
            "26-11-22",
            "2026-11-22 ",
        ] {
            assert!(!format_ok(Format::Date, bad), "{bad}");
        }
        for ok in [
            "2026-11-22T10:00:00Z",
            "2026-11-22t10:00:00z",
            "2026-11-22T23:59:60.123456+05:30",
            "2026-11-22T00:00:00-00:00",
        ] {
            assert!(format_ok(Format::DateTime, ok), "{ok}");
        }
        for bad in [
            "2026-11-22",
            "2026-11-22T10:00:00",
            "2026-11-22T24:00:00Z",
            "2026-11-22T10:60:00Z",
            "2026-11-22T10:00:61Z",
            "2026-11-22T10:00:00.Z",
            "2026-11-22T10:00:00+0530",
            "2026-11-22 10:00:00Z",
            "2026-11-22T10:00:00Zx",
            "2026-11-22T10:00:00ü",
        ] {
            assert!(!format_ok(Format::DateTime, bad), "{bad}");
        }
    }
}
