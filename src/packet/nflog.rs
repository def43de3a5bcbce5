//! NFLOG over netfilter netlink, as plain bytes: the configuration messages that bind a log group
//! and ask for packets, and the parsing of the packets the kernel logs.
//!
//! The user installs the sampling rule (`iptables ... -m statistic --mode random --probability P
//! -j NFLOG --nflog-group G`, or nft's `numgen random mod N == 0 log group G`); the agent only
//! reads group G. Each logged packet carries its IP header and payload (cut to `headerBytes`),
//! the input and output ifIndex, and a per-group sequence number (asked for with
//! `NFULNL_CFG_F_SEQ`) whose gaps are the packets the kernel could not deliver.
//!
//! Everything parsed comes from the kernel, still outside data: every length is checked, nothing
//! here panics, and a malformed message is skipped.

use super::netlink;

/// `NFNL_SUBSYS_ULOG << 8 | NFULNL_MSG_PACKET`.
pub const MSG_PACKET: u16 = 4 << 8;
const MSG_CONFIG: u16 = (4 << 8) | 1;

const NLM_F_REQUEST: u16 = 1;
const NLM_F_ACK: u16 = 4;

const NFULA_CFG_CMD: u16 = 1;
const NFULA_CFG_MODE: u16 = 2;
const NFULA_CFG_TIMEOUT: u16 = 4;
const NFULA_CFG_QTHRESH: u16 = 5;
const NFULA_CFG_FLAGS: u16 = 6;
const NFULNL_CFG_CMD_BIND: u8 = 1;
const NFULNL_COPY_PACKET: u8 = 2;
const NFULNL_CFG_F_SEQ: u16 = 1;

const NFULA_IFINDEX_INDEV: u16 = 4;
const NFULA_IFINDEX_OUTDEV: u16 = 5;
const NFULA_PAYLOAD: u16 = 9;
const NFULA_SEQ: u16 = 12;

/// Appends one attribute (native-endian header, value as given, padded to 4).
fn attr(m: &mut Vec<u8>, kind: u16, value: &[u8]) {
    m.extend_from_slice(&((4 + value.len()) as u16).to_ne_bytes());
    m.extend_from_slice(&kind.to_ne_bytes());
    m.extend_from_slice(value);
    while !m.len().is_multiple_of(4) {
        m.push(0);
    }
}

/// One `NFULNL_MSG_CONFIG` message for `group` with `attrs`, asking for an acknowledgement.
fn config_message(seq: u32, group: u16, attrs: &[(u16, &[u8])]) -> Vec<u8> {
    let mut m = vec![0u8; 16];
    m[4..6].copy_from_slice(&MSG_CONFIG.to_ne_bytes());
    m[6..8].copy_from_slice(&(NLM_F_REQUEST | NLM_F_ACK).to_ne_bytes());
    m[8..12].copy_from_slice(&seq.to_ne_bytes());
    // nfgenmsg: family AF_UNSPEC, version 0, res_id = the group, big-endian.
    m.extend_from_slice(&[0, 0]);
    m.extend_from_slice(&group.to_be_bytes());
    for (kind, value) in attrs {
        attr(&mut m, *kind, value);
    }
    let len = m.len() as u32;
    m[0..4].copy_from_slice(&len.to_ne_bytes());
    m
}

/// The messages that bind `group` and ask for packets cut to `copy` bytes, with sequence numbers,
/// delivered at most every 10 ms or every 64 packets: one request each, to be sent in order, each
/// acknowledged.
pub fn bind_messages(first_seq: u32, group: u16, copy: u32) -> [Vec<u8>; 4] {
    let mut mode = copy.to_be_bytes().to_vec();
    mode.extend_from_slice(&[NFULNL_COPY_PACKET, 0]);
    [
        config_message(first_seq, group, &[(NFULA_CFG_CMD, &[NFULNL_CFG_CMD_BIND])]),
        config_message(first_seq + 1, group, &[(NFULA_CFG_MODE, &mode)]),
        config_message(
            first_seq + 2,
            group,
            &[(NFULA_CFG_FLAGS, &NFULNL_CFG_F_SEQ.to_be_bytes())],
        ),
        config_message(
            first_seq + 3,
            group,
            &[
                (NFULA_CFG_TIMEOUT, &1u32.to_be_bytes()),
                (NFULA_CFG_QTHRESH, &64u32.to_be_bytes()),
            ],
        ),
    ]
}

/// One logged packet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Logged<'a> {
    /// The group it was logged to.
    pub group: u16,
    /// The interface it came in on, if any.
    pub in_if: Option<u32>,
    /// The interface it goes out on, if any.
    pub out_if: Option<u32>,
    /// The per-group sequence number, if the kernel gave one.
    pub seq: Option<u32>,
    /// The packet from its IP header, cut to the copy range.
    pub payload: &'a [u8],
}

