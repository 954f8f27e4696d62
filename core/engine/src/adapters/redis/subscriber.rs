//! The adapter's receiving side: what it does with each message (deliver a broadcast, answer a
//! request, or hand an answer to the request of ours that waits for it), the channels it
//! listens on, and the classic subscription connection (the broadcast pattern plus each
//! namespace's request and response channels), re-established with backoff when Redis goes
//! away. The sharded connection is in `sharded.rs`.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use futures_util::StreamExt;
use parking_lot::Mutex;
use tokio::sync::{mpsc, oneshot};

use super::peer_waits::PeerRecoveries;
use super::pending::PendingRequests;
use super::requests::IncomingRequest;
use super::sharded_wire::{self, Inbound};
use super::{requests, wire, Channels, NamespaceLookup, PubSub, RemoteBroadcast};
use crate::socketio::cluster::{ClusterAnswer, Reply};

/// A change to what the receiving side listens on.
pub(crate) enum Change {
    /// New channels (a namespace started being served).
    Subscribe(Vec<String>),
    /// A room appeared or went away on this node: its channel follows its membership.
    Room {
        namespace: String,
        room: String,
        channel: String,
    },
    /// A recovering socket's room channels (`(room, channel)`), to be subscribed now and kept
    /// for the recovery window if no socket joins them; `done` hears whether they all flow.
    Follow {
        namespace: String,
        rooms: Vec<(String, String)>,
        done: oneshot::Sender<bool>,
    },
}

/// The channels to subscribe to (beside the classic broadcast pattern); changes made while
/// connected are applied at once, all of the channels again after a reconnect. Each channel
/// also records since when it has been subscribed without a break (None: not yet, or not
/// since the connection was lost), which says whether this node's recovery log holds every
/// broadcast to its room.
#[derive(Clone)]
pub(crate) struct Subscriptions {
    channels: Arc<Mutex<BTreeMap<String, Option<u64>>>>,
    /// When the connection was last lost (0: never).
    lost_at_ms: Arc<std::sync::atomic::AtomicU64>,
    changes: mpsc::UnboundedSender<Change>,
}

impl Subscriptions {
    pub fn new() -> (Self, mpsc::UnboundedReceiver<Change>) {
        let (changes, requests) = mpsc::unbounded_channel();
        let this = Self {
            channels: Arc::default(),
            lost_at_ms: Arc::default(),
            changes,
        };
        (this, requests)
    }

    pub fn add(&self, channels: impl IntoIterator<Item = String>) {
        let mut known = self.channels.lock();
        let fresh: Vec<String> = channels
            .into_iter()
            .filter(|c| known.insert(c.clone(), None).is_none())
            .collect();
        if !fresh.is_empty() {
            // Only fails once the subscriber task is gone (shutdown).
            let _ = self.changes.send(Change::Subscribe(fresh));
        }
    }

    /// Queues a look at `room`'s channel (the receiving task settles it, see `settle`).
    pub fn room_changed(&self, namespace: &str, room: &str, channel: String) {
        let _ = self.changes.send(Change::Room {
            namespace: namespace.to_owned(),
            room: room.to_owned(),
            channel,
        });
    }

    /// Records whether `channel` is `wanted`; true when that changed (subscribe or unsubscribe
    /// now). Deciding by membership when the change is applied, not when it was queued, keeps
    /// a room that emptied and filled again at once subscribed.
    pub fn settle(&self, channel: &str, wanted: bool) -> bool {
        let mut known = self.channels.lock();
        if wanted {
            if known.contains_key(channel) {
                return false;
            }
            known.insert(channel.to_owned(), None);
            true
        } else {
            known.remove(channel).is_some()
        }
    }

    pub fn all(&self) -> Vec<String> {
        self.channels.lock().keys().cloned().collect()
    }

    pub fn contains(&self, channel: &str) -> bool {
        self.channels.lock().contains_key(channel)
    }

    /// Queues subscribing to a recovering socket's room channels (see `Change::Follow`);
    /// resolves to whether they all flow.
    pub fn follow(&self, namespace: &str, rooms: Vec<(String, String)>) -> oneshot::Receiver<bool> {
        let (done, followed) = oneshot::channel();
        let _ = self.changes.send(Change::Follow {
            namespace: namespace.to_owned(),
            rooms,
            done,
        });
        followed
    }

    /// `channel`'s subscription was confirmed now (it stays as it was if already flowing).
    pub fn confirmed(&self, channel: &str) {
        if let Some(since @ None) = self.channels.lock().get_mut(channel) {
            *since = Some(crate::clock::now_ms());
        }
    }

