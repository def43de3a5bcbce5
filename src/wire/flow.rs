//! Packet sampling on the wire: the expanded flow sample (0:3) and the flow records it carries,
//! 0:1 `sampled_header` and 0:2210 `extended_entities`.
//!
//! Same contract as the rest of [`crate::wire`]: lengths first, exact writes (the header's XDR
//! padding is written as zeros), no allocation, no panic, [`Error::Truncated`] on a short buffer.

use super::xdr::{len_u32, pad4, Writer};
use super::{tag, DataSource, Error, RECORD_HEADER_LEN};

/// Longest packet header a `sampled_header` carries (the reference agent's `HSP_MAX_HEADER_BYTES`).
pub const MAX_SAMPLED_HEADER: usize = 256;

/// `sampled_header.header_protocol` values.
pub mod header_protocol {
    /// An Ethernet frame, MAC header first.
    pub const ETHERNET: u32 = 1;
    /// An IPv4 packet.
    pub const IPV4: u32 = 11;
    /// An IPv6 packet.
    pub const IPV6: u32 = 12;
}

/// The `input`/`output` value of a flow sample for traffic to or from the agent's own host
/// (`0x3FFFFFFF`, "internal").
pub const IF_INTERNAL: u32 = 0x3FFF_FFFF;

/// 0:1 `sampled_header`: the first bytes of a sampled packet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SampledHeader<'a> {
    /// What the header starts with ([`header_protocol`]).
    pub protocol: u32,
    /// Length of the original frame, `stripped` included.
    pub frame_length: u32,
    /// Bytes taken off the end of the frame before the header was taken (4 for an Ethernet FCS).
    pub stripped: u32,
    /// The header, at most [`MAX_SAMPLED_HEADER`] bytes sent (longer is cut).
    pub header: &'a [u8],
}

/// 0:2210 `extended_entities`: the data sources (3:N for a container; 0:0 for none) a sampled
/// packet came from and went to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ExtendedEntities {
    /// The source's data source.
    pub src: DataSource,
    /// The destination's data source.
    pub dst: DataSource,
}

/// One record of a flow sample.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[allow(missing_docs)]
pub enum FlowRecord<'a> {
    SampledHeader(SampledHeader<'a>),
    ExtendedEntities(ExtendedEntities),
}

/// An expanded flow sample (0:3): one sampled packet seen on a data source.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FlowSample<'a> {
    /// Per data source sequence number, first sample 1.
    pub sequence: u32,
    /// The sampler: 0:ifIndex of the tapped interface.
    pub source: DataSource,
    /// One packet in `sampling_rate` is sampled.
    pub sampling_rate: u32,
    /// Packets that could have been sampled so far (sampled or not).
    pub sample_pool: u32,
    /// Samples lost so far for lack of resources.
    pub drops: u32,
    /// ifIndex the packet came in on (format 0); 0 unknown, [`IF_INTERNAL`] the host itself.
    pub input: u32,
    /// ifIndex the packet went out on (format 0); 0 unknown, [`IF_INTERNAL`] the host itself.
    pub output: u32,
    /// The records, in wire order.
    pub records: &'a [FlowRecord<'a>],
}

impl SampledHeader<'_> {
    /// The header as sent: cut to [`MAX_SAMPLED_HEADER`].
    fn sent(&self) -> &[u8] {
        self.header.get(..MAX_SAMPLED_HEADER).unwrap_or(self.header)
    }

    /// Body bytes: 16 plus the header padded to 4.
    pub fn body_len(&self) -> usize {
        16 + pad4(self.sent().len())
    }

    /// Writes the record (`RECORD_HEADER_LEN + body_len()` bytes).
    pub fn emit(&self, w: &mut Writer<'_>) -> Result<(), Error> {
        let header = self.sent();
        if w.remaining() < RECORD_HEADER_LEN + self.body_len() {
            return Err(Error::Truncated);
        }
        w.fixed::<24>()?
            .u32(tag::SAMPLED_HEADER)
            .u32(len_u32(self.body_len())?)
            .u32(self.protocol)
            .u32(self.frame_length)
            .u32(self.stripped)
            .u32(len_u32(header.len())?);
        w.put_opaque_fixed(header)
    }
}

