//! A real container engine (Docker or Podman) private to one test: its own directory, socket,
//! storage and daemon process, no bridge and no NAT, torn down on drop (also when the test panics).
//!
//! Layout of an engine's directory `$D` (a fresh directory under `std::env::temp_dir()`):
//! `daemon.log` (the daemon's stdout and stderr), the socket (`docker.sock` / `podman.sock`),
//! the engine's storage and state, and `busybox.tar`, the rootfs imported as [`Engine::image`].

use std::fs::OpenOptions;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

use super::{docker, http, image, podman, process};

/// How long a daemon may take to answer `GET /_ping` after it was spawned.
const READY_TIMEOUT: Duration = Duration::from_secs(30);
/// How long one CLI call may take before it is killed and reported.
const CLI_TIMEOUT: Duration = Duration::from_secs(120);
/// How long a daemon has to exit after SIGTERM before it gets SIGKILL.
const STOP_GRACE: Duration = Duration::from_secs(20);

/// Which engine an [`Engine`] runs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// Debian's `docker.io` (dockerd with its own managed containerd).
    Docker,
    /// Debian's `podman`, as `podman system service`.
    Podman,
}

impl Kind {
    /// A short lower-case name: `docker` or `podman`.
    pub fn name(self) -> &'static str {
        match self {
            Kind::Docker => "docker",
            Kind::Podman => "podman",
        }
    }

    /// The reference of the busybox image imported at start.
    pub fn image(self) -> &'static str {
        match self {
            Kind::Docker => "test/busybox:1",
            // Fully qualified, so that Podman never tries short-name resolution.
            Kind::Podman => "localhost/busybox:1",
        }
    }

    /// The cgroup path of container `id` (in every hierarchy, both engines use the cgroupfs
    /// driver here): `/docker/<id>` or `/libpod_parent/libpod-<id>`.
    pub fn cgroup_path(self, id: &str) -> String {
        match self {
            Kind::Docker => format!("/docker/{id}"),
            Kind::Podman => format!("/libpod_parent/libpod-{id}"),
        }
    }
}

/// A running private engine. Dropping it removes its containers, stops its daemon by pid,
/// unmounts what is left under its directory and removes the directory. A Docker daemon that
/// [`Engine::kill_daemon`] killed and nothing restarted is started once more first: its CLI
/// needs it to remove the containers, which outlive it.
pub struct Engine {
    kind: Kind,
    dir: PathBuf,
    socket: PathBuf,
    daemon: Option<Child>,
    /// Set by [`Engine::kill_daemon`], cleared by [`Engine::restart_daemon`].
    killed: bool,
    /// Docker only: the containerd socket it runs its containers on (`--containerd`), instead of
    /// its own managed containerd.
    containerd: Option<PathBuf>,
    startup: Duration,
    import: Duration,
}

impl Engine {
    /// Starts a private engine of `kind`, waits until `GET /_ping` answers `OK` and imports the
    /// busybox image. No CI policy here: see [`super::docker`]/[`super::podman`] for that.
    /// On error, whatever was started is stopped again before this returns.
    pub fn start(kind: Kind) -> Result<Engine, String> {
        Self::start_with(kind, None)
    }

    /// A private Docker engine whose containers run on the containerd at `socket` (as tasks of
    /// its `moby` namespace).
    pub fn start_on_containerd(socket: &Path) -> Result<Engine, String> {
        Self::start_with(Kind::Docker, Some(socket.to_path_buf()))
    }

    fn start_with(kind: Kind, containerd: Option<PathBuf>) -> Result<Engine, String> {
        if csflowd::sys::uid() != 0 {
            return Err(format!("a private {} engine needs root", kind.name()));
        }
        let dir = unique_dir(kind)?;
        let socket = dir.join(format!("{}.sock", kind.name()));
        // From here on, Drop cleans up whatever exists, whichever step fails.
        let mut engine = Engine {
            kind,
            dir,
            socket,
            daemon: None,
            killed: false,
            containerd,
            startup: Duration::ZERO,
            import: Duration::ZERO,
        };
        engine.startup = engine.spawn_daemon()?;

        let began = Instant::now();
        let tar = image::busybox_tar(&engine.dir)?;
        let tar = tar.to_string_lossy().into_owned();
        engine.try_cli(&["import", &tar, kind.image()])?;
        engine.import = began.elapsed();
        Ok(engine)
    }

