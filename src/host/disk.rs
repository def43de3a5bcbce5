//! `host_disk_io`: space from `statvfs` of the local filesystems listed in /proc/mounts, I/O from
//! /proc/diskstats summed over whole disks.
//!
//! Space: a mount counts when its type is a local disk filesystem (never a network one, whose `statvfs`
//! can block for minutes) and its device is under /dev/ (for ZFS, the pool); each device (or pool) counts
//! once, so bind mounts and btrfs subvolumes do not add up twice. A mount point `statvfs` cannot read is
//! skipped. Mount points are taken as they appear in the mounts file, in the reader's own mount namespace.
//! The table is parsed only when it changed (see [`super::mounts`], which uses the rules of
//! [`super::space`]); the filesystems are measured on every read. The space fields are known when the
//! file had at least one well-formed line; `part_max_used` needs at least one measured filesystem.
//!
//! I/O: only whole disks count, i.e. names that have an entry in `<sys>/block` and are not loop, RAM,
//! zram, device-mapper, md RAID, optical or floppy devices, since partitions and stacked devices would
//! count the same I/O twice. Known when the file had at least one well-formed line.
//!
//! Layers: `disk` uses [`super::mounts`], which uses [`super::space`]; none of them uses a layer above.

use std::time::Instant;

use super::file::{is_plain_name, Extent, FileBuf, PathBuilder};
use super::kept::KeptFile;
use super::mounts::MountTable;
use super::parse::{fields, lines, parse_u64};
use super::Roots;
use crate::wire::HostDiskIo;

/// Bytes per sector in /proc/diskstats, fixed by the kernel whatever the device's real sector size.
const SECTOR_BYTES: u64 = 512;

/// The files `host_disk_io` reads, and a reusable buffer.
#[derive(Debug)]
pub(crate) struct DiskFiles {
    /// `<proc>/mounts`, parsed when it changed.
    mounts: MountTable,
    /// `<proc>/diskstats`.
    diskstats: KeptFile,
    /// A disk name with `/` turned into `!`, as sysfs spells it.
    sys_name: Vec<u8>,
}

impl DiskFiles {
    /// The files under `roots`, opened on first read.
    pub(crate) fn new(roots: &Roots) -> DiskFiles {
        DiskFiles {
            mounts: MountTable::new(roots.proc.join("mounts")),
            diskstats: KeptFile::new(roots.proc.join("diskstats")),
            sys_name: Vec::new(),
        }
    }
}

/// Fills `disk` (which the caller reset to unknown) from `<proc>/mounts` and `<proc>/diskstats`.
pub(crate) fn read_disk(
    files: &mut FileBuf,
    paths: &mut PathBuilder,
    disk_files: &mut DiskFiles,
    roots: &Roots,
    now: Instant,
    disk: &mut HostDiskIo,
) {
    disk_files.mounts.read_space(now, disk);

    if let Some(text) = disk_files.diskstats.read(files, Extent::Whole, now) {
        let mut io = IoTotals::default();
        for stats in lines(text).filter_map(DiskStatsLine::parse) {
            io.lines += 1;
            if may_be_physical_disk(stats.name)
                && has_sys_block_entry(paths, &mut disk_files.sys_name, roots, stats.name)
            {
                io.add(&stats);
            }
        }
        io.apply(disk);
    }
}

/// Whether `<sys>/block/<name>` exists (`/` in the name is `!` there, as in `cciss!c0d0`).
fn has_sys_block_entry(
    paths: &mut PathBuilder,
    sys_name: &mut Vec<u8>,
    roots: &Roots,
    name: &[u8],
) -> bool {
    sys_name.clear();
    sys_name.extend(name.iter().map(|&b| if b == b'/' { b'!' } else { b }));
    is_plain_name(sys_name)
        && std::fs::symlink_metadata(paths.join(&roots.sys, &[b"block", sys_name])).is_ok()
}

/// The fields of one /proc/diskstats line this record uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct DiskStatsLine<'a> {
    /// Device name, e.g. `sda`, `nvme0n1p1`, `cciss/c0d0`.
    pub name: &'a [u8],
    /// Reads completed.
    pub reads: u64,
    /// Sectors (512 bytes) read.
    pub sectors_read: u64,
    /// Milliseconds spent reading.
    pub read_ms: u64,
    /// Writes completed.
    pub writes: u64,
    /// Sectors (512 bytes) written.
    pub sectors_written: u64,
    /// Milliseconds spent writing.
    pub write_ms: u64,
}

impl<'a> DiskStatsLine<'a> {
    /// `major minor name reads merged sectors ms writes merged sectors ms ...`; later fields (in-flight,
    /// discards, flushes) are ignored.
    pub(crate) fn parse(line: &'a [u8]) -> Option<Self> {
        let mut f = fields(line);
        parse_u64(f.next()?)?;
        parse_u64(f.next()?)?;
        let name = f.next()?;
        let mut n = [0u64; 8];
        for slot in &mut n {
            *slot = parse_u64(f.next()?)?;
        }
        let [reads, _, sectors_read, read_ms, writes, _, sectors_written, write_ms] = n;
        Some(DiskStatsLine {
            name,
            reads,
            sectors_read,
            read_ms,
            writes,
            sectors_written,
            write_ms,
        })
    }
}

