//! The container table: a state machine from [`News`] and time to [`Action`]s.
//!
//! The table holds each container's identity (data source 3:N, its name, its sequence), its life and
//! its poll deadline, and nothing else: it reads no file, opens no socket and reads no clock. Its
//! owner hands it news ([`Table::handle_news`]) and the time ([`Table::handle_timeout`], at
//! [`Table::poll_timeout`]), and takes the actions it queued ([`Table::poll_action`]) in order,
//! before it hands over anything else: describe a container (ask its source), attach its counters
//! to a new process, read its limits or its counters now, send a sample, drop what is kept for a
//! slot. A sample action carries everything the sample's identity needs (index, sequence, state,
//! UUID, name), so the owner needs nothing else from the table to send it.
//!
//! The rules of a container's life:
//! - a container the table does not know alive is described before its first sample; when its
//!   description says it runs (or is paused), its first sample goes out at once and it is polled on
//!   the grid of [`crate::schedule`], from a random whole second within one interval;
//! - pause and resume send a sample at once with the new state (3 or 1); the sequence carries on;
//!   a source without pause events (containerd) tells a pause found as a sample is taken
//!   ([`Table::paused_at_sample`]), and that sample carries it;
//! - a life ends with **exactly one final sample** (state 4, or 5 after a stop), whatever order the
//!   end, the population and late news arrive in: once ended, only a new process
//!   ([`News::Started`], or the population listing it alive) can start a new life; pause, resume,
//!   another end or a late description change nothing;
//! - a container that ended before its first sample gets one sample, the final one;
//! - a new life keeps the container's dsIndex and its sequence;
//! - a removed container is forgotten and its dsIndex freed; at most [`MAX_ENDED`] ended
//!   containers are remembered for a restart, the oldest forgotten first.
//!
//! Names: a container is reported under its name (or its hostname when the table is built to), and
//! under `name.<short id>` while another alive container has the same name. The count is kept by the
//! name's hash; a collision (one in 2^64 per pair) would only add a short id to a name.
//!
//! Sources: several sources may feed one table (the Docker or Podman engine, containerd's task
//! directories). Each entry remembers the [`SourceId`] that last described it (or, before any
//! description, that first told of it): [`Table::source_of`] says which source an
//! [`Action::Describe`] is for, and [`News::Present`] and [`News::Lost`] handed over through
//! [`Table::handle_news_from`] concern only that source's containers. [`Table::handle_news`] is
//! [`SourceId::ENGINE`]'s.
//!
//! Nothing here allocates per poll, and nothing panics.

use std::collections::hash_map::RandomState;
use std::collections::{HashMap, VecDeque};
use std::hash::BuildHasher;

use log::{debug, warn};

use super::{write_display_name, ContainerId, Description, DsIndexAllocator, EndState, News};
use super::{Presence, SlotIndex};
use crate::rng::Rng;
use crate::schedule::Interval;
use crate::timer::{TimerId, TimerWheel};
use crate::wire::HOSTNAME_MAX;

/// Which source of containers told the table of a container.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct SourceId(pub u8);

impl SourceId {
    /// The Docker or Podman engine.
    pub const ENGINE: SourceId = SourceId(0);
    /// containerd's task directories.
    pub const CONTAINERD: SourceId = SourceId(1);
}

/// Ended containers remembered for a restart, at most.
pub const MAX_ENDED: usize = 4096;

/// Room for queued actions kept between bursts (each is about 100 bytes).
const KEPT_ACTIONS: usize = 1024;

/// `virt_cpu.state` of a running container (libvirt's RUNNING).
pub const STATE_RUNNING: u32 = 1;
/// `virt_cpu.state` of a paused container (libvirt's PAUSED).
pub const STATE_PAUSED: u32 = 3;

/// The name a sample is reported under: at most [`HOSTNAME_MAX`] bytes of UTF-8, held inline so
/// that an action costs no allocation.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct SampleName {
    len: u8,
    bytes: [u8; HOSTNAME_MAX],
}

