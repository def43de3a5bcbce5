//! Packet sampling without I/O of its own: what a tapped interface is (from sysfs), how a sampled
//! packet becomes a flow sample, and how the interface's counters become `if_counters`.
//!
//! The agent's `taps.rs` owns the sockets; everything here is plain data and small sysfs reads,
//! so it is tested with fixture trees. Nothing here panics on what sysfs holds: a missing or
//! malformed attribute is an unknown value.

pub mod netlink;
pub mod nflog;
pub mod ring;
pub mod veth;

use std::fs::File;
use std::io;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};

use crate::wire::{
    header_protocol, DataSource, FlowRecord, FlowSample, IfCounters, SampledHeader, IF_INTERNAL,
    UNKNOWN_U32, UNKNOWN_U64,
};

/// `sll_pkttype` values (linux/if_packet.h).
pub mod pkttype {
    /// To this host.
    pub const HOST: u8 = 0;
    /// Broadcast.
    pub const BROADCAST: u8 = 1;
    /// Multicast.
    pub const MULTICAST: u8 = 2;
    /// To another host (seen in promiscuous mode or on a bridge port).
    pub const OTHERHOST: u8 = 3;
    /// Sent by this host.
    pub const OUTGOING: u8 = 4;
}

/// sysfs `type` of an Ethernet interface (`ARPHRD_ETHER`).
pub const ARPHRD_ETHER: u32 = 1;

/// `ifType` of an Ethernet interface (ethernetCsmacd).
pub const IF_TYPE_ETHERNET: u32 = 6;

/// Bytes of the Ethernet frame check sequence, which a tap never sees: added to the frame length
/// and reported as stripped, as the reference agent does.
pub const FCS_LEN: u32 = 4;

/// An interface's identity, as sysfs tells it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PortInfo {
    /// Its name.
    pub name: String,
    /// Its ifIndex.
    pub if_index: u32,
    /// `type` (ARPHRD_*).
    pub arp_type: u32,
    /// Speed in bits per second, when the driver says.
    pub speed: Option<u64>,
}

fn read_small(path: &Path) -> Option<String> {
    let text = std::fs::read_to_string(path).ok()?;
    Some(text.trim().to_string())
}

fn read_u64(path: &Path) -> Option<u64> {
    read_small(path)?.parse().ok()
}

/// `<sys>/class/net/<name>`.
pub fn class_net(sys: &Path, name: &str) -> PathBuf {
    sys.join("class/net").join(name)
}

impl PortInfo {
    /// Reads interface `name` under the sysfs root `sys`; `None` when it does not exist.
    pub fn read(sys: &Path, name: &str) -> Option<PortInfo> {
        let dir = class_net(sys, name);
        let if_index = u32::try_from(read_u64(&dir.join("ifindex"))?).ok()?;
        let arp_type = read_u64(&dir.join("type"))
            .and_then(|t| u32::try_from(t).ok())
            .unwrap_or(0);
        // Mb/s; -1 or an error (EINVAL) when unknown.
        let speed = read_u64(&dir.join("speed"))
            .filter(|s| *s > 0 && *s < u64::from(u32::MAX))
            .map(|s| s * 1_000_000);
        Some(PortInfo {
            name: name.to_string(),
            if_index,
            arp_type,
            speed,
        })
    }
}

/// The packet counters of one interface, kept open: read at every batch of samples for the sample
/// pool, without opening a file each time.
#[derive(Debug)]
pub struct PoolCounter {
    rx: Option<File>,
    tx: Option<File>,
}

fn pread_u64(f: &File) -> Option<u64> {
    let mut buf = [0u8; 24];
    let n = f.read_at(&mut buf, 0).ok()?;
    let text = std::str::from_utf8(buf.get(..n)?).ok()?;
    text.trim().parse().ok()
}

impl PoolCounter {
    /// Opens `statistics/rx_packets` of interface `name` if the tap samples what it receives
    /// (`ingress`), and `tx_packets` if it samples what is sent on it (`egress`).
    pub fn open(sys: &Path, name: &str, ingress: bool, egress: bool) -> io::Result<PoolCounter> {
        let dir = class_net(sys, name).join("statistics");
        let open = |on: bool, file: &str| on.then(|| File::open(dir.join(file))).transpose();
        Ok(PoolCounter {
            rx: open(ingress, "rx_packets")?,
            tx: open(egress, "tx_packets")?,
        })
    }

    /// Packets so far in the sampled directions: every packet the tap could have sampled.
    /// `None` when the counters cannot be read (the interface is gone).
    pub fn read(&self) -> Option<u64> {
        let count = |f: &Option<File>| f.as_ref().map_or(Some(0), pread_u64);
        Some(count(&self.rx)?.wrapping_add(count(&self.tx)?))
    }
}

