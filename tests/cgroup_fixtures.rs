//! The container counter readers against fixture trees (tests/fixtures/cgroup/<layout>, one per cgroup
//! layout, in the kernel's file formats), against a tree whose container disappears, under a counting
//! allocator, and against the real machine.
//!
//! Each tree holds `proc/1/mountinfo` (or `proc/self/mountinfo`), `proc/<pid>/{cgroup,net/dev,ns/net}`,
//! `proc/<pid>/root/sys/class/net/*` and the container's cgroup files under `sys/fs/cgroup`.

use std::fs;
use std::path::{Path, PathBuf};

use csflowd::cgroup::{
    missing_v2_controllers, CgroupError, CgroupMode, CgroupMounts, ContainerCounters,
    ContainerFiles, ContainerReader, Fields, HostCapacity, NetNamespace, ReadReport, V2Controllers,
};
use csflowd::host::Roots;
use csflowd::wire::{Adapter, NetIo, VirtDiskIo, UNKNOWN_U32, UNKNOWN_U64};

const GIB: u64 = 1 << 30;
const HOST: HostCapacity = HostCapacity {
    cpus: 16,
    mem_total: 8 * GIB,
};

/// eth0 of every fixture's net/dev (lo is not counted).
const ETH0: NetIo = NetIo {
    bytes_in: 5248891,
    pkts_in: 3957,
    errs_in: 1,
    drops_in: 2,
    bytes_out: 305489,
    pkts_out: 2667,
    errs_out: 3,
    drops_out: 4,
};

const NO_TRAFFIC: NetIo = NetIo {
    bytes_in: 0,
    pkts_in: 0,
    errs_in: 0,
    drops_in: 0,
    bytes_out: 0,
    pkts_out: 0,
    errs_out: 0,
    drops_out: 0,
};

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/cgroup")
        .join(name)
}

/// Discovers, resolves and reads one container of a tree.
struct Setup {
    roots: Roots,
    mounts: CgroupMounts,
    files: ContainerFiles,
    reader: ContainerReader,
}

impl Setup {
    fn of(root: &Path, pid: u32) -> Setup {
        let roots = Roots::under(root);
        let mounts = CgroupMounts::discover(&roots).unwrap();
        let mut reader = ContainerReader::new(roots.clone(), mounts.clone());
        let files = reader.resolve(pid).unwrap();
        Setup {
            roots,
            mounts,
            files,
            reader,
        }
    }

    /// The container's v2 directory.
    fn v2_dir(&self) -> Option<PathBuf> {
        self.reader.v2_dir(&self.files)
    }

    fn read(&mut self) -> (ContainerCounters, ReadReport) {
        let mut out = ContainerCounters::UNKNOWN;
        out.cpu.state = 1;
        let report = self.reader.read(&self.files, HOST, &mut out);
        assert_eq!(out.cpu.state, 1, "the state is the caller's");
        (out, report)
    }

    fn adapters(&mut self) -> Vec<Adapter> {
        let mut out = vec![Adapter::default(); 3]; // replaced, not appended to
        self.reader.read_adapters(&self.files, &mut out);
        out
    }
}

fn disk(rd_req: u32, rd_bytes: u64, wr_req: u32, wr_bytes: u64) -> VirtDiskIo {
    VirtDiskIo {
        capacity: 0,
        allocation: 0,
        available: 0,
        rd_req,
        rd_bytes,
        wr_req,
        wr_bytes,
        errs: 0,
    }
}

fn adapter(if_index: u32, mac: [u8; 6]) -> Adapter {
    Adapter {
        if_index,
        mac: Some(mac),
    }
}

#[test]
fn v1_cgroupfs_docker() {
    let mut s = Setup::of(&fixture("v1-cgroupfs"), 4242);
    assert_eq!(s.mounts.mode(), CgroupMode::V1);
    assert_eq!(s.files.net_namespace(), NetNamespace::Own);
    assert_eq!(s.v2_dir(), None);
    let (c, report) = s.read();
    assert_eq!(report.fields, Fields::ALL);
    // cpuacct.usage 123456789012 ns.
    assert_eq!(c.cpu.cpu_time_ms, 123456);
    // Quota 1.5 CPUs rounds up to 2, below the cpuset's 4 and the host's 16.
    assert_eq!(c.cpu.nr_virt_cpu, 2);
    assert_eq!(c.memory.memory, 52428800);
    assert_eq!(c.memory.max_memory, 64 << 20);
    // Read and Write summed over 254:0 and 8:16; Sync, Async, Discard and the Totals left out.
    assert_eq!(
        c.disk,
        disk(21 + 1, 20975616 + 4096, 20 + 4, 20971520 + 16384)
    );
    assert_eq!(c.net, ETH0);
    assert_eq!(report.interfaces, Some(1));
    let adapters = s.adapters();
    assert_eq!(
        adapters,
        [adapter(13, [0x02, 0x42, 0xac, 0x11, 0x00, 0x02])]
    );
    assert!(!report.adapters_stale(&adapters));
    assert!(report.adapters_stale(&[]));
    assert_eq!(
        missing_v2_controllers(&s.mounts, s.v2_dir().as_deref()),
        V2Controllers::NONE
    );
}

