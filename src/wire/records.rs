//! Counter record representations: plain data, one struct per sFlow structure.
//!
//! Every numeric field holds the value as it goes on the wire. A field whose value is unknown holds the
//! sFlow "unknown" value: all ones for unsigned counters, `-1.0` for the `host_cpu` loads and `-1` for a
//! percentage. Each struct has an `UNKNOWN` constant with every field unknown, so a reader starts from it
//! and fills in only what it could read: a missing file never shows up as a stale or zero value.
//!
//! The wire encoding of the sibling modules is written by hand from these fields; the debugging
//! JSON of [`super::json`] is their `serde::Serialize` (field names and order as declared here).

/// Unknown value of a 32-bit counter.
pub const UNKNOWN_U32: u32 = u32::MAX;
/// Unknown value of a 64-bit counter.
pub const UNKNOWN_U64: u64 = u64::MAX;
/// Unknown value of a `host_cpu` load average.
pub const UNKNOWN_LOAD: f32 = -1.0;
/// Unknown value of a `percentage` field.
pub const UNKNOWN_PERCENT: i32 = -1;

/// Longest hostname in `host_descr` (bytes).
pub const HOSTNAME_MAX: usize = 64;
/// Longest OS release in `host_descr` (bytes).
pub const OS_RELEASE_MAX: usize = 32;

/// `host_descr.machine_type` values used by this agent.
pub mod machine_type {
    /// Unknown.
    pub const UNKNOWN: u32 = 0;
    /// Other.
    pub const OTHER: u32 = 1;
    /// 32-bit x86.
    pub const X86: u32 = 2;
    /// x86_64.
    pub const X86_64: u32 = 3;
    /// ARM, also used for aarch64 (as the reference agent does).
    pub const ARM: u32 = 10;
}

/// `host_descr.os_name` value for Linux.
pub const OS_NAME_LINUX: u32 = 2;

/// Data source class of the physical host (`entPhysicalEntry`).
pub const DS_CLASS_PHYSICAL: u32 = 2;
/// Data source class of a container or VM (`entLogicalEntry`).
pub const DS_CLASS_LOGICAL: u32 = 3;

/// 0:2000 `host_descr`. Strings longer than their limit are cut on a UTF-8 boundary when encoded.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize)]
pub struct HostDescr<'a> {
    /// Host or container name (at most 64 bytes on the wire).
    #[serde(serialize_with = "super::json::hostname")]
    pub hostname: &'a str,
    /// UUID, all zeros when unknown. Fixed 16 bytes on the wire (no length prefix).
    #[serde(serialize_with = "super::json::uuid")]
    pub uuid: [u8; 16],
    /// See [`machine_type`].
    pub machine_type: u32,
    /// See [`OS_NAME_LINUX`].
    pub os_name: u32,
    /// Kernel release, `uname -r` (at most 32 bytes on the wire).
    #[serde(serialize_with = "super::json::os_release")]
    pub os_release: &'a str,
}

/// One adapter of `host_adapters`: an ifIndex and at most one MAC.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize)]
pub struct Adapter {
    /// Interface index, 0 when unknown.
    pub if_index: u32,
    /// The adapter's MAC address; `None` sends `num_macs = 0`.
    #[serde(serialize_with = "super::json::mac")]
    pub mac: Option<[u8; 6]>,
}

/// 0:2001 `host_adapters`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(transparent)]
pub struct HostAdapters<'a> {
    /// The adapters, in the order they are sent.
    pub adapters: &'a [Adapter],
}

/// 0:2002 `host_parent`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub struct HostParent {
    /// Data source class of the parent (2 for the physical host).
    pub container_type: u32,
    /// Data source index of the parent (1 for the physical host).
    pub container_index: u32,
}

/// 0:2003 `host_cpu`, in the 80-byte form (with steal, guest and guest_nice). Times are milliseconds.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize)]
#[allow(missing_docs)]
pub struct HostCpu {
    pub load_one: f32,
    pub load_five: f32,
    pub load_fifteen: f32,
    pub proc_run: u32,
    pub proc_total: u32,
    pub cpu_num: u32,
    /// MHz.
    pub cpu_speed: u32,
    /// Seconds since boot.
    pub uptime: u32,
    pub cpu_user: u32,
    pub cpu_nice: u32,
    pub cpu_system: u32,
    pub cpu_idle: u32,
    pub cpu_wio: u32,
    pub cpu_intr: u32,
    pub cpu_sintr: u32,
    pub interrupts: u32,
    pub contexts: u32,
    pub cpu_steal: u32,
    pub cpu_guest: u32,
    pub cpu_guest_nice: u32,
}

