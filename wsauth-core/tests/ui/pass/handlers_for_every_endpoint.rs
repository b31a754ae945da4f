mod prsm {
    wsauth_core::include_spec!("../../../../specs/prsm.yaml");
}
use prsm::endpoints as ep;

#[wsauth_core::ws_endpoint(spec = "../../../../specs/prsm.yaml", endpoint = "notifications", perm = "notifications.read")]
async fn notifications(_session: ep::notifications::Session) -> wsauth_core::HandlerResult {
    Ok(())
}

#[wsauth_core::ws_endpoint(spec = "../../../../specs/prsm.yaml", endpoint = "conversation", perm = "conversation.read")]
async fn conversation(mut session: ep::conversation::Session) -> wsauth_core::HandlerResult {
    while let Some(ep::conversation::Incoming::SendMessage(m)) = session.recv().await {
        session.send(prsm::messages::AiToken { message_id: 1, index: 0, token: m.text })?;
    }
    Ok(())
}

#[wsauth_core::ws_endpoint(spec = "../../../../specs/prsm.yaml", endpoint = "web3", perm = "wallet.read")]
async fn web3(_session: ep::web3::Session) -> wsauth_core::HandlerResult {
    Ok(())
}

fn main() {
    let _builder = prsm::Handlers { notifications, conversation, web3 }.into_builder();
}
