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
//! - `recovery`: like paced, and every `--drop-every-ms` a `--drop-percent` share of the clients
//!   loses its TCP connection (no close frame: a network cut) and reconnects `--away-ms` later
//!   with its `pid` and last offset (connection-state recovery, to `--alt-port` when given: a
//!   load balancer moving it to another node). Reports the share of the scheduled messages that
//!   arrived, duplicates, and recovered / fresh reconnects.
//!
//! With `--control-port`, client 0 (which triggers the emits) connects to another node, so every
//! delivery to the others crosses the cluster. With `--deflate`, every client offers
//! permessage-deflate (and inflates what arrives compressed); with `--json` the emitted payload
//! is a list of trade-like records (realistic JSON to compress) instead of padding; with
//! `--each` the server yields to its runtime after every emit (a live feed) instead of bursting. Bytes read
//! from the sockets are counted (`bytesReceived`) when either is given.
//!
//! Prints one JSON line with the results on stdout; progress goes to stderr.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use std::pin::Pin;
use std::task::{Context, Poll};

use futures_util::{SinkExt, StreamExt};
use roomcast::engineio::deflate::inflate::InflatingStream;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpSocket;
use tokio::sync::Semaphore;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
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
    /// Clients are in `room<offset>..`: several load generators on several nodes use
    /// different rooms.
    room_offset: usize,
    /// Paced emits go round-robin over this many rooms (0: `rooms`); rooms no client of this
    /// generator is in take their share too (they are other nodes' rooms).
    blast_rooms: usize,
    /// Clients started before waiting for them to connect (a storm: all of them).
    wave: usize,
    drop_every_ms: u64,
    drop_percent: u64,
    away_ms: u64,
    /// Where dropped clients reconnect (default: `port`).
    alt_port: u16,
    /// Where client 0, which triggers the emits, connects (default: `port`): another node makes
    /// every delivery cross the cluster.
    control_port: u16,
    /// Offer permessage-deflate.
    deflate: bool,
    /// Ask for realistic JSON payloads.
    json: bool,
    /// Ask the server to yield to its runtime after every emit (a live feed's pattern).
    each: bool,
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
        room_offset: num("--room-offset", "0") as usize,
        blast_rooms: num("--blast-rooms", "0") as usize,
        wave: num("--wave", "500").max(1) as usize,
        drop_every_ms: num("--drop-every-ms", "2000").max(100),
        drop_percent: num("--drop-percent", "10").clamp(1, 100),
        away_ms: num("--away-ms", "500"),
        alt_port: num("--alt-port", "0") as u16,
        control_port: num("--control-port", "0") as u16,
        deflate: args.iter().any(|a| a == "--deflate"),
        json: args.iter().any(|a| a == "--json"),
        each: args.iter().any(|a| a == "--each"),
    }
}

/// This process's CPU time (user + system), to show what the load generator itself costs.
fn self_cpu_seconds() -> f64 {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    let fields: Vec<&str> = stat
        .rsplit_once(") ")
        .map(|(_, rest)| rest.split(' ').collect())
        .unwrap_or_default();
    let ticks = |i: usize| {
        fields
            .get(i)
            .and_then(|v| v.parse::<f64>().ok())
            .unwrap_or(0.0)
    };
    (ticks(11) + ticks(12)) / 100.0
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
    /// Messages (by index `i`) a client saw a second time.
    duplicates: AtomicU64,
    last_receive_ms: AtomicU64,
    reconnects: AtomicU64,
    recovered: AtomicU64,
    fresh: AtomicU64,
    failed_reconnects: AtomicU64,
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

/// What a client keeps across reconnections.
struct ClientState {
    index: usize,
    rooms: usize,
    room_offset: usize,
    /// Private session id and last offset seen, for connection-state recovery.
    pid: Option<String>,
    offset: Option<String>,
    /// Message indexes seen, one bit each, to count duplicates.
    seen: Vec<u64>,
}

impl ClientState {
    fn connect_packet(&self) -> String {
        // `sessionID`/`userId` too: servers with the seed's auth hand-off require them.
        let mut auth = format!(
            "40{{\"token\":\"t{i}\",\"sessionID\":\"s{i}\",\"userId\":\"t{i}\",\"room\":\"room{}\"",
            self.room_offset + self.index % self.rooms,
            i = self.index
        );
        if let (Some(pid), Some(offset)) = (&self.pid, &self.offset) {
            auth.push_str(&format!(",\"pid\":\"{pid}\",\"offset\":\"{offset}\""));
        }
        auth.push('}');
        auth
    }

    /// Records message `i`; false when it was seen before.
    fn first_sighting(&mut self, i: u64) -> bool {
        let (word, bit) = ((i / 64) as usize, 1u64 << (i % 64));
        if self.seen.len() <= word {
            self.seen.resize(word + 1, 0);
        }
        let new = self.seen[word] & bit == 0;
        self.seen[word] |= bit;
        new
    }
}

/// The string after the last `,"` when a packet's last argument is a string (the recovery offset).
fn trailing_string(text: &str) -> Option<&str> {
    let body = text.strip_suffix("\"]")?;
    let at = body.rfind(",\"")?;
    let offset = &body[at + 2..];
    (!offset.contains('"')).then_some(offset)
}

/// A string value after `"key":"` (the connect reply's `pid`).
fn string_after<'a>(text: &'a str, key: &str) -> Option<&'a str> {
    let at = text.find(key)? + key.len();
    let rest = text[at..].strip_prefix('"')?;
    rest.split('"').next()
}

