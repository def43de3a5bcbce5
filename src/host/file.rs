//! Bounded reads of small kernel files into one reusable buffer, and paths built under a root without
//! allocating once warmed up.
//!
//! Files under /proc and /sys report a size of 0 and are produced on each read, so they are read to the end
//! into a buffer the reader keeps between polls. Every read is capped: a file longer than the cap is
//! treated as unreadable (a truncated /proc file would give wrong sums), and that is logged once per reader.
//! Files are opened non-blocking, so a FIFO in a root never stalls the caller. Nothing here panics.

use std::ffi::{CStr, OsStr};
use std::fs::{File, OpenOptions};
use std::io::{self, Read};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::FileExt;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

/// Largest file read whole (bytes). /proc/stat of a machine with thousands of CPUs and interrupt lines
/// stays far below this.
pub const MAX_FILE_BYTES: usize = 4 << 20;

/// Capacity the buffer keeps after an oversized file: enough for every usual file of a large host.
const KEPT_CAPACITY: usize = 256 << 10;

/// How much of a file a caller wants.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Extent {
    /// The whole file, which must not exceed [`MAX_FILE_BYTES`].
    Whole,
    /// At most this many leading bytes; a longer file is cut, which the caller accepts.
    Prefix(usize),
}

/// One reusable read buffer.
#[derive(Debug, Default)]
pub(crate) struct FileBuf {
    buf: Vec<u8>,
    warned_oversize: bool,
}

impl FileBuf {
    /// Reads `path` into the buffer; `None` when it cannot be opened or read, or is longer than allowed.
    pub(crate) fn read(&mut self, path: &Path, extent: Extent) -> Option<&[u8]> {
        self.buf.clear();
        let result = open_nonblocking(path)
            .and_then(|file| read_capped(&file, extent_limit(extent), &mut self.buf));
        if let Err(e) = &result {
            log::debug!("cannot read {}: {}", path.display(), e);
        }
        let kept = self.finish(result.ok(), extent, || path.to_path_buf());
        kept.then_some(&self.buf[..])
    }

    /// Reads a file the caller opened (see [`open_nonblocking`]) from its current position to its
    /// end, capped like [`FileBuf::read`]: for one that is read once and closed. `Err` when reading
    /// failed; `Ok(None)` when the file is longer than allowed.
    pub(crate) fn read_opened(
        &mut self,
        file: &File,
        path: &Path,
        extent: Extent,
    ) -> io::Result<Option<&[u8]>> {
        self.buf.clear();
        let longer = read_capped(file, extent_limit(extent), &mut self.buf)?;
        let kept = self.finish(Some(longer), extent, || path.to_path_buf());
        Ok(kept.then_some(&self.buf[..]))
    }

    /// Re-reads a file kept open from offset 0 with `pread` (a kernel file regenerates its text when
    /// read from 0), capped like [`FileBuf::read`], taking a short read as the end (see
    /// [`read_kept_capped`]). `Ok(true)`: the text is in [`FileBuf::contents`]; `Ok(false)`: the file
    /// is longer than allowed (logged once, naming `path()`); `Err` when reading failed.
    pub(crate) fn reread(
        &mut self,
        file: &File,
        extent: Extent,
        path: impl FnOnce() -> PathBuf,
    ) -> io::Result<bool> {
        self.buf.clear();
        let longer = read_kept_capped(file, extent_limit(extent), &mut self.buf)?;
        Ok(self.finish(Some(longer), extent, path))
    }

    /// What the last successful read left in the buffer.
    pub(crate) fn contents(&self) -> &[u8] {
        &self.buf
    }

