//! Safe HTML fragments: [`Markup`], and the Markdown subset and JSON
//! highlighting that make them.
//!
//! The page template escapes every value, so anything that must reach the
//! page as HTML (a description's paragraphs and code spans, a sentence with
//! links, a highlighted example) is a [`Markup`]. Its text goes through
//! [`escape`] on the way in, and only the constructors here make one, so the
//! spec's text can never become markup: a `<script>` in a description is
//! shown, not run.

use std::fmt::{self, Write as _};

use serde_json::Value;

/// A fragment of HTML whose every piece of text went through [`escape`].
///
/// askama writes it as is ([`askama::filters::HtmlSafe`]); nothing outside
/// this module can make one, so nothing unescaped reaches the page.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(super) struct Markup(String);

impl fmt::Display for Markup {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl askama::filters::HtmlSafe for Markup {}

impl Markup {
    /// `text`, escaped.
    pub(super) fn text(text: &str) -> Self {
        Markup(escape(text))
    }

    /// `text` in a `<code>` element.
    pub(super) fn code(text: &str) -> Self {
        Markup(format!("<code>{}</code>", escape(text)))
    }

    /// A link to an anchor on this page, its label in `<code>`.
    pub(super) fn link_code(id: &str, label: &str) -> Self {
        Markup(format!(
            "<a href=\"#{}\"><code>{}</code></a>",
            escape(id),
            escape(label)
        ))
    }

    /// A link to an anchor on this page.
    pub(super) fn link(id: &str, label: &str) -> Self {
        Markup(format!("<a href=\"#{}\">{}</a>", escape(id), escape(label)))
    }

    /// Appends escaped text.
    pub(super) fn t(mut self, text: &str) -> Self {
        self.0.push_str(&escape(text));
        self
    }

    /// Appends another fragment.
    pub(super) fn m(mut self, other: Markup) -> Self {
        self.0.push_str(&other.0);
        self
    }

    /// Appends a `<code>` span.
    pub(super) fn c(self, text: &str) -> Self {
        self.m(Markup::code(text))
    }

    /// The fragments joined by `sep` (escaped).
    pub(super) fn join(parts: impl IntoIterator<Item = Markup>, sep: &str) -> Self {
        let mut out = Markup::default();
        for (i, part) in parts.into_iter().enumerate() {
            if i > 0 {
                out = out.t(sep);
            }
            out = out.m(part);
        }
        out
    }

    pub(super) fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

/// `text` with the five HTML-special characters replaced by references.
pub(super) fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// A description as HTML: blank lines separate paragraphs, a block whose
/// every line starts with `- ` or `* ` is a list, and `` `text` `` is code.
/// Everything else is text: HTML in a description is shown, not obeyed.
pub(super) fn markdown(text: &str) -> Markup {
    let mut out = Markup::default();
    let mut block: Vec<&str> = Vec::new();
    for line in text.lines().chain(std::iter::once("")) {
        let line = line.trim();
        if !line.is_empty() {
            block.push(line);
            continue;
        }
        if block.is_empty() {
            continue;
        }
        let items: Option<Vec<&str>> = block
            .iter()
            .map(|l| l.strip_prefix("- ").or_else(|| l.strip_prefix("* ")))
            .collect();
        out.0.push_str(&match items {
            Some(items) => {
                let items: String = items
                    .iter()
                    .map(|item| format!("<li>{}</li>", inline(item)))
                    .collect();
                format!("<ul>{items}</ul>")
            }
            None => format!("<p>{}</p>", inline(&block.join(" "))),
        });
        block.clear();
    }
    out
}

/// One line of Markdown: text with `` `code` `` spans. An unpaired
/// backtick is text.
pub(super) fn inline(text: &str) -> Markup {
    let mut parts: Vec<&str> = text.split('`').collect();
    let mut last = None;
    if parts.len().is_multiple_of(2) {
        // An odd number of backticks: the last one is unpaired.
        last = parts.pop();
    }
    let mut out = Markup::default();
    for (i, part) in parts.iter().enumerate() {
        out = if i % 2 == 1 { out.c(part) } else { out.t(part) };
    }
    if let Some(last) = last {
        out = out.t("`").t(last);
    }
    out
}

/// An optional description as HTML.
pub(super) fn describe(text: Option<&str>) -> Option<Markup> {
    text.map(markdown).filter(|m| !m.is_empty())
}

/// An anchor id: `prefix-name`, with anything but letters, digits and
/// `-_.` replaced by `-`.
pub(super) fn anchor(prefix: &str, name: &str) -> String {
    let name: String = name
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.') {
                c
            } else {
                '-'
            }
        })
        .collect();
    format!("{prefix}-{name}")
}

