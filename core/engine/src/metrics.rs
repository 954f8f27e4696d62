//! The engine's metrics for Prometheus, written by `prometheus-client` (its text format 0.0.4:
//! `# HELP`/`# TYPE`, escaping, `_total` counters). `EngineMetrics` is a collector read at
//! scrape time from the server's stats, so recording stays plain atomics and per-thread
//! histograms. Counters include the retired totals of servers shut down earlier in this
//! process (see `stats::retired`); gauges are this server's.

use std::fmt;

use prometheus_client::collector::Collector;
use prometheus_client::encoding::{DescriptorEncoder, EncodeMetric, NoLabelSet};
use prometheus_client::metrics::counter::ConstCounter;
use prometheus_client::metrics::gauge::ConstGauge;
use prometheus_client::metrics::MetricType;
use prometheus_client::registry::Registry;

use crate::server::Server;
use crate::stats::histogram::buckets_of;
use crate::stats::{monotonic_counters, monotonic_histogram, monotonic_labeled, retired, Retired};

/// Latency buckets in seconds, dense around the dashboard's alert threshold (p99 > 500 ms) so
/// `histogram_quantile` over them is meaningful there.
pub const LATENCY_BUCKETS: [f64; 20] = [
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.2, 0.3, 0.4, 0.45, 0.5, 0.55, 0.6,
    0.75, 1.0, 2.5, 10.0, 60.0,
];

/// Buckets for the time a broadcast takes inside the server, finer below a millisecond.
pub const BROADCAST_BUCKETS: [f64; 16] = [
    0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0,
    2.5, 10.0,
];

/// The `Content-Type` of `encode`'s output.
pub const CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

/// Writes `registry` in the Prometheus text format.
pub fn encode(registry: &Registry) -> String {
    let mut out = String::with_capacity(8192);
    if let Err(error) = prometheus_client::encoding::prometheus_text::encode(&mut out, registry) {
        tracing::error!(%error, "metrics encoding failed");
    }
    out
}

pub struct EngineMetrics {
    server: Server,
}

impl fmt::Debug for EngineMetrics {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("EngineMetrics")
    }
}

impl EngineMetrics {
    pub fn new(server: Server) -> Self {
        Self { server }
    }
}

pub fn counter(e: &mut DescriptorEncoder, name: &str, help: &str, value: u64) -> fmt::Result {
    let metric = ConstCounter::new(value);
    metric.encode(e.encode_descriptor(name, help, None, metric.metric_type())?)
}

pub fn gauge(e: &mut DescriptorEncoder, name: &str, help: &str, value: i64) -> fmt::Result {
    let metric = ConstGauge::new(value);
    metric.encode(e.encode_descriptor(name, help, None, metric.metric_type())?)
}

/// A counter family: one sample per label set.
fn labeled_counter<'a>(
    e: &mut DescriptorEncoder,
    name: &str,
    help: &str,
    rows: impl IntoIterator<Item = (Vec<(&'static str, &'a str)>, u64)>,
) -> fmt::Result {
    let mut family = e.encode_descriptor(name, help, None, MetricType::Counter)?;
    for (labels, value) in rows {
        ConstCounter::new(value).encode(family.encode_family(&labels)?)?;
    }
    Ok(())
}

fn histogram(
    e: &mut DescriptorEncoder,
    name: &str,
    help: &str,
    samples: &hdrhistogram::Histogram<u64>,
) -> fmt::Result {
    let (buckets, sum) = buckets_of(samples, &LATENCY_BUCKETS);
    let mut metric = e.encode_descriptor(name, help, None, MetricType::Histogram)?;
    metric.encode_histogram::<NoLabelSet>(sum, samples.len(), &buckets, None)
}

/// `roomcast_broadcast_written_seconds{recipients}`: one histogram per broadcast size.
fn broadcast_written(e: &mut DescriptorEncoder, stats: &crate::stats::Stats) -> fmt::Result {
    let mut family = e.encode_descriptor(
        "roomcast_broadcast_written_seconds",
        "Emit to the last recipient's frame written to the kernel, per broadcast size",
        None,
        MetricType::Histogram,
    )?;
    let retired = retired().broadcast_written.classes();
    for ((recipients, own), (_, old)) in stats.broadcast_written.classes().zip(retired) {
        let samples = monotonic_histogram(stats, old, own);
        let (buckets, sum) = buckets_of(&samples, &BROADCAST_BUCKETS);
        family
            .encode_family(&[("recipients", recipients)])?
            .encode_histogram::<NoLabelSet>(sum, samples.len(), &buckets, None)?;
    }
    Ok(())
}

