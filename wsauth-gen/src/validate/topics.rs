//! Topics: their params, who may subscribe and publish, the messages that
//! flow on them, presence and history; and the endpoints that list them.

use std::collections::HashSet;

use super::Validator;
use super::names::{PARAM, TOPIC};
use crate::diagnostic::Diagnostic;
use crate::ir;
use crate::naming;
use crate::spec::model::{self, Access, Deliver, Name, ParamType, Spanned};
use wsauth_spec::Keyword;

/// The most publications a topic instance may keep. History lives in the
/// server's memory, once per instance: a bound keeps one spec line from
/// costing gigabytes.
pub const MAX_HISTORY_SIZE: u32 = 10_000;

/// The longest a publication may be kept, in seconds: a day. Longer
/// absences are a reload, not a recovery.
pub const MAX_HISTORY_TTL_S: u32 = 86_400;

impl Validator<'_> {
    pub(super) fn topics(&mut self, roles: &[ir::Role]) -> Vec<ir::Topic> {
        let mut out = Vec::new();
        self.distinct_type_names("topic", self.spec.topics.keys());
        for (name, topic) in &self.spec.topics {
            self.check_name(name, &TOPIC);
            let params = self.topic_params(topic);
            let subscribe = &topic.subscribe;
            if self.known_permission(subscribe) {
                self.granted_by_a_role(name, subscribe, "subscribe to", roles);
            }
            if let Some(publish) = &topic.publish
                && self.known_permission(publish)
            {
                self.granted_by_a_role(name, publish, "publish on", roles);
            }
            for check in &topic.checks {
                if !self.spec.checks.contains_key(check.value.as_str()) {
                    let known: Vec<&str> =
                        self.spec.checks.keys().map(|k| k.value.as_str()).collect();
                    self.unknown("check", check, known, "checks");
                }
            }
            self.topic_messages(name, topic);
            let holders = |perm: &str| -> Vec<String> {
                roles
                    .iter()
                    .filter(|r| r.all || r.permissions.iter().any(|p| p == perm))
                    .map(|r| r.name.clone())
                    .collect()
            };
            out.push(ir::Topic {
                name: name.value.clone(),
                description: topic.description.clone(),
                params,
                subscribe: subscribe.value.clone(),
                subscribers: holders(&subscribe.value),
                checks: topic.checks.iter().map(|c| c.value.clone()).collect(),
                publish: topic.publish.as_ref().map(|p| p.value.clone()),
                publishers: topic
                    .publish
                    .as_ref()
                    .map(|p| holders(&p.value))
                    .unwrap_or_default(),
                messages: topic.messages.iter().map(|m| m.value.clone()).collect(),
                presence: topic.presence.as_ref().is_some_and(|p| p.value),
                history: topic.history.as_ref().and_then(|h| self.history(h)),
                open: topic.open.as_ref().is_some_and(|o| o.value),
                idents: naming::topic(&name.value),
                loc: self.loc(name.span),
            });
        }
        out
    }

    fn topic_params(&mut self, topic: &model::Topic) -> Vec<ir::TopicParam> {
        self.distinct_field_names(topic.params.keys());
        let mut out = Vec::new();
        for (pname, param) in &topic.params {
            self.check_name(pname, &PARAM);
            if param.ty.value == ParamType::Uuid {
                self.error(
                    Diagnostic::new(
                        "wsauth::topic_param_type",
                        param.ty.span,
                        format!(
                            "topic parameter `{}` is a `{}`, but topic params are `string` or `integer`",
                            pname.value,
                            param.ty.word()
                        ),
                    )
                    .help("write `type: string`: the topic's checks see every param as its raw string"),
                );
            }
            out.push(ir::TopicParam {
                name: pname.value.clone(),
                ty: param.ty.value,
                description: param.description.clone(),
            });
        }
        out
    }

    /// Reports a permission that no role grants: nobody could use it, so
    /// the spec says something it does not mean.
    fn granted_by_a_role(
        &mut self,
        topic: &Name,
        perm: &Spanned<String>,
        action: &str,
        roles: &[ir::Role],
    ) {
        let granted = roles
            .iter()
            .any(|r| r.all || r.permissions.contains(&perm.value));
        if !granted {
            self.error(
                Diagnostic::new(
                    "wsauth::permission_not_granted",
                    perm.span,
                    format!(
                        "no role grants `{}`, so nobody may {action} topic `{}`",
                        perm.value, topic.value
                    ),
                )
                .help(format!("grant `{}` to a role under `roles`", perm.value)),
            );
        }
    }

    fn topic_messages(&mut self, name: &Name, topic: &model::Topic) {
        if topic.messages.is_empty() {
            self.error(
                Diagnostic::new(
                    "wsauth::topic_without_messages",
                    topic.messages.span,
                    format!("topic `{}` lists no messages", name.value),
                )
                .help("list the messages that may be published on it, e.g. `messages: [message_posted]`"),
            );
        }
        let known: Vec<&str> = self
            .spec
            .messages
            .keys()
            .map(|k| k.value.as_str())
            .collect();
        let mut seen = HashSet::new();
        for m in topic.messages.iter() {
            if !seen.insert(m.value.as_str()) {
                self.error(
                    Diagnostic::new(
                        "wsauth::duplicate_message",
                        m.span,
                        format!("message `{}` is listed twice", m.value),
                    )
                    .help("list each message once"),
                );
            } else if !self.spec.messages.contains_key(m.value.as_str()) {
                self.unknown("message", m, known.iter().copied(), "messages");
            }
        }
    }

    fn history(&mut self, history: &model::History) -> Option<ir::History> {
        let mut ok = true;
        let bounds = [
            (
                &history.size,
                "size",
                MAX_HISTORY_SIZE,
                "publications per instance",
            ),
            (&history.ttl_s, "ttl_s", MAX_HISTORY_TTL_S, "seconds"),
        ];
        for (value, key, max, unit) in bounds {
            if value.value == 0 || value.value > max {
                ok = false;
                self.error(
                    Diagnostic::new(
                        "wsauth::history_bounds",
                        value.span,
                        format!("`history.{key}` is {}, outside 1..={max}", value.value),
                    )
                    .help(format!(
                        "keep between 1 and {max} {unit}, or remove `history`"
                    )),
                );
            }
        }
        ok.then_some(ir::History {
            size: history.size.value,
            ttl_s: history.ttl_s.value,
        })
    }

    /// Checks an endpoint's `topics`: each is declared, listed once, and
    /// the endpoint speaks JSON (subscriptions are JSON control messages);
    /// on an anonymous endpoint, its connections may subscribe to each; a
    /// topic delivered as messages carries only messages the endpoint sends.
    pub(super) fn endpoint_topics(
        &mut self,
        name: &Name,
        endpoint: &model::Endpoint,
        frames: model::Frames,
        access: Access,
        auth: Option<&ir::Auth>,
    ) {
        let known: Vec<&str> = self.spec.topics.keys().map(|k| k.value.as_str()).collect();
        let mut seen = HashSet::new();
        for entry in &endpoint.topics {
            let t = &entry.name;
            if !seen.insert(t.value.as_str()) {
                self.error(
                    Diagnostic::new(
                        "wsauth::duplicate_topic",
                        t.span,
                        format!("topic `{}` is listed twice", t.value),
                    )
                    .help("list each topic once"),
                );
            } else if let Some(topic) = self.spec.topics.get(t.value.as_str()) {
                let perm = &topic.subscribe.value;
                let declared = self.spec.permissions.contains_key(perm.as_str());
                if access == Access::Anonymous
                    && declared
                    && !self.anonymous_role_grants(perm, auth)
                {
                    self.error(
                        Diagnostic::new(
                            "wsauth::anonymous_permission",
                            t.span,
                            format!(
                                "endpoint `{}` is anonymous, but subscribing to topic `{}` needs `{perm}`, which anonymous connections never hold",
                                name.value, t.value
                            ),
                        )
                        .help(match auth.and_then(|a| a.anonymous_role.as_deref()) {
                            Some(role) => format!(
                                "grant `{perm}` to the anonymous role `{role}`, require a token on the endpoint, or remove the topic from it"
                            ),
                            None => "set `auth.anonymous_role` to a role that grants it, require a token on the endpoint, or remove the topic from it".to_owned(),
                        }),
                    );
                }
                if let Some(deliver) = &entry.deliver
                    && deliver.value == Deliver::Message
                {
                    self.delivered_as_messages(name, endpoint, t, deliver, topic);
                }
            } else {
                self.unknown("topic", t, known.iter().copied(), "topics");
            }
        }
        if frames == model::Frames::Raw
            && let Some(t) = endpoint.topics.first().map(|e| &e.name)
        {
            self.error(
                Diagnostic::new(
                    "wsauth::raw_with_messages",
                    t.span,
                    format!(
                        "endpoint `{}` has raw frames but lists topic `{}`",
                        name.value, t.value
                    ),
                )
                .help("subscriptions are JSON messages: remove `topics`, or use `frames: json`"),
            );
        }
    }

    /// A topic the endpoint delivers as its own messages: every message that
    /// may flow on it must be one the endpoint sends (open ones included),
    /// since each publication reaches the client as if the handler had
    /// sent it.
    fn delivered_as_messages(
        &mut self,
        name: &Name,
        endpoint: &model::Endpoint,
        t: &Name,
        deliver: &Spanned<Deliver>,
        topic: &model::Topic,
    ) {
        let sent = |m: &str| {
            endpoint.sends.iter().any(|s| s.value == m)
                || endpoint.welcome.as_ref().is_some_and(|w| w.value == m)
        };
        let missing: Vec<String> = topic
            .messages
            .iter()
            .filter(|m| !sent(&m.value))
            .map(|m| format!("`{}`", m.value))
            .collect();
        if !missing.is_empty() {
            self.error(
                Diagnostic::new(
                    "wsauth::topic_message_not_sent",
                    deliver.span,
                    format!(
                        "endpoint `{}` gets topic `{}` as its own messages, but does not send {}",
                        name.value,
                        t.value,
                        missing.join(", ")
                    ),
                )
                .help(format!(
                    "add {} to the endpoint's `sends`, or write `- {}` to have clients subscribe to it",
                    missing.join(", "),
                    t.value
                )),
            );
        }
        let open_topic = topic.open.as_ref().is_some_and(|o| o.value);
        let sends_open = endpoint
            .open
            .as_ref()
            .and_then(|o| o.sends.as_ref())
            .is_some_and(|s| s.value);
        if open_topic && !sends_open {
            self.error(
                Diagnostic::new(
                    "wsauth::topic_open_not_sent",
                    deliver.span,
                    format!(
                        "endpoint `{}` gets topic `{}` as its own messages, but the topic carries open messages and the endpoint does not send them",
                        name.value, t.value
                    ),
                )
                .help("set `open: { sends: true }` on the endpoint, or remove `open: true` from the topic"),
            );
        }
    }

    /// Reports topics no endpoint lists: no connection could subscribe.
    pub(super) fn unlisted_topics(&mut self) {
        for name in self.spec.topics.keys() {
            let listed = self
                .spec
                .endpoints
                .values()
                .any(|e| e.topics.iter().any(|t| t.name.value == name.value));
            if !listed {
                self.error(
                    Diagnostic::new(
                        "wsauth::unlisted_topic",
                        name.span,
                        format!("no endpoint lists topic `{}`", name.value),
                    )
                    .help(format!(
                        "add `topics: [{}]` to the endpoints whose connections may subscribe, or remove the topic",
                        name.value
                    )),
                );
            }
        }
    }
}
