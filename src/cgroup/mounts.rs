//! Where the cgroup hierarchies are mounted, from `mountinfo`, mapped under the configured sysfs root.
//!
//! `mountinfo` lines read `ID PARENT MAJ:MIN ROOT MOUNTPOINT OPTIONS [OPTIONAL...] - FSTYPE SOURCE
//! SUPEROPTIONS` (proc(5)); a cgroup v1 hierarchy has type `cgroup` and names its controllers in the super
//! options (`rw,cpu,cpuacct`), the v2 hierarchy has type `cgroup2`. Mount points are absolute paths of the
//! mount namespace the file describes, such as `/sys/fs/cgroup/memory`; each is mapped under the configured
//! sysfs root by dropping its leading `/sys` (`/sys/fs/cgroup/memory` with a sys root of `/host/sys` is
//! `/host/sys/fs/cgroup/memory`). A cgroup mount outside `/sys` is ignored: every current distribution
//! mounts them under `/sys/fs/cgroup`, and a path outside the roots would escape the fixture trees and the
//! host directories the agent was pointed at.

use std::ffi::OsStr;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

use crate::host::file::{is_plain_name, Extent, FileBuf, PathBuilder};
use crate::host::parse::{fields, lines};
use crate::host::Roots;

use super::CgroupError;

/// The cgroup v1 controllers the counters read.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum V1Controller {
    /// `cpu`: the CFS quota and period.
    Cpu,
    /// `cpuacct`: the CPU time.
    Cpuacct,
    /// `cpuset`: the CPUs the container may run on.
    Cpuset,
    /// `memory`: usage and limit.
    Memory,
    /// `blkio`: bytes and requests per device.
    Blkio,
}

impl V1Controller {
    /// Every controller, in index order.
    pub const ALL: [V1Controller; 5] = [
        V1Controller::Cpu,
        V1Controller::Cpuacct,
        V1Controller::Cpuset,
        V1Controller::Memory,
        V1Controller::Blkio,
    ];

    /// The controller's name as the kernel writes it in mount options and `/proc/<pid>/cgroup`.
    pub fn name(self) -> &'static str {
        match self {
            V1Controller::Cpu => "cpu",
            V1Controller::Cpuacct => "cpuacct",
            V1Controller::Cpuset => "cpuset",
            V1Controller::Memory => "memory",
            V1Controller::Blkio => "blkio",
        }
    }

    /// The controller named `name`, if it is one of these.
    pub(crate) fn from_name(name: &[u8]) -> Option<V1Controller> {
        V1Controller::ALL
            .into_iter()
            .find(|c| c.name().as_bytes() == name)
    }

    pub(crate) fn index(self) -> usize {
        self as usize
    }
}

/// How the host's cgroups are laid out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CgroupMode {
    /// Only v1 hierarchies ("legacy").
    V1,
    /// Only the v2 hierarchy ("unified").
    V2,
    /// v1 controller hierarchies beside a v2 hierarchy (systemd's "hybrid"; the v2 one usually holds no
    /// controllers then).
    Hybrid,
    /// No cgroup hierarchy was found.
    None,
}

/// One mounted hierarchy.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CgroupMount {
    /// The mount point, mapped under the sys root.
    pub dir: PathBuf,
    /// The directory of the hierarchy that is mounted there (`/` unless a subtree was bind-mounted), as
    /// mountinfo writes it; it prefixes the paths of `/proc/<pid>/cgroup`.
    pub root: Vec<u8>,
}

/// The hierarchies of the host, found once at start.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct CgroupMounts {
    v1: [Option<CgroupMount>; 5],
    v2: Option<CgroupMount>,
    /// Any v1 hierarchy with a controller, tracked here or not (`devices`, `pids`...).
    any_v1_controller: bool,
}

