//! Every output of a spec calls each close code, message, schema and topic
//! by the same name: the Rust client, the TypeScript client, the AsyncAPI
//! document and the HTML page.
//!
//! The names are read back out of the generated text of every spec under
//! `specs/` (not taken from the IR), so a backend that names something its
//! own way fails here.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use regex::Regex;
use serde_json::Value;

fn specs() -> Vec<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../specs");
    let mut specs: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("specs/: {e}"))
        .map(|entry| entry.unwrap_or_else(|e| panic!("specs/: {e}")).path())
        .filter(|p| p.extension().is_some_and(|e| e == "yaml"))
        .collect();
    specs.sort();
    specs
}

/// The generated files of one spec, by file name.
struct Outputs {
    spec: String,
    rust: String,
    ts: String,
    asyncapi: Value,
    html: String,
}

impl Outputs {
    fn of(spec: &Path) -> Self {
        let api = wsauth_gen::load(spec).unwrap_or_else(|e| panic!("{}: {e}", spec.display()));
        let files = wsauth_gen::generate::build(&api).unwrap_or_else(|e| panic!("{e}"));
        let file = |name: &str| {
            files
                .iter()
                .find(|f| f.path.file_name().is_some_and(|n| n == name))
                .map(|f| f.contents.clone())
                .unwrap_or_else(|| panic!("{}: no {name}", api.name))
        };
        Outputs {
            rust: file("client.rs"),
            ts: file(&format!("{}.ts", api.name)),
            asyncapi: serde_json::from_str(&file("asyncapi.json"))
                .unwrap_or_else(|e| panic!("{}: asyncapi.json: {e}", api.name)),
            html: file("index.html"),
            spec: api.name,
        }
    }
}

fn captures(re: &str, text: &str) -> Vec<(String, String)> {
    let re = Regex::new(re).unwrap_or_else(|e| panic!("{e}"));
    re.captures_iter(text)
        .map(|c| (c[1].to_owned(), c[2].to_owned()))
        .collect()
}

/// Code → name, failing on a code named twice.
fn by_code(what: &str, spec: &str, pairs: Vec<(String, String)>) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    for (code, name) in pairs {
        if let Some(other) = out.insert(code.clone(), name.clone()) {
            assert_eq!(other, name, "{spec}: the {what} names code {code} twice");
        }
    }
    out
}

/// The items declared at the top of `pub mod <module>` in the Rust client.
fn rust_module_items(rust: &str, module: &str) -> BTreeSet<String> {
    let start = rust
        .find(&format!("\npub mod {module} {{"))
        .unwrap_or_else(|| panic!("no `mod {module}`"));
    let body = &rust[start..];
    let end = body.find("\n}\n").unwrap_or(body.len());
    captures(r"(?m)^    pub (struct|enum|type) (\w+)", &body[..end])
        .into_iter()
        .map(|(_, name)| name)
        .collect()
}

#[test]
fn close_codes_have_one_name_in_every_output() {
    for spec in specs() {
        let out = Outputs::of(&spec);
        let s = &out.spec;
        let rust = by_code(
            "Rust client",
            s,
            captures(r"(?m)^\s+CloseCode::(\w+) => (\d+),$", &out.rust)
                .into_iter()
                .map(|(name, code)| (code, name))
                .collect(),
        );
        let ts_catalogue = out
            .ts
            .split("export const CloseCode = {")
            .nth(1)
            .and_then(|rest| rest.split("} as const;").next())
            .unwrap_or_else(|| panic!("{s}: no `CloseCode` in the TypeScript client"));
        let ts = by_code(
            "TypeScript client",
            s,
            captures(r"(?m)^  (\w+): (\d+),$", ts_catalogue)
                .into_iter()
                .map(|(name, code)| (code, name))
                .collect(),
        );
        let entries = out.asyncapi["x-wsauth-close-codes"]
            .as_array()
            .unwrap_or_else(|| panic!("{s}: no `x-wsauth-close-codes`"));
        let asyncapi = by_code(
            "AsyncAPI document",
            s,
            entries
                .iter()
                .map(|e| {
                    (
                        e["code"].to_string(),
                        e["name"].as_str().unwrap_or("").to_owned(),
                    )
                })
                .collect(),
        );
        let html = by_code(
            "HTML page",
            s,
            captures(
                r#"<strong>(\d+)</strong><code class="code-name">(\w+)</code>"#,
                &out.html,
            ),
        );
        assert!(!rust.is_empty(), "{s}: no close codes found");
        assert_eq!(rust, ts, "{s}: Rust and TypeScript close codes");
        assert_eq!(rust, asyncapi, "{s}: Rust and AsyncAPI close codes");
        assert_eq!(rust, html, "{s}: Rust and HTML close codes");
    }
}

