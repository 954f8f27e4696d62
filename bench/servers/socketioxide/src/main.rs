//! Benchmark server on socketioxide 0.18 (the same behaviour as bench/servers/roomcast and
//! bench/servers/node-socketio.mjs): token auth in the connect payload; each client joins
//! `user:<token>`, its `room` and `all`; `blast {room, rooms, n, size, rate}` emits `n` events of
//! `size` bytes to that room (or round-robin to `room0..room<rooms-1>`), at `rate` per second
//! (0 = as fast as possible), stamping `ts` (actual send) and `due` (scheduled). Served by hyper 1
//! on a listener with the same raised backlog as the others. Prints `listening on <port>`.

use std::net::SocketAddr;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use hyper_util::rt::TokioIo;
use serde::{Deserialize, Serialize};
use socketioxide::extract::{Data, SocketRef};
use socketioxide::handler::ConnectHandler;
use socketioxide::SocketIo;
use tokio::net::TcpSocket;

fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}

#[derive(Deserialize)]
struct Auth {
    token: String,
    room: Option<String>,
}

#[derive(Deserialize)]
struct Blast {
    room: Option<String>,
    rooms: Option<u64>,
    n: u64,
    size: Option<usize>,
    rate: Option<u64>,
    /// Yield to the runtime after every emit (a live feed), not every 16.
    #[serde(default)]
    each: bool,
}

#[derive(Serialize)]
struct Tick<'a> {
    i: u64,
    ts: u64,
    due: u64,
    pad: &'a str,
}

#[derive(Debug)]
struct Unauthorized;

impl std::fmt::Display for Unauthorized {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("UNAUTHORIZED")
    }
}

async fn authenticate(Data(auth): Data<Auth>) -> Result<(), Unauthorized> {
    if auth.token.starts_with('t') {
        Ok(())
    } else {
        Err(Unauthorized)
    }
}

async fn on_connect(socket: SocketRef, Data(auth): Data<Auth>) {
    socket.join(format!("user:{}", auth.token));
    if let Some(room) = auth.room {
        socket.join(room);
    }
    socket.join("all");
    socket.on("blast", async |io: SocketIo, Data(spec): Data<Blast>| {
        tokio::spawn(blast(io, spec));
    });
}

async fn blast(io: SocketIo, spec: Blast) {
    let pad = "x".repeat(spec.size.unwrap_or(100).saturating_sub(40));
    let room = spec.room.unwrap_or_else(|| "all".to_owned());
    let rooms = spec.rooms.unwrap_or(0);
    let rate = spec.rate.unwrap_or(0);
    let interval = if rate > 0 { 1000.0 / rate as f64 } else { 0.0 };
    let start = now_ms();
    for i in 0..spec.n {
        let due = start + (i as f64 * interval) as u64;
        if rate > 0 {
            let wait = due.saturating_sub(now_ms());
            if wait > 0 {
                tokio::time::sleep(Duration::from_millis(wait)).await;
            }
        }
        let target = if rooms > 0 {
            format!("room{}", i % rooms)
        } else {
            room.clone()
        };
        let tick = Tick {
            i,
            ts: now_ms(),
            due,
            pad: &pad,
        };
        let _ = io.to(target).emit("tick", &tick).await;
        if spec.each || (rate == 0 && i % 16 == 15) {
            tokio::task::yield_now().await;
        }
    }
}

#[tokio::main]
async fn main() -> std::io::Result<()> {
    let port: u16 = std::env::args()
        .next_back()
        .and_then(|p| p.parse().ok())
        .unwrap_or(0);
    // The same per-connection queue bound as the roomcast bench server.
    let (service, io) = SocketIo::builder().max_buffer_size(4096).build_svc();
    io.ns("/", on_connect.with(authenticate));

    let socket = TcpSocket::new_v4()?;
    socket.set_reuseaddr(true)?;
    socket.bind(SocketAddr::from(([127, 0, 0, 1], port)))?;
    let listener = socket.listen(4096)?;
    println!("listening on {}", listener.local_addr()?.port());
    loop {
        let Ok((stream, _)) = listener.accept().await else {
            continue;
        };
        let _ = stream.set_nodelay(true);
        let service = service.clone();
        tokio::spawn(async move {
            let _ = hyper::server::conn::http1::Builder::new()
                .serve_connection(TokioIo::new(stream), service)
                .with_upgrades()
                .await;
        });
    }
}
