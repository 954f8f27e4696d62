//! Delivery of one encoded packet to many recipients: the frames are encoded once, at the first
//! recipient (never for a broadcast that reaches nobody), and each recipient receives clones of
//! the same shared bytes. Each broadcast that reaches someone is timed until its last
//! recipient's copy is written (`DeliveryTimer`).
//!
//! Besides the rooms of the index, every socket is implicitly in a room named by its own id
//! (Socket.IO's `to(socket.id)`). That room has no index entry: the caller resolves an id to its
//! socket, so a socket that is never addressed this way costs nothing.

use std::cell::OnceCell;
use std::collections::HashSet;
use std::sync::Arc;

use crate::engineio::delivery_timer::DeliveryTimer;
use crate::engineio::packet::OutFrame;
use crate::rooms::room_index::RoomIndex;
use crate::stats::Stats;

/// Something that can take a packet's frames into its outbound queue without blocking.
pub trait Recipient {
    /// Returns whether the frames were queued; the queued copy holds a clone of `timer`.
    fn deliver(&self, frames: &[OutFrame], volatile: bool, timer: &Arc<DeliveryTimer>) -> bool;
}

/// Where a broadcast goes: every member of the namespace when `rooms` is empty, otherwise the
/// members of any listed room, minus the members of any `except` room.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct BroadcastTarget {
    pub rooms: Vec<Arc<str>>,
    pub except: Vec<Arc<str>>,
    pub volatile: bool,
    /// Sent uncompressed even where permessage-deflate is on (socket.io's `compress(false)`).
    pub plain: bool,
}

impl BroadcastTarget {
    /// The members of any of `rooms` (everyone when empty) minus those of any of `except`.
    pub fn new(rooms: &[&str], except: &[&str]) -> Self {
        let names = |list: &[&str]| list.iter().map(|r| Arc::from(*r)).collect();
        Self {
            rooms: names(rooms),
            except: names(except),
            ..Self::default()
        }
    }
}

/// A broadcast's packet, encoded (and its timer started, before encoding) on first use: a
/// broadcast that reaches nobody costs neither.
pub struct LazyFrames<'a, F: Fn() -> Vec<OutFrame>> {
    encode: F,
    stats: &'a Arc<Stats>,
    frames: OnceCell<(Vec<OutFrame>, Arc<DeliveryTimer>)>,
}

impl<'a, F: Fn() -> Vec<OutFrame>> LazyFrames<'a, F> {
    /// A broadcast timed into `stats`.
    pub fn new(encode: F, stats: &'a Arc<Stats>) -> Self {
        Self {
            encode,
            stats,
            frames: OnceCell::new(),
        }
    }

    /// Delivers to `member`.
    fn send_to<M: Recipient>(&self, member: &M, volatile: bool) -> bool {
        let (frames, timer) = self.frames.get_or_init(|| {
            let timer = DeliveryTimer::start(self.stats);
            ((self.encode)(), timer)
        });
        member.deliver(frames, volatile, timer)
    }

    /// Tells the timer how many members the broadcast reached (when it reached any).
    fn reached(&self, delivered: usize) -> usize {
        if let Some((_, timer)) = self.frames.get() {
            timer.reached(delivered);
        }
        delivered
    }
}

/// The members a broadcast can reach: the room index, every member, and the implicit room of
/// each member's own id. The delivery routines are provided; implementors say where members are.
pub trait Audience<M: Recipient + Clone> {
    fn index(&self) -> &RoomIndex<u64, M>;
    /// Visits every member.
    fn for_each(&self, visit: &mut dyn FnMut(u64, &M));
    /// The member whose id is `id`, if any (the implicit room of that id).
    fn by_id(&self, id: &str) -> Option<(u64, M)>;

    /// Delivers to the target's members; returns how many recipients queued the frames.
    fn deliver<F: Fn() -> Vec<OutFrame>>(
        &self,
        target: &BroadcastTarget,
        frames: &LazyFrames<'_, F>,
    ) -> usize {
        if let ([room], true) = (target.rooms.as_slice(), target.except.is_empty()) {
            return self.deliver_to_room(room, target.volatile, frames);
        }
        let mut delivered = 0;
        let mut send = |m: &M| delivered += frames.send_to(m, target.volatile) as usize;
        match target.rooms.as_slice() {
            [] => {
                let excluded = self.keys_of(&target.except);
                self.for_each(&mut |key, m| {
                    if !excluded.contains(&key) {
                        send(m);
                    }
                });
            }
            rooms => {
                for m in self.members_of(rooms, &target.except) {
                    send(&m);
                }
            }
        }
        frames.reached(delivered)
    }

