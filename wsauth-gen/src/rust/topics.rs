//! The typed side of a spec's topics, which `include_spec!` emits beside
//! the endpoints:
//!
//! - `topics::conversation::Key`, the instance key: one public field per
//!   param, in spec order, so it serializes to the `params` object of the
//!   wire (`{"conversation_id": 42}`) and a missing, extra or mistyped
//!   param fails to decode;
//! - `topics::conversation::Message`, the messages allowed on the topic,
//!   `From` each of them (and an `Open(OpenMessage)` variant where the
//!   topic is `open`): publishing anything else does not compile;
//! - `impl Joins<topics::conversation::Key>` for the marker of every
//!   endpoint that lists the topic, so a handler of another endpoint cannot
//!   join it.
//!
//! Nothing is emitted for a spec without topics.

use proc_macro2::TokenStream;
use quote::quote;

use super::server::{doc, message_ident, open_ident, open_variant, undeclared_decoder};
use crate::ir::{self, Api, ParamType};
use crate::naming;

/// The `topics` module, empty when the spec has no topics.
pub(super) fn topics_module(api: &Api, krate: &TokenStream) -> TokenStream {
    if api.topics.is_empty() {
        return TokenStream::new();
    }
    let modules = api.topics.iter().map(|t| topic_module(api, t, krate));
    quote! {
        /// One module per topic: its instance key and the messages it carries.
        #[allow(dead_code, missing_docs, clippy::all)]
        pub mod topics {
            #(#modules)*
        }
    }
}

fn topic_module(api: &Api, t: &ir::Topic, krate: &TokenStream) -> TokenStream {
    let serde = quote!(#krate::__private::serde);
    let serde_path = serde.to_string().replace(' ', "");
    let module = naming::rust::ident(&t.idents.rust_module);
    let name = &t.name;
    let fields = t.params.iter().map(|p| {
        let (ident, rename) = naming::rust::field(&p.name);
        let rename = rename.map(|r| quote!(#[serde(rename = #r)]));
        let ty = match p.ty {
            ParamType::Integer => quote!(i64),
            // Validation refuses other types: topic params are strings or
            // integers.
            ParamType::String | ParamType::Uuid => quote!(::std::string::String),
        };
        let doc = doc(p.description.as_deref());
        quote!(#doc #rename pub #ident: #ty,)
    });
    let variants = t.messages.iter().map(|m| {
        let v = message_ident(api, m);
        quote!(#[serde(rename = #m)] #v(super::super::messages::#v),)
    });
    let mut kinds: Vec<TokenStream> = t
        .messages
        .iter()
        .map(|m| {
            let v = message_ident(api, m);
            quote!(Message::#v(_) => #m,)
        })
        .collect();
    let open = t.open.then(|| {
        let variant = open_ident();
        kinds.push(quote!(Message::#variant(ref message) => &message.kind,));
        let variant_decl = open_variant(krate, "topic's");
        let decoder = undeclared_decoder(api, krate, &serde);
        let from = quote! {
            impl ::core::convert::From<#krate::OpenMessage> for Message {
                fn from(message: #krate::OpenMessage) -> Self { Message::#variant(message) }
            }
        };
        (variant_decl, quote!(#decoder #from))
    });
    let (open_variant, open_items) = open.unzip();
    let froms = t.messages.iter().map(|m| {
        let v = message_ident(api, m);
        quote! {
            impl ::core::convert::From<super::super::messages::#v> for Message {
                fn from(message: super::super::messages::#v) -> Self { Message::#v(message) }
            }
        }
    });
    let module_doc = match &t.description {
        Some(d) => format!(" The `{name}` topic.\n\n {}", d.trim()),
        None => format!(" The `{name}` topic."),
    };
    quote! {
        #[doc = #module_doc]
        pub mod #module {
            /// An instance of the topic: its params.
            #[derive(::core::fmt::Debug, ::core::clone::Clone, ::core::cmp::PartialEq, ::core::cmp::Eq, ::core::hash::Hash, #serde::Serialize, #serde::Deserialize)]
            #[serde(crate = #serde_path, deny_unknown_fields)]
            pub struct Key { #(#fields)* }

            impl #krate::TopicKey for Key {
                const TOPIC: &'static str = #name;
                type Message = Message;
            }

            /// The messages the topic carries.
            #[derive(::core::fmt::Debug, ::core::clone::Clone, ::core::cmp::PartialEq, #serde::Serialize, #serde::Deserialize)]
            #[serde(crate = #serde_path, tag = "type")]
            pub enum Message { #(#variants)* #open_variant }

            impl #krate::MessageKind for Message {
                fn kind(&self) -> &str {
                    match *self { #(#kinds)* }
                }
            }

            #(#froms)*
            #open_items
        }
    }
}

/// `impl Joins<Key>` for an endpoint's marker, one per topic it lists
/// (inside the endpoint's module).
pub(super) fn joins(api: &Api, e: &ir::Endpoint, krate: &TokenStream) -> TokenStream {
    let impls = e.topics.iter().filter_map(|entry| {
        let t = api.topic(&entry.name)?;
        let module = naming::rust::ident(&t.idents.rust_module);
        Some(quote! {
            impl #krate::Joins<super::super::topics::#module::Key> for Endpoint {}
        })
    });
    quote!(#(#impls)*)
}
