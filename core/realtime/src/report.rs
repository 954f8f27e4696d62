//! The health document, `stats()` and the Prometheus exposition.

use serde::Serialize;

use crate::shared::RealtimeShared;
use prometheus_client::collector::Collector;
use prometheus_client::encoding::DescriptorEncoder;
use prometheus_client::registry::Registry;
use roomcast_engine::metrics::{counter, encode, gauge, EngineMetrics};
use roomcast_engine::stats::monotonic_counters;
pub use roomcast_engine::stats::{ClassLatency, LatencyQuantiles, RECIPIENT_CLASSES};

#[derive(Debug, Clone, Serialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct RealtimeStats {
    pub initialized: bool,
    pub total_connections: usize,
    pub unique_users: usize,
    pub redis_adapter: bool,
    /// Seconds since the server was created.
    pub uptime: u64,
    pub reconnections_per_minute: u64,
    /// Server receive → handler done.
    pub event_latency: LatencyQuantiles,
    /// Emit → written to the client's transport.
    pub emit_latency: LatencyQuantiles,
    /// Emit → the last recipient's frame written, per broadcast size (recipients on this node).
    pub broadcast_latency: [ClassLatency; RECIPIENT_CLASSES.len()],
    pub errors_per_minute: u64,
    pub messages_in: u64,
    pub messages_out: u64,
    pub dropped: u64,
    pub slow_consumers: u64,
    pub rate_limited: u64,
    /// Reconnects restored by connection-state recovery, and those that had to start fresh.
    pub recovered: u64,
    pub not_recovered: u64,
    pub memory_rss_bytes: u64,
}

impl RealtimeStats {
    pub(crate) fn collect(shared: &RealtimeShared) -> Self {
        let engine = shared.server.stats();
        let (total_connections, unique_users) = shared.connection_counts();
        Self {
            initialized: shared.is_initialized(),
            total_connections,
            unique_users,
            redis_adapter: shared.redis_connected(),
            uptime: shared.server.uptime().as_secs(),
            reconnections_per_minute: engine.reconnections_per_minute,
            event_latency: engine.handler_latency,
            emit_latency: engine.emit_latency,
            broadcast_latency: engine.broadcast_written,
            errors_per_minute: engine.errors_per_minute,
            messages_in: engine.messages_in,
            messages_out: engine.messages_out,
            dropped: engine.dropped,
            slow_consumers: engine.slow_consumers,
            rate_limited: engine.rate_limited,
            recovered: engine.recovered,
            not_recovered: engine.not_recovered,
            memory_rss_bytes: engine.rss_bytes,
        }
    }
}

/// The health document (`{status, stats: {…}}`), with its field order.
#[derive(Serialize)]
struct Health<'a> {
    status: &'static str,
    stats: HealthStats<'a>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct HealthStats<'a> {
    total_connections: &'a usize,
    unique_users: &'a usize,
    redis_adapter: &'a bool,
    uptime: &'a u64,
}

pub(crate) fn health_json(stats: &RealtimeStats) -> String {
    let health = Health {
        status: if stats.initialized {
            "healthy"
        } else {
            "unhealthy"
        },
        stats: HealthStats {
            total_connections: &stats.total_connections,
            unique_users: &stats.unique_users,
            redis_adapter: &stats.redis_adapter,
            uptime: &stats.uptime,
        },
    };
    serde_json::to_string(&health).unwrap_or_default()
}

/// The preset's own figures beside the engine's (`EngineMetrics`), read at scrape time.
pub(crate) struct PresetMetrics {
    pub stats: RealtimeStats,
    /// Process-monotonic reconnections (see `roomcast_engine::stats::retired`).
    pub reconnections_total: u64,
}

impl std::fmt::Debug for PresetMetrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("PresetMetrics")
    }
}

impl Collector for PresetMetrics {
    fn encode(&self, mut e: DescriptorEncoder) -> std::fmt::Result {
        let (s, e) = (&self.stats, &mut e);
        gauge(
            e,
            "roomcast_up",
            "1 while the server accepts connections",
            i64::from(s.initialized),
        )?;
        gauge(
            e,
            "roomcast_connections",
            "Current authenticated connections of the dashboard",
            s.total_connections as i64,
        )?;
        gauge(
            e,
            "roomcast_unique_users",
            "Distinct connected user ids",
            s.unique_users as i64,
        )?;
        gauge(
            e,
            "roomcast_redis_adapter",
            "1 when the Redis adapter is connected",
            i64::from(s.redis_adapter),
        )?;
        gauge(
            e,
            "roomcast_uptime_seconds",
            "Seconds since start",
            s.uptime as i64,
        )?;
        counter(
            e,
            "roomcast_reconnections",
            "Connections of users who had just disconnected",
            self.reconnections_total,
        )?;
        gauge(
            e,
            "roomcast_reconnections_per_minute",
            "Reconnections in the last minute",
            s.reconnections_per_minute as i64,
        )?;
        gauge(
            e,
            "roomcast_errors_per_minute",
            "Errors in the last minute",
            s.errors_per_minute as i64,
        )
    }
}

/// The Prometheus text exposition: the engine's collector and the preset's.
pub(crate) fn prometheus(shared: &RealtimeShared, stats: RealtimeStats) -> String {
    let reconnections_total = monotonic_counters(shared.server.live_stats()).reconnections_total;
    let mut registry = Registry::default();
    registry.register_collector(Box::new(EngineMetrics::new(shared.server.clone())));
    registry.register_collector(Box::new(PresetMetrics {
        stats,
        reconnections_total,
    }));
    encode(&registry)
}
