//! Engine.IO over HTTP: the handshake, the error answers, polling, and what bad requests cost.

mod common;

use std::time::Duration;

use common::*;
use tokio::io::AsyncWriteExt;
use tokio::net::TcpStream;

#[tokio::test]
async fn open_packet_has_exactly_the_five_fields() {
    let (_server, addr) = start(test_config()).await;
    let (status, body) = http(addr, "GET", "/socket.io/?EIO=4&transport=polling", b"").await;
    assert_eq!(status, 200);
    assert!(body.starts_with('0'));
    let open: serde_json::Map<String, serde_json::Value> =
        serde_json::from_str(&body[1..]).unwrap();
    let mut keys: Vec<&str> = open.keys().map(String::as_str).collect();
    keys.sort();
    assert_eq!(
        keys,
        [
            "maxPayload",
            "pingInterval",
            "pingTimeout",
            "sid",
            "upgrades"
        ]
    );
    assert_eq!(open["upgrades"], serde_json::json!(["websocket"]));
    assert_eq!(open["pingInterval"], 200);
    assert_eq!(open["maxPayload"], 10_000);

    let mut ws = ws_connect(addr, "").await;
    let open = next_text(&mut ws).await.unwrap();
    let open: serde_json::Value = serde_json::from_str(&open[1..]).unwrap();
    assert_eq!(open["upgrades"], serde_json::json!([]));
}

