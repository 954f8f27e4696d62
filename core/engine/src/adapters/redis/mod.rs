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
pub mod endpoint;
mod peer_recovery;
mod peer_waits;
mod pending;
pub mod relay;
pub mod requests;
pub mod sessions;
mod sharded;
pub mod sharded_wire;
mod subscriber;
pub mod wire;

use std::collections::HashMap;
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
use crate::socketio::recovery::{PeerClaim, PeerReplay, SessionStore};
use crate::stats::Stats;
pub use cluster::{cluster_through_redis, PubSub, RedisAdapterConfig, SubscriptionMode};
use commands::RedisCommands;
use endpoint::RedisEndpoint;
use pending::PendingRequests;
use relay::RedisSessionLocator;
use sessions::RedisSessions;
pub use wire::RemoteBroadcast;

/// Finds this node's namespace by name (None: this node does not have it).
pub type NamespaceLookup = Arc<dyn Fn(&str) -> Option<Namespace> + Send + Sync>;

const PUBLISH_QUEUE: usize = 65_536;
pub(crate) const PIPELINE_MAX: usize = 512;

/// The channel names of one prefix (the Node adapter's `key` or `channelPrefix`) in one mode.
#[derive(Clone)]
pub(crate) struct Channels {
    prefix: Arc<str>,
    pubsub: PubSub,
}

impl Channels {
    fn broadcasts_pattern(&self) -> String {
        format!("{}#*", self.prefix)
    }

    /// Where requests to the namespace's nodes go (sharded: the namespace channel).
    fn request(&self, namespace: &str) -> String {
        match self.pubsub {
            PubSub::Classic => format!("{}-request#{namespace}#", self.prefix),
            PubSub::Sharded(_) => self.namespace(namespace),
        }
    }

    fn namespace(&self, namespace: &str) -> String {
        format!("{}#{namespace}#", self.prefix)
    }

    /// A room's own channel (the dynamic modes).
    fn room(&self, namespace: &str, room: &str) -> String {
        format!("{}#{namespace}#{room}#", self.prefix)
    }

    /// `room`'s own channel where it has one (the dynamic modes; `private`: a socket's own
    /// room).
    fn own_channel(&self, namespace: &str, room: &str, private: bool) -> Option<String> {
        match self.pubsub {
            PubSub::Sharded(mode) if has_own_channel(mode, room, private) => {
                Some(self.room(namespace, room))
            }
            _ => None,
        }
    }

    /// Every channel a broadcast that reaches the socket `sid` in `rooms` can come on.
    fn socket_channels(&self, namespace: &str, sid: &str, rooms: &[Arc<str>]) -> Vec<String> {
        let own = std::iter::once(self.own_channel(namespace, sid, true))
            .chain(rooms.iter().map(|r| self.own_channel(namespace, r, false)));
        let mut channels: Vec<String> = std::iter::once(self.namespace(namespace))
            .chain(own.flatten())
            .collect();
        channels.sort_unstable();
        channels.dedup();
        channels
    }

    fn response_to(&self, namespace: &str, uid: &str) -> String {
        match self.pubsub {
            PubSub::Classic => format!("{}-response#{namespace}#{uid}#", self.prefix),
            PubSub::Sharded(_) => format!("{}#{namespace}#{uid}#", self.prefix),
        }
    }

    /// The channels a node listens on for `namespace` (beside the classic broadcast pattern
    /// and the dynamic modes' room channels).
    fn served(&self, namespace: &str, uid: &str) -> Vec<String> {
        match self.pubsub {
            PubSub::Classic => vec![
                self.request(namespace),
                format!("{}-response#{namespace}#", self.prefix),
                self.response_to(namespace, uid),
            ],
            PubSub::Sharded(_) => vec![self.namespace(namespace), self.response_to(namespace, uid)],
        }
    }

    /// The channel a broadcast goes out on. Sharded: as the Node sharded adapter's
    /// `computeChannel` (one room and no ack: the room's channel in the dynamic modes, except
    /// a socket's own room in `Dynamic`).
    fn broadcast(&self, namespace: &str, target: &BroadcastTarget) -> String {
        match (self.pubsub, target.rooms.as_slice()) {
            (PubSub::Classic, _) => wire::channel(&self.prefix, namespace, target),
            (PubSub::Sharded(mode), [room]) if has_own_channel(mode, room, false) => {
                self.room(namespace, room)
            }
            (PubSub::Sharded(_), _) => self.namespace(namespace),
        }
    }
}

