//! Recovery between roomcast nodes in the dynamic sharded modes, over Redis (the protocol is
//! described in `socketio::recovery::peer_replay`): the claims this node waits on, the fences it
//! waits for, the claimant's side (follow the socket's channels, ask, wait for the fences) and
//! the answering side (send fences under the log's lock, wait for them, answer with the half
//! of the replay before them).

use std::time::Duration;

use tokio::sync::{mpsc, oneshot};
use tokio::time::{timeout_at, Instant};

use super::peer_waits::{Fenced, PeerRecoveries};
use super::sharded_wire::{encode_fence, encode_peer_claim, encode_peer_replay, PeerMessage};
use super::subscriber::{Receiver, Subscriptions};
use super::{Channels, NamespaceLookup, PubSub, SubscriptionMode};
use crate::clock::now_ms;
use crate::socketio::namespace::Namespace;
use crate::socketio::recovery::{LogCut, PeerClaim, PeerReplay};

/// How long the answering node waits for its own fences to come back.
const FENCES_WAIT: Duration = Duration::from_secs(3);

/// The cut of a log by fences: `local` for this node's own broadcasts, the fence on its
/// channel for another node's (a channel without a fence names no broadcast for the socket).
fn cut_by_fences(local: u64, fenced: Fenced, channels: Channels, namespace: String) -> LogCut {
    LogCut {
        local,
        remote: Box::new(move |target| {
            let channel = channels.broadcast(&namespace, target);
            fenced.get(&channel).copied().unwrap_or(0)
        }),
    }
}

/// What the claimant's side needs, owned (the claim runs as a future of its own).
pub(crate) struct Claimant {
    pub uid: std::sync::Arc<str>,
    pub channels: Channels,
    pub subscriptions: Subscriptions,
    pub outbox: mpsc::Sender<(String, Vec<u8>)>,
    pub peers: std::sync::Arc<PeerRecoveries>,
    pub namespaces: NamespaceLookup,
    pub timeout: Duration,
}

impl Claimant {
    /// The other node's half of the replay for `claim`'s socket, or None (static mode needs
    /// none: every node receives everything; or no answer in time).
    pub async fn claim(self, namespace: String, claim: PeerClaim) -> Option<PeerReplay> {
        if !matches!(self.channels.pubsub, PubSub::Sharded(mode) if mode != SubscriptionMode::Static)
        {
            return None;
        }
        let ns = (self.namespaces)(&namespace)?;
        let deadline = Instant::now() + self.timeout;
        let channels = self
            .channels
            .socket_channels(&namespace, &claim.sid, &claim.rooms);
        let started = now_ms();
        // From its confirmation on, this node logs what reaches the socket's rooms.
        if !self.follow(&namespace, &claim, deadline).await {
            return None;
        }
        let request_id = crate::ids::new_wire_id()[..8].to_owned();
        let replied = self.peers.expect_replay(&request_id);
        let fenced = self.peers.expect_fences(&request_id, &channels);
        let local = ns.at_log_position(|position| position)?;
        let bytes = encode_peer_claim(&self.uid, &namespace, &request_id, &claim);
        if self
            .outbox
            .try_send((self.channels.request(&namespace), bytes))
            .is_err()
        {
            tracing::warn!("redis publish queue full: recovery claim not sent");
        }
        let missed = timeout_at(deadline, replied)
            .await
            .ok()
            .and_then(Result::ok);
        let fenced = timeout_at(deadline, fenced).await.ok().and_then(Result::ok);
        let (Some(Some(missed)), Some(fenced)) = (missed, fenced) else {
            self.peers.forget(&request_id);
            tracing::debug!(sid = %claim.sid, "no node replayed for the socket: it starts fresh");
            return None;
        };
        let subscriptions = self.subscriptions;
        Some(PeerReplay {
            missed,
            cut: cut_by_fences(local, fenced, self.channels, namespace),
            whole: Box::new(move || {
                channels
                    .iter()
                    .all(|c| subscriptions.unbroken_since(c, started))
            }),
        })
    }

