//! Container tracking as a user sees it: the csflowd binary watching a private engine (Docker or
//! Podman), its UDP output on loopback, and the scenarios both engines share.
//!
//! Every datagram that arrives is walked for its record lengths ([`super::sflow::walk`]) AND read
//! by the independent decoder; the two readings must agree. Every sample is kept, in arrival
//! order, so that a test can ask what arrived, when and how often over the whole run. Each sample
//! is also checked against what holds for every sample of its kind (see [`Watch`]).
//!
//! The expected data source index of a container is computed here from its id, independently of
//! the agent: 100000 + FNV-1a-32 over the 16 uuid bytes % 50000 ([`ds_index_of`]).
//!
//! Timing bounds are generous (seconds) on purpose: these machines are shared. Measured latencies
//! are printed to stderr for information ([`note`]); benchmarks own the real figures.

use std::collections::HashMap;
use std::io::Write as _;
use std::time::{Duration, Instant};

use flowparser_sflow::counter_records::virt_cpu::VirtDomainState;

use super::agent::Agent;
use super::sflow::{decode, decoded_samples, walk, Collector, Decoded, Walked};
use super::{Engine, Kind};

/// The records of every container sample (sflow_host.txt §3), sorted.
pub const CONTAINER_TAGS: [u32; 7] = [2000, 2001, 2002, 2101, 2102, 2103, 2104];
/// The records of the host sample with container tracking on, sorted.
pub const HOST_TAGS: [u32; 11] = [
    2000, 2001, 2003, 2004, 2005, 2006, 2007, 2008, 2009, 2010, 2100,
];

/// virt_cpu.state of a running container.
pub const RUNNING: u32 = 1;
/// virt_cpu.state of a paused container.
pub const PAUSED: u32 = 3;
/// virt_cpu.state of the final sample after `die`.
pub const EXITED: u32 = 4;
/// virt_cpu.state of the final sample after a `stop` without `die`.
pub const STOPPED: u32 = 5;

/// How long a container may take to be reported, or to be reported in a new state: generous on
/// purpose (the spec says well under a second; the benchmark measures it).
pub const PROMPT: Duration = Duration::from_secs(5);

/// Writes a line straight to stderr, bypassing the test harness's capture, so that measured
/// figures show in every run (they are information, never asserted).
pub fn note(text: &str) {
    let _ = writeln!(std::io::stderr(), "{text}");
}

/// The uuid of container `id`: its first 32 hex digits as 16 bytes.
pub fn uuid_of(id: &str) -> [u8; 16] {
    let mut uuid = [0u8; 16];
    for (i, byte) in uuid.iter_mut().enumerate() {
        *byte = u8::from_str_radix(&id[2 * i..2 * i + 2], 16)
            .unwrap_or_else(|_| panic!("{id:?} is not a container id"));
    }
    uuid
}

/// FNV-1a-32 as the reference agent computes it: each byte XORed sign-extended, as a C `char`.
pub fn fnv1a32_signed_chars(bytes: &[u8]) -> u32 {
    bytes.iter().fold(2_166_136_261u32, |hash, &byte| {
        (hash ^ byte as i8 as i32 as u32).wrapping_mul(16_777_619)
    })
}

/// How far past its home index a container's index may lie in these tests (linear probing past
/// the indices of the other containers a test runs at once).
const MAX_PROBE: u32 = 64;

/// The data source index of a container with this uuid, when no other container collides.
pub fn ds_index_of_uuid(uuid: &[u8; 16]) -> u32 {
    100_000 + fnv1a32_signed_chars(uuid) % 50_000
}

/// The data source index (3:N) of container `id`, when no other container collides.
pub fn ds_index_of(id: &str) -> u32 {
    ds_index_of_uuid(&uuid_of(id))
}

/// What the host's sample says about the host, which container samples must repeat.
#[derive(Clone, Debug, PartialEq, Eq)]
struct HostIdentity {
    machine_type: u32,
    os_name: u32,
    os_release: String,
}

