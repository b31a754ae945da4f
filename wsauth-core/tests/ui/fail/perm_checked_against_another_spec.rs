mod prsm {
    wsauth_core::include_spec!("../../../../specs/prsm.yaml");
}
use prsm::endpoints as ep;

// The attribute's spec says `conversation` needs `conversation.write`, and
// that is what it states; the session is prsm's, whose `conversation`
// needs `conversation.read`, and that is what the server enforces.
#[wsauth_core::ws_endpoint(spec = "../../../../wsauth-core/tests/ui/specs/other_conversation.yaml", endpoint = "conversation", perm = "conversation.write")]
async fn conversation(_session: ep::conversation::Session) -> wsauth_core::HandlerResult {
    Ok(())
}

fn main() {}
