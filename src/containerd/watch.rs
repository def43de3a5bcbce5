//! The task watcher: a state machine from containerd's task directories, inotify events, process
//! exits and time to [`News`] for the container table.
//!
//! It reads through [`TaskHost`] and never opens a descriptor itself: the agent's host owns the
//! inotify descriptor and one pidfd per task (both in the poller), the tests' host is a map of
//! paths. Time is an argument.
//!
//! How it follows containerd:
//! - **Watches, events first.** `<state>` (for the task root to appear), the task root
//!   `<state>/io.containerd.runtime.v2.task` (namespaces), every namespace directory (tasks), and a
//!   task's own bundle directory only until its `init.pid` appears (runc writes it by rename once
//!   the process exists; `config.json` is complete before the shim starts, so it is read only then).
//!   A watch is added before its directory is listed, so nothing falls between the two.
//! - **A task is described unasked** ([`News::Described`]) as soon as its `init.pid` and
//!   `config.json` are read and its pid is checked: the pid must be a live process in the cgroup
//!   the spec names (else it is a stale or garbage file, or a reused pid). Kubernetes sandbox
//!   (pause) tasks and the skipped namespaces (`moby` when a Docker engine is tracked: its
//!   containers are reported once, by the engine) are not reported.
//! - **Exit**: a watch on the process (a pidfd) tells the moment it exits, while its cgroup still
//!   holds its last counters: [`News::Ending`] (read them now), then [`News::Ended`] (exactly one
//!   final sample). The bundle's removal (`ctr task delete`) is [`News::Removed`].
//! - **Pause**: containerd writes nothing in the bundle when it pauses a task, and the v1 freezer
//!   sends no event. The freezer's state is read when a task is first read (its first sample says
//!   paused) and then at each of its samples ([`TaskWatcher::paused_at_sample`]): the sample going
//!   out carries the state, so a pause is seen within one polling interval, at no cost between
//!   samples, and the re-scan reads no freezer.
//! - **Re-scan** every [`RESCAN_MS`], and at once when the kernel's event queue overflowed: the
//!   directories are listed again (what was missed is added or removed; every 30 s, only the task
//!   root and the namespaces left without a watch: a held watch told of every bundle, and an
//!   overflow lists everything) and the processes of tasks
//!   whose exit is not watched are looked for; [`News::Present`] lists the live tasks after the
//!   first scan and after an overflow only (see [`TaskWatcher::present`]). It also
//!   carries what the inotify watch limit left unwatched (one warning), and tasks whose `init.pid`
//!   is awaited without a watch are retried every [`PENDING_RETRY_MS`].
//!
//! Every problem with one task (a missing, truncated, huge or non-JSON `config.json`, a garbage
//! `init.pid`, a pid outside the task's cgroup, a bundle removed while read) is logged once, for
//! that task, and touches no other.

use std::borrow::Borrow;
use std::collections::{HashMap, VecDeque};
use std::hash::{Hash, Hasher};
use std::io;
use std::num::NonZeroU32;
use std::path::{Path, PathBuf};
use std::rc::Rc;

use log::{debug, info, warn};

use crate::container::{ContainerId, Description, EndState, News, Presence};
use crate::sys::InotifyEvent;

use super::spec::{self, in_cgroup, parse_init_pid, task_id, Spec, CONFIG_MAX, PID_MAX_BYTES};

/// The directory under containerd's state directory that holds the runc v2 shim's task bundles.
pub const TASK_ROOT: &str = "io.containerd.runtime.v2.task";
/// Interval of the safety-net re-scan (ms).
pub const RESCAN_MS: u64 = 30_000;
/// Retry interval of a task whose `init.pid` is awaited without a watch (ms).
pub const PENDING_RETRY_MS: u64 = 100;
/// Largest `/proc/<pid>/cgroup` read.
pub const PROC_CGROUP_MAX: usize = 16 << 10;
/// Most tasks read per wake-up: a scan that finds more reads the rest in the next wake-ups (at
/// once, the loop does not sleep), so that the news of one wake-up stay bounded.
pub const LOAD_BATCH: usize = 512;

const IN_MODIFY: u32 = 0x0000_0002;
const IN_CLOSE_WRITE: u32 = 0x0000_0008;
const IN_MOVED_FROM: u32 = 0x0000_0040;
const IN_MOVED_TO: u32 = 0x0000_0080;
const IN_CREATE: u32 = 0x0000_0100;
const IN_DELETE: u32 = 0x0000_0200;
const IN_DELETE_SELF: u32 = 0x0000_0400;
const IN_MOVE_SELF: u32 = 0x0000_0800;
const IN_Q_OVERFLOW: u32 = 0x0000_4000;
const IN_IGNORED: u32 = 0x0000_8000;
const IN_ONLYDIR: u32 = 0x0100_0000;
const IN_ISDIR: u32 = 0x4000_0000;

const APPEARED: u32 = IN_CREATE | IN_MOVED_TO;
const VANISHED: u32 = IN_DELETE | IN_MOVED_FROM;

/// What the watcher reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Report {
    /// Each task that is not a Kubernetes sandbox, as a container (`containerd { }`).
    pub containers: bool,
    /// Each Kubernetes sandbox, as its pod (`k8s { }`): named after the pod, its counters those of
    /// the pod's cgroup (the sandbox's cgroup's parent) and its network namespace.
    pub pods: bool,
}

