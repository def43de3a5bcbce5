//! The mount table's local filesystems, for `host_disk_io`'s space figures: parsed from
//! `<proc>/mounts` only when the table changed, then measured with `statvfs` on every read.
//!
//! Change detection: an open `/proc/<pid>/mounts` (`<proc>/mounts` is `self/mounts`) reports
//! `POLLPRI`/`POLLERR` once per change of its mount namespace's table since it was opened or last
//! polled. So on procfs the file is kept open, polled (without waiting) at each read, and re-read and
//! re-parsed only when that says it changed; a change between the poll and the read is reported again
//! at the next poll, so none is lost. A mounts file not on procfs (a fixture tree, a copy) has no such
//! notice and is opened by path and parsed on every read. A file that cannot be opened leaves the
//! space unknown and is tried again at most once per [`RETRY_OPEN`].
//!
//! Parsing streams the file through one buffer of [`CHUNK_BYTES`], line by line, so its size is not
//! bounded by [`MAX_FILE_BYTES`](super::MAX_FILE_BYTES): 10,000 containers' overlay mounts (~5.4 MB)
//! parse like 50. Bounds: a table longer than [`MAX_MOUNTS_BYTES`] leaves the space unknown (logged
//! once), a line longer than [`CHUNK_BYTES`] is skipped (it cannot be a local disk's: those are
//! short; overlays with long layer lists are the long ones), and at most [`MAX_MEASURED`]
//! filesystems are measured. Which mounts count, see [`MountLine::space_key`] in [`super::space`].
//!
//! Once the table has been parsed, a read allocates nothing; a re-parse reuses the buffers and grows
//! them only when the table holds more local filesystems than ever before.

use std::ffi::CStr;
use std::fs::File;
use std::os::fd::AsFd;
use std::os::unix::fs::FileExt;
use std::path::PathBuf;
use std::time::Instant;

use super::file::open_nonblocking;
use super::kept::RETRY_OPEN;
use super::parse::lines;
use super::space::{unescape_mount_point, MountLine, SpaceTotals};
use crate::sys;
use crate::wire::HostDiskIo;

/// Size of the buffer the mounts file is streamed through, and the longest line parsed.
pub const CHUNK_BYTES: usize = 64 << 10;

/// Longest mount table parsed (~120,000 container overlay mounts); a longer one leaves the space
/// figures unknown.
pub const MAX_MOUNTS_BYTES: u64 = 64 << 20;

/// Most filesystems (distinct devices or pools) measured.
pub const MAX_MEASURED: usize = 1024;

/// The local filesystems of the last parse of the mount table, and what is needed to know when to
/// parse it again.
#[derive(Debug)]
pub(crate) struct MountTable {
    path: PathBuf,
    /// The mounts file, kept open only when it is on procfs.
    file: Option<File>,
    /// Do not try to open the file again before this.
    retry_at: Option<Instant>,
    logged_open_failure: bool,
    warned_oversize: bool,
    /// Whether the last parse succeeded; the space figures are unknown otherwise.
    parsed: bool,
    /// Well-formed lines of the last parse: with none, the space figures are unknown.
    lines: usize,
    /// Mount points to measure, each unescaped and NUL-terminated, back to back.
    points: Vec<u8>,
    /// End offset in `points` of each mount point (after its NUL).
    point_ends: Vec<usize>,
    /// The device (or pool) of each measured mount point, back to back, so each counts once.
    devices: Vec<u8>,
    /// End offset in `devices` of each name.
    device_ends: Vec<usize>,
    /// The streaming buffer, [`CHUNK_BYTES`] once first used.
    chunk: Vec<u8>,
    /// One mount point being unescaped.
    unescaped: Vec<u8>,
}

impl MountTable {
    /// The table of `path` (normally `<proc>/mounts`), read on first use.
    pub(crate) fn new(path: PathBuf) -> MountTable {
        MountTable {
            path,
            file: None,
            retry_at: None,
            logged_open_failure: false,
            warned_oversize: false,
            parsed: false,
            lines: 0,
            points: Vec::new(),
            point_ends: Vec::new(),
            devices: Vec::new(),
            device_ends: Vec::new(),
            chunk: Vec::new(),
            unescaped: Vec::new(),
        }
    }

