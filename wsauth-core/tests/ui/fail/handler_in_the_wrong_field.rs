mod prsm {
    wsauth_core::include_spec!("../../../../specs/prsm.yaml");
}
use prsm::endpoints as ep;

#[wsauth_core::ws_endpoint(spec = "../../../../specs/prsm.yaml", endpoint = "notifications", perm = "notifications.read")]
async fn notifications(_session: ep::notifications::Session) -> wsauth_core::HandlerResult {
    Ok(())
}

#[wsauth_core::ws_endpoint(spec = "../../../../specs/prsm.yaml", endpoint = "conversation", perm = "conversation.read")]
async fn conversation(_session: ep::conversation::Session) -> wsauth_core::HandlerResult {
    Ok(())
}

fn main() {
    let _builder = prsm::Handlers { notifications, conversation, web3: conversation }.into_builder();
}
