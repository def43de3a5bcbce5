//! Figures against a real, private Docker engine (the test harness's, from Debian's docker.io) with
//! 50 idle containers, the static release agent and a loopback collector:
//!
//! - the agent's own read of one container's counters (the library's reader, in this process), and
//!   what the same reads cost under other designs (`designs.rs`);
//! - the agent's CPU per container sample (polling 1 s), from `/proc/<pid>/schedstat` (ns), divided
//!   by the container samples the collector received in the same window; beside it in each repeat,
//!   the CPU of an agent that polls the host only, to split out the host sample's share, and the
//!   floor: this program reading the same five counter files of the 50 containers once a second;
//! - the engine's CPU (dockerd, containerd and the shims: every thread's `schedstat`) in 30-s
//!   windows, the agent (polling 2 s) stopped with SIGSTOP in one window and running in the next,
//!   three pairs; then a client calling the engine's stats endpoint for each of the 50 containers
//!   every 2 s, with `stream=false`, then `stream=false&one-shot=true`, and the time each call takes,
//!   beside the agent's own read of the same counters;
//! - the agent's peak RSS (`VmHWM`) with the 50 containers, polling 2 s;
//! - latencies: `docker run -d` returns -> the container's first sample arrives; `docker kill`
//!   returns -> its final sample arrives (negative: the sample beat the CLI's return).
//!
//! Needs root and the engine packages (as the integration tests do); without them it says so and
//! reports nothing.

#[path = "collector.rs"]
mod collector;
#[path = "common.rs"]
mod common;
#[path = "designs.rs"]
mod designs;
// The harness's own unit tests are compiled out here (no libtest), leaving their imports unused.
#[allow(unused_imports)]
#[path = "../support/mod.rs"]
mod support;

use std::path::Path;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use collector::Collector;
use common::{median, report, section, spread, Verdict};
use support::agent::Agent;
use support::containers::{agent_config, ds_index_of};
use support::Engine;

/// Idle containers the engine runs for every figure.
const CONTAINERS: usize = 50;
/// Length of one window of the agent's CPU per sample.
const WINDOW: Duration = Duration::from_secs(15);
/// Length of one window of the engine's CPU: the 50 containers' shims wake up together every 30 s
/// (about 0.5 s of CPU in all), so every window spans exactly one such period.
const ENGINE_WINDOW: Duration = Duration::from_secs(30);
/// Pairs of engine windows, agent stopped then running.
const ENGINE_PAIRS: usize = 3;
/// Windows per condition.
const REPEATS: usize = 3;
/// `docker run` / `docker kill` latency runs.
const LATENCY_RUNS: usize = 20;
/// Interval of the stats client (the agent's polling in the comparison).
const STATS_INTERVAL: Duration = Duration::from_secs(2);

fn main() {
    let bin = common::require_static_binary();
    // The harness's agent runner takes the binary from this variable: the static release build.
    std::env::set_var("CSFLOWD_STATIC_BIN", &bin);
    section("real Docker engine");
    let Some(engine) = support::docker() else {
        eprintln!("no private Docker engine here: the real-engine figures are not measured");
        return;
    };
    eprintln!(
        "    dockerd {} (ready in {:?}); starting {CONTAINERS} idle containers",
        engine.server_version(),
        engine.startup_time()
    );
    let began = Instant::now();
    let ids = start_containers(&engine, CONTAINERS);
    eprintln!(
        "    {} containers started in {:.1} s",
        ids.len(),
        began.elapsed().as_secs_f64()
    );

    section("the agent's own read of a container's counters vs the engine's stats endpoint");
    let read_us = agent_read_cost(&engine, &ids[0]);

    section("what the kernel reads would cost under other designs (same containers)");
    let pids: Vec<(u32, String)> = ids
        .iter()
        .map(|id| (engine.inspect_pid(id), id.clone()))
        .collect();
    designs::container_reads(&pids);
    designs::host_reads();

    section("agent CPU per container sample (50 containers, polling 1 s)");
    cpu_per_sample(&engine, &pids);

    section("engine CPU: agent stopped / running, stats endpoint (50 containers, every 2 s)");
    engine_cpu(&engine, &ids, read_us);

    section("latency: docker run -> first sample, docker kill -> final sample");
    latencies(&engine);
}

