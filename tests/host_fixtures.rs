//! The physical host's readers against fixture trees (tests/fixtures/host/{complete,missing,garbage}),
//! against trees changed between reads, and against the real machine.

use std::fs;
use std::net::IpAddr;
use std::path::{Path, PathBuf};

use csflowd::host::{
    choose_agent_address, host_uuid, machine_type_of, HostReader, HostSnapshot, Roots,
};
use csflowd::sys;
use csflowd::wire::{Adapter, CounterRecord, HostCpu, HostDiskIo, HostMemory, NetIo, VirtNode};

const KIB: u64 = 1024;
const DMI_UUID: [u8; 16] = [
    76, 76, 69, 68, 0, 66, 53, 16, 128, 82, 180, 192, 79, 77, 78, 49,
];
/// uuid5(9f2e1b7a-4c3d-4e5f-8a6b-7c8d9e0f1a2b, "csflowd") = c27a0c64-1a36-5303-b9f7-05c0f9e9fb9d.
const MACHINE_ID_UUID: [u8; 16] = [
    194, 122, 12, 100, 26, 54, 83, 3, 185, 247, 5, 192, 249, 233, 251, 157,
];

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/host")
        .join(name)
}

fn read_tree(root: &Path) -> HostSnapshot {
    let mut reader = HostReader::new(Roots::under(root), [7; 16]);
    let mut snap = HostSnapshot::default();
    reader.read(&mut snap);
    snap
}

/// Clock ticks of /proc/stat in milliseconds at this machine's tick rate, as the reader converts them.
fn ms(ticks: u64) -> u32 {
    (ticks * 1000 / sys::clock_ticks_per_second()) as u32
}

/// A scratch copy of a fixture tree (symlinks kept), removed on drop.
struct TempTree(PathBuf);

impl TempTree {
    fn copy_of(name: &str, tag: &str) -> TempTree {
        let dst = std::env::temp_dir().join(format!(
            "csflowd-host-{}-{}-{}",
            name,
            tag,
            std::process::id()
        ));
        let _ = fs::remove_dir_all(&dst);
        copy_dir(&fixture(name), &dst);
        TempTree(dst)
    }
}

impl Drop for TempTree {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.0);
    }
}

fn copy_dir(src: &Path, dst: &Path) {
    fs::create_dir_all(dst).unwrap();
    for entry in fs::read_dir(src).unwrap() {
        let entry = entry.unwrap();
        let (from, to) = (entry.path(), dst.join(entry.file_name()));
        let kind = entry.file_type().unwrap();
        if kind.is_symlink() {
            std::os::unix::fs::symlink(fs::read_link(&from).unwrap(), &to).unwrap();
        } else if kind.is_dir() {
            copy_dir(&from, &to);
        } else {
            fs::copy(&from, &to).unwrap();
        }
    }
}

#[test]
fn complete_tree_descr() {
    let snap = read_tree(&fixture("complete"));
    assert_eq!(snap.hostname, "fixture-host");
    assert_eq!(snap.os_release, "6.1.0-13-amd64");
    assert_eq!(snap.machine_type, machine_type_of(std::env::consts::ARCH));
    assert_eq!(snap.os_name, 2);
    assert_eq!(snap.uuid, [7; 16]);
    let d = snap.host_descr();
    assert_eq!(
        (d.hostname, d.os_release),
        ("fixture-host", "6.1.0-13-amd64")
    );
}

#[test]
fn complete_tree_cpu() {
    let snap = read_tree(&fixture("complete"));
    let expected = HostCpu {
        load_one: 0.36,
        load_five: 0.29,
        load_fifteen: 0.13,
        proc_run: 3,
        proc_total: 112,
        cpu_num: 2,
        cpu_speed: 2596,
        uptime: 4198,
        cpu_user: ms(8232),
        cpu_nice: 0,
        cpu_system: ms(4716),
        cpu_idle: ms(824169),
        cpu_wio: ms(618),
        cpu_intr: 0,
        cpu_sintr: ms(77),
        interrupts: 510335,
        contexts: 1104658,
        cpu_steal: ms(15),
        cpu_guest: 0,
        cpu_guest_nice: 0,
    };
    assert_eq!(snap.cpu, expected);
}

