//! A containerd task's counters as a collector receives them, checked against the kernel's files
//! of the task's cgroup (`/<namespace>/<id>` in each v1 hierarchy), against a real, private
//! containerd. The task burns some CPU, then sleeps: its counters then stand still, so a sample
//! must equal the files exactly; after `ctr task kill` the cgroup stays (the task is stopped, not
//! deleted) with the final values, which the final sample must carry.
//!
//! Under CI this test fails when containerd cannot start; elsewhere it skips, saying so.

mod support;

use std::time::{Duration, Instant};

use support::agent::{config_for, Agent};
use support::containerd::{task_container_id, v1_dir};
use support::containers::ds_index_of;
use support::sflow::{walk, Collector};

fn be32(b: &[u8], at: usize) -> u32 {
    u32::from_be_bytes(b[at..at + 4].try_into().unwrap())
}

fn be64(b: &[u8], at: usize) -> u64 {
    u64::from_be_bytes(b[at..at + 8].try_into().unwrap())
}

/// (state, cpu_time_ms, memory) of the next sample of 3:`index` satisfying `wanted`.
fn next_sample(
    collector: &Collector,
    index: u32,
    timeout: Duration,
    wanted: impl Fn(u32) -> bool,
) -> Option<(u32, u32, u64)> {
    let deadline = Instant::now() + timeout;
    loop {
        let left = deadline.checked_duration_since(Instant::now())?;
        let d = collector.recv(left)?;
        for s in walk(&d).1 {
            if (s.class, s.index) != (3, index) {
                continue;
            }
            let cpu = s.record(2101).expect("virt_cpu");
            let mem = s.record(2102).expect("virt_memory");
            let state = be32(cpu, 0);
            if wanted(state) {
                return Some((state, be32(cpu, 4), be64(mem, 0)));
            }
        }
    }
}

#[test]
fn a_tasks_samples_and_its_final_sample_match_its_cgroup() {
    let Some(ctrd) = support::containerd() else {
        return;
    };
    if !std::path::Path::new("/sys/fs/cgroup/cpuacct").is_dir() {
        // The v1 files this test reads; cgroup v2 parsing is tested with fixtures.
        assert!(!support::in_ci(), "CI machines have cgroup v1 hierarchies");
        return;
    }
    let task = ctrd.run(
        "burn",
        &[],
        &[
            "sh",
            "-c",
            "i=0; while [ $i -lt 300000 ]; do i=$((i+1)); done; exec sleep 300",
        ],
    );
    let cgroup = format!("/{}/{}", task.ns, task.id);
    let usage = v1_dir("cpuacct", &cgroup).join("cpuacct.usage");
    let memory = v1_dir("memory", &cgroup).join("memory.usage_in_bytes");
    // Wait until the loop is over: the usage stands still.
    let deadline = Instant::now() + Duration::from_secs(60);
    let mut last = support::read_u64(&usage);
    loop {
        std::thread::sleep(Duration::from_millis(300));
        let now = support::read_u64(&usage);
        if now == last {
            break;
        }
        assert!(Instant::now() < deadline, "the task still burns CPU");
        last = now;
    }
    assert!(last > 10_000_000, "the task burned {last} ns only");

    let collector = Collector::bind();
    let config = config_for(
        collector.addr(),
        &format!("  containerd {{ state = {} }}", ctrd.state.display()),
    );
    let agent = Agent::start("ctrd-counters", &config, &[]);
    let index = ds_index_of(&task_container_id(&task.ns, &task.id));
    for n in 0..2 {
        let (state, cpu_ms, mem) = next_sample(&collector, index, Duration::from_secs(5), |_| true)
            .unwrap_or_else(|| panic!("no sample {n}\n{}", agent.stderr()));
        assert_eq!(state, 1);
        assert_eq!(
            u64::from(cpu_ms),
            support::read_u64(&usage) / 1_000_000,
            "cpu_time"
        );
        assert_eq!(mem, support::read_u64(&memory), "memory");
    }
    ctrd.kill(&task);
    let (state, cpu_ms, mem) = next_sample(&collector, index, Duration::from_secs(5), |s| s == 4)
        .unwrap_or_else(|| panic!("no final sample\n{}", agent.stderr()));
    assert_eq!(state, 4);
    // The stopped task's cgroup keeps its final values until the task is deleted.
    let final_usage = support::read_u64(&usage);
    assert_eq!(u64::from(cpu_ms), final_usage / 1_000_000, "final cpu_time");
    assert!(mem > 0, "final memory is the last value read, not zero");
}
