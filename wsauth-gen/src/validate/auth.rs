//! Authentication: token sources, local JWT verification (key slots and
//! their algorithms), remote introspection and the expiry policy.

use std::collections::HashMap;

use super::Validator;
use crate::diagnostic::{Diagnostic, Span};
use crate::ir;
use crate::spec::model::{self, ExpiryPolicy, Fallback, SourceKind, Spanned, TokenSource};
use wsauth_spec::Keyword;

fn family_word(f: model::KeyFamily) -> &'static str {
    match f {
        model::KeyFamily::Hmac => "HMAC",
        model::KeyFamily::Rsa => "RSA",
        model::KeyFamily::Ec => "EC",
        model::KeyFamily::Okp => "Ed25519",
    }
}

impl Validator<'_> {
    pub(super) fn auth(&mut self) -> Option<ir::Auth> {
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
}