/// Whether a block device name can be a whole physical disk: loop, RAM, zram, device-mapper, md RAID,
/// optical and floppy devices are not (their I/O is either not disk I/O or counted again on the disks
/// below them).
pub(crate) fn may_be_physical_disk(name: &[u8]) -> bool {
    const NOT_DISKS: [&[u8]; 7] = [b"loop", b"ram", b"zram", b"dm-", b"md", b"sr", b"fd"];
    !NOT_DISKS.iter().any(|p| name.starts_with(p))
}

/// I/O summed over the counted disks; the kernel's counters are 64-bit (wrapping).
#[derive(Debug, Default)]
struct IoTotals {
    lines: usize,
    reads: u64,
    sectors_read: u64,
    read_ms: u64,
    writes: u64,
    sectors_written: u64,
    write_ms: u64,
}

impl IoTotals {
    fn add(&mut self, s: &DiskStatsLine<'_>) {
        self.reads = self.reads.wrapping_add(s.reads);
        self.sectors_read = self.sectors_read.wrapping_add(s.sectors_read);
        self.read_ms = self.read_ms.wrapping_add(s.read_ms);
        self.writes = self.writes.wrapping_add(s.writes);
        self.sectors_written = self.sectors_written.wrapping_add(s.sectors_written);
        self.write_ms = self.write_ms.wrapping_add(s.write_ms);
    }

    fn apply(&self, disk: &mut HostDiskIo) {
        if self.lines == 0 {
            return;
        }
        disk.reads = self.reads as u32;
        disk.bytes_read = self.sectors_read.wrapping_mul(SECTOR_BYTES);
        disk.read_time = self.read_ms as u32;
        disk.writes = self.writes as u32;
        disk.bytes_written = self.sectors_written.wrapping_mul(SECTOR_BYTES);
        disk.write_time = self.write_ms as u32;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn diskstats_lines() {
        let line = b" 254       0 vda 34650 5889 2866410 45406 15870 12173 2751864 6224 0 15796 52103 4865 41 485800 386 2315 85";
        let s = DiskStatsLine::parse(line).unwrap();
        assert_eq!(s.name, b"vda");
        assert_eq!(
            (s.reads, s.sectors_read, s.read_ms),
            (34650, 2866410, 45406)
        );
        assert_eq!(
            (s.writes, s.sectors_written, s.write_ms),
            (15870, 2751864, 6224)
        );
        // Kernels before 4.18 have 14 fields; the oldest partition lines only 7.
        assert!(DiskStatsLine::parse(b"8 0 sda 1 2 3 4 5 6 7 8 9 10 11").is_some());
        assert!(DiskStatsLine::parse(b"8 1 sda1 1 2 3 4").is_none());
        assert!(DiskStatsLine::parse(b"x 0 sda 1 2 3 4 5 6 7 8").is_none());
        assert!(DiskStatsLine::parse(b"8 0 sda 1 2 3 4 5 6 7 z").is_none());
    }

    #[test]
    fn whole_disk_names() {
        for name in [
            &b"sda"[..],
            b"vda",
            b"nvme0n1",
            b"mmcblk0",
            b"xvda",
            b"cciss/c0d0",
        ] {
            assert!(may_be_physical_disk(name), "{name:?}");
        }
        for name in [
            &b"loop0"[..],
            b"ram0",
            b"zram0",
            b"dm-0",
            b"md127",
            b"sr0",
            b"fd0",
        ] {
            assert!(!may_be_physical_disk(name), "{name:?}");
        }
    }

    #[test]
    fn io_totals_wrap_to_the_record_width() {
        let mut t = IoTotals {
            lines: 1,
            ..IoTotals::default()
        };
        let s = DiskStatsLine {
            name: b"sda",
            reads: (1 << 32) + 3,
            sectors_read: 2,
            read_ms: 5,
            writes: 7,
            sectors_written: 1 << 56,
            write_ms: 11,
        };
        t.add(&s);
        t.add(&s);
        let mut disk = HostDiskIo::UNKNOWN;
        t.apply(&mut disk);
        assert_eq!(disk.reads, 6);
        assert_eq!(disk.bytes_read, 2048);
        assert_eq!(disk.read_time, 10);
        assert_eq!(disk.writes, 14);
        // 2^57 sectors of 512 bytes wrap the 64-bit byte counter.
        assert_eq!(disk.bytes_written, (1u64 << 57).wrapping_mul(512));
        assert_eq!(disk.write_time, 22);
        // part_max_used and sizes are not diskstats' business.
        assert_eq!(disk.disk_total, u64::MAX);
    }
}
