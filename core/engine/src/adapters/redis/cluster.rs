//! Clusters a `Server` through Redis: every namespace (present and future) publishes its
//! broadcasts and cluster requests through the Redis adapter, and what other nodes send reaches
//! this node's namespaces. Requests for other nodes' sessions are relayed to them once the host
//! tells where this node takes relayed requests (`RedisAdapter::relay_requests_at`). With recovery on, saved sessions move to Redis too (`session_store`),
//! so a client that the load balancer sends to another node still recovers.

use std::sync::Arc;
use std::time::Duration;

use super::{NamespaceLookup, RedisAdapter};
use crate::error::{Error, Result};
use crate::server::Server;

/// How a server joins a Redis cluster.
#[derive(Debug, Clone)]
pub struct RedisAdapterConfig {
    /// `redis://host:port`; in sharded mode, one or more nodes of the Redis Cluster,
    /// comma-separated (the others are discovered).
    pub url: String,
    /// The channel prefix (the Node adapter's `key`).
    pub prefix: String,
    /// How long a cluster request waits for the other nodes (the Node adapter's
    /// `requestsTimeout`).
    pub requests_timeout: Duration,
    /// Classic pub/sub (the Node `createAdapter`) or sharded pub/sub on a Redis Cluster (the
    /// Node `createShardedAdapter`). Every node of one cluster must use the same.
    pub pubsub: PubSub,
}

/// How broadcasts and cluster requests travel through Redis.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PubSub {
    /// `PUBLISH`/`PSUBSCRIBE` on one Redis: every node receives every broadcast.
    Classic,
    /// `SPUBLISH`/`SSUBSCRIBE` on a Redis Cluster (Redis 7 or later): each channel lives on
    /// the shard that owns its slot, so traffic spreads over the masters.
    Sharded(SubscriptionMode),
}

/// Which broadcasts get a channel of their own in sharded mode (the Node adapter's
/// `subscriptionMode`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum SubscriptionMode {
    /// One channel per namespace: every node receives every broadcast of the namespace.
    Static,
    /// A channel per public room, subscribed only while this node has members in it; a
    /// broadcast to one public room reaches only the nodes serving that room. Broadcasts to a
    /// socket's own room, to several rooms or to everyone use the namespace channel.
    #[default]
    Dynamic,
    /// As `Dynamic`, and each socket's own room gets a channel too.
    DynamicPrivate,
}

impl PubSub {
    /// Sharded pub/sub in the mode named as the Node adapter names it (None: its default,
    /// `dynamic`).
    pub fn sharded(mode: Option<&str>) -> Result<Self> {
        match mode {
            None => Ok(Self::Sharded(SubscriptionMode::default())),
            Some(name) => SubscriptionMode::parse(name)
                .map(Self::Sharded)
                .ok_or_else(|| {
                    Error::invalid_argument(format!(
                        "unknown subscriptionMode \"{name}\" (static, dynamic or dynamic-private)"
                    ))
                }),
        }
    }
}

impl SubscriptionMode {
    /// The Node adapter's names: `static`, `dynamic`, `dynamic-private`.
    pub fn parse(name: &str) -> Option<Self> {
        match name {
            "static" => Some(Self::Static),
            "dynamic" => Some(Self::Dynamic),
            "dynamic-private" => Some(Self::DynamicPrivate),
            _ => None,
        }
    }
}

impl RedisAdapterConfig {
    /// The Node adapter's defaults (`socket.io`, 5 s) for the Redis at `url`.
    pub fn new(url: &str) -> Self {
        Self {
            url: url.to_owned(),
            prefix: "socket.io".to_owned(),
            requests_timeout: Duration::from_secs(5),
            pubsub: PubSub::Classic,
        }
    }

    /// Sharded pub/sub on the Redis Cluster that `seeds` (comma-separated `redis://` URLs of
    /// some of its nodes) belong to.
    pub fn sharded(seeds: &str, mode: SubscriptionMode) -> Self {
        Self {
            pubsub: PubSub::Sharded(mode),
            ..Self::new(seeds)
        }
    }
}

/// Clusters `server` through Redis. Connecting happens in the background; must run inside a
/// tokio runtime.
pub fn cluster_through_redis(
    server: &Server,
    config: &RedisAdapterConfig,
) -> Result<Arc<RedisAdapter>> {
    let target = server.clone();
    let namespaces: NamespaceLookup = Arc::new(move |name: &str| target.namespace(name));
    let adapter = RedisAdapter::start(config, namespaces, server.live_stats().clone())?;
    server.set_adapter(Some(adapter.clone()));
    server.set_session_locator(Some(adapter.session_locator().clone()));
    Ok(adapter)
}
