//! Churn on a real, private engine: dozens of containers that live about a second
//! (`sh -c 'sleep 1'`, `--rm`), started in parallel bursts by several concurrent `run -d`
//! processes while the agent watches (polling 1 s). Every container must be reported (a first
//! sample, sequence 1), send exactly one final sample (state exited) and nothing after it, keep one
//! data source for its life, and once all have ended the host sample's virt_node must count no
//! container (`num_domains` back to 0).
//!
//! Containers are told apart by their UUID (host_descr.uuid = the id's first 16 bytes), not by
//! their data source index: with dozens of ids two may hash to the same index while both are
//! tracked, and the agent then probes to the next free one (ISSUE3-SPEC), which is correct.
//! Every datagram is walked for its record lengths and read by the independent decoder.
//!
//! Docker: 4 bursts of 12; Podman (slower to start a container): 2 bursts of 6. Without root
//! outside CI the tests skip (see support).

mod support;

use std::collections::{BTreeMap, HashMap};
use std::io::Write as _;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use support::agent::Agent;
use support::containers::{agent_config, note, uuid_of, EXITED, RUNNING, STOPPED};
use support::sflow::{decode, decoded_samples, walk, Collector, Decoded, Walked};
use support::Engine;

/// How long after its `run -d` returned a container may take to show up.
const REPORTED_WITHIN: Duration = Duration::from_secs(10);
/// How long after the last burst every final sample must be in.
const ENDED_WITHIN: Duration = Duration::from_secs(30);
/// Silence watched for after the last final sample.
const QUIET: Duration = Duration::from_secs(3);

fn be32(bytes: &[u8], at: usize) -> u32 {
    u32::from_be_bytes(bytes[at..at + 4].try_into().unwrap())
}

/// One container sample as received.
#[derive(Clone, Debug)]
struct Seen {
    arrived: Instant,
    index: u32,
    sequence: u32,
    state: u32,
}

/// The collector's view: container samples by UUID, host samples in order.
struct ChurnWatch {
    collector: Collector,
    datagrams: usize,
    /// Container samples by UUID, in arrival order.
    containers: HashMap<[u8; 16], Vec<Seen>>,
    /// (datagram ordinal, num_domains) of every host sample.
    host: Vec<(usize, u32)>,
}

impl ChurnWatch {
    fn bind() -> ChurnWatch {
        ChurnWatch {
            collector: Collector::bind(),
            datagrams: 0,
            containers: HashMap::new(),
            host: Vec::new(),
        }
    }

    /// Reads datagrams for `span`.
    fn pump_for(&mut self, span: Duration) {
        let deadline = Instant::now() + span;
        while let Some(left) = deadline.checked_duration_since(Instant::now()) {
            let Some(datagram) = self.collector.recv(left) else {
                return;
            };
            self.take(&datagram);
        }
    }

    /// Reads datagrams until `done` holds, at most `timeout`; whether it held.
    fn pump_until(&mut self, timeout: Duration, done: impl Fn(&ChurnWatch) -> bool) -> bool {
        let deadline = Instant::now() + timeout;
        while !done(self) {
            let Some(left) = deadline.checked_duration_since(Instant::now()) else {
                return false;
            };
            if let Some(datagram) = self.collector.recv(left) {
                self.take(&datagram);
            }
        }
        true
    }

    fn take(&mut self, datagram: &[u8]) {
        let arrived = Instant::now();
        let ordinal = self.datagrams;
        self.datagrams += 1;
        let (_, walked) = walk(datagram);
        let decoded = decoded_samples(&decode(datagram));
        assert_eq!(walked.len(), decoded.len(), "sample count: walk vs decoder");
        for (sample, (class, index, sequence, records)) in walked.iter().zip(decoded) {
            assert_eq!(
                (sample.class, sample.index, sample.sequence),
                (class, index, sequence)
            );
            match (class, index) {
                (2, 1) => {
                    let domains = be32(sample.record(2100).expect("virt_node"), 24);
                    let decoded_domains = records.iter().find_map(|r| match r {
                        Decoded::VirtNode(node) => Some(node.num_domains),
                        _ => None,
                    });
                    assert_eq!(
                        decoded_domains,
                        Some(domains),
                        "num_domains: walk vs decoder"
                    );
                    self.host.push((ordinal, domains));
                }
                (3, _) => {
                    let (uuid, state) = container_fields(sample);
                    let decoded_uuid = records.iter().find_map(|r| match r {
                        Decoded::HostDescr(descr) => Some(*descr.uuid.as_bytes()),
                        _ => None,
                    });
                    assert_eq!(decoded_uuid, Some(uuid), "uuid: walk vs decoder");
                    self.containers.entry(uuid).or_default().push(Seen {
                        arrived,
                        index,
                        sequence,
                        state,
                    });
                }
                other => panic!("unexpected data source {other:?}"),
            }
        }
    }

