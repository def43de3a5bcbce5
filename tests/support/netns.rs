//! A veth pair between the host and a network namespace the test makes, with IPv6 ULA addresses,
//! a quiet link (no link-local addresses, no duplicate address detection, static neighbours), and
//! UDP sockets on both ends owned by the test process. Everything is deleted when dropped.
#![allow(dead_code)]

use std::net::{Ipv6Addr, SocketAddr, TcpListener, UdpSocket};
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

/// A veth pair: `host` in the host's namespace, `peer` in namespace `ns` (made by the test), or
/// in the namespace of process `pid` (a container's).
pub struct VethNs {
    pub ns: String,
    pub pid: Option<u32>,
    pub host: String,
    pub peer: String,
    pub host_addr: Ipv6Addr,
    pub peer_addr: Ipv6Addr,
}

/// Runs `command` in the peer's namespace: `ip netns exec NS ...` or `nsenter -t PID -n ...`.
fn in_ns(ns: &str, pid: Option<u32>, command: &[&str]) -> Result<String, String> {
    let mut c = match pid {
        None => {
            let mut c = Command::new("ip");
            c.args(["netns", "exec", ns]);
            c
        }
        Some(pid) => {
            let mut c = Command::new("nsenter");
            c.args(["-t", &pid.to_string(), "-n", "--"]);
            c
        }
    };
    let out = c.args(command).output().map_err(|e| format!("{e}"))?;
    if !out.status.success() {
        return Err(format!(
            "{command:?} in {ns}: {}",
            String::from_utf8_lossy(&out.stderr).trim()
        ));
    }
    Ok(String::from_utf8_lossy(&out.stdout).trim().to_string())
}

impl VethNs {
    /// Makes the pair; `tag` (a few letters) and the test's pid make the names unique.
    /// `None` (with the reason on stderr) when this machine cannot (not root).
    pub fn create(tag: &str, subnet: u16) -> Option<VethNs> {
        Self::create_in(tag, subnet, None)
    }

    /// Makes the pair with its peer in the network namespace of process `pid` (a container's).
    pub fn into_process(tag: &str, subnet: u16, pid: u32) -> VethNs {
        Self::create_in(tag, subnet, Some(pid)).expect("veth into a process")
    }

    fn create_in(tag: &str, subnet: u16, pid: Option<u32>) -> Option<VethNs> {
        let id = std::process::id() % 100_000;
        let v = VethNs {
            ns: format!("csfl-{tag}-{id}"),
            pid,
            host: format!("cf{tag}{id}h"),
            peer: format!("cf{tag}{id}n"),
            host_addr: Ipv6Addr::new(0xfd00, 0xcf, subnet, 0, 0, 0, 0, 1),
            peer_addr: Ipv6Addr::new(0xfd00, 0xcf, subnet, 0, 0, 0, 0, 2),
        };
        if pid.is_none() {
            if let Err(e) = ip(&["netns", "add", &v.ns]) {
                assert!(!super::in_ci(), "CI: {e}");
                eprintln!("SKIPPED: {e}");
                return None;
            }
        }
        let ns = v.ns.clone();
        let exec = |args: &[&str]| {
            let mut all = vec!["ip"];
            all.extend_from_slice(args);
            in_ns(&ns, pid, &all).unwrap_or_else(|e| panic!("{e}"));
        };
        must(&[
            "link", "add", &v.host, "type", "veth", "peer", "name", &v.peer,
        ]);
        let target = pid.map_or(v.ns.clone(), |p| p.to_string());
        must(&["link", "set", &v.peer, "netns", &target]);
        must(&["link", "set", &v.host, "addrgenmode", "none"]);
        exec(&["link", "set", &v.peer, "addrgenmode", "none"]);
        let host_cidr = format!("{}/64", v.host_addr);
        let peer_cidr = format!("{}/64", v.peer_addr);
        must(&["addr", "add", &host_cidr, "dev", &v.host, "nodad"]);
        exec(&["addr", "add", &peer_cidr, "dev", &v.peer, "nodad"]);
        must(&["link", "set", &v.host, "up"]);
        exec(&["link", "set", &v.peer, "up"]);
        exec(&["link", "set", "lo", "up"]);
        let host_mac = std::fs::read_to_string(format!("/sys/class/net/{}/address", v.host))
            .unwrap()
            .trim()
            .to_string();
        // `ip -br link`: name, state, MAC (sysfs would show the host's namespace under nsenter).
        let peer_mac = in_ns(&v.ns, pid, &["ip", "-br", "link", "show", "dev", &v.peer])
            .unwrap_or_else(|e| panic!("{e}"))
            .split_whitespace()
            .nth(2)
            .unwrap_or_default()
            .to_string();
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
        self.bind_in_ns(SocketAddr::from((self.peer_addr, 0)))
    }

