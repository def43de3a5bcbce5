//! What sysfs says about the host's interfaces, kept from one read to the next.
//!
//! `host_net_io` leaves virtual interfaces out and `host_adapters` lists the interfaces that are up,
//! their own link and addressed; both answers come from sysfs, one path walk or more per interface.
//! With a veth per container those walks grow with the containers (three per veth per poll), while the
//! answers change only when an interface is added, removed, renamed, brought up or down, or
//! re-addressed. So they are asked again only when the names in `/proc/net/dev` (read every poll for
//! the counters anyway) change, and otherwise once per [`RARE_REFRESH`] (the reference agent
//! refreshes its adapter list every 180 s). The counters themselves are summed on every read.
//! Nothing here allocates once its vectors have their capacity.

use std::time::Instant;

use super::file::{FileBuf, PathBuilder};
use super::net::{self, net_dev_name};
use super::parse::lines;
use super::{adapters, Roots, RARE_REFRESH};
use crate::wire::{Adapter, NetIo};

/// The cached answers and when they were taken.
#[derive(Debug, Default)]
pub(crate) struct Interfaces {
    /// A hash of the interface names, in /proc/net/dev's order, when sysfs was last asked.
    names_key: Option<u64>,
    /// When sysfs is asked again even if no name changed.
    refresh_at: Option<Instant>,
    /// Hashes of the names of the virtual interfaces, sorted.
    virtual_names: Vec<u64>,
    /// The adapters found then.
    adapters: Vec<Adapter>,
}

impl Interfaces {
    /// Fills `net` (reset to unknown by the caller) and replaces `adapters` from `net_dev`, the text of
    /// `<proc>/net/dev`, asking sysfs under `roots` only when the names changed or the answers are
    /// older than [`RARE_REFRESH`].
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn read(
        &mut self,
        net_dev: &[u8],
        attributes: &mut FileBuf,
        paths: &mut PathBuilder,
        roots: &Roots,
        now: Instant,
        net: &mut NetIo,
        adapters: &mut Vec<Adapter>,
    ) {
        let key = names_key(net_dev);
        let stale = self.refresh_at.is_none_or(|at| now >= at);
        if stale || self.names_key != Some(key) {
            self.virtual_names.clear();
            for name in lines(net_dev).filter_map(net_dev_name) {
                if net::is_virtual(paths, roots, name) {
                    self.virtual_names.push(name_hash(name));
                }
            }
            self.virtual_names.sort_unstable();
            adapters::read_adapters(net_dev, attributes, paths, roots, &mut self.adapters);
            self.names_key = Some(key);
            self.refresh_at = Some(now + RARE_REFRESH);
        }
        let virtual_names = &self.virtual_names;
        net::read_net(
            net_dev,
            |name| virtual_names.binary_search(&name_hash(name)).is_ok(),
            net,
        );
        adapters.clear();
        adapters.extend_from_slice(&self.adapters);
    }
}

/// 64-bit FNV-1a of one name.
fn name_hash(name: &[u8]) -> u64 {
    name.iter().fold(0xcbf2_9ce4_8422_2325, |h, &b| {
        (h ^ u64::from(b)).wrapping_mul(0x0000_0100_0000_01b3)
    })
}

