//! `host_memory` from /proc/meminfo and /proc/vmstat.
//!
//! Each parser fills only the fields it found well formed; the others keep their value (unknown, when the
//! caller starts from [`HostMemory::UNKNOWN`]).

use std::time::Instant;

use super::file::{Extent, FileBuf};
use super::kept::KeptFile;
use super::parse::{fields, lines, parse_u64};
use super::Roots;
use crate::wire::HostMemory;

/// The files read on every poll for `host_memory`.
#[derive(Debug)]
pub(crate) struct MemoryFiles {
    meminfo: KeptFile,
    vmstat: KeptFile,
}

impl MemoryFiles {
    /// `<proc>/{meminfo,vmstat}`, opened on first read.
    pub(crate) fn new(roots: &Roots) -> MemoryFiles {
        MemoryFiles {
            meminfo: KeptFile::new(roots.proc.join("meminfo")),
            vmstat: KeptFile::new(roots.proc.join("vmstat")),
        }
    }
}

/// `host_memory` from `<proc>/meminfo` and `<proc>/vmstat`; fields whose file is missing or malformed
/// are unknown.
pub(crate) fn read_memory(
    files: &mut FileBuf,
    mem_files: &mut MemoryFiles,
    now: Instant,
) -> HostMemory {
    let mut mem = HostMemory::UNKNOWN;
    if let Some(text) = mem_files.meminfo.read(files, Extent::Whole, now) {
        parse_meminfo(text, &mut mem);
    }
    if let Some(text) = mem_files.vmstat.read(files, Extent::Whole, now) {
        parse_vmstat(text, &mut mem);
    }
    mem
}

/// /proc/meminfo: `MemTotal:  24684084 kB` lines, converted to bytes.
pub(crate) fn parse_meminfo(text: &[u8], mem: &mut HostMemory) {
    for line in lines(text) {
        let Some(colon) = line.iter().position(|&b| b == b':') else {
            continue;
        };
        let (key, value) = line.split_at(colon);
        let target = match key {
            b"MemTotal" => &mut mem.mem_total,
            b"MemFree" => &mut mem.mem_free,
            b"Shmem" => &mut mem.mem_shared,
            b"Buffers" => &mut mem.mem_buffers,
            b"Cached" => &mut mem.mem_cached,
            b"SwapTotal" => &mut mem.swap_total,
            b"SwapFree" => &mut mem.swap_free,
            _ => continue,
        };
        if let Some(bytes) = value.get(1..).and_then(meminfo_bytes) {
            *target = bytes;
        }
    }
}

/// `24684084 kB` in bytes; a value without unit (the `HugePages_*` counts) is taken as is.
fn meminfo_bytes(value: &[u8]) -> Option<u64> {
    let mut f = fields(value);
    let n = parse_u64(f.next()?)?;
    let bytes = match f.next() {
        None => n,
        Some(b"kB") => n.checked_mul(1024)?,
        Some(_) => return None,
    };
    f.next().is_none().then_some(bytes)
}

/// /proc/vmstat: `pgpgin 3008649` lines. The kernel counts pages paged in and out in KiB and swap in
/// and out in pages; both are sent as the kernel writes them (as the reference agent does), truncated to
/// the record's 32 bits.
pub(crate) fn parse_vmstat(text: &[u8], mem: &mut HostMemory) {
    for line in lines(text) {
        let mut f = fields(line);
        let target = match f.next() {
            Some(b"pgpgin") => &mut mem.page_in,
            Some(b"pgpgout") => &mut mem.page_out,
            Some(b"pswpin") => &mut mem.swap_in,
            Some(b"pswpout") => &mut mem.swap_out,
            _ => continue,
        };
        if let (Some(v), None) = (f.next().and_then(parse_u64), f.next()) {
            *target = v as u32;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MEMINFO: &[u8] = b"MemTotal:       24684084 kB
MemFree:        24262116 kB
MemAvailable:   24297492 kB
Buffers:            4724 kB
Cached:           209972 kB
SwapCached:            0 kB
SwapTotal:       2097148 kB
SwapFree:        2097000 kB
Shmem:              8872 kB
ShmemHugePages:        0 kB
HugePages_Total:       0
";

    #[test]
    fn meminfo() {
        let mut mem = HostMemory::UNKNOWN;
        parse_meminfo(MEMINFO, &mut mem);
        assert_eq!(mem.mem_total, 24684084 * 1024);
        assert_eq!(mem.mem_free, 24262116 * 1024);
        assert_eq!(mem.mem_shared, 8872 * 1024);
        assert_eq!(mem.mem_buffers, 4724 * 1024);
        assert_eq!(mem.mem_cached, 209972 * 1024);
        assert_eq!(mem.swap_total, 2097148 * 1024);
        assert_eq!(mem.swap_free, 2097000 * 1024);
        // vmstat's fields are untouched.
        assert_eq!(mem.page_in, u32::MAX);
    }

    #[test]
    fn meminfo_garbage_leaves_unknown() {
        let mut mem = HostMemory::UNKNOWN;
        parse_meminfo(
            b"MemTotal: lots kB\nMemFree: 12 MB\nCached: 1 kB extra\nBuffers: 99999999999999999999 kB\nSwapFree: 3\n",
            &mut mem,
        );
        assert_eq!(mem.mem_total, u64::MAX);
        assert_eq!(mem.mem_free, u64::MAX);
        assert_eq!(mem.mem_cached, u64::MAX);
        assert_eq!(mem.mem_buffers, u64::MAX);
        assert_eq!(mem.swap_free, 3);
        // A value that would overflow when converted to bytes is unknown too.
        let mut mem = HostMemory::UNKNOWN;
        parse_meminfo(b"MemTotal: 18446744073709551615 kB\n", &mut mem);
        assert_eq!(mem.mem_total, u64::MAX);
    }

    #[test]
    fn vmstat() {
        let mut mem = HostMemory::UNKNOWN;
        parse_vmstat(
            b"nr_free_pages 6065529\npgpgin 3008649\npgpgout 1970440\npswpin 0\npswpout 7\npgfault 12\n",
            &mut mem,
        );
        assert_eq!(
            (mem.page_in, mem.page_out, mem.swap_in, mem.swap_out),
            (3008649, 1970440, 0, 7)
        );
        assert_eq!(mem.mem_total, u64::MAX);

        let mut mem = HostMemory::UNKNOWN;
        parse_vmstat(b"pgpgin 4294967297\npgpgout x\npswpin 1 2\n", &mut mem);
        assert_eq!(mem.page_in, 1);
        assert_eq!(mem.page_out, u32::MAX);
        assert_eq!(mem.swap_in, u32::MAX);
    }
}
