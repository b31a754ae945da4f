//! The generated Rust client over TLS, and the rule that keeps a token off
//! plain `ws://` to another host, against songnodes on 127.0.0.1.
//!
//! The TLS server is songnodes' own router behind a rustls acceptor, with a
//! self-signed certificate made for the test (for `localhost` and
//! `127.0.0.1`):
//! - with that certificate as its root, the client is welcomed over `wss://`;
//! - with the default roots it does not trust the certificate, and ends at
//!   once with [`ClientError::Tls`]: one TCP connection, no reconnection
//!   (so does a client whose `wss://` URL names the plain server);
//! - a token for `ws://example.invalid` is refused by `start()` itself
//!   (nothing is resolved or connected), and for `ws://0.0.0.0:<port>`
//!   (this machine, but not loopback by its URL) only the opt-in lets it
//!   through.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use tokio::net::{TcpListener, TcpStream};
use tokio_rustls::TlsAcceptor;
use tokio_rustls::server::TlsStream;
use wsauth_core::client::{ClientError, ConnectError, Event, rustls as client_rustls};
use wsauth_example_support::testing::loopback;
use wsauth_generated::songnodes::endpoints::user;
use wsauth_generated::songnodes::messages;

use crate::support::SECRET;
use crate::support::events::{message, next, opened};
use crate::support::examples::start_songnodes;
use crate::support::tokens::SONGNODES;

/// A TLS listener for `axum::serve`: each accepted TCP connection is
/// counted, then gets its handshake (a client that refuses the certificate
/// fails it, and the next connection is served).
struct TlsListener {
    tcp: TcpListener,
    acceptor: TlsAcceptor,
    connections: Arc<AtomicUsize>,
}

impl axum::serve::Listener for TlsListener {
    type Io = TlsStream<TcpStream>;
    type Addr = SocketAddr;

    async fn accept(&mut self) -> (Self::Io, Self::Addr) {
        loop {
            let Ok((tcp, addr)) = self.tcp.accept().await else {
                continue;
            };
            self.connections.fetch_add(1, Ordering::SeqCst);
            let handshake = self.acceptor.accept(tcp);
            if let Ok(Ok(tls)) = tokio::time::timeout(Duration::from_secs(5), handshake).await {
                return (tls, addr);
            }
        }
    }

    fn local_addr(&self) -> std::io::Result<Self::Addr> {
        self.tcp.local_addr()
    }
}

/// songnodes served over TLS on 127.0.0.1 with a fresh self-signed
/// certificate: its address, the certificate (a client's only root), and
/// the count of TCP connections it accepted.
struct TlsSongnodes {
    addr: SocketAddr,
    certificate: CertificateDer<'static>,
    connections: Arc<AtomicUsize>,
    serving: tokio::task::JoinHandle<()>,
}

impl Drop for TlsSongnodes {
    fn drop(&mut self) {
        self.serving.abort();
    }
}

fn ring() -> Arc<rustls::crypto::CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

async fn start_tls_songnodes() -> TlsSongnodes {
    let names = vec!["localhost".to_owned(), "127.0.0.1".to_owned()];
    let issued = rcgen::generate_simple_self_signed(names).unwrap_or_else(|e| panic!("{e}"));
    let certificate = issued.cert.der().clone();
    let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(issued.signing_key.serialize_der()));
    let config = rustls::ServerConfig::builder_with_provider(ring())
        .with_safe_default_protocol_versions()
        .and_then(|b| {
            b.with_no_client_auth()
                .with_single_cert(vec![certificate.clone()], key)
        })
        .unwrap_or_else(|e| panic!("{e}"));
    let (tcp, addr) = loopback().await;
    let connections = Arc::new(AtomicUsize::new(0));
    let listener = TlsListener {
        tcp,
        acceptor: TlsAcceptor::from(Arc::new(config)),
        connections: connections.clone(),
    };
    let (router, _server) =
        songnodes::app(songnodes::Config::new(SECRET)).unwrap_or_else(|e| panic!("songnodes: {e}"));
    let serving = tokio::spawn(async move {
        let _ = axum::serve(listener, router.into_make_service()).await;
    });
    TlsSongnodes {
        addr,
        certificate,
        connections,
        serving,
    }
}

/// A client configuration whose only root is `certificate`.
fn trusting(certificate: &CertificateDer<'static>) -> Arc<client_rustls::ClientConfig> {
    let mut roots = client_rustls::RootCertStore::empty();
    roots
        .add(certificate.clone())
        .unwrap_or_else(|e| panic!("{e}"));
    let config = client_rustls::ClientConfig::builder_with_provider(ring())
        .with_safe_default_protocol_versions()
        .unwrap_or_else(|e| panic!("{e}"))
        .with_root_certificates(roots)
        .with_no_client_auth();
    Arc::new(config)
}

fn alice() -> (user::Params, String) {
    let params = user::Params {
        user_id: "alice".to_owned(),
    };
    (params, SONGNODES.token("alice", &["user"], 600))
}

async fn welcomed(client: &mut user::Client) -> messages::Welcome {
    opened(client, 0).await;
    match message(client).await {
        user::ServerMessage::Welcome(w) => w,
        other => panic!("expected the welcome, got {other:?}"),
    }
}

