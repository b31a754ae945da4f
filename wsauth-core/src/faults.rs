//! Checks a test build can switch off, one at a time, to show that a probe
//! of the spec (`wsauth-gen probe`) finds a server that skips them.
//!
//! A probe that passes against correct servers proves little on its own; it
//! must also fail against wrong ones, and the wrong ones should be the real
//! server with one real check missing, not a mock. With the
//! `fault-injection` feature (test builds only: `generated/`'s tests turn
//! it on, which in a workspace test build reaches every test binary; no
//! binary or release build has it), `set` switches faults on for the whole
//! process, and only `generated/tests/probe_faults.rs` calls it; without
//! the feature [`on`] is a constant `false` and every check compiles as if
//! this module did not exist.

/// A check a server skips.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u8)]
#[cfg_attr(not(feature = "fault-injection"), allow(unreachable_pub, dead_code))]
pub enum Fault {
    /// Tokens with `alg: none` (any casing) are taken without a signature:
    /// the classic JWT library flaw.
    AcceptAlgNone = 1,
    /// The endpoint's own `perm` is not checked at the handshake.
    NoEndpointPermission = 2,
    /// A path parameter bound to the subject is not compared with it.
    NoSubjectBinding = 4,
    /// `max_connections_per_user` is not enforced.
    NoConnectionLimit = 8,
    /// A live connection is not closed at its token's `exp`.
    NoExpiry = 16,
    /// The endpoint's resource checks (`authorize`) are not run.
    NoResourceChecks = 32,
}

#[cfg(feature = "fault-injection")]
static ON: std::sync::atomic::AtomicU8 = std::sync::atomic::AtomicU8::new(0);

/// Switches exactly `faults` on, for every server in the process.
#[cfg(feature = "fault-injection")]
pub fn set(faults: &[Fault]) {
    let bits = faults.iter().fold(0, |bits, fault| bits | *fault as u8);
    ON.store(bits, std::sync::atomic::Ordering::SeqCst);
}

/// Whether `fault` is on (never, without `fault-injection`).
#[inline]
pub(crate) fn on(fault: Fault) -> bool {
    #[cfg(feature = "fault-injection")]
    {
        ON.load(std::sync::atomic::Ordering::SeqCst) & fault as u8 != 0
    }
    #[cfg(not(feature = "fault-injection"))]
    {
        let _ = fault;
        false
    }
}

/// Whether the token's header says `alg: none` in any casing (for
/// [`Fault::AcceptAlgNone`]).
pub(crate) fn says_alg_none(header_segment: &str) -> bool {
    use base64::Engine as _;
    base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(header_segment)
        .ok()
        .and_then(|bytes| serde_json::from_slice::<serde_json::Value>(&bytes).ok())
        .and_then(|header| {
            header["alg"]
                .as_str()
                .map(|a| a.eq_ignore_ascii_case("none"))
        })
        .unwrap_or(false)
}
