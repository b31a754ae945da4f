//! What a topic instance remembers: its epoch, its offsets, and the latest
//! publications a reconnecting client may recover.
//!
//! History is bounded three ways: the topic's `history.size`
//! publications, its `ttl_s`, and [`MAX_HISTORY_BYTES`] of frames per
//! instance (so `size: 10000` of large messages cannot hold gigabytes).
//! The oldest go first; a `since` older than what is kept is answered
//! `recovered: false`, and the client reloads. Time is passed in (`now`),
//! so expiry is tested without waiting.

use std::collections::VecDeque;
use std::collections::hash_map::RandomState;
use std::hash::BuildHasher;
use std::time::Duration;

use tokio::time::Instant;
use tungstenite::Utf8Bytes;
use wsauth_spec::wire::MAX_HISTORY_BYTES;

use crate::descriptor::HistoryDescriptor;

/// Where a client left off: the instance's epoch and the last offset seen.
#[derive(Debug, serde::Deserialize)]
pub(crate) struct Since {
    pub(crate) epoch: String,
    pub(crate) offset: u64,
}

/// The instance's numbering and memory.
#[derive(Debug)]
pub(super) struct Log {
    /// Random, new for every life of the instance: a client's offsets
    /// from another life mean nothing here.
    pub(super) epoch: Box<str>,
    /// The latest publication's offset (0 before the first).
    pub(super) last: u64,
    /// The latest publications, oldest first, when the topic has history.
    kept: VecDeque<Kept>,
    /// The bytes of `kept`'s frames, at most [`MAX_HISTORY_BYTES`].
    bytes: usize,
}

/// A publication kept for recovery.
#[derive(Debug)]
pub(super) struct Kept {
    pub(super) offset: u64,
    pub(super) at: Instant,
    /// The `wsauth.publication` frame its subscribers got.
    pub(super) frame: Utf8Bytes,
}

