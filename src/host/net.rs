//! `host_net_io` from /proc/net/dev, summed over the interfaces that carry the host's own traffic.
//!
//! Left out: `lo`, and every virtual interface (bridges, veths, VLANs, bonds, tunnels), recognised by
//! sysfs placing it under `devices/virtual/net/`: counting a bridge, the veths behind it and the NIC in
//! front of it would count each container packet two or three times. The record is
//! known when the file had at least one well-formed interface line (a host with only `lo` reports zeros).

use super::file::{is_plain_name, PathBuilder};
use super::parse::lines;
use super::Roots;
use crate::wire::NetIo;

/// Fills `net` (which the caller reset to unknown) from the text of `<proc>/net/dev`, leaving out the
/// interfaces `is_virtual` names (see [`is_virtual`]).
pub(crate) fn read_net(text: &[u8], is_virtual: impl Fn(&[u8]) -> bool, net: &mut NetIo) {
    let mut sum = NetSum::default();
    for (name, counters) in lines(text).filter_map(parse_net_dev_line) {
        sum.lines += 1;
        if name != b"lo" && !is_virtual(name) {
            sum.add(&counters);
        }
    }
    sum.apply(net);
}

/// Whether sysfs lists the interface as virtual. Real sysfs links `class/net/<name>` to
/// `../../devices/virtual/net/<name>` for exactly these, so checking that directory answers the same
/// question as reading the link, without allocating the link's target.
pub(crate) fn is_virtual(paths: &mut PathBuilder, roots: &Roots, name: &[u8]) -> bool {
    is_plain_name(name)
        && std::fs::symlink_metadata(
            paths.join(&roots.sys, &[b"devices", b"virtual", b"net", name]),
        )
        .is_ok()
}

/// The counters of one interface line that `host_net_io` uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(crate) struct NetDevCounters {
    pub rx_bytes: u64,
    pub rx_packets: u64,
    pub rx_errs: u64,
    pub rx_drop: u64,
    pub tx_bytes: u64,
    pub tx_packets: u64,
    pub tx_errs: u64,
    pub tx_drop: u64,
}

impl NetDevCounters {
    /// The counters `host_net_io` uses among a line's first twelve fields (receive bytes, packets,
    /// errs, drop, fifo, frame, compressed, multicast; transmit bytes, packets, errs, drop).
    fn from_fields(n: [u64; 12]) -> NetDevCounters {
        let [rx_bytes, rx_packets, rx_errs, rx_drop, _, _, _, _, tx_bytes, tx_packets, tx_errs, tx_drop] =
            n;
        NetDevCounters {
            rx_bytes,
            rx_packets,
            rx_errs,
            rx_drop,
            tx_bytes,
            tx_packets,
            tx_errs,
            tx_drop,
        }
    }

    /// Adds another interface's counters, wrapping as the kernel's own counters do.
    pub(crate) fn add(&mut self, c: &NetDevCounters) {
        self.rx_bytes = self.rx_bytes.wrapping_add(c.rx_bytes);
        self.rx_packets = self.rx_packets.wrapping_add(c.rx_packets);
        self.rx_errs = self.rx_errs.wrapping_add(c.rx_errs);
        self.rx_drop = self.rx_drop.wrapping_add(c.rx_drop);
        self.tx_bytes = self.tx_bytes.wrapping_add(c.tx_bytes);
        self.tx_packets = self.tx_packets.wrapping_add(c.tx_packets);
        self.tx_errs = self.tx_errs.wrapping_add(c.tx_errs);
        self.tx_drop = self.tx_drop.wrapping_add(c.tx_drop);
    }

    /// In the record's widths: bytes stay 64-bit, the rest wraps to 32.
    pub(crate) fn to_net_io(self) -> NetIo {
        NetIo {
            bytes_in: self.rx_bytes,
            pkts_in: self.rx_packets as u32,
            errs_in: self.rx_errs as u32,
            drops_in: self.rx_drop as u32,
            bytes_out: self.tx_bytes,
            pkts_out: self.tx_packets as u32,
            errs_out: self.tx_errs as u32,
            drops_out: self.tx_drop as u32,
        }
    }
}

