//! The spec file: its model and how it is read from YAML.

pub mod model;
pub(crate) mod yaml;

use saphyr::{LoadableYamlNode, MarkedYaml};

use crate::diagnostic::{Diagnostic, SourceFile, Span};
use yaml::{Cx, Decode};

/// Reads a spec's YAML into the model, reporting every structural problem
/// (syntax, unknown keys, wrong types, missing keys). Semantic checks are
/// [`crate::validate()`]'s.
///
/// The model comes back even when there were problems, as long as its
/// required parts could be read: parts that failed are left out, so the
/// semantic checks can still run on the rest and report everything at once.
pub fn parse(source: &SourceFile) -> (Option<model::Spec>, Vec<Diagnostic>) {
    let mut cx = Cx::new(source.text());
    let docs = match MarkedYaml::load_from_str(source.text()) {
        Ok(docs) => docs,
        Err(e) => return (None, vec![syntax_error(&cx, &e)]),
    };
    let Some(root) = docs.first() else {
        let d = Diagnostic::new(
            "wsauth::empty_spec",
            Span::default(),
            "the spec file is empty",
        )
        .help("a spec starts with `wsauth: 1`, a `name`, a `version` and `endpoints`");
        return (None, vec![d]);
    };
    if let Some(extra) = docs.get(1) {
        let d = Diagnostic::new(
            "wsauth::several_documents",
            cx.span(extra),
            "a spec file holds one YAML document",
        )
        .help("remove the `---` separator and what follows, or move it into its own file");
        cx.error(d);
    }
    let spec = model::Spec::decode(root, &mut cx);
    (spec, cx.diagnostics)
}

/// The spec's YAML as plain JSON, exactly as written (shorthands kept), for
/// tools that check a file against [`crate::format_schema`].
pub fn to_json(source: &SourceFile) -> Result<serde_json::Value, Vec<Diagnostic>> {
    let mut cx = Cx::new(source.text());
    let docs = MarkedYaml::load_from_str(source.text()).map_err(|e| vec![syntax_error(&cx, &e)])?;
    let value = docs
        .first()
        .and_then(|root| serde_json::Value::decode(root, &mut cx));
    match value {
        Some(v) if cx.diagnostics.is_empty() => Ok(v),
        _ => Err(cx.diagnostics),
    }
}

fn syntax_error(cx: &Cx<'_>, e: &saphyr::ScanError) -> Diagnostic {
    let at = cx.byte(e.marker().index());
    Diagnostic::new(
        "wsauth::yaml_syntax",
        Span::new(at, 0),
        format!("invalid YAML: {}", e.info()),
    )
    .label("here")
}