    fn of(&self, id: &str) -> &[Seen] {
        self.containers.get(&uuid_of(id)).map_or(&[], Vec::as_slice)
    }

    fn has_final(&self, id: &str) -> bool {
        self.of(id).iter().any(|s| is_final(s.state))
    }
}

/// (host_descr.uuid, virt_cpu.state) of a container sample, read from the bytes.
fn container_fields(sample: &Walked) -> ([u8; 16], u32) {
    let descr = sample.record(2000).expect("host_descr");
    let padded = (be32(descr, 0) as usize + 3) & !3;
    let uuid = descr[4 + padded..20 + padded].try_into().unwrap();
    let state = be32(sample.record(2101).expect("virt_cpu"), 0);
    (uuid, state)
}

fn is_final(state: u32) -> bool {
    state == EXITED || state == STOPPED
}

/// A container the churn started: its id and when its `run -d` returned.
struct Started {
    id: String,
    returned: Instant,
}

/// Starts `count` one-second containers with `parallel` concurrent CLI processes; returns them.
fn burst(engine: &Engine, tag: &str, count: usize, parallel: usize) -> Vec<Started> {
    let per_thread = count.div_ceil(parallel);
    std::thread::scope(|scope| {
        let workers: Vec<_> = (0..parallel)
            .map(|t| {
                scope.spawn(move || {
                    let mut started = Vec::new();
                    for i in t * per_thread..((t + 1) * per_thread).min(count) {
                        let name = format!("{tag}-{i}");
                        let id = engine.run(&["--rm", "--name", &name], &["sh", "-c", "sleep 1"]);
                        started.push(Started {
                            id,
                            returned: Instant::now(),
                        });
                    }
                    started
                })
            })
            .collect();
        workers
            .into_iter()
            .flat_map(|w| w.join().unwrap())
            .collect()
    })
}

