//! Shared test fixtures: one value of every record, with distinct field values, and an emit helper.

use super::xdr::Writer;
use super::*;

/// Emits into a buffer of sentinel bytes 4 longer than needed; checks the length and that the
/// bytes after the record are untouched; returns the record's bytes.
pub(crate) fn emit(
    encoded_len: usize,
    f: impl FnOnce(&mut Writer) -> Result<(), Error>,
) -> Vec<u8> {
    let mut buf = vec![0xa5; encoded_len + 4];
    let mut w = Writer::new(&mut buf);
    f(&mut w).unwrap();
    assert_eq!(w.written(), encoded_len);
    assert_eq!(buf[encoded_len..], [0xa5; 4]);
    buf.truncate(encoded_len);
    buf
}

pub(crate) const HOST_DESCR: HostDescr<'static> = HostDescr {
    hostname: "web-01",
    uuid: [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15],
    machine_type: machine_type::X86_64,
    os_name: OS_NAME_LINUX,
    os_release: "6.1.0-18-amd64",
};

pub(crate) const ADAPTERS: [Adapter; 3] = [
    Adapter {
        if_index: 2,
        mac: Some([0x02, 0x42, 0xac, 0x11, 0x00, 0x02]),
    },
    Adapter {
        if_index: 0,
        mac: None,
    },
    Adapter {
        if_index: 0xffff_fffe,
        mac: Some([0xaa, 0xbb, 0xcc, 0xdd, 0xee, 0xff]),
    },
];

pub(crate) const HOST_CPU: HostCpu = HostCpu {
    load_one: 0.36,
    load_five: 0.29,
    load_fifteen: 0.13,
    proc_run: 1,
    proc_total: 112,
    cpu_num: 2,
    cpu_speed: 2596,
    uptime: 4198,
    cpu_user: 82320,
    cpu_nice: 10,
    cpu_system: 47160,
    cpu_idle: 8241690,
    cpu_wio: 6180,
    cpu_intr: 20,
    cpu_sintr: 770,
    interrupts: 510335,
    contexts: 1104658,
    cpu_steal: 150,
    cpu_guest: 30,
    cpu_guest_nice: 40,
};

pub(crate) const HOST_MEMORY: HostMemory = HostMemory {
    mem_total: 25276502016,
    mem_free: 24038371328,
    mem_shared: 4096,
    mem_buffers: 8609792,
    mem_cached: 993419264,
    swap_total: 2147483648,
    swap_free: 2147479552,
    page_in: 3008649,
    page_out: 1970440,
    swap_in: 5,
    swap_out: 6,
};

pub(crate) const HOST_DISK_IO: HostDiskIo = HostDiskIo {
    disk_total: 270553174016,
    disk_free: 84181200896,
    part_max_used: 6888,
    reads: 88810,
    bytes_read: 3080856576,
    read_time: 45580,
    writes: 17573,
    bytes_written: 2017730560,
    write_time: 11542,
};

pub(crate) const NET_IO: NetIo = NetIo {
    bytes_in: 4294967298,
    pkts_in: 3,
    errs_in: 4,
    drops_in: 5,
    bytes_out: 6000000000,
    pkts_out: 7,
    errs_out: 8,
    drops_out: 9,
};

pub(crate) const VIRT_NODE: VirtNode = VirtNode {
    mhz: 2596,
    cpus: 2,
    memory: 25276502016,
    memory_free: 24038371328,
    num_domains: 3,
};

pub(crate) const VIRT_CPU: VirtCpu = VirtCpu {
    state: 1,
    cpu_time_ms: 15311,
    nr_virt_cpu: 1,
};

pub(crate) const VIRT_MEMORY: VirtMemory = VirtMemory {
    memory: 344064,
    max_memory: 67108864,
};

pub(crate) const VIRT_DISK_IO: VirtDiskIo = VirtDiskIo {
    capacity: 107374182400,
    allocation: 53687091200,
    available: 42949672960,
    rd_req: 21,
    rd_bytes: 20975616,
    wr_req: 20,
    wr_bytes: 20971520,
    errs: 1,
};

/// One of every record, in tag order: host records, then the container's.
pub(crate) fn every_record() -> [CounterRecord<'static>; 12] {
    [
        CounterRecord::HostDescr(HOST_DESCR),
        CounterRecord::HostAdapters(HostAdapters {
            adapters: &ADAPTERS,
        }),
        CounterRecord::HostParent(HostParent {
            container_type: 2,
            container_index: 1,
        }),
        CounterRecord::HostCpu(HOST_CPU),
        CounterRecord::HostMemory(HOST_MEMORY),
        CounterRecord::HostDiskIo(HOST_DISK_IO),
        CounterRecord::HostNetIo(NET_IO),
        CounterRecord::VirtNode(VIRT_NODE),
        CounterRecord::VirtCpu(VIRT_CPU),
        CounterRecord::VirtMemory(VIRT_MEMORY),
        CounterRecord::VirtDiskIo(VIRT_DISK_IO),
        CounterRecord::VirtNetIo(NET_IO),
    ]
}
