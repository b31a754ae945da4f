//! Procedural macros that bind wsauth servers to their spec at compile time.
//!
//! Thin on purpose: every macro forwards to `wsauth_gen::expand`, which reads
//! the spec with the same reader and validator as the `wsauth-gen` command,
//! so there is one parser of the spec. Use the macros through `wsauth-core`,
//! where they are documented.

use proc_macro::TokenStream;

/// See `wsauth_core::include_spec`.
#[proc_macro]
pub fn include_spec(input: TokenStream) -> TokenStream {
    wsauth_gen::expand::include_spec(input.into()).into()
}

/// See `wsauth_core::include_client`.
#[proc_macro]
pub fn include_client(input: TokenStream) -> TokenStream {
    wsauth_gen::expand::include_client(input.into()).into()
}

/// See `wsauth_core::ws_endpoint`.
#[proc_macro_attribute]
pub fn ws_endpoint(attr: TokenStream, item: TokenStream) -> TokenStream {
    wsauth_gen::expand::ws_endpoint(attr.into(), item.into()).into()
}