#[test]
fn complete_tree_memory_and_node() {
    let snap = read_tree(&fixture("complete"));
    let expected = HostMemory {
        mem_total: 24684084 * KIB,
        mem_free: 23474972 * KIB,
        mem_shared: 18872 * KIB,
        mem_buffers: 8408 * KIB,
        mem_cached: 970136 * KIB,
        swap_total: 2097148 * KIB,
        swap_free: 2031612 * KIB,
        page_in: 3008649,
        page_out: 1970440,
        swap_in: 12,
        swap_out: 34,
    };
    assert_eq!(snap.memory, expected);
    assert_eq!(
        snap.node,
        VirtNode {
            mhz: 2596,
            cpus: 2,
            memory: 24684084 * KIB,
            memory_free: 23474972 * KIB,
            num_domains: u32::MAX,
        }
    );
}

#[test]
fn complete_tree_disk_io_counts_whole_disks_only() {
    let snap = read_tree(&fixture("complete"));
    // vda + vdb; not loop*, sr0, dm-0, md127, zram0, nor the partitions vda1 and vda14.
    assert_eq!(snap.disk.reads, 88810 + 1190);
    assert_eq!(snap.disk.bytes_read, (6017298 + 36702) * 512);
    assert_eq!(snap.disk.read_time, 45580 + 420);
    assert_eq!(snap.disk.writes, 17573 + 427);
    assert_eq!(snap.disk.bytes_written, (3940880 + 5120) * 512);
    assert_eq!(snap.disk.write_time, 11542 + 58);
}

#[test]
fn complete_tree_disk_space_is_the_local_filesystems() {
    // The fixture's mounts: /dev/vda on / (and again on /var/lib/docker), /dev/vdb on a mount point that
    // does not exist here (skipped), and network, pseudo and overlay filesystems (never measured). So
    // the space is that of this machine's root filesystem, counted once.
    let before = sys::statvfs(c"/").unwrap();
    let snap = read_tree(&fixture("complete"));
    let after = sys::statvfs(c"/").unwrap();
    assert_eq!(snap.disk.disk_total, before.total);
    // Other processes write to the disk meanwhile: the free space lies between the two readings.
    let (lo, hi) = (
        before.available.min(after.available),
        before.available.max(after.available),
    );
    assert!(
        (lo.saturating_sub(1 << 30)..=hi + (1 << 30)).contains(&snap.disk.disk_free),
        "{} not near {lo}..={hi}",
        snap.disk.disk_free
    );
    let used = |s: sys::FsSize| {
        let used = (s.total - s.free) as u128;
        (used * 10_000 / (used + s.available as u128)) as i32
    };
    assert!((snap.disk.part_max_used - used(before)).abs() <= 100);
    assert!((0..=10_000).contains(&snap.disk.part_max_used));
}

#[test]
fn complete_tree_net_io_skips_lo_and_virtual_interfaces() {
    let snap = read_tree(&fixture("complete"));
    // eth0 + eth1 + eth2; not lo, docker0 (a bridge) nor vethab12cd.
    assert_eq!(
        snap.net,
        NetIo {
            bytes_in: 200071119 + 5000000,
            pkts_in: 145922 + 4000,
            errs_in: 1,
            drops_in: 7,
            bytes_out: 30548991 + 6000000,
            pkts_out: 93667 + 5000,
            errs_out: 0,
            drops_out: 2,
        }
    );
}

#[test]
fn complete_tree_adapters() {
    let snap = read_tree(&fixture("complete"));
    // eth0, docker0, eth2 in ifIndex order; not lo (loopback), eth1 (down), vethab12cd (iflink 5).
    let expected = [
        (2, [0x52, 0x54, 0x00, 0x12, 0x34, 0x56]),
        (4, [0x02, 0x42, 0x8e, 0x1c, 0x5a, 0x01]),
        (7, [0x52, 0x54, 0x00, 0xab, 0xcd, 0xef]),
    ]
    .map(|(if_index, mac)| Adapter {
        if_index,
        mac: Some(mac),
    });
    assert_eq!(snap.adapters, expected);
}

