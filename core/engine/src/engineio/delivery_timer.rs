//! `DeliveryTimer`: times one broadcast from its emit call (started as the first recipient is
//! found, before the packet is encoded) until the last recipient's frame has been handed to the
//! kernel. Every recipient's queued copy holds a clone of the timer's `Arc`,
//! and a writer drops its clone only once the batch holding the frame was flushed; the broadcast
//! holds one more until it knows how many members it reached. The last drop records the latency,
//! so a copy discarded unwritten (a closed or overflowing queue) ends its part of the wait too.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use crate::clock::now_us;
use crate::stats::Stats;

#[derive(Debug)]
pub struct DeliveryTimer {
    emitted_us: u64,
    recipients: AtomicUsize,
    stats: Arc<Stats>,
}

impl DeliveryTimer {
    /// Starts timing a broadcast now.
    pub fn start(stats: &Arc<Stats>) -> Arc<Self> {
        Arc::new(Self {
            emitted_us: now_us(),
            recipients: AtomicUsize::new(0),
            stats: stats.clone(),
        })
    }

    /// Says how many members the broadcast reached; the broadcast drops its own clone after.
    pub fn reached(&self, recipients: usize) {
        self.recipients.store(recipients, Ordering::Relaxed);
    }
}

impl Drop for DeliveryTimer {
    fn drop(&mut self) {
        // The `Arc`'s last release orders the broadcast's `reached` before this read.
        let recipients = self.recipients.load(Ordering::Relaxed);
        if recipients > 0 {
            self.stats
                .record_broadcast_written(recipients, self.emitted_us);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_once_when_the_last_copy_is_released() {
        let stats = Arc::new(Stats::default());
        let timer = DeliveryTimer::start(&stats);
        let mut copies: Vec<_> = (0..3).map(|_| timer.clone()).collect();
        timer.reached(3);
        drop(timer);
        let timed = || stats.broadcast_written.snapshot()[1].broadcasts;
        copies.truncate(1);
        assert_eq!(timed(), 0, "one copy is still waiting to be written");
        copies.clear();
        assert_eq!(timed(), 1, "timed as a 2-10 recipient broadcast");
    }

    #[test]
    fn a_broadcast_that_reached_nobody_is_not_timed() {
        let stats = Arc::new(Stats::default());
        drop(DeliveryTimer::start(&stats));
        assert!(stats
            .broadcast_written
            .snapshot()
            .iter()
            .all(|c| c.broadcasts == 0));
    }
}
