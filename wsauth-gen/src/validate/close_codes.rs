//! The close-code catalogue: each failure kind's code, reason and client
//! action (the spec's or the framework's default), the checks that a code
//! is legal and means one thing, and the catalogue grouped by code that
//! every output lists.

use super::Validator;
use crate::diagnostic::{Diagnostic, Span};
use crate::ir;
use crate::naming;
use crate::spec::model::{ClientAction, FailureKind};
use wsauth_spec::Keyword;
use wsauth_spec::wire::{self, MAX_CLOSE_REASON_BYTES as MAX_REASON_BYTES};

/// `resolved` (one entry per failure kind) grouped by code, in the order
/// codes first appear, each group named once for every output.
pub(super) fn catalogue(resolved: &[ir::CloseCode]) -> Vec<ir::CloseCodeGroup> {
    let mut by_code: Vec<(u16, Vec<&ir::CloseCode>)> = Vec::new();
    for c in resolved {
        match by_code.iter_mut().find(|(code, _)| *code == c.code) {
            Some((_, members)) => members.push(c),
            None => by_code.push((c.code, vec![c])),
        }
    }
    by_code
        .into_iter()
        .filter_map(|(code, members)| {
            let first = members.first()?;
            let kinds: Vec<FailureKind> = members.iter().map(|c| c.kind).collect();
            let mut reasons: Vec<ir::CloseReason> = Vec::new();
            for c in &members {
                match reasons.iter_mut().find(|r| r.text == c.reason) {
                    Some(reason) => reason.kinds.push(c.kind),
                    None => reasons.push(ir::CloseReason {
                        text: c.reason.clone(),
                        kinds: vec![c.kind],
                    }),
                }
            }
            Some(ir::CloseCodeGroup {
                code,
                name: naming::close_code(&kinds),
                client: first.client,
                kinds,
                reasons,
            })
        })
        .collect()
}

impl Validator<'_> {
    pub(super) fn close_codes(&mut self) -> Vec<ir::CloseCode> {
        for (kind, close) in &self.spec.close_codes {
            let code = close.code.value;
            if let Some(why) = wire::close_code_problem(code) {
                self.error(
                    Diagnostic::new(
                        "wsauth::close_code",
                        close.code.span,
                        format!("close code {code} {why}"),
                    )
                    .label(format!("for `{}`", kind.word()))
                    .help(format!(
                        "use 4000–4999 for application codes, or a registered code \
                         a server may send ({})",
                        wire::REGISTERED_SERVER_CODES
                            .map(|c| c.to_string())
                            .join(", ")
                    )),
                );
            }
            let reason = &close.reason;
            if reason.len() > MAX_REASON_BYTES {
                self.error(
                    Diagnostic::new(
                        "wsauth::reason_too_long",
                        reason.span,
                        format!(
                            "close reason is {} bytes; a close frame holds at most {MAX_REASON_BYTES}",
                            reason.len()
                        ),
                    )
                    .help("shorten it: close reasons are generic, details belong in the audit log"),
                );
            }
        }
        let resolved: Vec<ir::CloseCode> = FailureKind::ALL
            .iter()
            .map(
                |(_, kind)| match self.spec.close_codes.get_key_value(kind) {
                    Some((_, c)) => ir::CloseCode {
                        kind: *kind,
                        code: c.code.value,
                        reason: c.reason.value.clone(),
                        client: c.client.value,
                        description: c.description.clone(),
                        from_spec: true,
                    },
                    None => {
                        let (code, reason, client) = kind.default_close();
                        ir::CloseCode {
                            kind: *kind,
                            code,
                            reason: reason.to_owned(),
                            client,
                            description: None,
                            from_spec: false,
                        }
                    }
                },
            )
            .collect();
        self.close_code_conflicts(&resolved);
        resolved
    }

    /// A code means one client behaviour: clients act on the code alone.
    /// One report per code, naming every kind that shares it.
    fn close_code_conflicts(&mut self, resolved: &[ir::CloseCode]) {
        for ir::CloseCodeGroup { code, kinds, .. } in catalogue(resolved) {
            let group: Vec<&ir::CloseCode> = resolved
                .iter()
                .filter(|c| kinds.contains(&c.kind))
                .collect();
            let mut meanings: Vec<(ClientAction, Vec<&ir::CloseCode>)> = Vec::new();
            for c in &group {
                match meanings.iter_mut().find(|(a, _)| *a == c.client) {
                    Some((_, kinds)) => kinds.push(c),
                    None => meanings.push((c.client, vec![c])),
                }
            }
            if meanings.len() < 2 {
                continue;
            }
            let mut written: Vec<(Span, Span, &ir::CloseCode)> = group
                .iter()
                .filter_map(|c| {
                    self.spec
                        .close_codes
                        .get_key_value(&c.kind)
                        .map(|(key, v)| (key.span, v.client.span, *c))
                })
                .collect();
            written.sort_by_key(|(key, _, _)| key.offset);
            let Some(((_, primary, first), rest)) = written.split_first() else {
                continue;
            };
            let listing = meanings
                .iter()
                .map(|(action, kinds)| {
                    let names: Vec<String> = kinds
                        .iter()
                        .map(|k| format!("`{}`", k.kind.word()))
                        .collect();
                    format!("`{}` for {}", action.word(), names.join(", "))
                })
                .collect::<Vec<_>>()
                .join(" but ");
            let mut d = Diagnostic::new(
                "wsauth::close_code_conflict",
                *primary,
                format!("close code {code} means {listing}"),
            )
            .label(format!(
                "`{}` for `{}`",
                first.client.word(),
                first.kind.word()
            ));
            for (_, span, c) in rest {
                d = d.also(
                    *span,
                    format!("`{}` for `{}`", c.client.word(), c.kind.word()),
                );
            }
            let defaults: Vec<String> = group
                .iter()
                .filter(|c| !c.from_spec)
                .map(|c| format!("`{}`", c.kind.word()))
                .collect();
            let help = if defaults.is_empty() {
                "clients act on the code alone: give these the same `client`, or different codes"
                    .to_owned()
            } else {
                format!(
                    "clients act on the code alone; {} use{} {code} by default: set {} in `close_codes` too, or pick another code",
                    defaults.join(", "),
                    if defaults.len() == 1 { "s" } else { "" },
                    if defaults.len() == 1 { "it" } else { "them" },
                )
            };
            self.error(d.help(help));
        }
    }
}
