//! Container counters as a collector sees them, checked against the kernel's files.
//!
//! [`CounterRig`] runs the csflowd binary on a private engine and receives its datagrams on
//! loopback; each datagram is walked for its record lengths ([`super::sflow::walk`]) and read by
//! the independent decoder (flowparser-sflow), and the two readings of every counter field of a
//! container sample must agree. [`kernel::Probe`] reads the container's cgroup v1 files and its
//! namespace's `net/dev` itself, every few milliseconds while the rig waits for a sample.
//!
//! **The window.** A periodic sample is read by the agent when its poll fires and may wait up to
//! 0.9 s in the agent's datagram queue for company. So the files cannot be read "at the same
//! moment" from outside; instead a sample is compared with the readings taken from [`LAG`] before
//! its datagram arrived up to just after: a counter that moves must lie between the smallest and
//! largest reading of that window, and a value that does not move (a limit, disk counters after the
//! I/O is over, everything in a frozen container) must equal the files exactly. LAG is generous
//! (the queue delay plus 1.6 s of scheduling noise); a window narrower than that would make the
//! test fail on a busy machine, not the agent.

#![allow(dead_code)]

pub mod kernel;
pub mod veth;

use std::time::{Duration, Instant};

use flowparser_sflow::counter_records::virt_cpu::VirtDomainState;

use super::agent::Agent;
use super::containers::{agent_config, ds_index_of_uuid, CONTAINER_TAGS};
use super::sflow::{decode, decoded_samples, walk, Collector, Decoded};
use super::Engine;
use kernel::{Host, Probe, Reading};

/// How long before its datagram's arrival the agent may have read a sample's files, at most.
pub const LAG: Duration = Duration::from_millis(2500);

/// How often a probe reads while the rig waits.
const TICK: Duration = Duration::from_millis(20);

/// The sFlow "unknown" values.
pub const UNKNOWN_32: u32 = u32::MAX;
pub const UNKNOWN_64: u64 = u64::MAX;

/// virt_disk_io as sent.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Disk {
    pub capacity: u64,
    pub allocation: u64,
    pub available: u64,
    pub rd_req: u32,
    pub rd_bytes: u64,
    pub wr_req: u32,
    pub wr_bytes: u64,
    pub errs: u32,
}

/// virt_net_io as sent.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Net {
    pub rx_bytes: u64,
    pub rx_packets: u32,
    pub rx_errs: u32,
    pub rx_drop: u32,
    pub tx_bytes: u64,
    pub tx_packets: u32,
    pub tx_errs: u32,
    pub tx_drop: u32,
}

/// The counter records of one container sample.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Counters {
    /// virt_cpu.state.
    pub state: u32,
    /// virt_cpu.cpuTime, ms.
    pub cpu_time: u32,
    /// virt_cpu.nrVirtCpu.
    pub nr_virt_cpu: u32,
    /// virt_memory.memory.
    pub memory: u64,
    /// virt_memory.maxMemory.
    pub max_memory: u64,
    /// virt_disk_io.
    pub disk: Disk,
    /// virt_net_io.
    pub net: Net,
    /// host_adapters: (ifIndex, MACs), in wire order.
    pub adapters: Vec<(u32, Vec<[u8; 6]>)>,
}

/// One container sample as received.
#[derive(Clone, Debug)]
pub struct ContainerSample {
    /// Its position in [`CounterRig::samples`].
    pub position: usize,
    /// When its datagram arrived.
    pub arrived: Instant,
    /// 3:`index`.
    pub index: u32,
    pub sequence: u32,
    pub hostname: String,
    pub counters: Counters,
}

impl ContainerSample {
    /// A final sample (exited 4 or stopped 5).
    pub fn is_final(&self) -> bool {
        matches!(self.counters.state, 4 | 5)
    }
}

fn be32(b: &[u8], at: usize) -> u32 {
    u32::from_be_bytes(b[at..at + 4].try_into().unwrap())
}

