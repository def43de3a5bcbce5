//! The table's lifecycle rules, news in and actions out, with an explicit clock.

use super::*;
use crate::container::home_ds_index;

const POLL: u32 = 10;

fn id(n: u8) -> ContainerId {
    let hex: String = std::iter::repeat_n(format!("{n:02x}"), 32).collect();
    ContainerId::parse(&hex).unwrap()
}

fn table() -> Table {
    Table::new(Interval::from_secs(POLL), false, 1)
}

fn described(id: ContainerId, name: &str, pid: u32, presence: Presence) -> News {
    News::Described(Description {
        id,
        name: name.into(),
        hostname: format!("host-{name}"),
        pid,
        presence,
    })
}

fn drain(t: &mut Table) -> Vec<Action> {
    std::iter::from_fn(|| t.poll_action()).collect()
}

fn samples(actions: &[Action]) -> Vec<Sample> {
    actions
        .iter()
        .filter_map(|a| match a {
            Action::Sample(s) => Some(*s),
            _ => None,
        })
        .collect()
}

fn finals(actions: &[Action]) -> usize {
    samples(actions).iter().filter(|s| s.last).count()
}

/// A container started, described running, first sample sent: what most tests start from.
fn running(t: &mut Table, n: u8, name: &str, now: u64) -> Vec<Action> {
    t.handle_news(News::Started(id(n)), now);
    let mut all = drain(t);
    assert_eq!(all, [Action::Describe(id(n))]);
    t.handle_news(
        described(id(n), name, 100 + u32::from(n), Presence::Running),
        now,
    );
    all.extend(drain(t));
    all
}

#[test]
fn a_described_container_is_sampled_at_once_then_on_its_grid() {
    let mut t = table();
    let actions = running(&mut t, 1, "web", 5);
    let s = samples(&actions);
    assert_eq!(actions[1], Action::Attach { slot: 0, pid: 101 });
    assert_eq!(s.len(), 1);
    assert_eq!(
        (s[0].sequence, s[0].state, s[0].last),
        (1, STATE_RUNNING, false)
    );
    assert_eq!(s[0].index, home_ds_index(&id(1).uuid()));
    assert_eq!(s[0].name.as_str(), "web");
    assert_eq!(s[0].uuid, id(1).uuid());
    assert_eq!(t.alive(), 1);

    let first = t.poll_timeout().unwrap();
    assert_eq!(first % 1000, 0);
    assert!(first > 5 && first <= 5 + 10_000 + 1000);
    // Late wake-ups, by 1 ms to 900 ms: every poll one interval after the last deadline.
    let mut due = first;
    for (k, late) in [1, 900, 450, 7, 899].into_iter().enumerate() {
        t.handle_timeout(due + late);
        let s = samples(&drain(&mut t));
        assert_eq!(s.len(), 1);
        assert_eq!(s[0].sequence, k as u32 + 2);
        let next = t.poll_timeout().unwrap();
        assert_eq!(next, due + 10_000);
        due = next;
    }
}

#[test]
fn a_timeout_before_the_deadline_sends_nothing() {
    let mut t = table();
    running(&mut t, 1, "web", 0);
    let due = t.poll_timeout().unwrap();
    t.handle_timeout(due - 1);
    assert!(drain(&mut t).is_empty());
}

#[test]
fn pause_and_resume_sample_at_once_and_keep_the_sequence() {
    let mut t = table();
    running(&mut t, 1, "web", 0);
    t.handle_news(News::Paused(id(1)), 10);
    let s = samples(&drain(&mut t));
    assert_eq!((s[0].sequence, s[0].state), (2, STATE_PAUSED));
    // A second pause changes nothing.
    t.handle_news(News::Paused(id(1)), 11);
    assert!(drain(&mut t).is_empty());
    // Polls of a paused container say paused.
    let due = t.poll_timeout().unwrap();
    t.handle_timeout(due);
    let s = samples(&drain(&mut t));
    assert_eq!((s[0].sequence, s[0].state), (3, STATE_PAUSED));
    t.handle_news(News::Resumed(id(1)), due + 5);
    let s = samples(&drain(&mut t));
    assert_eq!((s[0].sequence, s[0].state), (4, STATE_RUNNING));
    assert_eq!(t.alive(), 1);
}