#[tokio::test]
async fn bad_queries_get_engine_io_errors() {
    let (_server, addr) = start(test_config()).await;
    for (method, path, status, body) in [
        (
            "GET",
            "/socket.io/?transport=polling",
            400,
            r#"{"code":5,"message":"Unsupported protocol version"}"#,
        ),
        (
            "GET",
            "/socket.io/?EIO=3&transport=polling",
            400,
            r#"{"code":5,"message":"Unsupported protocol version"}"#,
        ),
        (
            "GET",
            "/socket.io/?EIO=4&transport=carrier-pigeon",
            400,
            r#"{"code":0,"message":"Transport unknown"}"#,
        ),
        (
            "GET",
            "/socket.io/?EIO=4",
            400,
            r#"{"code":0,"message":"Transport unknown"}"#,
        ),
        (
            "POST",
            "/socket.io/?EIO=4&transport=polling",
            400,
            r#"{"code":2,"message":"Bad handshake method"}"#,
        ),
        (
            "GET",
            "/socket.io/?EIO=4&transport=polling&sid=unknown",
            400,
            r#"{"code":1,"message":"Session ID unknown"}"#,
        ),
        (
            "POST",
            "/socket.io/?EIO=4&transport=polling&sid=unknown",
            400,
            r#"{"code":1,"message":"Session ID unknown"}"#,
        ),
        (
            "GET",
            "/socket.io/?EIO=4&transport=websocket",
            400,
            r#"{"code":3,"message":"Bad request"}"#,
        ),
    ] {
        let (got_status, got_body) = http(addr, method, path, b"").await;
        assert_eq!(
            (got_status, got_body.as_str()),
            (status, body),
            "{method} {path}"
        );
    }
    let (status, _) = http(addr, "GET", "/elsewhere", b"").await;
    assert_eq!(status, 404);
    // As in engine.io, every path under the endpoint's is an Engine.IO request.
    let (status, body) = http(addr, "GET", "/socket.io/unknown.js", b"").await;
    assert_eq!(
        (status, body.as_str()),
        (400, r#"{"code":0,"message":"Transport unknown"}"#)
    );
    let (status, body) = http(
        addr,
        "GET",
        "/socket.io/default/?EIO=4&transport=polling",
        b"",
    )
    .await;
    assert_eq!(status, 200);
    assert!(body.starts_with("0{\"sid\":"), "{body}");
}

#[tokio::test]
async fn polling_round_trip_with_socket_io() {
    let (_server, addr) = start(test_config()).await;
    let sid = polling_handshake(addr).await;
    let path = format!("/socket.io/?EIO=4&transport=polling&sid={sid}");
    assert_eq!(
        http(addr, "POST", &path, b"40").await,
        (200, "ok".to_owned())
    );
    let (_, body) = http(addr, "GET", &path, b"").await;
    assert!(body.starts_with("40{\"sid\":"), "{body}");
    assert_eq!(
        http(
            addr,
            "POST",
            &path,
            b"42[\"message\",1]\x1e42[\"message\",2]"
        )
        .await
        .0,
        200
    );
    let (_, body) = http(addr, "GET", &path, b"").await;
    assert_eq!(body, "42[\"message-back\",1]\x1e42[\"message-back\",2]");
}

#[tokio::test]
async fn concurrent_gets_are_refused_and_close_the_session() {
    let (server, addr) = start(test_config()).await;
    let sid = polling_handshake(addr).await;
    let path = format!("/socket.io/?EIO=4&transport=polling&sid={sid}");
    let first = tokio::spawn(async move { http(addr, "GET", &path, b"").await });
    tokio::time::sleep(Duration::from_millis(50)).await;
    let path = format!("/socket.io/?EIO=4&transport=polling&sid={sid}");
    let (status, body) = http(addr, "GET", &path, b"").await;
    assert_eq!(
        (status, body.as_str()),
        (400, r#"{"code":3,"message":"Bad request"}"#)
    );
    // The parked poll is answered with the close packet and the session is gone.
    let (status, body) = first.await.unwrap();
    assert_eq!((status, body.as_str()), (200, "1"));
    assert_eq!(http(addr, "GET", &path, b"").await.0, 400);
    assert_eq!(server.session_count(), 0);
}

#[tokio::test]
async fn bad_polling_bodies_close_only_that_session() {
    let (server, addr) = start(test_config()).await;
    let mut healthy = sio_client(addr).await;
    // Engine.IO cannot decode these: the POST is refused and the session dropped.
    for body in [
        &b"4\xff\xfe"[..], // invalid UTF-8
        b"40\x1ebAAA*",    // invalid base64 binary
        b"9",              // unknown engine packet type
    ] {
        let sid = polling_handshake(addr).await;
        let path = format!("/socket.io/?EIO=4&transport=polling&sid={sid}");
        let (status, _) = http(addr, "POST", &path, body).await;
        assert_eq!(status, 400, "body {body:?}");
        assert_eq!(
            http(addr, "GET", &path, b"").await.0,
            400,
            "session closed after {body:?}"
        );
    }
    // Socket.IO protocol violations: as socket.io, the session is closed cleanly (what was
    // queued is written, then a `noop` and the close packet), and then gone.
    for body in [
        &b"4"[..],                         // empty Socket.IO packet
        b"42[\"not connected\"]",          // an event before CONNECT
        b"40\x1e42{\"not\":\"an array\"}", // event payload not an array
        b"40\x1e4399999999999999999999[]", // ack id overflow
        b"40\x1e4599999-[\"a\"]",          // absurd attachment count
    ] {
        let sid = polling_handshake(addr).await;
        let path = format!("/socket.io/?EIO=4&transport=polling&sid={sid}");
        let (status, _) = http(addr, "POST", &path, body).await;
        assert_eq!(status, 200, "body {body:?}");
        let mut last = http(addr, "GET", &path, b"").await.1;
        if last.starts_with("40") {
            last = http(addr, "GET", &path, b"").await.1;
        }
        assert_eq!(last, "6\x1e1", "body {body:?}");
        assert_eq!(http(addr, "GET", &path, b"").await.0, 400);
    }
    assert_echo(&mut healthy, "still-here").await;
    assert!(server.stats().parse_errors >= 8);
}

#[tokio::test]
async fn polling_body_over_max_payload_is_413() {
    let (_server, addr) = start(test_config()).await;
    let sid = polling_handshake(addr).await;
    let path = format!("/socket.io/?EIO=4&transport=polling&sid={sid}");
    let big = vec![b'4'; 20_000];
    let (status, _) = http(addr, "POST", &path, &big).await;
    assert_eq!(status, 413);
}

#[tokio::test]
async fn malformed_http_and_smuggling_shapes_are_refused() {
    let (_server, addr) = start(test_config()).await;
    let smuggle = b"POST /socket.io/?EIO=4&transport=polling HTTP/1.1\r\nHost: x\r\nContent-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n";
    let (status, _) = parse_response(&raw_request(addr, smuggle).await);
    assert_eq!(status, 400);
    let double_length = b"POST /socket.io/?EIO=4&transport=polling HTTP/1.1\r\nHost: x\r\nContent-Length: 4\r\nContent-Length: 5\r\n\r\nabcde";
    let (status, _) = parse_response(&raw_request(addr, double_length).await);
    assert_eq!(status, 400);
    let (status, _) = parse_response(&raw_request(addr, b"GARBAGE\r\n\r\n").await);
    assert_eq!(status, 400);
    let huge_header = format!(
        "GET /socket.io/?EIO=4&transport=polling HTTP/1.1\r\nHost: x\r\nX-Big: {}\r\n\r\n",
        "a".repeat(64 * 1024)
    );
    let (status, _) = parse_response(&raw_request(addr, huge_header.as_bytes()).await);
    assert_eq!(status, 431);
    let huge_url = format!(
        "GET /socket.io/?EIO=4&transport=polling&x={} HTTP/1.1\r\nHost: x\r\n\r\n",
        "a".repeat(64 * 1024)
    );
    let (status, _) = parse_response(&raw_request(addr, huge_url.as_bytes()).await);
    assert!(status == 431 || status == 414, "status {status}");
}

#[tokio::test]
async fn bad_websocket_upgrades_are_refused() {
    let (_server, addr) = start(test_config()).await;
    let base = "GET /socket.io/?EIO=4&transport=websocket HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n";
    for extra in [
        "Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: short\r\n",
        "Sec-WebSocket-Version: 8\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n",
        "Sec-WebSocket-Version: 13\r\n",
    ] {
        let request = format!("{base}{extra}\r\n");
        let (status, body) = parse_response(&raw_request(addr, request.as_bytes()).await);
        assert_eq!(
            (status, body.as_str()),
            (400, r#"{"code":3,"message":"Bad request"}"#),
            "{extra}"
        );
    }
    let good = format!(
        "{base}Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n"
    );
    let response = raw_request(addr, good.as_bytes()).await;
    assert!(response.starts_with("HTTP/1.1 101"), "{response}");
    assert!(response.contains("s3pPLMBiTxaQ9kYGzzhZRbK+xOo="));
}

#[tokio::test]
async fn slow_and_silent_connections_hit_the_header_deadline() {
    let (_server, addr) = start(test_config()).await;
    // Never speaks: closed once the 500 ms header deadline passes.
    let mut silent = TcpStream::connect(addr).await.unwrap();
    let silent_task =
        tokio::spawn(async move { read_to_eof(&mut silent, Duration::from_secs(5)).await });
    // Sends its headers one byte every 100 ms, so they never complete within the deadline.
    let mut slow = TcpStream::connect(addr).await.unwrap();
    let request = b"GET /socket.io/?EIO=4&transport=polling HTTP/1.1\r\nHost: x\r\n\r\n";
    for byte in request {
        if slow.write_all(&[*byte]).await.is_err() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let answer = read_to_eof(&mut slow, Duration::from_secs(5)).await;
    let answer = answer.expect("slow connection closed by the server");
    assert!(
        !answer.contains(" 200 "),
        "slow client was served: {answer:?}"
    );
    let silent = silent_task.await.unwrap();
    assert!(silent.is_some(), "silent connection closed by the server");
}

#[tokio::test]
async fn cors_preflight_and_origin_check() {
    let mut config = test_config();
    config.allowed_origins = Some(vec!["https://app.example".to_owned()]);
    let (_server, addr) = start(config).await;
    let ok = raw_request(addr, b"GET /socket.io/?EIO=4&transport=polling HTTP/1.1\r\nHost: x\r\nOrigin: https://app.example\r\nConnection: close\r\n\r\n").await;
    assert!(ok.starts_with("HTTP/1.1 200"), "{ok}");
    assert!(ok
        .to_ascii_lowercase()
        .contains("access-control-allow-origin: https://app.example"));
    assert!(ok
        .to_ascii_lowercase()
        .contains("access-control-allow-credentials: true"));
    let denied = raw_request(addr, b"GET /socket.io/?EIO=4&transport=polling HTTP/1.1\r\nHost: x\r\nOrigin: https://evil.example\r\nConnection: close\r\n\r\n").await;
    let (status, body) = parse_response(&denied);
    assert_eq!(
        (status, body.as_str()),
        (403, r#"{"code":4,"message":"Forbidden"}"#)
    );
    let preflight = raw_request(addr, b"OPTIONS /socket.io/?EIO=4&transport=polling HTTP/1.1\r\nHost: x\r\nOrigin: https://app.example\r\nAccess-Control-Request-Headers: content-type\r\nConnection: close\r\n\r\n").await;
    assert!(preflight.starts_with("HTTP/1.1 204"), "{preflight}");
    assert!(preflight
        .to_ascii_lowercase()
        .contains("access-control-allow-methods: get, post"));
}

#[tokio::test]
async fn the_handshake_hook_sees_new_sessions_only_and_a_panic_refuses_just_that_request() {
    use roomcast::engineio::allow_request::{IncomingRequest, RequestRefused};
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::Arc;
    let (server, addr) = start(test_config()).await;
    let calls = Arc::new(AtomicUsize::new(0));
    let seen = calls.clone();
    server.set_allow_request(Arc::new(move |request: IncomingRequest| {
        seen.fetch_add(1, Ordering::Relaxed);
        let desk = request
            .query_pairs()
            .into_iter()
            .find(|(k, _)| k == "desk")
            .map(|(_, v)| v);
        Box::pin(async move {
            match desk.as_deref() {
                Some("panic") => panic!("host bug"),
                Some("closed desk") => Err(RequestRefused::new("desk closed")),
                Some("default") => Err(RequestRefused::from_message("")),
                _ => Ok(()),
            }
        })
    }));
    let base = "/socket.io/?EIO=4&transport=polling";
    let (status, body) = http(addr, "GET", &format!("{base}&desk=closed%20desk"), b"").await;
    assert_eq!(
        (status, body.as_str()),
        (403, r#"{"code":4,"message":"desk closed"}"#)
    );
    let (status, body) = http(addr, "GET", &format!("{base}&desk=default"), b"").await;
    assert_eq!(
        (status, body.as_str()),
        (403, r#"{"code":4,"message":"Forbidden"}"#)
    );
    let (status, _) = http(addr, "GET", &format!("{base}&desk=panic"), b"").await;
    assert_eq!(status, 403, "a panicking hook refuses only that handshake");
    let (status, body) = http(addr, "GET", &format!("{base}&desk=open"), b"").await;
    assert_eq!(status, 200);
    let before = calls.load(Ordering::Relaxed);
    let sid = serde_json::from_str::<serde_json::Value>(&body[1..]).unwrap()["sid"]
        .as_str()
        .unwrap()
        .to_owned();
    let (status, _) = http(addr, "POST", &format!("{base}&sid={sid}"), b"40").await;
    assert_eq!(status, 200);
    assert_eq!(
        calls.load(Ordering::Relaxed),
        before,
        "requests of an open session skip the hook"
    );
}