/// One counter sample as received, with the fields the scenarios look at.
#[derive(Clone, Debug)]
pub struct Sample {
    /// Its position in [`Watch::samples`].
    pub position: usize,
    /// When its datagram arrived.
    pub arrived: Instant,
    /// The ordinal of its datagram in this run (0 for the first datagram).
    pub datagram: usize,
    /// Data source class: 2 for the host, 3 for a container.
    pub class: u32,
    /// Data source index.
    pub index: u32,
    /// The sample's sequence number (per data source).
    pub sequence: u32,
    /// The record tags, sorted.
    pub tags: Vec<u32>,
    /// host_descr.hostname.
    pub hostname: Option<String>,
    /// host_descr.uuid.
    pub uuid: Option<[u8; 16]>,
    /// virt_cpu.state.
    pub state: Option<u32>,
    /// virt_node.num_domains.
    pub num_domains: Option<u32>,
    /// host_parent (class, index).
    pub parent: Option<(u32, u32)>,
}

impl Sample {
    /// True for a sample of the physical host (2:1).
    pub fn is_host(&self) -> bool {
        (self.class, self.index) == (2, 1)
    }

    /// True for a sample of container data source 3:`index`.
    pub fn is_of(&self, index: u32) -> bool {
        (self.class, self.index) == (3, index)
    }

    /// True for a final sample (state exited or stopped).
    pub fn is_final(&self) -> bool {
        matches!(self.state, Some(EXITED | STOPPED))
    }

    fn line(&self, start: Instant) -> String {
        format!(
            "  +{:>6.3}s dg{:<3} {}:{} seq {} state {:?} name {:?} domains {:?}",
            self.arrived.saturating_duration_since(start).as_secs_f64(),
            self.datagram,
            self.class,
            self.index,
            self.sequence,
            self.state,
            self.hostname,
            self.num_domains
        )
    }
}

fn be32(bytes: &[u8], at: usize) -> u32 {
    u32::from_be_bytes(bytes[at..at + 4].try_into().unwrap())
}

/// The fields of one walked sample (the bytes, read by hand).
fn from_walked(
    walked: &Walked,
    position: usize,
    arrived: Instant,
    datagram: usize,
) -> (Sample, Option<HostIdentity>) {
    let mut sample = Sample {
        position,
        arrived,
        datagram,
        class: walked.class,
        index: walked.index,
        sequence: walked.sequence,
        tags: walked.tags(),
        hostname: None,
        uuid: None,
        state: None,
        num_domains: None,
        parent: None,
    };
    let mut identity = None;
    if let Some(descr) = walked.record(2000) {
        let length = be32(descr, 0) as usize;
        let padded = (length + 3) & !3;
        sample.hostname = Some(String::from_utf8_lossy(&descr[4..4 + length]).into_owned());
        sample.uuid = Some(descr[4 + padded..20 + padded].try_into().unwrap());
        let release = be32(descr, 28 + padded) as usize;
        identity = Some(HostIdentity {
            machine_type: be32(descr, 20 + padded),
            os_name: be32(descr, 24 + padded),
            os_release: String::from_utf8_lossy(&descr[32 + padded..32 + padded + release])
                .into_owned(),
        });
    }
    sample.state = walked.record(2101).map(|cpu| be32(cpu, 0));
    sample.num_domains = walked.record(2100).map(|node| be32(node, 24));
    sample.parent = walked.record(2002).map(|p| (be32(p, 0), be32(p, 4)));
    (sample, identity)
}

fn state_number(state: VirtDomainState) -> u32 {
    match state {
        VirtDomainState::NoState => 0,
        VirtDomainState::Running => 1,
        VirtDomainState::Blocked => 2,
        VirtDomainState::Paused => 3,
        VirtDomainState::Shutdown => 4,
        VirtDomainState::Shutoff => 5,
        VirtDomainState::Crashed => 6,
        VirtDomainState::PmSuspended => 7,
        VirtDomainState::Unrecognized(n) => n,
    }
}

/// The independent decoder's reading must say what the walk says.
fn agree(sample: &Sample, records: &[Decoded]) {
    assert_eq!(
        records.len(),
        sample
            .tags
            .iter()
            .filter(|t| **t != super::sflow::UNDECODABLE)
            .count(),
        "decoder and walk disagree on the record count of {}:{}",
        sample.class,
        sample.index
    );
    for record in records {
        match record {
            Decoded::HostDescr(descr) => {
                assert_eq!(Some(&descr.hostname), sample.hostname.as_ref(), "hostname");
                assert_eq!(
                    Some(*descr.uuid.as_bytes()),
                    sample.uuid,
                    "uuid of {}:{}",
                    sample.class,
                    sample.index
                );
            }
            Decoded::VirtCpu(cpu) => {
                assert_eq!(
                    Some(state_number(cpu.state)),
                    sample.state,
                    "virt_cpu.state"
                );
            }
            Decoded::VirtNode(node) => {
                assert_eq!(Some(node.num_domains), sample.num_domains, "num_domains");
            }
            Decoded::HostParent(parent) => {
                assert_eq!(
                    Some((parent.container_type, parent.container_index)),
                    sample.parent,
                    "host_parent"
                );
            }
            _ => {}
        }
    }
}

