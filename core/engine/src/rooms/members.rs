//! `Members`: the members of one room. Most rooms hold a single connection — every
//! `user:<id>` room of a user with one tab open — so that case is stored inline; a hash map's
//! smallest table is a separate allocation, paid per connected user (see BENCHMARKS.md for what
//! it cost per idle client).

use std::collections::HashMap;
use std::hash::Hash;

pub(crate) enum Members<K, M> {
    One(K, M),
    Many(HashMap<K, M>),
}

impl<K: Copy + Eq + Hash, M> Members<K, M> {
    pub fn one(key: K, member: M) -> Self {
        Self::One(key, member)
    }

    /// Adds or replaces `key`'s member; returns whether `key` is new.
    pub fn insert(&mut self, key: K, member: M) -> bool {
        match self {
            Self::One(k, m) if *k == key => {
                *m = member;
                false
            }
            Self::One(..) => {
                let previous = std::mem::replace(self, Self::Many(HashMap::with_capacity(2)));
                if let (Self::One(k, m), Self::Many(map)) = (previous, &mut *self) {
                    map.insert(k, m);
                    map.insert(key, member);
                }
                true
            }
            Self::Many(map) if map.is_empty() => {
                *self = Self::One(key, member);
                true
            }
            Self::Many(map) => map.insert(key, member).is_none(),
        }
    }

    /// Removes `key`; returns whether it was a member. An emptied room is `Many` of nothing
    /// (no allocation) until its owner drops it.
    pub fn remove(&mut self, key: &K) -> bool {
        match self {
            Self::One(k, _) if k == key => {
                *self = Self::Many(HashMap::new());
                true
            }
            Self::One(..) => false,
            Self::Many(map) => map.remove(key).is_some(),
        }
    }

    pub fn len(&self) -> usize {
        match self {
            Self::One(..) => 1,
            Self::Many(map) => map.len(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    pub fn contains_key(&self, key: &K) -> bool {
        match self {
            Self::One(k, _) => k == key,
            Self::Many(map) => map.contains_key(key),
        }
    }

    pub fn iter(&self) -> impl Iterator<Item = (&K, &M)> {
        let (one, many) = match self {
            Self::One(k, m) => (Some((k, m)), None),
            Self::Many(map) => (None, Some(map.iter())),
        };
        one.into_iter().chain(many.into_iter().flatten())
    }

    pub fn values(&self) -> impl Iterator<Item = &M> {
        self.iter().map(|(_, m)| m)
    }

    pub fn keys(&self) -> impl Iterator<Item = &K> {
        self.iter().map(|(k, _)| k)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grows_from_one_and_shrinks_to_nothing() {
        let mut members = Members::one(1u64, "a");
        assert!(!members.insert(1, "a2"), "same key replaces");
        assert_eq!(members.values().copied().collect::<Vec<_>>(), vec!["a2"]);
        assert!(members.insert(2, "b"));
        assert!(members.insert(3, "c"));
        assert_eq!(members.len(), 3);
        let mut keys: Vec<u64> = members.keys().copied().collect();
        keys.sort();
        assert_eq!(keys, vec![1, 2, 3]);
        assert!(members.contains_key(&2));
        for key in [1, 2, 3] {
            assert!(members.remove(&key));
            assert!(!members.remove(&key));
        }
        assert!(members.is_empty());
        assert!(
            members.insert(4, "d"),
            "an emptied room takes members again"
        );
        assert!(matches!(members, Members::One(4, "d")));
        assert!(members.remove(&4));
        assert!(members.is_empty() && !members.contains_key(&4));
        assert_eq!(members.iter().count(), 0);
    }
}
