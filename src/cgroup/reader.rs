//! The per-poll read of one container's counters from the files resolved at setup.
//!
//! A poll reads each counter file through the descriptor kept open for it (one `pread` from offset 0)
//! into the reader's one buffer and parses the bytes: no directory listing, no path walk, no string. A
//! file without a kept descriptor (past the budget) is opened with one `openat` below the reader's
//! kept descriptor of its hierarchy's mount point or of the proc root, its relative path joined into
//! a reused buffer. The limits are not read here but taken as last read. Once the buffers have grown to the largest file
//! and path, a poll allocates nothing.

use std::fs::{File, OpenOptions};
use std::ops::{BitOr, BitOrAssign};
use std::os::fd::AsFd;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

use crate::host::file::{open_nonblocking, Extent, FileBuf, PathBuilder, RelPathBuilder};
use crate::host::net::{parse_net_dev_line, NetDevCounters};
use crate::host::parse::lines;
use crate::host::Roots;
use crate::wire::{Adapter, NetIo, VirtCpu, VirtDiskIo, VirtMemory, UNKNOWN_U32, UNKNOWN_U64};

use super::files::{slot, ContainerFiles, Hierarchy, LimitValue, Limits, NetNamespace, Place};
use super::mounts::{CgroupMounts, V1Controller};
use super::values::{flat_keyed_value, parse_single_u64, sum_blkio, sum_io_stat, Limit};

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
    /// The fields read from counter files at each poll: all but the two that come from the limits as
    /// last read (`NR_VIRT_CPU`, `MAX_MEMORY`), which say nothing of whether the container is still
    /// there.
    pub const COUNTERS: Fields = Fields(
        Fields::CPU_TIME.0
            | Fields::MEMORY.0
            | Fields::DISK_BYTES.0
            | Fields::DISK_REQUESTS.0
            | Fields::NET.0,
    );

    /// Whether every field of `other` is in `self`.
    pub fn contains(self, other: Fields) -> bool {
        self.0 & other.0 == other.0
    }

    /// Whether no field is in the set.
    pub fn is_empty(self) -> bool {
        self.0 == 0
    }

    /// Whether any field of `other` is in `self`.
    pub fn intersects(self, other: Fields) -> bool {
        self.0 & other.0 != 0
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

/// Reads containers' counters: knows where the hierarchies are mounted and where procfs is, and holds
/// the one read buffer and the one path buffer reused from poll to poll and from container to container.
#[derive(Debug)]
pub struct ContainerReader {
    pub(crate) roots: Roots,
    pub(crate) mounts: CgroupMounts,
    pub(crate) files: FileBuf,
    pub(crate) paths: PathBuilder,
    /// The mount points and the proc root, kept open: a counter file without a kept descriptor is
    /// opened below them, sparing the walk down to them.
    dirs: TopDirs,
    rel: RelPathBuilder,
}

/// The directories counter files are opened below: each hierarchy's mount point and the proc root
/// (`None` where one could not be opened: files there are opened by their whole path).
#[derive(Debug, Default)]
struct TopDirs {
    v1: [Option<File>; 5],
    v2: Option<File>,
    proc: Option<File>,
}

impl TopDirs {
    fn open(roots: &Roots, mounts: &CgroupMounts) -> TopDirs {
        let open = |dir: &Path| {
            OpenOptions::new()
                .read(true)
                .custom_flags(libc::O_DIRECTORY | libc::O_CLOEXEC)
                .open(dir)
                .ok()
        };
        let mut dirs = TopDirs {
            v2: mounts.v2().and_then(|m| open(&m.dir)),
            proc: open(&roots.proc),
            ..TopDirs::default()
        };
        for c in V1Controller::ALL {
            if let (Some(m), Some(slot)) = (mounts.v1(c), dirs.v1.get_mut(c.index())) {
                *slot = open(&m.dir);
            }
        }
        dirs
    }

    fn of(&self, hierarchy: Hierarchy) -> Option<&File> {
        match hierarchy {
            Hierarchy::V1(c) => self.v1.get(c.index())?.as_ref(),
            Hierarchy::V2 => self.v2.as_ref(),
        }
    }
}

/// A counter or limit file: its name in a v1 hierarchy and in the v2 one (`None`: v2 has no such file).
#[derive(Debug, Clone, Copy)]
pub(crate) struct FileName {
    pub(crate) v1: &'static str,
    pub(crate) v2: Option<&'static str>,
}

/// The file names, per counter and limit.
pub(crate) mod name {
    use super::FileName;

    pub(crate) const CPU_TIME: FileName = FileName {
        v1: "cpuacct.usage",
        v2: Some("cpu.stat"),
    };
    pub(crate) const MEMORY_USAGE: FileName = FileName {
        v1: "memory.usage_in_bytes",
        v2: Some("memory.current"),
    };
    pub(crate) const DISK_BYTES: FileName = FileName {
        v1: "blkio.throttle.io_service_bytes",
        v2: Some("io.stat"),
    };
    pub(crate) const DISK_REQUESTS: FileName = FileName {
        v1: "blkio.throttle.io_serviced",
        v2: None,
    };
    pub(crate) const QUOTA: FileName = FileName {
        v1: "cpu.cfs_quota_us",
        v2: Some("cpu.max"),
    };
    pub(crate) const PERIOD: FileName = FileName {
        v1: "cpu.cfs_period_us",
        v2: None,
    };
    pub(crate) const CPUSET: FileName = FileName {
        v1: "cpuset.cpus",
        v2: Some("cpuset.cpus.effective"),
    };
    pub(crate) const MEMORY_LIMIT: FileName = FileName {
        v1: "memory.limit_in_bytes",
        v2: Some("memory.max"),
    };
}

/// Where a kept counter file is.
#[derive(Debug, Clone, Copy)]
enum CounterFile {
    /// `name` in the container's directory `place`.
    Cgroup(Place, FileName),
    /// `<proc>/<pid>/net/dev`.
    NetDev,
}

impl ContainerReader {
    /// A reader of containers under `roots`, whose hierarchies are `mounts` (from
    /// [`CgroupMounts::discover`] on the same roots).
    pub fn new(roots: Roots, mounts: CgroupMounts) -> ContainerReader {
        ContainerReader {
            dirs: TopDirs::open(&roots, &mounts),
            roots,
            mounts,
            files: FileBuf::default(),
            paths: PathBuilder::default(),
            rel: RelPathBuilder::default(),
        }
    }

    /// The hierarchies.
    pub fn mounts(&self) -> &CgroupMounts {
        &self.mounts
    }

    /// Refreshes `out` from the container's files: every field read now is set, every other one is set to
    /// unknown, except `out.cpu.state`, which the caller owns. The limits behind `nr_virt_cpu` and
    /// `max_memory` are the ones last read ([`ContainerReader::read_limits`]). The disk record's capacity,
    /// allocation, available and errs are 0, as the reference agent sends them (a container has no disk
    /// of its own to size; the kernel counts no per-cgroup I/O errors).
    pub fn read(
        &mut self,
        files: &ContainerFiles,
        host: HostCapacity,
        out: &mut ContainerCounters,
    ) -> ReadReport {
        let mut fields = Fields::NONE;

        let (cpu_time_ms, read) = self.cpu_time(files);
        out.cpu.cpu_time_ms = cpu_time_ms;
        fields |= read;
        let (nr_virt_cpu, read) = nr_virt_cpu(&files.limits, host.cpus);
        out.cpu.nr_virt_cpu = nr_virt_cpu;
        fields |= read;

        out.memory = VirtMemory::UNKNOWN;
        if let Some(bytes) = self
            .read_counter(
                files,
                slot::MEMORY_USAGE,
                CounterFile::Cgroup(files.memory, name::MEMORY_USAGE),
                Extent::Whole,
            )
            .and_then(parse_single_u64)
        {
            out.memory.memory = bytes;
            fields |= Fields::MEMORY;
        }
        let (max_memory, read) = max_memory(files.limits.memory, host.mem_total);
        out.memory.max_memory = max_memory;
        fields |= read;

        fields |= self.read_disk(files, &mut out.disk);

        let (interfaces, read) = self.read_net(files, &mut out.net);
        fields |= read;

        ReadReport { fields, interfaces }
    }

    /// The path of `file` in the container's directory `place`, in the reader's path buffer.
    pub(crate) fn cgroup_path(
        &mut self,
        files: &ContainerFiles,
        place: Place,
        file: FileName,
    ) -> Option<&Path> {
        cgroup_path(&mut self.paths, &self.mounts, files, place, file)
    }

    /// `<proc>/<pid>/<parts...>` of the container's process, in the reader's path buffer.
    pub(crate) fn proc_path(&mut self, pid: u32, parts: &[&[u8]]) -> &Path {
        proc_path(&mut self.paths, &self.roots, pid, parts)
    }

    /// Reads one of the container's counter files through the descriptor kept in its slot, or opens it
    /// (and keeps it when the budget allows) when there is none or the kept one failed.
    fn read_counter(
        &mut self,
        files: &ContainerFiles,
        slot: usize,
        file: CounterFile,
        extent: Extent,
    ) -> Option<&[u8]> {
        let ContainerReader {
            roots,
            mounts,
            files: buf,
            paths,
            dirs,
            rel,
        } = self;
        let path_of = |paths: &mut PathBuilder| -> Option<PathBuf> {
            Some(match file {
                CounterFile::Cgroup(place, name) => {
                    cgroup_path(paths, mounts, files, place, name)?.to_path_buf()
                }
                CounterFile::NetDev => proc_path(paths, roots, files.pid, NET_DEV).to_path_buf(),
            })
        };
        let cell = files.kept.0.get(slot)?;
        if let Some(f) = cell.take() {
            match buf.reread(&f, extent, || path_of(paths).unwrap_or_default()) {
                Ok(whole) => {
                    cell.set(Some(f));
                    return whole.then(|| buf.contents());
                }
                // The kernel refused the kept descriptor (the cgroup was removed): try the path.
                Err(_) => {
                    drop(f);
                    super::kept_closed(1);
                }
            }
        }
        let opened = open_below_top(dirs, rel, files, file).or_else(|| {
            let path = match file {
                CounterFile::Cgroup(place, name) => cgroup_path(paths, mounts, files, place, name)?,
                CounterFile::NetDev => proc_path(paths, roots, files.pid, NET_DEV),
            };
            open_nonblocking(path).ok()
        })?;
        let result = buf.reread(&opened, extent, || path_of(paths).unwrap_or_default());
        if result.is_ok() && super::may_keep() {
            cell.set(Some(opened));
        }
        result.ok()?.then(|| buf.contents())
    }

    /// `cpu_time_ms`, wrapping at 2^32 ms (49.7 days of CPU).
    fn cpu_time(&mut self, files: &ContainerFiles) -> (u32, Fields) {
        let place = files.cpuacct;
        let text = self.read_counter(
            files,
            slot::CPU_TIME,
            CounterFile::Cgroup(place, name::CPU_TIME),
            Extent::Whole,
        );
        let ms = if place.is_v2() {
            text.and_then(|t| flat_keyed_value(t, b"usage_usec"))
                .map(|us| us / 1_000)
        } else {
            text.and_then(parse_single_u64).map(|ns| ns / 1_000_000)
        };
        match ms {
            Some(ms) => (ms as u32, Fields::CPU_TIME),
            None => (UNKNOWN_U32, Fields::NONE),
        }
    }

    /// `virt_disk_io` from the blkio or io files.
    fn read_disk(&mut self, files: &ContainerFiles, disk: &mut VirtDiskIo) -> Fields {
        *disk = VirtDiskIo {
            capacity: 0,
            allocation: 0,
            available: 0,
            errs: 0,
            ..VirtDiskIo::UNKNOWN
        };
        let mut fields = Fields::NONE;
        let place = files.blkio;
        let bytes = CounterFile::Cgroup(place, name::DISK_BYTES);
        if place.is_v2() {
            if let Some(stat) = self
                .read_counter(files, slot::DISK_BYTES, bytes, Extent::Whole)
                .and_then(sum_io_stat)
            {
                disk.rd_bytes = stat.bytes.read;
                disk.wr_bytes = stat.bytes.write;
                disk.rd_req = stat.ios.read as u32;
                disk.wr_req = stat.ios.write as u32;
                fields |= Fields::DISK_BYTES | Fields::DISK_REQUESTS;
            }
            return fields;
        }
        if let Some(sum) = self
            .read_counter(files, slot::DISK_BYTES, bytes, Extent::Whole)
            .and_then(sum_blkio)
        {
            disk.rd_bytes = sum.read;
            disk.wr_bytes = sum.write;
            fields |= Fields::DISK_BYTES;
        }
        let requests = CounterFile::Cgroup(place, name::DISK_REQUESTS);
        if let Some(sum) = self
            .read_counter(files, slot::DISK_REQUESTS, requests, Extent::Whole)
            .and_then(sum_blkio)
        {
            disk.rd_req = sum.read as u32;
            disk.wr_req = sum.write as u32;
            fields |= Fields::DISK_REQUESTS;
        }
        fields
    }

    /// `virt_net_io`: the container's `net/dev` summed over its interfaces except `lo`; zeros in the
    /// host's namespace. Unknown when the file cannot be read or holds no interface line. Returns the
    /// number of interfaces counted.
    fn read_net(&mut self, files: &ContainerFiles, net: &mut NetIo) -> (Option<u32>, Fields) {
        *net = NetIo::UNKNOWN;
        if files.net_namespace == NetNamespace::Host {
            *net = NetDevCounters::default().to_net_io();
            return (Some(0), Fields::NET);
        }
        let Some(text) =
            self.read_counter(files, slot::NET_DEV, CounterFile::NetDev, Extent::Whole)
        else {
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
}

/// `net/dev` under a process's proc directory.
const NET_DEV: &[&[u8]] = &[b"net", b"dev"];

/// Opens a counter file below its top directory's kept descriptor; `None` when there is no such
/// descriptor or the open failed (the caller then tries the whole path).
fn open_below_top(
    dirs: &TopDirs,
    rel: &mut RelPathBuilder,
    files: &ContainerFiles,
    file: CounterFile,
) -> Option<File> {
    let (dir, path) = match file {
        CounterFile::Cgroup(place, name) => {
            let (hierarchy, dir) = place.dir()?;
            let name = match hierarchy {
                Hierarchy::V1(_) => name.v1,
                Hierarchy::V2 => name.v2?,
            };
            (
                dirs.of(hierarchy)?,
                rel.join(&[files.rel_dir(dir), name.as_bytes()])?,
            )
        }
        CounterFile::NetDev => {
            let mut digits = [0u8; 10];
            let pid = decimal(files.pid, &mut digits);
            (dirs.proc.as_ref()?, rel.join(&[pid, b"net", b"dev"])?)
        }
    };
    crate::sys::open_below(dir.as_fd(), path).ok()
}

/// The path of `file` in the container's directory `place` (see [`ContainerReader::cgroup_path`]).
fn cgroup_path<'p>(
    paths: &'p mut PathBuilder,
    mounts: &CgroupMounts,
    files: &ContainerFiles,
    place: Place,
    file: FileName,
) -> Option<&'p Path> {
    let (hierarchy, dir) = place.dir()?;
    let (mount, name) = match hierarchy {
        Hierarchy::V1(c) => (mounts.v1(c)?, file.v1),
        Hierarchy::V2 => (mounts.v2()?, file.v2?),
    };
    let rel = files.rel_dir(dir);
    Some(if rel.is_empty() {
        paths.join(&mount.dir, &[name.as_bytes()])
    } else {
        paths.join(&mount.dir, &[rel, name.as_bytes()])
    })
}

/// `<proc>/<pid>/<parts...>`; at most seven parts are taken.
fn proc_path<'p>(paths: &'p mut PathBuilder, roots: &Roots, pid: u32, parts: &[&[u8]]) -> &'p Path {
    let mut digits = [0u8; 10];
    let pid = decimal(pid, &mut digits);
    let mut all: [&[u8]; 8] = [b""; 8];
    all[0] = pid;
    let n = parts.len().min(all.len() - 1);
    all[1..=n].copy_from_slice(&parts[..n]);
    paths.join(&roots.proc, &all[..=n])
}