#[test]
fn messages_have_one_name_in_every_output() {
    let mut seen = 0;
    for spec in specs() {
        let out = Outputs::of(&spec);
        let s = &out.spec;
        // TypeScript: each message interface opens with its `type`.
        let ts: BTreeMap<String, String> = captures(
            r#"export interface (\w+)Message (?:extends \w+ )?\{\n  /\*\* The message type on the wire\. \*/\n  type: "([^"]+)";"#,
            &out.ts,
        )
        .into_iter()
        .map(|(stem, wire)| (wire, stem))
        .collect();
        // Rust: every enum variant carries the wire name it renames.
        let rust: BTreeMap<String, String> = captures(
            r#"#\[serde\(rename = "([^"]+)"\)\]\s+(\w+)\(super::super::messages::\w+\)"#,
            &out.rust,
        )
        .into_iter()
        .collect();
        let rust_types = rust_module_items(&out.rust, "messages");
        let asyncapi: BTreeSet<String> = out.asyncapi["components"]["messages"]
            .as_object()
            .map(|m| {
                m.keys()
                    .filter(|k| !k.starts_with("wsauth."))
                    .cloned()
                    .collect()
            })
            .unwrap_or_default();
        let html: BTreeSet<String> = captures(r#"(id)="message-([^"]+)""#, &out.html)
            .into_iter()
            .map(|(_, wire)| wire)
            .filter(|w| !w.starts_with("wsauth."))
            .collect();
        let ts_wire: BTreeSet<String> = ts.keys().cloned().collect();
        seen += ts.len();
        assert_eq!(ts_wire, asyncapi, "{s}: TypeScript and AsyncAPI messages");
        assert_eq!(ts_wire, html, "{s}: TypeScript and HTML messages");
        for (wire, stem) in &ts {
            assert!(
                rust_types.contains(stem),
                "{s}: message `{wire}` is `{stem}Message` in TypeScript but the Rust client has no `messages::{stem}`"
            );
            if let Some(variant) = rust.get(wire) {
                assert_eq!(variant, stem, "{s}: message `{wire}`");
            }
        }
        for (wire, variant) in &rust {
            assert_eq!(
                ts.get(wire),
                Some(variant),
                "{s}: message `{wire}` is `{variant}` in Rust"
            );
        }
    }
    assert!(seen > 0, "no messages found in any spec");
}

#[test]
fn schemas_have_one_name_in_every_output() {
    let mut seen = 0;
    for spec in specs() {
        let out = Outputs::of(&spec);
        let s = &out.spec;
        let asyncapi: BTreeSet<String> = out.asyncapi["components"]["schemas"]
            .as_object()
            .map(|m| m.keys().cloned().collect())
            .unwrap_or_default();
        let html: BTreeSet<String> = captures(r#"(id)="schema-([^"]+)""#, &out.html)
            .into_iter()
            .map(|(_, name)| name)
            .collect();
        assert_eq!(asyncapi, html, "{s}: AsyncAPI and HTML schemas");
        let rust = rust_module_items(&out.rust, "schemas");
        let ts: BTreeSet<String> = captures(r"(?m)^export (interface|type) (\w+)", &out.ts)
            .into_iter()
            .map(|(_, name)| name)
            .collect();
        seen += asyncapi.len();
        for name in &asyncapi {
            assert!(
                rust.contains(name),
                "{s}: no `schemas::{name}` in the Rust client"
            );
            assert!(
                ts.contains(name),
                "{s}: no `{name}` in the TypeScript client"
            );
        }
    }
    assert!(seen > 0, "no schemas found in any spec");
}

/// Topics are named by the spec alone (the clients do not subscribe yet):
/// the AsyncAPI document's `topic.<name>` channels and the HTML page's
/// topic cards list the same topics, and each endpoint lists the same ones
/// in both.
#[test]
fn topics_have_one_name_in_every_output() {
    let mut seen = 0;
    for spec in specs() {
        let out = Outputs::of(&spec);
        let s = &out.spec;
        let channels = out.asyncapi["channels"]
            .as_object()
            .cloned()
            .unwrap_or_default();
        let asyncapi: BTreeSet<String> = channels
            .keys()
            .filter_map(|k| k.strip_prefix("topic."))
            .map(str::to_owned)
            .collect();
        let html: BTreeSet<String> = captures(r#"(id)="topic-([^"]+)""#, &out.html)
            .into_iter()
            .map(|(_, name)| name)
            .collect();
        assert_eq!(asyncapi, html, "{s}: AsyncAPI and HTML topics");
        for (name, channel) in channels.iter().filter(|(k, _)| !k.starts_with("topic.")) {
            let listed: Vec<String> = channel["x-wsauth-topics"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(|t| t.as_str().map(str::to_owned))
                .collect();
            let card = out
                .html
                .split(&format!("id=\"endpoint-{name}\""))
                .nth(1)
                .and_then(|rest| rest.split("</article>").next())
                .unwrap_or_else(|| panic!("{s}: no card for endpoint `{name}`"));
            let linked: Vec<String> = captures(r##"(href)="#topic-([^"]+)""##, card)
                .into_iter()
                .map(|(_, topic)| topic)
                .collect();
            assert_eq!(listed, linked, "{s}: the topics of endpoint `{name}`");
        }
        seen += asyncapi.len();
    }
    assert!(seen >= 1, "no spec has a topic");
}
