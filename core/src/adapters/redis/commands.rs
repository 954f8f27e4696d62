//! `RedisCommands`: one lazily (re)connected multiplexed connection for the few request/answer
//! calls the engine makes outside the broadcast path (subscription counts, recovery sessions),
//! with a way to wait for one from synchronous engine code.

use std::future::Future;
use std::time::Duration;

pub struct RedisCommands {
    client: redis::Client,
    connection: tokio::sync::Mutex<Option<redis::aio::MultiplexedConnection>>,
}

impl RedisCommands {
    pub fn new(url: &str) -> Result<Self, String> {
        let client = redis::Client::open(url).map_err(|e| format!("invalid Redis URL: {e}"))?;
        Ok(Self {
            client,
            connection: tokio::sync::Mutex::new(None),
        })
    }

    pub async fn run<T: redis::FromRedisValue>(&self, cmd: redis::Cmd) -> redis::RedisResult<T> {
        let mut guard = self.connection.lock().await;
        if guard.is_none() {
            let config = redis::AsyncConnectionConfig::new()
                .set_connection_timeout(Some(Duration::from_secs(1)))
                .set_response_timeout(Some(Duration::from_secs(1)));
            *guard = Some(
                self.client
                    .get_multiplexed_async_connection_with_config(&config)
                    .await?,
            );
        }
        let Some(connection) = guard.as_mut() else {
            return Err(redis::RedisError::from((
                redis::ErrorKind::Io,
                "no connection",
            )));
        };
        let result = cmd.query_async(connection).await;
        if result.is_err() {
            *guard = None; // reconnect on the next call
        }
        result
    }

    /// `EVAL script 1 key args...`
    pub async fn script<T: redis::FromRedisValue>(
        &self,
        script: &str,
        key: String,
        args: &[String],
    ) -> redis::RedisResult<T> {
        let mut cmd = redis::cmd("EVAL");
        cmd.arg(script).arg(1).arg(key);
        for arg in args {
            cmd.arg(arg);
        }
        self.run(cmd).await
    }

    /// Runs `future` to completion from synchronous engine code. The calls this serves are rare
    /// (rate-limited subscriptions, reconnects), so a worker blocks for one round trip via
    /// `block_in_place`; on a current-thread runtime, or when Redis fails, it returns `None`
    /// and the caller falls back to node-local state.
    pub fn wait<T>(future: impl Future<Output = redis::RedisResult<T>>) -> Option<T> {
        let handle = tokio::runtime::Handle::try_current().ok()?;
        if handle.runtime_flavor() != tokio::runtime::RuntimeFlavor::MultiThread {
            tracing::warn!("cluster state needs a multi-threaded runtime; using node-local state");
            return None;
        }
        match tokio::task::block_in_place(|| handle.block_on(future)) {
            Ok(value) => Some(value),
            Err(error) => {
                tracing::warn!(%error, "redis unavailable; using node-local state");
                None
            }
        }
    }
}
