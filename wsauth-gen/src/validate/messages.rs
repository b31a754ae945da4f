//! Messages: their names, permissions and payloads, and the direction each
//! flows in once the endpoints that use it are known.

use super::Validator;
use super::names::MESSAGE;
use crate::diagnostic::Diagnostic;
use crate::ir::{self, Direction};
use crate::naming;

impl Validator<'_> {
    pub(super) fn messages(&mut self, schemas: &[ir::NamedSchema]) -> Vec<ir::Message> {
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

    /// Sets each message's direction from the endpoints, and checks that a
    /// message permission is only on messages clients send.
    pub(super) fn directions(&mut self, endpoints: &[ir::Endpoint], messages: &mut [ir::Message]) {
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
