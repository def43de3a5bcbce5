//! Packet taps: one sampling socket per tapped interface, in the loop's one poller.
//!
//! Two kinds of interfaces are tapped: each `pcap { dev }` of the configuration, and, with
//! `pcap { containers = on }`, the host end of every veth into a tracked container's network
//! namespace (found as [`crate::packet::veth`] says, without entering the container). A
//! container's taps open when its process is known (the table's `Attach`), are checked again at
//! every host poll (a veth added later, or gone), and close with its final sample or when its slot
//! is dropped. A `pcap { dev }` whose interface disappears or comes back with a new ifIndex is
//! re-opened at the next host poll; one renamed while tapped stays tapped, its counter samples
//! (`port_name`) say the new name, until an interface of the configured name appears. A
//! container's veth renamed is followed the same way.
//!
//! The kernel samples (a BPF program keeps one packet in N, cut to `headerBytes`, see
//! [`crate::sys::packet`]), so a wake-up reads only samples: at most [`MAX_BATCHES`] `recvmmsg`
//! of 64 per tap. A tap that had samples is then busy: its socket stays disarmed and the loop reads
//! it again [`HOLD_MS`] later (a timer like the polls'), so a stream of samples costs a wake-up per
//! hold, not one per few packets, and a flood never starves the counter polls; what the kernel
//! could not queue meanwhile is counted in the socket's drops and reported in every flow sample.
//! The sample pool is the interface's own packet count in the sampled directions (received, sent,
//! or both), read once per batch with the socket's drops.
//!
//! A tap that stays busy ([`UPGRADE_AFTER`] wake-ups in a row each reading a full batch) moves to
//! a `TPACKET_V3` ring ([`RING`], at most [`MAX_RINGS`] at once: ring memory counts in the RSS,
//! and idle taps must stay small), where samples are read in place, a block at a time, with the
//! same per-packet code as the queue's batches (the records are identical). The switch is in
//! [`Taps::upgrade`]: the two sockets are members of one fanout group, and the kernel hands each
//! packet to exactly one of them, so none is sent twice and none is lost.
//!
//! Each `pcap` block says which
//! directions it samples (`ingress`, `egress`): without egress the kernel does not even clone
//! the sent packets for the socket.
//! A container tap adds `extended_entities` naming the container (3:N) as the packet's source or
//! destination (the reference agent's `markTraffic`).
//!
//! Each tapped interface also sends a counter sample (`if_counters` and `port_name`, data source
//! 0:ifIndex) at every host poll, so a collector can scale its samples.
//!
//! Without `CAP_NET_RAW` no tap opens: one warning says so, and the counters go on.

use std::collections::HashMap;
use std::io;
use std::path::Path;
use std::rc::Rc;

use log::{debug, info, warn};

use crate::config::{Config, Directions};
use crate::host::Roots;
use crate::packet::ring;
use crate::packet::veth::{self, VethFinder};
use crate::packet::{self, pkttype, PoolCounter, PortInfo, TapState, ARPHRD_ETHER};
use crate::packet::{netlink, nflog};
use crate::sys::netlink::RouteSocket;
use crate::sys::packet::{PacketBatch, PacketInfo, PacketSocket, RingGeometry, RingSocket, BATCH};
use crate::sys::Watched;
use crate::wire::{
    Adapter, CounterRecord, CounterSample, DataSource, ExtendedEntities, FlowRecord, PortName,
    DS_CLASS_LOGICAL, IF_INTERNAL, MAX_SAMPLED_HEADER,
};

use super::keys::Key;
use super::sink::Sink;

/// How long a busy tap's samples wait in the kernel's queue before the next read (ms): at 20,000
/// samples a second, 200 samples, well within the socket's 1 MiB queue.
pub const HOLD_MS: u64 = 10;

/// Most batches read from one tap per wake-up: bounds the work, so a flood cannot delay the
/// counter polls.
pub const MAX_BATCHES: usize = 4;

/// A tap is moved to a ring after this many wake-ups in a row that each read at least a full
/// batch ([`BATCH`] samples): a stream of over ~6,400 samples a second for ~80 ms.
pub const UPGRADE_AFTER: u32 = 8;

/// The ring of a busy tap: 8 blocks of 32 KiB, ~1,150 samples of 128 bytes (~58 ms at 20,000
/// samples a second), a block handed over at least every [`HOLD_MS`].
pub const RING: RingGeometry = RingGeometry {
    block_size: 32 << 10,
    blocks: 8,
    retire_ms: HOLD_MS as u32,
};

/// Most taps read through a ring at once: the rings' memory (4 × 256 KiB) counts in the agent's
/// RSS, so only the busiest few get one.
pub const MAX_RINGS: usize = 4;

/// How long the socket a ring replaced is kept after the switch (ms), then read a last time: a
/// packet the kernel had handed it just before the switch can reach its queue after the read
/// made at the switch.
const RETIRE_AFTER_MS: u64 = 10;

/// The socket a ring replaced, until its last read.
struct Retired {
    socket: Watched<PacketSocket>,
    /// Read a last time and closed at this agent time (ms) or later.
    at: u64,
}

/// Who a tap is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Owner {
    /// `pcap { dev }`, by its position in the configuration.
    Dev(usize),
    /// A container, by its table slot.
    Container(usize),
}

