//! The container table: each container's identity (data source 3:N), life and poll timer, and its
//! samples.
//!
//! Lifecycle, from the engine's news:
//! - a start, restart, unpause or pause of an unknown container, or a listed one not yet known, is
//!   inspected; when the answer says it runs, its first sample goes out at once and it is polled
//!   every `polling` seconds from a random whole second ([`POLL_SLOT_MS`]);
//! - `update` reads its limits again; so does every tenth minute ([`LIMITS_REFRESH_MS`]);
//! - pause and unpause send a sample at once with the new state (3 or 1); the sequence carries on;
//! - `die` (or a `stop` without a `die`, or a container that vanished from the list) sends exactly
//!   one final sample (state 4, or 5 after a stop) and stops the polling; `kill` and `oom` alone
//!   do not end a container;
//! - a container that starts again keeps its dsIndex and its sequence;
//! - `destroy` (Docker) or `remove` (Podman) forgets it and frees its dsIndex.
//!
//! Everything is bounded: at most [`MAX_ENDED`] ended containers are remembered for their identity,
//! the oldest forgotten first.

use std::collections::hash_map::RandomState;
use std::collections::HashMap;
use std::hash::BuildHasher;

use log::{debug, warn};

use crate::cgroup::{
    missing_v2_controllers, CgroupMounts, ContainerCounters, ContainerFiles, ContainerReader,
    Fields, HostCapacity,
};
use crate::docker::{self, ContainerId, ContainerState, DsIndexAllocator, EventKind, Inspect};
use crate::host::Roots;
use crate::timer::{TimerId, TimerWheel};
use crate::wire::{
    Adapter, CounterRecord, CounterSample, DataSource, HostAdapters, HostDescr, HostParent,
    DS_CLASS_LOGICAL, DS_CLASS_PHYSICAL,
};

use super::adapter::News; // TEMPORARY adapter until the table takes container::News
use super::exporter::Exporter;
use super::printer::Printer;
use super::slot_index::SlotIndex;
use super::{Timer, POLL_SLOT_MS};

/// Ended containers remembered for a restart, at most.
pub const MAX_ENDED: usize = 4096;

/// A container's limits are read again at least this often (ms), besides at every `update` event:
/// for a change made behind the engine's back. Not more often: at 10,000 containers a refresh a
/// minute was a third of the agent's CPU (four or five files opened by path per container).
pub const LIMITS_REFRESH_MS: u64 = 600_000;

/// virt_cpu states (libvirt's numbers).
const STATE_RUNNING: u32 = 1;
const STATE_PAUSED: u32 = 3;
const STATE_EXITED: u32 = 4;
const STATE_STOPPED: u32 = 5;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Life {
    /// Inspect asked for; `died` if a die or stop came meanwhile.
    Inspecting {
        died: bool,
        reported: bool,
    },
    Running,
    Paused,
    /// Final sample sent; kept for its identity.
    Ended,
}

struct Container {
    id: ContainerId,
    /// `None` until first reported.
    ds_index: Option<u32>,
    name: Box<str>,
    /// `Config.Hostname`, kept only with `docker { hostname = on }`.
    hostname: Box<str>,
    life: Life,
    pid: u32,
    sequence: u32,
    timer: Option<TimerId>,
    /// The deadline of its poll timer.
    next_due: Option<u64>,
    ended_order: u64,
    /// The kernel files of its counters, resolved once from its pid.
    files: Option<ContainerFiles>,
    /// When its limits are to be read again (agent ms).
    limits_due: u64,
    /// The last value read of each counter, for the final sample.
    last_good: ContainerCounters,
    /// Its interfaces, refreshed when their number changes (no spare capacity: there are thousands).
    adapters: Vec<Adapter>,
    /// Some counter was read from its files at least once.
    ever_read: bool,
}

impl Container {
    fn alive(&self) -> bool {
        matches!(self.life, Life::Running | Life::Paused)
    }
}

