//! A scriptable host of the seed's `RealtimeServer`, used by the cross-language tests and handy
//! for poking at the engine by hand.
//!
//! Commands arrive as JSON lines on stdin; every event and answer leaves as a JSON line on
//! stdout. The session store is an in-memory table filled by `session` commands, and the
//! validator treats a few session ids specially to exercise every failure mode:
//! `fail*` → the validator errors, `hang*` → it never answers, `panic*` → it panics.
//!
//! Commands: `{"op":"session","sessionID","userId","userName","userRole"}`,
//! `{"op":"logout","sessionID"}`, `{"op":"emitToUser","userId","event","data"}`,
//! `{"op":"emitToRoom","room","event","data"}`, `{"op":"emitToAll","event","data"}`,
//! `{"op":"disconnectUser","userId"}`, `{"op":"stats"}`, `{"op":"metrics"}`,
//! `{"op":"subscriptions","userId"}`, `{"op":"shutdown","graceMs"}`.
//! Each answer is `{"op":…,"id":…,"result":…}` (the command's `id` is echoed).

use std::collections::HashMap;
use std::io::Write;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use roomcast::limits::RateLimit;
use roomcast::{Args, AuthDecision, AuthRequest, Identity, RealtimeConfig, RealtimeServer};
use serde_json::{json, Value};
use tokio::io::{AsyncBufReadExt, BufReader};

type Sessions = Arc<Mutex<HashMap<String, (String, String, String)>>>;

fn say(value: Value) {
    let mut out = std::io::stdout().lock();
    let _ = writeln!(out, "{value}");
    let _ = out.flush();
}

fn flag(args: &[String], name: &str, default: u64) -> u64 {
    args.windows(2)
        .find(|w| w[0] == name)
        .and_then(|w| w[1].parse().ok())
        .unwrap_or(default)
}

fn config_from_args() -> RealtimeConfig {
    let args: Vec<String> = std::env::args().collect();
    if args.iter().any(|a| a == "--help") {
        println!(
            "realtime-host [--port N] [--ping-interval MS] [--ping-timeout MS] [--auth-timeout MS]\n  \
             [--rate-limit N-per-minute] [--max-subscriptions N] [--max-violations N] [--redis URL]\n\
             Reads JSON commands on stdin, writes JSON events on stdout."
        );
        std::process::exit(0);
    }
    let mut config = RealtimeConfig::default();
    config.engine.bind = SocketAddr::from(([127, 0, 0, 1], flag(&args, "--port", 0) as u16));
    config.engine.ping_interval = Duration::from_millis(flag(&args, "--ping-interval", 25_000));
    if let Some(ms) = args
        .windows(2)
        .find(|w| w[0] == "--write-coalesce")
        .and_then(|w| w[1].parse().ok())
    {
        config.engine.ws_write_coalesce = Duration::from_millis(ms);
    }
    config.engine.ping_timeout = Duration::from_millis(flag(&args, "--ping-timeout", 60_000));
    config.auth_timeout = Duration::from_millis(flag(&args, "--auth-timeout", 5_000));
    let per_minute = RateLimit::per_minute(flag(&args, "--rate-limit", 10) as u32);
    for limit in config.rate_limits.values_mut() {
        *limit = per_minute;
    }
    config.max_subscriptions = flag(&args, "--max-subscriptions", 50) as u32;
    config.max_rate_violations = flag(&args, "--max-violations", 20) as u32;
    let recovery_ms = flag(&args, "--recovery-ms", 0);
    if recovery_ms > 0 {
        config.engine.recovery = Some(roomcast::socketio::recovery::RecoveryConfig {
            max_disconnection: Duration::from_millis(recovery_ms),
            max_packets: flag(&args, "--recovery-packets", 10_000) as usize,
            max_bytes: flag(&args, "--recovery-bytes", 32 << 20) as usize,
            ..Default::default()
        });
    }
    config.redis_node_ttl = Duration::from_millis(flag(&args, "--node-ttl", 15_000));
    config.redis_url = args
        .windows(2)
        .find(|w| w[0] == "--redis")
        .map(|w| w[1].clone());
    // `--redis-sharded static|dynamic|dynamic-private`: `--redis` then lists cluster nodes.
    if let Some(mode) = args.windows(2).find(|w| w[0] == "--redis-sharded") {
        match roomcast::adapters::redis::PubSub::sharded(Some(&mode[1])) {
            Ok(pubsub) => config.redis_pubsub = pubsub,
            Err(error) => eprintln!("{error}"),
        }
    }
    config
}

