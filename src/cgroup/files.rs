//! The files one container's counters come from, resolved once when the container is set up.
//!
//! For each counter the v1 hierarchy of its controller is used when one is mounted, else the v2 hierarchy:
//! on a hybrid host the v1 controllers hold the figures and the unified hierarchy is usually empty.
//!
//! Limits (CPU quota, cpuset, memory limit) are kept only if their file exists at setup: when it does not,
//! the controller is not enabled for this container (v2 shows `cpu.max`, `cpuset.cpus.effective` and
//! `memory.max` only then), and "no limit" is then the right answer rather than "unknown". A file that
//! existed at setup and cannot be read at a poll (the container is gone) reads as unknown.

use std::ffi::OsStr;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

use crate::host::file::{Extent, FileBuf, PathBuilder};
use crate::host::Roots;

use super::membership::{cgroup_dir, parse_proc_cgroup, Membership};
use super::mounts::{CgroupMounts, V1Controller};
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

/// The exact files one container's counters are read from, resolved once at setup so a poll only opens
/// and reads them. `None` for a counter means no hierarchy holds it for this container.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ContainerFiles {
    pub(crate) pid: u32,
    pub(crate) cpu_time: Option<CpuTimeFile>,
    pub(crate) cpu_quota: Option<CpuQuotaFiles>,
    pub(crate) cpuset: Option<PathBuf>,
    pub(crate) memory_usage: Option<PathBuf>,
    pub(crate) memory_limit: Option<PathBuf>,
    pub(crate) disk: Option<DiskFiles>,
    /// `<proc>/<pid>/net/dev`.
    pub(crate) net_dev: PathBuf,
    /// `<proc>/<pid>/root/sys/class/net`.
    pub(crate) class_net: PathBuf,
    pub(crate) net_namespace: NetNamespace,
    pub(crate) v2_dir: Option<PathBuf>,
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
        let dirs = Dirs::of(mounts, &membership);

        let resolved = ContainerFiles {
            pid,
            cpu_time: match (&dirs.cpuacct, &dirs.v2) {
                (Some(d), _) => Some(CpuTimeFile::V1Usage(d.join("cpuacct.usage"))),
                (None, Some(d)) => Some(CpuTimeFile::V2Stat(d.join("cpu.stat"))),
                (None, None) => None,
            },
            cpu_quota: match (&dirs.cpu, &dirs.v2) {
                (Some(d), _) => {
                    existing(d.join("cpu.cfs_quota_us")).map(|quota| CpuQuotaFiles::V1 {
                        quota,
                        period: d.join("cpu.cfs_period_us"),
                    })
                }
                (None, Some(d)) => existing(d.join("cpu.max")).map(CpuQuotaFiles::V2),
                (None, None) => None,
            },
            cpuset: match (&dirs.cpuset, &dirs.v2) {
                (Some(d), _) => existing(d.join("cpuset.cpus")),
                (None, Some(d)) => existing(d.join("cpuset.cpus.effective")),
                (None, None) => None,
            },
            memory_usage: match (&dirs.memory, &dirs.v2) {
                (Some(d), _) => Some(d.join("memory.usage_in_bytes")),
                (None, Some(d)) => Some(d.join("memory.current")),
                (None, None) => None,
            },
            memory_limit: match (&dirs.memory, &dirs.v2) {
                (Some(d), _) => existing(d.join("memory.limit_in_bytes")),
                (None, Some(d)) => existing(d.join("memory.max")),
                (None, None) => None,
            },
            disk: match (&dirs.blkio, &dirs.v2) {
                (Some(d), _) => Some(DiskFiles::V1 {
                    bytes: d.join("blkio.throttle.io_service_bytes"),
                    requests: d.join("blkio.throttle.io_serviced"),
                }),
                (None, Some(d)) => Some(DiskFiles::V2(d.join("io.stat"))),
                (None, None) => None,
            },
            net_dev: join(&roots.proc, &[pid_bytes, b"net", b"dev"]),
            class_net: join(&roots.proc, &[pid_bytes, b"root", b"sys", b"class", b"net"]),
            net_namespace: net_namespace(roots, pid_bytes),
            v2_dir: dirs.v2,
        };
        Ok(resolved)
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

/// The container's directory in each hierarchy the counters use.
struct Dirs {
    cpu: Option<PathBuf>,
    cpuacct: Option<PathBuf>,
    cpuset: Option<PathBuf>,
    memory: Option<PathBuf>,
    blkio: Option<PathBuf>,
    v2: Option<PathBuf>,
}

impl Dirs {
    fn of(mounts: &CgroupMounts, m: &Membership<'_>) -> Dirs {
        let v1 = |c: V1Controller| cgroup_dir(mounts.v1(c)?, m.v1(c)?);
        Dirs {
            cpu: v1(V1Controller::Cpu),
            cpuacct: v1(V1Controller::Cpuacct),
            cpuset: v1(V1Controller::Cpuset),
            memory: v1(V1Controller::Memory),
            blkio: v1(V1Controller::Blkio),
            v2: mounts
                .v2()
                .zip(m.v2())
                .and_then(|(mount, path)| cgroup_dir(mount, path)),
        }
    }
}

fn existing(path: PathBuf) -> Option<PathBuf> {
    path.exists().then_some(path)
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
