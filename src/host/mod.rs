//! The physical host's own counters (data source 2:1), read from /proc and /sys under configurable
//! roots, so tests and containerised deployments can point them at another tree.
//!
//! [`HostReader::read`] refreshes a caller-owned [`HostSnapshot`]: every field starts from the sFlow
//! "unknown" value on each read and is filled only from what could be read now, so a file that vanished
//! or is malformed shows up as unknown, never as a stale or invented value. Partial data is normal: a
//! missing /proc/vmstat leaves the four paging counters unknown and everything else intact. Three
//! deliberate exceptions: the kernel release and the CPU speed are read once per [`RARE_REFRESH`]
//! and reused in between; what sysfs says of each interface (virtual or not, its adapter entry) is
//! asked again only when the interface names in /proc/net/dev change, or once per [`RARE_REFRESH`];
//! and the list of filesystems to measure comes from the last parse of the mount table, which on
//! procfs is parsed again only when the kernel says it changed.
//!
//! Contract:
//! - Nothing here panics on any file content; every file read is capped ([`MAX_FILE_BYTES`], a longer
//!   file is treated as unreadable and logged once per reader), and every list is bounded. The mount
//!   table is the exception to the cap: it is streamed line by line, up to [`MAX_MOUNTS_BYTES`]
//!   (lines up to [`MOUNTS_LINE_BYTES`], at most [`MAX_MEASURED`] filesystems measured).
//! - Files are opened non-blocking and close-on-exec, and network filesystems are never `statvfs`ed,
//!   so a read does not stall the agent's loop on a hung server.
//! - The files read on every poll (`<proc>/{loadavg,stat,uptime,meminfo,vmstat,diskstats,net/dev,
//!   mounts,sys/kernel/hostname}`) are kept open when they are on procfs and re-read with `pread`
//!   from offset 0: one read (two for a file over half a page), no open, close or path walk. Files not
//!   on procfs (fixture trees) are opened by path on every read, as they may be replaced. A file
//!   that cannot be opened is unknown and tried again at most once per [`RETRY_OPEN`]. The reader
//!   holds at most these 9 descriptors.
//! - Once warmed up, a read allocates nothing: it reuses the reader's buffers and the snapshot's
//!   strings and vector (a re-parse of a mount table with more local filesystems than ever before
//!   grows the list once). The per-interface sysfs files (`<sys>/class/net/<name>/*`,
//!   `<sys>/devices/virtual/net/<name>`), when they are asked, and `<sys>/block/<name>` of each disk
//!   are opened by path through a reused path buffer.
//!
//! Sources: `host_descr` from `<proc>/sys/kernel/{hostname,osrelease}` and the build target;
//! `host_cpu` from `<proc>/{loadavg,stat,uptime,cpuinfo}`; `host_memory` from `<proc>/{meminfo,vmstat}`;
//! `host_disk_io` from `<proc>/{mounts,diskstats}` and `<sys>/block`; `host_net_io` from
//! `<proc>/net/dev` and `<sys>/devices/virtual/net`; `host_adapters` from the interfaces of
//! `<proc>/net/dev` and their `<sys>/class/net/<name>` attributes; `virt_node` from the CPU and memory
//! figures. The UUID comes from [`host_uuid`] (or the configuration) once.
//!
//! The host sample's records are put together in one place, [`HostSnapshot::sample_records`], in the
//! order the agent sends them; the agent, the tests and the benches all encode what it returns.

mod adapters;
mod agent_address;
mod cpu;
mod descr;
mod disk;
pub(crate) mod file;
mod interfaces;
mod kept;
mod memory;
mod mounts;
pub(crate) mod net;
pub(crate) mod parse;
pub mod snmp;
mod space;
mod uuid;

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

pub use adapters::MAX_ADAPTERS;
pub use agent_address::{choose_agent_address, CidrRule};
pub use descr::machine_type_of;
pub use file::MAX_FILE_BYTES;
pub use kept::RETRY_OPEN;
pub use mounts::{CHUNK_BYTES as MOUNTS_LINE_BYTES, MAX_MEASURED, MAX_MOUNTS_BYTES};
pub use uuid::{host_uuid, uuid_v5};

use crate::wire::{self, CounterRecord, UNKNOWN_U32};

/// Where the kernel's files are found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Roots {
    /// procfs, normally `/proc`.
    pub proc: PathBuf,
    /// sysfs, normally `/sys`.
    pub sys: PathBuf,
    /// The configuration directory holding `machine-id`, normally `/etc`.
    pub etc: PathBuf,
}

impl Default for Roots {
    /// `/proc`, `/sys`, `/etc`.
    fn default() -> Self {
        Roots {
            proc: PathBuf::from("/proc"),
            sys: PathBuf::from("/sys"),
            etc: PathBuf::from("/etc"),
        }
    }
}

impl Roots {
    /// `prefix/proc`, `prefix/sys`, `prefix/etc`: a fixture tree, or the host's files mounted into a
    /// container at e.g. `/host`.
    pub fn under(prefix: &Path) -> Roots {
        Roots {
            proc: prefix.join("proc"),
            sys: prefix.join("sys"),
            etc: prefix.join("etc"),
        }
    }
}

