//! The watcher against an in-memory host: directories, files, processes and the kernel's events
//! modelled by hand, time explicit.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};

use super::*;

const STATE: &str = "/run/ctrd";

fn root() -> PathBuf {
    Path::new(STATE).join(TASK_ROOT)
}

fn bundle(ns: &str, id: &str) -> PathBuf {
    root().join(ns).join(id)
}

/// An event the fake kernel queued: (wd, mask, name).
type Queued = (i32, u32, String);

#[derive(Default)]
struct FakeHost {
    dirs: BTreeSet<PathBuf>,
    files: BTreeMap<PathBuf, Vec<u8>>,
    watches: HashMap<i32, PathBuf>,
    next_wd: i32,
    watch_limit: Option<usize>,
    /// Live processes and their /proc/<pid>/cgroup.
    procs: HashMap<u32, String>,
    frozen: HashSet<u32>,
    exit_watches: HashMap<u32, u32>,
    next_token: u32,
    queued: Vec<Queued>,
    /// Removed while being read: the next read of this path finds the bundle gone.
    vanish_on_read: Option<PathBuf>,
    /// Directories listed, in order.
    listed: Vec<PathBuf>,
}

impl FakeHost {
    fn new() -> FakeHost {
        let mut h = FakeHost {
            next_wd: 1,
            ..FakeHost::default()
        };
        h.dirs.insert(PathBuf::from(STATE));
        h
    }

    fn watched(&self, dir: &Path) -> Option<i32> {
        self.watches
            .iter()
            .find(|(_, p)| p.as_path() == dir)
            .map(|(wd, _)| *wd)
    }

    fn notify(&mut self, path: &Path, mask: u32) {
        let (Some(parent), Some(name)) = (path.parent(), path.file_name()) else {
            return;
        };
        if let Some(wd) = self.watched(parent) {
            self.queued
                .push((wd, mask, name.to_string_lossy().into_owned()));
        }
    }

    fn mkdir(&mut self, path: &Path) {
        if let Some(parent) = path.parent() {
            if !self.dirs.contains(parent) {
                self.mkdir(parent);
            }
        }
        if self.dirs.insert(path.to_path_buf()) {
            self.notify(path, IN_CREATE | IN_ISDIR);
        }
    }

    fn rmdir_all(&mut self, path: &Path) {
        self.files.retain(|p, _| !p.starts_with(path));
        let inner: Vec<PathBuf> = self
            .dirs
            .iter()
            .filter(|d| d.starts_with(path))
            .cloned()
            .collect();
        for d in inner {
            self.dirs.remove(&d);
            if let Some(wd) = self.watched(&d) {
                self.watches.remove(&wd);
                self.queued.push((wd, IN_IGNORED, String::new()));
            }
        }
        self.notify(path, IN_DELETE | IN_ISDIR);
    }

    /// Written by rename, as runc writes its pid file.
    fn put(&mut self, path: &Path, bytes: &[u8]) {
        self.files.insert(path.to_path_buf(), bytes.to_vec());
        self.notify(path, IN_MOVED_TO);
    }

    fn spawn(&mut self, pid: u32, cgroup: &str) {
        self.procs
            .insert(pid, format!("4:memory:{cgroup}\n0::{cgroup}\n"));
    }

    /// A process exits: its exit watches fire (returned, as the poller would report them).
    fn exit(&mut self, pid: u32) -> Vec<u32> {
        self.procs.remove(&pid);
        self.frozen.remove(&pid);
        self.exit_watches
            .iter()
            .filter(|(_, p)| **p == pid)
            .map(|(t, _)| *t)
            .collect()
    }

    /// A task as `ctr run -d` makes it: the bundle, its spec, then the process and its pid file.
    fn run_task(&mut self, ns: &str, id: &str, pid: u32, spec: &str) {
        let dir = bundle(ns, id);
        self.mkdir(&dir);
        self.files
            .insert(dir.join("config.json"), spec.as_bytes().to_vec());
        self.spawn(pid, &format!("/{ns}/{id}"));
        self.put(&dir.join("init.pid"), pid.to_string().as_bytes());
    }
}

