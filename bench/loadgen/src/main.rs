//! Load generator: opens many Socket.IO clients over WebSocket (spread over loopback source
//! addresses 127.0.0.x to avoid ephemeral-port exhaustion), authenticates them with a token,
//! answers pings, and runs a scenario:
//!
//! - `idle`: connect everyone (in waves of `--wave`; a storm when the wave is everyone), report
//!   handshakes/s, hold the connections for `--hold-ms`.
//! - `fanout`: connect, then ask the server (event `blast`) to emit `--messages` events of
//!   `--size` bytes to the room all clients are in, as fast as it can; report deliveries/s and
//!   the time from trigger to last delivery.
//! - `paced`: like fanout at `--rate` emits/s; latency is measured against the send stamp (`ts`)
//!   and against the schedule (`due`), so a server that emits late cannot hide it.
//!
//! Prints one JSON line with the results on stdout; progress goes to stderr.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use futures_util::{SinkExt, StreamExt};
use tokio::net::TcpSocket;
use tokio::sync::Semaphore;
use tokio_tungstenite::tungstenite::Message;

struct Options {
    port: u16,
    clients: usize,
    scenario: String,
    messages: u64,
    size: usize,
    rate: u64,
    hold_ms: u64,
    rooms: usize,
    /// Clients started before waiting for them to connect (a storm: all of them).
    wave: usize,
}

fn parse() -> Options {
    let args: Vec<String> = std::env::args().collect();
    let get = |name: &str, default: &str| {
        args.windows(2)
            .find(|w| w[0] == name)
            .map(|w| w[1].clone())
            .unwrap_or_else(|| default.to_owned())
    };
    let num = |name: &str, default: &str| get(name, default).parse::<u64>().unwrap_or(0);
    Options {
        port: num("--port", "3000") as u16,
        clients: num("--clients", "1000") as usize,
        scenario: get("--scenario", "idle"),
        messages: num("--messages", "200"),
        size: num("--size", "100") as usize,
        rate: num("--rate", "20"),
        hold_ms: num("--hold-ms", "2000"),
        rooms: num("--rooms", "1").max(1) as usize,
        wave: num("--wave", "500").max(1) as usize,
    }
}

fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}

#[derive(Default)]
struct Counters {
    connected: AtomicU64,
    failed: AtomicU64,
    received: AtomicU64,
    last_receive_ms: AtomicU64,
    /// Latency histograms in ms buckets (0..=9999, then overflow).
    late_vs_ts: Histogram,
    late_vs_due: Histogram,
}

struct Histogram(Vec<AtomicU64>);

impl Default for Histogram {
    fn default() -> Self {
        Self((0..10_001).map(|_| AtomicU64::new(0)).collect())
    }
}

impl Histogram {
    fn record(&self, ms: u64) {
        self.0[(ms as usize).min(10_000)].fetch_add(1, Ordering::Relaxed);
    }
    fn quantile(&self, q: f64) -> u64 {
        let counts: Vec<u64> = self.0.iter().map(|c| c.load(Ordering::Relaxed)).collect();
        let total: u64 = counts.iter().sum();
        if total == 0 {
            return 0;
        }
        let rank = ((total as f64) * q).ceil() as u64;
        let mut seen = 0;
        for (ms, c) in counts.iter().enumerate() {
            seen += c;
            if seen >= rank {
                return ms as u64;
            }
        }
        10_000
    }
    fn max(&self) -> u64 {
        self.0
            .iter()
            .rposition(|c| c.load(Ordering::Relaxed) > 0)
            .unwrap_or(0) as u64
    }
}

/// Extracts the number after `"key":` in a packet (cheap; avoids parsing every message).
fn number_after(text: &str, key: &str) -> Option<u64> {
    let at = text.find(key)? + key.len();
    let digits: String = text[at..]
        .chars()
        .take_while(|c| c.is_ascii_digit())
        .collect();
    digits.parse().ok()
}

async fn client(
    index: usize,
    port: u16,
    rooms: usize,
    counters: Arc<Counters>,
    ready: Arc<Semaphore>,
    stop: Arc<tokio::sync::Notify>,
    control: Option<tokio::sync::mpsc::Receiver<String>>,
) {
    let source = IpAddr::V4(Ipv4Addr::new(
        127,
        0,
        (index / 250 % 250) as u8,
        (index % 250 + 2) as u8,
    ));
    let result = async {
        let socket = TcpSocket::new_v4()?;
        socket.bind(SocketAddr::new(source, 0))?;
        let stream = socket
            .connect(SocketAddr::from(([127, 0, 0, 1], port)))
            .await?;
        stream.set_nodelay(true)?;
        let url = format!("ws://127.0.0.1:{port}/socket.io/?EIO=4&transport=websocket");
        let (ws, _) = tokio_tungstenite::client_async(url, stream)
            .await
            .map_err(std::io::Error::other)?;
        Ok::<_, std::io::Error>(ws)
    }
    .await;
    let mut ws = match result {
        Ok(ws) => ws,
        Err(_) => {
            counters.failed.fetch_add(1, Ordering::Relaxed);
            ready.add_permits(1);
            return;
        }
    };
    // `sessionID`/`userId` too: servers with the seed's auth hand-off require them.
    let auth = format!(
        "40{{\"token\":\"t{index}\",\"sessionID\":\"s{index}\",\"userId\":\"t{index}\",\"room\":\"room{}\"}}",
        index % rooms
    );
    let mut control = control;
    let mut connected = false;
    loop {
        tokio::select! {
            message = ws.next() => {
                let Some(Ok(message)) = message else { break };
                let Message::Text(text) = message else { continue };
                let text = text.as_str();
                if text.starts_with('0') {
                    let _ = ws.send(Message::Text(auth.clone().into())).await;
                } else if text == "2" {
                    let _ = ws.send(Message::Text("3".into())).await;
                } else if text.starts_with("40") && !connected {
                    connected = true;
                    counters.connected.fetch_add(1, Ordering::Relaxed);
                    ready.add_permits(1);
                } else if text.starts_with("42") {
                    let now = now_ms();
                    counters.received.fetch_add(1, Ordering::Relaxed);
                    counters.last_receive_ms.fetch_max(now, Ordering::Relaxed);
                    if let Some(ts) = number_after(text, "\"ts\":") {
                        counters.late_vs_ts.record(now.saturating_sub(ts));
                    }
                    if let Some(due) = number_after(text, "\"due\":") {
                        counters.late_vs_due.record(now.saturating_sub(due));
                    }
                }
            }
            command = async { match control.as_mut() { Some(c) => c.recv().await, None => std::future::pending().await } } => {
                if let Some(command) = command {
                    let _ = ws.send(Message::Text(command.into())).await;
                }
            }
            _ = stop.notified() => break,
        }
    }
    if !connected {
        counters.failed.fetch_add(1, Ordering::Relaxed);
        ready.add_permits(1);
    }
}