/// What a sample needs besides the container: the sender and the host's description.
pub struct Out<'a> {
    /// The datagram packer.
    pub exporter: &'a mut Exporter,
    /// `--print`.
    pub printer: Option<&'a mut Printer>,
    /// host_descr.machine_type of the host.
    pub machine_type: u32,
    /// host_descr.os_name of the host.
    pub os_name: u32,
    /// host_descr.os_release of the host.
    pub os_release: &'a str,
    /// The host's CPU count and memory, the fallback of a container's limits.
    pub capacity: HostCapacity,
    /// Now, in agent milliseconds.
    pub now: u64,
}

impl<'a> Out<'a> {
    /// What the container samples of this moment need, the host's part from its source.
    pub fn new(
        exporter: &'a mut Exporter,
        printer: Option<&'a mut Printer>,
        host: &'a super::host_source::HostSource,
        now: u64,
    ) -> Out<'a> {
        let (machine_type, os_name, os_release) = host.descr();
        Out {
            exporter,
            printer,
            machine_type,
            os_name,
            os_release,
            capacity: host.capacity(),
            now,
        }
    }
}

/// The container table.
pub struct Containers {
    slots: Vec<Option<Container>>,
    by_id: SlotIndex,
    alloc: DsIndexAllocator,
    /// How many alive containers report each name (by its hash): two or more are told apart by their
    /// short ids. A hash collision (one in 2^64 per pair) would only add a short id to a name.
    base_counts: HashMap<u64, u32>,
    name_hasher: RandomState,
    /// The name of the sample being sent, rebuilt in place.
    display: String,
    use_hostname: bool,
    ended_counter: u64,
    ended: usize,
    rng: super::rng::Rng,
    logged_full: bool,
    /// `None` when no cgroup hierarchy could be found: counters are then unknown.
    reader: Option<ContainerReader>,
    fresh: ContainerCounters,
    checked_controllers: bool,
}

impl Containers {
    /// An empty table reading counters under `roots`; `use_hostname` reports `Config.Hostname`
    /// instead of the name.
    pub fn new(roots: Roots, use_hostname: bool) -> Containers {
        let reader = match CgroupMounts::discover(&roots) {
            Ok(m) => {
                debug!("cgroup hierarchies: {:?}", m.mode());
                Some(ContainerReader::new(roots, m))
            }
            Err(e) => {
                warn!("container counters will be unknown: {e}");
                None
            }
        };
        Containers {
            reader,
            fresh: ContainerCounters::UNKNOWN,
            checked_controllers: false,
            slots: Vec::new(),
            by_id: SlotIndex::default(),
            alloc: DsIndexAllocator::new(),
            base_counts: HashMap::new(),
            name_hasher: RandomState::new(),
            display: String::new(),
            use_hostname,
            ended_counter: 0,
            ended: 0,
            rng: super::rng::Rng::new(),
            logged_full: false,
        }
    }

    /// Containers running or paused: `virt_node.num_domains`.
    pub fn alive(&self) -> u32 {
        self.slots.iter().flatten().filter(|c| c.alive()).count() as u32
    }

    /// The name a container is reported under: its hostname with `docker { hostname = on }` (when it
    /// has one), else its name.
    fn base(c: &Container) -> &str {
        if c.hostname.is_empty() {
            &c.name
        } else {
            &c.hostname
        }
    }

    fn base_key(&self, c: &Container) -> u64 {
        self.name_hasher.hash_one(Containers::base(c))
    }

    /// Counts a container in or out of the alive containers reporting its name.
    fn count_base(&mut self, slot: usize, delta: i32) {
        let Some(c) = self.slots.get(slot).and_then(Option::as_ref) else {
            return;
        };
        let key = self.base_key(c);
        let n = self.base_counts.entry(key).or_insert(0);
        *n = n.saturating_add_signed(delta);
        if *n == 0 {
            self.base_counts.remove(&key);
        }
    }

    fn slot_of(&self, id: &ContainerId) -> Option<usize> {
        let slots = &self.slots;
        self.by_id
            .find(id, |s| slots.get(s).and_then(Option::as_ref).map(|c| &c.id))
    }

