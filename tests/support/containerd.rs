//! A private, real containerd (Debian's `containerd` package, with `ctr` and runc), started by the
//! test and torn down by pid when it ends, also when it fails.
//!
//! It runs with its own `--config` (version 2: root, state and gRPC socket under the test's own
//! directory, the CRI plugin disabled so that no TCP port opens, no ttrpc, debug or metrics
//! address). Tasks run with `ctr run -d --rootfs` on a plain busybox directory (no image, no
//! registry), in a namespace of the test's own, with ctr's fifos and runc's state kept private
//! (`--fifo-dir`, `--runc-root`). A task's cgroup is `/<namespace>/<id>` in every hierarchy
//! unless the test names another with `--cgroup`.
//!
//! Teardown: every task of the namespace is killed and deleted, every container removed (so the
//! shims exit), containerd is stopped by its pid, the namespace's cgroup directories are removed,
//! then the directory.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use super::{image, process};

/// How long one `ctr` command may take.
const CTR_TIMEOUT: Duration = Duration::from_secs(30);

pub struct Containerd {
    child: Child,
    pub dir: PathBuf,
    pub socket: PathBuf,
    /// The state directory (what the agent's `containerd { state }` names).
    pub state: PathBuf,
    /// The busybox root file system every task runs on.
    pub rootfs: PathBuf,
    /// The namespace of this test's tasks.
    pub ns: String,
    /// Extra cgroup directories to remove at teardown (relative to each hierarchy).
    pub extra_cgroups: std::cell::RefCell<Vec<String>>,
}

/// A task the test started.
#[derive(Clone, Debug)]
pub struct Task {
    pub ns: String,
    pub id: String,
    /// Its init process in the host's pid namespace.
    pub pid: u32,
}

