//! Events in the last minute: 60 one-second slots, each stamped with the second it counts, so
//! stale slots are recognised and ignored without a background task.

use std::sync::atomic::{AtomicU64, Ordering};

use crate::clock::now_ms;

#[derive(Debug)]
pub struct MinuteRate {
    /// `second << 32 | count` per slot, so a slot is reset and counted in one atomic update.
    slots: [AtomicU64; 60],
    total: AtomicU64,
}

impl Default for MinuteRate {
    fn default() -> Self {
        Self {
            slots: std::array::from_fn(|_| AtomicU64::new(0)),
            total: AtomicU64::new(0),
        }
    }
}

impl MinuteRate {
    pub fn record(&self) {
        self.record_at(now_ms() / 1000);
    }

    fn record_at(&self, second: u64) {
        self.total.fetch_add(1, Ordering::Relaxed);
        let slot = &self.slots[(second % 60) as usize];
        let stamp = (second & 0xffff_ffff) << 32;
        let _ = slot.fetch_update(Ordering::AcqRel, Ordering::Acquire, |v| {
            Some(if v & !0xffff_ffff == stamp {
                v + 1
            } else {
                stamp | 1
            })
        });
    }

    /// Events recorded in the last 60 seconds.
    pub fn per_minute(&self) -> u64 {
        self.per_minute_at(now_ms() / 1000)
    }

    fn per_minute_at(&self, now: u64) -> u64 {
        self.slots
            .iter()
            .map(|s| s.load(Ordering::Acquire))
            .filter(|v| {
                let second = v >> 32;
                let now32 = now & 0xffff_ffff;
                now32 >= second && now32 - second < 60
            })
            .map(|v| v & 0xffff_ffff)
            .sum()
    }

    pub fn total(&self) -> u64 {
        self.total.load(Ordering::Relaxed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_only_the_last_sixty_seconds() {
        let rate = MinuteRate::default();
        rate.record_at(100);
        rate.record_at(100);
        rate.record_at(130);
        assert_eq!(rate.per_minute_at(130), 3);
        assert_eq!(rate.per_minute_at(159), 3);
        assert_eq!(rate.per_minute_at(160), 1);
        rate.record_at(160); // reuses slot 40 (100 % 60) after it went stale
        assert_eq!(rate.per_minute_at(160), 2);
        assert_eq!(rate.total(), 4);
    }
}
