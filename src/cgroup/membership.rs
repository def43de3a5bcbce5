//! A process's cgroups, from `/proc/<pid>/cgroup`, and their directories under the mounted hierarchies.
//!
//! Each line reads `hierarchy-ID:controller-list:path`; the v2 hierarchy's line is `0::path`, a v1 one lists
//! its controllers (`4:memory:/docker/<id>`, `2:cpu,cpuacct:/system.slice/docker-<id>.scope`). The paths
//! are relative to the cgroup namespace of the process reading the file: read from the host's namespace (the
//! agent's assumption), they are the full host paths whatever namespace the container itself has. A path
//! that climbs out of the reader's namespace (`/../..`, seen when the reader is itself in a nested cgroup
//! namespace) has no directory.

use crate::host::parse::lines;

use crate::host::file::is_plain_name;

use super::mounts::{CgroupMount, V1Controller};

/// The cgroup paths of one process, borrowed from the file's text.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(crate) struct Membership<'a> {
    v1: [Option<&'a [u8]>; 5],
    v2: Option<&'a [u8]>,
}

impl<'a> Membership<'a> {
    /// The path of the v1 hierarchy holding `controller`.
    pub(crate) fn v1(&self, controller: V1Controller) -> Option<&'a [u8]> {
        *self.v1.get(controller.index())?
    }

    /// The path in the v2 hierarchy.
    pub(crate) fn v2(&self) -> Option<&'a [u8]> {
        self.v2
    }
}

/// The paths of a `/proc/<pid>/cgroup` text; lines of another shape, and controllers not read here, are
/// skipped. A path of a removed cgroup (`... (deleted)`) is kept without that suffix: its files are gone,
/// which reads as unknown.
pub(crate) fn parse_proc_cgroup(text: &[u8]) -> Membership<'_> {
    let mut m = Membership::default();
    for line in lines(text) {
        let mut parts = line.splitn(3, |&b| b == b':');
        let (Some(id), Some(controllers), Some(path)) = (parts.next(), parts.next(), parts.next())
        else {
            continue;
        };
        let path = path.strip_suffix(b" (deleted)").unwrap_or(path);
        if id.is_empty() || !id.iter().all(u8::is_ascii_digit) || !path.starts_with(b"/") {
            continue;
        }
        if controllers.is_empty() {
            if id == b"0" {
                m.v2 = Some(path);
            }
            continue;
        }
        for name in controllers.split(|&b| b == b',') {
            if let Some(slot) = V1Controller::from_name(name).and_then(|c| m.v1.get_mut(c.index()))
            {
                *slot = Some(path);
            }
        }
    }
    m
}

/// Where cgroup `path` is below `mount`'s mount point: the mount's own root is taken off the front of the
/// path (a bind-mounted subtree shows only the cgroups below it). The rest is `/`-separated plain names
/// (empty for the mount point itself) with the empty components left out, ready to join onto the mount
/// point. `None` when the path is not below the mount's root or has a `.` or `..` component.
pub(crate) fn relative_dir(mount: &CgroupMount, path: &[u8]) -> Option<Vec<u8>> {
    let root = mount.root.strip_suffix(b"/").unwrap_or(&mount.root);
    let relative = path.strip_prefix(root)?;
    if !relative.is_empty() && !relative.starts_with(b"/") {
        return None; // `/docker/abcdef` is not below `/docker/abc`
    }
    let mut out = Vec::with_capacity(relative.len());
    for part in relative.split(|&b| b == b'/').filter(|p| !p.is_empty()) {
        if !is_plain_name(part) {
            return None;
        }
        if !out.is_empty() {
            out.push(b'/');
        }
        out.extend_from_slice(part);
    }
    Some(out)
}

