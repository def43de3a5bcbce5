//! containerd's tasks as a source of the container table: the descriptors of
//! [`crate::containerd::TaskWatcher`] (one inotify instance, one pidfd per task, all in the agent's
//! poller) and the files it reads.
//!
//! Reads are of small local files under the state directory (tmpfs), `/proc` and `/sys`, each
//! bounded; nothing here blocks. A task's freezer file (v1 `freezer.state`, else v2
//! `cgroup.freeze`), read at each of its samples, is kept open beside its pidfd within the counter
//! files' descriptor budget ([`crate::cgroup::kept_open`]), so that a sample pays one `pread` for
//! it; past the budget, or for a task without a pidfd, it is found and opened at each sample. The watcher's news go to the table tagged
//! [`crate::container::SourceId::CONTAINERD`].

use std::ffi::CStr;
use std::fs::File;
use std::io::{self, Read};
use std::os::fd::AsFd;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::rc::Rc;

use log::warn;

use crate::cgroup::{CgroupMode, CgroupMounts};
use crate::container::{ContainerId, News};
use crate::containerd::watch::PROC_CGROUP_MAX;
use crate::containerd::{Report, TaskHost, TaskWatcher, WatchKind};
use crate::host::Roots;
use crate::sys::{exists_below, inotify_events, Inotify, PidFd, Watched};

use super::keys::Key;

/// The inotify read buffer: room for hundreds of events per read.
const EVENT_BUFFER: usize = 64 << 10;

/// The agent's side of the containerd source.
pub struct ContainerdSource {
    watcher: TaskWatcher,
    host: RealHost,
    events: Box<[u8]>,
}

/// A task's exit watch, and its freezer file once it was read at a sample.
struct ExitWatch {
    pidfd: Watched<PidFd>,
    freezer: Option<Freezer>,
}

/// An open freezer file and how to read it.
struct Freezer {
    file: File,
    v1: bool,
}

impl Freezer {
    /// Whether it says frozen: v1 `FROZEN` or `FREEZING`, v2 `1`.
    fn frozen(&self, buf: &mut [u8; 16]) -> io::Result<bool> {
        let n = self.file.read_at(buf, 0)?;
        let text = buf.get(..n).unwrap_or_default();
        Ok(if self.v1 {
            text.starts_with(b"FROZEN") || text.starts_with(b"FREEZING")
        } else {
            text.trim_ascii() == b"1"
        })
    }
}

impl Drop for ExitWatch {
    fn drop(&mut self) {
        if self.freezer.is_some() {
            crate::cgroup::kept_closed(1);
        }
    }
}

struct RealHost {
    poller: Rc<polling::Poller>,
    inotify: Watched<Inotify>,
    pidfds: Vec<Option<ExitWatch>>,
    free: Vec<u32>,
    proc_root: PathBuf,
    /// The proc root, open: the re-scan looks for processes below it.
    proc_dir: Option<File>,
    /// Pids are this pid namespace's (the proc root is `/proc`): their exits can be watched.
    exit_watches: bool,
    freezer_v1: Option<PathBuf>,
    v2: Option<PathBuf>,
    small: Vec<u8>,
}

impl ContainerdSource {
    /// A source following containerd's state directory `state_dir`, leaving out the namespaces in
    /// `skip`, reporting what `report` says; its descriptors under [`Key::Inotify`] and
    /// [`Key::TaskExit`]. Call [`ContainerdSource::start`] to scan.
    pub fn new(
        poller: &Rc<polling::Poller>,
        state_dir: &Path,
        skip: &[&str],
        report: Report,
        roots: &Roots,
    ) -> io::Result<ContainerdSource> {
        let inotify = Watched::new(
            poller,
            Inotify::new()?,
            polling::Event::readable(Key::Inotify.encode()),
        )?;
        let mounts = CgroupMounts::discover(roots).ok();
        // runc freezes through the v2 hierarchy only when it is the only one.
        let v2 = mounts
            .as_ref()
            .filter(|m| m.mode() == CgroupMode::V2)
            .and_then(|m| m.v2())
            .map(|m| m.dir.clone());
        let freezer = roots.sys.join("fs/cgroup/freezer");
        Ok(ContainerdSource {
            watcher: TaskWatcher::reporting(state_dir, skip, report),
            host: RealHost {
                poller: poller.clone(),
                inotify,
                pidfds: Vec::new(),
                free: Vec::new(),
                proc_root: roots.proc.clone(),
                proc_dir: File::open(&roots.proc).ok(),
                exit_watches: roots.proc == Path::new("/proc"),
                freezer_v1: freezer.is_dir().then_some(freezer),
                v2,
                small: Vec::new(),
            },
            events: vec![0; EVENT_BUFFER].into_boxed_slice(),
        })
    }

    /// The task root followed.
    pub fn root(&self) -> &Path {
        self.watcher.root()
    }

