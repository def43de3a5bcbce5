//! A hashed timer wheel of deadlines, for thousands of per-container poll timers.
//!
//! Time is a plain `u64` count of milliseconds on the agent's monotonic clock. The wheel has
//! [`SLOTS`] slots of [`TICK_MS`] each; a timer lives in the slot of its deadline's tick, whatever
//! the number of revolutions until then, and keeps its exact deadline, so it never fires early and
//! fires at most one tick late when the loop asks on time.
//!
//! Contract:
//! - [`TimerWheel::insert`] and [`TimerWheel::cancel`] are O(1); a [`TimerId`] of a fired or
//!   cancelled timer is stale and cancelling it again does nothing (ids carry a generation).
//! - [`TimerWheel::pop_expired`] hands out, one at a time, every timer whose deadline is `<= now`.
//! - [`TimerWheel::next_deadline`] tells the loop how long it may sleep.
//! - Entries live in a slab that is reused: in steady state (as many timers armed as fired) nothing
//!   allocates. Nothing panics.

/// Milliseconds per wheel tick.
pub const TICK_MS: u64 = 4;
/// Slots in the wheel (a power of two); one revolution spans `SLOTS * TICK_MS` milliseconds.
pub const SLOTS: usize = 1024;

const NIL: u32 = u32::MAX;

/// Names one armed timer; stale once the timer fired or was cancelled.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct TimerId {
    index: u32,
    generation: u32,
}

#[derive(Debug, Clone)]
struct Entry<K> {
    deadline: u64,
    key: Option<K>,
    generation: u32,
    prev: u32,
    next: u32,
    slot: u32,
}

/// The timer wheel; `K` is what the caller gets back when a timer fires.
#[derive(Debug, Clone)]
pub struct TimerWheel<K> {
    entries: Vec<Entry<K>>,
    free: Vec<u32>,
    heads: Vec<u32>,
    /// The tick up to which every slot has been examined (exclusive of later deadlines).
    current_tick: u64,
    len: usize,
}

impl<K: Copy> Default for TimerWheel<K> {
    fn default() -> Self {
        Self::new()
    }
}

fn tick_of(ms: u64) -> u64 {
    ms / TICK_MS
}

fn slot_of(tick: u64) -> usize {
    (tick as usize) & (SLOTS - 1)
}

impl<K: Copy> TimerWheel<K> {
    /// An empty wheel starting at time 0.
    pub fn new() -> Self {
        TimerWheel {
            entries: Vec::new(),
            free: Vec::new(),
            heads: vec![NIL; SLOTS],
            current_tick: 0,
            len: 0,
        }
    }

    /// Number of armed timers.
    pub fn len(&self) -> usize {
        self.len
    }

    /// No timer armed.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Arms a timer for `deadline` (ms). A deadline in the past fires at the next `pop_expired`.
    pub fn insert(&mut self, deadline: u64, key: K) -> TimerId {
        // A deadline before the examined tick would sit in a slot already passed; file it under the
        // current tick so it fires at the next pop.
        let tick = tick_of(deadline).max(self.current_tick);
        let slot = slot_of(tick);
        let index = match self.free.pop() {
            Some(i) => i,
            None => {
                self.entries.push(Entry {
                    deadline: 0,
                    key: None,
                    generation: 0,
                    prev: NIL,
                    next: NIL,
                    slot: 0,
                });
                (self.entries.len() - 1) as u32
            }
        };
        let head = self.heads[slot];
        let generation;
        {
            let e = &mut self.entries[index as usize];
            e.deadline = deadline;
            e.key = Some(key);
            e.generation = e.generation.wrapping_add(1);
            e.prev = NIL;
            e.next = head;
            e.slot = slot as u32;
            generation = e.generation;
        }
        if head != NIL {
            self.entries[head as usize].prev = index;
        }
        self.heads[slot] = index;
        self.len += 1;
        TimerId { index, generation }
    }

    /// Disarms a timer; returns its key if it was still armed.
    pub fn cancel(&mut self, id: TimerId) -> Option<K> {
        let e = self.entries.get(id.index as usize)?;
        if e.generation != id.generation || e.key.is_none() {
            return None;
        }
        self.unlink(id.index)
    }

    /// The deadline of an armed timer.
    pub fn deadline(&self, id: TimerId) -> Option<u64> {
        let e = self.entries.get(id.index as usize)?;
        (e.generation == id.generation && e.key.is_some()).then_some(e.deadline)
    }

    fn unlink(&mut self, index: u32) -> Option<K> {
        let (prev, next, slot) = {
            let e = &self.entries[index as usize];
            (e.prev, e.next, e.slot as usize)
        };
        if prev != NIL {
            self.entries[prev as usize].next = next;
        } else {
            self.heads[slot] = next;
        }
        if next != NIL {
            self.entries[next as usize].prev = prev;
        }
        let e = &mut self.entries[index as usize];
        let key = e.key.take();
        e.prev = NIL;
        e.next = NIL;
        self.free.push(index);
        self.len -= 1;
        key
    }

