//! Encoding of the records that describe virtual nodes and domains (containers here): 0:2100 to
//! 0:2103. (0:2104 `virt_net_io` shares its layout with `host_net_io`; see [`super::NetIoKind`].)
//!
//! Each record writes its tag, its body length and its body; see the module docs of
//! [`crate::wire`] for the contract.

use super::xdr::Writer;
use super::{tag, Error, VirtCpu, VirtDiskIo, VirtMemory, VirtNode, RECORD_HEADER_LEN};

impl VirtNode {
    /// Body bytes, the same for every value.
    const BODY_LEN: usize = 28;

    /// The record's tag, 0:2100.
    pub const fn tag(&self) -> u32 {
        tag::VIRT_NODE
    }

    /// Body bytes: always 28.
    pub const fn body_len(&self) -> usize {
        Self::BODY_LEN
    }

    /// Bytes on the wire, tag and length included.
    pub const fn encoded_len(&self) -> usize {
        RECORD_HEADER_LEN + self.body_len()
    }

    /// Writes the record (`encoded_len()` bytes).
    pub fn emit(&self, w: &mut Writer<'_>) -> Result<(), Error> {
        w.record::<{ RECORD_HEADER_LEN + VirtNode::BODY_LEN }>(self.tag())?
            .u32(self.mhz)
            .u32(self.cpus)
            .u64(self.memory)
            .u64(self.memory_free)
            .u32(self.num_domains);
        Ok(())
    }
}

impl VirtCpu {
    /// Body bytes, the same for every value.
    const BODY_LEN: usize = 12;

    /// The record's tag, 0:2101.
    pub const fn tag(&self) -> u32 {
        tag::VIRT_CPU
    }

    /// Body bytes: always 12.
    pub const fn body_len(&self) -> usize {
        Self::BODY_LEN
    }

    /// Bytes on the wire, tag and length included.
    pub const fn encoded_len(&self) -> usize {
        RECORD_HEADER_LEN + self.body_len()
    }

    /// Writes the record (`encoded_len()` bytes).
    pub fn emit(&self, w: &mut Writer<'_>) -> Result<(), Error> {
        w.record::<{ RECORD_HEADER_LEN + VirtCpu::BODY_LEN }>(self.tag())?
            .u32(self.state)
            .u32(self.cpu_time_ms)
            .u32(self.nr_virt_cpu);
        Ok(())
    }
}

impl VirtMemory {
    /// Body bytes, the same for every value.
    const BODY_LEN: usize = 16;

    /// The record's tag, 0:2102.
    pub const fn tag(&self) -> u32 {
        tag::VIRT_MEMORY
    }

    /// Body bytes: always 16.
    pub const fn body_len(&self) -> usize {
        Self::BODY_LEN
    }

    /// Bytes on the wire, tag and length included.
    pub const fn encoded_len(&self) -> usize {
        RECORD_HEADER_LEN + self.body_len()
    }

    /// Writes the record (`encoded_len()` bytes).
    pub fn emit(&self, w: &mut Writer<'_>) -> Result<(), Error> {
        w.record::<{ RECORD_HEADER_LEN + VirtMemory::BODY_LEN }>(self.tag())?
            .u64(self.memory)
            .u64(self.max_memory);
        Ok(())
    }
}

impl VirtDiskIo {
    /// Body bytes, the same for every value.
    const BODY_LEN: usize = 52;

    /// The record's tag, 0:2103.
    pub const fn tag(&self) -> u32 {
        tag::VIRT_DISK_IO
    }

    /// Body bytes: always 52 (the same size as `host_disk_io`, but another layout).
    pub const fn body_len(&self) -> usize {
        Self::BODY_LEN
    }

    /// Bytes on the wire, tag and length included.
    pub const fn encoded_len(&self) -> usize {
        RECORD_HEADER_LEN + self.body_len()
    }