#[test]
fn a_pause_found_at_a_sample_is_carried_by_it_and_the_polls_after() {
    let mut t = table();
    running(&mut t, 1, "web", 0);
    assert_eq!(t.id_in_slot_of(0, SourceId::ENGINE), Some(id(1)));
    assert_eq!(t.id_in_slot_of(0, SourceId::CONTAINERD), None);
    let mut due = t.poll_timeout().unwrap();
    let mut poll = |t: &mut Table, paused: Option<bool>| {
        t.handle_timeout(due);
        let mut s = samples(&drain(t))[0];
        if let Some(p) = paused {
            t.paused_at_sample(&mut s, p);
        }
        due = t.poll_timeout().unwrap();
        (s.sequence, s.state)
    };
    assert_eq!(poll(&mut t, Some(true)), (2, STATE_PAUSED));
    // No sample of its own; the next poll says paused without being told again.
    assert!(drain(&mut t).is_empty());
    assert_eq!(poll(&mut t, None), (3, STATE_PAUSED));
    assert_eq!(poll(&mut t, Some(true)), (4, STATE_PAUSED));
    assert_eq!(poll(&mut t, Some(false)), (5, STATE_RUNNING));
    assert_eq!(poll(&mut t, None), (6, STATE_RUNNING));
    // A final sample keeps its end state.
    t.handle_news(News::Ending(id(1)), due);
    t.handle_news(News::Ended(id(1), EndState::Exited), due);
    let mut last = samples(&drain(&mut t))[0];
    let state = last.state;
    t.paused_at_sample(&mut last, true);
    assert_eq!(last.state, state);
    assert_eq!(t.alive(), 0);
}

#[test]
fn an_end_sends_exactly_one_final_sample() {
    let mut t = table();
    running(&mut t, 1, "web", 0);
    t.handle_news(News::Ending(id(1)), 1);
    assert_eq!(drain(&mut t), [Action::ReadNow { slot: 0 }]);
    t.handle_news(News::Ended(id(1), EndState::Exited), 2);
    let a = drain(&mut t);
    let s = samples(&a);
    assert_eq!(s.len(), 1);
    assert!(s[0].last);
    assert_eq!((s[0].sequence, s[0].state), (2, 4));
    assert_eq!(t.alive(), 0);
    assert_eq!(t.poll_timeout(), None, "its polls stop");
    // A stop after the die, a second die, a pause, a resume, the population without it, a late
    // description: nothing more.
    for news in [
        News::Ended(id(1), EndState::Stopped),
        News::Ended(id(1), EndState::Exited),
        News::Paused(id(1)),
        News::Resumed(id(1)),
        News::Ending(id(1)),
        News::LimitsChanged(id(1)),
        News::Present(vec![]),
        described(id(1), "web", 101, Presence::Running),
        News::Undescribed(id(1)),
        News::Lost,
    ] {
        t.handle_news(news.clone(), 3);
        assert!(drain(&mut t).is_empty(), "{news:?}");
    }
}

#[test]
fn a_stop_ends_with_state_five() {
    let mut t = table();
    running(&mut t, 1, "web", 0);
    t.handle_news(News::Ended(id(1), EndState::Stopped), 2);
    let s = samples(&drain(&mut t));
    assert_eq!((s[0].state, s[0].last), (5, true));
}

#[test]
fn a_restart_keeps_the_index_and_the_sequence() {
    let mut t = table();
    running(&mut t, 1, "web", 0);
    t.handle_news(News::Ended(id(1), EndState::Exited), 1);
    let before = samples(&drain(&mut t))[0];
    t.handle_news(News::Started(id(1)), 2);
    assert_eq!(drain(&mut t), [Action::Describe(id(1))]);
    t.handle_news(described(id(1), "web", 555, Presence::Running), 3);
    let a = drain(&mut t);
    assert_eq!(a[0], Action::Attach { slot: 0, pid: 555 });
    let s = samples(&a);
    assert_eq!(s.len(), 1);
    assert_eq!(s[0].index, before.index);
    assert_eq!(s[0].sequence, before.sequence + 1);
    assert_eq!(s[0].state, STATE_RUNNING);
    assert!(t.poll_timeout().is_some());
}

