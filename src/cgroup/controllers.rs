//! Which v2 controllers the counters need but the host leaves off.
//!
//! In cgroup v2 a controller's files appear in a cgroup only when every ancestor enables it for its children
//! in `cgroup.subtree_control`. systemd enables cpu, memory and io from the root down; hosts without it
//! (Alpine, many container-in-VM setups) often enable nothing, and the counters of every container then lack
//! what those files hold. The agent checks this once and warns, naming what will be missing.

use std::fmt;
use std::path::Path;

use crate::host::file::{Extent, FileBuf};

use super::mounts::{CgroupMounts, V1Controller};
use super::values::controller_names;

/// A set of the v2 controllers the counters use.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct V2Controllers(u8);

impl V2Controllers {
    /// None of them.
    pub const NONE: V2Controllers = V2Controllers(0);
    /// `cpu`: without it the CPU quota (`cpu.max`) is unseen and `nr_virt_cpu` ignores it; the CPU time
    /// (`cpu.stat`) is there regardless.
    pub const CPU: V2Controllers = V2Controllers(1);
    /// `cpuset`: without it `nr_virt_cpu` ignores pinned CPU sets.
    pub const CPUSET: V2Controllers = V2Controllers(1 << 1);
    /// `memory`: without it `virt_memory` is unknown.
    pub const MEMORY: V2Controllers = V2Controllers(1 << 2);
    /// `io`: without it `virt_disk_io` is unknown.
    pub const IO: V2Controllers = V2Controllers(1 << 3);
    /// All four.
    pub const ALL: V2Controllers = V2Controllers(0b1111);

    const NAMED: [(V2Controllers, &'static str); 4] = [
        (V2Controllers::CPU, "cpu"),
        (V2Controllers::CPUSET, "cpuset"),
        (V2Controllers::MEMORY, "memory"),
        (V2Controllers::IO, "io"),
    ];

    /// Whether every controller of `other` is in `self`.
    pub fn contains(self, other: V2Controllers) -> bool {
        self.0 & other.0 == other.0
    }

    /// Whether the set is empty.
    pub fn is_empty(self) -> bool {
        self.0 == 0
    }

    /// The controllers' names, in a fixed order.
    pub fn names(self) -> impl Iterator<Item = &'static str> {
        V2Controllers::NAMED
            .into_iter()
            .filter(move |&(c, _)| self.contains(c))
            .map(|(_, name)| name)
    }

    fn without(self, other: V2Controllers) -> V2Controllers {
        V2Controllers(self.0 & !other.0)
    }

    fn intersect(self, other: V2Controllers) -> V2Controllers {
        V2Controllers(self.0 & other.0)
    }

    /// The counters' controllers named in a `cgroup.subtree_control` text.
    fn parse(text: &[u8]) -> V2Controllers {
        let mut set = V2Controllers::NONE;
        for name in controller_names(text) {
            for (c, known) in V2Controllers::NAMED {
                if name == known.as_bytes() {
                    set.0 |= c.0;
                }
            }
        }
        set
    }
}

impl std::ops::BitOr for V2Controllers {
    type Output = V2Controllers;
    fn bitor(self, rhs: V2Controllers) -> V2Controllers {
        V2Controllers(self.0 | rhs.0)
    }
}

impl fmt::Display for V2Controllers {
    /// `cpu, memory, io`-style list; `none` when empty.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.is_empty() {
            return f.write_str("none");
        }
        for (i, name) in self.names().enumerate() {
            if i > 0 {
                f.write_str(", ")?;
            }
            f.write_str(name)?;
        }
        Ok(())
    }
}

