//! Container counters straight from the kernel: cgroup v1 and v2 files and the container's procfs view,
//! without asking the engine for stats.
//!
//! Three steps, each with its own cost:
//!
//! 1. Once per agent: [`CgroupMounts::discover`] finds the cgroup hierarchies in `<proc>/1/mountinfo`
//!    (or `<proc>/self/mountinfo`) and classifies the host ([`CgroupMode`]); [`missing_v2_controllers`]
//!    says which v2 controllers the host leaves off, for a warning. A [`ContainerReader`] holds them
//!    with the roots.
//! 2. Once per container: [`ContainerReader::resolve`] reads `<proc>/<pid>/cgroup` and keeps, in a
//!    [`ContainerFiles`] of about 130 bytes and one short string, the container's directory relative to
//!    each hierarchy, never a path; it notes which limit files exist, compares the container's network
//!    namespace with the host's (a `readlink` each) and reads the limits.
//!    [`ContainerReader::read_limits`] reads them again when the caller says they may have changed.
//!    [`ContainerReader::read_adapters`] reads the container's `host_adapters`, to repeat only when
//!    [`ReadReport::adapters_stale`] says the interfaces changed.
//! 3. Every poll: [`ContainerReader::read`] reads the container's five counter files (four on v2: CPU
//!    time, memory use, disk bytes and requests, `net/dev`) into the reader's one buffer and parses the
//!    bytes into [`ContainerCounters`], the limits taken as last read. Each file is opened once and kept
//!    open in its [`ContainerFiles`] (re-read with one `pread` from offset 0, which regenerates a kernel
//!    file's text), within a process-wide budget of `RLIMIT_NOFILE` less [`RESERVED_DESCRIPTORS`]
//!    (shared with the agent's `net/snmp` descriptors of `mib2.containers`, through [`may_keep`]);
//!    past it, files are opened each poll, with one `openat` below a descriptor the reader keeps of
//!    their hierarchy's mount point (or of the proc root). Dropping a
//!    `ContainerFiles` closes its files, so a removed cgroup is never kept alive. No directory listing
//!    and, once the buffers have grown to the largest file and path, no allocation.
//!
//! Contract:
//! - Everything is read under the configured [`Roots`](crate::host::Roots). Mount points in mountinfo are
//!   absolute paths of the host's mount namespace (`/sys/fs/cgroup/memory`); they are mapped under the sys
//!   root by dropping their leading `/sys` and joining the rest onto `roots.sys`. Cgroup mounts outside
//!   `/sys` are ignored.
//! - Container pids are pids of the host's pid namespace (the engine's `State.Pid`), and the agent reads
//!   `<proc>/<pid>/cgroup` from the host's cgroup namespace, so the paths there are full host paths even
//!   for a container with its own cgroup namespace (inside which its cgroup looks like `/`). An agent put in
//!   a nested cgroup namespace would see `/../...` paths; those resolve to no directory and read as
//!   unknown.
//! - Nothing here panics on any file content. Every file read is capped (the host readers'
//!   [`MAX_FILE_BYTES`](crate::host::MAX_FILE_BYTES)), every list is bounded, and data from files can never
//!   walk a path out of its directory (`.` and `..` components are refused).
//! - A file that is missing, unreadable or malformed leaves its fields unknown (the sFlow all-ones value);
//!   [`ReadReport::fields`] says which fields were read, and [`ContainerCounters::keep_read`] folds them
//!   into a container's last good values, for the final sample sent after its cgroup is gone.
//!
//! The cgroup file formats are those of the kernel's Documentation/admin-guide/cgroup-v2.rst and
//! cgroup-v1/{cpuacct,memory,blkio-controller}.rst.

mod adapters;
mod controllers;
mod files;
mod membership;
mod mounts;
mod reader;
mod setup;
mod values;

use std::fmt;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::OnceLock;

/// Counter files kept open across containers, and how many may be.
static KEPT_OPEN: AtomicUsize = AtomicUsize::new(0);
static KEPT_BUDGET: OnceLock<usize> = OnceLock::new();

/// Descriptors left for everything else the agent opens (engine connections, collector sockets, the
/// host's files: a few dozen at most).
pub const RESERVED_DESCRIPTORS: u64 = 256;

