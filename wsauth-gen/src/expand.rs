//! What the proc-macros expand to, as ordinary functions over tokens.
//!
//! `wsauth-macros` only forwards here, so the expansion can be unit-tested
//! and snapshot-tested without a compiler in the loop.

use std::path::{Path, PathBuf};

use proc_macro2::TokenStream;
use quote::quote;
use syn::parse::{Parse, ParseStream};
use syn::{Ident, LitStr, Token};

use crate::{Api, LoadError};

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
            let key: Ident = if input.peek(Token![crate]) {
                let k: Token![crate] = input.parse()?;
                Ident::new("crate", k.span)
            } else {
                input.parse()?
            };
            input.parse::<Token![=]>()?;
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
    quote! {
        const _: &str = ::core::include_str!(#full);
        #descriptor
    }
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
            out.contains("my_reexport :: core :: descriptor :: ApiDescriptor"),
            "{out}"
        );
    }
}