/// A collector that keeps every sample it received, after checking each datagram with both
/// readers and each sample against what holds for all samples:
///
/// - every record's length matches its structure ([`walk`]); the decoder reads the datagram
///   without error and agrees on sources, sequences, hostnames, uuids, states and domain counts;
/// - per data source, sequence numbers only grow (no reset, no repeat);
/// - the host sample (2:1) carries exactly [`HOST_TAGS`];
/// - a container sample (3:N) carries exactly [`CONTAINER_TAGS`], N is the index its uuid hashes
///   to, N is in 100000..=149999, host_parent is (2, 1), a non-empty hostname, and machine type,
///   OS name and OS release equal the host sample's (OS release also equals this machine's).
pub struct Watch {
    collector: Collector,
    samples: Vec<Sample>,
    datagrams: usize,
    started: Instant,
    host: Option<HostIdentity>,
    os_release: String,
    last_sequence: HashMap<(u32, u32), u32>,
}

impl Watch {
    /// A collector on 127.0.0.1 with an ephemeral port.
    pub fn bind() -> Watch {
        let os_release = std::fs::read_to_string("/proc/sys/kernel/osrelease")
            .unwrap()
            .trim()
            .to_owned();
        Watch {
            collector: Collector::bind(),
            samples: Vec::new(),
            datagrams: 0,
            started: Instant::now(),
            host: None,
            os_release,
            last_sequence: HashMap::new(),
        }
    }

    /// Where the agent must send.
    pub fn addr(&self) -> std::net::SocketAddr {
        self.collector.addr()
    }

    /// Every sample received so far, in arrival order.
    pub fn samples(&self) -> &[Sample] {
        &self.samples
    }

    /// The position the next sample will take: what arrives from now on is at `mark()` or later.
    pub fn mark(&self) -> usize {
        self.samples.len()
    }

    /// Every sample received so far of container data source 3:`index`.
    pub fn of(&self, index: u32) -> Vec<&Sample> {
        self.samples.iter().filter(|s| s.is_of(index)).collect()
    }

    /// Reads one datagram, waiting at most `timeout`; false when none came.
    fn pump_one(&mut self, timeout: Duration) -> bool {
        let Some(datagram) = self.collector.recv(timeout) else {
            return false;
        };
        let arrived = Instant::now();
        let ordinal = self.datagrams;
        self.datagrams += 1;
        let (_, walked) = walk(&datagram);
        let decoded = decoded_samples(&decode(&datagram));
        assert_eq!(walked.len(), decoded.len(), "sample count: decoder vs walk");
        for (walked, (class, index, sequence, records)) in walked.iter().zip(decoded) {
            assert_eq!(
                (walked.class, walked.index, walked.sequence),
                (class, index, sequence),
                "sample header: walk vs decoder"
            );
            let (sample, identity) = from_walked(walked, self.samples.len(), arrived, ordinal);
            agree(&sample, &records);
            self.check(&sample, identity);
            self.samples.push(sample);
        }
        true
    }

