//! Latency histograms on `hdrhistogram`: 1 µs … 60 s at two significant digits (a reported
//! quantile is within 1 % of the true one, and never below it). Recording is per thread: each
//! thread writes its own shard (an uncontended lock), and a read merges the shards.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use hdrhistogram::Histogram;
use parking_lot::Mutex;

/// Smallest and largest trackable latency, in microseconds; longer ones count as 60 s.
const LOWEST_US: u64 = 1;
const HIGHEST_US: u64 = 60_000_000;
const SIGNIFICANT_DIGITS: u8 = 2;

/// Quantiles of a histogram at one moment, in milliseconds (all 0 when empty).
#[derive(Debug, Clone, Copy, Default, PartialEq, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct LatencyQuantiles {
    pub p50_ms: f64,
    pub p90_ms: f64,
    pub p99_ms: f64,
    pub p999_ms: f64,
    pub max_ms: f64,
}

#[derive(Debug)]
pub struct LatencyHistogram {
    shards: Box<[Mutex<Histogram<u64>>]>,
}

impl Default for LatencyHistogram {
    fn default() -> Self {
        let threads = std::thread::available_parallelism().map_or(2, |n| n.get());
        let shards = (threads * 2).next_power_of_two();
        Self {
            shards: (0..shards).map(|_| Mutex::new(empty())).collect(),
        }
    }
}

fn empty() -> Histogram<u64> {
    // ok: constant bounds that hdrhistogram accepts (low ≥ 1, high ≥ 2·low, digits ≤ 5).
    Histogram::new_with_bounds(LOWEST_US, HIGHEST_US, SIGNIFICANT_DIGITS)
        .unwrap_or_else(|_| unreachable!("valid histogram bounds"))
}

/// This thread's shard number: threads take numbers in turn, so the runtime's workers spread
/// over the shards.
fn shard_of_this_thread() -> usize {
    static NEXT: AtomicUsize = AtomicUsize::new(0);
    thread_local! {
        static SHARD: usize = NEXT.fetch_add(1, Ordering::Relaxed);
    }
    SHARD.with(|s| *s)
}

impl LatencyHistogram {
    pub fn record(&self, latency: Duration) {
        let micros = latency
            .as_micros()
            .clamp(LOWEST_US as u128, HIGHEST_US as u128) as u64;
        let shard = shard_of_this_thread() & (self.shards.len() - 1);
        self.shards[shard].lock().saturating_record(micros);
    }

    /// Every shard merged: one histogram to read from.
    pub fn merged(&self) -> Histogram<u64> {
        let mut all = empty();
        for shard in self.shards.iter() {
            // Same bounds everywhere, so adding cannot fail.
            let _ = all.add(&*shard.lock());
        }
        all
    }

    /// Adds every sample of `other` (a retired server's histogram) to this one.
    pub fn absorb(&self, other: &Histogram<u64>) {
        let _ = self.shards[0].lock().add(other);
    }

    pub fn count(&self) -> u64 {
        self.shards.iter().map(|s| s.lock().len()).sum()
    }

    pub fn quantiles(&self) -> LatencyQuantiles {
        quantiles_of(&self.merged())
    }

    /// The latency at quantile `q` in milliseconds (0 when empty).
    pub fn quantile_ms(&self, q: f64) -> f64 {
        let merged = self.merged();
        if merged.is_empty() {
            return 0.0;
        }
        ms(merged.value_at_quantile(q))
    }
}

fn ms(micros: u64) -> f64 {
    micros as f64 / 1000.0
}

pub fn quantiles_of(h: &Histogram<u64>) -> LatencyQuantiles {
    if h.is_empty() {
        return LatencyQuantiles::default();
    }
    LatencyQuantiles {
        p50_ms: ms(h.value_at_quantile(0.5)),
        p90_ms: ms(h.value_at_quantile(0.9)),
        p99_ms: ms(h.value_at_quantile(0.99)),
        p999_ms: ms(h.value_at_quantile(0.999)),
        max_ms: ms(h.max()),
    }
}

/// The samples in each bucket of a Prometheus histogram with upper bounds `bounds_seconds`
/// (ascending): `(bound, count in (previous bound, bound])`, and the sum of all samples in
/// seconds.
pub fn buckets_of(h: &Histogram<u64>, bounds_seconds: &[f64]) -> (Vec<(f64, u64)>, f64) {
    let mut buckets = Vec::with_capacity(bounds_seconds.len());
    let mut below = 0;
    for &bound in bounds_seconds {
        let upper_us = (bound * 1e6) as u64;
        let cumulative = h.count_between(0, upper_us);
        buckets.push((bound, cumulative - below));
        below = cumulative;
    }
    let sum = h.mean() * h.len() as f64 / 1e6;
    (buckets, sum)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn within_one_percent(reported: f64, truth: f64) -> bool {
        (reported - truth).abs() <= truth * 0.01
    }

    #[test]
    fn quantiles_of_a_known_distribution_are_within_one_percent() {
        let h = LatencyHistogram::default();
        assert_eq!(h.quantiles(), LatencyQuantiles::default());
        // 1 ms … 10 000 ms in 1 ms steps: the q-quantile is q · 10 000 ms.
        for ms in 1..=10_000u64 {
            h.record(Duration::from_millis(ms));
        }
        let q = h.quantiles();
        for (reported, truth) in [
            (q.p50_ms, 5_000.0),
            (q.p90_ms, 9_000.0),
            (q.p99_ms, 9_900.0),
            (q.p999_ms, 9_990.0),
            (q.max_ms, 10_000.0),
        ] {
            assert!(within_one_percent(reported, truth), "{reported} vs {truth}");
        }
        assert_eq!(h.count(), 10_000);
    }

    #[test]
    fn a_300_ms_p99_is_not_reported_as_500() {
        let h = LatencyHistogram::default();
        for _ in 0..990 {
            h.record(Duration::from_millis(20));
        }
        for _ in 0..10 {
            h.record(Duration::from_millis(300));
        }
        let p99 = h.quantile_ms(0.999);
        assert!(within_one_percent(p99, 300.0) && p99 < 500.0, "{p99}");
        assert!(within_one_percent(h.quantile_ms(0.5), 20.0));
    }

    #[test]
    fn samples_from_many_threads_are_merged_and_extremes_clamped() {
        let h = std::sync::Arc::new(LatencyHistogram::default());
        let workers: Vec<_> = (0..8)
            .map(|_| {
                let h = h.clone();
                std::thread::spawn(move || {
                    for _ in 0..1000 {
                        h.record(Duration::from_micros(100));
                    }
                })
            })
            .collect();
        for w in workers {
            w.join().unwrap();
        }
        h.record(Duration::ZERO);
        h.record(Duration::from_secs(3600));
        assert_eq!(h.count(), 8002);
        assert!(within_one_percent(h.quantile_ms(0.5), 0.1));
        assert!(within_one_percent(h.quantiles().max_ms, 60_000.0));
        let (buckets, sum) = buckets_of(&h.merged(), &[0.0001, 1.0, 60.0]);
        assert_eq!(buckets[0], (0.0001, 8001));
        assert_eq!(buckets[1], (1.0, 0));
        assert_eq!(buckets[2], (60.0, 1));
        assert!(sum > 60.0);
    }
}
