//! Configuration of the dashboard preset on top of the engine, with the dashboard's defaults.

use std::collections::HashMap;
use std::time::Duration;

use crate::limits::RateLimit;
use roomcast_engine::adapters::redis::PubSub;
use roomcast_engine::config::EngineConfig;
use roomcast_engine::error::{Error, Result};

#[derive(Debug, Clone)]
pub struct RealtimeConfig {
    pub engine: EngineConfig,
    /// A validator that has not answered by then fails the handshake (`AUTHENTICATION_FAILED`).
    pub auth_timeout: Duration,
    /// Per-user, per-event limits; any event name may be listed, built-in or custom.
    pub rate_limits: HashMap<String, RateLimit>,
    /// A socket that is rate limited more often than this is disconnected.
    pub max_rate_violations: u32,
    /// Concurrent subscriptions per user across all of the user's connections.
    pub max_subscriptions: u32,
    /// Symbols accepted in one `subscribe:watchlist` / `unsubscribe:watchlist`.
    pub max_symbols_per_request: usize,
    /// A connection of a user who disconnected less than this ago counts as a reconnection.
    pub reconnect_window: Duration,
    /// Time between `server:shutdown` and closing every connection.
    pub shutdown_grace: Duration,
    /// Redis URL (`redis://host:port`): broadcasts then reach every node of the cluster.
    pub redis_url: Option<String>,
    /// Channel prefix, as the Node adapter's `key` option (default `socket.io`).
    pub redis_prefix: String,
    /// Classic pub/sub on one Redis, or sharded pub/sub on a Redis Cluster (`redis_url` then
    /// lists cluster nodes, comma-separated).
    pub redis_pubsub: PubSub,
    /// How long a node's subscription counts outlive it in Redis if it dies without a shutdown.
    pub redis_node_ttl: Duration,
    /// After the close, how long shutdown waits at most for queued packets to be written
    /// (a polling client that stopped polling cannot collect them).
    pub shutdown_drain: Duration,
}

impl Default for RealtimeConfig {
    fn default() -> Self {
        let per_minute = RateLimit::per_minute(10);
        Self {
            engine: EngineConfig::default(),
            auth_timeout: Duration::from_secs(5),
            rate_limits: HashMap::from([
                ("subscribe:portfolio".to_owned(), per_minute),
                ("subscribe:trades".to_owned(), per_minute),
                ("subscribe:watchlist".to_owned(), per_minute),
            ]),
            max_rate_violations: 20,
            max_subscriptions: 50,
            max_symbols_per_request: 50,
            reconnect_window: Duration::from_secs(60),
            shutdown_grace: Duration::from_secs(1),
            shutdown_drain: Duration::from_secs(2),
            redis_url: None,
            redis_prefix: "socket.io".to_owned(),
            redis_pubsub: PubSub::Classic,
            redis_node_ttl: Duration::from_secs(15),
        }
    }
}

impl RealtimeConfig {
    /// Limits `event` (any event name, built-in or custom) per user.
    pub fn set_rate_limit(&mut self, event: &str, limit: RateLimit) -> Result<()> {
        check_rate_limit(event, &limit)?;
        self.rate_limits.insert(event.to_owned(), limit);
        Ok(())
    }

    pub fn set_redis_url(&mut self, url: &str) -> Result<()> {
        check_redis_url(url)?;
        self.redis_url = Some(url.to_owned());
        Ok(())
    }

    /// Sharded pub/sub on a Redis Cluster, in the subscription mode named as the Node adapter
    /// names it (`static`, `dynamic`, `dynamic-private`; None: `dynamic`).
    pub fn set_redis_sharded(&mut self, mode: Option<&str>) -> Result<()> {
        self.redis_pubsub = PubSub::sharded(mode)?;
        Ok(())
    }

    /// `EngineConfig::validate` and the preset's own settings; `RealtimeServer::start` calls it.
    pub fn validate(&self) -> Result<()> {
        self.engine.validate()?;
        for (event, limit) in &self.rate_limits {
            check_rate_limit(event, limit)?;
        }
        match &self.redis_url {
            Some(url) => check_redis_url(url),
            None => Ok(()),
        }
    }
}

fn check_rate_limit(event: &str, limit: &RateLimit) -> Result<()> {
    if event.is_empty() || limit.window.is_zero() {
        Err(Error::invalid_argument(
            "a rate limit needs an event name and a window > 0",
        ))
    } else {
        Ok(())
    }
}

/// One URL, or several comma-separated (the nodes of a Redis Cluster).
fn check_redis_url(url: &str) -> Result<()> {
    let each_is_redis = url
        .split(',')
        .map(str::trim)
        .all(|u| u.starts_with("redis://") || u.starts_with("rediss://"));
    if each_is_redis {
        Ok(())
    } else {
        Err(Error::invalid_argument("url must start with redis://"))
    }
}
