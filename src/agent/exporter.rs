//! Packs counter samples into sFlow datagrams and sends each datagram to every collector.
//!
//! Contract:
//! - A sample is encoded once, straight into the one datagram buffer, after room reserved for the
//!   header; the header (sequence, uptime, sample count) is written when the datagram is sent. Nothing
//!   allocates per sample.
//! - A datagram never exceeds `datagram_bytes` unless a single sample is larger on its own; that sample
//!   then goes out alone (up to [`MAX_DATAGRAM_BYTES`](crate::config::MAX_DATAGRAM_BYTES)), as the
//!   reference agent does. Samples are never split.
//! - Queued samples go out at the latest [`FLUSH_DELAY_MS`] after the first of them was queued; an
//!   urgent sample (a container's first or final one) goes out at the end of the loop iteration.
//! - Sending never blocks: collector sockets are non-blocking, and a datagram a socket cannot take is
//!   counted and dropped, never queued without bound.

use std::io;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, UdpSocket};
use std::rc::Rc;

use log::{info, warn};

use crate::config::{Collector, MAX_DATAGRAM_BYTES};
use crate::sys::Watched;
use crate::wire::{CounterSample, DatagramHeader};

/// Longest a queued sample waits for company before its datagram is sent, in milliseconds.
pub const FLUSH_DELAY_MS: u64 = 900;

/// Header room reserved in front of the samples (the IPv6 header is the larger).
const HEADER_ROOM: usize = 40;

/// Counters of what the exporter did, for the log and for tests.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ExportStats {
    /// Datagrams built.
    pub datagrams: u64,
    /// Samples encoded.
    pub samples: u64,
    /// Datagrams a collector socket refused or could not take.
    pub send_failures: u64,
    /// Samples that could not be encoded at all (larger than the largest datagram).
    pub dropped_samples: u64,
}

struct CollectorSocket {
    collector: Collector,
    socket: Watched<UdpSocket>,
    /// The last send failed; logged once until a send succeeds again.
    failing: bool,
}

/// The datagram packer and sender.
pub struct Exporter {
    buf: Box<[u8; MAX_DATAGRAM_BYTES + HEADER_ROOM]>,
    /// End of the samples written so far (they start at `HEADER_ROOM`).
    end: usize,
    num_samples: u32,
    limit: usize,
    agent: IpAddr,
    sub_agent_id: u32,
    sequence: u32,
    first_queued_ms: Option<u64>,
    urgent: bool,
    collectors: Vec<CollectorSocket>,
    poller: Rc<polling::Poller>,
    key_base: usize,
    stats: ExportStats,
    logged_oversize: bool,
}

impl Exporter {
    /// An exporter whose collector sockets are registered in `poller` with keys from `key_base` up.
    pub fn new(
        poller: &Rc<polling::Poller>,
        key_base: usize,
        agent: IpAddr,
        sub_agent_id: u32,
        datagram_bytes: usize,
    ) -> Exporter {
        Exporter {
            buf: Box::new([0; MAX_DATAGRAM_BYTES + HEADER_ROOM]),
            end: HEADER_ROOM,
            num_samples: 0,
            limit: datagram_bytes.min(MAX_DATAGRAM_BYTES),
            agent,
            sub_agent_id,
            sequence: 0,
            first_queued_ms: None,
            urgent: false,
            collectors: Vec::new(),
            poller: poller.clone(),
            key_base,
            stats: ExportStats::default(),
            logged_oversize: false,
        }
    }

    /// What has been done so far.
    pub fn stats(&self) -> ExportStats {
        self.stats
    }

    /// The agent address in the datagram headers.
    pub fn agent(&self) -> IpAddr {
        self.agent
    }

    /// Replaces the collectors; sockets of collectors that stay are kept.
    pub fn set_collectors(&mut self, collectors: &[Collector]) {
        let mut old = std::mem::take(&mut self.collectors);
        for (i, c) in collectors.iter().enumerate() {
            if self.collectors.iter().any(|s| s.collector == *c) {
                continue; // listed twice: one socket is enough
            }
            if let Some(pos) = old.iter().position(|s| s.collector == *c) {
                let kept = old.swap_remove(pos);
                let _ = kept
                    .socket
                    .rearm(polling::Event::readable(self.key_base + i));
                self.collectors.push(kept);
                continue;
            }
            match open_socket(&self.poller, c, self.key_base + i) {
                Ok(socket) => self.collectors.push(CollectorSocket {
                    collector: *c,
                    socket,
                    failing: false,
                }),
                Err(e) => warn!("collector {}: cannot open a UDP socket: {e}", show(c)),
            }
        }
        // Keys follow positions: re-arm everything under its new key.
        for (i, s) in self.collectors.iter().enumerate() {
            let _ = s.socket.rearm(polling::Event::readable(self.key_base + i));
        }
    }

