//! csflowd: a synchronous, single-threaded sFlow v5 agent that exports the counters of a Linux host and of
//! its containers.
//!
//! The layers depend downward only:
//!
//! - [`wire`]: the sFlow v5 encoder, writing into caller-owned buffers without allocating;
//! - [`http`]: a push-style HTTP/1.1 client for the engine's UNIX socket;
//! - [`container`]: container identity and the engine-neutral news of a source of containers;
//! - [`containerd`]: containerd's tasks, followed through their bundle directories, without I/O of its own;
//! - [`docker`]: the engine conversation: its documents and its rules, without I/O;
//! - [`host`]: readers of /proc and /sys for the physical host;
//! - [`packet`]: packet sampling's rules: tapped interfaces, flow samples and port counters;
//! - [`cgroup`]: readers of a container's cgroup and procfs files for its counters;
//! - [`timer`], [`schedule`]: the timer wheel of poll deadlines and the one grid they fall on;
//! - [`config`]: the configuration file;
//! - [`agent`]: the one event loop that ties them together.
//!
//! [`sys`] holds the few libc wrappers the crate needs; it is the only module with `unsafe` code, and
//! every `unsafe` block there carries a `// SAFETY:` comment (clippy's `undocumented_unsafe_blocks`
//! is denied crate-wide, so a block without one does not build under `cargo clippy`).
#![deny(unsafe_code)]
#![deny(clippy::undocumented_unsafe_blocks)]
#![warn(missing_docs)]

pub mod agent;
pub mod cgroup;
pub mod cli;
pub mod config;
pub mod container;
pub mod containerd;
pub mod docker;
pub mod host;
pub mod http;
pub mod packet;
pub mod rng;
pub mod schedule;
pub mod sys;
pub mod syslog;
pub mod timer;
pub mod wire;
