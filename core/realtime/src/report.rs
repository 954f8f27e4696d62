//! The health document, `stats()` and the Prometheus exposition.

use serde::Serialize;

use crate::shared::RealtimeShared;
use roomcast_engine::stats::{LatencyHistogram, Stats};

#[derive(Debug, Clone, Serialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct LatencySummary {
    pub p50_ms: f64,
    pub p99_ms: f64,
}

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
    pub event_latency: LatencySummary,
    /// Emit → written to the client's transport.
    pub emit_latency: LatencySummary,
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
            event_latency: LatencySummary {
                p50_ms: engine.handler_latency_p50_ms,
                p99_ms: engine.handler_latency_p99_ms,
            },
            emit_latency: LatencySummary {
                p50_ms: engine.emit_latency_p50_ms,
                p99_ms: engine.emit_latency_p99_ms,
            },
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

pub(crate) fn prometheus(stats: &RealtimeStats, engine: &Stats) -> String {
    let mut out = String::with_capacity(4096);
    let mut gauge = |name: &str, help: &str, kind: &str, value: f64| {
        out.push_str(&format!(
            "# HELP {name} {help}\n# TYPE {name} {kind}\n{name} {value}\n"
        ));
    };
    gauge(
        "roomcast_up",
        "1 while the server accepts connections",
        "gauge",
        stats.initialized as u8 as f64,
    );
    gauge(
        "roomcast_connections",
        "Current Socket.IO connections",
        "gauge",
        stats.total_connections as f64,
    );
    gauge(
        "roomcast_unique_users",
        "Distinct connected user ids",
        "gauge",
        stats.unique_users as f64,
    );
    gauge(
        "roomcast_redis_adapter",
        "1 when the Redis adapter is connected",
        "gauge",
        stats.redis_adapter as u8 as f64,
    );
    gauge(
        "roomcast_uptime_seconds",
        "Seconds since start",
        "gauge",
        stats.uptime as f64,
    );
    gauge(
        "roomcast_reconnections_total",
        "Connections of users who had just disconnected",
        "counter",
        engine.reconnections.total() as f64,
    );
    gauge(
        "roomcast_reconnections_per_minute",
        "Reconnections in the last minute",
        "gauge",
        stats.reconnections_per_minute as f64,
    );
    gauge(
        "roomcast_errors_total",
        "Errors (parse errors, refused handshakes, error replies)",
        "counter",
        engine.errors.total() as f64,
    );
    gauge(
        "roomcast_errors_per_minute",
        "Errors in the last minute",
        "gauge",
        stats.errors_per_minute as f64,
    );
    gauge(
        "roomcast_messages_in_total",
        "Socket.IO packets received",
        "counter",
        stats.messages_in as f64,
    );
    gauge(
        "roomcast_messages_out_total",
        "Socket.IO packets queued to clients",
        "counter",
        stats.messages_out as f64,
    );
    gauge(
        "roomcast_dropped_total",
        "Volatile packets dropped for slow clients",
        "counter",
        stats.dropped as f64,
    );
    gauge(
        "roomcast_slow_consumers_total",
        "Clients disconnected for not reading",
        "counter",
        stats.slow_consumers as f64,
    );
    gauge(
        "roomcast_rate_limited_total",
        "Requests refused by rate limits",
        "counter",
        stats.rate_limited as f64,
    );
    gauge(
        "process_resident_memory_bytes",
        "Resident memory size in bytes",
        "gauge",
        stats.memory_rss_bytes as f64,
    );
    histogram(
        &mut out,
        "roomcast_event_latency_seconds",
        "Server receive to handler done",
        &engine.handler_latency,
    );
    histogram(
        &mut out,
        "roomcast_emit_latency_seconds",
        "Emit to written to the transport",
        &engine.emit_latency,
    );
    out
}

fn histogram(out: &mut String, name: &str, help: &str, h: &LatencyHistogram) {
    out.push_str(&format!("# HELP {name} {help}\n# TYPE {name} histogram\n"));
    for (le, count) in h.cumulative() {
        out.push_str(&format!("{name}_bucket{{le=\"{le}\"}} {count}\n"));
    }
    let count = h.count();
    out.push_str(&format!(
        "{name}_bucket{{le=\"+Inf\"}} {count}\n{name}_sum {}\n{name}_count {count}\n",
        h.sum_seconds()
    ));
}
