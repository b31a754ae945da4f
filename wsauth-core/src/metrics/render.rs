//! The text exposition format (Prometheus 0.0.4), written on scrape.
//!
//! Each family gets its `# HELP` and `# TYPE` lines, then one line per
//! series. Label values are escaped as the format requires (`\`, `"` and
//! line feeds), although none comes from a client: the spec's own names
//! may hold anything a YAML string can.

use std::fmt::Write as _;

use wsauth_spec::{FailureKind, Keyword};

use super::{Other, Registry};
use crate::audit::Refusal;

/// Every series of `registry`.
pub(super) fn render(registry: &Registry) -> String {
    let mut out = Text(String::with_capacity(4096));
    let api = registry.api;
    let endpoints = || api.endpoints.iter().zip(registry.endpoints.iter());

    out.family(
        "wsauth_handshakes_total",
        "counter",
        "WebSocket handshakes, by outcome and (refused) failure kind.",
    );
    for (endpoint, counters) in endpoints() {
        out.sample(
            "wsauth_handshakes_total",
            &[("endpoint", endpoint.name), ("outcome", "admitted")],
            counters.admitted.get(),
        );
        for ((word, _), counter) in FailureKind::ALL.iter().zip(&counters.refused) {
            out.sample(
                "wsauth_handshakes_total",
                &[
                    ("endpoint", endpoint.name),
                    ("outcome", "refused"),
                    ("kind", word),
                ],
                counter.get(),
            );
        }
    }

    out.family(
        "wsauth_refusals_total",
        "counter",
        "Connections refused before authentication, by reason (the audit log samples them).",
    );
    for refusal in Refusal::ALL {
        out.sample(
            "wsauth_refusals_total",
            &[("reason", refusal.word())],
            registry.refusals.total(refusal),
        );
    }

    out.family(
        "wsauth_connections_open",
        "gauge",
        "Open WebSocket connections.",
    );
    for (endpoint, counters) in endpoints() {
        let open = counters.open.load(std::sync::atomic::Ordering::Relaxed);
        out.sample(
            "wsauth_connections_open",
            &[("endpoint", endpoint.name)],
            open as u64,
        );
    }

    out.family(
        "wsauth_connections_closed_total",
        "counter",
        "Connections ended, by the failure kind the server closed with (client_closed: the client closed or vanished).",
    );
    for (endpoint, counters) in endpoints() {
        for ((word, _), counter) in FailureKind::ALL.iter().zip(&counters.closed) {
            out.sample(
                "wsauth_connections_closed_total",
                &[("endpoint", endpoint.name), ("kind", word)],
                counter.get(),
            );
        }
        out.sample(
            "wsauth_connections_closed_total",
            &[("endpoint", endpoint.name), ("kind", "client_closed")],
            counters.client_closed.get(),
        );
    }

    out.family(
        "wsauth_messages_received_total",
        "counter",
        "Data frames received from clients, by message type.",
    );
    for (endpoint, counters) in endpoints() {
        let types = endpoint
            .receives
            .iter()
            .map(|r| r.name)
            .chain(Other::ALL.iter().map(|o| o.label()));
        for (kind, counter) in types.zip(counters.received.iter()) {
            out.sample(
                "wsauth_messages_received_total",
                &[("endpoint", endpoint.name), ("type", kind)],
                counter.get(),
            );
        }
    }

    out.family(
        "wsauth_messages_sent_total",
        "counter",
        "Data frames written to clients.",
    );
    for (endpoint, counters) in endpoints() {
        out.sample(
            "wsauth_messages_sent_total",
            &[("endpoint", endpoint.name)],
            counters.sent.get(),
        );
    }

    out.family(
        "wsauth_topic_publications_total",
        "counter",
        "Publications made by this node on a topic's instances.",
    );
    for (topic, counters) in api.topics.iter().zip(registry.topics.iter()) {
        out.sample(
            "wsauth_topic_publications_total",
            &[("topic", topic.name)],
            counters.publications.get(),
        );
    }
    out.family(
        "wsauth_topic_deliveries_total",
        "counter",
        "Publications queued for a subscribed connection of this node, whichever node published.",
    );
    for (topic, counters) in api.topics.iter().zip(registry.topics.iter()) {
        out.sample(
            "wsauth_topic_deliveries_total",
            &[("topic", topic.name)],
            counters.deliveries.get(),
        );
    }

    #[cfg(feature = "redis")]
    if let Some(redis) = &registry.redis {
        redis.render(&mut out);
    }
    out.0
}

/// The text being written.
pub(super) struct Text(pub(super) String);

impl Text {
    /// A family's `# HELP` and `# TYPE` lines.
    pub(super) fn family(&mut self, name: &str, kind: &str, help: &str) {
        self.0.push_str("# HELP ");
        self.0.push_str(name);
        self.0.push(' ');
        for c in help.chars() {
            match c {
                '\\' => self.0.push_str("\\\\"),
                '\n' => self.0.push_str("\\n"),
                c => self.0.push(c),
            }
        }
        self.0.push_str("\n# TYPE ");
        self.0.push_str(name);
        self.0.push(' ');
        self.0.push_str(kind);
        self.0.push('\n');
    }