    /// Sets the space fields of `disk` (which the caller reset to unknown): the table is re-parsed
    /// when it changed (or cannot tell), then every local filesystem is measured.
    pub(crate) fn read_space(&mut self, now: Instant, disk: &mut HostDiskIo) {
        self.refresh(now);
        if !self.parsed || self.lines == 0 {
            return;
        }
        let mut space = SpaceTotals::default();
        let mut start = 0;
        for &end in &self.point_ends {
            let Some(point) = self.points.get(start..end) else {
                break;
            };
            start = end;
            let Ok(point) = CStr::from_bytes_with_nul(point) else {
                continue;
            };
            match sys::statvfs(point) {
                Ok(size) => space.add(size),
                Err(e) => log::debug!("statvfs {}: {}", point.to_string_lossy(), e),
            }
        }
        space.lines = self.lines;
        space.apply(disk);
    }

    /// Re-parses the table if it may have changed since the last parse.
    fn refresh(&mut self, now: Instant) {
        if let Some(file) = &self.file {
            // Kept open: it is on procfs, which says when the table changed (an error of the poll
            // itself is taken as a change).
            if let Ok(false) = sys::priority_event_pending(file.as_fd()) {
                return;
            }
        } else {
            if self.retry_at.is_some_and(|at| now < at) {
                return;
            }
            match open_nonblocking(&self.path) {
                Ok(file) => {
                    self.retry_at = None;
                    self.logged_open_failure = false;
                    // The event count is taken at open: changes from now on are reported.
                    let notifies = sys::is_on_procfs(file.as_fd()).unwrap_or(false);
                    if self.parse(&file) && notifies {
                        self.file = Some(file);
                    }
                    return;
                }
                Err(e) => {
                    if !self.logged_open_failure {
                        self.logged_open_failure = true;
                        log::debug!(
                            "cannot open {}: {}; disk space is unknown, retried every {} s",
                            self.path.display(),
                            e,
                            RETRY_OPEN.as_secs()
                        );
                    }
                    self.retry_at = Some(now + RETRY_OPEN);
                    self.parsed = false;
                    return;
                }
            }
        }
        if let Some(file) = self.file.take() {
            if self.parse(&file) {
                self.file = Some(file);
            }
        }
    }

    /// Parses the whole file from offset 0; `parsed` says whether that worked. `false` when reading
    /// failed, so the descriptor is not worth keeping (an oversized table is kept: it is parsed again
    /// only when it changes, not on every read).
    fn parse(&mut self, file: &File) -> bool {
        self.parsed = false;
        self.lines = 0;
        self.points.clear();
        self.point_ends.clear();
        self.devices.clear();
        self.device_ends.clear();
        if self.chunk.len() != CHUNK_BYTES {
            self.chunk = vec![0; CHUNK_BYTES];
        }
        let mut chunk = std::mem::take(&mut self.chunk);
        let done = self.stream(file, &mut chunk);
        self.chunk = chunk;
        match done {
            Ok(()) => {
                self.parsed = true;
                true
            }
            Err(Stop::Oversize) => {
                if !self.warned_oversize {
                    self.warned_oversize = true;
                    log::warn!(
                        "{} is longer than {} bytes; disk space is reported as unknown",
                        self.path.display(),
                        MAX_MOUNTS_BYTES
                    );
                }
                true
            }
            Err(Stop::Io(e)) => {
                log::debug!("cannot read {}: {}", self.path.display(), e);
                false
            }
        }
    }

