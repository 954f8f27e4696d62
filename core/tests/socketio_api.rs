//! The host-facing Rust API: broadcasts to rooms (several, except some), acks with timeouts,
//! server-side disconnects, namespaces.

mod common;

use std::time::Duration;

use common::*;
use futures_util::SinkExt;
use roomcast::{AckError, Args};
use tokio_tungstenite::tungstenite::Message;

/// Collects the text packets a client receives within `window`, answering pings.
async fn collect(ws: &mut Ws, window: Duration) -> Vec<String> {
    let mut got = Vec::new();
    let deadline = tokio::time::Instant::now() + window;
    while let Ok(Some(text)) = tokio::time::timeout_at(deadline, next_text(ws)).await {
        if text == "2" {
            let _ = ws.send(Message::Text("3".into())).await;
        } else {
            got.push(text);
        }
    }
    got
}

#[tokio::test]
async fn broadcasts_reach_each_member_once_and_skip_excluded_rooms() {
    let (server, addr) = start(test_config()).await;
    let mut clients = Vec::new();
    for _ in 0..4 {
        clients.push(sio_client(addr).await);
    }
    tokio::time::sleep(Duration::from_millis(50)).await;
    let mut sockets = server.io().sockets();
    sockets.sort_by_key(|s| s.id().to_owned());
    // Map clients to sockets by asking each socket to greet its client.
    for (i, socket) in sockets.iter().enumerate() {
        socket.emit("who", &Args::serialize(&i).unwrap()).unwrap();
    }
    let mut index_of = Vec::new();
    for ws in clients.iter_mut() {
        let text = next_text(ws).await.unwrap();
        let i: usize = text
            .trim_start_matches("42[\"who\",")
            .trim_end_matches(']')
            .parse()
            .unwrap();
        index_of.push(i);
    }
    // socket 0: a, b   socket 1: a   socket 2: b, muted   socket 3: none
    sockets[0].join("a");
    sockets[0].join("b");
    sockets[1].join("a");
    sockets[2].join("b");
    sockets[2].join("muted");
    let ns = server.io();
    assert_eq!(ns.to("a").to("b").emit("both", &Args::none()), 3);
    assert_eq!(
        ns.to("a")
            .to("b")
            .except("muted")
            .emit("not-muted", &Args::none()),
        2
    );
    assert_eq!(ns.except("a").emit("outside-a", &Args::none()), 2);
    assert_eq!(ns.emit("all", &Args::none()), 4);
    sockets[0].leave("a");
    assert_eq!(ns.to("a").emit("after-leave", &Args::none()), 1);

    let expected: [&[&str]; 4] = [
        &["both", "not-muted", "all"],
        &["both", "not-muted", "all", "after-leave"],
        &["both", "outside-a", "all"],
        &["outside-a", "all"],
    ];
    for (ws, socket_index) in clients.iter_mut().zip(index_of) {
        let got = collect(ws, Duration::from_millis(300)).await;
        let want: Vec<String> = expected[socket_index]
            .iter()
            .map(|e| format!("42[\"{e}\"]"))
            .collect();
        assert_eq!(got, want, "socket {socket_index}");
    }
}

#[tokio::test]
async fn disconnect_leaves_every_room() {
    let (server, addr) = start(test_config()).await;
    let mut ws = sio_client(addr).await;
    tokio::time::sleep(Duration::from_millis(50)).await;
    let socket = server.io().sockets().pop().unwrap();
    socket.join("x");
    socket.join("y");
    assert_eq!(server.io().room_count(), 2);
    ws.close(None).await.unwrap();
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(server.io().room_count(), 0);
    assert_eq!(server.io().socket_count(), 0);
    assert!(!socket.is_connected());
}