/// Starts `n` idle containers, two CLI calls at a time; returns their ids.
fn start_containers(engine: &Engine, n: usize) -> Vec<String> {
    let ids = Mutex::new(Vec::new());
    std::thread::scope(|s| {
        for half in 0..2 {
            let ids = &ids;
            s.spawn(move || {
                for i in (half..n).step_by(2) {
                    let name = format!("bench-idle-{i}");
                    let id = engine.run(&["--name", &name], &["sleep", "100000"]);
                    ids.lock().unwrap().push(id);
                }
            });
        }
    });
    ids.into_inner().unwrap()
}

/// The agent, on this engine, sending to `collector`.
fn start_agent(engine: &Engine, collector: &Collector, polling: u32) -> Agent {
    let config = agent_config(engine, collector.addr(), polling);
    Agent::start("bench", &config, &[])
}

/// Like [`start_agent`], with `mib2.containers = on`.
fn start_mib2_agent(engine: &Engine, collector: &Collector, polling: u32) -> Agent {
    let config = agent_config(engine, collector.addr(), polling).replacen(
        "sflow {\n",
        "sflow {\n  mib2.containers = on\n",
        1,
    );
    Agent::start("bench-mib2", &config, &[])
}

/// Waits until the collector has seen every one of `n` containers, then `settle` more.
fn wait_all_reported(agent: &Agent, collector: &Collector, n: usize, settle: Duration) {
    let ok = common::wait_for(Duration::from_secs(60), || {
        collector.container_sources() >= n
    });
    if !ok {
        eprintln!(
            "    only {} of {n} containers reported; agent stderr:\n{}",
            collector.container_sources(),
            agent.stderr()
        );
    }
    std::thread::sleep(settle);
}

