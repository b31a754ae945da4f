//! The JSON Schema of the spec format itself, for editors.
//!
//! Generated from the model types with `schemars`, so it cannot drift from
//! what the reader accepts: a key the model does not have is rejected
//! (`additionalProperties: false` on every object), and the words accepted
//! for closed sets (failure kinds, algorithms, client behaviours) are the
//! words the reader knows. `wsauth-gen schema` prints it; the README shows the
//! `# yaml-language-server: $schema=` line that makes an editor use it.

use schemars::Schema;
use schemars::generate::SchemaSettings;
use schemars::transform::RecursiveTransform;

use crate::spec::model::Spec;

/// Where the published schema lives in the repository, relative to its root.
pub const SCHEMA_PATH: &str = "specs/wsauth.schema.json";

/// The JSON Schema (draft 2020-12) of a spec file.
pub fn format_schema() -> serde_json::Value {
    let mut settings = SchemaSettings::draft2020_12();
    settings
        .transforms
        .push(Box::new(RecursiveTransform(drop_null)));
    let generator = settings.into_generator();
    let schema = generator.into_root_schema_for::<Spec>();
    schema.to_value()
}

/// The schema as the pretty-printed text written to [`SCHEMA_PATH`].
pub fn format_schema_text() -> String {
    let mut text = serde_json::to_string_pretty(&format_schema()).unwrap_or_default();
    text.push('\n');
    text
}

/// Removes `null` from the types an optional key accepts: an absent key is
/// how a spec says "none", and the reader rejects an explicit `null`.
fn drop_null(schema: &mut Schema) {
    use serde_json::Value;
    if let Some(Value::Array(types)) = schema.get_mut("type") {
        types.retain(|t| t != "null");
        if let [only] = types.as_slice() {
            let only = only.clone();
            schema.insert("type".into(), only);
        }
    }
    let single = match schema.get_mut("anyOf") {
        Some(Value::Array(options)) => {
            options.retain(|o| o.get("type").and_then(Value::as_str) != Some("null"));
            match options.as_slice() {
                [only] => Some(only.clone()),
                _ => None,
            }
        }
        _ => None,
    };
    if let Some(Value::Object(only)) = single {
        schema.remove("anyOf");
        for (k, v) in only {
            schema.insert(k, v);
        }
    }
}