    fn check(&mut self, sample: &Sample, identity: Option<HostIdentity>) {
        let source = (sample.class, sample.index);
        if let Some(last) = self.last_sequence.insert(source, sample.sequence) {
            assert!(
                sample.sequence > last,
                "{}:{} sequence {} after {last}",
                sample.class,
                sample.index,
                sample.sequence
            );
        }
        match source {
            (2, 1) => {
                assert_eq!(sample.tags, HOST_TAGS, "host sample records");
                if self.host.is_none() {
                    self.host = identity;
                }
            }
            (3, index) => {
                let what = format!("container sample 3:{index} ({:?})", sample.hostname);
                assert_eq!(sample.tags, CONTAINER_TAGS, "{what}: records");
                assert!((100_000..150_000).contains(&index), "{what}: index range");
                let uuid = sample.uuid.unwrap();
                // The UUID's home index, or a few past it: the agent probes forward past indices
                // other containers hold (50 ids in 50,000 collide about once in 40 runs).
                let past_home = (index + 50_000 - ds_index_of_uuid(&uuid)) % 50_000;
                assert!(
                    past_home < MAX_PROBE,
                    "{what}: index vs uuid {uuid:02x?}: {past_home} past its home"
                );
                assert_eq!(sample.parent, Some((2, 1)), "{what}: host_parent");
                assert!(
                    sample.hostname.as_ref().is_some_and(|h| !h.is_empty()),
                    "{what}: hostname"
                );
                let identity = identity.unwrap();
                assert_eq!(identity.os_release, self.os_release, "{what}: os_release");
                if let Some(host) = &self.host {
                    assert_eq!(&identity, host, "{what}: copied from the host sample");
                }
            }
            (class, index) => panic!("unexpected data source {class}:{index}"),
        }
    }

    /// Reads everything that arrives during `span`.
    pub fn pump_for(&mut self, span: Duration) {
        let deadline = Instant::now() + span;
        while let Some(left) = deadline.checked_duration_since(Instant::now()) {
            self.pump_one(left);
        }
    }

    /// The first sample at position `from` or later that satisfies `wanted`, reading datagrams
    /// for at most `timeout`; `None` if none came.
    pub fn wait(
        &mut self,
        from: usize,
        timeout: Duration,
        wanted: impl Fn(&Sample) -> bool,
    ) -> Option<Sample> {
        let deadline = Instant::now() + timeout;
        let mut next = from;
        loop {
            if let Some(found) = self.samples[next.min(self.samples.len())..]
                .iter()
                .find(|s| wanted(s))
            {
                return Some(found.clone());
            }
            next = self.samples.len();
            let left = deadline.checked_duration_since(Instant::now())?;
            self.pump_one(left);
        }
    }

    /// The last `count` samples received, one a line, for failure messages.
    pub fn recent(&self, count: usize) -> String {
        let skip = self.samples.len().saturating_sub(count);
        let lines: Vec<String> = self.samples[skip..]
            .iter()
            .map(|s| s.line(self.started))
            .collect();
        lines.join("\n")
    }
}

/// A container the test started: its id, name and expected data source index.
#[derive(Clone, Debug)]
pub struct Container {
    /// The full id (64 hex digits).
    pub id: String,
    /// The name it was started with.
    pub name: String,
    /// 3:`index` is its data source.
    pub index: u32,
}

/// Starts container `name` on `engine` (`run -d --name <name> <options> <image> <command>`).
pub fn run(engine: &Engine, name: &str, options: &[&str], command: &[&str]) -> Container {
    let mut all = vec!["--name", name];
    all.extend_from_slice(options);
    let id = engine.run(&all, command);
    let index = ds_index_of(&id);
    Container {
        id,
        name: name.to_owned(),
        index,
    }
}

/// Panics unless the containers' data source indexes differ (the scenarios assume no collision).
pub fn assert_distinct(containers: &[&Container]) {
    for (i, a) in containers.iter().enumerate() {
        for b in &containers[i + 1..] {
            assert_ne!(a.index, b.index, "{} and {} collide", a.name, b.name);
        }
    }
}

/// The agent's configuration: `polling` seconds, one collector, container tracking on the engine's
/// socket.
pub fn agent_config(engine: &Engine, collector: std::net::SocketAddr, polling: u32) -> String {
    format!(
        "sflow {{\n  polling = {polling}\n  agentIP = 192.0.2.1\n  collector {{ ip = {} udpport = {} }}\n  docker {{ socket = \"{}\" }}\n}}\n",
        collector.ip(),
        collector.port(),
        engine.socket_path().display()
    )
}

/// One scenario's world: the agent (`-d -f conf`), the collector it sends to, and the engine it
/// watches. Fields drop in order: the agent stops before the engine is torn down.
pub struct Rig {
    /// The csflowd process.
    pub agent: Agent,
    /// Its output.
    pub watch: Watch,
    /// The private engine.
    pub engine: Engine,
    /// The polling interval the agent was given, in seconds.
    pub polling: u32,
}

