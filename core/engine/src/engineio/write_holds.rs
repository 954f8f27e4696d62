//! `WriteHolds`: write coalescing for busy WebSocket connections. A connection that wrote less
//! than one coalescing window ago and has frames waiting does not write them at once: it parks
//! until the next tick of one shared ticker (one timer per endpoint, none per connection), so
//! the frames of a feed that emits one at a time, faster than the window, leave in one write
//! instead of one write each. A connection that was quiet for a window writes at once, so
//! low-rate traffic gets no added latency.
//!
//! The ticker runs only while some connection is parked. Its period is the window less the
//! timer's 1 ms granularity (at least one tick), so a parked connection waits at most the window.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::task::Waker;
use std::time::Duration;

use parking_lot::Mutex;

/// The timer's granularity: a sleep ends on the next millisecond tick after its deadline.
const TIMER_TICK: Duration = Duration::from_millis(1);

pub(crate) struct WriteHolds {
    window: Duration,
    parked: Mutex<Vec<Waker>>,
    ticking: AtomicBool,
    runtime: Option<tokio::runtime::Handle>,
}

impl WriteHolds {
    pub fn new(window: Duration, runtime: Option<tokio::runtime::Handle>) -> Arc<Self> {
        Arc::new(Self {
            window,
            parked: Mutex::new(Vec::new()),
            ticking: AtomicBool::new(false),
            runtime,
        })
    }

    /// The window in µs (0: coalescing is off).
    pub fn window_us(&self) -> u64 {
        self.window.as_micros() as u64
    }

    /// Parks `waker` until the next tick. False when there is no runtime to tick on (the caller
    /// writes at once instead).
    pub fn park(self: &Arc<Self>, waker: &Waker) -> bool {
        let Some(runtime) = &self.runtime else {
            return false;
        };
        self.parked.lock().push(waker.clone());
        if !self.ticking.swap(true, Ordering::AcqRel) {
            runtime.spawn(self.clone().tick());
        }
        true
    }

    async fn tick(self: Arc<Self>) {
        let period = self
            .window
            .saturating_sub(TIMER_TICK)
            .max(Duration::from_micros(1));
        loop {
            tokio::time::sleep(period).await;
            let parked = std::mem::take(&mut *self.parked.lock());
            if parked.is_empty() {
                self.ticking.store(false, Ordering::Release);
                // A connection that parked between the take and the store would wait forever.
                if self.parked.lock().is_empty() || self.ticking.swap(true, Ordering::AcqRel) {
                    return;
                }
                continue;
            }
            parked.into_iter().for_each(Waker::wake);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::AtomicUsize;
    use std::task::Wake;

    struct Count(AtomicUsize);

    impl Wake for Count {
        fn wake(self: Arc<Self>) {
            self.0.fetch_add(1, Ordering::Relaxed);
        }
    }

    #[tokio::test(start_paused = true)]
    async fn parked_connections_are_woken_on_the_next_tick_and_the_ticker_stops() {
        let holds = WriteHolds::new(
            Duration::from_millis(1),
            Some(tokio::runtime::Handle::current()),
        );
        let count = Arc::new(Count(AtomicUsize::new(0)));
        let waker = Waker::from(count.clone());
        assert!(holds.park(&waker));
        assert!(holds.park(&waker));
        tokio::time::sleep(Duration::from_millis(2)).await;
        assert_eq!(count.0.load(Ordering::Relaxed), 2, "both woken by one tick");
        tokio::time::sleep(Duration::from_millis(5)).await;
        assert!(
            !holds.ticking.load(Ordering::Acquire),
            "no ticking while nothing is parked"
        );
        assert!(holds.park(&waker), "parking again starts it again");
        tokio::time::sleep(Duration::from_millis(2)).await;
        assert_eq!(count.0.load(Ordering::Relaxed), 3);
        let off = WriteHolds::new(Duration::from_millis(1), None);
        assert!(!off.park(&waker), "no runtime: write at once");
    }
}
