//! A small YAML writer for JSON values, written for readers that disagree.
//!
//! The document is read by YAML 1.2 tools (saphyr, the AsyncAPI parser's
//! js-yaml) and by YAML 1.1 ones (PyYAML and the tools built on it). A
//! string either kind could read as something else must be quoted, so this
//! writer is conservative where a general-purpose emitter is not: saphyr's
//! `YamlEmitter` leaves `2024-01-01`, `y` and `1_000` plain (a date, a
//! boolean and a number to YAML 1.1 and js-yaml) and always opens with `---`;
//! serde_yaml is unmaintained.
//!
//! The rules, each checked by the tests below:
//! - Maps and lists are written in block style, in the order of the JSON
//!   maps (serde_json keeps insertion order in this workspace); a short list
//!   of scalars is written inline (`[a, b]`, a string plain there only when
//!   it has no comma and ends in a letter, digit or `_`), empty collections
//!   as `{}` and `[]`.
//! - A string is plain only when it is ASCII, starts with a letter, `_` or
//!   `$`, holds no indicator that could end or change it (`:`, `#`, quotes,
//!   brackets, commas...), does not end in a space and is not a word such as
//!   `true`, `null` or `yes` in any case.
//! - A string of several lines is a literal block (`|` or `|-`) when one
//!   keeps it exactly: no leading space, at most one final line break,
//!   nothing but printable text, and no line ending in a space (which an
//!   editor would strip without a trace).
//! - Every other string is double-quoted with JSON's escapes, plus `\uXXXX`
//!   for the characters YAML does not allow raw or reads as line breaks
//!   (controls, U+2028, U+2029, byte-order marks).
//! - Numbers, booleans and null are written as JSON writes them.
//! - A key longer than YAML's 1024-character limit for implicit keys is
//!   written as an explicit `? key` entry.

use std::fmt::Write as _;

use serde_json::{Map, Value};

/// Short lists of scalars up to this width are written inline.
const FLOW_WIDTH: usize = 72;

/// The longest key YAML allows without an explicit `?` entry.
const MAX_IMPLICIT_KEY: usize = 1024;

/// `value` as a YAML document, ending in a line break.
pub(super) fn to_string(value: &Value) -> String {
    let body = match value {
        Value::Object(map) if !map.is_empty() => mapping(map, 0),
        other => after_key(other, 0).trim_start().to_owned(),
    };
    body + "\n"
}

/// `value` as written after `key:` (or `-`) at column `indent`: a space and
/// an inline value, or a line break and a block indented two columns deeper,
/// without a final line break.
fn after_key(value: &Value, indent: usize) -> String {
    match value {
        Value::Object(map) if !map.is_empty() => format!("\n{}", mapping(map, indent + 2)),
        Value::Array(items) if !items.is_empty() => match flow(items) {
            Some(text) => format!(" {text}"),
            None => format!("\n{}", sequence(items, indent + 2)),
        },
        Value::String(s) => match literal(s, indent + 2) {
            Some(block) => format!(" {block}"),
            None => format!(" {}", scalar(s)),
        },
        other => format!(" {}", inline(other)),
    }
}

fn mapping(map: &Map<String, Value>, indent: usize) -> String {
    let pad = " ".repeat(indent);
    map.iter()
        .map(|(k, v)| {
            let key = scalar(k);
            if key.chars().count() > MAX_IMPLICIT_KEY {
                format!("{pad}? {key}\n{pad}:{}", after_key(v, indent))
            } else {
                format!("{pad}{key}:{}", after_key(v, indent))
            }
        })
        .collect::<Vec<_>>()
        .join("\n")
}

