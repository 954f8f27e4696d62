//! A lock-free latency histogram: power-of-two microsecond buckets, so recording is one atomic
//! add and percentiles are read by walking 32 counters.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

const BUCKETS: usize = 32;

#[derive(Debug, Default)]
pub struct LatencyHistogram {
    /// Bucket i counts samples with `2^(i-1) < micros <= 2^i` (bucket 0: at most 1 µs).
    buckets: [AtomicU64; BUCKETS],
    sum_micros: AtomicU64,
}

impl LatencyHistogram {
    pub fn record(&self, latency: Duration) {
        let micros = latency.as_micros().min(u64::MAX as u128) as u64;
        let index = (u64::BITS - micros.saturating_sub(1).leading_zeros()) as usize;
        self.buckets[index.min(BUCKETS - 1)].fetch_add(1, Ordering::Relaxed);
        self.sum_micros.fetch_add(micros, Ordering::Relaxed);
    }

    pub fn count(&self) -> u64 {
        self.buckets.iter().map(|b| b.load(Ordering::Relaxed)).sum()
    }

    pub fn sum_seconds(&self) -> f64 {
        self.sum_micros.load(Ordering::Relaxed) as f64 / 1e6
    }

    /// Upper bound of the bucket holding quantile `q`, in milliseconds (0 when empty).
    pub fn quantile_ms(&self, q: f64) -> f64 {
        let counts: Vec<u64> = self
            .buckets
            .iter()
            .map(|b| b.load(Ordering::Relaxed))
            .collect();
        let total: u64 = counts.iter().sum();
        if total == 0 {
            return 0.0;
        }
        let rank = ((total as f64) * q).ceil().max(1.0) as u64;
        let mut seen = 0;
        for (i, count) in counts.iter().enumerate() {
            seen += count;
            if seen >= rank {
                return Self::upper_micros(i) as f64 / 1000.0;
            }
        }
        Self::upper_micros(BUCKETS - 1) as f64 / 1000.0
    }

    fn upper_micros(index: usize) -> u64 {
        1u64 << index
    }

    /// Cumulative `(upper bound in seconds, count)` pairs, for a Prometheus histogram.
    pub fn cumulative(&self) -> Vec<(f64, u64)> {
        let mut running = 0;
        self.buckets
            .iter()
            .enumerate()
            .map(|(i, b)| {
                running += b.load(Ordering::Relaxed);
                (Self::upper_micros(i) as f64 / 1e6, running)
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quantiles_land_in_the_right_bucket() {
        let h = LatencyHistogram::default();
        assert_eq!(h.quantile_ms(0.5), 0.0);
        for _ in 0..98 {
            h.record(Duration::from_micros(100)); // bucket ≤ 128 µs
        }
        h.record(Duration::from_millis(10)); // ≤ 16.384 ms
        h.record(Duration::from_millis(10));
        assert_eq!(h.count(), 100);
        assert_eq!(h.quantile_ms(0.5), 0.128);
        assert_eq!(h.quantile_ms(0.99), 16.384);
        assert_eq!(h.cumulative().last().unwrap().1, 100);
        h.record(Duration::ZERO);
        assert_eq!(h.count(), 101);
    }
}
