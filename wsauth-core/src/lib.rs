//! The wsauth runtime: authenticated, authorized WebSocket endpoints on axum.
//!
//! A spec, resolved at compile time into an [`ApiDescriptor`], is enforced
//! on every connection and every message. The handshake runs, in order:
//! origin allow-list (a foreign origin gets HTTP 403 and no socket), token
//! extraction from the spec's sources, verification ([`Verifier`],
//! [`Introspector`], or any [`Authenticator`]) and revocation (in memory:
//! [`WsAuth::revoke_jti`] and its siblings), path binding, user lookup
//! ([`UserStore`]), endpoint permission ([`Principal`]), the per-user
//! connection limit and resource checks ([`Checks`]). A refused
//! connection is upgraded and closed at once with the spec's code and
//! generic reason; an admitted one reaches its handler as a
//! [`Session`], which only the pipeline can create. Every decision is an
//! audit event (`tracing` target `wsauth::audit`, or JSON lines to an
//! [`AuditLog`] given to [`Builder::audit`]; never carrying a token).
//! Nothing here reads YAML at run time. Serve the router with
//! [`WsAuth::serve`] for the limits that hold before authentication
//! ([`ServerLimits`]: header timeout, connections per client address and in
//! all). Each node counts what it does, for Prometheus ([`WsAuth::metrics`]),
//! with label values only from the spec.
//!
//! Features:
//!
//! | feature | what it adds |
//! |---|---|
//! | `client` | the `client` module, the runtime of generated Rust clients |
//! | `redis` | `Builder::redis`: several server processes as one API, sharing a Redis (cluster-wide per-user limits, revocation) |
//!
//! ```no_run
//! # use wsauth_core::{WsAuth, Session, HandlerResult};
//! # static API: wsauth_core::ApiDescriptor = wsauth_core::ApiDescriptor {
//! #     name: "x", auth: None, roles: &[], close_codes: &[], stats: None, endpoints: &[],
//! #     topics: &[] };
//! async fn echo(mut session: Session) -> HandlerResult {
//!     while let Some(message) = session.recv().await { /* ... */ }
//!     Ok(())
//! }
//! # async fn run() -> Result<(), Box<dyn std::error::Error>> {
//! let server = WsAuth::builder(&API).allow_any_origin().build()?;
//! let app: axum::Router = server.router();
//! # Ok(()) }
//! ```

mod audit;
#[cfg(feature = "client")]
pub mod client;
mod cluster;
mod connection;
mod descriptor;
mod faults;
mod frame;
mod identity;
pub mod introspection;
pub mod jwt;
mod limits;
mod link;
mod listener;
mod metrics;
mod open;
mod outbound;
mod payload;
mod principal;
mod reject;
mod server;
mod session;
mod state;
mod store;
mod token;
mod topics;
pub mod trace;
mod typed;

// Serving a spec.
pub use audit::AuditLog;
pub use descriptor::ApiDescriptor;
pub use listener::ServerLimits;
pub use metrics::Metrics;
pub use server::{BuildError, Builder, EndpointStats, Stats, WsAuth, stats_openapi};
// Several nodes as one API.
pub use cluster::ClusterError;
#[cfg(feature = "redis")]
pub use cluster::{ClusterConfig, FailurePolicy};
// Writing handlers.
pub use connection::{CloseWith, HandlerResult};
pub use open::OpenMessage;
pub use session::{Incoming, SendError, Session};
pub use topics::{Joins, PublishError, Published, TopicKey, Topics};
pub use typed::{Endpoint, EndpointHandler, MessageKind, Provides, RunsWith, TypedSession};
// Who may connect: tokens, users, resources.
pub use identity::{AuthError, Authenticator};
pub use introspection::{IntrospectionEndpoint, Introspector};
pub use jwt::{Claims, JwksSource, KeySet, Verifier, dangerous};
pub use principal::Principal;
pub use store::{BoxFuture, CheckContext, CheckOutcome, Checks, StoreError, UserStatus, UserStore};

/// What generated code uses; not part of the API.
#[doc(hidden)]
pub mod __private {
    pub use crate::server::typed_handler;
    pub use crate::store::BoxFuture;
    pub use crate::typed::{__perm_eq, __str_eq, Decoder, SessionOf};
    pub use serde;
    pub use serde_json;

    /// A spec compiled to plain Rust values, as `include_spec!` and
    /// `wsauth-gen` write it.
    pub mod descriptor {
        pub use crate::descriptor::*;
    }
}

/// Checks a test build switches off one at a time (feature
/// `fault-injection`, never in a binary): see `faults`.
#[cfg(feature = "fault-injection")]
#[doc(hidden)]
pub mod __faults {
    pub use crate::faults::{Fault, set};
}

