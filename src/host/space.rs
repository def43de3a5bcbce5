//! Which mounts count towards `host_disk_io`'s space figures, and how their sizes add up: the
//! pieces of the mount table's lines that [`super::mounts`] parses and measures.
//!
//! A mount counts when its type is a local disk filesystem (never a network one, whose `statvfs` can
//! block for minutes) and its device is under /dev/ (for ZFS, the pool); see
//! [`MountLine::space_key`]. Nothing here reads a file: these are pure functions of the text and of
//! `statvfs` results, below both [`super::mounts`] and [`super::disk`].

use super::parse::fields;
use crate::sys::FsSize;
use crate::wire::HostDiskIo;

/// One line of /proc/mounts: `device mount_point type options dump pass`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct MountLine<'a> {
    /// The mounted device, or a free-form source such as `server:/export` or `tmpfs`.
    pub device: &'a [u8],
    /// The mount point, with the kernel's octal escapes (`\040` for a space) still in.
    pub mount_point: &'a [u8],
    /// The filesystem type.
    pub fs_type: &'a [u8],
}

impl<'a> MountLine<'a> {
    /// The first three fields of a line that has at least four.
    pub(crate) fn parse(line: &'a [u8]) -> Option<Self> {
        let mut f = fields(line);
        let (device, mount_point, fs_type) = (f.next()?, f.next()?, f.next()?);
        f.next()?;
        Some(MountLine {
            device,
            mount_point,
            fs_type,
        })
    }

    /// What identifies the storage behind this mount when it counts towards disk space: the device
    /// for a local disk filesystem on a /dev/ device, the pool for ZFS; `None` for anything else
    /// (network, pseudo and memory filesystems, overlays).
    pub(crate) fn space_key(&self) -> Option<&'a [u8]> {
        if self.fs_type == b"zfs" {
            // Every dataset of a pool reports the pool's free space: count the pool once.
            return self
                .device
                .split(|&b| b == b'/')
                .next()
                .filter(|p| !p.is_empty());
        }
        let on_dev = self.device.starts_with(b"/dev/") && self.device.len() > 5;
        (on_dev && is_local_disk_fs(self.fs_type)).then_some(self.device)
    }
}

/// Filesystem types that live on a local block device. Anything else (nfs, cifs, ceph, fuse, overlay,
/// tmpfs, proc, ...) is left out: network ones can block `statvfs`, the others are not disk space.
pub(crate) fn is_local_disk_fs(fs_type: &[u8]) -> bool {
    matches!(
        fs_type,
        b"ext2"
            | b"ext3"
            | b"ext4"
            | b"xfs"
            | b"btrfs"
            | b"f2fs"
            | b"vfat"
            | b"msdos"
            | b"exfat"
            | b"ntfs"
            | b"ntfs3"
            | b"jfs"
            | b"reiserfs"
            | b"zfs"
            | b"hfs"
            | b"hfsplus"
            | b"nilfs2"
            | b"bcachefs"
            | b"ufs"
    )
}

/// Undoes the kernel's `\ooo` octal escapes of space, tab, newline and backslash in a mount point. A
/// backslash not followed by three octal digits is kept as is.
pub(crate) fn unescape_mount_point(raw: &[u8], out: &mut Vec<u8>) {
    out.clear();
    let mut rest = raw;
    while let Some((&b, tail)) = rest.split_first() {
        let octal = tail.get(..3).and_then(|d| {
            d.iter().try_fold(0u16, |acc, &c| {
                (b'0'..=b'7')
                    .contains(&c)
                    .then(|| acc * 8 + u16::from(c - b'0'))
            })
        });
        match (b, octal.and_then(|v| u8::try_from(v).ok())) {
            (b'\\', Some(byte)) => {
                out.push(byte);
                rest = tail.get(3..).unwrap_or_default();
            }
            _ => {
                out.push(b);
                rest = tail;
            }
        }
    }
}

/// Space summed over the counted filesystems.
#[derive(Debug, Default)]
pub(crate) struct SpaceTotals {
    /// Well-formed lines of the mount table: with none, the space is unknown.
    pub(crate) lines: usize,
    total: u64,
    available: u64,
    /// Highest used share, hundredths of a percent.
    max_used: Option<i32>,
}

impl SpaceTotals {
    /// Adds one filesystem (an empty one, such as a pseudo filesystem, counts for nothing).
    pub(crate) fn add(&mut self, size: FsSize) {
        if size.total == 0 {
            return;
        }
        self.total = self.total.saturating_add(size.total);
        self.available = self.available.saturating_add(size.available);
        if let Some(used) = used_hundredths(size) {
            self.max_used = Some(self.max_used.map_or(used, |m| m.max(used)));
        }
    }