#[test]
fn complete_tree_sample_records_in_the_order_sent() {
    let snap = read_tree(&fixture("complete"));
    let kinds = |records: &[CounterRecord]| -> Vec<String> {
        records
            .iter()
            .map(|r| format!("{r:?}").split('(').next().unwrap().to_string())
            .collect()
    };
    let with_containers = snap.sample_records(Some(3));
    assert_eq!(
        kinds(with_containers.as_slice()),
        [
            "HostDescr",
            "HostAdapters",
            "HostCpu",
            "HostMemory",
            "HostDiskIo",
            "HostNetIo",
            "Mib2Ip",
            "Mib2Icmp",
            "Mib2Tcp",
            "Mib2Udp",
            "VirtNode"
        ]
    );
    match with_containers.as_slice()[10] {
        CounterRecord::VirtNode(node) => {
            assert_eq!(
                node,
                VirtNode {
                    num_domains: 3,
                    ..snap.node
                }
            );
        }
        ref other => panic!("{other:?}"),
    }
    // MIB-II from the tree's proc/net/snmp, by column name.
    assert_eq!(snap.mib2.ip.0[..3], [2, 64, 50617]);
    assert_eq!(snap.mib2.icmp.0[..4], [67, 1, 66, 2]);
    assert_eq!(snap.mib2.tcp.0[3], u32::MAX, "MaxConn -1");
    assert_eq!(snap.mib2.udp.0, [44675, 66, 52, 44969, 52, 0, 0]);
    match with_containers.as_slice()[1] {
        CounterRecord::HostAdapters(a) => assert_eq!(a.adapters, &snap.adapters[..]),
        ref other => panic!("{other:?}"),
    }
    // Without container tracking there is no virt_node.
    let host_only = snap.sample_records(None);
    assert_eq!(
        kinds(host_only.as_slice()),
        [
            "HostDescr",
            "HostAdapters",
            "HostCpu",
            "HostMemory",
            "HostDiskIo",
            "HostNetIo",
            "Mib2Ip",
            "Mib2Icmp",
            "Mib2Tcp",
            "Mib2Udp"
        ]
    );
    let sample = host_only.sample(9);
    assert_eq!(
        (sample.sequence, sample.source),
        (9, csflowd::host::HOST_DATA_SOURCE)
    );
    assert_eq!((sample.source.class, sample.source.index), (2, 1));
}

#[test]
fn uuid_sources() {
    assert_eq!(
        host_uuid(&Roots::under(&fixture("complete"))),
        Some(DMI_UUID)
    );
    // No DMI file: derived from the machine-id, which is never sent as is.
    assert_eq!(
        host_uuid(&Roots::under(&fixture("missing"))),
        Some(MACHINE_ID_UUID)
    );
    // An all-zero DMI UUID and a malformed machine-id: nothing.
    assert_eq!(host_uuid(&Roots::under(&fixture("garbage"))), None);
    assert_eq!(
        host_uuid(&Roots::under(Path::new("/nonexistent/csflowd"))),
        None
    );
}

#[test]
fn missing_files_leave_their_fields_unknown() {
    let snap = read_tree(&fixture("missing"));
    assert_eq!(snap.hostname, "lonely");
    assert_eq!(snap.os_release, "");
    assert!(snap.adapters.is_empty());
    // No cpuinfo: the speed comes from cpufreq; every other cpu field is unknown.
    assert_eq!(
        snap.cpu,
        HostCpu {
            cpu_speed: 2600,
            ..HostCpu::UNKNOWN
        }
    );
    // meminfo but no vmstat.
    assert_eq!(
        snap.memory,
        HostMemory {
            mem_total: 2014256 * KIB,
            mem_free: 912532 * KIB,
            mem_shared: 1128 * KIB,
            mem_buffers: 40112 * KIB,
            mem_cached: 612344 * KIB,
            swap_total: 0,
            swap_free: 0,
            ..HostMemory::UNKNOWN
        }
    );
    assert_eq!(snap.disk, HostDiskIo::UNKNOWN);
    assert_eq!(snap.net, NetIo::UNKNOWN);
    assert_eq!(
        snap.node,
        VirtNode {
            mhz: 2600,
            memory: 2014256 * KIB,
            memory_free: 912532 * KIB,
            ..VirtNode::UNKNOWN
        }
    );
}

