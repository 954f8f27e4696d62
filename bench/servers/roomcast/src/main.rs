//! Benchmark server on roomcast's Rust API (the same behaviour as bench/servers/node-socketio.mjs):
//! token auth in the connect payload; each client joins `user:<token>`, its `room` and `all`;
//! the event `blast {room, rooms, n, size, rate}` makes the server emit `n` events of `size`
//! bytes to that room (or round-robin to `room0..room<rooms-1>` when `rooms` > 0), at `rate` per second (0 = as fast as possible), stamping `ts` (actual send) and
//! `due` (scheduled) in each payload (with `json`, trade-like records fill it instead of
//! padding). `--recovery` turns on connection-state recovery (2 min window, as Node's bench
//! server does); `--deflate` permessage-deflate (threshold 1024); `--redis URL` clusters it
//! through Redis (`--redis-sharded MODE`: sharded pub/sub on the Redis Cluster URL lists, in
//! that subscription mode). The event `stats` (with an ack) answers what the node received from
//! other nodes. Prints
//! `listening on <port>`.

#[cfg(feature = "count-heap")]
mod heap;
#[cfg(feature = "count-heap")]
#[global_allocator]
static ALLOC: heap::CountingAlloc = heap::CountingAlloc;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use roomcast::socketio::recovery::RecoveryConfig;
use roomcast::{Args, ConnectError, EngineConfig, Identity, Server};

/// Trade-like records filling about `size` bytes of JSON for message `i` (the same as the Node
/// bench server's).
fn rows(size: usize, i: usize) -> String {
    const SYMBOLS: [&str; 8] = [
        "AAPL", "MSFT", "TSLA", "NVDA", "AMZN", "GOOGL", "META", "NFLX",
    ];
    let mut out = String::from("[");
    let mut k = 0;
    while out.len() + 60 < size {
        if k > 0 {
            out.push(',');
        }
        out.push_str(&format!(
            r#"{{"id":{k},"symbol":"{}","side":"{}","qty":{},"priceCents":{}}}"#,
            SYMBOLS[k % 8],
            if k % 3 == 0 { "sell" } else { "buy" },
            100 + (k * 37 + i * 11) % 900,
            15000 + (k * 1301 + i * 7919) % 9700
        ));
        k += 1;
    }
    out.push(']');
    out
}

#[cfg(feature = "count-heap")]
fn heap_report() -> serde_json::Value {
    heap::report()
}

#[cfg(not(feature = "count-heap"))]
fn heap_report() -> serde_json::Value {
    serde_json::Value::Null
}

fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}

