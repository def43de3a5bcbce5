//! Finding the host end of a container's interfaces, without entering the container: the host
//! gives the container's network namespace an id (`RTM_GETNSID` on `/proc/<pid>/ns/net`), and the
//! host end of each veth into it says that id in `IFLA_LINK_NETNSID` (an `RTM_GETLINK` dump).
//!
//! Both are asked over one non-blocking route netlink socket; the kernel answers within the
//! calls (see [`crate::sys::netlink`]), so nothing here waits.

use std::io;
use std::os::fd::AsRawFd;
use std::path::Path;

use super::netlink::{self, Link, NLMSG_DONE, NLMSG_ERROR, RTM_NEWLINK, RTM_NEWNSID};
use crate::sys::netlink::RouteSocket;

/// Receive buffer: the kernel's dump parts are at most 32 KiB.
const BUF: usize = 64 * 1024;

/// Most datagrams read for one answer: bounds the work if the kernel kept sending.
const MAX_PARTS: usize = 4096;

/// The route socket and its buffer.
pub struct VethFinder {
    socket: RouteSocket,
    seq: u32,
    buf: Box<[u8]>,
}

fn protocol_error(what: &str) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, what.to_string())
}

impl VethFinder {
    /// Opens the route socket.
    pub fn open() -> io::Result<VethFinder> {
        Ok(VethFinder {
            socket: RouteSocket::open()?,
            seq: 0,
            buf: vec![0u8; BUF].into_boxed_slice(),
        })
    }

    fn next_seq(&mut self) -> u32 {
        self.seq = self.seq.wrapping_add(1);
        self.seq
    }

    /// Reads answers to request `seq`, handing each message to `f` until it returns true (the
    /// answer is complete) or the kernel ends the dump. Answers to older requests are skipped.
    fn read_answers(
        &mut self,
        seq: u32,
        mut f: impl FnMut(netlink::Message<'_>) -> io::Result<bool>,
    ) -> io::Result<()> {
        for _ in 0..MAX_PARTS {
            let Some(n) = self.socket.recv(&mut self.buf)? else {
                return Err(protocol_error("netlink: the kernel's answer ended early"));
            };
            for m in netlink::messages(self.buf.get(..n).unwrap_or_default()) {
                if m.seq != seq {
                    continue;
                }
                if m.kind == NLMSG_ERROR {
                    match netlink::parse_error(m.payload) {
                        Some(0) => return Ok(()),
                        Some(e) => return Err(io::Error::from_raw_os_error(-e)),
                        None => return Err(protocol_error("netlink: malformed error")),
                    }
                }
                if m.kind == NLMSG_DONE || f(m)? {
                    return Ok(());
                }
            }
        }
        Err(protocol_error("netlink: answer too long"))
    }

    /// Every interface of the host's namespace.
    pub fn links(&mut self) -> io::Result<Vec<Link>> {
        let seq = self.next_seq();
        self.socket.send(&netlink::getlink_request(seq))?;
        let mut links = Vec::new();
        self.read_answers(seq, |m| {
            if m.kind == RTM_NEWLINK {
                if let Some(l) = netlink::parse_link(m.payload) {
                    links.push(l);
                }
            }
            Ok(false)
        })?;
        Ok(links)
    }

    /// The id the host gives the network namespace of process `pid` (`None`: it has none, so no
    /// interface of the host has its peer there). An error when the process is gone.
    pub fn nsid_of(&mut self, proc_root: &Path, pid: u32) -> io::Result<Option<i32>> {
        let ns = std::fs::File::open(proc_root.join(pid.to_string()).join("ns/net"))?;
        let fd = u32::try_from(ns.as_raw_fd()).map_err(|_| protocol_error("bad descriptor"))?;
        let seq = self.next_seq();
        self.socket.send(&netlink::getnsid_request(seq, fd))?;
        let mut nsid = None;
        self.read_answers(seq, |m| {
            if m.kind == RTM_NEWNSID {
                nsid = netlink::parse_nsid(m.payload);
                return Ok(true);
            }
            Ok(false)
        })?;
        // `ns` stays open until the answer is read: the kernel looks the descriptor up in sendmsg.
        drop(ns);
        Ok(nsid)
    }
}

/// The host ends of the veths into namespace `nsid`.
pub fn peers_in(links: &[Link], nsid: i32) -> impl Iterator<Item = &Link> {
    links.iter().filter(move |l| {
        l.link_netnsid == Some(nsid) && u32::from(l.arp_type) == super::ARPHRD_ETHER
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_hosts_own_namespace_and_links() {
        let mut f = VethFinder::open().unwrap();
        let links = f.links().unwrap();
        assert!(links.iter().any(|l| l.name == "lo" && l.if_index == 1));
        // Our own namespace as seen from itself has no id; a process that is gone is an error.
        let pid = std::process::id();
        assert_eq!(f.nsid_of(Path::new("/proc"), pid).unwrap(), None);
        assert!(f.nsid_of(Path::new("/proc"), u32::MAX).is_err());
        // Again, to check the sequence numbers keep answers apart.
        assert!(!f.links().unwrap().is_empty());
    }
}
