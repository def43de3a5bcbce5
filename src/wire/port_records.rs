//! Counter records of a network port (an interface the agent samples packets on): 0:1
//! `if_counters` and 0:1005 `port_name`, sent with data source 0:ifIndex so a collector can scale
//! the port's flow samples by its packet counts.
//!
//! Each record writes its tag, its body length and its body; see the module docs of
//! [`crate::wire`] for the contract.

use super::xdr::{cut_str, len_u32, pad4, Writer};
use super::{tag, Error, RECORD_HEADER_LEN};
use super::{IfCounters, PortName, PORT_NAME_MAX};

impl IfCounters {
    /// Body bytes, the same for every value.
    const BODY_LEN: usize = 88;

    /// The record's tag, 0:1.
    pub const fn tag(&self) -> u32 {
        tag::IF_COUNTERS
    }

    /// Body bytes: always 88.
    pub const fn body_len(&self) -> usize {
        Self::BODY_LEN
    }

    /// Bytes on the wire, tag and length included.
    pub const fn encoded_len(&self) -> usize {
        RECORD_HEADER_LEN + self.body_len()
    }

    /// Writes the record (`encoded_len()` bytes).
    pub fn emit(&self, w: &mut Writer<'_>) -> Result<(), Error> {
        w.record::<{ RECORD_HEADER_LEN + IfCounters::BODY_LEN }>(self.tag())?
            .u32(self.if_index)
            .u32(self.if_type)
            .u64(self.if_speed)
            .u32(self.if_direction)
            .u32(self.if_status)
            .u64(self.in_octets)
            .u32(self.in_ucast_pkts)
            .u32(self.in_multicast_pkts)
            .u32(self.in_broadcast_pkts)
            .u32(self.in_discards)
            .u32(self.in_errors)
            .u32(self.in_unknown_protos)
            .u64(self.out_octets)
            .u32(self.out_ucast_pkts)
            .u32(self.out_multicast_pkts)
            .u32(self.out_broadcast_pkts)
            .u32(self.out_discards)
            .u32(self.out_errors)
            .u32(self.promiscuous_mode);
        Ok(())
    }
}

impl PortName<'_> {
    /// The record's tag, 0:1005.
    pub const fn tag(&self) -> u32 {
        tag::PORT_NAME
    }

    /// Body bytes: the name's length word and its (cut) bytes padded to 4.
    pub fn body_len(&self) -> usize {
        pad4(cut_str(self.name, PORT_NAME_MAX).len()).saturating_add(4)
    }

    /// Bytes on the wire, tag and length included.
    pub fn encoded_len(&self) -> usize {
        RECORD_HEADER_LEN.saturating_add(self.body_len())
    }

    /// Writes the record (`encoded_len()` bytes).
    pub fn emit(&self, w: &mut Writer<'_>) -> Result<(), Error> {
        let name = cut_str(self.name, PORT_NAME_MAX).as_bytes();
        if w.remaining() < self.encoded_len() {
            return Err(Error::Truncated);
        }
        w.fixed::<12>()?
            .u32(self.tag())
            .u32(len_u32(self.body_len())?)
            .u32(len_u32(name.len())?);
        w.put_opaque_fixed(name)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::testutil::emit;

    pub(crate) const IF_COUNTERS: IfCounters = IfCounters {
        if_index: 7,
        if_type: 6,
        if_speed: 10_000_000_000,
        if_direction: 1,
        if_status: 3,
        in_octets: 0x1_0000_0002,
        in_ucast_pkts: 3,
        in_multicast_pkts: 4,
        in_broadcast_pkts: 5,
        in_discards: 6,
        in_errors: 7,
        in_unknown_protos: 8,
        out_octets: 9,
        out_ucast_pkts: 10,
        out_multicast_pkts: 11,
        out_broadcast_pkts: 12,
        out_discards: 13,
        out_errors: 14,
        promiscuous_mode: 0,
    };

    #[test]
    fn if_counters_golden_bytes() {
        #[rustfmt::skip]
        let expected: [u8; 96] = [
            0, 0, 0, 1, 0, 0, 0, 88, // tag 0:1, length 88
            0, 0, 0, 7, // ifIndex
            0, 0, 0, 6, // ifType (ethernetCsmacd)
            0, 0, 0, 2, 0x54, 0x0b, 0xe4, 0x00, // ifSpeed 10 Gb/s
            0, 0, 0, 1, // ifDirection full duplex
            0, 0, 0, 3, // ifStatus admin and oper up
            0, 0, 0, 1, 0, 0, 0, 2, // ifInOctets
            0, 0, 0, 3, 0, 0, 0, 4, 0, 0, 0, 5, // in unicast, multicast, broadcast
            0, 0, 0, 6, 0, 0, 0, 7, 0, 0, 0, 8, // in discards, errors, unknown protos
            0, 0, 0, 0, 0, 0, 0, 9, // ifOutOctets
            0, 0, 0, 10, 0, 0, 0, 11, 0, 0, 0, 12, // out unicast, multicast, broadcast
            0, 0, 0, 13, 0, 0, 0, 14, // out discards, errors
            0, 0, 0, 0, // promiscuous
        ];
        assert_eq!(IF_COUNTERS.encoded_len(), 96);
        assert_eq!(emit(96, |w| IF_COUNTERS.emit(w)), expected);
    }

    #[test]
    fn port_name_golden_bytes_and_cut() {
        let name = PortName { name: "veth1a2" };
        assert_eq!(name.encoded_len(), 20);
        #[rustfmt::skip]
        let expected: [u8; 20] = [
            0, 0, 0x03, 0xed, 0, 0, 0, 12, // tag 0:1005, length 12
            0, 0, 0, 7, b'v', b'e', b't', b'h', b'1', b'a', b'2', 0, // "veth1a2", padded
        ];
        assert_eq!(emit(20, |w| name.emit(w)), expected);
        let long = "x".repeat(300);
        let long = PortName { name: &long };
        assert_eq!(long.body_len(), 4 + 256);
        let bytes = emit(long.encoded_len(), |w| long.emit(w));
        assert_eq!(bytes[8..12], 255u32.to_be_bytes());
        assert_eq!(bytes[12 + 255], 0, "padding");
    }

    #[test]
    fn short_buffers_fail_cleanly() {
        let name = PortName { name: "eth0" };
        for len in 0..name.encoded_len() {
            let mut buf = vec![0xa5; len];
            assert_eq!(name.emit(&mut Writer::new(&mut buf)), Err(Error::Truncated));
        }
        for len in 0..IF_COUNTERS.encoded_len() {
            let mut buf = vec![0xa5; len];
            assert_eq!(
                IF_COUNTERS.emit(&mut Writer::new(&mut buf)),
                Err(Error::Truncated)
            );
        }
    }
}
