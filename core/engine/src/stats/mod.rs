//! Engine counters and latency histograms. Plain relaxed atomics: they are read for reporting,
//! never for control flow.

pub mod histogram;
pub mod minute_rate;

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use crate::clock::now_us;
pub use histogram::LatencyHistogram;
pub use minute_rate::MinuteRate;

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
    /// Errors of any kind (parse errors, refused handshakes, error replies) in the last minute.
    pub errors: MinuteRate,
    /// Connections of a user who disconnected shortly before.
    pub reconnections: MinuteRate,
    /// Server receive → handler done, per client event.
    pub handler_latency: LatencyHistogram,
    /// Emit (queued) → written to the transport, per written batch (its oldest frame).
    pub emit_latency: LatencyHistogram,
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
    pub errors_per_minute: u64,
    pub errors_total: u64,
    pub reconnections_per_minute: u64,
    pub reconnections_total: u64,
    pub handler_latency_p50_ms: f64,
    pub handler_latency_p99_ms: f64,
    pub emit_latency_p50_ms: f64,
    pub emit_latency_p99_ms: f64,
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
            errors_per_minute: self.errors.per_minute(),
            errors_total: self.errors.total(),
            reconnections_per_minute: self.reconnections.per_minute(),
            reconnections_total: self.reconnections.total(),
            handler_latency_p50_ms: self.handler_latency.quantile_ms(0.5),
            handler_latency_p99_ms: self.handler_latency.quantile_ms(0.99),
            emit_latency_p50_ms: self.emit_latency.quantile_ms(0.5),
            emit_latency_p99_ms: self.emit_latency.quantile_ms(0.99),
            rss_bytes: process_rss_bytes(),
        }
    }

    /// A client sent something undecodable.
    pub(crate) fn parse_error(&self) {
        self.parse_errors.fetch_add(1, Ordering::Relaxed);
        self.errors.record();
    }

    /// Records how long the oldest frame of a written batch waited (`queued_us` on the µs clock).
    pub(crate) fn record_emit_latency(&self, queued_us: u64) {
        let waited = now_us().saturating_sub(queued_us);
        self.emit_latency.record(Duration::from_micros(waited));
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
