//! A collector for tests: a UDP socket on loopback, the independent decoder (flowparser-sflow), and a
//! structural walk of each datagram that checks every record's length against the structure table.
#![allow(dead_code)]

use std::net::{SocketAddr, UdpSocket};
use std::time::{Duration, Instant};

pub use flowparser_sflow::counter_records::CounterRecord as Decoded;
use flowparser_sflow::{SflowDatagram, SflowParser, SflowSample};

/// Fixed record body lengths from sflow-wire.md; 2000 and 2001 are checked by their own structure.
pub fn fixed_len(tag: u32) -> Option<usize> {
    Some(match tag {
        1 => 88,
        2002 => 8,
        2003 => 80,
        2004 => 72,
        2005 => 52,
        2006 => 40,
        2007 => 76,
        2008 => 100,
        2009 => 60,
        2010 => 28,
        2100 => 28,
        2101 => 12,
        2102 => 16,
        2103 => 52,
        2104 => 40,
        _ => return None,
    })
}

fn be32(b: &[u8], off: usize) -> u32 {
    u32::from_be_bytes(b[off..off + 4].try_into().unwrap())
}

fn pad4(n: usize) -> usize {
    (n + 3) & !3
}

/// One counter sample as walked from the bytes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Walked {
    pub sequence: u32,
    pub class: u32,
    pub index: u32,
    /// (tag, body bytes)
    pub records: Vec<(u32, Vec<u8>)>,
}

impl Walked {
    pub fn tags(&self) -> Vec<u32> {
        let mut t: Vec<u32> = self.records.iter().map(|r| r.0).collect();
        t.sort();
        t
    }
    pub fn record(&self, tag: u32) -> Option<&[u8]> {
        self.records.iter().find(|r| r.0 == tag).map(|r| &r.1[..])
    }
}

/// Walks a datagram by hand: header, expanded counter samples, records. Panics (failing the test) on
/// any length that does not match the structure table.
pub fn walk(d: &[u8]) -> (u32, Vec<Walked>) {
    assert!(d.len() >= 28, "datagram of {} bytes", d.len());
    assert_eq!(be32(d, 0), 5, "version");
    let header = match be32(d, 4) {
        1 => 28,
        2 => 40,
        t => panic!("agent address type {t}"),
    };
    let seq = be32(d, header - 12);
    let n = be32(d, header - 4) as usize;
    let mut off = header;
    let mut out = Vec::new();
    for _ in 0..n {
        let tag = be32(d, off);
        let len = be32(d, off + 4) as usize;
        if tag == 3 {
            // An expanded flow sample: its structure is checked here, its content by
            // [`walk_flows`].
            walk_flow(&d[off + 8..off + 8 + len]);
            off += 8 + len;
            continue;
        }
        assert_eq!(tag, 4, "sample format (expanded counter sample)");
        let body = &d[off + 8..off + 8 + len];
        let nrec = be32(body, 12) as usize;
        let mut roff = 16;
        let mut records = Vec::new();
        for _ in 0..nrec {
            let rtag = be32(body, roff);
            let rlen = be32(body, roff + 4) as usize;
            assert_eq!(rlen % 4, 0, "record {rtag} length {rlen} not aligned");
            let rbody = body[roff + 8..roff + 8 + rlen].to_vec();
            match rtag {
                2000 => {
                    let lh = be32(&rbody, 0) as usize;
                    assert!(lh <= 64, "hostname length {lh}");
                    let p = pad4(lh);
                    let lr = be32(&rbody, 4 + p + 24) as usize;
                    assert!(lr <= 32, "os_release length {lr}");
                    assert_eq!(rlen, 32 + p + pad4(lr), "host_descr length");
                    // XDR padding must be zeros.
                    assert!(
                        rbody[4 + lh..4 + p].iter().all(|&b| b == 0),
                        "hostname padding"
                    );
                    assert!(
                        rbody[32 + p + lr..].iter().all(|&b| b == 0),
                        "os_release padding"
                    );
                }
                2001 => {
                    let na = be32(&rbody, 0) as usize;
                    let mut a = 4;
                    for _ in 0..na {
                        let nm = be32(&rbody, a + 4) as usize;
                        a += 8 + 8 * nm;
                    }
                    assert_eq!(rlen, a, "host_adapters length");
                }
                1005 => {
                    let l = be32(&rbody, 0) as usize;
                    assert!(l <= 255, "port_name length {l}");
                    assert_eq!(rlen, 4 + pad4(l), "port_name length");
                }
                t => {
                    if let Some(want) = fixed_len(t) {
                        assert_eq!(rlen, want, "record {t} length");
                    }
                }
            }
            records.push((rtag, rbody));
            roff += 8 + rlen;
        }
        assert_eq!(roff, len, "sample length vs its records");
        out.push(Walked {
            sequence: be32(body, 0),
            class: be32(body, 4),
            index: be32(body, 8),
            records,
        });
        off += 8 + len;
    }
    assert_eq!(off, d.len(), "datagram length vs its samples");
    (seq, out)
}

