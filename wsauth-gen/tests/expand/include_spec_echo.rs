const _: &str = ::core::include_str!("$CARGO_MANIFEST_DIR/../specs/echo.yaml");
///The runtime descriptor of the `echo` spec (Echo 1.0.0), generated from the spec at compile time.
pub static API: ::wsauth_core::ApiDescriptor = {
    static __WSAUTH_PAYLOAD_0: ::wsauth_core::__private::descriptor::SchemaDescriptor = ::wsauth_core::__private::descriptor::SchemaDescriptor::Object {
        fields: &[
            ::wsauth_core::__private::descriptor::FieldDescriptor {
                name: "payload",
                required: true,
                schema: ::wsauth_core::__private::descriptor::SchemaDescriptor::Any,
            },
        ],
    };
    static __WSAUTH_PAYLOAD_1: ::wsauth_core::__private::descriptor::SchemaDescriptor = ::wsauth_core::__private::descriptor::SchemaDescriptor::Object {
        fields: &[
            ::wsauth_core::__private::descriptor::FieldDescriptor {
                name: "payload",
                required: true,
                schema: ::wsauth_core::__private::descriptor::SchemaDescriptor::String(::wsauth_core::__private::descriptor::StringDescriptor {
                    values: &[],
                    min_length: ::core::option::Option::None,
                    max_length: ::core::option::Option::None,
                    format: ::core::option::Option::None,
                    pattern: ::core::option::Option::None,
                }),
            },
        ],
    };
    ::wsauth_core::__private::descriptor::ApiDescriptor {
        name: "echo",
        auth: ::core::option::Option::Some(::wsauth_core::__private::descriptor::AuthDescriptor {
            sources: &[::wsauth_core::spec::TokenSource::Query("token")],
            jwt: ::core::option::Option::Some(::wsauth_core::__private::descriptor::JwtDescriptor {
                keys: &[
                    ::wsauth_core::__private::descriptor::KeySlot {
                        name: "default",
                        algorithms: &[::wsauth_core::spec::Algorithm::HS256],
                    },
                ],
                issuer: ::core::option::Option::None,
                audience: &[],
                leeway_s: 0u64,
                max_ttl_s: ::core::option::Option::Some(86400u64),
                subject_claim: "sub",
                roles_claim: "role",
                roles_shape: ::wsauth_core::spec::ClaimShape::String,
            }),
            introspection: ::core::option::Option::None,
            on_expiry: ::wsauth_core::spec::ExpiryPolicy::Close,
            anonymous_role: ::core::option::Option::None,
        }),
        roles: &[
            ::wsauth_core::__private::descriptor::RoleDescriptor {
                name: "user",
                all: false,
                permissions: &["echo.use"],
            },
            ::wsauth_core::__private::descriptor::RoleDescriptor {
                name: "admin",
                all: true,
                permissions: &["echo.use"],
            },
        ],
        close_codes: &[
            ::wsauth_core::__private::descriptor::CloseDescriptor {
                kind: ::wsauth_core::spec::FailureKind::AuthRequired,
                code: 4001u16,
                reason: "authentication required",
                client: ::wsauth_core::spec::ClientAction::RefreshToken,
            },
            ::wsauth_core::__private::descriptor::CloseDescriptor {
                kind: ::wsauth_core::spec::FailureKind::AuthFailed,
                code: 4001u16,
                reason: "invalid or expired token",
                client: ::wsauth_core::spec::ClientAction::RefreshToken,
            },
            ::wsauth_core::__private::descriptor::CloseDescriptor {
                kind: ::wsauth_core::spec::FailureKind::TokenExpired,
                code: 4001u16,
                reason: "token expired",
                client: ::wsauth_core::spec::ClientAction::RefreshToken,
            },
            ::wsauth_core::__private::descriptor::CloseDescriptor {
                kind: ::wsauth_core::spec::FailureKind::UserInactive,
                code: 4002u16,
                reason: "user inactive",
                client: ::wsauth_core::spec::ClientAction::Stop,
            },
            ::wsauth_core::__private::descriptor::CloseDescriptor {
                kind: ::wsauth_core::spec::FailureKind::SubjectMismatch,
                code: 4003u16,
                reason: "forbidden",
                client: ::wsauth_core::spec::ClientAction::Stop,
            },
            ::wsauth_core::__private::descriptor::CloseDescriptor {
                kind: ::wsauth_core::spec::FailureKind::Forbidden,
                code: 4003u16,
                reason: "forbidden",
                client: ::wsauth_core::spec::ClientAction::Stop,
            },
            ::wsauth_core::__private::descriptor::CloseDescriptor {
                kind: ::wsauth_core::spec::FailureKind::NotFound,
                code: 4004u16,
                reason: "not found",
                client: ::wsauth_core::spec::ClientAction::Stop,
            },
            ::wsauth_core::__private::descriptor::CloseDescriptor {
                kind: ::wsauth_core::spec::FailureKind::OriginRejected,
                code: 4003u16,
                reason: "forbidden",
                client: ::wsauth_core::spec::ClientAction::Stop,
            },
            ::wsauth_core::__private::descriptor::CloseDescriptor {
                kind: ::wsauth_core::spec::FailureKind::TooManyConnections,
                code: 4008u16,
                reason: "too many connections",
                client: ::wsauth_core::spec::ClientAction::Backoff,
            },
            ::wsauth_core::__private::descriptor::CloseDescriptor {
                kind: ::wsauth_core::spec::FailureKind::RateLimited,
                code: 4029u16,
                reason: "rate limit exceeded",
                client: ::wsauth_core::spec::ClientAction::Backoff,
            },
            ::wsauth_core::__private::descriptor::CloseDescriptor {
                kind: ::wsauth_core::spec::FailureKind::MessageTooBig,
                code: 1009u16,
                reason: "message too big",
                client: ::wsauth_core::spec::ClientAction::Stop,
            },
            ::wsauth_core::__private::descriptor::CloseDescriptor {
                kind: ::wsauth_core::spec::FailureKind::InvalidMessage,
                code: 1007u16,
                reason: "invalid message",
                client: ::wsauth_core::spec::ClientAction::Stop,
            },
            ::wsauth_core::__private::descriptor::CloseDescriptor {
                kind: ::wsauth_core::spec::FailureKind::SlowConsumer,
                code: 1013u16,
                reason: "try again later",
                client: ::wsauth_core::spec::ClientAction::Backoff,
            },
            ::wsauth_core::__private::descriptor::CloseDescriptor {
                kind: ::wsauth_core::spec::FailureKind::IdleTimeout,
                code: 1001u16,
                reason: "idle timeout",
                client: ::wsauth_core::spec::ClientAction::Backoff,
            },
            ::wsauth_core::__private::descriptor::CloseDescriptor {
                kind: ::wsauth_core::spec::FailureKind::GoingAway,
                code: 1001u16,
                reason: "server shutting down",
                client: ::wsauth_core::spec::ClientAction::Backoff,
            },
            ::wsauth_core::__private::descriptor::CloseDescriptor {
                kind: ::wsauth_core::spec::FailureKind::ServerError,
                code: 1011u16,
                reason: "server error",
                client: ::wsauth_core::spec::ClientAction::Backoff,
            },
            ::wsauth_core::__private::descriptor::CloseDescriptor {
                kind: ::wsauth_core::spec::FailureKind::Completed,
                code: 1000u16,
                reason: "done",
                client: ::wsauth_core::spec::ClientAction::Stop,
            },
            ::wsauth_core::__private::descriptor::CloseDescriptor {
                kind: ::wsauth_core::spec::FailureKind::Revoked,
                code: 4006u16,
                reason: "revoked",
                client: ::wsauth_core::spec::ClientAction::RefreshToken,
            },
            ::wsauth_core::__private::descriptor::CloseDescriptor {
                kind: ::wsauth_core::spec::FailureKind::Unavailable,
                code: 1013u16,
                reason: "try again later",
                client: ::wsauth_core::spec::ClientAction::Backoff,
            },
        ],
        stats: ::core::option::Option::None,
        endpoints: &[
            ::wsauth_core::__private::descriptor::EndpointDescriptor {
                name: "echo",
                path: "/ws/echo/{user_id}",
                params: &[
                    ::wsauth_core::__private::descriptor::ParamDescriptor {
                        name: "user_id",
                        ty: ::wsauth_core::spec::ParamType::String,
                        equals_subject: true,
                    },
                ],
                access: ::wsauth_core::spec::Access::Required,
                sources: &[::wsauth_core::spec::TokenSource::Query("token")],
                perm: ::core::option::Option::Some("echo.use"),
                checks: &[],
                welcome: ::core::option::Option::Some("connected"),
                receives: &[
                    ::wsauth_core::__private::descriptor::ReceiveDescriptor {
                        name: "echo",
                        perm: ::core::option::Option::None,
                        payload: ::core::option::Option::Some(&__WSAUTH_PAYLOAD_0),
                    },
                ],
                sends: &["connected", "echo"],
                open: ::core::option::Option::None,
                frames: ::wsauth_core::spec::Frames::Json,
                heartbeat: ::core::option::Option::None,
                limits: ::wsauth_core::__private::descriptor::Limits {
                    max_connections_per_user: 100000u32,
                    max_message_bytes: 16777216u32,
                    messages_per_second: 1000000u32,
                    burst: 1000000u32,
                    ping_interval_s: 25u32,
                    idle_timeout_s: 60u32,
                    send_queue: 64u32,
                    max_subscriptions: 100u32,
                },
                topics: &[],
            },
            ::wsauth_core::__private::descriptor::EndpointDescriptor {
                name: "typed",
                path: "/ws/typed/{user_id}",
                params: &[
                    ::wsauth_core::__private::descriptor::ParamDescriptor {
                        name: "user_id",
                        ty: ::wsauth_core::spec::ParamType::String,
                        equals_subject: true,
                    },
                ],
                access: ::wsauth_core::spec::Access::Required,
                sources: &[::wsauth_core::spec::TokenSource::Query("token")],
                perm: ::core::option::Option::Some("echo.use"),
                checks: &[],
                welcome: ::core::option::Option::Some("connected"),
                receives: &[
                    ::wsauth_core::__private::descriptor::ReceiveDescriptor {
                        name: "say",
                        perm: ::core::option::Option::None,
                        payload: ::core::option::Option::Some(&__WSAUTH_PAYLOAD_1),
                    },
                ],
                sends: &["connected", "say"],
                open: ::core::option::Option::None,
                frames: ::wsauth_core::spec::Frames::Json,
                heartbeat: ::core::option::Option::None,
                limits: ::wsauth_core::__private::descriptor::Limits {
                    max_connections_per_user: 100000u32,
                    max_message_bytes: 16777216u32,
                    messages_per_second: 1000000u32,
                    burst: 1000000u32,
                    ping_interval_s: 25u32,
                    idle_timeout_s: 60u32,
                    send_queue: 64u32,
                    max_subscriptions: 100u32,
                },
                topics: &[],
            },
            ::wsauth_core::__private::descriptor::EndpointDescriptor {
                name: "raw",
                path: "/ws/raw",
                params: &[],
                access: ::wsauth_core::spec::Access::Anonymous,
                sources: &[],
                perm: ::core::option::Option::None,
                checks: &[],
                welcome: ::core::option::Option::None,
                receives: &[],
                sends: &[],
                open: ::core::option::Option::None,
                frames: ::wsauth_core::spec::Frames::Raw,
                heartbeat: ::core::option::Option::None,
                limits: ::wsauth_core::__private::descriptor::Limits {
                    max_connections_per_user: 100000u32,
                    max_message_bytes: 16777216u32,
                    messages_per_second: 1000000u32,
                    burst: 1000000u32,
                    ping_interval_s: 25u32,
                    idle_timeout_s: 60u32,
                    send_queue: 64u32,
                    max_subscriptions: 100u32,
                },
                topics: &[],
            },
        ],
        topics: &[],
    }
};
/// The messages of the spec, one type per message (its fields beside `type`).
#[allow(dead_code, missing_docs, clippy::all)]
pub mod messages {
    #[derive(
        ::core::fmt::Debug,
        ::core::clone::Clone,
        ::core::cmp::PartialEq,
        ::wsauth_core::__private::serde::Serialize,
        ::wsauth_core::__private::serde::Deserialize
    )]
    #[serde(crate = "::wsauth_core::__private::serde", deny_unknown_fields)]
    pub struct Connected {
        pub user_id: ::std::string::String,
        pub authenticated: bool,
    }
    #[derive(
        ::core::fmt::Debug,
        ::core::clone::Clone,
        ::core::cmp::PartialEq,
        ::wsauth_core::__private::serde::Serialize,
        ::wsauth_core::__private::serde::Deserialize
    )]
    #[serde(crate = "::wsauth_core::__private::serde", deny_unknown_fields)]
    pub struct Echo {
        /// Anything; sent back unchanged.
        pub payload: ::wsauth_core::__private::serde_json::Value,
    }
    #[derive(
        ::core::fmt::Debug,
        ::core::clone::Clone,
        ::core::cmp::PartialEq,
        ::wsauth_core::__private::serde::Serialize,
        ::wsauth_core::__private::serde::Deserialize
    )]
    #[serde(crate = "::wsauth_core::__private::serde", deny_unknown_fields)]
    pub struct Say {
        /// Sent back unchanged.
        pub payload: ::std::string::String,
    }
}
/// The named schemas of the spec.
#[allow(dead_code, missing_docs, clippy::all)]
pub mod schemas {}
/// One module per endpoint: its marker type, session and message enums.
#[allow(dead_code, missing_docs, clippy::all)]
pub mod endpoints {
    /// The `echo` endpoint (`/ws/echo/{user_id}`).
    pub mod echo {
        /// The endpoint, as a type.
        #[derive(::core::fmt::Debug, ::core::clone::Clone, ::core::marker::Copy)]
        pub struct Endpoint;
        impl ::wsauth_core::Endpoint for Endpoint {
            const NAME: &'static str = "echo";
            const PERM: ::core::option::Option<&'static str> = ::core::option::Option::Some(
                "echo.use",
            );
            const __PERM_HELP: &'static str = "endpoint `echo` requires permission `echo.use`: write `#[ws_endpoint(perm = \"echo.use\")]` (../specs/echo.yaml:34)";
            type Incoming = Incoming;
            type Outgoing = Outgoing;
            fn __route<__D: ::wsauth_core::__private::Decoder<Incoming>>(
                kind: &str,
                decoder: __D,
            ) -> ::core::option::Option<__D::Output> {
                match kind {
                    "echo" => {
                        ::core::option::Option::Some(decoder.decode(Incoming::Echo))
                    }
                    _ => ::core::option::Option::None,
                }
            }
        }
        /// What a handler of this endpoint receives.
        pub type Session = ::wsauth_core::TypedSession<Endpoint>;
        /// Messages the client may send.
        #[derive(
            ::core::fmt::Debug,
            ::core::clone::Clone,
            ::core::cmp::PartialEq,
            ::wsauth_core::__private::serde::Deserialize
        )]
        #[serde(crate = "::wsauth_core::__private::serde", tag = "type")]
        pub enum Incoming {
            #[serde(rename = "echo")]
            Echo(super::super::messages::Echo),
        }
        /// Messages the server may send.
        #[derive(
            ::core::fmt::Debug,
            ::core::clone::Clone,
            ::core::cmp::PartialEq,
            ::wsauth_core::__private::serde::Serialize
        )]
        #[serde(crate = "::wsauth_core::__private::serde", tag = "type")]
        pub enum Outgoing {
            #[serde(rename = "connected")]
            Connected(super::super::messages::Connected),
            #[serde(rename = "echo")]
            Echo(super::super::messages::Echo),
        }
        impl ::wsauth_core::MessageKind for Outgoing {
            fn kind(&self) -> &str {
                match *self {
                    Outgoing::Connected(_) => "connected",
                    Outgoing::Echo(_) => "echo",
                }
            }
        }
        impl ::core::convert::From<super::super::messages::Connected> for Outgoing {
            fn from(message: super::super::messages::Connected) -> Self {
                Outgoing::Connected(message)
            }
        }
        impl ::core::convert::From<super::super::messages::Echo> for Outgoing {
            fn from(message: super::super::messages::Echo) -> Self {
                Outgoing::Echo(message)
            }
        }
    }
    /// The `typed` endpoint (`/ws/typed/{user_id}`).
    pub mod typed {
        /// The endpoint, as a type.
        #[derive(::core::fmt::Debug, ::core::clone::Clone, ::core::marker::Copy)]
        pub struct Endpoint;
        impl ::wsauth_core::Endpoint for Endpoint {
            const NAME: &'static str = "typed";
            const PERM: ::core::option::Option<&'static str> = ::core::option::Option::Some(
                "echo.use",
            );
            const __PERM_HELP: &'static str = "endpoint `typed` requires permission `echo.use`: write `#[ws_endpoint(perm = \"echo.use\")]` (../specs/echo.yaml:43)";
            type Incoming = Incoming;
            type Outgoing = Outgoing;
            fn __route<__D: ::wsauth_core::__private::Decoder<Incoming>>(
                kind: &str,
                decoder: __D,
            ) -> ::core::option::Option<__D::Output> {
                match kind {
                    "say" => ::core::option::Option::Some(decoder.decode(Incoming::Say)),
                    _ => ::core::option::Option::None,
                }
            }
        }
        /// What a handler of this endpoint receives.
        pub type Session = ::wsauth_core::TypedSession<Endpoint>;
        /// Messages the client may send.
        #[derive(
            ::core::fmt::Debug,
            ::core::clone::Clone,
            ::core::cmp::PartialEq,
            ::wsauth_core::__private::serde::Deserialize
        )]
        #[serde(crate = "::wsauth_core::__private::serde", tag = "type")]
        pub enum Incoming {
            #[serde(rename = "say")]
            Say(super::super::messages::Say),
        }
        /// Messages the server may send.
        #[derive(
            ::core::fmt::Debug,
            ::core::clone::Clone,
            ::core::cmp::PartialEq,
            ::wsauth_core::__private::serde::Serialize
        )]
        #[serde(crate = "::wsauth_core::__private::serde", tag = "type")]
        pub enum Outgoing {
            #[serde(rename = "connected")]
            Connected(super::super::messages::Connected),
            #[serde(rename = "say")]
            Say(super::super::messages::Say),
        }
        impl ::wsauth_core::MessageKind for Outgoing {
            fn kind(&self) -> &str {
                match *self {
                    Outgoing::Connected(_) => "connected",
                    Outgoing::Say(_) => "say",
                }
            }
        }
        impl ::core::convert::From<super::super::messages::Connected> for Outgoing {
            fn from(message: super::super::messages::Connected) -> Self {
                Outgoing::Connected(message)
            }
        }
        impl ::core::convert::From<super::super::messages::Say> for Outgoing {
            fn from(message: super::super::messages::Say) -> Self {
                Outgoing::Say(message)
            }
        }
    }
    /// The `raw` endpoint (`/ws/raw`).
    pub mod raw {
        /// The endpoint, as a type.
        #[derive(::core::fmt::Debug, ::core::clone::Clone, ::core::marker::Copy)]
        pub struct Endpoint;
        impl ::wsauth_core::Endpoint for Endpoint {
            const NAME: &'static str = "raw";
            const PERM: ::core::option::Option<&'static str> = ::core::option::Option::None;
            const __PERM_HELP: &'static str = "endpoint `raw` requires no permission: remove `perm` from its `#[ws_endpoint]` (../specs/echo.yaml:55)";
            type Incoming = Incoming;
            type Outgoing = Outgoing;
        }
        /// What a handler of this endpoint receives.
        pub type Session = ::wsauth_core::TypedSession<Endpoint>;
        /// Messages the client may send.
        #[derive(
            ::core::fmt::Debug,
            ::core::clone::Clone,
            ::core::cmp::PartialEq,
            ::wsauth_core::__private::serde::Deserialize
        )]
        #[serde(crate = "::wsauth_core::__private::serde", tag = "type")]
        pub enum Incoming {}
        /// Messages the server may send.
        #[derive(
            ::core::fmt::Debug,
            ::core::clone::Clone,
            ::core::cmp::PartialEq,
            ::wsauth_core::__private::serde::Serialize
        )]
        #[serde(crate = "::wsauth_core::__private::serde", tag = "type")]
        pub enum Outgoing {}
        impl ::wsauth_core::MessageKind for Outgoing {
            fn kind(&self) -> &str {
                match *self {}
            }
        }
    }
}
/// One handler per endpoint of the spec. Every field must be given,
/// so a server cannot be built while an endpoint has no handler, and
/// each must be a `#[ws_endpoint]` function of that endpoint.
pub struct Handlers<Echo, Typed, Raw>
where
    Echo: ::wsauth_core::EndpointHandler<Endpoint = endpoints::echo::Endpoint>,
    Typed: ::wsauth_core::EndpointHandler<Endpoint = endpoints::typed::Endpoint>,
    Raw: ::wsauth_core::EndpointHandler<Endpoint = endpoints::raw::Endpoint>,
{
    /// Handler of `echo` (`/ws/echo/{user_id}`).
    pub echo: Echo,
    /// Handler of `typed` (`/ws/typed/{user_id}`).
    pub typed: Typed,
    /// Handler of `raw` (`/ws/raw`).
    pub raw: Raw,
}
impl<Echo, Typed, Raw> Handlers<Echo, Typed, Raw>
where
    Echo: ::wsauth_core::EndpointHandler<Endpoint = endpoints::echo::Endpoint>,
    Typed: ::wsauth_core::EndpointHandler<Endpoint = endpoints::typed::Endpoint>,
    Raw: ::wsauth_core::EndpointHandler<Endpoint = endpoints::raw::Endpoint>,
{
    /// A server builder with every handler registered, for handlers
    /// that take no application state; configure authentication,
    /// stores and origins on it, then `build()`.
    pub fn into_builder(self) -> ::wsauth_core::Builder
    where
        Echo: ::wsauth_core::RunsWith<()>,
        Typed: ::wsauth_core::RunsWith<()>,
        Raw: ::wsauth_core::RunsWith<()>,
    {
        self.with_state(())
    }
    /// A server builder with every handler registered, each handler
    /// that takes state (`store: &T`) given its part of `state`;
    /// configure authentication, stores and origins on it, then
    /// `build()`. A handler whose state `state` does not provide
    /// does not compile.
    pub fn with_state<__S>(self, state: __S) -> ::wsauth_core::Builder
    where
        __S: ::core::marker::Send + ::core::marker::Sync + 'static,
        Echo: ::wsauth_core::RunsWith<__S>,
        Typed: ::wsauth_core::RunsWith<__S>,
        Raw: ::wsauth_core::RunsWith<__S>,
    {
        let state = ::std::sync::Arc::new(state);
        let builder = ::wsauth_core::Builder::new(&API);
        let handler = ::std::sync::Arc::new(self.echo);
        let state_of_handler = ::std::sync::Arc::clone(&state);
        let builder = ::wsauth_core::__private::typed_handler::<
            endpoints::echo::Endpoint,
            _,
            _,
        >(
            builder,
            move |session| ::wsauth_core::RunsWith::call(
                &*handler,
                session,
                &state_of_handler,
            ),
        );
        let handler = ::std::sync::Arc::new(self.typed);
        let state_of_handler = ::std::sync::Arc::clone(&state);
        let builder = ::wsauth_core::__private::typed_handler::<
            endpoints::typed::Endpoint,
            _,
            _,
        >(
            builder,
            move |session| ::wsauth_core::RunsWith::call(
                &*handler,
                session,
                &state_of_handler,
            ),
        );
        let handler = ::std::sync::Arc::new(self.raw);
        let state_of_handler = ::std::sync::Arc::clone(&state);
        let builder = ::wsauth_core::__private::typed_handler::<
            endpoints::raw::Endpoint,
            _,
            _,
        >(
            builder,
            move |session| ::wsauth_core::RunsWith::call(
                &*handler,
                session,
                &state_of_handler,
            ),
        );
        builder
    }
}
