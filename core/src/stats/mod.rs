//! Engine counters. Plain relaxed atomics: they are read for reporting, never for control flow.

use std::sync::atomic::{AtomicU64, Ordering};

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
}

/// A point-in-time copy of the counters.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct StatsSnapshot {
    pub sessions_opened: u64,
    pub sessions_open: u64,
    pub messages_in: u64,
    pub messages_out: u64,
    pub dropped: u64,
    pub slow_consumers: u64,
    pub bad_requests: u64,
    pub parse_errors: u64,
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
        }
    }
}