/// Whether `room` gets its own channel in `mode`. Publishers cannot know whether a room is a
/// socket's own room on another node, so they go by its look (20 characters, as socket ids
/// are); subscribers know (`private`).
fn has_own_channel(mode: SubscriptionMode, room: &str, private: bool) -> bool {
    match mode {
        SubscriptionMode::Static => false,
        SubscriptionMode::Dynamic => !private && room.len() != 20,
        SubscriptionMode::DynamicPrivate => true,
    }
}

/// This server's membership of a Redis cluster of Socket.IO servers (the Node adapters' wire
/// format): publishes its broadcasts and requests, receives the others', answers their requests.
pub struct RedisAdapter {
    /// This server's id on the wire (other servers skip their own messages by it).
    uid: Arc<str>,
    /// Channel names for the wire format and subscription mode in use.
    channels: Channels,
    /// Messages (channel, body) for the publishing task; publishing never blocks a caller.
    outbox: mpsc::Sender<(String, Vec<u8>)>,
    /// Whether the publishing connection is up (reported in the stats and health).
    connected: Arc<AtomicBool>,
    /// The channels subscribed to, per namespace and room (sharded modes follow rooms).
    subscriptions: subscriber::Subscriptions,
    /// Requests to the other servers (fetchSockets, acks from many, …) awaiting their answers.
    pending: Arc<PendingRequests>,
    /// Recovery claims waiting on another server's replay (peer recovery).
    peers: Arc<peer_waits::PeerRecoveries>,
    /// Finds a local namespace by name for what arrives from Redis.
    namespaces: NamespaceLookup,
    /// The command connection (saved sessions, server count, room lookups).
    commands: Arc<RedisCommands>,
    /// How long a request to the other servers waits for their answers.
    requests_timeout: Duration,
    /// The publishing, subscribing and heartbeat tasks, aborted when the adapter is dropped.
    tasks: Mutex<Vec<JoinHandle<()>>>,
    /// Where the adapter counts what it sends, receives and drops.
    stats: Arc<Stats>,
    /// Tells which server owns a session id (no sticky sessions: relaying requests there).
    locator: Arc<RedisSessionLocator>,
}

impl RedisAdapter {
    /// Connects (in the background: a Redis that is down now is retried with backoff) and
    /// starts publishing and receiving. Must run inside a tokio runtime.
    pub fn start(
        config: &RedisAdapterConfig,
        namespaces: NamespaceLookup,
        stats: Arc<Stats>,
    ) -> Result<Arc<Self>, Error> {
        let endpoint = match config.pubsub {
            PubSub::Classic => RedisEndpoint::single(&config.url)?,
            PubSub::Sharded(_) => RedisEndpoint::cluster(&config.url)?,
        };
        let uid: Arc<str> = Arc::from(&crate::ids::new_wire_id()[..6]);
        let (outbox, inbox) = mpsc::channel(PUBLISH_QUEUE);
        let channels = Channels {
            prefix: Arc::from(config.prefix.as_str()),
            pubsub: config.pubsub,
        };
        let connected = Arc::new(AtomicBool::new(false));
        let (subscriptions, changes) = subscriber::Subscriptions::new();
        let pending = Arc::new(PendingRequests::default());
        let peers = Arc::new(peer_waits::PeerRecoveries::default());
        let commands = Arc::new(RedisCommands::open(endpoint.clone())?);
        let adapter = Arc::new(Self {
            locator: RedisSessionLocator::new(&config.prefix, commands.clone()),
            uid: uid.clone(),
            channels: channels.clone(),
            outbox: outbox.clone(),
            connected: connected.clone(),
            subscriptions: subscriptions.clone(),
            pending: pending.clone(),
            peers: peers.clone(),
            namespaces: namespaces.clone(),
            commands,
            requests_timeout: config.requests_timeout,
            tasks: Mutex::new(Vec::new()),
            stats: stats.clone(),
        });
        let receiver = subscriber::Receiver {
            uid,
            channels,
            namespaces,
            outbox,
            pending,
            peers,
            connected,
        };
        let tasks = match endpoint {
            RedisEndpoint::Single(client) => vec![
                tokio::spawn(publish_loop(client.clone(), inbox, stats)),
                tokio::spawn(subscriber::run(client, receiver, subscriptions, changes)),
            ],
            RedisEndpoint::Cluster(nodes) => {
                let link = sharded::ShardedLink {
                    nodes,
                    receiver,
                    subscriptions,
                    changes,
                    outbox: inbox,
                    stats,
                    lingering: Default::default(),
                };
                vec![tokio::spawn(link.run())]
            }
        };
        adapter.tasks.lock().extend(tasks);
        Ok(adapter)
    }