/// The scenario: `bursts` bursts of `per_burst` containers, `parallel` `run -d` at a time, a burst
/// every `gap` (while the previous one is still ending).
fn churn(engine: Engine, bursts: usize, per_burst: usize, parallel: usize, gap: Duration) {
    let kind = engine.kind().name();
    let mut watch = ChurnWatch::bind();
    let agent = Agent::start(
        &format!("churn-{kind}"),
        &agent_config(&engine, watch.collector.addr(), 1),
        &[],
    );
    let report = |watch: &ChurnWatch| {
        let stderr = agent.stderr();
        let lines: Vec<&str> = stderr.lines().collect();
        format!(
            "{} datagrams, {} containers seen, host num_domains (last 10): {:?}\nagent stderr (last lines):\n{}",
            watch.datagrams,
            watch.containers.len(),
            &watch.host[watch.host.len().saturating_sub(10)..],
            lines[lines.len().saturating_sub(30)..].join("\n")
        )
    };
    // The agent is up, and has listed the engine (the host sample comes after the list).
    assert!(
        watch.pump_until(Duration::from_secs(10), |w| !w.host.is_empty()),
        "no host sample\n{}",
        report(&watch)
    );

    // A first container proves that the events stream is open before the churn starts.
    let warm_up = burst(&engine, &format!("{kind}-warm"), 1, 1);
    assert!(
        watch.pump_until(REPORTED_WITHIN, |w| !w.of(&warm_up[0].id).is_empty()),
        "the warm-up container was not reported\n{}",
        report(&watch)
    );

    let began = Instant::now();
    let mut all = warm_up;
    for b in 0..bursts {
        let launched = Instant::now();
        let started = burst(&engine, &format!("{kind}-churn{b}"), per_burst, parallel);
        note(&format!(
            "{kind}: burst {b}: {per_burst} `run -d` ({parallel} at a time) took {:?}",
            launched.elapsed()
        ));
        all.extend(started);
        watch.pump_for(gap.saturating_sub(launched.elapsed()));
    }
    let last_returned = all.iter().map(|c| c.returned).max().unwrap();
    let ended = watch.pump_until(ENDED_WITHIN, |w| all.iter().all(|c| w.has_final(&c.id)));
    let missing: Vec<&str> = all
        .iter()
        .filter(|c| !watch.has_final(&c.id))
        .map(|c| &c.id[..12])
        .collect();
    assert!(
        ended,
        "no final sample within {ENDED_WITHIN:?} of the last burst for {missing:?}\n{}",
        report(&watch)
    );
    note(&format!(
        "{kind}: {} containers: all final samples in {:?} after the first burst, {:?} after the last `run -d` returned",
        all.len(),
        began.elapsed(),
        last_returned.elapsed()
    ));
    let last_final = watch.datagrams - 1;
    watch.pump_for(QUIET);

    // Every container: reported promptly with sequence 1, one data source, sequences growing,
    // exactly one final sample and it is the last.
    let mut slowest = Duration::ZERO;
    let mut states: BTreeMap<u32, usize> = BTreeMap::new();
    for container in &all {
        let samples = watch.of(&container.id);
        let what = format!("container {}", &container.id[..12]);
        let first = samples
            .first()
            .unwrap_or_else(|| panic!("{what}: never reported\n{}", report(&watch)));
        assert_eq!(
            first.sequence,
            1,
            "{what}: first sequence\n{}",
            report(&watch)
        );
        slowest = slowest.max(first.arrived.saturating_duration_since(container.returned));
        assert!(
            first.arrived.saturating_duration_since(container.returned) < REPORTED_WITHIN,
            "{what}: reported late"
        );
        assert!(
            samples.iter().all(|s| s.index == first.index),
            "{what}: changed data source: {samples:?}"
        );
        assert!(
            samples.windows(2).all(|w| w[0].sequence < w[1].sequence),
            "{what}: sequences {samples:?}"
        );
        let finals: Vec<&Seen> = samples.iter().filter(|s| is_final(s.state)).collect();
        assert_eq!(
            finals.len(),
            1,
            "{what}: final samples {samples:?}\n{}",
            report(&watch)
        );
        assert_eq!(
            finals[0].state, EXITED,
            "{what}: final state (die came first)"
        );
        assert!(
            is_final(samples.last().unwrap().state),
            "{what}: a sample after the final one: {samples:?}"
        );
        assert!(
            samples[..samples.len() - 1]
                .iter()
                .all(|s| s.state == RUNNING),
            "{what}: states {samples:?}"
        );
        *states.entry(samples.len() as u32).or_default() += 1;
    }
    assert_eq!(
        watch.containers.len(),
        all.len(),
        "samples of containers not started here"
    );
    note(&format!(
        "{kind}: slowest first sample {slowest:?} after `run -d` returned; samples per container: {states:?}"
    ));

    // Nothing tracked any more: the host samples after the last final one count no container.
    let after: Vec<u32> = watch
        .host
        .iter()
        .filter(|(datagram, _)| *datagram > last_final)
        .map(|(_, domains)| *domains)
        .collect();
    assert!(
        !after.is_empty(),
        "no host sample after the churn\n{}",
        report(&watch)
    );
    assert!(
        after.iter().all(|&d| d == 0),
        "num_domains after the churn: {after:?}\n{}",
        report(&watch)
    );
    let peak = watch.host.iter().map(|(_, d)| *d).max().unwrap_or(0);
    note(&format!(
        "{kind}: num_domains peaked at {peak} during the churn"
    ));
    assert!(
        peak > 1,
        "never more than one container tracked at once: the churn did not overlap"
    );
    let stderr = agent.stderr();
    let warnings = stderr.lines().filter(|l| l.contains("WARN")).count();
    note(&format!(
        "{kind}: the agent logged {warnings} warning lines during the churn"
    ));
}

