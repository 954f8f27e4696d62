//! Delivery of one encoded packet to many recipients: the frames are encoded once by the caller
//! and each recipient receives clones of the same shared bytes.

use std::sync::Arc;

use crate::engineio::packet::OutFrame;
use crate::rooms::room_index::RoomIndex;

/// Something that can take a packet's frames into its outbound queue without blocking.
pub trait Recipient {
    /// Returns whether the frames were queued.
    fn deliver(&self, frames: &[OutFrame], volatile: bool) -> bool;
}

/// Where a broadcast goes: every member of the namespace when `rooms` is empty, otherwise the
/// members of any listed room, minus the members of any `except` room.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct BroadcastTarget {
    pub rooms: Vec<Arc<str>>,
    pub except: Vec<Arc<str>>,
    pub volatile: bool,
}

/// Delivers `frames` to the target's members; returns how many recipients queued them.
pub fn deliver<M: Recipient + Clone>(
    index: &RoomIndex<u64, M>,
    everyone: impl FnOnce(&mut dyn FnMut(u64, &M)),
    target: &BroadcastTarget,
    frames: &[OutFrame],
) -> usize {
    let mut delivered = 0;
    match (target.rooms.as_slice(), target.except.is_empty()) {
        // The common case: one room, nobody excluded — no dedup set, no member copies.
        ([room], true) => {
            index.for_each_member(room, |m| {
                delivered += m.deliver(frames, target.volatile) as usize
            });
        }
        ([], _) => {
            let excluded = index.keys_of(&target.except);
            everyone(&mut |key, m| {
                if !excluded.contains(&key) {
                    delivered += m.deliver(frames, target.volatile) as usize;
                }
            });
        }
        (rooms, _) => {
            for m in index.members_of(rooms, &target.except) {
                delivered += m.deliver(frames, target.volatile) as usize;
            }
        }
    }
    delivered
}
