//! Why a connection was refused or ended, kept apart from what the client is
//! told.
//!
//! A [`Rejection`] carries the spec's failure kind (which picks the close
//! code and the generic reason the client sees) and an internal detail for
//! the audit log only. The detail never reaches the wire, and callers keep
//! tokens and secrets out of it.

use std::borrow::Cow;

use tungstenite::Message;
use tungstenite::protocol::CloseFrame;
use wsauth_spec::FailureKind;

use crate::descriptor::ApiDescriptor;

/// A refusal: the kind decides the close frame, the detail is for the log.
#[derive(Debug, Clone)]
pub(crate) struct Rejection {
    /// What failed, as the spec names it.
    pub kind: FailureKind,
    /// Internal detail for the audit log. Never sent to the client.
    pub detail: Cow<'static, str>,
    /// Audited already, by sampling (a refusal that floods make by the
    /// thousand): it gets no `rejected` line of its own.
    pub(crate) sampled: bool,
}

impl Rejection {
    /// A rejection of `kind` with an audit detail.
    pub(crate) fn new(kind: FailureKind, detail: impl Into<Cow<'static, str>>) -> Self {
        Rejection {
            kind,
            detail: detail.into(),
            sampled: false,
        }
    }

    /// This rejection, audited by sampling instead of a line of its own.
    pub(crate) fn sampled(mut self) -> Self {
        self.sampled = true;
        self
    }
}

/// The close frame the spec prescribes for `kind`: its code and generic
/// reason (at most 123 bytes: checked when the spec was validated, and by
/// [`Builder::build`](crate::Builder::build) for hand-built descriptors).
pub(crate) fn close_message(api: &ApiDescriptor, kind: FailureKind) -> Message {
    let close = api.close(kind);
    Message::Close(Some(CloseFrame {
        code: close.code.into(),
        reason: close.reason.into(),
    }))
}