/// Entry points for the fuzz targets in `fuzz/`, which need a look at
/// internals; compiled only under `cargo fuzz` (`--cfg fuzzing`), never
/// part of the API.
#[cfg(fuzzing)]
#[doc(hidden)]
pub mod __fuzz {
    /// The `type` the connection loop routes a text frame by.
    pub fn frame_kind(text: &str) -> Option<std::borrow::Cow<'_, str>> {
        crate::frame::kind_of(text)
    }

    /// The longest token extraction returns, in bytes.
    pub const MAX_TOKEN_BYTES: usize = crate::token::MAX_TOKEN_BYTES;

    /// What the handshake's token extraction finds: the token's text and
    /// the source that carried it.
    pub fn extract_token(
        headers: &http::HeaderMap,
        uri: &http::Uri,
        sources: &[crate::spec::TokenSource<&'static str>],
    ) -> Option<(String, crate::spec::TokenSource<&'static str>)> {
        let extracted = crate::token::extract(headers, uri, sources).ok()?;
        Some((extracted.token.into_inner(), extracted.source))
    }

    /// The subprotocol the handshake's `101` selects.
    pub fn select_protocol<'a>(
        headers: &'a http::HeaderMap,
        sources: &[crate::spec::TokenSource<&'static str>],
    ) -> Option<&'a str> {
        crate::token::select_protocol(headers, sources)
    }
}
pub use wsauth_spec as spec;

/// Reads a spec at compile time and defines its runtime descriptor.
///
/// ```ignore
/// wsauth_core::include_spec!("specs/prsm.yaml");             // pub static API
/// wsauth_core::include_spec!("specs/prsm.yaml" as PRSM);     // pub static PRSM
/// wsauth_core::include_spec!("specs/prsm.yaml", crate = "my::reexport");
/// ```
///
/// The path is relative to the invoking crate's `Cargo.toml`. The spec is
/// read and validated by the same code as `wsauth-gen check`; every problem
/// becomes a compile error on the path literal, with the spec's file, line
/// and column and a suggestion. The file is `include_str!`-ed, so editing it
/// rebuilds the crate. The result is a `static` [`descriptor::ApiDescriptor`]
/// built from plain Rust values: nothing is parsed at run time.
pub use wsauth_macros::include_spec;

/// Generates a spec's typed Rust client in place: what `wsauth-gen rust`
/// writes to a file, for a crate that would rather not check one in.
///
/// ```ignore
/// mod prsm {
///     wsauth_core::include_client!("specs/prsm.yaml"); // relative to Cargo.toml
/// }
/// let client = prsm::endpoints::conversation::connect(
///     "ws://127.0.0.1:8000",
///     prsm::endpoints::conversation::Params { user_id: "alice".into(), conversation_id: 1 },
///     wsauth_core::client::Token::fixed(token),
/// )
/// .start();
/// ```
///
/// The spec is read and validated like `include_spec!`'s (its problems are
/// compile errors on the path) and `include_str!`-ed, so editing it
/// rebuilds the crate. The items are the generated file's: `messages`,
/// `schemas`, `API`, `CloseCode`, `topics` and one module per endpoint
/// with `Params`, `ClientMessage`, `ServerMessage`, `TopicEvent` (when it
/// lists topics) and `connect`. Needs the `client` feature.
#[cfg(feature = "client")]
pub use wsauth_macros::include_client;

/// Binds a handler to an endpoint of a spec, checked at compile time.
///
/// ```ignore
/// mod prsm { wsauth_core::include_spec!("specs/prsm.yaml"); }
/// use prsm::endpoints as ep;
///
/// #[wsauth_core::ws_endpoint(perm = "conversation.read")]
/// async fn conversation(mut session: ep::conversation::Session, store: &Store) -> wsauth_core::HandlerResult {
///     session.send(prsm::messages::Connected { /* ... */ })?;          // the welcome comes first
///     while let Some(message) = session.recv().await {
///         match message {
///             ep::conversation::Incoming::SendMessage(m) => { /* ... store ... */ }
///             _ => {}
///         }
///     }
///     Ok(())
/// }
///
/// let server = prsm::Handlers { conversation, notifications, web3 }
///     .with_state(store)                      // `into_builder()` when no handler takes state
///     .authenticator(verifier).users(users).checks(checks).allow_origins([...])
///     .build()?;
/// ```
///
/// The handler's first parameter is its endpoint's `Session`, which names
/// the endpoint: it can only receive the endpoint's `Incoming` messages and
/// only send what converts into its `Outgoing`. A parameter of any other
/// type is a compile error, as is a handler that is not an `async fn`.
/// `perm` must be stated when the endpoint requires a permission and must
/// equal it; otherwise the build fails with the permission to write and
/// the spec line that requires it.
///
/// The optional second parameter takes the application state by shared
/// reference (`store: &Store`). `Handlers { .. }.with_state(value)` gives
/// it: `value` is a `Store`, or a larger state that [`Provides`] one. A
/// handler whose state the server is not given does not compile, rather
/// than failing when a client connects. (The builder's type map,
/// [`Builder::state`] and [`Session::state`], stays as the low-level path.)
///
/// The explicit form, `#[ws_endpoint(spec = "specs/prsm.yaml", endpoint =
/// "conversation", perm = "conversation.read")]`, also checks the handler
/// against that spec in the macro: its problems are errors on `spec`, an
/// unknown `endpoint` is an error on its literal with a "did you mean", and
/// a wrong `perm` is an error on its literal with a suggestion.
///
/// The function becomes a value implementing [`EndpointHandler`] and
/// [`RunsWith`], which is what the spec's `Handlers` accepts; a `Handlers`
/// missing an endpoint does not compile. A handler only ever receives a
/// session the pipeline admitted: there is no other way to make one.
pub use wsauth_macros::ws_endpoint;
