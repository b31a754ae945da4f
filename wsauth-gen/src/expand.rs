//! What the proc-macros expand to, as ordinary functions over tokens.
//!
//! `wsauth-macros` only forwards here, so the expansion can be unit-tested
//! and snapshot-tested without a compiler in the loop.

use std::path::{Path, PathBuf};

use proc_macro2::TokenStream;
use quote::quote;
use syn::parse::{Parse, ParseStream};
use syn::spanned::Spanned as _;
use syn::{Ident, LitStr, Token};

use crate::{Api, LoadError};

/// `key =` in a macro's arguments, where the key may be the keyword `crate`.
fn parse_key(input: ParseStream<'_>) -> syn::Result<Ident> {
    let key = if input.peek(Token![crate]) {
        let k: Token![crate] = input.parse()?;
        Ident::new("crate", k.span)
    } else {
        input.parse()?
    };
    input.parse::<Token![=]>()?;
    Ok(key)
}

/// `include_spec!("specs/prsm.yaml")`, optionally `as NAME` and
/// `, crate = path`.
struct IncludeSpec {
    path: LitStr,
    name: Ident,
    krate: TokenStream,
}

impl Parse for IncludeSpec {
    fn parse(input: ParseStream<'_>) -> syn::Result<Self> {
        let path: LitStr = input.parse()?;
        let mut name = Ident::new("API", proc_macro2::Span::call_site());
        let mut krate = quote!(::wsauth_core);
        if input.peek(Token![as]) {
            input.parse::<Token![as]>()?;
            name = input.parse()?;
        }
        while input.peek(Token![,]) {
            input.parse::<Token![,]>()?;
            if input.is_empty() {
                break;
            }
            let key = parse_key(input)?;
            match key.to_string().as_str() {
                "crate" => {
                    let value: LitStr = input.parse()?;
                    let path: syn::Path = value.parse()?;
                    krate = quote!(#path);
                }
                other => {
                    return Err(syn::Error::new(
                        key.span(),
                        format!("unknown option `{other}`; expected `crate = \"...\"`"),
                    ));
                }
            }
        }
        Ok(IncludeSpec { path, name, krate })
    }
}

/// The spec file, resolved against the invoking crate's manifest directory.
fn resolve(path: &LitStr) -> PathBuf {
    let dir = std::env::var_os("CARGO_MANIFEST_DIR")
        .map(PathBuf::from)
        .unwrap_or_default();
    dir.join(path.value())
}

/// Loads a spec for a macro, turning its problems into compile errors on
/// the path literal, each with the spec's file, line and column.
pub fn load_for_macro(path: &LitStr) -> Result<(Api, PathBuf), syn::Error> {
    let full = resolve(path);
    match crate::load(&full) {
        Ok(api) => Ok((api, full)),
        Err(LoadError::Io { source, .. }) => Err(syn::Error::new(
            path.span(),
            format!(
                "cannot read spec `{}`: {source} (paths are relative to the crate's Cargo.toml)",
                full.display()
            ),
        )),
        Err(LoadError::Invalid(errors)) => {
            let shown = Path::new(&path.value()).to_owned();
            let file = crate::SourceFile::new(shown, errors.file.text());
            let mut combined: Option<syn::Error> = None;
            for d in &errors.diagnostics {
                let help = d
                    .help
                    .as_ref()
                    .map(|h| format!("\n  help: {h}"))
                    .unwrap_or_default();
                let message = format!("{}: {}{help}", file.location(d.span()), d.message);
                let error = syn::Error::new(path.span(), message);
                match &mut combined {
                    Some(all) => all.combine(error),
                    None => combined = Some(error),
                }
            }
            Err(combined.unwrap_or_else(|| syn::Error::new(path.span(), "invalid spec")))
        }
    }
}

/// Expands `include_spec!(...)`: the spec's runtime descriptor as a static,
/// and an `include_str!` of the file so that editing it rebuilds the crate.
pub fn include_spec(input: TokenStream) -> TokenStream {
    let args: IncludeSpec = match syn::parse2(input) {
        Ok(args) => args,
        Err(e) => return e.to_compile_error(),
    };
    let (api, full) = match load_for_macro(&args.path) {
        Ok(loaded) => loaded,
        Err(e) => return e.to_compile_error(),
    };
    let full = full.display().to_string();
    let descriptor = crate::rust::descriptor_tokens(&api, &args.krate, &args.name);
    let server = crate::rust::server_tokens(&api, &args.path.value(), &args.krate, &args.name);
    quote! {
        const _: &str = ::core::include_str!(#full);
        #descriptor
        #server
    }
}

/// Expands `include_client!("spec.yaml")`: the spec's typed Rust client (the
/// items `wsauth-gen rust` writes, without the module's doc comment), and an
/// `include_str!` of the file so that editing it rebuilds the crate.
pub fn include_client(input: TokenStream) -> TokenStream {
    let path: LitStr = match syn::parse2(input) {
        Ok(path) => path,
        Err(e) => {
            return syn::Error::new(
                e.span(),
                "expected the spec's path, relative to Cargo.toml: `include_client!(\"specs/api.yaml\")`",
            )
            .to_compile_error();
        }
    };
    let (api, full) = match load_for_macro(&path) {
        Ok(loaded) => loaded,
        Err(e) => return e.to_compile_error(),
    };
    let full = full.display().to_string();
    let client = crate::rust::client::items(&api);
    quote! {
        const _: &str = ::core::include_str!(#full);
        #client
    }
}

/// The arguments of `#[ws_endpoint(...)]`.
struct EndpointArgs {
    /// `spec = ..., endpoint = ...`: the explicit form, checked against that
    /// spec here. Without them the session type alone names the endpoint.
    named: Option<Named>,
    perm: Option<LitStr>,
    krate: TokenStream,
    /// The whole attribute, where a missing `perm` is reported.
    span: proc_macro2::Span,
}

/// The spec and endpoint an attribute names.
struct Named {
    spec: LitStr,
    endpoint: LitStr,
}

impl Parse for EndpointArgs {
    fn parse(input: ParseStream<'_>) -> syn::Result<Self> {
        let (mut spec, mut endpoint, mut perm) = (None, None, None);
        let mut krate = quote!(::wsauth_core);
        let span = input.span();
        while !input.is_empty() {
            let key = parse_key(input)?;
            let value: LitStr = input.parse()?;
            match key.to_string().as_str() {
                "spec" => spec = Some(value),
                "endpoint" => endpoint = Some(value),
                "perm" => perm = Some(value),
                "crate" => {
                    let path: syn::Path = value.parse()?;
                    krate = quote!(#path);
                }
                other => {
                    let known = ["spec", "endpoint", "perm", "crate"];
                    let help = crate::suggest::closest(other, known)
                        .map(|k| format!("; did you mean `{k}`?"))
                        .unwrap_or_default();
                    return Err(syn::Error::new(
                        key.span(),
                        format!(
                            "unknown argument `{other}`{help} (expected `spec`, `endpoint`, `perm`, `crate`)"
                        ),
                    ));
                }
            }
            if !input.is_empty() {
                input.parse::<Token![,]>()?;
            }
        }
        let named = match (spec, endpoint) {
            (Some(spec), Some(endpoint)) => Some(Named { spec, endpoint }),
            (None, None) => None,
            (Some(spec), None) => {
                return Err(syn::Error::new(
                    spec.span(),
                    "`spec` is checked with `endpoint`: add `endpoint = \"name\"`, or drop `spec` (the session type names the endpoint)",
                ));
            }
            (None, Some(endpoint)) => {
                return Err(syn::Error::new(
                    endpoint.span(),
                    "`endpoint` is checked with `spec`: add `spec = \"path/to/spec.yaml\"`, or drop `endpoint` (the session type names the endpoint)",
                ));
            }
        };
        Ok(EndpointArgs {
            named,
            perm,
            krate,
            span,
        })
    }
}

/// Expands `#[ws_endpoint(perm = ...)]` (or the explicit
/// `#[ws_endpoint(spec = ..., endpoint = ..., perm = ...)]`).
///
/// The handler's first parameter is its endpoint's session, which names the
/// endpoint; the compiler checks that it is one, and that `perm` is the
/// permission the spec behind that session type requires. With `spec` and
/// `endpoint`, the handler is also checked against that spec here (the
/// endpoint exists, the permission is the one it requires), with
/// suggestions. An optional second parameter takes the application state by
/// reference. The function becomes a unit value implementing
/// `EndpointHandler` and `RunsWith`, to be given to the spec's `Handlers`.
/// On an error the function is re-emitted unchanged, so one mistake does not
/// cascade into others.
pub fn ws_endpoint(attr: TokenStream, item: TokenStream) -> TokenStream {
    let function: syn::ItemFn = match syn::parse2(item.clone()) {
        Ok(f) => f,
        Err(e) => return with_item(e, item),
    };
    match endpoint_checked(attr, &function) {
        Ok(tokens) => tokens,
        Err(e) => with_item(e, quote!(#function)),
    }
}

fn with_item(error: syn::Error, item: TokenStream) -> TokenStream {
    let error = error.to_compile_error();
    quote!(#error #item)
}

/// The explicit form's checks against the spec the attribute names; the
/// spec's path, for an `include_str!` that rebuilds on its edits.
fn checked_against_spec(named: &Named, perm: Option<&LitStr>) -> syn::Result<String> {
    let (api, full) = load_for_macro(&named.spec)?;
    let name = named.endpoint.value();
    let Some(endpoint) = api.endpoint(&name) else {
        let known = api.endpoints.iter().map(|e| e.name.as_str());
        let help = match crate::suggest::closest(&name, known.clone()) {
            Some(best) => format!("did you mean `{best}`?"),
            None => format!(
                "the spec's endpoints are {}",
                known
                    .map(|k| format!("`{k}`"))
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        };
        return Err(syn::Error::new(
            named.endpoint.span(),
            format!(
                "unknown endpoint `{name}` in {}\n  help: {help}",
                named.spec.value()
            ),
        ));
    };
    let at = format!("{}:{}", named.spec.value(), endpoint.loc.line);
    match (perm, &endpoint.perm) {
        (Some(given), Some(required)) if given.value() != *required => {
            let declared = api.permissions.iter().map(|p| p.name.as_str());
            let hint = match crate::suggest::closest(&given.value(), declared) {
                Some(best) if best == required => format!("did you mean `{best}`?"),
                _ => format!("write `perm = \"{required}\"`"),
            };
            Err(syn::Error::new(
                given.span(),
                format!(
                    "endpoint `{name}` requires `{required}`, not `{}`\n  help: {hint} ({at})",
                    given.value()
                ),
            ))
        }
        (None, Some(required)) => Err(syn::Error::new(
            named.endpoint.span(),
            format!(
                "endpoint `{name}` requires permission `{required}`; state it so the handler shows what guards it\n  help: add `perm = \"{required}\"` ({at})"
            ),
        )),
        (Some(given), None) => Err(syn::Error::new(
            given.span(),
            format!(
                "endpoint `{name}` requires no permission in the spec\n  help: remove `perm`, or add it to the endpoint ({at})"
            ),
        )),
        _ => Ok(full.display().to_string()),
    }
}

/// What a `#[ws_endpoint]` handler's parameters are.
const PARAMETERS: &str = "a `#[ws_endpoint]` handler takes its endpoint's session (`endpoints::<name>::Session`) and, optionally, the application state by reference (`store: &Store`)";

/// The handler's session type and the state type it takes, if any.
fn parameters(sig: &syn::Signature) -> syn::Result<(&syn::Type, Option<&syn::Type>)> {
    let mut typed = sig.inputs.iter().map(|input| match input {
        syn::FnArg::Typed(arg) => Ok(&*arg.ty),
        syn::FnArg::Receiver(receiver) => Err(syn::Error::new_spanned(receiver, PARAMETERS)),
    });
    let Some(session) = typed.next().transpose()? else {
        return Err(syn::Error::new_spanned(sig, PARAMETERS));
    };
    let state = match typed.next().transpose()? {
        None => None,
        Some(syn::Type::Reference(r)) if r.mutability.is_none() => Some(&*r.elem),
        Some(other) => {
            return Err(syn::Error::new_spanned(
                other,
                "a `#[ws_endpoint]` handler's second parameter is the application state, taken by shared reference: `store: &Store`",
            ));
        }
    };
    if let Some(extra) = sig.inputs.iter().nth(2) {
        return Err(syn::Error::new_spanned(extra, PARAMETERS));
    }
    Ok((session, state))
}

fn endpoint_checked(attr: TokenStream, function: &syn::ItemFn) -> syn::Result<TokenStream> {
    let args: EndpointArgs = syn::parse2(attr)?;
    let include = match &args.named {
        Some(named) => {
            let full = checked_against_spec(named, args.perm.as_ref())?;
            quote!(
                const _: &str = ::core::include_str!(#full);
            )
        }
        None => TokenStream::new(),
    };
    let sig = &function.sig;
    if sig.asyncness.is_none() {
        return Err(syn::Error::new_spanned(
            sig.fn_token,
            "a `#[ws_endpoint]` handler must be an `async fn`",
        ));
    }
    let (session_ty, state_ty) = parameters(sig)?;
    let krate = &args.krate;
    let vis = &function.vis;
    let ident = &sig.ident;
    let attrs = &function.attrs;
    let mut inner = function.clone();
    inner.sig.ident = Ident::new("__wsauth_handler", ident.span());
    inner.vis = syn::Visibility::Inherited;
    inner.attrs.clear();
    let endpoint = quote::quote_spanned! {session_ty.span()=>
        <#session_ty as #krate::__private::SessionOf>::Endpoint
    };
    // The explicit form names the endpoint: the session must be its own.
    let name_check = args.named.as_ref().map(|named| {
        let name = named.endpoint.value();
        let message = format!(
            "the handler's session is not the session of endpoint `{name}`: use `endpoints::{name}::Session`"
        );
        quote! {
            const _: () = ::core::assert!(
                #krate::__private::__str_eq(<#endpoint as #krate::Endpoint>::NAME, #name),
                #message
            );
        }
    });
    // The permission is checked against the spec the session's types came
    // from, which is the one enforced; the message (generated with those
    // types) says which permission to write. In the explicit form this only
    // runs for the right endpoint: the check above reports a wrong one.
    let perm = match &args.perm {
        Some(p) => quote!(::core::option::Option::Some(#p)),
        None => quote!(::core::option::Option::None),
    };
    let wrong_perm =
        quote!(!#krate::__private::__perm_eq(<#endpoint as #krate::Endpoint>::PERM, #perm));
    let wrong_perm = match &args.named {
        Some(named) => {
            let name = named.endpoint.value();
            quote!(#krate::__private::__str_eq(<#endpoint as #krate::Endpoint>::NAME, #name) && #wrong_perm)
        }
        None => wrong_perm,
    };
    let perm_span = args.perm.as_ref().map_or(args.span, LitStr::span);
    let perm_help = quote::quote_spanned! {perm_span=>
        ::core::panic!("{}", <#endpoint as #krate::Endpoint>::__PERM_HELP)
    };
    // A handler without state runs with any; one taking `&T` where the
    // server's state provides a `T`.
    let runs_with = match state_ty {
        None => quote! {
            impl<__S: ::core::marker::Send + ::core::marker::Sync + 'static> #krate::RunsWith<__S> for #ident {
                fn call(
                    &self,
                    session: #krate::TypedSession<Self::Endpoint>,
                    _state: &::std::sync::Arc<__S>,
                ) -> #krate::__private::BoxFuture<'static, #krate::HandlerResult> {
                    #inner
                    ::std::boxed::Box::pin(__wsauth_handler(session))
                }
            }
        },
        Some(ty) => {
            let provides = quote::quote_spanned! {ty.span()=> __S: #krate::Provides<#ty> };
            quote! {
                impl<__S> #krate::RunsWith<__S> for #ident where #provides {
                    fn call(
                        &self,
                        session: #krate::TypedSession<Self::Endpoint>,
                        state: &::std::sync::Arc<__S>,
                    ) -> #krate::__private::BoxFuture<'static, #krate::HandlerResult> {
                        #inner
                        let state = ::std::sync::Arc::clone(state);
                        ::std::boxed::Box::pin(async move {
                            __wsauth_handler(session, #krate::Provides::<#ty>::provide(&*state)).await
                        })
                    }
                }
            }
        }
    };
    Ok(quote! {
        #(#attrs)*
        #[allow(non_camel_case_types)]
        #[derive(::core::clone::Clone, ::core::marker::Copy, ::core::fmt::Debug)]
        #vis struct #ident;

        const _: () = {
            impl #krate::EndpointHandler for #ident {
                type Endpoint = #endpoint;
            }
            #runs_with
            #name_check
            const _: () = if #wrong_perm {
                #perm_help
            };
            #include
        };
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn expand(input: TokenStream) -> String {
        include_spec(input).to_string()
    }

    #[test]
    fn an_invalid_spec_becomes_compile_errors_with_locations() {
        let out = expand(quote!(
            "tests/fixtures/invalid/several_problems_reported_together.yaml"
        ));
        assert_eq!(out.matches("compile_error").count(), 5, "{out}");
        assert!(out.contains("several_problems_reported_together.yaml:23:11: unknown permission `conversation.raed`"), "{out}");
        assert!(out.contains("did you mean `conversation.read`?"), "{out}");
    }

    #[test]
    fn a_missing_file_is_reported_on_the_literal() {
        let out = expand(quote!("specs/nope.yaml"));
        assert!(out.contains("cannot read spec"), "{out}");
    }

    #[test]
    fn a_valid_spec_expands_to_a_descriptor_and_an_include() {
        let out = expand(quote!(
            "../specs/prsm.yaml" as PRSM,
            crate = "my_reexport::core"
        ));
        assert!(out.contains("include_str"), "{out}");
        assert!(out.contains("pub static PRSM"), "{out}");
        assert!(
            out.contains("my_reexport :: core :: ApiDescriptor"),
            "{out}"
        );
    }
}