#[test]
fn an_empty_root_is_all_unknown() {
    let snap = read_tree(Path::new("/nonexistent/csflowd"));
    let expected = HostSnapshot {
        machine_type: snap.machine_type,
        os_name: 2,
        uuid: [7; 16],
        ..HostSnapshot::default()
    };
    assert_eq!(snap, expected);
}

#[test]
fn garbage_files_give_unknown_values() {
    let snap = read_tree(&fixture("garbage"));
    assert_eq!(snap.hostname, "garbage\u{fffd}");
    assert_eq!(snap.os_release, "");
    assert!(snap.adapters.is_empty());
    // `0.36 zero`, and a /proc/stat cut after the second time.
    assert_eq!(
        snap.cpu,
        HostCpu {
            load_one: 0.36,
            cpu_user: ms(8232),
            cpu_nice: 0,
            ..HostCpu::UNKNOWN
        }
    );
    assert_eq!(snap.memory, HostMemory::UNKNOWN);
    assert_eq!(snap.disk, HostDiskIo::UNKNOWN);
    assert_eq!(snap.net, NetIo::UNKNOWN);
    assert_eq!(snap.node, VirtNode::UNKNOWN);
}

#[test]
fn a_vanished_file_shows_as_unknown_not_stale() {
    let tree = TempTree::copy_of("complete", "vanish");
    let mut reader = HostReader::new(Roots::under(&tree.0), [0; 16]);
    let mut snap = HostSnapshot::default();
    reader.read(&mut snap);
    assert_eq!(snap.memory.page_in, 3008649);
    assert_eq!(snap.adapters.len(), 3);

    fs::remove_file(tree.0.join("proc/vmstat")).unwrap();
    fs::remove_file(tree.0.join("proc/sys/kernel/hostname")).unwrap();
    // An interface that goes leaves both sysfs and /proc/net/dev; the reader notices by its name
    // (sysfs alone is asked again only once a minute).
    fs::remove_file(tree.0.join("sys/class/net/eth2")).unwrap();
    let net_dev = fs::read_to_string(tree.0.join("proc/net/dev")).unwrap();
    let without_eth2: String = net_dev
        .lines()
        .filter(|l| !l.trim_start().starts_with("eth2:"))
        .map(|l| format!("{l}\n"))
        .collect();
    fs::write(tree.0.join("proc/net/dev"), without_eth2).unwrap();
    fs::write(tree.0.join("proc/loadavg"), b"").unwrap();
    reader.set_uuid([9; 16]);
    reader.read(&mut snap);
    assert_eq!(snap.memory.page_in, u32::MAX);
    assert_eq!(snap.memory.mem_total, 24684084 * KIB);
    assert_eq!(snap.hostname, "");
    assert_eq!(snap.cpu.load_one, -1.0);
    assert_eq!(snap.cpu.proc_total, u32::MAX);
    assert_eq!(snap.cpu.cpu_num, 2);
    assert_eq!(snap.uuid, [9; 16]);
    assert_eq!(
        snap.adapters.iter().map(|a| a.if_index).collect::<Vec<_>>(),
        [2, 4]
    );

    // Without /proc/net/dev, neither the traffic nor the interface names are known.
    fs::remove_file(tree.0.join("proc/net/dev")).unwrap();
    reader.read(&mut snap);
    assert_eq!(snap.net, NetIo::UNKNOWN);
    assert!(snap.adapters.is_empty());
}

