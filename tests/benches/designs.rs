//! What the kernel reads would cost under other designs, measured on the real containers' files
//! beside what the agent does now, so that BENCHMARKS.md can say what a design change buys:
//!
//! - the containers' counter reads: the library's reader now (5 counter files kept open, the limits
//!   as last read), the first design (9 files opened by path per poll), the 5 counter files by path,
//!   and the floor: those 5 files kept open and re-read with one `pread(fd, buf, 0)` each (a kernel
//!   seq_file regenerates its text when read from offset 0), nothing parsed; each one container per
//!   wake-up and 50 containers per wake-up (as the agent polls, on whole-second slots);
//! - the host's files: opened by path per poll (as now) against kept open and re-read.
//!
//! Plain std file calls (`File::open`, `FileExt::read_at`); nothing here is the agent's code.
#![allow(dead_code)]

use std::fs::File;
use std::io::Read;
use std::os::unix::fs::FileExt;
use std::time::{Duration, Instant};

use crate::common::{median, report, Verdict};
use csflowd::cgroup::{
    CgroupMounts, ContainerCounters, ContainerFiles, ContainerReader, HostCapacity,
};
use csflowd::host::Roots;

/// The v1 counter files of a container (cgroupfs driver), then its limit files.
const COUNTERS: [(&str, &str); 4] = [
    ("cpuacct", "cpuacct.usage"),
    ("memory", "memory.usage_in_bytes"),
    ("blkio", "blkio.throttle.io_service_bytes"),
    ("blkio", "blkio.throttle.io_serviced"),
];
const LIMITS: [(&str, &str); 4] = [
    ("cpu", "cpu.cfs_quota_us"),
    ("cpu", "cpu.cfs_period_us"),
    ("cpuset", "cpuset.cpus"),
    ("memory", "memory.limit_in_bytes"),
];

/// Pause before each measured wake-up: long enough for caches to go cold as between polls.
const PAUSE: Duration = Duration::from_millis(20);

fn counter_paths(id: &str, pid: u32, limits: bool) -> Vec<String> {
    let mut paths: Vec<String> = COUNTERS
        .iter()
        .map(|(c, f)| format!("/sys/fs/cgroup/{c}/docker/{id}/{f}"))
        .collect();
    paths.push(format!("/proc/{pid}/net/dev"));
    if limits {
        paths.extend(
            LIMITS
                .iter()
                .map(|(c, f)| format!("/sys/fs/cgroup/{c}/docker/{id}/{f}")),
        );
    }
    paths
}

fn read_by_path(paths: &[String], buf: &mut Vec<u8>) {
    for p in paths {
        buf.clear();
        if let Ok(f) = File::open(p) {
            let _ = (&f).take(1 << 22).read_to_end(buf);
        }
    }
}

fn read_kept(files: &[File], buf: &mut [u8]) {
    for f in files {
        let _ = std::hint::black_box(f.read_at(buf, 0));
    }
}

/// Microseconds per container: (one container per wake-up, all containers per wake-up).
fn per_container(count: usize, mut read: impl FnMut(usize)) -> (f64, f64) {
    let mut single = Vec::new();
    let mut gathered = Vec::new();
    for round in 0..4 {
        for i in 0..count {
            std::thread::sleep(PAUSE);
            let began = Instant::now();
            read((i + round) % count);
            single.push(began.elapsed().as_secs_f64() * 1e6);
        }
    }
    for _ in 0..40 {
        std::thread::sleep(PAUSE);
        let began = Instant::now();
        for i in 0..count {
            read(i);
        }
        gathered.push(began.elapsed().as_secs_f64() * 1e6 / count as f64);
    }
    (median(&single), median(&gathered))
}