/// The agent's CPU per container sample, side by side in each repeat with a host-only agent (the
/// host sample's share) and with the floor: the bench's own thread reading the same containers' five
/// counter files once a second with one `pread` each, as the agent's wake-up does, and nothing else.
fn cpu_per_sample(engine: &Engine, containers: &[(u32, String)]) {
    let floor_files = designs::open_counter_files(containers);
    let mut host_ns_per_s = Vec::new();
    let mut per_sample = Vec::new();
    let mut marginal = Vec::new();
    let mut floor = Vec::new();
    let mut kept_up = Vec::new();
    let (mut mib2_per_sample, mut mib2_marginal, mut mib2_kept_up, mut mib2_carried) =
        (Vec::new(), Vec::new(), Vec::new(), Vec::new());
    for _ in 0..REPEATS {
        // An agent polling only the host, every second.
        let collector = Collector::start(false);
        let config = support::agent::config_for(collector.addr(), "");
        let host_agent = Agent::start("bench-host", &config, &[]);
        std::thread::sleep(Duration::from_secs(2));
        let (c0, t0) = (common::thread_cpu_ns(host_agent.pid()), Instant::now());
        std::thread::sleep(WINDOW);
        let (c1, t1) = (common::thread_cpu_ns(host_agent.pid()), Instant::now());
        drop(host_agent);
        let host_per_s = match (c0, c1) {
            (Some(c0), Some(c1)) => (c1 - c0) as f64 / (t1 - t0).as_secs_f64(),
            _ => continue,
        };
        host_ns_per_s.push(host_per_s);

        // The agent with the 50 containers.
        let collector = Collector::start(true);
        let agent = start_agent(engine, &collector, 1);
        wait_all_reported(&agent, &collector, CONTAINERS, Duration::from_secs(2));
        if common::threads(agent.pid()) != Some(1) {
            eprintln!(
                "    the agent runs {:?} threads: schedstat counts the main one only",
                common::threads(agent.pid())
            );
        }
        let Some((cpu, samples, secs)) = agent_window(&agent, &collector) else {
            continue;
        };
        drop(agent);
        per_sample.push(cpu / samples);
        marginal.push((cpu - host_per_s * secs) / samples);
        kept_up.push(samples / (CONTAINERS as f64 * secs));

        // The same with mib2.containers = on (each container in a namespace of its own).
        let collector = Collector::start(false);
        let agent = start_mib2_agent(engine, &collector, 1);
        wait_all_reported(&agent, &collector, CONTAINERS, Duration::from_secs(2));
        let m0 = (
            collector.container_mib2_samples(),
            collector.container_samples(),
        );
        if let Some((cpu, samples, secs)) = agent_window(&agent, &collector) {
            mib2_per_sample.push(cpu / samples);
            mib2_marginal.push((cpu - host_per_s * secs) / samples);
            mib2_kept_up.push(samples / (CONTAINERS as f64 * secs));
            mib2_carried.push(
                (collector.container_mib2_samples() - m0.0) as f64
                    / (collector.container_samples() - m0.1).max(1) as f64,
            );
        }
        drop(agent);

        // The floor, in this thread.
        let rounds = WINDOW.as_secs().max(1);
        let c0 = common::own_thread_cpu_ns();
        for _ in 0..rounds {
            std::thread::sleep(Duration::from_secs(1));
            designs::floor_round(&floor_files);
        }
        if let (Some(c0), Some(c1)) = (c0, common::own_thread_cpu_ns()) {
            floor.push((c1 - c0) as f64 / (rounds as f64 * CONTAINERS as f64));
        }
    }
    eprintln!(
        "    host-only agent, polling 1 s: CPU us per second {}",
        spread(
            &host_ns_per_s.iter().map(|n| n / 1000.0).collect::<Vec<_>>(),
            1
        )
    );
    eprintln!("    ns per container sample {}", spread(&per_sample, 0));
    eprintln!(
        "    ns per container sample, the container's own share {}",
        spread(&marginal, 0)
    );
    eprintln!(
        "    ns per container, the five preads alone once a second {}",
        spread(&floor, 0)
    );
    eprintln!("    samples received / expected {}", spread(&kept_up, 3));
    let us = median(&per_sample) / 1000.0;
    report(
        "agent CPU per container sample (50 real containers, polling 1 s, host sample included)",
        &format!("{us:.1} us"),
        "<= 15 us",
        Verdict::of(us <= 15.0),
    );
    let own = median(&marginal) / 1000.0;
    report(
        "  of which the container's own share (minus a host-only agent's CPU)",
        &format!("{own:.1} us"),
        "<= 15 us",
        Verdict::of(own <= 15.0),
    );
    report(
        "  the floor, same run: the 5 counter files' preads alone, once a second, no agent",
        &format!("{:.1} us per container", median(&floor) / 1000.0),
        "-",
        Verdict::Info,
    );
    report(
        "  host-only agent CPU, polling 1 s",
        &format!("{:.1} us per second", median(&host_ns_per_s) / 1000.0),
        "-",
        Verdict::Info,
    );
    report(
        "samples received / expected (50 containers x 1 per s)",
        &format!("{:.3}", median(&kept_up)),
        "1",
        Verdict::Info,
    );
    eprintln!(
        "    mib2.containers = on: ns per container sample {}, own share {}, received / expected \
         {}, share with 2007-2010 {}",
        spread(&mib2_per_sample, 0),
        spread(&mib2_marginal, 0),
        spread(&mib2_kept_up, 3),
        spread(&mib2_carried, 3)
    );
    report(
        "mib2.containers = on: agent CPU per container sample (same run), own share",
        &format!(
            "{:.1} us, own {:.1} us (default above: {us:.1}, own {own:.1})",
            median(&mib2_per_sample) / 1000.0,
            median(&mib2_marginal) / 1000.0
        ),
        "-",
        Verdict::Info,
    );
    report(
        "  mib2.containers = on: samples received / expected, share with 2007-2010",
        &format!("{:.3}, {:.3}", median(&mib2_kept_up), median(&mib2_carried)),
        "1, 1",
        Verdict::Info,
    );
}

/// The agent's CPU (ns), the container samples received and the seconds, over one [`WINDOW`].
fn agent_window(agent: &Agent, collector: &Collector) -> Option<(f64, f64, f64)> {
    let (c0, n0, t0) = (
        common::thread_cpu_ns(agent.pid())?,
        collector.container_samples(),
        Instant::now(),
    );
    std::thread::sleep(WINDOW);
    let (c1, n1, t1) = (
        common::thread_cpu_ns(agent.pid())?,
        collector.container_samples(),
        Instant::now(),
    );
    Some((
        (c1 - c0) as f64,
        (n1 - n0).max(1) as f64,
        (t1 - t0).as_secs_f64(),
    ))
}

