//! The adapter's receiving side: one subscription connection (the broadcast pattern plus each
//! namespace's request and response channels), re-established with backoff when Redis goes
//! away, and what it does with each message: deliver a broadcast, answer a request, or hand an
//! answer to the request of ours that waits for it.

use std::collections::BTreeSet;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use futures_util::StreamExt;
use parking_lot::Mutex;
use tokio::sync::mpsc;

use super::pending::PendingRequests;
use super::{requests, wire, Channels, NamespaceLookup};
use crate::socketio::cluster::{ClusterAnswer, Reply};

/// The channels to subscribe to (beside the broadcast pattern); channels added while connected
/// are subscribed at once, all of them again after a reconnect.
#[derive(Clone)]
pub(crate) struct Subscriptions {
    channels: Arc<Mutex<BTreeSet<String>>>,
    added: mpsc::UnboundedSender<Vec<String>>,
}

impl Subscriptions {
    pub fn new() -> (Self, mpsc::UnboundedReceiver<Vec<String>>) {
        let (added, requests) = mpsc::unbounded_channel();
        let this = Self {
            channels: Arc::default(),
            added,
        };
        (this, requests)
    }

    pub fn add(&self, channels: impl IntoIterator<Item = String>) {
        let mut known = self.channels.lock();
        let fresh: Vec<String> = channels
            .into_iter()
            .filter(|c| known.insert(c.clone()))
            .collect();
        if !fresh.is_empty() {
            // Only fails once the subscriber task is gone (shutdown).
            let _ = self.added.send(fresh);
        }
    }

    fn all(&self) -> Vec<String> {
        self.channels.lock().iter().cloned().collect()
    }
}

/// What the subscriber needs to act on messages.
pub(crate) struct Receiver {
    pub uid: Arc<str>,
    pub channels: Channels,
    pub namespaces: NamespaceLookup,
    pub outbox: mpsc::Sender<(String, Vec<u8>)>,
    pub pending: Arc<PendingRequests>,
    pub connected: Arc<AtomicBool>,
}

impl Receiver {
    fn handle(&self, channel: &str, payload: &[u8]) {
        let prefix = &*self.channels.prefix;
        let Some(rest) = channel.strip_prefix(prefix) else {
            return;
        };
        if rest.starts_with('#') {
            self.on_broadcast(payload);
        } else if let Some(namespace) = rest.strip_prefix("-request#") {
            self.on_request(namespace.trim_end_matches('#'), payload);
        } else if rest.starts_with("-response#") {
            match requests::decode_answer(payload) {
                Ok(answer) => self.pending.answer(answer),
                Err(error) => tracing::debug!(%error, "undecodable redis answer ignored"),
            }
        }
    }

    fn on_broadcast(&self, payload: &[u8]) {
        match wire::decode(payload) {
            Ok(remote) if *remote.uid != *self.uid => {
                if let Some(ns) = (self.namespaces)(&remote.namespace) {
                    ns.deliver_remote(
                        &remote.target,
                        &remote.event,
                        &remote.args,
                        remote.offset.as_deref(),
                    );
                }
            }
            Ok(_) => {} // our own broadcast, already delivered locally
            Err(error) => tracing::debug!(%error, "undecodable redis message ignored"),
        }
    }

    fn on_request(&self, namespace: &str, payload: &[u8]) {
        let incoming = match requests::decode_request(payload) {
            Ok(incoming) => incoming,
            Err(error) => {
                tracing::debug!(%error, "undecodable cluster request ignored");
                return;
            }
        };
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

    /// Where this node's answers to one request go: the requester's own response channel.
    fn reply_to(&self, namespace: &str, requester: &str, request_id: Option<String>) -> Reply {
        let Some(request_id) = request_id else {
            return Arc::new(|_: ClusterAnswer| {});
        };
        let channel = self.channels.response_to(namespace, requester);
        let outbox = self.outbox.clone();
        Arc::new(
            move |answer: ClusterAnswer| match requests::encode_answer(&request_id, &answer) {
                Ok(bytes) => {
                    if outbox.try_send((channel.clone(), bytes)).is_err() {
                        tracing::warn!("redis publish queue full: cluster answer not sent");
                    }
                }
                Err(error) => tracing::warn!(%error, "cannot encode cluster answer"),
            },
        )
    }
}

pub(crate) async fn run(
    client: redis::Client,
    receiver: Receiver,
    subscriptions: Subscriptions,
    mut added: mpsc::UnboundedReceiver<Vec<String>>,
) {
    let mut backoff = Duration::from_millis(100);
    let pattern = receiver.channels.broadcasts_pattern();
    loop {
        match client.get_async_pubsub().await {
            Ok(pubsub) => {
                let (mut sink, mut stream) = pubsub.split();
                // Requests queued before now are covered by subscribing to everything known.
                while added.try_recv().is_ok() {}
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
                                    receiver.handle(
                                        message.get_channel_name(),
                                        message.get_payload_bytes(),
                                    );
                                }
                                Some(fresh) = added.recv() => {
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
        tokio::time::sleep(backoff).await;
        backoff = (backoff * 2).min(Duration::from_secs(5));
    }
}
