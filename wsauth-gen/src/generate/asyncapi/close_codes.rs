//! The close-code catalogue as the document states it: the table in the
//! description, the `x-wsauth-close-codes` entries, and the note that says
//! which code a failure closes with. The grouping by code and the code's
//! name come from the IR ([`Api::close_catalogue`]), as in every output.

use serde_json::{Map, Value};

use crate::ir::{Api, ClientAction, FailureKind};
use crate::spec::model::Keyword;

/// ` with 4001 (`token_expired`)`, or nothing for a kind without a code.
pub(super) fn note(api: &Api, kind: FailureKind) -> String {
    api.close_code(kind)
        .map(|c| format!(" with {} (`{}`)", c.code, kind.word()))
        .unwrap_or_default()
}

/// The Markdown table of the description: one row per code and reason.
pub(super) fn table(api: &Api) -> String {
    let mut out = String::from("| code | reason | client | failure kinds |\n|---|---|---|---|\n");
    for row in rows(api) {
        let kinds: Vec<String> = row
            .kinds
            .iter()
            .map(|k| format!("`{}`", k.word()))
            .collect();
        out.push_str(&format!(
            "| {} | {} | {} | {} |\n",
            row.code,
            row.reason.replace('|', "\\|"),
            row.client.word(),
            kinds.join(", ")
        ));
    }
    out
}

/// The `x-wsauth-close-codes` list: one entry per code and reason, with
/// the name every generated client gives the code.
pub(super) fn entries(api: &Api) -> Value {
    rows(api)
        .iter()
        .map(|row| {
            let mut entry = Map::new();
            entry.insert("code".into(), row.code.into());
            entry.insert("name".into(), row.name.into());
            entry.insert("reason".into(), row.reason.into());
            entry.insert("client".into(), row.client.word().into());
            let kinds: Vec<&str> = row.kinds.iter().map(|k| k.word()).collect();
            entry.insert("kinds".into(), kinds.into());
            let description = match row.descriptions.as_slice() {
                [] => None,
                [(_, text)] if row.kinds.len() == 1 => Some((*text).to_owned()),
                many => Some(
                    many.iter()
                        .map(|(k, text)| format!("`{}`: {}", k.word(), text))
                        .collect::<Vec<_>>()
                        .join(" "),
                ),
            };
            if let Some(text) = description {
                entry.insert("description".into(), text.into());
            }
            Value::Object(entry)
        })
        .collect()
}

/// One row of the close-code tables: a catalogue entry's code and name
/// with one of its reasons.
struct Row<'a> {
    code: u16,
    name: &'a str,
    reason: &'a str,
    client: ClientAction,
    kinds: &'a [FailureKind],
    /// The kinds' own descriptions, for those that have one.
    descriptions: Vec<(FailureKind, &'a str)>,
}

/// The rows of [`Api::close_catalogue`], one per code and reason, in the
/// order their first kind is declared (the catalogue keeps a code's
/// reasons together; the tables list failures as the spec does).
fn rows(api: &Api) -> Vec<Row<'_>> {
    let mut rows: Vec<Row<'_>> = api
        .close_catalogue
        .iter()
        .flat_map(|group| {
            group.reasons.iter().map(move |reason| Row {
                code: group.code,
                name: &group.name,
                reason: &reason.text,
                client: group.client,
                kinds: &reason.kinds,
                descriptions: reason
                    .kinds
                    .iter()
                    .filter_map(|&kind| {
                        let text = api.close_code(kind)?.description.as_deref()?;
                        Some((kind, text))
                    })
                    .collect(),
            })
        })
        .collect();
    let declared = |kind: Option<&FailureKind>| {
        kind.and_then(|k| api.close_codes.iter().position(|c| c.kind == *k))
    };
    rows.sort_by_key(|row| declared(row.kinds.first()));
    rows
}