    /// Spawns the daemon (appending to `daemon.log`) and waits until it answers `GET /_ping`;
    /// returns how long that took. Used at start and by [`Engine::restart_daemon`].
    fn spawn_daemon(&mut self) -> Result<Duration, String> {
        let log = self.dir.join("daemon.log");
        let mut command = match self.kind {
            Kind::Docker => docker::daemon_command(&self.dir, &self.socket)?,
            Kind::Podman => podman::daemon_command(&self.dir, &self.socket)?,
        };
        if let (Kind::Docker, Some(c)) = (self.kind, &self.containerd) {
            command.arg("--containerd").arg(c);
        }
        let log_file = OpenOptions::new()
            .create(true)
            .append(true)
            .open(&log)
            .map_err(|e| format!("{}: {e}", log.display()))?;
        let log_clone = log_file
            .try_clone()
            .map_err(|e| format!("{}: {e}", log.display()))?;
        command
            .stdin(Stdio::null())
            .stdout(log_clone)
            .stderr(log_file);
        let began = Instant::now();
        let child = command
            .spawn()
            .map_err(|e| format!("{}: cannot spawn: {e}", process::describe(&command)))?;
        self.daemon = Some(child);
        self.wait_ready(began)?;
        Ok(began.elapsed())
    }

    /// True while the daemon process this engine spawned last is running.
    pub fn daemon_alive(&mut self) -> bool {
        matches!(self.daemon.as_mut().map(Child::try_wait), Some(Ok(None)))
    }

    /// Kills the daemon with SIGKILL, as a crash would, and waits for it to exit. Containers
    /// keep running (their shims or conmon outlive the daemon) until [`Engine::restart_daemon`]
    /// brings the daemon back; Docker's managed containerd dies with dockerd (see
    /// [`docker::forget_dead_containerd`]). Panics if the daemon is not running.
    pub fn kill_daemon(&mut self) {
        assert!(
            self.daemon_alive(),
            "{} daemon is not running",
            self.kind.name()
        );
        if let Some(daemon) = self.daemon.as_mut() {
            let _ = daemon.kill();
            let _ = daemon.wait();
        }
        self.killed = true;
        if self.kind == Kind::Docker {
            docker::forget_dead_containerd(&self.dir);
        }
    }

    /// Starts the daemon again on the same directory, storage and flags after
    /// [`Engine::kill_daemon`], and waits until it answers `GET /_ping`; returns how long that
    /// took. Panics (failing the test) with the daemon's log if it does not come back.
    pub fn restart_daemon(&mut self) -> Duration {
        assert!(
            !self.daemon_alive(),
            "{} daemon is still running",
            self.kind.name()
        );
        let took = self
            .spawn_daemon()
            .unwrap_or_else(|e| panic!("restarting: {e}"));
        self.killed = false;
        took
    }

