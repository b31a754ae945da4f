//! The checks a spec implies, in the order they run.

use std::time::Duration;

use serde_json::{Map, Value, json};
use wsauth_spec::{Access, Binding, FailureKind, Keyword as _, ParamType, TokenSource, wire};

use super::socket::Request;
use super::{Action, Check, Expect, Observed, Options, ProbeError, forge};
use crate::ir::{Api, Endpoint, Schema, SchemaKind, Segment};
use crate::token::{TokenRequest, mint};

/// The most connections the per-user limit check opens.
const MAX_LIMIT_CONNECTIONS: u32 = 64;
/// The most frames the rate limit check sends.
const MAX_FLOOD_FRAMES: u32 = 2_000;
/// The largest message the size check sends.
const MAX_OVERSIZE_BYTES: u32 = 16 << 20;
/// The longest the expiry check waits without `--slow`.
const MAX_FAST_EXPIRY: Duration = Duration::from_secs(10);

/// Every check `api` implies for a server at `options.url`.
pub fn plan(api: &Api, options: &Options) -> Result<Vec<Check>, ProbeError> {
    allowed(options)?;
    if options.secret.is_none() && options.tokens.is_empty() && needs_tokens(api) {
        return Err(ProbeError::NoTokens);
    }
    let planner = Planner { api, options };
    let mut checks = Vec::new();
    for endpoint in &api.endpoints {
        planner.endpoint(endpoint, &mut checks)?;
    }
    Ok(checks)
}

/// Whether any endpoint reads tokens.
fn needs_tokens(api: &Api) -> bool {
    api.endpoints.iter().any(|e| e.access != Access::Anonymous)
}

/// Loopback, or a host allowed by name.
fn allowed(options: &Options) -> Result<(), ProbeError> {
    let rest = options
        .url
        .strip_prefix("ws://")
        .ok_or_else(|| ProbeError::Url(options.url.clone()))?;
    let authority = rest.split('/').next().unwrap_or(rest);
    let host = match authority.strip_prefix('[') {
        Some(v6) => v6.split(']').next().unwrap_or(v6),
        None => authority.rsplit_once(':').map_or(authority, |(h, _)| h),
    };
    let loopback = host == "localhost"
        || host
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback());
    if loopback || options.allow_hosts.iter().any(|h| h == host) {
        Ok(())
    } else {
        Err(ProbeError::HostNotAllowed(host.to_owned()))
    }
}

struct Planner<'a> {
    api: &'a Api,
    options: &'a Options,
}

/// A token and where it travels.
struct Token {
    role: Option<String>,
    value: String,
}

