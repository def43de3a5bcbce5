//! containerd's tasks as a source of containers, found through what containerd's runc shim keeps
//! on the host: no gRPC, no engine API.
//!
//! containerd keeps one bundle directory per task under
//! `<state>/io.containerd.runtime.v2.task/<namespace>/<id>/` (state `/run/containerd` by default):
//! `config.json` is the task's OCI spec (hostname, `linux.cgroupsPath`, annotations) and `init.pid`
//! its main process in the host's pid namespace. The namespace directory appears with its first
//! task; a task that exits keeps its bundle (and its cgroup) until it is deleted.
//!
//! - [`spec`]: one bundle's files, decoded and validated; task ids and names;
//! - [`watch`]: the state machine that follows the directories (inotify events first, a slow
//!   re-scan as the safety net) and the tasks' exits, and tells the container table
//!   ([`crate::container::News`]). It reads through a small [`watch::TaskHost`] trait, which the
//!   agent implements with real files, an inotify descriptor and pidfds, and the tests with an
//!   in-memory host and an explicit clock.

mod sha256;
pub mod spec;
pub mod watch;

pub use spec::{task_id, Spec};
pub use watch::{Report, TaskHost, TaskWatcher, WatchKind};
