//! The MIB-II counter groups of the Host sFlow IP extension (`sflow_host_ip.txt`): 0:2007 ip,
//! 0:2008 icmp, 0:2009 tcp and 0:2010 udp, each a run of 32-bit counters in the order of the
//! MIB-II objects. [`FIELDS`](Mib2Ip::FIELDS) names them as the kernel's `/proc/net/snmp` does, so
//! a reader finds each by its column name.
//!
//! Each record writes its tag, its body length and its body; see the module docs of
//! [`crate::wire`] for the contract.

use super::xdr::Writer;
use super::{tag, Error, RECORD_HEADER_LEN, UNKNOWN_U32};

macro_rules! mib2_group {
    ($(#[$doc:meta])* $name:ident, $tag:expr, $n:literal, [$($field:literal),* $(,)?]) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq)]
        pub struct $name(pub [u32; $n]);

        impl $name {
            /// The counters, in wire order, by the kernel's column names in `/proc/net/snmp`.
            pub const FIELDS: [&'static str; $n] = [$($field),*];

            /// Every counter unknown.
            pub const UNKNOWN: Self = Self([UNKNOWN_U32; $n]);

            /// The record's tag.
            pub const fn tag(&self) -> u32 {
                $tag
            }

            /// Body bytes, the same for every value.
            pub const fn body_len(&self) -> usize {
                4 * $n
            }

            /// Bytes on the wire, tag and length included.
            pub const fn encoded_len(&self) -> usize {
                RECORD_HEADER_LEN + self.body_len()
            }

            /// Writes the record (`encoded_len()` bytes).
            pub fn emit(&self, w: &mut Writer<'_>) -> Result<(), Error> {
                let mut item = w.record::<{ RECORD_HEADER_LEN + 4 * $n }>(self.tag())?;
                for v in self.0 {
                    item.u32(v);
                }
                Ok(())
            }
        }
    };
}

mib2_group!(
    /// 0:2007 `mib2_ip_group`: 19 counters (76 bytes).
    Mib2Ip, tag::MIB2_IP, 19,
    ["Forwarding", "DefaultTTL", "InReceives", "InHdrErrors", "InAddrErrors", "ForwDatagrams",
     "InUnknownProtos", "InDiscards", "InDelivers", "OutRequests", "OutDiscards", "OutNoRoutes",
     "ReasmTimeout", "ReasmReqds", "ReasmOKs", "ReasmFails", "FragOKs", "FragFails",
     "FragCreates"]
);

mib2_group!(
    /// 0:2008 `mib2_icmp_group`: 25 counters (100 bytes). The structure has no
    /// icmpInTimestampReps (the kernel's `InTimestampReps` is not sent), as sflow_host_ip.txt,
    /// the reference agent and sflowtool have it.
    Mib2Icmp, tag::MIB2_ICMP, 25,
    ["InMsgs", "InErrors", "InDestUnreachs", "InTimeExcds", "InParmProbs", "InSrcQuenchs",
     "InRedirects", "InEchos", "InEchoReps", "InTimestamps", "InAddrMasks", "InAddrMaskReps",
     "OutMsgs", "OutErrors", "OutDestUnreachs", "OutTimeExcds", "OutParmProbs", "OutSrcQuenchs",
     "OutRedirects", "OutEchos", "OutEchoReps", "OutTimestamps", "OutTimestampReps",
     "OutAddrMasks", "OutAddrMaskReps"]
);

mib2_group!(
    /// 0:2009 `mib2_tcp_group`: 15 counters (60 bytes).
    Mib2Tcp, tag::MIB2_TCP, 15,
    ["RtoAlgorithm", "RtoMin", "RtoMax", "MaxConn", "ActiveOpens", "PassiveOpens",
     "AttemptFails", "EstabResets", "CurrEstab", "InSegs", "OutSegs", "RetransSegs", "InErrs",
     "OutRsts", "InCsumErrors"]
);

mib2_group!(
    /// 0:2010 `mib2_udp_group`: 7 counters (28 bytes).
    Mib2Udp, tag::MIB2_UDP, 7,
    ["InDatagrams", "NoPorts", "InErrors", "OutDatagrams", "RcvbufErrors", "SndbufErrors",
     "InCsumErrors"]
);

/// The four groups together, as one namespace's `/proc/net/snmp` gives them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Mib2 {
    /// 0:2007.
    pub ip: Mib2Ip,
    /// 0:2008.
    pub icmp: Mib2Icmp,
    /// 0:2009.
    pub tcp: Mib2Tcp,
    /// 0:2010.
    pub udp: Mib2Udp,
}

impl Mib2 {
    /// Every counter unknown.
    pub const UNKNOWN: Self = Mib2 {
        ip: Mib2Ip::UNKNOWN,
        icmp: Mib2Icmp::UNKNOWN,
        tcp: Mib2Tcp::UNKNOWN,
        udp: Mib2Udp::UNKNOWN,
    };
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::testutil::emit;

    #[test]
    fn golden_bytes_and_lengths() {
        let mut udp = Mib2Udp([0; 7]);
        for (i, v) in udp.0.iter_mut().enumerate() {
            *v = i as u32 + 1;
        }
        #[rustfmt::skip]
        let expected: [u8; 36] = [
            0, 0, 0x07, 0xda, 0, 0, 0, 28, // tag 0:2010, length 28
            0, 0, 0, 1, 0, 0, 0, 2, 0, 0, 0, 3, 0, 0, 0, 4,
            0, 0, 0, 5, 0, 0, 0, 6, 0, 0, 0, 7,
        ];
        assert_eq!(emit(36, |w| udp.emit(w)), expected);
        assert_eq!(
            (Mib2Ip::UNKNOWN.tag(), Mib2Ip::UNKNOWN.body_len()),
            (2007, 76)
        );
        assert_eq!(
            (Mib2Icmp::UNKNOWN.tag(), Mib2Icmp::UNKNOWN.body_len()),
            (2008, 100)
        );
        assert_eq!(
            (Mib2Tcp::UNKNOWN.tag(), Mib2Tcp::UNKNOWN.body_len()),
            (2009, 60)
        );
        let bytes = emit(68, |w| Mib2Tcp::UNKNOWN.emit(w));
        assert!(bytes[8..].iter().all(|&b| b == 0xff), "unknown is all ones");
    }

    #[test]
    fn short_buffers_fail_cleanly() {
        for len in 0..Mib2Icmp::UNKNOWN.encoded_len() {
            let mut buf = vec![0xa5; len];
            assert_eq!(
                Mib2Icmp::UNKNOWN.emit(&mut Writer::new(&mut buf)),
                Err(Error::Truncated)
            );
        }
    }
}