#[test]
fn v1_systemd_docker_in_the_host_network() {
    let mut s = Setup::of(&fixture("v1-systemd"), 5151);
    assert_eq!(s.mounts.mode(), CgroupMode::V1);
    assert_eq!(s.files.net_namespace(), NetNamespace::Host);
    let (c, report) = s.read();
    assert_eq!(report.fields, Fields::ALL);
    assert_eq!(c.cpu.cpu_time_ms, 987);
    // No quota (-1); the cpuset 0-3,6,8-9 holds 7 CPUs.
    assert_eq!(c.cpu.nr_virt_cpu, 7);
    assert_eq!(c.memory.memory, 3751936);
    // 9223372036854771712 is v1's "no limit": the host's memory.
    assert_eq!(c.memory.max_memory, HOST.mem_total);
    // blkio files of only `Total 0`.
    assert_eq!(c.disk, disk(0, 0, 0, 0));
    // The host's traffic is not the container's.
    assert_eq!(c.net, NO_TRAFFIC);
    assert_eq!(report.interfaces, Some(0));
    assert_eq!(s.adapters(), []);
}

#[test]
fn v2_systemd_docker() {
    let mut s = Setup::of(&fixture("v2-systemd"), 6161);
    assert_eq!(s.mounts.mode(), CgroupMode::V2);
    assert!(s.v2_dir()
        .unwrap()
        .ends_with("sys/fs/cgroup/system.slice/docker-35f95d053f6256a15931ba759eaadd3d9b59d74aa47e730a1cd95832a717472e.scope"));
    assert!(s.v2_dir().unwrap().starts_with(&s.roots.sys));
    let (c, report) = s.read();
    assert_eq!(report.fields, Fields::ALL);
    // cpu.stat usage_usec 98765432.
    assert_eq!(c.cpu.cpu_time_ms, 98765);
    // cpu.max "150000 100000" is 2 CPUs; cpuset.cpus.effective 0-1 too.
    assert_eq!(c.cpu.nr_virt_cpu, 2);
    assert_eq!(c.memory.memory, 104857600);
    // memory.max "max".
    assert_eq!(c.memory.max_memory, HOST.mem_total);
    // io.stat's two devices, summed.
    assert_eq!(
        c.disk,
        disk(
            192 + 8950,
            1459200 + 90430464,
            353 + 1252,
            314773504 + 299008000
        )
    );
    assert_eq!(c.net, ETH0);
    assert_eq!(
        s.adapters(),
        [adapter(7, [0x02, 0x42, 0xac, 0x11, 0x00, 0x07])]
    );
    assert_eq!(
        missing_v2_controllers(&s.mounts, s.v2_dir().as_deref()),
        V2Controllers::NONE
    );
    assert_eq!(missing_v2_controllers(&s.mounts, None), V2Controllers::NONE);
}

#[test]
fn v2_without_systemd_lacks_controllers() {
    let mut s = Setup::of(&fixture("v2-cgroupfs"), 7171);
    assert_eq!(s.mounts.mode(), CgroupMode::V2);
    let (c, report) = s.read();
    // usage_usec 18446744073709551615: ms wrap to 32 bits.
    assert_eq!(c.cpu.cpu_time_ms, (18446744073709551615u64 / 1000) as u32);
    // cpu.max "max 100000" and no cpuset controller: the host's CPUs.
    assert_eq!(c.cpu.nr_virt_cpu, HOST.cpus);
    // No memory controller: usage unknown, nothing limits it.
    assert_eq!(c.memory.memory, UNKNOWN_U64);
    assert_eq!(c.memory.max_memory, HOST.mem_total);
    // No io controller: unknown.
    assert_eq!(c.disk.rd_bytes, UNKNOWN_U64);
    assert_eq!(c.disk.wr_req, UNKNOWN_U32);
    assert_eq!(c.disk.capacity, 0);
    assert_eq!(c.net, ETH0);
    assert_eq!(
        report.fields,
        Fields::CPU_TIME | Fields::NR_VIRT_CPU | Fields::MAX_MEMORY | Fields::NET
    );
    let missing = missing_v2_controllers(&s.mounts, s.v2_dir().as_deref());
    assert_eq!(
        missing,
        V2Controllers::CPUSET | V2Controllers::MEMORY | V2Controllers::IO
    );
    assert_eq!(missing.to_string(), "cpuset, memory, io");
    assert_eq!(missing_v2_controllers(&s.mounts, None), missing);
}