/// The directory of cgroup `path` in `mount` (see [`relative_dir`]).
#[cfg(test)]
pub(crate) fn cgroup_dir(mount: &CgroupMount, path: &[u8]) -> Option<std::path::PathBuf> {
    super::mounts::join_components(&mount.dir, &relative_dir(mount, path)?)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::{Path, PathBuf};

    const DOCKER_ID: &str = "4db6495b67586b5d9607e0ba02261a5040c5cb3da1bceb365f4290e9c9bc1a0d";

    #[test]
    fn cgroupfs_v1() {
        let text = format!(
            "9:name=systemd:/docker/{DOCKER_ID}\n8:pids:/docker/{DOCKER_ID}\n7:blkio:/docker/{DOCKER_ID}\n\
             4:memory:/docker/{DOCKER_ID}\n3:cpuset:/docker/{DOCKER_ID}\n2:cpuacct:/docker/{DOCKER_ID}\n\
             1:cpu:/docker/{DOCKER_ID}\n0::/docker/{DOCKER_ID}\n"
        );
        let m = parse_proc_cgroup(text.as_bytes());
        let want = format!("/docker/{DOCKER_ID}");
        for c in V1Controller::ALL {
            assert_eq!(m.v1(c), Some(want.as_bytes()), "{c:?}");
        }
        assert_eq!(m.v2(), Some(want.as_bytes()));
    }

    #[test]
    fn systemd_combined_v1() {
        let m = parse_proc_cgroup(
            b"11:cpu,cpuacct:/system.slice/docker-abc.scope\n\
              6:memory:/system.slice/docker-abc.scope\n\
              1:name=systemd:/system.slice/docker-abc.scope\n",
        );
        assert_eq!(
            m.v1(V1Controller::Cpu),
            Some(&b"/system.slice/docker-abc.scope"[..])
        );
        assert_eq!(m.v1(V1Controller::Cpu), m.v1(V1Controller::Cpuacct));
        assert_eq!(m.v1(V1Controller::Blkio), None);
        assert_eq!(m.v2(), None);
    }

    #[test]
    fn unified_only() {
        let m = parse_proc_cgroup(
            b"0::/user.slice/user-1000.slice/user@1000.service/app.slice/docker-abc.scope\n",
        );
        assert_eq!(
            m.v2(),
            Some(&b"/user.slice/user-1000.slice/user@1000.service/app.slice/docker-abc.scope"[..])
        );
        assert!(V1Controller::ALL.iter().all(|&c| m.v1(c).is_none()));
    }

    #[test]
    fn odd_lines() {
        let m = parse_proc_cgroup(
            b"\ngarbage\n0::relative\nx:memory:/a\n1::/not-v2\n0::/a:b (deleted)\n4:memory:/m\n",
        );
        assert_eq!(m.v2(), Some(&b"/a:b"[..]));
        assert_eq!(m.v1(V1Controller::Memory), Some(&b"/m"[..]));
        assert_eq!(parse_proc_cgroup(b""), Membership::default());
    }

    #[test]
    fn directories() {
        let whole = CgroupMount {
            dir: "/s/fs/cgroup/memory".into(),
            root: b"/".to_vec(),
        };
        assert_eq!(
            cgroup_dir(&whole, b"/docker/abc"),
            Some(PathBuf::from("/s/fs/cgroup/memory/docker/abc"))
        );
        assert_eq!(
            cgroup_dir(&whole, b"/"),
            Some(PathBuf::from("/s/fs/cgroup/memory"))
        );
        assert_eq!(cgroup_dir(&whole, b"/../../docker/abc"), None);
        assert_eq!(cgroup_dir(&whole, b"/docker/./abc"), None);

        let subtree = CgroupMount {
            dir: "/s/fs/cgroup/memory".into(),
            root: b"/docker/abc".to_vec(),
        };
        assert_eq!(
            cgroup_dir(&subtree, b"/docker/abc/inner"),
            Some(Path::new("/s/fs/cgroup/memory/inner").to_path_buf())
        );
        assert_eq!(
            cgroup_dir(&subtree, b"/docker/abc"),
            Some(PathBuf::from("/s/fs/cgroup/memory"))
        );
        assert_eq!(cgroup_dir(&subtree, b"/docker/abcdef"), None);
        assert_eq!(cgroup_dir(&subtree, b"/other"), None);

        // The relative form keeps plain names only, one `/` between them.
        assert_eq!(
            relative_dir(&whole, b"/docker//abc/"),
            Some(b"docker/abc".to_vec())
        );
        assert_eq!(relative_dir(&whole, b"/"), Some(Vec::new()));
        assert_eq!(relative_dir(&subtree, b"/docker/abc"), Some(Vec::new()));
        assert_eq!(relative_dir(&whole, b"/a/../b"), None);
    }
}