    /// Changes the header fields and the datagram limit, sending what is queued first so a datagram
    /// never mixes two settings.
    pub fn reconfigure(
        &mut self,
        agent: IpAddr,
        sub_agent_id: u32,
        datagram_bytes: usize,
        now_ms: u64,
    ) {
        let limit = datagram_bytes.min(MAX_DATAGRAM_BYTES);
        if agent != self.agent || sub_agent_id != self.sub_agent_id || limit != self.limit {
            self.flush(now_ms);
            self.agent = agent;
            self.sub_agent_id = sub_agent_id;
            self.limit = limit;
        }
    }

    fn header_len(&self) -> usize {
        match self.agent {
            IpAddr::V4(_) => 28,
            IpAddr::V6(_) => 40,
        }
    }

    /// Encodes a sample into the current datagram, sending the datagram first when the sample would
    /// not fit. Returns false when the sample could not be encoded at all.
    pub fn push(&mut self, sample: &CounterSample<'_>, urgent: bool, now_ms: u64) -> bool {
        let len = sample.encoded_len();
        let header = self.header_len();
        if self.num_samples > 0 && header + (self.end - HEADER_ROOM) + len > self.limit {
            self.flush(now_ms);
        }
        if header + len > self.limit && !self.logged_oversize {
            self.logged_oversize = true;
            warn!(
                "a sample of {len} bytes does not fit in datagramBytes {}: it is sent alone",
                self.limit
            );
        }
        match sample.emit(&mut self.buf[self.end..]) {
            Ok(n) => {
                self.end += n;
                self.num_samples += 1;
                self.stats.samples += 1;
                self.first_queued_ms.get_or_insert(now_ms);
                self.urgent |= urgent;
                if header + (self.end - HEADER_ROOM) >= self.limit {
                    self.flush(now_ms);
                }
                true
            }
            Err(e) => {
                self.stats.dropped_samples += 1;
                warn!("a sample of {len} bytes was dropped: {e}");
                false
            }
        }
    }

    /// When the queued samples must be sent at the latest (ms), if any are queued.
    pub fn flush_deadline(&self) -> Option<u64> {
        self.first_queued_ms
            .map(|t| if self.urgent { t } else { t + FLUSH_DELAY_MS })
    }

    /// Sends the queued samples if they are due.
    pub fn flush_if_due(&mut self, now_ms: u64) {
        if self.flush_deadline().is_some_and(|d| d <= now_ms) {
            self.flush(now_ms);
        }
    }

    /// Sends the queued samples now, if any, as one datagram to every collector.
    pub fn flush(&mut self, now_ms: u64) {
        if self.num_samples == 0 {
            return;
        }
        self.sequence = self.sequence.wrapping_add(1);
        let header = DatagramHeader {
            agent: self.agent,
            sub_agent_id: self.sub_agent_id,
            sequence: self.sequence,
            uptime_ms: now_ms as u32,
            num_samples: self.num_samples,
        };
        let start = HEADER_ROOM - self.header_len();
        let written = header.emit(&mut self.buf[start..HEADER_ROOM]);
        debug_assert_eq!(written.ok(), Some(self.header_len()));
        let datagram = &self.buf[start..self.end];
        self.stats.datagrams += 1;
        for c in &mut self.collectors {
            match c.socket.get().send(datagram) {
                Ok(_) => {
                    if c.failing {
                        c.failing = false;
                        info!("collector {}: sending again", show(&c.collector));
                    }
                }
                Err(e) => {
                    self.stats.send_failures += 1;
                    if !c.failing {
                        c.failing = true;
                        warn!("collector {}: datagram not sent: {e}", show(&c.collector));
                    }
                }
            }
        }
        self.end = HEADER_ROOM;
        self.num_samples = 0;
        self.first_queued_ms = None;
        self.urgent = false;
    }

    /// Handles a readiness event on a collector socket: takes the pending error (an ICMP port
    /// unreachable shows up here), so the next datagram is not the one to report it, and re-arms.
    pub fn on_socket_event(&mut self, key: usize) {
        let Some(c) = key
            .checked_sub(self.key_base)
            .and_then(|i| self.collectors.get_mut(i))
        else {
            return;
        };
        let sock = c.socket.get();
        let mut scratch = [0u8; 1];
        // Drain anything that arrived (nothing should) and the error queue.
        while let Ok(_n) = sock.recv(&mut scratch) {}
        if let Ok(Some(e)) = sock.take_error() {
            if !c.failing {
                c.failing = true;
                warn!("collector {}: {e}", show(&c.collector));
            }
        }
        let _ = c.socket.rearm(polling::Event::readable(key));
    }
}

fn show(c: &Collector) -> String {
    SocketAddr::new(c.ip, c.port).to_string()
}

fn open_socket(
    poller: &Rc<polling::Poller>,
    c: &Collector,
    key: usize,
) -> io::Result<Watched<UdpSocket>> {
    let local: SocketAddr = match c.ip {
        IpAddr::V4(_) => (Ipv4Addr::UNSPECIFIED, 0).into(),
        IpAddr::V6(_) => (Ipv6Addr::UNSPECIFIED, 0).into(),
    };
    let socket = UdpSocket::bind(local)?;
    socket.connect(SocketAddr::new(c.ip, c.port))?;
    socket.set_nonblocking(true)?;
    Watched::new(poller, socket, polling::Event::readable(key))
}
