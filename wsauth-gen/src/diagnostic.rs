//! Problems found in a spec, with the place they were found and what would be right.
//!
//! # Motivation
//!
//! A spec is written by hand and read by a machine; when the two disagree the
//! writer needs every disagreement at once, each pointing at the exact token,
//! each saying what would have been accepted. So nothing in this crate stops
//! at the first problem: decoding and validation push [`Diagnostic`]s into a
//! list and carry on, and the list is rendered as a whole ([`SpecErrors`]).
//!
//! Positions are byte spans into the spec's source text. Rendering (source
//! snippets, `file:line:column`) is miette's job; line and column numbers for
//! other consumers (the proc-macro's help lines) come from [`SourceFile::line_col`].

use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use miette::{GraphicalReportHandler, GraphicalTheme, LabeledSpan, NamedSource, SourceSpan};

/// A byte range in a spec's source text.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct Span {
    /// Byte offset of the first byte.
    pub offset: usize,
    /// Length in bytes.
    pub len: usize,
}

impl Span {
    /// A span from `offset`, `len` bytes long.
    pub fn new(offset: usize, len: usize) -> Self {
        Span { offset, len }
    }
}

impl From<Span> for SourceSpan {
    fn from(span: Span) -> Self {
        SourceSpan::new(span.offset.into(), span.len)
    }
}

/// The text of one spec file and the name it is reported under.
#[derive(Clone, Debug)]
pub struct SourceFile {
    name: PathBuf,
    text: Arc<str>,
}

impl SourceFile {
    /// Wraps `text`, reported as `name` (usually the path as the user gave it).
    pub fn new(name: impl Into<PathBuf>, text: impl Into<Arc<str>>) -> Self {
        SourceFile {
            name: name.into(),
            text: text.into(),
        }
    }

    /// The name diagnostics use for this file.
    pub fn name(&self) -> &Path {
        &self.name
    }

    /// The whole source text.
    pub fn text(&self) -> &str {
        &self.text
    }

    /// The 1-based line and column (in characters) of a byte offset.
    pub fn line_col(&self, offset: usize) -> (usize, usize) {
        let mut end = offset.min(self.text.len());
        while !self.text.is_char_boundary(end) {
            end -= 1;
        }
        let before = &self.text[..end];
        let line = before.matches('\n').count() + 1;
        let line_start = before.rfind('\n').map_or(0, |i| i + 1);
        (line, before[line_start..].chars().count() + 1)
    }

    /// `file:line:column` of a span's start, as compilers print it.
    pub fn location(&self, span: Span) -> String {
        let (line, column) = self.line_col(span.offset);
        format!("{}:{line}:{column}", self.name.display())
    }
}

/// One problem in a spec.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Diagnostic {
    /// Stable identifier of the kind of problem, e.g. `wsauth::unknown_permission`.
    pub code: &'static str,
    /// What is wrong, lower-case, names in backticks.
    pub message: String,
    /// Where it is wrong; the first label is the primary one.
    pub labels: Vec<Label>,
    /// What would be right, when that can be said.
    pub help: Option<String>,
}

/// A span with a short note, drawn under the source line.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Label {
    /// The marked bytes.
    pub span: Span,
    /// The note; empty for a bare underline.
    pub text: String,
}

impl Diagnostic {
    /// A problem of kind `code` at `span`.
    pub fn new(code: &'static str, span: Span, message: impl Into<String>) -> Self {
        Diagnostic {
            code,
            message: message.into(),
            labels: vec![Label {
                span,
                text: String::new(),
            }],
            help: None,
        }
    }

    /// Sets the note under the primary span.
    pub fn label(mut self, text: impl Into<String>) -> Self {
        self.labels[0].text = text.into();
        self
    }

    /// Adds a secondary span, e.g. the other half of a conflict.
    pub fn also(mut self, span: Span, text: impl Into<String>) -> Self {
        self.labels.push(Label {
            span,
            text: text.into(),
        });
        self
    }

