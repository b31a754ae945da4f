//! Where a client connects, checked once before the first attempt: the URL,
//! TLS, and whether a token may travel in clear text.
//!
//! # Motivation
//!
//! The driver retries what retrying can fix: a server that is down, a
//! network that failed, a proxy answering 503 during a deploy. A mistake in
//! the client's own configuration is not one of those, and a client that
//! retries it with backoff forever only hides it. So everything that can be
//! known before connecting is checked in [`Connect::start`], which fails
//! with a [`ConnectError`] and spawns nothing:
//!
//! - the URL parses, has a host, no query or fragment, and its scheme is
//!   `ws` or `wss` (the host of a `wss` URL must also be a name TLS can
//!   present: a DNS name or an IP address);
//! - the TLS configuration exists: the caller's, or the default one over
//!   the [webpki roots](webpki_roots);
//! - a token is not sent over plain `ws://` to a host other than this
//!   machine's loopback (`localhost`, `127.0.0.0/8`, `::1`) unless the
//!   caller opted in with [`Connect::allow_token_over_insecure_ws`]: a
//!   bearer token read on the way is a stolen account. The rule looks at
//!   the URL only, never at DNS (a name that resolves to 127.0.0.1 today
//!   can resolve elsewhere tomorrow); `0.0.0.0` is not loopback.
//!
//! What can only be known while connecting is sorted by [`permanent`]: a
//! TLS failure that says the two sides will never agree (the certificate
//! is not trusted, not valid for the name, expired; no common protocol
//! version; the server refuses this client; the port does not speak TLS at
//! all) ends the client with
//! [`ClientError::Tls`](super::ClientError::Tls) on the first attempt;
//! anything else (refused or reset TCP, DNS, a corrupt record, a timeout)
//! is a network failure, retried after a backoff.
//!
//! # Why webpki roots
//!
//! The default trust store is Mozilla's root program compiled in
//! ([`webpki_roots`]), not the platform's: it is the same on every machine
//! (a minimal container image has no `/etc/ssl/certs`), needs no I/O or
//! fallible loading at start-up, and is what the server side's
//! introspection client (reqwest with rustls) already trusts, so the crate
//! has one trust store, not two. A private CA, a corporate proxy's CA or
//! the platform's store is one [`ClientConfig`] away:
//! [`Connect::tls_config`].
//!
//! [`Connect::start`]: super::Connect::start
//! [`Connect::allow_token_over_insecure_ws`]: super::Connect::allow_token_over_insecure_ws
//! [`Connect::tls_config`]: super::Connect::tls_config

use std::net::IpAddr;
use std::sync::Arc;

use rustls::pki_types::ServerName;
use rustls::{AlertDescription, ClientConfig, RootCertStore};
use tokio_tungstenite::Connector;
use tokio_tungstenite::tungstenite::http::Uri;

use super::ConnectError;

/// A checked URL and the connector that opens it.
pub(super) struct Target {
    /// The full URL: base, endpoint path, parameters.
    pub(super) url: String,
    /// Plain TCP for `ws`, rustls for `wss`.
    pub(super) connector: Connector,
}

/// What [`Target::check`] needs to know besides the URL.
pub(super) struct Rules {
    /// The caller's TLS configuration, if any.
    pub(super) tls: Option<Arc<ClientConfig>>,
    /// Whether the connection presents a token.
    pub(super) sends_token: bool,
    /// [`Connect::allow_token_over_insecure_ws`](super::Connect::allow_token_over_insecure_ws)
    /// was called.
    pub(super) insecure_ws: bool,
}

