//! The per-poll read of one container's counters from the files resolved at setup.
//!
//! A poll opens each file once, reads it whole into the reader's one buffer and parses the bytes: no
//! directory listing, no path building, no string. Once the buffer has grown to the largest file, a poll
//! allocates nothing.

use std::ops::{BitOr, BitOrAssign};
use std::path::Path;

use super::files::slot;
use crate::host::file::{Extent, FileBuf};
use crate::host::net::{parse_net_dev_line, NetDevCounters};
use crate::host::parse::lines;
use crate::wire::{Adapter, NetIo, VirtCpu, VirtDiskIo, VirtMemory, UNKNOWN_U32, UNKNOWN_U64};

use super::files::{
    ContainerFiles, CpuQuotaFiles, CpuTimeFile, DiskFiles, LimitFile, NetNamespace,
};
use super::values::{
    cfs_quota_cpus, count_cpu_list, flat_keyed_value, parse_cfs_quota_us, parse_cpu_max,
    parse_memory_limit, parse_single_u64, sum_blkio, sum_io_stat, Limit,
};

/// The host's totals a container's limits fall back to, from the host's own reader (`cpu_num` of
/// `host_cpu`, `mem_total` of `host_memory`). Either may be unknown (all ones).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HostCapacity {
    /// Number of CPUs of the host.
    pub cpus: u32,
    /// The host's memory in bytes.
    pub mem_total: u64,
}

/// The four container records the cgroup and procfs files fill.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ContainerCounters {
    /// `virt_cpu`; `state` is the caller's and is never touched by a read.
    pub cpu: VirtCpu,
    /// `virt_memory`.
    pub memory: VirtMemory,
    /// `virt_disk_io`.
    pub disk: VirtDiskIo,
    /// `virt_net_io`.
    pub net: NetIo,
}

impl ContainerCounters {
    /// Every field unknown.
    pub const UNKNOWN: ContainerCounters = ContainerCounters {
        cpu: VirtCpu::UNKNOWN,
        memory: VirtMemory::UNKNOWN,
        disk: VirtDiskIo::UNKNOWN,
        net: NetIo::UNKNOWN,
    };

    /// Copies into `self` the fields of `fresh` that `read` says were read, leaving the others as they
    /// were: keeps a container's last good values for the final sample sent after its files are gone.
    /// `cpu.state` is not copied.
    pub fn keep_read(&mut self, fresh: &ContainerCounters, read: Fields) {
        if read.contains(Fields::CPU_TIME) {
            self.cpu.cpu_time_ms = fresh.cpu.cpu_time_ms;
        }
        if read.contains(Fields::NR_VIRT_CPU) {
            self.cpu.nr_virt_cpu = fresh.cpu.nr_virt_cpu;
        }
        if read.contains(Fields::MEMORY) {
            self.memory.memory = fresh.memory.memory;
        }
        if read.contains(Fields::MAX_MEMORY) {
            self.memory.max_memory = fresh.memory.max_memory;
        }
        if read.contains(Fields::DISK_BYTES) {
            self.disk.rd_bytes = fresh.disk.rd_bytes;
            self.disk.wr_bytes = fresh.disk.wr_bytes;
        }
        if read.contains(Fields::DISK_REQUESTS) {
            self.disk.rd_req = fresh.disk.rd_req;
            self.disk.wr_req = fresh.disk.wr_req;
        }
        // The constant fields are the same in every read.
        self.disk.capacity = fresh.disk.capacity;
        self.disk.allocation = fresh.disk.allocation;
        self.disk.available = fresh.disk.available;
        self.disk.errs = fresh.disk.errs;
        if read.contains(Fields::NET) {
            self.net = fresh.net;
        }
    }
}

/// A set of the counter fields a read filled from the kernel's files (the others were left unknown).
#[derive(Clone, Copy, PartialEq, Eq, Default)]
pub struct Fields(u8);

