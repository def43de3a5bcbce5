//! A container's setup: where its counters are ([`ContainerReader::resolve`]), and its limits, read then
//! and again whenever the caller asks ([`ContainerReader::read_limits`]).
//!
//! Both run once per container (and per `docker update`, or every ten minutes), not per poll: they
//! open files by path, and `resolve` allocates the container's one string of relative directories.

use std::ffi::OsStr;
use std::os::unix::ffi::OsStrExt;
use std::path::PathBuf;

use crate::host::file::Extent;

use super::files::{
    ContainerFiles, Hierarchy, KeptFiles, LimitFile, LimitValue, Limits, NetNamespace, Place,
    RelDirs,
};
use super::membership::{parse_proc_cgroup, relative_dir};
use super::mounts::{CgroupMount, V1Controller};
use super::reader::{name, ContainerReader, FileName};
use super::values::{
    cfs_quota_cpus, count_cpu_list, parse_cfs_quota_us, parse_cpu_max, parse_memory_limit, Limit,
};
use super::CgroupError;

/// What is read of a single-value limit file.
const ONE_VALUE: Extent = Extent::Prefix(128);

impl ContainerReader {
    /// Resolves the files of the container whose process is `pid` (a pid of the host's pid namespace, as
    /// the engine reports `State.Pid`), from `<proc>/<pid>/cgroup` and the reader's hierarchies, and reads
    /// its limits. Fails only when the process's cgroup file cannot be read (the process is gone); a
    /// counter whose hierarchy is missing is simply left without a file.
    pub fn resolve(&mut self, pid: u32) -> Result<ContainerFiles, CgroupError> {
        self.resolve_at(pid, false)
    }

    /// Like [`ContainerReader::resolve`], but the counters are those of the parent of the process's
    /// cgroup in every hierarchy (a Kubernetes pod's cgroup, from its sandbox's process); the network
    /// namespace is the process's own. A cgroup directly under a hierarchy's root has no parent
    /// here (the host's own counters are not a pod's): its counters are unresolved.
    pub fn resolve_parent(&mut self, pid: u32) -> Result<ContainerFiles, CgroupError> {
        self.resolve_at(pid, true)
    }

    fn resolve_at(&mut self, pid: u32, parent: bool) -> Result<ContainerFiles, CgroupError> {
        if pid == 0 {
            return Err(CgroupError::InvalidPid);
        }
        let path = self.proc_path(pid, &[b"cgroup"]).to_path_buf();
        let text = self
            .files
            .read(&path, Extent::Whole)
            .ok_or(CgroupError::ProcessCgroupUnreadable)?;
        let membership = parse_proc_cgroup(text);
        let mut dirs = RelDirs::default();
        let mut place = |hierarchy: Hierarchy, mount: Option<&CgroupMount>, path: Option<&[u8]>| {
            let Some(mount) = mount else {
                return Place::NoHierarchy;
            };
            let path = if parent {
                path.and_then(parent_dir)
            } else {
                path
            };
            match path
                .and_then(|p| relative_dir(mount, p))
                .and_then(|rel| dirs.add(&rel))
            {
                Some(dir) => Place::Dir(hierarchy, dir),
                None => Place::Unresolved(hierarchy),
            }
        };
        let mounts = &self.mounts;
        let v2 = place(Hierarchy::V2, mounts.v2(), membership.v2());
        // A controller's v1 hierarchy when one holds it, else the v2 one.
        let mut choose = |c: V1Controller| match mounts.v1(c) {
            Some(m) => place(Hierarchy::V1(c), Some(m), membership.v1(c)),
            None => v2,
        };
        let cpu = choose(V1Controller::Cpu);
        let cpuacct = choose(V1Controller::Cpuacct);
        let cpuset = choose(V1Controller::Cpuset);
        let memory = choose(V1Controller::Memory);
        let blkio = choose(V1Controller::Blkio);

        let mut files = ContainerFiles {
            pid,
            net_namespace: NetNamespace::Unknown,
            cpu,
            cpuacct,
            cpuset,
            memory,
            blkio,
            v2,
            rel: dirs.finish(),
            quota_file: LimitFile::NotEnabled,
            cpuset_file: LimitFile::NotEnabled,
            memory_limit_file: LimitFile::NotEnabled,
            limits: Limits::NONE,
            kept: KeptFiles::default(),
        };
        files.quota_file = self.limit_file(&files, cpu, name::QUOTA);
        files.cpuset_file = self.limit_file(&files, cpuset, name::CPUSET);
        files.memory_limit_file = self.limit_file(&files, memory, name::MEMORY_LIMIT);
        files.net_namespace = self.net_namespace(pid);
        self.read_limits(&mut files);
        Ok(files)
    }

    /// Reads the container's limits again (after `docker update`, or now and then): the values behind
    /// `nr_virt_cpu` and `max_memory` until the next call.
    pub fn read_limits(&mut self, files: &mut ContainerFiles) {
        let quota = match files.quota_file {
            LimitFile::NotEnabled => LimitValue::NoFile,
            LimitFile::Unresolved => LimitValue::Failed,
            LimitFile::Present => self.read_quota(files),
        };
        // A cpuset list is as long as the machine has CPUs: read whole.
        let cpuset = self.read_limit(
            files,
            (files.cpuset_file, files.cpuset, name::CPUSET),
            Extent::Whole,
            |t| {
                count_cpu_list(t).map(|n| match n {
                    0 => Limit::Unlimited, // a v1 cpuset nobody set
                    n => Limit::Limited(n),
                })
            },
        );
        let memory = self.read_limit(
            files,
            (files.memory_limit_file, files.memory, name::MEMORY_LIMIT),
            ONE_VALUE,
            parse_memory_limit,
        );
        files.limits = Limits {
            quota,
            cpuset,
            memory,
        };
    }

