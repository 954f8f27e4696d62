//! Recovery between roomcast nodes in the dynamic sharded modes, over Redis (the protocol is
//! described in `socketio::recovery::peer_replay`): the claims this node waits on, the fences it
//! waits for, the claimant's side (follow the socket's channels, ask, wait for the fences) and
//! the answering side (send fences under the log's lock, wait for them, answer with the half
//! of the replay before them).

use std::collections::HashMap;
use std::time::Duration;

use parking_lot::Mutex;
use tokio::sync::{mpsc, oneshot};
use tokio::time::{timeout_at, Instant};

use super::sharded_wire::{encode_fence, encode_peer_claim, encode_peer_replay, PeerMessage};
use super::subscriber::{Receiver, Subscriptions};
use super::{Channels, NamespaceLookup, PubSub, SubscriptionMode};
use crate::clock::now_ms;
use crate::socketio::namespace::Namespace;
use crate::socketio::recovery::{LogCut, LoggedBroadcast, PeerClaim, PeerReplay};

/// How long the answering node waits for its own fences to come back.
const FENCES_WAIT: Duration = Duration::from_secs(3);

type Replied = Option<Vec<LoggedBroadcast>>;
/// Channel → where this node's log stood when the fence on it arrived.
type Fenced = HashMap<String, u64>;

/// The claims and fences this node waits on, by request id.
#[derive(Default)]
pub(crate) struct PeerRecoveries {
    replies: Mutex<HashMap<String, oneshot::Sender<Replied>>>,
    fences: Mutex<HashMap<String, FenceWait>>,
}

struct FenceWait {
    arrived: Fenced,
    missing: Vec<String>,
    done: Option<oneshot::Sender<Fenced>>,
}

impl PeerRecoveries {
    fn expect_replay(&self, request_id: &str) -> oneshot::Receiver<Replied> {
        let (done, replied) = oneshot::channel();
        self.replies.lock().insert(request_id.to_owned(), done);
        replied
    }

    fn replied(&self, request_id: &str, missed: Replied) {
        if let Some(done) = self.replies.lock().remove(request_id) {
            let _ = done.send(missed);
        }
    }

    /// Resolves once a fence for `request_id` arrived on every one of `channels`.
    fn expect_fences(&self, request_id: &str, channels: &[String]) -> oneshot::Receiver<Fenced> {
        let (done, fenced) = oneshot::channel();
        let wait = FenceWait {
            arrived: HashMap::new(),
            missing: channels.to_vec(),
            done: Some(done),
        };
        self.fences.lock().insert(request_id.to_owned(), wait);
        fenced
    }

    /// A fence arrived on `channel`; `position` reads where this node's log stands now.
    fn fence_arrived(&self, request_id: &str, channel: &str, position: impl FnOnce() -> u64) {
        let mut fences = self.fences.lock();
        let Some(wait) = fences.get_mut(request_id) else {
            return; // not ours, or too late
        };
        let Some(at) = wait.missing.iter().position(|c| c == channel) else {
            return;
        };
        let channel = wait.missing.swap_remove(at);
        wait.arrived.insert(channel, position());
        if wait.missing.is_empty() {
            if let Some(wait) = fences.remove(request_id) {
                if let Some(done) = wait.done {
                    let _ = done.send(wait.arrived);
                }
            }
        }
    }

    fn forget(&self, request_id: &str) {
        self.replies.lock().remove(request_id);
        self.fences.lock().remove(request_id);
    }
}

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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fences_resolve_once_every_channel_had_one_and_record_the_log_position() {
        let peers = PeerRecoveries::default();
        let channels = ["a".to_owned(), "b".to_owned()];
        let mut fenced = peers.expect_fences("q", &channels);
        peers.fence_arrived("q", "a", || 3);
        peers.fence_arrived("q", "a", || 9);
        peers.fence_arrived("other", "b", || 9);
        assert!(fenced.try_recv().is_err(), "b has had no fence yet");
        peers.fence_arrived("q", "b", || 5);
        let positions = fenced.try_recv().unwrap();
        assert_eq!(positions, HashMap::from([("a".into(), 3), ("b".into(), 5)]));
    }

    #[test]
    fn a_replay_reaches_its_claim_only() {
        let peers = PeerRecoveries::default();
        let mut replied = peers.expect_replay("q");
        peers.replied("other", None);
        assert!(replied.try_recv().is_err());
        peers.replied("q", Some(Vec::new()));
        assert_eq!(replied.try_recv().unwrap(), Some(Vec::new()));
        peers.forget("q");
    }
}
