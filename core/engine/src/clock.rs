//! A cheap monotonic millisecond clock shared by heartbeats and deadlines.

use std::sync::OnceLock;
use std::time::Instant;

fn origin() -> Instant {
    static ORIGIN: OnceLock<Instant> = OnceLock::new();
    *ORIGIN.get_or_init(Instant::now)
}

/// Milliseconds since the first call in this process.
pub fn now_ms() -> u64 {
    origin().elapsed().as_millis() as u64
}

/// Microseconds since the first call in this process (for latency measurements).
pub fn now_us() -> u64 {
    origin().elapsed().as_micros() as u64
}
