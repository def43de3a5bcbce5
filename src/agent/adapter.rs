//! TEMPORARY adapter until the table takes container::News: the engine-neutral news of
//! [`crate::docker::Conversation`] in the words the container table still speaks (the engine's
//! event, list and inspect documents). Delete this file when the table takes `container::News`.

use crate::container::{EndState, News as Neutral, Presence};
use crate::docker::{
    ContainerId, ContainerList, ContainerState, Event, EventKind, Inspect, ListedContainer,
};

/// What the container table is told, in its old words.
#[derive(Debug)]
pub enum News {
    /// The running and paused containers.
    Listed(ContainerList),
    /// A container's description.
    Inspected(Inspect),
    /// The engine does not know this container (never sent: `InspectFailed` says the same).
    #[allow(dead_code)]
    Gone(ContainerId),
    /// A description could not be had.
    InspectFailed(ContainerId),
    /// A lifecycle event.
    Event(Event),
    /// The connection to the engine was lost.
    Disconnected,
}

/// The table's words for a piece of neutral news.
pub fn from_neutral(news: Neutral) -> News {
    let event = |kind, id, name| {
        News::Event(Event {
            kind,
            id,
            name,
            time_nano: None,
            exit_code: None,
        })
    };
    match news {
        Neutral::Started(id) => event(EventKind::Start, id, None),
        Neutral::Paused(id) => event(EventKind::Pause, id, None),
        Neutral::Resumed(id) => event(EventKind::Unpause, id, None),
        Neutral::LimitsChanged(id) => event(EventKind::Update, id, None),
        Neutral::Renamed(id, name) => event(EventKind::Rename, id, Some(name)),
        Neutral::Ending(id) => event(EventKind::Kill, id, None),
        Neutral::Ended(id, EndState::Exited) => event(EventKind::Die, id, None),
        Neutral::Ended(id, EndState::Stopped) => event(EventKind::Stop, id, None),
        Neutral::Removed(id) => event(EventKind::Destroy, id, None),
        Neutral::Undescribed(id) => News::InspectFailed(id),
        Neutral::Lost => News::Disconnected,
        Neutral::Present(ids) => News::Listed(ContainerList {
            containers: ids
                .into_iter()
                .map(|id| ListedContainer {
                    id,
                    name: String::new(),
                    state: ContainerState::Running,
                })
                .collect(),
            ..ContainerList::default()
        }),
        Neutral::Described(d) => News::Inspected(Inspect {
            id: d.id,
            name: d.name,
            hostname: d.hostname,
            state: match d.presence {
                Presence::Running => ContainerState::Running,
                Presence::Paused => ContainerState::Paused,
                Presence::Ended(EndState::Stopped) => ContainerState::Stopped,
                Presence::Ended(EndState::Exited) => ContainerState::Exited,
            },
            pid: d.pid,
            // The table reads limits from the cgroup, not from here.
            memory_limit: 0,
            nano_cpus: 0,
            cpu_quota: 0,
            cpu_period: 0,
            cpuset_cpus: String::new(),
        }),
    }
}
