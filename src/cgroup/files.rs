//! The files one container's counters come from, resolved once when the container is set up.
//!
//! For each counter the v1 hierarchy of its controller is used when one is mounted, else the v2 hierarchy:
//! on a hybrid host the v1 controllers hold the figures and the unified hierarchy is usually empty.
//!
//! Limits (CPU quota, cpuset, memory limit) are looked for at setup. A limit file that does not exist then
//! means the controller is not enabled for this container (v2 shows `cpu.max`, `cpuset.cpus.effective` and
//! `memory.max` only then), and "no limit" is the right answer; so is a controller no hierarchy holds. A
//! hierarchy that holds the controller but in which the container's directory cannot be resolved makes the
//! limit unknown. A file that existed at setup and cannot be read at a poll (the container is gone) reads
//! as unknown too.

use std::ffi::OsStr;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

use crate::host::file::{Extent, FileBuf, PathBuilder};
use crate::host::Roots;

use super::membership::{cgroup_dir, parse_proc_cgroup};
use super::mounts::{CgroupMount, CgroupMounts, V1Controller};
use super::CgroupError;

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

/// Where the CPU time is read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum CpuTimeFile {
    /// v1 `cpuacct.usage`, nanoseconds.
    V1Usage(PathBuf),
    /// v2 `cpu.stat`, `usage_usec` (the file exists whether the cpu controller is enabled or not).
    V2Stat(PathBuf),
}

/// Where the CPU quota is read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum CpuQuotaFiles {
    /// v1 `cpu.cfs_quota_us` and `cpu.cfs_period_us`.
    V1 { quota: PathBuf, period: PathBuf },
    /// v2 `cpu.max`.
    V2(PathBuf),
}

/// Where the disk figures are read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum DiskFiles {
    /// v1 `blkio.throttle.io_service_bytes` and `blkio.throttle.io_serviced`.
    V1 { bytes: PathBuf, requests: PathBuf },
    /// v2 `io.stat`.
    V2(PathBuf),
}

/// Where a limit is read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum LimitFile<T> {
    /// No hierarchy holds the controller, or the container's directory has no such file (the controller
    /// is not enabled for it): nothing limits the container there.
    NotEnabled,
    /// A hierarchy holds the controller but the container's directory in it could not be resolved: the
    /// limit is unknown.
    Unresolved,
    /// The file(s).
    File(T),
}

/// Slots of the counter files a [`ContainerFiles`] keeps open.
pub(crate) mod slot {
    pub(crate) const CPU_TIME: usize = 0;
    pub(crate) const QUOTA: usize = 1;
    pub(crate) const PERIOD: usize = 2;
    pub(crate) const CPUSET: usize = 3;
    pub(crate) const MEMORY_USAGE: usize = 4;
    pub(crate) const MEMORY_LIMIT: usize = 5;
    pub(crate) const DISK_BYTES: usize = 6;
    pub(crate) const DISK_REQUESTS: usize = 7;
    pub(crate) const NET_DEV: usize = 8;
    pub(crate) const COUNT: usize = 9;
}

/// The counter files of one container kept open between polls (see the module docs). A clone starts
/// with none open; equality ignores them.
#[derive(Default)]
pub(crate) struct KeptFiles(pub(crate) std::cell::RefCell<[Option<std::fs::File>; slot::COUNT]>);