#[test]
fn a_container_that_ended_before_its_first_sample_gets_one_final_sample() {
    let mut t = table();
    t.handle_news(News::Started(id(1)), 0);
    drain(&mut t);
    t.handle_news(News::Ended(id(1), EndState::Exited), 1);
    assert!(drain(&mut t).is_empty());
    // The description, asked before the end, still says running.
    t.handle_news(described(id(1), "brief", 7, Presence::Running), 2);
    let s = samples(&drain(&mut t));
    assert_eq!(s.len(), 1);
    assert_eq!((s[0].sequence, s[0].state, s[0].last), (1, 4, true));
    assert_eq!(s[0].name.as_str(), "brief");
    assert_eq!(t.poll_timeout(), None);
    assert_eq!(t.alive(), 0);
}

#[test]
fn a_description_of_an_exited_container_is_its_final_sample() {
    let mut t = table();
    t.handle_news(News::Started(id(1)), 0);
    drain(&mut t);
    t.handle_news(
        described(id(1), "done", 0, Presence::Ended(EndState::Stopped)),
        1,
    );
    let a = drain(&mut t);
    assert!(
        !a.iter().any(|a| matches!(a, Action::Attach { .. })),
        "pid 0"
    );
    let s = samples(&a);
    assert_eq!(s.len(), 1);
    assert_eq!((s[0].state, s[0].last), (5, true));
}

#[test]
fn a_container_never_reported_and_undescribed_is_forgotten() {
    let mut t = table();
    t.handle_news(News::Started(id(1)), 0);
    drain(&mut t);
    t.handle_news(News::Undescribed(id(1)), 1);
    assert_eq!(drain(&mut t), [Action::Drop { slot: 0 }]);
    // And is asked about afresh next time.
    t.handle_news(News::Started(id(1)), 2);
    assert_eq!(drain(&mut t), [Action::Describe(id(1))]);
}

#[test]
fn an_alive_container_its_source_cannot_describe_any_more_ends() {
    let mut t = table();
    running(&mut t, 1, "web", 0);
    t.handle_news(News::Started(id(1)), 1);
    assert_eq!(drain(&mut t), [Action::Describe(id(1))]);
    t.handle_news(News::Undescribed(id(1)), 2);
    assert_eq!(finals(&drain(&mut t)), 1);
}

#[test]
fn a_new_pid_of_an_alive_container_attaches_its_counters_again() {
    let mut t = table();
    running(&mut t, 1, "web", 0);
    t.handle_news(News::Started(id(1)), 1);
    drain(&mut t);
    t.handle_news(described(id(1), "web", 999, Presence::Running), 2);
    // No second first sample: it was alive all along.
    assert_eq!(drain(&mut t), [Action::Attach { slot: 0, pid: 999 }]);
    // The same pid again: nothing to attach.
    t.handle_news(described(id(1), "web", 999, Presence::Running), 3);
    assert!(drain(&mut t).is_empty());
}

#[test]
fn removal_ends_then_forgets_and_frees_the_index() {
    let mut t = table();
    running(&mut t, 1, "web", 0);
    t.handle_news(News::Removed(id(1)), 1);
    let a = drain(&mut t);
    assert_eq!(finals(&a), 1);
    assert_eq!(a.last(), Some(&Action::Drop { slot: 0 }));
    t.handle_news(News::Removed(id(1)), 2);
    assert!(drain(&mut t).is_empty());
    assert_eq!(t.poll_timeout(), None);
    // Its sequence starts again: a removed container is a new one to collectors.
    let s = samples(&running(&mut t, 1, "web", 3));
    assert_eq!(s[0].sequence, 1);
}

