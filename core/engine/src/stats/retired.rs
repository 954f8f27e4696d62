//! The counts of servers that shut down in this process. The metrics exposition adds them to
//! the running server's own, so a counter never goes backwards when the host restarts the
//! engine in the same process (a new server picks up where the old one stopped).

use std::sync::atomic::Ordering;
use std::sync::OnceLock;

use hdrhistogram::Histogram;
use parking_lot::Mutex;

use super::{BroadcastLatency, LabeledCounter, LatencyHistogram, Stats, StatsSnapshot};

#[derive(Debug, Default)]
pub struct Retired {
    counters: Mutex<StatsSnapshot>,
    pub handler_latency: LatencyHistogram,
    pub emit_latency: LatencyHistogram,
    pub broadcast_written: BroadcastLatency,
    pub errors_by_kind: LabeledCounter<(&'static str, Box<str>)>,
    pub rate_limited_by_event: LabeledCounter<Box<str>>,
    pub disconnects: LabeledCounter<&'static str>,
}

/// The process's retired totals.
pub fn retired() -> &'static Retired {
    static RETIRED: OnceLock<Retired> = OnceLock::new();
    RETIRED.get_or_init(Retired::default)
}

impl Retired {
    pub(super) fn absorb(&self, stats: &Stats) {
        let own = counters_of(stats);
        {
            let mut counters = self.counters.lock();
            *counters = add_counters(&counters, &own);
        }
        self.handler_latency.absorb(&stats.handler_latency.merged());
        self.emit_latency.absorb(&stats.emit_latency.merged());
        self.broadcast_written.absorb(&stats.broadcast_written);
        self.errors_by_kind.absorb(&stats.errors_by_kind.snapshot());
        self.rate_limited_by_event
            .absorb(&stats.rate_limited_by_event.snapshot());
        self.disconnects.absorb(&stats.disconnects.snapshot());
    }

    /// The summed counters (only the monotonic fields of the snapshot are set).
    pub fn counters(&self) -> StatsSnapshot {
        *self.counters.lock()
    }
}

/// `own`'s samples with the `retired` ones added, unless `stats` retired already (its samples
/// are then among the retired ones).
pub fn monotonic_histogram(
    stats: &Stats,
    retired: &LatencyHistogram,
    own: &LatencyHistogram,
) -> Histogram<u64> {
    let mut all = retired.merged();
    if !stats.is_retired() {
        let _ = all.add(own.merged());
    }
    all
}

/// The monotonic counters of `stats` (gauges and rates left at zero).
fn counters_of(stats: &Stats) -> StatsSnapshot {
    let get = |c: &std::sync::atomic::AtomicU64| c.load(Ordering::Relaxed);
    StatsSnapshot {
        sessions_opened: get(&stats.sessions_opened),
        messages_in: get(&stats.messages_in),
        messages_out: get(&stats.messages_out),
        dropped: get(&stats.dropped),
        slow_consumers: get(&stats.slow_consumers),
        bad_requests: get(&stats.bad_requests),
        parse_errors: get(&stats.parse_errors),
        rate_limited: get(&stats.rate_limited),
        recovered: get(&stats.recovered),
        not_recovered: get(&stats.not_recovered),
        deflated_frames: get(&stats.deflated_frames),
        deflate_saved_bytes: get(&stats.deflate_saved_bytes),
        deflate_compressions: get(&stats.deflate_compressions),
        cluster_broadcasts_in: get(&stats.cluster_broadcasts_in),
        cluster_broadcasts_unmatched: get(&stats.cluster_broadcasts_unmatched),
        errors_total: stats.errors.total(),
        reconnections_total: stats.reconnections.total(),
        ..StatsSnapshot::default()
    }
}

fn add_counters(a: &StatsSnapshot, b: &StatsSnapshot) -> StatsSnapshot {
    StatsSnapshot {
        sessions_opened: a.sessions_opened + b.sessions_opened,
        messages_in: a.messages_in + b.messages_in,
        messages_out: a.messages_out + b.messages_out,
        dropped: a.dropped + b.dropped,
        slow_consumers: a.slow_consumers + b.slow_consumers,
        bad_requests: a.bad_requests + b.bad_requests,
        parse_errors: a.parse_errors + b.parse_errors,
        rate_limited: a.rate_limited + b.rate_limited,
        recovered: a.recovered + b.recovered,
        not_recovered: a.not_recovered + b.not_recovered,
        deflated_frames: a.deflated_frames + b.deflated_frames,
        deflate_saved_bytes: a.deflate_saved_bytes + b.deflate_saved_bytes,
        deflate_compressions: a.deflate_compressions + b.deflate_compressions,
        cluster_broadcasts_in: a.cluster_broadcasts_in + b.cluster_broadcasts_in,
        cluster_broadcasts_unmatched: a.cluster_broadcasts_unmatched
            + b.cluster_broadcasts_unmatched,
        errors_total: a.errors_total + b.errors_total,
        reconnections_total: a.reconnections_total + b.reconnections_total,
        ..StatsSnapshot::default()
    }
}

/// The process-monotonic counters for a server's metrics: the retired totals plus its own
/// (unless it retired already).
pub fn monotonic_counters(stats: &Stats) -> StatsSnapshot {
    let base = retired().counters();
    if stats.is_retired() {
        base
    } else {
        add_counters(&base, &counters_of(stats))
    }
}

/// The same for a labeled counter.
pub fn monotonic_labeled<K: Ord + Clone>(
    stats: &Stats,
    retired: &LabeledCounter<K>,
    own: &LabeledCounter<K>,
) -> Vec<(K, u64)> {
    if stats.is_retired() {
        return retired.snapshot();
    }
    let all = LabeledCounter::default();
    all.absorb(&retired.snapshot());
    all.absorb(&own.snapshot());
    all.snapshot()
}