impl KeptFiles {
    /// Descriptors open now.
    pub(crate) fn open_count(&self) -> usize {
        self.0.borrow().iter().flatten().count()
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

/// The exact files one container's counters are read from, resolved once at setup so a poll only opens
/// and reads them. `None` for a counter means no hierarchy holds it for this container.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ContainerFiles {
    pub(crate) pid: u32,
    pub(crate) cpu_time: Option<CpuTimeFile>,
    pub(crate) cpu_quota: LimitFile<CpuQuotaFiles>,
    pub(crate) cpuset: LimitFile<PathBuf>,
    pub(crate) memory_usage: Option<PathBuf>,
    pub(crate) memory_limit: LimitFile<PathBuf>,
    pub(crate) disk: Option<DiskFiles>,
    /// `<proc>/<pid>/net/dev`.
    pub(crate) net_dev: PathBuf,
    /// `<proc>/<pid>/root/sys/class/net`.
    pub(crate) class_net: PathBuf,
    pub(crate) net_namespace: NetNamespace,
    pub(crate) v2_dir: Option<PathBuf>,
    /// The files above, kept open between polls.
    pub(crate) kept: KeptFiles,
}

impl ContainerFiles {
    /// Resolves the files of the container whose process is `pid` (a pid of the host's pid namespace, as
    /// the engine reports `State.Pid`), from `<proc>/<pid>/cgroup` and the host's `mounts`. Fails only
    /// when the process's cgroup file cannot be read (the process is gone); a counter whose hierarchy is
    /// missing is simply left without a file.
    pub fn resolve(
        roots: &Roots,
        mounts: &CgroupMounts,
        pid: u32,
    ) -> Result<ContainerFiles, CgroupError> {
        if pid == 0 {
            return Err(CgroupError::InvalidPid);
        }
        let mut files = FileBuf::default();
        let mut paths = PathBuilder::default();
        let pid_text = pid.to_string();
        let pid_bytes = pid_text.as_bytes();
        let text = files
            .read(
                paths.join(&roots.proc, &[pid_bytes, b"cgroup"]),
                Extent::Whole,
            )
            .ok_or(CgroupError::ProcessCgroupUnreadable)?;
        let membership = parse_proc_cgroup(text);
        let place = |c: V1Controller| Place::of(mounts.v1(c), membership.v1(c));
        let v2 = Place::of(mounts.v2(), membership.v2());
        let cpu = Hierarchy::choose(place(V1Controller::Cpu), &v2);
        let cpuacct = Hierarchy::choose(place(V1Controller::Cpuacct), &v2);
        let cpuset = Hierarchy::choose(place(V1Controller::Cpuset), &v2);
        let memory = Hierarchy::choose(place(V1Controller::Memory), &v2);
        let blkio = Hierarchy::choose(place(V1Controller::Blkio), &v2);

        Ok(ContainerFiles {
            pid,
            cpu_time: match cpuacct {
                Hierarchy::V1(Place::Dir(d)) => Some(CpuTimeFile::V1Usage(d.join("cpuacct.usage"))),
                Hierarchy::V2(Place::Dir(d)) => Some(CpuTimeFile::V2Stat(d.join("cpu.stat"))),
                _ => None,
            },
            cpu_quota: match cpu {
                Hierarchy::V1(p) => p.limit("cpu.cfs_quota_us", |quota, d| CpuQuotaFiles::V1 {
                    quota,
                    period: d.join("cpu.cfs_period_us"),
                }),
                Hierarchy::V2(p) => p.limit("cpu.max", |max, _| CpuQuotaFiles::V2(max)),
            },
            cpuset: match cpuset {
                Hierarchy::V1(p) => p.limit("cpuset.cpus", |f, _| f),
                Hierarchy::V2(p) => p.limit("cpuset.cpus.effective", |f, _| f),
            },
            memory_usage: match &memory {
                Hierarchy::V1(Place::Dir(d)) => Some(d.join("memory.usage_in_bytes")),
                Hierarchy::V2(Place::Dir(d)) => Some(d.join("memory.current")),
                _ => None,
            },
            memory_limit: match memory {
                Hierarchy::V1(p) => p.limit("memory.limit_in_bytes", |f, _| f),
                Hierarchy::V2(p) => p.limit("memory.max", |f, _| f),
            },
            disk: match blkio {
                Hierarchy::V1(Place::Dir(d)) => Some(DiskFiles::V1 {
                    bytes: d.join("blkio.throttle.io_service_bytes"),
                    requests: d.join("blkio.throttle.io_serviced"),
                }),
                Hierarchy::V2(Place::Dir(d)) => Some(DiskFiles::V2(d.join("io.stat"))),
                _ => None,
            },
            net_dev: join(&roots.proc, &[pid_bytes, b"net", b"dev"]),
            class_net: join(&roots.proc, &[pid_bytes, b"root", b"sys", b"class", b"net"]),
            net_namespace: net_namespace(roots, pid_bytes),
            v2_dir: match v2 {
                Place::Dir(d) => Some(d),
                _ => None,
            },
            kept: KeptFiles::default(),
        })
    }

