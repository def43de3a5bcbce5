//! containerd's tasks tracked by the csflowd binary, against a real, private containerd
//! (Debian's package, `ctr run` on a busybox directory): what a collector receives.
//!
//! Under CI these tests fail when containerd cannot start; elsewhere they skip, saying so.

mod support;

use std::time::{Duration, Instant};

use support::agent::{config_for, Agent};
use support::containerd::{task_container_id, Containerd, Task};
use support::containers::{
    ds_index_of, latency, note, Sample, Watch, EXITED, PAUSED, PROMPT, RUNNING,
};

/// The agent on `ctrd`'s state directory, polling every second, and its collector.
fn rig(ctrd: &Containerd, extra: &str) -> (Watch, Agent) {
    let watch = Watch::bind();
    let config = config_for(
        watch.addr(),
        &format!(
            "  containerd {{ state = {} }}\n{extra}",
            ctrd.state.display()
        ),
    );
    let agent = Agent::start("ctrd", &config, &[]);
    (watch, agent)
}

/// The data source index of a task (no collision expected among a test's few tasks).
fn index_of(task: &Task) -> u32 {
    ds_index_of(&task_container_id(&task.ns, &task.id))
}

/// The name the agent reports a plain `ctr run` task under.
fn name_of(task: &Task) -> String {
    format!("k8s_{}__{}_u_a", task.id, task.ns)
}

fn first_sample(watch: &mut Watch, agent: &Agent, task: &Task, from: usize) -> Sample {
    let index = index_of(task);
    watch
        .wait(from, PROMPT, |s| s.is_of(index))
        .unwrap_or_else(|| {
            panic!(
                "no sample of task {} (3:{index})\n{}\nagent:\n{}",
                task.id,
                watch.recent(20),
                agent.stderr()
            )
        })
}

fn finals(watch: &Watch, task: &Task) -> usize {
    watch
        .of(index_of(task))
        .iter()
        .filter(|s| s.is_final())
        .count()
}

#[test]
fn tasks_before_and_after_the_agent_are_sampled_and_a_killed_one_ends_once() {
    let Some(ctrd) = support::containerd() else {
        return;
    };
    let before = ctrd.run("before", &[], &["sleep", "300"]);
    let (mut watch, agent) = rig(&ctrd, "");
    let s = first_sample(&mut watch, &agent, &before, 0);
    assert_eq!(s.hostname.as_deref(), Some(name_of(&before).as_str()));
    assert_eq!(s.state, Some(RUNNING));
    assert_eq!(s.sequence, 1);

    let mark = watch.mark();
    let started = Instant::now();
    let after = ctrd.run("after", &[], &["sleep", "300"]);
    let s = first_sample(&mut watch, &agent, &after, mark);
    note(&format!(
        "containerd: ctr run -d -> first sample {:?}",
        latency(&s, started)
    ));
    assert_eq!(s.hostname.as_deref(), Some(name_of(&after).as_str()));
    assert_eq!(s.state, Some(RUNNING));
    // Polled on: a second sample within two intervals.
    let index = index_of(&after);
    assert!(watch
        .wait(s.position + 1, PROMPT, |x| x.is_of(index))
        .is_some());

    let mark = watch.mark();
    let killed = Instant::now();
    ctrd.kill(&after);
    let last = watch
        .wait(mark, PROMPT, |x| x.is_of(index) && x.is_final())
        .unwrap_or_else(|| panic!("no final sample\n{}", watch.recent(20)));
    note(&format!(
        "containerd: ctr task kill -> final sample {:?}",
        latency(&last, killed)
    ));
    assert_eq!(last.state, Some(EXITED));
    // Stopped but not deleted: nothing more; deleted: still nothing more.
    watch.pump_for(Duration::from_millis(2500));
    ctrd.delete(&after);
    watch.pump_for(Duration::from_millis(1500));
    assert_eq!(finals(&watch, &after), 1, "{}", watch.recent(20));
    assert!(
        watch.of(index).last().is_some_and(|x| x.is_final()),
        "no sample after the final one\n{}",
        watch.recent(20)
    );
    // The task before the agent lives on, and the host counts one container.
    let mark = watch.mark();
    let b = index_of(&before);
    assert!(watch.wait(mark, PROMPT, |x| x.is_of(b)).is_some());
    let host = watch
        .wait(mark, PROMPT, |x| x.is_host())
        .expect("a host sample");
    assert_eq!(host.num_domains, Some(1));
}

#[test]
fn a_paused_task_is_sampled_paused_and_stays_tracked() {
    let Some(ctrd) = support::containerd() else {
        return;
    };
    let task = ctrd.run("frozen", &[], &["sleep", "300"]);
    ctrd.pause(&task, true);
    let (mut watch, agent) = rig(&ctrd, "");
    let s = first_sample(&mut watch, &agent, &task, 0);
    assert_eq!(s.state, Some(PAUSED));
    // Its polls go on while it is paused.
    let index = index_of(&task);
    let next = watch
        .wait(s.position + 1, PROMPT, |x| x.is_of(index))
        .expect("a second sample of the paused task");
    assert_eq!(next.state, Some(PAUSED));
    ctrd.pause(&task, false);
    let mark = watch.mark();
    assert!(watch.wait(mark, PROMPT, |x| x.is_of(index)).is_some());
    assert_eq!(finals(&watch, &task), 0);
}