impl SampleName {
    fn new(text: &str) -> SampleName {
        // `write_display_name` cut it to HOSTNAME_MAX on a character boundary already.
        let text = super::truncate_utf8(text, HOSTNAME_MAX);
        let mut bytes = [0; HOSTNAME_MAX];
        bytes[..text.len()].copy_from_slice(text.as_bytes());
        SampleName {
            len: text.len() as u8,
            bytes,
        }
    }

    /// The name.
    pub fn as_str(&self) -> &str {
        std::str::from_utf8(&self.bytes[..usize::from(self.len)]).unwrap_or_default()
    }
}

impl std::fmt::Debug for SampleName {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.as_str().fmt(f)
    }
}

/// A sample to send now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Sample {
    /// The container's slot, for its kept counters.
    pub slot: usize,
    /// Its data source index (3:N).
    pub index: u32,
    /// The sample's sequence number.
    pub sequence: u32,
    /// `virt_cpu.state`.
    pub state: u32,
    /// The final sample of a life: it carries the last counters read, and the counter files are
    /// closed after it (an open file would keep a removed cgroup alive in the kernel).
    pub last: bool,
    /// `host_descr.uuid`: the container's UUID.
    pub uuid: [u8; 16],
    /// `host_descr.hostname`.
    pub name: SampleName,
}

