//! How a private Docker engine is launched and addressed (see [`super::engine`]).
//!
//! dockerd runs with its own data root, exec root, pidfile and daemon.json, so it touches neither
//! `/var/lib/docker` nor `/etc/docker`, and with every network feature off (`--bridge=none`, no
//! iptables, no forwarding, no masquerading): its containers get a network namespace holding
//! only `lo`. It starts its own containerd (state under the exec root), so several engines can run
//! side by side.

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use super::process;

/// The dockerd command line for an engine living in `dir` and listening on `socket`; writes the
/// daemon.json it names.
pub fn daemon_command(dir: &Path, socket: &Path) -> Result<Command, String> {
    let config = dir.join("daemon.json");
    std::fs::write(&config, daemon_json(dir)?).map_err(|e| format!("{}: {e}", config.display()))?;
    let mut command = Command::new("dockerd");
    command
        .arg("--config-file")
        .arg(&config)
        .arg(format!("--host=unix://{}", socket.display()))
        .arg("--data-root")
        .arg(dir.join("root"))
        .arg("--exec-root")
        .arg(dir.join("exec"))
        .arg("--pidfile")
        .arg(dir.join("docker.pid"))
        .args([
            "--bridge=none",
            "--iptables=false",
            "--ip6tables=false",
            "--ip-forward=false",
            "--ip-masq=false",
            // The cgroup paths the tests expect (/docker/<id>), whatever the host's init is.
            "--exec-opt=native.cgroupdriver=cgroupfs",
            // At info level, containerd's gRPC chatter buries the errors in the log tail that a
            // failing test prints.
            "--log-level=warn",
        ]);
    Ok(command)
}

/// The daemon.json: its own file, so that /etc/docker/daemon.json is never read. Docker before
/// 23.0 also writes a libtrust key to /etc/docker/key.json unless it is told another path; newer
/// daemons reject that option, so it is only set for old ones.
fn daemon_json(dir: &Path) -> Result<String, String> {
    let version = process::run(
        Command::new("dockerd").arg("--version"),
        Duration::from_secs(10),
    )?;
    let version = String::from_utf8_lossy(&version.stdout);
    // "Docker version 20.10.24+dfsg1, build 5d6db84"
    let major = version
        .split_whitespace()
        .nth(2)
        .and_then(|v| v.split('.').next())
        .and_then(|v| v.parse::<u32>().ok())
        .ok_or_else(|| format!("cannot read the version in {version:?}"))?;
    Ok(if major < 23 {
        format!(
            "{{\"deprecated-key-path\": \"{}\"}}\n",
            dir.join("key.json").display()
        )
    } else {
        "{}\n".to_owned()
    })
}

/// The docker CLI aimed at this engine's socket only, with its own (empty) client config.
pub fn cli_command(dir: &Path, socket: &Path) -> Command {
    let mut command = Command::new("docker");
    command
        .arg(format!("--host=unix://{}", socket.display()))
        .env("DOCKER_CONFIG", dir.join("cli-config"))
        .env_remove("DOCKER_HOST")
        .env_remove("DOCKER_CONTEXT")
        .env_remove("DOCKER_API_VERSION");
    command
}

/// After dockerd had to be killed, its containerd is left behind: kill it too (by the pid it
/// wrote under this engine's exec root).
pub fn kill_managed_containerd(dir: &Path) {
    process::kill_from_pidfile(&dir.join("exec/containerd/containerd.pid"));
}

/// After dockerd was killed: makes sure its managed containerd is gone too, and removes that
/// containerd's pidfile so that the next dockerd starts a fresh one.
///
/// containerd runs with a parent-death signal, so it dies with dockerd, but it stays a zombie
/// until init reaps it (seconds, on these machines), and a restarted dockerd takes a zombie's pid
/// for a live containerd, waits for its socket and gives up ("timeout waiting for containerd to
/// start"). A containerd that is really still running after a while (one without the parent-death
/// signal) is killed, by the pid it wrote and only if its command line names this engine's
/// directory.
pub fn forget_dead_containerd(dir: &Path) {
    let pidfile = dir.join("exec/containerd/containerd.pid");
    let Some(pid) = std::fs::read_to_string(&pidfile)
        .ok()
        .and_then(|text| text.trim().parse::<u32>().ok())
    else {
        return;
    };
    let deadline = Instant::now() + Duration::from_secs(5);
    while process::is_running(pid) && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(20));
    }
    if process::is_running(pid) && process::cmdline_mentions(pid, dir) {
        kill_managed_containerd(dir);
        let deadline = Instant::now() + Duration::from_secs(5);
        while process::is_running(pid) && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(20));
        }
    }
    let _ = std::fs::remove_file(&pidfile);
}