#[test]
fn a_task_living_half_a_second_gets_a_first_and_exactly_one_final_sample() {
    let Some(ctrd) = support::containerd() else {
        return;
    };
    let (mut watch, agent) = rig(&ctrd, "");
    // The agent is up once its first host sample is out.
    watch.wait(0, PROMPT, |s| s.is_host()).expect("host sample");
    let task = ctrd.run("short", &[], &["sleep", "0.5"]);
    let index = index_of(&task);
    let last = watch
        .wait(0, PROMPT, |x| x.is_of(index) && x.is_final())
        .unwrap_or_else(|| panic!("no final sample\n{}\n{}", watch.recent(20), agent.stderr()));
    assert_eq!(last.state, Some(EXITED));
    watch.pump_for(Duration::from_secs(2));
    let samples = watch.of(index);
    assert!(samples.first().is_some_and(|s| s.sequence == 1));
    assert_eq!(finals(&watch, &task), 1, "{}", watch.recent(20));
}

#[test]
fn fifty_tasks_started_and_stopped_in_bursts_end_once_each() {
    let Some(ctrd) = support::containerd() else {
        return;
    };
    let (mut watch, agent) = rig(&ctrd, "");
    watch.wait(0, PROMPT, |s| s.is_host()).expect("host sample");
    let mut tasks = Vec::new();
    for burst in 0..5 {
        let batch: Vec<Task> = (0..10)
            .map(|i| ctrd.run(&format!("b{burst}t{i}"), &[], &["sleep", "300"]))
            .collect();
        watch.pump_for(Duration::from_millis(200));
        for t in &batch {
            ctrd.kill(t);
        }
        tasks.extend(batch);
    }
    let deadline = Instant::now() + Duration::from_secs(20);
    while tasks.iter().any(|t| finals(&watch, t) == 0) && Instant::now() < deadline {
        watch.pump_for(Duration::from_millis(200));
    }
    for t in &tasks {
        ctrd.delete(t);
    }
    watch.pump_for(Duration::from_secs(2));
    let indices: std::collections::HashSet<u32> = tasks.iter().map(index_of).collect();
    assert_eq!(indices.len(), 50, "dsIndex collision among the test's ids");
    for t in &tasks {
        let samples = watch.of(index_of(t));
        assert!(
            samples.first().is_some_and(|s| s.sequence == 1),
            "task {}: no first sample\n{}",
            t.id,
            agent.stderr()
        );
        assert_eq!(finals(&watch, t), 1, "task {}\n{}", t.id, watch.recent(30));
    }
}

#[test]
fn a_task_paused_and_resumed_while_tracked_is_seen_within_a_polling_interval() {
    let Some(ctrd) = support::containerd() else {
        return;
    };
    let task = ctrd.run("later", &[], &["sleep", "300"]);
    let (mut watch, agent) = rig(&ctrd, "");
    let s = first_sample(&mut watch, &agent, &task, 0);
    assert_eq!(s.state, Some(RUNNING));
    let index = index_of(&task);
    // containerd says nothing on the files when it pauses a task, and the v1 freezer sends no
    // event: the freezer is read with each sample (polling 1 s here), so the next one says it.
    let within = Duration::from_millis(2500);
    for (verb, paused, state) in [("pause", true, PAUSED), ("resume", false, RUNNING)] {
        ctrd.pause(&task, paused);
        let mark = watch.mark();
        let seen = watch
            .wait(mark, within, |x| x.is_of(index) && x.state == Some(state))
            .unwrap_or_else(|| panic!("no sample says the {verb}\n{}", watch.recent(20)));
        // And the ones after it too.
        watch.pump_for(Duration::from_millis(1500));
        let after: Vec<_> = watch.samples()[seen.position..]
            .iter()
            .filter(|x| x.is_of(index))
            .map(|x| x.state)
            .collect();
        assert!(after.len() >= 2, "{}", watch.recent(20));
        assert!(
            after.iter().all(|&x| x == Some(state)),
            "after the {verb}: {after:?}"
        );
    }
    // One life all along, ended by exactly one final sample.
    assert_eq!(finals(&watch, &task), 0);
    ctrd.kill(&task);
    watch
        .wait(0, PROMPT, |x| x.is_of(index) && x.is_final())
        .unwrap_or_else(|| panic!("no final sample\n{}", watch.recent(20)));
    watch.pump_for(Duration::from_millis(1500));
    assert_eq!(finals(&watch, &task), 1, "{}", watch.recent(20));
    assert_eq!(
        watch.of(index).iter().filter(|x| x.sequence == 1).count(),
        1
    );
}

#[test]
fn a_containerd_restart_loses_no_task_and_ends_none() {
    let Some(mut ctrd) = support::containerd() else {
        return;
    };
    let task = ctrd.run("steady", &[], &["sleep", "300"]);
    let (mut watch, agent) = rig(&ctrd, "");
    let s = first_sample(&mut watch, &agent, &task, 0);
    let index = index_of(&task);
    ctrd.restart()
        .unwrap_or_else(|e| panic!("restarting containerd: {e}"));
    // The task runs on under its shim: sampled on, never ended, never reported twice.
    let mark = watch.mark();
    watch.pump_for(Duration::from_millis(2500));
    assert!(watch.samples()[mark..].iter().any(|x| x.is_of(index)));
    assert_eq!(finals(&watch, &task), 0, "{}", watch.recent(20));
    // One life: its sequence carries on from its first sample.
    assert_eq!(s.sequence, 1);
    assert_eq!(
        watch.of(index).iter().filter(|x| x.sequence == 1).count(),
        1
    );
    // The restarted containerd's tasks are found, and ended, as before.
    let mark = watch.mark();
    let after = ctrd.run("afterrestart", &[], &["sleep", "300"]);
    first_sample(&mut watch, &agent, &after, mark);
    ctrd.kill(&task);
    let i = index_of(&task);
    watch
        .wait(mark, PROMPT, |x| x.is_of(i) && x.is_final())
        .unwrap_or_else(|| panic!("no final sample after the restart\n{}", watch.recent(20)));
    watch.pump_for(Duration::from_secs(1));
    assert_eq!(finals(&watch, &task), 1);
}
