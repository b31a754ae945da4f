//! Expansion snapshots: what `include_spec!` and `#[ws_endpoint]` generate
//! for the echo spec (and `include_spec!` for shipvox, with open messages,
//! and for a spec with topics;
//! `#[ws_endpoint]` in its explicit form and in the lighter one, with
//! state), pretty-printed and compared with the files in
//! `tests/expand/`. Regenerate with `WSAUTH_BLESS=1` after an intended
//! change and review the diff: these files are the generated code users get.

use std::path::Path;

use quote::quote;

/// The checkout's absolute path is replaced before pretty-printing, not
/// after: its length would otherwise decide where lines wrap, and the
/// snapshot would only match in checkouts at a path as long as the one that
/// blessed it.
fn pretty(tokens: proc_macro2::TokenStream) -> String {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).display().to_string();
    let text = tokens.to_string().replace(&root, "$CARGO_MANIFEST_DIR");
    let file: syn::File =
        syn::parse_str(&text).unwrap_or_else(|e| panic!("expansion does not parse: {e}"));
    prettyplease::unparse(&file)
}

fn check(name: &str, actual: &str) {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/expand")
        .join(name);
    if std::env::var_os("WSAUTH_BLESS").is_some() {
        std::fs::write(&path, actual).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        return;
    }
    let expected = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(
        expected == actual,
        "{} changed (WSAUTH_BLESS=1 to accept):\n{}",
        path.display(),
        similar::TextDiff::from_lines(expected.as_str(), actual).unified_diff()
    );
}

#[test]
fn include_spec_of_the_echo_spec() {
    let out = wsauth_gen::expand::include_spec(quote!("../specs/echo.yaml"));
    check("include_spec_echo.rs", &pretty(out));
}

/// The shipvox spec allows open messages both ways: its enums get the
/// untagged `Open` variant and its decoder.
#[test]
fn include_spec_of_a_spec_with_open_messages() {
    let out = wsauth_gen::expand::include_spec(quote!("../specs/shipvox.yaml"));
    check("include_spec_shipvox.rs", &pretty(out));
}

/// Topics: a module per topic with its key and message enum, and `Joins`
/// for every endpoint that lists it.
#[test]
fn include_spec_of_a_spec_with_topics() {
    let out = wsauth_gen::expand::include_spec(quote!("tests/fixtures/topics.yaml"));
    check("include_spec_topics.rs", &pretty(out));
}

#[test]
fn ws_endpoint_on_an_echo_handler() {
    let attr = quote!(
        spec = "../specs/echo.yaml",
        endpoint = "echo",
        perm = "echo.use"
    );
    let item = quote! {
        pub async fn echo(mut session: echo::endpoints::echo::Session) -> wsauth_core::HandlerResult {
            while let Some(message) = session.recv().await {
                let echo::endpoints::echo::Incoming::Echo(m) = message;
                session.send(m)?;
            }
            Ok(())
        }
    };
    check(
        "ws_endpoint_echo.rs",
        &pretty(wsauth_gen::expand::ws_endpoint(attr, item)),
    );
}

/// The lighter form: no spec, the session type names the endpoint, and a
/// second parameter takes the application state.
#[test]
fn ws_endpoint_without_spec_taking_state() {
    let attr = quote!(perm = "echo.use");
    let item = quote! {
        pub async fn echo(mut session: echo::endpoints::echo::Session, hub: &Hub) -> wsauth_core::HandlerResult {
            while let Some(echo::endpoints::echo::Incoming::Echo(m)) = session.recv().await {
                hub.publish(&m);
                session.send(m)?;
            }
            Ok(())
        }
    };
    check(
        "ws_endpoint_with_state.rs",
        &pretty(wsauth_gen::expand::ws_endpoint(attr, item)),
    );
}
