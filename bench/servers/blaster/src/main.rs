//! The cheapest server that satisfies the load generator: it accepts WebSockets, answers the
//! Engine.IO/Socket.IO handshake with canned frames, and on `blast` writes pre-encoded `tick`
//! frames to every connection as fast as it can (no rooms, no queues, no JSON work). The rate
//! the load generator reports against it is the load generator's own ceiling on this machine.

use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use futures_util::{SinkExt, StreamExt};
use tokio::net::TcpListener;
use tokio::sync::broadcast;
use tokio_tungstenite::tungstenite::{Message, Utf8Bytes};

fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}

#[tokio::main]
async fn main() -> std::io::Result<()> {
    let port: u16 = std::env::args()
        .nth(1)
        .and_then(|p| p.parse().ok())
        .unwrap_or(0);
    let listener = TcpListener::bind(("127.0.0.1", port)).await?;
    println!("listening on {}", listener.local_addr()?.port());
    let (ticks, _) = broadcast::channel::<Utf8Bytes>(1 << 16);
    let ticks = Arc::new(ticks);
    loop {
        let (stream, _) = listener.accept().await?;
        let _ = stream.set_nodelay(true);
        let ticks = ticks.clone();
        tokio::spawn(async move {
            let Ok(mut ws) = tokio_tungstenite::accept_async(stream).await else {
                return;
            };
            let open = r#"0{"sid":"blaster","upgrades":[],"pingInterval":25000,"pingTimeout":60000,"maxPayload":1000000}"#;
            if ws.send(Message::Text(open.into())).await.is_err() {
                return;
            }
            let mut rx = ticks.subscribe();
            loop {
                tokio::select! {
                    message = ws.next() => {
                        let Some(Ok(Message::Text(text))) = message else { return };
                        if text.starts_with("40") {
                            let _ = ws.send(Message::Text(r#"40{"sid":"s"}"#.into())).await;
                        } else if text.starts_with("42[\"blast\"") {
                            let n: u64 = text.split("\"n\":").nth(1).and_then(|s| s.split(',').next()).and_then(|s| s.parse().ok()).unwrap_or(0);
                            for i in 0..n {
                                let frame = format!(r#"42["tick",{{"i":{i},"ts":{},"due":{},"pad":"xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"}}]"#, now_ms(), now_ms());
                                let _ = ticks.send(frame.into());
                            }
                        }
                    }
                    tick = rx.recv() => {
                        match tick {
                            Ok(frame) => {
                                if ws.feed(Message::Text(frame)).await.is_err() { return; }
                                while let Ok(frame) = rx.try_recv() {
                                    if ws.feed(Message::Text(frame)).await.is_err() { return; }
                                }
                                if ws.flush().await.is_err() { return; }
                            }
                            Err(broadcast::error::RecvError::Lagged(_)) => {}
                            Err(_) => return,
                        }
                    }
                }
            }
        });
    }
}
