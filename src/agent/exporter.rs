//! Packs samples (counter and flow samples alike) into sFlow datagrams and sends each datagram to every collector.
//!
//! Contract:
//! - A sample is encoded once, straight into the one datagram buffer, after room reserved for the
//!   header; the header (sequence, uptime, sample count) is written when the datagram is sent. Nothing
//!   allocates per sample.
//! - One rule for samples larger than the datagram: a sample is never cut or split (dropping records
//!   would silently lose data, such as the host's MAC addresses in `host_adapters`). A datagram never
//!   exceeds `datagram_bytes` unless a single sample is larger on its own; that sample then goes out
//!   alone, in a datagram of its own size, as the reference agent does, and the first such sample is
//!   logged (once per `datagram_bytes` setting). No datagram ever exceeds
//!   [`MAX_DATAGRAM_BYTES`](crate::config::MAX_DATAGRAM_BYTES): a sample that would not fit even
//!   alone is dropped, counted in [`ExportStats::dropped_samples`] and logged. The agent's own
//!   samples always fit, as their adapter lists are bounded by
//!   [`MAX_ADAPTERS`](crate::host::MAX_ADAPTERS).
//! - The header's size comes from [`crate::wire`] ([`header_len_for`], [`MAX_HEADER_LEN`]): room for
//!   the longest header is reserved in front of the samples.
//! - A datagram goes out as soon as the next sample would not fit in it, and otherwise when the loop
//!   calls [`Exporter::flush`] at the end of each wake-up. Polls are gathered on whole-second slots
//!   (as the reference agent's one-second tick does), so the samples of one wake-up are all the
//!   company a datagram could get: waiting for the next one would only delay them and cost a wake-up.
//! - Sending never blocks: collector sockets are non-blocking, and a datagram a socket cannot take is
//!   counted and dropped, never queued without bound.

use std::io;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, UdpSocket};
use std::rc::Rc;

use log::{info, warn};

use crate::config::{Collector, MAX_DATAGRAM_BYTES};
use crate::sys::Watched;
use crate::wire::{header_len_for, DatagramHeader, Sample, MAX_HEADER_LEN};

use super::keys::Key;

/// Header room reserved in front of the samples: the longest header, whichever the agent address.
const HEADER_ROOM: usize = MAX_HEADER_LEN;

/// Counters of what the exporter did, for the log and for tests.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ExportStats {
    /// Datagrams built.
    pub datagrams: u64,
    /// Samples encoded.
    pub samples: u64,
    /// Datagrams a collector socket refused or could not take.
    pub send_failures: u64,
    /// Samples that could not be sent at all: larger than the largest datagram
    /// ([`MAX_DATAGRAM_BYTES`]) even alone.
    pub dropped_samples: u64,
    /// Errors reported by collectors after a send (ICMP port unreachable and the like).
    pub refusals: u64,
}

/// A collector counts as working again this long after its last error (ms): an ICMP refusal
/// arrives after each datagram, between successful sends, so one success proves nothing.
const RECOVERY_MS: u64 = 30_000;

struct CollectorSocket {
    collector: Collector,
    socket: Watched<UdpSocket>,
    /// An error was logged; not logged again until the collector has been quiet for
    /// [`RECOVERY_MS`].
    failing: bool,
    /// When the last error was seen.
    last_error_ms: u64,
}

impl CollectorSocket {
    fn error(&mut self, what: &dyn std::fmt::Display, now_ms: u64) {
        self.last_error_ms = now_ms;
        if !self.failing {
            self.failing = true;
            warn!("collector {}: {what}", show(&self.collector));
        }
    }
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
    collectors: Vec<CollectorSocket>,
    poller: Rc<polling::Poller>,
    stats: ExportStats,
    logged_oversize: bool,
}

