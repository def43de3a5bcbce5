//! Figures against a real, private containerd (the test harness's, from Debian's containerd) with
//! 20 idle tasks, the static release agent (`containerd { }`, polling 2 s) and a loopback
//! collector:
//!
//! - `ctr run -d` returns -> the task's first sample arrives;
//! - `ctr task kill` returns -> its final sample arrives (negative: the sample beat the CLI's
//!   return);
//! - the agent's peak RSS (`VmHWM`) and its CPU over 30 s with those tasks.
//!
//! Needs root and the containerd package (as the integration tests do); without them it says so
//! and reports nothing.

#[path = "collector.rs"]
mod collector;
#[path = "common.rs"]
mod common;
// The harness's own unit tests are compiled out here (no libtest), leaving their imports unused.
#[allow(unused_imports)]
#[path = "../support/mod.rs"]
mod support;

use std::time::{Duration, Instant};

use collector::Collector;
use common::{median, report, section, spread, Verdict};
use support::agent::{config_for, Agent};
use support::containerd::{task_container_id, Containerd, Task};
use support::containers::ds_index_of;

/// Idle tasks beside the measured ones.
const IDLE: usize = 20;
/// Latency runs.
const RUNS: usize = 20;

fn main() {
    let bin = common::require_static_binary();
    std::env::set_var("CSFLOWD_STATIC_BIN", &bin);
    section("real containerd");
    let Some(ctrd) = support::containerd() else {
        eprintln!("no private containerd here: the containerd figures are not measured");
        return;
    };
    let idle: Vec<Task> = (0..IDLE)
        .map(|i| ctrd.run(&format!("idle{i}"), &[], &["sleep", "100000"]))
        .collect();
    let collector = Collector::start(true);
    let config = config_for(
        collector.addr(),
        &format!("  containerd {{ state = {} }}", ctrd.state.display()),
    )
    .replace("polling = 1", "polling = 2");
    let agent = Agent::start("bench-ctrd", &config, &[]);
    let all = common::wait_for(Duration::from_secs(30), || {
        collector.container_sources() >= idle.len()
    });
    if !all {
        eprintln!("    not every idle task was reported:\n{}", agent.stderr());
    }

    section("agent with 20 tasks, polling 2 s: CPU and peak memory");
    std::thread::sleep(Duration::from_secs(2));
    let (c0, t0) = (common::thread_cpu_ns(agent.pid()), Instant::now());
    std::thread::sleep(Duration::from_secs(30));
    let (c1, t1) = (common::thread_cpu_ns(agent.pid()), Instant::now());
    if let (Some(c0), Some(c1)) = (c0, c1) {
        let pct = (c1 - c0) as f64 / (t1 - t0).as_nanos() as f64 * 100.0;
        eprintln!("    agent CPU {pct:.3} % of a core over 30 s");
        report(
            "containerd: agent CPU with 20 tasks, polling 2 s",
            &format!("{pct:.3} % of a core"),
            "(information)",
            Verdict::Info,
        );
    }

    section("latency: ctr run -d -> first sample, ctr task kill -> final sample");
    latencies(&ctrd, &collector, &agent);
    if let Some(hwm) = common::status_kib(agent.pid(), "VmHWM") {
        eprintln!("    agent peak RSS {hwm} KiB");
        report(
            "containerd: agent peak RSS (20 idle tasks + 20 runs)",
            &common::mib_of_kib(hwm as f64),
            "(information)",
            Verdict::Info,
        );
    }
    drop(agent);
}

fn signed_ms(at: Instant, since: Instant) -> f64 {
    if at >= since {
        (at - since).as_secs_f64() * 1000.0
    } else {
        -((since - at).as_secs_f64() * 1000.0)
    }
}

fn latencies(ctrd: &Containerd, collector: &Collector, agent: &Agent) {
    let mut first_ms = Vec::new();
    let mut final_ms = Vec::new();
    let mut run_cli_ms = Vec::new();
    let mut kill_cli_ms = Vec::new();
    let mut missing = 0;
    for i in 0..RUNS {
        let id = format!("lat{i}");
        let called = Instant::now();
        let task = ctrd.run(&id, &[], &["sleep", "300"]);
        let returned = Instant::now();
        run_cli_ms.push((returned - called).as_secs_f64() * 1000.0);
        let index = ds_index_of(&task_container_id(&task.ns, &task.id));
        match collector.wait(index, Duration::from_secs(10), |_| true) {
            Some(a) => first_ms.push(signed_ms(a.at, returned)),
            None => missing += 1,
        }
        let called = Instant::now();
        ctrd.kill(&task);
        let returned = Instant::now();
        kill_cli_ms.push((returned - called).as_secs_f64() * 1000.0);
        match collector.wait(index, Duration::from_secs(10), |a| a.is_final()) {
            Some(a) => final_ms.push(signed_ms(a.at, returned)),
            None => missing += 1,
        }
        ctrd.delete(&task);
    }
    if missing > 0 {
        eprintln!(
            "    {missing} samples not seen (a dsIndex collision, or lost):\n{}",
            agent.stderr()
        );
    }
    eprintln!(
        "    run returns -> first sample, ms {}",
        spread(&first_ms, 1)
    );
    eprintln!(
        "    kill returns -> final sample, ms {}",
        spread(&final_ms, 1)
    );
    eprintln!("    ctr run -d itself, ms {}", spread(&run_cli_ms, 0));
    eprintln!("    ctr task kill itself, ms {}", spread(&kill_cli_ms, 0));
    let first = median(&first_ms);
    let last = median(&final_ms);
    let early = |v: &[f64]| v.iter().filter(|&&x| x < 0.0).count();
    report(
        "ctr run -d returns -> first sample on the wire (median of 20)",
        &format!(
            "{first:.1} ms ({} of {} before ctr returned)",
            early(&first_ms),
            first_ms.len()
        ),
        "<= 50 ms",
        Verdict::of(first <= 50.0),
    );
    report(
        "ctr task kill returns -> final sample on the wire (median of 20)",
        &format!(
            "{last:.1} ms ({} of {} before ctr returned)",
            early(&final_ms),
            final_ms.len()
        ),
        "<= 50 ms",
        Verdict::of(last <= 50.0),
    );
}