impl CgroupMounts {
    /// Reads `<proc>/1/mountinfo` (the host's mount namespace, the one the sys root is assumed to show),
    /// or `<proc>/self/mountinfo` when that cannot be read.
    pub fn discover(roots: &Roots) -> Result<CgroupMounts, CgroupError> {
        let mut files = FileBuf::default();
        let mut paths = PathBuilder::default();
        for pid in [&b"1"[..], b"self"] {
            let path = paths.join(&roots.proc, &[pid, b"mountinfo"]);
            if let Some(text) = files.read(path, Extent::Whole) {
                return Ok(CgroupMounts::from_mountinfo(text, &roots.sys));
            }
        }
        Err(CgroupError::MountinfoUnreadable)
    }

    /// The cgroup hierarchies of a `mountinfo` text, their mount points mapped under `sys_root`. When a
    /// hierarchy is mounted more than once, a mount of its whole tree (root `/`) wins over a subtree; among
    /// equals, the first.
    pub fn from_mountinfo(text: &[u8], sys_root: &Path) -> CgroupMounts {
        let mut mounts = CgroupMounts::default();
        for line in lines(text) {
            let Some(entry) = parse_mountinfo_line(line) else {
                continue;
            };
            match entry.fs_type {
                b"cgroup" => {
                    let controllers = entry.super_options.split(|&b| b == b',');
                    let mut tracked = [false; 5];
                    for name in controllers {
                        if let Some(c) = V1Controller::from_name(name) {
                            tracked[c.index()] = true;
                        }
                        if !name.starts_with(b"name=") && is_v1_controller_name(name) {
                            mounts.any_v1_controller = true;
                        }
                    }
                    if !tracked.contains(&true) {
                        continue;
                    }
                    let Some(mount) = entry.mount(sys_root) else {
                        continue;
                    };
                    for c in V1Controller::ALL {
                        if tracked[c.index()] {
                            if let Some(slot) = mounts.v1.get_mut(c.index()) {
                                keep_better(slot, &mount);
                            }
                        }
                    }
                }
                b"cgroup2" => {
                    if let Some(mount) = entry.mount(sys_root) {
                        keep_better(&mut mounts.v2, &mount);
                    }
                }
                _ => {}
            }
        }
        mounts
    }

    /// v1, v2, hybrid, or none.
    pub fn mode(&self) -> CgroupMode {
        let v1 = self.any_v1_controller || self.v1.iter().any(Option::is_some);
        match (v1, self.v2.is_some()) {
            (true, true) => CgroupMode::Hybrid,
            (true, false) => CgroupMode::V1,
            (false, true) => CgroupMode::V2,
            (false, false) => CgroupMode::None,
        }
    }

    /// The v1 hierarchy holding `controller`.
    pub fn v1(&self, controller: V1Controller) -> Option<&CgroupMount> {
        self.v1.get(controller.index())?.as_ref()
    }

    /// The v2 hierarchy.
    pub fn v2(&self) -> Option<&CgroupMount> {
        self.v2.as_ref()
    }
}

/// Whether a super option of a `cgroup` mount names a controller rather than a mount flag.
fn is_v1_controller_name(option: &[u8]) -> bool {
    !matches!(
        option,
        b"rw" | b"ro" | b"noprefix" | b"clone_children" | b"xattr" | b"cpuset_v2_mode"
    ) && !option.starts_with(b"release_agent=")
        && !option.starts_with(b"name=")
        && option != b"none"
}

/// Keeps the first whole-tree mount, else the first mount.
fn keep_better(slot: &mut Option<CgroupMount>, candidate: &CgroupMount) {
    let better = match slot {
        None => true,
        Some(kept) => kept.root != b"/" && candidate.root == b"/",
    };
    if better {
        *slot = Some(candidate.clone());
    }
}

/// The fields of one mountinfo line that matter here, still escaped.
#[derive(Debug, PartialEq, Eq)]
struct MountinfoEntry<'a> {
    root: &'a [u8],
    mount_point: &'a [u8],
    fs_type: &'a [u8],
    super_options: &'a [u8],
}

impl MountinfoEntry<'_> {
    fn mount(&self, sys_root: &Path) -> Option<CgroupMount> {
        let root = unescape(self.root);
        if !root.starts_with(b"/") {
            return None;
        }
        Some(CgroupMount {
            dir: map_under_sys(&unescape(self.mount_point), sys_root)?,
            root,
        })
    }
}

