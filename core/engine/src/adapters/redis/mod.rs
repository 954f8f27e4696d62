//! `RedisAdapter`: a cluster over Redis pub/sub in the format of the Node
//! `@socket.io/redis-adapter` 8.x, so `@socket.io/redis-emitter` and Node Socket.IO servers
//! using that adapter share a cluster with roomcast nodes, as full members.
//!
//! - Broadcasts go out on `<prefix>#<nsp>#[<room>#]` and come in through one pattern
//!   subscription (`<prefix>#*`).
//! - Cluster requests (fetchSockets, socketsJoin/Leave, disconnectSockets, serverSideEmit,
//!   allRooms, broadcasts with acks) go out on `<prefix>-request#<nsp>#`; this node subscribes
//!   to that channel for every namespace it has, so Node nodes count it (`PUBSUB NUMSUB`) and
//!   it answers every request they send, on the requester's response channel.
//!
//! Publishing never waits on Redis: messages go into a bounded channel drained by one task
//! that sends them as pipelines on a dedicated, self-reconnecting connection. Receiving runs on
//! one subscription connection that is re-established with backoff whenever Redis goes away;
//! meanwhile local delivery goes on and `is_connected` reports the truth.

mod cluster;
pub mod commands;
mod pending;
pub mod requests;
pub mod sessions;
mod subscriber;
pub mod wire;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use futures_util::future::BoxFuture;
use parking_lot::Mutex;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

use super::Adapter;
use crate::error::Error;
use crate::rooms::broadcast::BroadcastTarget;
use crate::socketio::cluster::{ClusterAnswer, ClusterRequest, Collected};
use crate::socketio::namespace::Namespace;
use crate::socketio::packet::Args;
use crate::socketio::recovery::SessionStore;
use crate::stats::Stats;
pub use cluster::{cluster_through_redis, RedisAdapterConfig};
use commands::RedisCommands;
use pending::PendingRequests;
use sessions::RedisSessions;
pub use wire::RemoteBroadcast;

/// Finds this node's namespace by name (None: this node does not have it).
pub type NamespaceLookup = Arc<dyn Fn(&str) -> Option<Namespace> + Send + Sync>;

const PUBLISH_QUEUE: usize = 65_536;
const PIPELINE_MAX: usize = 512;

/// The channel names of one prefix (the Node adapter's `key`).
#[derive(Clone)]
pub(crate) struct Channels {
    prefix: Arc<str>,
}

impl Channels {
    fn broadcasts_pattern(&self) -> String {
        format!("{}#*", self.prefix)
    }

    fn request(&self, namespace: &str) -> String {
        format!("{}-request#{namespace}#", self.prefix)
    }

    fn response(&self, namespace: &str) -> String {
        format!("{}-response#{namespace}#", self.prefix)
    }

    fn response_to(&self, namespace: &str, uid: &str) -> String {
        format!("{}-response#{namespace}#{uid}#", self.prefix)
    }
}

pub struct RedisAdapter {
    uid: Arc<str>,
    channels: Channels,
    outbox: mpsc::Sender<(String, Vec<u8>)>,
    connected: Arc<AtomicBool>,
    subscriptions: subscriber::Subscriptions,
    pending: Arc<PendingRequests>,
    commands: Arc<RedisCommands>,
    requests_timeout: Duration,
    tasks: Mutex<Vec<JoinHandle<()>>>,
    stats: Arc<Stats>,
}

impl RedisAdapter {
    /// Connects (in the background: a Redis that is down now is retried with backoff) and
    /// starts publishing and receiving. Must run inside a tokio runtime.
    pub fn start(
        config: &RedisAdapterConfig,
        namespaces: NamespaceLookup,
        stats: Arc<Stats>,
    ) -> Result<Arc<Self>, Error> {
        let client = redis::Client::open(config.url.as_str())
            .map_err(|e| Error::invalid_argument(format!("invalid Redis URL: {e}")))?;
        let uid: Arc<str> = Arc::from(&crate::ids::new_wire_id()[..6]);
        let (outbox, inbox) = mpsc::channel(PUBLISH_QUEUE);
        let channels = Channels {
            prefix: Arc::from(config.prefix.as_str()),
        };
        let connected = Arc::new(AtomicBool::new(false));
        let (subscriptions, subscribe_requests) = subscriber::Subscriptions::new();
        let pending = Arc::new(PendingRequests::default());
        let adapter = Arc::new(Self {
            uid: uid.clone(),
            channels: channels.clone(),
            outbox: outbox.clone(),
            connected: connected.clone(),
            subscriptions: subscriptions.clone(),
            pending: pending.clone(),
            commands: Arc::new(RedisCommands::new(&config.url)?),
            requests_timeout: config.requests_timeout,
            tasks: Mutex::new(Vec::new()),
            stats: stats.clone(),
        });
        let publisher = tokio::spawn(publish_loop(client.clone(), inbox, stats));
        let receiver = subscriber::Receiver {
            uid,
            channels,
            namespaces,
            outbox,
            pending,
            connected,
        };
        let subscriber = tokio::spawn(subscriber::run(
            client,
            receiver,
            subscriptions,
            subscribe_requests,
        ));
        adapter.tasks.lock().extend([publisher, subscriber]);
        Ok(adapter)
    }

