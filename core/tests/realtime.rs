//! RealtimeServer from Rust: the auth hand-off, welcome, subscriptions and counters, host emits,
//! stats and shutdown, over raw Socket.IO frames.

mod common;

use std::sync::Arc;
use std::time::Duration;

use common::{closed_within, next_text, test_config, ws_connect, Ws};
use futures_util::SinkExt;
use roomcast::{Args, AuthDecision, AuthRequest, Identity, RealtimeConfig, RealtimeServer};
use tokio_tungstenite::tungstenite::Message;

async fn start() -> (RealtimeServer, std::net::SocketAddr) {
    let config = RealtimeConfig {
        engine: test_config(),
        auth_timeout: Duration::from_millis(200),
        max_subscriptions: 3,
        ..RealtimeConfig::default()
    };
    let server = RealtimeServer::new(config);
    server.set_session_validator(Arc::new(|request: AuthRequest| {
        Box::pin(async move {
            match (request.session_id.as_str(), request.user_id.as_str()) {
                ("s1", "u1") => Ok(AuthDecision::Accept(Identity {
                    user_id: "u1".into(),
                    user_name: "Alice".into(),
                    user_role: Arc::from("admin"),
                })),
                ("down", _) => Err("store down".to_owned()),
                _ => Ok(AuthDecision::Reject),
            }
        })
    }));
    let addr = server.start().await.unwrap();
    (server, addr)
}

/// Connects with `auth` and returns the socket plus the connect answer.
async fn connect(addr: std::net::SocketAddr, auth: &str) -> (Ws, String) {
    let mut ws = ws_connect(addr, "").await;
    next_text(&mut ws).await.unwrap();
    ws.send(Message::Text(format!("40{auth}").into()))
        .await
        .unwrap();
    let answer = next_text(&mut ws).await.unwrap();
    (ws, answer)
}

/// The next text packet that is not a ping (pings are answered).
async fn next_packet(ws: &mut Ws) -> String {
    loop {
        let text = next_text(ws).await.expect("open");
        if text == "2" {
            ws.send(Message::Text("3".into())).await.unwrap();
        } else {
            return text;
        }
    }
}

#[tokio::test]
async fn auth_outcomes_reach_the_client_as_connect_errors() {
    let (_server, addr) = start().await;
    for (auth, expected) in [
        (
            r#"{"userId":"u1"}"#,
            "UNAUTHORIZED: Missing authentication credentials",
        ),
        (
            r#"{"sessionID":"s1","userId":"u2"}"#,
            "UNAUTHORIZED: Invalid session or user mismatch",
        ),
        (
            r#"{"sessionID":"down","userId":"u1"}"#,
            "AUTHENTICATION_FAILED",
        ),
    ] {
        let (_ws, answer) = connect(addr, auth).await;
        assert!(answer.starts_with("44{"), "{answer}");
        let body: serde_json::Value = serde_json::from_str(&answer[2..]).unwrap();
        assert_eq!(body["message"], expected);
    }
}

#[tokio::test]
async fn welcome_subscriptions_emits_stats_and_shutdown() {
    let (server, addr) = start().await;
    let (mut ws, answer) = connect(addr, r#"{"sessionID":"s1","userId":"u1"}"#).await;
    assert!(answer.starts_with("40{\"sid\":"));
    let welcome = next_packet(&mut ws).await;
    assert!(welcome.starts_with("42[\"connected\","), "{welcome}");
    let body: serde_json::Value = serde_json::from_str(&welcome[2..]).unwrap();
    assert_eq!(body[1]["userId"], "u1");
    assert_eq!(body[1]["message"], "WebSocket connection established");

    ws.send(Message::Text(
        r#"421["subscribe:watchlist",{"symbols":["aapl","msft"]}]"#.into(),
    ))
    .await
    .unwrap();
    let reply = next_packet(&mut ws).await;
    assert!(reply.starts_with("42[\"subscribed:watchlist\""), "{reply}");
    let ack = next_packet(&mut ws).await;
    assert!(ack.starts_with("431[{"), "{ack}");
    assert_eq!(server.subscription_count("u1"), 2);

    ws.send(Message::Text(
        r#"42["subscribe:watchlist",{"symbols":["TSLA","NVDA"]}]"#.into(),
    ))
    .await
    .unwrap();
    let refused = next_packet(&mut ws).await;
    assert!(
        refused.contains("\"code\":\"SUBSCRIPTION_LIMIT\""),
        "{refused}"
    );
    assert_eq!(server.subscription_count("u1"), 2);

    let quote = Args::json(r#"{"symbol":"AAPL","price":185.5}"#).unwrap();
    assert_eq!(
        server.emit_to_room("watchlist:AAPL", "quote:update", &quote),
        1
    );
    assert_eq!(
        next_packet(&mut ws).await,
        r#"42["quote:update",{"symbol":"AAPL","price":185.5}]"#
    );
    assert_eq!(
        server.emit_to_user("u1", "trade:executed", &Args::json("{}").unwrap()),
        1
    );
    assert_eq!(
        server.emit_to_user("nobody", "trade:executed", &Args::json("{}").unwrap()),
        0
    );
    assert_eq!(next_packet(&mut ws).await, r#"42["trade:executed",{}]"#);

    let stats = server.stats();
    assert!(stats.initialized);
    assert_eq!((stats.total_connections, stats.unique_users), (1, 1));
    assert!(server.metrics().contains("roomcast_connections 1\n"));

    let shutdown = {
        let server = server.clone();
        tokio::spawn(async move { server.shutdown(Duration::from_millis(100)).await })
    };
    let notice = next_packet(&mut ws).await;
    assert!(
        notice.starts_with(
            "42[\"server:shutdown\",{\"message\":\"Server is shutting down for maintenance\""
        ),
        "{notice}"
    );
    assert_eq!(next_packet(&mut ws).await, "41");
    assert!(closed_within(&mut ws, Duration::from_secs(2)).await);
    shutdown.await.unwrap().unwrap();
    assert_eq!(server.subscription_count("u1"), 0);
    assert!(!server.stats().initialized);
}