#[tokio::test]
async fn server_side_acks_resolve_time_out_and_fail_on_disconnect() {
    let (server, addr) = start(test_config()).await;
    let mut ws = sio_client(addr).await;
    tokio::time::sleep(Duration::from_millis(50)).await;
    let socket = server.io().sockets().pop().unwrap();

    let asking = {
        let socket = socket.clone();
        tokio::spawn(async move {
            socket
                .emit_with_ack(
                    "question",
                    &Args::json("1").unwrap(),
                    Duration::from_secs(2),
                )
                .await
        })
    };
    assert_eq!(next_text(&mut ws).await.unwrap(), "420[\"question\",1]");
    ws.send(Message::Text("430[\"answer\",{\"n\":2}]".into()))
        .await
        .unwrap();
    let reply = asking.await.unwrap().unwrap();
    assert_eq!(reply.args.to_json_array(), "[\"answer\",{\"n\":2}]");

    let timeout = socket
        .emit_with_ack("ignored", &Args::none(), Duration::from_millis(100))
        .await;
    assert_eq!(timeout, Err(AckError::Timeout));

    let pending = {
        let socket = socket.clone();
        tokio::spawn(async move {
            socket
                .emit_with_ack("never", &Args::none(), Duration::from_secs(5))
                .await
        })
    };
    tokio::time::sleep(Duration::from_millis(50)).await;
    socket.disconnect(true);
    assert_eq!(pending.await.unwrap(), Err(AckError::Disconnected));
}

#[tokio::test]
async fn server_namespace_disconnect_keeps_the_connection_when_asked() {
    let (server, addr) = start(test_config()).await;
    let mut ws = sio_client(addr).await;
    tokio::time::sleep(Duration::from_millis(50)).await;
    let socket = server.io().sockets().pop().unwrap();
    socket.disconnect(false);
    assert_eq!(next_text(&mut ws).await.unwrap(), "41");
    // The Engine.IO session is still there: reconnecting the namespace works on it.
    ws.send(Message::Text("40".into())).await.unwrap();
    assert!(next_text(&mut ws).await.unwrap().starts_with("40{\"sid\""));
    assert_echo(&mut ws, "again").await;

    let socket = server.io().sockets().pop().unwrap();
    socket.disconnect(true);
    assert_eq!(next_text(&mut ws).await.unwrap(), "41");
    assert!(closed_within(&mut ws, Duration::from_secs(2)).await);
}

#[tokio::test]
async fn client_namespace_disconnect_runs_the_host_hook() {
    let (server, addr) = start(test_config()).await;
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    server.io().on_disconnect(move |socket, reason| {
        let _ = tx.send((socket.id().to_owned(), reason.to_owned()));
    });
    let mut ws = sio_client(addr).await;
    tokio::time::sleep(Duration::from_millis(50)).await;
    let id = server.io().sockets().pop().unwrap().id().to_owned();
    ws.send(Message::Text("41".into())).await.unwrap();
    let (got_id, reason) = tokio::time::timeout(Duration::from_secs(2), rx.recv())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        (got_id, reason.as_str()),
        (id, "client namespace disconnect")
    );
    let mut ws2 = sio_client(addr).await;
    ws2.close(None).await.unwrap();
    let (_, reason) = tokio::time::timeout(Duration::from_secs(2), rx.recv())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(reason, "transport close");
}

/// Connects to `/` with `auth` as the connect payload; returns the socket and the connect reply.
async fn connect_with(addr: std::net::SocketAddr, auth: &str) -> (Ws, serde_json::Value) {
    let mut ws = ws_connect(addr, "").await;
    assert!(next_text(&mut ws).await.unwrap().starts_with('0'));
    ws.send(Message::Text(format!("40{auth}").into()))
        .await
        .unwrap();
    let reply = next_text(&mut ws).await.unwrap();
    let reply = serde_json::from_str(reply.strip_prefix("40").unwrap()).unwrap();
    (ws, reply)
}