/// Measures the container-read designs on `containers` (pid, full id) of a cgroupfs-driver engine
/// on cgroup v1 hierarchies, and reports them.
pub fn container_reads(containers: &[(u32, String)]) {
    let roots = Roots::default();
    let Ok(mounts) = CgroupMounts::discover(&roots) else {
        eprintln!("    no cgroup hierarchies: not measured");
        return;
    };
    let mut reader = ContainerReader::new(roots, mounts);
    let resolved: Vec<ContainerFiles> = containers
        .iter()
        .filter_map(|(pid, _)| reader.resolve(*pid).ok())
        .collect();
    let all: Vec<Vec<String>> = containers
        .iter()
        .map(|(pid, id)| counter_paths(id, *pid, true))
        .collect();
    let five: Vec<Vec<String>> = containers
        .iter()
        .map(|(pid, id)| counter_paths(id, *pid, false))
        .collect();
    if resolved.len() != containers.len() || !std::path::Path::new(&five[0][0]).exists() {
        eprintln!("    not a cgroup v1 cgroupfs layout: not measured");
        return;
    }
    let kept: Vec<Vec<File>> = five
        .iter()
        .map(|paths| paths.iter().filter_map(|p| File::open(p).ok()).collect())
        .collect();
    let host = HostCapacity {
        cpus: 2,
        mem_total: 8 << 30,
    };
    let mut out = ContainerCounters::UNKNOWN;
    let mut buf = Vec::with_capacity(8192);
    let mut fixed = vec![0u8; 8192];
    let n = containers.len();

    let rows: [(&str, (f64, f64)); 4] = [
        (
            "now: the agent's reader (5 counter files kept open, limits as last read, parsed)",
            per_container(n, |i| {
                reader.read(&resolved[i], host, &mut out);
            }),
        ),
        (
            "the first design: 9 files by path, std read_to_end",
            per_container(n, |i| read_by_path(&all[i], &mut buf)),
        ),
        (
            "5 counter files by path (limits read at setup)",
            per_container(n, |i| read_by_path(&five[i], &mut buf)),
        ),
        (
            "the floor: 5 counter files kept open, one pread(fd, 0) each, nothing parsed",
            per_container(n, |i| read_kept(&kept[i], &mut fixed)),
        ),
    ];
    for (what, (single, gathered)) in rows {
        report(
            &format!("design: container read, {what}"),
            &format!("{single:.1} us one per wake-up, {gathered:.1} us with {n} per wake-up"),
            "-",
            Verdict::Info,
        );
    }
}

/// The five counter files of each container, opened for [`floor_round`].
pub fn open_counter_files(containers: &[(u32, String)]) -> Vec<Vec<File>> {
    containers
        .iter()
        .map(|(pid, id)| {
            counter_paths(id, *pid, false)
                .iter()
                .filter_map(|p| File::open(p).ok())
                .collect()
        })
        .collect()
}

/// One round of the floor: every container's five files read once, as the agent's wake-up reads
/// them, with one `pread` each and nothing else.
pub fn floor_round(files: &[Vec<File>]) {
    let mut buf = [0u8; 4096];
    for container in files {
        read_kept(container, &mut buf);
    }
}

/// Measures the host's files read by path against kept open, and reports them.
pub fn host_reads() {
    let files = [
        "/proc/mounts",
        "/proc/cpuinfo",
        "/proc/stat",
        "/proc/meminfo",
        "/proc/vmstat",
        "/proc/diskstats",
        "/proc/net/dev",
        "/proc/loadavg",
        "/proc/uptime",
        "/proc/sys/kernel/hostname",
        "/proc/sys/kernel/osrelease",
    ];
    let mut buf = Vec::with_capacity(1 << 16);
    let mut fixed = vec![0u8; 1 << 16];
    let (mut by_path, mut kept_total) = (0.0, 0.0);
    let mut mounts = (0.0, 0.0, 0usize);
    for f in files {
        let Ok(kept) = File::open(f) else { continue };
        let mut a = Vec::new();
        let mut b = Vec::new();
        for _ in 0..15 {
            std::thread::sleep(Duration::from_millis(10));
            let began = Instant::now();
            read_by_path(&[f.to_string()], &mut buf);
            a.push(began.elapsed().as_secs_f64() * 1e6);
            std::thread::sleep(Duration::from_millis(10));
            let began = Instant::now();
            let _ = kept.read_at(&mut fixed, 0);
            b.push(began.elapsed().as_secs_f64() * 1e6);
        }
        let (a, b) = (median(&a), median(&b));
        if f == "/proc/mounts" {
            mounts = (a, b, buf.len());
        }
        by_path += a;
        kept_total += b;
    }
    report(
        "design: host files (11 under /proc), opened by path / kept open, each cold",
        &format!(
            "{by_path:.0} us / {kept_total:.0} us; of which /proc/mounts ({} bytes) {:.0} / {:.0} us",
            mounts.2, mounts.0, mounts.1
        ),
        "-",
        Verdict::Info,
    );
}
