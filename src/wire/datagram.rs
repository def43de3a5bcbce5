//! The sFlow v5 datagram header (`sample_datagram_v5`) in front of the samples.

use std::net::IpAddr;

use super::xdr::Writer;
use super::Error;

/// The sFlow version this crate speaks.
pub const SFLOW_VERSION: u32 = 5;

/// `agent_address.type` for an IPv4 agent.
const ADDRESS_IPV4: u32 = 1;
/// `agent_address.type` for an IPv6 agent.
const ADDRESS_IPV6: u32 = 2;

/// Bytes of a datagram header with an IPv4 agent address.
pub const HEADER_LEN_IPV4: usize = 28;
/// Bytes of a datagram header with an IPv6 agent address.
pub const HEADER_LEN_IPV6: usize = 40;
/// The longest datagram header (an IPv6 agent address): the room a sender reserves when it does not
/// yet know, or may change, the agent's address family.
pub const MAX_HEADER_LEN: usize = HEADER_LEN_IPV6;

/// Bytes of the header of a datagram sent with agent address `agent`: [`HEADER_LEN_IPV4`] or
/// [`HEADER_LEN_IPV6`].
pub const fn header_len_for(agent: IpAddr) -> usize {
    match agent {
        IpAddr::V4(_) => HEADER_LEN_IPV4,
        IpAddr::V6(_) => HEADER_LEN_IPV6,
    }
}

/// The header of one datagram.
///
/// A sender reserves [`DatagramHeader::header_len`] bytes at the start of its datagram buffer,
/// packs samples after them and writes the header last, when `num_samples` is known.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DatagramHeader {
    /// The agent's address, as sent (an IPv4 address makes a 28-byte header, IPv6 a 40-byte one).
    pub agent: IpAddr,
    /// Sub-agent id; the reference agent's default is 100000.
    pub sub_agent_id: u32,
    /// Datagram sequence number for this sub-agent; the first datagram is 1.
    pub sequence: u32,
    /// Milliseconds since the agent started (wraps after about 49.7 days).
    pub uptime_ms: u32,
    /// Number of samples that follow the header.
    pub num_samples: u32,
}

impl DatagramHeader {
    /// Bytes of the header: 28 with an IPv4 agent address, 40 with IPv6.
    pub const fn header_len(&self) -> usize {
        header_len_for(self.agent)
    }

    /// Writes the header at the start of `buf` and returns the bytes written (`header_len()`).
    ///
    /// On [`Error::Truncated`] some of `buf` may have been written; it holds no usable header.
    pub fn emit(&self, buf: &mut [u8]) -> Result<usize, Error> {
        let mut w = Writer::new(buf);
        w.put_u32(SFLOW_VERSION)?;
        match self.agent {
            IpAddr::V4(addr) => {
                w.put_u32(ADDRESS_IPV4)?;
                w.put_opaque_fixed(&addr.octets())?;
            }
            IpAddr::V6(addr) => {
                w.put_u32(ADDRESS_IPV6)?;
                w.put_opaque_fixed(&addr.octets())?;
            }
        }
        w.put_u32(self.sub_agent_id)?;
        w.put_u32(self.sequence)?;
        w.put_u32(self.uptime_ms)?;
        w.put_u32(self.num_samples)?;
        Ok(w.written())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::{Ipv4Addr, Ipv6Addr};

    const V4: DatagramHeader = DatagramHeader {
        agent: IpAddr::V4(Ipv4Addr::new(192, 0, 2, 2)),
        sub_agent_id: 100001,
        sequence: 16,
        uptime_ms: 44279,
        num_samples: 1,
    };

    const V6: DatagramHeader = DatagramHeader {
        agent: IpAddr::V6(Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, 0x1234)),
        sub_agent_id: 100000,
        sequence: 0x0102_0304,
        uptime_ms: 0xfffe_fdfc,
        num_samples: 64,
    };

    #[test]
    fn ipv4_header() {
        assert_eq!(V4.header_len(), 28);
        assert_eq!(HEADER_LEN_IPV4, 28);
        let mut buf = [0xa5; 32];
        assert_eq!(V4.emit(&mut buf), Ok(28));
        // The same bytes as the first 28 of the reference agent's dg16.bin.
        #[rustfmt::skip]
        let expected: [u8; 32] = [
            0x00, 0x00, 0x00, 0x05, // version 5
            0x00, 0x00, 0x00, 0x01, // address type IPv4
            0xc0, 0x00, 0x02, 0x02, // 192.0.2.2
            0x00, 0x01, 0x86, 0xa1, // sub_agent_id 100001
            0x00, 0x00, 0x00, 0x10, // sequence 16
            0x00, 0x00, 0xac, 0xf7, // uptime 44279 ms
            0x00, 0x00, 0x00, 0x01, // num_samples 1
            0xa5, 0xa5, 0xa5, 0xa5, // untouched
        ];
        assert_eq!(buf, expected);
    }

    #[test]
    fn ipv6_header() {
        assert_eq!(V6.header_len(), 40);
        assert_eq!((HEADER_LEN_IPV6, MAX_HEADER_LEN), (40, 40));
        let mut buf = [0xa5; 44];
        assert_eq!(V6.emit(&mut buf), Ok(40));
        #[rustfmt::skip]
        let expected: [u8; 44] = [
            0x00, 0x00, 0x00, 0x05, // version 5
            0x00, 0x00, 0x00, 0x02, // address type IPv6
            0x20, 0x01, 0x0d, 0xb8, 0x00, 0x00, 0x00, 0x00, // 2001:db8::1234
            0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x12, 0x34,
            0x00, 0x01, 0x86, 0xa0, // sub_agent_id 100000
            0x01, 0x02, 0x03, 0x04, // sequence
            0xff, 0xfe, 0xfd, 0xfc, // uptime
            0x00, 0x00, 0x00, 0x40, // num_samples 64
            0xa5, 0xa5, 0xa5, 0xa5, // untouched
        ];
        assert_eq!(buf, expected);
    }

    #[test]
    fn every_short_buffer_is_an_error() {
        for header in [V4, V6] {
            for len in 0..header.header_len() {
                let mut buf = vec![0xa5; len];
                assert_eq!(header.emit(&mut buf), Err(Error::Truncated));
            }
        }
    }
}
