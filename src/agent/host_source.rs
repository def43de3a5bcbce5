//! The physical host as data source 2:1: reads its counters and hands one sample to the sink.

use log::warn;

use crate::host::{HostReader, HostSnapshot, Roots};
use crate::wire::{
    CounterRecord, CounterSample, DataSource, HostAdapters, HostDescr, DS_CLASS_PHYSICAL,
};

use super::container_counters::HostPart;
use super::sink::Sink;

/// Bytes of one adapter with a MAC in `host_adapters`.
const ADAPTER_BYTES: usize = 16;

/// The host data source.
pub struct HostSource {
    reader: HostReader,
    snapshot: HostSnapshot,
    sequence: u32,
    logged_cut: bool,
}

impl HostSource {
    /// A host source reading under `roots`, reporting `uuid`.
    pub fn new(roots: Roots, uuid: [u8; 16]) -> HostSource {
        let mut source = HostSource {
            reader: HostReader::new(roots, uuid),
            snapshot: HostSnapshot::default(),
            sequence: 0,
            logged_cut: false,
        };
        // Containers copy the host's description, possibly before the host's first sample.
        source.reader.read(&mut source.snapshot);
        source
    }

    /// What a container's sample copies from the host: its machine type, OS name and release, and
    /// its CPU count and memory, what a container without limits may use.
    pub fn part(&self) -> HostPart<'_> {
        let s = &self.snapshot;
        HostPart {
            machine_type: s.machine_type,
            os_name: s.os_name,
            os_release: &s.os_release,
            capacity: crate::cgroup::HostCapacity {
                cpus: s.cpu.cpu_num,
                mem_total: s.memory.mem_total,
            },
        }
    }

    /// Changes the UUID reported from the next sample on.
    pub fn set_uuid(&mut self, uuid: [u8; 16]) {
        self.reader.set_uuid(uuid);
    }

    /// Reads the host now and queues its sample. `num_domains` is the number of containers tracked,
    /// `None` when container tracking is off (then no `virt_node` record is sent).
    pub fn sample(
        &mut self,
        num_domains: Option<u32>,
        sink: &mut Sink,
        datagram_bytes: usize,
        now_ms: u64,
    ) {
        self.reader.read(&mut self.snapshot);
        self.sequence = self.sequence.wrapping_add(1);
        let s = &self.snapshot;
        let mut node = s.node;
        let mut adapters = &s.adapters[..];
        loop {
            if let Some(n) = num_domains {
                node.num_domains = n;
            }
            let records = [
                CounterRecord::HostDescr(HostDescr {
                    hostname: &s.hostname,
                    uuid: s.uuid,
                    machine_type: s.machine_type,
                    os_name: s.os_name,
                    os_release: &s.os_release,
                }),
                CounterRecord::HostAdapters(HostAdapters { adapters }),
                CounterRecord::HostCpu(s.cpu),
                CounterRecord::HostMemory(s.memory),
                CounterRecord::HostDiskIo(s.disk),
                CounterRecord::HostNetIo(s.net),
                CounterRecord::VirtNode(node),
            ];
            let n = if num_domains.is_some() {
                records.len()
            } else {
                records.len() - 1
            };
            let sample = CounterSample {
                sequence: self.sequence,
                source: DataSource {
                    class: DS_CLASS_PHYSICAL,
                    index: 1,
                },
                records: &records[..n],
            };
            // A host with hundreds of adapters must still fit one datagram: send as many as fit.
            let room = datagram_bytes.saturating_sub(40);
            let len = sample.encoded_len();
            if len > room && !adapters.is_empty() {
                let excess = (len - room).div_ceil(ADAPTER_BYTES);
                let keep = adapters.len().saturating_sub(excess);
                if !self.logged_cut {
                    self.logged_cut = true;
                    warn!(
                        "host_adapters: {} adapters do not fit in one datagram; sending the first {keep}",
                        adapters.len()
                    );
                }
                adapters = &adapters[..keep];
                continue;
            }
            sink.send(&sample, now_ms);
            return;
        }
    }
}