/// How a tap reads its samples.
enum Reader {
    /// `recvmmsg` from the socket's queue: every tap starts so.
    Queue(Watched<PacketSocket>),
    /// Blocks of a `TPACKET_V3` ring: a tap that stayed busy.
    Ring(Watched<RingSocket>),
}

struct Tap {
    owner: Owner,
    port: PortInfo,
    reader: Reader,
    directions: Directions,
    pool: PoolCounter,
    state: TapState,
    counter_sequence: u32,
    /// Busy: the socket is not armed, and is read again at this time (agent ms).
    resume_at: Option<u64>,
    /// Wake-ups in a row that read at least a full batch.
    full_reads: u32,
    /// A ring could not be opened for this tap: not tried again.
    no_ring: bool,
    /// The socket a ring replaced, until its last read.
    retired: Option<Retired>,
    /// A corrupt ring block was logged.
    logged_corrupt: bool,
}

/// What is kept for a tracked container.
#[derive(Debug, Default)]
struct Container {
    pid: u32,
    /// Its data source index, once its first sample told it.
    index: Option<u32>,
    /// Its network namespace's id in the host's eyes, once known.
    nsid: Option<i32>,
    /// The namespace could not be read: logged once.
    logged: bool,
    /// The MACs of its interfaces, as its counters last read them.
    macs: Vec<[u8; 6]>,
}

/// Every open tap, by its key's index.
pub struct Taps {
    taps: Vec<Option<Tap>>,
    /// Tracked containers by table slot (with `pcap { containers = on }` only).
    containers: Vec<Option<Container>>,
    /// `pcap { dev }` names, rates and directions.
    devs: Vec<(String, Option<u32>, Directions)>,
    /// `pcap { containers = on }` and its own rate.
    container_rate: Option<Option<u32>>,
    /// The directions of `pcap { containers = on }`, on the host end of each veth.
    container_directions: Directions,
    sampling: crate::config::Sampling,
    roots: Roots,
    header_bytes: u32,
    /// The buffers of one `recvmmsg`, shared by every tap.
    batch: PacketBatch,
    finder: Option<VethFinder>,
    /// No CAP_NET_RAW: said once, nothing more is tried.
    no_permission: bool,
    /// Names of `pcap { dev }` interfaces whose absence was logged.
    logged_missing: Vec<bool>,
    /// `nflog { }`: the group's socket and its samplers.
    nflog: Option<NflogReader>,
    /// Every tracked container's MACs, to its data source index: names the far end of a packet
    /// in `extended_entities` when it is a container of this host.
    macs: HashMap<[u8; 6], u32>,
    /// The loop's poller, for the ring sockets of upgraded taps.
    poller: Rc<polling::Poller>,
    /// [`MAX_RINGS`] stopped an upgrade: said once.
    logged_ring_budget: bool,
}

/// The NFLOG group's netlink socket, and per data source (the packet's interface) its flow
/// sample sequence and estimated pool.
struct NflogReader {
    socket: Watched<RouteSocket>,
    group: u16,
    rate: u32,
    /// (ifIndex, sequence, pool): the pool is estimated, `rate` per sample, as NFLOG gives no
    /// count of the packets the rule saw.
    samplers: Vec<(u32, u32, u32)>,
    /// Gaps in the group's sequence numbers: packets the kernel could not deliver.
    drops: u32,
    last_seq: Option<u32>,
    /// ENOBUFS was logged.
    logged_overflow: bool,
    buf: Box<[u8]>,
}

/// Receive queue of the NFLOG socket, as the reference agent's (8 MiB).
const NFLOG_RCVBUF: i32 = 8 << 20;

/// Most datagrams read from the NFLOG socket per wake-up (the kernel packs up to 64 packets in one).
const NFLOG_READS: usize = 16;

impl Taps {
    /// Opens a tap for each `pcap { dev }` of `config`, registered in `poller` under
    /// [`Key::Tap`]. Interfaces that cannot be tapped are logged and skipped.
    pub fn open(poller: &Rc<polling::Poller>, config: &Config, roots: Roots) -> Taps {
        let mut taps = Taps {
            taps: Vec::new(),
            containers: Vec::new(),
            devs: config
                .pcap
                .iter()
                .map(|p| (p.dev.clone(), p.sampling, p.directions))
                .collect(),
            container_rate: config.pcap_containers.as_ref().map(|c| c.sampling),
            container_directions: config
                .pcap_containers
                .as_ref()
                .map(|c| c.directions)
                .unwrap_or_default(),
            sampling: config.sampling.clone(),
            roots,
            header_bytes: config.sampling.header_bytes.min(MAX_SAMPLED_HEADER as u32),
            batch: PacketBatch::default(),
            finder: None,
            no_permission: false,
            logged_missing: vec![false; config.pcap.len()],
            nflog: None,
            macs: HashMap::new(),
            poller: poller.clone(),
            logged_ring_budget: false,
        };
        if let Some(n) = &config.nflog {
            match open_nflog(poller, n.group, taps.header_bytes) {
                Ok(socket) => {
                    info!(
                        "nflog group {}: sampling 1 in {} (the rule's probability), headerBytes {}",
                        n.group, n.rate, taps.header_bytes
                    );
                    taps.nflog = Some(NflogReader {
                        socket,
                        group: n.group,
                        rate: n.rate,
                        samplers: Vec::new(),
                        drops: 0,
                        last_seq: None,
                        logged_overflow: false,
                        buf: vec![0u8; 1 << 16].into_boxed_slice(),
                    });
                }
                Err(e) => warn!(
                    "nflog group {}: cannot bind (needs CAP_NET_ADMIN): {e}; no NFLOG samples",
                    n.group
                ),
            }
        }
        if taps.container_rate.is_some() {
            match VethFinder::open() {
                Ok(f) => taps.finder = Some(f),
                Err(e) => warn!("pcap {{ containers }}: cannot open a netlink socket: {e}"),
            }
        }
        taps.check_devs(poller);
        taps
    }

