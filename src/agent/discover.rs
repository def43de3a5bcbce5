//! The embedded default's runtimes: with no configuration file, csflowd tracks what it finds on
//! the host — a Docker socket, a Podman socket, containerd's state directory — and says once which.
//!
//! The rule is a pure function of which paths exist ([`discover`]), so it is tested without the
//! runtimes; the agent asks the file system. `--containerd-state DIR` (which turns containerd on
//! with or without a file) names the state directory the default tracks instead of
//! `/run/containerd`, and the start-up line names it.

use std::path::{Path, PathBuf};

use crate::config::{Config, DockerConfig, RuntimeConfig, DEFAULT_CONTAINERD_STATE};

use super::DEFAULT_DOCKER_SOCKET;

/// Podman's rootful API socket.
pub const PODMAN_SOCKET: &str = "/run/podman/podman.sock";

/// What was found.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Found {
    /// The engine socket to track: Docker's, else Podman's.
    pub engine: Option<PathBuf>,
    /// A Podman socket found beside a Docker one: not tracked (one engine at a time).
    pub podman_too: Option<PathBuf>,
    /// containerd's state directory, when it holds tasks or containerd's socket is beside it.
    pub containerd: Option<PathBuf>,
}

impl Found {
    /// One line for the log.
    pub fn describe(&self) -> String {
        let mut parts = Vec::new();
        if let Some(e) = &self.engine {
            let what = if e.as_os_str() == PODMAN_SOCKET {
                "Podman"
            } else {
                "Docker"
            };
            parts.push(format!("{what} ({})", e.display()));
        }
        if let Some(c) = &self.containerd {
            parts.push(format!("containerd ({})", c.display()));
        }
        let mut line = if parts.is_empty() {
            "no container runtime found: host counters only".to_string()
        } else {
            format!("tracking {}", parts.join(" and "))
        };
        if let Some(p) = &self.podman_too {
            line.push_str(&format!(
                "; Podman's socket {} is there too, not tracked (one engine at a time: use a \
                 configuration file to choose)",
                p.display()
            ));
        }
        line
    }

    /// Turns tracking on in `config` for what was found.
    pub fn apply(&self, config: &mut Config) {
        if let Some(e) = &self.engine {
            config.docker = Some(DockerConfig {
                socket: Some(e.clone()),
                ..DockerConfig::default()
            });
        }
        if let Some(c) = &self.containerd {
            config.containerd = Some(RuntimeConfig {
                state: Some(c.clone()),
            });
        }
    }
}

/// What the embedded default tracks, given which paths exist, `DOCKER_HOST` and
/// `--containerd-state`.
pub fn discover(
    exists: impl Fn(&Path) -> bool,
    docker_host: Option<&str>,
    containerd_state: Option<&Path>,
) -> Found {
    let docker = match docker_host.and_then(|h| h.strip_prefix("unix://")) {
        Some(path) if path.starts_with('/') => PathBuf::from(path),
        _ => PathBuf::from(DEFAULT_DOCKER_SOCKET),
    };
    let podman = PathBuf::from(PODMAN_SOCKET);
    let (engine, podman_too) = match (exists(&docker), exists(&podman)) {
        (true, true) => (Some(docker), Some(podman)),
        (true, false) => (Some(docker), None),
        (false, true) => (Some(podman), None),
        (false, false) => (None, None),
    };
    let containerd = match containerd_state {
        // Asked for: tracked whatever is there yet.
        Some(dir) => Some(dir.to_path_buf()),
        None => {
            let state = PathBuf::from(DEFAULT_CONTAINERD_STATE);
            (exists(&state.join(crate::containerd::watch::TASK_ROOT))
                || exists(&state.join("containerd.sock")))
            .then_some(state)
        }
    };
    Found {
        engine,
        podman_too,
        containerd,
    }
}

/// [`discover`] on this host.
pub fn discover_here(containerd_state: Option<&Path>) -> Found {
    let host = std::env::var("DOCKER_HOST").ok();
    discover(|p| p.exists(), host.as_deref(), containerd_state)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn found(paths: &[&str], host: Option<&str>) -> Found {
        discover(|p| paths.iter().any(|q| Path::new(q) == p), host, None)
    }

    #[test]
    fn nothing_found_is_host_only() {
        let f = found(&[], None);
        assert_eq!(f, Found::default());
        assert_eq!(
            f.describe(),
            "no container runtime found: host counters only"
        );
        let mut c = Config::default();
        f.apply(&mut c);
        assert_eq!(c, Config::default());
    }

    #[test]
    fn docker_and_containerd_are_both_tracked() {
        let f = found(
            &[
                "/var/run/docker.sock",
                "/run/containerd/io.containerd.runtime.v2.task",
            ],
            None,
        );
        assert_eq!(f.engine, Some(PathBuf::from("/var/run/docker.sock")));
        assert_eq!(f.containerd, Some(PathBuf::from("/run/containerd")));
        assert_eq!(
            f.describe(),
            "tracking Docker (/var/run/docker.sock) and containerd (/run/containerd)"
        );
        let mut c = Config::default();
        f.apply(&mut c);
        assert!(c.docker.is_some() && c.containerd.is_some());
    }

    #[test]
    fn podman_alone_is_the_engine_and_beside_docker_is_named() {
        let f = found(&[PODMAN_SOCKET, "/run/containerd/containerd.sock"], None);
        assert_eq!(f.engine, Some(PathBuf::from(PODMAN_SOCKET)));
        assert!(f.containerd.is_some());
        assert!(f.describe().starts_with("tracking Podman"));
        let f = found(&[PODMAN_SOCKET, "/var/run/docker.sock"], None);
        assert_eq!(f.engine, Some(PathBuf::from("/var/run/docker.sock")));
        assert!(f.describe().contains("not tracked"));
    }

    #[test]
    fn docker_host_names_the_docker_socket() {
        let f = found(&["/tmp/d.sock"], Some("unix:///tmp/d.sock"));
        assert_eq!(f.engine, Some(PathBuf::from("/tmp/d.sock")));
        let f = found(&["/var/run/docker.sock"], Some("tcp://1.2.3.4:2375"));
        assert_eq!(f.engine, Some(PathBuf::from("/var/run/docker.sock")));
        // containerd's directory without tasks or socket is not a running containerd.
        assert_eq!(found(&["/run/containerd"], None).containerd, None);
    }

    #[test]
    fn a_containerd_state_given_is_the_one_tracked_and_named() {
        let exists = |p: &Path| p == Path::new("/run/containerd/containerd.sock");
        let f = discover(exists, None, Some(Path::new("/srv/ctrd")));
        assert_eq!(f.containerd, Some(PathBuf::from("/srv/ctrd")));
        assert_eq!(f.describe(), "tracking containerd (/srv/ctrd)");
    }
}