type Ws = tokio_tungstenite::WebSocketStream<ClientStream>;

/// Bytes read from every client socket, when counted.
static BYTES_IN: AtomicU64 = AtomicU64::new(0);

/// A client's socket: as is, counted, or counted and inflating permessage-deflate frames.
enum ClientStream {
    Plain(tokio::net::TcpStream),
    Counted(Counted),
    Deflate(InflatingStream<Counted>),
}

struct Counted(tokio::net::TcpStream);

impl AsyncRead for Counted {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        let before = buf.filled().len();
        let polled = Pin::new(&mut self.0).poll_read(cx, buf);
        BYTES_IN.fetch_add((buf.filled().len() - before) as u64, Ordering::Relaxed);
        polled
    }
}

impl AsyncWrite for Counted {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        data: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        Pin::new(&mut self.0).poll_write(cx, data)
    }
    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.0).poll_flush(cx)
    }
    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.0).poll_shutdown(cx)
    }
}

impl AsyncRead for ClientStream {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        match self.get_mut() {
            Self::Plain(s) => Pin::new(s).poll_read(cx, buf),
            Self::Counted(s) => Pin::new(s).poll_read(cx, buf),
            Self::Deflate(s) => Pin::new(s).poll_read(cx, buf),
        }
    }
}

impl AsyncWrite for ClientStream {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        data: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        match self.get_mut() {
            Self::Plain(s) => Pin::new(s).poll_write(cx, data),
            Self::Counted(s) => Pin::new(s).poll_write(cx, data),
            Self::Deflate(s) => Pin::new(s).poll_write(cx, data),
        }
    }
    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        match self.get_mut() {
            Self::Plain(s) => Pin::new(s).poll_flush(cx),
            Self::Counted(s) => Pin::new(s).poll_flush(cx),
            Self::Deflate(s) => Pin::new(s).poll_flush(cx),
        }
    }
    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        match self.get_mut() {
            Self::Plain(s) => Pin::new(s).poll_shutdown(cx),
            Self::Counted(s) => Pin::new(s).poll_shutdown(cx),
            Self::Deflate(s) => Pin::new(s).poll_shutdown(cx),
        }
    }
}

async fn open(index: usize, port: u16, options: &Options) -> std::io::Result<Ws> {
    let source = IpAddr::V4(Ipv4Addr::new(
        127,
        0,
        (index / 250 % 250) as u8,
        (index % 250 + 2) as u8,
    ));
    let socket = TcpSocket::new_v4()?;
    socket.bind(SocketAddr::new(source, 0))?;
    let stream = socket
        .connect(SocketAddr::from(([127, 0, 0, 1], port)))
        .await?;
    stream.set_nodelay(true)?;
    let url = format!("ws://127.0.0.1:{port}/socket.io/?EIO=4&transport=websocket");
    let mut request = url.into_client_request().map_err(std::io::Error::other)?;
    if options.deflate {
        request.headers_mut().insert(
            "Sec-WebSocket-Extensions",
            "permessage-deflate; client_max_window_bits"
                .parse()
                .map_err(std::io::Error::other)?,
        );
    }
    let stream = match (options.deflate, options.json) {
        (true, _) => {
            ClientStream::Deflate(InflatingStream::after_http_head(Counted(stream), 64 << 20))
        }
        (false, true) => ClientStream::Counted(Counted(stream)),
        (false, false) => ClientStream::Plain(stream),
    };
    // tungstenite's default 128 KiB read buffer is zero-filled as it is used: with one small
    // message per read that memset was two thirds of the load generator's CPU.
    let mut config = tokio_tungstenite::tungstenite::protocol::WebSocketConfig::default();
    config.read_buffer_size = 4096;
    let (ws, _) = tokio_tungstenite::client_async_with_config(request, stream, Some(config))
        .await
        .map_err(std::io::Error::other)?;
    Ok(ws)
}

