//! The client and documentation backends, and [`build`], which runs them all.
//!
//! Every backend reads the resolved [`Api`] and returns the text of one file;
//! none of them reads the spec or re-derives a default. Code and pages
//! (TypeScript, HTML) come from askama templates in `wsauth-gen/templates/`,
//! with whatever needs computing computed in Rust first; the Rust client
//! comes from `quote!` and `prettyplease`; the AsyncAPI document is built as
//! data and serialized to YAML and JSON.
//!
//! [`build`] lays the files of one spec out under a folder named after it:
//!
//! | file | backend |
//! |---|---|
//! | `<name>/<name>.ts` | [`typescript`]: the TypeScript client |
//! | `<name>/client.rs` | [`crate::rust::client`]: the Rust client |
//! | `<name>/asyncapi.yaml`, `<name>/asyncapi.json` | [`asyncapi`]: AsyncAPI 3.0 |
//! | `<name>/index.html` | [`html`]: the documentation page |

pub mod asyncapi;
pub mod html;
pub mod typescript;

use std::path::PathBuf;

use crate::ir::Api;

/// One generated file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Output {
    /// Path relative to the output folder.
    pub path: PathBuf,
    /// Its contents.
    pub contents: String,
}

/// A backend could not produce its file: two spec names that one language
/// cannot tell apart, or a bug in wsauth-gen, reported instead of a panic.
#[derive(Debug, thiserror::Error)]
pub enum GenError {
    /// An askama template failed to render.
    #[error("the {backend} template failed to render")]
    Template {
        /// Which backend.
        backend: &'static str,
        /// What askama said.
        #[source]
        source: askama::Error,
    },
    /// Two names in the spec become the same name in the generated code.
    #[error(
        "the {backend} client would declare `{name}` for both {first} and {second}; rename one of them in the spec"
    )]
    NameClash {
        /// Which backend.
        backend: &'static str,
        /// The generated name.
        name: String,
        /// What claimed it first.
        first: String,
        /// What claimed it again.
        second: String,
    },
    /// The generated Rust did not parse.
    #[error("the generated Rust client does not parse")]
    Rust(#[source] syn::Error),
}

/// The TypeScript module's file name for `api`: `<name>.ts`.
pub fn typescript_file_name(api: &Api) -> String {
    format!("{}.ts", api.name)
}

/// Every file generated from one spec, under `<name>/`.
pub fn build(api: &Api) -> Result<Vec<Output>, GenError> {
    let dir = PathBuf::from(&api.name);
    let file = |name: &str, contents: String| Output {
        path: dir.join(name),
        contents,
    };
    Ok(vec![
        file(&typescript_file_name(api), typescript::generate(api)?),
        file(
            "client.rs",
            crate::rust::client::generate(api).map_err(GenError::Rust)?,
        ),
        file("asyncapi.yaml", asyncapi::yaml(api)?),
        file("asyncapi.json", asyncapi::json(api)?),
        file("index.html", html::generate(api)?),
    ])
}
