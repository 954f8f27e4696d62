//! `RedisEndpoint`: where the adapter's Redis is, one server or a Redis Cluster, and the
//! command connection to it. Commands are routed by key on a cluster (`MOVED`/`ASK` and
//! fail-overs are followed by the `redis` crate), so the engine's commands, sessions and scripts
//! run unchanged on either. A "cluster" of one URL that turns out to be a standalone Redis (a
//! Redis 7 has sharded pub/sub without cluster mode) is served as the one server it is.

use std::time::Duration;

use redis::aio::MultiplexedConnection;
use redis::cluster::ClusterClient;
use redis::cluster_async::ClusterConnection;
use redis::{FromRedisValue, RedisError, RedisResult};

use crate::error::Error;

#[derive(Clone)]
pub enum RedisEndpoint {
    Single(redis::Client),
    /// The nodes a cluster connection starts from (the rest are discovered).
    Cluster(Vec<String>),
}

/// An open command connection to either kind of endpoint.
pub enum CommandConnection {
    Single(MultiplexedConnection),
    Cluster(ClusterConnection),
}

impl RedisEndpoint {
    pub fn single(url: &str) -> Result<Self, Error> {
        redis::Client::open(url)
            .map(Self::Single)
            .map_err(|e| Error::invalid_argument(format!("invalid Redis URL: {e}")))
    }

    /// `seeds`: comma-separated `redis://` URLs of some nodes of one Redis Cluster.
    pub fn cluster(seeds: &str) -> Result<Self, Error> {
        let nodes: Vec<String> = seeds
            .split(',')
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(str::to_owned)
            .collect();
        if nodes.is_empty() {
            return Err(Error::invalid_argument("no Redis Cluster node given"));
        }
        ClusterClient::new(nodes.clone())
            .map_err(|e| Error::invalid_argument(format!("invalid Redis Cluster URL: {e}")))?;
        Ok(Self::Cluster(nodes))
    }

    /// A cluster client builder with the adapter's timeouts (connection, response, retries).
    pub fn cluster_builder(nodes: &[String]) -> redis::cluster::ClusterClientBuilder {
        ClusterClient::builder(nodes.to_vec())
            .connection_timeout(Duration::from_secs(1))
            .response_timeout(Duration::from_secs(1))
            .retries(3)
            .min_retry_wait(50)
            .max_retry_wait(500)
    }

    pub async fn connect(&self) -> RedisResult<CommandConnection> {
        match self {
            Self::Single(client) => {
                let config = redis::AsyncConnectionConfig::new()
                    .set_connection_timeout(Some(Duration::from_secs(1)))
                    .set_response_timeout(Some(Duration::from_secs(1)));
                let connection = client
                    .get_multiplexed_async_connection_with_config(&config)
                    .await?;
                Ok(CommandConnection::Single(connection))
            }
            Self::Cluster(nodes) => {
                let client = Self::cluster_builder(nodes).build()?;
                match client.get_async_connection().await {
                    Ok(connection) => Ok(CommandConnection::Cluster(connection)),
                    Err(error) => match standalone_instead(nodes, &error) {
                        Some(single) => Box::pin(single.connect()).await,
                        None => Err(error),
                    },
                }
            }
        }
    }
}

/// The one server `nodes` names, when connecting to it as a cluster failed because it is a
/// standalone Redis.
pub fn standalone_instead(nodes: &[String], error: &RedisError) -> Option<RedisEndpoint> {
    let [url] = nodes else {
        return None;
    };
    if !error.to_string().contains("cluster support disabled") {
        return None;
    }
    redis::Client::open(url.as_str())
        .ok()
        .map(RedisEndpoint::Single)
}

impl CommandConnection {
    pub async fn query<T: FromRedisValue>(&mut self, cmd: &redis::Cmd) -> RedisResult<T> {
        match self {
            Self::Single(connection) => cmd.query_async(connection).await,
            Self::Cluster(connection) => cmd.query_async(connection).await,
        }
    }
}