#[test]
fn v2_empty_files_and_huge_values() {
    // This tree has only proc/self/mountinfo.
    let mut s = Setup::of(&fixture("v2-odd"), 8181);
    assert_eq!(s.mounts.mode(), CgroupMode::V2);
    let (c, report) = s.read();
    // Empty cpu.stat: unknown. Empty cpu.max: the quota is unknown, so is the CPU count.
    assert_eq!(c.cpu.cpu_time_ms, UNKNOWN_U32);
    assert_eq!(c.cpu.nr_virt_cpu, UNKNOWN_U32);
    // 18446744073709551615 is a real reading for memory.current, and no limit for memory.max.
    assert_eq!(c.memory.memory, u64::MAX);
    assert_eq!(c.memory.max_memory, HOST.mem_total);
    // An empty io.stat is a cgroup without I/O yet.
    assert_eq!(c.disk, disk(0, 0, 0, 0));
    // A net/dev with its headers only: unknown.
    assert_eq!(c.net, NetIo::UNKNOWN);
    assert_eq!(report.interfaces, None);
    assert_eq!(
        report.fields,
        Fields::MEMORY | Fields::MAX_MEMORY | Fields::DISK_BYTES | Fields::DISK_REQUESTS
    );
    assert_eq!(s.adapters(), []);
}

#[test]
fn v2_rootless_docker_with_partial_delegation() {
    let mut s = Setup::of(&fixture("v2-rootless"), 2121);
    let (c, report) = s.read();
    assert_eq!(c.cpu.cpu_time_ms, 5000);
    // cpu and cpuset are not delegated: no quota file, no cpuset file.
    assert_eq!(c.cpu.nr_virt_cpu, HOST.cpus);
    assert_eq!(c.memory.memory, 8 << 20);
    assert_eq!(c.memory.max_memory, 32 << 20);
    assert_eq!(c.disk.rd_bytes, UNKNOWN_U64);
    assert_eq!(c.net, ETH0);
    assert_eq!(
        report.fields,
        Fields::CPU_TIME | Fields::NR_VIRT_CPU | Fields::MEMORY | Fields::MAX_MEMORY | Fields::NET
    );
    assert_eq!(
        s.adapters(),
        [adapter(2, [0x6a, 0x4f, 0x1c, 0x22, 0x9e, 0x01])]
    );
    // The root enables everything; user.slice drops cpuset, user@1000.service drops cpu and io.
    assert_eq!(
        missing_v2_controllers(&s.mounts, s.v2_dir().as_deref()),
        V2Controllers::CPU | V2Controllers::CPUSET | V2Controllers::IO
    );
    assert_eq!(missing_v2_controllers(&s.mounts, None), V2Controllers::NONE);
}

#[test]
fn hybrid_reads_the_v1_controllers() {
    let mut s = Setup::of(&fixture("hybrid"), 9191);
    assert_eq!(s.mounts.mode(), CgroupMode::Hybrid);
    let (c, report) = s.read();
    assert_eq!(report.fields, Fields::ALL);
    // From cpuacct.usage, not the unified hierarchy's cpu.stat (which says 1 µs).
    assert_eq!(c.cpu.cpu_time_ms, 20);
    // Quota 0.5 CPU rounds up to 1.
    assert_eq!(c.cpu.nr_virt_cpu, 1);
    assert_eq!(c.memory.memory, 323584);
    assert_eq!(c.memory.max_memory, HOST.mem_total);
    assert_eq!(c.disk, disk(0, 0, 0, 0));
    assert_eq!(c.net, ETH0);
    // The empty unified hierarchy does not matter: v1 holds every controller.
    assert_eq!(
        missing_v2_controllers(&s.mounts, s.v2_dir().as_deref()),
        V2Controllers::NONE
    );
}

