//! Container counters straight from the kernel, against a real, private Docker engine (cgroup v1,
//! cgroupfs driver: a container's files are under `<hierarchy>/docker/<id>/`).
//!
//! Each test starts its own engine, a loopback collector and the csflowd binary
//! (`docker { socket = ... }`, polling 1), runs busybox containers, and compares every counter field
//! of their samples (read by the independent decoder and by a walk of the bytes, which must agree)
//! with the kernel's files, read by the test itself while it waits for the sample: a counter that
//! moves must lie between the readings around the moment the agent read it, a value that stands
//! still must equal the files (tests/support/counters.rs explains the window). Bounds on time are
//! generous; nothing here measures speed. Without root outside CI the tests skip (see support).

mod support;

use std::time::{Duration, Instant};

use support::containers::{run, Container, EXITED, PAUSED, PROMPT, RUNNING};
use support::counters::kernel::{disk_of, parse_mac, Probe, Reading};
use support::counters::veth::{Veth, PEER_ADDRESS};
use support::counters::{
    assert_matches_kernel, fields, nothing_unknown, ContainerSample, CounterRig, Counters, Kind,
    Net,
};

/// A shell loop that burns all the CPU it is given.
const BURN: &[&str] = &["sh", "-c", "while :; do :; done"];

/// How long a sample with a full window may take (polling 1, a window of 2.5 s).
const WINDOW_WAIT: Duration = Duration::from_secs(15);

/// One ICMPv6 echo of 56 data bytes on the wire: Ethernet 14 + IPv6 40 + ICMPv6 8 + 56.
const ECHO_FRAME: u64 = 118;

/// Writes 20 MiB with O_DIRECT and reads them back the same way (busybox dd has both flags), so
/// that the I/O reaches the disk inside the container's blkio cgroup.
const DD: &str = "dd if=/dev/zero of=/f bs=1M count=20 oflag=direct && \
                  dd if=/f of=/dev/null bs=1M iflag=direct";

/// The next sample of 3:`index` with a full window beginning after `not_before`, checked against
/// the kernel's files ([`assert_matches_kernel`]); its state must be running.
fn running_sample(
    rig: &mut CounterRig,
    probe: &mut Probe,
    index: u32,
    not_before: Instant,
    what: &str,
) -> (ContainerSample, Vec<Reading>) {
    let (sample, window) = rig.sample_with_window(probe, index, not_before, WINDOW_WAIT, |_| true);
    let what = format!("{what} (sample {})", sample.sequence);
    assert_eq!(sample.counters.state, RUNNING, "{what}: state");
    assert_matches_kernel(&sample, &window, probe, &rig.host, &what);
    (sample, window)
}

/// Starts the agent (polling 1) on `engine` and waits for the first sample of each container.
fn rig_with(engine: support::Engine, containers: &[&Container]) -> CounterRig {
    let mut rig = CounterRig::start(engine, 1);
    for c in containers {
        let index = c.index;
        let first = rig.wait(0, 2 * PROMPT, &format!("first sample of {}", c.name), |s| {
            s.index == index
        });
        assert_eq!(first.hostname, c.name);
        assert_eq!(first.counters.state, RUNNING);
    }
    rig
}

/// `--device-read-bps` and `--device-write-bps` at 500 MB/s on the disk holding the engine's
/// storage: without a throttle rule the v1 blkio.throttle files stay at `Total 0`
/// (reference/testing.md), with one they count the container's I/O to that disk.
fn throttle_options(engine: &support::Engine) -> Vec<String> {
    let (device, numbers) = disk_of(engine.dir());
    support::containers::note(&format!(
        "docker: the engine's storage is on {} ({numbers})",
        device.display()
    ));
    let rule = format!("{}:500mb", device.display());
    vec![
        "--device-read-bps".into(),
        rule.clone(),
        "--device-write-bps".into(),
        rule,
    ]
}

