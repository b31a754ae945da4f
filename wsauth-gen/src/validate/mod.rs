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
//! [`Api`] backends read. Schemas are resolved in `schema`.

mod close_codes;
mod schema;

use std::collections::{HashMap, HashSet};

use crate::diagnostic::{Diagnostic, SourceFile, Span};
use crate::ir::{self, Api, Direction, Loc};
use crate::naming::{self, rust::OPEN_VARIANT};
use crate::spec::model::{
    self, Access, ExpiryPolicy, Fallback, Frames, Name, SourceKind, Spanned, TokenSource,
};
use wsauth_spec::Keyword;

/// The longest `ping_interval_s`: an hour. Clients turn it into a timer,
/// and a ping that rarely is no longer a heartbeat.
pub const MAX_PING_INTERVAL_S: u32 = 3600;

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

/// What a kind of name may look like: a pattern in words, for help, and a test.
struct NameRule {
    what: &'static str,
    shape: &'static str,
    test: fn(&str) -> bool,
}

fn is_snake(s: &str) -> bool {
    let mut chars = s.chars();
    chars.next().is_some_and(|c| c.is_ascii_lowercase())
        && chars.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
}

const SNAKE: &str = "lower-case letters, digits and `_`, starting with a letter";

const API_NAME: NameRule = NameRule {
    what: "API name",
    shape: "lower-case letters, digits, `_` and `-`, starting with a letter",
    test: |s| is_snake(&s.replace('-', "_")) && !s.ends_with('-'),
};
const ENDPOINT: NameRule = NameRule {
    what: "endpoint name",
    shape: SNAKE,
    test: is_snake,
};
const MESSAGE: NameRule = NameRule {
    what: "message name",
    shape: SNAKE,
    test: is_snake,
};
const CHECK: NameRule = NameRule {
    what: "check name",
    shape: SNAKE,
    test: is_snake,
};
const PARAM: NameRule = NameRule {
    what: "parameter name",
    shape: SNAKE,
    test: is_snake,
};
const SERVER: NameRule = NameRule {
    what: "server name",
    shape: "letters, digits, `_` and `-`, starting with a letter",
    test: |s| {
        s.starts_with(|c: char| c.is_ascii_alphabetic())
            && s.chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
    },
};
const ROLE: NameRule = NameRule {
    what: "role name",
    shape: "letters, digits, `_`, `-`, `.` and `:`, starting with a letter",
    test: |s| {
        s.starts_with(|c: char| c.is_ascii_alphabetic())
            && s.chars()
                .all(|c| c.is_ascii_alphanumeric() || "_-.:".contains(c))
    },
};
const PERMISSION: NameRule = NameRule {
    what: "permission name",
    shape: "dot-separated parts of lower-case letters, digits and `_`, e.g. `conversation.read`",
    test: |s| s.split('.').all(is_snake),
};

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

    fn check_name(&mut self, name: &Name, rule: &NameRule) {
        if !(rule.test)(name) {
            self.error(
                Diagnostic::new(
                    "wsauth::bad_name",
                    name.span,
                    format!("`{}` is not a valid {}", name.value, rule.what),
                )
                .help(format!("use {}", rule.shape)),
            );
        }
    }

    /// Reports names that differ in the spec but become the same type name
    /// in generated code (`a_1` and `a1` are both `A1`): every backend
    /// would otherwise emit two declarations of one name.
    fn distinct_type_names<'n>(&mut self, what: &str, names: impl IntoIterator<Item = &'n Name>) {
        let mut seen: HashMap<String, &Name> = HashMap::new();
        for name in names {
            let ty = naming::pascal(&name.value);
            if let Some(first) = seen.get(&ty) {
                self.error(
                    Diagnostic::new(
                        "wsauth::name_clash",
                        name.span,
                        format!(
                            "{what} `{}` and {what} `{}` both become `{ty}` in generated code",
                            name.value, first.value
                        ),
                    )
                    .also(first.span, "this one")
                    .help("rename one of them"),
                );
            } else {
                seen.insert(ty, name);
            }
        }
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
        let endpoints = self.endpoints(auth.as_ref(), &roles, &limits);
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

    fn permissions(&mut self) -> Vec<ir::Permission> {
        let mut out = Vec::new();
        for (name, description) in &self.spec.permissions {
            self.check_name(name, &PERMISSION);
            out.push(ir::Permission {
                name: name.value.clone(),
                description: description.clone(),
                loc: self.loc(name.span),
            });
        }
        out
    }

    /// Reports `perm` unless it is declared.
    fn known_permission(&mut self, perm: &Spanned<String>) -> bool {
        if self.spec.permissions.contains_key(perm.value.as_str()) {
            return true;
        }
        let known: Vec<&str> = declared_permissions(self.spec).collect();
        self.unknown("permission", perm, known, "permissions");
        false
    }

    fn roles(&mut self) -> Vec<ir::Role> {
        let mut out = Vec::new();
        for (name, role) in &self.spec.roles {
            self.check_name(name, &ROLE);
            let mut all = false;
            let mut granted: HashSet<&str> = HashSet::new();
            for grant in &role.permissions {
                if grant.value == "*" {
                    all = true;
                } else if let Some(prefix) = grant.value.strip_suffix(".*") {
                    let matched: Vec<&str> = declared_permissions(self.spec)
                        .filter(|p| p.strip_prefix(prefix).is_some_and(|r| r.starts_with('.')))
                        .collect();
                    if matched.is_empty() {
                        self.error(
                            Diagnostic::new(
                                "wsauth::undeclared_permission",
                                grant.span,
                                format!(
                                    "role `{}` grants `{}`, which matches no declared permission",
                                    name.value, grant.value
                                ),
                            )
                            .help(format!(
                                "declare a permission starting with `{prefix}.` under `permissions`"
                            )),
                        );
                    }
                    granted.extend(matched);
                } else if self.spec.permissions.contains_key(grant.value.as_str()) {
                    granted.insert(&grant.value);
                } else {
                    let mut d = Diagnostic::new(
                        "wsauth::undeclared_permission",
                        grant.span,
                        format!(
                            "role `{}` grants undeclared permission `{}`",
                            name.value, grant.value
                        ),
                    );
                    d = match crate::suggest::closest(&grant.value, declared_permissions(self.spec))
                    {
                        Some(best) => d.help(format!("did you mean `{best}`?")),
                        None => d.help("declare it under `permissions`, or grant `*` for all"),
                    };
                    self.error(d);
                }
            }
            let permissions = declared_permissions(self.spec)
                .filter(|p| all || granted.contains(p))
                .map(str::to_owned)
                .collect();
            out.push(ir::Role {
                name: name.value.clone(),
                description: role.description.clone(),
                all,
                permissions,
            });
        }
        out
    }

    fn checks(&mut self) -> Vec<ir::Check> {
        let mut out = Vec::new();
        for (name, check) in &self.spec.checks {
            self.check_name(name, &CHECK);
            out.push(ir::Check {
                name: name.value.clone(),
                description: check.description.clone(),
                loc: self.loc(name.span),
            });
        }
        out
    }

    fn limits(&mut self, written: Option<&model::Limits>, base: ir::Limits) -> ir::Limits {
        let Some(l) = written else { return base };
        let mut out = base;
        let fields: [(&Option<Spanned<u32>>, &mut u32, &str); 7] = [
            (
                &l.max_connections_per_user,
                &mut out.max_connections_per_user,
                "max_connections_per_user",
            ),
            (
                &l.max_message_bytes,
                &mut out.max_message_bytes,
                "max_message_bytes",
            ),
            (
                &l.messages_per_second,
                &mut out.messages_per_second,
                "messages_per_second",
            ),
            (&l.burst, &mut out.burst, "burst"),
            (
                &l.ping_interval_s,
                &mut out.ping_interval_s,
                "ping_interval_s",
            ),
            (&l.idle_timeout_s, &mut out.idle_timeout_s, "idle_timeout_s"),
            (&l.send_queue, &mut out.send_queue, "send_queue"),
        ];
        let mut zeros = Vec::new();
        for (value, slot, key) in fields {
            if let Some(v) = value {
                if v.value == 0 {
                    zeros.push((v.span, key));
                }
                *slot = v.value;
            }
        }
        for (span, key) in zeros {
            self.error(
                Diagnostic::new("wsauth::zero_limit", span, format!("`{key}` is 0"))
                    .help("limits cannot be switched off; set a generous value instead"),
            );
        }
        if let Some(ping) = &l.ping_interval_s
            && ping.value > MAX_PING_INTERVAL_S
        {
            self.error(
                Diagnostic::new(
                    "wsauth::ping_interval_too_long",
                    ping.span,
                    format!(
                        "`ping_interval_s` is {}, more than {MAX_PING_INTERVAL_S} (an hour)",
                        ping.value
                    ),
                )
                .help("the heartbeat keeps idle connections alive through proxies, typically every `20` to `60` seconds"),
            );
        }
        if out.ping_interval_s >= out.idle_timeout_s {
            let span = l
                .idle_timeout_s
                .as_ref()
                .or(l.ping_interval_s.as_ref())
                .map_or(Span::default(), |s| s.span);
            self.error(
                Diagnostic::new(
                    "wsauth::idle_before_ping",
                    span,
                    format!(
                        "`idle_timeout_s` ({}) must be longer than `ping_interval_s` ({})",
                        out.idle_timeout_s, out.ping_interval_s
                    ),
                )
                .help("otherwise a healthy client is closed before it is pinged"),
            );
        }
        if out.burst < out.messages_per_second {
            let span = l
                .burst
                .as_ref()
                .or(l.messages_per_second.as_ref())
                .map_or(Span::default(), |s| s.span);
            self.error(
                Diagnostic::new(
                    "wsauth::burst_below_rate",
                    span,
                    format!(
                        "`burst` ({}) is below `messages_per_second` ({})",
                        out.burst, out.messages_per_second
                    ),
                )
                .help(
                    "the burst is how many messages may arrive at once; make it at least the rate",
                ),
            );
        }
        out
    }

    fn auth(&mut self) -> Option<ir::Auth> {
        let auth = self.spec.auth.as_ref()?;
        let mut seen: HashMap<SourceKind, Span> = HashMap::new();
        for source in &auth.sources.value {
            if let Some(first) = seen.insert(source.kind(), source.span) {
                self.error(
                    Diagnostic::new(
                        "wsauth::duplicate_source",
                        source.span,
                        format!("token source `{}` is listed twice", source.kind().word()),
                    )
                    .also(first, "first listed here")
                    .help("each kind of source may carry the token in one place"),
                );
            }
            let name = match &source.value {
                TokenSource::Header => None,
                TokenSource::Query(n) | TokenSource::Cookie(n) | TokenSource::Subprotocol(n) => {
                    Some(n)
                }
            };
            if let Some(n) = name {
                // Short: request spans keep query names of at most 20
                // bytes (longer ones may be tokens), and protocol names are
                // short.
                let ok = (1..=20).contains(&n.len())
                    && n.chars()
                        .all(|c| c.is_ascii_alphanumeric() || "_-.".contains(c))
                    && !n.to_ascii_lowercase().contains(".bearer.");
                if !ok {
                    self.error(
                        Diagnostic::new(
                            "wsauth::source_name",
                            source.span,
                            format!("`{n}` is not a valid {} name", source.kind().word()),
                        )
                        .help("use 1 to 20 ASCII letters, digits, `_`, `-` and `.` (and not `.bearer.`)"),
                    );
                }
            }
        }
        if auth.sources.is_empty() && !self.explained(auth.sources.span) {
            self.error(
                Diagnostic::new(
                    "wsauth::no_sources",
                    auth.sources.span,
                    "`auth.sources` is empty",
                )
                .help("list where tokens may travel, e.g. `[header, subprotocol]`"),
            );
        }
        let jwt = auth.jwt.as_ref().map(|j| self.jwt(j));
        if let Some(intro) = &auth.introspection
            && intro.fallback.value == Fallback::Jwt
            && auth.jwt.is_none()
        {
            self.error(
                Diagnostic::new(
                    "wsauth::fallback_without_jwt",
                    intro.fallback.span,
                    "introspection falls back to `jwt`, but `auth.jwt` is not configured",
                )
                .help("add `auth.jwt`, or set `fallback: none`"),
            );
        }
        if auth.jwt.is_none() && auth.introspection.is_none() {
            self.error(
                Diagnostic::new(
                    "wsauth::no_verifier",
                    auth.sources.span,
                    "`auth` says where tokens travel but not how to verify them",
                )
                .help("add `auth.jwt` (local verification) or `auth.introspection`"),
            );
        }
        if let Some(role) = &auth.anonymous_role
            && !self.spec.roles.contains_key(role.value.as_str())
        {
            let known: Vec<&str> = self.spec.roles.keys().map(|k| k.value.as_str()).collect();
            self.unknown("role", role, known, "roles");
        }
        Some(ir::Auth {
            sources: auth.sources.iter().map(|s| s.value.clone()).collect(),
            jwt,
            introspection: auth.introspection.as_ref().map(|i| ir::Introspection {
                fallback: i.fallback.value,
                description: i.description.clone(),
            }),
            on_expiry: auth
                .on_expiry
                .as_ref()
                .map_or(ExpiryPolicy::Close, |e| e.value),
            anonymous_role: auth.anonymous_role.as_ref().map(|r| r.value.clone()),
            token_url: auth.token_url.clone(),
            description: auth.description.clone(),
        })
    }

    fn jwt(&mut self, jwt: &model::Jwt) -> ir::Jwt {
        let mut keys = Vec::new();
        match (&jwt.algorithms, &jwt.keys) {
            (Some(algs), None) => keys.extend(self.jwt_key("default", algs, None)),
            (None, Some(slots)) => {
                if slots.is_empty() {
                    self.error(
                        Diagnostic::new("wsauth::no_keys", slots.span, "`auth.jwt.keys` is empty")
                            .help("name at least one key slot with its `algorithms`"),
                    );
                }
                for (name, key) in slots.iter() {
                    keys.extend(self.jwt_key(&name.value, &key.algorithms, key.description.clone()));
                }
            }
            (Some(algs), Some(slots)) => self.error(
                Diagnostic::new(
                    "wsauth::algorithms_and_keys",
                    algs.span,
                    "`auth.jwt` has both `algorithms` and `keys`",
                )
                .also(slots.span, "keys declared here")
                .help("use `algorithms` for a single key, or give each entry of `keys` its own `algorithms`"),
            ),
            (None, None) => self.error(
                Diagnostic::new(
                    "wsauth::no_algorithms",
                    self.spec.auth.as_ref().map_or(Span::default(), |a| a.sources.span),
                    "`auth.jwt` names no algorithm",
                )
                .help("add `algorithms: [HS256]` (or `keys` with their algorithms) under `auth.jwt`"),
            ),
        }
        if let Some(ttl) = &jwt.max_ttl_s
            && ttl.value == 0
        {
            self.error(
                Diagnostic::new("wsauth::zero_ttl", ttl.span, "`max_ttl_s` is 0")
                    .help("set the longest lifetime a token may have, e.g. `3600`"),
            );
        }
        if let Some(leeway) = &jwt.leeway_s
            && leeway.value > wsauth_spec::MAX_LEEWAY_S
        {
            self.error(
                Diagnostic::new(
                    "wsauth::leeway_too_large",
                    leeway.span,
                    format!(
                        "`leeway_s` is {}, more than {} (five minutes)",
                        leeway.value,
                        wsauth_spec::MAX_LEEWAY_S
                    ),
                )
                .help("leeway covers clock skew, typically `5` to `60`; it extends every token's life"),
            );
        }
        let roles = jwt.roles_claim.clone();
        ir::Jwt {
            keys,
            issuer: jwt.issuer.clone(),
            audience: jwt.audience.clone(),
            leeway_s: jwt.leeway_s.as_ref().map_or(0, |l| l.value),
            max_ttl_s: jwt
                .max_ttl_s
                .as_ref()
                .map_or(wsauth_spec::DEFAULT_MAX_TTL_S, |t| t.value),
            subject_claim: jwt.subject_claim.clone().unwrap_or_else(|| "sub".into()),
            roles_claim: roles
                .as_ref()
                .map_or_else(|| "roles".into(), |r| r.name.clone()),
            roles_shape: roles.map_or(model::ClaimShape::Array, |r| r.shape),
        }
    }

    fn jwt_key(
        &mut self,
        name: &str,
        algs: &Spanned<Vec<Spanned<model::Algorithm>>>,
        description: Option<String>,
    ) -> Option<ir::JwtKey> {
        let Some(first) = algs.first() else {
            if self.explained(algs.span) {
                return None;
            }
            self.error(
                Diagnostic::new(
                    "wsauth::no_algorithms",
                    algs.span,
                    "no algorithm is allowed",
                )
                .help("list at least one, e.g. `[HS256]`"),
            );
            return None;
        };
        let family = first.family();
        for alg in algs.iter().skip(1) {
            if alg.family() != family {
                self.error(
                    Diagnostic::new(
                        "wsauth::mixed_algorithm_families",
                        alg.span,
                        format!(
                            "key `{name}` mixes `{}` ({} key) with `{}` ({} key)",
                            first.word(),
                            family_word(family),
                            alg.word(),
                            family_word(alg.family())
                        ),
                    )
                    .also(first.span, "the key's family is set here")
                    .help(
                        "one key verifies one family, or a public key could be used as an HMAC \
                         secret; declare a second key under `auth.jwt.keys`",
                    ),
                );
            }
        }
        Some(ir::JwtKey {
            name: name.to_owned(),
            family,
            algorithms: algs.iter().map(|a| a.value).collect(),
            description,
        })
    }

    fn named_schemas(&mut self) -> Vec<ir::NamedSchema> {
        let mut out = Vec::new();
        self.distinct_type_names("schema", self.spec.schemas.keys());
        for (name, schema) in &self.spec.schemas {
            if !(name.starts_with(|c: char| c.is_ascii_uppercase())
                && name.chars().all(|c| c.is_ascii_alphanumeric()))
            {
                self.error(
                    Diagnostic::new(
                        "wsauth::bad_name",
                        name.span,
                        format!("`{}` is not a valid schema name", name.value),
                    )
                    .help("use UpperCamelCase (letters and digits, starting upper-case): it names a type"),
                );
            }
            if let Some(schema) = self.schema(schema) {
                out.push(ir::NamedSchema {
                    name: name.value.clone(),
                    type_name: naming::pascal(&name.value),
                    schema,
                });
            }
        }
        self.ref_cycles();
        out
    }

    fn messages(&mut self, schemas: &[ir::NamedSchema]) -> Vec<ir::Message> {
        let mut out = Vec::new();
        self.distinct_type_names("message", self.spec.messages.keys());
        for (name, message) in &self.spec.messages {
            self.check_name(name, &MESSAGE);
            if let Some(perm) = &message.perm {
                self.known_permission(perm);
            }
            let payload = match &message.payload {
                None => Some(ir::Schema {
                    description: None,
                    kind: ir::SchemaKind::Object { fields: Vec::new() },
                }),
                Some(p) => self.payload(name, p, schemas),
            };
            let Some(payload) = payload else { continue };
            out.push(ir::Message {
                name: name.value.clone(),
                description: message.description.clone(),
                perm: message.perm.as_ref().map(|p| p.value.clone()),
                direction: Direction::Unused,
                payload,
                example: message.example.as_ref().map(|e| e.value.clone()),
                idents: naming::message(&name.value),
                loc: self.loc(name.span),
            });
        }
        out
    }

    fn endpoints(
        &mut self,
        auth: Option<&ir::Auth>,
        roles: &[ir::Role],
        spec_limits: &ir::Limits,
    ) -> Vec<ir::Endpoint> {
        let mut out = Vec::new();
        let mut paths: HashMap<String, (Span, &str)> = HashMap::new();
        self.distinct_type_names("endpoint", self.spec.endpoints.keys());
        for (name, endpoint) in &self.spec.endpoints {
            self.check_name(name, &ENDPOINT);
            let (segments, params) = self.path(name, endpoint);
            let shape = segments
                .iter()
                .map(|s| match s {
                    ir::Segment::Literal(l) => l.as_str(),
                    ir::Segment::Param(_) => "{}",
                })
                .collect::<Vec<_>>()
                .join("/");
            if let Some((first, other)) = paths.insert(shape, (endpoint.path.span, &name.value)) {
                self.error(
                    Diagnostic::new(
                        "wsauth::duplicate_path",
                        endpoint.path.span,
                        format!("endpoint `{}` has the same path as `{other}`", name.value),
                    )
                    .also(first, "first used here")
                    .help("two endpoints must differ in a literal segment"),
                );
            }
            let access = endpoint.auth.as_ref().map_or(Access::Required, |a| a.value);
            let sources = self.endpoint_sources(name, endpoint, access, auth);
            if let Some(perm) = &endpoint.perm
                && self.known_permission(perm)
                && access != Access::Required
            {
                self.anonymous_can(name, perm, auth);
            }
            if access == Access::Anonymous {
                for (pname, param) in &endpoint.params {
                    if let Some(b) = &param.equals {
                        self.error(
                            Diagnostic::new(
                                "wsauth::anonymous_binding",
                                b.span,
                                format!(
                                    "`{}` is bound to the subject, but endpoint `{}` is anonymous",
                                    pname.value, name.value
                                ),
                            )
                            .help("anonymous connections have no subject: remove `equals`, or require a token"),
                        );
                    }
                }
            }
            for check in &endpoint.authorize {
                if !self.spec.checks.contains_key(check.value.as_str()) {
                    let known: Vec<&str> =
                        self.spec.checks.keys().map(|k| k.value.as_str()).collect();
                    self.unknown("check", check, known, "checks");
                }
            }
            let frames = endpoint.frames.as_ref().map_or(Frames::Json, |f| f.value);
            self.endpoint_messages(name, endpoint, frames);
            let mut sends: Vec<String> = endpoint.welcome.iter().map(|w| w.value.clone()).collect();
            for s in &endpoint.sends {
                if !sends.contains(&s.value) {
                    sends.push(s.value.clone());
                }
            }
            if let Some(hb) = &endpoint.heartbeat {
                for text in [&hb.ping, &hb.pong] {
                    if text.trim().is_empty() || text.starts_with('{') {
                        self.error(
                            Diagnostic::new(
                                "wsauth::heartbeat_text",
                                text.span,
                                "a heartbeat is a short plain word such as `ping`",
                            )
                            .help("it must be non-empty and must not look like a JSON message"),
                        );
                    }
                }
            }
            let open = self.open(name, endpoint, frames);
            let perm = endpoint.perm.as_ref().map(|p| p.value.clone());
            let allowed_roles = roles
                .iter()
                .filter(|r| {
                    perm.as_ref()
                        .is_none_or(|p| r.all || r.permissions.contains(p))
                })
                .map(|r| r.name.clone())
                .collect();
            out.push(ir::Endpoint {
                name: name.value.clone(),
                description: endpoint.description.clone(),
                path: endpoint.path.value.clone(),
                segments,
                params,
                access,
                sources,
                perm,
                roles: allowed_roles,
                checks: endpoint.authorize.iter().map(|c| c.value.clone()).collect(),
                welcome: endpoint.welcome.as_ref().map(|w| w.value.clone()),
                receives: endpoint.receives.iter().map(|r| r.value.clone()).collect(),
                sends,
                open,
                frames,
                heartbeat: endpoint.heartbeat.as_ref().map(|h| ir::Heartbeat {
                    ping: h.ping.value.clone(),
                    pong: h.pong.value.clone(),
                }),
                limits: self.limits(endpoint.limits.as_ref(), *spec_limits),
                idents: naming::endpoint(&name.value),
                loc: self.loc(name.span),
            });
        }
        out
    }

    /// Splits the path and checks it against the declared params.
    fn path(
        &mut self,
        name: &Name,
        endpoint: &model::Endpoint,
    ) -> (Vec<ir::Segment>, Vec<ir::Param>) {
        let path = &endpoint.path;
        let mut segments = Vec::new();
        let mut params = Vec::new();
        if !path.starts_with('/') || path.len() > 1 && path.ends_with('/') || path.contains("//") {
            self.error(
                Diagnostic::new(
                    "wsauth::bad_path",
                    path.span,
                    format!("`{}` is not a valid endpoint path", path.value),
                )
                .help(
                    "start with `/`, no empty segments and no trailing `/`, e.g. `/ws/{user_id}`",
                ),
            );
            return (segments, params);
        }
        // Where the path's text starts inside the (possibly quoted) scalar,
        // to underline one segment; a path written with escapes has no such
        // place, and its segments are reported on the whole path.
        let raw = self
            .source
            .text()
            .get(path.span.offset..path.span.offset + path.span.len)
            .unwrap_or_default();
        let start = raw
            .find(path.value.as_str())
            .map(|i| path.span.offset + i + 1);
        let mut offset = start.unwrap_or(path.span.offset);
        let mut in_path: Vec<&str> = Vec::new();
        for seg in path.value[1..].split('/') {
            let seg_span = match start {
                Some(_) => Span::new(offset, seg.len()),
                None => path.span,
            };
            offset += seg.len() + 1;
            if let Some(p) = seg.strip_prefix('{').and_then(|s| s.strip_suffix('}')) {
                segments.push(ir::Segment::Param(p.to_owned()));
                if in_path.contains(&p) {
                    self.error(
                        Diagnostic::new(
                            "wsauth::duplicate_param",
                            seg_span,
                            format!("path parameter `{p}` appears twice"),
                        )
                        .help("give each parameter its own name"),
                    );
                }
                in_path.push(p);
                match endpoint.params.get_key_value(p) {
                    Some((pname, param)) => {
                        self.check_name(pname, &PARAM);
                        params.push(ir::Param {
                            name: p.to_owned(),
                            ty: param.ty.value,
                            equals: param.equals.as_ref().map(|b| b.value),
                            description: param.description.clone(),
                        });
                    }
                    None => self.error(
                        Diagnostic::new(
                            "wsauth::undeclared_param",
                            seg_span,
                            format!("path parameter `{p}` is not declared in `params`"),
                        )
                        .help(format!(
                            "add `{p}: {{ type: string }}` (or `integer`, `uuid`) under `endpoints.{}.params`",
                            name.value
                        )),
                    ),
                }
            } else if seg.contains(['{', '}']) {
                self.error(
                    Diagnostic::new(
                        "wsauth::bad_path",
                        seg_span,
                        format!("segment `{seg}` mixes text and a parameter"),
                    )
                    .help("a parameter takes a whole segment: `/ws/{id}`, not `/ws/id-{id}`"),
                );
            } else {
                segments.push(ir::Segment::Literal(seg.to_owned()));
            }
        }
        for (pname, _) in &endpoint.params {
            if !in_path.contains(&pname.value.as_str()) {
                let d = Diagnostic::new(
                    "wsauth::unused_param",
                    pname.span,
                    format!(
                        "parameter `{}` does not appear in the path `{}`",
                        pname.value, path.value
                    ),
                )
                .also(path.span, "the path");
                self.error(
                    d.suggest(&pname.value, in_path.iter().copied())
                        .help_if_none(format!(
                            "add `{{{}}}` to the path, or remove the parameter",
                            pname.value
                        )),
                );
            }
        }
        (segments, params)
    }

    fn endpoint_sources(
        &mut self,
        name: &Name,
        endpoint: &model::Endpoint,
        access: Access,
        auth: Option<&ir::Auth>,
    ) -> Vec<TokenSource> {
        if access == Access::Anonymous {
            if let Some(s) = &endpoint.sources {
                self.error(
                    Diagnostic::new(
                        "wsauth::anonymous_sources",
                        s.span,
                        format!(
                            "endpoint `{}` is anonymous but lists token sources",
                            name.value
                        ),
                    )
                    .help("remove `sources`, or set `auth: optional` to accept a token when given"),
                );
            }
            return Vec::new();
        }
        let Some(auth) = auth else {
            let span = endpoint.auth.as_ref().map_or(name.span, |a| a.span);
            self.error(
                Diagnostic::new(
                    "wsauth::no_auth",
                    span,
                    format!(
                        "endpoint `{}` needs tokens, but the spec has no `auth` section",
                        name.value
                    ),
                )
                .help("add `auth` (sources and jwt), or mark the endpoint `auth: anonymous`"),
            );
            return Vec::new();
        };
        let Some(narrowed) = &endpoint.sources else {
            return auth.sources.clone();
        };
        let mut out = Vec::new();
        for kind in narrowed.iter() {
            match auth.sources.iter().find(|s| s.kind() == kind.value) {
                Some(s) if !out.contains(s) => out.push(s.clone()),
                Some(_) => self.error(
                    Diagnostic::new(
                        "wsauth::duplicate_source",
                        kind.span,
                        format!("token source `{}` is listed twice", kind.word()),
                    )
                    .help("list each source once"),
                ),
                None => self.error(
                    Diagnostic::new(
                        "wsauth::source_not_allowed",
                        kind.span,
                        format!("`{}` is not one of the spec's `auth.sources`", kind.word()),
                    )
                    .help(format!(
                        "an endpoint can only narrow `auth.sources` ({}); add it there first",
                        auth.sources
                            .iter()
                            .map(|s| format!("`{}`", s.kind().word()))
                            .collect::<Vec<_>>()
                            .join(", ")
                    )),
                ),
            }
        }
        out
    }

    /// An endpoint open to anonymous connections can require a permission
    /// only if the anonymous role grants it.
    fn anonymous_can(&mut self, name: &Name, perm: &Spanned<String>, auth: Option<&ir::Auth>) {
        let role = auth.and_then(|a| a.anonymous_role.as_deref());
        let granted = role.is_some_and(|r| {
            self.spec.roles.get(r).is_some_and(|role| {
                role.permissions.iter().any(|g| {
                    g.value == "*"
                        || g.value == perm.value
                        || g.strip_suffix(".*").is_some_and(|p| {
                            perm.strip_prefix(p).is_some_and(|r| r.starts_with('.'))
                        })
                })
            })
        });
        if !granted {
            let help = match role {
                Some(r) => format!(
                    "grant `{}` to the anonymous role `{r}`, or require a token",
                    perm.value
                ),
                None => "set `auth.anonymous_role` to a role that grants it, or require a token"
                    .to_owned(),
            };
            self.error(
                Diagnostic::new(
                    "wsauth::anonymous_permission",
                    perm.span,
                    format!(
                        "endpoint `{}` admits anonymous connections, which never hold `{}`",
                        name.value, perm.value
                    ),
                )
                .help(help),
            );
        }
    }

    fn endpoint_messages(&mut self, name: &Name, endpoint: &model::Endpoint, frames: Frames) {
        if frames == Frames::Raw {
            let typed = endpoint
                .welcome
                .iter()
                .chain(&endpoint.receives)
                .chain(&endpoint.sends)
                .next();
            if let Some(m) = typed {
                self.error(
                    Diagnostic::new(
                        "wsauth::raw_with_messages",
                        m.span,
                        format!("endpoint `{}` has raw frames but names message `{}`", name.value, m.value),
                    )
                    .help("raw endpoints pass frames through undecoded: remove `welcome`, `receives` and `sends`, or use `frames: json`"),
                );
            }
            return;
        }
        let known: Vec<&str> = self
            .spec
            .messages
            .keys()
            .map(|k| k.value.as_str())
            .collect();
        for list in [&endpoint.receives, &endpoint.sends] {
            let mut seen = HashSet::new();
            for m in list {
                if !seen.insert(m.value.as_str()) {
                    self.error(
                        Diagnostic::new(
                            "wsauth::duplicate_message",
                            m.span,
                            format!("message `{}` is listed twice", m.value),
                        )
                        .help("list each message once"),
                    );
                }
            }
        }
        for m in endpoint
            .welcome
            .iter()
            .chain(&endpoint.receives)
            .chain(&endpoint.sends)
        {
            if !self.spec.messages.contains_key(m.value.as_str()) {
                self.unknown("message", m, known.iter().copied(), "messages");
            }
        }
    }

    /// Checks an endpoint's `open` block: it allows something, says which
    /// permission sending needs (there is no default), and its endpoint has
    /// typed frames and no message whose variant would be called `Open`.
    fn open(
        &mut self,
        name: &Name,
        endpoint: &model::Endpoint,
        frames: Frames,
    ) -> Option<ir::Open> {
        let open = endpoint.open.as_ref()?;
        if frames == Frames::Raw {
            self.error(
                Diagnostic::new(
                    "wsauth::raw_with_messages",
                    open.span,
                    format!("endpoint `{}` has raw frames but allows open messages", name.value),
                )
                .help("raw endpoints pass frames through undecoded: remove `open`, or use `frames: json`"),
            );
            return None;
        }
        let receives = open.receives.as_ref().is_some_and(|r| r.value);
        let sends = open.sends.as_ref().is_some_and(|s| s.value);
        // A key that failed to read (`receive:`) explains what is missing.
        let explained = self.explained(open.span);
        if !receives && !sends && !explained {
            self.error(
                Diagnostic::new(
                    "wsauth::open_allows_nothing",
                    open.span,
                    format!("`open` on endpoint `{}` allows neither direction", name.value),
                )
                .help("set `receives: true` (clients send them), `sends: true` (the server does), or both; or remove `open`"),
            );
        }
        match (&open.perm, receives) {
            (Some(perm), true) => {
                self.known_permission(perm);
            }
            (Some(_), false) if explained => {}
            (Some(perm), false) => self.error(
                Diagnostic::new(
                    "wsauth::open_perm_unused",
                    perm.span,
                    "`open.perm` guards open messages clients send, but `receives` is not `true`",
                )
                .help("set `receives: true`, or remove `perm`"),
            ),
            (None, true) if explained => {}
            (None, true) => {
                let example = endpoint
                    .perm
                    .as_ref()
                    .map_or_else(|| "a permission".to_owned(), |p| format!("`{}`", p.value));
                self.error(
                    Diagnostic::new(
                        "wsauth::open_without_perm",
                        open.span,
                        format!(
                            "endpoint `{}` receives open messages but does not say who may send them",
                            name.value
                        ),
                    )
                    .help(format!(
                        "add `perm:` to `open`, e.g. {example}; open messages have no default permission"
                    )),
                );
            }
            (None, false) => {}
        }
        for m in endpoint
            .welcome
            .iter()
            .chain(&endpoint.receives)
            .chain(&endpoint.sends)
        {
            if naming::pascal(&m.value) == OPEN_VARIANT {
                self.error(
                    Diagnostic::new(
                        "wsauth::name_clash",
                        m.span,
                        format!(
                            "message `{}` and the open messages of endpoint `{}` both become `{OPEN_VARIANT}` in generated code",
                            m.value, name.value
                        ),
                    )
                    .also(open.span, "open messages allowed here")
                    .help("rename the message"),
                );
            }
        }
        Some(ir::Open {
            receives,
            sends,
            perm: open
                .perm
                .as_ref()
                .filter(|_| receives)
                .map(|p| p.value.clone()),
            description: open.description.clone(),
        })
    }

    fn stats(&mut self, endpoints: &[ir::Endpoint]) -> Option<ir::Stats> {
        let stats = self.spec.stats.as_ref()?;
        self.known_permission(&stats.perm);
        if !stats.path.starts_with('/') || stats.path.contains(['{', '}']) {
            self.error(
                Diagnostic::new(
                    "wsauth::bad_path",
                    stats.path.span,
                    format!("`{}` is not a valid stats path", stats.path.value),
                )
                .help("a fixed path starting with `/`, e.g. `/ws/stats`"),
            );
        }
        if let Some(e) = endpoints.iter().find(|e| e.path == stats.path.value) {
            self.error(
                Diagnostic::new(
                    "wsauth::duplicate_path",
                    stats.path.span,
                    format!("the stats path is also endpoint `{}`'s path", e.name),
                )
                .help("give statistics a path of their own"),
            );
        }
        Some(ir::Stats {
            path: stats.path.value.clone(),
            perm: stats.perm.value.clone(),
            description: stats.description.clone(),
        })
    }

    /// Sets each message's direction from the endpoints, and checks that a
    /// message permission is only on messages clients send.
    fn directions(&mut self, endpoints: &[ir::Endpoint], messages: &mut [ir::Message]) {
        for m in messages.iter_mut() {
            let received = endpoints.iter().any(|e| e.receives.contains(&m.name));
            let sent = endpoints.iter().any(|e| e.sends.contains(&m.name));
            m.direction = match (received, sent) {
                (true, true) => Direction::Both,
                (true, false) => Direction::ClientToServer,
                (false, true) => Direction::ServerToClient,
                (false, false) => Direction::Unused,
            };
            if m.direction == Direction::ServerToClient
                && let Some(perm) = self
                    .spec
                    .messages
                    .get(m.name.as_str())
                    .and_then(|x| x.perm.as_ref())
            {
                self.error(
                        Diagnostic::new(
                            "wsauth::perm_on_server_message",
                            perm.span,
                            format!("message `{}` has a `perm`, but only the server sends it", m.name),
                        )
                        .help("`perm` guards what a client may send; guard who receives it with the endpoint's `perm`"),
                    );
            }
        }
    }
}

fn family_word(f: model::KeyFamily) -> &'static str {
    match f {
        model::KeyFamily::Hmac => "HMAC",
        model::KeyFamily::Rsa => "RSA",
        model::KeyFamily::Ec => "EC",
        model::KeyFamily::Okp => "Ed25519",
    }
}

/// The permission names a spec declares, in order.
fn declared_permissions(spec: &model::Spec) -> impl Iterator<Item = &str> + Clone {
    spec.permissions.keys().map(|k| k.value.as_str())
}