impl Planner<'_> {
    fn close(&self, kind: FailureKind) -> Expect {
        match self.api.close_code(kind) {
            Some(close) => Expect::Closed {
                kind,
                code: close.code,
                reason: close.reason.clone(),
            },
            None => Expect::Closed {
                kind,
                code: 1008,
                reason: String::new(),
            },
        }
    }

    fn refused(&self, endpoint: &Endpoint, kind: FailureKind) -> Expect {
        let Expect::Closed { code, reason, .. } = self.close(kind) else {
            unreachable!("close() gives Closed")
        };
        Expect::Refused {
            kind,
            code,
            reason,
            error_reply: endpoint.sends.iter().any(|m| m == "error"),
        }
    }

    /// A token for `role` (minted, or given), living `ttl_s`.
    fn token(&self, role: &str, ttl_s: Option<u64>) -> Result<Option<Token>, ProbeError> {
        if let Some(secret) = &self.options.secret {
            let request = TokenRequest {
                subject: self.options.subject.clone(),
                roles: vec![role.to_owned()],
                ttl_s,
                ..TokenRequest::default()
            };
            let minted = mint(self.api, &request, secret, now())?;
            return Ok(Some(Token {
                role: Some(role.to_owned()),
                value: minted.token,
            }));
        }
        Ok(self
            .options
            .tokens
            .iter()
            .find(|(r, _)| r == role)
            .map(|(r, t)| Token {
                role: Some(r.clone()),
                value: t.clone(),
            }))
    }

    /// The path of `endpoint` with `subject` in subject-bound parameters.
    fn path(&self, endpoint: &Endpoint, subject: &str) -> (String, bool) {
        self.path_with(endpoint, subject, &self.options.samples)
    }

    /// [`path`](Self::path), the parameters not bound to the subject taken
    /// from `samples` (`false` beside it when one is missing).
    fn path_with(
        &self,
        endpoint: &Endpoint,
        subject: &str,
        samples: &[(String, String)],
    ) -> (String, bool) {
        let mut path = String::new();
        let mut sampled = true;
        for segment in &endpoint.segments {
            path.push('/');
            match segment {
                Segment::Literal(text) => path.push_str(text),
                Segment::Param(name) => {
                    let param = endpoint.params.iter().find(|p| &p.name == name);
                    if param.is_some_and(|p| p.equals == Some(Binding::Subject)) {
                        path.push_str(&encode(subject));
                    } else if let Some((_, value)) = samples.iter().find(|(n, _)| n == name) {
                        path.push_str(&encode(value));
                    } else {
                        sampled = false;
                        path.push_str(match param.map(|p| p.ty) {
                            Some(ParamType::Integer) => "1",
                            Some(ParamType::Uuid) => "00000000-0000-4000-8000-000000000000",
                            _ => "probe",
                        });
                    }
                }
            }
        }
        if path.is_empty() {
            path.push('/');
        }
        (path, sampled)
    }

    /// A handshake for `endpoint` carrying `token` in its preferred source
    /// (`None` when it has none the probe can use).
    fn request(&self, endpoint: &Endpoint, path: &str, token: Option<&str>) -> Option<Request> {
        let mut request = Request {
            path: path.to_owned(),
            welcome: endpoint.welcome.clone(),
            ..Request::default()
        };
        let Some(token) = token else {
            return Some(request);
        };
        let source = self.source(endpoint)?;
        self.place(&mut request, source, token);
        Some(request)
    }

    /// The source tokens travel in: the header where allowed, as the
    /// generated clients prefer; a cookie only with an allowed origin.
    fn source<'e>(&self, endpoint: &'e Endpoint) -> Option<&'e TokenSource> {
        let rank = |s: &TokenSource| match s {
            TokenSource::Header => 0,
            TokenSource::Query(_) => 1,
            TokenSource::Subprotocol(_) => 2,
            TokenSource::Cookie(_) => 3,
        };
        endpoint
            .sources
            .iter()
            .filter(|s| !matches!(s, TokenSource::Cookie(_)) || self.options.origin.is_some())
            .min_by_key(|s| rank(s))
    }

    fn place(&self, request: &mut Request, source: &TokenSource, token: &str) {
        place(request, source, token, self.options.origin.as_deref());
    }

    /// What the spec prescribes for `role` (`None`: no token) opening
    /// `endpoint` as its own subject.
    fn admission(&self, endpoint: &Endpoint, role: Option<&str>) -> Result<(), FailureKind> {
        let anonymous = self
            .api
            .auth
            .as_ref()
            .and_then(|a| a.anonymous_role.as_deref());
        let holder = match (endpoint.access, role) {
            (Access::Anonymous, _) | (Access::Optional, None) => anonymous,
            (Access::Required, None) => return Err(FailureKind::AuthRequired),
            (_, Some(role)) => Some(role),
        };
        match &endpoint.perm {
            Some(perm) if !holder.is_some_and(|h| self.api.role_grants(h, perm)) => {
                Err(FailureKind::Forbidden)
            }
            _ => Ok(()),
        }
    }

    fn push(
        &self,
        checks: &mut Vec<Check>,
        group: &str,
        name: String,
        expect: Expect,
        action: Option<Action>,
        skip: Option<String>,
    ) {
        let request = match &action {
            Some(
                Action::Open(r)
                | Action::Send(r, _)
                | Action::Oversize(r, _)
                | Action::ConnectionLimit(r, _)
                | Action::Flood(r, _)
                | Action::Expiry(r, _)
                | Action::Idle(r, _)
                | Action::Protocol(r),
            ) => r.describe(),
            _ => String::new(),
        };
        let request = match &action {
            Some(Action::Send(_, frames)) => {
                let frames: Vec<String> = frames.iter().map(|f| clip(f)).collect();
                format!("{request}; then {}", frames.join(" then "))
            }
            Some(Action::Oversize(_, bytes)) => format!("{request}; then {bytes} bytes of text"),
            Some(Action::Flood(_, count)) => format!("{request}; then {count} pings"),
            Some(Action::ConnectionLimit(_, count)) => {
                format!("{count} connections held, then one more: {request}")
            }
            _ => request,
        };
        let skip = skip.or_else(|| action.is_none().then(|| "nothing to send it with".into()));
        // Checks that wait on an open connection cannot tell anything if
        // the endpoint finishes first.
        let inconclusive = matches!(
            action,
            Some(
                Action::Oversize(..)
                    | Action::Flood(..)
                    | Action::Expiry(..)
                    | Action::Idle(..)
                    | Action::ConnectionLimit(..)
            )
        )
        .then(|| match self.close(FailureKind::Completed) {
            Expect::Closed { code, reason, .. } => Observed::Closed { code, reason },
            _ => Observed::Timeout,
        });
        checks.push(Check {
            name,
            group: group.to_owned(),
            request,
            expect,
            action: action.unwrap_or(Action::None),
            skip,
            inconclusive,
        });
    }

    fn endpoint(&self, endpoint: &Endpoint, checks: &mut Vec<Check>) -> Result<(), ProbeError> {
        let group = format!("endpoint {}", endpoint.name);
        let subject = self.options.subject.as_str();
        let (path, sampled) = self.path(endpoint, subject);
        let has_checks = !endpoint.checks.is_empty();
        let uses_tokens = endpoint.access != Access::Anonymous;

        // The matrix: no token, then every role.
        let mut roles: Vec<Option<&str>> = vec![None];
        if uses_tokens {
            roles.extend(self.api.roles.iter().map(|r| Some(r.name.as_str())));
        }
        let mut admitted_token: Option<Token> = None;
        for role in roles {
            let who = role.map_or("no token".to_owned(), |r| format!("role `{r}`"));
            let expect = match self.admission(endpoint, role) {
                Ok(()) => Expect::Admitted,
                Err(kind) => self.close(kind),
            };
            let token = match role {
                Some(role) => {
                    match self.token(role, None)? {
                        Some(token) => Some(token),
                        None => {
                            self.push(checks, &group, format!("{who} opens it"), expect, None,
                            Some(format!("no token for role `{role}` (--token {role}=... or --secret-env)")));
                            continue;
                        }
                    }
                }
                None => None,
            };
            let skip = (expect == Expect::Admitted && has_checks && !sampled).then(|| {
                "its resource checks decide: give values every probed subject may open (--sample name=value)".to_owned()
            });
            let request = self.request(endpoint, &path, token.as_ref().map(|t| t.value.as_str()));
            self.push(
                checks,
                &group,
                format!("{who} opens it"),
                expect.clone(),
                request.map(Action::Open),
                skip,
            );
            if expect == Expect::Admitted && token.is_some() && admitted_token.is_none() {
                admitted_token = token;
            }
        }
        // Whether a connection the spec admits really opens: not known
        // for resource checks without samples. Refusals that come before
        // those checks (tokens, subject binding) are probed either way.
        let opens = !has_checks || sampled;
        let Some(valid) = admitted_token.or_else(|| {
            // Anonymous endpoints: the limits below need no token.
            (!uses_tokens || endpoint.access == Access::Optional)
                .then(|| Token {
                    role: None,
                    value: String::new(),
                })
                .filter(|_| self.admission(endpoint, None).is_ok())
        }) else {
            return Ok(());
        };
        let valid_token = (!valid.value.is_empty()).then_some(valid.value.as_str());
        let Some(base) = self.request(endpoint, &path, valid_token) else {
            return Ok(());
        };

        // Subject binding.
        if uses_tokens
            && endpoint
                .params
                .iter()
                .any(|p| p.equals == Some(Binding::Subject))
        {
            let (other, _) = self.path(endpoint, &self.options.other_subject);
            self.push(
                checks,
                &group,
                format!(
                    "`{}`'s token on `{}`'s path",
                    subject, self.options.other_subject
                ),
                self.close(FailureKind::SubjectMismatch),
                self.request(endpoint, &other, valid_token)
                    .map(Action::Open),
                None,
            );
        }

        // A resource someone else holds: the endpoint's checks refuse it.
        if has_checks && let Some(valid_token) = valid_token {
            let foreign: Vec<(String, String)> = self
                .options
                .foreign_samples
                .iter()
                .chain(&self.options.samples)
                .cloned()
                .collect();
            let (path, complete) = self.path_with(endpoint, subject, &foreign);
            let reads_foreign = endpoint.params.iter().any(|p| {
                self.options
                    .foreign_samples
                    .iter()
                    .any(|(n, _)| *n == p.name)
            });
            if complete && reads_foreign {
                self.push(
                    checks,
                    &group,
                    format!("`{subject}` opens a resource of someone else's (--foreign-sample)"),
                    Expect::OneOf(vec![
                        self.close(FailureKind::Forbidden),
                        self.close(FailureKind::NotFound),
                    ]),
                    self.request(endpoint, &path, Some(valid_token))
                        .map(Action::Open),
                    None,
                );
            }
        }

        // Token attacks.
        if uses_tokens && let Some(valid_token) = valid_token {
            let hs256 = self
                .api
                .auth
                .as_ref()
                .and_then(|a| a.jwt.as_ref())
                .is_some_and(|jwt| {
                    jwt.keys
                        .iter()
                        .any(|k| k.algorithms.contains(&wsauth_spec::Algorithm::HS256))
                });
            for forged in forge::catalogue(valid_token, self.options.secret.as_deref(), hs256) {
                self.push(
                    checks,
                    &group,
                    format!("token: {}", forged.name),
                    self.close(FailureKind::AuthFailed),
                    self.request(endpoint, &path, Some(&forged.token))
                        .map(Action::Open),
                    None,
                );
            }
            self.conflicting(endpoint, &path, valid.role.as_deref(), checks, &group)?;
            if let Some(TokenSource::Subprotocol(_)) = endpoint
                .sources
                .iter()
                .find(|s| matches!(s, TokenSource::Subprotocol(_)))
            {
                let mut request = self.request(endpoint, &path, None).unwrap_or_default();
                if let Some(source @ TokenSource::Subprotocol(_)) = endpoint
                    .sources
                    .iter()
                    .find(|s| matches!(s, TokenSource::Subprotocol(_)))
                {
                    self.place(&mut request, source, valid_token);
                }
                self.push(
                    checks,
                    &group,
                    "the 101 selects the marker protocol, never the token".into(),
                    Expect::ProtocolNotToken,
                    Some(Action::Protocol(request)),
                    None,
                );
            }
            if endpoint
                .sources
                .iter()
                .any(|s| matches!(s, TokenSource::Cookie(_)))
            {
                let mut request = self.request(endpoint, &path, None).unwrap_or_default();
                if let Some(TokenSource::Cookie(name)) = endpoint
                    .sources
                    .iter()
                    .find(|s| matches!(s, TokenSource::Cookie(_)))
                {
                    request
                        .headers
                        .push(("cookie".into(), format!("{name}={valid_token}")));
                    request
                        .headers
                        .push(("origin".into(), "https://probe.invalid".into()));
                }
                self.push(
                    checks,
                    &group,
                    "a cookie token from a foreign origin".into(),
                    Expect::Http { status: 403 },
                    Some(Action::Open(request)),
                    None,
                );
            }
            if opens {
                self.expiry(endpoint, &path, valid.role.as_deref(), checks, &group)?;
            }
        }
        if !opens {
            return Ok(());
        }

        // Messages with a permission of their own; topic requests.
        self.message_permissions(endpoint, &path, checks, &group)?;
        self.topics(endpoint, &path, checks)?;

        // Limits.
        let limits = &endpoint.limits;
        let over = limits.max_message_bytes.saturating_add(1);
        self.push(
            checks,
            &group,
            format!("a message of {over} bytes (max_message_bytes + 1)"),
            self.close(FailureKind::MessageTooBig),
            Some(Action::Oversize(base.clone(), over as usize)),
            (limits.max_message_bytes > MAX_OVERSIZE_BYTES)
                .then(|| format!("max_message_bytes is over {MAX_OVERSIZE_BYTES}")),
        );
        if uses_tokens && valid_token.is_some() {
            let max = limits.max_connections_per_user;
            self.push(
                checks,
                &group,
                format!(
                    "connection {} of one user (max_connections_per_user {max})",
                    max + 1
                ),
                self.close(FailureKind::TooManyConnections),
                Some(Action::ConnectionLimit(base.clone(), max)),
                (max > MAX_LIMIT_CONNECTIONS)
                    .then(|| format!("max_connections_per_user is over {MAX_LIMIT_CONNECTIONS}")),
            );
        }
        let idle = Duration::from_secs(u64::from(limits.idle_timeout_s) + 3);
        self.push(
            checks,
            &group,
            format!(
                "a client silent for idle_timeout_s ({} s)",
                limits.idle_timeout_s
            ),
            self.close(FailureKind::IdleTimeout),
            Some(Action::Idle(base.clone(), idle)),
            (!self.options.slow).then(|| format!("waits {} s (--slow)", idle.as_secs())),
        );
        let flood = limits
            .burst
            .saturating_mul(2)
            .saturating_add(limits.messages_per_second);
        self.push(
            checks,
            &group,
            format!(
                "{flood} frames at once (burst {}, {} per second)",
                limits.burst, limits.messages_per_second
            ),
            self.close(FailureKind::RateLimited),
            Some(Action::Flood(base, flood)),
            (flood > MAX_FLOOD_FRAMES)
                .then(|| format!("the rate limit allows over {MAX_FLOOD_FRAMES} frames at once")),
        );
        Ok(())
    }

    /// Two different valid tokens in two sources.
    fn conflicting(
        &self,
        endpoint: &Endpoint,
        path: &str,
        role: Option<&str>,
        checks: &mut Vec<Check>,
        group: &str,
    ) -> Result<(), ProbeError> {
        let usable: Vec<&TokenSource> = endpoint
            .sources
            .iter()
            .filter(|s| !matches!(s, TokenSource::Cookie(_)) || self.options.origin.is_some())
            .collect();
        let (Some(role), [first, second, ..]) = (role, usable.as_slice()) else {
            return Ok(());
        };
        // Two tokens that differ: one minted a second shorter-lived.
        let (Some(a), Some(b)) = (self.token(role, None)?, self.token(role, Some(60))?) else {
            return Ok(());
        };
        if a.value == b.value {
            return Ok(());
        }
        let mut request = self.request(endpoint, path, None).unwrap_or_default();
        self.place(&mut request, first, &a.value);
        self.place(&mut request, second, &b.value);
        self.push(
            checks,
            group,
            "two different tokens in two sources".into(),
            self.close(FailureKind::AuthFailed),
            Some(Action::Open(request)),
            None,
        );
        Ok(())
    }

    /// A token that expires while connected is closed at `exp` (+ the
    /// spec's leeway).
    fn expiry(
        &self,
        endpoint: &Endpoint,
        path: &str,
        role: Option<&str>,
        checks: &mut Vec<Check>,
        group: &str,
    ) -> Result<(), ProbeError> {
        let (Some(role), Some(jwt), Some(_)) = (
            role,
            self.api.auth.as_ref().and_then(|a| a.jwt.as_ref()),
            &self.options.secret,
        ) else {
            return Ok(());
        };
        let ttl = 2;
        let wait = Duration::from_secs(ttl + jwt.leeway_s + 3);
        let Some(mut request) = self.request(endpoint, path, None) else {
            return Ok(());
        };
        let Some(source) = self.source(endpoint).cloned() else {
            return Ok(());
        };
        let (api, secret) = (
            self.api.clone(),
            self.options.secret.clone().unwrap_or_default(),
        );
        let token = TokenRequest {
            subject: self.options.subject.clone(),
            roles: vec![role.to_owned()],
            ttl_s: Some(ttl),
            ..TokenRequest::default()
        };
        // Placed as a mark now, replaced by a token minted as the check
        // starts.
        place(&mut request, &source, MARK, self.options.origin.as_deref());
        request.fresh = Some(super::socket::Fresh {
            mark: MARK,
            mint: std::sync::Arc::new(move || {
                mint(&api, &token, &secret, now()).ok().map(|m| m.token)
            }),
        });
        self.push(
            checks,
            group,
            format!(
                "a token living {ttl} s is closed at exp (+ leeway {} s)",
                jwt.leeway_s
            ),
            self.close(FailureKind::TokenExpired),
            Some(Action::Expiry(request, wait)),
            (wait > MAX_FAST_EXPIRY && !self.options.slow)
                .then(|| format!("waits {} s (--slow)", wait.as_secs())),
        );
        if self
            .api
            .auth
            .as_ref()
            .is_some_and(|a| a.on_expiry.word() == "refresh")
            && let Some(first) = self.token(role, Some(120))?
            && let Some(fresh) = self.token(role, Some(300))?
            && let Some(request) = self.request(endpoint, path, Some(&first.value))
        {
            let frame = json!({ "type": wire::REFRESH, "token": fresh.value }).to_string();
            self.push(
                checks,
                group,
                "an in-band refresh with a fresh token".into(),
                Expect::Reply {
                    kind: wire::REFRESHED.into(),
                    code: None,
                },
                Some(Action::Send(request, vec![frame])),
                None,
            );
        }
        Ok(())
    }

    /// Each topic clients subscribe to on `endpoint`, by every role the
    /// endpoint admits: subscribed, or refused `forbidden`, as the topic's
    /// `subscribe` permission says; then, for those subscribed, a publish
    /// as its `publish` permission says.
    fn topics(
        &self,
        endpoint: &Endpoint,
        path: &str,
        checks: &mut Vec<Check>,
    ) -> Result<(), ProbeError> {
        for topic in endpoint.topics.iter().filter(|t| t.client_subscribes()) {
            let Some(topic) = self.api.topic(&topic.name) else {
                continue;
            };
            let group = format!("topic {} on {}", topic.name, endpoint.name);
            let mut params = Map::new();
            let mut sampled = true;
            for param in &topic.params {
                let value = match self.options.samples.iter().find(|(n, _)| *n == param.name) {
                    Some((_, v)) => v.clone(),
                    None => {
                        sampled = false;
                        match param.ty {
                            ParamType::Integer => "1".into(),
                            ParamType::Uuid => "00000000-0000-4000-8000-000000000000".into(),
                            ParamType::String => "probe".into(),
                        }
                    }
                };
                params.insert(
                    param.name.clone(),
                    match param.ty {
                        ParamType::Integer => {
                            value.parse::<i64>().map_or(json!(value), |n| json!(n))
                        }
                        _ => json!(value),
                    },
                );
            }
            let subscribe = json!({
                "type": wire::SUBSCRIBE, "id": 1, "topic": topic.name, "params": params,
            })
            .to_string();
            let sample = topic.messages.iter().find_map(|name| {
                let message = self.api.message(name)?;
                sample(self.api, name, &message.payload, message.example.as_ref())
            });
            for role in &self.api.roles {
                if self.admission(endpoint, Some(&role.name)).is_err() {
                    continue;
                }
                let Some(token) = self.token(&role.name, None)? else {
                    continue;
                };
                let Some(request) = self.request(endpoint, path, Some(&token.value)) else {
                    continue;
                };
                let may = self.api.role_grants(&role.name, &topic.subscribe);
                let skip = (may && !topic.checks.is_empty() && !sampled).then(|| {
                    "its resource checks decide: give values every probed subject may open (--sample name=value)".to_owned()
                });
                let refused = Expect::Reply {
                    kind: wire::REFUSED.into(),
                    code: Some(wsauth_spec::wire::TopicRefusal::Forbidden.word().into()),
                };
                self.push(
                    checks,
                    &group,
                    format!(
                        "role `{}` subscribes (needs `{}`)",
                        role.name, topic.subscribe
                    ),
                    if may {
                        Expect::Reply {
                            kind: wire::SUBSCRIBED.into(),
                            code: None,
                        }
                    } else {
                        refused.clone()
                    },
                    Some(Action::Send(request.clone(), vec![subscribe.clone()])),
                    skip.clone(),
                );
                let (true, Some(publish), Some(message)) = (may, &topic.publish, &sample) else {
                    continue;
                };
                let message: Value = serde_json::from_str(message).unwrap_or(Value::Null);
                let frame = json!({
                    "type": wire::PUBLISH, "id": 2, "topic": topic.name, "params": params,
                    "message": message,
                })
                .to_string();
                self.push(
                    checks,
                    &group,
                    format!("role `{}` publishes (needs `{publish}`)", role.name),
                    if self.api.role_grants(&role.name, publish) {
                        Expect::Reply {
                            kind: wire::PUBLISHED.into(),
                            code: None,
                        }
                    } else {
                        refused.clone()
                    },
                    Some(Action::Send(request, vec![subscribe.clone(), frame])),
                    skip,
                );
            }
        }
        Ok(())
    }

    /// Each received message with a `perm`: refused for an admitted role
    /// without it, accepted for one with it.
    fn message_permissions(
        &self,
        endpoint: &Endpoint,
        path: &str,
        checks: &mut Vec<Check>,
        group: &str,
    ) -> Result<(), ProbeError> {
        for name in &endpoint.receives {
            let Some(message) = self.api.message(name) else {
                continue;
            };
            let Some(perm) = &message.perm else {
                continue;
            };
            let frame = sample(self.api, name, &message.payload, message.example.as_ref());
            for role in &self.api.roles {
                if self.admission(endpoint, Some(&role.name)).is_err() {
                    continue;
                }
                let holds = self.api.role_grants(&role.name, perm);
                let expect = if holds {
                    let Expect::Closed { code, reason, .. } = self.close(FailureKind::Forbidden)
                    else {
                        unreachable!("close() gives Closed")
                    };
                    Expect::Permitted { code, reason }
                } else {
                    self.refused(endpoint, FailureKind::Forbidden)
                };
                let token = self.token(&role.name, None)?;
                let action = token
                    .and_then(|t| self.request(endpoint, path, Some(&t.value)))
                    .zip(frame.clone())
                    .map(|(request, frame)| Action::Send(request, vec![frame]));
                let skip = frame
                    .is_none()
                    .then(|| format!("no sample of `{name}` (give the message an `example`)"));
                self.push(
                    checks,
                    group,
                    format!("role `{}` sends `{name}` (needs `{perm}`)", role.name),
                    expect,
                    action,
                    skip,
                );
            }
        }
        Ok(())
    }
}