impl Containerd {
    /// Starts a private containerd, or says why it cannot.
    pub fn start() -> Result<Containerd, String> {
        for tool in ["containerd", "ctr", "runc"] {
            which(tool)
                .ok_or_else(|| format!("{tool} is not installed (Debian's containerd package)"))?;
        }
        static N: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
        let n = N.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        // Short: the gRPC socket's path must fit a UNIX address.
        let dir = PathBuf::from(format!("/tmp/csf-ctrd-{}-{n}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).map_err(|e| format!("{}: {e}", dir.display()))?;
        image::busybox_tar(&dir)?;
        let rootfs = dir.join("busybox-rootfs");
        for sub in ["proc", "dev", "sys", "etc", "run"] {
            std::fs::create_dir_all(rootfs.join(sub)).map_err(|e| format!("rootfs: {e}"))?;
        }
        let socket = dir.join("c.sock");
        let state = dir.join("state");
        let config = dir.join("config.toml");
        std::fs::write(
            &config,
            format!(
                "version = 2\nroot = \"{root}\"\nstate = \"{state}\"\n\
                 disabled_plugins = [\"io.containerd.grpc.v1.cri\"]\n\
                 [grpc]\n  address = \"{sock}\"\n[ttrpc]\n  address = \"\"\n\
                 [debug]\n  address = \"\"\n[metrics]\n  address = \"\"\n",
                root = dir.join("root").display(),
                state = state.display(),
                sock = socket.display(),
            ),
        )
        .map_err(|e| format!("{}: {e}", config.display()))?;
        let log = std::fs::File::create(dir.join("containerd.log")).map_err(|e| e.to_string())?;
        let child = Command::new("containerd")
            .arg("--config")
            .arg(&config)
            .arg("--log-level")
            .arg("warn")
            .stdin(Stdio::null())
            .stdout(log.try_clone().map_err(|e| e.to_string())?)
            .stderr(log)
            .spawn()
            .map_err(|e| format!("containerd: cannot spawn: {e}"))?;
        let mut c = Containerd {
            child,
            dir,
            socket,
            state,
            rootfs,
            ns: format!("csf{}-{n}", std::process::id()),
            extra_cgroups: std::cell::RefCell::new(Vec::new()),
        };
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            if c.ctr(&["version"]).is_ok() {
                return Ok(c);
            }
            if let Ok(Some(status)) = c.child.try_wait() {
                return Err(format!(
                    "containerd exited at start ({status}): {}",
                    c.log_tail()
                ));
            }
            if Instant::now() > deadline {
                return Err(format!(
                    "containerd did not answer in 20 s: {}",
                    c.log_tail()
                ));
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Stops containerd (SIGTERM, by pid) and starts it again on the same root, state and socket;
    /// the tasks' shims live on meanwhile, as on a host whose containerd restarts.
    pub fn restart(&mut self) -> Result<(), String> {
        process::terminate(&mut self.child, Duration::from_secs(10));
        let config = self.dir.join("config.toml");
        let log = std::fs::OpenOptions::new()
            .append(true)
            .open(self.dir.join("containerd.log"))
            .map_err(|e| e.to_string())?;
        self.child = Command::new("containerd")
            .arg("--config")
            .arg(&config)
            .arg("--log-level")
            .arg("warn")
            .stdin(Stdio::null())
            .stdout(log.try_clone().map_err(|e| e.to_string())?)
            .stderr(log)
            .spawn()
            .map_err(|e| format!("containerd: cannot spawn: {e}"))?;
        let deadline = Instant::now() + Duration::from_secs(20);
        while self.ctr(&["version"]).is_err() {
            if Instant::now() > deadline {
                return Err(format!("containerd did not come back: {}", self.log_tail()));
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        Ok(())
    }

    /// The last lines of containerd's log, for failure messages.
    pub fn log_tail(&self) -> String {
        let text = std::fs::read_to_string(self.dir.join("containerd.log")).unwrap_or_default();
        let lines: Vec<&str> = text.lines().rev().take(15).collect();
        lines.into_iter().rev().collect::<Vec<_>>().join("\n")
    }

    /// Runs `ctr -a SOCK ARGS` (namespace as given in `args`).
    pub fn ctr(&self, args: &[&str]) -> Result<String, String> {
        let out = process::run(
            Command::new("ctr").arg("-a").arg(&self.socket).args(args),
            CTR_TIMEOUT,
        )?;
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    }

    /// Runs `ctr -n <ns> ARGS` in this test's namespace.
    pub fn ctr_ns(&self, args: &[&str]) -> Result<String, String> {
        let mut all = vec!["-n", &self.ns];
        all.extend_from_slice(args);
        self.ctr(&all)
    }

    /// `ctr run -d` of `command` as task `id`, with `flags` (before the rootfs: ctr stops reading
    /// flags at the first positional argument). Returns once `ctr` has.
    pub fn run(&self, id: &str, flags: &[&str], command: &[&str]) -> Task {
        self.run_in(&self.ns.clone(), id, flags, command)
    }

    /// [`Containerd::run`] in namespace `ns`.
    pub fn run_in(&self, ns: &str, id: &str, flags: &[&str], command: &[&str]) -> Task {
        let fifo = self.dir.join("fifo");
        let runc = self.dir.join("runc");
        let fifo = fifo.to_string_lossy().into_owned();
        let runc = runc.to_string_lossy().into_owned();
        let rootfs = self.rootfs.to_string_lossy().into_owned();
        let mut args = vec![
            "-n",
            ns,
            "run",
            "-d",
            "--rootfs",
            "--env",
            "PATH=/bin",
            "--fifo-dir",
            &fifo,
            "--runc-root",
            &runc,
        ];
        args.extend_from_slice(flags);
        args.push(&rootfs);
        args.push(id);
        args.extend_from_slice(command);
        if let Err(e) = self.ctr(&args) {
            panic!("ctr run {id}: {e}\ncontainerd log:\n{}", self.log_tail());
        }
        let pid = self.pid_of(ns, id);
        Task {
            ns: ns.to_owned(),
            id: id.to_owned(),
            pid,
        }
    }

    /// The bundle directory of a task.
    pub fn bundle(&self, ns: &str, id: &str) -> PathBuf {
        self.state
            .join("io.containerd.runtime.v2.task")
            .join(ns)
            .join(id)
    }

    /// A task's pid, from its bundle's `init.pid`.
    pub fn pid_of(&self, ns: &str, id: &str) -> u32 {
        let path = self.bundle(ns, id).join("init.pid");
        let text =
            std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        text.trim().parse().unwrap()
    }

    /// `ctr task kill -s KILL`.
    pub fn kill(&self, task: &Task) {
        let r = self.ctr(&["-n", &task.ns, "task", "kill", "-s", "KILL", &task.id]);
        r.unwrap_or_else(|e| panic!("kill {}: {e}", task.id));
    }

    /// `ctr task delete` (after its exit) and `ctr container rm`.
    pub fn delete(&self, task: &Task) {
        let deadline = Instant::now() + Duration::from_secs(10);
        // The task may still be stopping.
        while self
            .ctr(&["-n", &task.ns, "task", "delete", &task.id])
            .is_err()
        {
            assert!(Instant::now() < deadline, "task delete {} failed", task.id);
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = self.ctr(&["-n", &task.ns, "container", "rm", &task.id]);
    }

    /// `ctr task pause` / `resume`.
    pub fn pause(&self, task: &Task, paused: bool) {
        let verb = if paused { "pause" } else { "resume" };
        self.ctr(&["-n", &task.ns, "task", verb, &task.id])
            .unwrap_or_else(|e| panic!("{verb} {}: {e}", task.id));
    }

    /// Every namespace that has containers (for the teardown).
    fn namespaces(&self) -> Vec<String> {
        self.ctr(&["namespaces", "ls", "-q"])
            .map(|t| t.lines().map(str::to_owned).collect())
            .unwrap_or_default()
    }
}

impl Drop for Containerd {
    fn drop(&mut self) {
        let namespaces = self.namespaces();
        for ns in &namespaces {
            let tasks = self
                .ctr(&["-n", ns, "task", "ls", "-q"])
                .unwrap_or_default();
            for id in tasks.lines() {
                let _ = self.ctr(&["-n", ns, "task", "kill", "-s", "KILL", id]);
            }
            for id in tasks.lines() {
                let deadline = Instant::now() + Duration::from_secs(5);
                while self.ctr(&["-n", ns, "task", "delete", id]).is_err()
                    && Instant::now() < deadline
                {
                    std::thread::sleep(Duration::from_millis(20));
                }
            }
            let containers = self
                .ctr(&["-n", ns, "container", "ls", "-q"])
                .unwrap_or_default();
            for id in containers.lines() {
                let _ = self.ctr(&["-n", ns, "container", "rm", id]);
            }
        }
        process::terminate(&mut self.child, Duration::from_secs(10));
        let mut cgroups: Vec<String> = namespaces.iter().map(|ns| format!("/{ns}")).collect();
        cgroups.extend(self.extra_cgroups.borrow().iter().cloned());
        remove_cgroups(&cgroups);
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// Removes these cgroup directories (deepest first, each only if empty) in every hierarchy.
pub fn remove_cgroups(paths: &[String]) {
    let Ok(entries) = std::fs::read_dir("/sys/fs/cgroup") else {
        return;
    };
    let hierarchies: Vec<PathBuf> = entries.flatten().map(|e| e.path()).collect();
    for path in paths {
        let rel = path.trim_start_matches('/');
        if rel.is_empty() || rel.split('/').any(|c| c == "..") {
            continue;
        }
        for h in hierarchies
            .iter()
            .chain(std::iter::once(&PathBuf::from("/sys/fs/cgroup")))
        {
            let mut dir = h.join(rel);
            // The leaf, then its parents up to the hierarchy, while they are empty of children.
            while dir.starts_with(h) && dir != *h {
                if std::fs::remove_dir(&dir).is_err() {
                    break;
                }
                match dir.parent() {
                    Some(p) => dir = p.to_path_buf(),
                    None => break,
                }
            }
        }
    }
}

fn which(tool: &str) -> Option<PathBuf> {
    std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .map(|p| p.join(tool))
            .find(|p| p.is_file())
    })
}

/// The container id the agent derives for task `id` of namespace `ns`: the id itself when it is
/// 64 lower-case hex digits, else SHA-256 of `<ns>/<id>` (computed with coreutils' sha256sum,
/// independently of the agent).
pub fn task_container_id(ns: &str, id: &str) -> String {
    if id.len() == 64 && id.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f')) {
        return id.to_owned();
    }
    let mut child = Command::new("sha256sum")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("sha256sum");
    {
        use std::io::Write;
        let mut stdin = child.stdin.take().unwrap();
        write!(stdin, "{ns}/{id}").unwrap();
    }
    let out = child.wait_with_output().unwrap();
    String::from_utf8_lossy(&out.stdout)
        .split_whitespace()
        .next()
        .unwrap()
        .to_owned()
}

/// The path of a cgroup directory of a v1 hierarchy (`cpuacct`, `memory`, ...).
pub fn v1_dir(controller: &str, cgroup: &str) -> PathBuf {
    Path::new("/sys/fs/cgroup")
        .join(controller)
        .join(cgroup.trim_start_matches('/'))
}
