//! One sweeper task per endpoint replaces a timer per connection: with tens of thousands of idle
//! clients, per-connection timers would cost more memory and wake-ups than one pass over the map.

use std::sync::Weak;
use std::time::Duration;

use std::sync::atomic::Ordering;

use super::endpoint::Endpoint;
use super::free_pages::{self, ChurnWaves};

/// How often the sweeper runs: fine enough that a ping or a timeout is never late by more than a
/// quarter of the shorter timing.
pub(crate) fn sweep_period(endpoint: &Endpoint) -> Duration {
    let shorter = endpoint
        .context
        .config
        .ping_interval
        .min(endpoint.context.config.ping_timeout);
    (shorter / 4).clamp(Duration::from_millis(10), Duration::from_secs(1))
}

/// Runs until the endpoint is dropped. After each pass it also returns freed memory once a wave
/// of connections has settled (see `free_pages`).
pub(crate) async fn run(endpoint: Weak<Endpoint>) {
    let period = match endpoint.upgrade() {
        Some(e) => sweep_period(&e),
        None => return,
    };
    let mut ticker = tokio::time::interval(period);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut waves = ChurnWaves::default();
    loop {
        ticker.tick().await;
        let Some(endpoint) = endpoint.upgrade() else {
            return;
        };
        endpoint.sweep();
        let release = endpoint
            .context
            .config
            .release_memory_after
            .is_some_and(|after| waves.settled(session_churn(&endpoint), after));
        drop(endpoint);
        if release {
            free_pages::release().await;
        }
    }
}

/// Sessions opened plus sessions closed so far.
fn session_churn(endpoint: &Endpoint) -> u64 {
    let stats = &endpoint.context.stats;
    let opened = stats.sessions_opened.load(Ordering::Relaxed);
    let open = stats.sessions_open.load(Ordering::Relaxed);
    opened + opened.saturating_sub(open)
}
