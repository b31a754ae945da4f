//! The documentation pages (`generated/*/index.html`) render in Chromium
//! without a console error, a page error or a single request beyond the page
//! itself (they are self-contained), with every section, unique ids and no
//! broken anchor. `js/render-html.mjs` does the looking; this runs it so that
//! `cargo test` covers it and a missing tool fails instead of skipping.

use std::path::PathBuf;

use crate::support::tools::{chromium, node, repo_root, run};

/// Every spec's page, in name order.
fn pages() -> Vec<PathBuf> {
    let generated = repo_root().join("generated");
    let mut pages: Vec<PathBuf> = std::fs::read_dir(&generated)
        .unwrap_or_else(|e| panic!("{}: {e}", generated.display()))
        .map(|entry| entry.unwrap_or_else(|e| panic!("generated/: {e}")).path())
        .map(|dir| dir.join("index.html"))
        .filter(|page| page.is_file())
        .collect();
    pages.sort();
    pages
}

#[test]
fn every_page_renders_in_chromium_and_loads_nothing_else() {
    let pages = pages();
    assert_eq!(pages.len(), 6, "one page per spec: {pages:?}");
    let mut node = node();
    node.env("CHROMIUM", chromium())
        .arg("render-html.mjs")
        .args(&pages);
    let out = run(node);
    for page in &pages {
        assert!(
            out.contains(&format!("ok: {}", page.display())),
            "{} was not checked:\n{out}",
            page.display()
        );
    }
}
