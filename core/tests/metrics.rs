//! `/metrics` as Prometheus reads it: scraped over HTTP and parsed with `prometheus-parse`, a
//! parser of the text format. Checks the families and labels, that a histogram's buckets give
//! quantiles near the dashboard's 500 ms alert threshold, and that counters carry over an
//! engine restart in the same process.

mod common;

use std::time::Duration;

use common::{http, test_config, ws_connect};
use futures_util::SinkExt;
use prometheus_parse::{HistogramCount, Sample, Scrape, Value};
use roomcast::stats::error_kind;
use roomcast::{RealtimeConfig, RealtimeServer};
use tokio_tungstenite::tungstenite::Message;

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

/// Members of one room on the engine's `/` namespace (`join` puts a client in `room`).
async fn room_of(addr: std::net::SocketAddr, members: usize) -> Vec<common::Ws> {
    let mut clients = Vec::new();
    for _ in 0..members {
        let mut ws = common::sio_client(addr).await;
        ws.send(Message::Text("42[\"join\"]".into())).await.unwrap();
        clients.push(ws);
    }
    clients
}

/// Reads until `event` arrived `n` times, answering pings.
async fn receive(ws: &mut common::Ws, event: &str, n: usize) {
    let mut got = 0;
    while got < n {
        let text = common::next_text(ws).await.expect("still connected");
        if text == "2" {
            ws.send(Message::Text("3".into())).await.unwrap();
        } else if text.contains(event) {
            got += 1;
        }
    }
}

#[tokio::test]
async fn each_broadcast_is_timed_until_its_last_member_was_written_by_size() {
    let (server, addr) = common::start(test_config()).await;
    let mut room = room_of(addr, 12).await;
    let io = server.io();
    tokio::time::timeout(Duration::from_secs(3), async {
        while io.to("room").sockets().len() < 12 {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    })
    .await
    .expect("12 members joined");
    let args = roomcast::Args::serialize(&"tick").unwrap();
    for _ in 0..5 {
        assert_eq!(io.emit_to_room("room", "tick", &args), 12);
    }
    assert_eq!(io.emit_to_room("nobody", "tick", &args), 0);
    let first = io.sockets()[0].id().to_owned();
    assert_eq!(io.to(&first).emit("solo", &args), 1);
    for ws in room.iter_mut() {
        receive(ws, "tick", 5).await;
    }

    let stats = server.live_stats();
    let timed = |class: usize| stats.broadcast_written.snapshot()[class].broadcasts;
    tokio::time::timeout(Duration::from_secs(3), async {
        while timed(2) < 5 || timed(0) < 1 {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    })
    .await
    .expect("every broadcast timed once its frames were written");
    let snapshot = server.stats().broadcast_written;
    assert_eq!(snapshot[2].recipients, "11-100");
    assert_eq!(
        snapshot.iter().map(|c| c.broadcasts).collect::<Vec<_>>(),
        [1, 0, 5, 0, 0, 0],
        "the empty room's broadcast reached nobody and is not timed"
    );
    assert!(snapshot[2].latency.max_ms > 0.0 && snapshot[2].latency.max_ms < 3000.0);

    let mut registry = prometheus_client::registry::Registry::default();
    registry.register_collector(Box::new(roomcast::metrics::EngineMetrics::new(
        server.clone(),
    )));
    let text = roomcast::metrics::encode(&registry);
    let lines = text.lines().map(|l| Ok(l.to_owned()));
    let scrape = Scrape::parse(lines).expect("a valid Prometheus text exposition");
    let family = samples(&scrape, "roomcast_broadcast_written_seconds");
    let count_of = |recipients: &str| {
        family
            .iter()
            .find(|s| s.labels.get("recipients") == Some(recipients))
            .map(|s| match &s.value {
                Value::Histogram(buckets) => buckets.last().map_or(0.0, |b| b.count),
                other => panic!("not a histogram: {other:?}"),
            })
    };
    assert!(count_of("11-100").unwrap() >= 5.0);
    assert!(count_of("1").unwrap() >= 1.0);
    assert_eq!(family.len(), 6, "one histogram per broadcast size");
    server.shutdown(Duration::ZERO, Duration::ZERO).await;
}
