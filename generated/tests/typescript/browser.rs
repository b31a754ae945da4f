//! The generated TypeScript client in headless Chromium: a page served by the
//! prsm server itself (so its origin is the one prsm allows) loads the
//! compiled `generated/prsm/prsm.ts` with `js/tests/browser_page.ts`, and
//! `js/tests/browser.ts` drives it with playwright-core and Debian's Chromium:
//! connect with a token (subprotocol, then query), receive the welcome, send a
//! message and read the streamed answer, open bob's conversation and see the
//! client stop with a typed 4003 error; the console must stay free of errors.

use axum::Router;
use axum::http::header::CONTENT_TYPE;
use axum::routing::get;

use crate::support::SECRET;
use crate::support::examples::start_prsm;
use crate::support::tools::{chromium, compile_typescript, js_dir, node, run_blocking};

/// The test page: an ES module that installs `wsauthBrowserScenario`.
const PAGE: &str = r#"<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>wsauth generated client</title>
<link rel="icon" href="data:,">
<script type="module" src="/__test/js/tests/browser_page.js"></script>
</head>
<body><p>wsauth browser test</p></body>
</html>
"#;

/// Serves `js/out/<path>` at `/__test/<path>` as JavaScript.
fn script(router: Router, path: &'static str) -> Router {
    let file = js_dir().join("out").join(path);
    let text = std::fs::read_to_string(&file).unwrap_or_else(|e| panic!("{}: {e}", file.display()));
    router.route(
        &format!("/__test/{path}"),
        get(move || async move { ([(CONTENT_TYPE, "text/javascript; charset=utf-8")], text) }),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn generated_client_in_chromium() {
    let chromium = chromium();
    compile_typescript();
    let mut page = Router::new().route(
        "/__test/index.html",
        get(|| async { ([(CONTENT_TYPE, "text/html; charset=utf-8")], PAGE) }),
    );
    for path in [
        "js/tests/browser_page.js",
        "js/tests/support.js",
        "generated/prsm/prsm.js",
    ] {
        page = script(page, path);
    }
    let prsm = start_prsm(|config| config, page).await;
    let mut node = node();
    node.arg("out/js/tests/browser.js")
        .env(
            "WSAUTH_PAGE_URL",
            format!("{}/__test/index.html", prsm.http_url()),
        )
        .env("WSAUTH_SECRET", SECRET)
        .env("CHROMIUM", chromium);
    let output = run_blocking(node).await;
    println!("{output}");
    assert!(output.contains("ok - chromium"), "{output}");
    drop(prsm);
}