#[test]
fn docker_cpu_burner_with_half_a_cpu() {
    let Some(docker) = support::docker() else {
        return;
    };
    let burner = run(&docker, "csf-burner", &["--cpus", "0.5"], BURN);
    let mut rig = rig_with(docker, &[&burner]);
    let mut probe = Probe::new(&rig.engine, &burner.id);
    let began = Instant::now();
    let limits = probe.last().clone();
    assert_eq!(
        (limits.quota_us, limits.period_us),
        (Some(50_000), Some(100_000)),
        "--cpus 0.5 in the kernel's files"
    );

    let mut previous: Option<u32> = None;
    for _ in 0..3 {
        let (sample, _) = running_sample(&mut rig, &mut probe, burner.index, began, "burner");
        let what = format!("burner sample {}", sample.sequence);
        let c = &sample.counters;
        assert_eq!(c.nr_virt_cpu, 1, "{what}: ceil(50000 / 100000)");
        assert_eq!(c.max_memory, rig.host.mem_total, "{what}: no memory limit");
        assert_eq!(c.net, Net::default(), "{what}: only lo");
        assert!(c.adapters.is_empty(), "{what}: only lo");
        if let Some(before) = previous {
            assert!(
                c.cpu_time > before,
                "{what}: cpuTime {} after {before}",
                c.cpu_time
            );
        }
        previous = Some(c.cpu_time);
    }

    // Paused, its cgroup is frozen: the counters stand still, and the samples equal the files.
    let from = rig.samples.len();
    rig.engine.cli(&["pause", &burner.id]);
    let since = Instant::now();
    let (paused, window) =
        rig.sample_since(&mut probe, burner.index, from, since, WINDOW_WAIT, |s| {
            s.counters.state == PAUSED
        });
    let frozen = window[0].cpu_ns.unwrap();
    assert!(
        window.iter().all(|r| r.cpu_ns == Some(frozen)),
        "cpuacct.usage moved in a frozen cgroup"
    );
    assert_matches_kernel(&paused, &window, &probe, &rig.host, "paused sample");
    assert_eq!(u64::from(paused.counters.cpu_time), frozen / 1_000_000);
    let from = rig.samples.len();
    let index = burner.index;
    let again = rig.wait(from, WINDOW_WAIT, "a periodic paused sample", |s| {
        s.index == index && s.counters.state == PAUSED
    });
    assert_eq!(again.counters.cpu_time, paused.counters.cpu_time);
}

#[test]
fn docker_memory_and_cpuset_limits_and_none() {
    let Some(docker) = support::docker() else {
        return;
    };
    // 16 MiB in the container's /dev/shm (a tmpfs whose pages are charged to its memory cgroup).
    let limited = run(
        &docker,
        "csf-memory",
        &["--memory", "64m"],
        &[
            "sh",
            "-c",
            "dd if=/dev/zero of=/dev/shm/fill bs=1M count=16 && exec sleep 300",
        ],
    );
    let pinned = run(
        &docker,
        "csf-cpuset",
        &["--cpuset-cpus", "0"],
        &["sleep", "300"],
    );
    let free = run(&docker, "csf-free", &[], &["sleep", "300"]);
    support::containers::assert_distinct(&[&limited, &pinned, &free]);
    let mut rig = rig_with(docker, &[&limited, &pinned, &free]);
    let host = rig.host;

    let mut probe = Probe::new(&rig.engine, &limited.id);
    assert_eq!(probe.last().memory_limit, Some(67_108_864), "--memory 64m");
    let now = Instant::now();
    let (s, _) = running_sample(&mut rig, &mut probe, limited.index, now, "--memory 64m");
    assert_eq!(s.counters.max_memory, 67_108_864, "--memory 64m");
    assert!(
        s.counters.memory >= 16 << 20,
        "--memory 64m: memory {} with 16 MiB in /dev/shm",
        s.counters.memory
    );
    assert_eq!(
        s.counters.nr_virt_cpu, host.cpus,
        "--memory 64m: no CPU limit"
    );

    let mut probe = Probe::new(&rig.engine, &pinned.id);
    assert_eq!(probe.last().cpuset_cpus, Some(1), "--cpuset-cpus 0");
    let now = Instant::now();
    let (s, _) = running_sample(&mut rig, &mut probe, pinned.index, now, "--cpuset-cpus 0");
    assert_eq!(s.counters.nr_virt_cpu, 1, "--cpuset-cpus 0");
    assert_eq!(s.counters.max_memory, host.mem_total, "--cpuset-cpus 0");

    let mut probe = Probe::new(&rig.engine, &free.id);
    assert!(
        probe.last().memory_limit.unwrap() >= host.mem_total,
        "no limit in memory.limit_in_bytes"
    );
    let now = Instant::now();
    let (s, _) = running_sample(&mut rig, &mut probe, free.index, now, "no limits");
    assert_eq!(
        s.counters.nr_virt_cpu, host.cpus,
        "no limits: the host's CPUs"
    );
    assert_eq!(s.counters.max_memory, host.mem_total, "no limits: MemTotal");
    assert!(s.counters.memory > 0, "no limits: memory");
}

