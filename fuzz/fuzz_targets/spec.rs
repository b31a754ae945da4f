//! The spec reader: any text either loads (and then every backend renders
//! it without failing) or fails with diagnostics whose spans lie inside the
//! text on character boundaries, and that render. Nothing panics.

#![no_main]

use libfuzzer_sys::fuzz_target;
use wsauth_gen::{SourceFile, load_source};

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let source = SourceFile::new("fuzz.yaml", text);
    match load_source(&source) {
        Ok(api) => {
            // A spec the validator accepts is one every backend can render.
            if let Err(e) = wsauth_gen::generate::build(&api) {
                panic!("a valid spec failed to generate: {e}");
            }
        }
        Err(errors) => {
            assert!(
                !errors.diagnostics.is_empty(),
                "a failure carries a diagnostic"
            );
            for d in &errors.diagnostics {
                for label in &d.labels {
                    let (start, end) = (label.span.offset, label.span.offset + label.span.len);
                    assert!(
                        end <= text.len()
                            && text.is_char_boundary(start)
                            && text.is_char_boundary(end),
                        "span {start}..{end} of {} is outside the text or splits a character",
                        d.code
                    );
                }
            }
            let _ = errors.render_plain();
        }
    }
});
