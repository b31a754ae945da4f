//! Tokens as each example expects them: HS256 with [`SECRET`](super::SECRET),
//! `iss` the example's name, `aud` `<name>-ws`, and the roles in the claim
//! its spec reads (a `roles` array, or mcp-status's single `role` string).
//! Minting itself is the examples' harness ([`Tok`]).

use serde_json::json;
pub use wsauth_example_support::testing::{Tok, now};

/// Where an example's spec reads the roles from.
#[derive(Clone, Copy, Debug)]
pub enum RoleClaim {
    /// A `roles` array.
    Roles,
    /// A single `role` string.
    Role,
}

/// One example's token issuer.
#[derive(Clone, Copy, Debug)]
pub struct Issuer {
    /// The example's name: `iss`, and `aud` with `-ws`.
    pub name: &'static str,
    /// The claims' shape.
    pub role_claim: RoleClaim,
}

/// prsm's tokens.
pub const PRSM: Issuer = Issuer::roles("prsm");
/// songnodes' tokens.
pub const SONGNODES: Issuer = Issuer::roles("songnodes");
/// shipvox's tokens.
pub const SHIPVOX: Issuer = Issuer::roles("shipvox");
/// reflections' tokens.
pub const REFLECTIONS: Issuer = Issuer::roles("reflections");
/// mcp-status's tokens (one `role`).
pub const MCP_STATUS: Issuer = Issuer {
    name: "mcp-status",
    role_claim: RoleClaim::Role,
};

impl Issuer {
    const fn roles(name: &'static str) -> Self {
        Self {
            name,
            role_claim: RoleClaim::Roles,
        }
    }

    /// The unsigned token for `sub` with `roles` (exactly one for a `role`
    /// claim), issued now and expiring in `ttl` seconds; an already expired
    /// one (`ttl < 0`) was issued a minute before it expired.
    pub fn tok(&self, sub: &str, roles: &[&str], ttl: i64) -> Tok {
        let now = now();
        let iat = if ttl < 0 { now + ttl - 60 } else { now };
        let roles = match (self.role_claim, roles) {
            (RoleClaim::Roles, roles) => ("roles", json!(roles)),
            (RoleClaim::Role, [role]) => ("role", json!(role)),
            (RoleClaim::Role, roles) => panic!("{} takes one role, not {roles:?}", self.name),
        };
        let claims = json!({
            "sub": sub, "iat": iat, "exp": now + ttl,
            "iss": self.name, "aud": format!("{}-ws", self.name),
        });
        Tok::new(claims, super::SECRET.as_bytes()).set(roles.0, roles.1)
    }

    /// [`Issuer::tok`], signed.
    pub fn token(&self, sub: &str, roles: &[&str], ttl: i64) -> String {
        self.tok(sub, roles, ttl).mint()
    }
}
