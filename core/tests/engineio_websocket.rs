//! Engine.IO and Socket.IO over WebSocket: heartbeat, slow consumers, malformed input, limits.

mod common;

use std::time::Duration;

use common::*;
use futures_util::SinkExt;
use roomcast::Args;
use tokio_tungstenite::tungstenite::Message;

#[tokio::test]
async fn a_client_that_never_pongs_is_closed_and_one_that_does_stays() {
    let (server, addr) = start(test_config()).await;
    let mut mute = sio_client(addr).await;
    let mut healthy = sio_client(addr).await;
    // ping every 200 ms, 200 ms to answer: the mute client must be gone well within 2 s.
    let watcher =
        tokio::spawn(async move { closed_within(&mut mute, Duration::from_secs(3)).await });
    for i in 0..8 {
        tokio::time::sleep(Duration::from_millis(150)).await;
        assert_echo(&mut healthy, &format!("tick{i}")).await;
    }
    assert!(watcher.await.unwrap(), "mute client closed on ping timeout");
    assert_eq!(server.io().socket_count(), 1);
}

#[tokio::test]
async fn a_polling_session_that_stops_polling_is_reaped() {
    let (server, addr) = start(test_config()).await;
    let sid = polling_handshake(addr).await;
    let path = format!("/socket.io/?EIO=4&transport=polling&sid={sid}");
    assert_eq!(http(addr, "POST", &path, b"40").await.0, 200);
    assert_eq!(server.io().socket_count(), 1);
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert_eq!(server.io().socket_count(), 0);
    assert_eq!(http(addr, "GET", &path, b"").await.0, 400);
}

#[tokio::test]
async fn malformed_websocket_packets_close_only_that_connection() {
    let (server, addr) = start(test_config()).await;
    let mut healthy = sio_client(addr).await;
    for bad in [
        Message::Text("9".into()),
        Message::Text("".into()),
        Message::Text("42not json".into()),
        Message::Text("42[1,2]".into()),
        Message::Text("4399999999999999999999999[]".into()),
        Message::Text("4599999-[\"a\"]".into()),
        Message::Text("40/custom".into()), // unknown namespace: refused, connection kept (checked below)
        Message::Binary(vec![1, 2, 3].into()), // binary without a binary packet
        Message::Text(format!("42[\"a\",{}]", "[".repeat(5000) + &"]".repeat(5000)).into()),
    ] {
        let keeps_connection = matches!(&bad, Message::Text(t) if t.as_str() == "40/custom");
        let mut ws = sio_client(addr).await;
        ws.send(bad).await.unwrap();
        if keeps_connection {
            assert_eq!(
                next_text(&mut ws).await.unwrap(),
                "44/custom,{\"message\":\"Invalid namespace\"}"
            );
            assert_echo(&mut ws, "kept").await;
        } else {
            assert!(closed_within(&mut ws, Duration::from_secs(2)).await);
        }
    }
    // A text packet while attachments are awaited is a protocol error too.
    let mut ws = sio_client(addr).await;
    ws.send(Message::Text(
        "451-[\"a\",{\"_placeholder\":true,\"num\":0}]".into(),
    ))
    .await
    .unwrap();
    ws.send(Message::Text("42[\"message\",1]".into()))
        .await
        .unwrap();
    assert!(closed_within(&mut ws, Duration::from_secs(2)).await);
    assert_echo(&mut healthy, "unaffected").await;
    assert!(server.stats().parse_errors >= 8);
}

#[tokio::test]
async fn websocket_message_over_max_payload_closes_the_connection() {
    let (_server, addr) = start(test_config()).await;
    let mut healthy = sio_client(addr).await;
    let mut ws = sio_client(addr).await;
    let big = format!("42[\"message\",\"{}\"]", "x".repeat(20_000));
    let _ = ws.send(Message::Text(big.into())).await;
    assert!(closed_within(&mut ws, Duration::from_secs(2)).await);
    assert_echo(&mut healthy, "fine").await;
}

#[tokio::test]
async fn a_client_that_stops_reading_is_cut_off_at_the_queue_bound() {
    let (server, addr) = start(test_config()).await;
    let mut healthy = sio_client(addr).await;
    let mut stalled = sio_client(addr).await;
    // Ask for far more than socket buffers and the 64-frame queue can hold, then never read.
    stalled
        .send(Message::Text("42[\"flood\",100000,4000]".into()))
        .await
        .unwrap();
    let deadline = std::time::Instant::now() + Duration::from_secs(5);
    while server.stats().slow_consumers == 0 && std::time::Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(server.stats().slow_consumers, 1);
    assert_echo(&mut healthy, "not-delayed").await;
    assert_eq!(server.io().socket_count(), 1);
}

