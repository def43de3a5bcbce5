//! The few route netlink messages packet sampling needs, built and parsed over plain bytes:
//! `RTM_GETNSID` (the id the host gives a container's network namespace) and an `RTM_GETLINK`
//! dump (every interface, with the namespace id its peer lives in, `IFLA_LINK_NETNSID`). The host
//! end of a container's veth is the interface whose link namespace id is the container's.
//!
//! Everything parsed comes from the kernel, still outside data: every length is checked, nothing
//! here panics, and a malformed message is skipped.

/// `NLMSG_ERROR`.
pub const NLMSG_ERROR: u16 = 2;
/// `NLMSG_DONE`.
pub const NLMSG_DONE: u16 = 3;
/// `RTM_NEWLINK`.
pub const RTM_NEWLINK: u16 = 16;
/// `RTM_GETLINK`.
pub const RTM_GETLINK: u16 = 18;
/// `RTM_NEWNSID`.
pub const RTM_NEWNSID: u16 = 88;
/// `RTM_GETNSID`.
pub const RTM_GETNSID: u16 = 90;

const NLM_F_REQUEST: u16 = 1;
const NLM_F_DUMP: u16 = 0x300;
const NETNSA_NSID: u16 = 1;
const NETNSA_FD: u16 = 3;
const IFLA_IFNAME: u16 = 3;
const IFLA_LINK_NETNSID: u16 = 37;

const HEADER_LEN: usize = 16;

fn header(buf: &mut [u8], len: u32, kind: u16, flags: u16, seq: u32) {
    buf[0..4].copy_from_slice(&len.to_ne_bytes());
    buf[4..6].copy_from_slice(&kind.to_ne_bytes());
    buf[6..8].copy_from_slice(&flags.to_ne_bytes());
    buf[8..12].copy_from_slice(&seq.to_ne_bytes());
    // pid 0: the kernel fills in the socket's.
}

/// `RTM_GETNSID` for the namespace open as descriptor `ns_fd` in this process.
pub fn getnsid_request(seq: u32, ns_fd: u32) -> [u8; 28] {
    let mut m = [0u8; 28];
    header(&mut m, 28, RTM_GETNSID, NLM_F_REQUEST, seq);
    m[16] = libc::AF_UNSPEC as u8; // rtgenmsg, padded to 4
    m[20..22].copy_from_slice(&8u16.to_ne_bytes());
    m[22..24].copy_from_slice(&NETNSA_FD.to_ne_bytes());
    m[24..28].copy_from_slice(&ns_fd.to_ne_bytes());
    m
}

/// `RTM_GETLINK` dump of every interface.
pub fn getlink_request(seq: u32) -> [u8; 32] {
    let mut m = [0u8; 32];
    header(&mut m, 32, RTM_GETLINK, NLM_F_REQUEST | NLM_F_DUMP, seq);
    m[16] = libc::AF_UNSPEC as u8; // ifinfomsg: the rest zero
    m
}

/// One netlink message: its type, sequence number and payload.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Message<'a> {
    /// `nlmsg_type`.
    pub kind: u16,
    /// `nlmsg_seq`.
    pub seq: u32,
    /// What follows the header.
    pub payload: &'a [u8],
}

fn u16_at(b: &[u8], at: usize) -> Option<u16> {
    Some(u16::from_ne_bytes(b.get(at..at + 2)?.try_into().ok()?))
}

fn u32_at(b: &[u8], at: usize) -> Option<u32> {
    Some(u32::from_ne_bytes(b.get(at..at + 4)?.try_into().ok()?))
}

const fn align4(n: usize) -> usize {
    (n + 3) & !3
}

/// The messages of one datagram, in order; stops at the first malformed one.
pub fn messages(buf: &[u8]) -> impl Iterator<Item = Message<'_>> {
    let mut rest = buf;
    std::iter::from_fn(move || {
        let len = u32_at(rest, 0)? as usize;
        if len < HEADER_LEN || len > rest.len() {
            return None;
        }
        let m = Message {
            kind: u16_at(rest, 4)?,
            seq: u32_at(rest, 8)?,
            payload: rest.get(HEADER_LEN..len)?,
        };
        rest = rest.get(align4(len).min(rest.len())..).unwrap_or_default();
        Some(m)
    })
}

/// The attributes (type, value) after `skip` bytes of fixed header.
pub(crate) fn attributes(payload: &[u8], skip: usize) -> impl Iterator<Item = (u16, &[u8])> {
    let mut rest = payload.get(skip..).unwrap_or_default();
    std::iter::from_fn(move || {
        let len = usize::from(u16_at(rest, 0)?);
        if len < 4 || len > rest.len() {
            return None;
        }
        // NLA_F_NESTED and NLA_F_NET_BYTEORDER are flags, not part of the type.
        let kind = u16_at(rest, 2)? & 0x3fff;
        let value = rest.get(4..len)?;
        rest = rest.get(align4(len).min(rest.len())..).unwrap_or_default();
        Some((kind, value))
    })
}

/// The namespace id of an `RTM_NEWNSID` answer; `None` when the namespace has none (the kernel
/// says -1: no interface of this namespace has a peer in it).
pub fn parse_nsid(payload: &[u8]) -> Option<i32> {
    attributes(payload, 4)
        .find(|(k, _)| *k == NETNSA_NSID)
        .and_then(|(_, v)| Some(i32::from_ne_bytes(v.get(..4)?.try_into().ok()?)))
        .filter(|id| *id >= 0)
}