    /// The container's directory in the v2 hierarchy, when it has one.
    pub fn v2_dir(&self, files: &ContainerFiles) -> Option<PathBuf> {
        let (_, dir) = files.v2.dir()?;
        let mut path = self.mounts.v2()?.dir.clone();
        for part in files.rel_dir(dir).split(|&b| b == b'/') {
            if !part.is_empty() {
                path.push(OsStr::from_bytes(part));
            }
        }
        Some(path)
    }

    /// Whether the limit `file` of the directory `place` is there now.
    fn limit_file(&mut self, files: &ContainerFiles, place: Place, file: FileName) -> LimitFile {
        match place {
            Place::NoHierarchy => LimitFile::NotEnabled,
            Place::Unresolved(_) => LimitFile::Unresolved,
            Place::Dir(..) => match self.cgroup_path(files, place, file) {
                Some(path) if path.exists() => LimitFile::Present,
                _ => LimitFile::NotEnabled,
            },
        }
    }

    /// A limit file's value (`(state, place, name)` say where it is), parsed by `parse`.
    fn read_limit<T>(
        &mut self,
        files: &ContainerFiles,
        (state, place, file): (LimitFile, Place, FileName),
        extent: Extent,
        parse: impl FnOnce(&[u8]) -> Option<Limit<T>>,
    ) -> LimitValue<T> {
        match state {
            LimitFile::NotEnabled => LimitValue::NoFile,
            LimitFile::Unresolved => LimitValue::Failed,
            LimitFile::Present => self
                .read_limit_text(files, place, file, extent)
                .and_then(parse)
                .map_or(LimitValue::Failed, LimitValue::Read),
        }
    }

    /// The CFS quota in CPUs: v2 `cpu.max`, or v1 `cpu.cfs_quota_us` over `cpu.cfs_period_us`.
    fn read_quota(&mut self, files: &ContainerFiles) -> LimitValue<u32> {
        let place = files.cpu;
        let cpus = if place.is_v2() {
            self.read_limit_text(files, place, name::QUOTA, ONE_VALUE)
                .and_then(parse_cpu_max)
        } else {
            match self
                .read_limit_text(files, place, name::QUOTA, ONE_VALUE)
                .and_then(parse_cfs_quota_us)
            {
                Some(Limit::Limited(us)) => self
                    .read_limit_text(files, place, name::PERIOD, ONE_VALUE)
                    .and_then(|p| cfs_quota_cpus(us, p))
                    .map(Limit::Limited),
                Some(Limit::Unlimited) => Some(Limit::Unlimited), // the period does not matter
                None => None,
            }
        };
        cpus.map_or(LimitValue::Failed, LimitValue::Read)
    }

    /// A limit file's text, by path.
    fn read_limit_text(
        &mut self,
        files: &ContainerFiles,
        place: Place,
        file: FileName,
        extent: Extent,
    ) -> Option<&[u8]> {
        let path = self.cgroup_path(files, place, file)?.to_path_buf();
        self.files.read(&path, extent)
    }

    /// Compares the container's `ns/net` link with the host's: `<proc>/1/ns/net`, or, when pid 1's links
    /// are closed to the agent (a sandbox without `CAP_SYS_PTRACE` over init), `<proc>/self/ns/net`, which
    /// is the host's namespace when the agent runs on the host or with `--network host`.
    fn net_namespace(&mut self, pid: u32) -> NetNamespace {
        let container = std::fs::read_link(self.proc_path(pid, &[b"ns", b"net"])).ok();
        let Some(container) = container else {
            return NetNamespace::Unknown;
        };
        let mut link = |who: &[u8]| {
            let path = self.paths.join(&self.roots.proc, &[who, b"ns", b"net"]);
            std::fs::read_link(path).ok()
        };
        match link(b"1").or_else(|| link(b"self")) {
            Some(host) if host == container => NetNamespace::Host,
            Some(_) => NetNamespace::Own,
            None => NetNamespace::Unknown,
        }
    }
}

/// The parent of a cgroup path (`/kubepods/besteffort/pod1/abc` gives `/kubepods/besteffort/pod1`);
/// `None` for the root or a directory directly under it.
fn parent_dir(path: &[u8]) -> Option<&[u8]> {
    let path = path.strip_suffix(b"/").unwrap_or(path);
    let cut = path.iter().rposition(|&b| b == b'/')?;
    let parent = path.get(..cut)?;
    (!parent.is_empty()).then_some(parent)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parents_of_cgroup_paths() {
        assert_eq!(
            parent_dir(b"/kubepods/besteffort/pod1/abc"),
            Some(&b"/kubepods/besteffort/pod1"[..])
        );
        assert_eq!(parent_dir(b"/a/b/"), Some(&b"/a"[..]));
        assert_eq!(parent_dir(b"/a"), None);
        assert_eq!(parent_dir(b"/"), None);
        assert_eq!(parent_dir(b""), None);
    }
}
