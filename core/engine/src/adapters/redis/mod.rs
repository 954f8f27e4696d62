//! `RedisAdapter`: cross-node broadcasts over Redis pub/sub in the format of the Node
//! `@socket.io/redis-adapter`, so `@socket.io/redis-emitter` and Node Socket.IO servers using
//! that adapter share a cluster with roomcast nodes.
//!
//! Publishing never waits on Redis: broadcasts go into a bounded channel drained by one task
//! that sends them as pipelines on a dedicated, self-reconnecting connection. Receiving runs on a
//! pattern subscription that is re-established with backoff whenever Redis goes away; meanwhile
//! local delivery goes on and `is_connected` reports the truth.
//!
//! The adapter does not subscribe to the request channel (fetchSockets, serverSideEmit, …):
//! Node nodes count request subscribers to know how many answers to wait for, so staying off
//! that channel keeps their requests from waiting on a node that would not answer.

mod cluster;
pub mod commands;
pub mod sessions;
pub mod wire;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use futures_util::StreamExt;
use parking_lot::Mutex;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

use super::Adapter;
use crate::error::Error;
use crate::rooms::broadcast::BroadcastTarget;
use crate::socketio::packet::Args;
use crate::stats::Stats;
pub use cluster::cluster_through_redis;
pub use wire::{RemoteBroadcast, RemoteDisconnect};

/// What another node asked this one to do.
#[derive(Debug, Clone)]
pub enum Remote {
    Broadcast(RemoteBroadcast),
    /// Disconnect members of rooms in the `/` namespace (or the one of the channel).
    Disconnect {
        namespace: String,
        request: RemoteDisconnect,
    },
}

/// Where the adapter hands what came from other nodes.
pub type RemoteDelivery = Arc<dyn Fn(Remote) + Send + Sync>;

const PUBLISH_QUEUE: usize = 65_536;
const PIPELINE_MAX: usize = 512;

pub struct RedisAdapter {
    uid: String,
    prefix: String,
    outbox: mpsc::Sender<(String, Vec<u8>)>,
    connected: Arc<AtomicBool>,
    tasks: Mutex<Vec<JoinHandle<()>>>,
    stats: Arc<Stats>,
}

impl RedisAdapter {
    /// Connects (in the background: a Redis that is down now is retried with backoff) and
    /// starts publishing and receiving. Must run inside a tokio runtime.
    pub fn start(
        url: &str,
        prefix: &str,
        deliver: RemoteDelivery,
        stats: Arc<Stats>,
    ) -> Result<Arc<Self>, Error> {
        let client = redis::Client::open(url)
            .map_err(|e| Error::invalid_argument(format!("invalid Redis URL: {e}")))?;
        let uid = crate::ids::new_wire_id()[..6].to_owned();
        let (outbox, inbox) = mpsc::channel(PUBLISH_QUEUE);
        let connected = Arc::new(AtomicBool::new(false));
        let adapter = Arc::new(Self {
            uid: uid.clone(),
            prefix: prefix.to_owned(),
            outbox,
            connected: connected.clone(),
            tasks: Mutex::new(Vec::new()),
            stats: stats.clone(),
        });
        let publisher = tokio::spawn(publish_loop(client.clone(), inbox, stats));
        let patterns = Patterns {
            broadcasts: format!("{prefix}#"),
            commands: format!("{prefix}-roomcast#"),
        };
        let subscriber = tokio::spawn(subscribe_loop(client, patterns, uid, deliver, connected));
        adapter.tasks.lock().extend([publisher, subscriber]);
        Ok(adapter)
    }

    pub fn uid(&self) -> &str {
        &self.uid
    }

    /// Stops both tasks (shutdown).
    pub fn close(&self) {
        for task in self.tasks.lock().drain(..) {
            task.abort();
        }
        self.connected.store(false, Ordering::Release);
    }
}

impl Drop for RedisAdapter {
    fn drop(&mut self) {
        self.close();
    }
}

impl Adapter for RedisAdapter {
    fn publish(
        &self,
        namespace: &str,
        target: &BroadcastTarget,
        event: &str,
        args: &Args,
        offset: Option<&str>,
    ) {
        let channel = wire::channel(&self.prefix, namespace, target);
        match wire::encode(&self.uid, namespace, target, event, args, offset) {
            Ok(bytes) => {
                if self.outbox.try_send((channel, bytes)).is_err() {
                    self.stats.dropped.fetch_add(1, Ordering::Relaxed);
                    tracing::warn!("redis publish queue full: broadcast not sent to other nodes");
                }
            }
            Err(error) => tracing::warn!(%error, "cannot encode broadcast for redis"),
        }
    }

