mod prsm {
    wsauth_core::include_spec!("../../../../specs/prsm.yaml");
}

// The spec has no `wallet` topic.
fn publish(server: &wsauth_core::WsAuth) {
    let key = prsm::topics::wallet::Key { address: String::new() };
    let _ = server.topics().publish(&key, prsm::messages::Typing { user_id: String::new(), active: true });
}

fn main() {}