    /// Whether `new` taps other interfaces or at other settings than `old`.
    pub fn changed(old: &Config, new: &Config) -> bool {
        old.pcap != new.pcap
            || old.sampling != new.sampling
            || old.pcap_containers != new.pcap_containers
            || old.nflog != new.nflog
    }

    /// The NFLOG socket is readable: reads what the kernel logged (at most [`NFLOG_READS`]
    /// datagrams), sends a flow sample of each packet, and re-arms.
    pub fn on_nflog(&mut self, sink: &mut Sink, now: u64) {
        let header_bytes = self.header_bytes as usize;
        let Some(r) = &mut self.nflog else { return };
        for _ in 0..NFLOG_READS {
            let n = match r.socket.get().recv(&mut r.buf) {
                Ok(Some(n)) => n,
                Ok(None) => break,
                Err(e) if e.raw_os_error() == Some(libc::ENOBUFS) => {
                    // The queue overflowed: the sequence gaps count what was lost.
                    if !r.logged_overflow {
                        r.logged_overflow = true;
                        warn!(
                            "nflog group {}: receive queue overflowed; counted in drops",
                            r.group
                        );
                    }
                    continue;
                }
                Err(e) => {
                    warn!("nflog group {}: {e}", r.group);
                    break;
                }
            };
            let NflogReader {
                buf,
                samplers,
                drops,
                last_seq,
                rate,
                group,
                ..
            } = r;
            for m in netlink::messages(buf.get(..n).unwrap_or_default()) {
                if m.kind != nflog::MSG_PACKET {
                    continue;
                }
                let Some(l) = nflog::parse_packet(m.payload) else {
                    continue;
                };
                if l.group != *group {
                    continue;
                }
                if let (Some(seq), Some(last)) = (l.seq, *last_seq) {
                    *drops = drops.wrapping_add(seq.wrapping_sub(last).wrapping_sub(1));
                }
                if l.seq.is_some() {
                    *last_seq = l.seq;
                }
                let (Some(protocol), Some(length)) = (l.protocol(), l.ip_length()) else {
                    continue; // not IP: nothing a collector could decode
                };
                let ds = l.in_if.or(l.out_if).unwrap_or(0);
                let sampler = match samplers.iter_mut().position(|s| s.0 == ds) {
                    Some(i) => &mut samplers[i],
                    None => {
                        samplers.push((ds, 0, 0));
                        let last = samplers.len() - 1;
                        &mut samplers[last]
                    }
                };
                sampler.1 = sampler.1.wrapping_add(1);
                sampler.2 = sampler.2.wrapping_add(*rate);
                let header = l.payload.get(..header_bytes).unwrap_or(l.payload);
                let records = [FlowRecord::SampledHeader(crate::wire::SampledHeader {
                    protocol,
                    frame_length: length,
                    stripped: 0,
                    header,
                })];
                sink.send_flow(
                    &crate::wire::FlowSample {
                        sequence: sampler.1,
                        source: DataSource {
                            class: 0,
                            index: ds,
                        },
                        sampling_rate: *rate,
                        sample_pool: sampler.2,
                        drops: *drops,
                        input: l.in_if.unwrap_or(IF_INTERNAL),
                        output: l.out_if.unwrap_or(IF_INTERNAL),
                        records: &records,
                    },
                    now,
                );
            }
        }
        if let Err(e) = r
            .socket
            .rearm(polling::Event::readable(Key::Nflog.encode()))
        {
            warn!("nflog group {}: cannot re-arm: {e}", r.group);
        }
    }

    /// Closes every tap (before the configuration's new ones open).
    pub fn close_all(&mut self) {
        self.taps.clear();
    }

    /// Opens a tap on `port` for `owner` in a free slot; logs what happened.
    fn open_tap(
        &mut self,
        poller: &Rc<polling::Poller>,
        owner: Owner,
        port: PortInfo,
        own_rate: Option<u32>,
        directions: Directions,
    ) {
        if self.no_permission {
            return;
        }
        let rate = self.sampling.rate_for(own_rate, port.speed);
        let index = match self.taps.iter().position(Option::is_none) {
            Some(i) => i,
            None => {
                self.taps.push(None);
                self.taps.len() - 1
            }
        };
        match new_tap(
            poller,
            owner,
            port,
            (rate, self.header_bytes, directions),
            &self.roots.sys,
            index,
        ) {
            Ok(tap) => {
                info!(
                    "pcap {}: ifIndex {}, sampling 1 in {rate}, headerBytes {}{}{}",
                    tap.port.name,
                    tap.port.if_index,
                    self.header_bytes,
                    match (directions.ingress, directions.egress) {
                        (true, false) => ", ingress only",
                        (false, true) => ", egress only",
                        _ => "",
                    },
                    match owner {
                        Owner::Container(_) => " (container)",
                        Owner::Dev(_) => "",
                    }
                );
                self.taps[index] = Some(tap);
            }
            Err((name, e)) if e.kind() == io::ErrorKind::PermissionDenied => {
                self.no_permission = true;
                warn!(
                    "packet sampling needs CAP_NET_RAW, which csflowd lacks: no packet is \
                     sampled; counters are sent as usual (pcap {name}: {e})"
                );
            }
            Err((name, e)) => warn!("pcap {name}: cannot open a sampling socket: {e}"),
        }
    }