    fn insert(&mut self, id: ContainerId) -> usize {
        let c = Container {
            id,
            ds_index: None,
            name: id.short().as_str().into(),
            hostname: Box::default(),
            life: Life::Inspecting {
                died: false,
                reported: false,
            },
            pid: 0,
            sequence: 0,
            timer: None,
            next_due: None,
            ended_order: 0,
            files: None,
            limits_due: 0,
            last_good: ContainerCounters::UNKNOWN,
            adapters: Vec::new(),
            ever_read: false,
        };
        let slot = match self.slots.iter().position(Option::is_none) {
            Some(s) => {
                self.slots[s] = Some(c);
                s
            }
            None => {
                self.slots.push(Some(c));
                self.slots.len() - 1
            }
        };
        let slots = &self.slots;
        self.by_id.insert(&id, slot, |s| {
            slots.get(s).and_then(Option::as_ref).map(|c| &c.id)
        });
        slot
    }

    fn forget(&mut self, slot: usize, wheel: &mut TimerWheel<Timer>) {
        let Some(id) = self.slots.get(slot).and_then(Option::as_ref).map(|c| c.id) else {
            return;
        };
        // Out of the index first: its lookups read the key from the slot.
        let slots = &self.slots;
        self.by_id.remove(&id, |s| {
            slots.get(s).and_then(Option::as_ref).map(|c| &c.id)
        });
        let Some(c) = self.slots.get_mut(slot).and_then(Option::take) else {
            return;
        };
        if let Some(t) = c.timer {
            wheel.cancel(t);
        }
        if let Some(ix) = c.ds_index {
            self.alloc.release(ix);
        }
        if c.life == Life::Ended {
            self.ended -= 1;
        }
    }

    /// Handles one piece of news; returns the containers to inspect.
    pub fn on_news(
        &mut self,
        news: News,
        wheel: &mut TimerWheel<Timer>,
        polling_ms: u64,
        out: &mut Out<'_>,
        inspect: &mut Vec<ContainerId>,
    ) {
        match news {
            News::Listed(mut list) => {
                // Sorted, the list answers "is it listed" without a set beside it.
                list.containers.sort_unstable_by_key(|c| c.id);
                for l in &list.containers {
                    if !matches!(l.state, ContainerState::Running | ContainerState::Paused) {
                        continue;
                    }
                    match self.slot_of(&l.id) {
                        // Alive, or already being asked about.
                        Some(s)
                            if self.slots[s].as_ref().is_some_and(|c| {
                                c.alive() || matches!(c.life, Life::Inspecting { .. })
                            }) => {}
                        Some(s) => {
                            if let Some(c) = self.slots[s].as_mut() {
                                if c.life == Life::Ended {
                                    self.ended -= 1;
                                    c.life = Life::Inspecting {
                                        died: false,
                                        reported: true,
                                    };
                                }
                            }
                            inspect.push(l.id);
                        }
                        None => {
                            self.insert(l.id);
                            inspect.push(l.id);
                        }
                    }
                }
                // Alive but no longer listed: it ended while nobody was looking.
                let gone: Vec<usize> = self
                    .slots
                    .iter()
                    .enumerate()
                    .filter_map(|(i, c)| {
                        c.as_ref()
                            .filter(|c| {
                                c.alive()
                                    && list
                                        .containers
                                        .binary_search_by(|l| l.id.cmp(&c.id))
                                        .is_err()
                            })
                            .map(|_| i)
                    })
                    .collect();
                for s in gone {
                    self.end(s, STATE_EXITED, wheel, out);
                }
            }
            News::Inspected(doc) => self.on_inspected(doc, wheel, polling_ms, out),
            News::Gone(id) => {
                if let Some(s) = self.slot_of(&id) {
                    self.on_vanished(s, wheel, out);
                }
            }
            News::InspectFailed(id) => {
                if let Some(s) = self.slot_of(&id) {
                    self.on_vanished(s, wheel, out);
                }
            }
            News::Event(ev) => self.on_event(ev, wheel, out, inspect),
            News::Disconnected => {
                // Inspections in flight are lost; the list after the reconnection asks again.
                let pending: Vec<usize> = self
                    .slots
                    .iter()
                    .enumerate()
                    .filter_map(|(i, c)| {
                        c.as_ref()
                            .filter(|c| matches!(c.life, Life::Inspecting { .. }))
                            .map(|_| i)
                    })
                    .collect();
                for s in pending {
                    self.on_vanished(s, wheel, out);
                }
            }
        }
    }

