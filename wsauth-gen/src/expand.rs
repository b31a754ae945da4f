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
    let server = crate::rust::server_tokens(&api, &args.krate, &args.name);
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
    spec: LitStr,
    endpoint: LitStr,
    perm: Option<LitStr>,
    krate: TokenStream,
}

impl Parse for EndpointArgs {
    fn parse(input: ParseStream<'_>) -> syn::Result<Self> {
        let (mut spec, mut endpoint, mut perm) = (None, None, None);
        let mut krate = quote!(::wsauth_core);
        let all = input.span();
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
        let spec =
            spec.ok_or_else(|| syn::Error::new(all, "missing `spec = \"path/to/spec.yaml\"`"))?;
        let endpoint =
            endpoint.ok_or_else(|| syn::Error::new(all, "missing `endpoint = \"name\"`"))?;
        Ok(EndpointArgs {
            spec,
            endpoint,
            perm,
            krate,
        })
    }
}

/// Expands `#[ws_endpoint(spec = ..., endpoint = ..., perm = ...)]`.
///
/// The handler is checked against the spec here (the endpoint exists, the
/// permission is the one the spec requires), and bound to its endpoint's
/// types by the compiler (its parameter must be that endpoint's `Session`).
/// The function becomes a unit value implementing `EndpointHandler`, to be
/// given to the spec's `Handlers`. On an error the function is re-emitted
/// unchanged, so one mistake does not cascade into others.
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

fn endpoint_checked(attr: TokenStream, function: &syn::ItemFn) -> syn::Result<TokenStream> {
    let args: EndpointArgs = syn::parse2(attr)?;
    let (api, full) = load_for_macro(&args.spec)?;
    let full = full.display().to_string();
    let name = args.endpoint.value();
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
            args.endpoint.span(),
            format!(
                "unknown endpoint `{name}` in {}\n  help: {help}",
                args.spec.value()
            ),
        ));
    };
    let at = format!("{}:{}", args.spec.value(), endpoint.loc.line);
    match (&args.perm, &endpoint.perm) {
        (Some(given), Some(required)) if given.value() != *required => {
            let declared = api.permissions.iter().map(|p| p.name.as_str());
            let hint = match crate::suggest::closest(&given.value(), declared) {
                Some(best) if best == required => format!("did you mean `{best}`?"),
                _ => format!("write `perm = \"{required}\"`"),
            };
            return Err(syn::Error::new(
                given.span(),
                format!(
                    "endpoint `{name}` requires `{required}`, not `{}`\n  help: {hint} ({at})",
                    given.value()
                ),
            ));
        }
        (None, Some(required)) => {
            return Err(syn::Error::new(
                args.endpoint.span(),
                format!(
                    "endpoint `{name}` requires permission `{required}`; state it so the handler shows what guards it\n  help: add `perm = \"{required}\"` ({at})"
                ),
            ));
        }
        (Some(given), None) => {
            return Err(syn::Error::new(
                given.span(),
                format!(
                    "endpoint `{name}` requires no permission in the spec\n  help: remove `perm`, or add it to the endpoint ({at})"
                ),
            ));
        }
        _ => {}
    }
    let sig = &function.sig;
    if sig.asyncness.is_none() {
        return Err(syn::Error::new_spanned(
            sig.fn_token,
            "a `#[ws_endpoint]` handler must be an `async fn`",
        ));
    }
    let inputs: Vec<&syn::FnArg> = sig.inputs.iter().collect();
    let session_ty = match inputs.as_slice() {
        [syn::FnArg::Typed(arg)] => &arg.ty,
        _ => {
            return Err(syn::Error::new_spanned(
                &sig.inputs,
                format!(
                    "a `#[ws_endpoint]` handler takes exactly one argument, the endpoint's session (`endpoints::{name}::Session`)"
                ),
            ));
        }
    };
    let krate = &args.krate;
    let vis = &function.vis;
    let ident = &sig.ident;
    let attrs = &function.attrs;
    let mut inner = function.clone();
    inner.sig.ident = Ident::new("__wsauth_handler", ident.span());
    inner.vis = syn::Visibility::Inherited;
    inner.attrs.clear();
    let assert_ty = quote::quote_spanned! {session_ty.span()=>
        <#session_ty as #krate::__private::SessionOf>::Endpoint
    };
    let message = format!(
        "the handler's session is not the session of endpoint `{name}`: use `endpoints::{name}::Session`"
    );
    // The permission is checked above against the spec the attribute
    // names; this checks it against the spec the session's types came from
    // (another file, another version of it), which is the one enforced.
    let perm = match &args.perm {
        Some(p) => quote!(::core::option::Option::Some(#p)),
        None => quote!(::core::option::Option::None),
    };
    let perm_message = format!(
        "the handler's `perm` is not the permission endpoint `{name}` requires in the spec its session type was generated from"
    );
    Ok(quote! {
        #(#attrs)*
        #[allow(non_camel_case_types)]
        #[derive(::core::clone::Clone, ::core::marker::Copy, ::core::fmt::Debug)]
        #vis struct #ident;

        const _: () = {
            impl #krate::EndpointHandler for #ident {
                type Endpoint = #assert_ty;
                fn call(
                    &self,
                    session: #krate::TypedSession<Self::Endpoint>,
                ) -> #krate::__private::BoxFuture<'static, #krate::HandlerResult> {
                    #inner
                    ::std::boxed::Box::pin(__wsauth_handler(session))
                }
            }
            const _: () = ::core::assert!(
                #krate::__private::__str_eq(<#assert_ty as #krate::Endpoint>::NAME, #name),
                #message
            );
            // (Only for the right endpoint: the check above reports a wrong one.)
            const _: () = ::core::assert!(
                !#krate::__private::__str_eq(<#assert_ty as #krate::Endpoint>::NAME, #name)
                    || #krate::__private::__perm_eq(<#assert_ty as #krate::Endpoint>::PERM, #perm),
                #perm_message
            );
            const _: &str = ::core::include_str!(#full);
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