/// How one connection ended.
enum Ended {
    Stopped,
    /// Dropped on purpose by the recovery scenario: reconnect.
    Cut,
    /// The server closed it or it failed.
    Lost,
}

struct Signals {
    ready: Arc<Semaphore>,
    stop: Arc<tokio::sync::Notify>,
    /// Drop rounds: each round cuts the clients whose index falls in its share.
    drops: tokio::sync::watch::Receiver<u64>,
}

async fn client(
    index: usize,
    options: Arc<Options>,
    counters: Arc<Counters>,
    mut signals: Signals,
    control: Option<tokio::sync::mpsc::Receiver<String>>,
) {
    let mut state = ClientState {
        index,
        rooms: options.rooms,
        room_offset: options.room_offset,
        pid: None,
        offset: None,
        seen: Vec::new(),
    };
    let mut control = control;
    let mut port = match options.control_port {
        p if index == 0 && p != 0 => p,
        _ => options.port,
    };
    let mut first = true;
    loop {
        let (ended, connected) = match open(index, port, &options).await {
            Ok(ws) => {
                session(
                    ws,
                    &mut state,
                    &counters,
                    &mut signals,
                    &mut control,
                    &options,
                    first,
                )
                .await
            }
            Err(error) => {
                if index == 0 {
                    eprintln!("client 0 cannot connect: {error}");
                }
                (Ended::Lost, false)
            }
        };
        match (ended, connected) {
            (Ended::Cut, _) => {}
            (_, false) if first => {
                counters.failed.fetch_add(1, Ordering::Relaxed);
                signals.ready.add_permits(1);
                return;
            }
            (Ended::Lost, false) => {
                counters.failed_reconnects.fetch_add(1, Ordering::Relaxed);
                return;
            }
            _ => return,
        }
        first = false;
        if options.alt_port != 0 {
            port = if port == options.port {
                options.alt_port
            } else {
                options.port
            };
        }
        tokio::select! {
            _ = tokio::time::sleep(Duration::from_millis(options.away_ms)) => {}
            _ = signals.stop.notified() => return,
        }
    }
}

