//! Interoperability server: a raw Engine.IO echo at `/engine.io/` and Socket.IO at `/socket.io/`
//! with namespaces `/` and `/custom`. On connect it emits `auth` with the connect payload,
//! answers `message` with `message-back` (same arguments) and acknowledges `message-with-ack`
//! with the same arguments.
//!
//! Test helpers beside that contract: `join` (room name) joins a room, `leave` leaves it,
//! `emit-to-room` (`{room, event, data}`) broadcasts to a room, `server-ack` makes the server emit
//! `ack-me` with an ack and report the reply as `server-ack-result`, and the namespace `/private`
//! accepts only `auth.token == "secret"` (its middleware answers after a short async delay).
//!
//! Prints `listening on <port>` once ready, so test harnesses can use `--port 0`.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use roomcast::engineio::allow_request::{AllowRequest, IncomingRequest, RequestRefused};
use roomcast::socketio::recovery::RecoveryConfig;
use roomcast::{
    Args, EngineConfig, EngineHandler, Message, OutFrame, Server, Session, SessionHandler,
    SocketRef,
};

const HELP: &str = "echo-server: roomcast interoperability server

USAGE: echo-server [--port N] [--ping-interval MS] [--ping-timeout MS] [--max-payload BYTES]
                   [--recovery-ms MS] [--no-upgrades] [--deny-header NAME]

  --port N              port to listen on, 0 for any free port (default 3000)
  --ping-interval MS    Engine.IO pingInterval in milliseconds (default 300)
  --ping-timeout MS     Engine.IO pingTimeout in milliseconds (default 200)
  --max-payload BYTES   largest accepted message in bytes (default 1000000)
  --recovery-ms MS      connection-state recovery with this window (default off)
  --no-upgrades         polling sessions may not upgrade (allowUpgrades: false)
  --deny-header NAME    handshake hook: after a short delay, refuse requests carrying this
                        header, with its value as the message
  --help                this text
";

struct Options {
    port: u16,
    ping_interval: u64,
    ping_timeout: u64,
    max_payload: usize,
    recovery_ms: u64,
    allow_upgrades: bool,
    deny_header: Option<String>,
}

fn parse_args() -> Result<Options, String> {
    let mut options = Options {
        port: 3000,
        ping_interval: 300,
        ping_timeout: 200,
        max_payload: 1_000_000,
        recovery_ms: 0,
        allow_upgrades: true,
        deny_header: None,
    };
    let mut args = std::env::args().skip(1);
    while let Some(flag) = args.next() {
        if flag == "--help" || flag == "-h" {
            print!("{HELP}");
            std::process::exit(0);
        }
        if flag == "--no-upgrades" {
            options.allow_upgrades = false;
            continue;
        }
        let value = args.next().ok_or_else(|| format!("{flag} needs a value"))?;
        let bad = |_| format!("{flag}: not a number: {value}");
        match flag.as_str() {
            "--port" => options.port = value.parse().map_err(bad)?,
            "--ping-interval" => options.ping_interval = value.parse().map_err(bad)?,
            "--ping-timeout" => options.ping_timeout = value.parse().map_err(bad)?,
            "--max-payload" => options.max_payload = value.parse().map_err(bad)?,
            "--recovery-ms" => options.recovery_ms = value.parse().map_err(bad)?,
            "--deny-header" => options.deny_header = Some(value),
            _ => return Err(format!("unknown flag {flag}\n\n{HELP}")),
        }
    }
    Ok(options)
}

/// The raw Engine.IO echo: every message and binary frame goes straight back.
struct EngineEcho;

struct EchoSession(Arc<Session>);

impl EngineHandler for EngineEcho {
    fn on_open(&self, session: &Arc<Session>) -> Arc<dyn SessionHandler> {
        session.mark_connected();
        Arc::new(EchoSession(session.clone()))
    }
}

impl SessionHandler for EchoSession {
    fn on_message(&self, message: Message) -> Result<(), String> {
        let frame = match message {
            Message::Text(text) => OutFrame::message(&text),
            Message::Binary(data) => OutFrame::Binary(data),
        };
        self.0.send(frame, false);
        Ok(())
    }

    fn on_close(&self, _: roomcast::CloseReason) {}
}

