//! Which origins may open connections: the configured policy, and the one
//! shape an `Origin` header has, so that [`Builder::build`](super::Builder::build)
//! refuses an allowed origin no browser could ever send.

use http::HeaderValue;

use super::BuildError;

/// The origin policy as configured: [`Builder::build`] checks it and turns
/// it into [`Origins`].
#[derive(Clone, Debug)]
pub(super) enum OriginPolicy {
    Unset,
    Any,
    /// Kept as given, so that `build` can name a bad one.
    Exact(Vec<String>),
}

/// Which origins may open connections, once checked.
#[derive(Clone, Debug)]
pub(super) enum Origins {
    Any,
    Exact(Vec<HeaderValue>),
}

/// The allowed origins as header values, or the first one that no browser
/// could send.
pub(super) fn checked_origins(origins: &[String]) -> Result<Vec<HeaderValue>, BuildError> {
    origins
        .iter()
        .map(|origin| {
            is_origin(origin)
                .then(|| HeaderValue::from_str(origin).ok())
                .flatten()
                .ok_or_else(|| BuildError::BadOrigin(origin.clone()))
        })
        .collect()
}

/// Whether `origin` has the one shape browsers serialize an `Origin` in:
/// `scheme://host[:port]` with nothing after it, the scheme and host lower
/// case (a name, an IPv4 address in dotted decimal, or a bracketed IPv6
/// address as browsers write it: compressed, no dotted tail), the port in
/// decimal without leading zeros and left out when it is the scheme's
/// default. Schemes other than `http(s)` are allowed for the apps that
/// have them (`chrome-extension://<id>`, `tauri://localhost`).
fn is_origin(origin: &str) -> bool {
    let Some((scheme, rest)) = origin.split_once("://") else {
        return false;
    };
    let scheme_ok = scheme.starts_with(|c: char| c.is_ascii_lowercase())
        && scheme
            .bytes()
            .all(|b| matches!(b, b'a'..=b'z' | b'0'..=b'9' | b'+' | b'-' | b'.'));
    if !scheme_ok {
        return false;
    }
    let default_port = match scheme {
        "http" | "ws" => Some("80"),
        "https" | "wss" => Some("443"),
        _ => None,
    };
    let (host_ok, port) = if let Some(v6) = rest.strip_prefix('[') {
        let Some((address, after)) = v6.split_once(']') else {
            return false;
        };
        let address_ok = address
            .parse::<std::net::Ipv6Addr>()
            .is_ok_and(|a| ipv6_as_browsers_write_it(a) == address);
        match after.strip_prefix(':') {
            Some(port) => (address_ok, Some(port)),
            None if after.is_empty() => (address_ok, None),
            None => return false,
        }
    } else {
        let (host, port) = match rest.split_once(':') {
            Some((host, port)) => (host, Some(port)),
            None => (rest, None),
        };
        let name_ok = !host.is_empty()
            && host
                .bytes()
                .all(|b| matches!(b, b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_'));
        // Browsers rewrite a host that ends in a number as an IPv4 address
        // (`127.1`, `010.0.0.1`), so only the dotted-decimal form can match.
        let numeric = host
            .trim_end_matches('.')
            .rsplit('.')
            .next()
            .is_some_and(|last| !last.is_empty() && last.bytes().all(|b| b.is_ascii_digit()));
        let host_ok = name_ok
            && (!numeric
                || host
                    .parse::<std::net::Ipv4Addr>()
                    .is_ok_and(|a| a.to_string() == host));
        (host_ok, port)
    };
    let port_ok = port.is_none_or(|port| {
        Some(port) != default_port
            && !port.starts_with('0')
            && port.bytes().all(|b| b.is_ascii_digit())
            && port.parse::<u16>().is_ok()
    });
    host_ok && port_ok
}

/// An IPv6 address as the URL standard serializes it (and browsers send it
/// in `Origin`): lower-case hex pieces, the first longest run of two or
/// more zero pieces compressed to `::`, never a dotted IPv4 tail.
fn ipv6_as_browsers_write_it(address: std::net::Ipv6Addr) -> String {
    use std::fmt::Write;
    let pieces = address.segments();
    let mut zeros: Option<(usize, usize)> = None;
    let mut i = 0;
    while i < pieces.len() {
        let start = i;
        while i < pieces.len() && pieces[i] == 0 {
            i += 1;
        }
        let len = i - start;
        if len >= 2 && zeros.is_none_or(|(_, longest)| len > longest) {
            zeros = Some((start, len));
        }
        i = i.max(start + 1);
    }
    let mut out = String::new();
    let mut i = 0;
    while i < pieces.len() {
        if let Some((start, len)) = zeros
            && i == start
        {
            out.push_str(if i == 0 { "::" } else { ":" });
            i += len;
            continue;
        }
        let _ = write!(out, "{:x}", pieces[i]);
        if i + 1 < pieces.len() {
            out.push(':');
        }
        i += 1;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn origins_must_be_what_browsers_send() {
        for good in [
            "http://127.0.0.1:8000",
            "https://app.prsm.example",
            "http://localhost",
            "https://app.example:8443",
            "http://[::1]:8000",
            "http://[::ffff:7f00:1]",
            "http://[fe80::1]",
            "http://[1:0:0:2::3]",
            "http://[1::]",
            "http://[2001:db8:0:1:1:1:1:1]",
            "http://my_host.internal:65535",
            "http://10.0.0.1",
            "https://xn--bcher-kva.example",
            "http://example.com.",
            "chrome-extension://abcdefghijklmnopabcdefghijklmnop",
            "tauri://localhost",
            "capacitor://localhost",
        ] {
            assert!(is_origin(good), "{good}");
        }
        for bad in [
            "",
            "null",
            "*",
            "127.0.0.1:8000",
            "http://",
            "http://:8000",
            "http://host/",
            "https://app.example/",
            "http://host/path",
            "http://host?x",
            "http://host#x",
            "http://user@host",
            "http://user:pass@host",
            "HTTP://host",
            "Tauri://localhost",
            "1http://host",
            "://host",
            "http://App.Example",
            "http://host:",
            "http://host:80",
            "https://host:443",
            "http://host:08000",
            "http://host:65536",
            "http://host:+80",
            "http://host:8000:1",
            "http://[::1",
            "http://[]",
            "http://[::1]x",
            "http://[::1]:",
            "http://[FE80::1]",
            "http://[::ffff:127.0.0.1]",
            "http://[0:0::1]",
            "http://[1:0:0:2:0:0:0:3]",
            "http://[::1%eth0]",
            "http://127.1",
            "http://010.0.0.1",
            "http://0x7f.0.0.1",
            "http://1.2.3.4.5",
            "http://256.0.0.1",
            "http://ho st",
            "http://h\u{e9}te",
            " http://host",
        ] {
            assert!(!is_origin(bad), "{bad}");
        }
    }

    #[test]
    fn bad_origins_are_named_by_build() {
        assert_eq!(
            checked_origins(&["http://a.example".into(), "http://a.example/".into()]),
            Err(BuildError::BadOrigin("http://a.example/".into()))
        );
        let checked = checked_origins(&["http://a.example".into(), "http://[::1]:8000".into()]);
        assert_eq!(
            checked.map(|list| list.len()),
            Ok(2),
            "good origins are all kept"
        );
        assert_eq!(checked_origins(&[]).map(|list| list.len()), Ok(0));
    }
}
