//! `wsauth-gen`: check wsauth specs and generate what they describe.
//!
//! A thin layer over the `wsauth_gen` library: parse arguments, call it,
//! turn its results into output and an exit code.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Context as _;
use clap::{Parser, Subcommand};
use miette::GraphicalTheme;
use wsauth_gen::Api;
use wsauth_gen::generate::{self, GenError};
use wsauth_gen::output::{self, Mode, Outcome};
use wsauth_gen::token::TokenRequest;
use wsauth_spec::{Algorithm, Keyword};

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
    /// Write every client and doc of each spec into `<OUTPUT>/<name>/`.
    Build {
        /// Spec files (YAML).
        #[arg(required = true)]
        specs: Vec<PathBuf>,
        /// The output folder.
        #[arg(short, long)]
        output: PathBuf,
        /// Write nothing; fail with a diff if any file is not current.
        #[arg(long)]
        check: bool,
    },
    /// Write the TypeScript client of a spec as `<OUTPUT>/<name>.ts`.
    Ts {
        /// Spec file (YAML).
        spec: PathBuf,
        /// The output folder.
        #[arg(short, long)]
        output: PathBuf,
        /// Write nothing; fail with a diff if the file is not current.
        #[arg(long)]
        check: bool,
    },
    /// Write the Rust client of a spec to a file.
    Rust {
        /// Spec file (YAML).
        spec: PathBuf,
        /// The output file.
        #[arg(short, long)]
        output: PathBuf,
        /// Write nothing; fail with a diff if the file is not current.
        #[arg(long)]
        check: bool,
    },
    /// Write the AsyncAPI 3.0 document of a spec: JSON when the file name
    /// ends in `.json`, YAML otherwise.
    Asyncapi {
        /// Spec file (YAML).
        spec: PathBuf,
        /// The output file.
        #[arg(short, long)]
        output: PathBuf,
        /// Write nothing; fail with a diff if the file is not current.
        #[arg(long)]
        check: bool,
    },
    /// Write the documentation page of a spec as `<OUTPUT>/index.html`.
    Html {
        /// Spec file (YAML).
        spec: PathBuf,
        /// The output folder.
        #[arg(short, long)]
        output: PathBuf,
        /// Write nothing; fail with a diff if the file is not current.
        #[arg(long)]
        check: bool,
    },
    /// Print a development token the spec's server accepts (HMAC slots
    /// only): issuer, audience, subject and roles claims as the spec says,
    /// `iat`, and an `exp` within `max_ttl_s`. The token goes to standard
    /// output alone (`TOKEN=$(wsauth-gen token ...)`), what it says to
    /// standard error.
    Token {
        /// Spec file (YAML).
        spec: PathBuf,
        /// The subject.
        #[arg(long)]
        sub: String,
        /// Roles from the spec's `roles`, comma-separated or repeated.
        #[arg(long, value_delimiter = ',')]
        roles: Vec<String>,
        /// Lifetime: seconds, or a number with s, m, h or d (`5m`); default
        /// 15 minutes, capped at the spec's `max_ttl_s`.
        #[arg(long, value_parser = wsauth_gen::token::parse_ttl)]
        ttl: Option<u64>,
        /// The environment variable holding the secret (at least 32 bytes,
        /// used as its UTF-8 bytes, as the examples' servers do).
        #[arg(long, default_value = "WSAUTH_JWT_SECRET")]
        secret_env: String,
        /// The key slot (default: the spec's first HMAC slot).
        #[arg(long)]
        key: Option<String>,
        /// The algorithm (default: the slot's first).
        #[arg(long)]
        alg: Option<String>,
        /// The audience (default: the spec's first, if it lists any).
        #[arg(long)]
        aud: Option<String>,
    },
    /// Classify every change from OLD to NEW as compatible or breaking,
    /// for servers and for clients generated from OLD; exit 1 when any is
    /// breaking (2 when a spec is invalid).
    Diff {
        /// The spec as it was.
        old: PathBuf,
        /// The spec as it is.
        new: PathBuf,
        /// Markdown (a summary for a changelog) or JSON.
        #[arg(long, value_enum, default_value_t = DiffFormat::Markdown)]
        format: DiffFormat,
    },
    /// Run the spec as a test suite against a running server (wsauth or
    /// not): the authorization matrix, subject binding, the token attack
    /// catalogue, limits, expiry. Exit 1 on any deviation from the spec.
    Probe {
        /// Spec file (YAML).
        spec: PathBuf,
        /// The server, `ws://host:port` (loopback unless --allow-host).
        #[arg(long)]
        url: String,
        /// The environment variable holding the server's HMAC secret, to
        /// mint tokens from the spec.
        #[arg(long, conflicts_with = "token")]
        secret_env: Option<String>,
        /// A token per role, `ROLE=TOKEN` (when the secret is not at hand).
        #[arg(long, value_parser = pair)]
        token: Vec<(String, String)>,
        /// The subject to mint tokens for: a user the server keeps active.
        #[arg(long, default_value = "alice")]
        subject: String,
        /// Another subject, for paths bound to the subject.
        #[arg(long, default_value = "probe-someone-else")]
        other_subject: String,
        /// A path or topic parameter value every probed subject may open,
        /// `name=value` (endpoints with resource checks need them).
        #[arg(long, value_parser = pair)]
        sample: Vec<(String, String)>,
        /// A path parameter value the subject may not open (someone else's
        /// resource), `name=value`: resource checks must refuse it.
        #[arg(long, value_parser = pair)]
        foreign_sample: Vec<(String, String)>,
        /// An origin the server allows, sent with cookie tokens.
        #[arg(long)]
        origin: Option<String>,
        /// A host besides loopback that may be probed.
        #[arg(long)]
        allow_host: Vec<String>,
        /// Also run the slow checks (expiry with a long leeway).
        #[arg(long)]
        slow: bool,
        /// List the checks and what each would send; send nothing.
        #[arg(long)]
        dry_run: bool,
        /// Print the report as JSON instead of a table.
        #[arg(long)]
        json: bool,
        /// Also write the report as JUnit XML to this file.
        #[arg(long)]
        junit: Option<PathBuf>,
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

#[derive(Clone, Copy, clap::ValueEnum)]
enum DiffFormat {
    Markdown,
    Json,
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
        Command::Build {
            specs,
            output,
            check,
        } => build(&specs, &output, mode(check)),
        Command::Ts {
            spec,
            output,
            check,
        } => single(&spec, mode(check), |api| {
            let path = output.join(generate::typescript_file_name(api));
            Ok((path, generate::typescript::generate(api)?))
        }),
        Command::Rust {
            spec,
            output,
            check,
        } => single(&spec, mode(check), |api| {
            Ok((
                output.clone(),
                wsauth_gen::rust::client::generate(api).map_err(GenError::Rust)?,
            ))
        }),
        Command::Asyncapi {
            spec,
            output,
            check,
        } => single(&spec, mode(check), |api| {
            let json = output.extension().is_some_and(|e| e == "json");
            let text = if json {
                generate::asyncapi::json(api)?
            } else {
                generate::asyncapi::yaml(api)?
            };
            Ok((output.clone(), text))
        }),
        Command::Html {
            spec,
            output,
            check,
        } => single(&spec, mode(check), |api| {
            Ok((output.join("index.html"), generate::html::generate(api)?))
        }),
        Command::Token {
            spec,
            sub,
            roles,
            ttl,
            secret_env,
            key,
            alg,
            aud,
        } => {
            let algorithm = match alg.as_deref() {
                None => None,
                Some(word) => Some(<Algorithm as Keyword>::from_word(word).with_context(|| {
                    format!("`{word}` is not an algorithm; HMAC slots take HS256, HS384 or HS512")
                })?),
            };
            let request = TokenRequest {
                subject: sub,
                roles,
                ttl_s: ttl,
                key,
                algorithm,
                audience: aud,
            };
            token(&spec, &request, &secret_env)
        }
        Command::Diff { old, new, format } => {
            // 1 means "breaking": a spec that cannot be read is 2.
            let load = |path: &Path| match load(path) {
                Ok(api) => api,
                Err(e) => {
                    eprintln!("error: {e:#}");
                    None
                }
            };
            let (Some(old), Some(new)) = (load(&old), load(&new)) else {
                return Ok(ExitCode::from(2));
            };
            let report = wsauth_gen::diff::diff(&old, &new);
            match format {
                DiffFormat::Markdown => print!("{}", report.markdown()),
                DiffFormat::Json => println!("{}", serde_json::to_string_pretty(&report)?),
            }
            Ok(if report.breaking() {
                ExitCode::FAILURE
            } else {
                ExitCode::SUCCESS
            })
        }
        Command::Probe {
            spec,
            url,
            secret_env,
            token,
            subject,
            other_subject,
            sample,
            foreign_sample,
            origin,
            allow_host,
            slow,
            dry_run,
            json,
            junit,
        } => {
            let secret = match secret_env {
                None => None,
                Some(var) => Some(
                    std::env::var(&var)
                        .with_context(|| format!("{var} (the server's HMAC secret)"))?
                        .into_bytes(),
                ),
            };
            let options = wsauth_gen::probe::Options {
                url,
                secret,
                tokens: token,
                subject,
                other_subject,
                samples: sample,
                foreign_samples: foreign_sample,
                origin,
                allow_hosts: allow_host,
                slow,
                ..wsauth_gen::probe::Options::default()
            };
            probe(&spec, &options, dry_run, json, junit.as_deref())
        }
        Command::Schema { output, check } => {
            let text = wsauth_gen::format_schema::format_schema_text();
            let Some(path) = output else {
                print!("{text}");
                return Ok(ExitCode::SUCCESS);
            };
            report(&path, output::emit(&path, &text, mode(check))?)
        }
    }
}