#[test]
fn rename_shows_in_the_next_sample_and_same_names_get_short_ids() {
    let mut t = table();
    running(&mut t, 1, "web", 0);
    let s = samples(&running(&mut t, 2, "web", 0));
    assert_eq!(
        s[0].name.as_str(),
        format!("web.{}", id(2).short().as_str())
    );
    t.handle_news(News::Renamed(id(2), "db".into()), 1);
    assert!(drain(&mut t).is_empty());
    t.handle_news(News::Paused(id(2)), 2);
    assert_eq!(samples(&drain(&mut t))[0].name.as_str(), "db");
    t.handle_news(News::Paused(id(1)), 3);
    assert_eq!(samples(&drain(&mut t))[0].name.as_str(), "web");
}

#[test]
fn the_final_sample_keeps_the_name_of_the_others() {
    let mut t = table();
    running(&mut t, 1, "web", 0);
    running(&mut t, 2, "web", 0);
    t.handle_news(News::Ended(id(2), EndState::Exited), 1);
    let s = samples(&drain(&mut t));
    assert_eq!(
        s[0].name.as_str(),
        format!("web.{}", id(2).short().as_str())
    );
    // The other one is alone with its name now.
    t.handle_news(News::Paused(id(1)), 2);
    assert_eq!(samples(&drain(&mut t))[0].name.as_str(), "web");
}

#[test]
fn hostnames_are_reported_when_asked_for() {
    let mut t = Table::new(Interval::from_secs(POLL), true, 1);
    let s = samples(&running(&mut t, 1, "web", 0));
    assert_eq!(s[0].name.as_str(), "host-web");
}

#[test]
fn an_empty_name_is_the_short_id() {
    let mut t = table();
    let s = samples(&running(&mut t, 1, "", 0));
    assert_eq!(s[0].name.as_str(), id(1).short().as_str());
}

#[test]
fn the_population_ends_the_missing_and_asks_about_the_new() {
    let mut t = table();
    running(&mut t, 1, "a", 0);
    running(&mut t, 2, "b", 0);
    t.handle_news(News::Present(vec![id(3), id(2)]), 1);
    let a = drain(&mut t);
    assert_eq!(a[0], Action::Describe(id(3)));
    let s = samples(&a);
    assert_eq!(s.len(), 1);
    assert!(s[0].last);
    assert_eq!(s[0].index, home_ds_index(&id(1).uuid()));
    // Asked about already: not again.
    t.handle_news(News::Present(vec![id(3), id(2)]), 2);
    assert!(drain(&mut t).is_empty());
}

/// Defect 6a: a container paused before the agent starts is sampled with state 3, and stays
/// tracked through re-lists that list it.
#[test]
fn a_container_paused_before_the_start_is_sampled_and_stays_tracked() {
    let mut t = table();
    t.handle_news(News::Present(vec![id(1)]), 0);
    assert_eq!(drain(&mut t), [Action::Describe(id(1))]);
    t.handle_news(described(id(1), "frozen", 42, Presence::Paused), 1);
    let s = samples(&drain(&mut t));
    assert_eq!((s[0].state, s[0].last), (STATE_PAUSED, false));
    for relist in 0..2 {
        t.handle_news(News::Present(vec![id(1)]), 2 + relist);
        assert!(drain(&mut t).is_empty());
    }
    let due = t.poll_timeout().unwrap();
    t.handle_timeout(due);
    let s = samples(&drain(&mut t));
    assert_eq!((s[0].state, s[0].sequence), (STATE_PAUSED, 2));
}