    /// The connection was lost: nothing has flowed without a break any more.
    pub fn lost(&self) {
        self.lost_at_ms
            .store(crate::clock::now_ms(), Ordering::Release);
        self.channels
            .lock()
            .values_mut()
            .for_each(|since| *since = None);
    }

    /// Whether `channel` flows now and nothing was lost since `since_ms`. (A room channel is
    /// only ever unsubscribed once its room stayed empty for the recovery window.)
    pub fn unbroken_since(&self, channel: &str, since_ms: u64) -> bool {
        self.lost_at_ms.load(Ordering::Acquire) < since_ms && self.flowing_since(channel).is_some()
    }

    /// Whether this node received everything `channel` carried since `since_ms`: on the node a
    /// socket dropped from (`saved_here`), when it flowed without a break since then (what it
    /// did not receive, the socket would not have got live either); on another node, when it
    /// was already flowing then.
    pub fn followed_since(&self, channel: &str, since_ms: u64, saved_here: bool) -> bool {
        match saved_here {
            true => self.unbroken_since(channel, since_ms),
            false => self
                .flowing_since(channel)
                .is_some_and(|since| since <= since_ms),
        }
    }

    /// Whether the channels of `rooms` (`(room, channel)`) all flow.
    pub fn all_flowing(&self, rooms: &[(String, String)]) -> bool {
        let known = self.channels.lock();
        rooms
            .iter()
            .all(|(_, channel)| known.get(channel).copied().flatten().is_some())
    }

    /// Whether nothing was lost since `since_ms` (the classic connection: one pattern carries
    /// every broadcast).
    pub fn nothing_lost_since(&self, since_ms: u64) -> bool {
        self.lost_at_ms.load(Ordering::Acquire) < since_ms
    }

    /// Since when `channel` has been flowing without a break.
    pub fn flowing_since(&self, channel: &str) -> Option<u64> {
        self.channels.lock().get(channel).copied().flatten()
    }
}

/// What the subscriber needs to act on messages.
pub(crate) struct Receiver {
    pub uid: Arc<str>,
    pub channels: Channels,
    pub namespaces: NamespaceLookup,
    pub outbox: mpsc::Sender<(String, Vec<u8>)>,
    pub pending: Arc<PendingRequests>,
    pub peers: Arc<PeerRecoveries>,
    pub connected: Arc<AtomicBool>,
}

impl Receiver {
    /// A message on a classic channel: what it is follows from the channel.
    fn handle_classic(&self, channel: &str, payload: &[u8]) {
        let prefix = &*self.channels.prefix;
        let Some(rest) = channel.strip_prefix(prefix) else {
            return;
        };
        if rest.starts_with('#') {
            match wire::decode(payload) {
                Ok(remote) => self.on_broadcast(remote),
                Err(error) => tracing::debug!(%error, "undecodable redis message ignored"),
            }
        } else if let Some(namespace) = rest.strip_prefix("-request#") {
            match requests::decode_request(payload) {
                Ok(incoming) => self.on_request(namespace.trim_end_matches('#'), incoming),
                Err(error) => tracing::debug!(%error, "undecodable cluster request ignored"),
            }
        } else if rest.starts_with("-response#") {
            match requests::decode_answer(payload) {
                Ok(answer) => {
                    let request_id = answer.request_id.clone();
                    self.pending
                        .answer(&request_id, |request| answer.read_for(request));
                }
                Err(error) => tracing::debug!(%error, "undecodable redis answer ignored"),
            }
        }
    }

    /// A message on a sharded channel: what it is follows from its type.
    pub(super) fn handle_sharded(&self, channel: &str, payload: &[u8]) {
        match sharded_wire::decode(payload) {
            Ok(Inbound::Broadcast(remote)) => self.on_broadcast(remote),
            Ok(Inbound::Request {
                namespace,
                incoming,
            }) => self.on_request(&namespace, incoming),
            Ok(Inbound::Answer(answer)) => {
                let request_id = answer.request_id.clone();
                self.pending
                    .answer(&request_id, |request| answer.read_for(request));
            }
            Ok(Inbound::Peer(message)) => self.on_peer(message, channel),
            Ok(Inbound::Ignored) => {}
            Err(error) => tracing::debug!(%error, "undecodable redis message ignored"),
        }
    }

