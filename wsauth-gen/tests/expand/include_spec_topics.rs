const _: &str = ::core::include_str!("$CARGO_MANIFEST_DIR/tests/fixtures/topics.yaml");
///The runtime descriptor of the `rooms` spec (rooms 1.0.0), generated from the spec at compile time.
pub static API: ::wsauth_core::ApiDescriptor = {
    static __WSAUTH_PAYLOAD_0: ::wsauth_core::__private::descriptor::SchemaDescriptor = ::wsauth_core::__private::descriptor::SchemaDescriptor::Object {
        fields: &[
            ::wsauth_core::__private::descriptor::FieldDescriptor {
                name: "text",
                required: true,
                schema: ::wsauth_core::__private::descriptor::SchemaDescriptor::String(::wsauth_core::__private::descriptor::StringDescriptor {
                    values: &[],
                    min_length: ::core::option::Option::None,
                    max_length: ::core::option::Option::Some(4000u64),
                    format: ::core::option::Option::None,
                    pattern: ::core::option::Option::None,
                }),
            },
        ],
    };
    static __WSAUTH_PAYLOAD_1: ::wsauth_core::__private::descriptor::SchemaDescriptor = ::wsauth_core::__private::descriptor::SchemaDescriptor::Object {
        fields: &[],
    };
    ::wsauth_core::__private::descriptor::ApiDescriptor {
        name: "rooms",
        auth: ::core::option::Option::Some(::wsauth_core::__private::descriptor::AuthDescriptor {
            sources: &[::wsauth_core::spec::TokenSource::Header],
            jwt: ::core::option::Option::Some(::wsauth_core::__private::descriptor::JwtDescriptor {
                keys: &[
                    ::wsauth_core::__private::descriptor::KeySlot {
                        name: "default",
                        algorithms: &[::wsauth_core::spec::Algorithm::HS256],
                    },
                ],
                issuer: ::core::option::Option::Some("rooms"),
                audience: &[],
                leeway_s: 0u64,
                max_ttl_s: ::core::option::Option::Some(86400u64),
                subject_claim: "sub",
                roles_claim: "roles",
                roles_shape: ::wsauth_core::spec::ClaimShape::Array,
            }),
            introspection: ::core::option::Option::None,
            on_expiry: ::wsauth_core::spec::ExpiryPolicy::Close,
            anonymous_role: ::core::option::Option::None,
        }),
        roles: &[
            ::wsauth_core::__private::descriptor::RoleDescriptor {
                name: "user",
                all: false,
                permissions: &["room.read", "room.write", "news.read"],
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
                name: "rooms",
                path: "/ws/rooms",
                params: &[],
                access: ::wsauth_core::spec::Access::Required,
                sources: &[::wsauth_core::spec::TokenSource::Header],
                perm: ::core::option::Option::None,
                checks: &[],
                welcome: ::core::option::Option::Some("hello"),
                receives: &[],
                sends: &["hello"],
                open: ::core::option::Option::None,
                frames: ::wsauth_core::spec::Frames::Json,
                heartbeat: ::core::option::Option::None,
                limits: ::wsauth_core::__private::descriptor::Limits {
                    max_connections_per_user: 10u32,
                    max_message_bytes: 65536u32,
                    messages_per_second: 20u32,
                    burst: 40u32,
                    ping_interval_s: 25u32,
                    idle_timeout_s: 60u32,
                    send_queue: 64u32,
                    max_subscriptions: 100u32,
                },
                topics: &[
                    ::wsauth_core::__private::descriptor::EndpointTopicDescriptor {
                        name: "room",
                        deliver: ::wsauth_core::spec::Deliver::Publication,
                    },
                    ::wsauth_core::__private::descriptor::EndpointTopicDescriptor {
                        name: "news",
                        deliver: ::wsauth_core::spec::Deliver::Publication,
                    },
                ],
            },
            ::wsauth_core::__private::descriptor::EndpointDescriptor {
                name: "lobby",
                path: "/ws/lobby",
                params: &[],
                access: ::wsauth_core::spec::Access::Required,
                sources: &[::wsauth_core::spec::TokenSource::Header],
                perm: ::core::option::Option::None,
                checks: &[],
                welcome: ::core::option::Option::None,
                receives: &[],
                sends: &[],
                open: ::core::option::Option::None,
                frames: ::wsauth_core::spec::Frames::Json,
                heartbeat: ::core::option::Option::None,
                limits: ::wsauth_core::__private::descriptor::Limits {
                    max_connections_per_user: 10u32,
                    max_message_bytes: 65536u32,
                    messages_per_second: 20u32,
                    burst: 40u32,
                    ping_interval_s: 25u32,
                    idle_timeout_s: 60u32,
                    send_queue: 64u32,
                    max_subscriptions: 100u32,
                },
                topics: &[
                    ::wsauth_core::__private::descriptor::EndpointTopicDescriptor {
                        name: "news",
                        deliver: ::wsauth_core::spec::Deliver::Publication,
                    },
                ],
            },
        ],
        topics: &[
            ::wsauth_core::__private::descriptor::TopicDescriptor {
                name: "room",
                params: &[
                    ::wsauth_core::__private::descriptor::TopicParamDescriptor {
                        name: "room_id",
                        ty: ::wsauth_core::spec::ParamType::Integer,
                    },
                    ::wsauth_core::__private::descriptor::TopicParamDescriptor {
                        name: "type",
                        ty: ::wsauth_core::spec::ParamType::String,
                    },
                ],
                subscribe: ::core::option::Option::Some("room.read"),
                checks: &["room_member"],
                publish: ::core::option::Option::Some("room.write"),
                messages: &[
                    ::wsauth_core::__private::descriptor::ReceiveDescriptor {
                        name: "posted",
                        perm: ::core::option::Option::None,
                        payload: ::core::option::Option::Some(&__WSAUTH_PAYLOAD_0),
                    },
                    ::wsauth_core::__private::descriptor::ReceiveDescriptor {
                        name: "typing",
                        perm: ::core::option::Option::None,
                        payload: ::core::option::Option::Some(&__WSAUTH_PAYLOAD_1),
                    },
                ],
                presence: true,
                history: ::core::option::Option::Some(::wsauth_core::__private::descriptor::HistoryDescriptor {
                    size: 100u32,
                    ttl_s: 300u32,
                }),
                open: ::core::option::Option::None,
            },
            ::wsauth_core::__private::descriptor::TopicDescriptor {
                name: "news",
                params: &[],
                subscribe: ::core::option::Option::Some("news.read"),
                checks: &[],
                publish: ::core::option::Option::None,
                messages: &[
                    ::wsauth_core::__private::descriptor::ReceiveDescriptor {
                        name: "posted",
                        perm: ::core::option::Option::None,
                        payload: ::core::option::Option::Some(&__WSAUTH_PAYLOAD_0),
                    },
                ],
                presence: false,
                history: ::core::option::Option::None,
                open: ::core::option::Option::None,
            },
        ],
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
    pub struct Hello {}
    #[derive(
        ::core::fmt::Debug,
        ::core::clone::Clone,
        ::core::cmp::PartialEq,
        ::wsauth_core::__private::serde::Serialize,
        ::wsauth_core::__private::serde::Deserialize
    )]
    #[serde(crate = "::wsauth_core::__private::serde", deny_unknown_fields)]
    pub struct Posted {
        pub text: ::std::string::String,
    }
    #[derive(
        ::core::fmt::Debug,
        ::core::clone::Clone,
        ::core::cmp::PartialEq,
        ::wsauth_core::__private::serde::Serialize,
        ::wsauth_core::__private::serde::Deserialize
    )]
    #[serde(crate = "::wsauth_core::__private::serde", deny_unknown_fields)]
    pub struct Typing {}
}
/// The named schemas of the spec.
#[allow(dead_code, missing_docs, clippy::all)]
pub mod schemas {}
/// One module per topic: its instance key and the messages it carries.
#[allow(dead_code, missing_docs, clippy::all)]
pub mod topics {
    /** The `room` topic.

 What is said in one room.*/
    pub mod room {
        /// An instance of the topic: its params.
        #[derive(
            ::core::fmt::Debug,
            ::core::clone::Clone,
            ::core::cmp::PartialEq,
            ::core::cmp::Eq,
            ::core::hash::Hash,
            ::wsauth_core::__private::serde::Serialize,
            ::wsauth_core::__private::serde::Deserialize
        )]
        #[serde(crate = "::wsauth_core::__private::serde", deny_unknown_fields)]
        pub struct Key {
            /// The room.
            pub room_id: i64,
            pub r#type: ::std::string::String,
        }
        impl ::wsauth_core::TopicKey for Key {
            const TOPIC: &'static str = "room";
            type Message = Message;
        }
        /// The messages the topic carries.
        #[derive(
            ::core::fmt::Debug,
            ::core::clone::Clone,
            ::core::cmp::PartialEq,
            ::wsauth_core::__private::serde::Serialize,
            ::wsauth_core::__private::serde::Deserialize
        )]
        #[serde(crate = "::wsauth_core::__private::serde", tag = "type")]
        pub enum Message {
            #[serde(rename = "posted")]
            Posted(super::super::messages::Posted),
            #[serde(rename = "typing")]
            Typing(super::super::messages::Typing),
        }
        impl ::wsauth_core::MessageKind for Message {
            fn kind(&self) -> &str {
                match *self {
                    Message::Posted(_) => "posted",
                    Message::Typing(_) => "typing",
                }
            }
        }
        impl ::core::convert::From<super::super::messages::Posted> for Message {
            fn from(message: super::super::messages::Posted) -> Self {
                Message::Posted(message)
            }
        }
        impl ::core::convert::From<super::super::messages::Typing> for Message {
            fn from(message: super::super::messages::Typing) -> Self {
                Message::Typing(message)
            }
        }
    }
    /// The `news` topic.
    pub mod news {
        /// An instance of the topic: its params.
        #[derive(
            ::core::fmt::Debug,
            ::core::clone::Clone,
            ::core::cmp::PartialEq,
            ::core::cmp::Eq,
            ::core::hash::Hash,
            ::wsauth_core::__private::serde::Serialize,
            ::wsauth_core::__private::serde::Deserialize
        )]
        #[serde(crate = "::wsauth_core::__private::serde", deny_unknown_fields)]
        pub struct Key {}
        impl ::wsauth_core::TopicKey for Key {
            const TOPIC: &'static str = "news";
            type Message = Message;
        }
        /// The messages the topic carries.
        #[derive(
            ::core::fmt::Debug,
            ::core::clone::Clone,
            ::core::cmp::PartialEq,
            ::wsauth_core::__private::serde::Serialize,
            ::wsauth_core::__private::serde::Deserialize
        )]
        #[serde(crate = "::wsauth_core::__private::serde", tag = "type")]
        pub enum Message {
            #[serde(rename = "posted")]
            Posted(super::super::messages::Posted),
        }
        impl ::wsauth_core::MessageKind for Message {
            fn kind(&self) -> &str {
                match *self {
                    Message::Posted(_) => "posted",
                }
            }
        }
        impl ::core::convert::From<super::super::messages::Posted> for Message {
            fn from(message: super::super::messages::Posted) -> Self {
                Message::Posted(message)
            }
        }
    }
}
/// One module per endpoint: its marker type, session and message enums.
#[allow(dead_code, missing_docs, clippy::all)]
pub mod endpoints {
    /// The `rooms` endpoint (`/ws/rooms`).
    pub mod rooms {
        /// The endpoint, as a type.
        #[derive(::core::fmt::Debug, ::core::clone::Clone, ::core::marker::Copy)]
        pub struct Endpoint;
        impl ::wsauth_core::Endpoint for Endpoint {
            const NAME: &'static str = "rooms";
            const PERM: ::core::option::Option<&'static str> = ::core::option::Option::None;
            const __PERM_HELP: &'static str = "endpoint `rooms` requires no permission: remove `perm` from its `#[ws_endpoint]` (tests/fixtures/topics.yaml:34)";
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
        pub enum Outgoing {
            #[serde(rename = "hello")]
            Hello(super::super::messages::Hello),
        }
        impl ::wsauth_core::MessageKind for Outgoing {
            fn kind(&self) -> &str {
                match *self {
                    Outgoing::Hello(_) => "hello",
                }
            }
        }
        impl ::core::convert::From<super::super::messages::Hello> for Outgoing {
            fn from(message: super::super::messages::Hello) -> Self {
                Outgoing::Hello(message)
            }
        }
        impl ::wsauth_core::Joins<super::super::topics::room::Key> for Endpoint {}
        impl ::wsauth_core::Joins<super::super::topics::news::Key> for Endpoint {}
    }
    /// The `lobby` endpoint (`/ws/lobby`).
    pub mod lobby {
        /// The endpoint, as a type.
        #[derive(::core::fmt::Debug, ::core::clone::Clone, ::core::marker::Copy)]
        pub struct Endpoint;
        impl ::wsauth_core::Endpoint for Endpoint {
            const NAME: &'static str = "lobby";
            const PERM: ::core::option::Option<&'static str> = ::core::option::Option::None;
            const __PERM_HELP: &'static str = "endpoint `lobby` requires no permission: remove `perm` from its `#[ws_endpoint]` (tests/fixtures/topics.yaml:38)";
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
        impl ::wsauth_core::Joins<super::super::topics::news::Key> for Endpoint {}
    }
}
/// One handler per endpoint of the spec. Every field must be given,
/// so a server cannot be built while an endpoint has no handler, and
/// each must be a `#[ws_endpoint]` function of that endpoint.
pub struct Handlers<Rooms, Lobby>
where
    Rooms: ::wsauth_core::EndpointHandler<Endpoint = endpoints::rooms::Endpoint>,
    Lobby: ::wsauth_core::EndpointHandler<Endpoint = endpoints::lobby::Endpoint>,
{
    /// Handler of `rooms` (`/ws/rooms`).
    pub rooms: Rooms,
    /// Handler of `lobby` (`/ws/lobby`).
    pub lobby: Lobby,
}
impl<Rooms, Lobby> Handlers<Rooms, Lobby>
where
    Rooms: ::wsauth_core::EndpointHandler<Endpoint = endpoints::rooms::Endpoint>,
    Lobby: ::wsauth_core::EndpointHandler<Endpoint = endpoints::lobby::Endpoint>,
{
    /// A server builder with every handler registered, for handlers
    /// that take no application state; configure authentication,
    /// stores and origins on it, then `build()`.
    pub fn into_builder(self) -> ::wsauth_core::Builder
    where
        Rooms: ::wsauth_core::RunsWith<()>,
        Lobby: ::wsauth_core::RunsWith<()>,
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
        Rooms: ::wsauth_core::RunsWith<__S>,
        Lobby: ::wsauth_core::RunsWith<__S>,
    {
        let state = ::std::sync::Arc::new(state);
        let builder = ::wsauth_core::Builder::new(&API);
        let handler = ::std::sync::Arc::new(self.rooms);
        let state_of_handler = ::std::sync::Arc::clone(&state);
        let builder = ::wsauth_core::__private::typed_handler::<
            endpoints::rooms::Endpoint,
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
        let handler = ::std::sync::Arc::new(self.lobby);
        let state_of_handler = ::std::sync::Arc::clone(&state);
        let builder = ::wsauth_core::__private::typed_handler::<
            endpoints::lobby::Endpoint,
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