    /// An inspecting container the engine could not tell about: back to what it was.
    fn on_vanished(&mut self, slot: usize, wheel: &mut TimerWheel<Timer>, out: &mut Out<'_>) {
        let Some(c) = self.slots.get_mut(slot).and_then(Option::as_mut) else {
            return;
        };
        match c.life {
            Life::Inspecting { reported: true, .. } => {
                c.life = Life::Ended;
                self.ended_counter += 1;
                c.ended_order = self.ended_counter;
                self.ended += 1;
                self.trim_ended(wheel);
            }
            Life::Inspecting {
                reported: false, ..
            } => self.forget(slot, wheel),
            Life::Running | Life::Paused => self.end(slot, STATE_EXITED, wheel, out),
            Life::Ended => {}
        }
    }

    fn on_event(
        &mut self,
        ev: docker::Event,
        wheel: &mut TimerWheel<Timer>,
        out: &mut Out<'_>,
        inspect: &mut Vec<ContainerId>,
    ) {
        let slot = self.slot_of(&ev.id);
        let life = slot.and_then(|s| self.slots[s].as_ref()).map(|c| c.life);
        debug!("event {:?} {} ({:?})", ev.kind, ev.id.short(), life);
        match ev.kind {
            EventKind::Start | EventKind::Restart | EventKind::Unpause | EventKind::Pause => {
                match (slot, life) {
                    (Some(s), Some(Life::Running)) if ev.kind == EventKind::Pause => {
                        self.set_state(s, Life::Paused, out);
                    }
                    (Some(s), Some(Life::Paused)) if ev.kind == EventKind::Unpause => {
                        self.set_state(s, Life::Running, out);
                    }
                    (Some(_), Some(Life::Running | Life::Paused)) => {
                        // A restart's new process: inspect again for its pid.
                        if ev.kind != EventKind::Pause && ev.kind != EventKind::Unpause {
                            inspect.push(ev.id);
                        }
                    }
                    (Some(_), Some(Life::Inspecting { .. })) => {}
                    (Some(s), Some(Life::Ended)) => {
                        if let Some(c) = self.slots[s].as_mut() {
                            c.life = Life::Inspecting {
                                died: false,
                                reported: true,
                            };
                        }
                        self.ended -= 1;
                        inspect.push(ev.id);
                    }
                    _ => {
                        self.insert(ev.id);
                        inspect.push(ev.id);
                    }
                }
            }
            EventKind::Die | EventKind::Stop => {
                let state = if ev.kind == EventKind::Die {
                    STATE_EXITED
                } else {
                    STATE_STOPPED
                };
                match (slot, life) {
                    (Some(s), Some(Life::Running | Life::Paused)) => self.end(s, state, wheel, out),
                    (Some(s), Some(Life::Inspecting { reported, .. })) => {
                        if let Some(c) = self.slots[s].as_mut() {
                            c.life = Life::Inspecting {
                                died: true,
                                reported,
                            };
                        }
                    }
                    _ => {}
                }
            }
            EventKind::Update => {
                // `docker update` changed its limits: the next sample shows them.
                if let (Some(s), Some(Life::Running | Life::Paused)) = (slot, life) {
                    if let Some(c) = self.slots[s].as_mut() {
                        if let (Some(files), Some(reader)) = (&mut c.files, &mut self.reader) {
                            reader.read_limits(files);
                            c.limits_due = out.now + LIMITS_REFRESH_MS;
                        }
                    }
                }
            }
            EventKind::Kill | EventKind::Oom => {
                // The engine removes the cgroup before it reports the death: read the counters
                // now, so the final sample carries what the container used up to its end.
                if let (Some(s), Some(Life::Running | Life::Paused)) = (slot, life) {
                    self.refresh_last_good(s, out.capacity);
                }
            }
            EventKind::Rename => {
                if let (Some(s), Some(name)) = (slot, ev.name) {
                    let alive = self.slots[s].as_ref().is_some_and(Container::alive);
                    if alive {
                        self.count_base(s, -1);
                    }
                    if let Some(c) = self.slots[s].as_mut() {
                        c.name = name.into();
                    }
                    if alive {
                        self.count_base(s, 1);
                    }
                }
            }
            EventKind::Destroy | EventKind::Remove => {
                if let Some(s) = slot {
                    if life.is_some_and(|l| matches!(l, Life::Running | Life::Paused)) {
                        self.end(s, STATE_EXITED, wheel, out);
                    }
                    self.forget(s, wheel);
                }
            }
            _ => {}
        }
    }