#[tokio::main]
async fn main() {
    // `[--recovery] [--deflate] [--redis URL [--redis-sharded MODE]] <port>`
    let args: Vec<String> = std::env::args().collect();
    let port: u16 = args.last().and_then(|p| p.parse().ok()).unwrap_or(0);
    let recovery = args
        .iter()
        .any(|a| a == "--recovery")
        .then(RecoveryConfig::default);
    let mut config = EngineConfig {
        bind: SocketAddr::from(([127, 0, 0, 1], port)),
        queue_capacity: 4096,
        recovery,
        ..EngineConfig::default()
    };
    // `--write-coalesce MS`: the WebSocket write coalescing window (the engine's default else).
    if let Some(ms) = args
        .windows(2)
        .find(|w| w[0] == "--write-coalesce")
        .and_then(|w| w[1].parse().ok())
    {
        config.ws_write_coalesce = Duration::from_millis(ms);
    }
    // permessage-deflate as Node's bench server turns it on (threshold 1024).
    config.set_per_message_deflate(args.iter().any(|a| a == "--deflate"), Some(1024));
    let server = Server::new(config);
    let io = server.io();
    io.set_middleware(Arc::new(|request: roomcast::ConnectRequest| {
        Box::pin(async move {
            match request.auth["token"].as_str() {
                Some(token) if token.starts_with('t') => {
                    Ok(Some(Identity::new(token, Some("bench"), Some("user"))))
                }
                _ => Err(ConnectError::new("UNAUTHORIZED")),
            }
        })
    }));
    io.on_connection(|socket| {
        let room = serde_json::from_str::<serde_json::Value>(socket.auth_json())
            .ok()
            .and_then(|a| a["room"].as_str().map(str::to_owned));
        if let Some(user) = socket.identity().map(|i| i.user_id.clone()) {
            socket.join(&format!("user:{user}"));
        }
        if let Some(room) = room {
            socket.join(&room);
        }
        socket.join("all");
    });
    let ns = io.clone();
    let stats = server.live_stats().clone();
    io.on_event(move |_socket, event| {
        if event.name == "stats" {
            // What this node received from the others, for the multi-node benchmark, and how
            // long its broadcasts took from emit to the last member written.
            let s = stats.snapshot();
            let counts = serde_json::json!([{
                "clusterIn": s.cluster_broadcasts_in,
                "clusterUnmatched": s.cluster_broadcasts_unmatched,
                "broadcastWritten": s.broadcast_written,
                "heap": heap_report(),
            }]);
            if let (Some(ack), Ok(args)) = (event.ack, Args::json_array(&counts.to_string())) {
                let _ = ack.send(&args);
            }
            return;
        }
        if event.name != "blast" {
            return;
        }
        let spec: Vec<serde_json::Value> =
            serde_json::from_str(&event.args.to_json_array()).unwrap_or_default();
        let Some(spec) = spec.first().cloned() else {
            return;
        };
        let room = spec["room"].as_str().unwrap_or("all").to_owned();
        let n = spec["n"].as_u64().unwrap_or(0);
        let size = spec["size"].as_u64().unwrap_or(100) as usize;
        let rate = spec["rate"].as_u64().unwrap_or(0);
        // A live feed: one emit at a time, the runtime running in between.
        let each = spec["each"].as_bool().unwrap_or(false);
        let rooms = spec["rooms"].as_u64().unwrap_or(0);
        let ns = ns.clone();
        tokio::spawn(async move {
            let json = spec["json"].as_bool().unwrap_or(false);
            let pad = format!(r#""pad":"{}""#, "x".repeat(size.saturating_sub(40)));
            let start = now_ms();
            let interval = if rate > 0 { 1000.0 / rate as f64 } else { 0.0 };
            for i in 0..n {
                let due = start + (i as f64 * interval) as u64;
                if rate > 0 {
                    let wait = due.saturating_sub(now_ms());
                    if wait > 0 {
                        tokio::time::sleep(Duration::from_millis(wait)).await;
                    }
                }
                // Records change with every message, as a live feed's do.
                let filler = if json {
                    format!(r#""rows":{}"#, rows(size, i as usize))
                } else {
                    pad.clone()
                };
                let payload = format!(r#"{{"i":{i},"ts":{},"due":{due},{filler}}}"#, now_ms());
                let target = if rooms > 0 {
                    format!("room{}", i % rooms)
                } else {
                    room.clone()
                };
                ns.emit_to_room(&target, "tick", &Args::trusted_json(payload));
                if each || (rate == 0 && i % 16 == 15) {
                    tokio::task::yield_now().await;
                }
            }
        });
    });
    if let Some(url) = args.windows(2).find(|w| w[0] == "--redis").map(|w| &w[1]) {
        use roomcast::adapters::redis::{PubSub, RedisAdapterConfig};
        let mut redis = RedisAdapterConfig::new(url);
        if let Some(mode) = args.windows(2).find(|w| w[0] == "--redis-sharded") {
            match PubSub::sharded(Some(&mode[1])) {
                Ok(pubsub) => redis.pubsub = pubsub,
                Err(error) => {
                    eprintln!("{error}");
                    std::process::exit(1);
                }
            }
        }
        if let Err(error) = roomcast::adapters::redis::cluster_through_redis(&server, &redis) {
            eprintln!("cannot use Redis: {error}");
            std::process::exit(1);
        }
    }
    match server.start().await {
        Ok(addr) => println!("listening on {}", addr.port()),
        Err(error) => {
            eprintln!("cannot listen: {error}");
            std::process::exit(1);
        }
    }
    let _ = tokio::signal::ctrl_c().await;
}