    /// The buffer as a read left it: `longer` is whether the file went past the cap (`None`: the read
    /// failed). An oversized whole file is refused and logged once; an oversized prefix is cut. True when
    /// the buffer holds the text.
    fn finish(
        &mut self,
        longer: Option<bool>,
        extent: Extent,
        path: impl FnOnce() -> PathBuf,
    ) -> bool {
        match (longer, extent) {
            (None, _) => false,
            (Some(false), _) => true,
            (Some(true), Extent::Prefix(n)) => {
                self.buf.truncate(n.min(MAX_FILE_BYTES));
                true
            }
            (Some(true), Extent::Whole) => {
                // Do not keep megabytes of capacity for the sake of one bad file.
                self.buf.clear();
                self.buf.shrink_to(KEPT_CAPACITY);
                if !self.warned_oversize {
                    self.warned_oversize = true;
                    log::warn!(
                        "{} is longer than {} bytes; its values are reported as unknown",
                        path().display(),
                        MAX_FILE_BYTES
                    );
                }
                false
            }
        }
    }
}

/// The most bytes a read of `extent` may return.
fn extent_limit(extent: Extent) -> usize {
    match extent {
        Extent::Whole => MAX_FILE_BYTES,
        Extent::Prefix(n) => n.min(MAX_FILE_BYTES),
    }
}

/// Appends at most `limit + 1` bytes of the file, from its current position, to `buf`; `Ok(true)`
/// when the file is longer than `limit`.
fn read_capped(file: &File, limit: usize, buf: &mut Vec<u8>) -> io::Result<bool> {
    let cap = u64::try_from(limit).unwrap_or(u64::MAX).saturating_add(1);
    file.take(cap).read_to_end(buf)?;
    Ok(buf.len() > limit)
}

/// A read shorter than this many bytes is the end of the file. A kernel file produces as much as its
/// buffer (a page, at least 4 KiB) holds on each read, stopping short of it only at the end or before a
/// record that would not fit in what is left: a short read of less than half a page is the end for every
/// file whose records are shorter than half a page, as the counter files read through kept descriptors
/// are (single values, per-device lines, per-interface lines). The mount table, whose lines have no
/// such bound, is streamed to the end instead (`mounts.rs`). A regular file ends at a short read anyway.
pub(crate) const SHORT_READ_END: usize = 2048;

/// Size of each `pread` of a kept file.
const KEPT_READ_BYTES: usize = 4096;

/// Reads a file kept open from offset 0 (a /proc or cgroup file regenerates its text when read from
/// 0) into `buf`, to a read of fewer than [`SHORT_READ_END`] bytes: one `pread` for a small file,
/// where reading on to the read that returns 0 would make the kernel generate the text a second time.
/// Like [`read_capped`], `Ok(true)` means longer than `limit`.
fn read_kept_capped(file: &File, limit: usize, buf: &mut Vec<u8>) -> io::Result<bool> {
    let mut chunk = [0u8; KEPT_READ_BYTES];
    loop {
        let offset = buf.len() as u64;
        let n = file.read_at(&mut chunk, offset)?;
        buf.extend_from_slice(chunk.get(..n).unwrap_or_default());
        if buf.len() > limit {
            return Ok(true);
        }
        if n < SHORT_READ_END {
            return Ok(false);
        }
    }
}

/// Opens a file for reading, close-on-exec and non-blocking: a FIFO planted where a kernel file should
/// be must not stall the agent's loop (the flag has no effect on regular and /proc files).
pub(crate) fn open_nonblocking(path: &Path) -> io::Result<File> {
    OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NONBLOCK | libc::O_CLOEXEC)
        .open(path)
}

/// A path under a root, rebuilt in place for each file so its capacity is reused.
#[derive(Debug, Default)]
pub(crate) struct PathBuilder {
    path: PathBuf,
}

impl PathBuilder {
    /// `root/part/part/...`, the parts appended as raw bytes with one `/` between each.
    pub(crate) fn join(&mut self, root: &Path, parts: &[&[u8]]) -> &Path {
        let s = self.path.as_mut_os_string();
        s.clear();
        s.push(root.as_os_str());
        for part in parts {
            s.push("/");
            s.push(OsStr::from_bytes(part));
        }
        &self.path
    }
}