/// Stands for a token placed before it is minted.
const MARK: &str = "PROBE-TOKEN-MARK";

/// Puts `token` where `source` says, with `origin` beside a cookie.
fn place(request: &mut Request, source: &TokenSource, token: &str, origin: Option<&str>) {
    match source {
        TokenSource::Header => request
            .headers
            .push(("authorization".into(), format!("Bearer {token}"))),
        TokenSource::Query(name) => {
            let sep = if request.path.contains('?') { '&' } else { '?' };
            request.path = format!("{}{sep}{name}={token}", request.path);
        }
        TokenSource::Subprotocol(marker) => {
            request.protocols.push(marker.clone());
            request.protocols.push(format!("{marker}.bearer.{token}"));
        }
        TokenSource::Cookie(name) => {
            request
                .headers
                .push(("cookie".into(), format!("{name}={token}")));
            if let Some(origin) = origin {
                request.headers.push(("origin".into(), origin.to_owned()));
            }
        }
    }
}

/// A frame of message `name`: its `example`, else the smallest value its
/// schema admits (`None` when a pattern or format makes that guesswork).
fn sample(api: &Api, name: &str, schema: &Schema, example: Option<&Value>) -> Option<String> {
    let payload = match example {
        Some(Value::Object(map)) => Value::Object(map.clone()),
        _ => minimal(api, schema, 0)?,
    };
    let mut frame = Map::new();
    frame.insert("type".into(), json!(name));
    if let Value::Object(fields) = payload {
        frame.extend(fields);
    }
    Some(Value::Object(frame).to_string())
}

