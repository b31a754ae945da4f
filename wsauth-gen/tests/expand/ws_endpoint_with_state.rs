#[allow(non_camel_case_types)]
#[derive(::core::clone::Clone, ::core::marker::Copy, ::core::fmt::Debug)]
pub struct echo;
const _: () = {
    impl ::wsauth_core::EndpointHandler for echo {
        type Endpoint = <echo::endpoints::echo::Session as ::wsauth_core::__private::SessionOf>::Endpoint;
    }
    impl<__S> ::wsauth_core::RunsWith<__S> for echo
    where
        __S: ::wsauth_core::Provides<Hub>,
    {
        fn call(
            &self,
            session: ::wsauth_core::TypedSession<Self::Endpoint>,
            state: &::std::sync::Arc<__S>,
        ) -> ::wsauth_core::__private::BoxFuture<'static, ::wsauth_core::HandlerResult> {
            async fn __wsauth_handler(
                mut session: echo::endpoints::echo::Session,
                hub: &Hub,
            ) -> wsauth_core::HandlerResult {
                while let Some(echo::endpoints::echo::Incoming::Echo(m)) = session
                    .recv()
                    .await
                {
                    hub.publish(&m);
                    session.send(m)?;
                }
                Ok(())
            }
            let state = ::std::sync::Arc::clone(state);
            ::std::boxed::Box::pin(async move {
                __wsauth_handler(
                        session,
                        ::wsauth_core::Provides::<Hub>::provide(&*state),
                    )
                    .await
            })
        }
    }
    const _: () = if !::wsauth_core::__private::__perm_eq(
        <<echo::endpoints::echo::Session as ::wsauth_core::__private::SessionOf>::Endpoint as ::wsauth_core::Endpoint>::PERM,
        ::core::option::Option::Some("echo.use"),
    ) {
        ::core::panic!(
            "{}", < < echo::endpoints::echo::Session as
            ::wsauth_core::__private::SessionOf > ::Endpoint as ::wsauth_core::Endpoint >
            ::__PERM_HELP
        )
    };
};
