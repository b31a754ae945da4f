mod prsm {
    wsauth_core::include_spec!("../../../../specs/prsm.yaml");
}

// `balance_update` is a message of the spec, but not one that flows on the
// `conversation` topic.
fn publish(server: &wsauth_core::WsAuth) {
    let key = prsm::topics::conversation::Key { conversation_id: 1 };
    let _ = server.topics().publish(
        &key,
        prsm::messages::BalanceUpdate {
            address: String::new(),
            balance: String::new(),
            token: prsm::messages::BalanceUpdateToken::ETH,
        },
    );
}

fn main() {}
