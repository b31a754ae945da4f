//! The typed server side of a spec: message types, endpoint types and the
//! `Handlers` struct that `include_spec!` emits beside the descriptor.
//!
//! Layout of the generated items (relative to where the macro is invoked):
//!
//! - `messages::SendMessage`, one type per message (its payload fields);
//! - `schemas::Problem`, one type per named schema;
//! - `endpoints::conversation::{Endpoint, Session, Incoming, Outgoing}`;
//! - `topics::conversation::{Key, Message}`, one module per topic (see
//!   [`super::topics`]);
//! - `Handlers { conversation, ... }`, one field per endpoint, so that a
//!   server cannot be assembled while an endpoint lacks a handler; its
//!   `with_state(value)` fixes the application state handlers take, so
//!   one that takes a state the server lacks does not compile.
//!
//! Inline objects and string enums get types named after where they appear
//! (`GraphUpdateNodesItem`). Generated code names nothing from the user's
//! scope: serde is reached through `wsauth_core::__private`.

use proc_macro2::{Span, TokenStream};
use quote::quote;
use syn::Ident;

use crate::ir::{self, Api, SchemaKind};
use crate::naming;

/// Items generated for one spec, read from `spec` (the path as the macro
/// was given it, for the compile-time messages).
pub fn server_tokens(
    api: &Api,
    spec: &str,
    krate: &TokenStream,
    descriptor: &Ident,
) -> TokenStream {
    let serde = quote!(#krate::__private::serde);
    let types = types_tokens(api, krate);
    let endpoints = api
        .endpoints
        .iter()
        .map(|e| endpoint_module(api, spec, e, krate, &serde));
    let handlers = handlers(api, krate, descriptor);
    let topics = super::topics::topics_module(api, krate);
    quote! {
        #types
        #topics
        /// One module per endpoint: its marker type, session and message enums.
        #[allow(dead_code, missing_docs, clippy::all)]
        pub mod endpoints {
            #(#endpoints)*
        }
        #handlers
    }
}

/// The `messages` and `schemas` modules: one type per message (its payload
/// fields) and per named schema. The server and the generated Rust client
/// share them, so both sides of a connection read the same types.
pub(super) fn types_tokens(api: &Api, krate: &TokenStream) -> TokenStream {
    let mut messages = Types::new(api, krate);
    for m in &api.messages {
        let name = naming::rust::ident(&m.idents.type_name);
        messages.top_level(
            &name,
            &m.payload,
            m.description.as_deref(),
            "super::schemas",
        );
    }
    let mut schemas = Types::new(api, krate);
    for s in &api.schemas {
        let name = naming::rust::ident(&s.type_name);
        schemas.top_level(&name, &s.schema, s.schema.description.as_deref(), "self");
    }
    let message_items = messages.items;
    let schema_items = schemas.items;
    quote! {
        /// The messages of the spec, one type per message (its fields beside `type`).
        #[allow(dead_code, missing_docs, clippy::all)]
        pub mod messages {
            #(#message_items)*
        }
        /// The named schemas of the spec.
        #[allow(dead_code, missing_docs, clippy::all)]
        pub mod schemas {
            #(#schema_items)*
        }
    }
}

/// The type (and enum variant) of message `name`. Validation declares
/// every message an endpoint names.
pub(super) fn message_ident(api: &Api, name: &str) -> Ident {
    naming::rust::ident(
        api.message_idents(name)
            .map_or(name, |idents| idents.type_name.as_str()),
    )
}

pub(super) fn doc(text: Option<&str>) -> TokenStream {
    match text {
        Some(t) => {
            let t = format!(" {}", t.trim());
            quote!(#[doc = #t])
        }
        None => TokenStream::new(),
    }
}

/// Types being generated into one module.
struct Types<'a> {
    api: &'a Api,
    krate: TokenStream,
    items: Vec<TokenStream>,
}

impl<'a> Types<'a> {
    fn new(api: &'a Api, krate: &TokenStream) -> Self {
        Types {
            api,
            krate: krate.clone(),
            items: Vec::new(),
        }
    }

    /// A named top-level type for `schema`: a struct for an object, else an
    /// alias to the type the schema maps to.
    fn top_level(
        &mut self,
        name: &Ident,
        schema: &ir::Schema,
        description: Option<&str>,
        schemas: &str,
    ) {
        let schemas: TokenStream = schemas.parse().unwrap_or_default();
        match &schema.kind {
            SchemaKind::Object { fields } => self.object(name, fields, description, &schemas),
            SchemaKind::String { values, .. } if !values.is_empty() => {
                self.string_enum(name, values, description);
            }
            _ => {
                let ty = self.rust_type(schema, &name.to_string(), &schemas);
                let doc = doc(description);
                self.items.push(quote!(#doc pub type #name = #ty;));
            }
        }
    }

    fn object(
        &mut self,
        name: &Ident,
        fields: &[ir::Field],
        description: Option<&str>,
        schemas: &TokenStream,
    ) {
        let serde = {
            let krate = &self.krate;
            quote!(#krate::__private::serde)
        };
        let serde_path = serde.to_string().replace(' ', "");
        let mut members = Vec::new();
        for f in fields {
            let (ident, rename) = naming::rust::field(&f.name);
            let hint = format!("{name}{}", naming::pascal(&f.name));
            let ty = self.rust_type(&f.schema, &hint, schemas);
            let doc = doc(f.schema.description.as_deref());
            let rename = rename.map(|r| quote!(#[serde(rename = #r)]));
            if f.required {
                members.push(quote!(#doc #rename pub #ident: #ty,));
            } else {
                members.push(quote! {
                    #doc #rename
                    #[serde(default, skip_serializing_if = "::core::option::Option::is_none")]
                    pub #ident: ::core::option::Option<#ty>,
                });
            }
        }
        let doc = doc(description);
        self.items.push(quote! {
            #doc
            #[derive(::core::fmt::Debug, ::core::clone::Clone, ::core::cmp::PartialEq, #serde::Serialize, #serde::Deserialize)]
            #[serde(crate = #serde_path, deny_unknown_fields)]
            pub struct #name { #(#members)* }
        });
    }

    fn string_enum(&mut self, name: &Ident, values: &[String], description: Option<&str>) {
        let krate = &self.krate;
        let serde = quote!(#krate::__private::serde);
        let serde_path = serde.to_string().replace(' ', "");
        let variants = values.iter().map(|v| {
            let variant = naming::rust::variant(v);
            quote!(#[serde(rename = #v)] #variant,)
        });
        let doc = doc(description);
        self.items.push(quote! {
            #doc
            #[derive(::core::fmt::Debug, ::core::clone::Clone, ::core::marker::Copy, ::core::cmp::PartialEq, ::core::cmp::Eq, ::core::hash::Hash, #serde::Serialize, #serde::Deserialize)]
            #[serde(crate = #serde_path)]
            pub enum #name { #(#variants)* }
        });
    }

    /// The Rust type for `schema`, generating named types for inline
    /// objects and enums (named by `hint`).
    fn rust_type(&mut self, schema: &ir::Schema, hint: &str, schemas: &TokenStream) -> TokenStream {
        let krate = self.krate.clone();
        match &schema.kind {
            SchemaKind::Object { fields } => {
                let name = Ident::new(hint, Span::call_site());
                self.object(&name, fields, schema.description.as_deref(), schemas);
                quote!(#name)
            }
            SchemaKind::String { values, .. } if !values.is_empty() => {
                let name = Ident::new(hint, Span::call_site());
                self.string_enum(&name, values, schema.description.as_deref());
                quote!(#name)
            }
            SchemaKind::String { .. } => quote!(::std::string::String),
            SchemaKind::Integer { .. } => quote!(i64),
            SchemaKind::Number { .. } => quote!(f64),
            SchemaKind::Boolean => quote!(bool),
            SchemaKind::Any => quote!(#krate::__private::serde_json::Value),
            SchemaKind::Array { items, .. } => {
                let inner = self.rust_type(items, &format!("{hint}Item"), schemas);
                quote!(::std::vec::Vec<#inner>)
            }
            SchemaKind::Ref { name } => {
                // Validation resolves every reference.
                let ident = naming::rust::ident(self.api.schema_type_name(name).unwrap_or(name));
                quote!(#schemas::#ident)
            }
        }
    }
}

fn endpoint_module(
    api: &Api,
    spec: &str,
    e: &ir::Endpoint,
    krate: &TokenStream,
    serde: &TokenStream,
) -> TokenStream {
    let module = naming::rust::ident(&e.idents.rust_module);
    let name = &e.name;
    let perm = match &e.perm {
        Some(p) => quote!(::core::option::Option::Some(#p)),
        None => quote!(::core::option::Option::None),
    };
    let at = format!("{spec}:{}", e.loc.line);
    let perm_help = match &e.perm {
        Some(p) => format!(
            "endpoint `{name}` requires permission `{p}`: write `#[ws_endpoint(perm = \"{p}\")]` ({at})"
        ),
        None => format!(
            "endpoint `{name}` requires no permission: remove `perm` from its `#[ws_endpoint]` ({at})"
        ),
    };
    let serde_path = serde.to_string().replace(' ', "");
    let variant = |m: &String| {
        let v = message_ident(api, m);
        quote!(#[serde(rename = #m)] #v(super::super::messages::#v),)
    };
    let (open_in, open_out) = open_directions(e);
    let open_fn = open_decoder(api, e, krate, serde);
    let joins = super::topics::joins(api, e, krate);
    let incoming = e
        .receives
        .iter()
        .map(variant)
        .chain(open_in.then(|| open_variant(krate, "endpoint's")));
    let outgoing = e
        .sends
        .iter()
        .map(variant)
        .chain(open_out.then(|| open_variant(krate, "endpoint's")));
    let kinds = e
        .sends
        .iter()
        .map(|m| {
            let v = message_ident(api, m);
            quote!(Outgoing::#v(_) => #m,)
        })
        .chain(open_out.then(|| {
            let open = open_ident();
            quote!(Outgoing::#open(ref message) => &message.kind,)
        }));
    let open_from = open_out.then(|| {
        let open = open_ident();
        quote! {
            impl ::core::convert::From<#krate::OpenMessage> for Outgoing {
                fn from(message: #krate::OpenMessage) -> Self { Outgoing::#open(message) }
            }
        }
    });
    let froms = e.sends.iter().map(|m| {
        let v = message_ident(api, m);
        quote! {
            impl ::core::convert::From<super::super::messages::#v> for Outgoing {
                fn from(message: super::super::messages::#v) -> Self { Outgoing::#v(message) }
            }
        }
    });
    // Each message the endpoint receives routed to its payload's type, so
    // that the runtime decodes its frame straight into it (and checks it in
    // the same pass); an open message, whose type is the client's, goes
    // through the enum.
    let routes: Vec<TokenStream> = e
        .receives
        .iter()
        .map(|m| {
            let v = message_ident(api, m);
            quote!(#m => ::core::option::Option::Some(decoder.decode(Incoming::#v)),)
        })
        .collect();
    let route = (!routes.is_empty()).then(|| {
        quote! {
            fn __route<__D: #krate::__private::Decoder<Incoming>>(
                kind: &str,
                decoder: __D,
            ) -> ::core::option::Option<__D::Output> {
                match kind {
                    #(#routes)*
                    _ => ::core::option::Option::None,
                }
            }
        }
    });
    let doc = format!(" The `{name}` endpoint (`{}`).", e.path);
    quote! {
        #[doc = #doc]
        pub mod #module {
            /// The endpoint, as a type.
            #[derive(::core::fmt::Debug, ::core::clone::Clone, ::core::marker::Copy)]
            pub struct Endpoint;

            impl #krate::Endpoint for Endpoint {
                const NAME: &'static str = #name;
                const PERM: ::core::option::Option<&'static str> = #perm;
                const __PERM_HELP: &'static str = #perm_help;
                type Incoming = Incoming;
                type Outgoing = Outgoing;

                #route
            }

            /// What a handler of this endpoint receives.
            pub type Session = #krate::TypedSession<Endpoint>;

            /// Messages the client may send.
            #[derive(::core::fmt::Debug, ::core::clone::Clone, ::core::cmp::PartialEq, #serde::Deserialize)]
            #[serde(crate = #serde_path, tag = "type")]
            pub enum Incoming { #(#incoming)* }

            /// Messages the server may send.
            #[derive(::core::fmt::Debug, ::core::clone::Clone, ::core::cmp::PartialEq, #serde::Serialize)]
            #[serde(crate = #serde_path, tag = "type")]
            pub enum Outgoing { #(#outgoing)* }

            impl #krate::MessageKind for Outgoing {
                fn kind(&self) -> &str {
                    match *self { #(#kinds)* }
                }
            }

            #(#froms)*
            #open_from
            #open_fn
            #joins
        }
    }
}

/// Whether the endpoint's open messages flow client → server and
/// server → client.
pub(super) fn open_directions(e: &ir::Endpoint) -> (bool, bool) {
    e.open
        .as_ref()
        .map_or((false, false), |o| (o.receives, o.sends))
}

/// The last variant of a message enum that carries open messages: untagged,
/// decoded by the enclosing module's `__wsauth_open` (see [`open_decoder`]);
/// `whose` says where the spec allows them.
pub(super) fn open_variant(krate: &TokenStream, whose: &str) -> TokenStream {
    let open = open_ident();
    let doc = format!(" A message of a type the spec does not declare (the {whose} `open`).");
    quote! {
        #[doc = #doc]
        #[serde(untagged, deserialize_with = "__wsauth_open")]
        #open(#krate::OpenMessage),
    }
}

/// The open variant's name ([`naming::rust::OPEN_VARIANT`]).
pub(super) fn open_ident() -> Ident {
    naming::rust::ident(naming::rust::OPEN_VARIANT)
}

/// `__wsauth_open`, the decoder of [`open_variant`]: any object with a
/// string `type` that is none of the spec's messages. Without it, a
/// declared message with the wrong fields would fall through to the open
/// variant instead of failing.
pub(super) fn open_decoder(
    api: &Api,
    e: &ir::Endpoint,
    krate: &TokenStream,
    serde: &TokenStream,
) -> TokenStream {
    if e.open.is_none() {
        return TokenStream::new();
    }
    undeclared_decoder(api, krate, serde)
}

/// `__wsauth_open` itself, for an endpoint's or a topic's message enum.
pub(super) fn undeclared_decoder(
    api: &Api,
    krate: &TokenStream,
    serde: &TokenStream,
) -> TokenStream {
    let declared = api.messages.iter().map(|m| &m.name);
    quote! {
        fn __wsauth_open<'de, D: #serde::Deserializer<'de>>(
            deserializer: D,
        ) -> ::core::result::Result<#krate::OpenMessage, D::Error> {
            #krate::OpenMessage::__deserialize_undeclared(deserializer, &[#(#declared),*])
        }
    }
}

fn handlers(api: &Api, krate: &TokenStream, descriptor: &Ident) -> TokenStream {
    let params: Vec<Ident> = api
        .endpoints
        .iter()
        .map(|e| naming::rust::ident(&e.idents.type_name))
        .collect();
    let fields: Vec<Ident> = api
        .endpoints
        .iter()
        .map(|e| naming::rust::ident(&e.idents.rust_module))
        .collect();
    let docs = api
        .endpoints
        .iter()
        .map(|e| format!(" Handler of `{}` (`{}`).", e.name, e.path));
    let bounds = params
        .iter()
        .zip(&fields)
        .map(|(p, f)| quote!(#p: #krate::EndpointHandler<Endpoint = endpoints::#f::Endpoint>));
    let bounds: Vec<TokenStream> = bounds.collect();
    let runs: Vec<TokenStream> = params
        .iter()
        .map(|p| quote!(#p: #krate::RunsWith<__S>))
        .collect();
    let stateless: Vec<TokenStream> = params
        .iter()
        .map(|p| quote!(#p: #krate::RunsWith<()>))
        .collect();
    quote! {
        /// One handler per endpoint of the spec. Every field must be given,
        /// so a server cannot be built while an endpoint has no handler, and
        /// each must be a `#[ws_endpoint]` function of that endpoint.
        pub struct Handlers<#(#params),*> where #(#bounds),* {
            #(#[doc = #docs] pub #fields: #params,)*
        }

        impl<#(#params),*> Handlers<#(#params),*> where #(#bounds),* {
            /// A server builder with every handler registered, for handlers
            /// that take no application state; configure authentication,
            /// stores and origins on it, then `build()`.
            pub fn into_builder(self) -> #krate::Builder where #(#stateless),* {
                self.with_state(())
            }

            /// A server builder with every handler registered, each handler
            /// that takes state (`store: &T`) given its part of `state`;
            /// configure authentication, stores and origins on it, then
            /// `build()`. A handler whose state `state` does not provide
            /// does not compile.
            pub fn with_state<__S>(self, state: __S) -> #krate::Builder
            where
                __S: ::core::marker::Send + ::core::marker::Sync + 'static,
                #(#runs),*
            {
                let state = ::std::sync::Arc::new(state);
                let builder = #krate::Builder::new(&#descriptor);
                #(
                    let handler = ::std::sync::Arc::new(self.#fields);
                    let state_of_handler = ::std::sync::Arc::clone(&state);
                    let builder = #krate::__private::typed_handler::<endpoints::#fields::Endpoint, _, _>(
                        builder,
                        move |session| #krate::RunsWith::call(&*handler, session, &state_of_handler),
                    );
                )*
                builder
            }
        }
    }
}