    /// Opens the `pcap { dev }` taps that are not open, and re-opens those whose interface now
    /// has another ifIndex.
    fn check_devs(&mut self, poller: &Rc<polling::Poller>) {
        for i in 0..self.devs.len() {
            let (name, rate, directions) = self.devs[i].clone();
            let port = PortInfo::read(&self.roots.sys, &name);
            let open = self
                .taps
                .iter()
                .position(|t| t.as_ref().is_some_and(|t| t.owner == Owner::Dev(i)));
            if let (Some(t), Some(p)) = (open, &port) {
                if let Some(tap) = self.taps[t]
                    .as_mut()
                    .filter(|t| t.port.if_index == p.if_index)
                {
                    if tap.port.name != name {
                        info!("pcap {name}: the interface has its name again");
                        tap.port.name.clone_from(&name);
                    }
                    continue;
                }
                // Another interface has the name now (deleted and made again, say).
                info!("pcap {name}: ifIndex changed to {}; re-opened", p.if_index);
                self.taps[t] = None;
            }
            let Some(port) = port else {
                // Renamed while tapped: the tap follows the interface, and its counter samples
                // say the new name, until an interface of the configured name appears.
                let renamed = open.and_then(|t| self.taps[t].as_mut()).and_then(|tap| {
                    let now = crate::sys::interface_name(tap.port.if_index)?;
                    if now != tap.port.name {
                        info!(
                            "pcap {name}: ifIndex {} renamed {now}; still sampled",
                            tap.port.if_index
                        );
                        tap.port.name = now;
                    }
                    Some(())
                });
                if renamed.is_some() {
                    continue;
                }
                if !self.logged_missing[i] {
                    self.logged_missing[i] = true;
                    warn!("pcap {name}: no such interface; sampled when it appears");
                }
                if let Some(t) = open {
                    self.taps[t] = None;
                }
                continue;
            };
            self.logged_missing[i] = false;
            if port.arp_type != ARPHRD_ETHER {
                if !self.logged_missing[i] {
                    self.logged_missing[i] = true;
                    warn!(
                        "pcap {name}: not an Ethernet interface (type {}); not sampled",
                        port.arp_type
                    );
                }
                continue;
            }
            self.open_tap(poller, Owner::Dev(i), port, rate, directions);
        }
    }

    /// A container's process is known: its veths are looked for now and at every host poll.
    pub fn attach(&mut self, poller: &Rc<polling::Poller>, slot: usize, pid: u32) {
        if self.container_rate.is_none() {
            return;
        }
        self.close_container_taps(slot);
        if self.containers.len() <= slot {
            self.containers.resize_with(slot + 1, || None);
        }
        self.containers[slot] = Some(Container {
            pid,
            ..Container::default()
        });
        self.check_containers(poller, Some(slot));
    }

    /// A container's sample went out: its data source index, its interfaces, and whether it
    /// ended.
    pub fn sampled(&mut self, slot: usize, index: u32, last: bool, adapters: &[Adapter]) {
        if last {
            self.detach(slot);
            return;
        }
        if let Some(Some(c)) = self.containers.get_mut(slot) {
            let macs = adapters.iter().filter_map(|a| a.mac);
            if !c.macs.iter().copied().eq(macs.clone()) || c.index != Some(index) {
                for m in &c.macs {
                    self.macs.remove(m);
                }
                c.macs = macs.collect();
                for m in &c.macs {
                    self.macs.insert(*m, index);
                }
            }
        }
        if let Some(Some(c)) = self.containers.get_mut(slot) {
            if c.index != Some(index) {
                c.index = Some(index);
                let ds = DataSource {
                    class: DS_CLASS_LOGICAL,
                    index,
                };
                for tap in self.taps.iter_mut().flatten() {
                    if tap.owner == Owner::Container(slot) {
                        tap.state.entity = Some(ds);
                    }
                }
            }
        }
    }

    /// A container's slot is forgotten: its taps close.
    pub fn detach(&mut self, slot: usize) {
        self.close_container_taps(slot);
        if let Some(c) = self.containers.get_mut(slot) {
            if let Some(c) = c.take() {
                for m in &c.macs {
                    self.macs.remove(m);
                }
            }
        }
    }

    fn close_container_taps(&mut self, slot: usize) {
        for t in &mut self.taps {
            if t.as_ref()
                .is_some_and(|t| t.owner == Owner::Container(slot))
            {
                *t = None;
            }
        }
    }