/// `name=value`.
fn pair(text: &str) -> Result<(String, String), String> {
    text.split_once('=')
        .map(|(n, v)| (n.to_owned(), v.to_owned()))
        .ok_or_else(|| format!("`{text}` is not name=value"))
}

/// Probes the server at `options.url` with every check `spec` implies.
fn probe(
    spec: &Path,
    options: &wsauth_gen::probe::Options,
    dry_run: bool,
    json: bool,
    junit: Option<&Path>,
) -> anyhow::Result<ExitCode> {
    use std::io::IsTerminal as _;
    let Some(api) = load(spec)? else {
        return Ok(ExitCode::from(2));
    };
    let checks = wsauth_gen::probe::plan(&api, options)?;
    if dry_run {
        for check in &checks {
            match &check.skip {
                Some(why) => println!("{} / {}: skipped ({why})", check.group, check.name),
                None => println!(
                    "{} / {}: expects {}; sends {}",
                    check.group, check.name, check.expect, check.request
                ),
            }
        }
        println!("{} checks; nothing sent (--dry-run)", checks.len());
        return Ok(ExitCode::SUCCESS);
    }
    let terminal = std::io::stderr().is_terminal();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("starting the probe's runtime")?;
    let report = runtime.block_on(wsauth_gen::probe::run(
        &api.name,
        options,
        checks,
        |i, n, check| {
            if terminal {
                let done = i * 30 / n.max(1);
                eprint!(
                    "\r[{}{}] {i}/{n} {:<60.60}",
                    "#".repeat(done),
                    " ".repeat(30 - done),
                    format!("{}: {}", check.group, check.name)
                );
            }
        },
    ));
    if terminal {
        eprint!("\r{:<100}\r", "");
    }
    if json {
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        print!("{}", wsauth_gen::probe::table(&report));
    }
    if let Some(path) = junit {
        std::fs::write(path, wsauth_gen::probe::junit(&report))
            .with_context(|| format!("writing {}", path.display()))?;
    }
    Ok(if report.deviations().next().is_some() {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    })
}

