//! A kernel file the host reader re-reads every poll, kept open between polls when it is on procfs.
//!
//! A /proc file regenerates its text when read from offset 0, so keeping it open turns open, read,
//! read and close (and a path walk) into one `pread` (a short read is the end: see
//! [`SHORT_READ_END`](super::file::SHORT_READ_END)). That holds only
//! on procfs: a file in an ordinary directory (a fixture tree, a copy) may be replaced or removed
//! between polls, and FUSE overlays such as lxcfs are left to behave as they always did, so any file
//! not on procfs is opened by path on every read, as before.
//!
//! A file that cannot be opened is unknown, and opening it is retried at most once per
//! [`RETRY_OPEN`], so a file this kernel does not have costs no path walk per poll; the first failure
//! is logged (debug) once until the file opens again. Nothing here panics or allocates once the path
//! is stored.

use std::fs::File;
use std::os::fd::AsFd;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use super::file::{open_nonblocking, Extent, FileBuf};

/// How long a file that could not be opened stays unknown before it is tried again.
pub const RETRY_OPEN: Duration = Duration::from_secs(60);

/// How a [`KeptFile`] is read now.
#[derive(Debug)]
enum State {
    /// Not opened yet, or to be opened again at once.
    Closed,
    /// Open on procfs: re-read from offset 0.
    Kept(File),
    /// Not on procfs: opened by path on every read.
    ByPath,
    /// Could not be opened; not tried again before `retry_at`.
    Failed { retry_at: Instant },
}

/// One kernel file read whole (or a prefix of it) on every poll.
#[derive(Debug)]
pub(crate) struct KeptFile {
    path: PathBuf,
    state: State,
    logged_failure: bool,
}

impl KeptFile {
    /// The file at `path`, opened on first read.
    pub(crate) fn new(path: PathBuf) -> KeptFile {
        KeptFile {
            path,
            state: State::Closed,
            logged_failure: false,
        }
    }

    /// Whether the descriptor is kept open now.
    #[cfg(test)]
    pub(crate) fn is_kept(&self) -> bool {
        matches!(self.state, State::Kept(_))
    }

    /// The file's text now, into `buf`; `None` when it cannot be opened or read, is longer than
    /// `extent` allows, or failed to open less than [`RETRY_OPEN`] before `now`.
    pub(crate) fn read<'b>(
        &mut self,
        buf: &'b mut FileBuf,
        extent: Extent,
        now: Instant,
    ) -> Option<&'b [u8]> {
        if let State::Kept(file) = &self.state {
            match buf.reread(file, extent, || self.path.clone()) {
                Ok(true) => return Some(buf.contents()),
                Ok(false) => return None,
                // The kernel refused the kept descriptor (rare on procfs): open the path again now.
                Err(_) => self.state = State::Closed,
            }
        }
        match self.state {
            State::Failed { retry_at } if now < retry_at => return None,
            _ => {}
        }
        let file = match open_nonblocking(&self.path) {
            Ok(file) => file,
            Err(e) => {
                if !self.logged_failure {
                    self.logged_failure = true;
                    log::debug!(
                        "cannot open {}: {}; its values are unknown, retried every {} s",
                        self.path.display(),
                        e,
                        RETRY_OPEN.as_secs()
                    );
                }
                self.state = State::Failed {
                    retry_at: now + RETRY_OPEN,
                };
                return None;
            }
        };
        self.logged_failure = false;
        if crate::sys::is_on_procfs(file.as_fd()).unwrap_or(false) {
            self.state = State::Kept(file);
            let State::Kept(file) = &self.state else {
                return None;
            };
            let path = &self.path;
            match buf.reread(file, extent, || path.clone()) {
                Ok(true) => Some(buf.contents()),
                _ => None,
            }
        } else {
            self.state = State::ByPath;
            match buf.read_opened(&file, &self.path, extent) {
                Ok(text) => text,
                Err(e) => {
                    log::debug!("cannot read {}: {}", self.path.display(), e);
                    None
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn temp_dir(tag: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("csflowd-kept-{tag}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        dir
    }

    #[test]
    fn a_procfs_file_is_kept_open_and_reread() {
        let mut f = KeptFile::new(PathBuf::from("/proc/self/stat"));
        let mut buf = FileBuf::default();
        let now = Instant::now();
        let first = f.read(&mut buf, Extent::Whole, now).unwrap().to_vec();
        assert!(f.is_kept());
        let again = f.read(&mut buf, Extent::Whole, now).unwrap();
        // The same process: same pid and name at the start of the line.
        let head = |t: &[u8]| t.split(|&b| b == b')').next().unwrap().to_vec();
        assert_eq!(head(again), head(&first));
    }

    #[test]
    fn a_plain_file_is_read_by_path_every_time() {
        let dir = temp_dir("plain");
        let path = dir.join("loadavg");
        std::fs::write(&path, b"1\n").unwrap();
        let mut f = KeptFile::new(path.clone());
        let mut buf = FileBuf::default();
        let now = Instant::now();
        assert_eq!(f.read(&mut buf, Extent::Whole, now), Some(&b"1\n"[..]));
        assert!(!f.is_kept());
        // Replaced by another file: the new one is read, not the old inode.
        let tmp = dir.join("new");
        std::fs::write(&tmp, b"2\n").unwrap();
        std::fs::rename(&tmp, &path).unwrap();
        assert_eq!(f.read(&mut buf, Extent::Whole, now), Some(&b"2\n"[..]));
        // Removed: unknown, not stale.
        std::fs::remove_file(&path).unwrap();
        assert_eq!(f.read(&mut buf, Extent::Whole, now), None);
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn a_missing_file_is_retried_at_a_bounded_rate() {
        let dir = temp_dir("retry");
        let path = dir.join("vmstat");
        let mut f = KeptFile::new(path.clone());
        let mut buf = FileBuf::default();
        let t0 = Instant::now();
        assert_eq!(f.read(&mut buf, Extent::Whole, t0), None);
        assert!(f.logged_failure);
        std::fs::write(&path, b"pgpgin 1\n").unwrap();
        // Not tried again before RETRY_OPEN has passed...
        let soon = t0 + RETRY_OPEN / 2;
        assert_eq!(f.read(&mut buf, Extent::Whole, soon), None);
        // ...and then it is.
        let later = t0 + RETRY_OPEN;
        assert_eq!(
            f.read(&mut buf, Extent::Whole, later),
            Some(&b"pgpgin 1\n"[..])
        );
        assert!(!f.logged_failure);
        let _ = std::fs::remove_dir_all(&dir);
    }
}
