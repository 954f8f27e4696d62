//! Clusters a `Server` through Redis: every namespace (present and future) publishes its
//! broadcasts and cluster requests through the Redis adapter, and what other nodes send reaches
//! this node's namespaces. With recovery on, saved sessions move to Redis too (`session_store`),
//! so a client that the load balancer sends to another node still recovers.

use std::sync::Arc;
use std::time::Duration;

use super::{NamespaceLookup, RedisAdapter};
use crate::error::Result;
use crate::server::Server;

/// How a server joins a Redis cluster.
#[derive(Debug, Clone)]
pub struct RedisAdapterConfig {
    /// `redis://host:port`.
    pub url: String,
    /// The channel prefix (the Node adapter's `key`).
    pub prefix: String,
    /// How long a cluster request waits for the other nodes (the Node adapter's
    /// `requestsTimeout`).
    pub requests_timeout: Duration,
}

impl RedisAdapterConfig {
    /// The Node adapter's defaults (`socket.io`, 5 s) for the Redis at `url`.
    pub fn new(url: &str) -> Self {
        Self {
            url: url.to_owned(),
            prefix: "socket.io".to_owned(),
            requests_timeout: Duration::from_secs(5),
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
    Ok(adapter)
}
