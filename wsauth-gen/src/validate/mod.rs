//! Semantic checks: from the spec as written to the resolved [`Api`].
//!
//! # Motivation
//!
//! Reading the YAML ([`crate::spec::parse`]) guarantees shapes: keys are
//! known, values have the right types. Everything that relates one part of
//! the spec to another happens here: names referenced are declared, codes are
//! legal and mean one thing, paths agree with their params, algorithms are
//! compatible with one key. Each check reports on the exact token and says
//! what would be right, and every check runs even after others failed.
//!
//! The output is built while checking; when no problem was found it is the
//! [`Api`] backends read.
//!
//! This module holds the walk ([`validate`], `Validator::api`) and the
//! spec-wide parts (servers); each concern has its own file:
//!
//! | file | checks and resolves |
//! |---|---|
//! | `names` | what names may look like; names generated code cannot tell apart |
//! | `access` | permissions, roles (wildcards expanded), resource checks |
//! | `close_codes` | the close-code catalogue: legal codes, one meaning per code |
//! | `limits` | limits, each level over the one above |
//! | `auth` | token sources, JWT key slots and algorithms, introspection, expiry |
//! | `schema` | payload schemas and the named schemas |
//! | `messages` | messages and the direction each flows in |
//! | `endpoints` | paths and parameters, who may connect, messages, open messages, stats |
//! | `topics` | topics: params, who may subscribe and publish, messages, history; endpoints' topic lists |

mod access;
mod auth;
mod close_codes;
mod endpoints;
mod limits;
mod messages;
mod names;
mod schema;
mod topics;

pub use limits::MAX_PING_INTERVAL_S;
pub use topics::{MAX_HISTORY_SIZE, MAX_HISTORY_TTL_S};

use crate::diagnostic::{Diagnostic, SourceFile, Span};
use crate::ir::{self, Api, Loc};
use crate::naming;
use crate::spec::model::{self, Spanned};
use names::{API_NAME, SERVER};

/// Checks `spec` (read from `source`) and resolves it, or returns every
/// problem found.
///
/// `earlier` are the problems found while reading the file. Parts that
/// failed to read are missing from `spec`; checks that would report the
/// resulting gap ("no algorithm is allowed" after `[HS257]` was rejected)
/// stay quiet where an earlier problem already explains it.
pub fn validate(
    spec: &model::Spec,
    source: &SourceFile,
    earlier: &[Diagnostic],
) -> Result<Api, Vec<Diagnostic>> {
    let mut v = Validator {
        spec,
        source,
        earlier: earlier.iter().map(Diagnostic::span).collect(),
        diagnostics: Vec::new(),
    };
    let api = v.api();
    if v.diagnostics.is_empty() {
        Ok(api)
    } else {
        Err(v.diagnostics)
    }
}

struct Validator<'a> {
    spec: &'a model::Spec,
    source: &'a SourceFile,
    /// Where problems were reported while reading.
    earlier: Vec<Span>,
    diagnostics: Vec<Diagnostic>,
}

impl Validator<'_> {
    fn error(&mut self, d: Diagnostic) {
        self.diagnostics.push(d);
    }

    /// Whether a reading problem was reported inside `span`.
    fn explained(&self, span: Span) -> bool {
        self.earlier
            .iter()
            .any(|e| e.offset >= span.offset && e.offset < span.offset + span.len.max(1))
    }

    fn loc(&self, span: Span) -> Loc {
        let (line, column) = self.source.line_col(span.offset);
        Loc { line, column }
    }

    /// Reports `name` as unknown among `known`, with the closest as help.
    fn unknown<'k>(
        &mut self,
        what: &str,
        name: &Spanned<String>,
        known: impl IntoIterator<Item = &'k str> + Clone,
        declare_in: &str,
    ) {
        let mut d = Diagnostic::new(
            match what {
                "permission" => "wsauth::unknown_permission",
                "message" => "wsauth::unknown_message",
                "check" => "wsauth::unknown_check",
                "role" => "wsauth::unknown_role",
                "schema" => "wsauth::unknown_schema",
                "topic" => "wsauth::unknown_topic",
                _ => "wsauth::unknown_name",
            },
            name.span,
            format!("unknown {what} `{}`", name.value),
        );
        d = match crate::suggest::closest(&name.value, known) {
            Some(best) => d.help(format!("did you mean `{best}`?")),
            None => d.help(format!("declare it under `{declare_in}`")),
        };
        self.error(d);
    }

    fn api(&mut self) -> Api {
        let spec = self.spec;
        if spec.wsauth.value != 1 {
            self.error(
                Diagnostic::new(
                    "wsauth::format_version",
                    spec.wsauth.span,
                    format!("unsupported spec format version {}", spec.wsauth.value),
                )
                .help("this wsauth reads format version 1: write `wsauth: 1`"),
            );
        }
        self.check_name(&spec.name, &API_NAME);
        if spec.version.trim().is_empty() {
            self.error(
                Diagnostic::new(
                    "wsauth::empty_version",
                    spec.version.span,
                    "the API version is empty",
                )
                .help("write a version such as `1.0.0`"),
            );
        }
        let servers = self.servers();
        let permissions = self.permissions();
        let roles = self.roles();
        let checks = self.checks();
        let close_codes = self.close_codes();
        let close_catalogue = close_codes::catalogue(&close_codes);
        let limits = self.limits(spec.limits.as_ref(), ir::Limits::DEFAULT);
        let mut schemas = self.named_schemas();
        let mut messages = self.messages(&schemas);
        let auth = self.auth();
        let topics = self.topics(&roles);
        let endpoints = self.endpoints(auth.as_ref(), &roles, &limits);
        self.unlisted_topics();
        let stats = self.stats(&endpoints);
        self.directions(&endpoints, &mut messages);
        // A schema's name yields to what generated code declares for the
        // messages and endpoints, known only now.
        let type_names = naming::schema_type_names(&schemas, &messages, &endpoints);
        for (schema, type_name) in schemas.iter_mut().zip(type_names) {
            schema.type_name = type_name;
        }
        Api {
            name: spec.name.value.clone(),
            title: spec
                .title
                .clone()
                .unwrap_or_else(|| spec.name.value.clone()),
            version: spec.version.value.clone(),
            description: spec.description.clone(),
            servers,
            auth,
            permissions,
            roles,
            checks,
            close_codes,
            close_catalogue,
            limits,
            stats,
            endpoints,
            topics,
            messages,
            schemas,
        }
    }

    fn servers(&mut self) -> Vec<ir::Server> {
        let mut out = Vec::new();
        for (name, server) in &self.spec.servers {
            self.check_name(name, &SERVER);
            let url = &server.url;
            if !(url.starts_with("ws://") || url.starts_with("wss://")) {
                self.error(
                    Diagnostic::new(
                        "wsauth::server_url",
                        url.span,
                        format!("server URL `{}` is not a WebSocket URL", url.value),
                    )
                    .help("start it with `wss://` (or `ws://` for local development)"),
                );
            }
            out.push(ir::Server {
                name: name.value.clone(),
                url: url.value.clone(),
                description: server.description.clone(),
            });
        }
        out
    }
}