impl TaskHost for FakeHost {
    fn list(&mut self, dir: &Path, each: &mut dyn FnMut(&str)) -> io::Result<()> {
        self.listed.push(dir.to_path_buf());
        if !self.dirs.contains(dir) {
            return Err(io::ErrorKind::NotFound.into());
        }
        let children: Vec<String> = self
            .dirs
            .iter()
            .chain(self.files.keys())
            .filter(|p| p.parent() == Some(dir))
            .filter_map(|p| p.file_name().map(|n| n.to_string_lossy().into_owned()))
            .collect();
        for c in &children {
            each(c);
        }
        Ok(())
    }

    fn read(&mut self, path: &Path, limit: usize, out: &mut Vec<u8>) -> io::Result<()> {
        if self.vanish_on_read.as_deref() == Some(path) {
            self.vanish_on_read = None;
            if let Some(dir) = path.parent() {
                let dir = dir.to_path_buf();
                self.rmdir_all(&dir);
            }
        }
        let bytes = self.files.get(path).ok_or(io::ErrorKind::NotFound)?;
        if bytes.len() > limit {
            return Err(io::ErrorKind::InvalidData.into());
        }
        out.clear();
        out.extend_from_slice(bytes);
        Ok(())
    }

    fn watch(&mut self, dir: &Path, _kind: WatchKind) -> io::Result<i32> {
        if !self.dirs.contains(dir) {
            return Err(io::ErrorKind::NotFound.into());
        }
        if let Some(wd) = self.watched(dir) {
            return Ok(wd);
        }
        if self.watch_limit.is_some_and(|l| self.watches.len() >= l) {
            return Err(io::Error::from_raw_os_error(libc::ENOSPC));
        }
        let wd = self.next_wd;
        self.next_wd += 1;
        self.watches.insert(wd, dir.to_path_buf());
        Ok(wd)
    }

    fn unwatch(&mut self, wd: i32) {
        if self.watches.remove(&wd).is_some() {
            self.queued.push((wd, IN_IGNORED, String::new()));
        }
    }

    fn watch_exit(&mut self, pid: u32) -> io::Result<u32> {
        if !self.procs.contains_key(&pid) {
            return Err(io::Error::from_raw_os_error(libc::ESRCH));
        }
        self.next_token += 1;
        self.exit_watches.insert(self.next_token, pid);
        Ok(self.next_token)
    }

    fn unwatch_exit(&mut self, token: u32) {
        self.exit_watches.remove(&token);
    }

    fn proc_cgroup(&mut self, pid: u32, out: &mut Vec<u8>) -> io::Result<()> {
        let text = self.procs.get(&pid).ok_or(io::ErrorKind::NotFound)?;
        out.clear();
        out.extend_from_slice(text.as_bytes());
        Ok(())
    }

    fn frozen(&mut self, pid: u32) -> io::Result<Option<bool>> {
        if !self.procs.contains_key(&pid) {
            return Err(io::ErrorKind::NotFound.into());
        }
        Ok(Some(self.frozen.contains(&pid)))
    }
}

const PLAIN: &str = r#"{"ociVersion":"1.0.2","linux":{"cgroupsPath":"CG"}}"#;

fn plain(ns: &str, id: &str) -> String {
    PLAIN.replace("CG", &format!("/{ns}/{id}"))
}

struct Rig {
    host: FakeHost,
    w: TaskWatcher,
    now: u64,
}

impl Rig {
    fn new(skip: &[&str]) -> Rig {
        Rig {
            host: FakeHost::new(),
            w: TaskWatcher::new(Path::new(STATE), skip),
            now: 0,
        }
    }

    fn start(&mut self) -> Vec<News> {
        let mut news = Vec::new();
        self.w.start(&mut self.host, self.now, &mut news);
        news
    }

    /// Hands the queued kernel events over, until none are left.
    fn deliver(&mut self) -> Vec<News> {
        let mut news = Vec::new();
        while !self.host.queued.is_empty() {
            let queued = std::mem::take(&mut self.host.queued);
            let events: Vec<InotifyEvent<'_>> = queued
                .iter()
                .map(|(wd, mask, name)| InotifyEvent {
                    wd: *wd,
                    mask: *mask,
                    name: name.as_bytes(),
                })
                .collect();
            self.w
                .handle_events(&mut self.host, events, self.now, &mut news);
        }
        news
    }

