mod prsm {
    wsauth_core::include_spec!("../../../../specs/prsm.yaml");
}
use prsm::endpoints as ep;

#[wsauth_core::ws_endpoint(perm = "conversation.read")]
fn conversation(_session: ep::conversation::Session) -> wsauth_core::HandlerResult {
    Ok(())
}

fn main() {}
