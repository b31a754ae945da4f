// An endpoint the spec guards with no permission takes a bare attribute.
mod echo_api {
    wsauth_core::include_spec!("../../../../specs/echo.yaml");
}

#[wsauth_core::ws_endpoint(perm = "echo.use")]
async fn echo(_session: echo_api::endpoints::echo::Session) -> wsauth_core::HandlerResult {
    Ok(())
}

#[wsauth_core::ws_endpoint(perm = "echo.use")]
async fn typed(_session: echo_api::endpoints::typed::Session) -> wsauth_core::HandlerResult {
    Ok(())
}

#[wsauth_core::ws_endpoint]
async fn raw(_session: echo_api::endpoints::raw::Session) -> wsauth_core::HandlerResult {
    Ok(())
}

fn main() {
    let _builder = echo_api::Handlers { echo, typed, raw }.into_builder();
}
