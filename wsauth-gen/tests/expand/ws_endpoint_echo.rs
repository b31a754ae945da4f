#[allow(non_camel_case_types)]
#[derive(::core::clone::Clone, ::core::marker::Copy, ::core::fmt::Debug)]
pub struct echo;
const _: () = {
    impl ::wsauth_core::EndpointHandler for echo {
        type Endpoint = <echo::endpoints::echo::Session as ::wsauth_core::__private::SessionOf>::Endpoint;
    }
    impl<
        __S: ::core::marker::Send + ::core::marker::Sync + 'static,
    > ::wsauth_core::RunsWith<__S> for echo {
        fn call(
            &self,
            session: ::wsauth_core::TypedSession<Self::Endpoint>,
            _state: &::std::sync::Arc<__S>,
        ) -> ::wsauth_core::__private::BoxFuture<'static, ::wsauth_core::HandlerResult> {
            async fn __wsauth_handler(
                mut session: echo::endpoints::echo::Session,
            ) -> wsauth_core::HandlerResult {
                while let Some(message) = session.recv().await {
                    let echo::endpoints::echo::Incoming::Echo(m) = message;
                    session.send(m)?;
                }
                Ok(())
            }
            ::std::boxed::Box::pin(__wsauth_handler(session))
        }
    }
    const _: () = ::core::assert!(
        ::wsauth_core::__private::__str_eq(< < echo::endpoints::echo::Session as
        ::wsauth_core::__private::SessionOf > ::Endpoint as ::wsauth_core::Endpoint >
        ::NAME, "echo"),
        "the handler's session is not the session of endpoint `echo`: use `endpoints::echo::Session`"
    );
    const _: () = if ::wsauth_core::__private::__str_eq(
        <<echo::endpoints::echo::Session as ::wsauth_core::__private::SessionOf>::Endpoint as ::wsauth_core::Endpoint>::NAME,
        "echo",
    )
        && !::wsauth_core::__private::__perm_eq(
            <<echo::endpoints::echo::Session as ::wsauth_core::__private::SessionOf>::Endpoint as ::wsauth_core::Endpoint>::PERM,
            ::core::option::Option::Some("echo.use"),
        )
    {
        ::core::panic!(
            "{}", < < echo::endpoints::echo::Session as
            ::wsauth_core::__private::SessionOf > ::Endpoint as ::wsauth_core::Endpoint >
            ::__PERM_HELP
        )
    };
    const _: &str = ::core::include_str!("$CARGO_MANIFEST_DIR/../specs/echo.yaml");
};