    /// Says what would be right.
    pub fn help(mut self, help: impl Into<String>) -> Self {
        self.help = Some(help.into());
        self
    }

    /// Adds a `did you mean` help when `wrong` is close to one of `candidates`.
    pub fn suggest<'a>(self, wrong: &str, candidates: impl IntoIterator<Item = &'a str>) -> Self {
        match crate::suggest::closest(wrong, candidates) {
            Some(best) => self.help(format!("did you mean `{best}`?")),
            None => self,
        }
    }

    /// Says what would be right, unless a help (such as a "did you mean")
    /// is already set.
    pub fn help_if_none(self, help: impl Into<String>) -> Self {
        if self.help.is_some() {
            self
        } else {
            self.help(help)
        }
    }

    /// The primary span.
    pub fn span(&self) -> Span {
        self.labels[0].span
    }
}

/// Every problem found in one spec file: the error type of [`crate::load`].
#[derive(Debug, thiserror::Error)]
pub struct SpecErrors {
    /// The file the problems are in.
    pub file: SourceFile,
    /// The problems, in the order they were found.
    pub diagnostics: Vec<Diagnostic>,
}

impl SpecErrors {
    /// Renders every problem with source snippets, without colour, as a
    /// terminal would show them (this is what the golden files hold).
    pub fn render_plain(&self) -> String {
        self.render(GraphicalTheme::unicode_nocolor())
    }

    /// Renders with the given miette theme.
    pub fn render(&self, theme: GraphicalTheme) -> String {
        let handler = GraphicalReportHandler::new_themed(theme)
            .with_width(100)
            .with_links(false);
        let named = Arc::new(NamedSource::new(
            self.file.name().display().to_string(),
            self.file.text().to_owned(),
        ));
        let mut out = String::new();
        for diagnostic in &self.diagnostics {
            let report = Rendered {
                diagnostic,
                source: Arc::clone(&named),
            };
            // Writing into a String cannot fail.
            let _ = handler.render_report(&mut out, &report);
        }
        let count = self.diagnostics.len();
        let noun = if count == 1 { "problem" } else { "problems" };
        out.push_str(&format!(
            "{count} {noun} in {}\n",
            self.file.name().display()
        ));
        out
    }
}

impl fmt::Display for SpecErrors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let count = self.diagnostics.len();
        write!(
            f,
            "{} has {count} {}",
            self.file.name().display(),
            if count == 1 { "problem" } else { "problems" }
        )?;
        for d in &self.diagnostics {
            write!(f, "\n{}: {}", self.file.location(d.span()), d.message)?;
        }
        Ok(())
    }
}

/// A [`Diagnostic`] paired with its source, in the shape miette renders.
struct Rendered<'a> {
    diagnostic: &'a Diagnostic,
    source: Arc<NamedSource<String>>,
}

impl fmt::Debug for Rendered<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self.diagnostic, f)
    }
}

impl fmt::Display for Rendered<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.diagnostic.message)
    }
}

impl std::error::Error for Rendered<'_> {}

impl miette::Diagnostic for Rendered<'_> {
    fn code<'b>(&'b self) -> Option<Box<dyn fmt::Display + 'b>> {
        Some(Box::new(self.diagnostic.code))
    }

    fn help<'b>(&'b self) -> Option<Box<dyn fmt::Display + 'b>> {
        self.diagnostic
            .help
            .as_ref()
            .map(|h| Box::new(h) as Box<dyn fmt::Display>)
    }

    fn source_code(&self) -> Option<&dyn miette::SourceCode> {
        Some(&*self.source)
    }

    fn labels(&self) -> Option<Box<dyn Iterator<Item = LabeledSpan> + '_>> {
        Some(Box::new(self.diagnostic.labels.iter().enumerate().map(
            |(i, label)| {
                let text = (!label.text.is_empty()).then(|| label.text.clone());
                if i == 0 {
                    LabeledSpan::new_primary_with_span(text, label.span)
                } else {
                    LabeledSpan::new_with_span(text, label.span)
                }
            },
        )))
    }
}