    /// Feeds every line of the file to [`MountTable::take_line`], through `chunk`.
    fn stream(&mut self, file: &File, chunk: &mut [u8]) -> Result<(), Stop> {
        let mut offset = 0u64;
        // Bytes at the start of `chunk` that are the beginning of a line not yet complete.
        let mut carried = 0usize;
        // Inside a line longer than the chunk, which is skipped up to its end.
        let mut skipping = false;
        loop {
            let free = chunk.get_mut(carried..).unwrap_or_default();
            let n = file.read_at(free, offset).map_err(Stop::Io)?;
            if n == 0 {
                if !skipping {
                    if let Some(last) = chunk.get(..carried) {
                        self.take_line(last);
                    }
                }
                return Ok(());
            }
            offset += n as u64;
            if offset > MAX_MOUNTS_BYTES {
                return Err(Stop::Oversize);
            }
            let filled = carried + n;
            let data = chunk.get(..filled).unwrap_or_default();
            let Some(last_newline) = data.iter().rposition(|&b| b == b'\n') else {
                // No line ends here: the line so far is still coming, or fills the chunk (then it is
                // skipped up to its end).
                if skipping || filled == chunk.len() {
                    skipping = true;
                    carried = 0;
                } else {
                    carried = filled;
                }
                continue;
            };
            let complete = data.get(..last_newline).unwrap_or_default();
            let mut all = lines(complete);
            if skipping {
                // The first piece is the end of the long line.
                all.next();
                skipping = false;
            }
            for line in all {
                self.take_line(line);
            }
            let rest = last_newline + 1..filled;
            carried = rest.len();
            chunk.copy_within(rest, 0);
        }
    }

    /// One line of the table: counted when well formed, remembered when it is a local filesystem on
    /// a device not seen yet.
    fn take_line(&mut self, line: &[u8]) {
        let Some(mount) = MountLine::parse(line) else {
            return;
        };
        self.lines += 1;
        let Some(key) = mount.space_key() else {
            return;
        };
        if self.point_ends.len() >= MAX_MEASURED || !self.insert_device(key) {
            return;
        }
        unescape_mount_point(mount.mount_point, &mut self.unescaped);
        if self.unescaped.contains(&0) {
            return;
        }
        self.points.extend_from_slice(&self.unescaped);
        self.points.push(0);
        self.point_ends.push(self.points.len());
    }

    /// Remembers `device`; `false` when it was already there.
    fn insert_device(&mut self, device: &[u8]) -> bool {
        let mut start = 0;
        for &end in &self.device_ends {
            if self.devices.get(start..end) == Some(device) {
                return false;
            }
            start = end;
        }
        self.devices.extend_from_slice(device);
        self.device_ends.push(self.devices.len());
        true
    }

    /// The mount points the last parse found to measure, for tests.
    #[cfg(test)]
    fn measured(&self) -> Vec<&[u8]> {
        let mut out = Vec::new();
        let mut start = 0;
        for &end in &self.point_ends {
            out.push(&self.points[start..end - 1]);
            start = end;
        }
        out
    }
}

/// Why streaming the table stopped early.
#[derive(Debug)]
enum Stop {
    /// Longer than [`MAX_MOUNTS_BYTES`].
    Oversize,
    /// Reading failed.
    Io(std::io::Error),
}

#[cfg(test)]
mod tests {
    use super::*;

