//! `RoomIndex`: room name → members, sharded (DashMap) so joins in one room never block
//! broadcasts to another. A broadcast visits members under a shard read lock and only pushes
//! shared bytes into queues (no I/O), so the lock is held for microseconds per thousand members.

use std::collections::HashSet;
use std::hash::Hash;
use std::sync::Arc;

use dashmap::mapref::entry::Entry;
use dashmap::DashMap;

use super::members::Members;

/// What a join or a leave changed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RoomChange {
    /// Nothing: already a member (join), or not one (leave).
    Unchanged,
    /// The member joined or left a room that has other members.
    Member,
    /// The room appeared (first member joined) or went away (last member left).
    Room,
}

impl RoomChange {
    pub fn changed(self) -> bool {
        self != Self::Unchanged
    }
}

pub struct RoomIndex<K, M> {
    rooms: DashMap<Arc<str>, Members<K, M>>,
}

impl<K: Copy + Eq + Hash, M: Clone> Default for RoomIndex<K, M> {
    fn default() -> Self {
        Self {
            rooms: DashMap::new(),
        }
    }
}

impl<K: Copy + Eq + Hash, M: Clone> RoomIndex<K, M> {
    /// Adds `member` to `room`. Returns what changed and the index's own name of the room, for
    /// the member to keep: every member of a room shares one copy of its name.
    pub fn join(&self, room: &str, key: K, member: M) -> (RoomChange, Arc<str>) {
        if let Some(mut members) = self.rooms.get_mut(room) {
            let change = match members.value_mut().insert(key, member) {
                true => RoomChange::Member,
                false => RoomChange::Unchanged,
            };
            return (change, members.key().clone());
        }
        // A new room (or one that emptied in between): the entry settles it under the lock.
        let name: Arc<str> = Arc::from(room);
        match self.rooms.entry(name.clone()) {
            Entry::Occupied(mut members) => {
                let change = match members.get_mut().insert(key, member) {
                    true => RoomChange::Member,
                    false => RoomChange::Unchanged,
                };
                (change, members.key().clone())
            }
            Entry::Vacant(slot) => {
                slot.insert(Members::one(key, member));
                (RoomChange::Room, name)
            }
        }
    }

    /// Removes `key` from `room`, dropping the room when it empties.
    pub fn leave(&self, room: &str, key: K) -> RoomChange {
        let removed = match self.rooms.get_mut(room) {
            Some(mut members) => members.remove(&key),
            None => return RoomChange::Unchanged,
        };
        // Dropping an empty room needs the write lock again; remove_if re-checks emptiness.
        let dropped = self
            .rooms
            .remove_if(room, |_, members| members.is_empty())
            .is_some();
        match (removed, dropped) {
            (false, _) => RoomChange::Unchanged,
            (true, false) => RoomChange::Member,
            (true, true) => RoomChange::Room,
        }
    }

    pub fn contains(&self, room: &str, key: K) -> bool {
        self.rooms.get(room).is_some_and(|m| m.contains_key(&key))
    }

    pub fn member_count(&self, room: &str) -> usize {
        self.rooms.get(room).map_or(0, |m| m.len())
    }

    pub fn room_count(&self) -> usize {
        self.rooms.len()
    }

    pub fn room_names(&self) -> Vec<Arc<str>> {
        self.rooms.iter().map(|e| e.key().clone()).collect()
    }

    /// Calls `f` for each member of `room` while holding the shard's read lock: `f` must not
    /// block or touch this index. Returns how many members were visited.
    pub fn for_each_member(&self, room: &str, mut f: impl FnMut(&M)) -> usize {
        match self.rooms.get(room) {
            Some(members) => {
                members.values().for_each(&mut f);
                members.len()
            }
            None => 0,
        }
    }

    /// Like `for_each_member`, with each member's key.
    pub fn for_each_keyed(&self, room: &str, mut f: impl FnMut(K, &M)) {
        if let Some(members) = self.rooms.get(room) {
            members.iter().for_each(|(key, member)| f(*key, member));
        }
    }

    /// Keys of the members of `rooms`.
    pub fn keys_of(&self, rooms: &[Arc<str>]) -> HashSet<K> {
        let mut keys = HashSet::new();
        for room in rooms {
            if let Some(members) = self.rooms.get(room.as_ref()) {
                keys.extend(members.keys().copied());
            }
        }
        keys
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn room(name: &str) -> Arc<str> {
        Arc::from(name)
    }

    #[test]
    fn join_leave_and_cleanup() {
        let index: RoomIndex<u64, &str> = RoomIndex::default();
        let (change, first) = index.join("a", 1, "one");
        assert_eq!(change, RoomChange::Room);
        assert_eq!(index.join("a", 1, "one").0, RoomChange::Unchanged);
        let (change, second) = index.join("a", 2, "two");
        assert_eq!(change, RoomChange::Member);
        assert!(
            Arc::ptr_eq(&first, &second),
            "members share the room's name"
        );
        assert_eq!(index.member_count("a"), 2);
        assert_eq!(index.leave("a", 1), RoomChange::Member);
        assert_eq!(index.leave("a", 1), RoomChange::Unchanged);
        assert_eq!(index.leave("a", 2), RoomChange::Room);
        assert_eq!(index.room_count(), 0, "empty rooms are dropped");
    }

    #[test]
    fn visits_members_and_collects_keys() {
        let index: RoomIndex<u64, u64> = RoomIndex::default();
        for (r, k) in [("a", 1), ("a", 2), ("b", 2), ("b", 3), ("c", 3)] {
            index.join(r, k, k);
        }
        let mut keys: Vec<u64> = index.keys_of(&[room("a"), room("c")]).into_iter().collect();
        keys.sort();
        assert_eq!(keys, vec![1, 2, 3]);
        let mut count = 0;
        assert_eq!(index.for_each_member("a", |_| count += 1), 2);
        assert_eq!(count, 2);
    }
}
