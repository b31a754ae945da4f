//! Reading YAML into the spec model while keeping every position.
//!
//! # Motivation
//!
//! serde stops at the first problem and forgets where values came from, and
//! a spec author needs every problem at once, each with its line and column.
//! So the model is read from saphyr's [`MarkedYaml`] tree by hand: each model
//! type implements [`Decode`], maps are read through [`Fields`] (which notices
//! unknown keys and suggests the key that was meant), and every problem is
//! pushed into [`Cx`] while reading goes on.
//!
//! A value that cannot be read becomes `None` and its problem is recorded;
//! the caller treats `None` as "absent" for optional fields and gives up on
//! the enclosing item only for required ones. That keeps one typo from
//! turning into a cascade of unrelated errors.

use indexmap::IndexMap;
use saphyr::{MarkedYaml, Scalar, YamlData};

use super::model::Spanned;
use crate::diagnostic::{Diagnostic, Span};
use wsauth_spec::Keyword;

/// A node of the YAML tree being read.
pub(crate) type Node<'a> = MarkedYaml<'a>;

/// The reading context: the source (for byte offsets) and the problems so far.
pub(crate) struct Cx<'s> {
    /// Byte offset of each character, plus one past the end: saphyr counts
    /// positions in characters, miette in bytes.
    char_to_byte: Vec<usize>,
    /// The source text, to quote it back in messages.
    text: &'s str,
    /// The key whose value is being read, for "missing field" problems.
    owner: Span,
    /// The problems found so far.
    pub(crate) diagnostics: Vec<Diagnostic>,
}

impl<'s> Cx<'s> {
    pub(crate) fn new(text: &'s str) -> Self {
        let mut char_to_byte: Vec<usize> = text.char_indices().map(|(i, _)| i).collect();
        char_to_byte.push(text.len());
        Cx {
            char_to_byte,
            text,
            owner: Span::default(),
            diagnostics: Vec::new(),
        }
    }

    /// Byte offset of a character index.
    pub(crate) fn byte(&self, char_index: usize) -> usize {
        self.char_to_byte
            .get(char_index)
            .copied()
            .unwrap_or(self.text.len())
    }

    /// The byte span of a node. Block collections end where the next key
    /// starts, so their span is trimmed of trailing whitespace.
    pub(crate) fn span(&self, node: &Node<'_>) -> Span {
        let start = self.byte(node.span.start.index());
        let end = self.byte(node.span.end.index()).max(start);
        let trimmed = self.text[start..end].trim_end();
        Span::new(start, trimmed.len())
    }

    pub(crate) fn error(&mut self, diagnostic: Diagnostic) {
        self.diagnostics.push(diagnostic);
    }

    /// Records that `node` is not the kind of value `expected` describes.
    pub(crate) fn expected(&mut self, node: &Node<'_>, expected: &str) {
        let found = describe(node);
        let mut d = Diagnostic::new(
            "wsauth::wrong_type",
            self.span(node),
            format!("expected {expected}, found {found}"),
        );
        if expected.contains("string") && found.starts_with("a number") {
            let text = &self.text[self.span(node).offset..][..self.span(node).len];
            d = d.help(format!("quote it to make it a string: \"{text}\""));
        }
        self.error(d);
    }
}

