//! One audit event as one JSON line, encoded straight into the log's
//! buffer: no intermediate value, no `format!`, strings escaped by hand
//! (JSON's rules are short) so a field costs a copy of its bytes, and
//! numbers, the timestamp and IPv4 addresses written digit by digit (the
//! formatting machinery cost more than the rest of a line together).
//!
//! A line is flat, as `tracing-subscriber`'s JSON formatter writes an event
//! with `flatten_event(true)`: `timestamp` (RFC 3339, UTC, milliseconds),
//! `level` (`INFO` or `WARN`), `target` (`wsauth::audit`), then the event's
//! own fields under the names its `tracing` event uses.

use std::io::Write as _;
use std::net::SocketAddr;
use std::time::{SystemTime, UNIX_EPOCH};

/// How serious an event is, as `tracing` names the level.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Level {
    Info,
    Warn,
}

impl Level {
    fn word(self) -> &'static str {
        match self {
            Level::Info => "INFO",
            Level::Warn => "WARN",
        }
    }
}

/// The fields of a line being written; [`Line::end`] closes it.
pub(crate) struct Line<'a> {
    buf: &'a mut Vec<u8>,
}

impl<'a> Line<'a> {
    /// Opens a line for `event` at `now`.
    pub(crate) fn start(
        buf: &'a mut Vec<u8>,
        now: SystemTime,
        level: Level,
        event: &'static str,
    ) -> Self {
        buf.extend_from_slice(b"{\"timestamp\":\"");
        rfc3339_millis(buf, now);
        buf.extend_from_slice(b"\",\"level\":\"");
        buf.extend_from_slice(level.word().as_bytes());
        buf.extend_from_slice(b"\",\"target\":\"wsauth::audit\"");
        let mut line = Line { buf };
        line.str("event", event);
        line
    }

    /// A string field, escaped.
    pub(crate) fn str(&mut self, key: &'static str, value: &str) -> &mut Self {
        self.key(key);
        escaped(self.buf, value);
        self
    }

    /// A number field.
    pub(crate) fn u64(&mut self, key: &'static str, value: u64) -> &mut Self {
        self.key(key);
        decimal(self.buf, value);
        self
    }

    /// A peer address field: empty when unknown, as the `tracing` event has it.
    pub(crate) fn peer(&mut self, key: &'static str, peer: Option<SocketAddr>) -> &mut Self {
        self.key(key);
        self.buf.push(b'"');
        match peer {
            Some(SocketAddr::V4(peer)) => {
                for (i, octet) in peer.ip().octets().into_iter().enumerate() {
                    if i > 0 {
                        self.buf.push(b'.');
                    }
                    decimal(self.buf, u64::from(octet));
                }
                self.buf.push(b':');
                decimal(self.buf, u64::from(peer.port()));
            }
            Some(peer @ SocketAddr::V6(_)) => {
                // Hex digits, colons, brackets and `%`: nothing to escape.
                // Writing into a `Vec` cannot fail.
                let _ = write!(self.buf, "{peer}");
            }
            None => {}
        }
        self.buf.push(b'"');
        self
    }

    /// Closes the line.
    pub(crate) fn end(self) {
        self.buf.extend_from_slice(b"}\n");
    }

    /// `,"key":` — keys are the crate's own literals, with nothing to escape.
    fn key(&mut self, key: &'static str) {
        self.buf.extend_from_slice(b",\"");
        self.buf.extend_from_slice(key.as_bytes());
        self.buf.extend_from_slice(b"\":");
    }
}

/// `value` as a JSON string: quotes, backslashes and control characters
/// escaped, everything else (UTF-8 included) copied as it is.
fn escaped(buf: &mut Vec<u8>, value: &str) {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    buf.push(b'"');
    let bytes = value.as_bytes();
    // Most values need no escape: one pass without an early exit (so it
    // runs over whole vectors) says so, and they are copied at once.
    if !bytes.iter().fold(false, |any, &b| {
        any | (b < 0x20) | (b == b'"') | (b == b'\\')
    }) {
        buf.extend_from_slice(bytes);
        buf.push(b'"');
        return;
    }
    let mut plain = 0;
    for (i, &byte) in bytes.iter().enumerate() {
        let escape: &[u8] = match byte {
            b'"' => b"\\\"",
            b'\\' => b"\\\\",
            b'\n' => b"\\n",
            b'\r' => b"\\r",
            b'\t' => b"\\t",
            0x00..=0x1f => b"",
            _ => continue,
        };
        buf.extend_from_slice(&bytes[plain..i]);
        plain = i + 1;
        if escape.is_empty() {
            buf.extend_from_slice(b"\\u00");
            buf.push(HEX[usize::from(byte >> 4)]);
            buf.push(HEX[usize::from(byte & 0xf)]);
        } else {
            buf.extend_from_slice(escape);
        }
    }
    buf.extend_from_slice(&bytes[plain..]);
    buf.push(b'"');
}