impl Fields {
    /// Nothing.
    pub const NONE: Fields = Fields(0);
    /// `virt_cpu.cpu_time_ms`.
    pub const CPU_TIME: Fields = Fields(1);
    /// `virt_cpu.nr_virt_cpu`.
    pub const NR_VIRT_CPU: Fields = Fields(1 << 1);
    /// `virt_memory.memory`.
    pub const MEMORY: Fields = Fields(1 << 2);
    /// `virt_memory.max_memory`.
    pub const MAX_MEMORY: Fields = Fields(1 << 3);
    /// `virt_disk_io.rd_bytes` and `wr_bytes`.
    pub const DISK_BYTES: Fields = Fields(1 << 4);
    /// `virt_disk_io.rd_req` and `wr_req`.
    pub const DISK_REQUESTS: Fields = Fields(1 << 5);
    /// All of `virt_net_io`.
    pub const NET: Fields = Fields(1 << 6);
    /// Every field.
    pub const ALL: Fields = Fields((1 << 7) - 1);

    /// Whether every field of `other` is in `self`.
    pub fn contains(self, other: Fields) -> bool {
        self.0 & other.0 == other.0
    }

    /// Whether no field is in the set.
    pub fn is_empty(self) -> bool {
        self.0 == 0
    }
}

impl std::fmt::Debug for Fields {
    /// `Fields(CPU_TIME | NET)`.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        const NAMES: [(Fields, &str); 7] = [
            (Fields::CPU_TIME, "CPU_TIME"),
            (Fields::NR_VIRT_CPU, "NR_VIRT_CPU"),
            (Fields::MEMORY, "MEMORY"),
            (Fields::MAX_MEMORY, "MAX_MEMORY"),
            (Fields::DISK_BYTES, "DISK_BYTES"),
            (Fields::DISK_REQUESTS, "DISK_REQUESTS"),
            (Fields::NET, "NET"),
        ];
        f.write_str("Fields(")?;
        let mut first = true;
        for (field, name) in NAMES {
            if self.contains(field) {
                if !first {
                    f.write_str(" | ")?;
                }
                f.write_str(name)?;
                first = false;
            }
        }
        f.write_str(")")
    }
}

impl BitOr for Fields {
    type Output = Fields;
    fn bitor(self, rhs: Fields) -> Fields {
        Fields(self.0 | rhs.0)
    }
}

impl BitOrAssign for Fields {
    fn bitor_assign(&mut self, rhs: Fields) {
        self.0 |= rhs.0;
    }
}

/// What one read found, beside the counters themselves.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReadReport {
    /// The fields filled from the files.
    pub fields: Fields,
    /// The container's interfaces other than `lo` in `net/dev` (0 in the host's namespace); `None` when
    /// the file could not be read. A change from the adapters last read means they need reading again.
    pub interfaces: Option<u32>,
}

impl ReadReport {
    /// Whether the adapter list no longer matches the interfaces seen (compare against the list that
    /// [`ContainerReader::read_adapters`] last filled).
    pub fn adapters_stale(&self, adapters: &[Adapter]) -> bool {
        match self.interfaces {
            None => false,
            Some(n) => {
                let listed = usize::try_from(n)
                    .unwrap_or(usize::MAX)
                    .min(crate::host::MAX_ADAPTERS);
                listed != adapters.len()
            }
        }
    }
}

/// Reads containers' counters; holds the one read buffer reused from poll to poll and from container to
/// container.
#[derive(Debug, Default)]
pub struct ContainerReader {
    pub(crate) files: FileBuf,
}

impl ContainerReader {
    /// A reader with an empty buffer (it grows to the largest file read, once).
    pub fn new() -> ContainerReader {
        ContainerReader::default()
    }

