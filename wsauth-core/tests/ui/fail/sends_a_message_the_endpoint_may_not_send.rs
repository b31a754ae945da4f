mod prsm {
    wsauth_core::include_spec!("../../../../specs/prsm.yaml");
}
use prsm::endpoints as ep;

#[wsauth_core::ws_endpoint(spec = "../../../../specs/prsm.yaml", endpoint = "conversation", perm = "conversation.read")]
async fn conversation(mut session: ep::conversation::Session) -> wsauth_core::HandlerResult {
    session.send(prsm::messages::BalanceUpdate {
        address: String::new(),
        balance: String::new(),
        token: prsm::messages::BalanceUpdateToken::ETH,
    })?;
    Ok(())
}

fn main() {}