    fn exit(&mut self, pid: u32) -> Vec<News> {
        let mut news = Vec::new();
        for token in self.host.exit(pid) {
            self.w.handle_exit(&mut self.host, token, &mut news);
        }
        news
    }

    fn advance(&mut self, ms: u64) -> Vec<News> {
        self.now += ms;
        let mut news = Vec::new();
        while self.w.poll_timeout().is_some_and(|d| d <= self.now) {
            self.w.handle_timeout(&mut self.host, self.now, &mut news);
        }
        news
    }
}

fn described(news: &[News]) -> Vec<&Description> {
    news.iter()
        .filter_map(|n| match n {
            News::Described(d) => Some(d),
            _ => None,
        })
        .collect()
}

fn without_present(news: Vec<News>) -> Vec<News> {
    news.into_iter()
        .filter(|n| !matches!(n, News::Present(_)))
        .collect()
}

#[test]
fn tasks_before_the_start_are_described_and_listed() {
    let mut r = Rig::new(&[]);
    r.host
        .run_task("default", "web1", 501, &plain("default", "web1"));
    r.host.queued.clear();
    let news = r.start();
    let d = described(&news);
    assert_eq!(d.len(), 1);
    assert_eq!(d[0].id, task_id("default", "web1"));
    assert_eq!(d[0].name, "k8s_web1__default_u_a");
    assert_eq!(d[0].pid, 501);
    assert_eq!(d[0].presence, Presence::Running);
    assert_eq!(
        news.last(),
        Some(&News::Present(vec![task_id("default", "web1")]))
    );
    // State dir, root and the one namespace are watched; no bundle watch is left.
    assert_eq!(r.w.watches(), 3);
    r.w.log_start();
}

#[test]
fn a_task_started_later_is_found_by_its_events() {
    let mut r = Rig::new(&[]);
    r.start();
    // containerd makes the root and the namespace with the first task.
    r.host.mkdir(&bundle("ns1", "a"));
    r.host.files.insert(
        bundle("ns1", "a").join("config.json"),
        plain("ns1", "a").into(),
    );
    let news = r.deliver();
    assert!(described(&news).is_empty(), "no pid yet: {news:?}");
    // The process and its pid file come: described at once.
    r.host.spawn(700, "/ns1/a");
    r.host.put(&bundle("ns1", "a").join("init.pid"), b"700");
    let news = r.deliver();
    let d = described(&news);
    assert_eq!(d.len(), 1, "{news:?}");
    assert_eq!(d[0].pid, 700);
    // The bundle watch went once the pid was in.
    assert_eq!(r.w.watches(), 3);
}

#[test]
fn an_exit_reads_the_counters_then_ends_once_and_deletion_removes() {
    let mut r = Rig::new(&[]);
    r.start();
    r.host.run_task("default", "t", 42, &plain("default", "t"));
    r.deliver();
    let id = task_id("default", "t");
    assert_eq!(
        r.exit(42),
        [News::Ending(id), News::Ended(id, EndState::Exited)]
    );
    // A re-scan after the exit changes nothing (the stopped task keeps its bundle).
    let news = r.advance(RESCAN_MS);
    assert_eq!(news, []);
    r.host.rmdir_all(&bundle("default", "t"));
    assert_eq!(r.deliver(), [News::Removed(id)]);
    assert_eq!(r.w.alive(), 0);
}

#[test]
fn a_task_deleted_while_running_is_removed() {
    let mut r = Rig::new(&[]);
    r.start();
    r.host.run_task("default", "t", 42, &plain("default", "t"));
    r.deliver();
    r.host.exit(42);
    r.host.rmdir_all(&bundle("default", "t"));
    assert_eq!(r.deliver(), [News::Removed(task_id("default", "t"))]);
    assert!(r.host.exit_watches.is_empty());
}

