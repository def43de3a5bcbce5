//! A network link of a container's own, to a network namespace the test made: a veth pair with one
//! end in the container's namespace and the other in `csf-<pid>-<n>`, IPv6 ULA addresses without
//! duplicate address detection. Traffic goes only between those two namespaces.
//!
//! Dropping it deletes the namespace (which deletes its end, and with it the pair) and the host-side
//! names in case a step failed before they moved, also when the test fails.

use std::process::Command;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use crate::support::process;

/// The container's address on the link.
pub const CONTAINER_ADDRESS: &str = "fd00:c5f::1";
/// The test namespace's address on the link.
pub const PEER_ADDRESS: &str = "fd00:c5f::2";

/// A veth pair between a container and a namespace of the test's.
pub struct Veth {
    /// The end inside the container.
    pub container_end: String,
    /// The end inside [`Veth::netns`].
    pub peer_end: String,
    /// The namespace the test made.
    pub netns: String,
}

fn ip(args: &[&str]) {
    process::run(Command::new("ip").args(args), Duration::from_secs(20))
        .unwrap_or_else(|e| panic!("{e}"));
}

impl Veth {
    /// Creates the pair and the namespace, moves the ends, addresses them and brings them up.
    pub fn into_container(pid: u32) -> Veth {
        static N: AtomicU32 = AtomicU32::new(0);
        let n = N.fetch_add(1, Ordering::Relaxed);
        let tag = format!("{}{n}", std::process::id() % 100_000);
        // Interface names have at most 15 bytes.
        let veth = Veth {
            container_end: format!("csf{tag}c"),
            peer_end: format!("csf{tag}p"),
            netns: format!("csf-{}-{n}", std::process::id()),
        };
        let pid = pid.to_string();
        let (inner, peer, netns) = (&veth.container_end, &veth.peer_end, &veth.netns);
        ip(&["netns", "add", netns]);
        ip(&["link", "add", inner, "type", "veth", "peer", "name", peer]);
        ip(&["link", "set", peer, "netns", netns]);
        ip(&["link", "set", inner, "netns", &pid]);
        let peer_cidr = format!("{PEER_ADDRESS}/64");
        ip(&["-n", netns, "link", "set", "lo", "up"]);
        ip(&[
            "-n", netns, "-6", "addr", "add", &peer_cidr, "dev", peer, "nodad",
        ]);
        ip(&["-n", netns, "link", "set", peer, "up"]);
        // The container's namespace has no name: enter it by pid for its end's address.
        let in_container = |args: &[&str]| {
            process::run(
                Command::new("nsenter")
                    .args(["-t", &pid, "-n", "ip"])
                    .args(args),
                Duration::from_secs(20),
            )
            .unwrap_or_else(|e| panic!("{e}"));
        };
        let container_cidr = format!("{CONTAINER_ADDRESS}/64");
        in_container(&["-6", "addr", "add", &container_cidr, "dev", inner, "nodad"]);
        in_container(&["link", "set", inner, "up"]);
        veth
    }
}

impl Drop for Veth {
    fn drop(&mut self) {
        let quiet = |args: &[&str]| {
            let _ = Command::new("ip")
                .args(args)
                .stdout(std::process::Stdio::null())
                .stderr(std::process::Stdio::null())
                .status();
        };
        // Only left on the host when a step failed before moving them.
        quiet(&["link", "del", &self.container_end]);
        quiet(&["link", "del", &self.peer_end]);
        quiet(&["netns", "del", &self.netns]);
    }
}
