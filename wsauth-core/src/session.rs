//! What a handler holds: the proof that a connection passed every check,
//! and the only way to talk to it.
//!
//! A [`Session`] is created by the pipeline after authentication,
//! authorization and admission, and by nothing else (it has no public
//! constructor), so a handler that receives one cannot have skipped a check.
//! Incoming messages arrive size- and rate-limited, permission-checked and
//! checked against their payload schema; outgoing messages are restricted to
//! what the endpoint may send and go through a bounded queue, so a client
//! that stops reading is dropped instead of growing the server's memory.

use std::net::SocketAddr;
use std::sync::Arc;

use axum::extract::ws;
use bytes::Bytes;
use serde::Serialize;
use tungstenite::{Message, Utf8Bytes};

use wsauth_spec::wire::TopicRefusal;
use wsauth_spec::{Deliver, FailureKind, Frames, Keyword};

use crate::audit::{self, AuditContext};
use crate::descriptor::{ApiDescriptor, EndpointDescriptor, OpenDescriptor};
use crate::frame;
use crate::link::{Link, QueueError};
// `typed` reads these messages too, through this path.
pub(crate) use crate::link::Inbound;
use crate::open::OpenMessage;
use crate::principal::Principal;
use crate::server::ServerParts;
use crate::topics::{By, Join, Topics};

/// A message from the client, checked against the spec.
#[derive(Debug)]
pub enum Incoming {
    /// A typed message: its `type` and the whole JSON object.
    Message {
        /// The message type, as the spec names it.
        kind: &'static str,
        /// The decoded JSON object, `type` included.
        value: serde_json::Value,
    },
    /// An open message: a `type` the spec does not declare, on an endpoint
    /// whose spec allows them (`open`).
    Open(OpenMessage),
    /// A text frame on a `frames: raw` endpoint.
    Text(String),
    /// A binary frame on a `frames: raw` endpoint.
    Binary(Bytes),
}