/// The controllers the counters need from the v2 hierarchy that it does not enable, either at its root
/// or, given a container's v2 directory ([`ContainerReader::v2_dir`](super::ContainerReader::v2_dir)),
/// in one of the container's ancestors (`cgroup.subtree_control` of the root and of
/// each directory between the root and the container; one that cannot be read is passed over).
///
/// A controller a v1 hierarchy holds (a hybrid host) is never missing: the counters read it there. On a host
/// without a v2 hierarchy, everything not held by v1 is missing; on a pure v1 host, nothing is. When the
/// root's `cgroup.subtree_control` cannot be read, every needed controller is reported missing.
pub fn missing_v2_controllers(
    mounts: &CgroupMounts,
    container_v2_dir: Option<&Path>,
) -> V2Controllers {
    let mut needed = V2Controllers::ALL;
    for (v1, v2) in [
        (V1Controller::Cpu, V2Controllers::CPU),
        (V1Controller::Cpuset, V2Controllers::CPUSET),
        (V1Controller::Memory, V2Controllers::MEMORY),
        (V1Controller::Blkio, V2Controllers::IO),
    ] {
        if mounts.v1(v1).is_some() {
            needed = needed.without(v2);
        }
    }
    if needed.is_empty() {
        return V2Controllers::NONE;
    }
    let Some(v2) = mounts.v2() else {
        return needed;
    };
    let mut files = FileBuf::default();
    let mut subtree_control = |dir: &Path| {
        files
            .read(&dir.join("cgroup.subtree_control"), Extent::Whole)
            .map(V2Controllers::parse)
    };
    let Some(mut enabled) = subtree_control(&v2.dir) else {
        return needed;
    };
    if let Some(dir) = container_v2_dir {
        // The container's own subtree_control governs its children, not itself: start at its parent.
        for ancestor in dir.ancestors().skip(1) {
            if ancestor == v2.dir || !ancestor.starts_with(&v2.dir) {
                break;
            }
            if let Some(set) = subtree_control(ancestor) {
                enabled = enabled.intersect(set);
            }
        }
    }
    needed.without(enabled)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sets_and_names() {
        let set = V2Controllers::parse(b"cpuset cpu io memory hugetlb pids rdma misc\n");
        assert_eq!(set, V2Controllers::ALL);
        assert_eq!(V2Controllers::parse(b"cpu pids\n"), V2Controllers::CPU);
        assert_eq!(V2Controllers::parse(b"\n"), V2Controllers::NONE);
        assert_eq!(V2Controllers::parse(b"cpuacct blkio"), V2Controllers::NONE);
        assert_eq!(
            (V2Controllers::IO | V2Controllers::MEMORY).to_string(),
            "memory, io"
        );
        assert_eq!(V2Controllers::ALL.to_string(), "cpu, cpuset, memory, io");
        assert_eq!(V2Controllers::NONE.to_string(), "none");
        assert!(V2Controllers::ALL.contains(V2Controllers::CPUSET));
        assert!(!V2Controllers::CPU.contains(V2Controllers::ALL));
    }

    #[test]
    fn v1_hosts_miss_nothing() {
        let mounts = CgroupMounts::from_mountinfo(
            b"31 25 0:28 / /sys/fs/cgroup/cpu,cpuacct rw - cgroup cgroup rw,cpu,cpuacct\n\
              32 25 0:29 / /sys/fs/cgroup/cpuset rw - cgroup cgroup rw,cpuset\n\
              33 25 0:30 / /sys/fs/cgroup/memory rw - cgroup cgroup rw,memory\n\
              34 25 0:31 / /sys/fs/cgroup/blkio rw - cgroup cgroup rw,blkio\n",
            Path::new("/nonexistent/sys"),
        );
        assert_eq!(missing_v2_controllers(&mounts, None), V2Controllers::NONE);
    }

    #[test]
    fn no_hierarchy_misses_what_v1_does_not_hold() {
        let mounts = CgroupMounts::from_mountinfo(
            b"33 25 0:30 / /sys/fs/cgroup/memory rw - cgroup cgroup rw,memory\n",
            Path::new("/nonexistent/sys"),
        );
        assert_eq!(
            missing_v2_controllers(&mounts, None),
            V2Controllers::CPU | V2Controllers::CPUSET | V2Controllers::IO
        );
        // An unreadable v2 root: everything needed is missing.
        let mounts = CgroupMounts::from_mountinfo(
            b"26 24 0:23 / /sys/fs/cgroup rw - cgroup2 cgroup2 rw\n",
            Path::new("/nonexistent/sys"),
        );
        assert_eq!(missing_v2_controllers(&mounts, None), V2Controllers::ALL);
    }
}