    /// The first scan.
    pub fn start(&mut self, now: u64, news: &mut Vec<News>) {
        self.watcher.start(&mut self.host, now, news);
        self.watcher.log_start();
    }

    /// The inotify descriptor is readable: every pending event is handed to the watcher.
    pub fn on_inotify(&mut self, now: u64, news: &mut Vec<News>) {
        loop {
            let n = match self.host.inotify.get().read(&mut self.events) {
                Ok(0) => break,
                Ok(n) => n,
                Err(e) => {
                    warn!("containerd: reading inotify events failed: {e}");
                    break;
                }
            };
            let chunk = self.events.get(..n).unwrap_or_default();
            self.watcher
                .handle_events(&mut self.host, inotify_events(chunk), now, news);
        }
        let rearm = self
            .host
            .inotify
            .rearm(polling::Event::readable(Key::Inotify.encode()));
        if let Err(e) = rearm {
            warn!("containerd: cannot re-arm the inotify descriptor: {e}");
        }
    }

    /// A task's pidfd is readable: its process exited.
    pub fn on_exit(&mut self, token: usize, news: &mut Vec<News>) {
        let Ok(token) = u32::try_from(token) else {
            return;
        };
        let exited = self
            .host
            .pidfds
            .get(token as usize)
            .and_then(Option::as_ref)
            .is_some_and(|w| w.pidfd.get().exited());
        if exited {
            self.watcher.handle_exit(&mut self.host, token, news);
        }
    }

    /// When [`ContainerdSource::on_timeout`] is next due.
    pub fn next_deadline(&self) -> Option<u64> {
        self.watcher.poll_timeout()
    }

    /// The re-scan or a retry, when due.
    pub fn on_timeout(&mut self, now: u64, news: &mut Vec<News>) {
        if self.watcher.poll_timeout().is_some_and(|d| d <= now) {
            self.watcher.handle_timeout(&mut self.host, now, news);
        }
    }

    /// Whether task `id`, about to be sampled, is paused now; `None` when that cannot be told.
    pub fn paused_at_sample(&mut self, id: &ContainerId) -> Option<bool> {
        self.watcher.paused_at_sample(&mut self.host, id)
    }

    /// Whether `pid` is a reported pod's sandbox process (its counters are the pod's cgroup's).
    pub fn is_pod_pid(&self, pid: u32) -> bool {
        self.watcher.is_pod_pid(pid)
    }

    /// The table asks about a task.
    pub fn describe(&mut self, id: ContainerId, news: &mut Vec<News>) {
        self.watcher.describe(&mut self.host, id, news);
    }
}

/// Reads at most `limit` bytes of `path` into `out`; `InvalidData` when the file is longer.
fn read_bounded(path: &Path, limit: usize, out: &mut Vec<u8>) -> io::Result<()> {
    out.clear();
    let file = std::fs::File::open(path)?;
    file.take(limit as u64 + 1).read_to_end(out)?;
    if out.len() > limit {
        out.clear();
        return Err(io::ErrorKind::InvalidData.into());
    }
    Ok(())
}

impl TaskHost for RealHost {
    fn list(&mut self, dir: &Path, each: &mut dyn FnMut(&str)) -> io::Result<()> {
        for entry in std::fs::read_dir(dir)? {
            let Ok(entry) = entry else { continue };
            if let Some(name) = entry.file_name().to_str() {
                each(name);
            }
        }
        Ok(())
    }

    fn read(&mut self, path: &Path, limit: usize, out: &mut Vec<u8>) -> io::Result<()> {
        read_bounded(path, limit, out)
    }

    fn watch(&mut self, dir: &Path, kind: WatchKind) -> io::Result<i32> {
        self.inotify.get().add_watch(dir, kind.mask())
    }

    fn unwatch(&mut self, wd: i32) {
        self.inotify.get().rm_watch(wd);
    }

    fn watch_exit(&mut self, pid: u32) -> io::Result<u32> {
        if !self.exit_watches {
            // Another proc root (`--proc-root`): its pids are not this namespace's to open.
            return Err(io::ErrorKind::Unsupported.into());
        }
        let fd = PidFd::open(pid)?;
        let token = match self.free.pop() {
            Some(t) => t,
            None => {
                self.pidfds.push(None);
                u32::try_from(self.pidfds.len() - 1)
                    .map_err(|_| io::Error::from_raw_os_error(libc::EMFILE))?
            }
        };
        let key = Key::TaskExit(token as usize).encode();
        match Watched::new(&self.poller, fd, polling::Event::readable(key)) {
            Ok(pidfd) => {
                if let Some(slot) = self.pidfds.get_mut(token as usize) {
                    *slot = Some(ExitWatch {
                        pidfd,
                        freezer: None,
                    });
                }
                Ok(token)
            }
            Err(e) => {
                self.free.push(token);
                Err(e)
            }
        }
    }