/// Splits a mountinfo line; `None` when it does not have the documented shape.
fn parse_mountinfo_line(line: &[u8]) -> Option<MountinfoEntry<'_>> {
    let mut f = fields(line);
    let (_id, _parent, _dev) = (f.next()?, f.next()?, f.next()?);
    let root = f.next()?;
    let mount_point = f.next()?;
    let _options = f.next()?;
    // Zero or more optional fields (`shared:1`, `master:2`), then a lone `-`.
    f.by_ref().find(|&field| field == b"-")?;
    let fs_type = f.next()?;
    let _source = f.next()?;
    let super_options = f.next()?;
    Some(MountinfoEntry {
        root,
        mount_point,
        fs_type,
        super_options,
    })
}

/// Undoes mountinfo's octal escapes (`\040` space, `\011` tab, `\012` newline, `\134` backslash); a
/// backslash not followed by three octal digits is kept as is.
fn unescape(text: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(text.len());
    let mut i = 0;
    while let Some(&b) = text.get(i) {
        if b == b'\\' {
            if let Some(value) = text.get(i + 1..i + 4).and_then(octal_byte) {
                out.push(value);
                i += 4;
                continue;
            }
        }
        out.push(b);
        i += 1;
    }
    out
}

fn octal_byte(digits: &[u8]) -> Option<u8> {
    digits.iter().try_fold(0u8, |acc, &d| {
        if !(b'0'..=b'7').contains(&d) {
            return None;
        }
        acc.checked_mul(8)?.checked_add(d - b'0')
    })
}

/// `/sys/fs/cgroup/memory` to `<sys_root>/fs/cgroup/memory`; `None` outside `/sys` or for a path with `.`
/// or `..` components.
pub(crate) fn map_under_sys(mount_point: &[u8], sys_root: &Path) -> Option<PathBuf> {
    let rest = match mount_point.strip_prefix(b"/sys") {
        Some(rest) if rest.is_empty() || rest.starts_with(b"/") => rest,
        _ => return None,
    };
    join_components(sys_root, rest)
}

