//! The encoder never allocates: a full datagram is encoded under a counting global allocator.
//!
//! The counter (the allocation-counter crate, which replaces the global allocator in this test binary
//! only) is per thread, so allocations made by other test-harness threads are not counted.

use std::net::{IpAddr, Ipv4Addr};

use csflowd::host::HostSnapshot;
use csflowd::wire::{
    Adapter, CounterRecord, CounterSample, DataSource, DatagramHeader, HostAdapters, HostDescr,
    HostParent, NetIo, VirtCpu, VirtDiskIo, VirtMemory,
};

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
    // The host sample as the agent builds it (HostSnapshot::sample_records).
    let snapshot = HostSnapshot {
        hostname: "a-rather-long-host-name-that-will-be-cut-at-sixty-four-bytes-é-here".to_string(),
        uuid: [0x42; 16],
        machine_type: 3,
        os_name: 2,
        os_release: "6.1.0-18-amd64".to_string(),
        adapters: adapters.to_vec(),
        ..HostSnapshot::default()
    };
    let host_records = snapshot.sample_records(Some(1));
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
        host_records.sample(1),
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

    let mut len = header.header_len();
    let mut encoded = Ok(());
    let mut header_written = Ok(0);
    let info = allocation_counter::measure(|| {
        for sample in &samples {
            // `get_mut` rather than indexing: the measured code stays panic-free like the agent's.
            match buf.get_mut(len..).map(|rest| sample.emit(rest)) {
                Some(Ok(n)) => len += n,
                Some(Err(e)) => encoded = Err(e),
                None => encoded = Err(csflowd::wire::Error::Truncated),
            }
        }
        header_written = header.emit(&mut buf);
    });

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
    assert_eq!(info.count_total, 0, "allocations while encoding");

    // The counter does count: a deliberate allocation shows up.
    let info = allocation_counter::measure(|| drop(std::hint::black_box(Box::new(len))));
    assert!(info.count_total > 0);
}
