//! Container tracking against a real, private Docker engine: the csflowd binary started with
//! `-d -f conf` (a `docker { socket = ... }` block), its UDP output on loopback read by the
//! independent decoder and walked for record lengths (tests/support/containers.rs checks every
//! sample), while the test drives containers through the docker CLI.
//!
//! Each test starts its own engine, collector and agent; the engine's teardown removes its
//! containers also when a test fails. Without root outside CI the tests skip (see support).

mod support;

use std::time::{Duration, Instant};

use support::containers::{
    self, latency, note, pause_and_unpause, run, started_after, Container, Rig, PROMPT, RUNNING,
};

#[test]
fn ds_index_matches_the_reference_agents_known_pairs() {
    // Pairs from a real run of hsflowd 2.1.25 (reference/hsflowd-docker.md): the test's own
    // hash, which every scenario below relies on, must give the reference agent's indexes.
    for (uuid, index) in [
        ("520af33257408650f8f67b2c496b528a", 108_628),
        ("7cdf880833688538ce27ba6b98501fce", 120_727),
        ("1277bddbd14cae70e34c84571d15c03d", 101_786),
        ("d049a4af8e4d059a61cf45146e3cf3d3", 133_704),
    ] {
        let id = format!("{uuid}{}", "0".repeat(32));
        assert_eq!(containers::ds_index_of(&id), index, "{uuid}");
    }
}

#[test]
fn docker_containers_running_before_the_agent_are_reported() {
    let Some(docker) = support::docker() else {
        return;
    };
    containers::running_before_the_agent(docker);
}

#[test]
fn docker_container_started_after_the_agent_renamed_paused_and_restarted() {
    let Some(docker) = support::docker() else {
        return;
    };
    let sentinel = run(&docker, "csf-sentinel", &[], &["sleep", "300"]);
    let mut rig = Rig::start(docker, 2);
    // Its first sample proves the agent has listed the engine, so its events stream is open.
    rig.first_sample(&sentinel, rig.interval() + 2 * PROMPT);

    let mut late = started_after(&mut rig, "csf-late");
    containers::assert_distinct(&[&sentinel, &late]);
    rename(&mut rig, &mut late, "csf-renamed");
    pause_and_unpause(&mut rig, &late);
    restart(&mut rig, &late);

    // Once renamed, never the old name again (restarts included).
    let first_renamed = rig
        .watch
        .of(late.index)
        .iter()
        .position(|s| s.hostname.as_deref() == Some("csf-renamed"))
        .unwrap();
    let samples = rig.watch.of(late.index);
    assert!(
        samples[first_renamed..]
            .iter()
            .all(|s| s.hostname.as_deref() == Some("csf-renamed")),
        "the old name came back\n{}",
        rig.report()
    );
}

/// Renames `container` and checks that its next sample carries the new name. One sample already
/// on its way when the rename happened may still carry the old one.
fn rename(rig: &mut Rig, container: &mut Container, new_name: &str) {
    let index = container.index;
    let mark = rig.watch.mark();
    let took = rig.cli(&["rename", &container.id, new_name]);
    let returned = Instant::now();
    let renamed = rig.expect(
        &format!("sample named {new_name}"),
        mark,
        rig.interval() + PROMPT,
        |s| s.is_of(index) && s.hostname.as_deref() == Some(new_name),
    );
    let old_name = rig.watch.samples()[mark..renamed.position]
        .iter()
        .filter(|s| s.is_of(index))
        .count();
    assert!(
        old_name <= 1,
        "{old_name} samples with the old name after the rename\n{}",
        rig.report()
    );
    note(&format!(
        "docker: `rename` took {took:?}; first sample with the new name {:?} after it returned",
        latency(&renamed, returned)
    ));
    container.name = new_name.to_owned();
}

/// `restart -t 1` (sleep ignores SIGTERM, so it is killed after 1 s): one final sample for the
/// life that ended, then the same data source goes on, its sequence past every earlier one.
fn restart(rig: &mut Rig, container: &Container) {
    let index = container.index;
    let before = rig.watch.of(index).last().unwrap().sequence;
    let mark = rig.watch.mark();
    let took = rig.cli(&["restart", "-t", "1", &container.id]);
    let returned = Instant::now();
    let ended = rig.expect("final sample of the restarted life", mark, PROMPT, |s| {
        s.is_of(index) && s.is_final()
    });
    let resumed = rig.expect(
        "running sample after the restart",
        ended.position + 1,
        PROMPT,
        |s| s.is_of(index) && s.state == Some(RUNNING),
    );
    assert!(
        before < ended.sequence && ended.sequence < resumed.sequence,
        "sequences {before}, {}, {} around the restart\n{}",
        ended.sequence,
        resumed.sequence,
        rig.report()
    );
    assert_eq!(
        resumed.hostname.as_deref(),
        Some(container.name.as_str()),
        "name after the restart"
    );
    let finals = rig.watch.samples()[mark..resumed.position]
        .iter()
        .filter(|s| s.is_of(index) && s.is_final())
        .count();
    assert_eq!(
        finals,
        1,
        "final samples around the restart\n{}",
        rig.report()
    );
    note(&format!(
        "docker: `restart -t 1` took {took:?}; running again {:?} after it returned",
        latency(&resumed, returned)
    ));
}

#[test]
fn docker_stopped_killed_and_short_lived_containers_send_one_final_sample() {
    let Some(docker) = support::docker() else {
        return;
    };
    containers::ended_containers(docker);
}

