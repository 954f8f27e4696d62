//! `RedisCommands`: the few request/answer calls the engine makes outside the broadcast path
//! (subscription counts, recovery sessions), over one lazily (re)connected connection.
//!
//! Commands run on a small runtime of their own (one thread), in the order they were issued.
//! That is what lets synchronous engine code wait for an answer safely: the waiting thread only
//! blocks on a channel, and the Redis I/O makes progress on the other runtime, so a burst of
//! waits (a thousand clients dropping at once) can never starve the connection that would
//! answer them — which waiting on the engine's own runtime could (`block_in_place` hands a
//! worker's core to a new thread each time, and the blocking pool has a limit).

use std::time::Duration;

use crate::error::Error;
use futures_util::future::BoxFuture;
use tokio::sync::{mpsc, oneshot};

use redis::{FromRedisValue, RedisResult};

use super::endpoint::{CommandConnection, RedisEndpoint};

/// How long a synchronous caller waits before falling back to node-local state.
const WAIT_LIMIT: Duration = Duration::from_secs(2);

/// One command with what to do with its answer, run by the driver in issue order.
type Job = Box<dyn FnOnce(Connection) -> BoxFuture<'static, Connection> + Send>;

/// The driver's connection: opened on first use, dropped after an error (reopened next time).
struct Connection {
    endpoint: RedisEndpoint,
    current: Option<CommandConnection>,
}

pub struct RedisCommands {
    jobs: mpsc::UnboundedSender<Job>,
    runtime: Option<tokio::runtime::Runtime>,
}

impl RedisCommands {
    /// Commands to the single Redis at `url`.
    pub fn new(url: &str) -> Result<Self, Error> {
        Self::open(RedisEndpoint::single(url)?)
    }

    pub fn open(endpoint: RedisEndpoint) -> Result<Self, Error> {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .thread_name("roomcast-redis")
            .enable_all()
            .build()
            .map_err(|e| Error::from(e).context("cannot start the Redis command runtime"))?;
        let (jobs, queue) = mpsc::unbounded_channel();
        runtime.spawn(drive(
            queue,
            Connection {
                endpoint,
                current: None,
            },
        ));
        Ok(Self {
            jobs,
            runtime: Some(runtime),
        })
    }

    /// Queues `cmd`; `answer` gets its result once it ran (after every command issued before).
    fn submit<T: FromRedisValue + Send + 'static>(
        &self,
        cmd: redis::Cmd,
        answer: impl FnOnce(RedisResult<T>) + Send + 'static,
    ) {
        let job: Job = Box::new(move |mut connection: Connection| {
            Box::pin(async move {
                let result = connection.execute::<T>(cmd).await;
                answer(result);
                connection
            })
        });
        // Only fails once the runtime is gone (the server is being dropped): nothing to answer.
        let _ = self.jobs.send(job);
    }

    /// Runs `cmd` after every command issued before it and returns the answer.
    pub async fn run<T: FromRedisValue + Send + 'static>(&self, cmd: redis::Cmd) -> RedisResult<T> {
        let (tx, rx) = oneshot::channel();
        self.submit(cmd, move |result| {
            let _ = tx.send(result);
        });
        rx.await.unwrap_or_else(|_| Err(not_running()))
    }

    /// Sends `cmd` without waiting for it; a failure is logged.
    pub fn send(&self, cmd: redis::Cmd) {
        self.submit::<redis::Value>(cmd, |result| {
            if let Err(error) = result {
                tracing::warn!(%error, "redis command failed");
            }
        });
    }

    /// Runs `cmd` and waits for it from synchronous code (any thread), at most
    /// [`WAIT_LIMIT`]; None when Redis did not answer (the caller falls back to local state).
    pub fn wait<T: FromRedisValue + Send + 'static>(&self, cmd: redis::Cmd) -> Option<T> {
        let (tx, rx) = std::sync::mpsc::sync_channel(1);
        self.submit(cmd, move |result: RedisResult<T>| {
            let _ = tx.send(result);
        });
        let receive = || rx.recv_timeout(WAIT_LIMIT);
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

    /// `EVAL script 1 key args...`.
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
        if let Some(runtime) = self.runtime.take() {
            runtime.shutdown_background();
        }
    }
}

/// Runs the queued commands one at a time, in the order they were issued: a command sent
/// without waiting is always applied before any command issued after it.
async fn drive(mut queue: mpsc::UnboundedReceiver<Job>, mut connection: Connection) {
    while let Some(job) = queue.recv().await {
        connection = job(connection).await;
    }
}

impl Connection {
    async fn execute<T: FromRedisValue>(&mut self, cmd: redis::Cmd) -> RedisResult<T> {
        if self.current.is_none() {
            self.current = Some(self.endpoint.connect().await?);
        }
        let Some(connection) = self.current.as_mut() else {
            return Err(not_running());
        };
        let result = connection.query(&cmd).await;
        if result.is_err() {
            self.current = None; // reconnect on the next call
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
    use std::sync::Arc;

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
