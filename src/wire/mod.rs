//! sFlow version 5 wire format: counter records, counter samples, flow samples and datagram headers.
//!
//! This is the bottom layer of the agent. It turns plain-data representations (one struct per
//! counter record such as [`HostDescr`], the [`CounterSample`] and the [`DatagramHeader`]) into the
//! bytes sFlow v5 puts on the wire (XDR: big-endian, 4-byte aligned), writing into buffers the
//! caller owns.
//!
//! # Contract
//!
//! - **Lengths first.** Every structure knows its size before it is written: `encoded_len()` on
//!   each record and sample, [`DatagramHeader::header_len`] for the header ([`header_len_for`] an
//!   agent address, at most [`MAX_HEADER_LEN`]; callers take header sizes from here, never as
//!   numbers of their own). A caller packs samples into a datagram buffer (1400 bytes is the sFlow
//!   default) by comparing these sizes with the room left. `emit` itself does not walk the lengths
//!   first: a sample's (and `host_adapters`') length field is filled in once its records are
//!   written, so encoding a sample walks its records once.
//! - **Exact writes.** A successful `emit` writes exactly `encoded_len()` bytes (`header_len()`
//!   for the header) from the start of the buffer, every one of them: string and MAC padding is
//!   written as zeros, so a reused buffer never leaks stale bytes. The sample and header `emit`s
//!   return that count.
//! - **Never allocates, never panics.** No path of the encoder allocates or can panic, whatever
//!   the values and buffer sizes. Strings longer than their XDR limit (64 bytes for a hostname, 32
//!   for an OS release) are cut at the last UTF-8 character boundary within the limit.
//! - **Short buffers.** When the buffer is too short, `emit` returns [`Error::Truncated`]. Nothing
//!   is promised about the bytes already written (nor about how far a [`Writer`] advanced): they
//!   are a partial structure, and the caller must not send them. [`Error::TooLong`] is returned
//!   for a structure whose length does not fit its 32-bit length field (only reachable with
//!   buffers of several gigabytes).
//!
//! The [`json`] submodule renders a sample as one JSON object for debugging output. Unlike the
//! encoder, it allocates.

mod datagram;
mod flow;
mod host_records;
pub mod json;
mod mib2_records;
mod port_records;
mod records;
mod sample;
#[cfg(test)]
mod testutil;
mod virt_records;
mod xdr;

pub use datagram::{
    header_len_for, DatagramHeader, HEADER_LEN_IPV4, HEADER_LEN_IPV6, MAX_HEADER_LEN, SFLOW_VERSION,
};
pub use flow::{
    header_protocol, ExtendedEntities, FlowRecord, FlowSample, SampledHeader, IF_INTERNAL,
    MAX_SAMPLED_HEADER,
};
pub use host_records::NetIoKind;
pub use mib2_records::{Mib2, Mib2Icmp, Mib2Ip, Mib2Tcp, Mib2Udp};
pub use records::*;
pub use xdr::{cut_str, string_len, Writer};

use core::fmt;

/// Data format tags (`enterprise << 12 | format`; all standard structures, so enterprise 0).
pub mod tag {
    /// 0:3 `flow_sample_expanded`.
    pub const FLOW_SAMPLE_EXPANDED: u32 = 3;
    /// 0:1 `sampled_header` (a flow record).
    pub const SAMPLED_HEADER: u32 = 1;
    /// 0:2210 `extended_entities` (a flow record).
    pub const EXTENDED_ENTITIES: u32 = 2210;
    /// 0:1 `if_counters` (a counter record).
    pub const IF_COUNTERS: u32 = 1;
    /// 0:1005 `port_name` (a counter record).
    pub const PORT_NAME: u32 = 1005;
    /// 0:2007 `mib2_ip_group`.
    pub const MIB2_IP: u32 = 2007;
    /// 0:2008 `mib2_icmp_group`.
    pub const MIB2_ICMP: u32 = 2008;
    /// 0:2009 `mib2_tcp_group`.
    pub const MIB2_TCP: u32 = 2009;
    /// 0:2010 `mib2_udp_group`.
    pub const MIB2_UDP: u32 = 2010;
    /// 0:4 `counters_sample_expanded`.
    pub const COUNTERS_SAMPLE_EXPANDED: u32 = 4;
    /// 0:2000 `host_descr`.
    pub const HOST_DESCR: u32 = 2000;
    /// 0:2001 `host_adapters`.
    pub const HOST_ADAPTERS: u32 = 2001;
    /// 0:2002 `host_parent`.
    pub const HOST_PARENT: u32 = 2002;
    /// 0:2003 `host_cpu`.
    pub const HOST_CPU: u32 = 2003;
    /// 0:2004 `host_memory`.
    pub const HOST_MEMORY: u32 = 2004;
    /// 0:2005 `host_disk_io`.
    pub const HOST_DISK_IO: u32 = 2005;
    /// 0:2006 `host_net_io`.
    pub const HOST_NET_IO: u32 = 2006;
    /// 0:2100 `virt_node`.
    pub const VIRT_NODE: u32 = 2100;
    /// 0:2101 `virt_cpu`.
    pub const VIRT_CPU: u32 = 2101;
    /// 0:2102 `virt_memory`.
    pub const VIRT_MEMORY: u32 = 2102;
    /// 0:2103 `virt_disk_io`.
    pub const VIRT_DISK_IO: u32 = 2103;
    /// 0:2104 `virt_net_io`.
    pub const VIRT_NET_IO: u32 = 2104;
}

/// A sample the exporter can pack into a datagram: a counter sample or a flow sample.
pub trait Sample {
    /// Bytes on the wire.
    fn encoded_len(&self) -> usize;
    /// Writes the sample at the start of `buf` and returns the bytes written.
    fn emit(&self, buf: &mut [u8]) -> Result<usize, Error>;
}

impl Sample for CounterSample<'_> {
    fn encoded_len(&self) -> usize {
        CounterSample::encoded_len(self)
    }
    fn emit(&self, buf: &mut [u8]) -> Result<usize, Error> {
        CounterSample::emit(self, buf)
    }
}

impl Sample for FlowSample<'_> {
    fn encoded_len(&self) -> usize {
        FlowSample::encoded_len(self)
    }
    fn emit(&self, buf: &mut [u8]) -> Result<usize, Error> {
        FlowSample::emit(self, buf)
    }
}

/// Bytes of the tag and length words in front of every record and sample body.
pub const RECORD_HEADER_LEN: usize = 8;

/// Why an encoder could not write a structure.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Error {
    /// The buffer is shorter than the structure being written.
    Truncated,
    /// The structure is longer than its 32-bit XDR length field can say.
    TooLong,
}

impl Error {
    /// A static description of the error.
    pub const fn as_str(self) -> &'static str {
        match self {
            Error::Truncated => "sFlow encoder: buffer too short",
            Error::TooLong => "sFlow encoder: structure longer than its 32-bit length field",
        }
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::error::Error for Error {}

#[cfg(test)]
mod tests {
    use super::Error;

    #[test]
    fn error_display_is_static_text() {
        assert_eq!(
            Error::Truncated.to_string(),
            "sFlow encoder: buffer too short"
        );
        assert_eq!(
            Error::TooLong.to_string(),
            "sFlow encoder: structure longer than its 32-bit length field"
        );
    }
}