fn sequence(items: &[Value], indent: usize) -> String {
    let pad = " ".repeat(indent);
    items
        .iter()
        .map(|item| match item {
            Value::Object(map) if !map.is_empty() => dash(&mapping(map, indent + 2), indent),
            Value::Array(inner) if !inner.is_empty() && flow(inner).is_none() => {
                dash(&sequence(inner, indent + 2), indent)
            }
            other => format!("{pad}-{}", after_key(other, indent)),
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// A block written at `indent + 2` as a sequence item at `indent`: its
/// first line's indentation becomes `- `.
fn dash(block: &str, indent: usize) -> String {
    format!("{}- {}", " ".repeat(indent), &block[indent + 2..])
}

/// `[a, b]` when every item is a scalar and the line stays short.
fn flow(items: &[Value]) -> Option<String> {
    let mut parts = Vec::with_capacity(items.len());
    for item in items {
        match item {
            Value::Object(_) | Value::Array(_) => return None,
            // A comma would split the item; and some readers (saphyr) take
            // `-` or `?` before `,` or `]` for an indicator, so plain items
            // end in a word character.
            Value::String(s)
                if s.contains(',')
                    || !s.ends_with(|c: char| c.is_ascii_alphanumeric() || c == '_') =>
            {
                parts.push(quoted(s));
            }
            scalar => parts.push(inline(scalar)),
        }
    }
    let text = format!("[{}]", parts.join(", "));
    (text.len() <= FLOW_WIDTH).then_some(text)
}

/// A scalar or empty collection on one line.
fn inline(value: &Value) -> String {
    match value {
        Value::Null => "null".into(),
        Value::Bool(b) => b.to_string(),
        Value::Number(n) => n.to_string(),
        Value::String(s) => scalar(s),
        Value::Array(_) => "[]".into(),
        Value::Object(_) => "{}".into(),
    }
}

/// A one-line string: plain when safe, else double-quoted.
fn scalar(s: &str) -> String {
    if plain(s) { s.to_owned() } else { quoted(s) }
}

/// Whether every YAML reader reads `s` back as the same string when it is
/// written plain in block context (in `[...]`, see [`flow`]).
fn plain(s: &str) -> bool {
    const WORDS: &[&str] = &["true", "false", "yes", "no", "on", "off", "y", "n", "null"];
    let Some(first) = s.chars().next() else {
        return false;
    };
    (first.is_ascii_alphabetic() || first == '_' || first == '$')
        && !s.ends_with(' ')
        && !s.contains("  ")
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || " _.-/()',`;?!+=<>*%@&$".contains(c))
        && !WORDS.contains(&s.to_ascii_lowercase().as_str())
}

/// Whether `c` may be written raw inside a quoted or literal scalar and
/// reads back as itself in YAML 1.1 and 1.2 alike.
fn verbatim(c: char) -> bool {
    !c.is_control()
        && !matches!(
            c,
            '\u{2028}' | '\u{2029}' | '\u{feff}' | '\u{fffe}' | '\u{ffff}'
        )
}

/// `s` double-quoted: JSON's escapes, which YAML shares, and `\uXXXX` for
/// every character that is not [`verbatim`] (all of them below U+10000).
fn quoted(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            c if verbatim(c) => out.push(c),
            c => {
                // Writing to a String cannot fail.
                let _ = write!(out, "\\u{:04x}", u32::from(c));
            }
        }
    }
    out.push('"');
    out
}

/// `|` or `|-` and the lines of `s` at column `indent`, when `s` spans
/// lines and a literal block keeps it exactly.
fn literal(s: &str, indent: usize) -> Option<String> {
    let (body, chomp) = match s.strip_suffix('\n') {
        Some(body) => (body, "|"),
        None => (s, "|-"),
    };
    let fits = body.contains('\n')
        && !body.starts_with([' ', '\n'])
        && !body.ends_with('\n')
        && body.chars().all(|c| c == '\n' || verbatim(c))
        && body.lines().all(|l| !l.ends_with(' '));
    if !fits {
        return None;
    }
    let pad = " ".repeat(indent);
    let lines: Vec<String> = body
        .split('\n')
        .map(|l| {
            if l.is_empty() {
                String::new()
            } else {
                format!("{pad}{l}")
            }
        })
        .collect();
    Some(format!("{chomp}\n{}", lines.join("\n")))
}