/// Descriptors kept open for counter files may use all of `RLIMIT_NOFILE` (as it is when first
/// asked) but [`RESERVED_DESCRIPTORS`]: the files of containers beyond it are opened each poll.
fn kept_budget() -> usize {
    *KEPT_BUDGET.get_or_init(|| match crate::sys::open_files_limit() {
        Some(n) => usize::try_from(n.saturating_sub(RESERVED_DESCRIPTORS))
            .unwrap_or(usize::MAX)
            .min(1 << 20),
        None => 512,
    })
}

/// Takes one descriptor of the budget; false when it is spent.
pub(crate) fn may_keep() -> bool {
    let budget = kept_budget();
    KEPT_OPEN
        .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |n| {
            (n < budget).then_some(n + 1)
        })
        .is_ok()
}

/// Gives `n` descriptors back to the budget.
pub(crate) fn kept_closed(n: usize) {
    let _ = KEPT_OPEN.fetch_update(Ordering::Relaxed, Ordering::Relaxed, |k| {
        Some(k.saturating_sub(n))
    });
}

/// Counter files kept open now, in the whole process.
pub fn kept_open() -> usize {
    KEPT_OPEN.load(Ordering::Relaxed)
}

pub use controllers::{missing_v2_controllers, V2Controllers};
pub use files::{ContainerFiles, NetNamespace};
pub use mounts::{CgroupMode, CgroupMount, CgroupMounts, V1Controller};
pub use reader::{ContainerCounters, ContainerReader, Fields, HostCapacity, ReadReport};

/// Why discovery or a container's setup failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CgroupError {
    /// Neither `<proc>/1/mountinfo` nor `<proc>/self/mountinfo` could be read.
    MountinfoUnreadable,
    /// `<proc>/<pid>/cgroup` could not be read: the process is gone, or procfs is not where the roots say.
    ProcessCgroupUnreadable,
    /// Pid 0 names no process.
    InvalidPid,
}

impl CgroupError {
    /// A static description.
    pub fn message(self) -> &'static str {
        match self {
            CgroupError::MountinfoUnreadable => {
                "cannot read mountinfo to find the cgroup hierarchies"
            }
            CgroupError::ProcessCgroupUnreadable => {
                "cannot read the container process's cgroup file"
            }
            CgroupError::InvalidPid => "pid 0 names no process",
        }
    }
}

impl fmt::Display for CgroupError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.message())
    }
}

impl std::error::Error for CgroupError {}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    /// Every parser over pseudo-random bytes drawn from the characters the formats use: no panic, and
    /// nothing found outside the roots.
    #[test]
    fn garbage_never_panics() {
        const ALPHABET: &[u8] = b"0123456789-:,= \n\t/.\\maxrbytesioReadWriteTotalcgroup2";
        let mut state = 0x2545_f491_4f6c_dd1du64;
        let mut text = Vec::new();
        for _ in 0..20_000 {
            text.clear();
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            let len = (state % 96) as usize;
            for _ in 0..len {
                state ^= state << 13;
                state ^= state >> 7;
                state ^= state << 17;
                text.push(ALPHABET[(state % ALPHABET.len() as u64) as usize]);
            }
            let _ = values::parse_single_u64(&text);
            let _ = values::flat_keyed_value(&text, b"usage_usec");
            let _ = values::parse_cpu_max(&text);
            let _ = values::parse_cfs_quota_us(&text);
            let _ = values::cfs_quota_cpus(state, &text);
            let _ = values::count_cpu_list(&text);
            let _ = values::parse_memory_limit(&text);
            let _ = values::sum_blkio(&text);
            let _ = values::sum_io_stat(&text);
            let mounts = CgroupMounts::from_mountinfo(&text, Path::new("/r/sys"));
            for mount in V1Controller::ALL
                .iter()
                .filter_map(|&c| mounts.v1(c))
                .chain(mounts.v2())
            {
                assert!(mount.dir.starts_with("/r/sys"), "{mount:?}");
            }
            let membership = membership::parse_proc_cgroup(&text);
            if let (Some(mount), Some(path)) = (mounts.v2(), membership.v2()) {
                if let Some(dir) = membership::cgroup_dir(mount, path) {
                    assert!(dir.starts_with(&mount.dir));
                    assert!(!dir.components().any(|c| c.as_os_str() == ".."));
                }
            }
        }
    }
}
