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
///
/// Its storage stays initialised and only grows: a read goes straight into it, with no zeroing and
/// no copy, and `len` says how much of it the last file filled.
#[derive(Debug, Default)]
pub(crate) struct FileBuf {
    data: Vec<u8>,
    len: usize,
    warned_oversize: bool,
}

/// How a read loop knows it reached the end of a file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Ending {
    /// A read that returns 0.
    Zero,
    /// A read shorter than [`SHORT_READ_END`], or one that returns 0.
    Short,
}

impl FileBuf {
    /// Reads `path` into the buffer; `None` when it cannot be opened or read, or is longer than allowed.
    pub(crate) fn read(&mut self, path: &Path, extent: Extent) -> Option<&[u8]> {
        let result = open_nonblocking(path)
            .and_then(|file| self.fill(extent_limit(extent), Ending::Zero, |b, _| (&file).read(b)));
        if let Err(e) = &result {
            log::debug!("cannot read {}: {}", path.display(), e);
        }
        let kept = self.finish(result.ok(), extent, || path.to_path_buf());
        kept.then_some(self.contents())
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
        let longer = self.fill(extent_limit(extent), Ending::Zero, |b, _| {
            let mut f = file;
            f.read(b)
        })?;
        let kept = self.finish(Some(longer), extent, || path.to_path_buf());
        Ok(kept.then_some(self.contents()))
    }

    /// Re-reads a file kept open from offset 0 with `pread` (a kernel file regenerates its text when
    /// read from 0), capped like [`FileBuf::read`], taking a short read as the end (see
    /// [`SHORT_READ_END`]): one `pread` for a small file, where reading on to the read that returns 0
    /// would make the kernel generate the text a second time. `Ok(true)`: the text is in
    /// [`FileBuf::contents`]; `Ok(false)`: the file is longer than allowed (logged once, naming
    /// `path()`); `Err` when reading failed.
    pub(crate) fn reread(
        &mut self,
        file: &File,
        extent: Extent,
        path: impl FnOnce() -> PathBuf,
    ) -> io::Result<bool> {
        let longer = self.fill(extent_limit(extent), Ending::Short, |b, offset| {
            file.read_at(b, offset)
        })?;
        Ok(self.finish(Some(longer), extent, path))
    }

    /// What the last successful read left in the buffer.
    pub(crate) fn contents(&self) -> &[u8] {
        self.data.get(..self.len).unwrap_or_default()
    }

    /// Reads chunks with `read(buf, offset)` into the storage, from its start, until `ending` says the
    /// file ended (`Ok(false)`) or more than `limit` bytes came (`Ok(true)`). Interrupted reads are
    /// retried.
    fn fill(
        &mut self,
        limit: usize,
        ending: Ending,
        mut read: impl FnMut(&mut [u8], u64) -> io::Result<usize>,
    ) -> io::Result<bool> {
        self.len = 0;
        loop {
            let want = self.len + READ_CHUNK;
            if self.data.len() < want {
                self.data.resize(want, 0);
            }
            let Some(room) = self.data.get_mut(self.len..want) else {
                return Ok(false);
            };
            let n = match read(room, self.len as u64) {
                Ok(n) => n.min(READ_CHUNK),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => {
                    self.len = 0;
                    return Err(e);
                }
            };
            self.len += n;
            if self.len > limit {
                return Ok(true);
            }
            if n == 0 || (ending == Ending::Short && n < SHORT_READ_END) {
                return Ok(false);
            }
        }
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
            (None, _) => {
                self.len = 0;
                false
            }
            (Some(false), _) => true,
            (Some(true), Extent::Prefix(n)) => {
                self.len = self.len.min(n).min(MAX_FILE_BYTES);
                true
            }
            (Some(true), Extent::Whole) => {
                // Do not keep megabytes of storage for the sake of one bad file.
                self.len = 0;
                self.data.truncate(KEPT_CAPACITY);
                self.data.shrink_to(KEPT_CAPACITY);
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

/// A read shorter than this many bytes is the end of the file. A kernel file produces as much as its
/// buffer (a page, at least 4 KiB) holds on each read, stopping short of it only at the end or before a
/// record that would not fit in what is left: a short read of less than half a page is the end for every
/// file whose records are shorter than half a page, as the counter files read through kept descriptors
/// are (single values, per-device lines, per-interface lines). The mount table, whose lines have no
/// such bound, is streamed to the end instead (`mounts.rs`). A regular file ends at a short read anyway.
pub(crate) const SHORT_READ_END: usize = 2048;

/// Size of each read.
const READ_CHUNK: usize = 4096;

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
        assert!(f.data.capacity() <= KEPT_CAPACITY);
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
    fn rereads_take_a_short_read_as_the_end_and_read_on_after_a_long_one() {
        let mut f = FileBuf::default();
        for size in [
            0,
            100,
            SHORT_READ_END,
            READ_CHUNK,
            READ_CHUNK + 1,
            3 * READ_CHUNK + 7,
        ] {
            let text: Vec<u8> = (0..size).map(|i| b'a' + (i % 26) as u8).collect();
            let path = temp_file(&format!("reread-{size}"), &text);
            let file = std::fs::File::open(&path).unwrap();
            for _ in 0..2 {
                assert!(f.reread(&file, Extent::Whole, || path.clone()).unwrap());
                assert_eq!(f.contents(), &text[..], "{size} bytes");
            }
            // A plain read of a longer file leaves nothing of it behind.
            assert_eq!(
                f.read(&path, Extent::Prefix(3)).map(<[u8]>::len),
                Some(size.min(3))
            );
        }
        // A proc file is read whole, however long, and again from the start.
        let stat = std::fs::File::open("/proc/self/mountinfo").unwrap();
        assert!(f.reread(&stat, Extent::Whole, PathBuf::new).unwrap());
        let first = f.contents().to_vec();
        assert!(first.ends_with(b"\n"));
        assert!(f.reread(&stat, Extent::Whole, PathBuf::new).unwrap());
        assert_eq!(f.contents(), &first[..]);
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