/// The input and output ifIndex of a packet seen on interface `if_index` with this `sll_pkttype`:
/// a packet the host sent goes out on the interface and came from the host itself (internal); a
/// packet received came in on the interface and goes to the host (internal) when addressed to it,
/// else somewhere unknown (0).
pub fn direction(pkttype: u8, if_index: u32) -> (u32, u32) {
    match pkttype {
        pkttype::OUTGOING => (IF_INTERNAL, if_index),
        pkttype::HOST | pkttype::BROADCAST | pkttype::MULTICAST => (if_index, IF_INTERNAL),
        _ => (if_index, 0),
    }
}

/// What a tap knows when it writes a flow sample.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TapState {
    /// The sampler's ifIndex.
    pub if_index: u32,
    /// One in `rate`.
    pub rate: u32,
    /// Flow samples sent so far from this tap.
    pub sequence: u32,
    /// Packets lost by the kernel so far (the socket's drops).
    pub drops: u32,
    /// The container at the far end of the tapped veth, for `extended_entities`.
    pub entity: Option<DataSource>,
}

/// The `sampled_header` of an Ethernet frame: `header` is what the tap captured, `original` the
/// frame's length before the filter cut it (the FCS, which no tap sees, is added and reported as
/// stripped).
pub fn sampled_header(original: u32, header: &[u8]) -> FlowRecord<'_> {
    FlowRecord::SampledHeader(SampledHeader {
        protocol: header_protocol::ETHERNET,
        frame_length: original.saturating_add(FCS_LEN),
        stripped: FCS_LEN,
        header,
    })
}

/// A flow sample from a tap in `state`, of a packet seen with this `sll_pkttype`, `pool` the
/// interface's packets so far.
pub fn flow_sample<'a>(
    state: &TapState,
    pkttype: u8,
    pool: u64,
    records: &'a [FlowRecord<'a>],
) -> FlowSample<'a> {
    let (input, output) = direction(pkttype, state.if_index);
    FlowSample {
        sequence: state.sequence,
        source: DataSource {
            class: 0,
            index: state.if_index,
        },
        sampling_rate: state.rate,
        // sFlow's pool is a 32-bit counter that wraps.
        sample_pool: pool as u32,
        drops: state.drops,
        input,
        output,
        records,
    }
}

/// Reads `if_counters` of interface `port` from sysfs: octets, packets, multicast, drops and errors
/// from `statistics/`, speed, duplex, state and promiscuity from the attributes. What sysfs does
/// not say (broadcasts, unknown protocols, outgoing multicasts) is unknown (all ones).
pub fn if_counters(sys: &Path, port: &PortInfo) -> IfCounters {
    let dir = class_net(sys, &port.name);
    let stat = |name: &str| read_u64(&dir.join("statistics").join(name));
    let u32_of = |v: Option<u64>| v.map_or(UNKNOWN_U32, |v| v as u32);
    let rx_packets = stat("rx_packets");
    let multicast = stat("multicast");
    let in_ucast = match (rx_packets, multicast) {
        (Some(p), Some(m)) => Some(p.saturating_sub(m)),
        (p, _) => p,
    };
    let flags = read_small(&dir.join("flags"))
        .and_then(|f| u32::from_str_radix(f.trim_start_matches("0x"), 16).ok())
        .unwrap_or(0);
    let oper_up = read_small(&dir.join("operstate")).is_some_and(|s| s == "up");
    let admin_up = flags & crate::sys::IFF_UP != 0;
    let direction = match read_small(&dir.join("duplex")).as_deref() {
        Some("full") => 1,
        Some("half") => 2,
        _ => 0,
    };
    IfCounters {
        if_index: port.if_index,
        if_type: IF_TYPE_ETHERNET,
        if_speed: port.speed.unwrap_or(0),
        if_direction: direction,
        if_status: u32::from(admin_up) | (u32::from(oper_up) << 1),
        in_octets: stat("rx_bytes").unwrap_or(UNKNOWN_U64),
        in_ucast_pkts: u32_of(in_ucast),
        in_multicast_pkts: u32_of(multicast),
        in_broadcast_pkts: UNKNOWN_U32,
        in_discards: u32_of(stat("rx_dropped")),
        in_errors: u32_of(stat("rx_errors")),
        in_unknown_protos: UNKNOWN_U32,
        out_octets: stat("tx_bytes").unwrap_or(UNKNOWN_U64),
        out_ucast_pkts: u32_of(stat("tx_packets")),
        out_multicast_pkts: UNKNOWN_U32,
        out_broadcast_pkts: UNKNOWN_U32,
        out_discards: u32_of(stat("tx_dropped")),
        out_errors: u32_of(stat("tx_errors")),
        promiscuous_mode: u32::from(flags & IFF_PROMISC != 0),
    }
}

/// `IFF_PROMISC`.
const IFF_PROMISC: u32 = 0x100;