#[test]
fn docker_engine_killed_and_restarted_while_the_agent_runs() {
    let Some(docker) = support::docker() else {
        return;
    };
    // dockerd without live-restore stops the containers it finds running when it starts again:
    // `ended` is killed that way (after its 1 s stop timeout), `survivor` is restarted by its
    // policy (same id), and `vanished` is killed by this test while the daemon is down.
    let ended = run(
        &docker,
        "csf-ended",
        &["--stop-timeout", "1"],
        &["sleep", "300"],
    );
    let vanished = run(&docker, "csf-vanished", &[], &["sleep", "300"]);
    let survivor = run(
        &docker,
        "csf-survivor",
        &["--restart", "always", "--stop-timeout", "1"],
        &["sleep", "300"],
    );
    let vanished_pid = docker.inspect_pid(&vanished.id);
    let mut rig = Rig::start(docker, 2);
    for container in [&ended, &vanished, &survivor] {
        rig.first_sample(container, rig.interval() + 2 * PROMPT);
    }

    let mark = rig.watch.mark();
    let began = Instant::now();
    rig.engine.kill_daemon();
    support::process::send_signal("KILL", vanished_pid);
    let restart = rig.engine.restart_daemon();
    note(&format!(
        "docker: daemon killed and back (answering /_ping) after {:?}, restart alone {restart:?}",
        began.elapsed()
    ));

    // Reconnected: a container started now is reported. The agent's backoff began below a
    // second and doubles, so it is back within seconds; the bound is generous.
    let fresh = run(&rig.engine, "csf-fresh", &[], &["sleep", "300"]);
    let returned = Instant::now();
    containers::assert_distinct(&[&ended, &vanished, &survivor, &fresh]);
    let first = rig.first_sample(&fresh, Duration::from_secs(20));
    note(&format!(
        "docker: after the engine restart, a new container reported {:?} after `run` returned",
        latency(&first, returned)
    ));

    // The survivor keeps its data source and its sequence goes on, running again.
    let survivor_before = rig.watch.samples()[..mark]
        .iter()
        .filter(|s| s.is_of(survivor.index))
        .map(|s| s.sequence)
        .max()
        .unwrap();
    let again = rig.expect(
        "survivor's sample after the reconnection",
        first.position + 1,
        rig.interval() + PROMPT,
        |s| s.is_of(survivor.index) && s.state == Some(RUNNING),
    );
    assert!(
        again.sequence > survivor_before,
        "survivor's sequence {} after {survivor_before}",
        again.sequence
    );

    // The ones that ended during the outage: one final sample each, and then silence.
    for container in [&ended, &vanished] {
        let index = container.index;
        rig.expect(
            &format!("final sample of {}", container.name),
            mark,
            PROMPT,
            |s| s.is_of(index) && s.is_final(),
        );
    }
    rig.watch
        .pump_for(rig.interval() * 2 + Duration::from_secs(1));
    for container in [&ended, &vanished] {
        let samples = rig.watch.of(container.index);
        let what = format!("{} (3:{})", container.name, container.index);
        let finals = samples.iter().filter(|s| s.is_final()).count();
        assert_eq!(finals, 1, "{what}: final samples\n{}", rig.report());
        assert!(
            samples.last().unwrap().is_final(),
            "{what}: a sample after the final one\n{}",
            rig.report()
        );
    }
}

/// `docker { hostname = on }` reports `Config.Hostname`; two tracked containers with the same one
/// are told apart as `name.<short id>`, and the plain name returns when only one is left.
#[test]
fn docker_hostname_option_and_duplicate_names() {
    let Some(docker) = support::docker() else {
        return;
    };
    let a = run(
        &docker,
        "csf-dup-a",
        &["--hostname", "shared"],
        &["sleep", "300"],
    );
    let b = run(
        &docker,
        "csf-dup-b",
        &["--hostname", "shared"],
        &["sleep", "300"],
    );
    let solo = run(
        &docker,
        "csf-solo",
        &["--hostname", "solo-host"],
        &["sleep", "300"],
    );
    containers::assert_distinct(&[&a, &b, &solo]);
    let watch = containers::Watch::bind();
    let config = containers::agent_config(&docker, watch.addr(), 1)
        .replace("docker {", "docker { hostname = on");
    let agent = support::agent::Agent::start("hostname", &config, &[]);
    let mut rig = Rig {
        agent,
        watch,
        engine: docker,
        polling: 1,
    };
    let short = |c: &Container| c.id[..12].to_string();
    let name_of = |rig: &mut Rig, c: &Container, want: &str| {
        let from = rig.watch.mark();
        let want = want.to_string();
        rig.expect(
            &format!("a sample of {} named {want}", c.name),
            from,
            4 * PROMPT,
            |s| s.is_of(c.index) && s.hostname.as_deref() == Some(want.as_str()),
        );
    };
    name_of(&mut rig, &solo, "solo-host");
    name_of(&mut rig, &a, &format!("shared.{}", short(&a)));
    name_of(&mut rig, &b, &format!("shared.{}", short(&b)));
    rig.cli(&["kill", &b.id]);
    name_of(&mut rig, &a, "shared");
}

#[test]
fn docker_container_paused_before_the_agent_is_reported_paused() {
    let Some(docker) = support::docker() else {
        return;
    };
    containers::paused_before_the_agent(docker);
}