    /// Brings the containers' taps in line with their veths: all containers, or one.
    fn check_containers(&mut self, poller: &Rc<polling::Poller>, only: Option<usize>) {
        if self.no_permission || !self.containers.iter().any(Option::is_some) {
            return;
        }
        let Some(finder) = &mut self.finder else {
            return;
        };
        // The dump first: it makes the kernel give ids to the namespaces veths lead to.
        let links = match finder.links() {
            Ok(l) => l,
            Err(e) => {
                warn!("pcap {{ containers }}: cannot list interfaces: {e}");
                return;
            }
        };
        let proc_root = self.roots.proc.clone();
        let mut wanted: Vec<(usize, PortInfo)> = Vec::new();
        for (slot, c) in self.containers.iter_mut().enumerate() {
            let Some(c) = c else { continue };
            if only.is_some_and(|o| o != slot) {
                continue;
            }
            if c.nsid.is_none() {
                match finder.nsid_of(&proc_root, c.pid) {
                    Ok(id) => c.nsid = id,
                    Err(e) => {
                        if !c.logged {
                            c.logged = true;
                            debug!("container pid {}: network namespace not read: {e}", c.pid);
                        }
                        continue;
                    }
                }
            }
            let Some(nsid) = c.nsid else { continue };
            for l in veth::peers_in(&links, nsid) {
                if let Some(p) = PortInfo::read(&self.roots.sys, &l.name) {
                    if p.if_index == l.if_index {
                        wanted.push((slot, p));
                    }
                }
            }
        }
        // Close taps whose veth is gone (or now leads elsewhere); open the new ones.
        for t in &mut self.taps {
            let Some(tap) = t else { continue };
            let Owner::Container(slot) = tap.owner else {
                continue;
            };
            if only.is_some_and(|o| o != slot) {
                continue;
            }
            let now = wanted
                .iter()
                .find(|(s, p)| *s == slot && p.if_index == tap.port.if_index);
            if let Some((_, p)) = now {
                if p.name != tap.port.name {
                    info!("pcap {}: renamed {}; still sampled", tap.port.name, p.name);
                    tap.port.name.clone_from(&p.name);
                }
            } else {
                debug!(
                    "pcap {}: the container's veth is gone; tap closed",
                    tap.port.name
                );
                *t = None;
            }
        }
        for (slot, port) in wanted {
            let open = self
                .taps
                .iter()
                .flatten()
                .any(|t| t.owner == Owner::Container(slot) && t.port.if_index == port.if_index);
            if !open {
                let rate = self.container_rate.flatten();
                let directions = self.container_directions;
                self.open_tap(poller, Owner::Container(slot), port, rate, directions);
                let index = self
                    .containers
                    .get(slot)
                    .and_then(|c| c.as_ref())
                    .and_then(|c| c.index);
                if let Some(index) = index {
                    for tap in self.taps.iter_mut().flatten() {
                        if tap.owner == Owner::Container(slot) {
                            tap.state.entity = Some(DataSource {
                                class: DS_CLASS_LOGICAL,
                                index,
                            });
                        }
                    }
                }
            }
        }
    }

    /// Tap `index` is readable: reads what waits (see [`Taps::drain`]); the socket stays disarmed
    /// and is read again [`HOLD_MS`] later while samples keep coming.
    pub fn on_ready(&mut self, index: usize, sink: &mut Sink, now: u64) {
        self.drain(index, sink, now);
    }

    /// The next time a busy tap is to be read again, if any.
    pub fn next_deadline(&self) -> Option<u64> {
        self.taps.iter().flatten().filter_map(|t| t.resume_at).min()
    }

    /// Reads the busy taps whose time has come.
    pub fn on_time(&mut self, now: u64, sink: &mut Sink) {
        for index in 0..self.taps.len() {
            let due = self
                .taps
                .get(index)
                .and_then(|t| t.as_ref())
                .and_then(|t| t.resume_at)
                .is_some_and(|at| at <= now);
            if due {
                self.drain(index, sink, now);
            }
        }
    }

    /// Reads what tap `index` holds and sends it: up to [`MAX_BATCHES`] batches of [`BATCH`]
    /// samples (one `recvmmsg` each), or the blocks its ring has handed over. If it got any, the
    /// tap is busy: its socket stays disarmed and it is read again in [`HOLD_MS`], so a stream of
    /// samples costs one wake-up per hold rather than one per few packets, and each wake-up's
    /// work is bounded. If it got none, the socket is armed again and the next sample wakes the
    /// loop at once. A tap whose queue had a full batch at [`UPGRADE_AFTER`] wake-ups in a row
    /// moves to a ring (see [`Taps::upgrade`]).
    fn drain(&mut self, index: usize, sink: &mut Sink, now: u64) {
        let Some(Some(tap)) = self.taps.get_mut(index) else {
            return;
        };
        let snap = self.header_bytes as usize;
        let got = match &tap.reader {
            Reader::Queue(_) => match read_queue(tap, &mut self.batch, snap, &self.macs, sink, now)
            {
                Some(n) => n,
                None => {
                    self.taps[index] = None;
                    return;
                }
            },
            Reader::Ring(_) => read_ring(tap, &mut self.batch, snap, &self.macs, sink, now),
        };
        if matches!(tap.reader, Reader::Queue(_)) && !tap.no_ring {
            tap.full_reads = if got >= BATCH { tap.full_reads + 1 } else { 0 };
            if tap.full_reads >= UPGRADE_AFTER {
                tap.full_reads = 0;
                self.upgrade(index, sink, now);
            }
        }
        let Some(Some(tap)) = self.taps.get_mut(index) else {
            return;
        };
        if got > 0 {
            tap.resume_at = Some(now + HOLD_MS);
            return;
        }
        tap.resume_at = None;
        let interest = polling::Event::readable(Key::Tap(index).encode());
        let armed = match &tap.reader {
            Reader::Queue(s) => s.rearm(interest),
            Reader::Ring(r) => r.rearm(interest),
        };
        if let Err(e) = armed {
            warn!("pcap {}: cannot re-arm: {e}; tap closed", tap.port.name);
            self.taps[index] = None;
        }
    }