#[test]
fn podman_cgroupfs_v1() {
    let mut s = Setup::of(&fixture("podman-v1"), 3131);
    let (c, report) = s.read();
    assert_eq!(report.fields, Fields::ALL);
    assert_eq!(c.cpu.cpu_time_ms, 4);
    // No quota and an empty cpuset: the host's CPUs.
    assert_eq!(c.cpu.nr_virt_cpu, HOST.cpus);
    assert_eq!(c.memory.memory, 1 << 20);
    // A 16 GiB limit on an 8 GiB host cannot be reached.
    assert_eq!(c.memory.max_memory, HOST.mem_total);
    assert_eq!(c.disk, disk(1, 4096, 0, 0));
}

#[test]
fn podman_systemd_v2() {
    let mut s = Setup::of(&fixture("podman-v2"), 3232);
    let (c, report) = s.read();
    assert_eq!(report.fields, Fields::ALL);
    assert_eq!(c.cpu.cpu_time_ms, 2500);
    // Half a CPU within a cpuset of 8.
    assert_eq!(c.cpu.nr_virt_cpu, 1);
    assert_eq!(c.memory.memory, 2 << 20);
    assert_eq!(c.memory.max_memory, 256 << 20);
    assert_eq!(c.disk, disk(2, 8192, 0, 0));
    assert_eq!(
        s.adapters(),
        [adapter(2, [0x0e, 0x6b, 0x2c, 0xaa, 0x10, 0x05])]
    );
}

#[test]
fn a_path_outside_the_cgroup_namespace_resolves_to_nothing() {
    let roots = Roots::under(&fixture("v2-systemd"));
    let mounts = CgroupMounts::discover(&roots).unwrap();
    // proc/6262/cgroup reads `0::/../../system.slice/...`.
    let mut reader = ContainerReader::new(roots, mounts);
    let files = reader.resolve(6262).unwrap();
    assert!(!files.has_cgroup_files());
    assert_eq!(reader.v2_dir(&files), None);
    let mut out = ContainerCounters::UNKNOWN;
    let report = reader.read(&files, HOST, &mut out);
    // Nothing read: in particular the limits are unknown, not "none".
    assert_eq!(report.fields, Fields::NONE);
    assert_eq!(out.cpu.nr_virt_cpu, UNKNOWN_U32);
    assert_eq!(out.memory.max_memory, UNKNOWN_U64);
}

#[test]
fn setup_failures() {
    let roots = Roots::under(&fixture("v1-cgroupfs"));
    let mounts = CgroupMounts::discover(&roots).unwrap();
    assert_eq!(
        ContainerReader::new(roots.clone(), mounts.clone())
            .resolve(999)
            .unwrap_err(),
        CgroupError::ProcessCgroupUnreadable
    );
    assert_eq!(
        ContainerReader::new(roots.clone(), mounts.clone())
            .resolve(0)
            .unwrap_err(),
        CgroupError::InvalidPid
    );
    let nowhere = Roots::under(Path::new("/nonexistent/csflowd"));
    assert_eq!(
        CgroupMounts::discover(&nowhere).unwrap_err(),
        CgroupError::MountinfoUnreadable
    );
}

/// A scratch copy of a fixture tree (symlinks kept), removed on drop.
struct TempTree(PathBuf);

