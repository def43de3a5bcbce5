//! The MIB-II groups (2007 to 2010) of each container's own network namespace, for
//! `mib2.containers = on`.
//!
//! Off (the default) the store does not exist: no read, no descriptor, no memory per container.
//! It is opt-in because the kernel writes the whole `net/snmp` text at every read (about 12 µs hot,
//! 39 µs cold), more than all of a container's other counter files together.
//!
//! On, containers are grouped by network namespace, the inode `<proc>/<pid>/ns/net` links to (read
//! once per container process). Per namespace it keeps the `net/snmp` descriptor, when the counter
//! files' descriptor budget ([`crate::cgroup::may_keep`]) allows, and the groups last read; per
//! container only which namespace it is in and its pid. Containers that share a namespace (the
//! containers of a Kubernetes pod, Docker's `--network container:X`) share one read per poll: a
//! namespace is read at most once per `now`. Past the budget the file is opened by the sampled
//! container's pid at each read and closed at once, so no sample is lost to a missing descriptor.
//! A container that ends reads its namespace once more ([`Read::Now`]); a read that fails (the
//! namespace's processes are gone) leaves the groups last read, which the final sample carries
//! ([`Read::Last`]). A namespace and its descriptor go with the last container in it.
//!
//! A container in the host's network namespace (`--network host`) carries no MIB-II groups: they
//! would be the host's, which the host's sample already carries. Nor does a container whose
//! namespace cannot be told (`ns/net` unreadable).
//!
//! The text is parsed by column names with the host's parser ([`crate::host::snmp::parse_snmp`]).
//! Once the read buffer has grown to the file's size and the namespace lists to their number,
//! nothing allocates per poll; joining and leaving (once per container process) do.

use std::fs::File;
use std::path::PathBuf;

use crate::host::file::{open_nonblocking, Extent, FileBuf, PathBuilder, RelPathBuilder};
use crate::host::snmp::parse_snmp;
use crate::wire::Mib2;

/// Whether [`NamespaceMib2::groups`] reads the namespace's file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Read {
    /// For a poll at this agent time: unless another container of the namespace read it at the
    /// same time.
    Poll(u64),
    /// Now, whatever was read before (the container is ending).
    Now,
    /// No: the last values (a final sample).
    Last,
}

/// What is known of one table slot's network namespace.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Member {
    /// Not looked up yet (the option was turned on after the container's process was attached).
    NotLooked,
    /// No groups of its own: the host's namespace, or one that could not be told.
    Nothing,
    /// In the namespace at this place of [`NamespaceMib2::namespaces`], through this process.
    In { at: u32, pid: u32 },
}

/// One network namespace with tracked containers in it (a free place when it has none).
#[derive(Debug, Default)]
struct Namespace {
    /// The inode `ns/net` links to.
    inode: u64,
    /// Containers in it now.
    members: u32,
    /// Its `net/snmp`, kept open within the counter files' budget.
    file: Option<File>,
    /// When it was last read (agent ms): a second container sampled at the same `now` reuses it.
    read_at: Option<u64>,
    /// The groups last read; `None` before the first good read.
    last: Option<Mib2>,
}

impl Namespace {
    /// Closes its descriptor, giving it back to the budget.
    fn close(&mut self) {
        if self.file.take().is_some() {
            crate::cgroup::kept_closed(1);
        }
    }
}

impl Drop for Namespace {
    fn drop(&mut self) {
        self.close();
    }
}

/// The MIB-II groups of the containers' network namespaces, by table slot.
#[derive(Debug)]
pub struct NamespaceMib2 {
    proc_root: PathBuf,
    /// The host's network namespace (`<proc>/1/ns/net`, else `<proc>/self/ns/net`).
    host: Option<u64>,
    by_slot: Vec<Member>,
    /// The namespaces, by place; a place without members is free (and listed in `free`).
    namespaces: Vec<Namespace>,
    free: Vec<u32>,
    /// (inode, place) of every namespace with members, sorted: a join finds its namespace by a
    /// binary search, a sample by its place.
    by_inode: Vec<(u64, u32)>,
    text: FileBuf,
    paths: PathBuilder,
    /// The proc root, kept open: past the budget a file is opened below it, sparing the walk.
    proc_dir: Option<File>,
    rel: RelPathBuilder,
}

