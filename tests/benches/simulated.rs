//! 10,000 simulated containers: a generated /proc and /sys tree (see `fixture_tree.rs`) given to
//! the static release agent with `--proc-root`/`--sys-root`, and the test harness's stand-in engine
//! listing and inspecting 10,000 running containers whose pids point into that tree. Polling 30 s.
//!
//! Measured: the start-up (agent spawned -> every container's first sample received), the agent's CPU
//! as a share of one core over whole polling intervals once start-up has settled
//! (`/proc/<pid>/schedstat`), the samples received per interval, and the peak and current RSS
//! (`VmHWM`, `VmRSS`); then the peak RSS of the same 10,000 containers when their pids point at no
//! files (the agent keeps no counter file paths for them), which splits the table's memory.
//!
//! Then the allocations of the whole agent in steady state, which no library API reaches (the loop,
//! the exporter and the container table are private): the agent (Cargo's glibc build of the same
//! source, whose `malloc` valgrind can intercept) runs under `valgrind --tool=dhat` on a smaller tree
//! twice, for a short and a long time; the difference of the allocation totals over the difference
//! of container samples is the allocations per container sample in steady state.

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

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use collector::Collector;
use common::{median, report, section, spread, Verdict};
use fixture_tree::FixtureTree;
use support::fake_engine::{FakeEngine, Script};

/// Simulated containers.
const SIMULATED: usize = 10_000;
/// Their polling interval, seconds.
const POLLING: u32 = 30;
/// Whole polling intervals measured after start-up.
const INTERVALS: usize = 3;
/// Containers for the allocation count under valgrind.
const DHAT_CONTAINERS: usize = 100;

fn main() {
    let bin = common::require_static_binary();
    let parent = fixture_tree::scratch_parent();
    section(&format!(
        "{SIMULATED} simulated containers, polling {POLLING} s"
    ));
    let began = Instant::now();
    let tree = FixtureTree::generate(&parent, "sim", SIMULATED);
    eprintln!(
        "    fixture tree generated in {:.1} s under {}",
        began.elapsed().as_secs_f64(),
        tree.root.display()
    );
    simulated(&bin, &tree);
    drop(tree);

    section("allocations of the whole agent in steady state (valgrind dhat)");
    dhat_allocations(&parent);
}

/// The stand-in engine listing the tree's containers as running. With `missing_pids`, their pids
/// point at no directory of the tree: the agent then keeps no counter files for them.
fn engine_for(tree: &FixtureTree, missing_pids: bool) -> FakeEngine {
    let mut script = Script::docker();
    for c in &tree.containers {
        let pid = if missing_pids {
            c.pid + 2_000_000
        } else {
            c.pid
        };
        script = script.container(&c.id, &c.name, "running", pid);
    }
    FakeEngine::start(script)
}

/// The bytes of the engine's answer to the container list (head included).
fn list_bytes(engine: &FakeEngine) -> usize {
    support::http::exchange(
        engine.socket(),
        &support::http::get("/v1.41/containers/json", true),
        Duration::from_secs(5),
        Duration::from_secs(30),
    )
    .map(|r| r.len())
    .unwrap_or(0)
}

/// The agent on the tree and the engine, `-d` (in the foreground), stderr to `log`.
fn spawn_agent(
    bin: &Path,
    tree: &FixtureTree,
    engine: &FakeEngine,
    collector: &Collector,
    settings: &str,
    log: &Path,
    wrapper: &[String],
) -> Child {
    let config = tree.root.join("csflowd.conf");
    std::fs::write(
        &config,
        format!(
            "sflow {{\n  {settings}\n  agentIP = 192.0.2.1\n  collector {{ ip = {} udpport = {} }}\n  docker {{ socket = \"{}\" }}\n}}\n",
            collector.addr().ip(),
            collector.addr().port(),
            engine.socket().display()
        ),
    )
    .expect("agent configuration");
    let (program, args) = match wrapper.split_first() {
        Some((w, rest)) => (PathBuf::from(w), rest.to_vec()),
        None => (bin.to_path_buf(), Vec::new()),
    };
    let mut command = Command::new(program);
    command.args(&args);
    if !wrapper.is_empty() {
        command.arg(bin);
    }
    command
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
        .stderr(std::fs::File::create(log).expect("agent log"))
        .spawn()
        .expect("spawn the agent")
}