/// `roomcast_sockets{namespace, transport}`.
fn sockets_by_transport(e: &mut DescriptorEncoder, server: &Server) -> fmt::Result {
    let mut family = e.encode_descriptor(
        "roomcast_sockets",
        "Connected Socket.IO sockets by namespace and transport",
        None,
        MetricType::Gauge,
    )?;
    for ns in server.namespaces() {
        let (polling, websocket) = ns.socket_counts_by_transport();
        for (transport, count) in [("polling", polling), ("websocket", websocket)] {
            let labels = [("namespace", ns.name()), ("transport", transport)];
            ConstGauge::new(count as i64).encode(family.encode_family(&labels)?)?;
        }
    }
    Ok(())
}

impl Collector for EngineMetrics {
    fn encode(&self, mut e: DescriptorEncoder) -> fmt::Result {
        let stats = self.server.live_stats();
        let totals = monotonic_counters(stats);
        let e = &mut e;
        gauge(
            e,
            "roomcast_sessions",
            "Open Engine.IO sessions",
            stats
                .sessions_open
                .load(std::sync::atomic::Ordering::Relaxed) as i64,
        )?;
        counter(
            e,
            "roomcast_sessions_opened",
            "Engine.IO sessions opened",
            totals.sessions_opened,
        )?;
        sockets_by_transport(e, &self.server)?;
        for (name, help, value) in [
            (
                "roomcast_messages_in",
                "Socket.IO packets received",
                totals.messages_in,
            ),
            (
                "roomcast_messages_out",
                "Socket.IO packets queued to clients",
                totals.messages_out,
            ),
            (
                "roomcast_dropped",
                "Volatile packets dropped for slow clients",
                totals.dropped,
            ),
            (
                "roomcast_slow_consumers",
                "Clients disconnected for not reading",
                totals.slow_consumers,
            ),
            (
                "roomcast_bad_requests",
                "HTTP requests refused as malformed",
                totals.bad_requests,
            ),
            (
                "roomcast_recovered",
                "Reconnects restored by connection-state recovery",
                totals.recovered,
            ),
            (
                "roomcast_not_recovered",
                "Reconnects that could not be recovered",
                totals.not_recovered,
            ),
            (
                "roomcast_ws_deflated_frames",
                "WebSocket frames sent compressed (permessage-deflate)",
                totals.deflated_frames,
            ),
            (
                "roomcast_ws_deflate_saved_bytes",
                "Bytes permessage-deflate kept off the wire",
                totals.deflate_saved_bytes,
            ),
            (
                "roomcast_ws_deflate_compressions",
                "Compressions done (one per broadcast, shared by its members)",
                totals.deflate_compressions,
            ),
            (
                "roomcast_cluster_broadcasts_received",
                "Broadcasts received from other nodes",
                totals.cluster_broadcasts_in,
            ),
            (
                "roomcast_cluster_broadcasts_unmatched",
                "Broadcasts received from other nodes that no local socket was a recipient of",
                totals.cluster_broadcasts_unmatched,
            ),
        ] {
            counter(e, name, help, value)?;
        }
        let retired: &Retired = retired();
        let errors = monotonic_labeled(stats, &retired.errors_by_kind, &stats.errors_by_kind);
        labeled_counter(
            e,
            "roomcast_errors",
            "Errors by kind (parse, handshake, event) and the client event they answered",
            errors.iter().map(|((kind, event), n)| {
                let mut labels = vec![("kind", *kind)];
                if !event.is_empty() {
                    labels.push(("event", &**event));
                }
                (labels, *n)
            }),
        )?;
        let limited = monotonic_labeled(
            stats,
            &retired.rate_limited_by_event,
            &stats.rate_limited_by_event,
        );
        labeled_counter(
            e,
            "roomcast_rate_limited",
            "Requests refused by rate limits, by event",
            limited
                .iter()
                .map(|(event, n)| (vec![("event", &**event)], *n)),
        )?;
        let disconnects = monotonic_labeled(stats, &retired.disconnects, &stats.disconnects);
        labeled_counter(
            e,
            "roomcast_disconnects",
            "Socket disconnects by reason",
            disconnects
                .iter()
                .map(|(reason, n)| (vec![("reason", *reason)], *n)),
        )?;
        histogram(
            e,
            "roomcast_event_latency_seconds",
            "Server receive to handler done, per client event",
            &monotonic_histogram(stats, &retired.handler_latency, &stats.handler_latency),
        )?;
        histogram(
            e,
            "roomcast_emit_latency_seconds",
            "Emit to written to the transport, per written batch",
            &monotonic_histogram(stats, &retired.emit_latency, &stats.emit_latency),
        )?;
        broadcast_written(e, stats)?;
        gauge(
            e,
            "process_resident_memory_bytes",
            "Resident memory size in bytes",
            crate::stats::process_rss_bytes() as i64,
        )
    }
}