/// Defect 6b: the engine restarts without live-restore and kills a paused container. Whatever
/// order the re-list and the replayed events (unpause, kill, die, stop) come in, one final sample.
#[test]
fn an_engine_restart_under_a_paused_container_sends_one_final_sample_in_any_order() {
    let replay = [
        News::Resumed(id(1)),
        News::Ending(id(1)),
        News::Ended(id(1), EndState::Exited),
        News::Ended(id(1), EndState::Stopped),
    ];
    let relist = News::Present(vec![id(2)]);
    // The re-list at every position among the replayed events, in their order and reversed.
    for reversed in [false, true] {
        for at in 0..=replay.len() {
            let mut events: Vec<News> = replay.to_vec();
            if reversed {
                events.reverse();
            }
            events.insert(at, relist.clone());
            let mut t = table();
            running(&mut t, 1, "frozen", 0);
            running(&mut t, 2, "other", 0);
            t.handle_news(News::Paused(id(1)), 1);
            drain(&mut t);
            t.handle_news(News::Lost, 2);
            let mut all = drain(&mut t);
            for (i, news) in events.into_iter().enumerate() {
                t.handle_news(news, 10 + i as u64);
                all.extend(drain(&mut t));
            }
            let mine: Vec<Sample> = samples(&all)
                .into_iter()
                .filter(|s| s.index == home_ds_index(&id(1).uuid()))
                .collect();
            assert_eq!(
                mine.iter().filter(|s| s.last).count(),
                1,
                "re-list at {at}, reversed {reversed}: {mine:?}"
            );
            assert!(mine.last().is_some_and(|s| s.last), "nothing after the end");
            assert!(!all.iter().any(|a| *a == Action::Describe(id(1))));
            assert_eq!(t.alive(), 1, "the other container lives on");
        }
    }
}

#[test]
fn a_lost_source_puts_pending_descriptions_back() {
    let mut t = table();
    running(&mut t, 1, "web", 0);
    t.handle_news(News::Ended(id(1), EndState::Exited), 1);
    t.handle_news(News::Started(id(1)), 2);
    t.handle_news(News::Started(id(2)), 2);
    drain(&mut t);
    t.handle_news(News::Lost, 3);
    // The new one is dropped; the reported one is ended again, without a second final sample.
    assert_eq!(drain(&mut t), [Action::Drop { slot: 1 }]);
    assert_eq!(t.alive(), 0);
    t.handle_news(News::Present(vec![id(1)]), 4);
    assert_eq!(drain(&mut t), [Action::Describe(id(1))]);
}

#[test]
fn pause_of_an_unknown_container_asks_about_it() {
    let mut t = table();
    t.handle_news(News::Paused(id(9)), 0);
    assert_eq!(drain(&mut t), [Action::Describe(id(9))]);
}

#[test]
fn an_unasked_description_adds_the_container() {
    let mut t = table();
    t.handle_news(described(id(4), "task", 77, Presence::Running), 0);
    let a = drain(&mut t);
    assert_eq!(a[0], Action::Attach { slot: 0, pid: 77 });
    assert_eq!(samples(&a).len(), 1);
}

#[test]
fn limits_changed_reads_them_again() {
    let mut t = table();
    running(&mut t, 1, "web", 0);
    t.handle_news(News::LimitsChanged(id(1)), 1);
    assert_eq!(drain(&mut t), [Action::RefreshLimits { slot: 0 }]);
}

#[test]
fn an_unsent_sample_gives_its_sequence_back() {
    let mut t = table();
    running(&mut t, 1, "web", 0);
    let due = t.poll_timeout().unwrap();
    t.handle_timeout(due);
    let s = samples(&drain(&mut t))[0];
    assert_eq!(s.sequence, 2);
    t.unsent(&s);
    t.handle_news(News::Ended(id(1), EndState::Exited), due + 1);
    assert_eq!(samples(&drain(&mut t))[0].sequence, 2);
}

#[test]
fn a_new_interval_gives_new_phases_on_the_new_grid() {
    let mut t = table();
    running(&mut t, 1, "web", 0);
    t.set_interval(Interval::from_secs(2), 50_000);
    let due = t.poll_timeout().unwrap();
    assert!(
        (50_000..=53_000).contains(&due) && due.is_multiple_of(1000),
        "{due}"
    );
    t.set_interval(None, 50_001);
    assert_eq!(t.poll_timeout(), None);
}