/// `n` in decimal, into `digits`.
fn decimal(mut n: u32, digits: &mut [u8; 10]) -> &[u8] {
    let mut at = digits.len();
    loop {
        at -= 1;
        digits[at] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 || at == 0 {
            break;
        }
    }
    &digits[at..]
}

/// `nr_virt_cpu`: the fewest CPUs among the quota (rounded up), the cpuset and the host. A limit that could
/// not be read (its file vanished or is malformed, or the container's directory could not be resolved)
/// makes it unknown. The host's count is a full answer when the limits say "none" or are not enabled.
fn nr_virt_cpu(limits: &Limits, host_cpus: u32) -> (u32, Fields) {
    let mut fewest = (host_cpus != UNKNOWN_U32 && host_cpus > 0).then_some(host_cpus);
    for limit in [limits.quota, limits.cpuset] {
        match limit {
            LimitValue::Failed => return (UNKNOWN_U32, Fields::NONE),
            LimitValue::Read(Limit::Limited(n)) => {
                fewest = Some(fewest.map_or(n, |f| f.min(n)));
            }
            LimitValue::Read(Limit::Unlimited) | LimitValue::NoFile => {}
        }
    }
    match fewest {
        Some(n) => (n, Fields::NR_VIRT_CPU),
        None => (UNKNOWN_U32, Fields::NONE),
    }
}

/// `max_memory`: the limit, or the host's memory when there is none or it is larger (a limit above the
/// host's memory cannot be reached, and the collector sees what the container can really use).
fn max_memory(limit: LimitValue<u64>, mem_total: u64) -> (u64, Fields) {
    let value = match limit {
        LimitValue::Failed => UNKNOWN_U64,
        LimitValue::NoFile | LimitValue::Read(Limit::Unlimited) => mem_total,
        LimitValue::Read(Limit::Limited(bytes)) if mem_total != UNKNOWN_U64 => bytes.min(mem_total),
        LimitValue::Read(Limit::Limited(bytes)) => bytes,
    };
    if value == UNKNOWN_U64 {
        (UNKNOWN_U64, Fields::NONE)
    } else {
        (value, Fields::MAX_MEMORY)
    }
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