#[test]
fn docker_churn_of_one_second_containers_in_parallel_bursts() {
    let Some(docker) = support::docker() else {
        return;
    };
    churn(docker, 4, 12, 4, Duration::from_secs(3));
}

#[test]
fn podman_churn_of_one_second_containers_in_a_parallel_burst() {
    let Some(podman) = support::podman() else {
        return;
    };
    churn(podman, 2, 6, 3, Duration::from_secs(3));
}

// ---------------------------------------------------------------------------------------------
// The soak run (tests/soak.sh): churn for a long time while the agent's resources are recorded.

/// An environment variable as a number, or `default`.
fn env_number(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(default)
}

/// One row of the soak record.
#[derive(Clone, Copy, Debug)]
struct Usage {
    seconds: f64,
    rss_kib: u64,
    fds: usize,
    cpu_ticks: u64,
    containers: usize,
}

/// Reads `pid`'s resident set (KiB), open descriptors and CPU time (clock ticks).
fn usage_of(pid: u32) -> Option<(u64, usize, u64)> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let rss = status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))?
        .split_whitespace()
        .next()?
        .parse()
        .ok()?;
    let fds = std::fs::read_dir(format!("/proc/{pid}/fd")).ok()?.count();
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let fields: Vec<&str> = stat[stat.rfind(')')? + 2..].split(' ').collect();
    let ticks = fields.get(11)?.parse::<u64>().ok()? + fields.get(12)?.parse::<u64>().ok()?;
    Some((rss, fds, ticks))
}

fn median<T: Copy + Ord>(values: &[T]) -> T {
    let mut sorted = values.to_vec();
    sorted.sort();
    sorted[sorted.len() / 2]
}