#[test]
fn a_task_that_lived_shorter_than_its_reading_gets_one_final_sample() {
    let mut r = Rig::new(&[]);
    r.start();
    r.host
        .run_task("default", "short", 43, &plain("default", "short"));
    r.host.exit(43);
    let news = r.deliver();
    let d = described(&news);
    assert_eq!(d.len(), 1);
    assert_eq!(d[0].presence, Presence::Ended(EndState::Exited));
    assert_eq!(d[0].pid, 0);
}

#[test]
fn stopped_tasks_found_at_the_start_are_not_reported() {
    let mut r = Rig::new(&[]);
    r.host
        .run_task("default", "old", 44, &plain("default", "old"));
    r.host.exit(44);
    let news = r.start();
    assert_eq!(news, [News::Present(vec![])]);
}

#[test]
fn paused_tasks_are_described_paused_and_pauses_are_seen_at_samples() {
    let mut r = Rig::new(&[]);
    r.host.run_task("default", "p", 45, &plain("default", "p"));
    r.host.frozen.insert(45);
    let news = r.start();
    assert_eq!(described(&news)[0].presence, Presence::Paused);
    let id = task_id("default", "p");
    r.host.frozen.remove(&45);
    // The re-scan reads no freezer: a sample does.
    assert_eq!(without_present(r.advance(RESCAN_MS)), []);
    assert_eq!(r.w.paused_at_sample(&mut r.host, &id), Some(false));
    r.host.frozen.insert(45);
    assert_eq!(r.w.paused_at_sample(&mut r.host, &id), Some(true));
    assert_eq!(without_present(r.advance(RESCAN_MS)), []);
    assert_eq!(
        r.w.paused_at_sample(&mut r.host, &task_id("default", "none")),
        None
    );
    let mut news = Vec::new();
    r.w.describe(&mut r.host, id, &mut news);
    assert_eq!(described(&news)[0].presence, Presence::Paused);
    assert_eq!(described(&news)[0].name, "k8s_p__default_u_a");
}

#[test]
fn sandboxes_and_skipped_namespaces_are_not_reported() {
    let mut r = Rig::new(&["moby"]);
    let sandbox = r#"{"linux":{"cgroupsPath":"/k8s.io/s"},"annotations":{"io.kubernetes.cri.container-type":"sandbox"}}"#;
    r.host.run_task("k8s.io", "s", 50, sandbox);
    r.host.run_task("moby", "d", 51, &plain("moby", "d"));
    r.host.run_task("k8s.io", "c", 52, &plain("k8s.io", "c"));
    let news = r.start();
    let d = described(&news);
    assert_eq!(d.len(), 1);
    assert_eq!(d[0].pid, 52);
    // moby is not even watched: state, root, k8s.io.
    assert_eq!(r.w.watches(), 3);
    // A sandbox's exit and removal say nothing.
    assert!(r.exit(50).is_empty());
    r.host.rmdir_all(&bundle("k8s.io", "s"));
    assert!(r.deliver().is_empty());
}

#[test]
fn bad_bundles_are_logged_once_and_lose_no_other_task() {
    let mut r = Rig::new(&[]);
    type Case<'a> = (&'a str, Option<&'a [u8]>, &'a [u8]);
    let cases: [Case<'_>; 6] = [
        ("nojson", Some(b"{\"ociVersion\": \"1.0"), b"61"),
        ("garbage", Some(b"not json at all"), b"62"),
        ("missing", None, b"63"),
        ("badpid", Some(b"{}"), b"sixty-four"),
        (
            "hugepid",
            Some(b"{}"),
            b"00000000000000000000000000000000000065",
        ),
        ("array", Some(b"[]"), b"66"),
    ];
    for (i, (id, spec, pid)) in cases.iter().enumerate() {
        let dir = bundle("default", id);
        r.host.mkdir(&dir);
        if let Some(spec) = spec {
            r.host.files.insert(dir.join("config.json"), spec.to_vec());
        }
        r.host.spawn(61 + i as u32, &format!("/default/{id}"));
        r.host.files.insert(dir.join("init.pid"), pid.to_vec());
    }
    let huge = bundle("default", "huge");
    r.host.mkdir(&huge);
    r.host
        .files
        .insert(huge.join("config.json"), vec![b' '; CONFIG_MAX + 1]);
    r.host.spawn(70, "/default/huge");
    r.host.files.insert(huge.join("init.pid"), b"70".to_vec());
    r.host
        .run_task("default", "good", 71, &plain("default", "good"));
    r.host.queued.clear();
    let news = r.start();
    let d = described(&news);
    assert_eq!(d.len(), 1, "{news:?}");
    assert_eq!(d[0].pid, 71);
    // Not read again by the re-scan: logged once.
    let news = r.advance(RESCAN_MS);
    assert_eq!(news, []);
}