    /// The container's process, as given at setup.
    pub fn pid(&self) -> u32 {
        self.pid
    }

    /// The network namespace found at setup.
    pub fn net_namespace(&self) -> NetNamespace {
        self.net_namespace
    }

    /// The container's directory in the v2 hierarchy, when it has one.
    pub fn v2_dir(&self) -> Option<&Path> {
        self.v2_dir.as_deref()
    }

    /// Whether any cgroup counter has a file (false: only the network counters can be read).
    pub fn has_cgroup_files(&self) -> bool {
        self.cpu_time.is_some() || self.memory_usage.is_some() || self.disk.is_some()
    }
}

/// The container's directory in one hierarchy.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Place {
    /// No such hierarchy is mounted.
    NoHierarchy,
    /// The hierarchy is mounted but the process's path in it is missing or leads nowhere.
    Unresolved,
    /// The directory.
    Dir(PathBuf),
}

impl Place {
    fn of(mount: Option<&CgroupMount>, path: Option<&[u8]>) -> Place {
        match mount {
            None => Place::NoHierarchy,
            Some(m) => match path.and_then(|p| cgroup_dir(m, p)) {
                Some(dir) => Place::Dir(dir),
                None => Place::Unresolved,
            },
        }
    }

    /// The limit file `name` of this place, if it exists now; `make` gets its path and the directory.
    fn limit<T>(self, name: &str, make: impl FnOnce(PathBuf, &Path) -> T) -> LimitFile<T> {
        match self {
            Place::NoHierarchy => LimitFile::NotEnabled,
            Place::Unresolved => LimitFile::Unresolved,
            Place::Dir(dir) => {
                let file = dir.join(name);
                if file.exists() {
                    LimitFile::File(make(file, &dir))
                } else {
                    LimitFile::NotEnabled
                }
            }
        }
    }
}

/// The hierarchy a controller's files are read in: its v1 one when mounted, else the v2 one.
enum Hierarchy {
    V1(Place),
    V2(Place),
}

impl Hierarchy {
    fn choose(v1: Place, v2: &Place) -> Hierarchy {
        match v1 {
            Place::NoHierarchy => Hierarchy::V2(v2.clone()),
            v1 => Hierarchy::V1(v1),
        }
    }
}

fn join(root: &Path, parts: &[&[u8]]) -> PathBuf {
    let mut path = root.to_path_buf();
    for part in parts {
        path.push(OsStr::from_bytes(part));
    }
    path
}

/// Compares the container's `ns/net` link with the host's: `<proc>/1/ns/net`, or, when pid 1's links are
/// closed to the agent (a sandbox without `CAP_SYS_PTRACE` over init), `<proc>/self/ns/net`, which is the
/// host's namespace when the agent runs on the host or with `--network host`.
fn net_namespace(roots: &Roots, pid: &[u8]) -> NetNamespace {
    let link = |who: &[u8]| std::fs::read_link(join(&roots.proc, &[who, b"ns", b"net"])).ok();
    let Some(container) = link(pid) else {
        return NetNamespace::Unknown;
    };
    match link(b"1").or_else(|| link(b"self")) {
        Some(host) if host == container => NetNamespace::Host,
        Some(_) => NetNamespace::Own,
        None => NetNamespace::Unknown,
    }
}
