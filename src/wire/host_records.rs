//! Encoding of the Host sFlow records a physical host or a container sends: 0:2000 to 0:2006.
//!
//! Each record writes its tag, its body length and its body; see the module docs of
//! [`crate::wire`] for the contract.

use super::xdr::{cut_str, len_u32, pad4, Writer};
use super::{
    tag, Adapter, Error, HostAdapters, HostCpu, HostDescr, HostDiskIo, HostMemory, HostParent,
    NetIo, HOSTNAME_MAX, OS_RELEASE_MAX, RECORD_HEADER_LEN,
};

impl HostDescr<'_> {
    /// The record's tag, 0:2000.
    pub const fn tag(&self) -> u32 {
        tag::HOST_DESCR
    }

    /// Body bytes: 32 plus both strings (after cutting) padded to 4; 32 to 128.
    pub fn body_len(&self) -> usize {
        let (hostname, os_release) = self.cut_strings();
        Self::body_len_of(hostname, os_release)
    }

    /// The hostname and the OS release as sent: cut to their limits.
    fn cut_strings(&self) -> (&[u8], &[u8]) {
        (
            cut_str(self.hostname, HOSTNAME_MAX).as_bytes(),
            cut_str(self.os_release, OS_RELEASE_MAX).as_bytes(),
        )
    }

    /// Body bytes with these (cut) strings: each string's length word and padded bytes, and the
    /// 24 bytes between them (uuid, machine_type, os_name).
    fn body_len_of(hostname: &[u8], os_release: &[u8]) -> usize {
        (4 + 24 + 4usize)
            .saturating_add(pad4(hostname.len()))
            .saturating_add(pad4(os_release.len()))
    }

    /// Bytes on the wire, tag and length included.
    pub fn encoded_len(&self) -> usize {
        RECORD_HEADER_LEN + self.body_len()
    }

    /// Writes the record (`encoded_len()` bytes).
    pub fn emit(&self, w: &mut Writer<'_>) -> Result<(), Error> {
        // The strings are cut once, for the lengths and the bytes.
        let (hostname, os_release) = self.cut_strings();
        let body_len = Self::body_len_of(hostname, os_release);
        // Tag, length and the hostname's length; its bytes; then the fixed middle up to the OS
        // release's length; its bytes.
        w.fixed::<12>()?
            .u32(self.tag())
            .u32(len_u32(body_len)?)
            .u32(len_u32(hostname.len())?);
        w.put_opaque_fixed(hostname)?;
        w.fixed::<28>()?
            // Fixed 16 bytes, no length prefix (the published `uuid<16>` is an erratum).
            .bytes(self.uuid)
            .u32(self.machine_type)
            .u32(self.os_name)
            .u32(len_u32(os_release.len())?);
        w.put_opaque_fixed(os_release)
    }
}

impl Adapter {
    /// Bytes of this adapter in `host_adapters`: ifIndex, num_macs and 8 bytes per MAC.
    pub const fn encoded_len(&self) -> usize {
        match self.mac {
            Some(_) => 16,
            None => 8,
        }
    }

    fn emit(&self, w: &mut Writer<'_>) -> Result<(), Error> {
        match self.mac {
            Some(mac) => {
                w.fixed::<16>()?.u32(self.if_index).u32(1).mac(mac);
            }
            None => {
                w.fixed::<8>()?.u32(self.if_index).u32(0);
            }
        }
        Ok(())
    }
}

impl HostAdapters<'_> {
    /// The record's tag, 0:2001.
    pub const fn tag(&self) -> u32 {
        tag::HOST_ADAPTERS
    }

    /// Body bytes: 4, plus 8 per adapter, plus 8 per MAC.
    pub fn body_len(&self) -> usize {
        self.adapters
            .iter()
            .fold(4, |len, a| len.saturating_add(a.encoded_len()))
    }

    /// Bytes on the wire, tag and length included.
    pub fn encoded_len(&self) -> usize {
        RECORD_HEADER_LEN.saturating_add(self.body_len())
    }

    /// Writes the record (`encoded_len()` bytes).
    pub fn emit(&self, w: &mut Writer<'_>) -> Result<(), Error> {
        // The header is filled in last, with the length the adapters took: one pass over them.
        let start = w.written();
        let mut header = w.fixed::<12>()?;
        self.adapters.iter().try_for_each(|a| a.emit(w))?;
        let body_len = w.written().saturating_sub(start + RECORD_HEADER_LEN);
        header
            .u32(self.tag())
            .u32(len_u32(body_len)?)
            .u32(len_u32(self.adapters.len())?);
        Ok(())
    }
}