/// The adapters as the reader listed them before it took the names from /proc/net/dev: every entry
/// of `<sys>/class/net` with the same filters (own link, up, not loopback, non-zero 6-byte MAC).
fn adapters_from_sys_listing(sys: &Path) -> Vec<Adapter> {
    let attribute = |name: &std::ffi::OsStr, attr: &str| {
        fs::read_to_string(sys.join("class/net").join(name).join(attr))
            .ok()
            .map(|s| s.trim().to_string())
    };
    let mut out = Vec::new();
    let Ok(entries) = fs::read_dir(sys.join("class/net")) else {
        return out;
    };
    for entry in entries.flatten() {
        let name = entry.file_name();
        let index = attribute(&name, "ifindex").and_then(|s| s.parse::<u32>().ok());
        let link = attribute(&name, "iflink").and_then(|s| s.parse::<u32>().ok());
        let flags = attribute(&name, "flags")
            .and_then(|s| u32::from_str_radix(s.trim_start_matches("0x"), 16).ok());
        let mac = attribute(&name, "address").and_then(|s| {
            let bytes: Vec<u8> = s
                .split(':')
                .map(|b| u8::from_str_radix(b, 16))
                .collect::<Result<_, _>>()
                .ok()?;
            <[u8; 6]>::try_from(bytes).ok()
        });
        let (Some(index), Some(link), Some(flags), Some(mac)) = (index, link, flags, mac) else {
            continue;
        };
        let up = flags & sys::IFF_UP != 0 && flags & sys::IFF_LOOPBACK == 0;
        if index != 0 && index == link && up && mac != [0; 6] {
            out.push(Adapter {
                if_index: index,
                mac: Some(mac),
            });
        }
    }
    out.sort_by_key(|a| a.if_index);
    out
}

#[test]
fn adapters_from_net_dev_match_the_sys_listing() {
    for tree in ["complete", "garbage", "missing"] {
        let root = fixture(tree);
        let snap = read_tree(&root);
        assert_eq!(
            snap.adapters,
            adapters_from_sys_listing(&root.join("sys")),
            "{tree}"
        );
    }
    // This machine: /sys is mounted in the test's own network namespace, so both list the same
    // interfaces.
    let own_netns = fs::read_link("/proc/self/ns/net").ok();
    let init_netns = fs::read_link("/proc/1/ns/net").ok();
    if own_netns.is_some() && own_netns == init_netns {
        let snap = read_tree(Path::new("/"));
        assert_eq!(snap.adapters, adapters_from_sys_listing(Path::new("/sys")));
    }
}

/// A copy of the complete tree whose mounts file is `text`.
fn tree_with_mounts(tag: &str, text: &[u8]) -> TempTree {
    let tree = TempTree::copy_of("complete", tag);
    fs::write(tree.0.join("proc/mounts"), text).unwrap();
    tree
}

#[test]
fn a_mounts_file_over_the_file_cap_is_parsed_whole() {
    // 10,000 containers' overlay mounts (~540 bytes each, ~5.4 MB), the root filesystem last.
    let mut text = Vec::new();
    for i in 0..10_000 {
        let layer = format!("{i:064x}");
        text.extend_from_slice(
            format!(
                "overlay /var/lib/docker/overlay2/{layer}/merged overlay rw,relatime,\
lowerdir=/var/lib/docker/overlay2/l/{a}:/var/lib/docker/overlay2/l/{b}:/var/lib/docker/overlay2/l/{c},\
upperdir=/var/lib/docker/overlay2/{layer}/diff,workdir=/var/lib/docker/overlay2/{layer}/work,\
nouserxattr 0 0\n",
                a = &layer[..26],
                b = &layer[26..52],
                c = &layer[38..64],
            )
            .as_bytes(),
        );
    }
    text.extend_from_slice(b"/dev/vda / ext4 rw,relatime 0 0\n");
    assert!(text.len() > csflowd::host::MAX_FILE_BYTES, "{}", text.len());
    let tree = tree_with_mounts("bigmounts", &text);
    let snap = read_tree(&tree.0);
    let root = sys::statvfs(c"/").unwrap();
    assert_eq!(snap.disk.disk_total, root.total);
}

