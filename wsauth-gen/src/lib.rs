#![doc = include_str!("../README.md")]

pub mod diagnostic;
pub mod diff;
pub mod expand;
pub mod format_schema;
#[cfg(feature = "generators")]
pub mod generate;
pub mod ir;
pub mod naming;
pub mod output;
pub mod payload;
#[cfg(feature = "probe")]
pub mod probe;
pub mod rust;
pub mod spec;
pub mod suggest;
#[cfg(feature = "token")]
pub mod token;
pub mod validate;

use std::path::Path;

pub use diagnostic::{Diagnostic, SourceFile, Span, SpecErrors};
pub use ir::Api;
pub use validate::validate;

/// Why a spec could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    /// The file could not be read.
    #[error("cannot read spec {}", path.display())]
    Io {
        /// The path as given.
        path: std::path::PathBuf,
        /// What the operating system said.
        #[source]
        source: std::io::Error,
    },
    /// The file was read and has problems.
    #[error(transparent)]
    Invalid(#[from] SpecErrors),
}

/// Reads, checks and resolves the spec at `path`.
pub fn load(path: impl AsRef<Path>) -> Result<Api, LoadError> {
    let path = path.as_ref();
    let text = std::fs::read_to_string(path).map_err(|source| LoadError::Io {
        path: path.to_owned(),
        source,
    })?;
    Ok(load_source(&SourceFile::new(path, text))?)
}

/// Checks and resolves a spec already in memory, reporting every problem
/// (structural and semantic) at once.
pub fn load_source(source: &SourceFile) -> Result<Api, SpecErrors> {
    let (spec, mut diagnostics) = spec::parse(source);
    let api = spec.map(|spec| validate(&spec, source, &diagnostics));
    match api {
        Some(Ok(api)) if diagnostics.is_empty() => return Ok(api),
        Some(Err(semantic)) => diagnostics.extend(semantic),
        _ => {}
    }
    diagnostics.sort_by_key(|d| d.span().offset);
    Err(SpecErrors {
        file: source.clone(),
        diagnostics,
    })
}