    /// Subscribes to the socket's room channels; true once they all flow.
    async fn follow(&self, namespace: &str, claim: &PeerClaim, deadline: Instant) -> bool {
        let sid = (&*claim.sid, true);
        let rooms = claim.rooms.iter().map(|r| (&**r, false));
        let own: Vec<(String, String)> = std::iter::once(sid)
            .chain(rooms)
            .filter_map(|(room, private)| {
                let channel = self.channels.own_channel(namespace, room, private)?;
                Some((room.to_owned(), channel))
            })
            .collect();
        let followed = self.subscriptions.follow(namespace, own);
        matches!(timeout_at(deadline, followed).await, Ok(Ok(true)))
    }
}

impl Receiver {
    /// A recovery message between roomcast nodes, which came on `channel`.
    pub(super) fn on_peer(&self, message: PeerMessage, channel: &str) {
        match message {
            PeerMessage::Claim {
                uid,
                namespace,
                request_id,
                claim,
            } if *uid != *self.uid => self.answer_claim(uid, namespace, request_id, claim),
            PeerMessage::Claim { .. } => {}
            PeerMessage::Replay { request_id, missed } => self.peers.replied(&request_id, missed),
            PeerMessage::Fence {
                namespace,
                request_id,
            } => {
                if let Some(ns) = (self.namespaces)(&namespace) {
                    let position = || ns.at_log_position(|p| p).unwrap_or(0);
                    self.peers.fence_arrived(&request_id, channel, position);
                }
            }
        }
    }

    /// Answers a claim for a socket that dropped from this node (others ignore it): fences go
    /// down the socket's channels under the log's lock (so this node's own broadcasts logged
    /// before `local` went out before them), and once they all came back, the replay before
    /// them goes to the claimant.
    fn answer_claim(
        &self,
        claimant: String,
        namespace: String,
        request_id: String,
        claim: PeerClaim,
    ) {
        let Some(ns) = (self.namespaces)(&namespace) else {
            return;
        };
        if ns.recovery_node() != Some(&*claim.node) {
            return;
        }
        let channels = self
            .channels
            .socket_channels(&namespace, &claim.sid, &claim.rooms);
        let fenced = self.peers.expect_fences(&request_id, &channels);
        let fence = encode_fence(&self.uid, &namespace, &request_id);
        let outbox = self.outbox.clone();
        let local = ns.at_log_position(|position| {
            for channel in &channels {
                if outbox.try_send((channel.clone(), fence.clone())).is_err() {
                    tracing::warn!("redis publish queue full: recovery fence not sent");
                }
            }
            position
        });
        let Some(local) = local else {
            return;
        };
        let answer = AnswerToClaim {
            uid: self.uid.clone(),
            reply_to: self.channels.response_to(&namespace, &claimant),
            channels: self.channels.clone(),
            peers: self.peers.clone(),
            outbox,
        };
        tokio::spawn(answer.send(ns, namespace, request_id, claim, local, fenced));
    }
}

/// The answering side's task.
struct AnswerToClaim {
    uid: std::sync::Arc<str>,
    reply_to: String,
    channels: Channels,
    peers: std::sync::Arc<PeerRecoveries>,
    outbox: mpsc::Sender<(String, Vec<u8>)>,
}

impl AnswerToClaim {
    async fn send(
        self,
        ns: Namespace,
        namespace: String,
        request_id: String,
        claim: PeerClaim,
        local: u64,
        fenced: oneshot::Receiver<Fenced>,
    ) {
        let missed = match tokio::time::timeout(FENCES_WAIT, fenced).await {
            Ok(Ok(fenced)) => {
                let cut = cut_by_fences(local, fenced, self.channels, namespace.clone());
                ns.missed_before(&claim, &cut)
            }
            _ => {
                self.peers.forget(&request_id);
                None
            }
        };
        tracing::debug!(sid = %claim.sid, replayed = ?missed.as_ref().map(Vec::len), "recovery claim answered");
        match encode_peer_replay(&self.uid, &namespace, &request_id, missed.as_deref()) {
            Ok(bytes) => {
                if self.outbox.try_send((self.reply_to, bytes)).is_err() {
                    tracing::warn!("redis publish queue full: recovery replay not sent");
                }
            }
            Err(error) => tracing::warn!(%error, "cannot encode recovery replay"),
        }
    }
}