    /// Refreshes `out` from the container's files: every field read now is set, every other one is set to
    /// unknown, except `out.cpu.state`, which the caller owns. The disk record's capacity, allocation,
    /// available and errs are 0, as the reference agent sends them (a container has no disk of its own
    /// to size; the kernel counts no per-cgroup I/O errors).
    pub fn read(
        &mut self,
        files: &ContainerFiles,
        host: HostCapacity,
        out: &mut ContainerCounters,
    ) -> ReadReport {
        let mut fields = Fields::NONE;
        let buf = &mut self.files;

        let (cpu_time_ms, read) = cpu_time(buf, files);
        out.cpu.cpu_time_ms = cpu_time_ms;
        fields |= read;
        let (nr_virt_cpu, read) = nr_virt_cpu(buf, files, host.cpus);
        out.cpu.nr_virt_cpu = nr_virt_cpu;
        fields |= read;

        out.memory = VirtMemory::UNKNOWN;
        if let Some(bytes) = files
            .memory_usage
            .as_deref()
            .and_then(|p| read_slot(buf, files, slot::MEMORY_USAGE, p, Extent::Whole))
            .and_then(parse_single_u64)
        {
            out.memory.memory = bytes;
            fields |= Fields::MEMORY;
        }
        let (max_memory, read) = max_memory(buf, files, host.mem_total);
        out.memory.max_memory = max_memory;
        fields |= read;

        fields |= read_disk(buf, files, &mut out.disk);

        let (interfaces, read) = read_net(buf, files, &mut out.net);
        fields |= read;

        ReadReport { fields, interfaces }
    }
}

/// Reads one of the container's counter files through the descriptor kept in its slot.
fn read_slot<'b>(
    buf: &'b mut FileBuf,
    files: &ContainerFiles,
    slot: usize,
    path: &Path,
    extent: Extent,
) -> Option<&'b [u8]> {
    let mut kept = files.kept.0.borrow_mut();
    let cell = kept.get_mut(slot)?;
    buf.read_kept(path, cell, &mut super::may_keep, extent)
}

/// `cpu_time_ms`, wrapping at 2^32 ms (49.7 days of CPU).
fn cpu_time(buf: &mut FileBuf, files: &ContainerFiles) -> (u32, Fields) {
    let ms = match &files.cpu_time {
        Some(CpuTimeFile::V1Usage(p)) => read_slot(buf, files, slot::CPU_TIME, p, Extent::Whole)
            .and_then(parse_single_u64)
            .map(|ns| ns / 1_000_000),
        Some(CpuTimeFile::V2Stat(p)) => read_slot(buf, files, slot::CPU_TIME, p, Extent::Whole)
            .and_then(|t| flat_keyed_value(t, b"usage_usec"))
            .map(|us| us / 1_000),
        None => None,
    };
    match ms {
        Some(ms) => (ms as u32, Fields::CPU_TIME),
        None => (UNKNOWN_U32, Fields::NONE),
    }
}

/// What a limit file said.
enum LimitRead<T> {
    /// The container has no such file: nothing limits it there.
    NoFile,
    /// The file could not be read or parsed.
    Failed,
    /// The file's value.
    Read(Limit<T>),
}

impl<T> LimitRead<T> {
    /// Reads `file` with `read` when there is one.
    fn of<F>(file: &LimitFile<F>, read: impl FnOnce(&F) -> Option<Limit<T>>) -> LimitRead<T> {
        match file {
            LimitFile::NotEnabled => LimitRead::NoFile,
            LimitFile::Unresolved => LimitRead::Failed,
            LimitFile::File(f) => read(f).map_or(LimitRead::Failed, LimitRead::Read),
        }
    }
}