    fn unwatch_exit(&mut self, token: u32) {
        if let Some(slot) = self.pidfds.get_mut(token as usize) {
            if slot.take().is_some() {
                self.free.push(token);
            }
        }
    }

    fn proc_cgroup(&mut self, pid: u32, out: &mut Vec<u8>) -> io::Result<()> {
        let path = self.proc_root.join(pid.to_string()).join("cgroup");
        read_bounded(&path, PROC_CGROUP_MAX, out)
    }

    fn frozen(&mut self, pid: u32) -> io::Result<Option<bool>> {
        if self.freezer_v1.is_none() && self.v2.is_none() {
            // Nothing to tell; the process must be there all the same.
            return self.proc_cgroup(pid, &mut Vec::new()).map(|()| None);
        }
        let mut text = std::mem::take(&mut self.small);
        let found = self.freezer_of(pid, &mut text);
        self.small = text;
        match found? {
            Some(f) => Ok(Some(f.frozen(&mut [0; 16])?)),
            None => Ok(None),
        }
    }

    fn frozen_at_sample(&mut self, exit: Option<u32>, pid: u32) -> io::Result<Option<bool>> {
        if self.freezer_v1.is_none() && self.v2.is_none() {
            return Ok(None);
        }
        let mut buf = [0; 16];
        let slot = exit.and_then(|t| self.pidfds.get_mut(t as usize)?.as_mut());
        if let Some(ExitWatch {
            freezer: Some(kept),
            ..
        }) = slot
        {
            match kept.frozen(&mut buf) {
                Ok(f) => return Ok(Some(f)),
                // Its cgroup was removed: found again below, or gone.
                Err(_) => self.drop_freezer(exit),
            }
        }
        let mut text = std::mem::take(&mut self.small);
        let found = self.freezer_of(pid, &mut text);
        self.small = text;
        let Some(freezer) = found? else {
            return Ok(None);
        };
        let frozen = freezer.frozen(&mut buf)?;
        let slot = exit.and_then(|t| self.pidfds.get_mut(t as usize)?.as_mut());
        if let Some(w) = slot {
            if crate::cgroup::may_keep() {
                w.freezer = Some(freezer);
            }
        }
        Ok(Some(frozen))
    }

    fn exists(&mut self, pid: u32) -> bool {
        let Some(dir) = &self.proc_dir else {
            return std::fs::symlink_metadata(self.proc_root.join(pid.to_string())).is_ok();
        };
        // The pid's digits and a NUL, without allocating: there may be thousands per re-scan.
        let mut name = [0u8; 12];
        let mut at = name.len() - 1;
        let mut n = pid;
        loop {
            at -= 1;
            name[at] = b'0' + (n % 10) as u8;
            n /= 10;
            if n == 0 || at == 0 {
                break;
            }
        }
        match CStr::from_bytes_with_nul(&name[at..]) {
            Ok(c) => exists_below(dir.as_fd(), c),
            Err(_) => false,
        }
    }
}

impl RealHost {
    fn drop_freezer(&mut self, exit: Option<u32>) {
        if let Some(w) = exit.and_then(|t| self.pidfds.get_mut(t as usize)?.as_mut()) {
            if w.freezer.take().is_some() {
                crate::cgroup::kept_closed(1);
            }
        }
    }

    /// The freezer file of the process's cgroup, opened: v1 `freezer.state`, else v2
    /// `cgroup.freeze`; `Ok(None)` when there is none; an error when the process is gone.
    fn freezer_of(&mut self, pid: u32, text: &mut Vec<u8>) -> io::Result<Option<Freezer>> {
        self.proc_cgroup(pid, text)?;
        let mut v1 = None;
        let mut v2 = None;
        for line in text.split(|&b| b == b'\n') {
            let mut f = line.splitn(3, |&b| b == b':');
            let (Some(_), Some(ctl), Some(path)) = (f.next(), f.next(), f.next()) else {
                continue;
            };
            let Ok(path) = std::str::from_utf8(path) else {
                continue;
            };
            if !path.starts_with('/') || path.split('/').any(|c| c == "..") {
                continue;
            }
            let rel = path.trim_start_matches('/');
            if ctl.split(|&b| b == b',').any(|c| c == b"freezer") {
                v1 = Some(rel);
            } else if ctl.is_empty() && !rel.is_empty() {
                // The root of the hierarchy has no cgroup.freeze.
                v2 = Some(rel);
            }
        }
        let open = |path: PathBuf, v1: bool| match File::open(path) {
            Ok(file) => Some(Freezer { file, v1 }),
            Err(_) => None,
        };
        if let (Some(dir), Some(rel)) = (&self.freezer_v1, v1) {
            return Ok(open(dir.join(rel).join("freezer.state"), true));
        }
        if let (Some(dir), Some(rel)) = (&self.v2, v2) {
            return Ok(open(dir.join(rel).join("cgroup.freeze"), false));
        }
        Ok(None)
    }
}