fn validator(sessions: Sessions) -> roomcast::SessionValidator {
    Arc::new(move |request: AuthRequest| {
        let sessions = sessions.clone();
        Box::pin(async move {
            let sid = request.session_id.as_str();
            if sid.starts_with("fail") {
                return Err("session store unavailable".to_owned());
            }
            if sid.starts_with("hang") {
                std::future::pending::<()>().await;
            }
            if sid.starts_with("panic") {
                panic!("validator bug");
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
            let found = sessions.lock().map(|s| s.get(sid).cloned()).unwrap_or(None);
            Ok(match found {
                Some((user, name, role)) if user == request.user_id => {
                    AuthDecision::Accept(Identity::new(&user, Some(&name), Some(&role)))
                }
                _ => AuthDecision::Reject,
            })
        })
    })
}

fn args_of(command: &Value) -> Args {
    Args::serialize(&command["data"]).unwrap_or_default()
}

fn str_of<'a>(command: &'a Value, key: &str) -> &'a str {
    command[key].as_str().unwrap_or_default()
}

#[tokio::main]
async fn main() {
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn")),
        )
        .init();
    let server = RealtimeServer::new(config_from_args());
    let sessions: Sessions = Arc::default();
    server.set_session_validator(validator(sessions.clone()));
    server.on_connect(|socket| {
        let user = socket.identity().map(|i| i.user_id.to_string());
        say(json!({ "event": "connect", "socketId": socket.id(), "userId": user }));
    });
    server.on_disconnect(|socket, reason| {
        let user = socket.identity().map(|i| i.user_id.to_string());
        say(json!({ "event": "disconnect", "socketId": socket.id(), "userId": user, "reason": reason }));
    });
    server.on_client_event(|socket, event| {
        let args: Value = serde_json::from_str(&event.args.to_json_array()).unwrap_or(Value::Null);
        say(
            json!({ "event": "client", "socketId": socket.id(), "name": event.name, "args": args }),
        );
        if let Some(ack) = event.ack {
            let _ = ack.send(&Args::serialize(&json!({ "echo": args })).unwrap_or_default());
        }
    });
    let addr = match server.start().await {
        Ok(addr) => addr,
        Err(error) => {
            eprintln!("cannot listen: {error}");
            std::process::exit(1);
        }
    };
    say(json!({ "event": "listening", "port": addr.port() }));

    let mut lines = BufReader::new(tokio::io::stdin()).lines();
    while let Ok(Some(line)) = lines.next_line().await {
        let Ok(command) = serde_json::from_str::<Value>(&line) else {
            say(json!({ "error": "not JSON", "line": line }));
            continue;
        };
        let op = str_of(&command, "op");
        let result = match op {
            "session" => {
                let entry = (
                    str_of(&command, "userId").to_owned(),
                    command["userName"].as_str().unwrap_or("User").to_owned(),
                    command["userRole"].as_str().unwrap_or("user").to_owned(),
                );
                if let Ok(mut s) = sessions.lock() {
                    s.insert(str_of(&command, "sessionID").to_owned(), entry);
                }
                json!(true)
            }
            "logout" => json!(sessions
                .lock()
                .map(|mut s| s.remove(str_of(&command, "sessionID")).is_some())
                .unwrap_or(false)),
            "emitToUser" => json!(server.emit_to_user(
                str_of(&command, "userId"),
                str_of(&command, "event"),
                &args_of(&command)
            )),
            "emitToRoom" => json!(server.emit_to_room(
                str_of(&command, "room"),
                str_of(&command, "event"),
                &args_of(&command)
            )),
            "emitToAll" => json!(server.emit_to_all(str_of(&command, "event"), &args_of(&command))),
            "disconnectUser" => {
                json!(server.disconnect_user(str_of(&command, "userId"), None))
            }
            "subscriptions" => json!(server.subscription_count(str_of(&command, "userId"))),
            "stats" => serde_json::to_value(server.stats()).unwrap_or(Value::Null),
            "health" => serde_json::from_str(&server.health_json()).unwrap_or(Value::Null),
            "metrics" => json!(server.metrics()),
            "shutdown" => {
                let grace = Duration::from_millis(command["graceMs"].as_u64().unwrap_or(1000));
                let stopped = server.shutdown(grace).await;
                say(json!({ "op": "shutdown", "id": command["id"], "result": stopped.is_ok() }));
                // Exit now: the blocking stdin reader would otherwise hold the runtime open.
                std::process::exit(0);
            }
            _ => json!({ "error": format!("unknown op {op}") }),
        };
        say(json!({ "op": op, "id": command["id"], "result": result }));
    }
}