impl HostParent {
    /// Body bytes, the same for every value.
    const BODY_LEN: usize = 8;

    /// The record's tag, 0:2002.
    pub const fn tag(&self) -> u32 {
        tag::HOST_PARENT
    }

    /// Body bytes: always 8.
    pub const fn body_len(&self) -> usize {
        Self::BODY_LEN
    }

    /// Bytes on the wire, tag and length included.
    pub const fn encoded_len(&self) -> usize {
        RECORD_HEADER_LEN + self.body_len()
    }

    /// Writes the record (`encoded_len()` bytes).
    pub fn emit(&self, w: &mut Writer<'_>) -> Result<(), Error> {
        w.record::<{ RECORD_HEADER_LEN + HostParent::BODY_LEN }>(self.tag())?
            .u32(self.container_type)
            .u32(self.container_index);
        Ok(())
    }
}

impl HostCpu {
    /// Body bytes, the same for every value.
    const BODY_LEN: usize = 80;

    /// The record's tag, 0:2003.
    pub const fn tag(&self) -> u32 {
        tag::HOST_CPU
    }

    /// Body bytes: always 80 (the form with steal, guest and guest_nice that hsflowd sends).
    pub const fn body_len(&self) -> usize {
        Self::BODY_LEN
    }

    /// Bytes on the wire, tag and length included.
    pub const fn encoded_len(&self) -> usize {
        RECORD_HEADER_LEN + self.body_len()
    }

    /// Writes the record (`encoded_len()` bytes).
    pub fn emit(&self, w: &mut Writer<'_>) -> Result<(), Error> {
        w.record::<{ RECORD_HEADER_LEN + HostCpu::BODY_LEN }>(self.tag())?
            .f32(self.load_one)
            .f32(self.load_five)
            .f32(self.load_fifteen)
            .u32(self.proc_run)
            .u32(self.proc_total)
            .u32(self.cpu_num)
            .u32(self.cpu_speed)
            .u32(self.uptime)
            .u32(self.cpu_user)
            .u32(self.cpu_nice)
            .u32(self.cpu_system)
            .u32(self.cpu_idle)
            .u32(self.cpu_wio)
            .u32(self.cpu_intr)
            .u32(self.cpu_sintr)
            .u32(self.interrupts)
            .u32(self.contexts)
            .u32(self.cpu_steal)
            .u32(self.cpu_guest)
            .u32(self.cpu_guest_nice);
        Ok(())
    }
}

impl HostMemory {
    /// Body bytes, the same for every value.
    const BODY_LEN: usize = 72;

    /// The record's tag, 0:2004.
    pub const fn tag(&self) -> u32 {
        tag::HOST_MEMORY
    }

    /// Body bytes: always 72.
    pub const fn body_len(&self) -> usize {
        Self::BODY_LEN
    }

    /// Bytes on the wire, tag and length included.
    pub const fn encoded_len(&self) -> usize {
        RECORD_HEADER_LEN + self.body_len()
    }

    /// Writes the record (`encoded_len()` bytes).
    pub fn emit(&self, w: &mut Writer<'_>) -> Result<(), Error> {
        w.record::<{ RECORD_HEADER_LEN + HostMemory::BODY_LEN }>(self.tag())?
            .u64(self.mem_total)
            .u64(self.mem_free)
            .u64(self.mem_shared)
            .u64(self.mem_buffers)
            .u64(self.mem_cached)
            .u64(self.swap_total)
            .u64(self.swap_free)
            .u32(self.page_in)
            .u32(self.page_out)
            .u32(self.swap_in)
            .u32(self.swap_out);
        Ok(())
    }
}