#[test]
fn a_pid_outside_the_tasks_cgroup_is_refused() {
    let mut r = Rig::new(&[]);
    let dir = bundle("default", "reused");
    r.host.mkdir(&dir);
    r.host
        .files
        .insert(dir.join("config.json"), plain("default", "reused").into());
    r.host.spawn(80, "/user.slice/some-shell");
    r.host.files.insert(dir.join("init.pid"), b"80".to_vec());
    let news = r.start();
    assert!(described(&news).is_empty());
    assert!(
        r.host.exit_watches.is_empty(),
        "its exit watch is given back"
    );
}

#[test]
fn a_bundle_removed_while_read_is_forgotten_quietly() {
    let mut r = Rig::new(&[]);
    r.start();
    let dir = bundle("default", "gone");
    r.host.mkdir(&dir);
    r.host.spawn(81, "/default/gone");
    r.host.files.insert(dir.join("init.pid"), b"81".to_vec());
    r.host.vanish_on_read = Some(dir.join("config.json"));
    r.host.files.insert(dir.join("config.json"), b"{}".to_vec());
    let news = r.deliver();
    assert!(without_present(news).is_empty());
    assert_eq!(r.w.alive(), 0);
    // And the same id made again later is read afresh.
    r.host
        .run_task("default", "gone", 82, &plain("default", "gone"));
    assert_eq!(described(&r.deliver()).len(), 1);
}

#[test]
fn the_task_root_appearing_later_is_followed() {
    let mut r = Rig::new(&[]);
    // containerd not started yet: only the state dir is there... or not even that.
    r.host.dirs.clear();
    assert_eq!(r.start(), [News::Present(vec![])]);
    assert_eq!(r.w.watches(), 0);
    // containerd starts; the re-scan finds its state dir and watches it.
    r.host.mkdir(Path::new(STATE));
    r.host.queued.clear();
    r.advance(RESCAN_MS);
    assert_eq!(r.w.watches(), 1);
    // Its first task: the root, the namespace and the bundle appear at once.
    r.host
        .run_task("default", "late", 90, &plain("default", "late"));
    let news = r.deliver();
    assert_eq!(described(&news).len(), 1, "{news:?}");
    // A second namespace appearing later is followed too.
    r.host.run_task("other", "x", 91, &plain("other", "x"));
    assert_eq!(described(&r.deliver()).len(), 1);
}

#[test]
fn the_root_removed_removes_every_task() {
    let mut r = Rig::new(&[]);
    r.host.run_task("a", "1", 101, &plain("a", "1"));
    r.host.run_task("b", "2", 102, &plain("b", "2"));
    r.start();
    r.host.rmdir_all(&root());
    let mut news = without_present(r.deliver());
    news.sort_by_key(|n| format!("{n:?}"));
    let mut want = vec![
        News::Removed(task_id("a", "1")),
        News::Removed(task_id("b", "2")),
    ];
    want.sort_by_key(|n| format!("{n:?}"));
    assert_eq!(news, want);
    assert_eq!(r.w.watches(), 1, "the state dir is still watched");
}