/// Everything the physical host's counter sample reports, in the record structs' units.
#[derive(Debug, Clone, PartialEq)]
pub struct HostSnapshot {
    /// Kernel hostname; empty when unknown.
    pub hostname: String,
    /// Kernel release (`uname -r`); empty when unknown.
    pub os_release: String,
    /// See [`wire::machine_type`].
    pub machine_type: u32,
    /// [`wire::OS_NAME_LINUX`].
    pub os_name: u32,
    /// The host UUID given to the reader; all zeros when unknown.
    pub uuid: [u8; 16],
    /// Adapters, sorted by ifIndex, at most [`MAX_ADAPTERS`].
    pub adapters: Vec<wire::Adapter>,
    /// `host_cpu`.
    pub cpu: wire::HostCpu,
    /// `host_memory`.
    pub memory: wire::HostMemory,
    /// `host_disk_io`.
    pub disk: wire::HostDiskIo,
    /// `host_net_io`.
    pub net: wire::NetIo,
    /// `virt_node`; `num_domains` is left unknown by the reader for the caller to set.
    pub node: wire::VirtNode,
    /// The MIB-II groups of `/proc/net/snmp` (2007 to 2010).
    pub mib2: wire::Mib2,
}

impl Default for HostSnapshot {
    /// Every field unknown.
    fn default() -> Self {
        HostSnapshot {
            hostname: String::new(),
            os_release: String::new(),
            machine_type: wire::machine_type::UNKNOWN,
            os_name: 0,
            uuid: [0; 16],
            adapters: Vec::new(),
            cpu: wire::HostCpu::UNKNOWN,
            memory: wire::HostMemory::UNKNOWN,
            disk: wire::HostDiskIo::UNKNOWN,
            net: wire::NetIo::UNKNOWN,
            node: wire::VirtNode::UNKNOWN,
            mib2: wire::Mib2::UNKNOWN,
        }
    }
}

impl HostSnapshot {
    /// The `host_descr` record, borrowing the strings.
    pub fn host_descr(&self) -> wire::HostDescr<'_> {
        wire::HostDescr {
            hostname: &self.hostname,
            uuid: self.uuid,
            machine_type: self.machine_type,
            os_name: self.os_name,
            os_release: &self.os_release,
        }
    }

    /// The records of the host's counter sample (data source 2:1), in the order they are sent:
    /// `host_descr`, `host_adapters`, `host_cpu`, `host_memory`, `host_disk_io`, `host_net_io`,
    /// the MIB-II groups (`mib2_ip_group`, `mib2_icmp_group`, `mib2_tcp_group`, `mib2_udp_group`), then
    /// `virt_node` with `num_domains` set when container tracking is on (`Some`, the number of
    /// containers tracked), no `virt_node` at all when it is off (`None`).
    ///
    /// This is the one place the host sample's records are put together: the agent sends what it
    /// returns, and tests and benches encode the same.
    pub fn sample_records(&self, num_domains: Option<u32>) -> HostRecords<'_> {
        let mut node = self.node;
        if let Some(n) = num_domains {
            node.num_domains = n;
        }
        HostRecords {
            records: [
                CounterRecord::HostDescr(self.host_descr()),
                CounterRecord::HostAdapters(wire::HostAdapters {
                    adapters: &self.adapters,
                }),
                CounterRecord::HostCpu(self.cpu),
                CounterRecord::HostMemory(self.memory),
                CounterRecord::HostDiskIo(self.disk),
                CounterRecord::HostNetIo(self.net),
                CounterRecord::Mib2Ip(self.mib2.ip),
                CounterRecord::Mib2Icmp(self.mib2.icmp),
                CounterRecord::Mib2Tcp(self.mib2.tcp),
                CounterRecord::Mib2Udp(self.mib2.udp),
                CounterRecord::VirtNode(node),
            ],
            with_node: num_domains.is_some(),
        }
    }
}

/// The data source of the physical host's counter sample: 2:1.
pub const HOST_DATA_SOURCE: wire::DataSource = wire::DataSource {
    class: wire::DS_CLASS_PHYSICAL,
    index: 1,
};

/// The records of one host counter sample, from [`HostSnapshot::sample_records`].
#[derive(Debug, Clone, Copy)]
pub struct HostRecords<'a> {
    records: [CounterRecord<'a>; 11],
    /// Whether the last record, `virt_node`, is sent.
    with_node: bool,
}

impl<'a> HostRecords<'a> {
    /// The records, in wire order.
    pub fn as_slice(&self) -> &[CounterRecord<'a>] {
        match (self.with_node, self.records.split_last()) {
            (false, Some((_, without_node))) => without_node,
            _ => &self.records,
        }
    }

