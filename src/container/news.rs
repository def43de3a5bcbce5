//! What a source of containers tells the container table, in words of no engine in particular.
//!
//! A source turns what its runtime says (Docker's events, list and inspect documents; containerd's
//! task directories) into [`News`]; the table turns news into actions (sample now, final sample,
//! describe, drop) and never learns which runtime spoke. The rules a source must keep:
//!
//! - **Order.** News about one container is handed over in the order the runtime reported it.
//! - **Describing.** [`News::Started`] says a new process may have started; the table answers with
//!   a request to describe the container unless it knows it alive, and the source answers that
//!   with [`News::Described`] or [`News::Undescribed`]. A source that can describe a container at
//!   once (it reads the description from a file) may send [`News::Described`] unasked.
//! - **Population.** [`News::Present`] lists every container the runtime says is alive now,
//!   running or paused alike: a container the table knows alive and that is not in it has ended
//!   while nobody was looking. A source that cannot list paused containers must not send it.
//! - **Bounds.** Names are cut to [`NAME_MAX`] bytes by the source; nothing here allocates beyond
//!   what the news carries.
//!
//! Limits (CPU quota, cpuset, memory) are not news: the table's owner reads them from the
//! container's cgroup, where every runtime leaves them, when the container appears, on
//! [`News::LimitsChanged`], and every ten minutes.

use super::id::ContainerId;

/// Longest container name or hostname a source hands over (bytes); longer ones are cut on a
/// character boundary. Generous: the sFlow hostname is cut again to 64 bytes by
/// [`display_name`](super::display_name).
pub const NAME_MAX: usize = 255;

/// How a container's process ended: the `virt_cpu.state` of its final sample.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum EndState {
    /// It exited, died or was killed (libvirt's SHUTDOWN, 4).
    Exited,
    /// It was stopped on request (libvirt's SHUTOFF, 5).
    Stopped,
}

impl EndState {
    /// The `virt_cpu.state` value of the final sample.
    pub const fn virt_cpu_state(self) -> u32 {
        match self {
            EndState::Exited => 4,
            EndState::Stopped => 5,
        }
    }
}

/// What a described container is doing.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Presence {
    /// Its process runs.
    Running,
    /// Its process is frozen.
    Paused,
    /// It has no process (any more): it ended, possibly before it was ever sampled.
    Ended(EndState),
}

impl Presence {
    /// Running or paused.
    pub const fn alive(self) -> bool {
        matches!(self, Presence::Running | Presence::Paused)
    }
}

/// One container, as its runtime describes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Description {
    /// Its id.
    pub id: ContainerId,
    /// Its name, at most [`NAME_MAX`] bytes (empty: the short id is used).
    pub name: String,
    /// Its own hostname, at most [`NAME_MAX`] bytes (empty when unknown); reported instead of the
    /// name when the configuration asks for it.
    pub hostname: String,
    /// Its main process in the host's pid namespace, 0 when it has none.
    pub pid: u32,
    /// What it is doing.
    pub presence: Presence,
}

/// What a source tells the container table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum News {
    /// A process of this container started, or may have (Docker's `start`, `restart`): the table
    /// asks for a description unless it knows the container alive.
    Started(ContainerId),
    /// A container's description: the answer to the table's request, or sent unasked.
    Described(Description),
    /// The source could not describe this container (it is gone, or the runtime failed to answer):
    /// the table puts it back as it was before it asked.
    Undescribed(ContainerId),
    /// It was paused: a sample at once, with state 3; its polls go on.
    Paused(ContainerId),
    /// It was resumed: a sample at once, with state 1. Never revives an ended container.
    Resumed(ContainerId),
    /// Its limits changed (Docker's `update`): they are read again before its next sample.
    LimitsChanged(ContainerId),
    /// It was renamed; the new name, at most [`NAME_MAX`] bytes.
    Renamed(ContainerId, String),
    /// It is about to end (Docker's `kill`, `oom`): its counters are read now, while its cgroup is
    /// still there, for its final sample. It may also live on.
    Ending(ContainerId),
    /// Its process ended: exactly one final sample per life, with this state.
    Ended(ContainerId, EndState),
    /// It was removed: ended if it was alive, then forgotten (its dsIndex is free again).
    Removed(ContainerId),
    /// Every container alive now, per the source (sorted or not). Alive ones of the table missing
    /// from it have ended; those in it the table does not know alive are asked about.
    Present(Vec<ContainerId>),
    /// The source lost its runtime: descriptions asked for and not yet answered will not come.
    Lost,
}
