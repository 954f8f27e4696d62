//! Wires a `Server`'s `/` namespace to the Redis adapter: its broadcasts and disconnects go out
//! through Redis, and what other nodes publish is delivered to this node's members (logged under
//! the origin's recovery offset). With recovery on, saved sessions move to Redis too, so a client
//! that the load balancer sends to another node still recovers.

use std::sync::Arc;

use super::commands::RedisCommands;
use super::sessions::RedisSessions;
use super::{RedisAdapter, Remote, RemoteDelivery};
use crate::error::Result;
use crate::server::Server;

/// Clusters `server` through the Redis at `url` under channel prefix `prefix` (the Node
/// adapter's `key`). Connecting happens in the background; must run inside a tokio runtime.
pub fn cluster_through_redis(
    server: &Server,
    url: &str,
    prefix: &str,
) -> Result<Arc<RedisAdapter>> {
    let target = server.clone();
    let deliver: RemoteDelivery = Arc::new(move |remote: Remote| match remote {
        Remote::Broadcast(b) => {
            if let Some(ns) = target.namespace(&b.namespace) {
                ns.deliver_remote(&b.target, &b.event, &b.args, b.offset.as_deref());
            }
        }
        Remote::Disconnect { namespace, request } => {
            if let Some(ns) = target.namespace(&namespace) {
                ns.disconnect_local(&request.rooms, &request.except, request.close);
            }
        }
    });
    let adapter = RedisAdapter::start(url, prefix, deliver, server.live_stats().clone())?;
    let io = server.io();
    io.set_adapter(Some(adapter.clone()));
    if io.has_recovery() {
        let redis = Arc::new(RedisCommands::new(url)?);
        io.share_recovery_sessions(Arc::new(RedisSessions {
            redis,
            prefix: format!("{prefix}:roomcast{}", io.name()),
        }));
    }
    Ok(adapter)
}
