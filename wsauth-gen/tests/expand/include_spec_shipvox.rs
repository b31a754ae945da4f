const _: &str = ::core::include_str!("$CARGO_MANIFEST_DIR/../specs/shipvox.yaml");
///The runtime descriptor of the `shipvox` spec (ShipVox broadcast 1.0.0), generated from the spec at compile time.
pub static API: ::wsauth_core::ApiDescriptor = {
    static __WSAUTH_PAYLOAD_0: ::wsauth_core::__private::descriptor::SchemaDescriptor = ::wsauth_core::__private::descriptor::SchemaDescriptor::Object {
        fields: &[
            ::wsauth_core::__private::descriptor::FieldDescriptor {
                name: "text",
                required: true,
                schema: ::wsauth_core::__private::descriptor::SchemaDescriptor::String(::wsauth_core::__private::descriptor::StringDescriptor {
                    values: &[],
                    min_length: ::core::option::Option::Some(1u64),
                    max_length: ::core::option::Option::Some(2000u64),
                    format: ::core::option::Option::None,
                    pattern: ::core::option::Option::None,
                }),
            },
        ],
    };
    static __WSAUTH_PAYLOAD_1: ::wsauth_core::__private::descriptor::SchemaDescriptor = ::wsauth_core::__private::descriptor::SchemaDescriptor::Object {
        fields: &[
            ::wsauth_core::__private::descriptor::FieldDescriptor {
                name: "from",
                required: true,
                schema: ::wsauth_core::__private::descriptor::SchemaDescriptor::String(::wsauth_core::__private::descriptor::StringDescriptor {
                    values: &[],
                    min_length: ::core::option::Option::None,
                    max_length: ::core::option::Option::None,
                    format: ::core::option::Option::None,
                    pattern: ::core::option::Option::None,
                }),
            },
            ::wsauth_core::__private::descriptor::FieldDescriptor {
                name: "at",
                required: true,
                schema: ::wsauth_core::__private::descriptor::SchemaDescriptor::String(::wsauth_core::__private::descriptor::StringDescriptor {
                    values: &[],
                    min_length: ::core::option::Option::None,
                    max_length: ::core::option::Option::None,
                    format: ::core::option::Option::Some(
                        ::wsauth_core::__private::descriptor::Format::DateTime,
                    ),
                    pattern: ::core::option::Option::None,
                }),
            },
            ::wsauth_core::__private::descriptor::FieldDescriptor {
                name: "request_id",
                required: true,
                schema: ::wsauth_core::__private::descriptor::SchemaDescriptor::String(::wsauth_core::__private::descriptor::StringDescriptor {
                    values: &[],
                    min_length: ::core::option::Option::None,
                    max_length: ::core::option::Option::None,
                    format: ::core::option::Option::Some(
                        ::wsauth_core::__private::descriptor::Format::Uuid,
                    ),
                    pattern: ::core::option::Option::None,
                }),
            },
            ::wsauth_core::__private::descriptor::FieldDescriptor {
                name: "text",
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
        name: "shipvox",
        auth: ::core::option::Option::Some(::wsauth_core::__private::descriptor::AuthDescriptor {
            sources: &[::wsauth_core::spec::TokenSource::Query("token")],
            jwt: ::core::option::Option::Some(::wsauth_core::__private::descriptor::JwtDescriptor {
                keys: &[
                    ::wsauth_core::__private::descriptor::KeySlot {
                        name: "default",
                        algorithms: &[::wsauth_core::spec::Algorithm::HS256],
                    },
                ],
                issuer: ::core::option::Option::Some("shipvox"),
                audience: &["shipvox-ws"],
                leeway_s: 5u64,
                max_ttl_s: ::core::option::Option::Some(3600u64),
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
                permissions: &["broadcast.listen", "broadcast.speak"],
            },
            ::wsauth_core::__private::descriptor::RoleDescriptor {
                name: "moderator",
                all: false,
                permissions: &["broadcast.listen", "broadcast.speak"],
            },
            ::wsauth_core::__private::descriptor::RoleDescriptor {
                name: "admin",
                all: true,
                permissions: &["broadcast.listen", "broadcast.speak"],
            },
        ],
        close_codes: &[
            ::wsauth_core::__private::descriptor::CloseDescriptor {
                kind: ::wsauth_core::spec::FailureKind::AuthRequired,
                code: 1008u16,
                reason: "Missing authentication token",
                client: ::wsauth_core::spec::ClientAction::RefreshToken,
            },
            ::wsauth_core::__private::descriptor::CloseDescriptor {
                kind: ::wsauth_core::spec::FailureKind::AuthFailed,
                code: 1008u16,
                reason: "Invalid or expired token",
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
                name: "broadcast",
                path: "/ws",
                params: &[],
                access: ::wsauth_core::spec::Access::Required,
                sources: &[::wsauth_core::spec::TokenSource::Query("token")],
                perm: ::core::option::Option::Some("broadcast.listen"),
                checks: &[],
                welcome: ::core::option::Option::Some("connected"),
                receives: &[
                    ::wsauth_core::__private::descriptor::ReceiveDescriptor {
                        name: "say",
                        perm: ::core::option::Option::Some("broadcast.speak"),
                        payload: ::core::option::Option::Some(&__WSAUTH_PAYLOAD_0),
                    },
                ],
                sends: &["connected", "relayed"],
                open: ::core::option::Option::Some(::wsauth_core::__private::descriptor::OpenDescriptor {
                    receives: true,
                    sends: true,
                    perm: ::core::option::Option::Some("broadcast.speak"),
                    declared: &["connected", "say", "relayed"],
                }),
                frames: ::wsauth_core::spec::Frames::Json,
                heartbeat: ::core::option::Option::None,
                limits: ::wsauth_core::__private::descriptor::Limits {
                    max_connections_per_user: 3u32,
                    max_message_bytes: 16384u32,
                    messages_per_second: 5u32,
                    burst: 10u32,
                    ping_interval_s: 25u32,
                    idle_timeout_s: 60u32,
                    send_queue: 64u32,
                    max_subscriptions: 100u32,
                },
                topics: &[
                    ::wsauth_core::__private::descriptor::EndpointTopicDescriptor {
                        name: "everyone",
                        deliver: ::wsauth_core::spec::Deliver::Message,
                    },
                ],
            },
        ],
        topics: &[
            ::wsauth_core::__private::descriptor::TopicDescriptor {
                name: "everyone",
                params: &[],
                subscribe: ::core::option::Option::Some("broadcast.listen"),
                checks: &[],
                publish: ::core::option::Option::None,
                messages: &[
                    ::wsauth_core::__private::descriptor::ReceiveDescriptor {
                        name: "relayed",
                        perm: ::core::option::Option::None,
                        payload: ::core::option::Option::Some(&__WSAUTH_PAYLOAD_1),
                    },
                ],
                presence: false,
                history: ::core::option::Option::None,
                open: ::core::option::Option::Some(::wsauth_core::__private::descriptor::OpenTopicDescriptor {
                    declared: &["connected", "say", "relayed"],
                }),
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
    pub struct Connected {
        pub user_id: ::std::string::String,
        /// Connected clients, this one included.
        pub listeners: i64,
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
        pub text: ::std::string::String,
    }
    /// A `say` from some client, as every client receives it.
    #[derive(
        ::core::fmt::Debug,
        ::core::clone::Clone,
        ::core::cmp::PartialEq,
        ::wsauth_core::__private::serde::Serialize,
        ::wsauth_core::__private::serde::Deserialize
    )]
    #[serde(crate = "::wsauth_core::__private::serde", deny_unknown_fields)]
    pub struct Relayed {
        /// The sender's user id, from their token.
        pub from: ::std::string::String,
        /// When the server received it.
        pub at: ::std::string::String,
        pub request_id: ::std::string::String,
        pub text: ::std::string::String,
    }
}
/// The named schemas of the spec.
#[allow(dead_code, missing_docs, clippy::all)]
pub mod schemas {}
/// One module per topic: its instance key and the messages it carries.
#[allow(dead_code, missing_docs, clippy::all)]
pub mod topics {
    /** The `everyone` topic.

 Every relayed message, to every connected client: typed `relayed`s
and stamped open messages alike. Only the server publishes; the
handler joins each admitted connection, so clients receive the
messages as the endpoint's own.*/
    pub mod everyone {
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
            const TOPIC: &'static str = "everyone";
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
            #[serde(rename = "relayed")]
            Relayed(super::super::messages::Relayed),
            /// A message of a type the spec does not declare (the topic's `open`).
            #[serde(untagged, deserialize_with = "__wsauth_open")]
            Open(::wsauth_core::OpenMessage),
        }
        impl ::wsauth_core::MessageKind for Message {
            fn kind(&self) -> &str {
                match *self {
                    Message::Relayed(_) => "relayed",
                    Message::Open(ref message) => &message.kind,
                }
            }
        }
        impl ::core::convert::From<super::super::messages::Relayed> for Message {
            fn from(message: super::super::messages::Relayed) -> Self {
                Message::Relayed(message)
            }
        }
        fn __wsauth_open<'de, D: ::wsauth_core::__private::serde::Deserializer<'de>>(
            deserializer: D,
        ) -> ::core::result::Result<::wsauth_core::OpenMessage, D::Error> {
            ::wsauth_core::OpenMessage::__deserialize_undeclared(
                deserializer,
                &["connected", "say", "relayed"],
            )
        }
        impl ::core::convert::From<::wsauth_core::OpenMessage> for Message {
            fn from(message: ::wsauth_core::OpenMessage) -> Self {
                Message::Open(message)
            }
        }
    }
}
/// One module per endpoint: its marker type, session and message enums.
#[allow(dead_code, missing_docs, clippy::all)]
pub mod endpoints {
    /// The `broadcast` endpoint (`/ws`).
    pub mod broadcast {
        /// The endpoint, as a type.
        #[derive(::core::fmt::Debug, ::core::clone::Clone, ::core::marker::Copy)]
        pub struct Endpoint;
        impl ::wsauth_core::Endpoint for Endpoint {
            const NAME: &'static str = "broadcast";
            const PERM: ::core::option::Option<&'static str> = ::core::option::Option::Some(
                "broadcast.listen",
            );
            const __PERM_HELP: &'static str = "endpoint `broadcast` requires permission `broadcast.listen`: write `#[ws_endpoint(perm = \"broadcast.listen\")]` (../specs/shipvox.yaml:66)";
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
            /// A message of a type the spec does not declare (the endpoint's `open`).
            #[serde(untagged, deserialize_with = "__wsauth_open")]
            Open(::wsauth_core::OpenMessage),
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
            #[serde(rename = "relayed")]
            Relayed(super::super::messages::Relayed),
            /// A message of a type the spec does not declare (the endpoint's `open`).
            #[serde(untagged, deserialize_with = "__wsauth_open")]
            Open(::wsauth_core::OpenMessage),
        }
        impl ::wsauth_core::MessageKind for Outgoing {
            fn kind(&self) -> &str {
                match *self {
                    Outgoing::Connected(_) => "connected",
                    Outgoing::Relayed(_) => "relayed",
                    Outgoing::Open(ref message) => &message.kind,
                }
            }
        }
        impl ::core::convert::From<super::super::messages::Connected> for Outgoing {
            fn from(message: super::super::messages::Connected) -> Self {
                Outgoing::Connected(message)
            }
        }
        impl ::core::convert::From<super::super::messages::Relayed> for Outgoing {
            fn from(message: super::super::messages::Relayed) -> Self {
                Outgoing::Relayed(message)
            }
        }
        impl ::core::convert::From<::wsauth_core::OpenMessage> for Outgoing {
            fn from(message: ::wsauth_core::OpenMessage) -> Self {
                Outgoing::Open(message)
            }
        }
        fn __wsauth_open<'de, D: ::wsauth_core::__private::serde::Deserializer<'de>>(
            deserializer: D,
        ) -> ::core::result::Result<::wsauth_core::OpenMessage, D::Error> {
            ::wsauth_core::OpenMessage::__deserialize_undeclared(
                deserializer,
                &["connected", "say", "relayed"],
            )
        }
        impl ::wsauth_core::Joins<super::super::topics::everyone::Key> for Endpoint {}
    }
}
/// One handler per endpoint of the spec. Every field must be given,
/// so a server cannot be built while an endpoint has no handler, and
/// each must be a `#[ws_endpoint]` function of that endpoint.
pub struct Handlers<Broadcast>
where
    Broadcast: ::wsauth_core::EndpointHandler<Endpoint = endpoints::broadcast::Endpoint>,
{
    /// Handler of `broadcast` (`/ws`).
    pub broadcast: Broadcast,
}
impl<Broadcast> Handlers<Broadcast>
where
    Broadcast: ::wsauth_core::EndpointHandler<Endpoint = endpoints::broadcast::Endpoint>,
{
    /// A server builder with every handler registered, for handlers
    /// that take no application state; configure authentication,
    /// stores and origins on it, then `build()`.
    pub fn into_builder(self) -> ::wsauth_core::Builder
    where
        Broadcast: ::wsauth_core::RunsWith<()>,
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
        Broadcast: ::wsauth_core::RunsWith<__S>,
    {
        let state = ::std::sync::Arc::new(state);
        let builder = ::wsauth_core::Builder::new(&API);
        let handler = ::std::sync::Arc::new(self.broadcast);
        let state_of_handler = ::std::sync::Arc::clone(&state);
        let builder = ::wsauth_core::__private::typed_handler::<
            endpoints::broadcast::Endpoint,
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