impl Target {
    /// Checks `url` (see the module docs) and picks its connector.
    pub(super) fn check(url: String, rules: Rules) -> Result<Target, ConnectError> {
        let bad = |reason: &'static str| ConnectError::Url {
            url: url.clone(),
            reason,
        };
        let uri: Uri = url.parse().map_err(|_| bad("it does not parse"))?;
        let tls = match uri.scheme_str() {
            Some("ws") => false,
            Some("wss") => true,
            _ => return Err(ConnectError::UnsupportedScheme(url)),
        };
        let host = uri
            .host()
            .filter(|h| !h.is_empty())
            .ok_or_else(|| bad("it has no host"))?;
        if uri.query().is_some() {
            return Err(bad("a base URL takes no query"));
        }
        // Brackets are URL syntax around an IPv6 address, not the host.
        let host = host
            .strip_prefix('[')
            .and_then(|h| h.strip_suffix(']'))
            .unwrap_or(host);
        let connector = if tls {
            if ServerName::try_from(host).is_err() {
                return Err(bad("its host is not a name TLS can check"));
            }
            let config = match rules.tls {
                Some(config) => config,
                None => default_config().map_err(ConnectError::Tls)?,
            };
            Connector::Rustls(config)
        } else {
            if rules.sends_token && !rules.insecure_ws && !is_loopback(host) {
                return Err(ConnectError::InsecureToken {
                    host: host.to_owned(),
                });
            }
            Connector::Plain
        };
        Ok(Target { url, connector })
    }
}

/// Whether `host` (without brackets) is this machine by its URL alone:
/// `localhost`, an address in `127.0.0.0/8`, `::1`, or `127.0.0.0/8`
/// mapped into IPv6. Other names ending in `.localhost` are not taken: the
/// system resolver may ask DNS about them.
fn is_loopback(host: &str) -> bool {
    match host.parse::<IpAddr>() {
        Ok(IpAddr::V4(v4)) => v4.is_loopback(),
        Ok(IpAddr::V6(v6)) => {
            v6.is_loopback() || v6.to_ipv4_mapped().is_some_and(|v4| v4.is_loopback())
        }
        Err(_) => {
            let name = host.strip_suffix('.').unwrap_or(host);
            name.eq_ignore_ascii_case("localhost")
        }
    }
}

/// TLS 1.2 and 1.3 with the webpki roots (see the module docs), on the
/// process's default crypto provider when one is installed, else ring (the
/// one this crate builds rustls with).
fn default_config() -> Result<Arc<ClientConfig>, rustls::Error> {
    let provider = rustls::crypto::CryptoProvider::get_default()
        .cloned()
        .unwrap_or_else(|| Arc::new(rustls::crypto::ring::default_provider()));
    let roots = RootCertStore {
        roots: webpki_roots::TLS_SERVER_ROOTS.to_vec(),
    };
    let config = ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()?
        .with_root_certificates(roots)
        .with_no_client_auth();
    Ok(Arc::new(config))
}