#[tokio::test]
async fn a_polling_client_that_stops_polling_is_cut_off_at_the_queue_bound() {
    let (server, addr) = start(test_config()).await;
    let sid = polling_handshake(addr).await;
    let path = format!("/socket.io/?EIO=4&transport=polling&sid={sid}");
    assert_eq!(http(addr, "POST", &path, b"40").await.0, 200);
    assert_eq!(
        http(addr, "POST", &path, b"42[\"flood\",1000,10]").await.0,
        200
    );
    assert_eq!(server.stats().slow_consumers, 1);
    // The socket layer hears of the close on a task of its own (see Session::close_outside_delivery).
    let deadline = std::time::Instant::now() + Duration::from_secs(2);
    while server.io().socket_count() > 0 && std::time::Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    assert_eq!(server.io().socket_count(), 0);
}

#[tokio::test]
async fn volatile_emits_go_only_to_a_writable_transport() {
    let (server, addr) = start(test_config()).await;
    let sid = polling_handshake(addr).await;
    let path = format!("/socket.io/?EIO=4&transport=polling&sid={sid}");
    assert_eq!(http(addr, "POST", &path, b"40").await.0, 200);
    let socket = server.io().sockets().pop().unwrap();
    let args = Args::json("1").unwrap();
    // No poll waiting (socket.io: the transport is not writable): every one is dropped, and
    // dropping is not fatal.
    for _ in 0..200 {
        let _ = socket.emit_volatile("tick", &args);
    }
    assert!(socket.is_connected());
    assert_eq!(server.stats().dropped, 200);
    let (_, body) = http(addr, "GET", &path, b"").await;
    assert!(body.starts_with("40"), "{body}");
    assert_eq!(body.matches("tick").count(), 0);
    // A poll parked on the empty queue: the first volatile emit goes out, the second (the
    // transport is busy with the first) is dropped.
    let parked = tokio::spawn({
        let path = path.clone();
        async move { http(addr, "GET", &path, b"").await }
    });
    let deadline = std::time::Instant::now() + Duration::from_secs(5);
    while !parked.is_finished() && std::time::Instant::now() < deadline {
        let _ = socket.emit_volatile("tick", &args);
        let _ = socket.emit_volatile("tick", &args);
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let (_, body) = parked.await.unwrap();
    assert_eq!(body.matches("tick").count(), 1, "{body}");
}

#[tokio::test]
async fn server_disconnect_and_shutdown_deliver_what_was_queued() {
    let (server, addr) = start(test_config()).await;
    let mut ws = sio_client(addr).await;
    tokio::time::sleep(Duration::from_millis(50)).await;
    server
        .io()
        .emit("last-words", &Args::json("\"bye\"").unwrap());
    server
        .shutdown(Duration::ZERO, Duration::from_secs(2))
        .await;
    let mut got = Vec::new();
    while let Some(text) = next_text(&mut ws).await {
        if text != "2" {
            got.push(text);
        }
    }
    assert_eq!(
        got,
        vec!["42[\"last-words\",\"bye\"]".to_owned(), "41".to_owned()]
    );
    assert!(
        tokio::net::TcpStream::connect(addr).await.is_err(),
        "listener closed"
    );
}

#[tokio::test]
async fn a_client_close_packet_ends_the_session() {
    let (server, addr) = start(test_config()).await;
    let mut ws = sio_client(addr).await;
    tokio::time::sleep(Duration::from_millis(50)).await;
    assert_eq!(server.io().socket_count(), 1);
    ws.send(Message::Text("1".into())).await.unwrap();
    assert!(closed_within(&mut ws, Duration::from_secs(2)).await);
    assert_eq!(server.io().socket_count(), 0);
    assert_eq!(server.session_count(), 0);

    let sid = polling_handshake(addr).await;
    let path = format!("/socket.io/?EIO=4&transport=polling&sid={sid}");
    assert_eq!(http(addr, "POST", &path, b"40\x1e1").await.0, 200);
    assert_eq!(http(addr, "GET", &path, b"").await.0, 400);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stalled_room_member_is_cut_off_by_broadcasts_without_stalling_them() {
    let (server, addr) = start(test_config()).await;
    let mut stalled = sio_client(addr).await;
    stalled
        .send(Message::Text("42[\"join\"]".into()))
        .await
        .unwrap();
    let deadline = std::time::Instant::now() + Duration::from_secs(5);
    while server.io().room_size("room") < 1 && std::time::Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    // The stalled client never reads: its queue overflows in the middle of a room broadcast,
    // which closes it from inside the delivery loop. That must not wait on the room's own lock.
    let io = server.io();
    let flood = tokio::task::spawn_blocking(move || {
        let args = Args::serialize(&"x".repeat(4000)).unwrap();
        for _ in 0..20_000 {
            io.emit_to_room("room", "flood", &args);
        }
    });
    tokio::time::timeout(Duration::from_secs(20), flood)
        .await
        .expect("broadcasts finished (no deadlock)")
        .unwrap();
    assert_eq!(server.stats().slow_consumers, 1);
    assert_eq!(server.io().room_size("room"), 0);
    let mut fresh = sio_client(addr).await;
    assert_echo(&mut fresh, "still serving").await;
    drop(stalled);
}
