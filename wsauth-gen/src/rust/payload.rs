//! The payload schemas of client → server messages and of topic messages,
//! as the runtime's `SchemaDescriptor`s: what the server checks each
//! message against before its handler sees it or a topic carries it.
//!
//! Every schema that needs an address is a `static` (a message's payload,
//! a named schema, a compiled `pattern`), declared inside the block that
//! initializes the API descriptor, so the names (`__WSAUTH_SCHEMA_0`, ...)
//! never reach the user's scope. Named schemas are statics so that one may
//! refer to itself; patterns are statics so that each compiles once per
//! process (a `Pattern` holds its compiled regex in a `OnceLock`, which a
//! `const` would copy into every use). Only what the server's messages
//! reach is emitted, so nothing is dead code.

use std::collections::BTreeMap;

use proc_macro2::{Ident, Span, TokenStream};
use quote::quote;

use crate::ir::{Api, Schema, SchemaKind};

/// The statics of one API's payload schemas.
pub(super) struct Payloads<'a> {
    api: &'a Api,
    d: TokenStream,
    /// Statics in emission order.
    items: Vec<TokenStream>,
    /// Named schema → its static.
    named: BTreeMap<String, Ident>,
    /// Message → the static of its payload.
    messages: BTreeMap<String, Ident>,
    patterns: usize,
}

impl<'a> Payloads<'a> {
    /// The payloads of every message some endpoint receives or some topic
    /// carries (a publication is checked against its schema whoever
    /// publishes it: a client, or server code through the untyped API).
    pub(super) fn new(api: &'a Api, krate: &TokenStream) -> Self {
        let mut payloads = Payloads {
            api,
            d: quote!(#krate::__private::descriptor),
            items: Vec::new(),
            named: BTreeMap::new(),
            messages: BTreeMap::new(),
            patterns: 0,
        };
        let received = api.endpoints.iter().flat_map(|e| &e.receives);
        let published = api.topics.iter().flat_map(|t| &t.messages);
        for name in received.chain(published) {
            if payloads.messages.contains_key(name) {
                continue;
            }
            let Some(message) = api.message(name) else {
                continue;
            };
            let ident = Ident::new(
                &format!("__WSAUTH_PAYLOAD_{}", payloads.messages.len()),
                Span::call_site(),
            );
            payloads.messages.insert(name.clone(), ident.clone());
            let value = payloads.schema(&message.payload);
            let d = &payloads.d;
            payloads
                .items
                .push(quote!(static #ident: #d::SchemaDescriptor = #value;));
        }
        payloads
    }

    /// `Some(&<static>)` for message `name`'s payload.
    pub(super) fn payload_of(&self, name: &str) -> TokenStream {
        match self.messages.get(name) {
            Some(ident) => quote!(::core::option::Option::Some(&#ident)),
            None => quote!(::core::option::Option::None),
        }
    }

    /// The statics, to declare before the descriptor.
    pub(super) fn items(&self) -> &[TokenStream] {
        &self.items
    }

    /// A `SchemaDescriptor` expression for `schema`.
    fn schema(&mut self, schema: &Schema) -> TokenStream {
        let d = self.d.clone();
        match &schema.kind {
            SchemaKind::Object { fields } => {
                let fields: Vec<TokenStream> = fields
                    .iter()
                    .map(|f| {
                        let (name, required) = (&f.name, f.required);
                        let schema = self.schema(&f.schema);
                        quote!(#d::FieldDescriptor { name: #name, required: #required, schema: #schema })
                    })
                    .collect();
                quote!(#d::SchemaDescriptor::Object { fields: &[#(#fields),*] })
            }
            SchemaKind::String {
                values,
                min_length,
                max_length,
                format,
                pattern,
            } => {
                let format = match format.as_deref() {
                    Some("date-time") => quote!(::core::option::Option::Some(#d::Format::DateTime)),
                    Some("date") => quote!(::core::option::Option::Some(#d::Format::Date)),
                    Some("uuid") => quote!(::core::option::Option::Some(#d::Format::Uuid)),
                    // Documentation only: see `Format`.
                    _ => quote!(::core::option::Option::None),
                };
                let pattern = match pattern {
                    Some(source) => {
                        let ident = Ident::new(
                            &format!("__WSAUTH_PATTERN_{}", self.patterns),
                            Span::call_site(),
                        );
                        self.patterns += 1;
                        self.items
                            .push(quote!(static #ident: #d::Pattern = #d::Pattern::new(#source);));
                        quote!(::core::option::Option::Some(&#ident))
                    }
                    None => quote!(::core::option::Option::None),
                };
                let (min, max) = (option(*min_length), option(*max_length));
                quote!(#d::SchemaDescriptor::String(#d::StringDescriptor {
                    values: &[#(#values),*],
                    min_length: #min,
                    max_length: #max,
                    format: #format,
                    pattern: #pattern,
                }))
            }
            SchemaKind::Integer { minimum, maximum } => {
                let bounds = bounds(&d, *minimum, *maximum);
                quote!(#d::SchemaDescriptor::Integer(#bounds))
            }
            SchemaKind::Number { minimum, maximum } => {
                let bounds = bounds(&d, *minimum, *maximum);
                quote!(#d::SchemaDescriptor::Number(#bounds))
            }
            SchemaKind::Boolean => quote!(#d::SchemaDescriptor::Boolean),
            SchemaKind::Any => quote!(#d::SchemaDescriptor::Any),
            SchemaKind::Array {
                items,
                min_items,
                max_items,
            } => {
                let items = self.schema(items);
                let (min, max) = (option(*min_items), option(*max_items));
                quote!(#d::SchemaDescriptor::Array { items: &#items, min_items: #min, max_items: #max })
            }
            SchemaKind::Ref { name } => {
                let ident = self.named(name);
                quote!(#d::SchemaDescriptor::Ref(&#ident))
            }
        }
    }

    /// The static of named schema `name`, emitting it on first use.
    fn named(&mut self, name: &str) -> Ident {
        if let Some(ident) = self.named.get(name) {
            return ident.clone();
        }
        let ident = Ident::new(
            &format!("__WSAUTH_SCHEMA_{}", self.named.len()),
            Span::call_site(),
        );
        // Claimed before its body is built, so a schema that refers to
        // itself finds its own static.
        self.named.insert(name.to_owned(), ident.clone());
        let value = match self.api.schema(name) {
            Some(schema) => self.schema(schema),
            // Validation resolves every reference.
            None => {
                let d = &self.d;
                quote!(#d::SchemaDescriptor::Any)
            }
        };
        let d = &self.d;
        self.items
            .push(quote!(static #ident: #d::SchemaDescriptor = #value;));
        ident
    }
}

fn option(value: Option<u64>) -> TokenStream {
    match value {
        Some(v) => quote!(::core::option::Option::Some(#v)),
        None => quote!(::core::option::Option::None),
    }
}

fn bounds(d: &TokenStream, minimum: Option<f64>, maximum: Option<f64>) -> TokenStream {
    let f = |v: Option<f64>| match v {
        Some(v) => quote!(::core::option::Option::Some(#v)),
        None => quote!(::core::option::Option::None),
    };
    let (min, max) = (f(minimum), f(maximum));
    quote!(#d::Bounds { minimum: #min, maximum: #max })
}
