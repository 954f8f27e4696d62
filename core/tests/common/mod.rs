//! Helpers for the core integration tests: an in-process server with small timings, a raw HTTP
//! client over TcpStream (so malformed requests can be sent byte for byte), a WebSocket client,
//! and a real redis-server.
#![allow(dead_code)]

use std::net::SocketAddr;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use futures_util::{SinkExt, StreamExt};
use roomcast::{Args, EngineConfig, Server};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::WebSocketStream;

pub type Ws = WebSocketStream<TcpStream>;

pub fn test_config() -> EngineConfig {
    EngineConfig {
        ping_interval: Duration::from_millis(200),
        ping_timeout: Duration::from_millis(200),
        max_payload: 10_000,
        header_timeout: Duration::from_millis(500),
        queue_capacity: 64,
        ..EngineConfig::default()
    }
}

/// A server whose `/` namespace echoes `message` as `message-back`, joins rooms on `join`, and
/// on `flood` emits `n` messages of `size` bytes to the caller.
pub async fn start(config: EngineConfig) -> (Server, SocketAddr) {
    let server = Server::new(config);
    server
        .io()
        .on_event(|socket, event| match event.name.as_str() {
            "message" => {
                let _ = socket.emit("message-back", &event.args);
            }
            "join" => socket.join("room"),
            "flood" => {
                let v: Vec<usize> =
                    serde_json::from_str(&event.args.to_json_array()).unwrap_or_default();
                let (n, size) = (
                    v.first().copied().unwrap_or(0),
                    v.get(1).copied().unwrap_or(10),
                );
                let args = Args::serialize(&"x".repeat(size)).unwrap();
                for _ in 0..n {
                    if socket.emit("flood", &args).is_err() {
                        break;
                    }
                }
            }
            _ => {}
        });
    let addr = server.start().await.expect("bind");
    (server, addr)
}

/// Sends raw bytes and returns everything the server answers until it closes or goes quiet.
pub async fn raw_request(addr: SocketAddr, request: &[u8]) -> String {
    let mut stream = TcpStream::connect(addr).await.unwrap();
    stream.write_all(request).await.unwrap();
    read_until_quiet(&mut stream, Duration::from_millis(800)).await
}

pub async fn read_until_quiet(stream: &mut TcpStream, quiet: Duration) -> String {
    let mut out = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        match tokio::time::timeout(quiet, stream.read(&mut buf)).await {
            Ok(Ok(0)) | Ok(Err(_)) | Err(_) => break,
            Ok(Ok(n)) => out.extend_from_slice(&buf[..n]),
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Reads until the server closes the connection; `None` if it is still open after `within`.
pub async fn read_to_eof(stream: &mut TcpStream, within: Duration) -> Option<String> {
    let mut out = Vec::new();
    let mut buf = [0u8; 4096];
    let deadline = tokio::time::Instant::now() + within;
    loop {
        match tokio::time::timeout_at(deadline, stream.read(&mut buf)).await {
            Ok(Ok(0)) | Ok(Err(_)) => return Some(String::from_utf8_lossy(&out).into_owned()),
            Ok(Ok(n)) => out.extend_from_slice(&buf[..n]),
            Err(_) => return None,
        }
    }
}

/// A plain HTTP request; returns (status, body).
pub async fn http(addr: SocketAddr, method: &str, path: &str, body: &[u8]) -> (u16, String) {
    let mut request = format!(
        "{method} {path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\nContent-Length: {}\r\n\r\n",
        body.len()
    )
    .into_bytes();
    request.extend_from_slice(body);
    let response = raw_request(addr, &request).await;
    parse_response(&response)
}

pub fn parse_response(response: &str) -> (u16, String) {
    let status = response
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    let body = response
        .split_once("\r\n\r\n")
        .map(|(_, b)| b.to_owned())
        .unwrap_or_default();
    (status, body)
}

/// Opens a polling session; returns its sid.
pub async fn polling_handshake(addr: SocketAddr) -> String {
    let (status, body) = http(addr, "GET", "/socket.io/?EIO=4&transport=polling", b"").await;
    assert_eq!(status, 200, "{body}");
    let open: serde_json::Value = serde_json::from_str(&body[1..]).unwrap();
    open["sid"].as_str().unwrap().to_owned()
}

pub async fn ws_connect(addr: SocketAddr, query: &str) -> Ws {
    let stream = TcpStream::connect(addr).await.unwrap();
    let url = format!("ws://{addr}/socket.io/?EIO=4&transport=websocket{query}");
    let (ws, _) = tokio_tungstenite::client_async(url, stream).await.unwrap();
    ws
}

pub async fn next_text(ws: &mut Ws) -> Option<String> {
    loop {
        match tokio::time::timeout(Duration::from_secs(3), ws.next()).await {
            Ok(Some(Ok(Message::Text(t)))) => return Some(t.as_str().to_owned()),
            Ok(Some(Ok(Message::Binary(_))))
            | Ok(Some(Ok(Message::Ping(_))))
            | Ok(Some(Ok(Message::Pong(_)))) => {}
            _ => return None,
        }
    }
}

/// A WebSocket client connected to `/`: open packet read, `40` sent, connect reply read.
pub async fn sio_client(addr: SocketAddr) -> Ws {
    let mut ws = ws_connect(addr, "").await;
    let open = next_text(&mut ws).await.unwrap();
    assert!(open.starts_with('0'));
    ws.send(Message::Text("40".into())).await.unwrap();
    let connected = next_text(&mut ws).await.unwrap();
    assert!(connected.starts_with("40{\"sid\":"), "{connected}");
    ws
}

/// Sends `message` and expects `message-back`, answering pings on the way.
pub async fn assert_echo(ws: &mut Ws, marker: &str) {
    ws.send(Message::Text(
        format!("42[\"message\",\"{marker}\"]").into(),
    ))
    .await
    .unwrap();
    loop {
        let text = next_text(ws).await.expect("connection still open");
        if text == "2" {
            ws.send(Message::Text("3".into())).await.unwrap();
            continue;
        }
        assert_eq!(text, format!("42[\"message-back\",\"{marker}\"]"));
        return;
    }
}

/// True when the server closed the WebSocket (close frame, EOF or error) within `within`.
pub async fn closed_within(ws: &mut Ws, within: Duration) -> bool {
    let deadline = tokio::time::Instant::now() + within;
    loop {
        match tokio::time::timeout_at(deadline, ws.next()).await {
            Err(_) => return false,
            Ok(None) | Ok(Some(Err(_))) | Ok(Some(Ok(Message::Close(_)))) => return true,
            Ok(Some(Ok(_))) => {}
        }
    }
}

/// A real redis-server on a free port (no persistence), killed when dropped.
pub struct Redis {
    child: Child,
    pub url: String,
}

impl Drop for Redis {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub fn start_redis() -> Redis {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("free port");
    let child = Command::new("redis-server")
        .args([
            "--port",
            &port.to_string(),
            "--bind",
            "127.0.0.1",
            "--save",
            "",
            "--appendonly",
            "no",
        ])
        .stdout(Stdio::null())
        .spawn()
        .expect("redis-server is installed (scripts/install-test-deps.sh)");
    let deadline = Instant::now() + Duration::from_secs(10);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(Instant::now() < deadline, "redis-server did not start");
        std::thread::sleep(Duration::from_millis(20));
    }
    Redis {
        child,
        url: format!("redis://127.0.0.1:{port}"),
    }
}