    /// Moves busy tap `index` from its socket's queue to a ring, within [`MAX_RINGS`], through a
    /// fanout group that hands each packet to exactly one of the two sockets: none is sent twice,
    /// none is lost. The old socket is read to its end, then once more [`RETIRE_AFTER_MS`] later,
    /// and closed. If the ring cannot be made or the kernel has no such fanout (Linux 4.20), the
    /// tap stays as it is and is not tried again.
    fn upgrade(&mut self, index: usize, sink: &mut Sink, now: u64) {
        let rings = self
            .taps
            .iter()
            .flatten()
            .filter(|t| matches!(t.reader, Reader::Ring(_)))
            .count();
        let Some(Some(tap)) = self.taps.get_mut(index) else {
            return;
        };
        if rings >= MAX_RINGS {
            if !self.logged_ring_budget {
                self.logged_ring_budget = true;
                info!(
                    "pcap {}: busy, but {MAX_RINGS} taps already have a ring ({} KiB each); read \
                     with recvmmsg",
                    tap.port.name,
                    RING.bytes() >> 10
                );
            }
            return;
        }
        let Reader::Queue(old) = &tap.reader else {
            return;
        };
        let Directions { ingress, egress } = tap.directions;
        let (rate, snap) = (tap.state.rate, self.header_bytes);
        // The ring is made and registered first. The old socket becomes the first member of a
        // fanout group (the kernel then hands each packet to exactly one member, the first
        // until told otherwise); the ring's socket is bound with a filter that takes nothing,
        // joins the group, gets its sampling filter back, and the group is told to hand every
        // packet to it: one pointer swapped in the kernel, so no packet reaches both sockets or
        // neither. Whatever fails on the way leaves the old socket taking every packet.
        let opened = RingSocket::open(tap.port.if_index, (rate, snap, ingress, egress), RING)
            .and_then(|ring| {
                Watched::new(
                    &self.poller,
                    ring,
                    polling::Event::none(Key::Tap(index).encode()),
                )
            })
            .and_then(|ring| {
                let id = old.get().fanout_new(egress)?;
                let socket = ring.get().socket();
                socket.stop()?;
                ring.get().bind()?;
                socket.fanout_join(id, egress)?;
                socket.sample(rate, snap, ingress)?;
                old.get().fanout_choose(1)?;
                Ok(ring)
            });
        let ring = match opened {
            Ok(ring) => ring,
            Err(e) => {
                tap.no_ring = true;
                warn!(
                    "pcap {}: cannot move to a ring ({e}); read with recvmmsg",
                    tap.port.name
                );
                return;
            }
        };
        let Reader::Queue(old) = std::mem::replace(&mut tap.reader, Reader::Ring(ring)) else {
            return;
        };
        // The old socket takes no more packets: what it holds is read now, and once more
        // later for a packet handed to it just before the swap but queued after this read.
        drain(
            &old,
            tap,
            &mut self.batch,
            snap as usize,
            &self.macs,
            sink,
            now,
        );
        tap.retired = Some(Retired {
            socket: old,
            at: now + RETIRE_AFTER_MS,
        });
        info!(
            "pcap {}: busy ({UPGRADE_AFTER} reads of {BATCH} samples or more in a row); read \
             through a {} KiB TPACKET_V3 ring from now on",
            tap.port.name,
            RING.bytes() >> 10
        );
    }

    /// At every host poll: re-checks the interfaces, then sends a counter sample (`if_counters`,
    /// `port_name`) for every tapped interface.
    pub fn poll(&mut self, poller: &Rc<polling::Poller>, sink: &mut Sink, now: u64) {
        self.check_devs(poller);
        self.check_containers(poller, None);
        for tap in self.taps.iter_mut().flatten() {
            let counters = packet::if_counters(&self.roots.sys, &tap.port);
            tap.counter_sequence = tap.counter_sequence.wrapping_add(1);
            let records = [
                CounterRecord::IfCounters(counters),
                CounterRecord::PortName(PortName {
                    name: &tap.port.name,
                }),
            ];
            sink.send(
                &CounterSample {
                    sequence: tap.counter_sequence,
                    source: DataSource {
                        class: 0,
                        index: tap.port.if_index,
                    },
                    records: &records,
                },
                now,
            );
        }
    }
}

/// Reads up to [`MAX_BATCHES`] batches from `tap`'s socket queue and sends them; how many
/// samples, or `None` when the tap is to close.
fn read_queue(
    tap: &mut Tap,
    batch: &mut PacketBatch,
    snap: usize,
    macs: &HashMap<[u8; 6], u32>,
    sink: &mut Sink,
    now: u64,
) -> Option<usize> {
    let Reader::Queue(socket) = &tap.reader else {
        return Some(0);
    };
    let (state, pool) = (&mut tap.state, &tap.pool);
    let (got, error) = read_batches(
        socket,
        state,
        pool,
        batch,
        snap,
        macs,
        sink,
        now,
        MAX_BATCHES,
    );
    match error {
        None => {}
        Some(e) if e.raw_os_error() == Some(libc::ENETDOWN) => {
            // Set down, or deleted: the kernel samples again when it is up, and the next host
            // poll closes the tap if the interface is gone (and re-opens a `pcap { dev }` whose
            // name is back under a new ifIndex).
            debug!("pcap {}: {e}", tap.port.name);
        }
        Some(e) => {
            // Anything else: the tap closes; a `pcap { dev }` is re-opened at the next host poll.
            match tap.owner {
                Owner::Dev(_) => warn!("pcap {}: {e}; tap closed", tap.port.name),
                Owner::Container(_) => debug!("pcap {}: {e}; tap closed", tap.port.name),
            }
            return None;
        }
    }
    Some(got)
}