impl HostDiskIo {
    /// Body bytes, the same for every value.
    const BODY_LEN: usize = 52;

    /// The record's tag, 0:2005.
    pub const fn tag(&self) -> u32 {
        tag::HOST_DISK_IO
    }

    /// Body bytes: always 52.
    pub const fn body_len(&self) -> usize {
        Self::BODY_LEN
    }

    /// Bytes on the wire, tag and length included.
    pub const fn encoded_len(&self) -> usize {
        RECORD_HEADER_LEN + self.body_len()
    }

    /// Writes the record (`encoded_len()` bytes).
    pub fn emit(&self, w: &mut Writer<'_>) -> Result<(), Error> {
        w.record::<{ RECORD_HEADER_LEN + HostDiskIo::BODY_LEN }>(self.tag())?
            .u64(self.disk_total)
            .u64(self.disk_free)
            .i32(self.part_max_used)
            .u32(self.reads)
            .u64(self.bytes_read)
            .u32(self.read_time)
            .u32(self.writes)
            .u64(self.bytes_written)
            .u32(self.write_time);
        Ok(())
    }
}

/// Which of the two records with the [`NetIo`] layout is being sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NetIoKind {
    /// 0:2006 `host_net_io`, the physical host's interfaces.
    Host,
    /// 0:2104 `virt_net_io`, a container's interfaces.
    Virt,
}

impl NetIoKind {
    /// The record's tag: 0:2006 or 0:2104.
    pub const fn tag(self) -> u32 {
        match self {
            NetIoKind::Host => tag::HOST_NET_IO,
            NetIoKind::Virt => tag::VIRT_NET_IO,
        }
    }
}

impl NetIo {
    /// Body bytes, the same for every value.
    const BODY_LEN: usize = 40;

    /// Body bytes: always 40.
    pub const fn body_len(&self) -> usize {
        Self::BODY_LEN
    }

    /// Bytes on the wire, tag and length included.
    pub const fn encoded_len(&self) -> usize {
        RECORD_HEADER_LEN + self.body_len()
    }