/// `  eth0: rx_bytes rx_packets errs drop fifo frame compressed multicast tx_bytes tx_packets errs drop
/// ...`; the two header lines and anything malformed give `None`. A wide counter may touch the colon
/// (`eth0:200071119`), which is why the name ends at the first colon (names cannot hold one).
pub(crate) fn parse_net_dev_line(line: &[u8]) -> Option<(&[u8], NetDevCounters)> {
    let (name, counters) = split_net_dev_line(line)?;
    // The first twelve fields, each all digits, in one pass over the bytes (every container's
    // net/dev is parsed at each of its polls); the fields after them are not looked at.
    let mut n = [0u64; 12];
    let mut count = 0;
    let mut value: Option<u64> = None;
    for &b in counters {
        if b.is_ascii_digit() {
            let digit = u64::from(b - b'0');
            value = Some(value.unwrap_or(0).checked_mul(10)?.checked_add(digit)?);
        } else if b.is_ascii_whitespace() {
            if let Some(v) = value.take() {
                *n.get_mut(count)? = v;
                count += 1;
                if count == n.len() {
                    break;
                }
            }
        } else {
            return None;
        }
    }
    if let Some(v) = value {
        if let Some(slot) = n.get_mut(count) {
            *slot = v;
            count += 1;
        }
    }
    if count < n.len() {
        return None;
    }
    Some((name, NetDevCounters::from_fields(n)))
}

/// The interface name of a /proc/net/dev line (up to its first colon, trimmed; not empty and without
/// whitespace), whatever its counters; `None` for the header lines.
pub(crate) fn net_dev_name(line: &[u8]) -> Option<&[u8]> {
    split_net_dev_line(line).map(|(name, _)| name)
}

/// A /proc/net/dev line's name and the text of its counters. The name may be surrounded by blanks but
/// holds none, so a line is given up at the first character after a blank that is not a blank or the
/// colon: the header lines (`Inter-|   Receive`, ` face |bytes`) end there, not at their ends.
fn split_net_dev_line(line: &[u8]) -> Option<(&[u8], &[u8])> {
    let start = line.iter().position(|b| !b.is_ascii_whitespace())?;
    let mut end = start;
    let mut colon = None;
    for (i, &b) in line.iter().enumerate().skip(start) {
        if b == b':' {
            colon = Some(i);
            break;
        }
        if b.is_ascii_whitespace() {
            continue;
        }
        if end != i {
            return None; // a blank inside the name
        }
        end = i + 1;
    }
    let colon = colon?;
    let name = line.get(start..end)?;
    if name.is_empty() {
        return None;
    }
    Some((name, line.get(colon + 1..)?))
}

/// Counters summed over the counted interfaces (64-bit, wrapping, then cut to the record's widths).
#[derive(Debug, Default)]
struct NetSum {
    lines: usize,
    total: NetDevCounters,
}

impl NetSum {
    fn add(&mut self, c: &NetDevCounters) {
        self.total.add(c);
    }