#[test]
fn at_the_watch_limit_the_rescan_carries_the_tasks() {
    let mut r = Rig::new(&[]);
    // Room for the state dir and the root only.
    r.host.watch_limit = Some(2);
    r.start();
    r.host.run_task("ns", "t1", 110, &plain("ns", "t1"));
    // The namespace could not be watched: the event for the root comes, its tasks are listed.
    let news = r.deliver();
    assert_eq!(described(&news).len(), 1);
    // A second task in the unwatched namespace: no event; the re-scan finds it.
    r.host.run_task("ns", "t2", 111, &plain("ns", "t2"));
    assert!(r.deliver().is_empty());
    let news = r.advance(RESCAN_MS);
    assert_eq!(described(&news).len(), 1);
    // Its exit is still watched by pid; its removal is seen by the re-scan.
    let id = task_id("ns", "t2");
    assert_eq!(
        r.exit(111),
        [News::Ending(id), News::Ended(id, EndState::Exited)]
    );
    r.host.rmdir_all(&bundle("ns", "t2"));
    assert!(without_present(r.deliver()).is_empty());
    let news = r.advance(RESCAN_MS);
    assert!(news.contains(&News::Removed(id)), "{news:?}");
}

#[test]
fn a_pending_task_without_a_watch_is_retried_soon() {
    let mut r = Rig::new(&[]);
    r.host.watch_limit = Some(3);
    r.start();
    r.host.mkdir(&bundle("ns", "slow"));
    r.host.files.insert(
        bundle("ns", "slow").join("config.json"),
        plain("ns", "slow").into(),
    );
    // Root + ns watched now (3 with the state dir): no room for the bundle.
    assert!(r.deliver().is_empty());
    r.host.spawn(120, "/ns/slow");
    r.host
        .files
        .insert(bundle("ns", "slow").join("init.pid"), b"120".to_vec());
    assert_eq!(r.w.poll_timeout(), Some(r.now + PENDING_RETRY_MS));
    let news = r.advance(PENDING_RETRY_MS);
    assert_eq!(described(&news).len(), 1);
}

#[test]
fn the_periodic_rescan_lists_only_what_no_watch_covers() {
    let mut r = Rig::new(&[]);
    r.host.run_task("ns", "a", 150, &plain("ns", "a"));
    r.start();
    r.host.listed.clear();
    assert_eq!(r.advance(RESCAN_MS), []);
    // The task root (namespaces come and go) but not the watched namespace.
    assert_eq!(r.host.listed, [root()]);
    // A bundle whose event was lost without an overflow cannot happen; were it so, the next
    // overflow's re-scan, which lists everything, would find it.
    r.host.run_task("ns", "b", 151, &plain("ns", "b"));
    r.host.queued.clear();
    assert!(described(&r.advance(RESCAN_MS)).is_empty());
    r.host.queued.push((-1, IN_Q_OVERFLOW, String::new()));
    assert_eq!(described(&r.deliver()).len(), 1);
    assert_eq!(r.w.alive(), 2);
}

#[test]
fn an_overflow_rescans_at_once() {
    let mut r = Rig::new(&[]);
    r.start();
    r.host.run_task("ns", "a", 130, &plain("ns", "a"));
    r.host.queued.clear(); // lost
    r.host.queued.push((-1, IN_Q_OVERFLOW, String::new()));
    let news = r.deliver();
    assert_eq!(described(&news).len(), 1);
    assert!(matches!(news.last(), Some(News::Present(ids)) if ids.len() == 1));
}

#[test]
fn exits_missed_without_an_exit_watch_are_found_by_the_rescan() {
    struct NoPidfd(FakeHost);
    impl TaskHost for NoPidfd {
        fn list(&mut self, d: &Path, each: &mut dyn FnMut(&str)) -> io::Result<()> {
            self.0.list(d, each)
        }
        fn read(&mut self, p: &Path, l: usize, o: &mut Vec<u8>) -> io::Result<()> {
            self.0.read(p, l, o)
        }
        fn watch(&mut self, d: &Path, k: WatchKind) -> io::Result<i32> {
            self.0.watch(d, k)
        }
        fn unwatch(&mut self, wd: i32) {
            self.0.unwatch(wd)
        }
        fn watch_exit(&mut self, _pid: u32) -> io::Result<u32> {
            Err(io::Error::from_raw_os_error(libc::EMFILE))
        }
        fn unwatch_exit(&mut self, _t: u32) {}
        fn proc_cgroup(&mut self, pid: u32, o: &mut Vec<u8>) -> io::Result<()> {
            self.0.proc_cgroup(pid, o)
        }
        fn frozen(&mut self, pid: u32) -> io::Result<Option<bool>> {
            self.0.frozen(pid)
        }
    }
    let mut host = NoPidfd(FakeHost::new());
    host.0.run_task("ns", "a", 140, &plain("ns", "a"));
    let mut w = TaskWatcher::new(Path::new(STATE), &[]);
    let mut news = Vec::new();
    w.start(&mut host, 0, &mut news);
    assert_eq!(described(&news).len(), 1);
    host.0.exit(140);
    news.clear();
    w.handle_timeout(&mut host, RESCAN_MS, &mut news);
    let id = task_id("ns", "a");
    assert_eq!(news, [News::Ending(id), News::Ended(id, EndState::Exited),]);
}

