//! The physical host as data source 2:1: reads its counters and hands one sample to the sink.
//!
//! The sample's records come from [`HostSnapshot::sample_records`], the one builder of the host
//! sample, and are sent whole: no record or adapter is dropped to fit `datagramBytes`.

use crate::host::{HostReader, HostSnapshot, Roots};

use super::container_counters::HostPart;
use super::sink::Sink;

/// The host data source.
pub struct HostSource {
    reader: HostReader,
    snapshot: HostSnapshot,
    sequence: u32,
}

impl HostSource {
    /// A host source reading under `roots`, reporting `uuid`.
    pub fn new(roots: Roots, uuid: [u8; 16]) -> HostSource {
        let mut source = HostSource {
            reader: HostReader::new(roots, uuid),
            snapshot: HostSnapshot::default(),
            sequence: 0,
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
    ///
    /// The sample is never cut: all its records go out, whatever `datagramBytes` says; a sample
    /// larger than that goes out alone in a datagram of its own (see the exporter). It always fits
    /// the largest datagram, as at most [`MAX_ADAPTERS`](crate::host::MAX_ADAPTERS) adapters are
    /// read.
    pub fn sample(&mut self, num_domains: Option<u32>, sink: &mut Sink, now_ms: u64) {
        self.reader.read(&mut self.snapshot);
        self.sequence = self.sequence.wrapping_add(1);
        let records = self.snapshot.sample_records(num_domains);
        let sample = records.sample(self.sequence);
        sink.send(&sample, now_ms);
    }
}

#[cfg(test)]
mod tests {
    use super::super::exporter::Exporter;
    use super::*;
    use crate::config::{Collector, MAX_DATAGRAM_BYTES};
    use crate::host::MAX_ADAPTERS;
    use crate::wire::{tag, Adapter, HEADER_LEN_IPV4, MAX_HEADER_LEN};
    use std::net::{IpAddr, UdpSocket};
    use std::path::Path;
    use std::rc::Rc;
    use std::time::Duration;

    fn be32(d: &[u8], at: usize) -> u32 {
        u32::from_be_bytes([d[at], d[at + 1], d[at + 2], d[at + 3]])
    }

    /// The (tag, body) of each record of the one sample in datagram `d` (IPv4 header).
    fn records(d: &[u8]) -> Vec<(u32, &[u8])> {
        assert_eq!(be32(d, 24), 1, "one sample");
        let count = be32(d, HEADER_LEN_IPV4 + 20) as usize;
        let mut at = HEADER_LEN_IPV4 + 24;
        let mut out = Vec::new();
        for _ in 0..count {
            let (t, len) = (be32(d, at), be32(d, at + 4) as usize);
            out.push((t, &d[at + 8..at + 8 + len]));
            at += 8 + len;
        }
        assert_eq!(at, d.len(), "nothing after the sample");
        out
    }

    #[test]
    fn a_host_sample_over_datagram_bytes_keeps_its_adapters_and_goes_out_alone() {
        let sock = UdpSocket::bind("127.0.0.1:0").unwrap();
        sock.set_read_timeout(Some(Duration::from_millis(500)))
            .unwrap();
        let collector = Collector {
            ip: IpAddr::from([127, 0, 0, 1]),
            port: sock.local_addr().unwrap().port(),
        };
        let poller = Rc::new(polling::Poller::new().unwrap());
        let exporter = Exporter::new(&poller, IpAddr::from([192, 0, 2, 1]), 100000, 200);
        let mut sink = Sink {
            exporter,
            printer: None,
        };
        sink.exporter.set_collectors(&[collector]);
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/host/complete");
        let mut host = HostSource::new(Roots::under(&root), [7; 16]);

        host.sample(Some(4), &mut sink, 1000);
        sink.exporter.flush(1000);

        let mut buf = [0u8; 9000];
        let n = sock.recv(&mut buf).unwrap();
        let d = &buf[..n];
        assert!(n > 200, "the sample is larger than datagramBytes: {n}");
        let recs = records(d);
        let tags: Vec<u32> = recs.iter().map(|r| r.0).collect();
        assert_eq!(
            tags,
            [
                tag::HOST_DESCR,
                tag::HOST_ADAPTERS,
                tag::HOST_CPU,
                tag::HOST_MEMORY,
                tag::HOST_DISK_IO,
                tag::HOST_NET_IO,
                tag::MIB2_IP,
                tag::MIB2_ICMP,
                tag::MIB2_TCP,
                tag::MIB2_UDP,
                tag::VIRT_NODE
            ]
        );
        let adapters = recs[1].1;
        assert_eq!(be32(adapters, 0), 3, "all three adapters of the fixture");
        assert_eq!(adapters.len(), 4 + 3 * 16);
        // The first adapter: ifIndex 2, one MAC, 52:54:00:12:34:56.
        assert_eq!((be32(adapters, 4), be32(adapters, 8)), (2, 1));
        assert_eq!(&adapters[12..18], &[0x52, 0x54, 0x00, 0x12, 0x34, 0x56]);
        assert_eq!(be32(recs[10].1, 24), 4, "virt_node num_domains");
        assert_eq!(sink.exporter.stats().datagrams, 1);
        assert_eq!(sink.exporter.stats().dropped_samples, 0);
    }

    #[test]
    fn the_largest_host_sample_fits_the_largest_datagram() {
        let snapshot = HostSnapshot {
            hostname: "h".repeat(200),
            os_release: "r".repeat(200),
            adapters: (0..MAX_ADAPTERS as u32)
                .map(|if_index| Adapter {
                    if_index,
                    mac: Some([2; 6]),
                })
                .collect(),
            ..HostSnapshot::default()
        };
        let records = snapshot.sample_records(Some(u32::MAX));
        let len = records.sample(u32::MAX).encoded_len();
        assert!(
            MAX_HEADER_LEN + len <= MAX_DATAGRAM_BYTES,
            "{len} bytes with {MAX_ADAPTERS} adapters"
        );
    }
}
