//! The close-code catalogue as the document states it: the table in the
//! description, the `x-wsauth-close-codes` entries, and the note that says
//! which code a failure closes with.

use serde_json::{Map, Value};

use crate::ir::{Api, ClientAction, CloseCode, FailureKind};
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
    for group in groups(api) {
        let kinds: Vec<String> = group
            .kinds
            .iter()
            .map(|k| format!("`{}`", k.word()))
            .collect();
        out.push_str(&format!(
            "| {} | {} | {} | {} |\n",
            group.code,
            group.reason.replace('|', "\\|"),
            group.client.word(),
            kinds.join(", ")
        ));
    }
    out
}

/// The `x-wsauth-close-codes` list: one entry per code and reason.
pub(super) fn entries(api: &Api) -> Value {
    groups(api)
        .iter()
        .map(|g| {
            let mut entry = Map::new();
            entry.insert("code".into(), g.code.into());
            entry.insert("reason".into(), g.reason.into());
            entry.insert("client".into(), g.client.word().into());
            let kinds: Vec<&str> = g.kinds.iter().map(|k| k.word()).collect();
            entry.insert("kinds".into(), kinds.into());
            let description = match g.descriptions.as_slice() {
                [] => None,
                [(_, text)] if g.kinds.len() == 1 => Some((*text).to_owned()),
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

/// Close codes grouped by code and reason, in the order kinds are declared.
struct CloseGroup<'a> {
    code: u16,
    reason: &'a str,
    client: ClientAction,
    kinds: Vec<FailureKind>,
    descriptions: Vec<(FailureKind, &'a str)>,
}

fn groups(api: &Api) -> Vec<CloseGroup<'_>> {
    let mut groups: Vec<CloseGroup<'_>> = Vec::new();
    for c in &api.close_codes {
        let CloseCode {
            kind,
            code,
            reason,
            client,
            description,
            ..
        } = c;
        let at = groups
            .iter()
            .position(|g| g.code == *code && g.reason == reason.as_str());
        let group = match at {
            Some(at) => &mut groups[at],
            None => {
                groups.push(CloseGroup {
                    code: *code,
                    reason,
                    client: *client,
                    kinds: Vec::new(),
                    descriptions: Vec::new(),
                });
                let last = groups.len() - 1;
                &mut groups[last]
            }
        };
        group.kinds.push(*kind);
        if let Some(text) = description {
            group.descriptions.push((*kind, text));
        }
    }
    groups
}
