//! The packet log: the broadcasts of the recovery window, oldest first, bounded in count, bytes
//! and age, each with its offset and audience so a recovering socket gets exactly what it missed.

use std::collections::VecDeque;
use std::sync::Arc;

use super::peer_replay::{LogCut, LoggedBroadcast};
use crate::config::RecoveryConfig;
use crate::engineio::packet::OutFrame;
use crate::rooms::broadcast::BroadcastTarget;

/// Missed broadcasts to replay, each as the frames of one packet.
pub(crate) type Missed = Vec<Vec<OutFrame>>;

struct LoggedPacket {
    offset: Box<str>,
    at_ms: u64,
    target: BroadcastTarget,
    frames: Vec<OutFrame>,
    bytes: usize,
    /// Its place in this log (counting every packet ever logged).
    position: u64,
    /// It started on this node (else it came from another one).
    local: bool,
}

impl LoggedPacket {
    fn logged(&self) -> LoggedBroadcast {
        LoggedBroadcast {
            offset: self.offset.clone(),
            frames: self.frames.clone(),
        }
    }
}

/// The broadcasts of the window, oldest first, with their total encoded size.
#[derive(Default)]
pub(crate) struct PacketLog {
    packets: VecDeque<LoggedPacket>,
    bytes: usize,
    /// The position the next packet gets.
    next_position: u64,
}

impl PacketLog {
    /// Logs one encoded broadcast (`bytes` is what it costs the log; `local`: it started on
    /// this node), then drops what is over the limits.
    #[allow(clippy::too_many_arguments)]
    pub fn push(
        &mut self,
        offset: &str,
        target: &BroadcastTarget,
        frames: Vec<OutFrame>,
        bytes: usize,
        local: bool,
        now: u64,
        limits: &RecoveryConfig,
    ) {
        self.bytes += bytes;
        self.packets.push_back(LoggedPacket {
            offset: Box::from(offset),
            at_ms: now,
            target: target.clone(),
            frames,
            bytes,
            position: self.next_position,
            local,
        });
        self.next_position += 1;
        self.prune(now, limits);
    }

    /// Drops the oldest packets while the log holds too many, too many bytes, or any older
    /// than the window.
    pub fn prune(&mut self, now: u64, limits: &RecoveryConfig) {
        let window = limits.max_disconnection.as_millis() as u64;
        while self.packets.len() > limits.max_packets
            || self.bytes > limits.max_bytes
            || self
                .packets
                .front()
                .is_some_and(|p| now.saturating_sub(p.at_ms) > window)
        {
            match self.packets.pop_front() {
                Some(evicted) => self.bytes -= evicted.bytes,
                None => break,
            }
        }
    }

    /// The broadcasts after `offset` that reached the socket `sid` in `rooms`, when `offset`
    /// is still in the log and `complete_since` says the log holds every broadcast to those
    /// rooms from the moment `offset` was logged (`clock::now_ms`) on; None otherwise.
    pub fn missed_after(
        &self,
        offset: &str,
        sid: &str,
        rooms: &[Arc<str>],
        complete_since: impl FnOnce(u64) -> bool,
    ) -> Option<Missed> {
        let missed = self.after(offset, complete_since)?;
        Some(
            missed
                .filter(|p| reaches(&p.target, sid, rooms))
                .map(|p| p.frames.clone())
                .collect(),
        )
    }

    /// As `missed_after`, only what lies before `cut`, with offsets: the half of a replay this
    /// node sends the node the socket came back to (see `peer_replay`).
    pub fn missed_before(
        &self,
        offset: &str,
        sid: &str,
        rooms: &[Arc<str>],
        complete_since: impl FnOnce(u64) -> bool,
        cut: &LogCut,
    ) -> Option<Vec<LoggedBroadcast>> {
        let missed = self.after(offset, complete_since)?;
        Some(
            missed
                .filter(|p| reaches(&p.target, sid, rooms))
                .filter(|p| cut.is_before(p.position, p.local, &p.target))
                .map(LoggedPacket::logged)
                .collect(),
        )
    }