fn minimal(api: &Api, schema: &Schema, depth: usize) -> Option<Value> {
    if depth > 16 {
        return None;
    }
    Some(match &schema.kind {
        SchemaKind::Object { fields } => {
            let mut map = Map::new();
            for field in fields.iter().filter(|f| f.required) {
                map.insert(field.name.clone(), minimal(api, &field.schema, depth + 1)?);
            }
            Value::Object(map)
        }
        SchemaKind::String {
            values,
            min_length,
            format,
            pattern,
            ..
        } => {
            if let Some(first) = values.first() {
                json!(first)
            } else if pattern.is_some() {
                return None;
            } else {
                match format.as_deref() {
                    Some("date-time") => json!("2026-01-01T00:00:00Z"),
                    Some("date") => json!("2026-01-01"),
                    Some("uuid") => json!("00000000-0000-4000-8000-000000000000"),
                    Some(_) => return None,
                    None => json!("p".repeat(min_length.unwrap_or(1).max(1) as usize)),
                }
            }
        }
        SchemaKind::Integer { minimum, .. } | SchemaKind::Number { minimum, .. } => {
            json!(minimum.map_or(1, |m| m.max(1.0) as i64))
        }
        SchemaKind::Boolean => json!(true),
        SchemaKind::Array {
            items, min_items, ..
        } => {
            let item = minimal(api, items, depth + 1)?;
            Value::Array(vec![item; min_items.unwrap_or(0) as usize])
        }
        SchemaKind::Any => json!("probe"),
        SchemaKind::Ref { name } => minimal(api, api.schema(name)?, depth + 1)?,
    })
}

fn encode(value: &str) -> String {
    value
        .bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

fn clip(text: &str) -> String {
    if text.len() > 80 {
        let end = text.char_indices().nth(77).map_or(text.len(), |(i, _)| i);
        format!("{}…", &text[..end])
    } else {
        text.to_owned()
    }
}

fn now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}
