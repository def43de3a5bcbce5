//! A veth pair between the host and a network namespace the test makes, with IPv6 ULA addresses,
//! a quiet link (no link-local addresses, no duplicate address detection, static neighbours), and
//! UDP sockets on both ends owned by the test process. Everything is deleted when dropped.
#![allow(dead_code)]

use std::net::{Ipv6Addr, SocketAddr, UdpSocket};
use std::os::fd::AsRawFd;
use std::process::Command;

fn ip(args: &[&str]) -> Result<(), String> {
    let out = Command::new("ip")
        .args(args)
        .output()
        .map_err(|e| format!("ip: {e}"))?;
    if out.status.success() {
        Ok(())
    } else {
        Err(format!(
            "ip {}: {}",
            args.join(" "),
            String::from_utf8_lossy(&out.stderr).trim()
        ))
    }
}

fn must(args: &[&str]) {
    ip(args).unwrap_or_else(|e| panic!("{e}"))
}

/// A veth pair: `host` in the host's namespace, `peer` in namespace `ns`.
pub struct VethNs {
    pub ns: String,
    pub host: String,
    pub peer: String,
    pub host_addr: Ipv6Addr,
    pub peer_addr: Ipv6Addr,
}

fn mac_of(ns: Option<&str>, dev: &str) -> String {
    let path = format!("/sys/class/net/{dev}/address");
    let text = match ns {
        None => std::fs::read_to_string(&path).unwrap(),
        Some(ns) => {
            let out = Command::new("ip")
                .args(["netns", "exec", ns, "cat", &path])
                .output()
                .unwrap();
            String::from_utf8(out.stdout).unwrap()
        }
    };
    text.trim().to_string()
}

impl VethNs {
    /// Makes the pair; `tag` (a few letters) and the test's pid make the names unique.
    /// `None` (with the reason on stderr) when this machine cannot (not root).
    pub fn create(tag: &str, subnet: u16) -> Option<VethNs> {
        let id = std::process::id() % 100_000;
        let v = VethNs {
            ns: format!("csfl-{tag}-{id}"),
            host: format!("cf{tag}{id}h"),
            peer: format!("cf{tag}{id}n"),
            host_addr: Ipv6Addr::new(0xfd00, 0xcf, subnet, 0, 0, 0, 0, 1),
            peer_addr: Ipv6Addr::new(0xfd00, 0xcf, subnet, 0, 0, 0, 0, 2),
        };
        if let Err(e) = ip(&["netns", "add", &v.ns]) {
            assert!(!super::in_ci(), "CI: {e}");
            eprintln!("SKIPPED: {e}");
            return None;
        }
        let ns = v.ns.clone();
        let exec = |args: &[&str]| {
            let mut all = vec!["netns", "exec", ns.as_str(), "ip"];
            all.extend_from_slice(args);
            must(&all);
        };
        must(&[
            "link", "add", &v.host, "type", "veth", "peer", "name", &v.peer,
        ]);
        must(&["link", "set", &v.peer, "netns", &v.ns]);
        must(&["link", "set", &v.host, "addrgenmode", "none"]);
        exec(&["link", "set", &v.peer, "addrgenmode", "none"]);
        let host_cidr = format!("{}/64", v.host_addr);
        let peer_cidr = format!("{}/64", v.peer_addr);
        must(&["addr", "add", &host_cidr, "dev", &v.host, "nodad"]);
        exec(&["addr", "add", &peer_cidr, "dev", &v.peer, "nodad"]);
        must(&["link", "set", &v.host, "up"]);
        exec(&["link", "set", &v.peer, "up"]);
        exec(&["link", "set", "lo", "up"]);
        let host_mac = mac_of(None, &v.host);
        let peer_mac = mac_of(Some(&v.ns), &v.peer);
        let peer_addr = v.peer_addr.to_string();
        let host_addr = v.host_addr.to_string();
        must(&[
            "neigh",
            "replace",
            &peer_addr,
            "lladdr",
            &peer_mac,
            "dev",
            &v.host,
            "nud",
            "permanent",
        ]);
        exec(&[
            "neigh",
            "replace",
            &host_addr,
            "lladdr",
            &host_mac,
            "dev",
            &v.peer,
            "nud",
            "permanent",
        ]);
        Some(v)
    }

    /// The host end's ifIndex.
    pub fn host_if_index(&self) -> u32 {
        self.host_stat_file("../ifindex") as u32
    }

    /// A counter of the host end under /sys/class/net/<host>/statistics.
    pub fn host_stat(&self, name: &str) -> u64 {
        self.host_stat_file(name)
    }

    fn host_stat_file(&self, name: &str) -> u64 {
        let path = format!("/sys/class/net/{}/statistics/{name}", self.host);
        std::fs::read_to_string(&path)
            .unwrap_or_else(|e| panic!("{path}: {e}"))
            .trim()
            .parse()
            .unwrap()
    }

    /// Packets received and sent by the host end.
    pub fn host_packets(&self) -> u64 {
        self.host_stat("rx_packets") + self.host_stat("tx_packets")
    }

    /// A UDP socket bound on the host end.
    pub fn host_socket(&self) -> UdpSocket {
        UdpSocket::bind(SocketAddr::from((self.host_addr, 0))).unwrap()
    }

    /// A UDP socket bound on the namespace end: made by a thread that enters the namespace
    /// (setns affects only the calling thread); the socket stays in it.
    pub fn peer_socket(&self) -> UdpSocket {
        let path = format!("/var/run/netns/{}", self.ns);
        let addr = SocketAddr::from((self.peer_addr, 0));
        std::thread::spawn(move || {
            let f = std::fs::File::open(&path).unwrap();
            // SAFETY: a valid namespace descriptor; only this thread changes namespace.
            let rc = unsafe { libc::setns(f.as_raw_fd(), libc::CLONE_NEWNET) };
            assert_eq!(rc, 0, "setns: {}", std::io::Error::last_os_error());
            UdpSocket::bind(addr).unwrap()
        })
        .join()
        .unwrap()
    }
}

impl Drop for VethNs {
    fn drop(&mut self) {
        // Deleting the namespace deletes its end, and with it the pair.
        let _ = ip(&["link", "del", &self.host]);
        let _ = ip(&["netns", "del", &self.ns]);
    }
}
