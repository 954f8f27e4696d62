//! The cluster-wide Rust API over a real redis-server: two servers clustered through the Redis
//! adapter, a raw Socket.IO client on the second, and the first asking about it — fetching
//! sockets, joining them to rooms, server-side emits with acks, and acks from many.

use std::sync::Arc;
use std::time::{Duration, Instant};

use futures_util::SinkExt;
use roomcast::adapters::redis::{cluster_through_redis, RedisAdapter, RedisAdapterConfig};
use roomcast::{Args, Server};
use serde_json::json;
use tokio_tungstenite::tungstenite::Message;

mod common;
use common::{next_text, sio_client, start, start_redis, test_config, Ws};

async fn clustered(url: &str, key: &str) -> (Server, Arc<RedisAdapter>, std::net::SocketAddr) {
    let (server, addr) = start(test_config()).await;
    let config = RedisAdapterConfig {
        prefix: key.to_owned(),
        requests_timeout: Duration::from_secs(2),
        ..RedisAdapterConfig::new(url)
    };
    let adapter = cluster_through_redis(&server, &config).expect("adapter");
    (server, adapter, addr)
}

async fn until(what: &str, mut check: impl AsyncFnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(5);
    while !check().await {
        assert!(Instant::now() < deadline, "{what}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Reads frames until an event with an ack id arrives; answers it with `answer`.
async fn answer_next_ack(ws: &mut Ws, answer: &str) {
    loop {
        let frame = next_text(ws).await.expect("a frame");
        if frame == "2" {
            ws.send(Message::Text("3".into())).await.unwrap();
            continue;
        }
        if let Some(rest) = frame.strip_prefix("42") {
            let id: String = rest.chars().take_while(char::is_ascii_digit).collect();
            if !id.is_empty() {
                let reply = format!("43{id}[{answer}]");
                ws.send(Message::Text(reply.into())).await.unwrap();
                return;
            }
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_server_asks_another_about_its_sockets() {
    let redis = start_redis();
    let (a, _adapter_a, _) = clustered(&redis.url, "rust-cluster").await;
    let (b, _adapter_b, b_addr) = clustered(&redis.url, "rust-cluster").await;
    until("both servers counted", async || {
        a.io().server_count().await == 2 && b.io().server_count().await == 2
    })
    .await;

    let mut client = sio_client(b_addr).await;
    until("the client is on b", async || b.io().socket_count() == 1).await;
    let remote = b.io().sockets().pop().unwrap();
    remote.join("desk:fx");
    remote.set_data(json!({"user": "bob"}));

    // fetch_sockets: the other server's socket, described.
    let found = a
        .io()
        .to("desk:fx")
        .fetch_sockets()
        .await
        .expect("answered");
    assert_eq!(found.len(), 1);
    assert!(found[0].local.is_none());
    assert_eq!(found[0].info.id, remote.id());
    assert!(found[0].info.rooms.contains(&"desk:fx".to_owned()));
    assert_eq!(found[0].info.data, json!({"user": "bob"}));
    assert!(a
        .io()
        .everyone()
        .local()
        .fetch_sockets()
        .await
        .unwrap()
        .is_empty());

    // sockets_join reaches the socket on b.
    a.io().to("desk:fx").sockets_join(&["alerts"]);
    until("joined on b", async || remote.in_room("alerts")).await;

    // all_rooms sees b's rooms.
    let rooms = a.io().all_rooms().await.expect("answered");
    assert!(rooms.contains(&"alerts".to_owned()) && rooms.contains(&remote.id().to_owned()));

    // A server-side emit with an ack: b answers once.
    b.io().on_server_side_emit(|event, args, ack| {
        if let Some(ack) = ack {
            ack(json!({"event": event, "args": args.to_json_array()}));
        }
    });
    let replies = a
        .io()
        .server_side_emit_with_ack("health", &Args::json("1").unwrap())
        .await;
    assert!(replies.complete);
    assert_eq!(
        replies.values,
        vec![json!({"event": "health", "args": "[1]"})]
    );

    // Acks from many: b's client answers a broadcast with ack sent from a.
    let asking = {
        let a = a.clone();
        tokio::spawn(async move {
            a.io()
                .to("alerts")
                .collect_acks("vote", &Args::none(), Duration::from_secs(3))
                .await
        })
    };
    answer_next_ack(&mut client, r#""yes""#).await;
    let votes = asking.await.unwrap();
    assert!(votes.complete);
    assert_eq!(votes.values, vec![Args::json(r#""yes""#).unwrap()]);

    // disconnect_sockets through a: b's socket leaves.
    a.io().to("alerts").disconnect_sockets(false);
    until("disconnected on b", async || b.io().socket_count() == 0).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn broadcasts_from_other_nodes_are_counted_and_so_are_those_nobody_here_wanted() {
    let redis = start_redis();
    let (a, _adapter_a, _) = clustered(&redis.url, "rust-counted").await;
    let (b, _adapter_b, b_addr) = clustered(&redis.url, "rust-counted").await;
    until("both servers counted", async || {
        a.io().server_count().await == 2 && b.io().server_count().await == 2
    })
    .await;
    let _client = sio_client(b_addr).await;
    until("the client is on b", async || b.io().socket_count() == 1).await;
    b.io().sockets().pop().unwrap().join("desk:fx");

    let counts = || {
        let s = b.live_stats().snapshot();
        (s.cluster_broadcasts_in, s.cluster_broadcasts_unmatched)
    };
    a.io()
        .emit_to_room("desk:fx", "tick", &Args::json("1").unwrap());
    until("the matched broadcast arrived", async || counts() == (1, 0)).await;
    a.io()
        .emit_to_room("desk:rates", "tick", &Args::json("2").unwrap());
    until("the unmatched one too", async || counts() == (2, 1)).await;
}