/// Pretty JSON with its keys, strings, numbers and literals in spans.
pub(super) fn highlight_json(value: &Value) -> Markup {
    let text = serde_json::to_string_pretty(value).unwrap_or_default();
    let mut out = String::new();
    let mut chars = text.char_indices().peekable();
    while let Some((start, c)) = chars.next() {
        match c {
            '"' => {
                let mut end = text.len();
                let mut escaped = false;
                for (i, c) in chars.by_ref() {
                    if escaped {
                        escaped = false;
                    } else if c == '\\' {
                        escaped = true;
                    } else if c == '"' {
                        end = i + 1;
                        break;
                    }
                }
                let rest = text.get(end..).unwrap_or_default();
                let class = if rest.trim_start().starts_with(':') {
                    "k"
                } else {
                    "s"
                };
                let token = text.get(start..end).unwrap_or_default();
                let _ = write!(out, "<span class=\"{class}\">{}</span>", escape(token));
            }
            '-' | '0'..='9' | 't' | 'f' | 'n' => {
                let mut end = start + c.len_utf8();
                while let Some(&(i, c)) = chars.peek() {
                    if c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '+') {
                        end = i + c.len_utf8();
                        chars.next();
                    } else {
                        break;
                    }
                }
                let token = text.get(start..end).unwrap_or_default();
                let class = if c.is_ascii_alphabetic() { "l" } else { "n" };
                let _ = write!(out, "<span class=\"{class}\">{}</span>", escape(token));
            }
            c => out.push_str(&escape(c.encode_utf8(&mut [0; 4]))),
        }
    }
    Markup(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn markdown_subset() {
        assert_eq!(
            markdown("a `b` c\nd\n\n- x\n- `y`\n").0,
            "<p>a <code>b</code> c d</p><ul><li>x</li><li><code>y</code></li></ul>"
        );
        assert_eq!(inline("odd ` tick").0, "odd ` tick");
        assert_eq!(inline("`a` and ` b").0, "<code>a</code> and ` b");
        assert_eq!(markdown("\n\n").0, "");
    }

    #[test]
    fn json_is_highlighted_and_escaped() {
        let html =
            highlight_json(&serde_json::json!({"a<": "</pre>", "n": -1.5, "t": true, "z": null}));
        assert!(
            html.0
                .contains("<span class=\"k\">&quot;a&lt;&quot;</span>")
        );
        assert!(
            html.0
                .contains("<span class=\"s\">&quot;&lt;/pre&gt;&quot;</span>")
        );
        assert!(html.0.contains("<span class=\"n\">-1.5</span>"));
        assert!(html.0.contains("<span class=\"l\">true</span>"));
        assert!(html.0.contains("<span class=\"l\">null</span>"));
    }

    /// The page loads nothing: no attribute or CSS `url()` names a resource
    /// elsewhere, so it looks the same offline and leaks no visit.
    #[test]
    fn anchors_are_safe() {
        assert_eq!(anchor("message", "a b\"<c>"), "message-a-b--c-");
        assert_eq!(anchor("perm", "chat.read"), "perm-chat.read");
    }
}