#[test]
fn a_mounts_file_not_on_procfs_is_read_again_every_time() {
    let tree = tree_with_mounts("remount", b"/dev/vda / ext4 rw 0 0\n");
    let mut reader = HostReader::new(Roots::under(&tree.0), [0; 16]);
    let mut snap = HostSnapshot::default();
    reader.read(&mut snap);
    assert_eq!(snap.disk.disk_total, sys::statvfs(c"/").unwrap().total);
    // Only memory filesystems now: nothing to measure, but the table was read (zero, not unknown).
    fs::write(tree.0.join("proc/mounts"), b"tmpfs /run tmpfs rw 0 0\n").unwrap();
    reader.read(&mut snap);
    assert_eq!((snap.disk.disk_total, snap.disk.disk_free), (0, 0));
    assert_eq!(snap.disk.part_max_used, HostDiskIo::UNKNOWN.part_max_used);
    // Replaced by a new file (another inode): that one is read.
    let new = tree.0.join("proc/mounts.new");
    fs::write(&new, b"/dev/vda / ext4 rw 0 0\n").unwrap();
    fs::rename(&new, tree.0.join("proc/mounts")).unwrap();
    reader.read(&mut snap);
    assert_eq!(snap.disk.disk_total, sys::statvfs(c"/").unwrap().total);
}

#[test]
fn a_warmed_read_allocates_nothing() {
    for roots in [Roots::default(), Roots::under(&fixture("complete"))] {
        let mut reader = HostReader::new(roots.clone(), [0; 16]);
        let mut snap = HostSnapshot::default();
        for _ in 0..3 {
            reader.read(&mut snap);
        }
        // The real machine may change under the test (other tests start engines and containers):
        // a new bridge or a mount table with more local filesystems grows a list once. So the
        // fewest allocations of a few rounds must be zero.
        let fewest = (0..3)
            .map(|_| {
                allocation_counter::measure(|| {
                    for _ in 0..10 {
                        reader.read(&mut snap);
                    }
                })
                .count_total
            })
            .min();
        assert_eq!(fewest, Some(0), "{roots:?}");
    }
    // The counter does count.
    let info = allocation_counter::measure(|| drop(std::hint::black_box(Box::new(1))));
    assert_eq!(info.count_total, 1);
}

#[test]
fn cpu_speed_falls_back_to_cpufreq() {
    let tree = TempTree::copy_of("complete", "cpufreq");
    fs::write(
        tree.0.join("proc/cpuinfo"),
        b"processor\t: 0\nBogoMIPS\t: 50.00\nFeatures\t: fp asimd\n",
    )
    .unwrap();
    let snap = read_tree(&tree.0);
    assert_eq!(snap.cpu.cpu_speed, 3700);
    assert_eq!(snap.node.mhz, 3700);
}

#[test]
fn an_oversized_file_is_unreadable() {
    let tree = TempTree::copy_of("complete", "oversize");
    let mut big = fs::read(tree.0.join("proc/stat")).unwrap();
    while big.len() <= csflowd::host::MAX_FILE_BYTES {
        big.extend_from_slice(b"softirq 0 0 0 0 0 0 0 0 0 0 0\n");
    }
    fs::write(tree.0.join("proc/stat"), &big).unwrap();
    let snap = read_tree(&tree.0);
    assert_eq!(snap.cpu.cpu_num, u32::MAX);
    assert_eq!(snap.cpu.cpu_user, u32::MAX);
    // The other files still count.
    assert_eq!(snap.cpu.proc_total, 112);
}