impl Exporter {
    /// An exporter whose collector sockets are registered in `poller` under [`Key::Collector`].
    pub fn new(
        poller: &Rc<polling::Poller>,
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
            collectors: Vec::new(),
            poller: poller.clone(),
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
                    .rearm(polling::Event::readable(Key::Collector(i).encode()));
                self.collectors.push(kept);
                continue;
            }
            match open_socket(&self.poller, c, Key::Collector(i).encode()) {
                Ok(socket) => self.collectors.push(CollectorSocket {
                    collector: *c,
                    socket,
                    failing: false,
                    last_error_ms: 0,
                }),
                Err(e) => warn!("collector {}: cannot open a UDP socket: {e}", show(c)),
            }
        }
        // Keys follow positions: re-arm everything under its new key.
        for (i, s) in self.collectors.iter().enumerate() {
            let _ = s
                .socket
                .rearm(polling::Event::readable(Key::Collector(i).encode()));
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
            if limit != self.limit {
                self.logged_oversize = false;
            }
            self.limit = limit;
        }
    }

    fn header_len(&self) -> usize {
        header_len_for(self.agent)
    }

    /// Encodes a sample into the current datagram, sending the datagram first when the sample would
    /// not fit. A sample larger than the datagram limit goes out alone (see the module docs).
    /// Returns false when the sample could not be encoded at all (larger than
    /// [`MAX_DATAGRAM_BYTES`] with its header).
    pub fn push<S: Sample + ?Sized>(&mut self, sample: &S, now_ms: u64) -> bool {
        let len = sample.encoded_len();
        let header = self.header_len();
        if self.num_samples > 0 && header + (self.end - HEADER_ROOM) + len > self.limit {
            self.flush(now_ms);
        }
        if header + len > self.limit && header + len <= MAX_DATAGRAM_BYTES && !self.logged_oversize
        {
            self.logged_oversize = true;
            warn!(
                "a sample of {len} bytes does not fit in datagramBytes {}: it is sent alone, \
                 in a datagram of {} bytes",
                self.limit,
                header + len
            );
        }
        // The datagram (header included) ends at MAX_DATAGRAM_BYTES at most.
        let room_end = MAX_DATAGRAM_BYTES + HEADER_ROOM - header;
        let room = self.buf.get_mut(self.end..room_end).unwrap_or_default();
        match sample.emit(room) {
            Ok(n) => {
                self.end += n;
                self.num_samples += 1;
                self.stats.samples += 1;
                if header + (self.end - HEADER_ROOM) >= self.limit {
                    self.flush(now_ms);
                }
                true
            }
            Err(e) => {
                self.stats.dropped_samples += 1;
                warn!(
                    "a sample of {len} bytes was dropped: with its header it exceeds the largest \
                     datagram, {MAX_DATAGRAM_BYTES} bytes ({e})"
                );
                false
            }
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
                    if c.failing && now_ms.saturating_sub(c.last_error_ms) >= RECOVERY_MS {
                        c.failing = false;
                        info!(
                            "collector {}: no error for {} s",
                            show(&c.collector),
                            RECOVERY_MS / 1000
                        );
                    }
                }
                Err(e) => {
                    self.stats.send_failures += 1;
                    c.error(&format_args!("datagram not sent: {e}"), now_ms);
                }
            }
        }
        self.end = HEADER_ROOM;
        self.num_samples = 0;
    }

    /// Handles a readiness event on a collector socket: takes the pending error (an ICMP port
    /// unreachable shows up here, as the error of a `recv`), logs it once, and re-arms.
    pub fn on_socket_event(&mut self, index: usize, now_ms: u64) {
        let Some(c) = self.collectors.get_mut(index) else {
            return;
        };
        let mut scratch = [0u8; 1];
        // Nothing should arrive; errors queued on the socket come out of recv one at a time.
        for _ in 0..64 {
            match c.socket.get().recv(&mut scratch) {
                Ok(_) => continue,
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => break,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                Err(e) => {
                    self.stats.refusals += 1;
                    c.error(&e, now_ms);
                }
            }
        }
        if let Ok(Some(e)) = c.socket.get().take_error() {
            self.stats.refusals += 1;
            c.error(&e, now_ms);
        }
        let _ = c
            .socket
            .rearm(polling::Event::readable(Key::Collector(index).encode()));
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::{
        Adapter, CounterRecord, CounterSample, DataSource, HostAdapters, HostDescr, HostParent,
        VirtCpu, HEADER_LEN_IPV4,
    };
    use std::time::Duration;

    fn collector() -> (UdpSocket, Collector) {
        let s = UdpSocket::bind("127.0.0.1:0").unwrap();
        s.set_read_timeout(Some(Duration::from_millis(500)))
            .unwrap();
        let port = s.local_addr().unwrap().port();
        (
            s,
            Collector {
                ip: IpAddr::from([127, 0, 0, 1]),
                port,
            },
        )
    }

    fn exporter(limit: usize, c: &[Collector]) -> Exporter {
        let poller = Rc::new(polling::Poller::new().unwrap());
        let mut e = Exporter::new(&poller, IpAddr::from([192, 0, 2, 1]), 100001, limit);
        e.set_collectors(c);
        e
    }

    fn sample_with(name: &str, seq: u32, f: impl FnOnce(&CounterSample<'_>)) {
        let records = [
            CounterRecord::HostDescr(HostDescr {
                hostname: name,
                uuid: [7; 16],
                machine_type: 3,
                os_name: 2,
                os_release: "6.1",
            }),
            CounterRecord::HostParent(HostParent {
                container_type: 2,
                container_index: 1,
            }),
            CounterRecord::VirtCpu(VirtCpu {
                state: 1,
                ..VirtCpu::UNKNOWN
            }),
        ];
        f(&CounterSample {
            sequence: seq,
            source: DataSource {
                class: 3,
                index: 100000 + seq,
            },
            records: &records,
        });
    }

    fn recv_all(s: &UdpSocket) -> Vec<Vec<u8>> {
        let mut out = Vec::new();
        let mut buf = [0u8; 9000];
        while let Ok(n) = s.recv(&mut buf) {
            out.push(buf[..n].to_vec());
            s.set_read_timeout(Some(Duration::from_millis(100)))
                .unwrap();
        }
        out
    }

    fn be32(d: &[u8], off: usize) -> u32 {
        u32::from_be_bytes([d[off], d[off + 1], d[off + 2], d[off + 3]])
    }

    #[test]
    fn samples_are_packed_up_to_the_limit_and_never_split() {
        let (sock, c) = collector();
        let limit = 400;
        let mut e = exporter(limit, &[c]);
        let mut len = 0;
        for seq in 1..=20 {
            sample_with("a-container", seq, |s| {
                len = s.encoded_len();
                assert!(e.push(s, 0));
            });
        }
        e.flush(0);
        let datagrams = recv_all(&sock);
        let per = (limit - 28) / len;
        assert!(per >= 2, "the test wants several samples per datagram");
        let mut seen = 0;
        for (i, d) in datagrams.iter().enumerate() {
            assert!(
                d.len() <= limit,
                "datagram of {} bytes over {limit}",
                d.len()
            );
            assert_eq!(be32(d, 16), i as u32 + 1, "datagram sequence");
            let n = be32(d, 24) as usize;
            assert_eq!(d.len(), 28 + n * len, "whole samples only");
            seen += n;
        }
        assert_eq!(seen, 20);
        assert_eq!(datagrams.len(), 20_usize.div_ceil(per));
        assert_eq!(e.stats().samples, 20);
    }

    /// A host-like sample with `n` adapters, each with a MAC.
    fn with_adapters(n: usize, f: impl FnOnce(&CounterSample<'_>)) {
        let adapters: Vec<Adapter> = (0..n)
            .map(|i| Adapter {
                if_index: i as u32 + 1,
                mac: Some([2, 0, 0, 0, (i >> 8) as u8, i as u8]),
            })
            .collect();
        let records = [CounterRecord::HostAdapters(HostAdapters {
            adapters: &adapters,
        })];
        f(&CounterSample {
            sequence: 1,
            source: DataSource { class: 2, index: 1 },
            records: &records,
        });
    }

    #[test]
    fn a_sample_larger_than_the_limit_goes_out_whole_and_alone() {
        let (sock, c) = collector();
        let limit = 200;
        let mut e = exporter(limit, &[c]);
        let mut small = 0;
        let mut big = 0;
        sample_with("before", 1, |s| {
            small = s.encoded_len();
            assert!(e.push(s, 0));
        });
        with_adapters(20, |s| {
            big = s.encoded_len();
            assert!(e.push(s, 0));
        });
        sample_with("after", 2, |s| assert!(e.push(s, 0)));
        e.flush(0);
        assert!(
            HEADER_LEN_IPV4 + big > limit,
            "the test wants an oversize sample"
        );
        assert!(HEADER_LEN_IPV4 + small <= limit);
        let d = recv_all(&sock);
        let lens: Vec<usize> = d.iter().map(Vec::len).collect();
        assert_eq!(
            lens,
            [
                HEADER_LEN_IPV4 + small,
                HEADER_LEN_IPV4 + big,
                HEADER_LEN_IPV4 + small
            ],
            "the oversize sample is neither cut nor shares its datagram"
        );
        assert_eq!(be32(&d[1], 24), 1, "one sample in the oversize datagram");
        // Every adapter went out: the host_adapters count follows the expanded sample's header (24
        // bytes) and the record's tag and length.
        assert_eq!(be32(&d[1], HEADER_LEN_IPV4 + 24 + 8), 20);
        assert!(e.logged_oversize);
        assert_eq!(e.stats().dropped_samples, 0);
    }

    #[test]
    fn no_datagram_exceeds_the_largest_and_a_sample_too_large_even_alone_is_dropped() {
        let (sock, c) = collector();
        for agent in [
            IpAddr::from([192, 0, 2, 1]),
            IpAddr::from([0x2001, 0xdb8, 0, 0, 0, 0, 0, 1]),
        ] {
            let mut e = exporter(1400, &[c]);
            e.reconfigure(agent, 1, 1400, 0);
            let header = header_len_for(agent);
            // The largest adapter count whose sample still fits the largest datagram, and one more.
            let fits = (0..1000)
                .rev()
                .find(|&n| {
                    let mut len = 0;
                    with_adapters(n, |s| len = s.encoded_len());
                    header + len <= MAX_DATAGRAM_BYTES
                })
                .unwrap();
            with_adapters(fits, |s| assert!(e.push(s, 0)));
            with_adapters(fits + 1, |s| assert!(!e.push(s, 0), "{agent}"));
            e.flush(0);
            let d = recv_all(&sock);
            assert_eq!(d.len(), 1);
            assert!(d[0].len() <= MAX_DATAGRAM_BYTES);
            assert!(d[0].len() > MAX_DATAGRAM_BYTES - 16);
            assert_eq!(e.stats().dropped_samples, 1);
        }
    }

    #[test]
    fn queued_samples_wait_for_the_flush_and_go_out_together() {
        let (sock, c) = collector();
        let mut e = exporter(1400, &[c]);
        sample_with("x", 1, |s| assert!(e.push(s, 1000)));
        sample_with("y", 2, |s| assert!(e.push(s, 1000)));
        assert_eq!(e.stats().datagrams, 0, "nothing is sent before the flush");
        e.flush(1500);
        let d = recv_all(&sock);
        assert_eq!(d.len(), 1);
        assert_eq!(be32(&d[0], 24), 2, "both samples in one datagram");
        assert_eq!(be32(&d[0], 20), 1500, "uptime in ms");
        e.flush(1600);
        assert_eq!(e.stats().datagrams, 1, "an empty queue sends nothing");
    }

    #[test]
    fn every_collector_gets_each_datagram_and_a_refusing_one_costs_nothing() {
        let (a, ca) = collector();
        let (b, cb) = collector();
        // A port where nothing listens: sends there fail with ECONNREFUSED after the ICMP reply.
        let dead = {
            let (s, c) = collector();
            drop(s);
            c
        };
        let mut e = exporter(1400, &[ca, dead, cb, ca]);
        for seq in 1..=3 {
            sample_with("z", seq, |s| assert!(e.push(s, 0)));
            e.flush(0);
            // Let the ICMP error arrive and be drained the way the loop does.
            std::thread::sleep(Duration::from_millis(20));
            e.on_socket_event(1, 0);
        }
        assert_eq!(
            recv_all(&a).len(),
            3,
            "a collector listed twice gets one copy"
        );
        assert_eq!(recv_all(&b).len(), 3);
        assert_eq!(e.stats().datagrams, 3);
        assert!(e.stats().refusals >= 1, "the refusing collector is noticed");
    }

    #[test]
    fn a_changed_agent_address_sends_the_queue_first() {
        let (sock, c) = collector();
        let mut e = exporter(1400, &[c]);
        sample_with("x", 1, |s| assert!(e.push(s, 0)));
        e.reconfigure(IpAddr::from([0x2001, 0xdb8, 0, 0, 0, 0, 0, 1]), 5, 1400, 10);
        sample_with("x", 2, |s| assert!(e.push(s, 20)));
        e.flush(30);
        let d = recv_all(&sock);
        assert_eq!(d.len(), 2);
        assert_eq!(
            be32(&d[0], 4),
            1,
            "the first datagram keeps the IPv4 header"
        );
        assert_eq!(be32(&d[1], 4), 2, "the second has the IPv6 one");
        assert_eq!(be32(&d[1], 24), 5, "and the new sub-agent id");
    }
}