fn be64(b: &[u8], at: usize) -> u64 {
    u64::from_be_bytes(b[at..at + 8].try_into().unwrap())
}

/// The counter records read by hand from the walked record bodies.
fn counters_from_bytes(record: impl Fn(u32) -> Vec<u8>) -> Counters {
    let cpu = record(2101);
    let memory = record(2102);
    let disk = record(2103);
    let net = record(2104);
    let adapters_body = record(2001);
    let mut adapters = Vec::new();
    let mut at = 4;
    for _ in 0..be32(&adapters_body, 0) {
        let if_index = be32(&adapters_body, at);
        let count = be32(&adapters_body, at + 4) as usize;
        let macs = (0..count)
            .map(|i| {
                let mac = at + 8 + 8 * i;
                assert_eq!(
                    &adapters_body[mac + 6..mac + 8],
                    &[0, 0],
                    "MAC padding must be zeros"
                );
                adapters_body[mac..mac + 6].try_into().unwrap()
            })
            .collect();
        adapters.push((if_index, macs));
        at += 8 + 8 * count;
    }
    Counters {
        state: be32(&cpu, 0),
        cpu_time: be32(&cpu, 4),
        nr_virt_cpu: be32(&cpu, 8),
        memory: be64(&memory, 0),
        max_memory: be64(&memory, 8),
        disk: Disk {
            capacity: be64(&disk, 0),
            allocation: be64(&disk, 8),
            available: be64(&disk, 16),
            rd_req: be32(&disk, 24),
            rd_bytes: be64(&disk, 28),
            wr_req: be32(&disk, 36),
            wr_bytes: be64(&disk, 40),
            errs: be32(&disk, 48),
        },
        net: Net {
            rx_bytes: be64(&net, 0),
            rx_packets: be32(&net, 8),
            rx_errs: be32(&net, 12),
            rx_drop: be32(&net, 16),
            tx_bytes: be64(&net, 20),
            tx_packets: be32(&net, 28),
            tx_errs: be32(&net, 32),
            tx_drop: be32(&net, 36),
        },
        adapters,
    }
}