/// What a watched directory is, for the mask it is watched with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WatchKind {
    /// containerd's state directory: the task root appearing or going.
    State,
    /// The task root: namespaces.
    Root,
    /// A namespace: its tasks.
    Namespace,
    /// One task's bundle, until its `init.pid` is in.
    Bundle,
}

impl WatchKind {
    /// The inotify mask to watch with.
    pub const fn mask(self) -> u32 {
        match self {
            WatchKind::State | WatchKind::Root | WatchKind::Namespace => {
                APPEARED | VANISHED | IN_DELETE_SELF | IN_MOVE_SELF | IN_ONLYDIR
            }
            WatchKind::Bundle => APPEARED | IN_CLOSE_WRITE | IN_MODIFY | IN_ONLYDIR,
        }
    }
}

/// What the watcher reads and watches through; the agent's implementation owns the descriptors.
pub trait TaskHost {
    /// Calls `each` with every name in directory `dir` (those that are not UTF-8 may be left out).
    fn list(&mut self, dir: &Path, each: &mut dyn FnMut(&str)) -> io::Result<()>;
    /// The file's bytes into `out` (replaced); an error of kind `InvalidData` when it is longer
    /// than `limit`.
    fn read(&mut self, path: &Path, limit: usize, out: &mut Vec<u8>) -> io::Result<()>;
    /// Watches a directory; the watch descriptor. `ENOSPC` when the watch limit is reached.
    fn watch(&mut self, dir: &Path, kind: WatchKind) -> io::Result<i32>;
    /// Stops watching.
    fn unwatch(&mut self, wd: i32);
    /// Watches a process for its exit; a token that [`TaskWatcher::handle_exit`] is later called
    /// with. `ESRCH` when there is no such process.
    fn watch_exit(&mut self, pid: u32) -> io::Result<u32>;
    /// Stops watching a process.
    fn unwatch_exit(&mut self, token: u32);
    /// `/proc/<pid>/cgroup` into `out`, at most [`PROC_CGROUP_MAX`] bytes.
    fn proc_cgroup(&mut self, pid: u32, out: &mut Vec<u8>) -> io::Result<()>;
    /// Whether the process's cgroup is frozen (paused); `Ok(None)` when that cannot be told, an
    /// error when the process is gone.
    fn frozen(&mut self, pid: u32) -> io::Result<Option<bool>>;
    /// [`TaskHost::frozen`] of a task whose exit is watched under `exit`, asked at each of its
    /// samples: the host may keep the freezer's file open beside the exit watch, and drop it with
    /// [`TaskHost::unwatch_exit`].
    fn frozen_at_sample(&mut self, exit: Option<u32>, pid: u32) -> io::Result<Option<bool>> {
        let _ = exit;
        self.frozen(pid)
    }
    /// Whether process `pid` still exists (for tasks whose exit is not watched).
    fn exists(&mut self, pid: u32) -> bool {
        let mut text = Vec::new();
        self.proc_cgroup(pid, &mut text).is_ok()
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Target {
    State,
    Root,
    Namespace(Ns),
    Bundle(ContainerId),
}

#[derive(Debug)]
enum TaskState {
    /// Listed, not read yet (in the queue); `live`: listed while the agent runs.
    Listed { live: bool },
    /// Its `init.pid` is awaited; its bundle is watched (`wd`) when the limit allowed.
    Pending { wd: Option<i32> },
    /// Reported alive.
    Alive {
        pid: u32,
        /// The token of its exit watch, plus one; `None` when it could not be had (then the
        /// re-scan looks).
        exit: Option<NonZeroU32>,
        paused: bool,
        /// A pod, reported through its sandbox.
        pod: bool,
    },
    /// Its process ended; its final sample is out. Waits for its bundle to go.
    Ended,
    /// Not reported (a sandbox, or a bundle that cannot be read); waits for its bundle to go.
    Ignored,
}

#[derive(Debug)]
struct Task {
    /// Its namespace, shared with the namespace's other tasks.
    ns: Ns,
    state: TaskState,
    /// Seen by the current re-scan.
    seen: bool,
}

/// A namespace's name, shared by its tasks: one thin pointer each (a task record is small, there
/// may be tens of thousands).
#[derive(Debug, Clone)]
struct Ns(Rc<Box<str>>);

impl Ns {
    fn new(name: &str) -> Ns {
        Ns(Rc::new(name.into()))
    }
}

impl std::ops::Deref for Ns {
    type Target = str;
    fn deref(&self) -> &str {
        &self.0
    }
}

impl Borrow<str> for Ns {
    fn borrow(&self) -> &str {
        &self.0
    }
}

impl PartialEq for Ns {
    fn eq(&self, other: &Ns) -> bool {
        **self.0 == **other.0
    }
}

impl Eq for Ns {}

impl Hash for Ns {
    fn hash<H: Hasher>(&self, state: &mut H) {
        (**self.0).hash(state);
    }
}

impl std::fmt::Display for Ns {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// The token of an exit watch as kept, and back.
fn keep_token(token: u32) -> Option<NonZeroU32> {
    NonZeroU32::new(token.wrapping_add(1))
}

fn token_of(kept: NonZeroU32) -> u32 {
    kept.get() - 1
}

/// The watcher (see the module docs).
pub struct TaskWatcher {
    report: Report,
    state_dir: PathBuf,
    root: PathBuf,
    skip: Vec<String>,
    state_wd: Option<i32>,
    root_wd: Option<i32>,
    /// Followed namespaces and their watch.
    namespaces: HashMap<Ns, Option<i32>>,
    /// Task ids that are not their 64-hex container id (`ctr run` names), by container id.
    names: HashMap<ContainerId, Box<str>>,
    /// The sandbox processes of the pods reported alive (their counters are the pod's cgroup's).
    pod_pids: HashMap<u32, ContainerId>,
    /// Tasks listed and not read yet ([`TaskState::Listed`]), in listing order.
    queue: VecDeque<ContainerId>,
    wds: HashMap<i32, Target>,
    tasks: HashMap<ContainerId, Task>,
    exits: HashMap<u32, ContainerId>,
    rescan_due: Option<u64>,
    retry_due: Option<u64>,
    logged_watch_limit: bool,
    logged_overflow: bool,
    logged_exit_watch: bool,
    buf: Vec<u8>,
}

impl TaskWatcher {
    /// A watcher of containerd's state directory `state_dir`, leaving out the namespaces in
    /// `skip`, reporting containers only. Call [`TaskWatcher::start`] to scan.
    pub fn new(state_dir: &Path, skip: &[&str]) -> TaskWatcher {
        Self::reporting(
            state_dir,
            skip,
            Report {
                containers: true,
                pods: false,
            },
        )
    }

    /// A watcher reporting what `report` says.
    pub fn reporting(state_dir: &Path, skip: &[&str], report: Report) -> TaskWatcher {
        TaskWatcher {
            report,
            state_dir: state_dir.to_path_buf(),
            root: state_dir.join(TASK_ROOT),
            skip: skip.iter().map(|s| s.to_string()).collect(),
            state_wd: None,
            root_wd: None,
            namespaces: HashMap::new(),
            names: HashMap::new(),
            pod_pids: HashMap::new(),
            queue: VecDeque::new(),
            wds: HashMap::new(),
            tasks: HashMap::new(),
            exits: HashMap::new(),
            rescan_due: None,
            retry_due: None,
            logged_watch_limit: false,
            logged_overflow: false,
            logged_exit_watch: false,
            buf: Vec::new(),
        }
    }

    /// The task root watched.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// Tasks reported alive now.
    pub fn alive(&self) -> usize {
        self.tasks
            .values()
            .filter(|t| matches!(t.state, TaskState::Alive { .. }))
            .count()
    }

    /// Whether `pid` is the sandbox process of a pod reported alive: its counters are the pod's
    /// cgroup's (the parent of its own).
    pub fn is_pod_pid(&self, pid: u32) -> bool {
        self.pod_pids.contains_key(&pid)
    }

    /// A task's id in its namespace.
    fn task_name(&self, id: &ContainerId) -> String {
        match self.names.get(id) {
            Some(n) => n.to_string(),
            None => id.text().to_string(),
        }
    }

    /// Watches held (for tests and the start-up line).
    pub fn watches(&self) -> usize {
        self.wds.len()
    }

    /// The first scan: tasks found alive are described; those whose process is gone (stopped
    /// tasks not yet deleted) are not reported.
    pub fn start(&mut self, host: &mut impl TaskHost, now: u64, news: &mut Vec<News>) {
        self.rescan(host, now, false, true, news);
        self.present(news);
    }

    /// When [`TaskWatcher::handle_timeout`] is next due.
    pub fn poll_timeout(&self) -> Option<u64> {
        if !self.queue.is_empty() {
            return Some(0);
        }
        match (self.rescan_due, self.retry_due) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    /// The re-scan, or the retry of awaited tasks, when due.
    pub fn handle_timeout(&mut self, host: &mut impl TaskHost, now: u64, news: &mut Vec<News>) {
        if !self.queue.is_empty() {
            self.load_queued(host, now, news);
        } else if self.rescan_due.is_some_and(|d| d <= now) {
            self.rescan(host, now, true, false, news);
        } else if self.retry_due.is_some_and(|d| d <= now) {
            self.retry_due = None;
            self.retry_pending(host, now, news);
        }
    }

    /// The container table asks about `id`: what is known of it (the names are read again from
    /// its spec: they are not kept).
    pub fn describe(&mut self, host: &mut impl TaskHost, id: ContainerId, news: &mut Vec<News>) {
        let Some(t) = self.tasks.get(&id) else {
            return news.push(News::Undescribed(id));
        };
        let TaskState::Alive {
            pid, paused, pod, ..
        } = t.state
        else {
            return news.push(News::Undescribed(id));
        };
        let ns = t.ns.clone();
        let name = self.task_name(&id);
        let path = self.root.join(&*ns).join(&name).join("config.json");
        let spec = match host.read(&path, CONFIG_MAX, &mut self.buf) {
            Ok(()) => Spec::parse(&self.buf).ok(),
            Err(_) => None,
        };
        let Some(spec) = spec else {
            return news.push(News::Undescribed(id));
        };
        news.push(News::Described(Description {
            id,
            name: if pod {
                spec.pod_name(&ns)
            } else {
                spec.container_name(&ns, &name)
            },
            hostname: spec.hostname,
            pid,
            presence: if paused {
                Presence::Paused
            } else {
                Presence::Running
            },
        }));
    }

    /// The process watched under `token` exited: the task's counters are read now, then its final
    /// sample goes.
    pub fn handle_exit(&mut self, host: &mut impl TaskHost, token: u32, news: &mut Vec<News>) {
        host.unwatch_exit(token);
        let Some(id) = self.exits.remove(&token) else {
            return;
        };
        self.end(id, news);
    }

    /// Inotify events, in the kernel's order.
    pub fn handle_events<'a>(
        &mut self,
        host: &mut impl TaskHost,
        events: impl IntoIterator<Item = InotifyEvent<'a>>,
        now: u64,
        news: &mut Vec<News>,
    ) {
        let mut overflow = false;
        for ev in events {
            if ev.mask & IN_Q_OVERFLOW != 0 {
                overflow = true;
                continue;
            }
            let Some(target) = self.wds.get(&ev.wd).cloned() else {
                continue;
            };
            if ev.mask & IN_IGNORED != 0 {
                self.watch_gone(ev.wd, &target, host, news);
                continue;
            }
            let name = std::str::from_utf8(ev.name).ok().filter(|n| plain_name(n));
            match target {
                Target::State => {
                    if name != Some(TASK_ROOT) {
                        continue;
                    }
                    if ev.mask & APPEARED != 0 {
                        self.scan_root(host, true, true, news);
                        self.load_queued(host, now, news);
                    } else if ev.mask & VANISHED != 0 {
                        self.root_gone(host, news);
                    }
                }
                Target::Root => {
                    if ev.mask & (IN_DELETE_SELF | IN_MOVE_SELF) != 0 {
                        self.root_gone(host, news);
                        continue;
                    }
                    let Some(ns) = name else { continue };
                    if ev.mask & APPEARED != 0 && ev.mask & IN_ISDIR != 0 {
                        self.add_namespace(host, ns, true, true);
                        self.load_queued(host, now, news);
                    } else if ev.mask & VANISHED != 0 {
                        self.remove_namespace(host, ns, news);
                    }
                }
                Target::Namespace(ns) => {
                    if ev.mask & (IN_DELETE_SELF | IN_MOVE_SELF) != 0 {
                        self.remove_namespace(host, &ns, news);
                        continue;
                    }
                    let Some(task) = name else { continue };
                    if ev.mask & APPEARED != 0 && ev.mask & IN_ISDIR != 0 {
                        self.load(host, &ns, task, now, true, news);
                        self.load_queued(host, now, news);
                    } else if ev.mask & VANISHED != 0 {
                        self.remove_task(host, task_id(&ns, task), news);
                    }
                }
                Target::Bundle(id) => {
                    if name == Some("init.pid") {
                        self.try_load(host, id, now, true, news);
                    }
                }
            }
        }
        if overflow {
            if !self.logged_overflow {
                self.logged_overflow = true;
                warn!(
                    "containerd: the inotify queue overflowed; re-scanning {} (logged once)",
                    self.root.display()
                );
            }
            self.rescan(host, now, true, true, news);
            self.present(news);
        }
    }

    /// [`News::Present`]: the tasks reported alive, for the table to reconcile with (at the start,
    /// and when events were lost). Not at every re-scan: the table hears of every change here as
    /// it happens, in this process, and the list costs 32 bytes a task.
    fn present(&self, news: &mut Vec<News>) {
        // In no order: the table sorts it.
        let alive: Vec<ContainerId> = self
            .tasks
            .iter()
            .filter(|(_, t)| matches!(t.state, TaskState::Alive { .. }))
            .map(|(id, _)| *id)
            .collect();
        news.push(News::Present(alive));
    }

    /// Lists again (see the module docs). `live`: tasks found now started while the agent runs
    /// (one whose process is already gone gets its one final sample). `all`: the namespaces whose
    /// watch is held are listed too (at the start, and when events were lost); else their events
    /// told of every bundle, and listing them would find nothing new.
    fn rescan(
        &mut self,
        host: &mut impl TaskHost,
        now: u64,
        live: bool,
        all: bool,
        news: &mut Vec<News>,
    ) {
        self.rescan_due = Some(now + RESCAN_MS);
        if self.state_wd.is_none() {
            match host.watch(&self.state_dir, WatchKind::State) {
                Ok(wd) => {
                    self.state_wd = Some(wd);
                    self.wds.insert(wd, Target::State);
                }
                Err(e) => self.watch_failed(&self.state_dir.clone(), &e),
            }
        }
        let unlisted: Vec<Ns> = if all {
            Vec::new()
        } else {
            let watched = self.namespaces.iter().filter(|(_, wd)| wd.is_some());
            watched.map(|(ns, _)| ns.clone()).collect()
        };
        for t in self.tasks.values_mut() {
            t.seen = unlisted.iter().any(|ns| Rc::ptr_eq(&ns.0, &t.ns.0));
        }
        self.scan_root(host, live, all, news);
        self.load_queued(host, now, news);
        // Tasks not seen in any listing are gone.
        let gone: Vec<ContainerId> = self
            .tasks
            .iter()
            .filter(|(_, t)| !t.seen)
            .map(|(id, _)| *id)
            .collect();
        for id in gone {
            self.remove_task(host, id, news);
        }
        self.check_alive(host, news);
        self.retry_pending(host, now, news);
    }

    /// Watches and lists the task root, and every namespace in it (`all`: those watched too).
    fn scan_root(&mut self, host: &mut impl TaskHost, live: bool, all: bool, news: &mut Vec<News>) {
        if self.root_wd.is_none() {
            match host.watch(&self.root.clone(), WatchKind::Root) {
                Ok(wd) => {
                    self.root_wd = Some(wd);
                    self.wds.insert(wd, Target::Root);
                }
                Err(e) if e.kind() == io::ErrorKind::NotFound => {}
                Err(e) => self.watch_failed(&self.root.clone(), &e),
            }
        }
        let mut names = Vec::new();
        match host.list(&self.root.clone(), &mut |n| names.push(n.to_string())) {
            Ok(()) => {}
            Err(e) => {
                if e.kind() != io::ErrorKind::NotFound {
                    debug!("containerd: {}: {e}", self.root.display());
                }
                self.root_gone(host, news);
                return;
            }
        }
        let listed: Vec<String> = names.into_iter().filter(|n| plain_name(n)).collect();
        let stale: Vec<Ns> = self
            .namespaces
            .keys()
            .filter(|ns| !listed.iter().any(|l| l.as_str() == &***ns))
            .cloned()
            .collect();
        for ns in stale {
            self.remove_namespace(host, &ns, news);
        }
        for ns in &listed {
            self.add_namespace(host, ns, live, all);
        }
    }

    /// Follows namespace `ns` (watch, then list) unless it is skipped; lists it again when it is
    /// followed already without a watch, or when `all`.
    fn add_namespace(&mut self, host: &mut impl TaskHost, ns: &str, live: bool, all: bool) {
        if self.skip.iter().any(|s| s == ns) {
            return;
        }
        let dir = self.root.join(ns);
        let known = self.namespaces.get(ns).copied();
        let shared: Ns = match self.namespaces.get_key_value(ns) {
            Some((k, _)) => k.clone(),
            None => Ns::new(ns),
        };
        if matches!(known, Some(Some(_))) && !all {
            return;
        }
        if !matches!(known, Some(Some(_))) {
            let wd = match host.watch(&dir, WatchKind::Namespace) {
                Ok(wd) => {
                    self.wds.insert(wd, Target::Namespace(shared.clone()));
                    Some(wd)
                }
                Err(e) if e.kind() == io::ErrorKind::NotFound => return,
                Err(e) => {
                    self.watch_failed(&dir, &e);
                    None
                }
            };
            if known.is_none() {
                debug!("containerd: following namespace {ns}");
            }
            self.namespaces.insert(shared.clone(), wd);
        }
        let (tasks, queue, task_names) = (&mut self.tasks, &mut self.queue, &mut self.names);
        let listed = host.list(&dir, &mut |task| {
            if !plain_name(task) {
                return;
            }
            let id = task_id(ns, task);
            match tasks.get_mut(&id) {
                Some(t) => t.seen = true,
                None => {
                    if id.text().as_str() != task {
                        task_names.insert(id, task.into());
                    }
                    tasks.insert(
                        id,
                        Task {
                            ns: shared.clone(),
                            state: TaskState::Listed { live },
                            seen: true,
                        },
                    );
                    queue.push_back(id);
                }
            }
        });
        // Gone meanwhile: its removal event follows, or the next re-scan sees it.
        let _ = listed;
    }

    /// Reads up to [`LOAD_BATCH`] listed tasks.
    fn load_queued(&mut self, host: &mut impl TaskHost, now: u64, news: &mut Vec<News>) {
        for _ in 0..LOAD_BATCH {
            let Some(id) = self.queue.pop_front() else {
                break;
            };
            // It may have gone meanwhile (its bundle or its namespace removed).
            let Some(t) = self.tasks.get_mut(&id) else {
                continue;
            };
            if let TaskState::Listed { live } = t.state {
                t.state = TaskState::Pending { wd: None };
                self.try_load(host, id, now, live, news);
            }
        }
        if self.queue.is_empty() {
            self.queue.shrink_to_fit();
        }
    }

    fn remove_namespace(&mut self, host: &mut impl TaskHost, ns: &str, news: &mut Vec<News>) {
        let Some(wd) = self.namespaces.remove(ns) else {
            return;
        };

        if let Some(wd) = wd {
            host.unwatch(wd);
            self.wds.remove(&wd);
        }
        let ids: Vec<ContainerId> = self
            .tasks
            .iter()
            .filter(|(_, t)| &*t.ns == ns)
            .map(|(id, _)| *id)
            .collect();
        for id in ids {
            self.remove_task(host, id, news);
        }
    }

    /// The task root is gone (containerd's state directory was removed): every task is.
    fn root_gone(&mut self, host: &mut impl TaskHost, news: &mut Vec<News>) {
        if let Some(wd) = self.root_wd.take() {
            host.unwatch(wd);
            self.wds.remove(&wd);
        }
        self.queue.clear();
        let all: Vec<Ns> = self.namespaces.keys().cloned().collect();
        for ns in all {
            self.remove_namespace(host, &ns, news);
        }
    }

    /// A watch the kernel dropped (its directory was removed).
    fn watch_gone(
        &mut self,
        wd: i32,
        target: &Target,
        host: &mut impl TaskHost,
        news: &mut Vec<News>,
    ) {
        self.wds.remove(&wd);
        match target {
            Target::State => self.state_wd = None,
            Target::Root => {
                self.root_wd = None;
                self.root_gone(host, news);
            }
            Target::Namespace(ns) => {
                if let Some(w) = self.namespaces.get_mut(ns) {
                    *w = None;
                }
            }
            Target::Bundle(id) => {
                if let Some(Task {
                    state: TaskState::Pending { wd: w },
                    ..
                }) = self.tasks.get_mut(id)
                {
                    *w = None;
                }
            }
        }
    }

    fn watch_failed(&mut self, dir: &Path, e: &io::Error) {
        if e.raw_os_error() == Some(libc::ENOSPC) {
            if !self.logged_watch_limit {
                self.logged_watch_limit = true;
                warn!(
                    "containerd: the inotify watch limit is reached (fs.inotify.max_user_watches): \
                     tasks under {} are found by the re-scan every {} s instead (logged once)",
                    dir.display(),
                    RESCAN_MS / 1000
                );
            }
        } else if e.kind() != io::ErrorKind::NotFound {
            debug!("containerd: cannot watch {}: {e}", dir.display());
        }
    }

    /// A task directory seen: a new task is read (or awaited); a known one is marked seen.
    fn load(
        &mut self,
        host: &mut impl TaskHost,
        ns: &str,
        name: &str,
        now: u64,
        live: bool,
        news: &mut Vec<News>,
    ) {
        let Some(shared) = self.namespaces.get_key_value(ns).map(|(k, _)| k.clone()) else {
            return;
        };
        self.load_in(host, shared, name, now, live, news);
    }

    fn load_in(
        &mut self,
        host: &mut impl TaskHost,
        ns: Ns,
        name: &str,
        now: u64,
        live: bool,
        news: &mut Vec<News>,
    ) {
        let id = task_id(&ns, name);
        match self.tasks.get_mut(&id) {
            Some(t) => {
                t.seen = true;
                match t.state {
                    TaskState::Pending { .. } => {}
                    // Listed by a scan and made again before it was read: read now.
                    TaskState::Listed { .. } => t.state = TaskState::Pending { wd: None },
                    _ => return,
                }
            }
            None => {
                if id.text().as_str() != name {
                    self.names.insert(id, name.into());
                }
                self.tasks.insert(
                    id,
                    Task {
                        ns,
                        state: TaskState::Pending { wd: None },
                        seen: true,
                    },
                );
            }
        }
        self.try_load(host, id, now, live, news);
    }

    /// Reads a pending task's bundle: described when its `init.pid` is in, awaited (watched) when
    /// not yet, ignored (logged once) when it cannot be read.
    fn try_load(
        &mut self,
        host: &mut impl TaskHost,
        id: ContainerId,
        now: u64,
        live: bool,
        news: &mut Vec<News>,
    ) {
        let Some(task) = self.tasks.get(&id) else {
            return;
        };
        if !matches!(task.state, TaskState::Pending { .. }) {
            return;
        }
        let ns = task.ns.clone();
        let name = self.task_name(&id);
        let dir = self.root.join(&*ns).join(&name);
        // Twice at most: when the pid file is missing, the bundle is watched and read once more
        // (the file may have come between the first read and the watch).
        let mut pid = None;
        for attempt in 0..2 {
            match host.read(&dir.join("init.pid"), PID_MAX_BYTES, &mut self.buf) {
                Ok(()) => match parse_init_pid(&self.buf) {
                    Ok(Some(p)) => {
                        pid = Some(p);
                        break;
                    }
                    Ok(None) => {}
                    Err(_) => {
                        let text = String::from_utf8_lossy(&self.buf).into_owned();
                        return self.ignore(
                            host,
                            id,
                            &format!("init.pid holds {:?}, not a pid", spec::clean(&text)),
                        );
                    }
                },
                Err(e) if e.kind() == io::ErrorKind::NotFound => {}
                Err(e) if e.kind() == io::ErrorKind::InvalidData => {
                    return self.ignore(host, id, "init.pid is too long to be a pid");
                }
                Err(e) => return self.ignore(host, id, &format!("init.pid: {e}")),
            }
            if attempt == 1 {
                break;
            }
            if !self.await_pid(host, id, &dir, now) {
                return; // the bundle is gone
            }
        }
        let Some(pid) = pid else { return };
        let spec = match host.read(&dir.join("config.json"), CONFIG_MAX, &mut self.buf) {
            Ok(()) => match Spec::parse(&self.buf) {
                Ok(s) => s,
                Err(e) => return self.ignore(host, id, e.message()),
            },
            Err(e) if e.kind() == io::ErrorKind::InvalidData => {
                return self.ignore(host, id, spec::SpecError::TooBig.message());
            }
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                // The bundle went while it was read, or it never had a spec.
                let gone = host.list(&dir, &mut |_| {}).is_err();
                if gone {
                    return self.forget(host, id);
                }
                return self.ignore(host, id, "config.json is missing");
            }
            Err(e) => return self.ignore(host, id, &format!("config.json: {e}")),
        };
        let pod = spec.is_sandbox();
        if pod && !self.report.pods {
            debug!("containerd: {ns}/{name} is a Kubernetes sandbox: not reported as a container");
            return self.set_state(host, id, TaskState::Ignored);
        }
        if !pod && !self.report.containers {
            return self.set_state(host, id, TaskState::Ignored);
        }
        // The exit watch first: once it is held, the pid cannot be another process's unnoticed.
        let exit = match host.watch_exit(pid) {
            Ok(token) => Some(token),
            Err(e) if e.raw_os_error() == Some(libc::ESRCH) => {
                return self.dead_on_arrival(host, id, live, spec, news);
            }
            // The host cannot watch exits at all: the re-scan finds them, no warning.
            Err(e) if e.kind() == io::ErrorKind::Unsupported => None,
            Err(e) => {
                if !self.logged_exit_watch {
                    self.logged_exit_watch = true;
                    warn!(
                        "containerd: cannot watch the exit of task processes ({e}): exits are \
                         found by the re-scan (logged once)"
                    );
                }
                None
            }
        };
        let mut cg = Vec::new();
        let in_its_cgroup = match host.proc_cgroup(pid, &mut cg) {
            Ok(()) => in_cgroup(&cg, &spec.cgroups_path),
            Err(_) => {
                if let Some(t) = exit {
                    host.unwatch_exit(t);
                }
                return self.dead_on_arrival(host, id, live, spec, news);
            }
        };
        if !in_its_cgroup {
            if let Some(t) = exit {
                host.unwatch_exit(t);
            }
            return self.ignore(
                host,
                id,
                &format!(
                    "pid {pid} of init.pid is not in the task's cgroup {:?}",
                    spec.cgroups_path
                ),
            );
        }
        let paused = matches!(host.frozen(pid), Ok(Some(true)));
        let display = if pod {
            spec.pod_name(&ns)
        } else {
            spec.container_name(&ns, &name)
        };
        if let Some(t) = exit {
            self.exits.insert(t, id);
        }
        if pod {
            self.pod_pids.insert(pid, id);
        }
        self.set_state(
            host,
            id,
            TaskState::Alive {
                pid,
                exit: exit.and_then(keep_token),
                paused,
                pod,
            },
        );
        news.push(News::Described(Description {
            id,
            name: display,
            hostname: spec.hostname,
            pid,
            presence: if paused {
                Presence::Paused
            } else {
                Presence::Running
            },
        }));
    }

    /// Watches a task's bundle for its `init.pid`; false when the bundle is gone.
    fn await_pid(
        &mut self,
        host: &mut impl TaskHost,
        id: ContainerId,
        dir: &Path,
        now: u64,
    ) -> bool {
        let has_watch = matches!(
            self.tasks.get(&id).map(|t| &t.state),
            Some(TaskState::Pending { wd: Some(_) })
        );
        if has_watch {
            return true;
        }
        match host.watch(dir, WatchKind::Bundle) {
            Ok(wd) => {
                self.wds.insert(wd, Target::Bundle(id));
                if let Some(t) = self.tasks.get_mut(&id) {
                    t.state = TaskState::Pending { wd: Some(wd) };
                }
                true
            }
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                self.forget(host, id);
                false
            }
            Err(e) => {
                self.watch_failed(dir, &e);
                let due = now + PENDING_RETRY_MS;
                self.retry_due = Some(self.retry_due.map_or(due, |d| d.min(due)));
                true
            }
        }
    }

    /// Awaited tasks are read again.
    fn retry_pending(&mut self, host: &mut impl TaskHost, now: u64, news: &mut Vec<News>) {
        let pending: Vec<ContainerId> = self
            .tasks
            .iter()
            .filter(|(_, t)| matches!(t.state, TaskState::Pending { .. }))
            .map(|(id, _)| *id)
            .collect();
        for id in pending {
            self.try_load(host, id, now, true, news);
        }
    }

    /// A task whose process was gone when it was read: one final sample if it started while the
    /// agent runs, nothing if it was found stopped at the start.
    fn dead_on_arrival(
        &mut self,
        host: &mut impl TaskHost,
        id: ContainerId,
        live: bool,
        spec: Spec,
        news: &mut Vec<News>,
    ) {
        if live {
            if let Some(t) = self.tasks.get(&id) {
                let name = if spec.is_sandbox() {
                    spec.pod_name(&t.ns)
                } else {
                    spec.container_name(&t.ns, &self.task_name(&id))
                };
                news.push(News::Described(Description {
                    id,
                    name,
                    hostname: spec.hostname,
                    pid: 0,
                    presence: Presence::Ended(EndState::Exited),
                }));
            }
        }
        self.set_state(host, id, TaskState::Ended);
    }

    /// Alive tasks whose exit is not watched: those whose process is gone end (a `stat` each).
    fn check_alive(&mut self, host: &mut impl TaskHost, news: &mut Vec<News>) {
        // Only the (few) gone ones are collected: the tasks may be tens of thousands.
        let gone: Vec<ContainerId> = self
            .tasks
            .iter()
            .filter(|(_, t)| match t.state {
                TaskState::Alive {
                    pid, exit: None, ..
                } => !host.exists(pid),
                _ => false,
            })
            .map(|(id, _)| *id)
            .collect();
        for id in gone {
            self.end(id, news);
        }
    }

    /// Whether task `id`, about to be sampled, is paused now (see the module docs); `None` when it
    /// is not a task reported alive or its freezer cannot tell. Its pause is recorded for
    /// [`TaskWatcher::describe`].
    pub fn paused_at_sample(&mut self, host: &mut impl TaskHost, id: &ContainerId) -> Option<bool> {
        let Some(Task {
            state: TaskState::Alive {
                pid, exit, paused, ..
            },
            ..
        }) = self.tasks.get_mut(id)
        else {
            return None;
        };
        let now = host.frozen_at_sample(exit.map(token_of), *pid).ok()??;
        *paused = now;
        Some(now)
    }

    /// An alive task's process ended.
    fn end(&mut self, id: ContainerId, news: &mut Vec<News>) {
        let Some(t) = self.tasks.get_mut(&id) else {
            return;
        };
        if let TaskState::Alive { exit, pid, .. } = t.state {
            if let Some(kept) = exit {
                self.exits.remove(&token_of(kept));
            }
            if self.pod_pids.get(&pid) == Some(&id) {
                self.pod_pids.remove(&pid);
            }
            t.state = TaskState::Ended;
            news.push(News::Ending(id));
            news.push(News::Ended(id, EndState::Exited));
        }
    }

    /// A task's bundle is gone.
    fn remove_task(&mut self, host: &mut impl TaskHost, id: ContainerId, news: &mut Vec<News>) {
        let Some(t) = self.tasks.remove(&id) else {
            return;
        };
        self.names.remove(&id);
        match t.state {
            TaskState::Pending { wd } => {
                if let Some(wd) = wd {
                    host.unwatch(wd);
                    self.wds.remove(&wd);
                }
            }
            TaskState::Alive { exit, pid, .. } => {
                if self.pod_pids.get(&pid) == Some(&id) {
                    self.pod_pids.remove(&pid);
                }
                if let Some(kept) = exit {
                    host.unwatch_exit(token_of(kept));
                    self.exits.remove(&token_of(kept));
                }
                news.push(News::Removed(id));
            }
            TaskState::Ended => news.push(News::Removed(id)),
            TaskState::Ignored | TaskState::Listed { .. } => {}
        }
    }

    /// Drops a task never reported (its bundle went while it was read).
    fn forget(&mut self, host: &mut impl TaskHost, id: ContainerId) {
        self.names.remove(&id);
        if let Some(Task {
            state: TaskState::Pending { wd: Some(wd) },
            ..
        }) = self.tasks.remove(&id)
        {
            host.unwatch(wd);
            self.wds.remove(&wd);
        }
    }

    /// A task that cannot be read: not reported, logged once (it is not read again until its
    /// bundle is recreated).
    fn ignore(&mut self, host: &mut impl TaskHost, id: ContainerId, reason: &str) {
        if let Some(t) = self.tasks.get(&id) {
            warn!(
                "containerd: task {}/{}: {reason}: not reported",
                t.ns,
                self.task_name(&id)
            );
        }
        self.set_state(host, id, TaskState::Ignored);
    }

    /// Moves a task out of Pending (its bundle watch goes) into `state`.
    fn set_state(&mut self, host: &mut impl TaskHost, id: ContainerId, state: TaskState) {
        let Some(t) = self.tasks.get_mut(&id) else {
            return;
        };
        if let TaskState::Pending { wd: Some(wd) } = t.state {
            host.unwatch(wd);
            self.wds.remove(&wd);
        }
        t.state = state;
    }

    /// Logs what the first scan found.
    pub fn log_start(&self) {
        info!(
            "containerd: following {} ({} tasks alive, {} namespaces{})",
            self.root.display(),
            self.alive(),
            self.namespaces.len(),
            if self.skip.is_empty() {
                String::new()
            } else {
                format!("; skipping {}", self.skip.join(", "))
            }
        );
    }
}

/// A directory entry name that can be a namespace or a task id, per containerd's identifier rule:
/// letters and digits, with single `.`, `_` or `-` between them, at most 255 bytes. Anything else
/// is not a task: notably `.<id>`, the name containerd renames a bundle to while it deletes it.
fn plain_name(name: &str) -> bool {
    let b = name.as_bytes();
    let alnum = |c: &u8| c.is_ascii_alphanumeric();
    let sep = |c: &u8| matches!(c, b'.' | b'_' | b'-');
    !b.is_empty()
        && b.len() <= 255
        && b.first().is_some_and(alnum)
        && b.last().is_some_and(alnum)
        && b.iter().all(|c| alnum(c) || sep(c))
        && !b.windows(2).any(|w| sep(&w[0]) && sep(&w[1]))
}

#[cfg(test)]
mod tests;