/// `polling = POLLING` and `extra`, the agent's settings beside its collector and engine.
fn settings(extra: &str) -> String {
    format!("polling = {POLLING}\n{extra}")
}

fn stop(child: &mut Child) {
    support::process::terminate(child, Duration::from_secs(20));
}

/// What one agent run on the tree measured.
struct Run {
    startup: f64,
    seen: usize,
    requests: usize,
    hwm_startup: u64,
    shares: Vec<f64>,
    per_sample: Vec<f64>,
    received: Vec<f64>,
    /// Container samples with MIB-II groups over all container samples, in the measured intervals.
    with_mib2: f64,
    open: usize,
    limit: String,
    hwm: f64,
    rss: f64,
}

/// Starts `bin` on the tree (with `extra` in its configuration), waits for every container's
/// first sample, measures [`INTERVALS`] whole polling intervals, and stops it.
fn measure(bin: &Path, tree: &FixtureTree, extra: &str, log: &Path) -> Run {
    let engine = engine_for(tree, false);
    let collector = Collector::start(false);
    let began = Instant::now();
    let mut agent = spawn_agent(bin, tree, &engine, &collector, &settings(extra), log, &[]);
    let pid = agent.id();
    let all = common::wait_for(Duration::from_secs(300), || {
        collector.container_sources() >= SIMULATED
    });
    let startup = began.elapsed().as_secs_f64();
    let seen = collector.container_sources();
    let hwm_startup = common::status_kib(pid, "VmHWM").unwrap_or(0);
    let requests = engine.requests().len();
    if !all {
        let text = std::fs::read_to_string(log).unwrap_or_default();
        let lines: Vec<&str> = text.lines().collect();
        eprintln!(
            "    agent log tail:\n{}",
            lines[lines.len().saturating_sub(20)..].join("\n")
        );
    }
    // Settle: the first samples all went out together; one interval lets the phases spread.
    std::thread::sleep(Duration::from_secs(2));
    let mut shares = Vec::new();
    let mut per_sample = Vec::new();
    let mut received = Vec::new();
    let (m0, n0) = (
        collector.container_mib2_samples(),
        collector.container_samples(),
    );
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
            per_sample.push((c1 - c0) as f64 / 1000.0 / (n1 - n0).max(1) as f64);
            received.push((n1 - n0) as f64 / (secs / f64::from(POLLING)) / SIMULATED as f64);
        }
    }
    let with_mib2 = (collector.container_mib2_samples() - m0) as f64
        / (collector.container_samples() - n0).max(1) as f64;
    let open = std::fs::read_dir(format!("/proc/{pid}/fd")).map_or(0, |d| d.count());
    let limit = std::fs::read_to_string(format!("/proc/{pid}/limits"))
        .ok()
        .and_then(|t| {
            t.lines()
                .find(|l| l.starts_with("Max open files"))
                .and_then(|l| l.split_whitespace().nth(3).map(str::to_owned))
        })
        .unwrap_or_default();
    let hwm = common::status_kib(pid, "VmHWM").unwrap_or(0) as f64;
    let rss = common::status_kib(pid, "VmRSS").unwrap_or(0) as f64;
    stop(&mut agent);
    Run {
        startup,
        seen,
        requests,
        hwm_startup,
        shares,
        per_sample,
        received,
        with_mib2,
        open,
        limit,
        hwm,
        rss,
    }
}

fn print_run(what: &str, r: &Run) {
    eprintln!(
        "    {what}: start-up {:.1} s ({} of {SIMULATED} reported, {} requests to the engine); \
         CPU % of a core {}; CPU us per container sample {}; samples received / expected {}; \
         with MIB-II groups {:.3}; {} descriptors of {}; VmHWM {} KiB (at start-up {}), VmRSS {} KiB",
        r.startup,
        r.seen,
        r.requests,
        spread(&r.shares, 3),
        spread(&r.per_sample, 1),
        spread(&r.received, 3),
        r.with_mib2,
        r.open,
        r.limit,
        r.hwm,
        r.hwm_startup,
        r.rss
    );
}