    fn on_inspected(
        &mut self,
        doc: Inspect,
        wheel: &mut TimerWheel<Timer>,
        polling_ms: u64,
        out: &mut Out<'_>,
    ) {
        let Some(slot) = self.slot_of(&doc.id) else {
            return;
        };
        if self.slots[slot]
            .as_ref()
            .is_none_or(|c| c.life == Life::Ended)
        {
            // An answer to a question asked before the container's end (a relist or a restart
            // asked while it ran): its final sample is out, and only a new start revives it.
            return;
        }
        let running = matches!(
            doc.state,
            ContainerState::Running | ContainerState::Restarting
        );
        let paused = doc.state == ContainerState::Paused;
        let Some(c) = self.slots[slot].as_mut() else {
            return;
        };
        let was_alive = c.alive();
        if was_alive {
            self.count_base(slot, -1);
        }
        let Some(c) = self.slots[slot].as_mut() else {
            return;
        };
        c.name = doc.name.into();
        c.hostname = if self.use_hostname {
            doc.hostname.into()
        } else {
            Box::default()
        };
        let new_process = c.pid != doc.pid || c.files.is_none();
        c.pid = doc.pid;
        let died = matches!(c.life, Life::Inspecting { died: true, .. });
        if new_process && doc.pid != 0 {
            self.resolve_files(slot, out.now);
        }
        let Some(c) = self.slots[slot].as_mut() else {
            return;
        };
        if c.ds_index.is_none() {
            match self.alloc.allocate(doc.id.uuid()) {
                Some(ix) => {
                    if let Some(c) = self.slots[slot].as_mut() {
                        c.ds_index = Some(ix);
                    }
                }
                None => {
                    if !self.logged_full {
                        self.logged_full = true;
                        warn!("every dsIndex of 100000..149999 is taken: container {} is not reported", doc.id.short());
                    }
                    self.forget(slot, wheel);
                    return;
                }
            }
        }
        let Some(c) = self.slots[slot].as_mut() else {
            return;
        };
        if (running || paused) && !died {
            c.life = if paused { Life::Paused } else { Life::Running };
            self.count_base(slot, 1);
            if !was_alive {
                self.sample(slot, out);
                self.schedule(slot, wheel, polling_ms, out.now, true);
            }
        } else {
            // It ended before its first sample: one sample, the final one.
            let state = if doc.state == ContainerState::Stopped {
                STATE_STOPPED
            } else {
                STATE_EXITED
            };
            c.life = Life::Running;
            self.count_base(slot, 1);
            self.end(slot, state, wheel, out);
        }
    }

    /// Finds the kernel files of a container's counters from its pid (once per process).
    fn resolve_files(&mut self, slot: usize, now: u64) {
        let Some(reader) = &mut self.reader else {
            return;
        };
        let Some(c) = self.slots[slot].as_mut() else {
            return;
        };
        match reader.resolve(c.pid) {
            Ok(files) => {
                c.limits_due = now + LIMITS_REFRESH_MS;
                if !self.checked_controllers {
                    self.checked_controllers = true;
                    let dir = reader.v2_dir(&files);
                    let missing = missing_v2_controllers(reader.mounts(), dir.as_deref());
                    if !missing.is_empty() {
                        let names: Vec<&str> = missing.names().collect();
                        warn!(
                            "cgroup v2 controllers not enabled for containers ({}): their counters \
                             will be unknown (enable them in cgroup.subtree_control)",
                            names.join(", ")
                        );
                    }
                }
                reader.read_adapters(&files, &mut c.adapters);
                c.adapters.shrink_to_fit();
                c.files = Some(files);
            }
            Err(e) => {
                debug!("container {}: {e}", c.id.short());
                c.files = None;
            }
        }
    }

