//! An index from keys to table slots that stores nothing but the slots.
//!
//! The container table finds a container by its id on every engine event. A `HashMap<ContainerId,
//! usize>` would hold each 64-byte id a second time beside its slot (72 bytes a bucket, over a
//! megabyte at 10,000 containers); this index holds 4-byte slot numbers only and reads each key back
//! from the table through a closure the caller gives: for the comparisons of a lookup, the moves of a
//! removal and the re-insertions of a growth.
//!
//! Contract: open addressing with linear probing, at most half full; removal shifts the entries behind
//! it back (no tombstones, so lookups never slow down with churn). Keys are hashed with std's keyed
//! SipHash, so ids chosen to collide cannot make it slow. The caller keeps the table and the index in
//! step: every slot the index holds must give back its key. Nothing here panics.

use std::collections::hash_map::RandomState;
use std::hash::{BuildHasher, Hash};

const EMPTY: u32 = u32::MAX;
/// Buckets of the first allocation.
const MIN_BUCKETS: usize = 16;

/// Slots by key (see the module docs).
#[derive(Debug, Default)]
pub struct SlotIndex {
    buckets: Vec<u32>,
    len: usize,
    hasher: RandomState,
}

impl SlotIndex {
    /// Entries held.
    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.len
    }

    /// The slot of `key`; `key_of` gives the key of a slot the index holds.
    pub fn find<'t, K: Hash + Eq + 't>(
        &self,
        key: &K,
        key_of: impl Fn(usize) -> Option<&'t K>,
    ) -> Option<usize> {
        self.position(key, &key_of)
            .and_then(|i| self.buckets.get(i))
            .map(|&s| s as usize)
    }

    /// Adds `slot` under `key`, which must not be held yet; false (and nothing added) when `slot`
    /// does not fit in 32 bits.
    pub fn insert<'t, K: Hash + Eq + 't>(
        &mut self,
        key: &K,
        slot: usize,
        key_of: impl Fn(usize) -> Option<&'t K>,
    ) -> bool {
        let Ok(value) = u32::try_from(slot) else {
            return false;
        };
        if value == EMPTY {
            return false;
        }
        if (self.len + 1) * 2 > self.buckets.len() {
            self.grow(&key_of);
        }
        self.place(self.home(key), value);
        self.len += 1;
        true
    }

    /// Removes `key`; returns its slot.
    pub fn remove<'t, K: Hash + Eq + 't>(
        &mut self,
        key: &K,
        key_of: impl Fn(usize) -> Option<&'t K>,
    ) -> Option<usize> {
        let mut hole = self.position(key, &key_of)?;
        let removed = self.buckets.get(hole).copied()? as usize;
        let mask = self.buckets.len() - 1;
        // Backward-shift deletion: move up every entry of the run after the hole whose home is not
        // between the hole and itself, so that no lookup ever stops early at the hole.
        let mut next = hole;
        loop {
            next = (next + 1) & mask;
            let Some(&slot) = self.buckets.get(next) else {
                break;
            };
            if slot == EMPTY {
                break;
            }
            let Some(home) = key_of(slot as usize).map(|k| self.home(k)) else {
                break;
            };
            let stays = if hole <= next {
                hole < home && home <= next
            } else {
                hole < home || home <= next
            };
            if !stays {
                self.buckets[hole] = slot;
                hole = next;
            }
        }
        self.buckets[hole] = EMPTY;
        self.len -= 1;
        Some(removed)
    }

    fn home<K: Hash>(&self, key: &K) -> usize {
        (self.hasher.hash_one(key) as usize) & (self.buckets.len().wrapping_sub(1))
    }

    /// The bucket holding `key`.
    fn position<'t, K: Hash + Eq + 't>(
        &self,
        key: &K,
        key_of: &impl Fn(usize) -> Option<&'t K>,
    ) -> Option<usize> {
        if self.buckets.is_empty() {
            return None;
        }
        let mask = self.buckets.len() - 1;
        let mut i = self.home(key);
        // The index is never full, so an empty bucket ends every probe.
        for _ in 0..self.buckets.len() {
            let slot = *self.buckets.get(i)?;
            if slot == EMPTY {
                return None;
            }
            if key_of(slot as usize) == Some(key) {
                return Some(i);
            }
            i = (i + 1) & mask;
        }
        None
    }

    /// Puts `slot` in the first empty bucket from `from`.
    fn place(&mut self, from: usize, slot: u32) {
        let mask = self.buckets.len() - 1;
        let mut i = from;
        while let Some(b) = self.buckets.get_mut(i) {
            if *b == EMPTY {
                *b = slot;
                return;
            }
            i = (i + 1) & mask;
        }
    }

    /// Doubles the buckets and places every entry again.
    fn grow<'t, K: Hash + Eq + 't>(&mut self, key_of: &impl Fn(usize) -> Option<&'t K>) {
        let size = (self.buckets.len() * 2).max(MIN_BUCKETS);
        let old = std::mem::replace(&mut self.buckets, vec![EMPTY; size]);
        for slot in old.into_iter().filter(|&s| s != EMPTY) {
            if let Some(key) = key_of(slot as usize) {
                self.place(self.home(key), slot);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A table of keys by slot, with a model map beside the index.
    struct Table {
        keys: Vec<Option<u64>>,
        index: SlotIndex,
    }

    impl Table {
        fn key_of<'a>(keys: &'a [Option<u64>]) -> impl Fn(usize) -> Option<&'a u64> + 'a {
            move |s| keys.get(s).and_then(Option::as_ref)
        }

        fn insert(&mut self, key: u64) -> usize {
            let slot = self.keys.len();
            self.keys.push(Some(key));
            assert!(self.index.insert(&key, slot, Table::key_of(&self.keys)));
            slot
        }

        fn remove(&mut self, key: u64) -> Option<usize> {
            let slot = self.index.remove(&key, Table::key_of(&self.keys))?;
            self.keys[slot] = None;
            Some(slot)
        }

        fn find(&self, key: u64) -> Option<usize> {
            self.index.find(&key, Table::key_of(&self.keys))
        }
    }

    #[test]
    fn insert_find_remove_against_a_model() {
        let mut t = Table {
            keys: Vec::new(),
            index: SlotIndex::default(),
        };
        let mut model = std::collections::HashMap::new();
        let mut state = 0x9e37_79b9_7f4a_7c15u64;
        for round in 0..20_000u64 {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            // A small key space, so removals and re-insertions of the same keys are frequent.
            let key = state % 500;
            if round % 3 == 0 || model.contains_key(&key) {
                assert_eq!(t.remove(key), model.remove(&key), "remove {key}");
            } else {
                let slot = t.insert(key);
                model.insert(key, slot);
            }
            if round % 97 == 0 {
                for k in 0..500 {
                    assert_eq!(t.find(k), model.get(&k).copied(), "find {k}");
                }
            }
        }
        assert_eq!(t.index.len(), model.len());
    }

    #[test]
    fn four_bytes_a_bucket_at_most_half_full() {
        let mut t = Table {
            keys: Vec::new(),
            index: SlotIndex::default(),
        };
        for k in 0..10_000 {
            t.insert(k);
        }
        assert_eq!(t.index.buckets.len(), 32_768);
        assert!((0..10_000).all(|k| t.find(k) == Some(k as usize)));
        assert_eq!(t.find(10_001), None);
        assert!(!t.index.insert(&1, u32::MAX as usize, |_| None::<&u64>));
    }
}