impl TempTree {
    fn copy_of(name: &str) -> TempTree {
        static COPIES: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
        let n = COPIES.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let dst = std::env::temp_dir().join(format!(
            "csflowd-cgroup-{}-{}-{n}",
            name,
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
        let to = dst.join(entry.file_name());
        let kind = entry.file_type().unwrap();
        if kind.is_symlink() {
            std::os::unix::fs::symlink(fs::read_link(entry.path()).unwrap(), &to).unwrap();
        } else if kind.is_dir() {
            copy_dir(&entry.path(), &to);
        } else {
            fs::copy(entry.path(), &to).unwrap();
        }
    }
}

#[test]
fn a_vanished_container_keeps_its_last_good_values() {
    let tree = TempTree::copy_of("v2-systemd");
    let mut s = Setup::of(&tree.0, 6161);
    let (first, report) = s.read();
    let mut last_good = ContainerCounters::UNKNOWN;
    last_good.keep_read(&first, report.fields);
    assert_eq!(last_good.cpu.cpu_time_ms, 98765);

    assert!(
        csflowd::cgroup::kept_open() >= 1,
        "the counter files are kept open between reads"
    );

    // The container stops: its cgroup directory and its process go.
    fs::remove_dir_all(s.v2_dir().unwrap()).unwrap();
    fs::remove_dir_all(tree.0.join("proc/6161")).unwrap();
    // The kernel fails reads of a removed cgroup's open files (ENODEV) and the reader then opens
    // by path; removed fixture files stay readable through an open descriptor, so drop the kept
    // ones (a clone keeps none) to stand for that.
    s.files = s.files.clone();
    let (after, report) = s.read();
    // No counter could be read; the limits are those last read, until they are read again.
    assert_eq!(report.fields, Fields::NR_VIRT_CPU | Fields::MAX_MEMORY);
    assert!(!report.fields.intersects(Fields::COUNTERS));
    assert_eq!(after.cpu.cpu_time_ms, UNKNOWN_U32);
    assert_eq!(after.cpu.nr_virt_cpu, first.cpu.nr_virt_cpu);
    assert_eq!(after.memory.max_memory, first.memory.max_memory);
    assert_eq!(after.net, NetIo::UNKNOWN);
    assert_eq!(report.interfaces, None);
    assert!(!report.adapters_stale(&[]));
    let mut files = s.files.clone();
    s.reader.read_limits(&mut files);
    let mut gone = ContainerCounters::UNKNOWN;
    let report_after_limits = s.reader.read(&files, HOST, &mut gone);
    assert_eq!(report_after_limits.fields, Fields::NONE);
    assert_eq!(gone.cpu.nr_virt_cpu, UNKNOWN_U32);
    assert_eq!(gone.memory.max_memory, UNKNOWN_U64);

    // The final sample sends the last good values.
    last_good.keep_read(&after, report.fields);
    assert_eq!(last_good.cpu.cpu_time_ms, first.cpu.cpu_time_ms);
    assert_eq!(last_good.cpu.nr_virt_cpu, first.cpu.nr_virt_cpu);
    assert_eq!(last_good.memory, first.memory);
    assert_eq!(last_good.disk, first.disk);
    assert_eq!(last_good.net, first.net);
}

#[test]
fn limits_are_those_read_at_setup_until_read_again() {
    let tree = TempTree::copy_of("v1-cgroupfs");
    let mut s = Setup::of(&tree.0, 4242);
    let (c, _) = s.read();
    assert_eq!((c.cpu.nr_virt_cpu, c.memory.max_memory), (2, 64 << 20));
    let dir = "docker/6f4c0d9073f3dc450ae72da9ae63287ae6fa8b877d64669994672108f93c419c";
    let cgroup = tree.0.join("sys/fs/cgroup");
    // `docker update --memory 32m --cpus 0.5`.
    fs::write(
        cgroup
            .join("memory")
            .join(dir)
            .join("memory.limit_in_bytes"),
        "33554432\n",
    )
    .unwrap();
    fs::write(
        cgroup
            .join("cpu,cpuacct")
            .join(dir)
            .join("cpu.cfs_quota_us"),
        "50000\n",
    )
    .unwrap();
    let (c, report) = s.read();
    assert_eq!((c.cpu.nr_virt_cpu, c.memory.max_memory), (2, 64 << 20));
    assert_eq!(report.fields, Fields::ALL);
    s.reader.read_limits(&mut s.files);
    let (c, report) = s.read();
    assert_eq!((c.cpu.nr_virt_cpu, c.memory.max_memory), (1, 32 << 20));
    assert_eq!(report.fields, Fields::ALL);
    // A limit file that turns malformed makes its field unknown, not stale.
    fs::write(
        cgroup
            .join("memory")
            .join(dir)
            .join("memory.limit_in_bytes"),
        "lots\n",
    )
    .unwrap();
    s.reader.read_limits(&mut s.files);
    let (c, report) = s.read();
    assert_eq!(c.memory.max_memory, UNKNOWN_U64);
    assert!(!report.fields.contains(Fields::MAX_MEMORY));
}

#[test]
fn a_new_interface_makes_the_adapters_stale() {
    let tree = TempTree::copy_of("v1-cgroupfs");
    let mut s = Setup::of(&tree.0, 4242);
    let adapters = s.adapters();
    let (_, report) = s.read();
    assert!(!report.adapters_stale(&adapters));

    let net_dev = tree.0.join("proc/4242/net/dev");
    let mut text = fs::read_to_string(&net_dev).unwrap();
    text.push_str("  eth1:     100       1    0    0    0     0          0         0      200       2    0    0    0     0       0          0\n");
    fs::write(&net_dev, text).unwrap();
    let (c, report) = s.read();
    assert_eq!(report.interfaces, Some(2));
    assert_eq!(c.net.bytes_in, ETH0.bytes_in + 100);
    assert_eq!(c.net.pkts_out, ETH0.pkts_out + 2);
    assert!(report.adapters_stale(&adapters));
    // eth1 has no sysfs entry in the container's root: ifIndex 0, no MAC, listed first.
    let adapters = s.adapters();
    assert_eq!(
        adapters,
        [
            Adapter {
                if_index: 0,
                mac: None
            },
            adapter(13, [0x02, 0x42, 0xac, 0x11, 0x00, 0x02]),
        ]
    );
    assert!(!report.adapters_stale(&adapters));
}

#[test]
fn a_poll_does_not_allocate_once_warm() {
    for (name, pid) in [
        ("v1-cgroupfs", 4242),
        ("v2-systemd", 6161),
        ("hybrid", 9191),
    ] {
        let mut s = Setup::of(&fixture(name), pid);
        let mut out = ContainerCounters::UNKNOWN;
        // The first read grows the buffer to the largest file.
        s.reader.read(&s.files, HOST, &mut out);
        let mut report = None;
        let info = allocation_counter::measure(|| {
            report = Some(s.reader.read(&s.files, HOST, &mut out));
        });
        assert_eq!(info.count_total, 0, "{name}: {info:?}");
        assert_eq!(report.unwrap().fields, Fields::ALL, "{name}");
    }
}

/// This machine's own cgroups (cgroup v1 with cgroupfs here; whatever CI has elsewhere): the test
/// process's cpuacct and memory counters. A field whose file does not exist on this machine is skipped.
#[test]
fn the_real_machine() {
    let roots = Roots::default();
    if !Path::new("/sys/fs/cgroup").exists() {
        eprintln!("note: no /sys/fs/cgroup on this machine; nothing to read");
        return;
    }
    let mounts = CgroupMounts::discover(&roots).unwrap();
    assert_ne!(mounts.mode(), CgroupMode::None, "{mounts:?}");
    let mut reader = ContainerReader::new(roots, mounts.clone());
    let files = reader.resolve(std::process::id()).unwrap();
    let mut out = ContainerCounters::UNKNOWN;
    let mem_total = meminfo_total();
    let host = HostCapacity {
        cpus: std::thread::available_parallelism().map_or(UNKNOWN_U32, |n| n.get() as u32),
        mem_total,
    };
    // Burn a little CPU so even a fresh cgroup has some.
    let mut x = 0u64;
    for i in 0..5_000_000u64 {
        x = x.wrapping_mul(31).wrapping_add(i);
    }
    std::hint::black_box(x);
    let report = reader.read(&files, host, &mut out);
    eprintln!("mode {:?}, {files:#?}\n{out:#?}\n{report:?}", mounts.mode());

    if report.fields.contains(Fields::CPU_TIME) {
        assert!(out.cpu.cpu_time_ms > 0, "{out:?}");
    } else {
        eprintln!("note: no CPU time file for this process's cgroup; cpuTime skipped");
    }
    if report.fields.contains(Fields::MEMORY) {
        // At least this test binary's pages, at most the machine.
        assert!(out.memory.memory > 1 << 20, "{out:?}");
        assert!(out.memory.memory <= mem_total, "{out:?}");
    } else {
        eprintln!("note: no memory usage file for this process's cgroup; memory skipped");
    }
    if report.fields.contains(Fields::MAX_MEMORY) {
        assert!(out.memory.max_memory <= mem_total);
    }
    if report.fields.contains(Fields::NR_VIRT_CPU) {
        assert!(out.cpu.nr_virt_cpu >= 1 && out.cpu.nr_virt_cpu <= host.cpus);
    }
    // The test runs in the host's network namespace (or the agent's own), never a container's.
    assert_ne!(files.net_namespace(), NetNamespace::Own);
    if files.net_namespace() == NetNamespace::Host {
        assert_eq!(out.net, NO_TRAFFIC);
    }
}

fn meminfo_total() -> u64 {
    let text = fs::read_to_string("/proc/meminfo").unwrap();
    let line = text.lines().find(|l| l.starts_with("MemTotal:")).unwrap();
    let kib: u64 = line.split_whitespace().nth(1).unwrap().parse().unwrap();
    kib * 1024
}
