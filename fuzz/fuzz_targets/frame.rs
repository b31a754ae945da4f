//! Incoming message decoding: the connection loop reads a frame's `type`
//! (`kind_of`) to route it and check its per-message permission, then the
//! handler decodes the whole text into the endpoint's typed enum. Nothing
//! panics, and the two never disagree: a frame the loop routes and the
//! typed decode accepts is decoded as the message the loop read (else a
//! permission would be checked for one message and another one handled).

#![no_main]

use libfuzzer_sys::fuzz_target;

mod prsm {
    wsauth_core::include_spec!("../specs/prsm.yaml");
}
use prsm::endpoints::conversation::Incoming;

/// The wire `type` of a decoded message.
fn kind(message: &Incoming) -> &'static str {
    match message {
        Incoming::SubscribeConversation(_) => "subscribe_conversation",
        Incoming::SendMessage(_) => "send_message",
        Incoming::Typing(_) => "typing",
    }
}

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let routed = wsauth_core::__fuzz::frame_kind(text);
    let decoded = serde_json::from_str::<Incoming>(text);
    // An untyped session parses the text into a value: never a panic either.
    let _ = serde_json::from_str::<serde_json::Value>(text);
    // A frame the loop cannot route is refused before any handler sees it
    // (serde alone would take `["send_message", "x"]`: a sequence whose
    // first element is the tag); one it routes must decode as that message.
    if let (Some(routed), Ok(message)) = (routed.as_deref(), decoded) {
        assert_eq!(
            routed,
            kind(&message),
            "the loop routed the frame as another message than the handler got"
        );
    }
});
