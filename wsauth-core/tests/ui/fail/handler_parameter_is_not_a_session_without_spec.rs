mod prsm {
    wsauth_core::include_spec!("../../../../specs/prsm.yaml");
}

#[wsauth_core::ws_endpoint(perm = "conversation.read")]
async fn conversation(_session: String) -> wsauth_core::HandlerResult {
    Ok(())
}

fn main() {}
