//! Each container's counters, read from the kernel when the table's actions say, and mapped to the
//! records of its sample.
//!
//! The table ([`crate::container::Table`]) decides when; this reads. Per slot of the table it keeps
//! the container's open counter files (resolved once per process from its pid), its last values
//! read (which a final sample carries once the files are gone), its interfaces, and when its limits
//! are to be read again: at [`Action::Attach`](crate::container::Action::Attach), at
//! [`Action::RefreshLimits`](crate::container::Action::RefreshLimits) (the engine's `update`), and
//! every [`LIMITS_REFRESH_MS`] for a change made behind the engine's back.
//!
//! With `mib2.containers = on` a container's sample also carries the MIB-II groups (2007 to 2010)
//! of its own network namespace, from [`NamespaceMib2`] (one read per namespace and poll, its
//! descriptor within the counter files' budget). Off (the default), nothing of it exists: reading
//! `/proc/<pid>/net/snmp` at every sample doubles the CPU of a container sample (see
//! BENCHMARKS.md).
//!
//! A sample whose files are all gone although they were read before is not sent: the container is
//! ending and its final sample follows with the last values; a sample of unknowns would show a gap
//! in a container said to be running. Nothing here allocates per poll.

use log::{debug, warn};

use super::container_mib2::{NamespaceMib2, Read};
use crate::cgroup::{
    missing_v2_controllers, CgroupMounts, ContainerCounters, ContainerFiles, ContainerReader,
    Fields, HostCapacity,
};
use crate::container::Sample;
use crate::host::Roots;
use crate::wire::{
    Adapter, CounterRecord, CounterSample, DataSource, HostAdapters, HostDescr, HostParent, Mib2,
    DS_CLASS_LOGICAL, DS_CLASS_PHYSICAL,
};

/// A container's limits are read again at least this often (ms), besides at every `update` event:
/// for a change made behind the engine's back. Not more often: at 10,000 containers a refresh a
/// minute was a third of the agent's CPU (four or five files opened by path per container).
pub const LIMITS_REFRESH_MS: u64 = 600_000;

/// What a container's sample copies from the host.
#[derive(Debug, Clone, Copy)]
pub struct HostPart<'a> {
    /// `host_descr.machine_type` of the host.
    pub machine_type: u32,
    /// `host_descr.os_name` of the host.
    pub os_name: u32,
    /// `host_descr.os_release` of the host.
    pub os_release: &'a str,
    /// The host's CPU count and memory, the fallback of a container's limits.
    pub capacity: HostCapacity,
}

/// What is kept for one container.
struct Kept {
    /// Its counter files, resolved once from its pid; `None` before, or when they cannot be found.
    files: Option<ContainerFiles>,
    /// When its limits are to be read again (agent ms).
    limits_due: u64,
    /// The last value read of each counter, for the final sample.
    last_good: ContainerCounters,
    /// Its interfaces, refreshed when their number changes (no spare capacity: there are thousands).
    adapters: Vec<Adapter>,
    /// Some counter was read from its files in this process's life.
    ever_read: bool,
}

impl Default for Kept {
    fn default() -> Kept {
        Kept {
            files: None,
            limits_due: 0,
            last_good: ContainerCounters::UNKNOWN,
            adapters: Vec::new(),
            ever_read: false,
        }
    }
}

/// The counters of every container, by table slot.
pub struct ContainerCounterStore {
    kept: Vec<Kept>,
    /// `None` when no cgroup hierarchy could be found: counters are then unknown.
    reader: Option<ContainerReader>,
    fresh: ContainerCounters,
    checked_controllers: bool,
    proc_root: std::path::PathBuf,
    /// `Some` with `mib2.containers = on` only.
    mib2: Option<NamespaceMib2>,
}