/// Drives one connection until the scenario stops, the drop round cuts it, or it is lost.
async fn session(
    mut ws: Ws,
    state: &mut ClientState,
    counters: &Counters,
    signals: &mut Signals,
    control: &mut Option<tokio::sync::mpsc::Receiver<String>>,
    options: &Options,
    first: bool,
) -> (Ended, bool) {
    let mut connected = false;
    // Client 0 carries the control channel and is never cut.
    let share = options.drop_percent as usize;
    let index = state.index;
    let mut drops_open = true;
    let my_round = |round: u64| index_in_round(index, round, share);
    loop {
        tokio::select! {
            message = ws.next() => {
                let message = match message {
                    Some(Ok(message)) => message,
                    Some(Err(error)) => {
                        if index == 0 {
                            eprintln!("client 0 lost: {error}");
                        }
                        return (Ended::Lost, connected);
                    }
                    None => return (Ended::Lost, connected),
                };
                let Message::Text(text) = message else { continue };
                let text = text.as_str();
                if text.starts_with('0') {
                    let _ = ws.send(Message::Text(state.connect_packet().into())).await;
                } else if text == "2" {
                    let _ = ws.send(Message::Text("3".into())).await;
                } else if text.starts_with("40") && !connected {
                    connected = true;
                    let pid = string_after(text, "\"pid\":");
                    if first {
                        counters.connected.fetch_add(1, Ordering::Relaxed);
                        signals.ready.add_permits(1);
                    } else {
                        counters.reconnects.fetch_add(1, Ordering::Relaxed);
                        let recovered = pid.is_some() && pid == state.pid.as_deref();
                        let counter = if recovered { &counters.recovered } else { &counters.fresh };
                        counter.fetch_add(1, Ordering::Relaxed);
                    }
                    state.pid = pid.map(str::to_owned);
                } else if text.starts_with("42") {
                    let now = now_ms();
                    if let Some(offset) = trailing_string(text) {
                        state.offset = Some(offset.to_owned());
                    }
                    let new = number_after(text, "\"i\":").is_none_or(|i| state.first_sighting(i));
                    if !new {
                        counters.duplicates.fetch_add(1, Ordering::Relaxed);
                        continue;
                    }
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
            changed = async { if drops_open { signals.drops.changed().await } else { std::future::pending().await } } => {
                if changed.is_err() {
                    // No more drop rounds (or none in this scenario).
                    drops_open = false;
                    continue;
                }
                let round = *signals.drops.borrow_and_update();
                if connected && index != 0 && my_round(round) {
                    // Dropping the stream closes the TCP connection without a close frame.
                    return (Ended::Cut, true);
                }
            }
            _ = signals.stop.notified() => return (Ended::Stopped, connected),
        }
    }
}

/// Whether client `index` is in the `share` percent cut in drop round `round` (rounds walk
/// through the clients so each round cuts different ones).
fn index_in_round(index: usize, round: u64, share: usize) -> bool {
    let slots = (100 / share.max(1)).max(1);
    round > 0 && index % slots == (round as usize - 1) % slots
}

#[tokio::main]
async fn main() {
    let options = Arc::new(parse());
    let counters = Arc::new(Counters::default());
    let ready = Arc::new(Semaphore::new(0));
    let stop = Arc::new(tokio::sync::Notify::new());
    let (drops_tx, drops_rx) = tokio::sync::watch::channel(0u64);
    let (control_tx, control_rx) = tokio::sync::mpsc::channel::<String>(4);
    let mut control_rx = Some(control_rx);
    let started = Instant::now();
    // Connect in waves so the accept queue is not the thing measured.
    let wave = options.wave;
    let mut handles = Vec::with_capacity(options.clients);
    for index in 0..options.clients {
        let control = if index == 0 { control_rx.take() } else { None };
        let signals = Signals {
            ready: ready.clone(),
            stop: stop.clone(),
            drops: drops_rx.clone(),
        };
        handles.push(tokio::spawn(client(
            index,
            options.clone(),
            counters.clone(),
            signals,
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
        "loadgenCpuSecondsToConnect": self_cpu_seconds(),
    });
    let cpu_after_connect = self_cpu_seconds();
    match options.scenario.as_str() {
        "fanout" | "paced" | "recovery" => {
            let cutter = (options.scenario == "recovery").then(|| {
                let every = Duration::from_millis(options.drop_every_ms);
                // Cuts stop one drop period before the schedule ends, so the last ones can
                // come back while messages still flow.
                let rounds = (options.messages * 1000 / options.rate.max(1))
                    .saturating_sub(options.drop_every_ms)
                    / options.drop_every_ms;
                tokio::spawn(async move {
                    for round in 1..=rounds {
                        tokio::time::sleep(every).await;
                        let _ = drops_tx.send(round);
                    }
                })
            });
            run_broadcast(&options, &counters, connected, &control_tx, &mut result).await;
            if let Some(cutter) = cutter {
                cutter.abort();
            }
        }
        _ => tokio::time::sleep(Duration::from_millis(options.hold_ms)).await,
    }
    result["loadgenCpuSecondsAfterConnect"] = (self_cpu_seconds() - cpu_after_connect).into();
    println!("{result}");
    stop.notify_waiters();
    for handle in handles {
        handle.abort();
    }
}

/// Fan-out: every emit to everyone. Paced and recovery: emits go round-robin to the `--rooms`
/// rooms, so each reaches its share of the clients (below saturation).
async fn run_broadcast(
    options: &Options,
    counters: &Counters,
    connected: u64,
    control: &tokio::sync::mpsc::Sender<String>,
    result: &mut serde_json::Value,
) {
    let paced = options.scenario != "fanout";
    let blast_rooms = match options.blast_rooms {
        0 => options.rooms,
        n => n,
    };
    let (rate, rooms) = if paced {
        (options.rate, blast_rooms)
    } else {
        (0, 0)
    };
    let expected = if paced {
        let spread = Spread {
            rooms: options.rooms as u64,
            offset: options.room_offset as u64,
            blast: blast_rooms as u64,
        };
        expected_paced(connected, options.messages, spread)
    } else {
        connected * options.messages
    };
    let command = format!(
        "42[\"blast\",{{\"room\":\"all\",\"rooms\":{rooms},\"n\":{},\"size\":{},\"rate\":{rate},\"json\":{},\"each\":{}}}]",
        options.messages, options.size, options.json, options.each
    );
    // Bytes are counted from the trigger on: the deliveries, not the handshakes.
    BYTES_IN.store(0, Ordering::Relaxed);
    let trigger = now_ms();
    let _ = control.send(command).await;
    let budget = Duration::from_secs(if options.scenario == "recovery" {
        20
    } else {
        60
    }) + Duration::from_millis(options.messages * 1000 / options.rate.max(1));
    let deadline = Instant::now() + budget;
    while counters.received.load(Ordering::Relaxed) < expected && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    if options.scenario == "recovery" {
        // Late duplicates would show up here.
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    let received = counters.received.load(Ordering::Relaxed);
    let last = counters.last_receive_ms.load(Ordering::Relaxed);
    let seconds = (last.saturating_sub(trigger) as f64 / 1000.0).max(0.001);
    let load = |c: &AtomicU64| c.load(Ordering::Relaxed);
    result["expected"] = expected.into();
    result["received"] = received.into();
    result["deliveredShare"] = (received as f64 / expected.max(1) as f64).into();
    result["duplicates"] = load(&counters.duplicates).into();
    result["reconnects"] = load(&counters.reconnects).into();
    result["recovered"] = load(&counters.recovered).into();
    result["fresh"] = load(&counters.fresh).into();
    result["failedReconnects"] = load(&counters.failed_reconnects).into();
    result["triggerToLastMs"] = last.saturating_sub(trigger).into();
    result["deliveriesPerSecond"] = ((received as f64) / seconds).round().into();
    result["bytesReceived"] = BYTES_IN.load(Ordering::Relaxed).into();
    result["latencyVsTs"] = serde_json::json!({ "p50": counters.late_vs_ts.quantile(0.5), "p99": counters.late_vs_ts.quantile(0.99), "max": counters.late_vs_ts.max() });
    result["latencyVsDue"] = serde_json::json!({ "p50": counters.late_vs_due.quantile(0.5), "p99": counters.late_vs_due.quantile(0.99), "max": counters.late_vs_due.max() });
}

/// Where clients and paced emits go: client `c` is in room `offset + c % rooms`; message `i`
/// goes to room `i % blast`.
struct Spread {
    rooms: u64,
    offset: u64,
    blast: u64,
}

fn expected_paced(clients: u64, messages: u64, spread: Spread) -> u64 {
    let rooms = spread.rooms.max(1);
    let blast = spread.blast.max(1);
    (0..rooms)
        .map(|k| {
            let members = clients / rooms + u64::from(k < clients % rooms);
            let room = spread.offset + k;
            let per_member = match room < blast {
                true => messages / blast + u64::from(room < messages % blast),
                false => 0,
            };
            members * per_member
        })
        .sum()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_offsets_and_pids() {
        assert_eq!(
            trailing_string(r#"42["tick",{"i":1},"ab-12"]"#),
            Some("ab-12")
        );
        assert_eq!(trailing_string(r#"42["tick",{"pad":"x"}]"#), None);
        assert_eq!(
            string_after(r#"40{"sid":"s","pid":"p1"}"#, "\"pid\":"),
            Some("p1")
        );
        assert_eq!(number_after(r#"{"i":42,"ts":1}"#, "\"i\":"), Some(42));
    }

    #[test]
    fn counts_messages_once() {
        let mut state = ClientState {
            index: 3,
            rooms: 10,
            room_offset: 0,
            pid: Some("p".into()),
            offset: Some("o".into()),
            seen: Vec::new(),
        };
        assert!(state.first_sighting(130));
        assert!(!state.first_sighting(130));
        assert!(state.first_sighting(0));
        assert!(state
            .connect_packet()
            .ends_with(r#""room":"room3","pid":"p","offset":"o"}"#));
    }

    #[test]
    fn drop_rounds_cut_a_share_each() {
        let cut = |round| (0..1000).filter(|&i| index_in_round(i, round, 10)).count();
        assert_eq!(cut(0), 0);
        assert_eq!(cut(1), 100);
        assert_eq!(cut(7), 100);
        let overlap = (0..1000)
            .filter(|&i| index_in_round(i, 1, 10) && index_in_round(i, 2, 10))
            .count();
        assert_eq!(overlap, 0, "consecutive rounds cut different clients");
    }

    #[test]
    fn expected_counts_follow_the_round_robin() {
        let same = |rooms| Spread {
            rooms,
            offset: 0,
            blast: rooms,
        };
        assert_eq!(expected_paced(10, 20, same(10)), 20);
        assert_eq!(expected_paced(11, 20, same(10)), 22);
        assert_eq!(expected_paced(10, 21, same(10)), 21);
        // Half the rooms are another node's: half the messages reach these clients.
        let first_half = Spread {
            rooms: 5,
            offset: 0,
            blast: 10,
        };
        assert_eq!(expected_paced(10, 20, first_half), 20);
        let second_half = Spread {
            rooms: 5,
            offset: 5,
            blast: 10,
        };
        assert_eq!(expected_paced(10, 21, second_half), 20);
    }
}
