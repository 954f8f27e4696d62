//! `RedisCommands`: the few request/answer calls the engine makes outside the broadcast path
//! (subscription counts, recovery sessions), over one lazily (re)connected connection.
//!
//! Commands run on a small runtime of their own (one thread), in the order they were issued.
//! That is what lets synchronous engine code wait for an answer safely: the waiting thread only
//! blocks on a channel, and the Redis I/O makes progress on the other runtime, so a burst of
//! waits (a thousand clients dropping at once) can never starve the connection that would
//! answer them — which waiting on the engine's own runtime could (`block_in_place` hands a
//! worker's core to a new thread each time, and the blocking pool has a limit).

use std::sync::Arc;
use std::time::Duration;

use redis::aio::MultiplexedConnection;
use redis::{FromRedisValue, RedisResult};

/// How long a synchronous caller waits before falling back to node-local state.
const WAIT_LIMIT: Duration = Duration::from_secs(2);

struct Connection {
    client: redis::Client,
    /// Held across each command: commands go out one at a time, in issue order.
    current: tokio::sync::Mutex<Option<MultiplexedConnection>>,
}

pub struct RedisCommands {
    connection: Arc<Connection>,
    runtime: Option<tokio::runtime::Runtime>,
    handle: tokio::runtime::Handle,
}

impl RedisCommands {
    pub fn new(url: &str) -> Result<Self, String> {
        let client = redis::Client::open(url).map_err(|e| format!("invalid Redis URL: {e}"))?;
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .thread_name("roomcast-redis")
            .enable_all()
            .build()
            .map_err(|e| format!("cannot start the Redis command runtime: {e}"))?;
        Ok(Self {
            connection: Arc::new(Connection {
                client,
                current: tokio::sync::Mutex::new(None),
            }),
            handle: runtime.handle().clone(),
            runtime: Some(runtime),
        })
    }

    /// Runs `cmd` and returns its answer.
    pub async fn run<T: FromRedisValue + Send + 'static>(&self, cmd: redis::Cmd) -> RedisResult<T> {
        let connection = self.connection.clone();
        self.handle
            .spawn(async move { connection.execute(cmd).await })
            .await
            .unwrap_or_else(|_| Err(not_running()))
    }

    /// Issues `cmd` without waiting for it (later commands still go out after it).
    pub fn send(&self, cmd: redis::Cmd) {
        let connection = self.connection.clone();
        self.handle.spawn(async move {
            if let Err(error) = connection.execute::<redis::Value>(cmd).await {
                tracing::warn!(%error, "redis command failed");
            }
        });
    }

    /// Runs `cmd` from synchronous engine code and waits for the answer. On a Redis failure or
    /// after `WAIT_LIMIT` it returns `None`, and the caller falls back to node-local state.
    pub fn wait<T: FromRedisValue + Send + 'static>(&self, cmd: redis::Cmd) -> Option<T> {
        let (tx, rx) = std::sync::mpsc::sync_channel(1);
        let connection = self.connection.clone();
        self.handle.spawn(async move {
            let _ = tx.send(connection.execute::<T>(cmd).await);
        });
        let receive = || rx.recv_timeout(WAIT_LIMIT);
        // On a multi-threaded runtime, let the worker's other tasks move on meanwhile.
        let answer = match tokio::runtime::Handle::try_current() {
            Ok(h) if h.runtime_flavor() == tokio::runtime::RuntimeFlavor::MultiThread => {
                tokio::task::block_in_place(receive)
            }
            _ => receive(),
        };
        match answer {
            Ok(Ok(value)) => Some(value),
            Ok(Err(error)) => {
                tracing::warn!(%error, "redis unavailable; using node-local state");
                None
            }
            Err(_) => {
                tracing::warn!("redis did not answer in time; using node-local state");
                None
            }
        }
    }

    /// `EVAL script 1 key args...`
    pub fn script(script: &str, key: String, args: &[String]) -> redis::Cmd {
        let mut cmd = redis::cmd("EVAL");
        cmd.arg(script).arg(1).arg(key);
        for arg in args {
            cmd.arg(arg);
        }
        cmd
    }
}

impl Drop for RedisCommands {
    fn drop(&mut self) {
        // Dropping a runtime blocks; this may run inside async code, so let it wind down alone.
        if let Some(runtime) = self.runtime.take() {
            runtime.shutdown_background();
        }
    }
}

impl Connection {
    async fn execute<T: FromRedisValue>(&self, cmd: redis::Cmd) -> RedisResult<T> {
        let mut guard = self.current.lock().await;
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
            return Err(not_running());
        };
        let result = cmd.query_async(connection).await;
        if result.is_err() {
            *guard = None; // reconnect on the next call
        }
        result
    }
}

fn not_running() -> redis::RedisError {
    redis::RedisError::from((redis::ErrorKind::Io, "redis command runtime stopped"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn an_unreachable_redis_falls_back_quickly_even_for_many_waiters() {
        // Nothing listens on port 1: every wait must come back with None, none may hang, and
        // a thousand concurrent waiters must not exhaust the runtime.
        let commands = Arc::new(RedisCommands::new("redis://127.0.0.1:1").unwrap());
        let waiters: Vec<_> = (0..1000)
            .map(|_| {
                let commands = commands.clone();
                tokio::spawn(async move { commands.wait::<i64>(redis::cmd("PING")) })
            })
            .collect();
        let all = async {
            for waiter in waiters {
                assert_eq!(waiter.await.unwrap(), None);
            }
        };
        tokio::time::timeout(Duration::from_secs(60), all)
            .await
            .expect("every waiter answered");
        assert!(commands.run::<String>(redis::cmd("PING")).await.is_err());
    }
}
