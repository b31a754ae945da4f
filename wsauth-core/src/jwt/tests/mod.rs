//! The verifier's tests, one file per part of `jwt`, against the fixtures
//! here: keys, descriptors, and tokens minted with `jsonwebtoken`.

mod claims;
mod jwks;
mod keys;
mod non_expiring;
mod verify;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::jwk::Jwk;
use jsonwebtoken::{Algorithm as J, EncodingKey, Header, encode};
use serde_json::{Value, json};
use wsauth_spec::Algorithm::*;
use wsauth_spec::ClaimShape;

use super::jwks::*;
use super::keys::*;
use super::verify::*;
use super::*;
use crate::descriptor::{ApiDescriptor, JwtDescriptor, KeySlot};

const NOW: u64 = 1_700_000_000;
const ISS: &str = "https://issuer.test";
const SECRET: &[u8] = b"0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";
const OTHER_SECRET: &[u8] = b"fedcba9876543210fedcba9876543210";

const RSA_PRIVATE: &[u8] = include_bytes!("../../../tests/keys/rsa_private.pem");
const RSA_PUBLIC: &[u8] = include_bytes!("../../../tests/keys/rsa_public.pem");
const RSA2_PRIVATE: &[u8] = include_bytes!("../../../tests/keys/rsa2_private.pem");
const RSA1024_PUBLIC: &[u8] = include_bytes!("../../../tests/keys/rsa1024_public.pem");
const EC256_PRIVATE: &[u8] = include_bytes!("../../../tests/keys/ec256_private.pem");
const EC256_PUBLIC: &[u8] = include_bytes!("../../../tests/keys/ec256_public.pem");
const EC384_PRIVATE: &[u8] = include_bytes!("../../../tests/keys/ec384_private.pem");
const EC384_PUBLIC: &[u8] = include_bytes!("../../../tests/keys/ec384_public.pem");
const ED_PRIVATE: &[u8] = include_bytes!("../../../tests/keys/ed25519_private.pem");
const ED_PUBLIC: &[u8] = include_bytes!("../../../tests/keys/ed25519_public.pem");

const HS256_ONLY: &[KeySlot] = &[KeySlot {
    name: "default",
    algorithms: &[HS256],
}];
const HS_ALL: &[KeySlot] = &[KeySlot {
    name: "default",
    algorithms: &[HS256, HS384, HS512],
}];
const RS256_ONLY: &[KeySlot] = &[KeySlot {
    name: "main",
    algorithms: &[RS256],
}];
const TWO_SLOTS: &[KeySlot] = &[
    KeySlot {
        name: "a",
        algorithms: &[HS256],
    },
    KeySlot {
        name: "b",
        algorithms: &[RS256],
    },
];
const PARTNER: &[KeySlot] = &[KeySlot {
    name: "partner",
    algorithms: &[RS256],
}];
const PARTNER_RS_PS: &[KeySlot] = &[KeySlot {
    name: "partner",
    algorithms: &[RS256, PS256],
}];

fn descriptor(keys: &'static [KeySlot]) -> JwtDescriptor {
    JwtDescriptor {
        keys,
        issuer: Some(ISS),
        audience: &["wsauth", "other"],
        leeway_s: 30,
        max_ttl_s: None,
        subject_claim: "sub",
        roles_claim: "roles",
        roles_shape: ClaimShape::Array,
    }
}

fn leak(d: JwtDescriptor) -> &'static JwtDescriptor {
    Box::leak(Box::new(d))
}

fn claims() -> Value {
    json!({
        "sub": "alice",
        "iss": ISS,
        "aud": "wsauth",
        "iat": NOW,
        "exp": NOW + 600,
        "roles": ["user", "admin"],
    })
}

fn with(mut claims: Value, name: &str, value: Value) -> Value {
    claims[name] = value;
    claims
}

fn without(mut claims: Value, name: &str) -> Value {
    if let Some(object) = claims.as_object_mut() {
        object.remove(name);
    }
    claims
}

