//! One sweeper task per endpoint replaces a timer per connection: with tens of thousands of idle
//! clients, per-connection timers would cost more memory and wake-ups than one pass over the map.

use std::sync::Weak;
use std::time::Duration;

use super::endpoint::Endpoint;

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

/// Runs until the endpoint is dropped.
pub(crate) async fn run(endpoint: Weak<Endpoint>) {
    let period = match endpoint.upgrade() {
        Some(e) => sweep_period(&e),
        None => return,
    };
    let mut ticker = tokio::time::interval(period);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        ticker.tick().await;
        let Some(endpoint) = endpoint.upgrade() else {
            return;
        };
        endpoint.sweep();
    }
}