/// `docker update` changes a running container's limits; the agent reads them again when the engine
/// reports it, so the next sample shows them.
#[test]
fn docker_update_changes_the_limits_of_the_next_sample() {
    let Some(docker) = support::docker() else {
        return;
    };
    let c = run(
        &docker,
        "csf-update",
        &["--memory", "64m"],
        &["sleep", "300"],
    );
    let mut rig = rig_with(docker, &[&c]);
    let host = rig.host;
    let mut probe = Probe::new(&rig.engine, &c.id);
    let now = Instant::now();
    let (s, _) = running_sample(&mut rig, &mut probe, c.index, now, "before docker update");
    assert_eq!(s.counters.max_memory, 64 << 20);
    assert_eq!(s.counters.nr_virt_cpu, host.cpus);

    rig.engine.cli(&[
        "update",
        "--memory",
        "96m",
        "--memory-swap",
        "-1",
        "--cpus",
        "1",
        &c.id,
    ]);
    let updated = Instant::now();
    let mut probe = Probe::new(&rig.engine, &c.id);
    assert_eq!(probe.last().memory_limit, Some(96 << 20), "the kernel's");
    let (s, _) = running_sample(
        &mut rig,
        &mut probe,
        c.index,
        updated,
        "after docker update",
    );
    assert_eq!(s.counters.max_memory, (96u64 << 20).min(host.mem_total));
    assert_eq!(s.counters.nr_virt_cpu, 1, "--cpus 1");
}

/// With an open files limit that leaves room to keep only one container's counter files open, the
/// others' are opened at each poll, and every container's counters still match the kernel's.
#[test]
fn docker_counters_past_the_descriptor_budget() {
    let Some(docker) = support::docker() else {
        return;
    };
    let containers: Vec<Container> = (0..3)
        .map(|i| run(&docker, &format!("csf-budget-{i}"), &[], &["sleep", "300"]))
        .collect();
    let refs: Vec<&Container> = containers.iter().collect();
    support::containers::assert_distinct(&refs);
    // The agent keeps all but 256 descriptors for counter files: 6 here, one container's five.
    let limit = 256 + 6;
    let nofile = format!("--nofile={limit}:{limit}");
    let mut rig = CounterRig::start_wrapped(docker, 1, &["prlimit", &nofile]);
    for c in &containers {
        let index = c.index;
        rig.wait(0, 2 * PROMPT, &format!("first sample of {}", c.name), |s| {
            s.index == index
        });
    }
    for round in 0..2 {
        for c in &containers {
            let mut probe = Probe::new(&rig.engine, &c.id);
            let now = Instant::now();
            let what = format!("{} past the budget, round {round}", c.name);
            let (s, _) = running_sample(&mut rig, &mut probe, c.index, now, &what);
            assert!(nothing_unknown(&s.counters), "{what}: {:?}", s.counters);
        }
    }
    // The containers' cgroup files the agent holds open: only what the budget allows.
    let kept: Vec<String> = std::fs::read_dir(format!("/proc/{}/fd", rig.agent.pid()))
        .unwrap()
        .filter_map(|e| std::fs::read_link(e.ok()?.path()).ok())
        .map(|target| target.display().to_string())
        .filter(|target| target.contains("/docker/"))
        .collect();
    assert!(
        (4..=6).contains(&kept.len()),
        "cgroup files kept open with room for 6 descriptors: {kept:#?}"
    );
}