impl ExtendedEntities {
    /// Body bytes, the same for every value.
    const BODY_LEN: usize = 16;

    /// Writes the record (24 bytes).
    pub fn emit(&self, w: &mut Writer<'_>) -> Result<(), Error> {
        w.record::<{ RECORD_HEADER_LEN + ExtendedEntities::BODY_LEN }>(tag::EXTENDED_ENTITIES)?
            .u32(self.src.class)
            .u32(self.src.index)
            .u32(self.dst.class)
            .u32(self.dst.index);
        Ok(())
    }
}

impl FlowRecord<'_> {
    /// The record's tag.
    pub const fn tag(&self) -> u32 {
        match self {
            FlowRecord::SampledHeader(_) => tag::SAMPLED_HEADER,
            FlowRecord::ExtendedEntities(_) => tag::EXTENDED_ENTITIES,
        }
    }

    /// The name of the sFlow structure.
    pub const fn name(&self) -> &'static str {
        match self {
            FlowRecord::SampledHeader(_) => "sampled_header",
            FlowRecord::ExtendedEntities(_) => "extended_entities",
        }
    }

    /// Body bytes, without the tag and length.
    pub fn body_len(&self) -> usize {
        match self {
            FlowRecord::SampledHeader(r) => r.body_len(),
            FlowRecord::ExtendedEntities(_) => ExtendedEntities::BODY_LEN,
        }
    }

    /// Bytes on the wire, tag and length included.
    pub fn encoded_len(&self) -> usize {
        RECORD_HEADER_LEN + self.body_len()
    }

    /// Writes the record (`encoded_len()` bytes).
    pub fn emit(&self, w: &mut Writer<'_>) -> Result<(), Error> {
        match self {
            FlowRecord::SampledHeader(r) => r.emit(w),
            FlowRecord::ExtendedEntities(r) => r.emit(w),
        }
    }
}