impl Rig {
    /// Binds the collector and starts the agent on `engine` with `polling` seconds.
    pub fn start(engine: Engine, polling: u32) -> Rig {
        let watch = Watch::bind();
        let config = agent_config(&engine, watch.addr(), polling);
        let agent = Agent::start(engine.kind().name(), &config, &[]);
        Rig {
            agent,
            watch,
            engine,
            polling,
        }
    }

    /// One polling interval.
    pub fn interval(&self) -> Duration {
        Duration::from_secs(u64::from(self.polling))
    }

    /// Everything a failure message needs: the recent samples and the agent's stderr.
    pub fn report(&self) -> String {
        let stderr = self.agent.stderr();
        let lines: Vec<&str> = stderr.lines().collect();
        format!(
            "recent samples:\n{}\nagent stderr (last lines):\n{}",
            self.watch.recent(40),
            lines[lines.len().saturating_sub(30)..].join("\n")
        )
    }

    /// [`Watch::wait`], failing the test with `what` and [`Rig::report`] when nothing came.
    pub fn expect(
        &mut self,
        what: &str,
        from: usize,
        timeout: Duration,
        wanted: impl Fn(&Sample) -> bool,
    ) -> Sample {
        match self.watch.wait(from, timeout, wanted) {
            Some(sample) => sample,
            None => panic!("no {what} within {timeout:?}\n{}", self.report()),
        }
    }

    /// Waits for the first sample of `container` and checks it: sequence 1 (it is the first of
    /// its data source ever received), hostname = name, state running, uuid = the id's first 16
    /// bytes. The other fields are checked by [`Watch`] on every sample.
    pub fn first_sample(&mut self, container: &Container, timeout: Duration) -> Sample {
        let index = container.index;
        let sample = self.expect(
            &format!("first sample of {} (3:{index})", container.name),
            0,
            timeout,
            |s| s.is_of(index),
        );
        let what = format!("first sample of {}", container.name);
        assert_eq!(sample.sequence, 1, "{what}: sequence\n{}", self.report());
        assert_eq!(
            sample.hostname.as_deref(),
            Some(container.name.as_str()),
            "{what}: hostname"
        );
        assert_eq!(sample.state, Some(RUNNING), "{what}: state");
        assert_eq!(sample.uuid, Some(uuid_of(&container.id)), "{what}: uuid");
        sample
    }

    /// The first host sample in a datagram after datagram `after`: one encoded after every sample
    /// of that datagram went out.
    pub fn host_sample_after(&mut self, after: usize) -> Sample {
        let timeout = self.interval() * 2 + PROMPT;
        self.expect(
            &format!("host sample after datagram {after}"),
            0,
            timeout,
            |s| s.is_host() && s.datagram > after,
        )
    }

    /// Runs the engine's CLI with `args`; returns how long it took.
    pub fn cli(&self, args: &[&str]) -> Duration {
        let began = Instant::now();
        self.engine.cli(args);
        began.elapsed()
    }
}

/// How long after `since` the sample came (zero when it came first: the engine's event may reach
/// the agent before the CLI returns).
pub fn latency(sample: &Sample, since: Instant) -> Duration {
    sample.arrived.saturating_duration_since(since)
}

/// Scenario: containers running before the agent starts are all reported with their first
/// sample, and the host's virt_node counts the running and paused ones (a killed one no longer).
pub fn running_before_the_agent(engine: Engine) {
    let kind = engine.kind().name();
    let names = ["csf-early-a", "csf-early-b", "csf-early-c"];
    let containers: Vec<Container> = names
        .iter()
        .map(|name| run(&engine, name, &[], &["sleep", "300"]))
        .collect();
    assert_distinct(&containers.iter().collect::<Vec<_>>());
    let mut rig = Rig::start(engine, 2);
    let began = Instant::now();
    let mut last_datagram = 0;
    for container in &containers {
        let first = rig.first_sample(container, rig.interval() + 2 * PROMPT);
        last_datagram = last_datagram.max(first.datagram);
    }
    note(&format!(
        "{kind}: 3 containers running before the agent reported {:?} after it started",
        began.elapsed()
    ));
    let host = rig.host_sample_after(last_datagram);
    assert_eq!(host.num_domains, Some(3), "three running\n{}", rig.report());

    // Paused still counts.
    let (paused, killed) = (&containers[0], &containers[1]);
    let mark = rig.watch.mark();
    rig.cli(&["pause", &paused.id]);
    let sample = rig.expect("paused sample", mark, PROMPT, |s| {
        s.is_of(paused.index) && s.state == Some(PAUSED)
    });
    let host = rig.host_sample_after(sample.datagram);
    assert_eq!(
        host.num_domains,
        Some(3),
        "two running, one paused\n{}",
        rig.report()
    );

    // An ended one does not.
    let mark = rig.watch.mark();
    rig.cli(&["kill", &killed.id]);
    let last = rig.expect("final sample after kill", mark, PROMPT, |s| {
        s.is_of(killed.index) && s.is_final()
    });
    let host = rig.host_sample_after(last.datagram);
    assert_eq!(
        host.num_domains,
        Some(2),
        "one running, one paused\n{}",
        rig.report()
    );
}