/// `value` in decimal.
fn decimal(buf: &mut Vec<u8>, mut value: u64) {
    let mut digits = [0_u8; 20];
    let mut start = digits.len();
    loop {
        start -= 1;
        // A remainder of 10 is below 256.
        digits[start] = b'0' + (value % 10) as u8;
        value /= 10;
        if value == 0 {
            break;
        }
    }
    buf.extend_from_slice(&digits[start..]);
}

/// `value`'s last `width` decimal digits, zero-padded.
fn padded(buf: &mut Vec<u8>, mut value: u64, width: usize) {
    let mut digits = [b'0'; 4];
    for digit in digits[..width].iter_mut().rev() {
        // A remainder of 10 is below 256.
        *digit = b'0' + (value % 10) as u8;
        value /= 10;
    }
    buf.extend_from_slice(&digits[..width]);
}

/// `now` as `YYYY-MM-DDTHH:MM:SS.mmmZ` (times before 1970 as the epoch,
/// years past 9999 to four digits).
fn rfc3339_millis(buf: &mut Vec<u8>, now: SystemTime) {
    let since = now.duration_since(UNIX_EPOCH).unwrap_or_default();
    let secs = since.as_secs();
    let (year, month, day) = civil_from_days(secs / 86_400);
    let of_day = secs % 86_400;
    padded(buf, year, 4);
    buf.push(b'-');
    padded(buf, month, 2);
    buf.push(b'-');
    padded(buf, day, 2);
    buf.push(b'T');
    padded(buf, of_day / 3600, 2);
    buf.push(b':');
    padded(buf, of_day / 60 % 60, 2);
    buf.push(b':');
    padded(buf, of_day % 60, 2);
    buf.push(b'.');
    padded(buf, u64::from(since.subsec_millis()), 3);
    buf.push(b'Z');
}

/// The proleptic Gregorian date `days` after 1970-01-01 (Howard Hinnant's
/// `civil_from_days`, for days since the epoch only).
fn civil_from_days(days: u64) -> (u64, u64, u64) {
    let z = days + 719_468;
    let era = z / 146_097;
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + u64::from(month <= 2);
    (year, month, day)
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    fn stamp(secs: u64, millis: u64) -> String {
        let mut buf = Vec::new();
        rfc3339_millis(
            &mut buf,
            UNIX_EPOCH + Duration::from_secs(secs) + Duration::from_millis(millis),
        );
        String::from_utf8(buf).unwrap_or_default()
    }

    #[test]
    fn timestamps_are_rfc3339_utc_with_milliseconds() {
        assert_eq!(stamp(0, 0), "1970-01-01T00:00:00.000Z");
        // A leap day, and the last millisecond of a year.
        assert_eq!(stamp(951_782_400, 7), "2000-02-29T00:00:00.007Z");
        assert_eq!(stamp(1_798_761_599, 999), "2026-12-31T23:59:59.999Z");
        assert_eq!(stamp(1_796_672_702, 123), "2026-12-07T19:45:02.123Z");
    }

    #[test]
    fn strings_survive_a_json_parser() {
        for value in [
            "",
            "plain",
            "quote \" backslash \\ slash /",
            "lines\nand\rtabs\t",
            "\u{0}\u{1}\u{1f}\u{7f}",
            "ünïcödé ✓ 🦀",
            "\"}\n{\"event\":\"forged\"",
        ] {
            let mut buf = Vec::new();
            escaped(&mut buf, value);
            let parsed: String = serde_json::from_slice(&buf)
                .unwrap_or_else(|e| panic!("{value:?} gave {buf:?}: {e}"));
            assert_eq!(parsed, value);
            assert!(!buf.contains(&b'\n'), "a line stays one line: {buf:?}");
        }
    }

    #[test]
    fn a_line_is_one_flat_json_object() {
        let mut buf = Vec::new();
        let mut line = Line::start(&mut buf, UNIX_EPOCH, Level::Warn, "rejected");
        line.str("kind", "auth_failed")
            .u64("count", 42)
            .u64("zero", 0)
            .u64("max", u64::MAX)
            .peer("peer", Some(SocketAddr::from(([10, 0, 0, 1], 4000))))
            .peer(
                "v6",
                Some(
                    "[2001:db8::7]:443"
                        .parse()
                        .unwrap_or_else(|e| panic!("{e}")),
                ),
            )
            .peer("none", None);
        line.end();
        assert_eq!(buf.last(), Some(&b'\n'));
        let value: serde_json::Value =
            serde_json::from_slice(&buf).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(
            value,
            serde_json::json!({
                "timestamp": "1970-01-01T00:00:00.000Z",
                "level": "WARN",
                "target": "wsauth::audit",
                "event": "rejected",
                "kind": "auth_failed",
                "count": 42,
                "zero": 0,
                "max": u64::MAX,
                "peer": "10.0.0.1:4000",
                "v6": "[2001:db8::7]:443",
                "none": "",
            })
        );
    }
}
