//! `host_adapters` of a container: its interfaces except `lo`, with their ifIndex and MAC.
//!
//! The names come from `<proc>/<pid>/net/dev` (the container's network namespace, seen without entering
//! it); the ifIndex and MAC from `<proc>/<pid>/root/sys/class/net/<name>/{ifindex,address}`: the sysfs
//! mounted inside the container shows its own namespace's interfaces. A container without a sysfs of its
//! own (or a file that cannot be read) gives ifIndex 0 and no MAC for that interface.
//!
//! The container controls the files under its root, so these reads are bounded (a short prefix of each)
//! and only a number or a MAC is ever parsed out of them; files open non-blocking. This is a setup-time
//! read, repeated only when the container's interface count changes: it allocates the interface names.

use crate::host::file::{is_plain_name, Extent};
use crate::host::net::parse_net_dev_line;
use crate::host::parse::{lines, parse_mac, parse_u32, trim};
use crate::host::MAX_ADAPTERS;
use crate::wire::Adapter;

use super::files::{ContainerFiles, NetNamespace};
use super::reader::ContainerReader;

/// `root/sys/class/net` under a process's proc directory: the sysfs its mount namespace shows.
const CLASS_NET: [&[u8]; 4] = [b"root", b"sys", b"class", b"net"];

/// The longest attribute read (an InfiniBand `address` is 59 bytes).
const ATTRIBUTE_BYTES: usize = 128;

impl ContainerReader {
    /// Replaces `out` with the container's adapters, sorted by ifIndex, at most
    /// [`crate::host::MAX_ADAPTERS`]. Empty for a container in the host's network namespace (its
    /// interfaces are the host's) and when `net/dev` cannot be read.
    pub fn read_adapters(&mut self, files: &ContainerFiles, out: &mut Vec<Adapter>) {
        out.clear();
        if files.net_namespace == NetNamespace::Host {
            return;
        }
        let net_dev = self.proc_path(files.pid, &[b"net", b"dev"]).to_path_buf();
        let Some(text) = self.files.read(&net_dev, Extent::Whole) else {
            return;
        };
        let names: Vec<Vec<u8>> = lines(text)
            .filter_map(parse_net_dev_line)
            .map(|(name, _)| name)
            .filter(|&name| name != b"lo" && is_plain_name(name))
            .take(MAX_ADAPTERS)
            .map(<[u8]>::to_vec)
            .collect();
        for name in &names {
            let path = self.attribute_path(files.pid, name, b"ifindex");
            let if_index = self
                .files
                .read(&path, Extent::Prefix(ATTRIBUTE_BYTES))
                .map(trim)
                .and_then(parse_u32)
                .unwrap_or(0);
            let path = self.attribute_path(files.pid, name, b"address");
            let mac = self
                .files
                .read(&path, Extent::Prefix(ATTRIBUTE_BYTES))
                .map(trim)
                .and_then(parse_mac)
                .filter(|mac| *mac != [0; 6]);
            out.push(Adapter { if_index, mac });
        }
        out.sort_by_key(|a| a.if_index);
    }

    /// `<proc>/<pid>/root/sys/class/net/<name>/<attribute>`.
    fn attribute_path(&mut self, pid: u32, name: &[u8], attribute: &[u8]) -> std::path::PathBuf {
        let [root, sys, class, net] = CLASS_NET;
        self.proc_path(pid, &[root, sys, class, net, name, attribute])
            .to_path_buf()
    }
}