/// A hash of every interface name in order, each followed by a byte no name holds.
fn names_key(net_dev: &[u8]) -> u64 {
    lines(net_dev)
        .filter_map(net_dev_name)
        .flat_map(|name| name.iter().copied().chain([b'\n']))
        .fold(0xcbf2_9ce4_8422_2325, |h, b| {
            (h ^ u64::from(b)).wrapping_mul(0x0000_0100_0000_01b3)
        })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;
    use std::time::Duration;

    const HEAD: &str = "Inter-|   Receive                                                |  Transmit\n \
face |bytes    packets errs drop fifo frame compressed multicast|bytes    packets errs drop fifo colls carrier compressed\n";

    fn net_dev(names: &[&str]) -> Vec<u8> {
        let mut text = String::from(HEAD);
        for name in names {
            text.push_str(&format!("{name:>6}: 100 2 0 0 0 0 0 0 50 1 0 0 0 0 0 0\n"));
        }
        text.into_bytes()
    }

    fn interface(sys: &Path, name: &str, index: u32, mac: &str, is_virtual: bool) {
        let dir = sys.join("class/net").join(name);
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("ifindex"), format!("{index}\n")).unwrap();
        std::fs::write(dir.join("iflink"), format!("{index}\n")).unwrap();
        std::fs::write(dir.join("flags"), "0x1003\n").unwrap();
        std::fs::write(dir.join("address"), format!("{mac}\n")).unwrap();
        if is_virtual {
            std::fs::create_dir_all(sys.join("devices/virtual/net").join(name)).unwrap();
        }
    }

    struct Fixture {
        dir: std::path::PathBuf,
        roots: Roots,
    }

    impl Fixture {
        fn new(tag: &str) -> Fixture {
            let dir = std::env::temp_dir()
                .join(format!("csflowd-interfaces-{tag}-{}", std::process::id()));
            let _ = std::fs::remove_dir_all(&dir);
            let roots = Roots {
                proc: dir.join("proc"),
                sys: dir.join("sys"),
                etc: dir.join("etc"),
            };
            interface(&roots.sys, "eth0", 2, "02:00:00:00:00:02", false);
            interface(&roots.sys, "br0", 3, "02:00:00:00:00:03", true);
            Fixture { dir, roots }
        }

        fn read(&self, cache: &mut Interfaces, text: &[u8], now: Instant) -> (NetIo, Vec<u32>) {
            let mut net = NetIo::UNKNOWN;
            let mut adapters = Vec::new();
            cache.read(
                text,
                &mut FileBuf::default(),
                &mut PathBuilder::default(),
                &self.roots,
                now,
                &mut net,
                &mut adapters,
            );
            (net, adapters.iter().map(|a| a.if_index).collect())
        }
    }

    impl Drop for Fixture {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.dir);
        }
    }

    #[test]
    fn sysfs_is_asked_again_when_names_change_or_the_answers_age() {
        let f = Fixture::new("cache");
        let mut cache = Interfaces::default();
        let t0 = Instant::now();
        let two = net_dev(&["lo", "eth0", "br0"]);
        let (net, adapters) = f.read(&mut cache, &two, t0);
        // br0 is virtual: left out of the totals, though it qualifies as an adapter.
        assert_eq!(net.bytes_in, 100);
        assert_eq!(adapters, [2, 3]);

        // sysfs changes but the names do not: the answers are kept until they age.
        interface(&f.roots.sys, "eth0", 2, "00:00:00:00:00:00", false);
        std::fs::remove_dir_all(f.roots.sys.join("devices/virtual/net/br0")).unwrap();
        let (net, adapters) = f.read(&mut cache, &two, t0 + Duration::from_secs(1));
        assert_eq!((net.bytes_in, adapters.as_slice()), (100, &[2, 3][..]));
        let (net, adapters) = f.read(&mut cache, &two, t0 + RARE_REFRESH);
        assert_eq!((net.bytes_in, adapters.as_slice()), (200, &[3][..]));

        // A new name is looked up at once.
        interface(&f.roots.sys, "eth1", 4, "02:00:00:00:00:04", false);
        let three = net_dev(&["lo", "eth0", "br0", "eth1"]);
        let (net, adapters) = f.read(&mut cache, &three, t0 + RARE_REFRESH);
        assert_eq!((net.bytes_in, adapters.as_slice()), (300, &[3, 4][..]));
    }

    #[test]
    fn the_key_follows_names_and_order_only() {
        let a = net_dev(&["eth0", "br0"]);
        let mut b = net_dev(&["eth0", "br0"]);
        b.extend_from_slice(b"garbage without a colon\n");
        assert_eq!(names_key(&a), names_key(&b));
        assert_ne!(names_key(&a), names_key(&net_dev(&["br0", "eth0"])));
        assert_ne!(names_key(&a), names_key(&net_dev(&["eth0br0"])));
    }
}