    fn apply(&self, net: &mut NetIo) {
        if self.lines == 0 {
            return;
        }
        *net = self.total.to_net_io();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The line parser as first written (split on the first colon, trim, fields split on
    /// blanks), the reference the one-pass parser must agree with.
    fn reference_name(line: &[u8]) -> Option<&[u8]> {
        let colon = line.iter().position(|&b| b == b':')?;
        let name = crate::host::parse::trim(line.get(..colon)?);
        if name.is_empty() || name.iter().any(u8::is_ascii_whitespace) {
            return None;
        }
        Some(name)
    }

    fn reference(line: &[u8]) -> Option<(&[u8], NetDevCounters)> {
        use crate::host::parse::{fields, parse_u64};
        let name = reference_name(line)?;
        let colon = line.iter().position(|&b| b == b':')?;
        let mut n = [0u64; 12];
        let mut f = fields(line.get(colon + 1..)?);
        for slot in &mut n {
            *slot = parse_u64(f.next()?)?;
        }
        Some((name, NetDevCounters::from_fields(n)))
    }

    #[test]
    fn the_one_pass_parser_agrees_with_the_reference() {
        const ALPHABET: &[u8] = b"0123456789 :\t|abe-x\n\x0c";
        let mut state = 0x2545_f491_4f6c_dd1du64;
        let mut next = move || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state
        };
        let mut line = Vec::new();
        for round in 0..200_000 {
            line.clear();
            if round % 4 == 0 {
                // Mostly well-formed lines, with a mutation or two.
                line.extend_from_slice(b"  eth0: 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16");
                for _ in 0..(next() % 3) {
                    let at = (next() as usize) % line.len();
                    line[at] = ALPHABET[(next() as usize) % ALPHABET.len()];
                }
            } else {
                for _ in 0..(next() % 60) {
                    line.push(ALPHABET[(next() as usize) % ALPHABET.len()]);
                }
            }
            assert_eq!(
                parse_net_dev_line(&line),
                reference(&line),
                "{:?}",
                String::from_utf8_lossy(&line)
            );
            assert_eq!(net_dev_name(&line), reference_name(&line));
        }
        let long = b"  eth0: 99999999999999999999 2 3 4 5 6 7 8 9 10 11 12";
        assert_eq!(parse_net_dev_line(long), None, "overflow");
    }

    const NET_DEV: &[u8] = b"Inter-|   Receive                                                |  Transmit
 face |bytes    packets errs drop fifo frame compressed multicast|bytes    packets errs drop fifo colls carrier compressed
    lo:    3193      29    0    0    0     0          0         0     3193      29    0    0    0     0       0          0
  eth0:200071119    5922    1    2    0     0          0         0   305489    3667    3    4    0     0       0          0
";

    #[test]
    fn interface_lines() {
        let parsed: Vec<_> = lines(NET_DEV).filter_map(parse_net_dev_line).collect();
        assert_eq!(parsed.len(), 2);
        assert_eq!(parsed[0].0, b"lo");
        let (name, c) = parsed[1];
        assert_eq!(name, b"eth0");
        assert_eq!(
            c,
            NetDevCounters {
                rx_bytes: 200071119,
                rx_packets: 5922,
                rx_errs: 1,
                rx_drop: 2,
                tx_bytes: 305489,
                tx_packets: 3667,
                tx_errs: 3,
                tx_drop: 4,
            }
        );
    }

    #[test]
    fn interface_names() {
        let names: Vec<_> = lines(NET_DEV).filter_map(net_dev_name).collect();
        assert_eq!(names, [&b"lo"[..], b"eth0"]);
        // A name is a name whatever its counters look like.
        assert_eq!(net_dev_name(b"  eth1: 1 2 3"), Some(&b"eth1"[..]));
        assert_eq!(net_dev_name(b" face |bytes"), None);
        assert_eq!(net_dev_name(b"eth 0: 1"), None);
        assert_eq!(net_dev_name(b": 1"), None);
    }

    #[test]
    fn malformed_lines() {
        for line in [
            &b""[..],
            b"eth0",
            b"eth0: 1 2 3",
            b": 1 2 3 4 5 6 7 8 9 10 11 12",
            b"eth 0: 1 2 3 4 5 6 7 8 9 10 11 12",
            b"eth0: 1 2 3 4 5 6 7 8 9 10 11 x",
        ] {
            assert_eq!(parse_net_dev_line(line), None, "{line:?}");
        }
    }

    #[test]
    fn sums_wrap_to_the_record_width() {
        let c = NetDevCounters {
            rx_bytes: u64::MAX,
            rx_packets: u64::from(u32::MAX),
            tx_packets: 7,
            ..NetDevCounters::default()
        };
        let mut sum = NetSum {
            lines: 1,
            ..NetSum::default()
        };
        sum.add(&c);
        sum.add(&c);
        let mut net = NetIo::UNKNOWN;
        sum.apply(&mut net);
        assert_eq!(net.bytes_in, u64::MAX - 1);
        assert_eq!(net.pkts_in, u32::MAX - 1);
        assert_eq!(net.pkts_out, 14);
        assert_eq!(net.errs_in, 0);

        let mut net = NetIo::UNKNOWN;
        NetSum::default().apply(&mut net);
        assert_eq!(net, NetIo::UNKNOWN);
    }
}