/// How long the agent's own read of one real container's counters takes (in this process, the
/// library's reader on the container's resolved files), in microseconds.
fn agent_read_cost(engine: &Engine, id: &str) -> f64 {
    use csflowd::cgroup::{CgroupMounts, ContainerCounters, ContainerReader, HostCapacity};
    let roots = csflowd::host::Roots::default();
    let pid = engine.inspect_pid(id);
    let Ok(mounts) = CgroupMounts::discover(&roots) else {
        eprintln!("    cannot find the cgroup hierarchies");
        return f64::NAN;
    };
    let mut reader = ContainerReader::new(roots, mounts);
    let Ok(files) = reader.resolve(pid) else {
        eprintln!("    cannot resolve the files of container pid {pid}");
        return f64::NAN;
    };
    let host = HostCapacity {
        cpus: 2,
        mem_total: 8 << 30,
    };
    let mut out = ContainerCounters::UNKNOWN;
    let mut us = Vec::new();
    for _ in 0..5 {
        reader.read(&files, host, &mut out);
    }
    for _ in 0..51 {
        let began = Instant::now();
        for _ in 0..100 {
            std::hint::black_box(reader.read(&files, host, &mut out));
        }
        us.push(began.elapsed().as_secs_f64() * 1e6 / 100.0);
    }
    eprintln!(
        "    agent's read of a real container's counters: us {}",
        spread(&us, 2)
    );
    let m = median(&us);
    report(
        "agent's read of one real container's counters (in process)",
        &format!("{m:.1} us"),
        "-",
        Verdict::Info,
    );
    m
}

/// The engine's processes: dockerd, its containerd and the containers' shims (every process whose
/// command line names the engine's private directory), without the docker CLI.
fn engine_pids(dir: &Path) -> Vec<(u32, String)> {
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    entries
        .filter_map(|e| e.ok()?.file_name().to_str()?.parse::<u32>().ok())
        .filter(|&pid| support::process::cmdline_mentions(pid, dir))
        .filter_map(|pid| {
            let comm = std::fs::read_to_string(format!("/proc/{pid}/comm")).ok()?;
            let comm = comm.trim().to_string();
            (comm != "docker").then_some((pid, comm))
        })
        .collect()
}

/// The engine's CPU by process kind (dockerd, containerd, shims), in nanoseconds so far.
#[derive(Clone, Copy, Default, Debug)]
struct EngineCpu {
    dockerd: u64,
    containerd: u64,
    shims: u64,
}

impl EngineCpu {
    fn read(pids: &[(u32, String)]) -> Vec<Option<u64>> {
        pids.iter().map(|(p, _)| common::tasks_cpu_ns(*p)).collect()
    }

    /// The CPU between two readings, by kind (processes alive at both).
    fn between(pids: &[(u32, String)], a: &[Option<u64>], b: &[Option<u64>]) -> EngineCpu {
        let mut cpu = EngineCpu::default();
        for (((_, comm), a), b) in pids.iter().zip(a).zip(b) {
            let (Some(a), Some(b)) = (a, b) else { continue };
            let d = b.saturating_sub(*a);
            match comm.as_str() {
                "dockerd" => cpu.dockerd += d,
                "containerd" => cpu.containerd += d,
                _ => cpu.shims += d,
            }
        }
        cpu
    }

    fn total(self) -> u64 {
        self.dockerd + self.containerd + self.shims
    }
}

/// Milliseconds per 30 s.
fn per_30s(ns: u64, secs: f64) -> f64 {
    ns as f64 / 1e6 / secs * 30.0
}

/// Measures the engine's CPU over [`ENGINE_WINDOW`] while `during` runs (it must return by the end
/// of the window, or the window is stretched to when it does).
fn engine_window(engine: &Engine, during: impl FnOnce(Instant)) -> (EngineCpu, f64) {
    let pids = engine_pids(engine.dir());
    let before = EngineCpu::read(&pids);
    let began = Instant::now();
    during(began + ENGINE_WINDOW);
    if let Some(rest) = (began + ENGINE_WINDOW).checked_duration_since(Instant::now()) {
        std::thread::sleep(rest);
    }
    let after = EngineCpu::read(&pids);
    (
        EngineCpu::between(&pids, &before, &after),
        began.elapsed().as_secs_f64(),
    )
}

#[derive(Default)]
struct StatsCalls {
    /// Milliseconds per successful call.
    ms: Vec<f64>,
    failed: usize,
}