/// The inode in a `net:[4026531840]` link.
fn namespace_inode(link: &[u8]) -> Option<u64> {
    let digits = link.strip_prefix(b"net:[")?.strip_suffix(b"]")?;
    if digits.is_empty() || digits.len() > 20 || !digits.iter().all(u8::is_ascii_digit) {
        return None;
    }
    std::str::from_utf8(digits).ok()?.parse().ok()
}

impl NamespaceMib2 {
    /// A store reading below `proc_root`.
    pub fn new(proc_root: PathBuf) -> NamespaceMib2 {
        let mut store = NamespaceMib2 {
            proc_root,
            host: None,
            by_slot: Vec::new(),
            namespaces: Vec::new(),
            free: Vec::new(),
            by_inode: Vec::new(),
            text: FileBuf::default(),
            paths: PathBuilder::default(),
            proc_dir: None,
            rel: RelPathBuilder::default(),
        };
        store.proc_dir = {
            use std::os::unix::fs::OpenOptionsExt;
            std::fs::OpenOptions::new()
                .read(true)
                .custom_flags(libc::O_DIRECTORY | libc::O_CLOEXEC)
                .open(&store.proc_root)
                .ok()
        };
        store.host = store.inode_of(b"1").or_else(|| store.inode_of(b"self"));
        store
    }

    /// The network namespace of process `who` (a pid or `self`).
    fn inode_of(&mut self, who: &[u8]) -> Option<u64> {
        use std::os::unix::ffi::OsStrExt;
        let path = self.paths.join(&self.proc_root, &[who, b"ns", b"net"]);
        let link = std::fs::read_link(path).ok()?;
        namespace_inode(link.as_os_str().as_bytes())
    }

    /// The process `pid` now stands for the container of `slot`: it joins its namespace, leaving
    /// the one the slot was in.
    pub fn join(&mut self, slot: usize, pid: u32) {
        self.leave(slot);
        let mut digits = [0u8; 10];
        let member = match self.inode_of(decimal(pid, &mut digits)) {
            Some(inode) if Some(inode) != self.host => match self.place_of(inode) {
                Some(at) => Member::In { at, pid },
                None => Member::Nothing,
            },
            _ => Member::Nothing,
        };
        if self.by_slot.len() <= slot {
            self.by_slot.resize(slot + 1, Member::NotLooked);
        }
        if let Some(m) = self.by_slot.get_mut(slot) {
            *m = member;
        }
    }

    /// The place of namespace `inode`, one member more; `None` past 2^32 namespaces.
    fn place_of(&mut self, inode: u64) -> Option<u32> {
        let at = match self.by_inode.binary_search_by_key(&inode, |&(i, _)| i) {
            Ok(i) => self.by_inode.get(i)?.1,
            Err(i) => {
                let at = match self.free.pop() {
                    Some(at) => at,
                    None => {
                        self.namespaces.push(Namespace::default());
                        u32::try_from(self.namespaces.len() - 1).ok()?
                    }
                };
                self.by_inode.insert(i, (inode, at));
                at
            }
        };
        let ns = self.namespaces.get_mut(at as usize)?;
        ns.inode = inode;
        ns.members = ns.members.saturating_add(1);
        Some(at)
    }

    /// The container of `slot` is gone (or ended): its namespace goes with its last container.
    pub fn leave(&mut self, slot: usize) {
        let Some(m) = self.by_slot.get_mut(slot) else {
            return;
        };
        let Member::In { at, .. } = std::mem::replace(m, Member::NotLooked) else {
            return;
        };
        let Some(ns) = self.namespaces.get_mut(at as usize) else {
            return;
        };
        ns.members = ns.members.saturating_sub(1);
        if ns.members > 0 {
            return;
        }
        ns.close();
        let inode = ns.inode;
        *ns = Namespace::default();
        if let Ok(i) = self.by_inode.binary_search_by_key(&inode, |&(i, _)| i) {
            self.by_inode.remove(i);
        }
        self.free.push(at);
    }

    /// Whether `slot` was never looked up (the option came on after its attach).
    pub fn needs_join(&self, slot: usize) -> bool {
        self.by_slot
            .get(slot)
            .is_none_or(|m| *m == Member::NotLooked)
    }