/// Mints a token for `request` with the secret in `secret_env`.
fn token(spec: &Path, request: &TokenRequest, secret_env: &str) -> anyhow::Result<ExitCode> {
    let Some(api) = load(spec)? else {
        return Ok(ExitCode::FAILURE);
    };
    let secret = match std::env::var(secret_env) {
        Ok(secret) => secret,
        Err(std::env::VarError::NotPresent) => anyhow::bail!(
            "{secret_env} is not set; set it to the secret the server was started with (at least {} bytes)",
            wsauth_gen::token::MIN_SECRET_BYTES
        ),
        Err(std::env::VarError::NotUnicode(_)) => {
            anyhow::bail!("{secret_env} is not valid UTF-8")
        }
    };
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .context("the system clock is before 1970")?
        .as_secs();
    let minted = wsauth_gen::token::mint(&api, request, secret.as_bytes(), now)
        .with_context(|| format!("minting a token for {}", spec.display()))?;
    println!("{}", minted.token);
    eprintln!(
        "{} token, expires in {} s: {}",
        minted.algorithm.word(),
        minted.expires_at - now,
        serde_json::Value::Object(minted.claims)
    );
    Ok(ExitCode::SUCCESS)
}

fn mode(check: bool) -> Mode {
    if check { Mode::Check } else { Mode::Write }
}