/// Reads up to `most` batches from `socket` (a tap's queue, or the socket a ring replaced) as
/// samples of the tap whose `state` and `pool` these are, with the socket's drops: how many, and
/// the error that stopped it, if any.
#[allow(clippy::too_many_arguments)]
fn read_batches(
    socket: &Watched<PacketSocket>,
    state: &mut TapState,
    pool: &PoolCounter,
    batch: &mut PacketBatch,
    snap: usize,
    macs: &HashMap<[u8; 6], u32>,
    sink: &mut Sink,
    now: u64,
    most: usize,
) -> (usize, Option<std::io::Error>) {
    let mut got = 0;
    for _ in 0..most {
        let n = match socket.get().recv_batch(batch, snap) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) => return (got, Some(e)),
        };
        got += n;
        if let Ok(d) = socket.get().take_drops() {
            state.drops = state.drops.wrapping_add(d);
        }
        let packets = batch.packets().map(|(p, h)| (*p, h));
        send_samples(state, pool, packets, macs, sink, now);
        if n < BATCH {
            break;
        }
    }
    (got, None)
}

/// Reads `socket`'s queue to its end (at most 64 batches) as samples of `tap`: the socket a
/// ring replaced. How many.
fn drain(
    socket: &Watched<PacketSocket>,
    tap: &mut Tap,
    batch: &mut PacketBatch,
    snap: usize,
    macs: &HashMap<[u8; 6], u32>,
    sink: &mut Sink,
    now: u64,
) -> usize {
    let (state, pool) = (&mut tap.state, &tap.pool);
    let (got, error) = read_batches(socket, state, pool, batch, snap, macs, sink, now, 64);
    if let Some(e) = error {
        debug!("pcap {}: {e}", tap.port.name);
    }
    got
}

/// Reads the blocks `tap`'s ring has handed over (at most the ring's size) and sends their
/// samples; how many. A corrupt block is logged once and its remaining packets skipped.
fn read_ring(
    tap: &mut Tap,
    batch: &mut PacketBatch,
    snap: usize,
    macs: &HashMap<[u8; 6], u32>,
    sink: &mut Sink,
    now: u64,
) -> usize {
    let mut got = 0;
    if tap.retired.as_ref().is_some_and(|r| now >= r.at) {
        if let Some(r) = tap.retired.take() {
            got += drain(&r.socket, tap, batch, snap, macs, sink, now);
        }
    }
    let Reader::Ring(ring) = &mut tap.reader else {
        return got;
    };
    for _ in 0..RING.blocks {
        let Some(block) = ring.get().ready_block() else {
            break;
        };
        if let Ok(d) = ring.get().take_drops() {
            tap.state.drops = tap.state.drops.wrapping_add(d);
        }
        let mut error = None;
        let packets = ring::packets(block, snap).map_while(|r| r.map_err(|e| error = Some(e)).ok());
        got += send_samples(&mut tap.state, &tap.pool, packets, macs, sink, now);
        ring.get_mut().release_block();
        if let Some(e) = error {
            if !tap.logged_corrupt {
                tap.logged_corrupt = true;
                warn!(
                    "pcap {}: a corrupt ring block ({e}); the rest of it skipped",
                    tap.port.name
                );
            }
        }
    }
    if got == 0 {
        // Nothing to read: a pending error (the interface set down or deleted) would wake the
        // loop again at once; reading it clears it. The next host poll closes a tap whose
        // interface is gone.
        if let Ok(Some(e)) = ring.get().take_error() {
            debug!("pcap {}: {e}", tap.port.name);
        }
    }
    got
}

/// Sends a flow sample of each of `packets`, whichever reader read them (the records are the
/// same byte for byte): the samples of one read (a batch, a ring block). The pool is read once, after their packets
/// arrived, as close to them as one read gets. (Once per wake-up was tried: no difference in the
/// benchmark, and a pool older than some samples.) `macs` names the containers of this host.
fn send_samples<'a>(
    state: &mut TapState,
    pool: &PoolCounter,
    packets: impl Iterator<Item = (PacketInfo, &'a [u8])>,
    macs: &HashMap<[u8; 6], u32>,
    sink: &mut Sink,
    now: u64,
) -> usize {
    let pool = pool.read().unwrap_or(0);
    let mut sent = 0;
    for (p, header) in packets {
        sent += 1;
        state.sequence = state.sequence.wrapping_add(1);
        let mut records = [packet::sampled_header(p.original, header); 2];
        let mut n = 1;
        if let Some(e) = entities(state.entity, p.pkttype, header, macs) {
            records[1] = FlowRecord::ExtendedEntities(e);
            n = 2;
        }
        let records = records.get(..n).unwrap_or_default();
        let sample = packet::flow_sample(state, p.pkttype, pool, records);
        sink.send_flow(&sample, now);
    }
    sent
}