/// One expanded flow sample as walked from the bytes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WalkedFlow {
    pub sequence: u32,
    pub class: u32,
    pub index: u32,
    pub rate: u32,
    pub pool: u32,
    pub drops: u32,
    pub input: u32,
    pub output: u32,
    /// (tag, body bytes)
    pub records: Vec<(u32, Vec<u8>)>,
}

/// Walks the body of an expanded flow sample, checking every record's length against its
/// structure (1 `sampled_header`: 16 + the padded header; 2210: 16).
pub fn walk_flow(body: &[u8]) -> WalkedFlow {
    assert_eq!(be32(body, 24), 0, "input format");
    assert_eq!(be32(body, 32), 0, "output format");
    let nrec = be32(body, 40) as usize;
    let mut roff = 44;
    let mut records = Vec::new();
    for _ in 0..nrec {
        let rtag = be32(body, roff);
        let rlen = be32(body, roff + 4) as usize;
        let rbody = body[roff + 8..roff + 8 + rlen].to_vec();
        match rtag {
            1 => {
                let h = be32(&rbody, 12) as usize;
                assert!(h <= 256, "header length {h}");
                assert_eq!(rlen, 16 + pad4(h), "sampled_header length");
                assert!(rbody[16 + h..].iter().all(|&b| b == 0), "header padding");
            }
            2210 => assert_eq!(rlen, 16, "extended_entities length"),
            t => panic!("unexpected flow record {t}"),
        }
        records.push((rtag, rbody));
        roff += 8 + rlen;
    }
    assert_eq!(roff, body.len(), "flow sample length vs its records");
    WalkedFlow {
        sequence: be32(body, 0),
        class: be32(body, 4),
        index: be32(body, 8),
        rate: be32(body, 12),
        pool: be32(body, 16),
        drops: be32(body, 20),
        input: be32(body, 28),
        output: be32(body, 36),
        records,
    }
}

/// The flow samples of a datagram, walked (the datagram is checked whole by [`walk`] first).
pub fn walk_flows(d: &[u8]) -> Vec<WalkedFlow> {
    walk(d);
    let header = if be32(d, 4) == 1 { 28 } else { 40 };
    let n = be32(d, header - 4) as usize;
    let mut off = header;
    let mut out = Vec::new();
    for _ in 0..n {
        let tag = be32(d, off);
        let len = be32(d, off + 4) as usize;
        if tag == 3 {
            out.push(walk_flow(&d[off + 8..off + 8 + len]));
        }
        off += 8 + len;
    }
    out
}

/// flowparser-sflow 0.3.0 reads 26 words for the MIB-II ICMP record 0:2008, which has 25 (100
/// bytes, as sflowtool, the reference agent and the structure table have it), and rejects the
/// whole datagram. [`decode`] hands it a copy without those records (their length is checked by
/// [`walk`]).
pub const UNDECODABLE: u32 = 2008;