/// What a node is, for "expected X, found Y" messages.
fn describe(node: &Node<'_>) -> &'static str {
    match &node.data {
        YamlData::Mapping(_) => "a mapping",
        YamlData::Sequence(_) => "a list",
        YamlData::Value(Scalar::Null) => "nothing (null)",
        YamlData::Value(Scalar::Boolean(_)) => "a boolean",
        YamlData::Value(Scalar::Integer(_) | Scalar::FloatingPoint(_)) => "a number",
        YamlData::Value(Scalar::String(_)) => "a string",
        YamlData::Tagged(..) => "a tagged value",
        _ => "an unreadable value",
    }
}

/// A model type that can be read from a YAML node.
pub(crate) trait Decode: Sized {
    /// Reads `node`, recording problems in `cx`; `None` when it cannot be read.
    fn decode(node: &Node<'_>, cx: &mut Cx<'_>) -> Option<Self>;
}

/// The string in a scalar node, if it is one.
pub(crate) fn as_str<'n>(node: &'n Node<'_>) -> Option<&'n str> {
    match &node.data {
        YamlData::Value(Scalar::String(s)) => Some(s),
        _ => None,
    }
}

impl Decode for String {
    fn decode(node: &Node<'_>, cx: &mut Cx<'_>) -> Option<Self> {
        match as_str(node) {
            Some(s) => Some(s.to_owned()),
            None => {
                cx.expected(node, "a string");
                None
            }
        }
    }
}

impl Decode for bool {
    fn decode(node: &Node<'_>, cx: &mut Cx<'_>) -> Option<Self> {
        match &node.data {
            YamlData::Value(Scalar::Boolean(b)) => Some(*b),
            _ => {
                cx.expected(node, "`true` or `false`");
                None
            }
        }
    }
}

impl Decode for f64 {
    fn decode(node: &Node<'_>, cx: &mut Cx<'_>) -> Option<Self> {
        match &node.data {
            YamlData::Value(Scalar::FloatingPoint(f)) => Some(f.into_inner()),
            // Integers in specs are small; the conversion is exact.
            #[allow(clippy::cast_precision_loss)]
            YamlData::Value(Scalar::Integer(i)) => Some(*i as f64),
            _ => {
                cx.expected(node, "a number");
                None
            }
        }
    }
}

macro_rules! decode_unsigned {
    ($($t:ty),*) => {$(
        impl Decode for $t {
            fn decode(node: &Node<'_>, cx: &mut Cx<'_>) -> Option<Self> {
                let expected = concat!("a whole number from 0 to ", stringify!($t), "::MAX");
                match &node.data {
                    YamlData::Value(Scalar::Integer(i)) => match <$t>::try_from(*i) {
                        Ok(v) => Some(v),
                        Err(_) => {
                            let d = Diagnostic::new(
                                "wsauth::out_of_range",
                                cx.span(node),
                                format!("{i} is out of range"),
                            )
                            .help(format!("use a whole number from 0 to {}", <$t>::MAX));
                            cx.error(d);
                            None
                        }
                    },
                    _ => {
                        cx.expected(node, expected);
                        None
                    }
                }
            }
        }
    )*};
}
decode_unsigned!(u16, u32, u64);

impl Decode for serde_json::Value {
    fn decode(node: &Node<'_>, cx: &mut Cx<'_>) -> Option<Self> {
        use serde_json::Value;
        Some(match &node.data {
            YamlData::Value(Scalar::Null) => Value::Null,
            YamlData::Value(Scalar::Boolean(b)) => Value::Bool(*b),
            YamlData::Value(Scalar::Integer(i)) => Value::from(*i),
            YamlData::Value(Scalar::FloatingPoint(f)) => {
                match serde_json::Number::from_f64(f.into_inner()) {
                    Some(n) => Value::Number(n),
                    None => {
                        cx.expected(node, "a finite number");
                        return None;
                    }
                }
            }
            YamlData::Value(Scalar::String(s)) => Value::String(s.to_string()),
            YamlData::Sequence(items) => Value::Array(
                items
                    .iter()
                    .map(|i| Value::decode(i, cx))
                    .collect::<Option<_>>()?,
            ),
            YamlData::Mapping(entries) => {
                let mut object = serde_json::Map::new();
                for (k, v) in entries {
                    let key = String::decode(k, cx)?;
                    object.insert(key, Value::decode(v, cx)?);
                }
                Value::Object(object)
            }
            _ => {
                cx.expected(node, "a plain YAML value");
                return None;
            }
        })
    }
}

impl<T: Decode> Decode for Spanned<T> {
    fn decode(node: &Node<'_>, cx: &mut Cx<'_>) -> Option<Self> {
        let span = cx.span(node);
        T::decode(node, cx).map(|value| Spanned { value, span })
    }
}

impl<T: Decode> Decode for Box<T> {
    fn decode(node: &Node<'_>, cx: &mut Cx<'_>) -> Option<Self> {
        T::decode(node, cx).map(Box::new)
    }
}

/// A list. Items that cannot be read are dropped (their problems recorded).
impl<T: Decode> Decode for Vec<T> {
    fn decode(node: &Node<'_>, cx: &mut Cx<'_>) -> Option<Self> {
        match &node.data {
            YamlData::Sequence(items) => {
                Some(items.iter().filter_map(|i| T::decode(i, cx)).collect())
            }
            _ => {
                cx.expected(node, "a list");
                None
            }
        }
    }
}

/// A list that may be written as its single item.
pub(crate) fn one_or_many<T: Decode>(node: &Node<'_>, cx: &mut Cx<'_>) -> Option<Vec<T>> {
    match &node.data {
        YamlData::Sequence(_) => Vec::decode(node, cx),
        _ => T::decode(node, cx).map(|one| vec![one]),
    }
}

/// A mapping from names to items, in the order written. Items that cannot be
/// read are dropped (their problems recorded); their names are not checked
/// here, since what makes a name valid depends on what it names.
impl<T: Decode> Decode for IndexMap<Spanned<String>, T> {
    fn decode(node: &Node<'_>, cx: &mut Cx<'_>) -> Option<Self> {
        let YamlData::Mapping(entries) = &node.data else {
            cx.expected(node, "a mapping of names to items");
            return None;
        };
        let mut out = IndexMap::new();
        for (k, v) in entries {
            let Some(key) = Spanned::<String>::decode(k, cx) else {
                continue;
            };
            let outer = std::mem::replace(&mut cx.owner, key.span);
            let value = T::decode(v, cx);
            cx.owner = outer;
            if let Some(value) = value {
                out.insert(key, value);
            }
        }
        Some(out)
    }
}

/// The keys of one YAML mapping, read one by one; keys never asked for are
/// reported as unknown by [`Fields::finish`].
pub(crate) struct Fields<'n, 'a> {
    entries: Vec<(&'n Node<'a>, &'n Node<'a>, bool)>,
    known: Vec<&'static str>,
    what: &'static str,
    owner: Span,
}

impl<'n, 'a> Fields<'n, 'a> {
    /// Starts reading `node` as a mapping describing `what` (e.g. "an endpoint").
    pub(crate) fn new(node: &'n Node<'a>, cx: &mut Cx<'_>, what: &'static str) -> Option<Self> {
        let YamlData::Mapping(entries) = &node.data else {
            cx.expected(node, &format!("{what} (a mapping)"));
            return None;
        };
        Some(Fields {
            entries: entries.iter().map(|(k, v)| (k, v, false)).collect(),
            known: Vec::new(),
            what,
            owner: cx.owner,
        })
    }

    /// Takes the value under `key`, if present, marking the key as known.
    pub(crate) fn take(&mut self, key: &'static str) -> Option<(&'n Node<'a>, &'n Node<'a>)> {
        self.known.push(key);
        self.entries
            .iter_mut()
            .find(|(k, _, _)| as_str(k) == Some(key))
            .map(|(k, v, used)| {
                *used = true;
                (*k, *v)
            })
    }

    /// Reads an optional key with `read`.
    pub(crate) fn opt_with<T>(
        &mut self,
        cx: &mut Cx<'_>,
        key: &'static str,
        read: impl FnOnce(&Node<'_>, &mut Cx<'_>) -> Option<T>,
    ) -> Option<T> {
        let (k, v) = self.take(key)?;
        let key_span = cx.span(k);
        let outer = std::mem::replace(&mut cx.owner, key_span);
        let value = read(v, cx);
        cx.owner = outer;
        value
    }

    /// Reads an optional key.
    pub(crate) fn opt<T: Decode>(&mut self, cx: &mut Cx<'_>, key: &'static str) -> Option<T> {
        self.opt_with(cx, key, T::decode)
    }

    /// Reads a required key, reporting it when missing.
    pub(crate) fn req<T: Decode>(&mut self, cx: &mut Cx<'_>, key: &'static str) -> Option<T> {
        if !self.entries.iter().any(|(k, _, _)| as_str(k) == Some(key)) {
            self.known.push(key);
            let d = Diagnostic::new(
                "wsauth::missing_key",
                self.owner,
                format!("missing `{key}` in {}", self.what),
            )
            .label(format!("`{key}` is required here"));
            cx.error(d);
            return None;
        }
        self.opt(cx, key)
    }

    /// Reports every key that was never asked for, suggesting the one meant.
    pub(crate) fn finish(self, cx: &mut Cx<'_>) {
        for (k, _, used) in &self.entries {
            if *used {
                continue;
            }
            let name = as_str(k).unwrap_or("?");
            let mut d = Diagnostic::new(
                "wsauth::unknown_key",
                cx.span(k),
                format!("unknown key `{name}` in {}", self.what),
            );
            d = match crate::suggest::closest(name, self.known.iter().copied()) {
                // Prose where a key should be: a `,` inside `{ ... }` ended
                // the previous value early.
                _ if name.contains(' ') => d.help(
                    "inside `{ ... }` a comma separates entries: quote a value that \
                     contains a comma, e.g. `description: \"one, two\"`",
                ),
                Some(best) => d.help(format!("did you mean `{best}`?")),
                None => d.help(format!(
                    "expected one of {}",
                    self.known
                        .iter()
                        .map(|k| format!("`{k}`"))
                        .collect::<Vec<_>>()
                        .join(", ")
                )),
            };
            cx.error(d);
        }
    }
}

/// Reads a [`Keyword`], suggesting the closest word for a typo.
pub(crate) fn keyword<T: Keyword>(node: &Node<'_>, cx: &mut Cx<'_>) -> Option<T> {
    let Some(word) = as_str(node) else {
        cx.expected(node, &format!("a {} word", T::WHAT));
        return None;
    };
    if let Some((_, value)) = T::ALL.iter().find(|(w, _)| *w == word) {
        return Some(*value);
    }
    let words = T::ALL.iter().map(|(w, _)| *w);
    let d = Diagnostic::new(
        "wsauth::unknown_word",
        cx.span(node),
        format!("unknown {} `{word}`", T::WHAT),
    );
    let d = match crate::suggest::closest(word, words.clone()) {
        Some(best) => d.help(format!("did you mean `{best}`?")),
        None => d.help(format!(
            "expected one of {}",
            words
                .map(|w| format!("`{w}`"))
                .collect::<Vec<_>>()
                .join(", ")
        )),
    };
    cx.error(d);
    None
}

/// Implements [`Decode`] for [`Keyword`] types.
macro_rules! decode_keywords {
    ($($t:ty),* $(,)?) => {$(
        impl $crate::spec::yaml::Decode for $t {
            fn decode(
                node: &$crate::spec::yaml::Node<'_>,
                cx: &mut $crate::spec::yaml::Cx<'_>,
            ) -> Option<Self> {
                $crate::spec::yaml::keyword(node, cx)
            }
        }
    )*};
}
pub(crate) use decode_keywords;