/// One stats client per container, calling every [`STATS_INTERVAL`] (or at once again when a call
/// took longer) until `until`.
fn stats_client(socket: &Path, ids: &[String], query: &str, until: Instant) -> StatsCalls {
    let calls = Mutex::new(StatsCalls::default());
    std::thread::scope(|s| {
        for id in ids {
            let calls = &calls;
            let path = format!("/v1.41/containers/{id}/stats?{query}");
            s.spawn(move || {
                let mut next = Instant::now();
                while next < until {
                    let began = Instant::now();
                    let response = support::http::exchange(
                        socket,
                        &support::http::get(&path, true),
                        Duration::from_secs(5),
                        Duration::from_secs(10),
                    );
                    let took = began.elapsed().as_secs_f64() * 1000.0;
                    let ok = response.as_ref().is_ok_and(|r| {
                        support::http::status(r) == Some(200)
                            && r.windows(9).any(|w| w == b"cpu_stats")
                    });
                    {
                        let mut c = calls.lock().unwrap();
                        if ok {
                            c.ms.push(took);
                        } else {
                            c.failed += 1;
                        }
                    }
                    next += STATS_INTERVAL;
                    if let Some(wait) = next.checked_duration_since(Instant::now()) {
                        std::thread::sleep(wait);
                    }
                }
            });
        }
    });
    calls.into_inner().unwrap()
}

fn describe(cpu: EngineCpu, secs: f64) -> String {
    format!(
        "{:7.1} ms per 30 s (dockerd {:.1}, containerd {:.1}, shims {:.1})",
        per_30s(cpu.total(), secs),
        per_30s(cpu.dockerd, secs),
        per_30s(cpu.containerd, secs),
        per_30s(cpu.shims, secs)
    )
}

fn engine_cpu(engine: &Engine, ids: &[String], read_us: f64) {
    // The agent runs throughout, stopped (SIGSTOP) in every other window: "not running" and
    // "running" alternate, and each window spans whole 30-s periods of the shims' own wake-ups.
    let collector = Collector::start(false);
    let agent = start_agent(engine, &collector, 2);
    wait_all_reported(&agent, &collector, CONTAINERS, Duration::from_secs(3));
    let mut off = Vec::new();
    let mut on = Vec::new();
    for pair in 0..ENGINE_PAIRS {
        support::process::send_signal("STOP", agent.pid());
        let (cpu, secs) = engine_window(engine, |_| {});
        eprintln!("    pair {pair}: agent stopped: {}", describe(cpu, secs));
        off.push(per_30s(cpu.total(), secs));
        support::process::send_signal("CONT", agent.pid());
        let (cpu, secs) = engine_window(engine, |_| {});
        eprintln!("    pair {pair}: agent running: {}", describe(cpu, secs));
        on.push(per_30s(cpu.total(), secs));
    }
    let hwm = common::status_kib(agent.pid(), "VmHWM").unwrap_or(0) as f64;
    drop(agent);

    let mut stats = Vec::new();
    for (query, name) in [
        ("stream=false", "stream=false"),
        ("stream=false&one-shot=true", "stream=false&one-shot=true"),
    ] {
        std::thread::sleep(Duration::from_secs(1));
        let mut calls = StatsCalls::default();
        let (cpu, secs) = engine_window(engine, |until| {
            calls = stats_client(engine.socket_path(), ids, query, until);
        });
        eprintln!("    stats endpoint, {name}: {}", describe(cpu, secs));
        eprintln!(
            "    stats endpoint, {name}: call ms {}; {} failed",
            spread(&calls.ms, 1),
            calls.failed
        );
        stats.push((name, per_30s(cpu.total(), secs), calls, secs));
    }

    let (off_m, on_m) = (median(&off), median(&on));
    let noise = off.iter().copied().fold(f64::NEG_INFINITY, f64::max)
        - off.iter().copied().fold(f64::INFINITY, f64::min);
    let bound = noise.max(10.0);
    report(
        "engine CPU, 50 containers, agent not running (SIGSTOP)",
        &format!("{off_m:.0} ms per 30 s ({:.2} % of a core)", off_m / 300.0),
        "-",
        Verdict::Info,
    );
    report(
        "engine CPU added by the agent (running - stopped, polling 2 s)",
        &format!(
            "{:+.0} ms per 30 s ({on_m:.0} vs {off_m:.0}; windows of the stopped agent differ by {noise:.0})",
            on_m - off_m
        ),
        "indistinguishable from none",
        Verdict::of((on_m - off_m).abs() <= bound),
    );
    for (name, cpu, calls, secs) in &stats {
        let wanted = CONTAINERS as f64 * ENGINE_WINDOW.as_secs_f64() / STATS_INTERVAL.as_secs_f64();
        report(
            &format!("engine CPU added by the stats endpoint, {name}, 50 containers every 2 s"),
            &format!(
                "{:+.0} ms per 30 s ({:.2} % of a core)",
                cpu - off_m,
                (cpu - off_m) / 300.0
            ),
            "-",
            Verdict::Info,
        );
        report(
            &format!("time per stats call, {name}"),
            &format!(
                "{:.1} ms ({} calls of {wanted:.0} wanted, {} failed, in {secs:.0} s) vs the agent's own read: {read_us:.1} us",
                median(&calls.ms),
                calls.ms.len(),
                calls.failed
            ),
            "-",
            Verdict::Info,
        );
    }
    report(
        "agent peak RSS (VmHWM), 50 real containers, polling 2 s",
        &common::mib_of_kib(hwm),
        "<= 2 MiB",
        Verdict::of(hwm <= 2048.0),
    );
}