#[tokio::test]
async fn recovery_replays_missed_broadcasts_but_never_volatile_ones() {
    let config = roomcast::EngineConfig {
        recovery: Some(roomcast::socketio::recovery::RecoveryConfig::default()),
        ..test_config()
    };
    let (server, addr) = start(config).await;
    let io = server.io();
    let (mut ws, reply) = connect_with(addr, "{}").await;
    let (sid, pid) = (
        reply["sid"].clone(),
        reply["pid"].as_str().unwrap().to_owned(),
    );
    ws.send(Message::Text("42[\"join\"]".into())).await.unwrap();
    while io.room_size("room") == 0 {
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    io.to("room").emit("tick", &Args::json("1").unwrap());
    let first = next_text(&mut ws).await.unwrap();
    let offset: serde_json::Value = serde_json::from_str(&first[2..]).unwrap();
    let offset = offset[2].as_str().unwrap().to_owned();
    assert_eq!(first, format!("42[\"tick\",1,\"{offset}\"]"));
    drop(ws); // a network cut: no close packet
    while io.socket_count() > 0 {
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    io.to("room")
        .volatile()
        .emit("tick", &Args::json("2").unwrap());
    io.to("room").emit("tick", &Args::json("3").unwrap());
    let auth = format!("{{\"pid\":\"{pid}\",\"offset\":\"{offset}\"}}");
    let mut ws = ws_connect(addr, "").await;
    assert!(next_text(&mut ws).await.unwrap().starts_with('0'));
    ws.send(Message::Text(format!("40{auth}").into()))
        .await
        .unwrap();
    // socket.io's order: the missed packets, then the CONNECT reply.
    let frames = collect(&mut ws, Duration::from_millis(300)).await;
    assert_eq!(frames.len(), 2, "{frames:?}");
    assert!(frames[0].starts_with("42[\"tick\",3,"), "{frames:?}");
    let reply: serde_json::Value = serde_json::from_str(&frames[1][2..]).unwrap();
    assert_eq!(reply["sid"], sid, "the same socket id comes back");
    assert_eq!(io.room_size("room"), 1, "rooms restored");
    assert_eq!(server.stats().recovered, 1);
}

#[tokio::test]
async fn acks_from_many_collect_each_reply_and_time_out_the_silent() {
    let (server, addr) = start(test_config()).await;
    let mut answering = sio_client(addr).await;
    let mut silent = sio_client(addr).await;
    tokio::time::sleep(Duration::from_millis(50)).await;
    let asking = {
        let io = server.io();
        tokio::spawn(async move {
            io.everyone()
                .emit_with_ack("vote", &Args::none(), Duration::from_millis(300))
                .await
        })
    };
    // Each socket gets its own frame, with the ack id its socket counts from.
    assert_eq!(next_text(&mut answering).await.unwrap(), "420[\"vote\"]");
    assert_eq!(next_text(&mut silent).await.unwrap(), "420[\"vote\"]");
    answering
        .send(Message::Text("430[\"yes\"]".into()))
        .await
        .unwrap();
    let results = asking.await.unwrap();
    assert_eq!(results.len(), 2);
    let replies: Vec<_> = results
        .iter()
        .filter_map(|(_, r)| r.as_ref().ok())
        .collect();
    assert_eq!(replies.len(), 1);
    assert_eq!(replies[0].args.to_json_array(), "[\"yes\"]");
    assert!(results
        .iter()
        .any(|(_, r)| r.as_ref().err() == Some(&AckError::Timeout)));
    assert_eq!(server.io().except("nobody").sockets().len(), 2);
}

#[tokio::test]
async fn a_packet_middleware_drops_refused_events_before_the_handler() {
    let (server, addr) = start(test_config()).await;
    let seen = std::sync::Arc::new(parking_lot::Mutex::new(Vec::new()));
    {
        let seen = seen.clone();
        server
            .io()
            .on_event(move |_, event| seen.lock().push(event.name));
    }
    let mut ws = sio_client(addr).await;
    tokio::time::sleep(Duration::from_millis(50)).await;
    let socket = server.io().sockets().pop().unwrap();
    socket.use_packet(std::sync::Arc::new(|_, event: &roomcast::ClientEvent| {
        if event.name.starts_with("admin:") {
            Err("not an admin".to_owned())
        } else {
            Ok(())
        }
    }));
    for packet in ["42[\"admin:reset\"]", "42[\"order\",1]"] {
        ws.send(Message::Text(packet.into())).await.unwrap();
    }
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert_eq!(*seen.lock(), vec!["order".to_owned()]);
}

#[tokio::test]
async fn handle_only_lets_through_the_named_events_and_handle_also_adds_one() {
    let (server, addr) = start(test_config()).await;
    let seen = std::sync::Arc::new(parking_lot::Mutex::new(Vec::new()));
    {
        let seen = seen.clone();
        server
            .io()
            .on_event(move |_, event| seen.lock().push(event.name));
    }
    let mut ws = sio_client(addr).await;
    tokio::time::sleep(Duration::from_millis(50)).await;
    let socket = server.io().sockets().pop().unwrap();
    socket.handle_only(["order"]);
    for packet in ["42[\"order\",1]", "42[\"chat\",2]"] {
        ws.send(Message::Text(packet.into())).await.unwrap();
    }
    tokio::time::sleep(Duration::from_millis(100)).await;
    socket.handle_also("chat");
    ws.send(Message::Text("42[\"chat\",3]".into()))
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_millis(100)).await;
    socket.handle_all();
    ws.send(Message::Text("42[\"other\"]".into()))
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert_eq!(*seen.lock(), vec!["order", "chat", "other"]);
}