    fn table_of(tag: &str, text: &[u8]) -> (MountTable, PathBuf) {
        let dir = std::env::temp_dir().join(format!("csflowd-mounts-{tag}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("mounts");
        std::fs::write(&path, text).unwrap();
        (MountTable::new(path), dir)
    }

    #[test]
    fn local_filesystems_once_per_device() {
        let (mut t, dir) = table_of(
            "local",
            b"/dev/vda / ext4 rw 0 0\nproc /proc proc rw 0 0\n/dev/vda /var/lib/docker ext4 rw 0 0\n\
/dev/vdb /mnt/my\\040disk xfs rw 0 0\nrpool/a /a zfs rw 0 0\nrpool/b /b zfs rw 0 0\n/dev/vdc /last ext4 rw 0 0",
        );
        t.refresh(Instant::now());
        assert!(t.parsed);
        assert_eq!(t.lines, 7);
        assert_eq!(t.measured(), [&b"/"[..], b"/mnt/my disk", b"/a", b"/last"]);
        // Not on procfs: not kept, parsed again on every read.
        assert!(t.file.is_none());
        std::fs::write(dir.join("mounts"), b"/dev/vdb /srv ext4 rw 0 0\n").unwrap();
        t.refresh(Instant::now());
        assert_eq!(t.measured(), [&b"/srv"[..]]);
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn lines_across_chunks_and_overlong_lines() {
        let mut text = Vec::new();
        // Lines that straddle chunk boundaries at every offset, then a line longer than a chunk
        // (skipped), then a local filesystem.
        let mut i = 0;
        while text.len() < 3 * CHUNK_BYTES {
            text.extend_from_slice(
                format!("overlay /var/lib/docker/overlay2/{i}/merged overlay rw 0 0\n").as_bytes(),
            );
            i += 1;
        }
        text.extend_from_slice(b"overlay /x overlay rw,lowerdir=");
        text.extend(std::iter::repeat_n(b'a', CHUNK_BYTES * 2));
        text.extend_from_slice(b" 0 0\n/dev/vda /data ext4 rw 0 0\n");
        let (mut t, dir) = table_of("chunks", &text);
        t.refresh(Instant::now());
        assert!(t.parsed);
        assert_eq!(t.lines, i + 1);
        assert_eq!(t.measured(), [&b"/data"[..]]);
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn a_missing_table_is_unknown_and_retried_later() {
        let (mut t, dir) = table_of("missing", b"");
        std::fs::remove_file(dir.join("mounts")).unwrap();
        let t0 = Instant::now();
        let mut disk = HostDiskIo::UNKNOWN;
        t.read_space(t0, &mut disk);
        assert_eq!(disk, HostDiskIo::UNKNOWN);
        std::fs::write(dir.join("mounts"), b"/dev/vda / ext4 rw 0 0\n").unwrap();
        t.read_space(t0 + RETRY_OPEN / 2, &mut disk);
        assert_eq!(disk, HostDiskIo::UNKNOWN);
        t.read_space(t0 + RETRY_OPEN, &mut disk);
        assert_ne!(disk.disk_total, HostDiskIo::UNKNOWN.disk_total);
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn procfs_table_is_kept_and_parsed_only_on_change() {
        use std::io::Write;
        use std::process::{Command, Stdio};
        // A shell in a mount namespace of its own, so that mounting there touches nothing else; it
        // mounts a tmpfs when it reads a line. Needs root (CAP_SYS_ADMIN) and util-linux's unshare.
        let child = Command::new("unshare")
            .args(["-m", "--propagation", "private", "sh", "-c"])
            .arg("read a; mount -t tmpfs csflowd-test /mnt && echo mounted; read b")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn();
        let Ok(mut child) = child else {
            eprintln!("no unshare: skipped");
            return;
        };
        let path = PathBuf::from(format!("/proc/{}/mounts", child.id()));
        // Wait until the child is in its own namespace: its `ns/mnt` link differs from ours.
        let ns_of = |pid: &str| std::fs::read_link(format!("/proc/{pid}/ns/mnt")).ok();
        let own = ns_of("self");
        let deadline = Instant::now() + std::time::Duration::from_secs(5);
        while ns_of(&child.id().to_string()) == own && Instant::now() < deadline {
            std::thread::sleep(std::time::Duration::from_millis(10));
        }
        if ns_of(&child.id().to_string()) == own {
            let _ = child.kill();
            let _ = child.wait();
            eprintln!("unshare -m did not take effect (not root?): skipped");
            return;
        }
        let mut t = MountTable::new(path);
        t.refresh(Instant::now());
        assert!(t.parsed && t.lines > 0);
        assert!(t.file.is_some(), "kept open on procfs");
        let before = t.lines;
        // Unchanged: not parsed again (the marker survives).
        t.lines = usize::MAX;
        t.refresh(Instant::now());
        assert_eq!(t.lines, usize::MAX);

        let mut stdin = child.stdin.take().unwrap();
        writeln!(stdin).unwrap();
        let mut out = [0u8; 8];
        let n = std::io::Read::read(child.stdout.as_mut().unwrap(), &mut out).unwrap();
        assert_eq!(&out[..n], b"mounted\n");
        // Changed: parsed again, and the new line is there.
        t.refresh(Instant::now());
        assert_eq!(t.lines, before + 1);
        // And quiet again.
        t.lines = usize::MAX;
        t.refresh(Instant::now());
        assert_eq!(t.lines, usize::MAX);
        writeln!(stdin).unwrap();
        drop(stdin);
        let _ = child.wait();
    }
}