    /// One series' line: `name{label="value",...} value`.
    pub(super) fn sample(&mut self, name: &str, labels: &[(&str, &str)], value: impl Value) {
        self.0.push_str(name);
        if !labels.is_empty() {
            self.0.push('{');
            for (i, (label, text)) in labels.iter().enumerate() {
                if i > 0 {
                    self.0.push(',');
                }
                self.0.push_str(label);
                self.0.push_str("=\"");
                for c in text.chars() {
                    match c {
                        '\\' => self.0.push_str("\\\\"),
                        '"' => self.0.push_str("\\\""),
                        '\n' => self.0.push_str("\\n"),
                        c => self.0.push(c),
                    }
                }
                self.0.push('"');
            }
            self.0.push('}');
        }
        self.0.push(' ');
        value.write(&mut self.0);
        self.0.push('\n');
    }
}

/// A sample's value: a count, or seconds.
pub(super) trait Value {
    fn write(self, out: &mut String);
}

impl Value for u64 {
    fn write(self, out: &mut String) {
        let _ = write!(out, "{self}");
    }
}

impl Value for f64 {
    /// Plain decimal (`0.0025`, `1`), as the format's floats are written.
    fn write(self, out: &mut String) {
        let _ = write!(out, "{self}");
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use wsauth_spec::{Access, FailureKind, Frames, Limits};

    use super::super::{Meter, Metrics, Other, Received, Registry};
    use crate::descriptor::{ApiDescriptor, EndpointDescriptor, ReceiveDescriptor};

    static ENDPOINTS: [EndpointDescriptor; 1] = [EndpointDescriptor {
        name: "ro\"om\\",
        path: "/ws",
        params: &[],
        access: Access::Anonymous,
        sources: &[],
        perm: None,
        checks: &[],
        welcome: None,
        receives: &[ReceiveDescriptor {
            name: "say\nhi",
            perm: None,
            payload: None,
        }],
        sends: &[],
        open: None,
        frames: Frames::Json,
        heartbeat: None,
        limits: Limits::DEFAULT,
        topics: &[],
    }];

    static API: ApiDescriptor = ApiDescriptor {
        name: "t",
        auth: None,
        roles: &[],
        close_codes: &[],
        stats: None,
        endpoints: &ENDPOINTS,
        topics: &[],
    };

    /// Checks `text` line by line against the exposition format: every
    /// sample belongs to the family announced last, with both its HELP and
    /// TYPE, and a metric name and label names of the allowed characters.
    fn assert_exposition(text: &str) {
        let name_ok = |n: &str| {
            !n.is_empty()
                && !n.starts_with(|c: char| c.is_ascii_digit())
                && n.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
        };
        let mut family: Option<(String, bool)> = None;
        for line in text.lines() {
            if let Some(rest) = line.strip_prefix("# HELP ") {
                let name = rest.split(' ').next().unwrap_or_default();
                assert!(name_ok(name), "{line}");
                family = Some((name.to_owned(), false));
            } else if let Some(rest) = line.strip_prefix("# TYPE ") {
                let mut words = rest.split(' ');
                let name = words.next().unwrap_or_default();
                assert_eq!(family.as_ref().map(|f| f.0.as_str()), Some(name), "{line}");
                assert!(
                    matches!(words.next(), Some("counter" | "gauge" | "histogram")),
                    "{line}"
                );
                family = family.map(|(n, _)| (n, true));
            } else {
                let (Some((name, typed)), Some(end)) = (&family, line.find(['{', ' '])) else {
                    panic!("a sample before its family: {line}");
                };
                assert!(typed, "no TYPE before {line}");
                let series = &line[..end];
                assert!(
                    series == name
                        || [
                            name.clone() + "_bucket",
                            name.clone() + "_sum",
                            name.clone() + "_count"
                        ]
                        .contains(&series.to_owned()),
                    "{line} is not of {name}"
                );
                let value = line.rsplit(' ').next().unwrap_or_default();
                assert!(value.parse::<f64>().is_ok(), "{line}");
            }
        }
    }

    #[test]
    fn the_text_is_valid_exposition_with_escaped_label_values() {
        let registry = Arc::new(Registry::new(&API));
        let meter = Meter::new(Arc::clone(&registry), 0);
        meter.received(Received::Message(0));
        meter.received(Other::Unknown);
        meter.closed(Some(FailureKind::SlowConsumer));
        registry.handshake(0, Some(FailureKind::AuthFailed));
        let text = Metrics::new(registry).render();
        assert_exposition(&text);
        assert!(
            text.contains(
                "wsauth_messages_received_total{endpoint=\"ro\\\"om\\\\\",type=\"say\\nhi\"} 1\n"
            ),
            "{text}"
        );
        assert!(text.contains(
            "wsauth_handshakes_total{endpoint=\"ro\\\"om\\\\\",outcome=\"refused\",kind=\"auth_failed\"} 1\n"
        ));
        assert!(text.contains(
            "wsauth_connections_closed_total{endpoint=\"ro\\\"om\\\\\",kind=\"slow_consumer\"} 1\n"
        ));
        assert!(text.contains(
            "wsauth_messages_received_total{endpoint=\"ro\\\"om\\\\\",type=\"(unknown)\"} 1\n"
        ));
    }

    #[test]
    fn a_message_index_past_the_spec_counts_as_unknown_not_as_another_type() {
        let registry = Arc::new(Registry::new(&API));
        Meter::new(Arc::clone(&registry), 0).received(Received::Message(7));
        let text = Metrics::new(registry).render();
        assert!(text.contains("type=\"(unknown)\"} 1\n"), "{text}");
        assert!(text.contains("type=\"wsauth.refresh\"} 0\n"), "{text}");
    }
}