#[test]
fn a_fifo_does_not_block_the_reader() {
    let tree = TempTree::copy_of("complete", "fifo");
    let loadavg = tree.0.join("proc/loadavg");
    fs::remove_file(&loadavg).unwrap();
    let status = std::process::Command::new("mkfifo")
        .arg(&loadavg)
        .status()
        .unwrap();
    assert!(status.success());
    // With no writer, a blocking open would hang here forever.
    let snap = read_tree(&tree.0);
    assert_eq!(snap.cpu.load_one, -1.0);
    assert_eq!(snap.cpu.cpu_num, 2);
}

#[test]
fn buffers_are_reused_between_reads() {
    let mut reader = HostReader::new(Roots::under(&fixture("complete")), [0; 16]);
    let mut snap = HostSnapshot::default();
    reader.read(&mut snap);
    let (hostname, adapters) = (snap.hostname.as_ptr(), snap.adapters.as_ptr());
    let (hostname_cap, adapters_cap) = (snap.hostname.capacity(), snap.adapters.capacity());
    let first = snap.clone();
    for _ in 0..3 {
        reader.read(&mut snap);
    }
    assert_eq!(snap.hostname.as_ptr(), hostname);
    assert_eq!(snap.adapters.as_ptr(), adapters);
    assert_eq!(snap.hostname.capacity(), hostname_cap);
    assert_eq!(snap.adapters.capacity(), adapters_cap);
    // Same files, same values (the free space of / may move between reads).
    assert_eq!(
        HostSnapshot {
            disk: first.disk,
            ..snap
        },
        first
    );
}

/// The first number of the `key:` line of /proc/meminfo, read independently of the reader.
fn meminfo_kib(key: &str) -> u64 {
    let text = fs::read_to_string("/proc/meminfo").unwrap();
    let line = text
        .lines()
        .find(|l| l.split(':').next() == Some(key))
        .unwrap();
    line.split_whitespace().nth(1).unwrap().parse().unwrap()
}

#[test]
fn the_real_machine() {
    let mut reader = HostReader::new(Roots::default(), [0; 16]);
    let mut snap = HostSnapshot::default();
    reader.read(&mut snap);

    assert_eq!(snap.memory.mem_total, meminfo_kib("MemTotal") * KIB);
    assert_eq!(snap.node.memory, snap.memory.mem_total);

    let stat = fs::read_to_string("/proc/stat").unwrap();
    let cpu_lines = stat
        .lines()
        .filter(|l| l.starts_with("cpu") && l.as_bytes().get(3).is_some_and(u8::is_ascii_digit))
        .count();
    assert_eq!(snap.cpu.cpu_num as usize, cpu_lines);
    let parallelism = std::thread::available_parallelism().unwrap().get();
    assert!(snap.cpu.cpu_num as usize >= parallelism);

    let release = fs::read_to_string("/proc/sys/kernel/osrelease").unwrap();
    assert_eq!(snap.os_release, release.trim());
    let hostname = fs::read_to_string("/proc/sys/kernel/hostname").unwrap();
    assert_eq!(snap.hostname, hostname.trim());

    assert!(snap.cpu.load_one >= 0.0 && snap.cpu.proc_total > 0);
    assert!(snap.cpu.uptime > 0 && snap.cpu.uptime != u32::MAX);
    assert_ne!(snap.cpu.cpu_idle, u32::MAX);
    assert!(snap.memory.mem_free <= snap.memory.mem_total);
    assert_ne!(snap.net, NetIo::UNKNOWN);
    assert_ne!(snap.disk.reads, u32::MAX);
    assert!(snap
        .adapters
        .windows(2)
        .all(|w| w[0].if_index <= w[1].if_index));
    assert!(snap.adapters.iter().all(|a| a.mac.is_some()));
}

#[test]
fn the_real_machine_has_an_agent_address() {
    let addrs = sys::interface_addresses().unwrap();
    let chosen = choose_agent_address(None, None, &[], &addrs).unwrap();
    assert!(addrs.iter().any(|a| a.addr == chosen));
    let fixed: IpAddr = "192.0.2.1".parse().unwrap();
    assert_eq!(
        choose_agent_address(Some(fixed), None, &[], &addrs),
        Some(fixed)
    );
}