impl ContainerCounterStore {
    /// A store reading under `roots`.
    pub fn new(roots: Roots) -> ContainerCounterStore {
        let proc_root = roots.proc.clone();
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
        ContainerCounterStore {
            kept: Vec::new(),
            reader,
            fresh: ContainerCounters::UNKNOWN,
            checked_controllers: false,
            proc_root,
            mib2: None,
        }
    }

    /// `mib2.containers`: on, samples carry their namespace's MIB-II groups (containers attached
    /// before are looked up at their next sample); off, every namespace descriptor closes.
    pub fn set_mib2(&mut self, on: bool) {
        match (on, self.mib2.is_some()) {
            (true, false) => self.mib2 = Some(NamespaceMib2::new(self.proc_root.clone())),
            (false, true) => self.mib2 = None,
            _ => {}
        }
    }

    fn kept_mut(&mut self, slot: usize) -> &mut Kept {
        if self.kept.len() <= slot {
            self.kept.resize_with(slot + 1, Kept::default);
        }
        &mut self.kept[slot]
    }

    /// A new process in the container of `slot`: finds its counter files and reads its limits and
    /// interfaces. What was kept for the slot before is replaced.
    pub fn attach(&mut self, slot: usize, pid: u32, now: u64) {
        self.attach_with(slot, pid, now, false);
    }

    /// Like [`ContainerCounterStore::attach`] for a Kubernetes pod whose sandbox process is `pid`:
    /// the counters are those of the parent of its cgroup (the pod's), the interfaces those of its
    /// network namespace (the pod's).
    pub fn attach_pod(&mut self, slot: usize, pid: u32, now: u64) {
        self.attach_with(slot, pid, now, true);
    }

    fn attach_with(&mut self, slot: usize, pid: u32, now: u64, pod: bool) {
        *self.kept_mut(slot) = Kept::default();
        if let Some(m) = &mut self.mib2 {
            m.join(slot, pid);
        }
        let Some(reader) = &mut self.reader else {
            return;
        };
        let Some(kept) = self.kept.get_mut(slot) else {
            return;
        };
        let resolved = if pod {
            reader.resolve_parent(pid)
        } else {
            reader.resolve(pid)
        };
        match resolved {
            Ok(files) => {
                kept.limits_due = now + LIMITS_REFRESH_MS;
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
                reader.read_adapters(&files, &mut kept.adapters);
                kept.adapters.shrink_to_fit();
                kept.files = Some(files);
            }
            Err(e) => debug!("container process {pid}: {e}"),
        }
    }

    /// Reads the limits of the container of `slot` again now (the engine said they changed).
    pub fn refresh_limits(&mut self, slot: usize, now: u64) {
        let (Some(kept), Some(reader)) = (self.kept.get_mut(slot), &mut self.reader) else {
            return;
        };
        if let Some(files) = &mut kept.files {
            reader.read_limits(files);
            kept.limits_due = now + LIMITS_REFRESH_MS;
        }
    }

    /// Reads the counters of the container of `slot` into its last values, without sending: it is
    /// ending, and the engine removes the cgroup before it reports the death.
    pub fn read_now(&mut self, slot: usize, capacity: HostCapacity) {
        let (Some(kept), Some(reader)) = (self.kept.get_mut(slot), &mut self.reader) else {
            return;
        };
        let Some(files) = &kept.files else { return };
        self.fresh = ContainerCounters::UNKNOWN;
        let report = reader.read(files, capacity, &mut self.fresh);
        kept.last_good.keep_read(&self.fresh, report.fields);
        if let Some(m) = &mut self.mib2 {
            m.groups(slot, Read::Now);
        }
    }

    /// The interfaces last read for `slot`'s container (its MACs, for packet sampling).
    pub fn adapters(&self, slot: usize) -> &[Adapter] {
        self.kept.get(slot).map_or(&[], |k| &k.adapters)
    }

    /// Forgets what was kept for `slot` (its files close).
    pub fn drop_slot(&mut self, slot: usize) {
        if let Some(kept) = self.kept.get_mut(slot) {
            *kept = Kept::default();
        }
        if let Some(m) = &mut self.mib2 {
            m.leave(slot);
        }
    }