    fn on_broadcast(&self, remote: RemoteBroadcast) {
        if *remote.uid == *self.uid {
            return; // our own broadcast, already delivered locally
        }
        if let Some(ns) = (self.namespaces)(&remote.namespace) {
            ns.deliver_remote(
                &remote.target,
                &remote.event,
                &remote.args,
                remote.offset.as_deref(),
            );
        }
    }

    fn on_request(&self, namespace: &str, incoming: IncomingRequest) {
        if *incoming.uid == *self.uid {
            return; // ours: already applied here
        }
        let Some(ns) = (self.namespaces)(namespace) else {
            return;
        };
        let reply = self.reply_to(namespace, &incoming.uid, incoming.request_id);
        tracing::debug!(namespace, request = ?incoming.request, "cluster request");
        ns.apply_remote(incoming.request, reply);
    }

    /// Whether this node has members in `room` of `namespace` now.
    pub(super) fn has_members(&self, namespace: &str, room: &str) -> bool {
        (self.namespaces)(namespace).is_some_and(|ns| ns.has_local_member(room))
    }

    /// How long a socket that dropped out of `namespace` may come back and recover.
    pub(super) fn recovery_window(&self, namespace: &str) -> Option<Duration> {
        (self.namespaces)(namespace).and_then(|ns| ns.recovery_window())
    }

    /// Where this node's answers to one request go: the requester's own response channel.
    fn reply_to(&self, namespace: &str, requester: &str, request_id: Option<String>) -> Reply {
        let Some(request_id) = request_id else {
            return Arc::new(|_: ClusterAnswer| {});
        };
        let channel = self.channels.response_to(namespace, requester);
        let outbox = self.outbox.clone();
        let (uid, namespace, pubsub) =
            (self.uid.clone(), namespace.to_owned(), self.channels.pubsub);
        Arc::new(move |answer: ClusterAnswer| {
            let encoded = match pubsub {
                PubSub::Classic => requests::encode_answer(&request_id, &answer),
                PubSub::Sharded(_) => {
                    sharded_wire::encode_answer(&uid, &namespace, &request_id, &answer)
                }
            };
            match encoded {
                Ok(bytes) => {
                    if outbox.try_send((channel.clone(), bytes)).is_err() {
                        tracing::warn!("redis publish queue full: cluster answer not sent");
                    }
                }
                Err(error) => tracing::warn!(%error, "cannot encode cluster answer"),
            }
        })
    }
}

pub(crate) async fn run(
    client: redis::Client,
    receiver: Receiver,
    subscriptions: Subscriptions,
    mut changes: mpsc::UnboundedReceiver<Change>,
) {
    let mut backoff = Duration::from_millis(100);
    let pattern = receiver.channels.broadcasts_pattern();
    loop {
        match client.get_async_pubsub().await {
            Ok(pubsub) => {
                let (mut sink, mut stream) = pubsub.split();
                // Requests queued before now are covered by subscribing to everything known.
                while changes.try_recv().is_ok() {}
                let channels = subscriptions.all();
                let subscribed = async {
                    sink.psubscribe(&pattern).await?;
                    if !channels.is_empty() {
                        sink.subscribe(&channels).await?;
                    }
                    Ok::<(), redis::RedisError>(())
                };
                match subscribed.await {
                    Ok(()) => {
                        receiver.connected.store(true, Ordering::Release);
                        backoff = Duration::from_millis(100);
                        tracing::info!(%pattern, ?channels, "redis adapter subscribed");
                        loop {
                            tokio::select! {
                                message = stream.next() => {
                                    let Some(message) = message else { break };
                                    receiver.handle_classic(
                                        message.get_channel_name(),
                                        message.get_payload_bytes(),
                                    );
                                }
                                Some(change) = changes.recv() => {
                                    // Classic mode has no room channels.
                                    let Change::Subscribe(fresh) = change else { continue };
                                    if let Err(error) = sink.subscribe(&fresh).await {
                                        tracing::warn!(%error, "redis subscribe failed");
                                        break;
                                    }
                                }
                            }
                        }
                    }
                    Err(error) => tracing::warn!(%error, "redis subscribe failed"),
                }
            }
            Err(error) => tracing::warn!(%error, "redis subscriber cannot connect"),
        }
        receiver.connected.store(false, Ordering::Release);
        // Broadcasts published meanwhile never reach this node's log.
        subscriptions.lost();
        tokio::time::sleep(backoff).await;
        backoff = (backoff * 2).min(Duration::from_secs(5));
    }
}