/// 0:2004 `host_memory`. Sizes are bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[allow(missing_docs)]
pub struct HostMemory {
    pub mem_total: u64,
    pub mem_free: u64,
    pub mem_shared: u64,
    pub mem_buffers: u64,
    pub mem_cached: u64,
    pub swap_total: u64,
    pub swap_free: u64,
    pub page_in: u32,
    pub page_out: u32,
    pub swap_in: u32,
    pub swap_out: u32,
}

/// 0:2005 `host_disk_io`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[allow(missing_docs)]
pub struct HostDiskIo {
    pub disk_total: u64,
    pub disk_free: u64,
    /// Hundredths of a percent; -1 unknown.
    pub part_max_used: i32,
    pub reads: u32,
    pub bytes_read: u64,
    /// Milliseconds.
    pub read_time: u32,
    pub writes: u32,
    pub bytes_written: u64,
    /// Milliseconds.
    pub write_time: u32,
}

/// 0:2006 `host_net_io` and 0:2104 `virt_net_io` (identical layout).
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[allow(missing_docs)]
pub struct NetIo {
    pub bytes_in: u64,
    pub pkts_in: u32,
    pub errs_in: u32,
    pub drops_in: u32,
    pub bytes_out: u64,
    pub pkts_out: u32,
    pub errs_out: u32,
    pub drops_out: u32,
}

/// 0:2100 `virt_node`, sent by the physical host.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[allow(missing_docs)]
pub struct VirtNode {
    pub mhz: u32,
    pub cpus: u32,
    pub memory: u64,
    pub memory_free: u64,
    pub num_domains: u32,
}

/// 0:2101 `virt_cpu`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub struct VirtCpu {
    /// libvirt domain state: 0 nostate, 1 running, 3 paused, 4 shutdown, 5 shutoff.
    pub state: u32,
    /// CPU time in milliseconds (wraps at 2^32).
    pub cpu_time_ms: u32,
    /// Number of CPUs the container may use.
    pub nr_virt_cpu: u32,
}

/// 0:2102 `virt_memory`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub struct VirtMemory {
    /// Bytes in use.
    pub memory: u64,
    /// Bytes allowed.
    pub max_memory: u64,
}

/// 0:2103 `virt_disk_io`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[allow(missing_docs)]
pub struct VirtDiskIo {
    pub capacity: u64,
    pub allocation: u64,
    pub available: u64,
    pub rd_req: u32,
    pub rd_bytes: u64,
    pub wr_req: u32,
    pub wr_bytes: u64,
    pub errs: u32,
}

impl HostCpu {
    /// Every field unknown.
    pub const UNKNOWN: Self = Self {
        load_one: UNKNOWN_LOAD,
        load_five: UNKNOWN_LOAD,
        load_fifteen: UNKNOWN_LOAD,
        proc_run: UNKNOWN_U32,
        proc_total: UNKNOWN_U32,
        cpu_num: UNKNOWN_U32,
        cpu_speed: UNKNOWN_U32,
        uptime: UNKNOWN_U32,
        cpu_user: UNKNOWN_U32,
        cpu_nice: UNKNOWN_U32,
        cpu_system: UNKNOWN_U32,
        cpu_idle: UNKNOWN_U32,
        cpu_wio: UNKNOWN_U32,
        cpu_intr: UNKNOWN_U32,
        cpu_sintr: UNKNOWN_U32,
        interrupts: UNKNOWN_U32,
        contexts: UNKNOWN_U32,
        cpu_steal: UNKNOWN_U32,
        cpu_guest: UNKNOWN_U32,
        cpu_guest_nice: UNKNOWN_U32,
    };
}

impl HostMemory {
    /// Every field unknown.
    pub const UNKNOWN: Self = Self {
        mem_total: UNKNOWN_U64,
        mem_free: UNKNOWN_U64,
        mem_shared: UNKNOWN_U64,
        mem_buffers: UNKNOWN_U64,
        mem_cached: UNKNOWN_U64,
        swap_total: UNKNOWN_U64,
        swap_free: UNKNOWN_U64,
        page_in: UNKNOWN_U32,
        page_out: UNKNOWN_U32,
        swap_in: UNKNOWN_U32,
        swap_out: UNKNOWN_U32,
    };
}

impl HostDiskIo {
    /// Every field unknown.
    pub const UNKNOWN: Self = Self {
        disk_total: UNKNOWN_U64,
        disk_free: UNKNOWN_U64,
        part_max_used: UNKNOWN_PERCENT,
        reads: UNKNOWN_U32,
        bytes_read: UNKNOWN_U64,
        read_time: UNKNOWN_U32,
        writes: UNKNOWN_U32,
        bytes_written: UNKNOWN_U64,
        write_time: UNKNOWN_U32,
    };
}