/// The soak behind tests/soak.sh: one-second containers in bursts of `SOAK_BURST` (8), one burst
/// every 3 s, for `SOAK_DURATION` seconds (1800), the agent polling every `SOAK_POLLING` seconds
/// (1); every 10 s the agent's RSS, descriptor count and CPU time go to the CSV file `SOAK_CSV`.
/// At the end the same checks as the churn tests hold (one final sample each, nothing tracked),
/// and a summary is printed.
#[test]
#[ignore = "a long soak run: tests/soak.sh"]
fn soak_churn_records_rss_fds_and_cpu() {
    let duration = Duration::from_secs(env_number("SOAK_DURATION", 1800));
    let polling = env_number("SOAK_POLLING", 1) as u32;
    let per_burst = env_number("SOAK_BURST", 8) as usize;
    let csv_path = std::env::var("SOAK_CSV").unwrap_or_else(|_| "soak.csv".into());
    let docker = support::docker().expect("the soak needs a private Docker engine (root)");
    let mut watch = ChurnWatch::bind();
    let agent = Agent::start(
        "soak",
        &agent_config(&docker, watch.collector.addr(), polling),
        &[],
    );
    let pid = agent.pid();
    assert!(
        watch.pump_until(Duration::from_secs(10), |w| !w.host.is_empty()),
        "no host sample\n{}",
        agent.stderr()
    );
    note(&format!(
        "soak: agent {pid} ({}), polling {polling} s, bursts of {per_burst} every 3 s for {duration:?}; CSV {csv_path}",
        support::agent::binary().display()
    ));

    let began = Instant::now();
    let stop = Arc::new(AtomicBool::new(false));
    let started = Arc::new(AtomicUsize::new(0));
    let sampler = {
        let (stop, started) = (stop.clone(), started.clone());
        let csv_path = csv_path.clone();
        std::thread::spawn(move || {
            let mut csv = std::fs::File::create(&csv_path).unwrap();
            writeln!(
                csv,
                "seconds,rss_kib,fds,cpu_ticks,cpu_percent,containers_started"
            )
            .unwrap();
            let mut rows: Vec<Usage> = Vec::new();
            let mut next = Duration::ZERO;
            loop {
                let now = began.elapsed();
                if now >= next {
                    let Some((rss_kib, fds, cpu_ticks)) = usage_of(pid) else {
                        break;
                    };
                    let row = Usage {
                        seconds: now.as_secs_f64(),
                        rss_kib,
                        fds,
                        cpu_ticks,
                        containers: started.load(Ordering::Relaxed),
                    };
                    // CPU over the last interval, in percent of one core (100 ticks a second).
                    let percent = rows.last().map_or(0.0, |last| {
                        (row.cpu_ticks - last.cpu_ticks) as f64 / (row.seconds - last.seconds)
                    });
                    writeln!(
                        csv,
                        "{:.1},{},{},{},{percent:.2},{}",
                        row.seconds, row.rss_kib, row.fds, row.cpu_ticks, row.containers
                    )
                    .unwrap();
                    csv.flush().unwrap();
                    rows.push(row);
                    next += Duration::from_secs(10);
                }
                if stop.load(Ordering::Relaxed) {
                    break;
                }
                std::thread::sleep(Duration::from_millis(100));
            }
            rows
        })
    };

    let mut all: Vec<Started> = Vec::new();
    let mut b = 0;
    while began.elapsed() < duration {
        let launched = Instant::now();
        all.extend(burst(&docker, &format!("soak{b}"), per_burst, 4));
        started.store(all.len(), Ordering::Relaxed);
        watch.pump_for(Duration::from_secs(3).saturating_sub(launched.elapsed()));
        b += 1;
    }
    let ended = watch.pump_until(ENDED_WITHIN, |w| all.iter().all(|c| w.has_final(&c.id)));
    let last_final = watch.datagrams - 1;
    watch.pump_for(QUIET.max(Duration::from_secs(2 * u64::from(polling))));
    // One last row after the churn settled.
    std::thread::sleep(Duration::from_secs(10));
    stop.store(true, Ordering::Relaxed);
    let rows = sampler.join().unwrap();

    let total = began.elapsed();
    let rss: Vec<u64> = rows.iter().map(|r| r.rss_kib).collect();
    let fds: Vec<usize> = rows.iter().map(|r| r.fds).collect();
    let percents: Vec<u64> = rows
        .windows(2)
        .map(|w| {
            ((w[1].cpu_ticks - w[0].cpu_ticks) as f64 / (w[1].seconds - w[0].seconds) * 100.0)
                as u64
        })
        .collect();
    let (first, last) = (rows.first().unwrap(), rows.last().unwrap());
    let overall = (last.cpu_ticks - first.cpu_ticks) as f64 / (last.seconds - first.seconds);
    note(&format!(
        "soak summary: {:.0} s, {} containers ({:.1}/s), {} rows\n  RSS KiB min/median/max {}/{}/{} (first {}, last {})\n  fds min/median/max {}/{}/{}\n  CPU % of one core: overall {overall:.2}, per 10 s median {:.2} max {:.2}",
        total.as_secs_f64(),
        all.len(),
        all.len() as f64 / total.as_secs_f64(),
        rows.len(),
        rss.iter().min().unwrap(),
        median(&rss),
        rss.iter().max().unwrap(),
        first.rss_kib,
        last.rss_kib,
        fds.iter().min().unwrap(),
        median(&fds),
        fds.iter().max().unwrap(),
        median(&percents) as f64 / 100.0,
        *percents.iter().max().unwrap_or(&0) as f64 / 100.0,
    ));

    // Every violation is counted before anything fails, so that the record says how many.
    let missing = all.iter().filter(|c| !watch.has_final(&c.id)).count();
    let mut broken: Vec<String> = Vec::new();
    for container in &all {
        let samples = watch.of(&container.id);
        let finals = samples.iter().filter(|s| is_final(s.state)).count();
        let first_ok = samples.first().is_some_and(|s| s.sequence == 1);
        let last_final = samples.last().is_some_and(|s| is_final(s.state));
        if finals != 1 || !first_ok || !last_final {
            broken.push(format!("{}: {samples:?}", &container.id[..12]));
        }
    }
    let after: Vec<u32> = watch
        .host
        .iter()
        .filter(|(datagram, _)| *datagram > last_final)
        .map(|(_, domains)| *domains)
        .collect();
    let warnings = agent
        .stderr()
        .lines()
        .filter(|l| l.starts_with("WARN"))
        .count();
    note(&format!(
        "soak checks: {missing} containers without a final sample, {} of {} with a wrong sample \
         sequence (not one first sample, one final sample, last), num_domains after: {after:?}, \
         {warnings} warnings logged",
        broken.len(),
        all.len()
    ));
    assert!(
        ended,
        "{missing} containers without a final sample\n{}",
        agent.stderr()
    );
    assert!(broken.is_empty(), "containers:\n{}", broken.join("\n"));
    assert!(
        !after.is_empty() && after.iter().all(|&d| d == 0),
        "num_domains after: {after:?}"
    );
}