    fn wait_ready(&mut self, began: Instant) -> Result<(), String> {
        while began.elapsed() < READY_TIMEOUT {
            if let Some(Ok(Some(status))) = self.daemon.as_mut().map(Child::try_wait) {
                return Err(format!(
                    "{} daemon exited ({status}) before it was ready:\n{}",
                    self.kind.name(),
                    self.log_tail()
                ));
            }
            if http::ping(&self.socket) {
                return Ok(());
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        Err(format!(
            "{} daemon did not answer GET /_ping within {READY_TIMEOUT:?}:\n{}",
            self.kind.name(),
            self.log_tail()
        ))
    }

    /// Which engine this is.
    pub fn kind(&self) -> Kind {
        self.kind
    }

    /// The engine's API socket (a UNIX socket under [`Engine::dir`]).
    pub fn socket_path(&self) -> &Path {
        &self.socket
    }

    /// The engine's private directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// From spawning the daemon to its first `OK` ping.
    pub fn startup_time(&self) -> Duration {
        self.startup
    }

    /// Building and importing the busybox image.
    pub fn import_time(&self) -> Duration {
        self.import
    }

    /// The reference of the imported busybox image.
    pub fn image(&self) -> &'static str {
        self.kind.image()
    }

    /// The expected cgroup path of container `id` (see [`Kind::cgroup_path`]).
    pub fn cgroup_path(&self, id: &str) -> String {
        self.kind.cgroup_path(id)
    }

    /// The engine's CLI, pointed at this engine only, for calls the helpers do not cover.
    pub fn cli_command(&self) -> Command {
        match self.kind {
            Kind::Docker => docker::cli_command(&self.dir, &self.socket),
            Kind::Podman => podman::cli_command(&self.dir),
        }
    }

    /// Runs the CLI with `args`; returns its trimmed stdout, or an error with its stderr.
    pub fn try_cli(&self, args: &[&str]) -> Result<String, String> {
        let output = process::run(self.cli_command().args(args), CLI_TIMEOUT)?;
        Ok(String::from_utf8_lossy(&output.stdout).trim().to_owned())
    }

    /// Runs the CLI with `args` and returns its trimmed stdout; panics (failing the test) if the
    /// CLI fails.
    pub fn cli(&self, args: &[&str]) -> String {
        self.try_cli(args).unwrap_or_else(|e| panic!("{e}"))
    }

    /// `run -d <options> <busybox image> <command>`; returns the new container's full id.
    pub fn run(&self, options: &[&str], command: &[&str]) -> String {
        let mut args = vec!["run", "-d"];
        args.extend_from_slice(options);
        args.push(self.image());
        args.extend_from_slice(command);
        let id = self.cli(&args);
        assert!(
            id.len() == 64 && id.bytes().all(|b| b.is_ascii_hexdigit()),
            "{} run printed {id:?}, not a container id",
            self.kind.name()
        );
        id
    }

    /// The host pid of container `id`'s first process (`State.Pid`; 0 when it is not running).
    pub fn inspect_pid(&self, id: &str) -> u32 {
        let pid = self.cli(&["inspect", "--format", "{{.State.Pid}}", id]);
        pid.parse()
            .unwrap_or_else(|_| panic!("inspect printed {pid:?} as the pid of {id}"))
    }

    /// The daemon's version as the CLI reports it (for example `20.10.24+dfsg1` or `4.3.1`).
    pub fn server_version(&self) -> String {
        // Podman's CLI is local (no server part), and the same binary as its service.
        let field = match self.kind {
            Kind::Docker => "{{.Server.Version}}",
            Kind::Podman => "{{.Client.Version}}",
        };
        self.cli(&["version", "--format", field])
    }

    /// The last lines of the daemon's log, for error messages.
    pub fn log_tail(&self) -> String {
        let log = std::fs::read_to_string(self.dir.join("daemon.log")).unwrap_or_default();
        let lines: Vec<&str> = log.lines().collect();
        lines[lines.len().saturating_sub(30)..].join("\n")
    }

    fn remove_all_containers(&self) -> Result<(), String> {
        let ids = self.try_cli(&["ps", "--all", "--quiet", "--no-trunc"])?;
        let mut args = vec!["rm", "--force"];
        if self.kind == Kind::Podman {
            // Podman's rm --force stops with the container's timeout (10 s) first.
            args.extend_from_slice(&["--time", "0"]);
        }
        let count = args.len();
        args.extend(ids.split_whitespace());
        if args.len() > count {
            self.try_cli(&args)?;
        }
        Ok(())
    }
}

impl Drop for Engine {
    fn drop(&mut self) {
        if std::thread::panicking() {
            eprintln!(
                "support: {} log before teardown ({}):\n{}",
                self.kind.name(),
                self.dir.display(),
                self.log_tail()
            );
        }
        let mut alive = self.daemon_alive();
        if self.killed && !alive && self.kind == Kind::Docker {
            // Killed by a test that then failed before restarting it: Docker's CLI needs a live
            // daemon to remove the containers, which still run under their shims.
            match self.spawn_daemon() {
                Ok(_) => alive = true,
                Err(e) => eprintln!("support: restarting docker for teardown: {e}"),
            }
        }
        if let Some(mut daemon) = self.daemon.take() {
            // Podman's CLI works without its service (and its containers outlive it); Docker's
            // needs a live daemon.
            let removal = if alive || self.kind == Kind::Podman {
                self.remove_all_containers()
            } else {
                Ok(())
            };
            if let Err(e) = removal {
                eprintln!("support: removing {} containers: {e}", self.kind.name());
            }
            if !process::terminate(&mut daemon, STOP_GRACE) {
                eprintln!(
                    "support: {} daemon ignored SIGTERM, killed",
                    self.kind.name()
                );
                if self.kind == Kind::Docker {
                    docker::kill_managed_containerd(&self.dir);
                }
            }
        }
        process::unmount_under(&self.dir);
        if let Err(e) = std::fs::remove_dir_all(&self.dir) {
            eprintln!("support: cannot remove {}: {e}", self.dir.display());
        }
    }
}

/// A new, empty directory for one engine: `<tmp>/csflowd-<kind>-<pid>-<n>`. Short on purpose:
/// UNIX socket paths (engine sockets, conmon's attach socket) are limited to 107 bytes.
fn unique_dir(kind: Kind) -> Result<PathBuf, String> {
    static SEQUENCE: AtomicU32 = AtomicU32::new(0);
    let tmp = std::env::temp_dir();
    for _ in 0..1000 {
        let n = SEQUENCE.fetch_add(1, Ordering::Relaxed);
        let dir = tmp.join(format!(
            "csflowd-{}-{}-{n}",
            kind.name(),
            std::process::id()
        ));
        match std::fs::create_dir(&dir) {
            Ok(()) => return Ok(dir),
            // A leftover of an earlier process that had the same pid: take the next number.
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => continue,
            Err(e) => return Err(format!("{}: {e}", dir.display())),
        }
    }
    Err(format!(
        "no free csflowd-* directory name in {}",
        tmp.display()
    ))
}