    /// What reached the socket `sid` in `rooms` from `cut` on: the half of a replay the node
    /// the socket came back to adds itself.
    pub fn logged_from(&self, sid: &str, rooms: &[Arc<str>], cut: &LogCut) -> Vec<LoggedBroadcast> {
        self.packets
            .iter()
            .filter(|p| reaches(&p.target, sid, rooms))
            .filter(|p| !cut.is_before(p.position, p.local, &p.target))
            .map(LoggedPacket::logged)
            .collect()
    }

    /// Whether `offset` is still in the log and `complete_since` trusts it (as in
    /// `missed_after`).
    pub fn covers(&self, offset: &str, complete_since: impl FnOnce(u64) -> bool) -> bool {
        self.after(offset, complete_since).is_some()
    }

    /// Where the next packet will be logged.
    pub fn position(&self) -> u64 {
        self.next_position
    }

    /// The packets after `offset`, when it is still in the log and `complete_since` says the
    /// log holds every broadcast the socket may have missed since it was logged.
    fn after(
        &self,
        offset: &str,
        complete_since: impl FnOnce(u64) -> bool,
    ) -> Option<impl Iterator<Item = &LoggedPacket>> {
        let at = self.packets.iter().position(|p| &*p.offset == offset)?;
        complete_since(self.packets[at].at_ms).then(|| self.packets.iter().skip(at + 1))
    }
}

/// What the tests look at.
#[cfg(test)]
impl PacketLog {
    /// Packets held.
    pub fn len(&self) -> usize {
        self.packets.len()
    }

    /// Encoded bytes held.
    pub fn bytes(&self) -> usize {
        self.bytes
    }

    /// The offset of the oldest packet held.
    pub fn oldest_offset(&self) -> Option<&str> {
        self.packets.front().map(|p| &*p.offset)
    }

    /// When the oldest packet held was logged.
    pub fn oldest_at_ms(&self) -> Option<u64> {
        self.packets.front().map(|p| p.at_ms)
    }
}

/// Whether a broadcast to `target` reached the socket `sid` (which is in its own room) in
/// `rooms`.
fn reaches(target: &BroadcastTarget, sid: &str, rooms: &[Arc<str>]) -> bool {
    let is_in = |r: &Arc<str>| &**r == sid || rooms.contains(r);
    let included = target.rooms.is_empty() || target.rooms.iter().any(is_in);
    included && !target.except.iter().any(is_in)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engineio::packet::OutFrame;

    fn log_of(packets: &[(&str, &str, bool)]) -> PacketLog {
        let mut log = PacketLog::default();
        for (offset, room, local) in packets {
            let target = BroadcastTarget::new(&[room], &[]);
            let frames = vec![OutFrame::message(offset)];
            log.push(
                offset,
                &target,
                frames,
                1,
                *local,
                0,
                &RecoveryConfig::default(),
            );
        }
        log
    }

    fn offsets(logged: &[LoggedBroadcast]) -> Vec<&str> {
        logged.iter().map(|b| &*b.offset).collect()
    }

    #[test]
    fn a_cut_splits_what_reached_a_socket_between_the_two_halves_of_a_replay() {
        // Positions 0..6; the socket is in room "a" (its last packet: o0).
        let log = log_of(&[
            ("o0", "a", false),
            ("o1", "a", true),
            ("o2", "a", false),
            ("o3", "b", false),
            ("o4", "a", true),
            ("o5", "a", false),
        ]);
        // Own broadcasts before position 3; another node's "a" broadcasts before position 5.
        let cut = LogCut {
            local: 3,
            remote: Box::new(|target| {
                if target.rooms[0].as_ref() == "a" {
                    5
                } else {
                    0
                }
            }),
        };
        let rooms = [Arc::from("a")];
        let before = log
            .missed_before("o0", "sid", &rooms, |_| true, &cut)
            .unwrap();
        assert_eq!(offsets(&before), ["o1", "o2"]);
        let from = log.logged_from("sid", &rooms, &cut);
        assert_eq!(
            offsets(&from),
            ["o4", "o5"],
            "o0 and o2 lie before the cut; o3 never reached the socket"
        );
        assert!(log
            .missed_before("gone", "sid", &rooms, |_| true, &cut)
            .is_none());
        assert!(log
            .missed_before("o0", "sid", &rooms, |_| false, &cut)
            .is_none());
        assert_eq!(log.position(), 6);
    }
}
