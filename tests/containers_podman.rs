//! Container tracking against a real, private Podman service (its Docker-compatible API): the
//! csflowd binary started with `-d -f conf` (a `docker { socket = <podman.sock> }` block), its UDP
//! output on loopback read by the independent decoder and walked for record lengths
//! (tests/support/containers.rs checks every sample), while the test drives containers through
//! the podman CLI.
//!
//! Podman's events differ from Docker's: its CLI's `stop` sends no `stop` event (only `died`,
//! reported as `die`, then `cleanup`), and a removal is `remove`, not `destroy`. Containers get
//! `--ulimit` settings from the harness's containers.conf (this machine lacks CAP_SYS_RESOURCE).
//! Without root outside CI the tests skip (see support).

mod support;

use support::containers::{self, pause_and_unpause, run, started_after, Rig, PROMPT};

#[test]
fn podman_containers_running_before_the_agent_are_reported() {
    let Some(podman) = support::podman() else {
        return;
    };
    containers::running_before_the_agent(podman);
}

#[test]
fn podman_container_started_after_the_agent_then_paused_and_unpaused() {
    let Some(podman) = support::podman() else {
        return;
    };
    let sentinel = run(&podman, "csf-sentinel", &[], &["sleep", "300"]);
    let mut rig = Rig::start(podman, 2);
    // Its first sample proves the agent has listed the engine, so its events stream is open.
    rig.first_sample(&sentinel, rig.interval() + 2 * PROMPT);

    let late = started_after(&mut rig, "csf-late");
    containers::assert_distinct(&[&sentinel, &late]);
    pause_and_unpause(&mut rig, &late);
}

#[test]
fn podman_stopped_killed_and_short_lived_containers_send_one_final_sample() {
    let Some(podman) = support::podman() else {
        return;
    };
    containers::ended_containers(podman);
}

#[test]
fn podman_container_paused_before_the_agent_is_reported_paused() {
    let Some(podman) = support::podman() else {
        return;
    };
    containers::paused_before_the_agent(podman);
}
