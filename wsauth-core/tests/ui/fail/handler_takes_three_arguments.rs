mod prsm {
    wsauth_core::include_spec!("../../../../specs/prsm.yaml");
}
use prsm::endpoints as ep;

struct Store;

#[wsauth_core::ws_endpoint(perm = "conversation.read")]
async fn conversation(_session: ep::conversation::Session, _store: &Store, _extra: u32) -> wsauth_core::HandlerResult {
    Ok(())
}

fn main() {}