/// The error number of an `NLMSG_ERROR` message (0 is an acknowledgement).
pub fn parse_error(payload: &[u8]) -> Option<i32> {
    Some(u32_at(payload, 0)? as i32)
}

/// One interface of an `RTM_NEWLINK` answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Link {
    /// Its ifIndex.
    pub if_index: u32,
    /// `ARPHRD_*`.
    pub arp_type: u16,
    /// Its name.
    pub name: String,
    /// The id of the namespace its peer lives in, when that is another namespace.
    pub link_netnsid: Option<i32>,
}

/// Parses an `RTM_NEWLINK` payload.
pub fn parse_link(payload: &[u8]) -> Option<Link> {
    // ifinfomsg: family u8, pad u8, type u16, index i32, flags u32, change u32.
    let arp_type = u16_at(payload, 2)?;
    let if_index = u32_at(payload, 4)?;
    let mut name = None;
    let mut link_netnsid = None;
    for (kind, value) in attributes(payload, 16) {
        match kind {
            IFLA_IFNAME => {
                let end = value.iter().position(|&b| b == 0).unwrap_or(value.len());
                name = value
                    .get(..end)
                    .and_then(|n| std::str::from_utf8(n).ok())
                    .map(String::from);
            }
            IFLA_LINK_NETNSID => {
                // A value of another size is not the kernel's: ignored.
                if let Some(id) = value.get(..4).and_then(|v| v.try_into().ok()) {
                    link_netnsid = Some(i32::from_ne_bytes(id));
                }
            }
            _ => {}
        }
    }
    Some(Link {
        if_index,
        arp_type,
        name: name?,
        link_netnsid,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn attr(kind: u16, value: &[u8]) -> Vec<u8> {
        let mut a = Vec::new();
        a.extend_from_slice(&((4 + value.len()) as u16).to_ne_bytes());
        a.extend_from_slice(&kind.to_ne_bytes());
        a.extend_from_slice(value);
        a.resize(align4(a.len()), 0);
        a
    }

    fn message(kind: u16, seq: u32, payload: &[u8]) -> Vec<u8> {
        let mut m = vec![0u8; 16];
        header(&mut m, (16 + payload.len()) as u32, kind, 0, seq);
        m.extend_from_slice(payload);
        m.resize(align4(m.len()), 0);
        m
    }

    fn link_payload(index: u32, name: &str, nsid: Option<i32>) -> Vec<u8> {
        let mut p = vec![0u8; 16];
        p[2..4].copy_from_slice(&1u16.to_ne_bytes());
        p[4..8].copy_from_slice(&index.to_ne_bytes());
        p.extend(attr(IFLA_IFNAME, format!("{name}\0").as_bytes()));
        if let Some(id) = nsid {
            p.extend(attr(IFLA_LINK_NETNSID, &id.to_ne_bytes()));
        }
        p.extend(attr(IFLA_LINK_NETNSID | 0x8000, &[])); // a nested flag and a short value
        p
    }

    #[test]
    fn requests() {
        let r = getnsid_request(7, 5);
        assert_eq!(u32_at(&r, 0), Some(28));
        assert_eq!(u16_at(&r, 4), Some(RTM_GETNSID));
        assert_eq!(u32_at(&r, 8), Some(7));
        assert_eq!(u32_at(&r, 24), Some(5));
        let r = getlink_request(8);
        assert_eq!((u32_at(&r, 0), u16_at(&r, 6)), (Some(32), Some(0x301)));
    }

    #[test]
    fn a_dump_of_links() {
        let mut d = message(RTM_NEWLINK, 3, &link_payload(12, "veth0a1", Some(4)));
        d.extend(message(RTM_NEWLINK, 3, &link_payload(1, "lo", None)));
        d.extend(message(NLMSG_DONE, 3, &[0; 4]));
        let m: Vec<Message> = messages(&d).collect();
        assert_eq!(m.len(), 3);
        assert_eq!(
            parse_link(m[0].payload),
            Some(Link {
                if_index: 12,
                arp_type: 1,
                name: "veth0a1".into(),
                link_netnsid: Some(4)
            })
        );
        assert_eq!(parse_link(m[1].payload).unwrap().link_netnsid, None);
        assert_eq!(m[2].kind, NLMSG_DONE);
    }

    #[test]
    fn nsid_answers() {
        let mut p = vec![0u8; 4];
        p.extend(attr(NETNSA_NSID, &3i32.to_ne_bytes()));
        assert_eq!(parse_nsid(&p), Some(3));
        let mut p = vec![0u8; 4];
        p.extend(attr(NETNSA_NSID, &(-1i32).to_ne_bytes()));
        assert_eq!(parse_nsid(&p), None);
        assert_eq!(parse_error(&(-2i32).to_ne_bytes()), Some(-2));
    }

    #[test]
    fn malformed_input_never_panics() {
        let good = message(RTM_NEWLINK, 1, &link_payload(12, "veth0a1", Some(4)));
        for cut in 0..good.len() {
            for m in messages(&good[..cut]) {
                let _ = parse_link(m.payload);
                let _ = parse_nsid(m.payload);
            }
            let _ = parse_link(&good[16..cut.max(16)]);
        }
        let mut bad = good.clone();
        bad[0..4].copy_from_slice(&3u32.to_ne_bytes());
        assert_eq!(messages(&bad).count(), 0);
        let mut bad = good;
        bad[32..34].copy_from_slice(&0xffffu16.to_ne_bytes());
        let m: Vec<Message> = messages(&bad).collect();
        assert_eq!(
            parse_link(m[0].payload),
            None,
            "the name's attribute runs past the end"
        );
    }
}
