//! containerd's tasks as a source of the container table: the descriptors of
//! [`crate::containerd::TaskWatcher`] (one inotify instance, one pidfd per task, all in the agent's
//! poller) and the files it reads.
//!
//! Reads are of small local files under the state directory (tmpfs), `/proc` and `/sys`, each
//! bounded; nothing here blocks. The watcher's news go to the table tagged
//! [`crate::container::SourceId::CONTAINERD`].

use std::io::{self, Read};
use std::path::{Path, PathBuf};
use std::rc::Rc;

use log::warn;

use crate::cgroup::{CgroupMode, CgroupMounts};
use crate::container::{ContainerId, News};
use crate::containerd::watch::PROC_CGROUP_MAX;
use crate::containerd::{Report, TaskHost, TaskWatcher, WatchKind};
use crate::host::Roots;
use crate::sys::{inotify_events, Inotify, PidFd, Watched};

use super::keys::Key;

/// The inotify read buffer: room for hundreds of events per read.
const EVENT_BUFFER: usize = 64 << 10;

/// The agent's side of the containerd source.
pub struct ContainerdSource {
    watcher: TaskWatcher,
    host: RealHost,
    events: Box<[u8]>,
}

struct RealHost {
    poller: Rc<polling::Poller>,
    inotify: Watched<Inotify>,
    pidfds: Vec<Option<Watched<PidFd>>>,
    free: Vec<u32>,
    proc_root: PathBuf,
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
            .is_some_and(|p| p.get().exited());
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
            Ok(w) => {
                if let Some(slot) = self.pidfds.get_mut(token as usize) {
                    *slot = Some(w);
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
        let mut text = std::mem::take(&mut self.small);
        let answer = self.frozen_from(pid, &mut text);
        self.small = text;
        answer
    }

    fn can_tell_frozen(&self) -> bool {
        self.freezer_v1.is_some() || self.v2.is_some()
    }

    fn exists(&mut self, pid: u32) -> bool {
        std::fs::symlink_metadata(self.proc_root.join(pid.to_string())).is_ok()
    }
}

impl RealHost {
    /// The freezer's state of the process's cgroup: v1 `freezer.state` (FROZEN or FREEZING), else
    /// v2 `cgroup.freeze`; an error when the process is gone.
    fn frozen_from(&mut self, pid: u32, text: &mut Vec<u8>) -> io::Result<Option<bool>> {
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
                v1 = Some(rel.to_string());
            } else if ctl.is_empty() && !rel.is_empty() {
                // The root of the hierarchy has no cgroup.freeze.
                v2 = Some(rel.to_string());
            }
        }
        let mut state = Vec::new();
        if let (Some(dir), Some(path)) = (&self.freezer_v1, v1) {
            if read_bounded(&dir.join(path).join("freezer.state"), 64, &mut state).is_ok() {
                return Ok(Some(
                    state.starts_with(b"FROZEN") || state.starts_with(b"FREEZING"),
                ));
            }
            return Ok(None);
        }
        if let (Some(dir), Some(path)) = (&self.v2, v2) {
            if read_bounded(&dir.join(path).join("cgroup.freeze"), 64, &mut state).is_ok() {
                return Ok(Some(state.trim_ascii() == b"1"));
            }
        }
        Ok(None)
    }
}
