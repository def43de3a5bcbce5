//! Where one container's counters come from, resolved once when the container is set up, in as few
//! bytes as the table of thousands of containers can afford.
//!
//! For each counter the v1 hierarchy of its controller is used when one is mounted, else the v2 hierarchy:
//! on a hybrid host the v1 controllers hold the figures and the unified hierarchy is usually empty.
//!
//! A [`ContainerFiles`] keeps no paths: only the container's directory relative to each hierarchy (one
//! short string, shared by every hierarchy where they are the same, as they are with Docker and Podman)
//! and its pid. The reader joins them onto the mount points of its [`CgroupMounts`] and the proc root
//! when it has to open a file, into a buffer it reuses.
//!
//! Limits (CPU quota, cpuset, memory limit) are looked for at setup. A limit file that does not exist then
//! means the controller is not enabled for this container (v2 shows `cpu.max`, `cpuset.cpus.effective` and
//! `memory.max` only then), and "no limit" is the right answer; so is a controller no hierarchy holds. A
//! hierarchy that holds the controller but in which the container's directory cannot be resolved makes the
//! limit unknown. The values are read at setup and whenever the caller asks again
//! ([`ContainerReader::read_limits`](super::ContainerReader::read_limits)), not at every poll: they change
//! only when someone changes them (`docker update`). A counter file that existed at setup and cannot be
//! read at a poll (the container is gone) reads as unknown.

use std::cell::Cell;
use std::fs::File;

use super::mounts::V1Controller;
use super::values::Limit;

/// Which network namespace a container's process is in, as seen once at setup.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NetNamespace {
    /// Its own: its interfaces are its own and are counted.
    Own,
    /// The host's (`--network host`): it has no traffic of its own, and reports zeros and no adapters
    /// rather than the host's figures.
    Host,
    /// Could not be told (a namespace link could not be read): counted as [`NetNamespace::Own`], since
    /// most containers have their own namespace.
    Unknown,
}

/// A hierarchy: a v1 one (named by a controller it holds) or the v2 one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Hierarchy {
    /// The v1 hierarchy holding this controller.
    V1(V1Controller),
    /// The unified hierarchy.
    V2,
}

/// A part of [`ContainerFiles::rel`]: the container's directory below one hierarchy's mount point.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct RelDir {
    start: u16,
    len: u16,
}

/// The container's directory for one controller.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Place {
    /// No hierarchy holds the controller.
    NoHierarchy,
    /// The hierarchy is mounted but the process's path in it is missing or leads nowhere.
    Unresolved(Hierarchy),
    /// The directory.
    Dir(Hierarchy, RelDir),
}

impl Place {
    /// The hierarchy and directory, when resolved.
    pub(crate) fn dir(self) -> Option<(Hierarchy, RelDir)> {
        match self {
            Place::Dir(h, d) => Some((h, d)),
            _ => None,
        }
    }

    /// Whether the directory is in the v2 hierarchy (resolved or not).
    pub(crate) fn is_v2(self) -> bool {
        matches!(
            self,
            Place::Dir(Hierarchy::V2, _) | Place::Unresolved(Hierarchy::V2)
        )
    }
}

/// Whether a limit has a file, decided at setup.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum LimitFile {
    /// No hierarchy holds the controller, or the container's directory has no such file (the controller
    /// is not enabled for it): nothing limits the container there.
    NotEnabled,
    /// A hierarchy holds the controller but the container's directory in it could not be resolved: the
    /// limit is unknown.
    Unresolved,
    /// The file is there.
    Present,
}

/// What a limit's file said when last read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum LimitValue<T> {
    /// The container has no such file: nothing limits it there.
    NoFile,
    /// The file could not be read or parsed (or the directory could not be resolved).
    Failed,
    /// The file's value.
    Read(Limit<T>),
}

/// The limits as last read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Limits {
    /// CPUs of the CFS quota, rounded up.
    pub(crate) quota: LimitValue<u32>,
    /// CPUs of the cpuset.
    pub(crate) cpuset: LimitValue<u32>,
    /// Bytes of the memory limit.
    pub(crate) memory: LimitValue<u64>,
}

impl Limits {
    /// No limit file, before any is looked for.
    pub(crate) const NONE: Limits = Limits {
        quota: LimitValue::NoFile,
        cpuset: LimitValue::NoFile,
        memory: LimitValue::NoFile,
    };
}

/// Slots of the counter files a [`ContainerFiles`] keeps open: the ones read at every poll.
pub(crate) mod slot {
    pub(crate) const CPU_TIME: usize = 0;
    pub(crate) const MEMORY_USAGE: usize = 1;
    pub(crate) const DISK_BYTES: usize = 2;
    pub(crate) const DISK_REQUESTS: usize = 3;
    pub(crate) const NET_DEV: usize = 4;
    pub(crate) const COUNT: usize = 5;
}

/// The counter files of one container kept open between polls (see the module docs of
/// [`cgroup`](super)). A clone starts with none open; equality ignores them.
#[derive(Default)]
pub(crate) struct KeptFiles(pub(crate) [Cell<Option<File>>; slot::COUNT]);

impl KeptFiles {
    /// Descriptors open now.
    pub(crate) fn open_count(&self) -> usize {
        self.0
            .iter()
            .filter(|cell| {
                let file = cell.take();
                let open = file.is_some();
                cell.set(file);
                open
            })
            .count()
    }
}

