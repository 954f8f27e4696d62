//! Limits: per-user event rate limits and the per-user subscription cap.

pub mod rate_limit;
pub mod redis_subscription_limit;
pub mod subscription_limit;

pub use rate_limit::{RateDecision, RateLimit, RateLimiter};
pub use redis_subscription_limit::RedisSubscriptionCounter;
pub use subscription_limit::{LocalSubscriptionCounter, SubscriptionCounter};