impl NetIo {
    /// Every field unknown.
    pub const UNKNOWN: Self = Self {
        bytes_in: UNKNOWN_U64,
        pkts_in: UNKNOWN_U32,
        errs_in: UNKNOWN_U32,
        drops_in: UNKNOWN_U32,
        bytes_out: UNKNOWN_U64,
        pkts_out: UNKNOWN_U32,
        errs_out: UNKNOWN_U32,
        drops_out: UNKNOWN_U32,
    };
}

impl VirtNode {
    /// Every field unknown.
    pub const UNKNOWN: Self = Self {
        mhz: UNKNOWN_U32,
        cpus: UNKNOWN_U32,
        memory: UNKNOWN_U64,
        memory_free: UNKNOWN_U64,
        num_domains: UNKNOWN_U32,
    };
}

impl VirtCpu {
    /// Every field unknown (state 0, "no state").
    pub const UNKNOWN: Self = Self {
        state: 0,
        cpu_time_ms: UNKNOWN_U32,
        nr_virt_cpu: UNKNOWN_U32,
    };
}

impl VirtMemory {
    /// Every field unknown.
    pub const UNKNOWN: Self = Self {
        memory: UNKNOWN_U64,
        max_memory: UNKNOWN_U64,
    };
}

impl VirtDiskIo {
    /// Every field unknown.
    pub const UNKNOWN: Self = Self {
        capacity: UNKNOWN_U64,
        allocation: UNKNOWN_U64,
        available: UNKNOWN_U64,
        rd_req: UNKNOWN_U32,
        rd_bytes: UNKNOWN_U64,
        wr_req: UNKNOWN_U32,
        wr_bytes: UNKNOWN_U64,
        errs: UNKNOWN_U32,
    };
}

/// Longest `port_name` (bytes).
pub const PORT_NAME_MAX: usize = 255;

/// 0:1 `if_counters`: a network interface's generic counters (RFC 2233 names).
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[allow(missing_docs)]
pub struct IfCounters {
    pub if_index: u32,
    pub if_type: u32,
    /// Bits per second.
    pub if_speed: u64,
    /// 0 unknown, 1 full duplex, 2 half duplex, 3 in, 4 out.
    pub if_direction: u32,
    /// Bit 0 admin up, bit 1 oper up.
    pub if_status: u32,
    pub in_octets: u64,
    pub in_ucast_pkts: u32,
    pub in_multicast_pkts: u32,
    pub in_broadcast_pkts: u32,
    pub in_discards: u32,
    pub in_errors: u32,
    pub in_unknown_protos: u32,
    pub out_octets: u64,
    pub out_ucast_pkts: u32,
    pub out_multicast_pkts: u32,
    pub out_broadcast_pkts: u32,
    pub out_discards: u32,
    pub out_errors: u32,
    pub promiscuous_mode: u32,
}

/// 0:1005 `port_name`: the interface's name (at most [`PORT_NAME_MAX`] bytes on the wire).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PortName<'a> {
    /// The name.
    pub name: &'a str,
}

/// One counter record of a counter sample.
#[derive(Debug, Clone, Copy, PartialEq)]
#[allow(missing_docs)]
pub enum CounterRecord<'a> {
    HostDescr(HostDescr<'a>),
    HostAdapters(HostAdapters<'a>),
    HostParent(HostParent),
    HostCpu(HostCpu),
    HostMemory(HostMemory),
    HostDiskIo(HostDiskIo),
    HostNetIo(NetIo),
    VirtNode(VirtNode),
    VirtCpu(VirtCpu),
    VirtMemory(VirtMemory),
    VirtDiskIo(VirtDiskIo),
    VirtNetIo(NetIo),
    IfCounters(IfCounters),
    PortName(PortName<'a>),
    Mib2Ip(super::Mib2Ip),
    Mib2Icmp(super::Mib2Icmp),
    Mib2Tcp(super::Mib2Tcp),
    Mib2Udp(super::Mib2Udp),
}

/// A data source: `class:index` (2:1 the physical host, 3:N a container).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct DataSource {
    /// Data source class.
    pub class: u32,
    /// Data source index.
    pub index: u32,
}

/// An expanded counter sample (0:4): one data source's records at one moment.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct CounterSample<'a> {
    /// Per data source sequence number, first sample 1.
    pub sequence: u32,
    /// Where the counters come from.
    pub source: DataSource,
    /// The records, in wire order.
    pub records: &'a [CounterRecord<'a>],
}