    fn set_state(&mut self, slot: usize, life: Life, out: &mut Out<'_>) {
        if let Some(c) = self.slots[slot].as_mut() {
            c.life = life;
        }
        self.sample(slot, out);
    }

    /// Sends the final sample and stops polling.
    fn end(&mut self, slot: usize, state: u32, wheel: &mut TimerWheel<Timer>, out: &mut Out<'_>) {
        let Some(c) = self.slots[slot].as_mut() else {
            return;
        };
        if let Some(t) = c.timer.take() {
            wheel.cancel(t);
        }
        c.life = Life::Ended;
        self.ended_counter += 1;
        c.ended_order = self.ended_counter;
        self.ended += 1;
        // Under the name of its other samples: it is counted among the alive ones until it is out.
        self.emit(slot, state, out);
        self.count_base(slot, -1);
        // Close its counter files: an open file would keep a removed cgroup alive in the kernel.
        if let Some(c) = self.slots[slot].as_mut() {
            c.files = None;
        }
        self.trim_ended(wheel);
    }

    fn trim_ended(&mut self, wheel: &mut TimerWheel<Timer>) {
        while self.ended > MAX_ENDED {
            let oldest = self
                .slots
                .iter()
                .enumerate()
                .filter_map(|(i, c)| {
                    c.as_ref()
                        .filter(|c| c.life == Life::Ended)
                        .map(|c| (c.ended_order, i))
                })
                .min();
            match oldest {
                Some((_, s)) => self.forget(s, wheel),
                None => break,
            }
        }
    }

    fn schedule(
        &mut self,
        slot: usize,
        wheel: &mut TimerWheel<Timer>,
        polling_ms: u64,
        now: u64,
        fresh: bool,
    ) {
        if polling_ms == 0 {
            return;
        }
        let random = self.rng.below(polling_ms).max(1);
        let Some(c) = self.slots[slot].as_mut() else {
            return;
        };
        if let Some(t) = c.timer.take() {
            wheel.cancel(t);
        }
        // One interval after the previous deadline, so the period does not drift; from now when
        // the loop fell a whole interval behind.
        let due = match c.next_due {
            Some(prev) if !fresh && prev + polling_ms > now => prev + polling_ms,
            _ if fresh => (now + random).div_ceil(POLL_SLOT_MS) * POLL_SLOT_MS,
            _ => (now + polling_ms).div_ceil(POLL_SLOT_MS) * POLL_SLOT_MS,
        };
        c.next_due = Some(due);
        c.timer = Some(wheel.insert(due, Timer::ContainerPoll(slot)));
    }

    /// A container's poll timer fired.
    pub fn on_poll(
        &mut self,
        slot: usize,
        id: TimerId,
        wheel: &mut TimerWheel<Timer>,
        polling_ms: u64,
        out: &mut Out<'_>,
    ) {
        let Some(c) = self.slots.get_mut(slot).and_then(Option::as_mut) else {
            return;
        };
        if c.timer != Some(id) {
            return;
        }
        c.timer = None;
        if !c.alive() {
            return;
        }
        self.sample(slot, out);
        self.schedule(slot, wheel, polling_ms, out.now, false);
    }

    /// Re-arms every poller with a new interval (SIGHUP changed `polling`).
    pub fn reschedule_all(&mut self, wheel: &mut TimerWheel<Timer>, polling_ms: u64, now: u64) {
        for slot in 0..self.slots.len() {
            if self.slots[slot].as_ref().is_some_and(Container::alive) {
                self.schedule(slot, wheel, polling_ms, now, true);
            }
        }
    }

    fn sample(&mut self, slot: usize, out: &mut Out<'_>) {
        let state = match self.slots[slot].as_ref().map(|c| c.life) {
            Some(Life::Paused) => STATE_PAUSED,
            _ => STATE_RUNNING,
        };
        self.emit(slot, state, out);
    }

