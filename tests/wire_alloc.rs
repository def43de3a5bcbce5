//! The encoder never allocates: a full datagram is encoded under a counting global allocator.
//!
//! The counter is per thread, so allocations made by other test-harness threads at the same time
//! are not counted. This file needs `unsafe` for the `GlobalAlloc` impl only (test code; the crate
//! itself stays `#![deny(unsafe_code)]`).

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::net::{IpAddr, Ipv4Addr};

use csflowd::wire::{
    Adapter, CounterRecord, CounterSample, DataSource, DatagramHeader, HostAdapters, HostCpu,
    HostDescr, HostDiskIo, HostMemory, HostParent, NetIo, VirtCpu, VirtDiskIo, VirtMemory,
    VirtNode,
};

thread_local! {
    // `const` initialisation: reading it never allocates nor registers a destructor.
    static ALLOCATIONS: Cell<u64> = const { Cell::new(0) };
}

struct CountingAllocator;

fn count_one() {
    // `try_with`: the thread-local may already be gone while a thread exits.
    let _ = ALLOCATIONS.try_with(|n| n.set(n.get() + 1));
}

// SAFETY: every method forwards to `System` with the caller's arguments unchanged, so `System`'s
// guarantees hold; the only addition is a thread-local counter that does not allocate.
#[allow(unsafe_code)]
unsafe impl GlobalAlloc for CountingAllocator {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        count_one();
        // SAFETY: forwarded unchanged; the caller upholds `GlobalAlloc::alloc`'s contract.
        unsafe { System.alloc(layout) }
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        count_one();
        // SAFETY: as above.
        unsafe { System.alloc_zeroed(layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        count_one();
        // SAFETY: as above; `ptr` and `layout` come from this allocator, which is `System`.
        unsafe { System.realloc(ptr, layout, new_size) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: as above.
        unsafe { System.dealloc(ptr, layout) }
    }
}

#[global_allocator]
static GLOBAL: CountingAllocator = CountingAllocator;

fn allocations() -> u64 {
    ALLOCATIONS.with(Cell::get)
}

#[test]
fn encoding_a_full_datagram_does_not_allocate() {
    let adapters = [
        Adapter {
            if_index: 2,
            mac: Some([0x02, 0x42, 0xac, 0x11, 0x00, 0x02]),
        },
        Adapter {
            if_index: 3,
            mac: Some([0x02, 0x42, 0xac, 0x11, 0x00, 0x03]),
        },
        Adapter {
            if_index: 1,
            mac: None,
        },
    ];
    let host_records = [
        CounterRecord::HostDescr(HostDescr {
            hostname: "a-rather-long-host-name-that-will-be-cut-at-sixty-four-bytes-é-here",
            uuid: [0x42; 16],
            machine_type: 3,
            os_name: 2,
            os_release: "6.1.0-18-amd64",
        }),
        CounterRecord::HostAdapters(HostAdapters {
            adapters: &adapters,
        }),
        CounterRecord::HostCpu(HostCpu::UNKNOWN),
        CounterRecord::HostMemory(HostMemory::UNKNOWN),
        CounterRecord::HostDiskIo(HostDiskIo::UNKNOWN),
        CounterRecord::HostNetIo(NetIo::UNKNOWN),
        CounterRecord::VirtNode(VirtNode::UNKNOWN),
    ];
    let container_records = [
        CounterRecord::HostDescr(HostDescr {
            hostname: "hsf-a",
            uuid: [0x52; 16],
            machine_type: 3,
            os_name: 2,
            os_release: "6.1.0-18-amd64",
        }),
        CounterRecord::HostAdapters(HostAdapters {
            adapters: &adapters[..1],
        }),
        CounterRecord::HostParent(HostParent {
            container_type: 2,
            container_index: 1,
        }),
        CounterRecord::VirtCpu(VirtCpu::UNKNOWN),
        CounterRecord::VirtMemory(VirtMemory::UNKNOWN),
        CounterRecord::VirtDiskIo(VirtDiskIo::UNKNOWN),
        CounterRecord::VirtNetIo(NetIo::UNKNOWN),
    ];
    let samples = [
        CounterSample {
            sequence: 1,
            source: DataSource { class: 2, index: 1 },
            records: &host_records,
        },
        CounterSample {
            sequence: 1,
            source: DataSource {
                class: 3,
                index: 108628,
            },
            records: &container_records,
        },
    ];
    let header = DatagramHeader {
        agent: IpAddr::V4(Ipv4Addr::new(192, 0, 2, 2)),
        sub_agent_id: 100000,
        sequence: 1,
        uptime_ms: 12856,
        num_samples: 2,
    };
    let mut buf = [0u8; 1400];

    let before = allocations();
    let mut len = header.header_len();
    let mut encoded = Ok(());
    for sample in &samples {
        // `get_mut` rather than indexing: the measured code stays panic-free like the agent's.
        match buf.get_mut(len..).map(|rest| sample.emit(rest)) {
            Some(Ok(n)) => len += n,
            Some(Err(e)) => encoded = Err(e),
            None => encoded = Err(csflowd::wire::Error::Truncated),
        }
    }
    let header_written = header.emit(&mut buf);
    let after = allocations();

    assert_eq!(encoded, Ok(()));
    assert_eq!(header_written, Ok(28));
    assert_eq!(
        len,
        28 + samples
            .iter()
            .map(CounterSample::encoded_len)
            .sum::<usize>()
    );
    assert!(len > 500, "a realistic datagram: {len} bytes");
    assert_eq!(after - before, 0, "allocations while encoding");

    // The counter does count: a deliberate allocation on this thread shows up.
    let before = allocations();
    let boxed = Box::new(len);
    assert!(allocations() > before);
    drop(boxed);
}