impl FlowSample<'_> {
    /// Bytes of the sample before its records: tag, length and 11 words.
    pub const HEADER_LEN: usize = 52;

    /// Body bytes: 44 plus every record with its tag and length.
    pub fn body_len(&self) -> usize {
        super::sample::sample_body_len(
            Self::HEADER_LEN,
            self.records.iter().map(|r| r.encoded_len()),
        )
    }

    /// Bytes on the wire.
    pub fn encoded_len(&self) -> usize {
        RECORD_HEADER_LEN.saturating_add(self.body_len())
    }

    /// Writes the sample as a `flow_sample_expanded` (0:3) at the start of `buf`, records in slice
    /// order, and returns the bytes written (`encoded_len()`).
    pub fn emit(&self, buf: &mut [u8]) -> Result<usize, Error> {
        let mut w = Writer::new(buf);
        let mut header = w.fixed::<{ FlowSample::HEADER_LEN }>()?;
        self.records.iter().try_for_each(|r| r.emit(&mut w))?;
        let written = w.written();
        header
            .u32(tag::FLOW_SAMPLE_EXPANDED)
            .u32(len_u32(written.saturating_sub(RECORD_HEADER_LEN))?)
            .u32(self.sequence)
            .u32(self.source.class)
            .u32(self.source.index)
            .u32(self.sampling_rate)
            .u32(self.sample_pool)
            .u32(self.drops)
            .u32(0) // input format: ifIndex
            .u32(self.input)
            .u32(0) // output format: ifIndex
            .u32(self.output)
            .u32(len_u32(self.records.len())?);
        Ok(written)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample<'a>(records: &'a [FlowRecord<'a>]) -> FlowSample<'a> {
        FlowSample {
            sequence: 9,
            source: DataSource { class: 0, index: 5 },
            sampling_rate: 400,
            sample_pool: 123_456,
            drops: 2,
            input: 5,
            output: IF_INTERNAL,
            records,
        }
    }

    #[test]
    fn flow_sample_golden_bytes() {
        let header = [0x02, 0x42, 0xac, 0x11, 0x00, 0x02, 0xee];
        let records = [
            FlowRecord::SampledHeader(SampledHeader {
                protocol: header_protocol::ETHERNET,
                frame_length: 1066,
                stripped: 4,
                header: &header,
            }),
            FlowRecord::ExtendedEntities(ExtendedEntities {
                src: DataSource {
                    class: 3,
                    index: 100_001,
                },
                dst: DataSource { class: 0, index: 0 },
            }),
        ];
        let s = sample(&records);
        assert_eq!(s.encoded_len(), 52 + 8 + 16 + 8 + 24);
        let mut buf = [0xa5; 112];
        assert_eq!(s.emit(&mut buf), Ok(108));
        #[rustfmt::skip]
        let expected: [u8; 112] = [
            0, 0, 0, 3, 0, 0, 0, 100, // tag 0:3, length 100
            0, 0, 0, 9, // sequence
            0, 0, 0, 0, 0, 0, 0, 5, // source 0:5
            0, 0, 0x01, 0x90, // sampling rate 400
            0, 0x01, 0xe2, 0x40, // sample pool 123456
            0, 0, 0, 2, // drops
            0, 0, 0, 0, 0, 0, 0, 5, // input format 0, ifIndex 5
            0, 0, 0, 0, 0x3f, 0xff, 0xff, 0xff, // output format 0, internal
            0, 0, 0, 2, // two records
            0, 0, 0, 1, 0, 0, 0, 24, // sampled_header, length 24
            0, 0, 0, 1, // Ethernet
            0, 0, 0x04, 0x2a, // frame length 1066
            0, 0, 0, 4, // stripped
            0, 0, 0, 7, 0x02, 0x42, 0xac, 0x11, 0x00, 0x02, 0xee, 0, // header, padded
            0, 0, 0x08, 0xa2, 0, 0, 0, 16, // extended_entities, length 16
            0, 0, 0, 3, 0, 0x01, 0x86, 0xa1, // source 3:100001
            0, 0, 0, 0, 0, 0, 0, 0, // destination none
            0xa5, 0xa5, 0xa5, 0xa5, // untouched
        ];
        assert_eq!(buf, expected);
    }

    #[test]
    fn a_long_header_is_cut_to_256_bytes() {
        let header = [0x11; 300];
        let records = [FlowRecord::SampledHeader(SampledHeader {
            protocol: 1,
            frame_length: 304,
            stripped: 4,
            header: &header,
        })];
        let s = sample(&records);
        assert_eq!(s.encoded_len(), 52 + 8 + 16 + 256);
        let mut buf = vec![0xa5; s.encoded_len()];
        assert_eq!(s.emit(&mut buf), Ok(s.encoded_len()));
        assert_eq!(buf[52 + 8 + 12..52 + 8 + 16], 256u32.to_be_bytes());
    }

    #[test]
    fn short_buffers_fail_cleanly() {
        let header = [1, 2, 3, 4, 5];
        let records = [
            FlowRecord::SampledHeader(SampledHeader {
                protocol: 1,
                frame_length: 64,
                stripped: 4,
                header: &header,
            }),
            FlowRecord::ExtendedEntities(ExtendedEntities {
                src: DataSource { class: 3, index: 1 },
                dst: DataSource { class: 3, index: 2 },
            }),
        ];
        let s = sample(&records);
        for len in 0..s.encoded_len() {
            let mut buf = vec![0xa5; len];
            assert_eq!(s.emit(&mut buf), Err(Error::Truncated), "{len}");
        }
    }
}

/// The independent decoder reads what this encoder writes.
#[cfg(test)]
mod decoder_tests {
    use super::*;
    use crate::wire::{CounterRecord, CounterSample, DatagramHeader, IfCounters, PortName};
    use flowparser_sflow::counter_records::CounterRecord as DecodedCounter;
    use flowparser_sflow::flow_records::FlowRecord as DecodedFlow;
    use flowparser_sflow::{SflowParser, SflowSample};

    #[test]
    fn flowparser_decodes_a_flow_sample_and_port_counters() {
        let frame: Vec<u8> = (0..90u8).collect();
        let flow_records = [
            FlowRecord::SampledHeader(SampledHeader {
                protocol: header_protocol::ETHERNET,
                frame_length: 1066,
                stripped: 4,
                header: &frame,
            }),
            FlowRecord::ExtendedEntities(ExtendedEntities {
                src: DataSource {
                    class: 3,
                    index: 100_007,
                },
                dst: DataSource { class: 0, index: 0 },
            }),
        ];
        let flow = FlowSample {
            sequence: 1,
            source: DataSource { class: 0, index: 7 },
            sampling_rate: 400,
            sample_pool: 4000,
            drops: 1,
            input: 7,
            output: IF_INTERNAL,
            records: &flow_records,
        };
        let counters = IfCounters {
            if_index: 7,
            if_type: 6,
            if_speed: 10_000_000_000,
            if_direction: 1,
            if_status: 3,
            in_octets: 1000,
            in_ucast_pkts: 10,
            in_multicast_pkts: 0,
            in_broadcast_pkts: 0,
            in_discards: 0,
            in_errors: 0,
            in_unknown_protos: u32::MAX,
            out_octets: 2000,
            out_ucast_pkts: 20,
            out_multicast_pkts: 0,
            out_broadcast_pkts: 0,
            out_discards: 0,
            out_errors: 0,
            promiscuous_mode: 0,
        };
        let counter_records = [
            CounterRecord::IfCounters(counters),
            CounterRecord::PortName(PortName { name: "veth7" }),
        ];
        let port = CounterSample {
            sequence: 1,
            source: DataSource { class: 0, index: 7 },
            records: &counter_records,
        };
        let mut buf = vec![0u8; 1400];
        let header = DatagramHeader {
            agent: std::net::IpAddr::from([127, 0, 0, 1]),
            sub_agent_id: 1,
            sequence: 1,
            uptime_ms: 5,
            num_samples: 2,
        };
        let mut n = header.emit(&mut buf).unwrap();
        n += flow.emit(&mut buf[n..]).unwrap();
        n += port.emit(&mut buf[n..]).unwrap();
        let r = SflowParser::default().parse_bytes(&buf[..n]);
        assert!(r.error.is_none(), "{:?}", r.error);
        let d = &r.datagrams[0];
        assert_eq!(d.samples.len(), 2);
        let SflowSample::ExpandedFlow(f) = &d.samples[0] else {
            panic!("{:?}", d.samples[0]);
        };
        assert_eq!(
            (f.source_id_index, f.sampling_rate, f.sample_pool, f.drops),
            (7, 400, 4000, 1)
        );
        assert_eq!((f.input_value, f.output_value), (7, IF_INTERNAL));
        let DecodedFlow::RawPacketHeader(h) = &f.records[0] else {
            panic!("{:?}", f.records[0]);
        };
        assert_eq!(
            (h.header_protocol, h.frame_length, h.stripped),
            (1, 1066, 4)
        );
        assert_eq!(h.header, frame);
        let DecodedFlow::ExtendedEntities(e) = &f.records[1] else {
            panic!("{:?}", f.records[1]);
        };
        assert_eq!(
            (e.src_ds_class, e.src_ds_index, e.dst_ds_class),
            (3, 100_007, 0)
        );
        let SflowSample::ExpandedCounter(c) = &d.samples[1] else {
            panic!("{:?}", d.samples[1]);
        };
        let DecodedCounter::GenericInterface(g) = &c.records[0] else {
            panic!("{:?}", c.records[0]);
        };
        assert_eq!(
            (g.if_index, g.if_speed, g.if_in_octets, g.if_out_ucast_pkts),
            (7, 10_000_000_000, 1000, 20)
        );
        let DecodedCounter::PortName(p) = &c.records[1] else {
            panic!("{:?}", c.records[1]);
        };
        assert_eq!(p.name, "veth7");
    }
}