    /// The groups of `slot`'s namespace, read as `read` says. `None`: the container carries none.
    pub fn groups(&mut self, slot: usize, read: Read) -> Option<Mib2> {
        let Some(&Member::In { at, pid }) = self.by_slot.get(slot) else {
            return None;
        };
        let NamespaceMib2 {
            proc_root,
            namespaces,
            text,
            paths,
            proc_dir,
            rel,
            ..
        } = self;
        let ns = namespaces.get_mut(at as usize)?;
        let due = match read {
            Read::Poll(now) => ns.read_at.replace(now) != Some(now),
            Read::Now => {
                ns.read_at = None;
                true
            }
            Read::Last => false,
        };
        if due {
            let open = Opener {
                proc_root,
                proc_dir: proc_dir.as_ref(),
                paths,
                rel,
            };
            read_snmp(ns, text, open, pid);
        }
        ns.last
    }
}

/// Where a `net/snmp` is opened from.
struct Opener<'a> {
    proc_root: &'a std::path::Path,
    proc_dir: Option<&'a File>,
    paths: &'a mut PathBuilder,
    rel: &'a mut RelPathBuilder,
}

/// Reads the namespace's `net/snmp` into its last values: through its kept descriptor, else opened
/// by `pid` (and kept when the budget allows). A failed read leaves the last values.
fn read_snmp(ns: &mut Namespace, text: &mut FileBuf, open: Opener<'_>, pid: u32) {
    use std::os::fd::AsFd;
    let Opener {
        proc_root,
        proc_dir,
        paths,
        rel,
    } = open;
    let mut digits = [0u8; 10];
    let pid = decimal(pid, &mut digits);
    let parts: [&[u8]; 3] = [pid, b"net", b"snmp"];
    let path = |paths: &mut PathBuilder| paths.join(proc_root, &parts).to_path_buf();
    if let Some(f) = ns.file.take() {
        match text.reread(&f, Extent::Whole, || path(paths)) {
            Ok(whole) => {
                ns.file = Some(f);
                if whole {
                    parse_snmp(text.contents(), ns.last.get_or_insert(Mib2::UNKNOWN));
                }
                return;
            }
            Err(_) => {
                drop(f);
                crate::cgroup::kept_closed(1);
            }
        }
    }
    let below = proc_dir
        .zip(rel.join(&parts))
        .and_then(|(dir, rel)| crate::sys::open_below(dir.as_fd(), rel).ok());
    let Some(f) = below.or_else(|| open_nonblocking(paths.join(proc_root, &parts)).ok()) else {
        return;
    };
    if matches!(text.reread(&f, Extent::Whole, || path(paths)), Ok(true)) {
        parse_snmp(text.contents(), ns.last.get_or_insert(Mib2::UNKNOWN));
        if crate::cgroup::may_keep() {
            ns.file = Some(f);
        }
    }
}

