//! `host_adapters`: the host's own network adapters and their MACs, the interfaces of `<proc>/net/dev`
//! described by `<sys>/class/net/<name>/`.
//!
//! The names come from /proc/net/dev, which the reader has read already for `host_net_io`, rather than
//! from listing `<sys>/class/net` (a directory listing allocates per entry): both list every interface
//! of the same network namespace when /sys was mounted in the reader's own, as it normally is.
//! An interface is listed when it is administratively up and not a loopback (`flags`), has a 6-byte,
//! non-zero MAC (`address`), and is its own link (`iflink` equals `ifindex`; a veth's host end or a VLAN
//! points at another interface and is left out). The list is sorted by ifIndex and holds at most
//! [`MAX_ADAPTERS`] (the lowest indexes win). Nothing here allocates once `out` has its capacity.

use super::file::{is_plain_name, Extent, FileBuf, PathBuilder};
use super::net::net_dev_name;
use super::parse::{lines, parse_hex_u32, parse_mac, parse_u32, trim};
use super::Roots;
use crate::sys::{IFF_LOOPBACK, IFF_UP};
use crate::wire::Adapter;

/// Most adapters reported.
pub const MAX_ADAPTERS: usize = 256;

/// Most interfaces looked at, so a pathological file cannot make one poll unbounded.
const MAX_ENTRIES_SCANNED: usize = 65_536;

/// The longest of the small attribute files read here (`address` of a 20-byte InfiniBand address is 59
/// bytes).
const ATTRIBUTE_BYTES: usize = 128;

/// Replaces `out` with the adapters among the interfaces named in `net_dev` (the text of
/// `<proc>/net/dev`), whose attribute files are read into `files`.
pub(crate) fn read_adapters(
    net_dev: &[u8],
    files: &mut FileBuf,
    paths: &mut PathBuilder,
    roots: &Roots,
    out: &mut Vec<Adapter>,
) {
    out.clear();
    let names = lines(net_dev).filter_map(net_dev_name);
    for name in names.take(MAX_ENTRIES_SCANNED) {
        if !is_plain_name(name) {
            continue;
        }
        if let Some(adapter) = read_adapter(files, paths, roots, name) {
            insert_sorted(out, adapter);
        }
    }
}

/// One interface's adapter entry, or `None` when it does not qualify or its files are unreadable.
fn read_adapter(
    files: &mut FileBuf,
    paths: &mut PathBuilder,
    roots: &Roots,
    name: &[u8],
) -> Option<Adapter> {
    let mut attribute = |attr: &[u8], parse: fn(&[u8]) -> Option<u32>| {
        let path = paths.join(&roots.sys, &[b"class", b"net", name, attr]);
        files
            .read(path, Extent::Prefix(ATTRIBUTE_BYTES))
            .map(trim)
            .and_then(parse)
    };
    let if_index = attribute(b"ifindex", parse_u32)?;
    let if_link = attribute(b"iflink", parse_u32)?;
    if if_index == 0 || if_link != if_index {
        return None;
    }
    let flags = attribute(b"flags", parse_hex_u32)?;
    if flags & IFF_UP == 0 || flags & IFF_LOOPBACK != 0 {
        return None;
    }
    let path = paths.join(&roots.sys, &[b"class", b"net", name, b"address"]);
    let mac = files
        .read(path, Extent::Prefix(ATTRIBUTE_BYTES))
        .map(trim)
        .and_then(parse_mac)?;
    if mac == [0; 6] {
        return None;
    }
    Some(Adapter {
        if_index,
        mac: Some(mac),
    })
}

/// Inserts in ifIndex order, keeping at most [`MAX_ADAPTERS`] (the lowest indexes).
fn insert_sorted(out: &mut Vec<Adapter>, adapter: Adapter) {
    let at = out.partition_point(|a| a.if_index <= adapter.if_index);
    if at >= MAX_ADAPTERS {
        return;
    }
    out.insert(at, adapter);
    out.truncate(MAX_ADAPTERS);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn adapter(if_index: u32) -> Adapter {
        Adapter {
            if_index,
            mac: Some([2, 0, 0, 0, 0, if_index as u8]),
        }
    }

    #[test]
    fn kept_sorted_and_bounded() {
        let mut out = Vec::new();
        for i in [5, 3, 9, 1, 3] {
            insert_sorted(&mut out, adapter(i));
        }
        let order: Vec<u32> = out.iter().map(|a| a.if_index).collect();
        assert_eq!(order, [1, 3, 3, 5, 9]);

        let mut out = Vec::new();
        for i in (1..=300).rev() {
            insert_sorted(&mut out, adapter(i));
        }
        assert_eq!(out.len(), MAX_ADAPTERS);
        assert_eq!(out.first().unwrap().if_index, 1);
        assert_eq!(out.last().unwrap().if_index, MAX_ADAPTERS as u32);
        // A higher index than every kept one is dropped.
        insert_sorted(&mut out, adapter(1000));
        assert_eq!(out.last().unwrap().if_index, MAX_ADAPTERS as u32);
    }
}