#[tokio::test]
async fn wss_with_the_servers_certificate_as_root_is_welcomed() {
    let server = start_tls_songnodes().await;
    for host in ["127.0.0.1", "localhost"] {
        let url = format!("wss://{host}:{}", server.addr.port());
        let (params, token) = alice();
        let mut client = user::connect(&url, params, token)
            .tls_config(trusting(&server.certificate))
            .start()
            .unwrap_or_else(|e| panic!("{e}"));
        let welcome = welcomed(&mut client).await;
        assert!(welcome.authenticated, "{host}");
        assert_eq!(welcome.user_id.as_deref(), Some("alice"), "{host}");
        client.close();
    }
}

#[tokio::test]
async fn an_untrusted_certificate_ends_the_client_at_once() {
    let server = start_tls_songnodes().await;
    let url = format!("wss://localhost:{}", server.addr.port());
    let (params, token) = alice();
    // Default roots (webpki): the self-signed certificate is unknown. No
    // `max_reconnects`: a network failure would be retried forever.
    let mut client = user::connect(&url, params, token)
        .backoff(Duration::from_millis(10), Duration::from_millis(20))
        .start()
        .unwrap_or_else(|e| panic!("{e}"));
    match next(&mut client).await {
        Event::Failed(ClientError::Tls(rustls::Error::InvalidCertificate(why))) => {
            assert_eq!(why, rustls::CertificateError::UnknownIssuer);
        }
        other => panic!("expected a fatal TLS error, got {other:?}"),
    }
    let after = tokio::time::timeout(Duration::from_secs(1), client.recv()).await;
    assert!(matches!(after, Ok(None)), "the client went on: {after:?}");
    assert_eq!(server.connections.load(Ordering::SeqCst), 1);

    // A certificate for another name is refused the same way.
    let other = rcgen::generate_simple_self_signed(vec!["other.invalid".to_owned()])
        .unwrap_or_else(|e| panic!("{e}"));
    let (params, token) = alice();
    let mut client = user::connect(&url, params, token)
        .tls_config(trusting(other.cert.der()))
        .start()
        .unwrap_or_else(|e| panic!("{e}"));
    match next(&mut client).await {
        Event::Failed(ClientError::Tls(rustls::Error::InvalidCertificate(_))) => {}
        other => panic!("expected a fatal TLS error, got {other:?}"),
    }
    assert_eq!(server.connections.load(Ordering::SeqCst), 2);
}

#[tokio::test]
async fn a_token_over_plain_ws_to_another_host_is_refused_before_connecting() {
    let (params, token) = alice();
    match user::connect("ws://example.invalid", params, token).start() {
        Err(ConnectError::InsecureToken { host }) => assert_eq!(host, "example.invalid"),
        other => panic!("expected InsecureToken, got {:?}", other.map(|_| ())),
    }

    // 0.0.0.0 reaches this machine, but is not loopback by its URL.
    let app = start_songnodes().await;
    let url = app.ws_url().replace("127.0.0.1", "0.0.0.0");
    let (params, token) = alice();
    let refused = user::connect(&url, params.clone(), token.clone()).start();
    assert!(
        matches!(refused, Err(ConnectError::InsecureToken { .. })),
        "{:?}",
        refused.map(|_| ())
    );
    let mut client = user::connect(&url, params, token)
        .allow_token_over_insecure_ws()
        .start()
        .unwrap_or_else(|e| panic!("{e}"));
    assert!(welcomed(&mut client).await.authenticated);
}

#[tokio::test]
async fn a_url_that_cannot_work_is_refused_before_connecting() {
    let (params, token) = alice();
    let https = user::connect("https://127.0.0.1:1", params.clone(), token.clone()).start();
    assert!(
        matches!(https, Err(ConnectError::UnsupportedScheme(_))),
        "{:?}",
        https.map(|_| ())
    );
    let query = user::connect("ws://127.0.0.1:1/?x=1", params, token).start();
    assert!(
        matches!(query, Err(ConnectError::Url { .. })),
        "{:?}",
        query.map(|_| ())
    );
}

#[tokio::test]
async fn wss_to_a_plain_server_ends_the_client_at_once() {
    // A wss:// URL for a server that does not speak TLS on that port: it
    // answers the ClientHello with an HTTP 400, which no retry changes.
    let app = start_songnodes().await;
    let url = app.ws_url().replace("ws://", "wss://");
    let (params, token) = alice();
    let mut client = user::connect(&url, params, token)
        .backoff(Duration::from_millis(10), Duration::from_millis(20))
        .start()
        .unwrap_or_else(|e| panic!("{e}"));
    match next(&mut client).await {
        Event::Failed(ClientError::Tls(rustls::Error::InvalidMessage(
            rustls::InvalidMessage::InvalidContentType,
        ))) => {}
        other => panic!("expected a fatal TLS error, got {other:?}"),
    }
    let after = tokio::time::timeout(Duration::from_secs(1), client.recv()).await;
    assert!(matches!(after, Ok(None)), "the client went on: {after:?}");
}