fn simulated(bin: &Path, tree: &FixtureTree) {
    let list = list_bytes(&engine_for(tree, false));
    let log = tree.root.join("agent.log");
    // With CSFLOWD_BASELINE_BIN (another build's static binary, such as main's), its default run
    // goes first, in the same run of the benchmark, for a comparison side by side.
    let baseline = std::env::var_os("CSFLOWD_BASELINE_BIN").map(PathBuf::from);
    let old = baseline.as_ref().map(|b| measure(b, tree, "", &log));
    let r = measure(bin, tree, "", &log);
    let on = measure(bin, tree, "  mib2.containers = on\n", &log);
    if let Some(old) = &old {
        print_run("baseline binary, default", old);
    }
    print_run("default (mib2.containers off)", &r);
    print_run("mib2.containers = on", &on);
    report(
        "start-up with 10,000 simulated containers (spawn -> all first samples)",
        &format!(
            "{:.1} s ({} reported; list answer {:.1} MiB, 10,000 inspects)",
            r.startup,
            r.seen,
            list as f64 / (1 << 20) as f64
        ),
        "-",
        Verdict::Info,
    );
    report(
        "  descriptors the agent holds open (counter files kept, 5 a container)",
        &format!(
            "{} of a limit of {}: ~{} containers' files kept, the others opened each poll",
            r.open,
            r.limit,
            r.open / 5
        ),
        "-",
        Verdict::Info,
    );
    let share = median(&r.shares);
    report(
        "agent CPU, 10,000 simulated containers, polling 30 s",
        &format!("{share:.2} % of a core"),
        "<= 1 %",
        Verdict::of(share <= 1.0),
    );
    report(
        "  CPU per container sample there (fixture files on tmpfs)",
        &format!("{:.1} us", median(&r.per_sample)),
        "-",
        Verdict::Info,
    );
    report(
        "  samples received / expected per interval",
        &format!("{:.3}", median(&r.received)),
        "1",
        Verdict::Info,
    );
    report(
        "agent peak RSS (VmHWM), 10,000 simulated containers",
        &format!(
            "{} (at start-up: {}; VmRSS after: {})",
            common::mib_of_kib(r.hwm),
            common::mib_of_kib(r.hwm_startup as f64),
            common::mib_of_kib(r.rss)
        ),
        "<= 8 MiB",
        Verdict::of(r.hwm <= 8.0 * 1024.0),
    );
    if let Some(old) = &old {
        report(
            "  baseline binary (CSFLOWD_BASELINE_BIN), default, same run: CPU, per sample, received, VmHWM",
            &format!(
                "{:.2} % of a core, {:.1} us, {:.3}, {}",
                median(&old.shares),
                median(&old.per_sample),
                median(&old.received),
                common::mib_of_kib(old.hwm)
            ),
            "-",
            Verdict::Info,
        );
    }
    // mib2.containers = on, beside the default: every container in a namespace of its own (the
    // worst case: no read is shared), net/snmp a tmpfs file (the kernel's costs more: it writes
    // the text at every read).
    report(
        "mib2.containers = on, same 10,000 containers: agent CPU (default run above)",
        &format!(
            "{:.2} % of a core (default {share:.2} %)",
            median(&on.shares)
        ),
        "-",
        Verdict::Info,
    );
    report(
        "  mib2.containers = on: CPU per container sample",
        &format!(
            "{:.1} us (default {:.1} us)",
            median(&on.per_sample),
            median(&r.per_sample)
        ),
        "-",
        Verdict::Info,
    );
    report(
        "  mib2.containers = on: samples received / expected, share with 2007-2010",
        &format!("{:.3}, {:.3}", median(&on.received), on.with_mib2),
        "1, 1",
        Verdict::of(median(&on.received) >= 0.999 && on.with_mib2 >= 0.999),
    );
    report(
        "  mib2.containers = on: descriptors held open",
        &format!(
            "{} of a limit of {} (default {})",
            on.open, on.limit, r.open
        ),
        "-",
        Verdict::Info,
    );
    report(
        "  mib2.containers = on: peak RSS (VmHWM)",
        &format!(
            "{} (default {}; VmRSS after: {})",
            common::mib_of_kib(on.hwm),
            common::mib_of_kib(r.hwm),
            common::mib_of_kib(on.rss)
        ),
        "-",
        Verdict::Info,
    );

    // The same containers with no counter files to resolve: what the table costs without them.
    let engine = engine_for(tree, true);
    let collector = Collector::start(false);
    let mut agent = spawn_agent(bin, tree, &engine, &collector, &settings(""), &log, &[]);
    common::wait_for(Duration::from_secs(300), || {
        collector.container_sources() >= SIMULATED
    });
    std::thread::sleep(Duration::from_secs(2));
    let bare = common::status_kib(agent.id(), "VmHWM").unwrap_or(0) as f64;
    let bare_now = common::status_kib(agent.id(), "VmRSS").unwrap_or(0) as f64;
    stop(&mut agent);
    report(
        "  peak RSS, the same 10,000 containers without counter files (pids not in the tree)",
        &format!(
            "{} (VmRSS once settled: {})",
            common::mib_of_kib(bare),
            common::mib_of_kib(bare_now)
        ),
        "-",
        Verdict::Info,
    );
}

