//! The cluster-wide forms of the Server API on `NativeIo` (socket.io's `io.adapter(…)`,
//! `fetchSockets`, `socketsJoin/Leave`, `disconnectSockets`, `serverSideEmit`, `allRooms`,
//! acks from many across nodes). Without an adapter they act on this server, as socket.io's
//! in-memory adapter does.

use std::time::Duration;

use napi::bindgen_prelude::*;
use napi_derive::napi;
use roomcast::adapters::redis::{cluster_through_redis, PubSub, RedisAdapterConfig};
use roomcast::Args;

use crate::error::{js_async_error, js_error, Result};
use crate::io::{args_array, operator, AckOutcome, IoTarget, NativeIo};

/// A socket `fetchSockets` found (socket.io's `RemoteSocket` fields).
#[napi(object)]
pub struct FetchedSocketInfo {
    pub id: String,
    /// socket.io's `handshake`, as JSON.
    pub handshake: String,
    pub rooms: Vec<String>,
    /// `socket.data`, as JSON.
    pub data: String,
    /// Whether the socket is on this server.
    pub local: bool,
}

/// The answers a cluster-wide request gathered; `complete` unless some did not come in time.
#[napi(object)]
pub struct CollectedAcks {
    pub replies: Vec<AckOutcome>,
    pub complete: bool,
}

/// Each server's reply to a server-side emit (a JSON array), `complete` as above.
#[napi(object)]
pub struct ServerReplies {
    pub replies: String,
    pub complete: bool,
}

#[napi]
impl NativeIo {
    /// Clusters every namespace through the Redis at `url` (the Node adapter's `key` and
    /// `requestsTimeout` when given). With `sharded`, through sharded pub/sub on the Redis
    /// Cluster `url` names (comma-separated nodes), in `subscription_mode`.
    #[napi]
    pub fn use_redis(
        &self,
        url: String,
        key: Option<String>,
        requests_timeout: Option<u32>,
        sharded: Option<bool>,
        subscription_mode: Option<String>,
    ) -> Result<()> {
        let mut config = RedisAdapterConfig::new(&url);
        if sharded == Some(true) {
            config.pubsub = PubSub::sharded(subscription_mode.as_deref()).map_err(js_error)?;
        }
        if let Some(key) = key {
            config.prefix = key;
        }
        if let Some(ms) = requests_timeout {
            config.requests_timeout = Duration::from_millis(u64::from(ms));
        }
        let adapter = napi::bindgen_prelude::within_runtime_if_available(|| {
            cluster_through_redis(&self.server, &config)
        })
        .map_err(js_error)?;
        *self.redis.lock() = Some(adapter);
        Ok(())
    }

    /// Other servers of the cluster relay requests for this server's sessions to `address`
    /// (`host:port` they reach this server at), so the load balancer needs no sticky sessions.
    #[napi]
    pub fn relay_requests_at(&self, address: String) -> Result<()> {
        let adapter = self.redis.lock().clone();
        let Some(adapter) = adapter else {
            return Err(js_error(roomcast::error::Error::invalid_argument(
                "not clustered: call useRedis first",
            )));
        };
        napi::bindgen_prelude::within_runtime_if_available(|| adapter.relay_requests_at(address));
        Ok(())
    }

    /// The sockets `target` addresses on every server (this server's first).
    #[napi]
    pub async fn fetch_sockets(
        &self,
        nsp: String,
        target: IoTarget,
    ) -> napi::Result<Vec<FetchedSocketInfo>> {
        let ns = self.find_namespace(&nsp).map_err(js_async_error)?;
        let found = operator(&ns, &target)
            .fetch_sockets()
            .await
            .map_err(js_async_error)?;
        Ok(found
            .into_iter()
            .map(|socket| FetchedSocketInfo {
                local: socket.local.is_some(),
                handshake: socket.info.handshake.to_string(),
                data: socket.info.data.to_string(),
                rooms: socket.info.rooms,
                id: socket.info.id,
            })
            .collect())
    }

    #[napi]
    pub fn sockets_join(&self, nsp: String, target: IoTarget, rooms: Vec<String>) -> Result<()> {
        let ns = self.namespace(&nsp)?;
        let rooms: Vec<&str> = rooms.iter().map(String::as_str).collect();
        operator(&ns, &target).sockets_join(&rooms);
        Ok(())
    }

    #[napi]
    pub fn sockets_leave(&self, nsp: String, target: IoTarget, rooms: Vec<String>) -> Result<()> {
        let ns = self.namespace(&nsp)?;
        let rooms: Vec<&str> = rooms.iter().map(String::as_str).collect();
        operator(&ns, &target).sockets_leave(&rooms);
        Ok(())
    }

    #[napi]
    pub fn disconnect_sockets(&self, nsp: String, target: IoTarget, close: bool) -> Result<()> {
        let ns = self.namespace(&nsp)?;
        operator(&ns, &target).disconnect_sockets(close);
        Ok(())
    }

    /// Acks from many on every server: each addressed socket's first ack value, within
    /// `timeout_ms`.
    #[napi]
    pub async fn broadcast_with_ack(
        &self,
        nsp: String,
        target: IoTarget,
        event: String,
        json_array: String,
        attachments: Option<Vec<Buffer>>,
        timeout_ms: u32,
    ) -> napi::Result<CollectedAcks> {
        let args = args_array(&json_array, attachments).map_err(js_async_error)?;
        let ns = self.find_namespace(&nsp).map_err(js_async_error)?;
        let timeout = Duration::from_millis(u64::from(timeout_ms));
        let collected = operator(&ns, &target)
            .collect_acks(&event, &args, timeout)
            .await;
        Ok(CollectedAcks {
            replies: collected.values.iter().map(AckOutcome::replied).collect(),
            complete: collected.complete,
        })
    }

    /// Sends an event to the other servers (their `io.on(event)` listeners).
    #[napi]
    pub fn server_side_emit(&self, nsp: String, event: String, json_array: String) -> Result<()> {
        let args = Args::json_array(&json_array).map_err(|e| js_error(e.into()))?;
        self.namespace(&nsp)?.server_side_emit(&event, &args);
        Ok(())
    }

    /// `server_side_emit` where each other server answers once.
    #[napi]
    pub async fn server_side_emit_with_ack(
        &self,
        nsp: String,
        event: String,
        json_array: String,
    ) -> napi::Result<ServerReplies> {
        let args = Args::json_array(&json_array).map_err(|e| js_async_error(e.into()))?;
        let ns = self.find_namespace(&nsp).map_err(js_async_error)?;
        let collected = ns.server_side_emit_with_ack(&event, &args).await;
        Ok(ServerReplies {
            replies: serde_json::Value::Array(collected.values).to_string(),
            complete: collected.complete,
        })
    }

    /// Every room with a member on any server.
    #[napi]
    pub async fn all_rooms(&self, nsp: String) -> napi::Result<Vec<String>> {
        let ns = self.find_namespace(&nsp).map_err(js_async_error)?;
        ns.all_rooms().await.map_err(js_async_error)
    }

    /// How many servers serve `nsp`, this one included.
    #[napi]
    pub async fn server_count(&self, nsp: String) -> napi::Result<u32> {
        let ns = self.find_namespace(&nsp).map_err(js_async_error)?;
        Ok(ns.server_count().await as u32)
    }
}