/// `dir` joined with the `/`-separated components of `relative`; `None` when one is `.`, `..` or holds a
/// NUL, so data can never walk out of `dir`.
pub(crate) fn join_components(dir: &Path, relative: &[u8]) -> Option<PathBuf> {
    let mut path = dir.to_path_buf();
    for part in relative.split(|&b| b == b'/').filter(|p| !p.is_empty()) {
        if !is_plain_name(part) {
            return None;
        }
        path.push(OsStr::from_bytes(part));
    }
    Some(path)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// This machine's: v1 controllers each on its own hierarchy, an empty v2 one at `unified`.
    const HYBRID: &[u8] = b"22 27 0:21 / /proc rw,relatime - proc proc rw
23 27 0:22 / /sys rw,relatime - sysfs sysfs rw
31 23 0:28 / /sys/fs/cgroup rw,relatime - tmpfs tmpfs rw,mode=755
32 31 0:29 / /sys/fs/cgroup/cpu rw,relatime - cgroup cgroup rw,cpu
33 31 0:30 / /sys/fs/cgroup/cpuacct rw,relatime - cgroup cgroup rw,cpuacct
34 31 0:31 / /sys/fs/cgroup/cpuset rw,relatime - cgroup cgroup rw,cpuset
35 31 0:32 / /sys/fs/cgroup/memory rw,relatime - cgroup cgroup rw,memory
36 31 0:33 / /sys/fs/cgroup/devices rw,relatime - cgroup cgroup rw,devices
38 31 0:35 / /sys/fs/cgroup/blkio rw,relatime - cgroup cgroup rw,blkio
40 31 0:37 / /sys/fs/cgroup/systemd rw,relatime - cgroup cgroup rw,name=systemd
41 31 0:38 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw
";

    /// systemd v1 with shared hierarchies and optional fields.
    const V1_COMBINED: &[u8] = b"25 22 0:22 / /sys/fs/cgroup ro,nosuid,nodev,noexec shared:9 - tmpfs tmpfs ro,mode=755
28 25 0:25 / /sys/fs/cgroup/systemd rw,nosuid,nodev,noexec,relatime shared:11 - cgroup cgroup rw,xattr,name=systemd
31 25 0:28 / /sys/fs/cgroup/cpu,cpuacct rw,nosuid,nodev,noexec,relatime shared:14 - cgroup cgroup rw,cpu,cpuacct
32 25 0:29 / /sys/fs/cgroup/cpuset rw,nosuid,nodev,noexec,relatime shared:15 - cgroup cgroup rw,cpuset
33 25 0:30 / /sys/fs/cgroup/memory rw,nosuid,nodev,noexec,relatime shared:16 - cgroup cgroup rw,memory
34 25 0:31 / /sys/fs/cgroup/blkio rw,nosuid,nodev,noexec,relatime shared:17 - cgroup cgroup rw,blkio
";

    const V2: &[u8] = b"24 31 0:22 / /sys rw,nosuid,nodev,noexec,relatime shared:7 - sysfs sysfs rw
26 24 0:23 / /sys/fs/cgroup rw,nosuid,nodev,noexec,relatime shared:4 - cgroup2 cgroup2 rw,nsdelegate,memory_recursiveprot
";

    fn mount(dir: &str) -> Option<CgroupMount> {
        Some(CgroupMount {
            dir: PathBuf::from(dir),
            root: b"/".to_vec(),
        })
    }

    #[test]
    fn hybrid_hierarchies() {
        let m = CgroupMounts::from_mountinfo(HYBRID, Path::new("/host/sys"));
        assert_eq!(m.mode(), CgroupMode::Hybrid);
        assert_eq!(
            m.v1(V1Controller::Cpu).cloned(),
            mount("/host/sys/fs/cgroup/cpu")
        );
        assert_eq!(
            m.v1(V1Controller::Cpuacct).cloned(),
            mount("/host/sys/fs/cgroup/cpuacct")
        );
        assert_eq!(
            m.v1(V1Controller::Blkio).cloned(),
            mount("/host/sys/fs/cgroup/blkio")
        );
        assert_eq!(m.v2().cloned(), mount("/host/sys/fs/cgroup/unified"));
    }

    #[test]
    fn combined_v1_hierarchies() {
        let m = CgroupMounts::from_mountinfo(V1_COMBINED, Path::new("/sys"));
        assert_eq!(m.mode(), CgroupMode::V1);
        assert_eq!(
            m.v1(V1Controller::Cpu).cloned(),
            mount("/sys/fs/cgroup/cpu,cpuacct")
        );
        assert_eq!(m.v1(V1Controller::Cpu), m.v1(V1Controller::Cpuacct));
        assert_eq!(
            m.v1(V1Controller::Memory).cloned(),
            mount("/sys/fs/cgroup/memory")
        );
        assert_eq!(m.v2(), None);
    }

    #[test]
    fn unified_hierarchy() {
        let m = CgroupMounts::from_mountinfo(V2, Path::new("/sys"));
        assert_eq!(m.mode(), CgroupMode::V2);
        assert_eq!(m.v2().cloned(), mount("/sys/fs/cgroup"));
        assert!(V1Controller::ALL.iter().all(|&c| m.v1(c).is_none()));
    }

    #[test]
    fn no_hierarchy() {
        let m = CgroupMounts::from_mountinfo(b"", Path::new("/sys"));
        assert_eq!(m.mode(), CgroupMode::None);
        let m = CgroupMounts::from_mountinfo(
            b"garbage\n1 2 3\n23 27 0:22 / /sys rw - sysfs sysfs rw\n",
            Path::new("/sys"),
        );
        assert_eq!(m, CgroupMounts::default());
    }

    #[test]
    fn only_untracked_v1_controllers_still_count_as_v1() {
        let m = CgroupMounts::from_mountinfo(
            b"36 31 0:33 / /sys/fs/cgroup/devices rw - cgroup cgroup rw,devices\n\
              41 31 0:38 / /sys/fs/cgroup/unified rw - cgroup2 cgroup2 rw\n",
            Path::new("/sys"),
        );
        assert_eq!(m.mode(), CgroupMode::Hybrid);
        // A named hierarchy alone holds no controller.
        let m = CgroupMounts::from_mountinfo(
            b"40 31 0:37 / /sys/fs/cgroup/systemd rw - cgroup cgroup rw,name=systemd\n\
              26 24 0:23 / /sys/fs/cgroup rw - cgroup2 cgroup2 rw\n",
            Path::new("/sys"),
        );
        assert_eq!(m.mode(), CgroupMode::V2);
    }

    #[test]
    fn mounts_outside_sys_are_ignored() {
        let m = CgroupMounts::from_mountinfo(
            b"32 31 0:29 / /cgroup/memory rw - cgroup cgroup rw,memory\n\
              33 31 0:29 / /sysfs/memory rw - cgroup cgroup rw,memory\n\
              34 31 0:29 / /sys/../etc rw - cgroup cgroup rw,memory\n",
            Path::new("/sys"),
        );
        assert_eq!(m.v1(V1Controller::Memory), None);
        // Still a v1 host: its controllers are just out of reach.
        assert_eq!(m.mode(), CgroupMode::V1);
    }

    #[test]
    fn whole_tree_mounts_win() {
        let m = CgroupMounts::from_mountinfo(
            b"50 31 0:32 /docker/abc /sys/fs/cgroup/bound rw - cgroup cgroup rw,memory\n\
              35 31 0:32 / /sys/fs/cgroup/memory rw - cgroup cgroup rw,memory\n\
              51 31 0:32 / /sys/fs/cgroup/again rw - cgroup cgroup rw,memory\n",
            Path::new("/sys"),
        );
        assert_eq!(
            m.v1(V1Controller::Memory).cloned(),
            mount("/sys/fs/cgroup/memory")
        );
        let m = CgroupMounts::from_mountinfo(
            b"50 31 0:32 /docker/abc /sys/fs/cgroup/memory rw - cgroup cgroup rw,memory\n",
            Path::new("/sys"),
        );
        assert_eq!(
            m.v1(V1Controller::Memory).map(|m| m.root.as_slice()),
            Some(&b"/docker/abc"[..])
        );
    }

    #[test]
    fn escaped_mount_points() {
        let m = CgroupMounts::from_mountinfo(
            b"26 24 0:23 / /sys/fs/my\\040cgroup rw - cgroup2 cgroup2 rw\n",
            Path::new("/sys"),
        );
        assert_eq!(m.v2().cloned(), mount("/sys/fs/my cgroup"));
        assert_eq!(unescape(b"a\\134b\\011\\x\\12"), b"a\\b\t\\x\\12");
        assert_eq!(unescape(b"\\777"), b"\\777");
    }

    #[test]
    fn lines() {
        assert_eq!(
            parse_mountinfo_line(
                b"36 35 98:0 /mnt1 /mnt2 rw,noatime master:1 shared:2 - ext3 /dev/root rw,errors=continue"
            ),
            Some(MountinfoEntry {
                root: b"/mnt1",
                mount_point: b"/mnt2",
                fs_type: b"ext3",
                super_options: b"rw,errors=continue",
            })
        );
        assert_eq!(
            parse_mountinfo_line(b"36 35 98:0 /mnt1 /mnt2 rw - ext3"),
            None
        );
        assert_eq!(
            parse_mountinfo_line(b"36 35 98:0 /mnt1 /mnt2 rw ext3 a b"),
            None
        );
    }

    #[test]
    fn sys_mapping() {
        let root = Path::new("/r/sys");
        assert_eq!(
            map_under_sys(b"/sys/fs/cgroup", root),
            Some(PathBuf::from("/r/sys/fs/cgroup"))
        );
        assert_eq!(map_under_sys(b"/sys", root), Some(PathBuf::from("/r/sys")));
        assert_eq!(
            map_under_sys(b"/sys//fs/", root),
            Some(PathBuf::from("/r/sys/fs"))
        );
        for bad in [
            &b"/sysfs"[..],
            b"sys/fs",
            b"/proc",
            b"/sys/fs/../..",
            b"/sys/./fs",
        ] {
            assert_eq!(map_under_sys(bad, root), None, "{bad:?}");
        }
    }
}