/// Opens the NFLOG socket, binds `group` and asks for packets cut to `copy` bytes with sequence
/// numbers; each request is acknowledged before the next goes.
fn open_nflog(
    poller: &Rc<polling::Poller>,
    group: u16,
    copy: u32,
) -> io::Result<Watched<RouteSocket>> {
    let socket = RouteSocket::open_netfilter(NFLOG_RCVBUF)?;
    let mut buf = [0u8; 4096];
    for (i, m) in nflog::bind_messages(1, group, copy).iter().enumerate() {
        socket.send(m)?;
        // The kernel answers within the send: the acknowledgement is queued already.
        let n = socket
            .recv(&mut buf)?
            .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidData, "no acknowledgement"))?;
        for a in netlink::messages(buf.get(..n).unwrap_or_default()) {
            if a.seq == i as u32 + 1 && a.kind == netlink::NLMSG_ERROR {
                match netlink::parse_error(a.payload) {
                    Some(0) | None => {}
                    Some(e) => return Err(io::Error::from_raw_os_error(-e)),
                }
            }
        }
    }
    Watched::new(
        poller,
        socket,
        polling::Event::readable(Key::Nflog.encode()),
    )
}

/// The containers a frame goes between, when either is one of this host's: the tapped veth's own
/// container by direction (a frame the host sent on it goes into the container), any end by its
/// MAC address.
fn entities(
    tapped: Option<DataSource>,
    pkttype: u8,
    frame: &[u8],
    macs: &HashMap<[u8; 6], u32>,
) -> Option<ExtendedEntities> {
    let none = DataSource { class: 0, index: 0 };
    let by_mac = |at: usize| {
        let mac: [u8; 6] = frame.get(at..at + 6)?.try_into().ok()?;
        macs.get(&mac).map(|&index| DataSource {
            class: DS_CLASS_LOGICAL,
            index,
        })
    };
    let (mut src, mut dst) = (by_mac(6), by_mac(0));
    if let Some(ds) = tapped {
        if pkttype == pkttype::OUTGOING {
            dst = Some(ds);
        } else {
            src = Some(ds);
        }
    }
    if src.is_none() && dst.is_none() {
        return None;
    }
    Some(ExtendedEntities {
        src: src.unwrap_or(none),
        dst: dst.unwrap_or(none),
    })
}

fn new_tap(
    poller: &Rc<polling::Poller>,
    owner: Owner,
    port: PortInfo,
    (rate, snap, directions): (u32, u32, Directions),
    sys: &Path,
    index: usize,
) -> Result<Tap, (String, io::Error)> {
    let fail = |e| (port.name.clone(), e);
    let Directions { ingress, egress } = directions;
    let socket = PacketSocket::open(port.if_index, rate, snap, ingress, egress).map_err(fail)?;
    let pool = PoolCounter::open(sys, &port.name, ingress, egress).map_err(fail)?;
    let socket = Watched::new(
        poller,
        socket,
        polling::Event::readable(Key::Tap(index).encode()),
    )
    .map_err(fail)?;
    Ok(Tap {
        owner,
        directions,
        full_reads: 0,
        no_ring: false,
        retired: None,
        logged_corrupt: false,
        state: TapState {
            if_index: port.if_index,
            rate,
            sequence: 0,
            drops: 0,
            entity: None,
        },
        port,
        reader: Reader::Queue(socket),
        pool,
        counter_sequence: 0,
        resume_at: None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ds(index: u32) -> DataSource {
        DataSource {
            class: DS_CLASS_LOGICAL,
            index,
        }
    }

    #[test]
    fn entities_by_direction_and_by_mac() {
        let a = [2, 0, 0, 0, 0, 0xa];
        let b = [2, 0, 0, 0, 0, 0xb];
        let macs: HashMap<[u8; 6], u32> = [(a, 100_001), (b, 100_002)].into_iter().collect();
        let none = DataSource { class: 0, index: 0 };
        let frame = |dst: [u8; 6], src: [u8; 6]| {
            let mut f = dst.to_vec();
            f.extend_from_slice(&src);
            f.extend_from_slice(&[0x86, 0xdd]);
            f
        };
        let other = [2, 0, 0, 0, 0, 0xc];
        // Neither end known, no tapped container: no record.
        assert_eq!(
            entities(None, pkttype::HOST, &frame(other, other), &macs),
            None
        );
        // A to B seen on a bridge or a host NIC: both by MAC.
        let e = entities(None, pkttype::OTHERHOST, &frame(b, a), &macs).unwrap();
        assert_eq!((e.src, e.dst), (ds(100_001), ds(100_002)));
        // On A's veth, a frame from A to an unknown host: A by direction.
        let e = entities(
            Some(ds(100_001)),
            pkttype::HOST,
            &frame(other, other),
            &macs,
        )
        .unwrap();
        assert_eq!((e.src, e.dst), (ds(100_001), none));
        // On B's veth, sent into B: B by direction, A by MAC.
        let e = entities(Some(ds(100_002)), pkttype::OUTGOING, &frame(b, a), &macs).unwrap();
        assert_eq!((e.src, e.dst), (ds(100_001), ds(100_002)));
        // A cut frame never panics.
        assert_eq!(entities(None, pkttype::HOST, &[2, 0, 0], &macs), None);
    }
}
