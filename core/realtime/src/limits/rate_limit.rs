//! `RateLimiter`: per-user, per-event token buckets. A bucket holds `max` tokens and refills at
//! `max / window`, which allows short bursts up to `max` and `max` per window on average — the
//! dashboard's "10 per minute" without the edge-of-window double burst of fixed windows.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use dashmap::DashMap;
use roomcast_engine::auth::CompactString;

use roomcast_engine::clock::now_ms;

/// One event's limit: `max` requests per `window`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RateLimit {
    pub max: u32,
    pub window: Duration,
}

impl RateLimit {
    pub const fn per_minute(max: u32) -> Self {
        Self {
            max,
            window: Duration::from_secs(60),
        }
    }
}

#[derive(Debug, Clone, Copy)]
struct Bucket {
    /// Tokens in thousandths, so fractional refills are not lost.
    milli_tokens: u64,
    updated_ms: u64,
}

/// The answer to one request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RateDecision {
    Allowed,
    Limited { retry_after_ms: u64 },
}

pub struct RateLimiter {
    limits: HashMap<String, RateLimit>,
    buckets: DashMap<(CompactString, Arc<str>), Bucket>,
}

impl RateLimiter {
    pub fn new(limits: HashMap<String, RateLimit>) -> Self {
        Self {
            limits,
            buckets: DashMap::new(),
        }
    }

    pub fn limit_for(&self, event: &str) -> Option<RateLimit> {
        self.limits.get(event).copied()
    }

    /// Takes one token for `user` on `event` if the event is limited.
    pub fn check(&self, user: &str, event: &str) -> RateDecision {
        self.check_at(user, event, now_ms())
    }

    fn check_at(&self, user: &str, event: &str, now: u64) -> RateDecision {
        let Some((name, limit)) = self.limits.get_key_value(event) else {
            return RateDecision::Allowed;
        };
        if limit.max == 0 {
            return RateDecision::Limited {
                retry_after_ms: limit.window.as_millis() as u64,
            };
        }
        let capacity = u64::from(limit.max) * 1000;
        let window_ms = (limit.window.as_millis() as u64).max(1);
        let mut bucket = self
            .buckets
            .entry((CompactString::from(user), Arc::from(name.as_str())))
            .or_insert(Bucket {
                milli_tokens: capacity,
                updated_ms: now,
            });
        let elapsed = now.saturating_sub(bucket.updated_ms);
        // refill = elapsed * max / window tokens, in thousandths
        let refill = elapsed.saturating_mul(capacity) / window_ms;
        bucket.milli_tokens = (bucket.milli_tokens + refill).min(capacity);
        bucket.updated_ms = now;
        if bucket.milli_tokens >= 1000 {
            bucket.milli_tokens -= 1000;
            RateDecision::Allowed
        } else {
            let missing = 1000 - bucket.milli_tokens;
            let retry_after_ms = (missing * window_ms).div_ceil(capacity);
            RateDecision::Limited { retry_after_ms }
        }
    }

    /// Drops the buckets of `user` that have refilled completely (they carry no state), so
    /// users who left do not accumulate; partly used buckets stay, so reconnecting does not
    /// reset a limit.
    pub fn forget_idle(&self, user: &str) {
        let now = now_ms();
        self.buckets.retain(|(u, event), bucket| {
            if u.as_str() != user {
                return true;
            }
            let Some(limit) = self.limits.get(event.as_ref()) else {
                return false;
            };
            let window_ms = limit.window.as_millis() as u64;
            now.saturating_sub(bucket.updated_ms) < window_ms
        });
    }

    pub fn bucket_count(&self) -> usize {
        self.buckets.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limiter() -> RateLimiter {
        RateLimiter::new(HashMap::from([(
            "subscribe:portfolio".to_owned(),
            RateLimit::per_minute(10),
        )]))
    }

    #[test]
    fn allows_the_burst_then_limits_with_a_retry_hint() {
        let rl = limiter();
        let user: Arc<str> = Arc::from("u1");
        for _ in 0..10 {
            assert_eq!(
                rl.check_at(&user, "subscribe:portfolio", 1000),
                RateDecision::Allowed
            );
        }
        assert_eq!(
            rl.check_at(&user, "subscribe:portfolio", 1000),
            RateDecision::Limited {
                retry_after_ms: 6000
            }
        );
        // 6 s later one token (60 s / 10) has come back.
        assert_eq!(
            rl.check_at(&user, "subscribe:portfolio", 7000),
            RateDecision::Allowed
        );
        assert!(matches!(
            rl.check_at(&user, "subscribe:portfolio", 7000),
            RateDecision::Limited { .. }
        ));
    }

    #[test]
    fn users_and_events_are_independent_and_unlisted_events_are_free() {
        let rl = limiter();
        let (a, b): (Arc<str>, Arc<str>) = (Arc::from("a"), Arc::from("b"));
        for _ in 0..10 {
            rl.check_at(&a, "subscribe:portfolio", 0);
        }
        assert!(matches!(
            rl.check_at(&a, "subscribe:portfolio", 0),
            RateDecision::Limited { .. }
        ));
        assert_eq!(
            rl.check_at(&b, "subscribe:portfolio", 0),
            RateDecision::Allowed
        );
        for _ in 0..100 {
            assert_eq!(rl.check_at(&a, "ping", 0), RateDecision::Allowed);
        }
        assert_eq!(rl.bucket_count(), 2);
    }
}
