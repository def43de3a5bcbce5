//! Container states, as the engine names them, and their `virt_cpu.state` numbers.

/// A container's state: the engine's `State` (list) or `State.Status` (inspect), plus `Stopped`, which
/// the agent records after a `stop` event (and Podman can report).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ContainerState {
    /// `created` (Podman's `configured` too): never started.
    Created,
    /// `running`.
    Running,
    /// `paused` (the engine also reports `State.Running` true for it, so the status string decides).
    Paused,
    /// `restarting`: between two runs under a restart policy.
    Restarting,
    /// `removing`: being removed.
    Removing,
    /// `exited`.
    Exited,
    /// `dead`: removal failed half-way.
    Dead,
    /// `stopped`: stopped on request (a `stop` event; Podman's own `stopped` status).
    Stopped,
    /// Missing, or a word this agent does not know.
    Unknown,
}

impl ContainerState {
    /// The state named by the engine's status word; unknown words give [`ContainerState::Unknown`].
    pub fn from_status(status: &str) -> Self {
        match status {
            "created" | "configured" => ContainerState::Created,
            "running" => ContainerState::Running,
            "paused" => ContainerState::Paused,
            "restarting" => ContainerState::Restarting,
            "removing" => ContainerState::Removing,
            "exited" => ContainerState::Exited,
            "dead" => ContainerState::Dead,
            "stopped" => ContainerState::Stopped,
            _ => ContainerState::Unknown,
        }
    }

    /// The `virt_cpu.state` value (libvirt's `virDomainState`), matching the reference agent:
    ///
    /// | state | value | libvirt name |
    /// |---|---|---|
    /// | running | 1 | RUNNING |
    /// | paused | 3 | PAUSED |
    /// | exited, dead, removing | 4 | SHUTDOWN |
    /// | stopped | 5 | SHUTOFF |
    /// | created, restarting, unknown | 0 | NOSTATE |
    ///
    /// `removing` counts as the reference agent's "deleted" (4); `restarting` has no libvirt match
    /// (the process is gone, a new one is coming), so it is NOSTATE like the reference's unknown.
    pub const fn virt_cpu_state(self) -> u32 {
        match self {
            ContainerState::Running => 1,
            ContainerState::Paused => 3,
            ContainerState::Exited | ContainerState::Dead | ContainerState::Removing => 4,
            ContainerState::Stopped => 5,
            ContainerState::Created | ContainerState::Restarting | ContainerState::Unknown => 0,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_every_engine_word() {
        let words = [
            ("created", ContainerState::Created, 0),
            ("configured", ContainerState::Created, 0),
            ("running", ContainerState::Running, 1),
            ("paused", ContainerState::Paused, 3),
            ("restarting", ContainerState::Restarting, 0),
            ("removing", ContainerState::Removing, 4),
            ("exited", ContainerState::Exited, 4),
            ("dead", ContainerState::Dead, 4),
            ("stopped", ContainerState::Stopped, 5),
            ("", ContainerState::Unknown, 0),
            ("Running", ContainerState::Unknown, 0),
            ("up 3 hours", ContainerState::Unknown, 0),
        ];
        for (word, state, virt) in words {
            assert_eq!(ContainerState::from_status(word), state, "{word:?}");
            assert_eq!(state.virt_cpu_state(), virt, "{word:?}");
        }
    }
}
