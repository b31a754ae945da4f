mod prsm {
    wsauth_core::include_spec!("../../../../specs/prsm.yaml");
}
use prsm::endpoints as ep;

struct Store;

#[wsauth_core::ws_endpoint(perm = "notifications.read")]
async fn notifications(_session: ep::notifications::Session) -> wsauth_core::HandlerResult {
    Ok(())
}

#[wsauth_core::ws_endpoint(perm = "conversation.read")]
async fn conversation(_session: ep::conversation::Session, _store: &Store) -> wsauth_core::HandlerResult {
    Ok(())
}

#[wsauth_core::ws_endpoint(perm = "wallet.read")]
async fn web3(_session: ep::web3::Session) -> wsauth_core::HandlerResult {
    Ok(())
}

fn main() {
    let _builder = prsm::Handlers { notifications, conversation, web3 }.into_builder();
}
