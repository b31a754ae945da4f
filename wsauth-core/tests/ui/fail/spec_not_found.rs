#[wsauth_core::ws_endpoint(spec = "specs/nope.yaml", endpoint = "conversation", perm = "conversation.read")]
async fn conversation(_session: wsauth_core::Session) -> wsauth_core::HandlerResult {
    Ok(())
}

fn main() {}