/// A copy of datagram `d` without its [`UNDECODABLE`] counter records, lengths adjusted.
pub fn without_undecodable(d: &[u8]) -> Vec<u8> {
    let header = if be32(d, 4) == 1 { 28 } else { 40 };
    let n = be32(d, header - 4) as usize;
    let mut out = d[..header].to_vec();
    let mut off = header;
    for _ in 0..n {
        let tag = be32(d, off);
        let len = be32(d, off + 8 - 4) as usize;
        let body = &d[off + 8..off + 8 + len];
        if tag != 4 {
            out.extend_from_slice(&d[off..off + 8 + len]);
            off += 8 + len;
            continue;
        }
        let mut kept = body[..12].to_vec();
        let mut count = 0u32;
        let nrec = be32(body, 12) as usize;
        let mut roff = 16;
        let mut records = Vec::new();
        for _ in 0..nrec {
            let rtag = be32(body, roff);
            let rlen = be32(body, roff + 4) as usize;
            if rtag != UNDECODABLE {
                records.extend_from_slice(&body[roff..roff + 8 + rlen]);
                count += 1;
            }
            roff += 8 + rlen;
        }
        kept.extend_from_slice(&count.to_be_bytes());
        kept.extend_from_slice(&records);
        out.extend_from_slice(&4u32.to_be_bytes());
        out.extend_from_slice(&(kept.len() as u32).to_be_bytes());
        out.extend_from_slice(&kept);
        off += 8 + len;
    }
    out
}

/// Decodes with the independent decoder (without [`UNDECODABLE`] records); fails the test on a
/// decoder error.
pub fn decode(d: &[u8]) -> SflowDatagram {
    let d = &without_undecodable(d)[..];
    let r = SflowParser::default().parse_bytes(d);
    assert!(r.error.is_none(), "flowparser-sflow: {:?}", r.error);
    assert_eq!(r.datagrams.len(), 1);
    r.datagrams.into_iter().next().unwrap()
}

/// The decoded expanded counter samples of a datagram: (class, index, sequence, records).
pub fn decoded_samples(d: &SflowDatagram) -> Vec<(u32, u32, u32, Vec<Decoded>)> {
    d.samples
        .iter()
        .map(|s| match s {
            SflowSample::ExpandedCounter(c) => (
                c.source_id_type,
                c.source_id_index,
                c.sequence_number,
                c.records.clone(),
            ),
            other => panic!("unexpected sample {other:?}"),
        })
        .collect()
}

/// A UDP collector on loopback.
pub struct Collector {
    pub socket: UdpSocket,
}

impl Collector {
    pub fn bind() -> Collector {
        Self::bind_on("127.0.0.1:0")
    }

    pub fn bind_on(addr: &str) -> Collector {
        let socket = UdpSocket::bind(addr).unwrap();
        Collector { socket }
    }

    pub fn addr(&self) -> SocketAddr {
        self.socket.local_addr().unwrap()
    }

    /// The next datagram, or None after `timeout`.
    pub fn recv(&self, timeout: Duration) -> Option<Vec<u8>> {
        let deadline = Instant::now() + timeout;
        let mut buf = vec![0u8; 65536];
        loop {
            let left = deadline.checked_duration_since(Instant::now())?;
            self.socket
                .set_read_timeout(Some(left.max(Duration::from_millis(1))))
                .unwrap();
            match self.socket.recv(&mut buf) {
                Ok(n) => return Some(buf[..n].to_vec()),
                Err(e)
                    if e.kind() == std::io::ErrorKind::WouldBlock
                        || e.kind() == std::io::ErrorKind::TimedOut =>
                {
                    return None
                }
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                Err(e) => panic!("recv: {e}"),
            }
        }
    }

    /// Datagrams until one holds a sample of data source `class:index`; returns that datagram.
    pub fn recv_source(&self, class: u32, index: u32, timeout: Duration) -> Option<Vec<u8>> {
        let deadline = Instant::now() + timeout;
        loop {
            let left = deadline.checked_duration_since(Instant::now())?;
            let d = self.recv(left)?;
            let (_, samples) = walk(&d);
            if samples.iter().any(|s| s.class == class && s.index == index) {
                return Some(d);
            }
        }
    }
}