    /// Removes and returns one timer whose deadline is `<= now`, or `None` when none is due.
    /// Call it in a loop until `None`.
    pub fn pop_expired(&mut self, now: u64) -> Option<(TimerId, K)> {
        if self.len == 0 {
            self.current_tick = self.current_tick.max(tick_of(now));
            return None;
        }
        let now_tick = tick_of(now);
        loop {
            let slot = slot_of(self.current_tick);
            let mut i = self.heads[slot];
            while i != NIL {
                let e = &self.entries[i as usize];
                if e.deadline <= now {
                    let id = TimerId {
                        index: i,
                        generation: e.generation,
                    };
                    if let Some(key) = self.unlink(i) {
                        return Some((id, key));
                    }
                    // Only armed entries are linked, so this is not reached; rescan to be safe.
                    i = self.heads[slot];
                    continue;
                }
                i = e.next;
            }
            if self.current_tick >= now_tick {
                return None;
            }
            // Past a whole revolution every slot has been looked at; jump to now.
            if now_tick - self.current_tick >= SLOTS as u64 {
                self.current_tick = now_tick + 1 - SLOTS as u64;
            }
            self.current_tick += 1;
        }
    }

    /// The earliest deadline of any armed timer.
    pub fn next_deadline(&self) -> Option<u64> {
        if self.len == 0 {
            return None;
        }
        let revolution_end = (self.current_tick + SLOTS as u64) * TICK_MS;
        let mut best: Option<u64> = None;
        for step in 0..SLOTS as u64 {
            let tick = self.current_tick + step;
            let mut i = self.heads[slot_of(tick)];
            while i != NIL {
                let e = &self.entries[i as usize];
                if e.deadline < revolution_end {
                    best = Some(best.map_or(e.deadline, |b| b.min(e.deadline)));
                }
                i = e.next;
            }
            if best.is_some() {
                return best;
            }
        }
        // Nothing within one revolution: the minimum over every armed timer.
        self.entries
            .iter()
            .filter(|e| e.key.is_some())
            .map(|e| e.deadline)
            .min()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn drain(w: &mut TimerWheel<u32>, now: u64) -> Vec<u32> {
        let mut out = Vec::new();
        while let Some((_, k)) = w.pop_expired(now) {
            out.push(k);
        }
        out.sort();
        out
    }

    #[test]
    fn fires_at_deadline_not_before() {
        let mut w = TimerWheel::new();
        w.insert(100, 1);
        w.insert(30_000, 2);
        assert_eq!(w.next_deadline(), Some(100));
        assert!(drain(&mut w, 99).is_empty());
        assert_eq!(drain(&mut w, 100), vec![1]);
        assert_eq!(w.next_deadline(), Some(30_000));
        assert!(drain(&mut w, 29_999).is_empty());
        assert_eq!(drain(&mut w, 30_003), vec![2]);
        assert!(w.is_empty());
        assert_eq!(w.next_deadline(), None);
    }

    #[test]
    fn far_deadlines_survive_many_revolutions() {
        let mut w = TimerWheel::new();
        let far = (SLOTS as u64) * TICK_MS * 5 + 7;
        w.insert(far, 9);
        let mut t = 0;
        while t < far {
            assert!(drain(&mut w, t).is_empty(), "fired early at {t}");
            t += 97;
        }
        assert_eq!(drain(&mut w, far), vec![9]);
    }

    #[test]
    fn cancel_and_stale_ids() {
        let mut w = TimerWheel::new();
        let a = w.insert(50, 1);
        let b = w.insert(50, 2);
        let c = w.insert(50, 3);
        assert_eq!(w.cancel(b), Some(2));
        assert_eq!(w.cancel(b), None);
        assert_eq!(w.deadline(a), Some(50));
        assert_eq!(drain(&mut w, 60), vec![1, 3]);
        assert_eq!(w.cancel(a), None);
        assert_eq!(w.cancel(c), None);
        // The slab entry is reused with a new generation: the old id stays stale.
        let d = w.insert(70, 4);
        assert_eq!(w.cancel(a), None);
        assert_eq!(w.cancel(d), Some(4));
    }

    #[test]
    fn past_deadlines_fire_at_once() {
        let mut w = TimerWheel::new();
        assert!(drain(&mut w, 10_000).is_empty());
        let id = w.insert(5, 1);
        assert_eq!(w.next_deadline(), Some(5));
        assert_eq!(w.cancel(id), Some(1));
        w.insert(5, 2);
        assert_eq!(drain(&mut w, 10_000), vec![2]);
    }

    #[test]
    fn big_time_jump_fires_everything_due() {
        let mut w = TimerWheel::new();
        for k in 0..100u32 {
            w.insert(u64::from(k) * 1000, k);
        }
        assert_eq!(drain(&mut w, 1_000_000).len(), 100);
    }

    #[test]
    fn matches_a_sorted_model_under_random_use() {
        let mut w = TimerWheel::new();
        let mut model: Vec<(u64, u32, TimerId)> = Vec::new();
        let mut seed = 0x1234_5678_9abc_def0u64;
        let mut rnd = move || {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed
        };
        let mut now = 0u64;
        for k in 0..20_000u32 {
            match rnd() % 4 {
                0 | 1 => {
                    let d = now + rnd() % 40_000;
                    let id = w.insert(d, k);
                    model.push((d, k, id));
                }
                2 if !model.is_empty() => {
                    let i = (rnd() as usize) % model.len();
                    let (_, key, id) = model.swap_remove(i);
                    assert_eq!(w.cancel(id), Some(key));
                }
                _ => {
                    now += rnd() % 3_000;
                    let mut fired = drain(&mut w, now);
                    let mut due: Vec<u32> = model
                        .iter()
                        .filter(|(d, _, _)| *d <= now)
                        .map(|(_, k, _)| *k)
                        .collect();
                    model.retain(|(d, _, _)| *d > now);
                    fired.sort();
                    due.sort();
                    assert_eq!(fired, due);
                    assert_eq!(w.next_deadline(), model.iter().map(|(d, _, _)| *d).min());
                }
            }
            assert_eq!(w.len(), model.len());
        }
    }
}
