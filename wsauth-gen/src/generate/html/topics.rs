//! The topic cards: the params that pick an instance, who may subscribe
//! and publish, the checks run on subscribe, the messages a topic carries,
//! presence, history, and the endpoints whose connections may join it.

use wsauth_spec::wire::{
    PRESENCE, PUBLICATION, PUBLISH, REFUSED, SUBSCRIBE, SUBSCRIBED, UNSUBSCRIBED,
};

use super::markup::{Markup, anchor, describe};
use super::{Fact, message_link, perm_link, role_links, seconds};
use crate::ir::{Api, ParamType, Topic};

pub(super) struct TopicView {
    pub(super) id: String,
    pub(super) name: String,
    pub(super) description: Option<Markup>,
    pub(super) params: Vec<TopicParamView>,
    pub(super) facts: Vec<Fact>,
}

pub(super) struct TopicParamView {
    pub(super) name: String,
    pub(super) ty: &'static str,
    pub(super) description: Option<Markup>,
}

/// What the Topics section says first: how a connection joins an instance.
pub(super) fn intro() -> Markup {
    Markup::text("A topic fans messages out to the connections subscribed to one of its instances. A connection subscribes with ")
        .c(SUBSCRIBE)
        .t(" (the topic and its ")
        .c("params")
        .t("), is answered with ")
        .c(SUBSCRIBED)
        .t(" or ")
        .c(REFUSED)
        .t(" (the connection stays open), then receives each publication as a ")
        .c(PUBLICATION)
        .t(" frame.")
}

/// A link to topic `name`'s card.
pub(super) fn topic_link(name: &str) -> Markup {
    Markup::link_code(&anchor("topic", name), name)
}

pub(super) fn topic(api: &Api, t: &Topic) -> TopicView {
    let mut facts = Vec::new();
    let instances = if t.params.is_empty() {
        Markup::text("one: the topic has no params")
    } else {
        Markup::text("one per value of ")
            .m(Markup::join(
                t.params.iter().map(|p| Markup::code(&p.name)),
                ", ",
            ))
            .t(", given as ")
            .c("params")
            .t(" in every request")
    };
    facts.push(Fact {
        label: "Instances",
        value: instances,
    });
    let subscribed = api.subscribed_by_clients(&t.name);
    let who = Markup::text("connections whose roles grant ")
        .m(perm_link(&t.subscribe))
        .t(" (held by ")
        .m(role_links(api, &t.subscribers))
        .t(")");
    facts.push(Fact {
        label: "Who may subscribe",
        value: if subscribed {
            who.t(", with ").c(SUBSCRIBE).t("; others get ").c(REFUSED)
        } else {
            who.t(", joined by the server")
        },
    });
    if !t.checks.is_empty() {
        facts.push(Fact {
            label: "Resource checks",
            value: super::endpoints::check_list(api, &t.checks)
                .t(". Run with the instance's params on subscribe and again on every in-band refresh; a subscription that fails them ends with ")
                .c(UNSUBSCRIBED),
        });
    }
    facts.push(Fact {
        label: "Who may publish",
        value: match &t.publish {
            Some(p) => Markup::text("the server, and clients whose roles grant ")
                .m(perm_link(p))
                .t(" (held by ")
                .m(role_links(api, &t.publishers))
                .t("), with ")
                .c(PUBLISH)
                .t(" on instances they subscribe to (so the checks passed)"),
            None => Markup::text("only the server"),
        },
    });
    let messages = Markup::join(t.messages.iter().map(|m| message_link(m)), ", ");
    let messages = if t.open {
        messages
            .t(" and open messages (any JSON object whose ")
            .c("type")
            .t(" the spec does not declare)")
    } else {
        messages
    };
    facts.push(Fact {
        label: "Messages",
        value: if subscribed {
            messages
                .t(", each delivered in a ")
                .c(PUBLICATION)
                .t(" envelope numbered per instance")
        } else {
            messages.t(", each delivered as the message's own frame")
        },
    });
    facts.push(Fact {
        label: "Presence",
        value: if t.presence {
            Markup::text("subscribers may ask who is subscribed (")
                .c(PRESENCE)
                .t(", by subject) and are told as subjects join and leave")
        } else {
            Markup::text("none")
        },
    });
    facts.push(Fact {
        label: "History",
        value: match t.history {
            Some(h) => Markup::text(&format!(
                "the last {} publications of each instance, kept {}; a client resubscribing with ",
                h.size,
                seconds(u64::from(h.ttl_s))
            ))
            .c("since")
            .t(" gets what it missed, or ")
            .c("recovered: false")
            .t(" when it is gone"),
            None => Markup::text("none: a client that resubscribes reloads what it missed"),
        },
    });
    let endpoints = api.endpoints.iter().filter_map(|e| {
        let entry = e.topics.iter().find(|et| et.name == t.name)?;
        let link = Markup::link_code(&anchor("endpoint", &e.name), &e.name);
        Some(if entry.client_subscribes() {
            link
        } else {
            link.t(" (joined by the server, delivered as this endpoint's messages)")
        })
    });
    facts.push(Fact {
        label: "Joined from",
        value: Markup::join(endpoints, ", "),
    });
    TopicView {
        id: anchor("topic", &t.name),
        name: t.name.clone(),
        description: describe(t.description.as_deref()),
        params: t
            .params
            .iter()
            .map(|p| TopicParamView {
                name: p.name.clone(),
                ty: match p.ty {
                    ParamType::Integer => "integer (a JSON number)",
                    ParamType::String | ParamType::Uuid => "string",
                },
                description: describe(p.description.as_deref()),
            })
            .collect(),
        facts,
    }
}