fn wire_namespace(server: &Server, name: &str) {
    let ns = server.of(name);
    ns.on_connection(|socket: &SocketRef| {
        if let Ok(args) = Args::json(socket.auth_json()) {
            let _ = socket.emit("auth", &args);
        }
    });
    ns.on_event(|socket, event| match event.name.as_str() {
        "message" => {
            let _ = socket.emit("message-back", &event.args);
        }
        "message-with-ack" => {
            if let Some(ack) = event.ack {
                let _ = ack.send(&event.args);
            }
        }
        "join" | "leave" | "emit-to-room" => room_helper(socket, &event),
        // Answers with what the server knows of this socket.
        "handshake" => {
            if let (Some(ack), Ok(args)) =
                (event.ack, Args::serialize(&socket.handshake().to_json()))
            {
                let _ = ack.send(&args);
            }
        }
        "set-data" => {
            if let Ok(values) =
                serde_json::from_str::<Vec<serde_json::Value>>(&event.args.to_json_array())
            {
                socket.set_data(values.into_iter().next().unwrap_or_default());
            }
            if let Some(ack) = event.ack {
                let _ = ack.send(&Args::none());
            }
        }
        "get-data" => {
            if let (Some(ack), Ok(args)) = (event.ack, Args::serialize(&socket.data())) {
                let _ = ack.send(&args);
            }
        }
        "whoami" => {
            if let (Some(ack), Ok(args)) = (event.ack, Args::serialize(socket.id())) {
                let _ = ack.send(&args);
            }
        }
        "server-ack" => {
            let socket = socket.clone();
            tokio::spawn(async move {
                let reply = socket
                    .emit_with_ack("ack-me", &event.args, Duration::from_secs(2))
                    .await;
                let _ = match reply {
                    Ok(reply) => socket.emit("server-ack-result", &reply.args),
                    Err(error) => socket.emit(
                        "server-ack-error",
                        &Args::serialize(&error.to_string()).unwrap_or_default(),
                    ),
                };
            });
        }
        _ => {}
    });
}

fn room_helper(socket: &SocketRef, event: &roomcast::ClientEvent) {
    let Ok(values) = serde_json::from_str::<Vec<serde_json::Value>>(&event.args.to_json_array())
    else {
        return;
    };
    match (event.name.as_str(), values.first()) {
        ("join", Some(serde_json::Value::String(room))) => socket.join(room),
        ("leave", Some(serde_json::Value::String(room))) => socket.leave(room),
        ("emit-to-room", Some(spec)) => {
            let (Some(room), Some(name)) = (spec["room"].as_str(), spec["event"].as_str()) else {
                return;
            };
            if let Ok(args) = Args::serialize(&spec["data"]) {
                let ns = socket.server_namespace();
                ns.to(room).emit(name, &args);
            }
        }
        _ => {}
    }
}

/// The handshake hook of `--deny-header`: decides after a short delay, as a session-store
/// lookup would.
fn deny_by_header(header: String) -> AllowRequest {
    Arc::new(move |request: IncomingRequest| {
        let header = header.clone();
        Box::pin(async move {
            tokio::time::sleep(Duration::from_millis(20)).await;
            match request.headers.get(header.as_str()) {
                Some(value) => Err(RequestRefused::new(value.to_str().unwrap_or("denied"))),
                None => Ok(()),
            }
        })
    })
}

fn wire_private(server: &Server) {
    let ns = server.of("/private");
    ns.set_middleware(Arc::new(|request: roomcast::ConnectRequest| {
        Box::pin(async move {
            tokio::time::sleep(Duration::from_millis(20)).await;
            if request.auth["token"] == "secret" {
                Ok(None)
            } else {
                Err(roomcast::ConnectError::new("UNAUTHORIZED: bad token")
                    .with_data(serde_json::json!({ "code": "UNAUTHORIZED" })))
            }
        })
    }));
    wire_namespace(server, "/private");
    ns.on_connection(|socket: &SocketRef| {
        let _ = socket.emit("welcome", &Args::none());
    });
}

#[tokio::main]
async fn main() {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn")),
        )
        .init();
    let options = match parse_args() {
        Ok(options) => options,
        Err(message) => {
            eprintln!("{message}");
            std::process::exit(2);
        }
    };
    let config = EngineConfig {
        bind: SocketAddr::from(([127, 0, 0, 1], options.port)),
        ping_interval: Duration::from_millis(options.ping_interval),
        ping_timeout: Duration::from_millis(options.ping_timeout),
        max_payload: options.max_payload,
        allow_upgrades: options.allow_upgrades,
        recovery: (options.recovery_ms > 0).then(|| RecoveryConfig {
            max_disconnection: Duration::from_millis(options.recovery_ms),
            ..RecoveryConfig::default()
        }),
        ..EngineConfig::default()
    };
    let server = Server::new(config);
    if let Some(header) = options.deny_header {
        server.set_allow_request(deny_by_header(header));
    }
    server.mount_engineio("/engine.io/", Arc::new(EngineEcho));
    wire_namespace(&server, "/");
    wire_namespace(&server, "/custom");
    wire_private(&server);
    let addr = match server.start().await {
        Ok(addr) => addr,
        Err(error) => {
            eprintln!("cannot listen: {error}");
            std::process::exit(1);
        }
    };
    println!("listening on {}", addr.port());
    let _ = tokio::signal::ctrl_c().await;
    server
        .shutdown(Duration::from_millis(0), Duration::from_secs(2))
        .await;
}
