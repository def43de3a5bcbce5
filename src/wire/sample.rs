//! Counter records as one type, and the expanded counter sample (0:4) that carries them.

use super::host_records::NetIoKind;
use super::xdr::{len_u32, Writer};
use super::{tag, CounterRecord, CounterSample, Error, RECORD_HEADER_LEN};

impl CounterRecord<'_> {
    /// The record's tag (`enterprise << 12 | format`; enterprise 0, so the format: 1, 1005,
    /// 2000..=2006 or 2100..=2104).
    pub const fn tag(&self) -> u32 {
        match self {
            CounterRecord::HostDescr(_) => tag::HOST_DESCR,
            CounterRecord::HostAdapters(_) => tag::HOST_ADAPTERS,
            CounterRecord::HostParent(_) => tag::HOST_PARENT,
            CounterRecord::HostCpu(_) => tag::HOST_CPU,
            CounterRecord::HostMemory(_) => tag::HOST_MEMORY,
            CounterRecord::HostDiskIo(_) => tag::HOST_DISK_IO,
            CounterRecord::HostNetIo(_) => tag::HOST_NET_IO,
            CounterRecord::VirtNode(_) => tag::VIRT_NODE,
            CounterRecord::VirtCpu(_) => tag::VIRT_CPU,
            CounterRecord::VirtMemory(_) => tag::VIRT_MEMORY,
            CounterRecord::VirtDiskIo(_) => tag::VIRT_DISK_IO,
            CounterRecord::VirtNetIo(_) => tag::VIRT_NET_IO,
            CounterRecord::IfCounters(_) => tag::IF_COUNTERS,
            CounterRecord::PortName(_) => tag::PORT_NAME,
            CounterRecord::Mib2Ip(_) => tag::MIB2_IP,
            CounterRecord::Mib2Icmp(_) => tag::MIB2_ICMP,
            CounterRecord::Mib2Tcp(_) => tag::MIB2_TCP,
            CounterRecord::Mib2Udp(_) => tag::MIB2_UDP,
        }
    }

    /// The name of the sFlow structure, such as `"host_descr"`.
    pub const fn name(&self) -> &'static str {
        match self {
            CounterRecord::HostDescr(_) => "host_descr",
            CounterRecord::HostAdapters(_) => "host_adapters",
            CounterRecord::HostParent(_) => "host_parent",
            CounterRecord::HostCpu(_) => "host_cpu",
            CounterRecord::HostMemory(_) => "host_memory",
            CounterRecord::HostDiskIo(_) => "host_disk_io",
            CounterRecord::HostNetIo(_) => "host_net_io",
            CounterRecord::VirtNode(_) => "virt_node",
            CounterRecord::VirtCpu(_) => "virt_cpu",
            CounterRecord::VirtMemory(_) => "virt_memory",
            CounterRecord::VirtDiskIo(_) => "virt_disk_io",
            CounterRecord::VirtNetIo(_) => "virt_net_io",
            CounterRecord::IfCounters(_) => "if_counters",
            CounterRecord::PortName(_) => "port_name",
            CounterRecord::Mib2Ip(_) => "mib2_ip_group",
            CounterRecord::Mib2Icmp(_) => "mib2_icmp_group",
            CounterRecord::Mib2Tcp(_) => "mib2_tcp_group",
            CounterRecord::Mib2Udp(_) => "mib2_udp_group",
        }
    }

    /// Body bytes, without the tag and length.
    pub fn body_len(&self) -> usize {
        match self {
            CounterRecord::HostDescr(r) => r.body_len(),
            CounterRecord::HostAdapters(r) => r.body_len(),
            CounterRecord::HostParent(r) => r.body_len(),
            CounterRecord::HostCpu(r) => r.body_len(),
            CounterRecord::HostMemory(r) => r.body_len(),
            CounterRecord::HostDiskIo(r) => r.body_len(),
            CounterRecord::HostNetIo(r) | CounterRecord::VirtNetIo(r) => r.body_len(),
            CounterRecord::VirtNode(r) => r.body_len(),
            CounterRecord::VirtCpu(r) => r.body_len(),
            CounterRecord::VirtMemory(r) => r.body_len(),
            CounterRecord::VirtDiskIo(r) => r.body_len(),
            CounterRecord::IfCounters(r) => r.body_len(),
            CounterRecord::PortName(r) => r.body_len(),
            CounterRecord::Mib2Ip(r) => r.body_len(),
            CounterRecord::Mib2Icmp(r) => r.body_len(),
            CounterRecord::Mib2Tcp(r) => r.body_len(),
            CounterRecord::Mib2Udp(r) => r.body_len(),
        }
    }

    /// Bytes on the wire, tag and length included.
    pub fn encoded_len(&self) -> usize {
        RECORD_HEADER_LEN.saturating_add(self.body_len())
    }

    /// Writes the record (`encoded_len()` bytes).
    pub fn emit(&self, w: &mut Writer<'_>) -> Result<(), Error> {
        match self {
            CounterRecord::HostDescr(r) => r.emit(w),
            CounterRecord::HostAdapters(r) => r.emit(w),
            CounterRecord::HostParent(r) => r.emit(w),
            CounterRecord::HostCpu(r) => r.emit(w),
            CounterRecord::HostMemory(r) => r.emit(w),
            CounterRecord::HostDiskIo(r) => r.emit(w),
            CounterRecord::HostNetIo(r) => r.emit(NetIoKind::Host, w),
            CounterRecord::VirtNode(r) => r.emit(w),
            CounterRecord::VirtCpu(r) => r.emit(w),
            CounterRecord::VirtMemory(r) => r.emit(w),
            CounterRecord::VirtDiskIo(r) => r.emit(w),
            CounterRecord::VirtNetIo(r) => r.emit(NetIoKind::Virt, w),
            CounterRecord::IfCounters(r) => r.emit(w),
            CounterRecord::PortName(r) => r.emit(w),
            CounterRecord::Mib2Ip(r) => r.emit(w),
            CounterRecord::Mib2Icmp(r) => r.emit(w),
            CounterRecord::Mib2Tcp(r) => r.emit(w),
            CounterRecord::Mib2Udp(r) => r.emit(w),
        }
    }
}