/// Why a message could not be queued.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum SendError {
    /// The endpoint's spec does not list this message in `sends` (nor
    /// allows it as an open message: a `type` it does not declare, on an
    /// endpoint with `open.sends`).
    #[error("endpoint `{endpoint}` may not send `{kind}`")]
    NotAllowed {
        /// Endpoint name.
        endpoint: &'static str,
        /// Message type.
        kind: String,
    },
    /// The spec's welcome message must be the first message sent.
    #[error("the welcome message `{0}` must be sent first")]
    WelcomeFirst(&'static str),
    /// The payload did not serialize to a JSON object.
    #[error("the payload of `{0}` is not a JSON object")]
    NotAnObject(String),
    /// The client is not reading; the connection is being closed.
    #[error("the client is not reading; the connection is closing")]
    SlowConsumer,
    /// [`Session::send_raw`] on an endpoint with typed frames, whose
    /// messages go through [`Session::send`] and its checks.
    #[error("endpoint `{0}` has typed frames; send its messages with `send`")]
    NotRaw(&'static str),
    /// [`Session::send_raw`] with a control frame: closing (with the spec's
    /// codes and reasons), ping and pong are the framework's.
    #[error("only text and binary frames can be sent")]
    ControlFrame,
}

/// An admitted connection, as its handler sees it.
#[derive(Debug)]
pub struct Session {
    /// The spec, the application state, the topics and the audit log,
    /// through one pointer.
    server: ServerParts,
    params: Arc<[(&'static str, String)]>,
    endpoint: &'static EndpointDescriptor,
    link: Arc<Link>,
    /// The client's address, for the audit events of the handler's topic
    /// requests (as the loop's carry it for the client's own).
    peer: Option<SocketAddr>,
    welcomed: bool,
}

impl Session {
    pub(crate) fn new(
        server: ServerParts,
        params: Arc<[(&'static str, String)]>,
        endpoint: &'static EndpointDescriptor,
        link: Arc<Link>,
        audit: &AuditContext,
    ) -> Self {
        Session {
            server,
            params,
            endpoint,
            link,
            peer: audit.peer,
            welcomed: endpoint.welcome.is_none(),
        }
    }

    /// Who is connected, now: after an in-band token refresh this is the
    /// principal of the new token (its roles), not the handshake's.
    ///
    /// A shared handle (cloning a [`Principal`] is a reference count), and a
    /// snapshot: a handler that keeps one across an `await` keeps the
    /// identity of that moment, so call this again where it decides.
    pub fn principal(&self) -> Principal {
        self.link.principal()
    }

    /// The value of type `T` given to
    /// [`Builder::state`](crate::Builder::state); `None` when the server was
    /// built without one. The low-level path: a `#[ws_endpoint]` handler
    /// takes its state as a parameter, checked when the server is built.
    pub fn state<T: Send + Sync + 'static>(&self) -> Option<&T> {
        self.server.state().get::<T>()
    }

    /// The endpoint this session is on.
    pub fn endpoint(&self) -> &'static EndpointDescriptor {
        self.endpoint
    }

    /// The raw value of path parameter `name` (validated for its type, and
    /// equal to the subject when the spec binds it).
    pub fn param(&self, name: &str) -> Option<&str> {
        self.params
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(_, v)| v.as_str())
    }

    /// The next message from the client. When the connection ends the
    /// handler is dropped where it waits, so a handler's receive loop needs
    /// no exit of its own; `Option` keeps `while let` loops natural.
    pub async fn recv(&mut self) -> Option<Incoming> {
        self.link.read_typed(false);
        loop {
            let message = match self.link.take().await {
                Inbound::Message { kind, text } => match serde_json::from_str(text.as_str()) {
                    Ok(value) => Incoming::Message { kind, value },
                    // The loop read only the type: a value it skipped can
                    // still be one JSON cannot hold (1e400, nesting deeper
                    // than serde_json allows).
                    Err(_) => {
                        self.refuse_invalid();
                        continue;
                    }
                },
                // A typed handler reading through its untyped session.
                Inbound::Decoded { text, .. } => {
                    let value = serde_json::from_str(text.as_str()).ok();
                    match (self.kind_of(text.as_str()), value) {
                        (Some(kind), Some(value)) => Incoming::Message { kind, value },
                        _ => {
                            self.refuse_invalid();
                            continue;
                        }
                    }
                }
                Inbound::Open { text } => match serde_json::from_str(text.as_str()) {
                    Ok(message) => Incoming::Open(message),
                    Err(_) => {
                        self.refuse_invalid();
                        continue;
                    }
                },
                Inbound::Text(text) => Incoming::Text(text.as_str().to_owned()),
                Inbound::Binary(bytes) => Incoming::Binary(bytes),
            };
            return Some(message);
        }
    }

    /// The endpoint's name for the `type` of the frame `text`, one it
    /// receives.
    fn kind_of(&self, text: &str) -> Option<&'static str> {
        let kind = frame::kind_of(text)?;
        let receives = self.endpoint.receives.iter();
        receives.map(|r| r.name).find(|name| *name == kind)
    }

    /// The next message as the loop handed it over (for the typed session,
    /// which parses it into the endpoint's enum).
    pub(crate) async fn recv_inbound(&mut self) -> Inbound {
        self.link.read_typed(true);
        self.link.take().await
    }

    /// Queues message `kind` with `payload`'s fields beside `"type": kind`.
    pub fn send(&mut self, kind: &str, payload: &impl Serialize) -> Result<(), SendError> {
        let text = self.prepare(kind, payload)?;
        self.queue(Message::Text(text.into()))
    }

    /// Refuses a message the handler could not use, as the loop refuses
    /// one that fails its own checks: a typed `error` reply when the
    /// endpoint may send one, else closing with the `invalid_message` code.
    pub fn refuse_invalid(&mut self) {
        match error_reply(
            self.server.api(),
            self.endpoint,
            FailureKind::InvalidMessage,
        ) {
            Some(text) => {
                let _ = self.queue(Message::Text(text.into()));
            }
            None => self.link.raise(&self.link.invalid),
        }
    }

    /// Like [`Session::send`], but waits for room in the send queue instead
    /// of failing when it is full: for handlers that stream many messages
    /// at once. A client that stops reading still ends the connection (its
    /// writes time out), so the wait is bounded.
    pub async fn deliver(&mut self, kind: &str, payload: &impl Serialize) -> Result<(), SendError> {
        let text = self.prepare(kind, payload)?;
        self.link.push_wait(Message::Text(text.into())).await;
        Ok(())
    }

    /// Checks `kind` against the endpoint and the welcome rule; encodes.
    fn prepare(&mut self, kind: &str, payload: &impl Serialize) -> Result<String, SendError> {
        let open = |o: &OpenDescriptor| o.sends && o.admits(kind);
        let name = match self.endpoint.sends.iter().find(|s| **s == kind) {
            Some(&name) => name,
            None if self.endpoint.open.as_ref().is_some_and(open) => kind,
            None => {
                return Err(SendError::NotAllowed {
                    endpoint: self.endpoint.name,
                    kind: kind.to_owned(),
                });
            }
        };
        if !self.welcomed {
            match self.endpoint.welcome {
                Some(welcome) if welcome != name => return Err(SendError::WelcomeFirst(welcome)),
                _ => self.welcomed = true,
            }
        }
        encode(name, payload)
    }

    /// Queues a text or binary frame on a `frames: raw` endpoint. Typed
    /// endpoints refuse it ([`SendError::NotRaw`]): their frames are the
    /// spec's messages, checked by [`Session::send`]. Control frames are
    /// refused everywhere ([`SendError::ControlFrame`]): a handler ends its
    /// connection by returning, or with [`CloseWith`](crate::CloseWith) for
    /// the spec's code and generic reason.
    ///
    /// A text frame's text is checked to be UTF-8 once more on its way to
    /// the socket (axum's text type cannot be taken apart without it); the
    /// typed paths, [`Session::send`] and the others, pay no such check.
    pub fn send_raw(&mut self, message: ws::Message) -> Result<(), SendError> {
        let message = self.raw(message)?;
        self.queue(message)
    }

    /// Like [`Session::send_raw`], but waits for room in the send queue
    /// instead of failing when it is full: for raw endpoints that stream
    /// (as [`Session::deliver`] for typed ones). A client that stops reading
    /// still ends the connection (its writes time out), so the wait is
    /// bounded.
    pub async fn deliver_raw(&mut self, message: ws::Message) -> Result<(), SendError> {
        let message = self.raw(message)?;
        self.link.push_wait(message).await;
        Ok(())
    }

    /// A handler's raw frame as the socket sends it, when the endpoint has
    /// raw frames and the frame is text or binary.
    fn raw(&self, message: ws::Message) -> Result<Message, SendError> {
        if self.endpoint.frames != Frames::Raw {
            return Err(SendError::NotRaw(self.endpoint.name));
        }
        match message {
            ws::Message::Text(text) => Ok(Message::Text(text_frame(text))),
            ws::Message::Binary(bytes) => Ok(Message::Binary(bytes)),
            ws::Message::Ping(_) | ws::Message::Pong(_) | ws::Message::Close(_) => {
                Err(SendError::ControlFrame)
            }
        }
    }

    /// The server's topics, to publish on from the handler (see
    /// [`WsAuth::topics`](crate::WsAuth::topics)).
    pub fn topics(&self) -> Topics {
        self.server.topics().clone()
    }

    /// Subscribes this connection to the instance of `topic` that
    /// `params` names, as if its client had asked: the topic must be one
    /// the endpoint lists, and the topic's permission and resource checks
    /// run for the connection's principal. The client is told with
    /// `wsauth.subscribed`, and from then on gets the instance's
    /// publications. Joining an instance already joined changes nothing.
    ///
    /// Where the endpoint lists the topic with `deliver: message`, only
    /// this joins it, and the client is told nothing: each publication
    /// arrives as the message's own frame, as if the handler had sent it.
    /// Send a welcome before joining, so it comes first.
    pub async fn join(
        &mut self,
        topic: &str,
        params: &serde_json::Value,
    ) -> Result<(), TopicRefusal> {
        let (principal, generation) = self.link.principal_at();
        let audit = self.audit(&principal);
        let join = Join {
            endpoint: self.endpoint,
            principal: &principal,
            audit: &audit,
            link: &self.link,
            generation,
            id: None,
            since: None,
            by: By::Server,
        };
        self.server
            .topics()
            .hub()
            .join(join, topic, params)
            .await
            .map(drop)
    }

    /// Ends this connection's subscription to the instance of `topic` that
    /// `params` names; the client is told with `wsauth.unsubscribed`,
    /// reason `server` (unless the topic is delivered as messages: its
    /// messages just stop).
    pub fn leave(&mut self, topic: &str, params: &serde_json::Value) -> Result<(), TopicRefusal> {
        let (key, deliver) = self.server.topics().hub().leave(
            self.endpoint,
            &self.link,
            topic,
            params,
            By::Server,
        )?;
        let principal = self.link.principal();
        audit::topic_unsubscribed(&self.audit(&principal), key.topic.name, "server");
        if deliver == Deliver::Publication {
            let frame = crate::topics::unsubscribed_frame(&key, "server");
            let _ = self.queue(Message::Text(frame.into()));
        }
        Ok(())
    }

    /// Who the audit events of the handler's topic requests are about.
    fn audit(&self, principal: &Principal) -> AuditContext {
        AuditContext {
            endpoint: self.endpoint.name,
            peer: self.peer,
            subject: principal.shared_subject().cloned(),
            log: self.server.audit_log().cloned(),
            ..AuditContext::default()
        }
    }

    fn queue(&mut self, message: Message) -> Result<(), SendError> {
        match self.link.push(message) {
            Ok(()) => Ok(()),
            Err(QueueError::Full) => {
                self.link.raise(&self.link.slow);
                Err(SendError::SlowConsumer)
            }
        }
    }
}

/// axum's text as tungstenite's, which it wraps but does not give out: the
/// bytes are checked to be UTF-8 again (they are: they were axum's text).
fn text_frame(text: ws::Utf8Bytes) -> Utf8Bytes {
    Utf8Bytes::try_from(Bytes::from(text)).unwrap_or_default()
}

/// The typed `error` message refusing one message for `kind`, when the
/// endpoint may send `error`: `{"type":"error","code":<kind>,"message":<reason>}`.
pub(crate) fn error_reply(
    api: &ApiDescriptor,
    endpoint: &EndpointDescriptor,
    kind: FailureKind,
) -> Option<String> {
    if !endpoint.sends.contains(&"error") {
        return None;
    }
    let payload = serde_json::json!({ "code": kind.word(), "message": api.close(kind).reason });
    encode("error", &payload).ok()
}

/// `{"type": kind, ...payload}` as JSON text (see [`frame::encode`]).
pub(crate) fn encode(kind: &str, payload: &impl Serialize) -> Result<String, SendError> {
    frame::encode(kind, payload).map_err(|_| SendError::NotAnObject(kind.to_owned()))
}
