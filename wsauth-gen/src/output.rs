//! Writing generated files, or checking that checked-in copies are current.
//!
//! Every generator command takes `--check`: instead of writing, it compares
//! what it would write with what is on disk and reports a unified diff, so
//! CI fails when a checked-in file has drifted from its spec (the same idea
//! as tonic's codegen job running `git diff --exit-code`).

use std::path::{Path, PathBuf};

/// Whether to write files or only compare them.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    /// Write files whose contents differ.
    Write,
    /// Write nothing; report files whose contents differ.
    Check,
}

/// What happened to one file.
#[derive(Debug, PartialEq, Eq)]
pub enum Outcome {
    /// The file already had these contents.
    Unchanged,
    /// The file was written (created or changed).
    Written,
    /// `--check` found the file missing or different; holds a unified diff
    /// from the file on disk to what would be written.
    Stale {
        /// The diff, in unified format.
        diff: String,
    },
}

/// A file could not be read or written.
#[derive(Debug, thiserror::Error)]
#[error("cannot {action} {}", path.display())]
pub struct OutputError {
    action: &'static str,
    path: PathBuf,
    #[source]
    source: std::io::Error,
}

/// Writes `contents` to `path` (creating parent folders), or with
/// [`Mode::Check`] compares them with the file.
pub fn emit(path: &Path, contents: &str, mode: Mode) -> Result<Outcome, OutputError> {
    let current = match std::fs::read_to_string(path) {
        Ok(text) => Some(text),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
        Err(source) => {
            return Err(OutputError {
                action: "read",
                path: path.to_owned(),
                source,
            });
        }
    };
    if current.as_deref() == Some(contents) {
        return Ok(Outcome::Unchanged);
    }
    match mode {
        Mode::Check => {
            let old = current.unwrap_or_default();
            let shown = path.display().to_string();
            let diff = similar::TextDiff::from_lines(old.as_str(), contents)
                .unified_diff()
                .context_radius(3)
                .header(
                    &format!("{shown} (on disk)"),
                    &format!("{shown} (generated)"),
                )
                .to_string();
            Ok(Outcome::Stale { diff })
        }
        Mode::Write => {
            let write = || {
                if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
                    std::fs::create_dir_all(parent)?;
                }
                std::fs::write(path, contents)
            };
            write().map_err(|source| OutputError {
                action: "write",
                path: path.to_owned(),
                source,
            })?;
            Ok(Outcome::Written)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn check_reports_a_diff_and_writes_nothing() -> Result<(), OutputError> {
        let dir = std::env::temp_dir().join(format!("wsauth-output-{}", std::process::id()));
        let path = dir.join("nested/out.txt");
        assert!(matches!(
            emit(&path, "a\nb\n", Mode::Check)?,
            Outcome::Stale { .. }
        ));
        assert!(!path.exists());
        assert_eq!(emit(&path, "a\nb\n", Mode::Write)?, Outcome::Written);
        assert_eq!(emit(&path, "a\nb\n", Mode::Check)?, Outcome::Unchanged);
        let Outcome::Stale { diff } = emit(&path, "a\nc\n", Mode::Check)? else {
            panic!("a changed file must be stale");
        };
        assert!(diff.contains("-b\n") && diff.contains("+c\n"), "{diff}");
        assert_eq!(
            std::fs::read_to_string(&path).ok().as_deref(),
            Some("a\nb\n")
        );
        let _ = std::fs::remove_dir_all(dir);
        Ok(())
    }
}