impl Logged<'_> {
    /// `sampled_header.header_protocol`: 11 for IPv4, 12 for IPv6, from the version nibble.
    pub fn protocol(&self) -> Option<u32> {
        match self.payload.first()? >> 4 {
            4 => Some(11),
            6 => Some(12),
            _ => None,
        }
    }

    /// The packet's length as its IP header says (the payload may be cut).
    pub fn ip_length(&self) -> Option<u32> {
        let p = self.payload;
        match p.first()? >> 4 {
            4 => Some(u32::from(u16::from_be_bytes([*p.get(2)?, *p.get(3)?]))),
            6 => Some(40 + u32::from(u16::from_be_bytes([*p.get(4)?, *p.get(5)?]))),
            _ => None,
        }
    }
}

fn be32(v: &[u8]) -> Option<u32> {
    Some(u32::from_be_bytes(v.get(..4)?.try_into().ok()?))
}

/// Parses the payload of an `NFULNL_MSG_PACKET` message.
pub fn parse_packet(payload: &[u8]) -> Option<Logged<'_>> {
    let group = u16::from_be_bytes([*payload.get(2)?, *payload.get(3)?]);
    let mut logged = Logged {
        group,
        in_if: None,
        out_if: None,
        seq: None,
        payload: &[],
    };
    for (kind, value) in netlink::attributes(payload, 4) {
        match kind {
            NFULA_IFINDEX_INDEV => logged.in_if = be32(value),
            NFULA_IFINDEX_OUTDEV => logged.out_if = be32(value),
            NFULA_SEQ => logged.seq = be32(value),
            NFULA_PAYLOAD => logged.payload = value,
            _ => {}
        }
    }
    Some(logged)
}

/// The sampling rate of an NFLOG rule's probability (`0.0025` is one in 400): the nearest whole
/// rate, at least 1. `None` for text that is not a probability in (0, 1].
pub fn rate_of_probability(text: &str) -> Option<u32> {
    let p: f64 = text.parse().ok()?;
    if !(p > 0.0 && p <= 1.0) {
        return None;
    }
    let rate = (1.0 / p).round();
    Some(if rate >= f64::from(u32::MAX) {
        u32::MAX
    } else {
        (rate as u32).max(1)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bind_messages_layout() {
        let m = bind_messages(10, 5, 128);
        let bind = &m[0];
        assert_eq!(
            u32::from_ne_bytes(bind[0..4].try_into().unwrap()) as usize,
            bind.len()
        );
        assert_eq!(u16::from_ne_bytes(bind[4..6].try_into().unwrap()), 0x0401);
        assert_eq!(&bind[16..20], &[0, 0, 0, 5], "AF_UNSPEC, v0, group 5");
        assert_eq!(&bind[20..25], &[5, 0, 1, 0, 1], "NFULA_CFG_CMD bind");
        let mode = &m[1];
        assert_eq!(&mode[20..30], &[10, 0, 2, 0, 0, 0, 0, 128, 2, 0]);
        assert_eq!(mode.len() % 4, 0);
    }

    #[test]
    fn a_logged_ipv6_packet() {
        let mut p = vec![10, 0, 0, 5]; // AF_INET6, v0, group 5
        attr(&mut p, NFULA_IFINDEX_INDEV, &7u32.to_be_bytes());
        attr(&mut p, NFULA_SEQ, &42u32.to_be_bytes());
        let mut ip = vec![0x60, 0, 0, 0, 0x01, 0x00, 17, 64];
        ip.resize(60, 0);
        attr(&mut p, NFULA_PAYLOAD, &ip);
        let l = parse_packet(&p).unwrap();
        assert_eq!(
            (l.group, l.in_if, l.out_if, l.seq),
            (5, Some(7), None, Some(42))
        );
        assert_eq!((l.protocol(), l.ip_length()), (Some(12), Some(40 + 256)));
        for cut in 0..p.len() {
            let _ = parse_packet(&p[..cut]).map(|l| (l.protocol(), l.ip_length()));
        }
    }

    #[test]
    fn probabilities() {
        assert_eq!(rate_of_probability("0.0025"), Some(400));
        assert_eq!(rate_of_probability("1"), Some(1));
        assert_eq!(rate_of_probability("0.3"), Some(3));
        for bad in ["0", "-0.1", "1.5", "x", "NaN", "inf", ""] {
            assert_eq!(rate_of_probability(bad), None, "{bad}");
        }
    }
}