/// Whether a TLS failure will happen again on every attempt, so the client
/// ends instead of retrying (see the module docs).
///
/// A certificate error is permanent even when time might fix it (expired,
/// not yet valid): whether the server's operator renews it or this
/// machine's clock is wrong, a client that retries in silence hides it; a
/// service that wants to ride it out restarts the client on the error.
pub(super) fn permanent(error: &rustls::Error) -> bool {
    use AlertDescription as A;
    match error {
        rustls::Error::InvalidCertificate(_)
        | rustls::Error::PeerIncompatible(_)
        | rustls::Error::NoCertificatesPresented
        | rustls::Error::UnsupportedNameType => true,
        // The first bytes back are not a TLS record: the port speaks
        // something else (a plain HTTP or ws:// server behind a wss:// URL).
        rustls::Error::InvalidMessage(rustls::InvalidMessage::InvalidContentType) => true,
        // The server's verdict on this client's configuration (its
        // versions, its ciphers, its certificate or the lack of one).
        rustls::Error::AlertReceived(alert) => matches!(
            alert,
            A::HandshakeFailure
                | A::ProtocolVersion
                | A::InsufficientSecurity
                | A::BadCertificate
                | A::UnsupportedCertificate
                | A::CertificateRevoked
                | A::CertificateExpired
                | A::CertificateUnknown
                | A::UnknownCA
                | A::AccessDenied
                | A::CertificateRequired
                | A::UnrecognisedName
                | A::NoApplicationProtocol
        ),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rules(sends_token: bool, insecure_ws: bool) -> Rules {
        Rules {
            tls: None,
            sends_token,
            insecure_ws,
        }
    }

    fn check(url: &str, rules: Rules) -> Result<Target, ConnectError> {
        Target::check(url.to_owned(), rules)
    }

    #[test]
    fn loopback_is_read_from_the_url_alone() {
        for host in [
            "localhost",
            "LOCALHOST",
            "localhost.",
            "127.0.0.1",
            "127.9.8.7",
            "::1",
        ] {
            assert!(is_loopback(host), "{host}");
        }
        assert!(is_loopback("::ffff:127.0.0.1"));
        for host in [
            "0.0.0.0",
            "::",
            "10.0.0.1",
            "example.invalid",
            "localhost.example.com",
            "app.localhost",
            "127.0.0.1.example.com",
        ] {
            assert!(!is_loopback(host), "{host}");
        }
    }

    #[test]
    fn a_token_over_plain_ws_needs_loopback_or_the_opt_in() {
        let refused = check("ws://example.invalid/ws", rules(true, false));
        assert!(
            matches!(&refused, Err(ConnectError::InsecureToken { host }) if host == "example.invalid"),
            "{:?}",
            refused.err()
        );
        let refused = check("ws://[2001:db8::1]:80/ws", rules(true, false));
        assert!(
            matches!(&refused, Err(ConnectError::InsecureToken { host }) if host == "2001:db8::1"),
            "{:?}",
            refused.err()
        );
        assert!(check("ws://example.invalid/ws", rules(true, true)).is_ok());
        assert!(check("ws://example.invalid/ws", rules(false, false)).is_ok());
        assert!(check("ws://127.0.0.1:8000/ws", rules(true, false)).is_ok());
        assert!(check("ws://[::1]:8000/ws", rules(true, false)).is_ok());
        assert!(check("wss://example.invalid/ws", rules(true, false)).is_ok());
    }

    #[test]
    fn configuration_mistakes_are_named() {
        for (url, reason) in [
            ("ws://", "it does not parse"),
            ("ws:///ws", "it does not parse"),
            ("not a url", "it does not parse"),
            ("ws://h/ws?x=1", "a base URL takes no query"),
        ] {
            match check(url, rules(false, false)) {
                Err(ConnectError::Url { reason: got, .. }) => assert_eq!(got, reason, "{url}"),
                other => panic!("{url}: {:?}", other.err()),
            }
        }
        for url in ["http://h/ws", "https://h/ws", "ftp://h/ws", "/ws"] {
            assert!(
                matches!(
                    check(url, rules(false, false)),
                    Err(ConnectError::UnsupportedScheme(_))
                ),
                "{url}"
            );
        }
        let https = check("https://h/ws", rules(false, false)).err();
        assert_eq!(
            https.map(|e| e.to_string()).as_deref(),
            Some("`https://h/ws` is not a ws:// or wss:// URL")
        );
    }

    #[test]
    fn only_tls_failures_that_cannot_change_are_permanent() {
        use rustls::{CertificateError, PeerIncompatible};
        assert!(permanent(&rustls::Error::InvalidCertificate(
            CertificateError::UnknownIssuer
        )));
        assert!(permanent(&rustls::Error::InvalidCertificate(
            CertificateError::Expired
        )));
        assert!(permanent(&rustls::Error::PeerIncompatible(
            PeerIncompatible::Tls12NotOffered
        )));
        assert!(permanent(&rustls::Error::AlertReceived(
            AlertDescription::CertificateRequired
        )));
        assert!(!permanent(&rustls::Error::AlertReceived(
            AlertDescription::InternalError
        )));
        assert!(permanent(&rustls::Error::InvalidMessage(
            rustls::InvalidMessage::InvalidContentType
        )));
        assert!(!permanent(&rustls::Error::InvalidMessage(
            rustls::InvalidMessage::MessageTooLarge
        )));
        assert!(!permanent(&rustls::Error::DecryptError));
        assert!(!permanent(&rustls::Error::General("reset".to_owned())));
    }
}