    /// Writes the record (`encoded_len()` bytes).
    pub fn emit(&self, w: &mut Writer<'_>) -> Result<(), Error> {
        w.record::<{ RECORD_HEADER_LEN + VirtDiskIo::BODY_LEN }>(self.tag())?
            .u64(self.capacity)
            .u64(self.allocation)
            .u64(self.available)
            .u32(self.rd_req)
            .u64(self.rd_bytes)
            .u32(self.wr_req)
            .u64(self.wr_bytes)
            .u32(self.errs);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use crate::wire::testutil::*;

    #[test]
    fn virt_node() {
        assert_eq!(VIRT_NODE.tag(), 2100);
        assert_eq!(emit(36, |w| VIRT_NODE.emit(w)), VIRT_NODE_BYTES);
    }

    #[test]
    fn virt_cpu() {
        assert_eq!(VIRT_CPU.tag(), 2101);
        assert_eq!(emit(20, |w| VIRT_CPU.emit(w)), VIRT_CPU_BYTES);
    }

    #[test]
    fn virt_memory() {
        assert_eq!(VIRT_MEMORY.tag(), 2102);
        assert_eq!(emit(24, |w| VIRT_MEMORY.emit(w)), VIRT_MEMORY_BYTES);
    }

    #[test]
    fn virt_disk_io() {
        assert_eq!(VIRT_DISK_IO.tag(), 2103);
        assert_eq!(emit(60, |w| VIRT_DISK_IO.emit(w)), VIRT_DISK_IO_BYTES);
    }

    #[rustfmt::skip]
    const VIRT_NODE_BYTES: [u8; 36] = [
        0x00, 0x00, 0x08, 0x34, 0x00, 0x00, 0x00, 0x1c, // tag 2100, length 28
        0x00, 0x00, 0x0a, 0x24, // mhz 2596
        0x00, 0x00, 0x00, 0x02, // cpus 2
        0x00, 0x00, 0x00, 0x05, 0xe2, 0x98, 0xd0, 0x00, // memory 25276502016
        0x00, 0x00, 0x00, 0x05, 0x98, 0xcc, 0x70, 0x00, // memory_free 24038371328
        0x00, 0x00, 0x00, 0x03, // num_domains 3
    ];

    #[rustfmt::skip]
    const VIRT_CPU_BYTES: [u8; 20] = [
        0x00, 0x00, 0x08, 0x35, 0x00, 0x00, 0x00, 0x0c, // tag 2101, length 12
        0x00, 0x00, 0x00, 0x01, // state running
        0x00, 0x00, 0x3b, 0xcf, // cpuTime 15311 ms
        0x00, 0x00, 0x00, 0x01, // nrVirtCpu 1
    ];

    #[rustfmt::skip]
    const VIRT_MEMORY_BYTES: [u8; 24] = [
        0x00, 0x00, 0x08, 0x36, 0x00, 0x00, 0x00, 0x10, // tag 2102, length 16
        0x00, 0x00, 0x00, 0x00, 0x00, 0x05, 0x40, 0x00, // memory 344064
        0x00, 0x00, 0x00, 0x00, 0x04, 0x00, 0x00, 0x00, // maxMemory 67108864
    ];

    #[rustfmt::skip]
    const VIRT_DISK_IO_BYTES: [u8; 60] = [
        0x00, 0x00, 0x08, 0x37, 0x00, 0x00, 0x00, 0x34, // tag 2103, length 52
        0x00, 0x00, 0x00, 0x19, 0x00, 0x00, 0x00, 0x00, // capacity 107374182400
        0x00, 0x00, 0x00, 0x0c, 0x80, 0x00, 0x00, 0x00, // allocation 53687091200
        0x00, 0x00, 0x00, 0x0a, 0x00, 0x00, 0x00, 0x00, // available 42949672960
        0x00, 0x00, 0x00, 0x15, // rd_req 21
        0x00, 0x00, 0x00, 0x00, 0x01, 0x40, 0x10, 0x00, // rd_bytes 20975616
        0x00, 0x00, 0x00, 0x14, // wr_req 20
        0x00, 0x00, 0x00, 0x00, 0x01, 0x40, 0x00, 0x00, // wr_bytes 20971520
        0x00, 0x00, 0x00, 0x01, // errs 1
    ];
}
