//! The integration tests' harness: private, real container engines (Docker and Podman from
//! Debian's packages), started by the test itself and torn down when the test ends, plus raw
//! HTTP over their sockets; the csflowd binary run as a user runs it ([`agent`]), and a collector
//! that reads its UDP output with an independent decoder ([`sflow`]).
//!
//! Each test file that needs it says `mod support;`. Typical use:
//!
//! ```ignore
//! let Some(docker) = support::docker() else { return };
//! let id = docker.run(&[], &["sleep", "30"]);
//! let pid = docker.inspect_pid(&id);
//! ```
//!
//! Engines are independent of each other (own directory, socket, storage, daemon), so tests in
//! the same or in different test binaries may run concurrently. They have no bridge and no NAT:
//! containers see only `lo` unless the test gives them more.
//!
//! **The CI rule**: [`docker`] and [`podman`] return `None` (the test then returns early, having
//! said why on stderr) when the engine cannot start, except when the environment variable `CI` is
//! set (to anything but `false` or `0`): then they panic with the reason, so that a CI run never
//! passes by skipping; [`containerd`] follows the same rule. Needs, as root: `docker.io`, `podman`,
//! `containerd` and `busybox-static`.
// Each test binary uses a different part of the harness.
#![allow(dead_code)]

pub mod agent;
pub mod containerd;
pub mod containers;
pub mod counters;
pub mod docker;
pub mod engine;
pub mod fake_engine;
pub mod http;
pub mod image;
pub mod netns;
pub mod podman;
pub mod process;
pub mod record;
pub mod sflow;

use std::io::Write as _;

pub use engine::{Engine, Kind};

/// Where Debian's busybox-static installs its one binary (the test image's userland, and the
/// harness's kill(1)).
pub const BUSYBOX: &str = "/bin/busybox";

/// A kernel file holding one number (a cgroup counter), read whole; fails the test otherwise.
pub fn read_u64(path: &std::path::Path) -> u64 {
    std::fs::read_to_string(path)
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
        .trim()
        .parse()
        .unwrap()
}

/// True when running under CI (env `CI` set to anything but `false`, `0` or nothing).
pub fn in_ci() -> bool {
    std::env::var("CI").is_ok_and(|v| !matches!(v.trim(), "" | "false" | "0"))
}

/// A private Docker engine, or `None` (outside CI only) when it cannot start. See the CI rule.
pub fn docker() -> Option<Engine> {
    start_or_skip(Kind::Docker)
}

/// A private Podman engine, or `None` (outside CI only) when it cannot start. See the CI rule.
pub fn podman() -> Option<Engine> {
    start_or_skip(Kind::Podman)
}

/// A private containerd, or `None` (outside CI only) when it cannot start. See the CI rule.
pub fn containerd() -> Option<containerd::Containerd> {
    match containerd::Containerd::start() {
        Ok(c) => Some(c),
        Err(reason) if in_ci() => panic!("CI: cannot start containerd: {reason}"),
        Err(reason) => {
            let _ = writeln!(
                std::io::stderr(),
                "SKIPPED: cannot start containerd (not CI, so not failing): {reason}"
            );
            None
        }
    }
}

/// [`Engine::start`] with the CI rule applied.
pub fn start_or_skip(kind: Kind) -> Option<Engine> {
    match Engine::start(kind) {
        Ok(engine) => Some(engine),
        Err(reason) if in_ci() => panic!("CI: cannot start {}: {reason}", kind.name()),
        Err(reason) => {
            // Straight to stderr, not eprintln!: the test harness captures the latter and shows it
            // only for failing tests, and a skip must be visible.
            let _ = writeln!(
                std::io::stderr(),
                "SKIPPED: cannot start {} (not CI, so not failing): {reason}",
                kind.name()
            );
            None
        }
    }
}