    /// The counter sample of data source [`HOST_DATA_SOURCE`] carrying these records.
    pub fn sample(&self, sequence: u32) -> wire::CounterSample<'_> {
        wire::CounterSample {
            sequence,
            source: HOST_DATA_SOURCE,
            records: self.as_slice(),
        }
    }
}

/// How long the slowly changing figures (kernel release, CPU speed) are reused before they are read
/// again.
pub const RARE_REFRESH: Duration = Duration::from_secs(60);

/// Reads the physical host's counters; holds the roots, the files kept open and the buffers reused
/// from one poll to the next.
#[derive(Debug)]
pub struct HostReader {
    roots: Roots,
    uuid: [u8; 16],
    machine_type: u32,
    ticks_per_second: u64,
    /// Whole files.
    files: file::FileBuf,
    /// Small attribute files, read while `files` holds /proc/net/dev.
    attributes: file::FileBuf,
    paths: file::PathBuilder,
    cpu_files: cpu::CpuFiles,
    memory_files: memory::MemoryFiles,
    disk_files: disk::DiskFiles,
    net_dev: kept::KeptFile,
    net_snmp: kept::KeptFile,
    interfaces: interfaces::Interfaces,
    hostname: kept::KeptFile,
    rare: RareFigures,
}

/// What is read once per [`RARE_REFRESH`].
#[derive(Debug, Default)]
struct RareFigures {
    os_release: String,
    cpu_speed: Option<u32>,
    /// When to read them again; `None` before the first read.
    refresh_at: Option<Instant>,
}

impl HostReader {
    /// A reader of the files under `roots`, reporting `uuid` (all zeros for unknown) in `host_descr`.
    /// Files are opened on the first read.
    pub fn new(roots: Roots, uuid: [u8; 16]) -> HostReader {
        HostReader {
            uuid,
            machine_type: machine_type_of(std::env::consts::ARCH),
            ticks_per_second: crate::sys::clock_ticks_per_second(),
            files: file::FileBuf::default(),
            attributes: file::FileBuf::default(),
            paths: file::PathBuilder::default(),
            cpu_files: cpu::CpuFiles::new(&roots),
            memory_files: memory::MemoryFiles::new(&roots),
            disk_files: disk::DiskFiles::new(&roots),
            net_dev: kept::KeptFile::new(roots.proc.join("net/dev")),
            net_snmp: kept::KeptFile::new(roots.proc.join("net/snmp")),
            interfaces: interfaces::Interfaces::default(),
            hostname: kept::KeptFile::new(roots.proc.join("sys/kernel/hostname")),
            rare: RareFigures::default(),
            roots,
        }
    }

    /// Changes the UUID reported from the next read on.
    pub fn set_uuid(&mut self, uuid: [u8; 16]) {
        self.uuid = uuid;
    }

    /// The roots files are read under.
    pub fn roots(&self) -> &Roots {
        &self.roots
    }

    /// Refreshes every field of `out` from the files as they are now (see the module docs).
    pub fn read(&mut self, out: &mut HostSnapshot) {
        let now = Instant::now();
        let HostReader {
            roots,
            uuid,
            machine_type,
            ticks_per_second,
            files,
            attributes,
            paths,
            cpu_files,
            memory_files,
            disk_files,
            net_dev,
            net_snmp,
            interfaces,
            hostname,
            rare,
        } = self;

        if rare.refresh_at.is_none_or(|at| now >= at) {
            descr::read_os_release(files, paths, roots, &mut rare.os_release);
            rare.cpu_speed = cpu::read_cpu_speed(files, paths, roots);
            rare.refresh_at = Some(now + RARE_REFRESH);
        }

        descr::read_hostname(files, hostname, now, &mut out.hostname);
        out.os_release.clear();
        out.os_release.push_str(&rare.os_release);
        out.machine_type = *machine_type;
        out.os_name = wire::OS_NAME_LINUX;
        out.uuid = *uuid;

        out.cpu = cpu::read_cpu(files, cpu_files, *ticks_per_second, now);
        if let Some(mhz) = rare.cpu_speed {
            out.cpu.cpu_speed = mhz;
        }
        out.memory = memory::read_memory(files, memory_files, now);

        out.disk = wire::HostDiskIo::UNKNOWN;
        disk::read_disk(files, paths, disk_files, roots, now, &mut out.disk);

        out.net = wire::NetIo::UNKNOWN;
        out.adapters.clear();
        if let Some(text) = net_dev.read(files, file::Extent::Whole, now) {
            let (net, adapters) = (&mut out.net, &mut out.adapters);
            interfaces.read(text, attributes, paths, roots, now, net, adapters);
        }

        out.mib2 = wire::Mib2::UNKNOWN;
        if let Some(text) = net_snmp.read(files, file::Extent::Whole, now) {
            snmp::parse_snmp(text, &mut out.mib2);
        }

        out.node = wire::VirtNode {
            mhz: out.cpu.cpu_speed,
            cpus: out.cpu.cpu_num,
            memory: out.memory.mem_total,
            memory_free: out.memory.mem_free,
            num_domains: UNKNOWN_U32,
        };
    }
}
