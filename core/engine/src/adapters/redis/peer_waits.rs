//! What recovery between roomcast nodes waits on (see `peer_recovery`): the replay a claim of
//! this node's gets back, and the fences a claim sends down a socket's channels, each noted
//! with where this node's log stood when it arrived.

use std::collections::HashMap;

use parking_lot::Mutex;
use tokio::sync::oneshot;

use crate::socketio::recovery::LoggedBroadcast;

type Replied = Option<Vec<LoggedBroadcast>>;
/// Channel → where this node's log stood when the fence on it arrived.
pub(crate) type Fenced = HashMap<String, u64>;

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
    pub fn expect_replay(&self, request_id: &str) -> oneshot::Receiver<Replied> {
        let (done, replied) = oneshot::channel();
        self.replies.lock().insert(request_id.to_owned(), done);
        replied
    }

    pub fn replied(&self, request_id: &str, missed: Replied) {
        if let Some(done) = self.replies.lock().remove(request_id) {
            let _ = done.send(missed);
        }
    }

    /// Resolves once a fence for `request_id` arrived on every one of `channels`.
    pub fn expect_fences(
        &self,
        request_id: &str,
        channels: &[String],
    ) -> oneshot::Receiver<Fenced> {
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
    pub fn fence_arrived(&self, request_id: &str, channel: &str, position: impl FnOnce() -> u64) {
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

    pub fn forget(&self, request_id: &str) {
        self.replies.lock().remove(request_id);
        self.fences.lock().remove(request_id);
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
