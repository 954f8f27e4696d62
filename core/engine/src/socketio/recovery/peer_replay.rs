//! Recovery on a node that did not follow a dropped socket's rooms (the dynamic sharded modes,
//! where a node receives a room's broadcasts only while it subscribes to the room's channel).
//!
//! The node the socket dropped from (the peer) kept following its rooms, so its log holds what
//! the socket missed. The new node subscribes to the rooms' channels first, then asks the peer;
//! the peer sends a fence down every channel involved and answers with what it logged before
//! its fences; the new node waits for the same fences and adds what it logged after them. Redis
//! delivers a channel's messages to every subscriber in publish order, so a broadcast before a
//! fence reached the peer before it (and, if at all, the new node before it too), and one after
//! it reaches the new node after it: the two halves hold every missed broadcast exactly once.
//!
//! A cut is a position in one node's own log: for a broadcast that started on that node, where
//! its log stood when the fences were sent (a node publishes its own broadcasts in the order it
//! logs them); for one that came from another node, where the fence on its channel arrived.

use std::sync::Arc;

use crate::engineio::packet::OutFrame;
use crate::rooms::broadcast::BroadcastTarget;

/// Where a node's log is cut between what the peer replays and what the new node adds.
pub struct LogCut {
    /// This node's own broadcasts logged before this position are before the cut.
    pub local: u64,
    /// For a broadcast from another node, by its target: the position where the fence on the
    /// channel it came on arrived.
    pub remote: Box<dyn Fn(&BroadcastTarget) -> u64 + Send + Sync>,
}

impl LogCut {
    /// Whether a broadcast logged at `position` (`local`: it started on this node) lies before
    /// the cut.
    pub(crate) fn is_before(&self, position: u64, local: bool, target: &BroadcastTarget) -> bool {
        let cut = match local {
            true => self.local,
            false => (self.remote)(target),
        };
        position < cut
    }
}

/// One logged broadcast, as the peer sends it: its offset and its frames.
#[derive(Debug, Clone, PartialEq)]
pub struct LoggedBroadcast {
    pub offset: Box<str>,
    pub frames: Vec<OutFrame>,
}

/// What the new node asks of the node a socket dropped from.
#[derive(Debug, Clone, PartialEq)]
pub struct PeerClaim {
    /// The peer: the recovery id of the node that saved the session.
    pub node: Box<str>,
    pub sid: Box<str>,
    pub rooms: Vec<Arc<str>>,
    /// The client's last offset.
    pub offset: String,
}

/// The peer's half of a replay, and where the new node's own log takes over.
pub struct PeerReplay {
    /// What the peer logged for the socket after its offset, before the peer's cut, in order.
    pub missed: Vec<LoggedBroadcast>,
    /// The new node's cut: what it logged from here on is its half.
    pub cut: LogCut,
    /// Whether the new node's channels for the socket have flowed without a break since it
    /// subscribed (else its half may have a gap).
    pub whole: Box<dyn Fn() -> bool + Send + Sync>,
}