    /// Reads the counters of `sample`'s container and sends the sample to `send`; false when it was
    /// not sent (its files are gone: the container is ending). A final sample carries the last values
    /// read and closes the files.
    pub fn sample(
        &mut self,
        sample: &Sample,
        host: HostPart<'_>,
        now: u64,
        send: impl FnOnce(&CounterSample<'_>),
    ) -> bool {
        self.kept_mut(sample.slot);
        let Some(kept) = self.kept.get_mut(sample.slot) else {
            return false;
        };
        // Read the counters now; a final sample whose files are already gone carries the last
        // values read instead of unknowns or zeros.
        self.fresh = ContainerCounters::UNKNOWN;
        if let (Some(files), Some(reader)) = (&mut kept.files, &mut self.reader) {
            if now >= kept.limits_due && !sample.last {
                reader.read_limits(files);
                kept.limits_due = now + LIMITS_REFRESH_MS;
            }
            let report = reader.read(files, host.capacity, &mut self.fresh);
            let read_some = report.fields.intersects(Fields::COUNTERS);
            if !read_some && kept.ever_read && !sample.last {
                debug!(
                    "container {}: counters gone, sample skipped",
                    sample.name.as_str()
                );
                return false;
            }
            kept.ever_read |= read_some;
            kept.last_good.keep_read(&self.fresh, report.fields);
            if report.adapters_stale(&kept.adapters) {
                reader.read_adapters(files, &mut kept.adapters);
                kept.adapters.shrink_to_fit();
            }
        }
        let counters = if sample.last {
            kept.last_good
        } else {
            self.fresh
        };
        let mib2 = match &mut self.mib2 {
            Some(m) => {
                if m.needs_join(sample.slot) {
                    if let Some(files) = &kept.files {
                        m.join(sample.slot, files.pid());
                    }
                }
                m.groups(
                    sample.slot,
                    if sample.last {
                        Read::Last
                    } else {
                        Read::Poll(now)
                    },
                )
            }
            None => None,
        };
        let groups = mib2.unwrap_or(Mib2::UNKNOWN);
        let records = [
            CounterRecord::HostDescr(HostDescr {
                hostname: sample.name.as_str(),
                uuid: sample.uuid,
                machine_type: host.machine_type,
                os_name: host.os_name,
                os_release: host.os_release,
            }),
            CounterRecord::HostAdapters(HostAdapters {
                adapters: &kept.adapters,
            }),
            CounterRecord::HostParent(HostParent {
                container_type: DS_CLASS_PHYSICAL,
                container_index: 1,
            }),
            CounterRecord::VirtCpu(crate::wire::VirtCpu {
                state: sample.state,
                ..counters.cpu
            }),
            CounterRecord::VirtMemory(counters.memory),
            CounterRecord::VirtDiskIo(counters.disk),
            CounterRecord::VirtNetIo(counters.net),
            CounterRecord::Mib2Ip(groups.ip),
            CounterRecord::Mib2Icmp(groups.icmp),
            CounterRecord::Mib2Tcp(groups.tcp),
            CounterRecord::Mib2Udp(groups.udp),
        ];
        // The MIB-II groups only when the container has some.
        let len = if mib2.is_some() { records.len() } else { 7 };
        send(&CounterSample {
            sequence: sample.sequence,
            source: DataSource {
                class: DS_CLASS_LOGICAL,
                index: sample.index,
            },
            records: records.get(..len).unwrap_or_default(),
        });
        if sample.last {
            // Close its counter files: an open file would keep a removed cgroup alive in the kernel
            // (and its namespace's `net/snmp`, a namespace, when it was the last one in it).
            kept.files = None;
            kept.ever_read = false;
            if let Some(m) = &mut self.mib2 {
                m.leave(sample.slot);
            }
        }
        true
    }
}