#[cfg(test)]
mod tests {
    use super::*;

    fn fixture(name: &str, files: &[(&str, &str)]) -> PathBuf {
        let root =
            std::env::temp_dir().join(format!("csflowd-packet-{}-{name}", std::process::id()));
        let _ = std::fs::remove_dir_all(&root);
        for (path, text) in files {
            let p = root.join("class/net").join(name).join(path);
            std::fs::create_dir_all(p.parent().unwrap()).unwrap();
            std::fs::write(p, text).unwrap();
        }
        root
    }

    #[test]
    fn a_veth_in_sysfs() {
        let sys = fixture(
            "veth9",
            &[
                ("ifindex", "17\n"),
                ("type", "1\n"),
                ("speed", "10000\n"),
                ("duplex", "full\n"),
                ("operstate", "up\n"),
                ("flags", "0x1103\n"),
                ("statistics/rx_packets", "120\n"),
                ("statistics/tx_packets", "80\n"),
                ("statistics/multicast", "20\n"),
                ("statistics/rx_bytes", "6000000000\n"),
                ("statistics/tx_bytes", "9000\n"),
                ("statistics/rx_dropped", "1\n"),
                ("statistics/tx_dropped", "2\n"),
                ("statistics/rx_errors", "3\n"),
                ("statistics/tx_errors", "4\n"),
            ],
        );
        let port = PortInfo::read(&sys, "veth9").unwrap();
        assert_eq!(
            port,
            PortInfo {
                name: "veth9".into(),
                if_index: 17,
                arp_type: 1,
                speed: Some(10_000_000_000)
            }
        );
        let c = if_counters(&sys, &port);
        assert_eq!((c.if_index, c.if_type, c.if_speed), (17, 6, 10_000_000_000));
        assert_eq!((c.if_direction, c.if_status, c.promiscuous_mode), (1, 3, 1));
        assert_eq!(
            (c.in_octets, c.in_ucast_pkts, c.in_multicast_pkts),
            (6_000_000_000, 100, 20)
        );
        assert_eq!((c.out_octets, c.out_ucast_pkts), (9000, 80));
        assert_eq!(
            (c.in_discards, c.out_discards, c.in_errors, c.out_errors),
            (1, 2, 3, 4)
        );
        assert_eq!(c.in_broadcast_pkts, UNKNOWN_U32);
        let pool = PoolCounter::open(&sys, "veth9", true, true).unwrap();
        assert_eq!(pool.read(), Some(200));
        let rx = PoolCounter::open(&sys, "veth9", true, false)
            .unwrap()
            .read();
        let tx = PoolCounter::open(&sys, "veth9", false, true)
            .unwrap()
            .read();
        assert_eq!((rx, tx), (Some(120), Some(80)));
        assert_eq!(PortInfo::read(&sys, "gone"), None);
        let _ = std::fs::remove_dir_all(&sys);
    }

    #[test]
    fn unknown_speed_and_missing_counters() {
        let sys = fixture(
            "tun0",
            &[("ifindex", "3"), ("type", "65534"), ("speed", "-1")],
        );
        let port = PortInfo::read(&sys, "tun0").unwrap();
        assert_eq!((port.speed, port.arp_type), (None, 65534));
        let c = if_counters(&sys, &port);
        assert_eq!(
            (c.in_octets, c.out_ucast_pkts, c.if_status),
            (UNKNOWN_U64, UNKNOWN_U32, 0)
        );
        assert!(PoolCounter::open(&sys, "tun0", true, true).is_err());
        let _ = std::fs::remove_dir_all(&sys);
    }

    #[test]
    fn directions() {
        assert_eq!(direction(pkttype::OUTGOING, 7), (IF_INTERNAL, 7));
        assert_eq!(direction(pkttype::HOST, 7), (7, IF_INTERNAL));
        assert_eq!(direction(pkttype::BROADCAST, 7), (7, IF_INTERNAL));
        assert_eq!(direction(pkttype::OTHERHOST, 7), (7, 0));
    }

    #[test]
    fn a_sampled_frame() {
        let state = TapState {
            if_index: 7,
            rate: 400,
            sequence: 3,
            drops: 1,
            entity: None,
        };
        let header = [0u8; 64];
        let records = [sampled_header(1062, &header)];
        let s = flow_sample(&state, pkttype::HOST, (1 << 32) + 5, &records);
        assert_eq!(
            (s.sequence, s.source.index, s.sampling_rate, s.drops),
            (3, 7, 400, 1)
        );
        assert_eq!((s.input, s.output, s.sample_pool), (7, IF_INTERNAL, 5));
        let FlowRecord::SampledHeader(h) = s.records[0] else {
            panic!()
        };
        assert_eq!(
            (h.protocol, h.frame_length, h.stripped, h.header.len()),
            (1, 1066, 4, 64)
        );
    }
}
