//! `/metrics` as Prometheus reads it: scraped over HTTP and parsed with `prometheus-parse`, a
//! parser of the text format. Checks the families and labels, that a histogram's buckets give
//! quantiles near the dashboard's 500 ms alert threshold, and that counters carry over an
//! engine restart in the same process.

mod common;

use std::time::Duration;

use common::{http, test_config, ws_connect};
use prometheus_parse::{HistogramCount, Sample, Scrape, Value};
use roomcast::stats::error_kind;
use roomcast::{RealtimeConfig, RealtimeServer};

async fn start() -> (RealtimeServer, std::net::SocketAddr) {
    let server = RealtimeServer::new(RealtimeConfig {
        engine: test_config(),
        ..RealtimeConfig::default()
    });
    let addr = server.start().await.unwrap();
    (server, addr)
}

async fn scrape(addr: std::net::SocketAddr) -> Scrape {
    let (status, body) = http(addr, "GET", "/metrics", b"").await;
    assert_eq!(status, 200);
    let lines = body.lines().map(|l| Ok(l.to_owned()));
    Scrape::parse(lines).expect("a valid Prometheus text exposition")
}

fn samples<'a>(scrape: &'a Scrape, name: &str) -> Vec<&'a Sample> {
    scrape.samples.iter().filter(|s| s.metric == name).collect()
}

fn value(sample: &Sample) -> f64 {
    match &sample.value {
        Value::Counter(v) | Value::Gauge(v) | Value::Untyped(v) => *v,
        other => panic!("not a number: {other:?}"),
    }
}

/// `histogram_quantile(q, …)` as Prometheus computes it: linear within the bucket.
fn histogram_quantile(q: f64, buckets: &[HistogramCount]) -> f64 {
    let total = buckets.last().map_or(0.0, |b| b.count);
    let rank = q * total;
    let (mut lower, mut below) = (0.0, 0.0);
    for bucket in buckets {
        if bucket.count >= rank {
            if bucket.less_than.is_infinite() {
                return lower;
            }
            let inside = bucket.count - below;
            return lower + (bucket.less_than - lower) * (rank - below) / inside.max(1.0);
        }
        lower = bucket.less_than;
        below = bucket.count;
    }
    lower
}

#[tokio::test]
async fn families_labels_and_latency_buckets_parse_as_prometheus_reads_them() {
    let (server, addr) = start().await;
    let _ws = ws_connect(addr, "").await;
    let stats = server.engine().live_stats();
    // A known event latency distribution: 98 % at 20 ms, 2 % at 300 ms (p99 = 300 ms).
    for _ in 0..980 {
        stats.handler_latency.record(Duration::from_millis(20));
    }
    for _ in 0..20 {
        stats.handler_latency.record(Duration::from_millis(300));
    }
    stats.record_error(error_kind::EVENT, "subscribe:watchlist");
    stats.record_rate_limited("subscribe:watchlist");
    let scrape = scrape(addr).await;

    let docs = &scrape.docs;
    assert!(docs["roomcast_event_latency_seconds"].starts_with("Server receive"));
    assert!(docs.contains_key("roomcast_errors_total"));

    let histogram = samples(&scrape, "roomcast_event_latency_seconds");
    let Value::Histogram(buckets) = &histogram[0].value else {
        panic!("roomcast_event_latency_seconds is not a histogram: {histogram:?}");
    };
    assert!(buckets.iter().any(|b| b.less_than == 0.5));
    let p99 = histogram_quantile(0.99, buckets);
    assert!(
        p99 > 0.2 && p99 < 0.5,
        "a 300 ms p99 read from buckets as {p99} s"
    );
    let q = server.stats().event_latency;
    assert!((q.p99_ms - 300.0).abs() <= 3.0, "{q:?}");
    assert!((q.p50_ms - 20.0).abs() <= 0.2, "{q:?}");

    let sockets = samples(&scrape, "roomcast_sockets");
    assert!(sockets
        .iter()
        .any(|s| s.labels.get("namespace") == Some("/")
            && s.labels.get("transport") == Some("websocket")));
    let errors = samples(&scrape, "roomcast_errors_total");
    assert!(errors.iter().any(|s| s.labels.get("kind") == Some("event")
        && s.labels.get("event") == Some("subscribe:watchlist")
        && value(s) >= 1.0));
    let limited = samples(&scrape, "roomcast_rate_limited_total");
    assert!(limited
        .iter()
        .any(|s| s.labels.get("event") == Some("subscribe:watchlist") && value(s) >= 1.0));
    assert_eq!(value(samples(&scrape, "roomcast_up")[0]), 1.0);
    server.shutdown(Duration::ZERO).await.unwrap();
}

#[tokio::test]
async fn counters_do_not_go_backwards_across_an_engine_restart() {
    let (first, addr) = start().await;
    for _ in 0..5 {
        first
            .engine()
            .live_stats()
            .record_error(error_kind::PARSE, "");
    }
    let parse_errors = |scrape: &Scrape| -> f64 {
        samples(scrape, "roomcast_errors_total")
            .iter()
            .filter(|s| s.labels.get("kind") == Some("parse"))
            .map(|s| value(s))
            .sum()
    };
    let before = parse_errors(&scrape(addr).await);
    assert!(before >= 5.0);
    first.shutdown(Duration::ZERO).await.unwrap();
    drop(first);

    let (second, addr) = start().await;
    let after = parse_errors(&scrape(addr).await);
    assert!(after >= before, "{after} < {before} after a restart");
    second.shutdown(Duration::ZERO).await.unwrap();
}
