//! The [`Api`] as a `wsauth_core::ApiDescriptor` constant.
//!
//! Only what the runtime enforces is emitted (docs, and the schemas of
//! messages only the server sends outside topics, stay out of the binary);
//! every failure kind's close code is listed, defaults included,
//! so the running server and the generated clients read the same table.

use proc_macro2::TokenStream;
use quote::quote;
use wsauth_spec::{
    Access, Algorithm, ClaimShape, ClientAction, Deliver, ExpiryPolicy, FailureKind, Fallback,
    Frames, ParamType, TokenSource,
};

use super::payload::Payloads;
use crate::ir::{self, Api};
use crate::naming;

/// `static NAME: ApiDescriptor = ...;` for `api`, with runtime paths under `krate`.
pub fn descriptor_tokens(api: &Api, krate: &TokenStream, name: &syn::Ident) -> TokenStream {
    let d = quote!(#krate::__private::descriptor);
    let api_name = &api.name;
    let auth = match &api.auth {
        Some(a) => {
            let body = auth(a, krate);
            quote!(::core::option::Option::Some(#body))
        }
        None => quote!(::core::option::Option::None),
    };
    let roles = api.roles.iter().map(|r| {
        let (name, all, perms) = (&r.name, r.all, &r.permissions);
        quote!(#d::RoleDescriptor { name: #name, all: #all, permissions: &[#(#perms),*] })
    });
    let closes = api.close_codes.iter().map(|c| {
        let kind = failure_kind(c.kind, krate);
        let (code, reason) = (c.code, &c.reason);
        let client = client_action(c.client, krate);
        quote!(#d::CloseDescriptor { kind: #kind, code: #code, reason: #reason, client: #client })
    });
    let stats = match &api.stats {
        Some(s) => {
            let (path, perm) = (&s.path, &s.perm);
            quote!(::core::option::Option::Some(#d::StatsDescriptor { path: #path, perm: #perm }))
        }
        None => quote!(::core::option::Option::None),
    };
    let payloads = Payloads::new(api, krate);
    let endpoints = api
        .endpoints
        .iter()
        .map(|e| endpoint(api, e, krate, &payloads));
    let topics = api.topics.iter().map(|t| topic(api, t, krate, &payloads));
    let statics = payloads.items();
    let doc = format!(
        "The runtime descriptor of the `{}` spec ({} {}), generated from the spec at compile time.",
        api.name, api.title, api.version
    );
    quote! {
        #[doc = #doc]
        pub static #name: #krate::ApiDescriptor = {
            #(#statics)*
            #d::ApiDescriptor {
                name: #api_name,
                auth: #auth,
                roles: &[#(#roles),*],
                close_codes: &[#(#closes),*],
                stats: #stats,
                endpoints: &[#(#endpoints),*],
                topics: &[#(#topics),*],
            }
        };
    }
}

fn option_str(value: Option<&str>) -> TokenStream {
    match value {
        Some(v) => quote!(::core::option::Option::Some(#v)),
        None => quote!(::core::option::Option::None),
    }
}

fn auth(a: &ir::Auth, krate: &TokenStream) -> TokenStream {
    let d = quote!(#krate::__private::descriptor);
    let sources = sources(&a.sources, krate);
    let jwt = match &a.jwt {
        Some(j) => {
            let keys = j.keys.iter().map(|k| {
                let name = &k.name;
                let algs = k.algorithms.iter().map(|alg| algorithm(*alg, krate));
                quote!(#d::KeySlot { name: #name, algorithms: &[#(#algs),*] })
            });
            let issuer = option_str(j.issuer.as_deref());
            let audience = &j.audience;
            let leeway = j.leeway_s;
            let max_ttl = j.max_ttl_s;
            let (sub, roles) = (&j.subject_claim, &j.roles_claim);
            let shape = match j.roles_shape {
                ClaimShape::Array => quote!(#krate::spec::ClaimShape::Array),
                ClaimShape::String => quote!(#krate::spec::ClaimShape::String),
            };
            quote!(::core::option::Option::Some(#d::JwtDescriptor {
                keys: &[#(#keys),*],
                issuer: #issuer,
                audience: &[#(#audience),*],
                leeway_s: #leeway,
                max_ttl_s: ::core::option::Option::Some(#max_ttl),
                subject_claim: #sub,
                roles_claim: #roles,
                roles_shape: #shape,
            }))
        }
        None => quote!(::core::option::Option::None),
    };
    let introspection = match a.introspection.as_ref().map(|i| i.fallback) {
        Some(Fallback::Jwt) => quote!(::core::option::Option::Some(#krate::spec::Fallback::Jwt)),
        Some(Fallback::None) => quote!(::core::option::Option::Some(#krate::spec::Fallback::None)),
        None => quote!(::core::option::Option::None),
    };
    let on_expiry = match a.on_expiry {
        ExpiryPolicy::Close => quote!(#krate::spec::ExpiryPolicy::Close),
        ExpiryPolicy::Refresh => quote!(#krate::spec::ExpiryPolicy::Refresh),
    };
    let anonymous = option_str(a.anonymous_role.as_deref());
    quote!(#d::AuthDescriptor {
        sources: #sources,
        jwt: #jwt,
        introspection: #introspection,
        on_expiry: #on_expiry,
        anonymous_role: #anonymous,
    })
}

fn sources(sources: &[TokenSource], krate: &TokenStream) -> TokenStream {
    let items = sources.iter().map(|s| match s {
        TokenSource::Header => quote!(#krate::spec::TokenSource::Header),
        TokenSource::Query(n) => quote!(#krate::spec::TokenSource::Query(#n)),
        TokenSource::Cookie(n) => quote!(#krate::spec::TokenSource::Cookie(#n)),
        TokenSource::Subprotocol(n) => quote!(#krate::spec::TokenSource::Subprotocol(#n)),
    });
    quote!(&[#(#items),*])
}

fn endpoint(
    api: &Api,
    e: &ir::Endpoint,
    krate: &TokenStream,
    payloads: &Payloads<'_>,
) -> TokenStream {
    let d = quote!(#krate::__private::descriptor);
    let name = &e.name;
    let path = &e.path;
    let params = e.params.iter().map(|p| {
        let pname = &p.name;
        let ty = param_type(p.ty, krate);
        let bound = p.equals.is_some();
        quote!(#d::ParamDescriptor { name: #pname, ty: #ty, equals_subject: #bound })
    });
    let access = match e.access {
        Access::Required => quote!(#krate::spec::Access::Required),
        Access::Optional => quote!(#krate::spec::Access::Optional),
        Access::Anonymous => quote!(#krate::spec::Access::Anonymous),
    };
    let sources = sources(&e.sources, krate);
    let perm = option_str(e.perm.as_deref());
    let checks = &e.checks;
    let welcome = option_str(e.welcome.as_deref());
    let receives = e.receives.iter().map(|r| {
        let perm = option_str(api.message(r).and_then(|m| m.perm.as_deref()));
        let payload = payloads.payload_of(r);
        quote!(#d::ReceiveDescriptor { name: #r, perm: #perm, payload: #payload })
    });
    let sends = &e.sends;
    let topics = e.topics.iter().map(|t| {
        let name = &t.name;
        let deliver = match t.deliver {
            Deliver::Publication => quote!(#krate::spec::Deliver::Publication),
            Deliver::Message => quote!(#krate::spec::Deliver::Message),
        };
        quote!(#d::EndpointTopicDescriptor { name: #name, deliver: #deliver })
    });
    let open = match &e.open {
        Some(o) => {
            let (receives, sends) = (o.receives, o.sends);
            let perm = option_str(o.perm.as_deref());
            let declared = api.messages.iter().map(|m| &m.name);
            quote!(::core::option::Option::Some(#d::OpenDescriptor {
                receives: #receives,
                sends: #sends,
                perm: #perm,
                declared: &[#(#declared),*],
            }))
        }
        None => quote!(::core::option::Option::None),
    };
    let frames = match e.frames {
        Frames::Json => quote!(#krate::spec::Frames::Json),
        Frames::Raw => quote!(#krate::spec::Frames::Raw),
    };
    let heartbeat = match &e.heartbeat {
        Some(h) => {
            let (ping, pong) = (&h.ping, &h.pong);
            quote!(::core::option::Option::Some((#ping, #pong)))
        }
        None => quote!(::core::option::Option::None),
    };
    let l = e.limits;
    let (conns, bytes, rate, burst, ping, idle, queue, subs) = (
        l.max_connections_per_user,
        l.max_message_bytes,
        l.messages_per_second,
        l.burst,
        l.ping_interval_s,
        l.idle_timeout_s,
        l.send_queue,
        l.max_subscriptions,
    );
    quote!(#d::EndpointDescriptor {
        name: #name,
        path: #path,
        params: &[#(#params),*],
        access: #access,
        sources: #sources,
        perm: #perm,
        checks: &[#(#checks),*],
        welcome: #welcome,
        receives: &[#(#receives),*],
        sends: &[#(#sends),*],
        open: #open,
        frames: #frames,
        heartbeat: #heartbeat,
        limits: #d::Limits {
            max_connections_per_user: #conns,
            max_message_bytes: #bytes,
            messages_per_second: #rate,
            burst: #burst,
            ping_interval_s: #ping,
            idle_timeout_s: #idle,
            send_queue: #queue,
            max_subscriptions: #subs,
        },
        topics: &[#(#topics),*],
    })
}

fn param_type(ty: ParamType, krate: &TokenStream) -> TokenStream {
    match ty {
        ParamType::String => quote!(#krate::spec::ParamType::String),
        ParamType::Integer => quote!(#krate::spec::ParamType::Integer),
        ParamType::Uuid => quote!(#krate::spec::ParamType::Uuid),
    }
}

fn topic(api: &Api, t: &ir::Topic, krate: &TokenStream, payloads: &Payloads<'_>) -> TokenStream {
    let d = quote!(#krate::__private::descriptor);
    let name = &t.name;
    let params = t.params.iter().map(|p| {
        let pname = &p.name;
        let ty = param_type(p.ty, krate);
        quote!(#d::TopicParamDescriptor { name: #pname, ty: #ty })
    });
    let subscribe = &t.subscribe;
    let checks = &t.checks;
    let publish = option_str(t.publish.as_deref());
    let messages = t.messages.iter().map(|m| {
        let payload = payloads.payload_of(m);
        quote!(#d::ReceiveDescriptor { name: #m, perm: ::core::option::Option::None, payload: #payload })
    });
    let presence = t.presence;
    let history = match t.history {
        Some(ir::History { size, ttl_s }) => {
            quote!(::core::option::Option::Some(#d::HistoryDescriptor { size: #size, ttl_s: #ttl_s }))
        }
        None => quote!(::core::option::Option::None),
    };
    let open = if t.open {
        let declared = api.messages.iter().map(|m| &m.name);
        quote!(::core::option::Option::Some(#d::OpenTopicDescriptor { declared: &[#(#declared),*] }))
    } else {
        quote!(::core::option::Option::None)
    };
    quote!(#d::TopicDescriptor {
        name: #name,
        params: &[#(#params),*],
        subscribe: ::core::option::Option::Some(#subscribe),
        checks: &[#(#checks),*],
        publish: #publish,
        messages: &[#(#messages),*],
        presence: #presence,
        history: #history,
        open: #open,
    })
}

fn algorithm(alg: Algorithm, krate: &TokenStream) -> TokenStream {
    let word = syn::Ident::new(
        wsauth_spec::Keyword::word(alg),
        proc_macro2::Span::call_site(),
    );
    quote!(#krate::spec::Algorithm::#word)
}

fn failure_kind(kind: FailureKind, krate: &TokenStream) -> TokenStream {
    let variant = naming::rust::variant(wsauth_spec::Keyword::word(kind));
    quote!(#krate::spec::FailureKind::#variant)
}

fn client_action(action: ClientAction, krate: &TokenStream) -> TokenStream {
    let variant = naming::rust::variant(wsauth_spec::Keyword::word(action));
    quote!(#krate::spec::ClientAction::#variant)
}