fn latencies(engine: &Engine) {
    let collector = Collector::start(true);
    let agent = start_agent(engine, &collector, 2);
    wait_all_reported(&agent, &collector, CONTAINERS, Duration::from_secs(2));
    let mut first_ms = Vec::new();
    let mut first_from_call_ms = Vec::new();
    let mut final_ms = Vec::new();
    let mut final_from_call_ms = Vec::new();
    let mut run_cli_ms = Vec::new();
    let mut kill_cli_ms = Vec::new();
    let mut missing = 0;
    for i in 0..LATENCY_RUNS {
        let name = format!("bench-latency-{i}");
        let called = Instant::now();
        let id = engine.run(&["--name", &name], &["sleep", "300"]);
        let returned = Instant::now();
        run_cli_ms.push((returned - called).as_secs_f64() * 1000.0);
        let index = ds_index_of(&id);
        match collector.wait(index, Duration::from_secs(10), |_| true) {
            Some(a) => {
                first_ms.push(signed_ms(a.at, returned));
                first_from_call_ms.push(signed_ms(a.at, called));
            }
            None => missing += 1,
        }
        let called = Instant::now();
        engine.cli(&["kill", &id]);
        let returned = Instant::now();
        kill_cli_ms.push((returned - called).as_secs_f64() * 1000.0);
        match collector.wait(index, Duration::from_secs(10), |a| a.is_final()) {
            Some(a) => {
                final_ms.push(signed_ms(a.at, returned));
                final_from_call_ms.push(signed_ms(a.at, called));
            }
            None => missing += 1,
        }
        engine.cli(&["rm", &id]);
    }
    drop(agent);
    if missing > 0 {
        eprintln!("    {missing} samples not seen (a dsIndex collision, or lost)");
    }
    eprintln!(
        "    run returns -> first sample, ms {}",
        spread(&first_ms, 1)
    );
    eprintln!(
        "    run called -> first sample, ms {}",
        spread(&first_from_call_ms, 1)
    );
    eprintln!(
        "    kill returns -> final sample, ms {}",
        spread(&final_ms, 1)
    );
    eprintln!(
        "    kill called -> final sample, ms {}",
        spread(&final_from_call_ms, 1)
    );
    eprintln!("    docker run -d itself, ms {}", spread(&run_cli_ms, 0));
    eprintln!("    docker kill itself, ms {}", spread(&kill_cli_ms, 0));
    let first = median(&first_ms);
    let last = median(&final_ms);
    let early = |v: &[f64]| v.iter().filter(|&&x| x < 0.0).count();
    report(
        "docker run -d returns -> first sample on the wire (median of 20)",
        &format!(
            "{first:.1} ms ({} of {} before the CLI returned; {:.0} ms after it was called)",
            early(&first_ms),
            first_ms.len(),
            median(&first_from_call_ms)
        ),
        "<= 50 ms",
        Verdict::of(first <= 50.0),
    );
    report(
        "docker kill returns -> final sample on the wire (median of 20)",
        &format!(
            "{last:.1} ms ({} of {} before the CLI returned; {:.0} ms after it was called)",
            early(&final_ms),
            final_ms.len(),
            median(&final_from_call_ms)
        ),
        "<= 50 ms",
        Verdict::of(last <= 50.0),
    );
    report(
        "  the CLI calls themselves: docker run -d / docker kill",
        &format!(
            "{:.0} ms / {:.0} ms",
            median(&run_cli_ms),
            median(&kill_cli_ms)
        ),
        "-",
        Verdict::Info,
    );
}

/// `at - since` in milliseconds, negative when `at` came first (the sample beat the CLI's return).
fn signed_ms(at: Instant, since: Instant) -> f64 {
    match at.checked_duration_since(since) {
        Some(d) => d.as_secs_f64() * 1000.0,
        None => -(since - at).as_secs_f64() * 1000.0,
    }
}