/// `nr_virt_cpu`: the fewest CPUs among the quota (rounded up), the cpuset and the host. A limit that cannot
/// be read (its file vanished or is malformed, or the container's directory could not be resolved) makes
/// it unknown. The host's count is a full answer when the limits say "none" or are not enabled.
fn nr_virt_cpu(buf: &mut FileBuf, files: &ContainerFiles, host_cpus: u32) -> (u32, Fields) {
    let quota = LimitRead::of(&files.cpu_quota, |q| match q {
        CpuQuotaFiles::V1 { quota, period } => {
            match read_slot(buf, files, slot::QUOTA, quota, Extent::Prefix(64))
                .and_then(parse_cfs_quota_us)?
            {
                Limit::Unlimited => Some(Limit::Unlimited), // the period does not matter
                Limit::Limited(us) => {
                    read_slot(buf, files, slot::PERIOD, period, Extent::Prefix(64))
                        .and_then(|p| cfs_quota_cpus(us, p))
                        .map(Limit::Limited)
                }
            }
        }
        CpuQuotaFiles::V2(p) => {
            read_slot(buf, files, slot::QUOTA, p, Extent::Prefix(128)).and_then(parse_cpu_max)
        }
    });
    let cpuset = LimitRead::of(&files.cpuset, |p| {
        read_slot(buf, files, slot::CPUSET, p, Extent::Whole)
            .and_then(count_cpu_list)
            .map(|n| match n {
                0 => Limit::Unlimited, // a v1 cpuset nobody set
                n => Limit::Limited(n),
            })
    });
    let mut fewest = (host_cpus != UNKNOWN_U32 && host_cpus > 0).then_some(host_cpus);
    for limit in [quota, cpuset] {
        match limit {
            LimitRead::Failed => return (UNKNOWN_U32, Fields::NONE),
            LimitRead::Read(Limit::Limited(n)) => {
                fewest = Some(fewest.map_or(n, |f| f.min(n)));
            }
            LimitRead::Read(Limit::Unlimited) | LimitRead::NoFile => {}
        }
    }
    match fewest {
        Some(n) => (n, Fields::NR_VIRT_CPU),
        None => (UNKNOWN_U32, Fields::NONE),
    }
}

/// `max_memory`: the limit, or the host's memory when there is none or it is larger (a limit above the
/// host's memory cannot be reached, and the collector sees what the container can really use).
fn max_memory(buf: &mut FileBuf, files: &ContainerFiles, mem_total: u64) -> (u64, Fields) {
    let limit = LimitRead::of(&files.memory_limit, |p| {
        read_slot(buf, files, slot::MEMORY_LIMIT, p, Extent::Prefix(64))
            .and_then(parse_memory_limit)
    });
    let value = match limit {
        LimitRead::Failed => UNKNOWN_U64,
        LimitRead::NoFile | LimitRead::Read(Limit::Unlimited) => mem_total,
        LimitRead::Read(Limit::Limited(bytes)) if mem_total != UNKNOWN_U64 => bytes.min(mem_total),
        LimitRead::Read(Limit::Limited(bytes)) => bytes,
    };
    if value == UNKNOWN_U64 {
        (UNKNOWN_U64, Fields::NONE)
    } else {
        (value, Fields::MAX_MEMORY)
    }
}

/// `virt_disk_io` from the blkio or io files.
fn read_disk(buf: &mut FileBuf, files: &ContainerFiles, disk: &mut VirtDiskIo) -> Fields {
    *disk = VirtDiskIo {
        capacity: 0,
        allocation: 0,
        available: 0,
        errs: 0,
        ..VirtDiskIo::UNKNOWN
    };
    let mut fields = Fields::NONE;
    match &files.disk {
        Some(DiskFiles::V1 { bytes, requests }) => {
            if let Some(sum) =
                read_slot(buf, files, slot::DISK_BYTES, bytes, Extent::Whole).and_then(sum_blkio)
            {
                disk.rd_bytes = sum.read;
                disk.wr_bytes = sum.write;
                fields |= Fields::DISK_BYTES;
            }
            if let Some(sum) = read_slot(buf, files, slot::DISK_REQUESTS, requests, Extent::Whole)
                .and_then(sum_blkio)
            {
                disk.rd_req = sum.read as u32;
                disk.wr_req = sum.write as u32;
                fields |= Fields::DISK_REQUESTS;
            }
        }
        Some(DiskFiles::V2(p)) => {
            if let Some(stat) =
                read_slot(buf, files, slot::DISK_BYTES, p, Extent::Whole).and_then(sum_io_stat)
            {
                disk.rd_bytes = stat.bytes.read;
                disk.wr_bytes = stat.bytes.write;
                disk.rd_req = stat.ios.read as u32;
                disk.wr_req = stat.ios.write as u32;
                fields |= Fields::DISK_BYTES | Fields::DISK_REQUESTS;
            }
        }
        None => {}
    }
    fields
}