    /// Everyone `target` addresses, each once: for operations that act member by member
    /// (acks from many, fetching, joining, disconnecting).
    fn recipients(&self, target: &BroadcastTarget) -> Vec<M> {
        if !target.rooms.is_empty() {
            return self.members_of(&target.rooms, &target.except);
        }
        let excluded = self.keys_of(&target.except);
        let mut out = Vec::new();
        self.for_each(&mut |key, m| {
            if !excluded.contains(&key) {
                out.push(m.clone());
            }
        });
        out
    }

    /// The common case: one room, nobody excluded — no target to build, no dedup set, no
    /// member copies, one room lookup.
    fn deliver_to_room<F: Fn() -> Vec<OutFrame>>(
        &self,
        room: &str,
        volatile: bool,
        frames: &LazyFrames<'_, F>,
    ) -> usize {
        let mut delivered = 0;
        let mut send = |m: &M| delivered += frames.send_to(m, volatile) as usize;
        self.index().for_each_member(room, &mut send);
        if let Some((key, own)) = self.by_id(room) {
            if !self.index().contains(room, key) {
                send(&own);
            }
        }
        frames.reached(delivered)
    }

    /// Members of any of `rooms`, each once, skipping members of any room in `except`.
    fn members_of(&self, rooms: &[Arc<str>], except: &[Arc<str>]) -> Vec<M> {
        let excluded = self.keys_of(except);
        let mut seen = HashSet::new();
        let mut out = Vec::new();
        let mut take = |key: u64, m: &M| {
            if !excluded.contains(&key) && seen.insert(key) {
                out.push(m.clone());
            }
        };
        for room in rooms {
            self.index().for_each_keyed(room, &mut take);
            if let Some((key, own)) = self.by_id(room) {
                take(key, &own);
            }
        }
        out
    }

    /// Keys of the members of `rooms`.
    fn keys_of(&self, rooms: &[Arc<str>]) -> HashSet<u64> {
        let mut keys = self.index().keys_of(rooms);
        keys.extend(
            rooms
                .iter()
                .filter_map(|room| self.by_id(room).map(|(key, _)| key)),
        );
        keys
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::cell::RefCell;
    use std::rc::Rc;

    #[derive(Clone)]
    struct Probe(u64, Rc<RefCell<Vec<u64>>>);

    impl Recipient for Probe {
        fn deliver(&self, _: &[OutFrame], _: bool, _: &Arc<DeliveryTimer>) -> bool {
            self.1.borrow_mut().push(self.0);
            true
        }
    }

    struct TestAudience {
        index: RoomIndex<u64, Probe>,
        members: Vec<Probe>,
    }

    impl Audience<Probe> for TestAudience {
        fn index(&self) -> &RoomIndex<u64, Probe> {
            &self.index
        }
        fn for_each(&self, visit: &mut dyn FnMut(u64, &Probe)) {
            self.members.iter().for_each(|m| visit(m.0, m));
        }
        fn by_id(&self, id: &str) -> Option<(u64, Probe)> {
            let key: u64 = id.strip_prefix("id")?.parse().ok()?;
            self.members.get(key as usize - 1).map(|m| (key, m.clone()))
        }
    }

    fn target(rooms: &[&str], except: &[&str]) -> BroadcastTarget {
        BroadcastTarget::new(rooms, except)
    }

    #[test]
    fn own_id_rooms_resolve_without_an_index_entry_and_encode_once() {
        let got = Rc::new(RefCell::new(Vec::new()));
        let index: RoomIndex<u64, Probe> = RoomIndex::default();
        let members: Vec<Probe> = (1..=3).map(|k| Probe(k, got.clone())).collect();
        index.join("a", 1, members[0].clone());
        index.join("a", 2, members[1].clone());
        let audience = TestAudience { index, members };
        let encoded = Rc::new(RefCell::new(0));
        let counter = encoded.clone();
        let stats = Arc::new(Stats::default());
        let frames = LazyFrames::new(
            move || {
                *counter.borrow_mut() += 1;
                Vec::new()
            },
            &stats,
        );
        let run = |t: BroadcastTarget| {
            got.borrow_mut().clear();
            audience.deliver(&t, &frames);
            let mut v = got.borrow().clone();
            v.sort();
            v
        };
        assert_eq!(run(target(&["id3"], &[])), vec![3]);
        assert_eq!(run(target(&["a", "id3", "id1"], &[])), vec![1, 2, 3]);
        assert_eq!(run(target(&["a"], &["id2"])), vec![1]);
        assert_eq!(run(target(&[], &["id1", "a"])), vec![3]);
        assert_eq!(run(target(&["nobody"], &[])), Vec::<u64>::new());
        assert_eq!(
            *encoded.borrow(),
            1,
            "encoded once, for the first recipient"
        );
    }
}