#[test]
fn docker_block_io_under_a_throttle_rule() {
    let Some(docker) = support::docker() else {
        return;
    };
    let options = throttle_options(&docker);
    let options: Vec<&str> = options.iter().map(String::as_str).collect();
    let disk = run(&docker, "csf-disk", &options, &["sleep", "300"]);
    let mut rig = rig_with(docker, &[&disk]);
    let mut probe = Probe::new(&rig.engine, &disk.id);

    rig.engine.cli(&["exec", &disk.id, "sh", "-c", DD]);
    let done = Instant::now();
    let (s, window) = running_sample(&mut rig, &mut probe, disk.index, done, "after dd");
    let d = &s.counters.disk;
    assert!(
        d.wr_bytes >= 20 << 20 && d.rd_bytes >= 20 << 20,
        "20 MiB written and read back: {d:?}"
    );
    assert!(d.rd_req > 0 && d.wr_req > 0, "requests: {d:?}");
    let r = window.last().unwrap();
    assert_eq!(
        (d.rd_bytes, d.wr_bytes),
        (r.disk_bytes.unwrap().read, r.disk_bytes.unwrap().write),
        "the I/O is over: equal to blkio.throttle.io_service_bytes"
    );
    assert_eq!(
        (u64::from(d.rd_req), u64::from(d.wr_req)),
        (
            r.disk_requests.unwrap().read,
            r.disk_requests.unwrap().write
        ),
        "the I/O is over: equal to blkio.throttle.io_serviced"
    );
}

#[test]
fn docker_network_counters_and_adapter_of_a_veth() {
    let Some(docker) = support::docker() else {
        return;
    };
    let c = run(&docker, "csf-net", &[], &["sleep", "300"]);
    let mut rig = rig_with(docker, &[&c]);
    let mut probe = Probe::new(&rig.engine, &c.id);
    let first = rig.of(c.index)[0].clone();
    assert_eq!(first.counters.net, Net::default(), "only lo at first");
    assert!(first.counters.adapters.is_empty(), "only lo at first");

    let veth = Veth::into_container(probe.pid);
    let inner = veth.container_end.clone();
    rig.engine.cli(&[
        "exec",
        &c.id,
        "ping",
        "-6",
        "-c",
        "5",
        "-i",
        "0.2",
        PEER_ADDRESS,
    ]);
    let mac = parse_mac(&rig.engine.cli(&[
        "exec",
        &c.id,
        "cat",
        &format!("/sys/class/net/{inner}/address"),
    ]));
    let if_index: u32 = rig
        .engine
        .cli(&[
            "exec",
            &c.id,
            "cat",
            &format!("/sys/class/net/{inner}/ifindex"),
        ])
        .parse()
        .unwrap();
    let done = Instant::now();
    let (s, _) = running_sample(&mut rig, &mut probe, c.index, done, "after ping");
    assert_eq!(
        s.counters.adapters,
        vec![(if_index, vec![mac])],
        "host_adapters: {inner} as the container sees it"
    );
    let n = &s.counters.net;
    assert!(
        n.tx_packets >= 5 && n.rx_packets >= 5,
        "5 echoes each way: {n:?}"
    );
    assert!(
        n.tx_bytes >= 5 * ECHO_FRAME && n.rx_bytes >= 5 * ECHO_FRAME,
        "5 echoes each way: {n:?}"
    );
    drop(veth);
}