    /// Writes the record as `host_net_io` or `virt_net_io` (`encoded_len()` bytes).
    pub fn emit(&self, kind: NetIoKind, w: &mut Writer<'_>) -> Result<(), Error> {
        w.record::<{ RECORD_HEADER_LEN + NetIo::BODY_LEN }>(kind.tag())?
            .u64(self.bytes_in)
            .u32(self.pkts_in)
            .u32(self.errs_in)
            .u32(self.drops_in)
            .u64(self.bytes_out)
            .u32(self.pkts_out)
            .u32(self.errs_out)
            .u32(self.drops_out);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::machine_type;
    use crate::wire::testutil::*;

    #[test]
    fn host_descr() {
        assert_eq!(HOST_DESCR.tag(), 2000);
        assert_eq!(HOST_DESCR.body_len(), 56);
        assert_eq!(emit(64, |w| HOST_DESCR.emit(w)), HOST_DESCR_BYTES);
    }

    #[test]
    fn host_descr_cuts_strings_on_a_char_boundary() {
        let hostname = format!("{}é", "a".repeat(63));
        let os_release = format!("{}€", "b".repeat(30));
        let record = HostDescr {
            hostname: &hostname,
            uuid: [0xff; 16],
            machine_type: machine_type::ARM,
            os_name: crate::wire::OS_NAME_LINUX,
            os_release: &os_release,
        };
        assert_eq!(record.body_len(), 128);
        assert_eq!(emit(136, |w| record.emit(w)), HOST_DESCR_CUT_BYTES);
    }

    #[test]
    fn host_descr_with_empty_strings() {
        let record = HostDescr {
            hostname: "",
            uuid: [0; 16],
            machine_type: machine_type::UNKNOWN,
            os_name: 0,
            os_release: "",
        };
        assert_eq!(record.body_len(), 32);
        assert_eq!(emit(40, |w| record.emit(w)), HOST_DESCR_EMPTY_BYTES);
    }

    #[test]
    fn host_adapters() {
        let record = HostAdapters {
            adapters: &ADAPTERS,
        };
        assert_eq!(record.tag(), 2001);
        assert_eq!(record.body_len(), 44);
        assert_eq!(emit(52, |w| record.emit(w)), HOST_ADAPTERS_BYTES);
    }

    #[test]
    fn host_adapters_empty() {
        let record = HostAdapters { adapters: &[] };
        assert_eq!(record.body_len(), 4);
        assert_eq!(emit(12, |w| record.emit(w)), HOST_ADAPTERS_EMPTY_BYTES);
    }

    #[test]
    fn host_parent() {
        let record = HostParent {
            container_type: 2,
            container_index: 1,
        };
        assert_eq!(record.tag(), 2002);
        assert_eq!(emit(16, |w| record.emit(w)), HOST_PARENT_BYTES);
    }

    #[test]
    fn host_cpu() {
        assert_eq!(HOST_CPU.tag(), 2003);
        assert_eq!(emit(88, |w| HOST_CPU.emit(w)), HOST_CPU_BYTES);
    }

    #[test]
    fn host_cpu_unknown() {
        assert_eq!(
            emit(88, |w| HostCpu::UNKNOWN.emit(w)),
            HOST_CPU_UNKNOWN_BYTES
        );
    }

    #[test]
    fn host_memory() {
        assert_eq!(HOST_MEMORY.tag(), 2004);
        assert_eq!(emit(80, |w| HOST_MEMORY.emit(w)), HOST_MEMORY_BYTES);
    }

    #[test]
    fn host_disk_io() {
        assert_eq!(HOST_DISK_IO.tag(), 2005);
        assert_eq!(emit(60, |w| HOST_DISK_IO.emit(w)), HOST_DISK_IO_BYTES);
    }

    #[test]
    fn host_disk_io_unknown() {
        assert_eq!(
            emit(60, |w| HostDiskIo::UNKNOWN.emit(w)),
            HOST_DISK_IO_UNKNOWN_BYTES
        );
    }

    #[test]
    fn host_net_io() {
        assert_eq!(NetIoKind::Host.tag(), 2006);
        assert_eq!(
            emit(48, |w| NET_IO.emit(NetIoKind::Host, w)),
            HOST_NET_IO_BYTES
        );
    }

    #[test]
    fn virt_net_io_has_the_same_layout() {
        assert_eq!(NetIoKind::Virt.tag(), 2104);
        assert_eq!(
            emit(48, |w| NET_IO.emit(NetIoKind::Virt, w)),
            VIRT_NET_IO_BYTES
        );
    }

    #[rustfmt::skip]
    const HOST_DESCR_BYTES: [u8; 64] = [
        0x00, 0x00, 0x07, 0xd0, 0x00, 0x00, 0x00, 0x38, // tag 2000, length 56
        0x00, 0x00, 0x00, 0x06, 0x77, 0x65, 0x62, 0x2d, // hostname "web-01" + 2 zero pad
        0x30, 0x31, 0x00, 0x00,
        0x00, 0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, // uuid, 16 fixed bytes
        0x08, 0x09, 0x0a, 0x0b, 0x0c, 0x0d, 0x0e, 0x0f,
        0x00, 0x00, 0x00, 0x03, // machine_type x86_64
        0x00, 0x00, 0x00, 0x02, // os_name linux
        0x00, 0x00, 0x00, 0x0e, 0x36, 0x2e, 0x31, 0x2e, // os_release "6.1.0-18-amd64" + 2 zero pad
        0x30, 0x2d, 0x31, 0x38, 0x2d, 0x61, 0x6d, 0x64,
        0x36, 0x34, 0x00, 0x00,
    ];

    #[rustfmt::skip]
    const HOST_DESCR_CUT_BYTES: [u8; 136] = [
        0x00, 0x00, 0x07, 0xd0, 0x00, 0x00, 0x00, 0x80, // tag 2000, length 128
        0x00, 0x00, 0x00, 0x3f, 0x61, 0x61, 0x61, 0x61, // hostname: 63 x "a", "é" cut, 1 pad
        0x61, 0x61, 0x61, 0x61, 0x61, 0x61, 0x61, 0x61,
        0x61, 0x61, 0x61, 0x61, 0x61, 0x61, 0x61, 0x61,
        0x61, 0x61, 0x61, 0x61, 0x61, 0x61, 0x61, 0x61,
        0x61, 0x61, 0x61, 0x61, 0x61, 0x61, 0x61, 0x61,
        0x61, 0x61, 0x61, 0x61, 0x61, 0x61, 0x61, 0x61,
        0x61, 0x61, 0x61, 0x61, 0x61, 0x61, 0x61, 0x61,
        0x61, 0x61, 0x61, 0x61, 0x61, 0x61, 0x61, 0x61,
        0x61, 0x61, 0x61, 0x00,
        0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, // uuid
        0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
        0x00, 0x00, 0x00, 0x0a, // machine_type arm
        0x00, 0x00, 0x00, 0x02, // os_name linux
        0x00, 0x00, 0x00, 0x1e, 0x62, 0x62, 0x62, 0x62, // os_release: 30 x "b", "€" cut, 2 pad
        0x62, 0x62, 0x62, 0x62, 0x62, 0x62, 0x62, 0x62,
        0x62, 0x62, 0x62, 0x62, 0x62, 0x62, 0x62, 0x62,
        0x62, 0x62, 0x62, 0x62, 0x62, 0x62, 0x62, 0x62,
        0x62, 0x62, 0x00, 0x00,
    ];

    #[rustfmt::skip]
    const HOST_DESCR_EMPTY_BYTES: [u8; 40] = [
        0x00, 0x00, 0x07, 0xd0, 0x00, 0x00, 0x00, 0x20, // tag 2000, length 32
        0x00, 0x00, 0x00, 0x00, // hostname ""
        0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, // uuid unknown
        0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
        0x00, 0x00, 0x00, 0x00, // machine_type unknown
        0x00, 0x00, 0x00, 0x00, // os_name unknown
        0x00, 0x00, 0x00, 0x00, // os_release ""
    ];

    #[rustfmt::skip]
    const HOST_ADAPTERS_BYTES: [u8; 52] = [
        0x00, 0x00, 0x07, 0xd1, 0x00, 0x00, 0x00, 0x2c, // tag 2001, length 44
        0x00, 0x00, 0x00, 0x03, // num_adapters
        0x00, 0x00, 0x00, 0x02, 0x00, 0x00, 0x00, 0x01, // if_index 2, num_macs 1
        0x02, 0x42, 0xac, 0x11, 0x00, 0x02, 0x00, 0x00, // mac + 2 zero pad
        0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, // if_index 0, num_macs 0
        0xff, 0xff, 0xff, 0xfe, 0x00, 0x00, 0x00, 0x01, // if_index 0xfffffffe, num_macs 1
        0xaa, 0xbb, 0xcc, 0xdd, 0xee, 0xff, 0x00, 0x00, // mac + 2 zero pad
    ];

    #[rustfmt::skip]
    const HOST_ADAPTERS_EMPTY_BYTES: [u8; 12] = [
        0x00, 0x00, 0x07, 0xd1, 0x00, 0x00, 0x00, 0x04, // tag 2001, length 4
        0x00, 0x00, 0x00, 0x00, // num_adapters
    ];

    #[rustfmt::skip]
    const HOST_PARENT_BYTES: [u8; 16] = [
        0x00, 0x00, 0x07, 0xd2, 0x00, 0x00, 0x00, 0x08, // tag 2002, length 8
        0x00, 0x00, 0x00, 0x02, // container_type
        0x00, 0x00, 0x00, 0x01, // container_index
    ];

    #[rustfmt::skip]
    const HOST_CPU_BYTES: [u8; 88] = [
        0x00, 0x00, 0x07, 0xd3, 0x00, 0x00, 0x00, 0x50, // tag 2003, length 80
        0x3e, 0xb8, 0x51, 0xec, // load_one 0.36
        0x3e, 0x94, 0x7a, 0xe1, // load_five 0.29
        0x3e, 0x05, 0x1e, 0xb8, // load_fifteen 0.13
        0x00, 0x00, 0x00, 0x01, // proc_run 1
        0x00, 0x00, 0x00, 0x70, // proc_total 112
        0x00, 0x00, 0x00, 0x02, // cpu_num 2
        0x00, 0x00, 0x0a, 0x24, // cpu_speed 2596
        0x00, 0x00, 0x10, 0x66, // uptime 4198
        0x00, 0x01, 0x41, 0x90, // cpu_user 82320
        0x00, 0x00, 0x00, 0x0a, // cpu_nice 10
        0x00, 0x00, 0xb8, 0x38, // cpu_system 47160
        0x00, 0x7d, 0xc2, 0x1a, // cpu_idle 8241690
        0x00, 0x00, 0x18, 0x24, // cpu_wio 6180
        0x00, 0x00, 0x00, 0x14, // cpu_intr 20
        0x00, 0x00, 0x03, 0x02, // cpu_sintr 770
        0x00, 0x07, 0xc9, 0x7f, // interrupts 510335
        0x00, 0x10, 0xdb, 0x12, // contexts 1104658
        0x00, 0x00, 0x00, 0x96, // cpu_steal 150
        0x00, 0x00, 0x00, 0x1e, // cpu_guest 30
        0x00, 0x00, 0x00, 0x28, // cpu_guest_nice 40
    ];

    #[rustfmt::skip]
    const HOST_CPU_UNKNOWN_BYTES: [u8; 88] = [
        0x00, 0x00, 0x07, 0xd3, 0x00, 0x00, 0x00, 0x50, // tag 2003, length 80
        0xbf, 0x80, 0x00, 0x00, // load_one unknown
        0xbf, 0x80, 0x00, 0x00, // load_five unknown
        0xbf, 0x80, 0x00, 0x00, // load_fifteen unknown
        0xff, 0xff, 0xff, 0xff, // proc_run unknown
        0xff, 0xff, 0xff, 0xff, // proc_total unknown
        0xff, 0xff, 0xff, 0xff, // cpu_num unknown
        0xff, 0xff, 0xff, 0xff, // cpu_speed unknown
        0xff, 0xff, 0xff, 0xff, // uptime unknown
        0xff, 0xff, 0xff, 0xff, // cpu_user unknown
        0xff, 0xff, 0xff, 0xff, // cpu_nice unknown
        0xff, 0xff, 0xff, 0xff, // cpu_system unknown
        0xff, 0xff, 0xff, 0xff, // cpu_idle unknown
        0xff, 0xff, 0xff, 0xff, // cpu_wio unknown
        0xff, 0xff, 0xff, 0xff, // cpu_intr unknown
        0xff, 0xff, 0xff, 0xff, // cpu_sintr unknown
        0xff, 0xff, 0xff, 0xff, // interrupts unknown
        0xff, 0xff, 0xff, 0xff, // contexts unknown
        0xff, 0xff, 0xff, 0xff, // cpu_steal unknown
        0xff, 0xff, 0xff, 0xff, // cpu_guest unknown
        0xff, 0xff, 0xff, 0xff, // cpu_guest_nice unknown
    ];

    #[rustfmt::skip]
    const HOST_MEMORY_BYTES: [u8; 80] = [
        0x00, 0x00, 0x07, 0xd4, 0x00, 0x00, 0x00, 0x48, // tag 2004, length 72
        0x00, 0x00, 0x00, 0x05, 0xe2, 0x98, 0xd0, 0x00, // mem_total 25276502016
        0x00, 0x00, 0x00, 0x05, 0x98, 0xcc, 0x70, 0x00, // mem_free 24038371328
        0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x10, 0x00, // mem_shared 4096
        0x00, 0x00, 0x00, 0x00, 0x00, 0x83, 0x60, 0x00, // mem_buffers 8609792
        0x00, 0x00, 0x00, 0x00, 0x3b, 0x36, 0x60, 0x00, // mem_cached 993419264
        0x00, 0x00, 0x00, 0x00, 0x80, 0x00, 0x00, 0x00, // swap_total 2147483648
        0x00, 0x00, 0x00, 0x00, 0x7f, 0xff, 0xf0, 0x00, // swap_free 2147479552
        0x00, 0x2d, 0xe8, 0x89, // page_in 3008649
        0x00, 0x1e, 0x11, 0x08, // page_out 1970440
        0x00, 0x00, 0x00, 0x05, // swap_in 5
        0x00, 0x00, 0x00, 0x06, // swap_out 6
    ];

    #[rustfmt::skip]
    const HOST_DISK_IO_BYTES: [u8; 60] = [
        0x00, 0x00, 0x07, 0xd5, 0x00, 0x00, 0x00, 0x34, // tag 2005, length 52
        0x00, 0x00, 0x00, 0x3e, 0xfe, 0x39, 0xd0, 0x00, // disk_total 270553174016
        0x00, 0x00, 0x00, 0x13, 0x99, 0x97, 0x30, 0x00, // disk_free 84181200896
        0x00, 0x00, 0x1a, 0xe8, // part_max_used 6888
        0x00, 0x01, 0x5a, 0xea, // reads 88810
        0x00, 0x00, 0x00, 0x00, 0xb7, 0xa2, 0x24, 0x00, // bytes_read 3080856576
        0x00, 0x00, 0xb2, 0x0c, // read_time 45580
        0x00, 0x00, 0x44, 0xa5, // writes 17573
        0x00, 0x00, 0x00, 0x00, 0x78, 0x44, 0x20, 0x00, // bytes_written 2017730560
        0x00, 0x00, 0x2d, 0x16, // write_time 11542
    ];

    #[rustfmt::skip]
    const HOST_DISK_IO_UNKNOWN_BYTES: [u8; 60] = [
        0x00, 0x00, 0x07, 0xd5, 0x00, 0x00, 0x00, 0x34, // tag 2005, length 52
        0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, // disk_total unknown
        0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, // disk_free unknown
        0xff, 0xff, 0xff, 0xff, // part_max_used unknown
        0xff, 0xff, 0xff, 0xff, // reads unknown
        0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, // bytes_read unknown
        0xff, 0xff, 0xff, 0xff, // read_time unknown
        0xff, 0xff, 0xff, 0xff, // writes unknown
        0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, // bytes_written unknown
        0xff, 0xff, 0xff, 0xff, // write_time unknown
    ];

    #[rustfmt::skip]
    const HOST_NET_IO_BYTES: [u8; 48] = [
        0x00, 0x00, 0x07, 0xd6, 0x00, 0x00, 0x00, 0x28, // tag 2006, length 40
        0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x02, // bytes_in 4294967298
        0x00, 0x00, 0x00, 0x03, // pkts_in 3
        0x00, 0x00, 0x00, 0x04, // errs_in 4
        0x00, 0x00, 0x00, 0x05, // drops_in 5
        0x00, 0x00, 0x00, 0x01, 0x65, 0xa0, 0xbc, 0x00, // bytes_out 6000000000
        0x00, 0x00, 0x00, 0x07, // pkts_out 7
        0x00, 0x00, 0x00, 0x08, // errs_out 8
        0x00, 0x00, 0x00, 0x09, // drops_out 9
    ];

    #[rustfmt::skip]
    const VIRT_NET_IO_BYTES: [u8; 48] = [
        0x00, 0x00, 0x08, 0x38, 0x00, 0x00, 0x00, 0x28, // tag 2104, length 40
        0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x02, // bytes_in 4294967298
        0x00, 0x00, 0x00, 0x03, // pkts_in 3
        0x00, 0x00, 0x00, 0x04, // errs_in 4
        0x00, 0x00, 0x00, 0x05, // drops_in 5
        0x00, 0x00, 0x00, 0x01, 0x65, 0xa0, 0xbc, 0x00, // bytes_out 6000000000
        0x00, 0x00, 0x00, 0x07, // pkts_out 7
        0x00, 0x00, 0x00, 0x08, // errs_out 8
        0x00, 0x00, 0x00, 0x09, // drops_out 9
    ];
}
