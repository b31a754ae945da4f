//! How an endpoint's messages become frames and back.
//!
//! JSON endpoints exchange `{"type": ..., ...}` text frames, typed by the
//! generated `ClientMessage`/`ServerMessage` enums ([`Json`]); `frames: raw`
//! endpoints exchange any text or binary frame ([`Raw`]). The driver only
//! sees [`Frame`]s, so it is the same for both.

use std::marker::PhantomData;

use bytes::Bytes;
use serde::Serialize;
use serde::de::DeserializeOwned;

/// One data frame.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Frame {
    /// A text frame.
    Text(String),
    /// A binary frame.
    Binary(Bytes),
}

/// A frame the endpoint's codec could not decode (a message the spec does
/// not list, or a binary frame on a JSON endpoint): a server bug, reported
/// rather than dropped.
#[derive(Debug, thiserror::Error)]
#[error("the server sent a frame that is not a message of this endpoint")]
pub struct Unexpected {
    /// The frame as received.
    pub frame: Frame,
    /// Why it did not decode, when it was text.
    #[source]
    pub error: Option<serde_json::Error>,
}

/// A message could not be encoded.
#[derive(Debug, thiserror::Error)]
#[error("the message could not be encoded")]
pub struct EncodeError(#[source] pub serde_json::Error);

/// Turns an endpoint's messages into frames and back.
pub trait Codec: Send + 'static {
    /// What the client sends.
    type Send;
    /// What the client receives.
    type Receive;
    /// A message as a frame.
    fn encode(message: &Self::Send) -> Result<Frame, EncodeError>;
    /// A frame as a message.
    fn decode(frame: Frame) -> Result<Self::Receive, Unexpected>;
}

/// JSON text frames, `S` sent and `R` received (the generated enums, tagged
/// by `type`).
pub struct Json<S, R>(PhantomData<fn(S) -> R>);

impl<S, R> Codec for Json<S, R>
where
    S: Serialize + 'static,
    R: DeserializeOwned + 'static,
{
    type Send = S;
    type Receive = R;

    fn encode(message: &S) -> Result<Frame, EncodeError> {
        serde_json::to_string(message)
            .map(Frame::Text)
            .map_err(EncodeError)
    }

    fn decode(frame: Frame) -> Result<R, Unexpected> {
        match &frame {
            Frame::Text(text) => serde_json::from_str(text).map_err(|error| Unexpected {
                frame: frame.clone(),
                error: Some(error),
            }),
            Frame::Binary(_) => Err(Unexpected { frame, error: None }),
        }
    }
}

/// Frames as they are (`frames: raw` endpoints).
pub struct Raw;

impl Codec for Raw {
    type Send = Frame;
    type Receive = Frame;

    fn encode(message: &Frame) -> Result<Frame, EncodeError> {
        Ok(message.clone())
    }

    fn decode(frame: Frame) -> Result<Frame, Unexpected> {
        Ok(frame)
    }
}

impl From<String> for Frame {
    fn from(text: String) -> Self {
        Frame::Text(text)
    }
}

impl From<&str> for Frame {
    fn from(text: &str) -> Self {
        Frame::Text(text.to_owned())
    }
}

impl From<Vec<u8>> for Frame {
    fn from(bytes: Vec<u8>) -> Self {
        Frame::Binary(bytes.into())
    }
}

impl From<Bytes> for Frame {
    fn from(bytes: Bytes) -> Self {
        Frame::Binary(bytes)
    }
}