#[test]
fn docker_final_sample_keeps_the_last_values() {
    let Some(docker) = support::docker() else {
        return;
    };
    let mut options = vec!["--cpus".to_owned(), "0.5".to_owned()];
    options.extend(throttle_options(&docker));
    let options: Vec<&str> = options.iter().map(String::as_str).collect();
    let c = run(&docker, "csf-final", &options, BURN);
    let mut rig = rig_with(docker, &[&c]);
    let mut probe = Probe::new(&rig.engine, &c.id);
    let veth = Veth::into_container(probe.pid);
    rig.engine.cli(&[
        "exec",
        &c.id,
        "ping",
        "-6",
        "-c",
        "3",
        "-i",
        "0.2",
        PEER_ADDRESS,
    ]);
    rig.engine.cli(&["exec", &c.id, "sh", "-c", DD]);
    let done = Instant::now();
    let (s, _) = running_sample(&mut rig, &mut probe, c.index, done, "before the stop");
    let k = &s.counters;
    assert!(
        k.cpu_time > 0
            && k.memory > 0
            && k.disk.rd_bytes > 0
            && k.disk.wr_req > 0
            && k.net.rx_bytes > 0
            && k.net.tx_packets > 0,
        "every kind of counter moved before the stop: {k:?}"
    );

    // sh as pid 1 ignores SIGTERM: killed after 1 s, then `die`.
    let from = rig.samples.len();
    rig.engine.cli(&["stop", "-t", "1", &c.id]);
    let index = c.index;
    let final_sample = rig.wait(from, WINDOW_WAIT, "the final sample", |s| {
        s.index == index && s.is_final()
    });
    let samples = rig.of(index);
    let f = &final_sample.counters;
    let report = format!("final {f:?}\n{}", rig.report());
    assert_eq!(f.state, EXITED, "{report}");
    assert!(
        nothing_unknown(f),
        "unknown fields in the final sample\n{report}"
    );
    // A poll that fires after the container's cgroup is gone but before the agent has the `die`
    // event reads nothing: that periodic sample carries unknowns (the values read now). It can
    // only happen after the stop began.
    let before_stop = samples.iter().filter(|s| s.position < from);
    for s in before_stop {
        assert!(
            nothing_unknown(&s.counters),
            "sample {} before the stop has unknown fields\n{report}",
            s.sequence
        );
    }
    let periodic: Vec<&Counters> = samples
        .iter()
        .filter(|s| s.counters.state == RUNNING)
        .map(|s| &s.counters)
        .collect();
    let raced = periodic.iter().filter(|c| !nothing_unknown(c)).count();
    if raced > 0 {
        support::containers::note(&format!(
            "docker: {raced} periodic sample(s) between the stop and the die carried unknown fields"
        ));
    }
    // Each field of the final sample against the last value of it that a periodic sample knew.
    let finals = fields(f);
    for (i, (name, kind, value)) in finals.into_iter().enumerate() {
        let value = value.unwrap();
        let last = periodic
            .iter()
            .rev()
            .find_map(|c| fields(c)[i].2)
            .unwrap_or_else(|| panic!("{name} never known\n{report}"));
        match kind {
            Kind::Counter => assert!(
                value >= last,
                "{name}: {value} in the final sample, {last} in the last periodic one\n{report}"
            ),
            Kind::Gauge => assert!(
                last == 0 || value != 0,
                "{name}: 0 in the final sample, {last} in the last periodic one\n{report}"
            ),
            Kind::Limit | Kind::Constant => assert_eq!(value, last, "{name}\n{report}"),
        }
    }
    support::containers::note(&format!("docker: final sample {f:?}"));
    drop(veth);
}

#[test]
fn docker_host_network_container_has_no_traffic_of_its_own() {
    let Some(docker) = support::docker() else {
        return;
    };
    let c = run(
        &docker,
        "csf-hostnet",
        &["--network", "host"],
        &["sleep", "300"],
    );
    let mut rig = rig_with(docker, &[&c]);
    let mut probe = Probe::new(&rig.engine, &c.id);
    assert!(
        probe.host_network,
        "--network host shares the host's namespace"
    );
    let began = Instant::now();
    let (s, window) = running_sample(&mut rig, &mut probe, c.index, began, "--network host");
    assert_eq!(s.counters.net, Net::default(), "not the host's traffic");
    assert!(s.counters.adapters.is_empty(), "not the host's adapters");
    support::containers::note(&format!(
        "docker: the host's interfaces but lo counted {:?} meanwhile",
        window.last().unwrap().net
    ));
}