    fn encode_request(
        &self,
        request_id: Option<&str>,
        namespace: &str,
        request: &ClusterRequest,
    ) -> Result<Vec<u8>, String> {
        match self.channels.pubsub {
            PubSub::Classic => requests::encode_request(&self.uid, request_id, namespace, request),
            PubSub::Sharded(_) => {
                sharded_wire::encode_request(&self.uid, request_id, namespace, request)
            }
        }
    }

    pub fn uid(&self) -> &str {
        &self.uid
    }

    /// The command connection (saved sessions, subscription counts share it).
    pub fn commands(&self) -> &Arc<RedisCommands> {
        &self.commands
    }

    /// Who owns other nodes' sessions (the server relays their requests there).
    pub fn session_locator(&self) -> &Arc<RedisSessionLocator> {
        &self.locator
    }

    /// Other nodes relay requests for this node's sessions to `address` (`host:port`
    /// reachable from them) from now on; without it (or with a wildcard address), they answer
    /// such requests as unknown.
    pub fn relay_requests_at(&self, address: String) {
        // A wildcard address names no host the others can reach.
        let wildcard = address
            .parse::<std::net::SocketAddr>()
            .is_ok_and(|a| a.ip().is_unspecified());
        if wildcard {
            tracing::warn!(%address, "wildcard address: requests of this node's sessions are not relayed from other nodes");
            return;
        }
        self.locator.announce(address);
    }

    /// Stops both tasks (shutdown).
    pub fn close(&self) {
        self.locator.withdraw();
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
        let channel = self.channels.broadcast(namespace, target);
        let encoded = match self.channels.pubsub {
            PubSub::Classic => wire::encode(&self.uid, namespace, target, event, args, offset),
            PubSub::Sharded(_) => {
                sharded_wire::encode_broadcast(&self.uid, namespace, target, event, args, offset)
            }
        };
        match encoded {
            Ok(bytes) => self.send(channel, bytes),
            Err(error) => tracing::warn!(%error, "cannot encode broadcast for redis"),
        }
    }

    fn is_connected(&self) -> bool {
        self.connected.load(Ordering::Acquire)
    }

    fn serve(&self, namespace: &str) {
        self.subscriptions
            .add(self.channels.served(namespace, &self.uid));
    }

    fn room_changed(&self, namespace: &str, room: &str, private: bool) {
        if let Some(channel) = self.channels.own_channel(namespace, room, private) {
            self.subscriptions.room_changed(namespace, room, channel);
        }
    }

    /// A room's broadcasts reach this node on the room's own channel (the dynamic modes), the
    /// namespace's channel (sharded) or the broadcast pattern (classic): the log holds them
    /// all since `since_ms` when that subscription did not break since (see
    /// `Subscriptions::followed_since`). A break means broadcasts of other nodes may be
    /// missing, and the client then starts fresh rather than with a gap.
    fn saw_room_since(
        &self,
        namespace: &str,
        room: &str,
        private: bool,
        since_ms: u64,
        saved_here: bool,
    ) -> bool {
        let channel = match self.channels.pubsub {
            PubSub::Classic => None,
            PubSub::Sharded(_) => Some(
                self.channels
                    .own_channel(namespace, room, private)
                    .unwrap_or_else(|| self.channels.namespace(namespace)),
            ),
        };
        match channel {
            Some(channel) => self
                .subscriptions
                .followed_since(&channel, since_ms, saved_here),
            None => self.is_connected() && self.subscriptions.nothing_lost_since(since_ms),
        }
    }

    fn recover_from_peer(
        &self,
        namespace: &str,
        claim: PeerClaim,
    ) -> BoxFuture<'static, Option<PeerReplay>> {
        let claimant = peer_recovery::Claimant {
            uid: self.uid.clone(),
            channels: self.channels.clone(),
            subscriptions: self.subscriptions.clone(),
            outbox: self.outbox.clone(),
            peers: self.peers.clone(),
            namespaces: self.namespaces.clone(),
            timeout: self.requests_timeout,
        };
        Box::pin(claimant.claim(namespace.to_owned(), claim))
    }

    fn tell(&self, namespace: &str, request: &ClusterRequest) {
        match self.encode_request(None, namespace, request) {
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
        let encoded = self.encode_request(Some(&request_id), namespace, &request);
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
        let numsub = match self.channels.pubsub {
            PubSub::Classic => "NUMSUB",
            PubSub::Sharded(_) => "SHARDNUMSUB",
        };
        Box::pin(async move {
            let cmd = redis::cmd("PUBSUB").arg(numsub).arg(&channel).clone();
            // A map on a Redis Cluster (the crate sums every node's answer), pairs otherwise.
            match commands.run::<HashMap<String, usize>>(cmd).await {
                Ok(counts) => counts.get(&channel).copied().unwrap_or(0).max(1),
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
