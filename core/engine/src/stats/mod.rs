//! Engine counters and latency histograms. Plain relaxed atomics: they are read for reporting,
//! never for control flow. A server's counts are its own (`snapshot`); when it shuts down they
//! are added to the process's retired totals (`retired`), which the metrics exposition adds to
//! the running server's, so exported counters never go backwards across an engine restart.

pub mod broadcast_latency;
pub mod histogram;
pub mod labeled;
pub mod minute_rate;
mod retired;

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

use crate::clock::now_us;
pub use broadcast_latency::{BroadcastLatency, ClassLatency, RECIPIENT_CLASSES};
pub use histogram::{LatencyHistogram, LatencyQuantiles};
pub use labeled::{disconnect_label, LabeledCounter};
pub use minute_rate::MinuteRate;
pub use retired::{monotonic_counters, monotonic_histogram, monotonic_labeled, retired, Retired};

/// Error kinds an operator can tell apart (`roomcast_errors_total{kind}`).
pub mod error_kind {
    /// An undecodable packet or payload from a client.
    pub const PARSE: &str = "parse";
    /// A connect the middleware refused with a failure.
    pub const HANDSHAKE: &str = "handshake";
    /// An error reply to a client event (its name is the `event` label).
    pub const EVENT: &str = "event";
}

#[derive(Debug, Default)]
pub struct Stats {
    pub sessions_opened: AtomicU64,
    pub sessions_open: AtomicU64,
    pub messages_in: AtomicU64,
    pub messages_out: AtomicU64,
    pub dropped: AtomicU64,
    pub slow_consumers: AtomicU64,
    pub bad_requests: AtomicU64,
    pub parse_errors: AtomicU64,
    pub rate_limited: AtomicU64,
    /// Reconnects that presented a recovery session id: restored, or connected as new.
    pub recovered: AtomicU64,
    pub not_recovered: AtomicU64,
    /// WebSocket frames sent compressed (permessage-deflate), the bytes that saved, and how many
    /// compressions made them (one per broadcast, however many members).
    pub deflated_frames: AtomicU64,
    pub deflate_saved_bytes: AtomicU64,
    pub deflate_compressions: AtomicU64,
    /// Broadcasts received from other nodes, and those of them no local socket was a
    /// recipient of (traffic for rooms this node has no members in).
    pub cluster_broadcasts_in: AtomicU64,
    pub cluster_broadcasts_unmatched: AtomicU64,
    /// Errors of any kind (parse errors, refused handshakes, error replies) in the last minute.
    pub errors: MinuteRate,
    /// Connections of a user who disconnected shortly before.
    pub reconnections: MinuteRate,
    /// Server receive → handler done, per client event.
    pub handler_latency: LatencyHistogram,
    /// Emit (queued) → written to the transport, per written batch (its oldest frame).
    pub emit_latency: LatencyHistogram,
    /// Emit call → the last recipient's frame handed to the kernel, per broadcast size.
    pub broadcast_written: BroadcastLatency,
    /// Errors by `(kind, event)`; `event` is empty unless the error answered a client event.
    pub errors_by_kind: LabeledCounter<(&'static str, Box<str>)>,
    /// Refused requests by event name (only events with a configured limit can be refused).
    pub rate_limited_by_event: LabeledCounter<Box<str>>,
    /// Socket disconnects by reason (`disconnect_label`).
    pub disconnects: LabeledCounter<&'static str>,
    /// Set once this server's counts moved to the retired totals.
    retired: AtomicBool,
}

/// A point-in-time copy of the counters.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct StatsSnapshot {
    pub sessions_opened: u64,
    pub sessions_open: u64,
    pub messages_in: u64,
    pub messages_out: u64,
    pub dropped: u64,
    pub slow_consumers: u64,
    pub bad_requests: u64,
    pub parse_errors: u64,
    pub rate_limited: u64,
    pub recovered: u64,
    pub not_recovered: u64,
    pub deflated_frames: u64,
    pub deflate_saved_bytes: u64,
    pub deflate_compressions: u64,
    pub cluster_broadcasts_in: u64,
    pub cluster_broadcasts_unmatched: u64,
    pub errors_per_minute: u64,
    pub errors_total: u64,
    pub reconnections_per_minute: u64,
    pub reconnections_total: u64,
    pub handler_latency: LatencyQuantiles,
    pub emit_latency: LatencyQuantiles,
    pub broadcast_written: [ClassLatency; RECIPIENT_CLASSES.len()],
    pub rss_bytes: u64,
}