    fn publish_disconnect(&self, namespace: &str, rooms: &[Arc<str>], close: bool) {
        let request = wire::encode_disconnect(&self.uid, rooms, close);
        // Node nodes listen on the request channel; roomcast nodes on their own command channel
        // (subscribing to the request channel would make Node nodes wait for our answers).
        let node_channel = format!("{}-request#{namespace}#", self.prefix);
        let roomcast_channel = format!("{}-roomcast#{namespace}#", self.prefix);
        for channel in [node_channel, roomcast_channel] {
            if self
                .outbox
                .try_send((channel, request.clone().into_bytes()))
                .is_err()
            {
                self.stats.dropped.fetch_add(1, Ordering::Relaxed);
            }
        }
    }

    fn is_connected(&self) -> bool {
        self.connected.load(Ordering::Acquire)
    }
}

/// Channel prefixes the subscriber listens to (each as a `prefix*` pattern).
struct Patterns {
    broadcasts: String,
    commands: String,
}

fn handle_message(
    patterns: &Patterns,
    uid: &str,
    channel: &str,
    payload: &[u8],
    deliver: &RemoteDelivery,
) {
    if let Some(rest) = channel.strip_prefix(&patterns.commands) {
        let namespace = rest.trim_end_matches('#').to_owned();
        match wire::decode_disconnect(payload) {
            Ok(request) if request.uid != uid => deliver(Remote::Disconnect { namespace, request }),
            Ok(_) => {}
            Err(error) => tracing::debug!(%error, "undecodable redis command ignored"),
        }
        return;
    }
    match wire::decode(payload) {
        Ok(remote) if remote.uid != uid => deliver(Remote::Broadcast(remote)),
        Ok(_) => {} // our own broadcast, already delivered locally
        Err(error) => tracing::debug!(%error, "undecodable redis message ignored"),
    }
}

async fn publish_loop(
    client: redis::Client,
    mut inbox: mpsc::Receiver<(String, Vec<u8>)>,
    stats: Arc<Stats>,
) {
    let mut connection: Option<redis::aio::ConnectionManager> = None;
    let mut batch = Vec::with_capacity(PIPELINE_MAX);
    while inbox.recv_many(&mut batch, PIPELINE_MAX).await > 0 {
        if connection.is_none() {
            let config = redis::aio::ConnectionManagerConfig::new()
                .set_connection_timeout(Some(Duration::from_secs(2)))
                .set_response_timeout(Some(Duration::from_secs(2)))
                .set_max_delay(Duration::from_secs(5));
            match redis::aio::ConnectionManager::new_with_config(client.clone(), config).await {
                Ok(c) => connection = Some(c),
                Err(error) => tracing::warn!(%error, "redis publisher cannot connect"),
            }
        }
        let sent = match connection.as_mut() {
            Some(conn) => {
                let mut pipe = redis::pipe();
                for (channel, payload) in &batch {
                    pipe.publish(channel, payload.as_slice()).ignore();
                }
                match pipe.query_async::<()>(conn).await {
                    Ok(()) => true,
                    Err(error) => {
                        tracing::warn!(%error, "redis publish failed");
                        false
                    }
                }
            }
            None => false,
        };
        if !sent {
            stats
                .dropped
                .fetch_add(batch.len() as u64, Ordering::Relaxed);
        }
        batch.clear();
    }
}

async fn subscribe_loop(
    client: redis::Client,
    patterns: Patterns,
    uid: String,
    deliver: RemoteDelivery,
    connected: Arc<AtomicBool>,
) {
    let mut backoff = Duration::from_millis(100);
    let subscription = [
        format!("{}*", patterns.broadcasts),
        format!("{}*", patterns.commands),
    ];
    loop {
        match client.get_async_pubsub().await {
            Ok(mut pubsub) => match pubsub.psubscribe(&subscription).await {
                Ok(()) => {
                    connected.store(true, Ordering::Release);
                    backoff = Duration::from_millis(100);
                    tracing::info!(?subscription, "redis adapter subscribed");
                    let mut messages = pubsub.on_message();
                    while let Some(message) = messages.next().await {
                        let channel = message.get_channel_name();
                        handle_message(
                            &patterns,
                            &uid,
                            channel,
                            message.get_payload_bytes(),
                            &deliver,
                        );
                    }
                }
                Err(error) => tracing::warn!(%error, "redis psubscribe failed"),
            },
            Err(error) => tracing::warn!(%error, "redis subscriber cannot connect"),
        }
        connected.store(false, Ordering::Release);
        tokio::time::sleep(backoff).await;
        backoff = (backoff * 2).min(Duration::from_secs(5));
    }
}