    pub fn uid(&self) -> &str {
        &self.uid
    }

    /// The command connection (saved sessions, subscription counts share it).
    pub fn commands(&self) -> &Arc<RedisCommands> {
        &self.commands
    }

    /// Stops both tasks (shutdown).
    pub fn close(&self) {
        for task in self.tasks.lock().drain(..) {
            task.abort();
        }
        self.connected.store(false, Ordering::Release);
    }

    fn send(&self, channel: String, bytes: Vec<u8>) {
        if self.outbox.try_send((channel, bytes)).is_err() {
            self.stats.dropped.fetch_add(1, Ordering::Relaxed);
            tracing::warn!("redis publish queue full: message not sent to other nodes");
        }
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
        let channel = wire::channel(&self.channels.prefix, namespace, target);
        match wire::encode(&self.uid, namespace, target, event, args, offset) {
            Ok(bytes) => self.send(channel, bytes),
            Err(error) => tracing::warn!(%error, "cannot encode broadcast for redis"),
        }
    }

    fn is_connected(&self) -> bool {
        self.connected.load(Ordering::Acquire)
    }

    fn serve(&self, namespace: &str) {
        self.subscriptions.add([
            self.channels.request(namespace),
            self.channels.response(namespace),
            self.channels.response_to(namespace, &self.uid),
        ]);
    }

    fn tell(&self, namespace: &str, request: &ClusterRequest) {
        match requests::encode_request(&self.uid, None, namespace, request) {
            Ok(bytes) => self.send(self.channels.request(namespace), bytes),
            Err(error) => tracing::warn!(%error, "cannot encode cluster request"),
        }
    }

    fn ask(
        &self,
        namespace: &str,
        request: ClusterRequest,
    ) -> BoxFuture<'static, Collected<ClusterAnswer>> {
        let timeout = match &request {
            ClusterRequest::BroadcastWithAck { timeout, .. } => *timeout,
            _ => self.requests_timeout,
        };
        let request_id = crate::ids::new_wire_id()[..6].to_owned();
        let encoded = requests::encode_request(&self.uid, Some(&request_id), namespace, &request);
        let count = self.server_count(namespace);
        let pending = self.pending.clone();
        let outbox = self.outbox.clone();
        let channel = self.channels.request(namespace);
        Box::pin(async move {
            let bytes = match encoded {
                Ok(bytes) => bytes,
                Err(error) => {
                    tracing::warn!(%error, "cannot encode cluster request");
                    return Collected::complete(Vec::new());
                }
            };
            let others = count.await.saturating_sub(1);
            if others == 0 {
                return Collected::complete(Vec::new());
            }
            let completed = pending.register(&request_id, request, others);
            if outbox.try_send((channel, bytes)).is_err() {
                tracing::warn!("redis publish queue full: cluster request not sent");
            }
            pending.collect(&request_id, completed, timeout).await
        })
    }

    fn session_store(&self, namespace: &str) -> Option<Arc<dyn SessionStore>> {
        Some(Arc::new(RedisSessions {
            redis: self.commands.clone(),
            prefix: format!("{}:roomcast{namespace}", self.channels.prefix),
        }))
    }

    fn server_count(&self, namespace: &str) -> BoxFuture<'static, usize> {
        let commands = self.commands.clone();
        let channel = self.channels.request(namespace);
        Box::pin(async move {
            let cmd = redis::cmd("PUBSUB").arg("NUMSUB").arg(channel).clone();
            match commands.run::<(String, usize)>(cmd).await {
                Ok((_, count)) => count,
                Err(error) => {
                    tracing::warn!(%error, "redis unavailable: counting this server only");
                    1
                }
            }
        })
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