/// Loads a spec; `None` (after printing its problems) when it is invalid.
fn load(path: &Path) -> anyhow::Result<Option<Api>> {
    match wsauth_gen::load(path) {
        Ok(api) => Ok(Some(api)),
        Err(wsauth_gen::LoadError::Invalid(errors)) => {
            eprint!("{}", errors.render(GraphicalTheme::default()));
            Ok(None)
        }
        Err(e) => Err(e).context("loading the spec"),
    }
}

/// One backend over one spec, written to (or checked against) one file.
fn single(
    spec: &Path,
    mode: Mode,
    backend: impl FnOnce(&Api) -> Result<(PathBuf, String), GenError>,
) -> anyhow::Result<ExitCode> {
    let Some(api) = load(spec)? else {
        return Ok(ExitCode::FAILURE);
    };
    let (path, text) =
        backend(&api).with_context(|| format!("generating from {}", spec.display()))?;
    report(&path, output::emit(&path, &text, mode)?)
}

/// Every backend over every spec, into `<output>/<name>/`; every stale file
/// is reported before failing.
fn build(specs: &[PathBuf], output: &Path, mode: Mode) -> anyhow::Result<ExitCode> {
    let mut failed = false;
    for spec in specs {
        let Some(api) = load(spec)? else {
            failed = true;
            continue;
        };
        let files =
            generate::build(&api).with_context(|| format!("generating from {}", spec.display()))?;
        for file in files {
            let path = output.join(&file.path);
            failed |=
                report(&path, output::emit(&path, &file.contents, mode)?)? != ExitCode::SUCCESS;
        }
    }
    Ok(if failed {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    })
}

fn check(specs: &[PathBuf]) -> anyhow::Result<ExitCode> {
    let mut failed = false;
    for path in specs {
        match load(path)? {
            Some(api) => println!(
                "ok: {} ({} endpoints, {} messages)",
                path.display(),
                api.endpoints.len(),
                api.messages.len()
            ),
            None => failed = true,
        }
    }
    Ok(if failed {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    })
}

/// Prints what happened to a generated file; a stale file fails the run.
fn report(path: &Path, outcome: Outcome) -> anyhow::Result<ExitCode> {
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