fn state_number(state: &VirtDomainState) -> u32 {
    match *state {
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

/// The counter records as the independent decoder read them.
fn counters_from_decoder(records: &[Decoded]) -> Counters {
    let mut c = Counters {
        state: UNKNOWN_32 - 1,
        cpu_time: 0,
        nr_virt_cpu: 0,
        memory: 0,
        max_memory: 0,
        disk: Disk::default(),
        net: Net::default(),
        adapters: Vec::new(),
    };
    let mut seen = 0;
    for record in records {
        match record {
            Decoded::VirtCpu(cpu) => {
                c.state = state_number(&cpu.state);
                c.cpu_time = cpu.cpu_time;
                c.nr_virt_cpu = cpu.nr_virt_cpu;
            }
            Decoded::VirtMemory(m) => {
                c.memory = m.memory;
                c.max_memory = m.max_memory;
            }
            Decoded::VirtDiskIo(d) => {
                c.disk = Disk {
                    capacity: d.capacity,
                    allocation: d.allocation,
                    available: d.available,
                    rd_req: d.rd_req,
                    rd_bytes: d.rd_bytes,
                    wr_req: d.wr_req,
                    wr_bytes: d.wr_bytes,
                    errs: d.errs,
                };
            }
            Decoded::VirtNetIo(n) => {
                c.net = Net {
                    rx_bytes: n.rx_bytes,
                    rx_packets: n.rx_packets,
                    rx_errs: n.rx_errs,
                    rx_drop: n.rx_drop,
                    tx_bytes: n.tx_bytes,
                    tx_packets: n.tx_packets,
                    tx_errs: n.tx_errs,
                    tx_drop: n.tx_drop,
                };
            }
            Decoded::HostAdapters(a) => {
                c.adapters = a
                    .adapters
                    .iter()
                    .map(|a| {
                        let macs = a.mac_addresses.iter().map(|m| m.bytes()).collect();
                        (a.if_index, macs)
                    })
                    .collect();
            }
            _ => continue,
        }
        seen += 1;
    }
    assert_eq!(seen, 5, "the decoder found the five counter records");
    c
}

/// The agent (polling `polling`), its collector and the engine it watches; keeps every container
/// sample received. Fields drop in order: the agent stops before the engine is torn down.
pub struct CounterRig {
    pub agent: Agent,
    collector: Collector,
    /// Every container sample received, in arrival order.
    pub samples: Vec<ContainerSample>,
    pub engine: Engine,
    /// The host's capacity, what a container without limits reports.
    pub host: Host,
    pub polling: u32,
}

impl CounterRig {
    /// Binds the collector and starts the agent on `engine`.
    pub fn start(engine: Engine, polling: u32) -> CounterRig {
        CounterRig::start_wrapped(engine, polling, &[])
    }

    /// Like [`CounterRig::start`], the agent run by `wrapper` (see [`Agent::start_wrapped`]).
    pub fn start_wrapped(engine: Engine, polling: u32, wrapper: &[&str]) -> CounterRig {
        let collector = Collector::bind();
        let config = agent_config(&engine, collector.addr(), polling);
        let tag = format!("counters-{}", engine.kind().name());
        let agent = Agent::start_wrapped(&tag, &config, &[], wrapper);
        CounterRig {
            agent,
            collector,
            samples: Vec::new(),
            engine,
            host: Host::read(),
            polling,
        }
    }

    /// Reads at most one datagram within `timeout`; keeps its container samples. False when none
    /// came.
    fn pump(&mut self, timeout: Duration) -> bool {
        let Some(datagram) = self.collector.recv(timeout) else {
            return false;
        };
        let arrived = Instant::now();
        let (_, walked) = walk(&datagram);
        let decoded = decoded_samples(&decode(&datagram));
        assert_eq!(walked.len(), decoded.len(), "sample count: decoder vs walk");
        for (w, (class, index, sequence, records)) in walked.iter().zip(decoded) {
            assert_eq!((w.class, w.index, w.sequence), (class, index, sequence));
            if class != 3 {
                continue;
            }
            assert_eq!(w.tags(), CONTAINER_TAGS, "records of 3:{index}");
            let descr = w.record(2000).unwrap();
            let length = be32(descr, 0) as usize;
            let hostname = String::from_utf8_lossy(&descr[4..4 + length]).into_owned();
            let padded = (length + 3) & !3;
            let uuid: [u8; 16] = descr[4 + padded..20 + padded].try_into().unwrap();
            assert_eq!(ds_index_of_uuid(&uuid), index, "3:{index} vs its uuid");
            let by_hand = counters_from_bytes(|tag| w.record(tag).unwrap().to_vec());
            let by_decoder = counters_from_decoder(&records);
            assert_eq!(
                by_hand, by_decoder,
                "3:{index}: the walk and the decoder read different counters"
            );
            self.samples.push(ContainerSample {
                position: self.samples.len(),
                arrived,
                index,
                sequence,
                hostname,
                counters: by_hand,
            });
        }
        true
    }

    /// Reads the datagrams already waiting in the socket. Their samples are kept, but the time
    /// they arrived is lost (they are stamped now), so none of them can have a window.
    fn drain(&mut self) {
        while self.pump(Duration::from_millis(1)) {}
    }

    /// The next sample of 3:`index` satisfying `wanted` (from sample position `from` on), reading
    /// only the collector (no probe), within `timeout`.
    pub fn wait(
        &mut self,
        from: usize,
        timeout: Duration,
        what: &str,
        wanted: impl Fn(&ContainerSample) -> bool,
    ) -> ContainerSample {
        let deadline = Instant::now() + timeout;
        let mut next = from;
        loop {
            if let Some(found) = self.samples[next.min(self.samples.len())..]
                .iter()
                .find(|s| wanted(s))
            {
                return found.clone();
            }
            next = self.samples.len();
            let Some(left) = deadline.checked_duration_since(Instant::now()) else {
                panic!("no {what} within {timeout:?}\n{}", self.report());
            };
            self.pump(left);
        }
    }

    /// Waits for a sample of 3:`index` satisfying `wanted` while `probe` reads the files, and
    /// returns it with its window: the readings from the last one taken at or before
    /// `arrival - LAG` up to one taken just after it arrived. A sample whose window would begin
    /// before `not_before` (or before the probe's history) is passed over: the window then covers
    /// only what happened after `not_before` (for example after the I/O was done). Samples that
    /// were already waiting in the socket are passed over too (their arrival time is unknown).
    pub fn sample_with_window(
        &mut self,
        probe: &mut Probe,
        index: u32,
        not_before: Instant,
        timeout: Duration,
        wanted: impl Fn(&ContainerSample) -> bool,
    ) -> (ContainerSample, Vec<Reading>) {
        let deadline = Instant::now() + timeout;
        self.drain();
        loop {
            probe.tick();
            let mark = self.samples.len();
            self.pump(TICK);
            let mut after = None;
            for sample in &self.samples[mark..] {
                if sample.index != index || !wanted(sample) {
                    continue;
                }
                // One reading just after the datagram, for every sample it held.
                after.get_or_insert_with(|| probe.tick());
                let Some(start) = sample.arrived.checked_sub(LAG) else {
                    continue;
                };
                if start < not_before {
                    continue;
                }
                if let Some(window) = probe.window_from_before(start) {
                    return (sample.clone(), window);
                }
            }
            if Instant::now() > deadline {
                panic!(
                    "no sample of 3:{index} with a full window within {timeout:?}\n{}",
                    self.report()
                );
            }
        }
    }

    /// Waits for a sample of 3:`index` satisfying `wanted` (from sample position `from` on, also
    /// one already received) while `probe` reads, and returns it with the readings taken from
    /// `since` up to just after it was found: for a container whose counters stand still since
    /// then (a paused one), where the moment of its arrival does not matter.
    pub fn sample_since(
        &mut self,
        probe: &mut Probe,
        index: u32,
        from: usize,
        since: Instant,
        timeout: Duration,
        wanted: impl Fn(&ContainerSample) -> bool,
    ) -> (ContainerSample, Vec<Reading>) {
        let deadline = Instant::now() + timeout;
        loop {
            probe.tick();
            if let Some(sample) = self.samples[from.min(self.samples.len())..]
                .iter()
                .find(|s| s.index == index && wanted(s))
                .cloned()
            {
                probe.tick();
                return (sample, probe.window_since(since));
            }
            self.pump(TICK);
            if Instant::now() > deadline {
                panic!(
                    "no sample of 3:{index} within {timeout:?}\n{}",
                    self.report()
                );
            }
        }
    }

    /// Every sample of 3:`index` received so far.
    pub fn of(&self, index: u32) -> Vec<&ContainerSample> {
        self.samples.iter().filter(|s| s.index == index).collect()
    }

    /// The recent samples and the agent's log tail, for failure messages.
    pub fn report(&self) -> String {
        let samples: Vec<String> = self.samples[self.samples.len().saturating_sub(12)..]
            .iter()
            .map(|s| format!("  3:{} seq {} {:?}", s.index, s.sequence, s.counters))
            .collect();
        let stderr = self.agent.stderr();
        let lines: Vec<&str> = stderr.lines().collect();
        format!(
            "recent container samples:\n{}\nagent stderr (last lines):\n{}",
            samples.join("\n"),
            lines[lines.len().saturating_sub(25)..].join("\n")
        )
    }
}

/// The smallest and largest value `field` took over `window`; panics when a file could not be
/// read in one of the readings (a running container's files are always there).
fn bounds(window: &[Reading], name: &str, field: impl Fn(&Reading) -> Option<u64>) -> (u64, u64) {
    let values: Vec<u64> = window
        .iter()
        .map(|r| field(r).unwrap_or_else(|| panic!("the kernel's {name} could not be read")))
        .collect();
    let lo = *values.iter().min().expect("a window holds readings");
    let hi = *values.iter().max().unwrap();
    (lo, hi)
}

/// `nrVirtCpu` as the kernel's files imply it: the fewest of the CFS quota's CPUs (rounded up),
/// the cpuset's CPUs and the host's CPUs.
pub fn cpus_allowed(r: &Reading, host: &Host) -> Option<u64> {
    let mut fewest = u64::from(host.cpus);
    let quota = r.quota_us?;
    if quota > 0 {
        let period = r.period_us?;
        fewest = fewest.min((quota as u64).div_ceil(period));
    }
    fewest = fewest.min(u64::from(r.cpuset_cpus?));
    Some(fewest)
}

/// Checks every counter field of `sample` against the kernel's files read over `window` (see
/// the module's doc): each value lies within what the files said during the window, and equals
/// them when they stood still. Also: no field is unknown, the disk record's capacity,
/// allocation, available and errs are 0, and host_adapters lists the container's interfaces but
/// `lo` with their ifIndex and MAC (none in the host's network namespace, whose traffic is not
/// the container's: virt_net_io is then 0).
pub fn assert_matches_kernel(
    sample: &ContainerSample,
    window: &[Reading],
    probe: &Probe,
    host: &Host,
    what: &str,
) {
    let c = &sample.counters;
    let span = window.last().unwrap().at - window[0].at;
    let check = |name: &str, value: u64, field: &dyn Fn(&Reading) -> Option<u64>| {
        let (lo, hi) = bounds(window, name, field);
        assert!(
            (lo..=hi).contains(&value),
            "{what}: {name} = {value}, but the kernel said {lo}..={hi} over {} readings in {span:?}\n{c:?}",
            window.len()
        );
    };
    check(
        "cpuTime (cpuacct.usage / 1e6)",
        u64::from(c.cpu_time),
        &|r| r.cpu_ns.map(|ns| (ns / 1_000_000) as u32 as u64),
    );
    check(
        "nrVirtCpu (quota, cpuset, host)",
        u64::from(c.nr_virt_cpu),
        &|r| cpus_allowed(r, host),
    );
    check("memory (memory.usage_in_bytes)", c.memory, &|r| r.memory);
    check(
        "maxMemory (memory.limit_in_bytes or MemTotal)",
        c.max_memory,
        &|r| r.memory_limit.map(|l| l.min(host.mem_total)),
    );
    check("rd_bytes", c.disk.rd_bytes, &|r| {
        r.disk_bytes.map(|s| s.read)
    });
    check("wr_bytes", c.disk.wr_bytes, &|r| {
        r.disk_bytes.map(|s| s.write)
    });
    check("rd_req", u64::from(c.disk.rd_req), &|r| {
        r.disk_requests.map(|s| s.read)
    });
    check("wr_req", u64::from(c.disk.wr_req), &|r| {
        r.disk_requests.map(|s| s.write)
    });
    assert_eq!(
        (
            c.disk.capacity,
            c.disk.allocation,
            c.disk.available,
            c.disk.errs
        ),
        (0, 0, 0, 0),
        "{what}: virt_disk_io capacity, allocation, available, errs"
    );
    if probe.host_network {
        assert_eq!(
            c.net,
            Net::default(),
            "{what}: the host's network is not the container's"
        );
        assert!(c.adapters.is_empty(), "{what}: adapters {:?}", c.adapters);
    } else {
        let n = &c.net;
        for (name, value, field) in [
            (
                "rx_bytes",
                n.rx_bytes,
                (|d: &kernel::NetDev| d.rx_bytes) as fn(&_) -> u64,
            ),
            ("rx_packets", u64::from(n.rx_packets), |d| d.rx_packets),
            ("rx_errs", u64::from(n.rx_errs), |d| d.rx_errs),
            ("rx_drop", u64::from(n.rx_drop), |d| d.rx_drop),
            ("tx_bytes", n.tx_bytes, |d| d.tx_bytes),
            ("tx_packets", u64::from(n.tx_packets), |d| d.tx_packets),
            ("tx_errs", u64::from(n.tx_errs), |d| d.tx_errs),
            ("tx_drop", u64::from(n.tx_drop), |d| d.tx_drop),
        ] {
            check(&format!("net {name} (/proc/<pid>/net/dev)"), value, &|r| {
                r.net.as_ref().map(field)
            });
        }
        // The interfaces are the same in every reading of the window, and the agent's list is
        // theirs, sorted by ifIndex.
        let listed: Vec<Vec<kernel::Interface>> = window
            .iter()
            .map(|r| r.interfaces.clone().expect("the container's interfaces"))
            .collect();
        assert!(
            listed.windows(2).all(|w| w[0] == w[1]),
            "{what}: the container's interfaces changed during the window: {listed:?}"
        );
        let mut expected: Vec<(u32, Vec<[u8; 6]>)> = listed[0]
            .iter()
            .map(|i| (i.if_index, vec![i.mac]))
            .collect();
        expected.sort();
        assert_eq!(
            c.adapters, expected,
            "{what}: host_adapters vs {:?}",
            listed[0]
        );
    }
}

/// True when no counter field of `c` is the unknown value.
pub fn nothing_unknown(c: &Counters) -> bool {
    fields(c).iter().all(|(_, _, value)| value.is_some())
}

/// How a counter field behaves over a container's life.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// Only grows (CPU time, bytes, packets, requests, errors, drops).
    Counter,
    /// Goes up and down (memory in use).
    Gauge,
    /// Set when the container starts (nrVirtCpu, maxMemory).
    Limit,
    /// Always the same (the disk record's capacity, allocation, available, errs: 0).
    Constant,
}

/// Every counter field of `c`: (name, kind, value), the value `None` when it is the unknown value
/// of its width.
pub fn fields(c: &Counters) -> Vec<(&'static str, Kind, Option<u64>)> {
    let n32 = |v: u32| (v != UNKNOWN_32).then_some(u64::from(v));
    let n64 = |v: u64| (v != UNKNOWN_64).then_some(v);
    let (d, n) = (&c.disk, &c.net);
    vec![
        ("cpuTime", Kind::Counter, n32(c.cpu_time)),
        ("nrVirtCpu", Kind::Limit, n32(c.nr_virt_cpu)),
        ("memory", Kind::Gauge, n64(c.memory)),
        ("maxMemory", Kind::Limit, n64(c.max_memory)),
        ("capacity", Kind::Constant, n64(d.capacity)),
        ("allocation", Kind::Constant, n64(d.allocation)),
        ("available", Kind::Constant, n64(d.available)),
        ("rd_req", Kind::Counter, n32(d.rd_req)),
        ("rd_bytes", Kind::Counter, n64(d.rd_bytes)),
        ("wr_req", Kind::Counter, n32(d.wr_req)),
        ("wr_bytes", Kind::Counter, n64(d.wr_bytes)),
        ("errs", Kind::Constant, n32(d.errs)),
        ("rx_bytes", Kind::Counter, n64(n.rx_bytes)),
        ("rx_packets", Kind::Counter, n32(n.rx_packets)),
        ("rx_errs", Kind::Counter, n32(n.rx_errs)),
        ("rx_drop", Kind::Counter, n32(n.rx_drop)),
        ("tx_bytes", Kind::Counter, n64(n.tx_bytes)),
        ("tx_packets", Kind::Counter, n32(n.tx_packets)),
        ("tx_errs", Kind::Counter, n32(n.tx_errs)),
        ("tx_drop", Kind::Counter, n32(n.tx_drop)),
    ]
}
