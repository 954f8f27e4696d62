//! Counters by label, for the label sets an operator needs and the engine bounds: disconnect
//! reasons from a fixed list, event names from the server's own tables, error kinds. Never a
//! label per user, room or socket id.

use std::collections::BTreeMap;

use parking_lot::Mutex;

/// The disconnect reasons of Socket.IO (and the slow-consumer close); any other reason counts
/// as `other`.
pub const DISCONNECT_REASONS: [&str; 9] = [
    "transport close",
    "transport error",
    "ping timeout",
    "parse error",
    "forced close",
    "server shutting down",
    "server namespace disconnect",
    "client namespace disconnect",
    "slow consumer",
];

/// The label a disconnect reason is counted under.
pub fn disconnect_label(reason: &str) -> &'static str {
    DISCONNECT_REASONS
        .iter()
        .find(|known| **known == reason)
        .copied()
        .unwrap_or("other")
}

/// Monotonic counts by label. Label sets are small, and these events are rare next to
/// messages, so one short lock per increment costs nothing measurable.
#[derive(Debug)]
pub struct LabeledCounter<K: Ord> {
    counts: Mutex<BTreeMap<K, u64>>,
}

impl<K: Ord> Default for LabeledCounter<K> {
    fn default() -> Self {
        Self {
            counts: Mutex::new(BTreeMap::new()),
        }
    }
}

impl<K: Ord + Clone> LabeledCounter<K> {
    pub fn add(&self, label: K, n: u64) {
        *self.counts.lock().entry(label).or_insert(0) += n;
    }

    /// Every label with its count, in label order.
    pub fn snapshot(&self) -> Vec<(K, u64)> {
        self.counts
            .lock()
            .iter()
            .map(|(k, v)| (k.clone(), *v))
            .collect()
    }

    /// Adds every count of `other` here.
    pub fn absorb(&self, other: &[(K, u64)]) {
        let mut counts = self.counts.lock();
        for (label, n) in other {
            *counts.entry(label.clone()).or_insert(0) += n;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_by_label_and_bounds_reasons() {
        let c = LabeledCounter::default();
        c.add(disconnect_label("ping timeout"), 1);
        c.add(disconnect_label("ping timeout"), 2);
        c.add(disconnect_label("user 42 went away"), 1);
        assert_eq!(c.snapshot(), vec![("other", 1), ("ping timeout", 3)]);
    }
}