#[tokio::main]
async fn main() {
    let options = parse();
    let counters = Arc::new(Counters::default());
    let ready = Arc::new(Semaphore::new(0));
    let stop = Arc::new(tokio::sync::Notify::new());
    let (control_tx, control_rx) = tokio::sync::mpsc::channel::<String>(4);
    let mut control_rx = Some(control_rx);
    let started = Instant::now();
    // Connect in waves so the accept queue is not the thing measured.
    let wave = options.wave;
    let mut handles = Vec::with_capacity(options.clients);
    for index in 0..options.clients {
        let control = if index == 0 { control_rx.take() } else { None };
        handles.push(tokio::spawn(client(
            index,
            options.port,
            options.rooms,
            counters.clone(),
            ready.clone(),
            stop.clone(),
            control,
        )));
        if index % wave == wave - 1 {
            let _ = ready.acquire_many(wave as u32).await.map(|p| p.forget());
        }
    }
    let rest = (options.clients % wave) as u32;
    if rest > 0 {
        let _ = ready.acquire_many(rest).await.map(|p| p.forget());
    }
    let connect_seconds = started.elapsed().as_secs_f64();
    let connected = counters.connected.load(Ordering::Relaxed);
    let handshakes_per_second = connected as f64 / connect_seconds.max(0.001);
    eprintln!(
        "connected {connected}/{} in {connect_seconds:.2} s",
        options.clients
    );
    println!(
        "{}",
        serde_json::json!({ "phase": "connected", "connected": connected, "seconds": connect_seconds })
    );

    let mut result = serde_json::json!({
        "phase": "done",
        "scenario": options.scenario,
        "clients": options.clients,
        "connected": connected,
        "failed": counters.failed.load(Ordering::Relaxed),
        "connectSeconds": connect_seconds,
        "handshakesPerSecond": handshakes_per_second.round(),
    });
    match options.scenario.as_str() {
        "fanout" | "paced" => {
            // Fan-out: every emit to everyone. Paced: emits go round-robin to the `--rooms` rooms,
            // so each reaches its share of the clients (below saturation).
            let paced = options.scenario == "paced";
            let (rate, rooms) = if paced {
                (options.rate, options.rooms)
            } else {
                (0, 0)
            };
            let expected = if paced {
                connected * options.messages / options.rooms as u64
            } else {
                connected * options.messages
            };
            let command = format!(
                "42[\"blast\",{{\"room\":\"all\",\"rooms\":{rooms},\"n\":{},\"size\":{},\"rate\":{rate}}}]",
                options.messages, options.size
            );
            let trigger = now_ms();
            let _ = control_tx.send(command).await;
            let budget = Duration::from_secs(60)
                + Duration::from_millis(options.messages * 1000 / options.rate.max(1));
            let deadline = Instant::now() + budget;
            while counters.received.load(Ordering::Relaxed) < expected && Instant::now() < deadline
            {
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
            let received = counters.received.load(Ordering::Relaxed);
            let last = counters.last_receive_ms.load(Ordering::Relaxed);
            let seconds = (last.saturating_sub(trigger) as f64 / 1000.0).max(0.001);
            result["expected"] = expected.into();
            result["received"] = received.into();
            result["triggerToLastMs"] = last.saturating_sub(trigger).into();
            result["deliveriesPerSecond"] = ((received as f64) / seconds).round().into();
            result["latencyVsTs"] = serde_json::json!({ "p50": counters.late_vs_ts.quantile(0.5), "p99": counters.late_vs_ts.quantile(0.99), "max": counters.late_vs_ts.max() });
            result["latencyVsDue"] = serde_json::json!({ "p50": counters.late_vs_due.quantile(0.5), "p99": counters.late_vs_due.quantile(0.99), "max": counters.late_vs_due.max() });
        }
        _ => tokio::time::sleep(Duration::from_millis(options.hold_ms)).await,
    }
    println!("{result}");
    stop.notify_waiters();
    for handle in handles {
        handle.abort();
    }
}