#[test]
fn ended_containers_are_remembered_up_to_a_bound() {
    let mut t = Table::new(None, false, 1);
    for n in 0..(MAX_ENDED + 3) {
        let mut hex = format!("{n:064x}");
        hex.replace_range(0..1, "a");
        let id = ContainerId::parse(&hex).unwrap();
        t.handle_news(
            News::Described(Description {
                id,
                name: "x".into(),
                hostname: String::new(),
                pid: 0,
                presence: Presence::Ended(EndState::Exited),
            }),
            0,
        );
    }
    let drops = drain(&mut t)
        .iter()
        .filter(|a| matches!(a, Action::Drop { .. }))
        .count();
    assert_eq!(drops, 3);
    assert_eq!(t.ended, MAX_ENDED);
}

/// Another source's container, described unasked (as containerd's directories do).
fn running_from(t: &mut Table, source: SourceId, n: u8, name: &str, now: u64) -> Vec<Action> {
    t.handle_news_from(
        source,
        described(id(n), name, 100 + u32::from(n), Presence::Running),
        now,
    );
    drain(t)
}

#[test]
fn each_container_remembers_its_source() {
    let mut t = table();
    running(&mut t, 1, "docker", 0);
    let first = running_from(&mut t, SourceId::CONTAINERD, 2, "task", 0);
    assert_eq!(samples(&first).len(), 1);
    assert_eq!(t.source_of(&id(1)), Some(SourceId::ENGINE));
    assert_eq!(t.source_of(&id(2)), Some(SourceId::CONTAINERD));
    assert_eq!(t.source_of(&id(3)), None);
    // A source's population asks that source about what it does not know.
    t.handle_news_from(SourceId::CONTAINERD, News::Present(vec![id(2), id(3)]), 5);
    assert_eq!(drain(&mut t), [Action::Describe(id(3))]);
    assert_eq!(t.source_of(&id(3)), Some(SourceId::CONTAINERD));
}

#[test]
fn a_population_ends_only_its_own_sources_containers() {
    let mut t = table();
    running(&mut t, 1, "docker", 0);
    running_from(&mut t, SourceId::CONTAINERD, 2, "task", 0);
    // containerd lists nothing: its task ended, the engine's container lives on.
    t.handle_news_from(SourceId::CONTAINERD, News::Present(Vec::new()), 5);
    let a = drain(&mut t);
    let s = samples(&a);
    assert_eq!(s.len(), 1);
    assert!(s[0].last);
    assert_eq!(s[0].name.as_str(), "task");
    assert_eq!(t.alive(), 1);
    // And the engine's list leaves containerd's tasks alone.
    running_from(&mut t, SourceId::CONTAINERD, 3, "task3", 6);
    t.handle_news(News::Present(vec![id(1)]), 7);
    assert_eq!(finals(&drain(&mut t)), 0);
    assert_eq!(t.alive(), 2);
}

#[test]
fn a_lost_source_puts_back_only_its_own_descriptions() {
    let mut t = table();
    t.handle_news(News::Started(id(1)), 0);
    t.handle_news_from(SourceId::CONTAINERD, News::Started(id(2)), 0);
    assert_eq!(
        drain(&mut t),
        [Action::Describe(id(1)), Action::Describe(id(2))]
    );
    t.handle_news_from(SourceId::CONTAINERD, News::Lost, 1);
    // id(2) was never reported: forgotten; id(1) still waits for the engine's answer.
    assert_eq!(t.source_of(&id(2)), None);
    assert_eq!(t.source_of(&id(1)), Some(SourceId::ENGINE));
    t.handle_news(described(id(1), "a", 5, Presence::Running), 2);
    assert_eq!(samples(&drain(&mut t)).len(), 1);
}

#[test]
fn an_ended_container_described_by_another_source_changes_hands() {
    let mut t = table();
    running(&mut t, 1, "docker", 0);
    t.handle_news(News::Ended(id(1), EndState::Exited), 1);
    assert_eq!(finals(&drain(&mut t)), 1);
    t.handle_news_from(SourceId::CONTAINERD, News::Started(id(1)), 2);
    assert_eq!(drain(&mut t), [Action::Describe(id(1))]);
    assert_eq!(t.source_of(&id(1)), Some(SourceId::CONTAINERD));
}
