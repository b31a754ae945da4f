mod echo {
    wsauth_core::include_spec!("../../../../specs/echo.yaml");
}

#[wsauth_core::ws_endpoint(perm = "echo.use")]
async fn raw(_session: echo::endpoints::raw::Session) -> wsauth_core::HandlerResult {
    Ok(())
}

fn main() {}