// ---------------------------------------------------------------------------------------------
// The race the soak found, reproduced with the stand-in engine.

/// An inspect answered after the container's `die` must not produce a sample after its final one.
///
/// In a 10-minute soak, 1 container of 1600 sent two final samples (sequences 3 and 4, 20 ms
/// apart). A second inspect of a container was in flight when it died: the periodic list (every
/// 120 s) asks for an inspect of a listed container that is still being inspected, and a
/// start/restart of a running container asks again for its new pid. When that answer comes after
/// the `die` (life `Ended`), `on_inspected` in src/agent/containers.rs treats it as news: an
/// `exited` answer takes the "ended before its first sample" branch and sends a second final
/// sample; a `running` answer (the engine answered just before the death) brings the container
/// back to life with a sample after its final one, and it is then polled and counted in
/// num_domains until the next list.
///
/// Fixed: `on_inspected` ignores answers for a container whose life has ended.
#[test]
fn a_late_inspect_answer_after_the_die_sends_nothing_more() {
    use support::fake_engine::{Endpoint, FakeEngine, Fault, Script};

    let exited_late = "1a7e00000000000000000000000000000000000000000000000000000000e4d1";
    let running_late = "2b8f00000000000000000000000000000000000000000000000000000000f5e2";
    let pid = std::process::id();
    let engine = FakeEngine::start(
        Script::docker()
            .container(exited_late, "exited-late", "running", pid)
            .container(running_late, "running-late", "running", pid),
    );
    let mut watch = ChurnWatch::bind();
    let config = support::agent::config_for(
        watch.collector.addr(),
        &format!("  docker {{ socket = {} }}", engine.socket().display()),
    );
    let agent = Agent::start("late-inspect", &config, &[]);
    for id in [exited_late, running_late] {
        assert!(
            watch.pump_until(Duration::from_secs(10), |w| !w.of(id).is_empty()),
            "{id} not reported\n{}",
            agent.stderr()
        );
    }
    let inspects = |engine: &FakeEngine, id: &str| {
        engine
            .requests()
            .iter()
            .filter(|r| r.contains(&format!("/containers/{id}/json")))
            .count()
    };

    // A restart event asks for a new inspect, held by the engine; the answer (as the engine saw
    // the container when the request came: exited for one, running for the other) is released
    // only after the die was handled.
    engine.set_fault(Endpoint::Inspect, Fault::Hold);
    engine.set_container_state(exited_late, "exited", 0);
    for id in [exited_late, running_late] {
        let before = inspects(&engine, id);
        engine.push_action("restart", id);
        assert!(
            engine.wait_until(Duration::from_secs(5), |e| inspects(e, id) > before),
            "no inspect after the restart event"
        );
    }
    engine.set_container_state(running_late, "exited", 0);
    for id in [exited_late, running_late] {
        engine.push_action("die", id);
    }
    assert!(
        watch.pump_until(Duration::from_secs(5), |w| w.has_final(exited_late)
            && w.has_final(running_late)),
        "no final samples after the die events\n{}",
        agent.stderr()
    );
    engine.clear_fault(Endpoint::Inspect);
    watch.pump_for(Duration::from_secs(3));

    for id in [exited_late, running_late] {
        let samples = watch.of(id);
        let finals = samples.iter().filter(|s| is_final(s.state)).count();
        assert_eq!(finals, 1, "{id}: final samples: {samples:?}");
        assert!(
            is_final(samples.last().unwrap().state),
            "{id}: a sample after the final one: {samples:?}"
        );
    }
    let last = watch.host.last().map(|(_, domains)| *domains);
    assert_eq!(last, Some(0), "num_domains after both died");
}
