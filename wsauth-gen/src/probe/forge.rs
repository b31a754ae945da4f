//! The token attack catalogue: tokens a correct server refuses.
//!
//! Each attack starts from a token the server accepts. Those that only
//! rearrange it (`alg: none`, a stripped or flipped signature, edited
//! claims) need nothing else; those that sign new contents (a wrong
//! issuer, no `exp`, an unknown `crit`, ...) need the HMAC secret, since
//! the point is that the signature is right and something else is wrong.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hmac::{Hmac, Mac};
use serde_json::{Map, Value, json};

/// A JSON object: a token's header or claims.
type Json = Map<String, Value>;

/// One forged token and what makes it wrong.
#[derive(Clone, Debug)]
pub struct Forged {
    /// Short name (`alg none`).
    pub name: String,
    /// The token.
    pub token: String,
}

/// A token split into its decoded parts.
struct Parts {
    header: Map<String, Value>,
    claims: Map<String, Value>,
    signature: String,
}

fn split(token: &str) -> Option<Parts> {
    let mut pieces = token.split('.');
    let (h, c, s) = (pieces.next()?, pieces.next()?, pieces.next()?);
    let decode = |p: &str| -> Option<Map<String, Value>> {
        let bytes = URL_SAFE_NO_PAD.decode(p).ok()?;
        match serde_json::from_slice(&bytes).ok()? {
            Value::Object(map) => Some(map),
            _ => None,
        }
    };
    Some(Parts {
        header: decode(h)?,
        claims: decode(c)?,
        signature: s.to_owned(),
    })
}

fn encode(map: &Map<String, Value>) -> String {
    URL_SAFE_NO_PAD.encode(Value::Object(map.clone()).to_string())
}

/// `header.claims` signed with HS256 under `secret`.
fn sign(header: &Map<String, Value>, claims: &Map<String, Value>, secret: &[u8]) -> String {
    let input = format!("{}.{}", encode(header), encode(claims));
    let mut mac = <Hmac<sha2::Sha256> as hmac::digest::KeyInit>::new_from_slice(secret)
        .unwrap_or_else(|_| unreachable!("HMAC accepts keys of any length"));
    mac.update(input.as_bytes());
    format!(
        "{input}.{}",
        URL_SAFE_NO_PAD.encode(mac.finalize().into_bytes())
    )
}

/// Every attack on `valid` (a token the server accepts), the re-signed ones
/// only with `secret` (HS256, which the spec must allow for them to be
/// meaningful: `hs256` says whether it does).
pub fn catalogue(valid: &str, secret: Option<&[u8]>, hs256: bool) -> Vec<Forged> {
    let Some(parts) = split(valid) else {
        return Vec::new();
    };
    let mut out = Vec::new();
    let mut add = |name: &str, token: String| {
        out.push(Forged {
            name: name.to_owned(),
            token,
        });
    };
    let body = encode(&parts.claims);
    for alg in ["none", "None", "NONE", "nOnE"] {
        let mut header = parts.header.clone();
        header.insert("alg".into(), json!(alg));
        add(
            &format!("alg `{alg}`, no signature"),
            format!("{}.{body}.", encode(&header)),
        );
    }
    {
        // The same signature under another family's name: a server that
        // picks the algorithm from the token checks it as RSA (or, for
        // RS tokens, HMAC with the public key).
        let mut header = parts.header.clone();
        let other = match header.get("alg").and_then(Value::as_str) {
            Some(a) if a.starts_with("HS") => "RS256",
            _ => "HS256",
        };
        header.insert("alg".into(), json!(other));
        add(
            &format!("alg switched to {other}"),
            format!("{}.{body}.{}", encode(&header), parts.signature),
        );
    }
    let (head, _) = valid.rsplit_once('.').unwrap_or((valid, ""));
    add("signature stripped", format!("{head}."));
    {
        let mut signature = URL_SAFE_NO_PAD.decode(&parts.signature).unwrap_or_default();
        if let Some(first) = signature.first_mut() {
            *first ^= 1;
        }
        add(
            "signature with one bit flipped",
            format!("{head}.{}", URL_SAFE_NO_PAD.encode(signature)),
        );
    }
    {
        let mut claims = parts.claims.clone();
        let exp = claims.get("exp").and_then(Value::as_u64).unwrap_or(0);
        claims.insert("exp".into(), json!(exp + 86_400));
        add(
            "claims edited (exp a day later), signature kept",
            format!(
                "{}.{}.{}",
                encode(&parts.header),
                encode(&claims),
                parts.signature
            ),
        );
    }
    add(
        "oversize token (over 8 KiB)",
        format!("{head}{}.{}", "A".repeat(9 * 1024), parts.signature),
    );
    let (Some(secret), true) = (secret, hs256) else {
        return out;
    };
    let resign = |edit: &dyn Fn(&mut Json, &mut Json)| {
        let (mut header, mut claims) = (parts.header.clone(), parts.claims.clone());
        header.insert("alg".into(), json!("HS256"));
        edit(&mut header, &mut claims);
        sign(&header, &claims, secret)
    };
    let now = parts.claims.get("iat").and_then(Value::as_u64).unwrap_or(0);
    if parts.claims.contains_key("iss") {
        add(
            "wrong issuer",
            resign(&|_, c| {
                c.insert("iss".into(), json!("probe-elsewhere"));
            }),
        );
    }
    if parts.claims.contains_key("aud") {
        add(
            "wrong audience",
            resign(&|_, c| {
                c.insert("aud".into(), json!("probe-elsewhere"));
            }),
        );
    }
    add(
        "no exp",
        resign(&|_, c| {
            c.remove("exp");
        }),
    );
    add(
        "expired an hour ago",
        resign(&|_, c| {
            c.insert("iat".into(), json!(now.saturating_sub(7_200)));
            c.insert("exp".into(), json!(now.saturating_sub(3_600)));
        }),
    );
    add(
        "nbf an hour ahead",
        resign(&|_, c| {
            c.insert("nbf".into(), json!(now + 3_600));
        }),
    );
    add(
        "unknown crit header",
        resign(&|h, _| {
            h.insert("crit".into(), json!(["x-probe"]));
            h.insert("x-probe".into(), json!(true));
        }),
    );
    add(
        "kid path traversal",
        resign(&|h, _| {
            h.insert("kid".into(), json!("../../../../dev/null"));
        }),
    );
    out.push(Forged {
        name: "x5u pointing elsewhere, signed with another secret".into(),
        token: {
            let mut header = parts.header.clone();
            header.insert("alg".into(), json!("HS256"));
            header.insert("x5u".into(), json!("http://127.0.0.1:9/cert.pem"));
            sign(
                &header,
                &parts.claims,
                b"probe-attacker-secret-0123456789abcdef",
            )
        },
    });
    out.push(Forged {
        name: "jku pointing elsewhere, signed with another secret".into(),
        token: {
            let mut header = parts.header.clone();
            header.insert("alg".into(), json!("HS256"));
            header.insert("jku".into(), json!("http://127.0.0.1:9/jwks.json"));
            sign(
                &header,
                &parts.claims,
                b"probe-attacker-secret-0123456789abcdef",
            )
        },
    });
    out
}