    /// Reads a container's counters into its last good values, without sending anything.
    fn refresh_last_good(&mut self, slot: usize, capacity: HostCapacity) {
        let Some(c) = self.slots[slot].as_mut() else {
            return;
        };
        let (Some(files), Some(reader)) = (&c.files, &mut self.reader) else {
            return;
        };
        self.fresh = ContainerCounters::UNKNOWN;
        let report = reader.read(files, capacity, &mut self.fresh);
        c.last_good.keep_read(&self.fresh, report.fields);
    }

    fn emit(&mut self, slot: usize, state: u32, out: &mut Out<'_>) {
        let final_sample = state == STATE_EXITED || state == STATE_STOPPED;
        let Some(c) = self.slots[slot].as_mut() else {
            return;
        };
        let Some(index) = c.ds_index else { return };
        // Read the counters now; a final sample whose files are already gone carries the last
        // values read instead of unknowns or zeros.
        self.fresh = ContainerCounters::UNKNOWN;
        if let (Some(files), Some(reader)) = (&mut c.files, &mut self.reader) {
            if out.now >= c.limits_due && !final_sample {
                // Limits change only when someone changes them (`docker update` says so at once);
                // this catches any other change within ten minutes.
                reader.read_limits(files);
                c.limits_due = out.now + LIMITS_REFRESH_MS;
            }
            let report = reader.read(files, out.capacity, &mut self.fresh);
            if !report.fields.intersects(Fields::COUNTERS) && c.ever_read && !final_sample {
                // Every file that used to be there is gone: the container is ending and its
                // death is on the way. A sample of unknowns would show a gap in a container
                // said to be running; the final sample follows with the last values read.
                debug!("container {}: counters gone, sample skipped", c.id.short());
                return;
            }
            c.ever_read |= report.fields.intersects(Fields::COUNTERS);
            c.last_good.keep_read(&self.fresh, report.fields);
            if report.adapters_stale(&c.adapters) {
                reader.read_adapters(files, &mut c.adapters);
                c.adapters.shrink_to_fit();
            }
        }
        let counters = if final_sample {
            c.last_good
        } else {
            self.fresh
        };
        c.sequence = c.sequence.wrapping_add(1);
        let first = c.sequence == 1;
        let base = Containers::base(c);
        let same_name = self.base_counts.get(&self.name_hasher.hash_one(base));
        let duplicate = same_name.is_some_and(|&n| n > 1);
        // The short id is written out only when the name needs it.
        let short = duplicate.then(|| c.id.short());
        docker::write_display_name(
            &mut self.display,
            base,
            short.as_deref().unwrap_or_default(),
            duplicate,
        );
        let records = [
            CounterRecord::HostDescr(HostDescr {
                hostname: &self.display,
                uuid: c.id.uuid(),
                machine_type: out.machine_type,
                os_name: out.os_name,
                os_release: out.os_release,
            }),
            CounterRecord::HostAdapters(HostAdapters {
                adapters: &c.adapters,
            }),
            CounterRecord::HostParent(HostParent {
                container_type: DS_CLASS_PHYSICAL,
                container_index: 1,
            }),
            CounterRecord::VirtCpu(crate::wire::VirtCpu {
                state,
                ..counters.cpu
            }),
            CounterRecord::VirtMemory(counters.memory),
            CounterRecord::VirtDiskIo(counters.disk),
            CounterRecord::VirtNetIo(counters.net),
        ];
        let sample = CounterSample {
            sequence: c.sequence,
            source: DataSource {
                class: DS_CLASS_LOGICAL,
                index,
            },
            records: &records,
        };
        out.exporter.push(&sample, out.now);
        if let Some(p) = out.printer.as_deref_mut() {
            if let Ok(line) = crate::wire::json::sample_to_json(&sample) {
                p.print(&line);
            }
        }
        if first {
            debug!(
                "container {} ({}) is data source 3:{index}",
                self.display,
                c.id.short()
            );
        } else if final_sample {
            debug!("container {} ({}) ended", self.display, c.id.short());
        }
    }
}