/// Scenario (defect 6a): a container paused before the agent starts is sampled with state paused
/// from its first sample, and stays tracked, polled and paused, through re-lists (`docker {
/// relist = 2 }`: at least three in the 7 s watched): Podman leaves paused containers out of a
/// plain list, which once took them for gone at every re-list. Resumed, it runs on.
pub fn paused_before_the_agent(engine: Engine) {
    let kind = engine.kind().name();
    let frozen = run(&engine, "csf-frozen", &[], &["sleep", "300"]);
    let running = run(&engine, "csf-running", &[], &["sleep", "300"]);
    assert_distinct(&[&frozen, &running]);
    engine.cli(&["pause", &frozen.id]);
    let watch = Watch::bind();
    let config = agent_config(&engine, watch.addr(), 1).replace("docker {", "docker { relist = 2");
    let agent = Agent::start(kind, &config, &[]);
    let mut rig = Rig {
        agent,
        watch,
        engine,
        polling: 1,
    };
    rig.first_sample(&running, rig.interval() + 2 * PROMPT);
    let index = frozen.index;
    let first = rig.expect("a sample of the paused container", 0, PROMPT, |s| {
        s.is_of(index)
    });
    assert_eq!(
        first.sequence,
        1,
        "{kind}: its first sample\n{}",
        rig.report()
    );
    assert_eq!(
        first.state,
        Some(PAUSED),
        "{kind}: paused\n{}",
        rig.report()
    );
    let mark = rig.watch.mark();
    rig.watch.pump_for(Duration::from_secs(7));
    let later: Vec<&Sample> = rig.watch.samples()[mark..]
        .iter()
        .filter(|s| s.is_of(index))
        .collect();
    assert!(
        later.len() >= 4,
        "{kind}: polled on through the re-lists ({} samples)\n{}",
        later.len(),
        rig.report()
    );
    assert!(
        later
            .iter()
            .all(|s| s.state == Some(PAUSED) && !s.is_final()),
        "{kind}: still paused, never ended\n{}",
        rig.report()
    );
    let (first_later, last_later) = (later[0].datagram, later[later.len() - 1].sequence);
    let host = rig.host_sample_after(first_later);
    assert_eq!(
        host.num_domains,
        Some(2),
        "{kind}: both count\n{}",
        rig.report()
    );

    let mark = rig.watch.mark();
    rig.cli(&["unpause", &frozen.id]);
    let resumed = rig.expect("running sample after unpause", mark, PROMPT, |s| {
        s.is_of(index) && s.state == Some(RUNNING)
    });
    assert!(resumed.sequence > last_later);
}

/// Starts `name` and checks its first sample arrives within [`PROMPT`] of the CLI returning.
pub fn started_after(rig: &mut Rig, name: &str) -> Container {
    let kind = rig.engine.kind().name();
    let began = Instant::now();
    let container = run(&rig.engine, name, &[], &["sleep", "300"]);
    let returned = Instant::now();
    let first = rig.first_sample(&container, PROMPT);
    note(&format!(
        "{kind}: first sample {:?} after `run -d` was called ({:?} after it returned)",
        latency(&first, began),
        latency(&first, returned)
    ));
    container
}

