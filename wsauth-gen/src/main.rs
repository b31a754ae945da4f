//! `wsauth-gen`: check wsauth specs and generate what they describe.
//!
//! A thin layer over the `wsauth_gen` library: parse arguments, call it,
//! turn its results into output and an exit code.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context as _;
use clap::{Parser, Subcommand};
use miette::GraphicalTheme;
use wsauth_gen::output::{self, Mode, Outcome};

#[derive(Parser)]
#[command(name = "wsauth-gen", version, about, long_about = None)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Check specs; print every problem with its file, line and column.
    Check {
        /// Spec files (YAML).
        #[arg(required = true)]
        specs: Vec<PathBuf>,
    },
    /// Print or write the JSON Schema of the spec format, for editors.
    Schema {
        /// Write to this file instead of standard output.
        #[arg(short, long)]
        output: Option<PathBuf>,
        /// Write nothing; fail with a diff if the file is not current.
        #[arg(long, requires = "output")]
        check: bool,
    },
}

fn main() -> ExitCode {
    match run(Cli::parse()) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    match cli.command {
        Command::Check { specs } => check(&specs),
        Command::Schema { output, check } => {
            let text = wsauth_gen::format_schema::format_schema_text();
            let Some(path) = output else {
                print!("{text}");
                return Ok(ExitCode::SUCCESS);
            };
            let mode = if check { Mode::Check } else { Mode::Write };
            report(&path, output::emit(&path, &text, mode)?)
        }
    }
}

fn check(specs: &[PathBuf]) -> anyhow::Result<ExitCode> {
    let mut failed = false;
    for path in specs {
        match wsauth_gen::load(path) {
            Ok(api) => println!(
                "ok: {} ({} endpoints, {} messages)",
                path.display(),
                api.endpoints.len(),
                api.messages.len()
            ),
            Err(wsauth_gen::LoadError::Invalid(errors)) => {
                failed = true;
                eprint!("{}", errors.render(GraphicalTheme::default()));
            }
            Err(e) => return Err(e).context("checking specs"),
        }
    }
    Ok(if failed {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    })
}

/// Prints what happened to a generated file; a stale file fails the run.
fn report(path: &std::path::Path, outcome: Outcome) -> anyhow::Result<ExitCode> {
    Ok(match outcome {
        Outcome::Unchanged => {
            println!("up to date: {}", path.display());
            ExitCode::SUCCESS
        }
        Outcome::Written => {
            println!("wrote: {}", path.display());
            ExitCode::SUCCESS
        }
        Outcome::Stale { diff } => {
            eprint!("{diff}");
            eprintln!(
                "stale: {} differs from what its source generates; run without --check to update it",
                path.display()
            );
            ExitCode::FAILURE
        }
    })
}
