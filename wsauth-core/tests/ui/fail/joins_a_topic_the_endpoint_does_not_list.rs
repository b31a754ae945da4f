mod prsm {
    wsauth_core::include_spec!("../../../../specs/prsm.yaml");
}
use prsm::endpoints as ep;

// `web3` does not list the `conversation` topic.
#[wsauth_core::ws_endpoint(perm = "wallet.read")]
async fn web3(mut session: ep::web3::Session) -> wsauth_core::HandlerResult {
    let key = prsm::topics::conversation::Key { conversation_id: 1 };
    session.join(&key).await.map_err(|_| "refused")?;
    Ok(())
}

fn main() {}
