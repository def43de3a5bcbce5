//! How a private Podman engine is launched and addressed (see [`super::engine`]).
//!
//! `podman system service --time=0` runs with its own containers.conf and storage.conf (named by
//! `CONTAINERS_CONF` / `CONTAINERS_STORAGE_CONF`, so the host's files are never read), its own
//! storage root, run root, tmp dir, file-based locks (not the host-wide `/dev/shm/libpod_lock`),
//! the cgroupfs manager (containers in `/libpod_parent/libpod-<id>`), the `file` events logger
//! (so that `/events` delivers without journald), no network (`netns = "none"`) and runc as the
//! OCI runtime (docker.io brings it; Podman's preferred crun may be absent).
//!
//! The CLI is the local one on the same storage, not a remote client of the service: it keeps
//! working if the service dies, which teardown relies on. Its events reach the service through the
//! shared events file.

use std::path::Path;
use std::process::Command;

/// The ulimits every container gets: this machine lacks CAP_SYS_RESOURCE, and Podman's default
/// limits would be raised above the hard limit.
const ULIMITS: &str = r#"["nofile=1024:1024", "nproc=1024:1024"]"#;

/// The service command line for an engine living in `dir` and listening on `socket`; writes the
/// configuration files it relies on.
pub fn daemon_command(dir: &Path, socket: &Path) -> Result<Command, String> {
    write_config(dir)?;
    let mut command = cli_command(dir);
    command
        .args(["system", "service", "--time=0"])
        .arg(format!("unix://{}", socket.display()));
    Ok(command)
}

/// The podman CLI on this engine's storage and configuration only.
pub fn cli_command(dir: &Path) -> Command {
    let mut command = Command::new("podman");
    command
        .arg("--root")
        .arg(dir.join("root"))
        .arg("--runroot")
        .arg(dir.join("runroot"))
        .env("CONTAINERS_CONF", dir.join("containers.conf"))
        .env("CONTAINERS_STORAGE_CONF", dir.join("storage.conf"))
        .env_remove("CONTAINER_HOST")
        .env_remove("CONTAINER_CONNECTION");
    command
}

fn write_config(dir: &Path) -> Result<(), String> {
    let d = dir.display();
    let containers_conf = format!(
        r#"[containers]
netns = "none"
default_ulimits = {ULIMITS}

[network]
network_config_dir = "{d}/networks"

[engine]
cgroup_manager = "cgroupfs"
events_logger = "file"
events_logfile_path = "{d}/events.log"
lock_type = "file"
runtime = "runc"
tmp_dir = "{d}/tmp"
volume_path = "{d}/volumes"
"#
    );
    let storage_conf = format!(
        r#"[storage]
driver = "overlay"
graphroot = "{d}/root"
runroot = "{d}/runroot"
"#
    );
    for (name, text) in [
        ("containers.conf", containers_conf),
        ("storage.conf", storage_conf),
    ] {
        let path = dir.join(name);
        std::fs::write(&path, text).map_err(|e| format!("{}: {e}", path.display()))?;
    }
    Ok(())
}