/// `n` in decimal, in `digits`.
fn decimal(mut n: u32, digits: &mut [u8; 10]) -> &[u8] {
    let mut at = digits.len();
    loop {
        at -= 1;
        if let Some(d) = digits.get_mut(at) {
            *d = b'0' + (n % 10) as u8;
        }
        n /= 10;
        if n == 0 || at == 0 {
            break;
        }
    }
    digits.get(at..).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::symlink;

    const SNMP: &str = "Ip: Forwarding DefaultTTL InReceives\nIp: 1 64 7\n\
        Udp: InDatagrams NoPorts InErrors OutDatagrams\nUdp: 50 1 2 50\n";

    /// A proc root with processes `pids`, each in network namespace `inode` with `text` as its
    /// `net/snmp`; pid 1 is in namespace 1 (the host's).
    fn proc_root(dir: &std::path::Path, pids: &[(u32, u64, &str)]) {
        for &(pid, inode, text) in [(1, 1, SNMP)].iter().chain(pids) {
            let p = dir.join(pid.to_string());
            std::fs::create_dir_all(p.join("net")).unwrap();
            std::fs::create_dir_all(p.join("ns")).unwrap();
            symlink(format!("net:[{inode}]"), p.join("ns/net")).unwrap();
            std::fs::write(p.join("net/snmp"), text).unwrap();
        }
    }

    fn temp(name: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("csflowd-mib2-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        dir
    }

    #[test]
    fn namespace_links() {
        assert_eq!(namespace_inode(b"net:[4026531840]"), Some(4026531840));
        for bad in [
            &b"net:[]"[..],
            b"mnt:[1]",
            b"net:[1x]",
            b"net:[1",
            b"net:[123456789012345678901]",
        ] {
            assert_eq!(namespace_inode(bad), None, "{bad:?}");
        }
        let mut d = [0; 10];
        assert_eq!(decimal(0, &mut d), b"0");
        assert_eq!(decimal(u32::MAX, &mut d), b"4294967295");
    }

    #[test]
    fn one_read_per_namespace_and_poll_and_last_values_kept() {
        let dir = temp("share");
        proc_root(
            &dir,
            &[
                (10, 7, SNMP),
                (11, 7, SNMP),
                (12, 8, "garbage"),
                (13, 1, SNMP),
                (14, 9, SNMP),
            ],
        );
        let mut m = NamespaceMib2::new(dir.clone());
        for (slot, pid) in [(0, 10), (1, 11), (2, 12), (3, 13), (5, 99)] {
            m.join(slot, pid);
        }
        assert_eq!(m.by_inode, [(7, 0), (8, 1)], "7 shared, 8; not the host's");
        assert_eq!(m.namespaces[0].members, 2);
        let g = m.groups(0, Read::Poll(1000)).unwrap();
        assert_eq!((g.ip.0[2], g.udp.0[0], g.udp.0[3]), (7, 50, 50));
        assert_eq!(g.tcp, Mib2::UNKNOWN.tcp, "no Tcp lines");
        assert_eq!(
            m.groups(2, Read::Poll(1000)),
            Some(Mib2::UNKNOWN),
            "read, nothing known"
        );
        assert_eq!(m.groups(3, Read::Poll(1000)), None, "host's namespace");
        assert_eq!(m.groups(5, Read::Poll(1000)), None, "no such process");
        assert_eq!(m.groups(4, Read::Poll(1000)), None, "never joined");
        assert!(m.needs_join(4) && !m.needs_join(3));

        // The second container of namespace 7 at the same poll reuses the read.
        std::fs::write(dir.join("11/net/snmp"), "Udp: InDatagrams\nUdp: 99\n").unwrap();
        std::fs::write(dir.join("10/net/snmp"), "Udp: InDatagrams\nUdp: 99\n").unwrap();
        assert_eq!(m.groups(1, Read::Poll(1000)).map(|g| g.udp.0[0]), Some(50));
        // The next poll reads again.
        assert_eq!(m.groups(1, Read::Poll(2000)).map(|g| g.udp.0[0]), Some(99));
        // A container ending reads it again, whatever was read at this poll; so does the next
        // poll.
        std::fs::write(dir.join("10/net/snmp"), "Udp: InDatagrams\nUdp: 100\n").unwrap();
        assert_eq!(m.groups(0, Read::Now).map(|g| g.udp.0[0]), Some(100));
        std::fs::write(dir.join("10/net/snmp"), "Udp: InDatagrams\nUdp: 99\n").unwrap();
        assert_eq!(m.groups(1, Read::Poll(2000)).map(|g| g.udp.0[0]), Some(99));

        // Gone: the last values stay, and a final sample reads nothing.
        std::fs::remove_dir_all(dir.join("10")).unwrap();
        std::fs::remove_dir_all(dir.join("11")).unwrap();
        m.namespaces[0].close();
        assert_eq!(m.groups(0, Read::Poll(3000)).map(|g| g.udp.0[0]), Some(99));
        assert_eq!(m.groups(0, Read::Last).map(|g| g.udp.0[0]), Some(99));

        // The namespace goes with its last container.
        m.leave(0);
        assert_eq!(m.by_inode, [(7, 0), (8, 1)]);
        m.join(1, 12);
        assert_eq!(m.by_inode, [(8, 1)], "slot 1 left 7 for 8");
        assert_eq!(m.namespaces[1].members, 2);
        assert_eq!((m.namespaces[0].members, m.namespaces[0].last), (0, None));
        // A new namespace takes the free place.
        m.join(0, 14);
        assert_eq!(m.by_inode, [(8, 1), (9, 0)]);
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn no_host_namespace_known_counts_every_namespace_as_own() {
        let dir = temp("nohost");
        proc_root(&dir, &[(10, 7, SNMP)]);
        std::fs::remove_file(dir.join("1/ns/net")).unwrap();
        let mut m = NamespaceMib2::new(dir.clone());
        assert_eq!(m.host, None);
        m.join(0, 10);
        assert!(m.groups(0, Read::Poll(1)).is_some());
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
