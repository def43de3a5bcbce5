//! 10,000 simulated containerd tasks: the Docker simulation's generated /proc and /sys tree
//! (`fixture_tree.rs`: v1 hierarchies, `/docker/<id>` cgroups, one process directory each), plus a
//! containerd state directory holding one bundle per container (`config.json` with that cgroup
//! path, `init.pid` with its pid), given to the static release agent with `containerd { }`,
//! `--proc-root`/`--sys-root`, polling 30 s. With another proc root the agent watches no process
//! exits (the pids are not this namespace's): the 30-s re-scan looks at every task instead, which
//! this figure includes.
//!
//! Measured: start-up (spawn -> every task's first sample), the agent's CPU as a share of one core
//! over whole polling intervals, samples received per interval, peak RSS (`VmHWM`).

#[path = "collector.rs"]
mod collector;
#[path = "common.rs"]
mod common;
#[path = "fixture_tree.rs"]
mod fixture_tree;
// The harness's own unit tests are compiled out here (no libtest), leaving their imports unused.
#[allow(unused_imports)]
#[path = "../support/mod.rs"]
mod support;

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use collector::Collector;
use common::{median, report, section, spread, Verdict};
use fixture_tree::FixtureTree;

const SIMULATED: usize = 10_000;
const POLLING: u32 = 30;
const INTERVALS: usize = 3;

fn main() {
    let bin = common::require_static_binary();
    let parent = fixture_tree::scratch_parent();
    section(&format!(
        "{SIMULATED} simulated containerd tasks, polling {POLLING} s"
    ));
    let tree = FixtureTree::generate(&parent, "ctrd-sim", SIMULATED);
    let state = tree.root.join("ctrd-state");
    let ns = state.join("io.containerd.runtime.v2.task/k8s.io");
    for c in &tree.containers {
        let dir = ns.join(&c.id);
        std::fs::create_dir_all(&dir).expect("bundle");
        std::fs::write(
            dir.join("config.json"),
            format!(
                "{{\"ociVersion\":\"1.0.2\",\"hostname\":\"{}\",\"linux\":{{\"cgroupsPath\":\"/docker/{}\"}},\
                 \"annotations\":{{\"io.kubernetes.cri.container-type\":\"container\",\
                 \"io.kubernetes.cri.container-name\":\"{}\",\
                 \"io.kubernetes.cri.sandbox-name\":\"pod-{}\",\
                 \"io.kubernetes.cri.sandbox-namespace\":\"default\"}}}}",
                c.name, c.id, c.name, c.name
            ),
        )
        .expect("config.json");
        std::fs::write(dir.join("init.pid"), c.pid.to_string()).expect("init.pid");
    }
    let collector = Collector::start(false);
    let config = tree.root.join("csflowd.conf");
    std::fs::write(
        &config,
        format!(
            "sflow {{\n  polling = {POLLING}\n  agentIP = 192.0.2.1\n  collector {{ ip = {} udpport = {} }}\n  containerd {{ state = {} }}\n}}\n",
            collector.addr().ip(),
            collector.addr().port(),
            state.display()
        ),
    )
    .expect("configuration");
    let log = tree.root.join("agent.log");
    let began = Instant::now();
    let mut agent = Command::new(&bin)
        .arg("-d")
        .arg("-f")
        .arg(&config)
        .arg("--proc-root")
        .arg(tree.proc())
        .arg("--sys-root")
        .arg(tree.sys())
        .arg("--etc-root")
        .arg(tree.etc())
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(&log).expect("log"))
        .spawn()
        .expect("spawn the agent");
    let pid = agent.id();
    let all = common::wait_for(Duration::from_secs(300), || {
        collector.container_sources() >= SIMULATED
    });
    let startup = began.elapsed().as_secs_f64();
    let seen = collector.container_sources();
    if !all {
        let text = std::fs::read_to_string(&log).unwrap_or_default();
        let lines: Vec<&str> = text.lines().collect();
        eprintln!(
            "    agent log tail:\n{}",
            lines[lines.len().saturating_sub(20)..].join("\n")
        );
    }
    report(
        "containerd: start-up with 10,000 simulated tasks (spawn -> all first samples)",
        &format!("{startup:.1} s ({seen} reported)"),
        "-",
        Verdict::Info,
    );
    std::thread::sleep(Duration::from_secs(2));
    let mut shares = Vec::new();
    let mut received = Vec::new();
    for _ in 0..INTERVALS {
        let (c0, n0, t0) = (
            common::thread_cpu_ns(pid),
            collector.container_samples(),
            Instant::now(),
        );
        std::thread::sleep(Duration::from_secs(u64::from(POLLING)));
        let (c1, n1, t1) = (
            common::thread_cpu_ns(pid),
            collector.container_samples(),
            Instant::now(),
        );
        if let (Some(c0), Some(c1)) = (c0, c1) {
            let secs = (t1 - t0).as_secs_f64();
            shares.push((c1 - c0) as f64 / 1e9 / secs * 100.0);
            received.push((n1 - n0) as f64 / (secs / f64::from(POLLING)) / SIMULATED as f64);
        }
    }
    let hwm = common::status_kib(pid, "VmHWM").unwrap_or(0) as f64;
    eprintln!("    CPU % of a core {}", spread(&shares, 3));
    eprintln!("    samples received / expected {}", spread(&received, 3));
    let share = median(&shares);
    report(
        "containerd: agent CPU, 10,000 simulated tasks, polling 30 s (re-scan included)",
        &format!("{share:.2} % of a core"),
        "<= 1 %",
        Verdict::of(share <= 1.0),
    );
    report(
        "  samples received / expected per interval",
        &format!("{:.3}", median(&received)),
        "1",
        Verdict::Info,
    );
    report(
        "containerd: agent peak RSS (VmHWM), 10,000 simulated tasks",
        &common::mib_of_kib(hwm),
        "<= 8 MiB",
        Verdict::of(hwm <= 8.0 * 1024.0),
    );
    support::process::terminate(&mut agent, Duration::from_secs(20));
}