/// 128 random bits, hex.
pub(crate) fn new_epoch() -> Box<str> {
    let mut bytes = [0u8; 16];
    if getrandom::fill(&mut bytes).is_err() {
        // No OS randomness: the standard library's per-process random keys
        // still tell two lives apart.
        for (i, chunk) in bytes.chunks_mut(8).enumerate() {
            chunk.copy_from_slice(&RandomState::new().hash_one(i).to_le_bytes());
        }
    }
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

impl Log {
    pub(super) fn new() -> Self {
        Log {
            epoch: new_epoch(),
            last: 0,
            kept: VecDeque::new(),
            bytes: 0,
        }
    }

    /// Takes on a numbering kept elsewhere (the cluster's Redis) that this
    /// log has not seen all of: what it kept may have gaps against it, so
    /// it is forgotten.
    pub(super) fn adopt(&mut self, epoch: &str, last: u64) {
        self.epoch = epoch.into();
        self.last = last;
        self.kept.clear();
        self.bytes = 0;
    }

    /// Whether anything is kept (an instance with history lives while it is).
    pub(super) fn is_empty(&self) -> bool {
        self.kept.is_empty()
    }

    /// Keeps a publication, forgetting the oldest beyond the history's
    /// size or [`MAX_HISTORY_BYTES`] (a frame larger than that is not kept
    /// at all: recovering across it is not possible).
    pub(super) fn keep(&mut self, history: HistoryDescriptor, kept: Kept) {
        self.bytes += kept.frame.len();
        self.kept.push_back(kept);
        while self.kept.len() > history.size as usize || self.bytes > MAX_HISTORY_BYTES {
            self.forget_oldest();
        }
    }

    fn forget_oldest(&mut self) {
        if let Some(kept) = self.kept.pop_front() {
            self.bytes -= kept.frame.len();
        }
    }

    /// Forgets what is older than the history's ttl.
    pub(super) fn expire(&mut self, history: Option<HistoryDescriptor>, now: Instant) {
        let Some(history) = history else { return };
        let ttl = Duration::from_secs(u64::from(history.ttl_s));
        while self.kept.front().is_some_and(|k| k.at + ttl <= now) {
            self.forget_oldest();
        }
    }

    /// Whether the publications after `since` can all be replayed, and
    /// which they are.
    pub(super) fn recover(
        &self,
        history: Option<HistoryDescriptor>,
        since: &Since,
    ) -> Option<Vec<Utf8Bytes>> {
        history?;
        if *since.epoch != *self.epoch || since.offset > self.last {
            return None;
        }
        if since.offset == self.last {
            return Some(Vec::new());
        }
        let oldest = self.kept.front()?.offset;
        if oldest > since.offset + 1 {
            return None;
        }
        Some(
            self.kept
                .iter()
                .filter(|k| k.offset > since.offset)
                .map(|k| k.frame.clone())
                .collect(),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const HISTORY: HistoryDescriptor = HistoryDescriptor {
        size: 10_000,
        ttl_s: 60,
    };

    fn since(log: &Log, offset: u64) -> Since {
        Since {
            epoch: log.epoch.to_string(),
            offset,
        }
    }

    fn offsets(log: &Log) -> Vec<u64> {
        log.kept.iter().map(|k| k.offset).collect()
    }

    /// Publishes `frame` at `at`, as the broker does.
    fn publish(log: &mut Log, frame: &str, at: Instant) {
        log.last += 1;
        let frame = Utf8Bytes::from(frame);
        let offset = log.last;
        log.keep(HISTORY, Kept { offset, at, frame });
    }

    #[test]
    fn history_holds_at_most_max_history_bytes_forgetting_the_oldest() {
        let mut log = Log::new();
        let big = "x".repeat(100 * 1024);
        let now = Instant::now();
        for _ in 0..100 {
            publish(&mut log, &big, now);
        }
        let frames: usize = log.kept.iter().map(|k| k.frame.len()).sum();
        assert_eq!(log.bytes, frames);
        assert!(log.bytes <= MAX_HISTORY_BYTES, "{}", log.bytes);
        assert!(
            log.bytes + big.len() > MAX_HISTORY_BYTES,
            "only the overflow went"
        );
        let oldest = log.kept.front().map_or(0, |k| k.offset);
        assert!(oldest > 1);
        assert_eq!(offsets(&log), (oldest..=100).collect::<Vec<_>>());
        // Across the forgotten range: history lost.
        assert!(
            log.recover(Some(HISTORY), &since(&log, oldest - 2))
                .is_none()
        );
        let replay = log.recover(Some(HISTORY), &since(&log, oldest - 1));
        assert_eq!(replay.map(|r| r.len()), Some(log.kept.len()));
    }

    #[test]
    fn a_publication_larger_than_the_cap_is_not_kept() {
        let mut log = Log::new();
        let now = Instant::now();
        publish(&mut log, "small", now);
        publish(&mut log, &"x".repeat(MAX_HISTORY_BYTES + 1), now);
        assert!(log.is_empty());
        assert_eq!(log.bytes, 0);
        assert!(log.recover(Some(HISTORY), &since(&log, 1)).is_none());
        assert_eq!(
            log.recover(Some(HISTORY), &since(&log, 2)),
            Some(Vec::new())
        );
    }

    #[test]
    fn history_forgets_what_is_older_than_its_ttl() {
        let mut log = Log::new();
        let t0 = Instant::now();
        let at = |s| t0 + Duration::from_secs(s);
        publish(&mut log, "one", at(0));
        publish(&mut log, "two", at(30));
        log.expire(Some(HISTORY), at(59));
        assert_eq!(offsets(&log), [1, 2]);
        // The first one's 60 s are up.
        log.expire(Some(HISTORY), at(60));
        assert_eq!(offsets(&log), [2]);
        assert_eq!(log.bytes, 3);
        assert!(log.recover(Some(HISTORY), &since(&log, 0)).is_none());
        assert_eq!(
            log.recover(Some(HISTORY), &since(&log, 1)),
            Some(vec![Utf8Bytes::from("two")])
        );
        log.expire(Some(HISTORY), at(90));
        assert!(log.is_empty());
        assert!(log.recover(Some(HISTORY), &since(&log, 1)).is_none());
        // Up to date still recovers: there is nothing to replay.
        assert_eq!(
            log.recover(Some(HISTORY), &since(&log, 2)),
            Some(Vec::new())
        );
        // Another life's epoch never does.
        let other = Since {
            epoch: "0".repeat(32),
            offset: 2,
        };
        assert!(log.recover(Some(HISTORY), &other).is_none());
    }
}
