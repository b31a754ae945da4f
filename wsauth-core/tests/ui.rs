//! Compile-time guarantees of `include_spec!` and `#[ws_endpoint]`, checked
//! with trybuild: one case per file under `ui/fail/`, each with the
//! compiler's expected output in a `.stderr` beside it; `ui/pass/` must
//! compile. Regenerate the `.stderr` files with `TRYBUILD=overwrite` after an
//! intended change, and review them.
//!
//! The cases name specs as `../../../../specs/...`: trybuild compiles them in
//! `target/tests/trybuild/wsauth-core/`, which is the `CARGO_MANIFEST_DIR`
//! the macros resolve against. This holds with the default target directory.

#[test]
fn ui() {
    let cases = trybuild::TestCases::new();
    cases.pass("tests/ui/pass/*.rs");
    cases.compile_fail("tests/ui/fail/*.rs");
}