impl Stats {
    pub fn snapshot(&self) -> StatsSnapshot {
        let get = |c: &AtomicU64| c.load(Ordering::Relaxed);
        StatsSnapshot {
            sessions_opened: get(&self.sessions_opened),
            sessions_open: get(&self.sessions_open),
            messages_in: get(&self.messages_in),
            messages_out: get(&self.messages_out),
            dropped: get(&self.dropped),
            slow_consumers: get(&self.slow_consumers),
            bad_requests: get(&self.bad_requests),
            parse_errors: get(&self.parse_errors),
            rate_limited: get(&self.rate_limited),
            recovered: get(&self.recovered),
            not_recovered: get(&self.not_recovered),
            deflated_frames: get(&self.deflated_frames),
            deflate_saved_bytes: get(&self.deflate_saved_bytes),
            deflate_compressions: get(&self.deflate_compressions),
            cluster_broadcasts_in: get(&self.cluster_broadcasts_in),
            cluster_broadcasts_unmatched: get(&self.cluster_broadcasts_unmatched),
            errors_per_minute: self.errors.per_minute(),
            errors_total: self.errors.total(),
            reconnections_per_minute: self.reconnections.per_minute(),
            reconnections_total: self.reconnections.total(),
            handler_latency: self.handler_latency.quantiles(),
            emit_latency: self.emit_latency.quantiles(),
            broadcast_written: self.broadcast_written.snapshot(),
            rss_bytes: process_rss_bytes(),
        }
    }

    /// One frame of `plain` bytes went out compressed to `compressed` bytes (`compressed_now`:
    /// compressed for this frame, not taken from an earlier recipient's).
    pub(crate) fn count_deflated(&self, plain: usize, compressed: usize, compressed_now: bool) {
        self.deflated_frames.fetch_add(1, Ordering::Relaxed);
        if compressed_now {
            self.deflate_compressions.fetch_add(1, Ordering::Relaxed);
        }
        let saved = plain.saturating_sub(compressed) as u64;
        self.deflate_saved_bytes.fetch_add(saved, Ordering::Relaxed);
    }

    /// A client sent something undecodable.
    pub(crate) fn parse_error(&self) {
        self.parse_errors.fetch_add(1, Ordering::Relaxed);
        self.record_error(error_kind::PARSE, "");
    }

    /// Counts an error of `kind` (see `error_kind`), answering client event `event` or none
    /// (""). `event` must come from a bounded set (the server's own event names).
    pub fn record_error(&self, kind: &'static str, event: &str) {
        self.errors.record();
        self.errors_by_kind.add((kind, Box::from(event)), 1);
    }

    /// Counts a request refused by the rate limit of `event`.
    pub fn record_rate_limited(&self, event: &str) {
        self.rate_limited.fetch_add(1, Ordering::Relaxed);
        self.rate_limited_by_event.add(Box::from(event), 1);
    }

    /// Moves this server's counts into the process's retired totals, once (at shutdown, or
    /// when the stats are dropped).
    pub fn retire(&self) {
        if !self.retired.swap(true, Ordering::AcqRel) {
            retired().absorb(self);
        }
    }

    pub fn is_retired(&self) -> bool {
        self.retired.load(Ordering::Acquire)
    }

    /// Records how long the oldest frame of a written batch waited (`queued_us` on the µs clock).
    pub(crate) fn record_emit_latency(&self, queued_us: u64) {
        let waited = now_us().saturating_sub(queued_us);
        self.emit_latency.record(Duration::from_micros(waited));
    }

    /// Records a broadcast to `recipients` members emitted at `emitted_us` (µs clock) whose last
    /// frame was just written.
    pub(crate) fn record_broadcast_written(&self, recipients: usize, emitted_us: u64) {
        let took = now_us().saturating_sub(emitted_us);
        self.broadcast_written
            .record(recipients, Duration::from_micros(took));
    }
}

impl Drop for Stats {
    fn drop(&mut self) {
        self.retire();
    }
}

/// Resident set size of this process (Linux `/proc/self/statm`; 0 where unavailable).
pub fn process_rss_bytes() -> u64 {
    let Ok(statm) = std::fs::read_to_string("/proc/self/statm") else {
        return 0;
    };
    let pages: u64 = statm
        .split_whitespace()
        .nth(1)
        .and_then(|p| p.parse().ok())
        .unwrap_or(0);
    pages * 4096
}

#[cfg(test)]
mod tests {
    #[test]
    fn rss_is_read_on_linux() {
        assert!(super::process_rss_bytes() > 0);
    }
}
