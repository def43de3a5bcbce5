//! Container counters straight from the kernel, against a real, private Podman service (cgroup v1,
//! cgroupfs manager: a container's files are under `<hierarchy>/libpod_parent/libpod-<id>/`).
//! See tests/counters_docker.rs for the method; this is its CPU and memory limit scenario.

mod support;

use std::time::{Duration, Instant};

use support::containers::{run, PROMPT, RUNNING};
use support::counters::kernel::Probe;
use support::counters::{assert_matches_kernel, CounterRig};

#[test]
fn podman_cpu_burner_with_cpu_and_memory_limits() {
    let Some(podman) = support::podman() else {
        return;
    };
    let burner = run(
        &podman,
        "csf-burner",
        &["--cpus", "0.5", "--memory", "64m"],
        &["sh", "-c", "while :; do :; done"],
    );
    let mut rig = CounterRig::start(podman, 1);
    let index = burner.index;
    let first = rig.wait(0, 2 * PROMPT, "first sample of csf-burner", |s| {
        s.index == index
    });
    assert_eq!(first.hostname, burner.name);
    let mut probe = Probe::new(&rig.engine, &burner.id);
    let limits = probe.last().clone();
    assert_eq!(
        (limits.quota_us, limits.period_us, limits.memory_limit),
        (Some(50_000), Some(100_000), Some(67_108_864)),
        "--cpus 0.5 --memory 64m in the kernel's files"
    );
    let began = Instant::now();
    let mut previous = None;
    for _ in 0..2 {
        let (sample, window) =
            rig.sample_with_window(&mut probe, index, began, Duration::from_secs(15), |s| {
                s.counters.state == RUNNING
            });
        let what = format!("podman burner sample {}", sample.sequence);
        assert_matches_kernel(&sample, &window, &probe, &rig.host, &what);
        let c = &sample.counters;
        assert_eq!(c.nr_virt_cpu, 1, "{what}: ceil(50000 / 100000)");
        assert_eq!(c.max_memory, 67_108_864, "{what}: --memory 64m");
        assert!(c.memory > 0, "{what}: memory");
        if let Some(before) = previous {
            assert!(
                c.cpu_time > before,
                "{what}: cpuTime {} after {before}",
                c.cpu_time
            );
        }
        previous = Some(c.cpu_time);
    }
}