/// Total blocks allocated, from dhat's summary line `Total: N bytes in M blocks`.
fn dhat_blocks(log: &Path) -> Option<u64> {
    let text = std::fs::read_to_string(log).ok()?;
    let line = text.lines().find(|l| l.contains("Total:"))?;
    let words: Vec<&str> = line.split_whitespace().collect();
    let at = words.iter().position(|w| *w == "blocks")?;
    words.get(at - 1)?.replace(',', "").parse().ok()
}

fn dhat_allocations(parent: &Path) {
    if Command::new("valgrind")
        .arg("--version")
        .stdout(Stdio::null())
        .status()
        .map(|s| !s.success())
        .unwrap_or(true)
    {
        eprintln!("    valgrind is not installed: not measured");
        return;
    }
    // Cargo's build of the same source for this host (glibc, dynamically linked): valgrind
    // replaces its malloc. The static musl binary's allocator is invisible to valgrind.
    let bin = PathBuf::from(env!("CARGO_BIN_EXE_csflowd"));
    let tree = FixtureTree::generate(parent, "dhat", DHAT_CONTAINERS);
    let engine = engine_for(&tree, false);
    for (extra, what) in [
        (
            "",
            "allocations per poll cycle, whole agent, steady state (100 containers, polling 1 s)",
        ),
        (
            "  mib2.containers = on\n",
            "  the same with mib2.containers = on",
        ),
    ] {
        let mut runs = Vec::new();
        for secs in [5u64, 15] {
            let collector = Collector::start(false);
            let log = tree.root.join(format!("dhat-{secs}.log"));
            let wrapper = vec![
                "valgrind".to_string(),
                "--tool=dhat".to_string(),
                format!("--log-file={}", log.display()),
                format!("--dhat-out-file={}", tree.root.join("dhat.out").display()),
            ];
            let agent_log = tree.root.join("agent-dhat.log");
            let mut agent = spawn_agent(
                &bin,
                &tree,
                &engine,
                &collector,
                &format!(
                    "polling = 1
{extra}"
                ),
                &agent_log,
                &wrapper,
            );
            let ready = common::wait_for(Duration::from_secs(60), || {
                collector.container_sources() >= DHAT_CONTAINERS
            });
            if !ready {
                eprintln!("    the agent under valgrind did not report every container");
            }
            std::thread::sleep(Duration::from_secs(secs));
            stop(&mut agent);
            let samples = collector.container_samples();
            let hosts = collector.host_samples();
            match dhat_blocks(&log) {
                Some(blocks) => runs.push((blocks, samples, hosts)),
                None => eprintln!("    no dhat summary in {}", log.display()),
            }
        }
        if let [(b1, s1, h1), (b2, s2, h2)] = runs[..] {
            let per_sample = (b2 as f64 - b1 as f64) / (s2 as f64 - s1 as f64);
            eprintln!(
                "    short run: {b1} blocks, {s1} container + {h1} host samples; long run: {b2} \
                 blocks, {s2} container + {h2} host samples"
            );
            // Per poll cycle: one second at polling 1 = one host sample and 100 container samples.
            let per_cycle = (b2 as f64 - b1 as f64) / (h2 as f64 - h1 as f64).max(1.0);
            report(
                what,
                &format!(
                    "{per_cycle:.1} per cycle of 1 host + 100 container samples ({per_sample:.2} per container sample)"
                ),
                "0",
                Verdict::of(per_cycle.abs() < 0.5),
            );
        }
    }
}