#[test]
fn fifty_tasks_in_a_burst_each_end_once() {
    let mut r = Rig::new(&[]);
    r.start();
    for i in 0..50u32 {
        r.host.run_task(
            "burst",
            &format!("t{i}"),
            1000 + i,
            &plain("burst", &format!("t{i}")),
        );
    }
    assert_eq!(described(&r.deliver()).len(), 50);
    let mut ended = 0;
    for i in 0..50u32 {
        ended += r
            .exit(1000 + i)
            .iter()
            .filter(|n| matches!(n, News::Ended(..)))
            .count();
        r.host.rmdir_all(&bundle("burst", &format!("t{i}")));
    }
    let removed = r
        .deliver()
        .iter()
        .filter(|n| matches!(n, News::Removed(_)))
        .count();
    assert_eq!((ended, removed), (50, 50));
    assert_eq!(r.advance(RESCAN_MS), []);
    assert_eq!(r.w.watches(), 3);
}

#[test]
fn unknown_ids_are_undescribed() {
    let mut r = Rig::new(&[]);
    let mut news = Vec::new();
    r.w.describe(&mut r.host, task_id("x", "y"), &mut news);
    assert_eq!(news, [News::Undescribed(task_id("x", "y"))]);
}

#[test]
fn a_bundle_renamed_for_deletion_is_removed_not_found_again() {
    let mut r = Rig::new(&[]);
    r.start();
    r.host.run_task("default", "t", 42, &plain("default", "t"));
    r.deliver();
    let id = task_id("default", "t");
    r.exit(42);
    // containerd deletes a bundle by renaming it to `.<id>`, then removing that.
    let wd = r.host.watched(&root().join("default")).unwrap();
    r.host
        .queued
        .push((wd, IN_MOVED_FROM | IN_ISDIR, "t".into()));
    r.host
        .queued
        .push((wd, IN_MOVED_TO | IN_ISDIR, ".t".into()));
    r.host.queued.push((wd, IN_DELETE | IN_ISDIR, ".t".into()));
    assert_eq!(r.deliver(), [News::Removed(id)]);
}

#[test]
fn names_follow_containerds_identifier_rule() {
    for ok in ["t", "web1", "k8s.io", "a-b_c.d", &"x".repeat(255)] {
        assert!(plain_name(ok), "{ok}");
    }
    for bad in [
        "",
        ".t",
        "..",
        ".",
        "t.",
        "a..b",
        "a/b",
        "a b",
        "é",
        &"x".repeat(256),
    ] {
        assert!(!plain_name(bad), "{bad}");
    }
}

const POD_SANDBOX: &str = r#"{"hostname":"web","linux":{"cgroupsPath":"/kubepods/besteffort/pod1/s"},
    "annotations":{"io.kubernetes.cri.container-type":"sandbox",
    "io.kubernetes.cri.sandbox-name":"web","io.kubernetes.cri.sandbox-namespace":"shop"}}"#;
const POD_APP: &str = r#"{"linux":{"cgroupsPath":"/kubepods/besteffort/pod1/a"},
    "annotations":{"io.kubernetes.cri.container-type":"container",
    "io.kubernetes.cri.container-name":"app",
    "io.kubernetes.cri.sandbox-name":"web","io.kubernetes.cri.sandbox-namespace":"shop"}}"#;