/// Body bytes of a sample (counter or flow) whose fixed part, tag and length included, is
/// `header_len`: the rest of that part plus every record with its tag and length.
pub(super) fn sample_body_len(
    header_len: usize,
    record_lens: impl Iterator<Item = usize>,
) -> usize {
    record_lens.fold(header_len - RECORD_HEADER_LEN, usize::saturating_add)
}

impl CounterSample<'_> {
    /// Bytes of the sample before its records: tag, length, sequence, source class, source index
    /// and the record count.
    pub const HEADER_LEN: usize = 24;

    /// Body bytes: 16, plus every record with its tag and length.
    pub fn body_len(&self) -> usize {
        sample_body_len(
            Self::HEADER_LEN,
            self.records.iter().map(|r| r.encoded_len()),
        )
    }

    /// Bytes on the wire: 24 plus every record with its tag and length.
    pub fn encoded_len(&self) -> usize {
        RECORD_HEADER_LEN.saturating_add(self.body_len())
    }

    /// Writes the sample as a `counters_sample_expanded` (0:4) at the start of `buf`, records in
    /// slice order, and returns the bytes written (`encoded_len()`).
    ///
    /// On [`Error::Truncated`] some of `buf` may have been written; it holds no usable sample.
    pub fn emit(&self, buf: &mut [u8]) -> Result<usize, Error> {
        let mut w = Writer::new(buf);
        // The header is filled in last, with the length the records took: the records are walked
        // once, not once for their lengths and again to write them. Each record checks its own
        // room, so a short buffer fails at the first record that does not fit.
        let mut header = w.fixed::<{ CounterSample::HEADER_LEN }>()?;
        self.records.iter().try_for_each(|r| r.emit(&mut w))?;
        let written = w.written();
        header
            .u32(tag::COUNTERS_SAMPLE_EXPANDED)
            .u32(len_u32(written.saturating_sub(RECORD_HEADER_LEN))?)
            .u32(self.sequence)
            .u32(self.source.class)
            .u32(self.source.index)
            .u32(len_u32(self.records.len())?);
        Ok(written)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::testutil::*;
    use crate::wire::{DataSource, HostParent, DS_CLASS_LOGICAL, DS_CLASS_PHYSICAL};

    #[test]
    fn record_tags_names_and_lengths() {
        let expected = [
            (2000, "host_descr", 56),
            (2001, "host_adapters", 44),
            (2002, "host_parent", 8),
            (2003, "host_cpu", 80),
            (2004, "host_memory", 72),
            (2005, "host_disk_io", 52),
            (2006, "host_net_io", 40),
            (2100, "virt_node", 28),
            (2101, "virt_cpu", 12),
            (2102, "virt_memory", 16),
            (2103, "virt_disk_io", 52),
            (2104, "virt_net_io", 40),
        ];
        for (record, (tag, name, body_len)) in every_record().iter().zip(expected) {
            assert_eq!(
                (record.tag(), record.name(), record.body_len()),
                (tag, name, body_len)
            );
            assert_eq!(record.encoded_len(), body_len + 8);
            let bytes = emit(record.encoded_len(), |w| record.emit(w));
            assert_eq!(bytes[..4], tag.to_be_bytes(), "{name}");
            assert_eq!(bytes[4..8], (body_len as u32).to_be_bytes(), "{name}");
        }
    }

    #[test]
    fn every_record_fails_cleanly_on_every_short_buffer() {
        for record in every_record() {
            for len in 0..record.encoded_len() {
                let mut buf = vec![0xa5; len];
                let mut w = Writer::new(&mut buf);
                assert_eq!(
                    record.emit(&mut w),
                    Err(Error::Truncated),
                    "{}",
                    record.name()
                );
            }
        }
    }

    #[test]
    fn sample_header_and_records_in_slice_order() {
        let records = [
            CounterRecord::HostParent(HostParent {
                container_type: 2,
                container_index: 1,
            }),
            CounterRecord::VirtCpu(VIRT_CPU),
        ];
        let sample = CounterSample {
            sequence: 7,
            source: DataSource {
                class: DS_CLASS_LOGICAL,
                index: 108628,
            },
            records: &records,
        };
        assert_eq!(sample.encoded_len(), 60);
        let mut buf = [0xa5; 64];
        assert_eq!(sample.emit(&mut buf), Ok(60));
        #[rustfmt::skip]
        let expected: [u8; 64] = [
            0x00, 0x00, 0x00, 0x04, 0x00, 0x00, 0x00, 0x34, // tag 0:4, length 52
            0x00, 0x00, 0x00, 0x07, // sequence 7
            0x00, 0x00, 0x00, 0x03, // source class 3
            0x00, 0x01, 0xa8, 0x54, // source index 108628
            0x00, 0x00, 0x00, 0x02, // num_records 2
            0x00, 0x00, 0x07, 0xd2, 0x00, 0x00, 0x00, 0x08, // host_parent, length 8
            0x00, 0x00, 0x00, 0x02, 0x00, 0x00, 0x00, 0x01, // (2, 1)
            0x00, 0x00, 0x08, 0x35, 0x00, 0x00, 0x00, 0x0c, // virt_cpu, length 12
            0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x3b, 0xcf, // state 1, cpuTime 15311
            0x00, 0x00, 0x00, 0x01, // nrVirtCpu 1
            0xa5, 0xa5, 0xa5, 0xa5, // untouched
        ];
        assert_eq!(buf, expected);
    }

    #[test]
    fn empty_sample_with_a_full_32_bit_index() {
        let sample = CounterSample {
            sequence: 0xffff_ffff,
            source: DataSource {
                class: DS_CLASS_PHYSICAL,
                index: 0xfedc_ba98,
            },
            records: &[],
        };
        let mut buf = [0xa5; 24];
        assert_eq!(sample.emit(&mut buf), Ok(24));
        #[rustfmt::skip]
        let expected: [u8; 24] = [
            0x00, 0x00, 0x00, 0x04, 0x00, 0x00, 0x00, 0x10, // tag 0:4, length 16
            0xff, 0xff, 0xff, 0xff, // sequence
            0x00, 0x00, 0x00, 0x02, // source class 2
            0xfe, 0xdc, 0xba, 0x98, // source index, all 32 bits
            0x00, 0x00, 0x00, 0x00, // num_records 0
        ];
        assert_eq!(buf, expected);
    }

    #[test]
    fn sample_is_the_concatenation_of_its_records() {
        let records = every_record();
        let sample = CounterSample {
            sequence: 1,
            source: DataSource {
                class: DS_CLASS_PHYSICAL,
                index: 1,
            },
            records: &records,
        };
        let len: usize = 24
            + records
                .iter()
                .map(CounterRecord::encoded_len)
                .sum::<usize>();
        assert_eq!(sample.encoded_len(), len);
        let mut buf = vec![0xa5; len];
        assert_eq!(sample.emit(&mut buf), Ok(len));
        let mut offset = 24;
        for record in &records {
            let bytes = emit(record.encoded_len(), |w| record.emit(w));
            assert_eq!(
                buf[offset..offset + bytes.len()],
                bytes[..],
                "{}",
                record.name()
            );
            offset += bytes.len();
        }
        assert_eq!(offset, len);
    }

    #[test]
    fn sample_fails_cleanly_on_every_short_buffer() {
        let records = every_record();
        let sample = CounterSample {
            sequence: 1,
            source: DataSource {
                class: DS_CLASS_PHYSICAL,
                index: 1,
            },
            records: &records,
        };
        for len in 0..sample.encoded_len() {
            let mut buf = vec![0xa5; len];
            assert_eq!(sample.emit(&mut buf), Err(Error::Truncated));
        }
    }
}