    /// A UDP socket bound to `addr` (such as `127.0.0.1:0`) inside the namespace.
    pub fn socket_in_ns(&self, addr: &str) -> UdpSocket {
        self.bind_in_ns(addr.parse().unwrap())
    }

    /// A TCP listener on the namespace end (any port), made the same way.
    pub fn peer_listener(&self) -> TcpListener {
        let addr = SocketAddr::from((self.peer_addr, 0));
        self.in_ns(move || TcpListener::bind(addr).unwrap())
    }

    fn bind_in_ns(&self, addr: SocketAddr) -> UdpSocket {
        self.in_ns(move || UdpSocket::bind(addr).unwrap())
    }

    /// Runs `make` in a thread that entered the namespace first; what it makes (a socket) stays
    /// in the namespace.
    fn in_ns<T: Send + 'static>(&self, make: impl FnOnce() -> T + Send + 'static) -> T {
        let path = match self.pid {
            None => format!("/var/run/netns/{}", self.ns),
            Some(pid) => format!("/proc/{pid}/ns/net"),
        };
        std::thread::spawn(move || {
            let f = std::fs::File::open(&path).unwrap();
            // SAFETY: a valid namespace descriptor; only this thread changes namespace.
            let rc = unsafe { libc::setns(f.as_raw_fd(), libc::CLONE_NEWNET) };
            assert_eq!(rc, 0, "setns: {}", std::io::Error::last_os_error());
            make()
        })
        .join()
        .unwrap()
    }
}

impl Drop for VethNs {
    fn drop(&mut self) {
        // Deleting the namespace deletes its end, and with it the pair.
        let _ = ip(&["link", "del", &self.host]);
        if self.pid.is_none() {
            let _ = ip(&["netns", "del", &self.ns]);
        }
    }
}

/// A test packet's UDP payload of `len` bytes: `mark`, the direction byte, the sequence number.
pub fn marked_payload(mark: &[u8; 12], len: usize, direction: u8, seq: u32) -> Vec<u8> {
    let mut p = Vec::with_capacity(len);
    p.extend_from_slice(mark);
    p.push(direction);
    p.extend_from_slice(&seq.to_be_bytes());
    p.resize(len, 0x5a);
    p
}

/// What a sampled header holds, decoded as Ethernet + IPv6 + UDP carrying a [`marked_payload`]
/// of `mark` and `len`: (src, dst, direction, seq).
pub fn decode_marked_frame(h: &[u8], mark: &[u8; 12], len: usize) -> (Ipv6Addr, Ipv6Addr, u8, u32) {
    assert!(h.len() >= 14 + 40 + 8 + 17, "header of {} bytes", h.len());
    assert_eq!(h[12..14], [0x86, 0xdd], "EtherType IPv6");
    let ip = &h[14..];
    assert_eq!(ip[0] >> 4, 6);
    assert_eq!(ip[6], 17, "next header UDP");
    let src = Ipv6Addr::from(<[u8; 16]>::try_from(&ip[8..24]).unwrap());
    let dst = Ipv6Addr::from(<[u8; 16]>::try_from(&ip[24..40]).unwrap());
    let udp = &ip[40..];
    assert_eq!(
        u16::from_be_bytes([udp[4], udp[5]]) as usize,
        8 + len,
        "UDP length"
    );
    let data = &udp[8..];
    assert_eq!(&data[..12], mark);
    let seq = u32::from_be_bytes(data[13..17].try_into().unwrap());
    (src, dst, data[12], seq)
}