/// What the table asks its owner to do, in order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    /// Ask the container's source to describe it ([`News::Described`] or [`News::Undescribed`]).
    Describe(ContainerId),
    /// A new process runs in this slot's container: find its counter files from its pid and read
    /// its limits (whatever was kept for the slot before is replaced).
    Attach {
        /// The slot.
        slot: usize,
        /// The process, in the host's pid namespace.
        pid: u32,
    },
    /// Read the container's limits again before its next sample.
    RefreshLimits {
        /// The slot.
        slot: usize,
    },
    /// Read the container's counters now, into its last values, without sending: it is ending.
    ReadNow {
        /// The slot.
        slot: usize,
    },
    /// Send a sample now.
    Sample(Sample),
    /// Forget everything kept for this slot; the table may give the slot to another container.
    Drop {
        /// The slot.
        slot: usize,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Life {
    /// Described being asked for. `ended`: it ended meanwhile. `reported`: an earlier life was
    /// reported (it has an index and a sequence to keep).
    Describing {
        ended: Option<EndState>,
        reported: bool,
    },
    Running,
    Paused,
    /// Its final sample is out; kept for its identity.
    Ended,
}

impl Life {
    fn alive(self) -> bool {
        matches!(self, Life::Running | Life::Paused)
    }
}

#[derive(Debug)]
struct Entry {
    id: ContainerId,
    /// The source that last described it (or first told of it).
    source: SourceId,
    /// `None` until first reported.
    index: Option<u32>,
    name: Box<str>,
    /// Kept only when the table reports hostnames.
    hostname: Box<str>,
    life: Life,
    pid: u32,
    sequence: u32,
    timer: Option<TimerId>,
    /// The deadline of its poll timer.
    due: u64,
    ended_order: u64,
    /// Counted among the alive containers reporting its name.
    counted: bool,
}

/// The container table (see the module docs).
pub struct Table {
    slots: Vec<Option<Entry>>,
    by_id: SlotIndex,
    alloc: DsIndexAllocator,
    /// How many counted containers report each name, by the name's hash.
    names: HashMap<u64, u32>,
    name_hasher: RandomState,
    /// The name of the sample being built, rebuilt in place.
    display: String,
    use_hostname: bool,
    ended_counter: u64,
    ended: usize,
    wheel: TimerWheel<usize>,
    interval: Option<Interval>,
    rng: Rng,
    actions: VecDeque<Action>,
    logged_full: bool,
}

impl Table {
    /// An empty table polling every `interval` (`None`: never polled, only the samples of changes
    /// are sent); `use_hostname` reports each container's hostname instead of its name; `seed`
    /// spreads the poll phases.
    pub fn new(interval: Option<Interval>, use_hostname: bool, seed: u64) -> Table {
        Table {
            slots: Vec::new(),
            by_id: SlotIndex::default(),
            alloc: DsIndexAllocator::new(),
            names: HashMap::new(),
            name_hasher: RandomState::new(),
            display: String::new(),
            use_hostname,
            ended_counter: 0,
            ended: 0,
            wheel: TimerWheel::new(),
            interval,
            rng: Rng::from_seed(seed),
            actions: VecDeque::new(),
            logged_full: false,
        }
    }

    /// Containers running or paused: `virt_node.num_domains`.
    pub fn alive(&self) -> u32 {
        let n = self
            .slots
            .iter()
            .flatten()
            .filter(|e| e.life.alive())
            .count();
        u32::try_from(n).unwrap_or(u32::MAX)
    }

    /// The next action to take, in order; `None` when there is nothing to do.
    pub fn poll_action(&mut self) -> Option<Action> {
        let action = self.actions.pop_front();
        if action.is_none() && self.actions.capacity() > KEPT_ACTIONS {
            // A burst (a first list of thousands) is over: give its room back. Ordinary
            // wake-ups stay below this and allocate nothing.
            self.actions.shrink_to(KEPT_ACTIONS);
        }
        action
    }

    /// When [`Table::handle_timeout`] is next due.
    pub fn poll_timeout(&self) -> Option<u64> {
        self.wheel.next_deadline()
    }

    /// Polls every container due at `now`: a sample each, and its next deadline on its grid.
    pub fn handle_timeout(&mut self, now: u64) {
        while let Some((id, slot)) = self.wheel.pop_expired(now) {
            let Some(e) = self.slots.get_mut(slot).and_then(Option::as_mut) else {
                continue;
            };
            if e.timer != Some(id) {
                continue;
            }
            e.timer = None;
            if !e.life.alive() {
                continue;
            }
            let due = e.due;
            self.sample(slot, false);
            if let Some(i) = self.interval {
                self.arm(slot, i.next(due, now));
            }
        }
    }

    /// A new polling interval (the configuration changed): every alive container gets a new phase.
    pub fn set_interval(&mut self, interval: Option<Interval>, now: u64) {
        self.interval = interval;
        for slot in 0..self.slots.len() {
            let alive = self.entry(slot).is_some_and(|e| e.life.alive());
            if alive {
                self.arm_fresh(slot, now);
            }
        }
    }

    /// The owner did not send `sample` after all (its counters were gone: the container is ending
    /// and its final sample follows): its sequence number is given back, so collectors see no gap.
    pub fn unsent(&mut self, sample: &Sample) {
        if let Some(e) = self.slots.get_mut(sample.slot).and_then(Option::as_mut) {
            if e.sequence == sample.sequence {
                e.sequence = e.sequence.wrapping_sub(1);
            }
        }
    }

    /// The container in `slot` and its source, when `source` is `wanted`.
    pub fn id_in_slot_of(&self, slot: usize, wanted: SourceId) -> Option<ContainerId> {
        self.entry(slot)
            .filter(|e| e.source == wanted)
            .map(|e| e.id)
    }

    /// The pause state of the container of `sample`, as its source found it when the sample was
    /// taken (a source without pause events): recorded without a sample of its own, since the
    /// sample going out carries it. A final sample, or an ended life, is left as it is.
    pub fn paused_at_sample(&mut self, sample: &mut Sample, paused: bool) {
        if sample.last {
            return;
        }
        let Some(e) = self.entry_mut(sample.slot) else {
            return;
        };
        let (life, state) = match (e.life, paused) {
            (Life::Running, true) => (Life::Paused, STATE_PAUSED),
            (Life::Paused, false) => (Life::Running, STATE_RUNNING),
            _ => return,
        };
        if sample.sequence == e.sequence {
            e.life = life;
            sample.state = state;
        }
    }

    /// Which source describes `id` (see the module docs): where an [`Action::Describe`] goes.
    pub fn source_of(&self, id: &ContainerId) -> Option<SourceId> {
        self.slot_of(id)
            .and_then(|s| self.entry(s))
            .map(|e| e.source)
    }

    /// Takes one piece of news from the engine ([`SourceId::ENGINE`]), at `now`.
    pub fn handle_news(&mut self, news: News, now: u64) {
        self.handle_news_from(SourceId::ENGINE, news, now);
    }

    /// Takes one piece of news from `source`, at `now`.
    pub fn handle_news_from(&mut self, source: SourceId, news: News, now: u64) {
        match news {
            News::Started(id) => self.on_started(id, source),
            News::Described(d) => self.on_described(d, source, now),
            News::Undescribed(id) => {
                if let Some(slot) = self.slot_of(&id) {
                    self.on_undescribed(slot);
                }
            }
            News::Paused(id) => self.on_pause(id, true),
            News::Resumed(id) => self.on_pause(id, false),
            News::LimitsChanged(id) => {
                if let Some(slot) = self.alive_slot(&id) {
                    self.actions.push_back(Action::RefreshLimits { slot });
                }
            }
            News::Ending(id) => {
                if let Some(slot) = self.alive_slot(&id) {
                    self.actions.push_back(Action::ReadNow { slot });
                }
            }
            News::Renamed(id, name) => {
                if let Some(slot) = self.slot_of(&id) {
                    self.rename(slot, name.into(), None);
                }
            }
            News::Ended(id, state) => {
                let Some(slot) = self.slot_of(&id) else {
                    return;
                };
                match self.entry(slot).map(|e| e.life) {
                    Some(Life::Running | Life::Paused) => self.end(slot, state),
                    Some(Life::Describing { reported, .. }) => {
                        if let Some(e) = self.entry_mut(slot) {
                            e.life = Life::Describing {
                                ended: Some(state),
                                reported,
                            };
                        }
                    }
                    _ => {}
                }
            }
            News::Removed(id) => {
                if let Some(slot) = self.slot_of(&id) {
                    if self.entry(slot).is_some_and(|e| e.life.alive()) {
                        self.end(slot, EndState::Exited);
                    }
                    self.forget(slot);
                }
            }
            News::Present(mut ids) => self.on_present(&mut ids, source),
            News::Lost => {
                // Descriptions asked for will not come: each goes back to what it was.
                for slot in 0..self.slots.len() {
                    if self.entry(slot).is_some_and(|e| {
                        e.source == source && matches!(e.life, Life::Describing { .. })
                    }) {
                        self.on_undescribed(slot);
                    }
                }
            }
        }
    }

    fn entry(&self, slot: usize) -> Option<&Entry> {
        self.slots.get(slot).and_then(Option::as_ref)
    }

    fn entry_mut(&mut self, slot: usize) -> Option<&mut Entry> {
        self.slots.get_mut(slot).and_then(Option::as_mut)
    }

    fn slot_of(&self, id: &ContainerId) -> Option<usize> {
        let slots = &self.slots;
        self.by_id
            .find(id, |s| slots.get(s).and_then(Option::as_ref).map(|e| &e.id))
    }

    fn alive_slot(&self, id: &ContainerId) -> Option<usize> {
        self.slot_of(id)
            .filter(|&s| self.entry(s).is_some_and(|e| e.life.alive()))
    }

    /// A new entry for `id`, being described by `source`.
    fn insert(&mut self, id: ContainerId, source: SourceId) -> usize {
        let entry = Entry {
            id,
            source,
            index: None,
            name: Box::default(),
            hostname: Box::default(),
            life: Life::Describing {
                ended: None,
                reported: false,
            },
            pid: 0,
            sequence: 0,
            timer: None,
            due: 0,
            ended_order: 0,
            counted: false,
        };
        let slot = match self.slots.iter().position(Option::is_none) {
            Some(s) => {
                self.slots[s] = Some(entry);
                s
            }
            None => {
                self.slots.push(Some(entry));
                self.slots.len() - 1
            }
        };
        let slots = &self.slots;
        self.by_id.insert(&id, slot, |s| {
            slots.get(s).and_then(Option::as_ref).map(|e| &e.id)
        });
        slot
    }

    /// Asks `source` about `id`, known or not: a new entry, or an ended one starting a new life.
    fn describe(&mut self, id: ContainerId, source: SourceId) {
        match self.slot_of(&id) {
            None => {
                self.insert(id, source);
            }
            Some(slot) => {
                let ended = self.entry(slot).is_some_and(|e| e.life == Life::Ended);
                if ended {
                    self.ended -= 1;
                    if let Some(e) = self.entry_mut(slot) {
                        e.source = source;
                        e.life = Life::Describing {
                            ended: None,
                            reported: true,
                        };
                    }
                }
            }
        }
        self.actions.push_back(Action::Describe(id));
    }

    fn on_started(&mut self, id: ContainerId, source: SourceId) {
        let life = self
            .slot_of(&id)
            .and_then(|s| self.entry(s))
            .map(|e| e.life);
        match life {
            // Already being asked about: that answer covers it.
            Some(Life::Describing { .. }) => {}
            // Alive: a restart's new process (its end was missed); ask for its new pid.
            Some(Life::Running | Life::Paused) => self.actions.push_back(Action::Describe(id)),
            Some(Life::Ended) | None => self.describe(id, source),
        }
    }

    fn on_pause(&mut self, id: ContainerId, paused: bool) {
        let Some(slot) = self.slot_of(&id) else {
            // Never seen: it lives, so it is asked about (by the engine: only it sends pauses).
            self.describe(id, SourceId::ENGINE);
            return;
        };
        let life = self.entry(slot).map(|e| e.life);
        let to = match (life, paused) {
            (Some(Life::Running), true) => Life::Paused,
            (Some(Life::Paused), false) => Life::Running,
            // An ended life is not revived by a pause or a resume (a replayed `unpause` of a
            // container the engine killed): only a new process starts a new life.
            _ => return,
        };
        if let Some(e) = self.entry_mut(slot) {
            e.life = to;
        }
        self.sample(slot, false);
    }

    fn on_present(&mut self, ids: &mut [ContainerId], source: SourceId) {
        ids.sort_unstable();
        for &id in ids.iter() {
            let life = self
                .slot_of(&id)
                .and_then(|s| self.entry(s))
                .map(|e| e.life);
            match life {
                Some(Life::Running | Life::Paused | Life::Describing { .. }) => {}
                Some(Life::Ended) | None => self.describe(id, source),
            }
        }
        // Alive but not present: it ended while nobody was looking. Only this source's.
        for slot in 0..self.slots.len() {
            let gone = self.entry(slot).is_some_and(|e| {
                e.source == source && e.life.alive() && ids.binary_search(&e.id).is_err()
            });
            if gone {
                self.end(slot, EndState::Exited);
            }
        }
    }

    fn on_undescribed(&mut self, slot: usize) {
        match self.entry(slot).map(|e| e.life) {
            Some(Life::Describing { reported: true, .. }) => self.mark_ended(slot),
            Some(Life::Describing {
                reported: false, ..
            }) => self.forget(slot),
            // An alive container its source cannot describe any more is gone.
            Some(Life::Running | Life::Paused) => self.end(slot, EndState::Exited),
            Some(Life::Ended) | None => {}
        }
    }

    fn on_described(&mut self, d: Description, source: SourceId, now: u64) {
        let slot = match self.slot_of(&d.id) {
            Some(s) => s,
            // Unasked: a source that describes containers as it finds them.
            None => self.insert(d.id, source),
        };
        let Some(e) = self.entry(slot) else {
            return;
        };
        let (was_alive, ended_meanwhile, new_life) = match e.life {
            // An answer to a question asked before the container's end: its final sample is out,
            // and only a new process revives it.
            Life::Ended => return,
            Life::Describing { ended, .. } => (false, ended, true),
            Life::Running | Life::Paused => (true, None, false),
        };
        if let Some(e) = self.entry_mut(slot) {
            e.source = source;
        }
        let Some(e) = self.entry(slot) else {
            return;
        };
        let new_process = new_life || e.pid != d.pid;
        let hostname: Box<str> = if self.use_hostname {
            d.hostname.as_str().into()
        } else {
            Box::default()
        };
        self.rename(slot, d.name.as_str().into(), Some(hostname));
        if let Some(e) = self.entry_mut(slot) {
            e.pid = d.pid;
        }
        if self.entry(slot).is_some_and(|e| e.index.is_none()) {
            match self.alloc.allocate(d.id.uuid()) {
                Some(ix) => {
                    if let Some(e) = self.entry_mut(slot) {
                        e.index = Some(ix);
                    }
                }
                None => {
                    if !self.logged_full {
                        self.logged_full = true;
                        warn!(
                            "every dsIndex of 100000..149999 is taken: container {} is not reported",
                            d.id.short()
                        );
                    }
                    self.forget(slot);
                    return;
                }
            }
        }
        if new_process && d.pid != 0 {
            self.actions.push_back(Action::Attach { slot, pid: d.pid });
        }
        let end = match (d.presence, ended_meanwhile) {
            (_, Some(state)) | (Presence::Ended(state), None) => Some(state),
            (Presence::Running | Presence::Paused, None) => None,
        };
        match end {
            None => {
                let life = if d.presence == Presence::Paused {
                    Life::Paused
                } else {
                    Life::Running
                };
                if let Some(e) = self.entry_mut(slot) {
                    e.life = life;
                }
                self.count(slot);
                if !was_alive {
                    self.sample(slot, false);
                    self.arm_fresh(slot, now);
                }
            }
            Some(state) => {
                // Alive and now found dead, or ended before its first sample: one sample, the
                // final one.
                if !was_alive {
                    if let Some(e) = self.entry_mut(slot) {
                        e.life = Life::Running;
                    }
                    self.count(slot);
                }
                self.end(slot, state);
            }
        }
    }

    /// Sets a container's name (its short id when the name is empty) and hostname, keeping the
    /// name counts right.
    fn rename(&mut self, slot: usize, mut name: Box<str>, hostname: Option<Box<str>>) {
        let Some(e) = self.entry(slot) else { return };
        if name.is_empty() {
            name = e.id.short().as_str().into();
        }
        let counted = e.counted;
        if counted {
            self.uncount(slot);
        }
        if let Some(e) = self.entry_mut(slot) {
            e.name = name;
            if let Some(h) = hostname {
                e.hostname = h;
            }
        }
        if counted {
            self.count(slot);
        }
    }

    fn base_hash(&self, e: &Entry) -> u64 {
        self.name_hasher.hash_one(base_name(e))
    }

    fn count(&mut self, slot: usize) {
        let Some(e) = self.entry(slot) else { return };
        if e.counted {
            return;
        }
        let key = self.base_hash(e);
        *self.names.entry(key).or_insert(0) += 1;
        if let Some(e) = self.entry_mut(slot) {
            e.counted = true;
        }
    }

    fn uncount(&mut self, slot: usize) {
        let Some(e) = self.entry(slot) else { return };
        if !e.counted {
            return;
        }
        let key = self.base_hash(e);
        if let Some(n) = self.names.get_mut(&key) {
            *n = n.saturating_sub(1);
            if *n == 0 {
                self.names.remove(&key);
            }
        }
        if let Some(e) = self.entry_mut(slot) {
            e.counted = false;
        }
    }

    /// Queues a sample of the container with its current state (or `last`: its final one).
    fn sample(&mut self, slot: usize, last: bool) {
        self.sample_with(slot, None, last);
    }

    fn sample_with(&mut self, slot: usize, end: Option<EndState>, last: bool) {
        let duplicate = self
            .entry(slot)
            .map(|e| self.names.get(&self.base_hash(e)).is_some_and(|&n| n > 1));
        let Some(e) = self.slots.get_mut(slot).and_then(Option::as_mut) else {
            return;
        };
        let Some(index) = e.index else { return };
        let state = match (end, e.life) {
            (Some(s), _) => s.virt_cpu_state(),
            (None, Life::Paused) => STATE_PAUSED,
            (None, _) => STATE_RUNNING,
        };
        e.sequence = e.sequence.wrapping_add(1);
        let duplicate = duplicate.unwrap_or(false);
        let short = e.id.short();
        write_display_name(&mut self.display, base_name(e), short.as_str(), duplicate);
        let sample = Sample {
            slot,
            index,
            sequence: e.sequence,
            state,
            last,
            uuid: e.id.uuid(),
            name: SampleName::new(&self.display),
        };
        if e.sequence == 1 {
            debug!(
                "container {} ({short}) is data source 3:{index}",
                self.display
            );
        } else if last {
            debug!("container {} ({short}) ended", self.display);
        }
        self.actions.push_back(Action::Sample(sample));
    }

    /// Sends the final sample of an alive container and stops its polls.
    fn end(&mut self, slot: usize, state: EndState) {
        if let Some(t) = self.entry_mut(slot).and_then(|e| e.timer.take()) {
            self.wheel.cancel(t);
        }
        // Under the name of its other samples: it is counted among the alive ones until it is out.
        self.sample_with(slot, Some(state), true);
        self.uncount(slot);
        self.mark_ended(slot);
    }

    fn mark_ended(&mut self, slot: usize) {
        self.ended_counter += 1;
        let order = self.ended_counter;
        let Some(e) = self.entry_mut(slot) else {
            return;
        };
        e.life = Life::Ended;
        e.ended_order = order;
        self.ended += 1;
        self.trim_ended();
    }

    fn trim_ended(&mut self) {
        while self.ended > MAX_ENDED {
            let oldest = self
                .slots
                .iter()
                .enumerate()
                .filter_map(|(i, e)| {
                    e.as_ref()
                        .filter(|e| e.life == Life::Ended)
                        .map(|e| (e.ended_order, i))
                })
                .min();
            match oldest {
                Some((_, slot)) => self.forget(slot),
                None => break,
            }
        }
    }

    /// Drops a container from the table; its dsIndex is free again.
    fn forget(&mut self, slot: usize) {
        self.uncount(slot);
        let Some(id) = self.entry(slot).map(|e| e.id) else {
            return;
        };
        // Out of the index first: its lookups read the key from the slot.
        let slots = &self.slots;
        self.by_id.remove(&id, |s| {
            slots.get(s).and_then(Option::as_ref).map(|e| &e.id)
        });
        let Some(e) = self.slots.get_mut(slot).and_then(Option::take) else {
            return;
        };
        if let Some(t) = e.timer {
            self.wheel.cancel(t);
        }
        if let Some(ix) = e.index {
            self.alloc.release(ix);
        }
        if e.life == Life::Ended {
            self.ended -= 1;
        }
        self.actions.push_back(Action::Drop { slot });
    }

    /// Arms a container's first poll at a random whole second within one interval.
    fn arm_fresh(&mut self, slot: usize, now: u64) {
        let Some(i) = self.interval else {
            if let Some(t) = self.entry_mut(slot).and_then(|e| e.timer.take()) {
                self.wheel.cancel(t);
            }
            return;
        };
        // At least a whole second on: the first sample went out just now.
        let phase = self.rng.below(i.ms()).max(1);
        self.arm(slot, i.first(now, phase));
    }

    fn arm(&mut self, slot: usize, due: u64) {
        let Some(e) = self.slots.get_mut(slot).and_then(Option::as_mut) else {
            return;
        };
        if let Some(t) = e.timer.take() {
            self.wheel.cancel(t);
        }
        e.due = due;
        e.timer = Some(self.wheel.insert(due, slot));
    }
}

/// The name a container is reported under before any short id: its hostname when the table reports
/// hostnames and it has one, else its name.
fn base_name(e: &Entry) -> &str {
    if !e.hostname.is_empty() {
        &e.hostname
    } else {
        &e.name
    }
}

#[cfg(test)]
mod tests;