fn pod_rig(report: Report) -> Rig {
    let mut r = Rig::new(&[]);
    r.w = TaskWatcher::reporting(Path::new(STATE), &[], report);
    for (id, pid, spec) in [("s", 200, POD_SANDBOX), ("a", 201, POD_APP)] {
        let dir = bundle("k8s.io", id);
        r.host.mkdir(&dir);
        r.host.files.insert(dir.join("config.json"), spec.into());
        r.host
            .spawn(pid, &format!("/kubepods/besteffort/pod1/{id}"));
        r.host
            .files
            .insert(dir.join("init.pid"), pid.to_string().into());
    }
    r.host.queued.clear();
    r
}

#[test]
fn pods_are_reported_through_their_sandbox_under_k8s() {
    let mut r = pod_rig(Report {
        containers: true,
        pods: true,
    });
    let news = r.start();
    let mut names: Vec<(String, u32)> = described(&news)
        .iter()
        .map(|d| (d.name.clone(), d.pid))
        .collect();
    names.sort();
    assert_eq!(
        names,
        [
            ("k8s__web_shop_u_a".to_string(), 200),
            ("k8s_app_web_shop_u_a".to_string(), 201)
        ]
    );
    assert!(r.w.is_pod_pid(200));
    assert!(!r.w.is_pod_pid(201));
    // The pod ends with its sandbox.
    let id = task_id("k8s.io", "s");
    assert_eq!(
        r.exit(200),
        [News::Ending(id), News::Ended(id, EndState::Exited)]
    );
    assert!(!r.w.is_pod_pid(200));
    // A pod whose bundle goes while it runs is no pod any more either.
    let mut r = pod_rig(Report {
        containers: false,
        pods: true,
    });
    r.start();
    assert!(r.w.is_pod_pid(200));
    r.host.rmdir_all(&bundle("k8s.io", "s"));
    assert_eq!(r.deliver(), [News::Removed(id)]);
    assert!(!r.w.is_pod_pid(200));
}

#[test]
fn k8s_alone_reports_pods_and_containerd_alone_containers() {
    let mut r = pod_rig(Report {
        containers: false,
        pods: true,
    });
    let news = r.start();
    let d = described(&news);
    assert_eq!(d.len(), 1);
    assert_eq!(d[0].name, "k8s__web_shop_u_a");
    let mut r = pod_rig(Report {
        containers: true,
        pods: false,
    });
    let news = r.start();
    let d = described(&news);
    assert_eq!(d.len(), 1);
    assert_eq!(d[0].name, "k8s_app_web_shop_u_a");
    assert!(!r.w.is_pod_pid(200));
}

#[test]
fn a_large_scan_is_read_in_batches() {
    let mut r = Rig::new(&[]);
    let n = LOAD_BATCH * 2 + 10;
    for i in 0..n {
        let id = format!("t{i}");
        r.host
            .run_task("big", &id, 10_000 + i as u32, &plain("big", &id));
    }
    r.host.queued.clear();
    let news = r.start();
    // The first batch at once, then the rest at once too (deadline now), a batch a wake-up.
    assert_eq!(described(&news).len(), LOAD_BATCH);
    assert_eq!(r.w.poll_timeout(), Some(0));
    let mut total = LOAD_BATCH;
    let mut wakeups = 0;
    while r.w.poll_timeout() == Some(0) {
        let mut more = Vec::new();
        r.w.handle_timeout(&mut r.host, r.now, &mut more);
        total += described(&more).len();
        wakeups += 1;
    }
    assert_eq!((total, wakeups), (n, 2));
    assert_eq!(r.w.alive(), n);
    // The next re-scan finds every task known: nothing to say.
    assert_eq!(r.advance(RESCAN_MS), []);
    assert_eq!(r.w.alive(), n);
}

#[test]
fn a_task_record_stays_small() {
    // Tens of thousands of them live in one map: 32 bytes of key and this.
    assert!(
        std::mem::size_of::<Task>() <= 24,
        "{}",
        std::mem::size_of::<Task>()
    );
}