/// The one document in `yaml` as JSON, keys in document order, or why it
/// is not one: how the tests read the writer's output back.
#[cfg(test)]
pub(super) fn read(yaml: &str) -> Result<Value, String> {
    use saphyr::{LoadableYamlNode, Scalar, Yaml};

    fn to_json(node: &Yaml<'_>) -> Result<Value, String> {
        Ok(match node {
            Yaml::Value(Scalar::Null) => Value::Null,
            Yaml::Value(Scalar::Boolean(b)) => Value::Bool(*b),
            Yaml::Value(Scalar::Integer(i)) => Value::from(*i),
            Yaml::Value(Scalar::FloatingPoint(f)) => serde_json::Number::from_f64(f.into_inner())
                .map(Value::Number)
                .ok_or_else(|| format!("the number {f} is not JSON"))?,
            Yaml::Value(Scalar::String(s)) => Value::String(s.to_string()),
            Yaml::Sequence(items) => {
                Value::Array(items.iter().map(to_json).collect::<Result<_, _>>()?)
            }
            Yaml::Mapping(map) => {
                let mut out = Map::new();
                for (k, v) in map {
                    let Yaml::Value(Scalar::String(k)) = k else {
                        return Err(format!("a key that is not a string: {k:?}"));
                    };
                    out.insert(k.to_string(), to_json(v)?);
                }
                Value::Object(out)
            }
            other => return Err(format!("an unexpected node: {other:?}")),
        })
    }

    let docs = Yaml::load_from_str(yaml).map_err(|e| e.to_string())?;
    match docs.as_slice() {
        [doc] => to_json(doc),
        _ => Err(format!("{} documents", docs.len())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    /// `value` written and read back.
    fn round_trip(value: &Value) -> Value {
        let text = to_string(value);
        read(&text).unwrap_or_else(|e| panic!("{e}\n{text}"))
    }

    /// Strings YAML could read as something else, or that need care.
    const AWKWARD: &[&str] = &[
        "",
        " ",
        "plain words",
        "true",
        "True",
        "No",
        "yes",
        "Y",
        "n",
        "on",
        "OFF",
        "null",
        "NULL",
        "~",
        "1",
        "-5",
        "+1",
        "1.0",
        "1.0.0",
        ".5",
        ".inf",
        "-.inf",
        ".nan",
        "NaN",
        "0x1F",
        "0o17",
        "012",
        "1_000",
        "1e3",
        "2024-01-01",
        "2001-12-14t21:59:43.10-05:00",
        "1:20",
        "<<",
        "=",
        "-",
        "- item",
        "--- ",
        "---",
        "...",
        "? key",
        ": value",
        "a: b",
        "a:b",
        "a #b",
        "#comment",
        "*",
        "*alias",
        "&anchor",
        "!tag",
        "!!str",
        "%TAG",
        "@at",
        "`code`",
        "|",
        ">",
        "'single'",
        "\"double\"",
        "back\\slash",
        "trailing ",
        " leading",
        "two  spaces",
        "tab\there",
        "\t",
        "two\nlines",
        "ends with newline\n",
        "\n",
        "\nleading newline",
        "two\n\nparagraphs\n",
        "many newlines\n\n",
        "  indented\nfirst",
        "trailing space \nline",
        "line\n  indented",
        "line\n# not a comment",
        "line\n- not a list",
        "line\n---\nmore",
        "cr\r\nlf",
        "{braces}",
        "[brackets]",
        "a, b",
        "a,b",
        "é unicode ✓",
        "日本語",
        "emoji 🦀",
        "nel\u{85}x",
        "ls\u{2028}x",
        "ps\u{2029}x",
        "bom\u{feff}x",
        "bell\u{7}",
        "del\u{7f}",
        "nul\u{0}",
        "$ref",
        "x-wsauth-permission",
        "conversation.read",
        "#/components/schemas/Problem",
        "http://example.com/a?b=c#d",
    ];

    /// Every awkward string, and each joined with a prefix or suffix.
    fn awkward_strings() -> Vec<String> {
        let affixes = ["", "a", "-", " ", "\n", ":", "#", "1"];
        let mut out = Vec::new();
        for s in AWKWARD {
            for affix in affixes {
                out.push(format!("{affix}{s}"));
                out.push(format!("{s}{affix}"));
            }
        }
        out
    }

    /// Every awkward string reads back as itself as a value, a key, a list
    /// item, inline and in a block list, at the root and nested.
    #[test]
    fn awkward_strings_read_back_unchanged() {
        for s in awkward_strings() {
            let as_key = |value: Value| Value::Object(Map::from_iter([(s.clone(), value)]));
            let value = json!({
                "value": s,
                "key": as_key(json!(s)),
                "list": [s, s],
                "block": [s, { "k": s }],
                "nested": { "deeper": [{ "k": s, "list": as_key(json!([[s]])) }] },
            });
            assert_eq!(round_trip(&value), value, "{s:?}");
            assert_eq!(round_trip(&json!(s)), json!(s), "root {s:?}");
        }
    }

    /// Numbers, booleans, null, empty and nested collections, long lists.
    #[test]
    fn other_values_read_back_unchanged() {
        let value = json!({
            "numbers": [0, -1, 1.5, 65536, 1e300, 0.1, -2.5e-8, i64::MIN, i64::MAX],
            "flags": [true, false, null],
            "empty": { "map": {}, "list": [], "string": "" },
            "nested": [[1, 2], [{ "a": [{ "b": "c" }] }], { "x": { "y": ["z\nw", "v"] } }, [[]], [{}]],
            "long": (0..30).map(|i| format!("item{i}")).collect::<Vec<_>>(),
        });
        let long_key = Map::from_iter([("k".repeat(MAX_IMPLICIT_KEY + 1), json!({ "v": "k\nv" }))]);
        let value = json!({ "other": value, "long": long_key });
        assert_eq!(round_trip(&value), value);
    }

    #[test]
    fn plain_only_where_unambiguous() {
        assert_eq!(scalar("conversation.read"), "conversation.read");
        assert_eq!(scalar("$ref"), "$ref");
        assert_eq!(scalar("true"), "\"true\"");
        assert_eq!(scalar("Yes"), "\"Yes\"");
        assert_eq!(scalar("1.0.0"), "\"1.0.0\"");
        assert_eq!(scalar("2024-01-01"), "\"2024-01-01\"");
        assert_eq!(scalar("#/x"), "\"#/x\"");
        assert_eq!(scalar("a: b"), "\"a: b\"");
        assert_eq!(scalar("ls\u{2028}"), "\"ls\\u2028\"");
    }

    #[test]
    fn multi_line_text_is_a_literal_block_unless_a_line_ends_in_a_space() {
        assert_eq!(after_key(&json!("a\nb\n"), 0), " |\n  a\n  b");
        assert_eq!(after_key(&json!("a\nb"), 2), " |-\n    a\n    b");
        assert_eq!(after_key(&json!("a \nb"), 0), " \"a \\nb\"");
    }

    #[test]
    fn readable_layout() {
        let value = json!({
            "description": "First line.\n\nSecond paragraph.\n",
            "tags": ["a", "b"],
            "items": [{ "$ref": "#/x", "count": 1 }],
            "empty": {},
        });
        assert_eq!(
            to_string(&value),
            "description: |\n  First line.\n\n  Second paragraph.\ntags: [a, b]\nitems:\n  - $ref: \"#/x\"\n    count: 1\nempty: {}\n"
        );
    }
}