    /// Sets the space fields of `disk` when the table had a well-formed line.
    pub(crate) fn apply(&self, disk: &mut HostDiskIo) {
        if self.lines == 0 {
            return;
        }
        disk.disk_total = self.total;
        disk.disk_free = self.available;
        if let Some(used) = self.max_used {
            disk.part_max_used = used;
        }
    }
}

/// used / (used + available) in hundredths of a percent, as `df` computes it (the root reserve counts
/// neither as used nor as available), truncated.
pub(crate) fn used_hundredths(size: FsSize) -> Option<i32> {
    let used = u128::from(size.total.saturating_sub(size.free));
    let denominator = used + u128::from(size.available);
    if denominator == 0 {
        return None;
    }
    i32::try_from(used * 10_000 / denominator).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mount_lines() {
        let m = MountLine::parse(b"/dev/vda / ext4 rw,relatime,discard 0 0").unwrap();
        assert_eq!(
            (m.device, m.mount_point, m.fs_type),
            (&b"/dev/vda"[..], &b"/"[..], &b"ext4"[..])
        );
        assert_eq!(m.space_key(), Some(&b"/dev/vda"[..]));
        assert_eq!(MountLine::parse(b"/dev/vda / ext4"), None);
        assert_eq!(MountLine::parse(b""), None);

        fn key(line: &[u8]) -> Option<&[u8]> {
            MountLine::parse(line).unwrap().space_key()
        }
        assert_eq!(key(b"server:/export /mnt/nfs nfs4 rw 0 0"), None);
        assert_eq!(key(b"//srv/share /mnt/smb cifs rw 0 0"), None);
        assert_eq!(key(b"tmpfs /run tmpfs rw 0 0"), None);
        assert_eq!(
            key(b"overlay /var/lib/docker/overlay2/x/merged overlay rw 0 0"),
            None
        );
        assert_eq!(key(b"/dev/fuse /mnt/fuse fuse.sshfs rw 0 0"), None);
        assert_eq!(key(b"/dev/ /mnt ext4 rw 0 0"), None);
        assert_eq!(
            key(b"/dev/nvme0n1p2 /home xfs rw 0 0"),
            Some(&b"/dev/nvme0n1p2"[..])
        );
        assert_eq!(key(b"rpool/ROOT/debian / zfs rw 0 0"), Some(&b"rpool"[..]));
        assert_eq!(
            key(b"/dev/sda1 /boot/efi vfat rw 0 0"),
            Some(&b"/dev/sda1"[..])
        );
    }

    #[test]
    fn mount_point_escapes() {
        let mut out = Vec::new();
        unescape_mount_point(br"/mnt/my\040disk\011x\134y", &mut out);
        assert_eq!(out, b"/mnt/my disk\tx\\y");
        unescape_mount_point(br"/a\04", &mut out);
        assert_eq!(out, br"/a\04");
        unescape_mount_point(br"/a\999", &mut out);
        assert_eq!(out, br"/a\999");
        // \777 is not a byte: kept verbatim.
        unescape_mount_point(br"\777", &mut out);
        assert_eq!(out, br"\777");
        unescape_mount_point(b"", &mut out);
        assert_eq!(out, b"");
    }

    #[test]
    fn used_share_like_df() {
        // 100 blocks, 40 free of which 30 available to users: used 60 / (60 + 30).
        let size = FsSize {
            total: 100,
            free: 40,
            available: 30,
        };
        assert_eq!(used_hundredths(size), Some(6666));
        let empty = FsSize {
            total: 0,
            free: 0,
            available: 0,
        };
        assert_eq!(used_hundredths(empty), None);
        let full = FsSize {
            total: u64::MAX,
            free: 0,
            available: 0,
        };
        assert_eq!(used_hundredths(full), Some(10_000));
    }

    #[test]
    fn space_totals() {
        let mut t = SpaceTotals::default();
        let mut disk = HostDiskIo::UNKNOWN;
        t.apply(&mut disk);
        assert_eq!(disk, HostDiskIo::UNKNOWN);

        t.lines = 3;
        t.add(FsSize {
            total: 1000,
            free: 500,
            available: 400,
        });
        t.add(FsSize {
            total: 0,
            free: 0,
            available: 0,
        });
        t.add(FsSize {
            total: 1000,
            free: 100,
            available: 100,
        });
        t.apply(&mut disk);
        assert_eq!(
            (disk.disk_total, disk.disk_free, disk.part_max_used),
            (2000, 500, 9000)
        );
    }
}