impl Clone for KeptFiles {
    fn clone(&self) -> Self {
        KeptFiles::default()
    }
}

impl PartialEq for KeptFiles {
    fn eq(&self, _: &Self) -> bool {
        true
    }
}

impl Eq for KeptFiles {}

impl std::fmt::Debug for KeptFiles {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "KeptFiles({} open)", self.open_count())
    }
}

impl Drop for KeptFiles {
    fn drop(&mut self) {
        super::kept_closed(self.open_count());
    }
}

/// Where one container's counters are read, resolved once at setup by
/// [`ContainerReader::resolve`](super::ContainerReader::resolve), with its limits as last read and the
/// counter files kept open.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ContainerFiles {
    pub(crate) pid: u32,
    pub(crate) net_namespace: NetNamespace,
    /// `cpu`: the quota.
    pub(crate) cpu: Place,
    /// `cpuacct` (v1) or `cpu.stat` (v2): the CPU time.
    pub(crate) cpuacct: Place,
    pub(crate) cpuset: Place,
    pub(crate) memory: Place,
    pub(crate) blkio: Place,
    /// The container's directory in the v2 hierarchy, counters read there or not.
    pub(crate) v2: Place,
    /// The directories below the mount points that the places name, each once.
    pub(crate) rel: Box<[u8]>,
    pub(crate) quota_file: LimitFile,
    pub(crate) cpuset_file: LimitFile,
    pub(crate) memory_limit_file: LimitFile,
    pub(crate) limits: Limits,
    /// The counter files, kept open between polls.
    pub(crate) kept: KeptFiles,
}

impl ContainerFiles {
    /// The container's process, as given at setup.
    pub fn pid(&self) -> u32 {
        self.pid
    }

    /// The network namespace found at setup.
    pub fn net_namespace(&self) -> NetNamespace {
        self.net_namespace
    }

    /// Whether any cgroup counter has a directory (false: only the network counters can be read).
    pub fn has_cgroup_files(&self) -> bool {
        [self.cpuacct, self.memory, self.blkio]
            .iter()
            .any(|p| p.dir().is_some())
    }

    /// The bytes of `dir`, a part of [`ContainerFiles::rel`].
    pub(crate) fn rel_dir(&self, dir: RelDir) -> &[u8] {
        let start = usize::from(dir.start);
        self.rel
            .get(start..start + usize::from(dir.len))
            .unwrap_or_default()
    }
}

/// Collects the distinct relative directories of one container into one string.
#[derive(Debug, Default)]
pub(crate) struct RelDirs {
    bytes: Vec<u8>,
    parts: Vec<RelDir>,
}

impl RelDirs {
    /// `rel`'s place in the string, added when it is not there yet; `None` past 64 KiB in all.
    pub(crate) fn add(&mut self, rel: &[u8]) -> Option<RelDir> {
        for &part in &self.parts {
            let start = usize::from(part.start);
            if self.bytes.get(start..start + usize::from(part.len)) == Some(rel) {
                return Some(part);
            }
        }
        let part = RelDir {
            start: u16::try_from(self.bytes.len()).ok()?,
            len: u16::try_from(rel.len()).ok()?,
        };
        u16::try_from(self.bytes.len() + rel.len()).ok()?;
        self.bytes.extend_from_slice(rel);
        self.parts.push(part);
        Some(part)
    }

    /// The string, its capacity trimmed.
    pub(crate) fn finish(self) -> Box<[u8]> {
        self.bytes.into_boxed_slice()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn relative_directories_are_stored_once() {
        let mut dirs = RelDirs::default();
        let a = dirs.add(b"docker/abc").unwrap();
        let b = dirs.add(b"system.slice/x.scope").unwrap();
        assert_eq!(dirs.add(b"docker/abc"), Some(a));
        let empty = dirs.add(b"").unwrap();
        let rel = dirs.finish();
        assert_eq!(&rel[..], b"docker/abcsystem.slice/x.scope");
        let files = ContainerFiles {
            pid: 1,
            net_namespace: NetNamespace::Own,
            cpu: Place::NoHierarchy,
            cpuacct: Place::Dir(Hierarchy::V2, a),
            cpuset: Place::NoHierarchy,
            memory: Place::NoHierarchy,
            blkio: Place::NoHierarchy,
            v2: Place::NoHierarchy,
            rel,
            quota_file: LimitFile::NotEnabled,
            cpuset_file: LimitFile::NotEnabled,
            memory_limit_file: LimitFile::NotEnabled,
            limits: Limits::NONE,
            kept: KeptFiles::default(),
        };
        assert_eq!(files.rel_dir(a), b"docker/abc");
        assert_eq!(files.rel_dir(b), b"system.slice/x.scope");
        assert_eq!(files.rel_dir(empty), b"");
        assert!(files.has_cgroup_files());
    }

    #[test]
    fn relative_directories_are_bounded() {
        let mut dirs = RelDirs::default();
        let long = vec![b'a'; 40_000];
        assert!(dirs.add(&long).is_some());
        assert_eq!(dirs.add(&[b'b'; 30_000]), None, "past 64 KiB in all");
        assert!(dirs.add(b"short").is_some());
    }

    #[test]
    fn a_place_in_the_table_is_small() {
        assert!(std::mem::size_of::<Place>() <= 8);
        assert!(std::mem::size_of::<ContainerFiles>() <= 160);
    }
}
