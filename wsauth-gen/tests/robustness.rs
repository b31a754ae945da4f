//! Damaged specs never panic the reader, the validator or the renderer, and
//! every reported span lies inside the file on character boundaries.
//!
//! The damage is deterministic: every example spec cut short at many points,
//! with single lines removed, and with lines indented wrongly. Each variant
//! must load (rarely) or fail with diagnostics that render.

use std::path::Path;

use wsauth_gen::{SourceFile, load_source};

fn variants(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    let chars: Vec<(usize, char)> = text.char_indices().collect();
    for i in (0..chars.len()).step_by(97) {
        out.push(text[..chars[i].0].to_owned());
    }
    let lines: Vec<&str> = text.lines().collect();
    for skip in 0..lines.len() {
        let kept: Vec<&str> = lines
            .iter()
            .enumerate()
            .filter(|(i, _)| *i != skip)
            .map(|(_, l)| *l)
            .collect();
        out.push(kept.join("\n"));
        if skip % 3 == 0 {
            let mut shifted = lines.clone();
            let moved = format!(" {}", shifted[skip]);
            shifted[skip] = &moved;
            out.push(shifted.join("\n"));
        }
    }
    // Quoted paths whose text differs from their value (escapes) next to
    // multi-byte characters, with an undeclared parameter to report.
    for escapes in 0..4 {
        for accents in 1..4 {
            let path = format!(
                "\"/{}{}/{{nope}}\"",
                "\\u0061".repeat(escapes),
                "é".repeat(accents)
            );
            let mut edited: Vec<String> = lines.iter().map(|l| (*l).to_owned()).collect();
            if let Some(line) = edited
                .iter_mut()
                .find(|l| l.trim_start().starts_with("path: /"))
            {
                let indent = line.len() - line.trim_start().len();
                *line = format!("{}path: {path}", " ".repeat(indent));
            }
            out.push(edited.join("\n"));
        }
    }
    out.push(text.replace("description:", "description: ünïcødé ✓ —"));
    out
}

#[test]
fn damaged_specs_fail_cleanly() {
    let specs = Path::new(env!("CARGO_MANIFEST_DIR")).join("../specs");
    let mut checked = 0;
    for name in ["songnodes", "shipvox", "prsm", "reflections", "mcp-status"] {
        let text = std::fs::read_to_string(specs.join(format!("{name}.yaml"))).unwrap_or_default();
        assert!(!text.is_empty(), "{name}.yaml is readable");
        for variant in variants(&text) {
            let source = SourceFile::new(format!("{name}.yaml"), variant.as_str());
            let Err(errors) = load_source(&source) else {
                continue;
            };
            assert!(
                !errors.diagnostics.is_empty(),
                "a failure carries a diagnostic"
            );
            for d in &errors.diagnostics {
                for label in &d.labels {
                    let (start, end) = (label.span.offset, label.span.offset + label.span.len);
                    assert!(
                        end <= variant.len()
                            && variant.is_char_boundary(start)
                            && variant.is_char_boundary(end),
                        "{name}: span {start}..{end} of {} is not inside the text on char boundaries",
                        d.code
                    );
                }
            }
            let rendered = errors.render_plain();
            assert!(rendered.contains(&format!("{name}.yaml")), "{rendered}");
            checked += 1;
        }
    }
    assert!(
        checked > 300,
        "only {checked} damaged variants were rejected"
    );
}