/// `virt_net_io`: the container's `net/dev` summed over its interfaces except `lo`; zeros in the host's
/// namespace. Unknown when the file cannot be read or holds no interface line. Returns the number of
/// interfaces counted.
fn read_net(buf: &mut FileBuf, files: &ContainerFiles, net: &mut NetIo) -> (Option<u32>, Fields) {
    *net = NetIo::UNKNOWN;
    if files.net_namespace == NetNamespace::Host {
        *net = NetDevCounters::default().to_net_io();
        return (Some(0), Fields::NET);
    }
    let Some(text) = read_slot(buf, files, slot::NET_DEV, &files.net_dev, Extent::Whole) else {
        return (None, Fields::NONE);
    };
    let mut lines_seen = 0u32;
    let mut interfaces = 0u32;
    let mut sum = NetDevCounters::default();
    for (name, c) in lines(text).filter_map(parse_net_dev_line) {
        lines_seen = lines_seen.saturating_add(1);
        if name == b"lo" {
            continue;
        }
        interfaces = interfaces.saturating_add(1);
        sum.add(&c);
    }
    if lines_seen == 0 {
        return (None, Fields::NONE);
    }
    *net = sum.to_net_io();
    (Some(interfaces), Fields::NET)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn field_sets() {
        let f = Fields::CPU_TIME | Fields::NET;
        assert!(f.contains(Fields::CPU_TIME));
        assert!(f.contains(Fields::NET));
        assert!(!f.contains(Fields::MEMORY));
        assert!(!f.contains(Fields::CPU_TIME | Fields::MEMORY));
        assert!(Fields::NONE.is_empty());
        assert!(Fields::ALL.contains(f));
        assert_eq!(format!("{f:?}"), "Fields(CPU_TIME | NET)");
        assert_eq!(format!("{:?}", Fields::NONE), "Fields()");
        for one in [
            Fields::CPU_TIME,
            Fields::NR_VIRT_CPU,
            Fields::MEMORY,
            Fields::MAX_MEMORY,
            Fields::DISK_BYTES,
            Fields::DISK_REQUESTS,
            Fields::NET,
        ] {
            assert!(Fields::ALL.contains(one));
        }
    }

    #[test]
    fn keeping_last_good_values() {
        let mut last = ContainerCounters::UNKNOWN;
        let mut fresh = ContainerCounters::UNKNOWN;
        fresh.cpu.cpu_time_ms = 10;
        fresh.cpu.nr_virt_cpu = 2;
        fresh.memory.memory = 100;
        fresh.disk.rd_bytes = 7;
        fresh.disk.rd_req = 3;
        fresh.disk.capacity = 0;
        fresh.cpu.state = 1;
        last.keep_read(
            &fresh,
            Fields::CPU_TIME | Fields::MEMORY | Fields::DISK_REQUESTS,
        );
        assert_eq!(last.cpu.cpu_time_ms, 10);
        assert_eq!(last.cpu.nr_virt_cpu, UNKNOWN_U32);
        assert_eq!(last.memory.memory, 100);
        assert_eq!(last.disk.rd_bytes, UNKNOWN_U64);
        assert_eq!(last.disk.rd_req, 3);
        assert_eq!(last.disk.capacity, 0);
        assert_eq!(last.cpu.state, 0);

        // A later read that found nothing keeps them.
        last.keep_read(&ContainerCounters::UNKNOWN, Fields::NONE);
        assert_eq!(last.cpu.cpu_time_ms, 10);
        assert_eq!(last.memory.memory, 100);
    }

    #[test]
    fn net_sums_fit_the_record() {
        let c = NetDevCounters {
            rx_bytes: u64::MAX,
            rx_packets: u64::from(u32::MAX) + 2,
            ..NetDevCounters::default()
        };
        let n = c.to_net_io();
        assert_eq!(n.bytes_in, u64::MAX);
        assert_eq!(n.pkts_in, 1);
        assert_eq!(n.drops_out, 0);
    }
}
