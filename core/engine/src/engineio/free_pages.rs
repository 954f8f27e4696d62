//! Handing freed heap pages back to the system once a wave of connections has settled.
//!
//! glibc's allocator keeps memory that is freed in the middle of its heaps resident. A connect
//! storm frees every handshake's buffers (the HTTP request and its parsing, the upgrade) in
//! between the connections' long-lived records, so without help the process keeps the storm's
//! peak for as long as the connections stay. Once a wave of session opens and closes is over
//! (none since the last sweep), one `malloc_trim` returns the free pages; it walks the heap, so
//! it runs on a blocking thread.

/// Decides when a wave of session churn has settled. Owned by the heartbeat sweeper.
#[derive(Debug, Default)]
pub(crate) struct ChurnWaves {
    /// Sessions opened plus closed when memory was last released.
    released_at: u64,
    /// The same count at the previous sweep.
    seen: u64,
}

impl ChurnWaves {
    /// Whether to release now, given the count of sessions opened plus closed so far: at least
    /// `after` since the last release, and none since the previous sweep.
    pub fn settled(&mut self, churn: u64, after: u64) -> bool {
        let quiet = churn == self.seen;
        self.seen = churn;
        if quiet && churn.saturating_sub(self.released_at) >= after {
            self.released_at = churn;
            return true;
        }
        false
    }
}

/// Returns the allocator's free pages to the system (glibc; other allocators release on their
/// own, and there this does nothing).
pub(crate) async fn release() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    {
        let started = std::time::Instant::now();
        // SAFETY: malloc_trim only releases memory that is free; it takes the allocator's own
        // locks and is safe to call from any thread at any time.
        let released = tokio::task::spawn_blocking(|| unsafe { libc::malloc_trim(0) }).await;
        tracing::debug!(
            released = matches!(released, Ok(1)),
            elapsed_us = started.elapsed().as_micros() as u64,
            "freed heap pages returned after a wave of sessions"
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn releases_once_a_large_enough_wave_is_quiet() {
        let mut waves = ChurnWaves::default();
        // A storm in progress: never while sessions keep opening.
        assert!(!waves.settled(400, 1000));
        assert!(!waves.settled(900, 1000));
        assert!(!waves.settled(1500, 1000));
        // Quiet for one sweep: release.
        assert!(waves.settled(1500, 1000));
        // Still quiet: nothing new to release.
        assert!(!waves.settled(1500, 1000));
    }

    #[test]
    fn small_waves_add_up_before_a_release() {
        let mut waves = ChurnWaves::default();
        assert!(!waves.settled(600, 1000));
        assert!(!waves.settled(600, 1000), "600 is below the wave size");
        assert!(!waves.settled(1100, 1000));
        assert!(waves.settled(1100, 1000), "1100 since the start, now quiet");
        assert!(!waves.settled(1700, 1000));
        assert!(!waves.settled(1700, 1000), "600 since the last release");
    }
}
