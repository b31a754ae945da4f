//! Limits: spec-wide and per endpoint, each over the level above it
//! (framework defaults, then the spec, then the endpoint), with the bounds a
//! value must respect.

use super::Validator;
use crate::diagnostic::{Diagnostic, Span};
use crate::ir;
use crate::spec::model::{self, Spanned};

/// The longest `ping_interval_s`: an hour. Clients turn it into a timer,
/// and a ping that rarely is no longer a heartbeat.
pub const MAX_PING_INTERVAL_S: u32 = 3600;

impl Validator<'_> {
    pub(super) fn limits(
        &mut self,
        written: Option<&model::Limits>,
        base: ir::Limits,
    ) -> ir::Limits {
        let Some(l) = written else { return base };
        let mut out = base;
        let fields: [(&Option<Spanned<u32>>, &mut u32, &str); 8] = [
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
            (
                &l.max_subscriptions,
                &mut out.max_subscriptions,
                "max_subscriptions",
            ),
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
}