/// Pauses and unpauses `container`, checking the state samples and that the sequence goes on.
pub fn pause_and_unpause(rig: &mut Rig, container: &Container) {
    let kind = rig.engine.kind().name();
    let index = container.index;
    let before = rig.watch.of(index).last().map(|s| s.sequence).unwrap();

    let mark = rig.watch.mark();
    let took = rig.cli(&["pause", &container.id]);
    let returned = Instant::now();
    let paused = rig.expect("sample with state paused", mark, PROMPT, |s| {
        s.is_of(index) && s.state == Some(PAUSED)
    });
    assert!(
        paused.sequence > before,
        "sequence after pause: {} after {before}",
        paused.sequence
    );
    note(&format!(
        "{kind}: `pause` took {took:?}; paused sample {:?} after it returned",
        latency(&paused, returned)
    ));

    let mark = rig.watch.mark();
    let took = rig.cli(&["unpause", &container.id]);
    let returned = Instant::now();
    let resumed = rig.expect(
        "sample with state running after unpause",
        mark,
        PROMPT,
        |s| s.is_of(index) && s.state == Some(RUNNING),
    );
    assert!(
        resumed.sequence > paused.sequence,
        "sequence after unpause: {} after {}",
        resumed.sequence,
        paused.sequence
    );
    note(&format!(
        "{kind}: `unpause` took {took:?}; running sample {:?} after it returned",
        latency(&resumed, returned)
    ));
}

/// How long a data source must stay silent after its final sample (polling 1: five intervals).
pub const SILENCE: Duration = Duration::from_secs(5);

/// Scenario (polling 1): a container stopped with `stop -t 1`, one killed, and one that lives
/// half a second each send exactly one final sample, and nothing after it. Its state is exited
/// (the `die` event came first), except for Podman's stopped container: Podman 4.3's CLI `stop`
/// sometimes sends a `stop` event before `died` (and sometimes none), and a stop without a die
/// before it ends the container with state stopped.
pub fn ended_containers(engine: Engine) {
    let kind = engine.kind().name();
    let stop_states: &[u32] = match engine.kind() {
        Kind::Docker => &[EXITED],
        Kind::Podman => &[EXITED, STOPPED],
    };
    let stopped = run(&engine, "csf-stopped", &[], &["sleep", "300"]);
    let killed = run(&engine, "csf-killed", &[], &["sleep", "300"]);
    let mut rig = Rig::start(engine, 1);
    rig.first_sample(&stopped, rig.interval() + 2 * PROMPT);
    rig.first_sample(&killed, PROMPT);

    let took = rig.cli(&["stop", "-t", "1", &stopped.id]);
    note(&format!("{kind}: `stop -t 1` took {took:?}"));
    let took = rig.cli(&["kill", &killed.id]);
    note(&format!("{kind}: `kill` took {took:?}"));
    let began = Instant::now();
    let brief = run(&rig.engine, "csf-brief", &[], &["sh", "-c", "sleep 0.5"]);
    note(&format!(
        "{kind}: `run -d` (0.5 s container) took {:?}",
        began.elapsed()
    ));
    assert_distinct(&[&stopped, &killed, &brief]);

    let first = rig.first_sample(&brief, PROMPT);
    for container in [&stopped, &killed, &brief] {
        let index = container.index;
        rig.expect(
            &format!("final sample of {}", container.name),
            0,
            PROMPT,
            |s| s.is_of(index) && s.is_final(),
        );
    }
    // Every final sample is in: what arrives in the next while counts too.
    rig.watch.pump_for(SILENCE);

    for (container, states) in [
        (&stopped, stop_states),
        (&killed, &[EXITED][..]),
        (&brief, &[EXITED][..]),
    ] {
        let samples = rig.watch.of(container.index);
        let finals: Vec<&&Sample> = samples.iter().filter(|s| s.is_final()).collect();
        let what = format!("{} (3:{})", container.name, container.index);
        assert_eq!(finals.len(), 1, "{what}: final samples\n{}", rig.report());
        assert!(
            finals[0].state.is_some_and(|state| states.contains(&state)),
            "{what}: final state {:?}, expected one of {states:?}\n{}",
            finals[0].state,
            rig.report()
        );
        let last = samples.last().unwrap();
        assert!(
            std::ptr::eq(*last, *finals[0]),
            "{what}: a sample after the final one\n{}",
            rig.report()
        );
        assert!(
            samples
                .iter()
                .all(|s| s.hostname.as_deref() == Some(container.name.as_str())),
            "{what}: hostname"
        );
    }
    let brief_final = rig.watch.of(brief.index).last().unwrap().sequence;
    assert!(
        brief_final > first.sequence,
        "the 0.5 s container's first and final samples are distinct\n{}",
        rig.report()
    );
}