fn mint(alg: J, kid: Option<&str>, claims: &Value, key: &EncodingKey) -> String {
    let mut header = Header::new(alg);
    header.kid = kid.map(str::to_owned);
    encode(&header, claims, key).expect("encode")
}

fn hs256(claims: &Value) -> String {
    mint(J::HS256, None, claims, &EncodingKey::from_secret(SECRET))
}

/// A token with exactly these header and payload texts, signed.
fn sign_raw(header: &str, payload: &str, alg: J, key: &EncodingKey) -> String {
    let message = format!(
        "{}.{}",
        URL_SAFE_NO_PAD.encode(header),
        URL_SAFE_NO_PAD.encode(payload)
    );
    let signature = jsonwebtoken::crypto::sign(message.as_bytes(), key, alg).expect("sign");
    format!("{message}.{signature}")
}

fn rsa_key() -> EncodingKey {
    EncodingKey::from_rsa_pem(RSA_PRIVATE).expect("rsa private key")
}

fn rsa2_key() -> EncodingKey {
    EncodingKey::from_rsa_pem(RSA2_PRIVATE).expect("rsa private key")
}

fn hmac_verifier(d: JwtDescriptor) -> Verifier {
    let keys = KeySet::new().hmac("default", SECRET).expect("secret");
    Verifier::new(leak(d), keys).expect("verifier")
}

async fn check(verifier: &Verifier, claims: &Value) -> Result<Claims, JwtError> {
    let token = mint(J::HS256, None, claims, &EncodingKey::from_secret(SECRET));
    verifier.verify_at(&token, NOW).await
}

// A JWKS endpoint on a local socket (also for `kid` look-ups).

#[derive(Clone)]
struct JwksServer {
    url: String,
    hits: Arc<AtomicUsize>,
    body: Arc<std::sync::Mutex<Value>>,
    down: Arc<AtomicBool>,
}

impl JwksServer {
    fn hits(&self) -> usize {
        self.hits.load(Ordering::SeqCst)
    }
    fn set(&self, body: Value) {
        *self.body.lock().expect("lock") = body;
    }
    fn set_down(&self, down: bool) {
        self.down.store(down, Ordering::SeqCst);
    }
}

async fn jwks_server(body: Value) -> JwksServer {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    let server = JwksServer {
        url: format!("http://{addr}/jwks"),
        hits: Arc::default(),
        body: Arc::new(std::sync::Mutex::new(body)),
        down: Arc::default(),
    };
    let app = axum::Router::new()
        .route(
            "/jwks",
            axum::routing::get(
                |axum::extract::State(s): axum::extract::State<JwksServer>| async move {
                    s.hits.fetch_add(1, Ordering::SeqCst);
                    if s.down.load(Ordering::SeqCst) {
                        return Err(http::StatusCode::INTERNAL_SERVER_ERROR);
                    }
                    Ok(axum::Json(s.body.lock().expect("lock").clone()))
                },
            ),
        )
        .with_state(server.clone());
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    server
}

fn jwk(key: &EncodingKey, alg: J, kid: &str) -> Value {
    let mut value =
        serde_json::to_value(Jwk::from_encoding_key(key, alg).expect("jwk")).expect("json");
    value["kid"] = json!(kid);
    value
}

fn jwks_verifier(
    slots: &'static [KeySlot],
    url: &str,
    max_age: Duration,
    cooldown: Duration,
) -> Verifier {
    let source = JwksSource::with_times(url, max_age, cooldown).expect("url");
    jwks_verifier_from(slots, source)
}

fn jwks_verifier_from(slots: &'static [KeySlot], source: JwksSource) -> Verifier {
    let keys = KeySet::new().jwks("partner", source).expect("keys");
    Verifier::new(leak(descriptor(slots)), keys).expect("verifier")
}

const HOUR: Duration = Duration::from_secs(3600);