/// A relative path rebuilt in place for each file, NUL-terminated for `openat`
/// ([`crate::sys::open_below`]), so its capacity is reused.
#[derive(Debug, Default)]
pub(crate) struct RelPathBuilder {
    bytes: Vec<u8>,
}

impl RelPathBuilder {
    /// `part/part/...`, the empty parts left out, with one `/` between the others; `None` when a part
    /// holds a NUL byte.
    pub(crate) fn join(&mut self, parts: &[&[u8]]) -> Option<&CStr> {
        self.bytes.clear();
        for part in parts.iter().filter(|p| !p.is_empty()) {
            if !self.bytes.is_empty() {
                self.bytes.push(b'/');
            }
            self.bytes.extend_from_slice(part);
        }
        self.bytes.push(0);
        CStr::from_bytes_with_nul(&self.bytes).ok()
    }
}

/// Whether a name taken from a file can be used as one path component: not empty, not `.` or `..`, and
/// without `/` or NUL, so that data can never walk out of the directory it names an entry of.
pub(crate) fn is_plain_name(name: &[u8]) -> bool {
    !name.is_empty() && name != b"." && name != b".." && !name.iter().any(|&b| b == b'/' || b == 0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn relative_paths_for_openat() {
        let mut p = RelPathBuilder::default();
        assert_eq!(
            p.join(&[b"docker/abc", b"cpu.stat"]),
            Some(c"docker/abc/cpu.stat")
        );
        assert_eq!(p.join(&[b"", b"cpu.stat"]), Some(c"cpu.stat"));
        assert_eq!(p.join(&[b"a\0b"]), None);
    }
    use std::io::Write;

    fn temp_file(name: &str, contents: &[u8]) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("csflowd-host-file-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join(name);
        std::fs::File::create(&path)
            .unwrap()
            .write_all(contents)
            .unwrap();
        path
    }

    #[test]
    fn reads_a_small_file_whole() {
        let path = temp_file("small", b"hello\n");
        let mut f = FileBuf::default();
        assert_eq!(f.read(&path, Extent::Whole), Some(&b"hello\n"[..]));
        assert_eq!(f.read(&path, Extent::Prefix(3)), Some(&b"hel"[..]));
        assert_eq!(f.read(&path, Extent::Prefix(100)), Some(&b"hello\n"[..]));
    }

    #[test]
    fn a_file_over_the_cap_is_unreadable() {
        let big = vec![b'x'; MAX_FILE_BYTES + 1];
        let path = temp_file("big", &big);
        let mut f = FileBuf::default();
        assert_eq!(f.read(&path, Extent::Whole), None);
        assert!(f.warned_oversize);
        assert!(f.buf.capacity() <= KEPT_CAPACITY);
        // A prefix of it is fine.
        assert_eq!(f.read(&path, Extent::Prefix(4)), Some(&b"xxxx"[..]));
        // Exactly at the cap is accepted.
        let path = temp_file("exact", &big[..MAX_FILE_BYTES]);
        assert_eq!(
            f.read(&path, Extent::Whole).map(<[u8]>::len),
            Some(MAX_FILE_BYTES)
        );
    }

    #[test]
    fn a_missing_file_is_none() {
        let mut f = FileBuf::default();
        assert_eq!(
            f.read(Path::new("/nonexistent/csflowd"), Extent::Whole),
            None
        );
    }

    #[test]
    fn paths_are_joined_with_one_slash() {
        let mut p = PathBuilder::default();
        assert_eq!(
            p.join(Path::new("/sys"), &[b"class", b"net", b"eth0", b"flags"]),
            Path::new("/sys/class/net/eth0/flags")
        );
        assert_eq!(
            p.join(Path::new("/proc"), &[b"stat"]),
            Path::new("/proc/stat")
        );
    }

    #[test]
    fn plain_names() {
        assert!(is_plain_name(b"eth0"));
        assert!(is_plain_name(b"cciss!c0d0"));
        for bad in [&b""[..], b".", b"..", b"a/b", b"a\0"] {
            assert!(!is_plain_name(bad), "{bad:?}");
        }
    }
}
