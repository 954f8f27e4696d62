//! `SubscriptionCounter`: concurrent subscriptions per user, across all of that user's
//! connections. Reserving is all-or-nothing, and releasing never goes below zero, so a request
//! that would cross the cap changes nothing and a double release cannot go negative.

use dashmap::DashMap;
use roomcast_engine::auth::CompactString;

pub trait SubscriptionCounter: Send + Sync + 'static {
    /// Adds `n` to `user`'s count if the result stays within `max`; returns whether it did.
    fn try_reserve(&self, user: &str, n: u32, max: u32) -> bool;
    /// Subtracts `n` (saturating at zero).
    fn release(&self, user: &str, n: u32);
    fn count(&self, user: &str) -> u32;
}

/// The single-node counter.
#[derive(Default)]
pub struct LocalSubscriptionCounter {
    counts: DashMap<CompactString, u32>,
}

impl SubscriptionCounter for LocalSubscriptionCounter {
    fn try_reserve(&self, user: &str, n: u32, max: u32) -> bool {
        let mut count = self.counts.entry(CompactString::from(user)).or_insert(0);
        match count.checked_add(n) {
            Some(total) if total <= max => {
                *count = total;
                true
            }
            _ => false,
        }
    }

    fn release(&self, user: &str, n: u32) {
        if let Some(mut count) = self.counts.get_mut(user) {
            *count = count.saturating_sub(n);
        }
        self.counts.remove_if(user, |_, c| *c == 0);
    }

    fn count(&self, user: &str) -> u32 {
        self.counts.get(user).map_or(0, |c| *c)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reserve_is_all_or_nothing_and_release_saturates() {
        let counter = LocalSubscriptionCounter::default();
        let user = "u";
        assert!(counter.try_reserve(user, 48, 50));
        assert!(!counter.try_reserve(user, 3, 50));
        assert_eq!(counter.count("u"), 48);
        assert!(counter.try_reserve(user, 2, 50));
        counter.release("u", 100);
        assert_eq!(counter.count("u"), 0);
        assert!(counter.counts.is_empty(), "empty users are dropped");
        counter.release("nobody", 1);
    }
}
