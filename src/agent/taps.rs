//! Packet taps: one sampling socket per `pcap { dev }` interface, in the loop's one poller.
//!
//! The kernel samples (a BPF program keeps one packet in N, cut to `headerBytes`, see
//! [`crate::sys::packet`]), so a wake-up reads only samples. Each readiness event reads at most
//! [`BATCH`] samples from the socket and re-arms it: a socket with more waiting fires again at once,
//! after the loop has run its timers, so a flood never starves the counter polls; what the kernel
//! could not queue meanwhile is counted in the socket's drops and reported in every flow sample.
//! The sample pool is the interface's own packet count (received plus sent), read once per batch.
//!
//! Each tapped interface also sends a counter sample (`if_counters` and `port_name`, data source
//! 0:ifIndex) at every host poll, so a collector can scale its samples.
//!
//! Without `CAP_NET_RAW` no tap opens: one warning says so, and the counters go on.

use std::io;
use std::path::PathBuf;
use std::rc::Rc;

use log::{info, warn};

use crate::config::Config;
use crate::packet::{self, PoolCounter, PortInfo, TapState, ARPHRD_ETHER};
use crate::sys::packet::PacketSocket;
use crate::sys::Watched;
use crate::wire::{CounterRecord, CounterSample, DataSource, PortName, MAX_SAMPLED_HEADER};

use super::keys::Key;
use super::sink::Sink;

/// Most samples read from one socket per readiness event.
pub const BATCH: usize = 64;

struct Tap {
    port: PortInfo,
    socket: Watched<PacketSocket>,
    pool: PoolCounter,
    state: TapState,
    counter_sequence: u32,
    /// The socket failed to read: logged once.
    failing: bool,
}

/// Every open tap, by its key's index.
pub struct Taps {
    taps: Vec<Option<Tap>>,
    sys: PathBuf,
    header_bytes: u32,
    buf: Box<[u8; MAX_SAMPLED_HEADER]>,
}

impl Taps {
    /// Opens a tap for each `pcap { dev }` of `config`, registered in `poller` under
    /// [`Key::Tap`]. Interfaces that cannot be tapped are logged and skipped.
    pub fn open(poller: &Rc<polling::Poller>, config: &Config, sys: PathBuf) -> Taps {
        let mut taps = Taps {
            taps: Vec::new(),
            sys,
            header_bytes: config.sampling.header_bytes.min(MAX_SAMPLED_HEADER as u32),
            buf: Box::new([0; MAX_SAMPLED_HEADER]),
        };
        let mut permission_logged = false;
        for pcap in &config.pcap {
            let Some(port) = PortInfo::read(&taps.sys, &pcap.dev) else {
                warn!("pcap {}: no such interface; not sampled", pcap.dev);
                continue;
            };
            if port.arp_type != ARPHRD_ETHER {
                warn!(
                    "pcap {}: not an Ethernet interface (type {}); not sampled",
                    pcap.dev, port.arp_type
                );
                continue;
            }
            let rate = config.sampling.rate_for(pcap.sampling, port.speed);
            let index = taps.taps.len();
            match open_tap(poller, port, rate, taps.header_bytes, &taps.sys, index) {
                Ok(tap) => {
                    info!(
                        "pcap {}: ifIndex {}, sampling 1 in {rate}, headerBytes {}",
                        tap.port.name, tap.port.if_index, taps.header_bytes
                    );
                    taps.taps.push(Some(tap));
                }
                Err(e) if e.kind() == io::ErrorKind::PermissionDenied => {
                    if !permission_logged {
                        permission_logged = true;
                        warn!(
                            "packet sampling needs CAP_NET_RAW, which csflowd lacks: no packet \
                             is sampled; counters are sent as usual ({e})"
                        );
                    }
                }
                Err(e) => warn!("pcap {}: cannot open a sampling socket: {e}", pcap.dev),
            }
        }
        taps
    }

    /// Reads up to [`BATCH`] samples from tap `index`, sends them, and re-arms the socket.
    pub fn on_ready(&mut self, index: usize, sink: &mut Sink, now: u64) {
        let Some(Some(tap)) = self.taps.get_mut(index) else {
            return;
        };
        let snap = self.header_bytes as usize;
        let mut pool: Option<u64> = None;
        for _ in 0..BATCH {
            let buf = self.buf.get_mut(..snap).unwrap_or_default();
            match tap.socket.get().recv(buf) {
                Ok(Some(p)) => {
                    if pool.is_none() {
                        // Read once per batch, after the first sample arrived: as close to the
                        // sampled packets as one read gets.
                        pool = tap.pool.read();
                        if let Ok(d) = tap.socket.get().take_drops() {
                            tap.state.drops = tap.state.drops.wrapping_add(d);
                        }
                    }
                    tap.state.sequence = tap.state.sequence.wrapping_add(1);
                    let header = buf.get(..p.captured).unwrap_or_default();
                    let records = [packet::sampled_header(p.original, header)];
                    let sample =
                        packet::flow_sample(&tap.state, p.pkttype, pool.unwrap_or(0), &records);
                    sink.send_flow(&sample, now);
                }
                Ok(None) => break,
                Err(e) => {
                    if !tap.failing {
                        tap.failing = true;
                        warn!("pcap {}: reading samples failed: {e}", tap.port.name);
                    }
                    break;
                }
            }
        }
        if let Err(e) = tap
            .socket
            .rearm(polling::Event::readable(Key::Tap(index).encode()))
        {
            warn!("pcap {}: cannot re-arm: {e}; tap closed", tap.port.name);
            self.taps[index] = None;
        }
    }

    /// Sends a counter sample (`if_counters`, `port_name`) for every tapped interface.
    pub fn poll_counters(&mut self, sink: &mut Sink, now: u64) {
        for tap in self.taps.iter_mut().flatten() {
            let counters = packet::if_counters(&self.sys, &tap.port);
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

    /// Whether `new` taps other interfaces or at other settings than `old`.
    pub fn changed(old: &Config, new: &Config) -> bool {
        old.pcap != new.pcap || old.sampling != new.sampling
    }

    /// Closes every tap (before the configuration's new ones open).
    pub fn close_all(&mut self) {
        self.taps.clear();
    }
}

fn open_tap(
    poller: &Rc<polling::Poller>,
    port: PortInfo,
    rate: u32,
    snap: u32,
    sys: &std::path::Path,
    index: usize,
) -> io::Result<Tap> {
    let socket = PacketSocket::open(port.if_index, rate, snap)?;
    let pool = PoolCounter::open(sys, &port.name)?;
    let socket = Watched::new(
        poller,
        socket,
        polling::Event::readable(Key::Tap(index).encode()),
    )?;
    Ok(Tap {
        state: TapState {
            if_index: port.if_index,
            rate,
            sequence: 0,
            drops: 0,
        },
        port,
        socket,
        pool,
        counter_sequence: 0,
        failing: false,
    })
}
