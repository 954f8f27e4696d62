//! How long a broadcast takes inside the server: from the emit call to the moment the last
//! recipient's frame was handed to the kernel, kept per broadcast size. The client-side latency
//! a load test sees includes the clients' own scheduling; this is the part the server controls.

use std::time::Duration;

use super::{LatencyHistogram, LatencyQuantiles};

/// The broadcast sizes (recipients on this node) kept apart, as the metrics' `recipients` label.
pub const RECIPIENT_CLASSES: [&str; 6] =
    ["1", "2-10", "11-100", "101-1000", "1001-10000", "10001+"];

/// The class of a broadcast that reached `recipients` members.
pub fn class_of(recipients: usize) -> usize {
    match recipients {
        0 | 1 => 0,
        2..=10 => 1,
        11..=100 => 2,
        101..=1000 => 3,
        1001..=10_000 => 4,
        _ => 5,
    }
}

/// One latency histogram per class of `RECIPIENT_CLASSES`.
#[derive(Debug, Default)]
pub struct BroadcastLatency {
    classes: [LatencyHistogram; RECIPIENT_CLASSES.len()],
}

/// One class at one moment.
#[derive(Debug, Clone, Copy, Default, PartialEq, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ClassLatency {
    /// The class's `RECIPIENT_CLASSES` name.
    pub recipients: &'static str,
    /// Broadcasts timed.
    pub broadcasts: u64,
    pub latency: LatencyQuantiles,
}

impl BroadcastLatency {
    pub fn record(&self, recipients: usize, latency: Duration) {
        self.classes[class_of(recipients)].record(latency);
    }

    /// `(name, histogram)` for every class, smallest broadcasts first.
    pub fn classes(&self) -> impl Iterator<Item = (&'static str, &LatencyHistogram)> {
        RECIPIENT_CLASSES.into_iter().zip(self.classes.iter())
    }

    pub fn snapshot(&self) -> [ClassLatency; RECIPIENT_CLASSES.len()] {
        let mut out = [ClassLatency::default(); RECIPIENT_CLASSES.len()];
        for (slot, (recipients, histogram)) in out.iter_mut().zip(self.classes()) {
            *slot = ClassLatency {
                recipients,
                broadcasts: histogram.count(),
                latency: histogram.quantiles(),
            };
        }
        out
    }

    /// Adds every sample of `other` (a retiring server's) to this one.
    pub fn absorb(&self, other: &BroadcastLatency) {
        for (mine, theirs) in self.classes.iter().zip(other.classes.iter()) {
            mine.absorb(&theirs.merged());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn broadcasts_are_kept_apart_by_size() {
        let latency = BroadcastLatency::default();
        latency.record(1, Duration::from_micros(50));
        latency.record(100, Duration::from_micros(400));
        latency.record(101, Duration::from_micros(900));
        latency.record(50_000, Duration::from_millis(30));
        let snapshot = latency.snapshot();
        let counts: Vec<u64> = snapshot.iter().map(|c| c.broadcasts).collect();
        assert_eq!(counts, [1, 0, 1, 1, 0, 1]);
        assert_eq!(snapshot[2].recipients, "11-100");
        assert!((snapshot[3].latency.max_ms - 0.9).abs() < 0.01);
        assert_eq!(
            class_of(0),
            0,
            "a broadcast nobody received is never timed as larger"
        );
        assert_eq!(class_of(10_001), 5);
    }
}
